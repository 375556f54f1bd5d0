//! gRPC adapter of `ActivityRecordsService`: parse the request → validate
//! (domain) → store, the same path as `ActivityService`.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, Utc};
use filieris_kernel::{Finess, Period, PeriodKind};
use filieris_proto::activity as pb;
use filieris_proto::activity::activity_records_service_server::ActivityRecordsService;
use filieris_proto::registry::registry_service_client::RegistryServiceClient;
use filieris_runtime::Identity;
use filieris_runtime::audit::{AuditEntry, record_failure};
use filieris_runtime::client::CallContext;
use filieris_runtime::config::InternalKey;
use filieris_runtime::error::{ApiError, Violations};
use filieris_runtime::idempotency::IdempotencyKey;
use filieris_runtime::identity::caller;
use filieris_runtime::pagination::page_size;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use super::capacity::installed_bed_days;
use super::domain::{
    days_in_month, occupancy, open_during, stay_for_hash, validate_adverse_event, validate_consolidation, validate_gp_count,
    validate_ms_count, validate_placement, validate_stay, validate_survey, whole_months, worst_status,
};
use super::storage::{ListFilter, RecordStore, WriteContext};
use crate::domain::scope::Scope;
use crate::error::{ActivityError, DOMAIN};
use crate::grpc::require_writer;
use crate::storage::{ScopeFilter, Store};

/// The ActivityRecordsService implementation.
#[derive(Clone)]
pub struct RecordsApi {
    store: RecordStore,
    registry: RegistryServiceClient<Channel>,
    key: InternalKey,
}

fn required<'a, T>(field: &str, value: Option<&'a T>) -> Result<&'a T, ActivityError> {
    value.ok_or_else(|| ActivityError::field(field, "is required"))
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// A period code, required.
fn period(v: &mut Violations, text: &str) -> Option<Period> {
    if text.is_empty() {
        v.add("period", "is required, e.g. 2018, 2018Q1, 201803");
        None
    } else {
        v.check("period", Period::parse(text))
    }
}

/// The filter of a list: optional FINESS, then a period code or a year.
fn list_filter(finess: &str, period: &str, year: i32, history: bool) -> Result<ListFilter, ActivityError> {
    let mut v = Violations::new();
    let finess = if finess.is_empty() { None } else { v.check("finess", Finess::parse(finess)).map(|f| f.as_str().to_owned()) };
    let span = if !period.is_empty() {
        v.check("period", Period::parse(period)).map(|p| (p.start(), p.end()))
    } else if year != 0 {
        let span = NaiveDate::from_ymd_opt(year, 1, 1).zip(NaiveDate::from_ymd_opt(year, 12, 31));
        if span.is_none() || !super::domain::YEARS.contains(&year) {
            v.add("year", "is not a year");
        }
        span
    } else {
        None
    };
    if v.is_empty() { Ok(ListFilter { finess, span, history }) } else { Err(ActivityError::Invalid(v)) }
}

fn scope(v: &mut Violations, text: &str) -> Option<Scope> {
    v.check("scope", Scope::parse(text))
}

/// Registry category names (`HEALTH_CENTRE` …), as the structure cache holds
/// them; `None` for every category.
fn categories(v: &mut Violations, names: &[String]) -> Option<Vec<String>> {
    for (i, c) in names.iter().enumerate() {
        let known = filieris_proto::registry::Category::from_str_name(&format!("CATEGORY_{c}"))
            .is_some_and(|k| k != filieris_proto::registry::Category::Unspecified);
        if !known {
            v.add(format!("categories[{i}]"), format!("{c:?} is not a registry category (e.g. HEALTH_CENTRE, HOSPITAL, SSIAD)"));
        }
    }
    (!names.is_empty()).then(|| names.to_vec())
}

impl RecordsApi {
    /// Serves the records of `store`; `registry` (a channel to the registry)
    /// gives installed capacities, asked with the caller's identity signed
    /// under `key`.
    pub fn new(store: Store, registry: Channel, key: InternalKey) -> Self {
        Self { store: RecordStore::new(store), registry: RegistryServiceClient::new(registry), key }
    }

    /// Returns the result, auditing a refusal first (the success is audited
    /// in the write's transaction).
    async fn audited<T>(
        &self,
        identity: &Identity,
        method: &str,
        resource: &str,
        request_id: &str,
        result: Result<T, ActivityError>,
    ) -> Result<T, Status> {
        match result {
            Ok(v) => Ok(v),
            Err(e) => {
                let api = ApiError::from(e);
                let entry = AuditEntry { identity, method, resource, request_id, outcome: &api.reason, detail: &api.message };
                record_failure(self.store_pool(), &entry).await;
                Err(api.into())
            }
        }
    }

    fn store_pool(&self) -> &sqlx::PgPool {
        self.store.pool()
    }

    /// Caller, request id taken out of the request (the idempotency hash
    /// covers the payload only), and the request.
    fn write_call<T>(request: Request<T>, take_id: impl FnOnce(&mut T) -> String) -> Result<(Identity, String, T), Status> {
        let identity = caller(&request)?.clone();
        let mut r = request.into_inner();
        let rid = take_id(&mut r);
        Ok((identity, rid, r))
    }

    /// The structures a scope covers, narrowed to what the caller may read.
    async fn resolve_scope(&self, identity: &Identity, scope: &Scope) -> Result<ScopeFilter, ActivityError> {
        let resolved = self.store.scope_filter(scope).await?;
        crate::grpc::narrow(self.store.acts(), identity, scope, resolved).await
    }
}

#[tonic::async_trait]
impl ActivityRecordsService for RecordsApi {
    // --------------------------------------------------------- GP of record

    async fn record_gp_patient_count(
        &self,
        request: Request<pb::RecordGpPatientCountRequest>,
    ) -> Result<Response<pb::RecordGpPatientCountResponse>, Status> {
        const METHOD: &str = "ActivityRecordsService/RecordGpPatientCount";
        let (identity, rid, r) = Self::write_call(request, |r| std::mem::take(&mut r.request_id))?;
        let result = async {
            require_writer(&identity)?;
            let input = required("count", r.count.as_ref())?;
            let key = IdempotencyKey::new(DOMAIN, METHOD, &identity, &rid, &r)?;
            let valid = validate_gp_count(input, &self.store.structure_index().await?).map_err(ActivityError::Invalid)?;
            let ctx = WriteContext { identity: &identity, method: METHOD, request_id: &rid };
            self.store.record_gp_count(&ctx, &valid, key.as_ref()).await
        }
        .await;
        Ok(Response::new(self.audited(&identity, METHOD, "gpPatientCounts", &rid, result).await?))
    }

    async fn list_gp_patient_counts(
        &self,
        request: Request<pb::ListGpPatientCountsRequest>,
    ) -> Result<Response<pb::ListGpPatientCountsResponse>, Status> {
        caller(&request)?;
        let r = request.into_inner();
        let size = page_size(DOMAIN, r.page_size)?;
        let filter = list_filter(&r.finess, "", r.year, r.include_history)?;
        let (counts, next_page_token) = self.store.list_gp_counts(&filter, size, &r.page_token).await?;
        Ok(Response::new(pb::ListGpPatientCountsResponse { counts, next_page_token }))
    }

    async fn get_gp_patient_total(
        &self,
        request: Request<pb::GetGpPatientTotalRequest>,
    ) -> Result<Response<pb::GetGpPatientTotalResponse>, Status> {
        let identity = caller(&request)?.clone();
        let r = request.into_inner();
        let mut v = Violations::new();
        let year = i16::try_from(r.year).ok().filter(|y| super::domain::YEARS.contains(&i32::from(*y)));
        if year.is_none() {
            v.add("year", "is required: a reference year, e.g. 2018");
        }
        let scope = scope(&mut v, &r.scope);
        let (Some(year), Some(scope)) = (year, scope) else { return Err(ActivityError::Invalid(v).into()) };
        let filter = self.resolve_scope(&identity, &scope).await?;
        let counts = self.store.gp_current(year, &filter).await?;
        let imputations = counts
            .iter()
            .filter(|c| c.imputed)
            .map(|c| pb::GpPatientImputation {
                finess: c.finess.clone(),
                imputed_from_year: c.imputed_from_year,
                patients: c.patients,
                status: c.status,
            })
            .collect();
        Ok(Response::new(pb::GetGpPatientTotalResponse {
            year: r.year,
            scope: scope.name(),
            patients: counts.iter().map(|c| c.patients).sum(),
            structures: i32::try_from(counts.len()).unwrap_or(i32::MAX),
            worst_status: worst_status(counts.iter().filter_map(|c| i16::try_from(c.status).ok())) as i32,
            imputations,
        }))
    }

    // ---------------------------------------------------------------- stays

    async fn record_hospital_stay(
        &self,
        request: Request<pb::RecordHospitalStayRequest>,
    ) -> Result<Response<pb::RecordHospitalStayResponse>, Status> {
        const METHOD: &str = "ActivityRecordsService/RecordHospitalStay";
        let (identity, rid, r) = Self::write_call(request, |r| std::mem::take(&mut r.request_id))?;
        let result = async {
            require_writer(&identity)?;
            let input = required("stay", r.stay.as_ref())?;
            let index = self.store.structure_index().await?;
            let valid = validate_stay(input, &index, self.store.pseudonym_key()).map_err(ActivityError::Invalid)?;
            // The idempotency hash is stored: it covers the pseudonym, never the NIR.
            let hashed = pb::RecordHospitalStayRequest { request_id: String::new(), stay: Some(stay_for_hash(input, &valid)) };
            let key = IdempotencyKey::new(DOMAIN, METHOD, &identity, &rid, &hashed)?;
            let ctx = WriteContext { identity: &identity, method: METHOD, request_id: &rid };
            self.store.record_stay(&ctx, &valid, key.as_ref()).await
        }
        .await;
        Ok(Response::new(self.audited(&identity, METHOD, "hospitalStays", &rid, result).await?))
    }

    async fn list_hospital_stays(
        &self,
        request: Request<pb::ListHospitalStaysRequest>,
    ) -> Result<Response<pb::ListHospitalStaysResponse>, Status> {
        caller(&request)?;
        let r = request.into_inner();
        let size = page_size(DOMAIN, r.page_size)?;
        let filter = list_filter(&r.finess, &r.period, 0, false)?;
        let (stays, next_page_token) = self.store.list_stays(&filter, size, &r.page_token).await?;
        Ok(Response::new(pb::ListHospitalStaysResponse { stays, next_page_token }))
    }

    async fn get_hospital_occupancy(
        &self,
        request: Request<pb::GetHospitalOccupancyRequest>,
    ) -> Result<Response<pb::GetHospitalOccupancyResponse>, Status> {
        let call = CallContext::from_request(&request)?;
        let r = request.into_inner();
        let mut v = Violations::new();
        let finess = v.check("finess", Finess::parse(&r.finess));
        let month = match Period::parse(&r.month) {
            Ok(p) if p.kind() == PeriodKind::Month => Some(p),
            _ => {
                v.add("month", "is required: a month code, e.g. 201803");
                None
            }
        };
        let (Some(finess), Some(month)) = (finess, month) else { return Err(ActivityError::Invalid(v).into()) };
        let (start, end) = (month.start(), month.end());
        let index = self.store.structure_index().await?;
        let structure = match index.get(finess.as_str()) {
            None => {
                return Err(ActivityError::field("finess", format!("FINESS {} is not a structure of the registry", finess.as_str())).into());
            }
            Some(s) if !open_during(s, start, end) => {
                return Err(ActivityError::field("finess", format!("the structure was not open in {month}")).into());
            }
            Some(s) => s.clone(),
        };
        let bed_days = installed_bed_days(&self.registry, |m| call.request(&self.key, m), structure.id, start, end).await?;
        // An ongoing stay counts up to tonight.
        let open_until = today().succ_opt().unwrap_or_else(today);
        let stays = self.store.hc_stays(structure.id, start, end, open_until).await?;
        let days = days_in_month(start);
        Ok(Response::new(pb::GetHospitalOccupancyResponse {
            finess: finess.as_str().to_owned(),
            month: month.to_string(),
            occupancy: Some(occupancy(stays.patient_days, bed_days)),
            installed_beds: bed_days as f64 / days as f64,
            days_in_month: i32::try_from(days).unwrap_or_default(),
            stays: stays.stays,
            admissions: stays.admissions,
            discharges: stays.discharges,
        }))
    }

    // -------------------------------------------------------- medico-social

    async fn record_medico_social_count(
        &self,
        request: Request<pb::RecordMedicoSocialCountRequest>,
    ) -> Result<Response<pb::RecordMedicoSocialCountResponse>, Status> {
        const METHOD: &str = "ActivityRecordsService/RecordMedicoSocialCount";
        let (identity, rid, r) = Self::write_call(request, |r| std::mem::take(&mut r.request_id))?;
        let result = async {
            require_writer(&identity)?;
            let input = required("count", r.count.as_ref())?;
            let key = IdempotencyKey::new(DOMAIN, METHOD, &identity, &rid, &r)?;
            let valid = validate_ms_count(input, &self.store.structure_index().await?).map_err(ActivityError::Invalid)?;
            let ctx = WriteContext { identity: &identity, method: METHOD, request_id: &rid };
            self.store.record_ms_count(&ctx, &valid, key.as_ref()).await
        }
        .await;
        Ok(Response::new(self.audited(&identity, METHOD, "medicoSocialCounts", &rid, result).await?))
    }

    async fn list_medico_social_counts(
        &self,
        request: Request<pb::ListMedicoSocialCountsRequest>,
    ) -> Result<Response<pb::ListMedicoSocialCountsResponse>, Status> {
        caller(&request)?;
        let r = request.into_inner();
        let size = page_size(DOMAIN, r.page_size)?;
        let filter = list_filter(&r.finess, &r.period, 0, r.include_history)?;
        let (counts, next_page_token) = self.store.list_ms_counts(&filter, size, &r.page_token).await?;
        Ok(Response::new(pb::ListMedicoSocialCountsResponse { counts, next_page_token }))
    }

    async fn get_medico_social_occupancy(
        &self,
        request: Request<pb::GetMedicoSocialOccupancyRequest>,
    ) -> Result<Response<pb::GetMedicoSocialOccupancyResponse>, Status> {
        let identity = caller(&request)?.clone();
        let r = request.into_inner();
        let mut v = Violations::new();
        let period = period(&mut v, &r.period).filter(whole_months).or_else(|| {
            if !r.period.is_empty() && Period::parse(&r.period).is_ok() {
                v.add("period", "must be made of whole months: a year, semester, quarter or month");
            }
            None
        });
        let scope = scope(&mut v, &r.scope);
        let service = match r.service {
            0 => Some(None),
            n if pb::MedicoSocialService::try_from(n).is_ok() => Some(i16::try_from(n).ok()),
            _ => {
                v.add("service", "unknown service type");
                None
            }
        };
        let (Some(period), Some(scope), Some(service)) = (period, scope, service) else { return Err(ActivityError::Invalid(v).into()) };
        let filter = self.resolve_scope(&identity, &scope).await?;
        let t = self.store.ms_totals(&period, &filter, service).await?;
        let completion = if t.hours_planned > 0.0 { t.hours_delivered * 100.0 / t.hours_planned } else { 0.0 };
        Ok(Response::new(pb::GetMedicoSocialOccupancyResponse {
            period: period.to_string(),
            scope: scope.name(),
            service: r.service,
            occupancy: Some(occupancy(t.days, t.capacity_days)),
            hours_delivered: t.hours_delivered,
            hours_planned: t.hours_planned,
            care_plan_completion_percent: completion,
            entries: t.entries,
            exits: t.exits,
            monthly_counts: t.counts,
            worst_status: worst_status(t.statuses) as i32,
        }))
    }

    // ------------------------------------------------------------- trainees

    async fn record_trainee_placement(
        &self,
        request: Request<pb::RecordTraineePlacementRequest>,
    ) -> Result<Response<pb::RecordTraineePlacementResponse>, Status> {
        const METHOD: &str = "ActivityRecordsService/RecordTraineePlacement";
        let (identity, rid, r) = Self::write_call(request, |r| std::mem::take(&mut r.request_id))?;
        let result = async {
            require_writer(&identity)?;
            let input = required("placement", r.placement.as_ref())?;
            // Validated before hashing: a reference that is a NIR is refused, never hashed.
            let valid = validate_placement(input, &self.store.structure_index().await?).map_err(ActivityError::Invalid)?;
            let key = IdempotencyKey::new(DOMAIN, METHOD, &identity, &rid, &r)?;
            let ctx = WriteContext { identity: &identity, method: METHOD, request_id: &rid };
            self.store.record_placement(&ctx, &valid, key.as_ref()).await
        }
        .await;
        Ok(Response::new(self.audited(&identity, METHOD, "traineePlacements", &rid, result).await?))
    }

    async fn list_trainee_placements(
        &self,
        request: Request<pb::ListTraineePlacementsRequest>,
    ) -> Result<Response<pb::ListTraineePlacementsResponse>, Status> {
        caller(&request)?;
        let r = request.into_inner();
        let size = page_size(DOMAIN, r.page_size)?;
        let filter = list_filter(&r.finess, &r.period, 0, false)?;
        let (placements, next_page_token) = self.store.list_placements(&filter, size, &r.page_token).await?;
        Ok(Response::new(pb::ListTraineePlacementsResponse { placements, next_page_token }))
    }

    async fn count_trainees(&self, request: Request<pb::CountTraineesRequest>) -> Result<Response<pb::CountTraineesResponse>, Status> {
        let identity = caller(&request)?.clone();
        let r = request.into_inner();
        let mut v = Violations::new();
        let period = period(&mut v, &r.period);
        let scope = scope(&mut v, &r.scope);
        let categories = categories(&mut v, &r.categories);
        let (Some(period), Some(scope), true) = (period, scope, v.is_empty()) else { return Err(ActivityError::Invalid(v).into()) };
        let filter = self.resolve_scope(&identity, &scope).await?;
        let rows = self.store.trainee_counts(&period, &filter, categories.as_deref()).await?;
        let (structures_open, _) = self.store.surveyed_structures(&period, &filter, categories.as_deref()).await?;
        let mut by_category: BTreeMap<i16, i64> = BTreeMap::new();
        let mut by_structure: HashMap<uuid::Uuid, i64> = HashMap::new();
        for (structure, category, n) in &rows {
            *by_category.entry(*category).or_default() += n;
            *by_structure.entry(*structure).or_default() += n;
        }
        Ok(Response::new(pb::CountTraineesResponse {
            period: period.to_string(),
            scope: scope.name(),
            trainees: by_structure.values().sum(),
            by_category: by_category.into_iter().map(|(c, n)| pb::TraineeCategoryCount { category: c.into(), trainees: n }).collect(),
            structures: by_structure.len() as i64,
            structures_with_two_or_more: by_structure.values().filter(|n| **n >= 2).count() as i64,
            structures_open,
        }))
    }

    async fn count_surveyed_structures(
        &self,
        request: Request<pb::CountSurveyedStructuresRequest>,
    ) -> Result<Response<pb::CountSurveyedStructuresResponse>, Status> {
        let identity = caller(&request)?.clone();
        let r = request.into_inner();
        let mut v = Violations::new();
        let period = period(&mut v, &r.period);
        let scope = scope(&mut v, &r.scope);
        let categories = categories(&mut v, &r.categories);
        let (Some(period), Some(scope), true) = (period, scope, v.is_empty()) else { return Err(ActivityError::Invalid(v).into()) };
        let filter = self.resolve_scope(&identity, &scope).await?;
        let (structures_open, structures_surveyed) = self.store.surveyed_structures(&period, &filter, categories.as_deref()).await?;
        Ok(Response::new(pb::CountSurveyedStructuresResponse {
            period: period.to_string(),
            scope: scope.name(),
            structures_open,
            structures_surveyed,
        }))
    }

    // -------------------------------------------------------------- surveys

    async fn record_satisfaction_survey(
        &self,
        request: Request<pb::RecordSatisfactionSurveyRequest>,
    ) -> Result<Response<pb::RecordSatisfactionSurveyResponse>, Status> {
        const METHOD: &str = "ActivityRecordsService/RecordSatisfactionSurvey";
        let (identity, rid, r) = Self::write_call(request, |r| std::mem::take(&mut r.request_id))?;
        let result = async {
            require_writer(&identity)?;
            let input = required("survey", r.survey.as_ref())?;
            let key = IdempotencyKey::new(DOMAIN, METHOD, &identity, &rid, &r)?;
            let valid = validate_survey(input, &self.store.structure_index().await?).map_err(ActivityError::Invalid)?;
            let ctx = WriteContext { identity: &identity, method: METHOD, request_id: &rid };
            self.store.record_survey(&ctx, &valid, key.as_ref()).await
        }
        .await;
        Ok(Response::new(self.audited(&identity, METHOD, "satisfactionSurveys", &rid, result).await?))
    }

    async fn list_satisfaction_surveys(
        &self,
        request: Request<pb::ListSatisfactionSurveysRequest>,
    ) -> Result<Response<pb::ListSatisfactionSurveysResponse>, Status> {
        caller(&request)?;
        let r = request.into_inner();
        let size = page_size(DOMAIN, r.page_size)?;
        let filter = list_filter(&r.finess, &r.period, 0, false)?;
        let (surveys, next_page_token) = self.store.list_surveys(&filter, size, &r.page_token).await?;
        Ok(Response::new(pb::ListSatisfactionSurveysResponse { surveys, next_page_token }))
    }

    // ------------------------------------------------------- adverse events

    async fn record_adverse_event(
        &self,
        request: Request<pb::RecordAdverseEventRequest>,
    ) -> Result<Response<pb::RecordAdverseEventResponse>, Status> {
        const METHOD: &str = "ActivityRecordsService/RecordAdverseEvent";
        let (identity, rid, r) = Self::write_call(request, |r| std::mem::take(&mut r.request_id))?;
        let result = async {
            require_writer(&identity)?;
            let input = required("event", r.event.as_ref())?;
            let key = IdempotencyKey::new(DOMAIN, METHOD, &identity, &rid, &r)?;
            let valid = validate_adverse_event(input, &self.store.structure_index().await?).map_err(ActivityError::Invalid)?;
            let ctx = WriteContext { identity: &identity, method: METHOD, request_id: &rid };
            self.store.record_adverse_event(&ctx, &valid, key.as_ref()).await
        }
        .await;
        Ok(Response::new(self.audited(&identity, METHOD, "adverseEvents", &rid, result).await?))
    }

    async fn list_adverse_events(
        &self,
        request: Request<pb::ListAdverseEventsRequest>,
    ) -> Result<Response<pb::ListAdverseEventsResponse>, Status> {
        caller(&request)?;
        let r = request.into_inner();
        let size = page_size(DOMAIN, r.page_size)?;
        let filter = list_filter(&r.finess, "", r.year, false)?;
        let (events, next_page_token) = self.store.list_adverse_events(&filter, size, &r.page_token).await?;
        Ok(Response::new(pb::ListAdverseEventsResponse { events, next_page_token }))
    }

    async fn consolidate_adverse_events(
        &self,
        request: Request<pb::ConsolidateAdverseEventsRequest>,
    ) -> Result<Response<pb::ConsolidateAdverseEventsResponse>, Status> {
        const METHOD: &str = "ActivityRecordsService/ConsolidateAdverseEvents";
        let (identity, rid, r) = Self::write_call(request, |r| std::mem::take(&mut r.request_id))?;
        let result = async {
            require_writer(&identity)?;
            let key = IdempotencyKey::new(DOMAIN, METHOD, &identity, &rid, &r)?;
            let index = self.store.structure_index().await?;
            let today = today();
            let (structure, year) = validate_consolidation(&r.finess, r.year, &index, today).map_err(ActivityError::Invalid)?;
            let ctx = WriteContext { identity: &identity, method: METHOD, request_id: &rid };
            self.store.consolidate(&ctx, &structure, year, today, key.as_ref()).await
        }
        .await;
        Ok(Response::new(self.audited(&identity, METHOD, "adverseEventConsolidations", &rid, result).await?))
    }

    async fn list_adverse_event_consolidations(
        &self,
        request: Request<pb::ListAdverseEventConsolidationsRequest>,
    ) -> Result<Response<pb::ListAdverseEventConsolidationsResponse>, Status> {
        caller(&request)?;
        let r = request.into_inner();
        let size = page_size(DOMAIN, r.page_size)?;
        let filter = list_filter(&r.finess, "", r.year, false)?;
        let (consolidations, next_page_token) = self.store.list_consolidations(&filter, size, &r.page_token).await?;
        Ok(Response::new(pb::ListAdverseEventConsolidationsResponse { consolidations, next_page_token }))
    }
}
