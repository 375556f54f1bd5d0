//! gRPC adapter: parses and validates requests at the boundary (all field
//! violations at once), applies partner scoping, and hands typed values to
//! the storage. Writes go through `filieris_runtime::write::guarded`.

use chrono::NaiveDate;
use filieris_kernel::date::parse_date;
use filieris_kernel::period::Period;
use filieris_proto::missions as pb;
use filieris_proto::missions::missions_service_server::MissionsService;
use filieris_runtime::Identity;
use filieris_runtime::error::Violations;
use filieris_runtime::idempotency::IdempotencyKey;
use filieris_runtime::pagination::page_size;
use filieris_runtime::write::{self, Writers};
use prost::Message;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::domain::{self, Access, partner_code};
use crate::error::{DOMAIN, MissionsError, Result};
use crate::finance::Finance;
use crate::storage::{
    ClaimIn, ConventionIn, FraudIn, MandateIn, MeetingIn, StatementIn, StatisticIn, Store, UploadIn, WriteContext, code_of,
};

/// Writers of CANSSM-only data (mandates, governance, calendars).
pub const INTERNAL_WRITERS: Writers =
    Writers { roles: &["missions", "admin"], denied_reason: "MISSIONS_WRITE_DENIED", holds: "the mandates" };
/// Writers of what partners submit (deliverables, files, statistics, claims,
/// fraud cases, ANGDM statements); the partner scope is checked inside.
pub const PARTNER_WRITERS: Writers =
    Writers { roles: &["missions", "admin", "partner"], denied_reason: "MISSIONS_WRITE_DENIED", holds: "the mandates' records" };

/// Largest exchange file accepted in one call.
pub const MAX_EXCHANGE_RECORDS: usize = 100_000;

/// The MissionsService implementation.
#[derive(Clone)]
pub struct MissionsApi {
    store: Store,
    finance: Finance,
}

impl MissionsApi {
    pub fn new(store: Store, finance: Finance) -> Self {
        Self { store, finance }
    }
}

fn size(requested: i32) -> Result<u32> {
    Ok(page_size(DOMAIN, requested)?)
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

fn access_of(identity: &Identity) -> Result<Access> {
    Access::of(identity).map_err(|d| MissionsError::AccessDenied(d.0))
}

fn reader<T>(req: &Request<T>) -> Result<Access> {
    let identity = filieris_runtime::identity::caller(req).map_err(|s| MissionsError::AccessDenied(s.message().to_owned()))?;
    access_of(identity)
}

/// The access of a writer: partners write within their scope, internal
/// callers need a writer role.
fn writer(identity: &Identity) -> Result<Access> {
    let access = access_of(identity)?;
    if let Access::Internal { write: false } = access {
        return Err(MissionsError::WriteDenied(format!("{} may read the missions but not change them", identity.caller)));
    }
    Ok(access)
}

fn internal_writer(identity: &Identity) -> Result<()> {
    if access_of(identity)?.internal_writer() {
        Ok(())
    } else {
        Err(MissionsError::WriteDenied(format!("{} may not change what CANSSM holds (roles: missions or admin)", identity.caller)))
    }
}

fn scope_denied(access: &Access, what: &str) -> MissionsError {
    let who = match access {
        Access::Partner(p) => p.as_str(),
        Access::Internal { .. } => "internal",
    };
    MissionsError::PartnerScope(format!("a {who} credential may not access {what}"))
}

fn date(v: &mut Violations, field: &str, text: &str) -> Option<NaiveDate> {
    if text.is_empty() {
        v.add(field, "is required (YYYY-MM-DD)");
        None
    } else {
        v.check(field, parse_date(text))
    }
}

fn opt_date(v: &mut Violations, field: &str, text: &str) -> Option<NaiveDate> {
    if text.is_empty() { None } else { v.check(field, parse_date(text)) }
}

fn as_of(text: &str) -> Result<NaiveDate> {
    if text.is_empty() { Ok(today()) } else { parse_date(text).map_err(|e| MissionsError::field("as_of", e.to_string())) }
}

fn required(v: &mut Violations, field: &str, text: &str) {
    if text.trim().is_empty() {
        v.add(field, "is required");
    }
}

fn partner(v: &mut Violations, field: &str, p: i32) -> String {
    match partner_code(p) {
        Some(c) => c.to_owned(),
        None => {
            v.add(field, "must be a partner (CNAM, CPAM62, CPAM57, CDC, ANGDM)");
            String::new()
        }
    }
}

fn id_of(name: &str, prefix: &str, field: &str) -> Result<Uuid> {
    name.strip_prefix(prefix)
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| MissionsError::field(field, format!("must be {prefix}{{id}}")))
}

fn mandate_id(name: &str, field: &str) -> Result<String> {
    name.strip_prefix("mandates/")
        .filter(|id| valid_id(id))
        .map(str::to_owned)
        .ok_or_else(|| MissionsError::field(field, "must be mandates/{mandate_id}"))
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 63 && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn no_nir(v: &mut Violations, field: &str, text: &str) {
    // Free text never carries a NIR: refused, and the text is not echoed.
    if domain::holds_nir(text) {
        v.add(field, "must not contain a social-security number (NIR)");
    }
}

fn year(v: &mut Violations, field: &str, y: i32) {
    if !(2000..=2100).contains(&y) {
        v.add(field, "must be a year between 2000 and 2100");
    }
}

impl MissionsApi {
    /// The holder of a mandate the caller may see (PERMISSION_DENIED for a
    /// partner whether or not it exists).
    async fn visible_mandate(&self, access: &Access, id: &str) -> Result<String> {
        match self.store.mandate_holder(id).await? {
            Some(holder) if access.sees_mandate(&holder) => Ok(holder),
            None if matches!(access, Access::Internal { .. }) => {
                Err(MissionsError::NotFound { kind: "mandate", name: format!("mandates/{id}") })
            }
            _ => Err(scope_denied(access, &format!("mandates/{id}"))),
        }
    }

    /// Checks a partner-owned record the caller asked for by name.
    fn owned(access: &Access, owner: Option<&str>, kind: &'static str, name: &str, mandate_level: bool) -> Result<()> {
        let visible = |o: &str| if mandate_level { access.sees_mandate(o) } else { access.sees(o) };
        match owner {
            Some(o) if visible(o) => Ok(()),
            None if matches!(access, Access::Internal { .. }) => Err(MissionsError::NotFound { kind, name: name.to_owned() }),
            _ => Err(scope_denied(access, name)),
        }
    }
}

type Guarded<Resp> = std::result::Result<Response<Resp>, Status>;

async fn guarded<Req, Resp, F, Fut>(
    api: &MissionsApi,
    writers: &Writers,
    request: Request<Req>,
    method: &'static str,
    resource: impl Fn(&Req) -> String,
    request_id: impl Fn(&mut Req) -> String,
    run: F,
) -> Guarded<Resp>
where
    Req: Message + Clone,
    F: FnOnce(Req, Identity, Option<IdempotencyKey>, String) -> Fut,
    Fut: std::future::Future<Output = Result<Resp>>,
{
    write::guarded(api.store.pool(), DOMAIN, writers, request, method, resource, request_id, run).await
}

fn ctx<'a>(identity: &'a Identity, key: &'a Option<IdempotencyKey>, rid: &'a str, method: &'a str) -> WriteContext<'a> {
    WriteContext { identity, key: key.as_ref(), request_id: rid, method }
}

#[tonic::async_trait]
impl MissionsService for MissionsApi {
    async fn create_mandate(&self, request: Request<pb::CreateMandateRequest>) -> Guarded<pb::CreateMandateResponse> {
        const M: &str = "MissionsService/CreateMandate";
        guarded(
            self,
            &INTERNAL_WRITERS,
            request,
            M,
            |r| format!("mandates/{}", r.mandate_id),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                internal_writer(&identity)?;
                let mut v = Violations::new();
                if !valid_id(&req.mandate_id) {
                    v.add("mandate_id", "must be 1-63 lower-case letters, digits and hyphens");
                }
                let m = req.mandate.unwrap_or_default();
                let holder = partner(&mut v, "mandate.partner", m.partner);
                if !matches!(holder.as_str(), "" | "CNAM" | "CDC" | "ANGDM") {
                    v.add("mandate.partner", "a mandate is held by CNAM, CDC or ANGDM (the CPAMs act within the CNAM mandate)");
                }
                let form = match pb::MandateForm::try_from(m.form) {
                    Ok(f) if f != pb::MandateForm::Unspecified => code_of(f.as_str_name(), "MANDATE_FORM_"),
                    _ => {
                        v.add("mandate.form", "is required");
                        String::new()
                    }
                };
                required(&mut v, "mandate.title", &m.title);
                for (i, s) in m.scope.iter().enumerate() {
                    if !domain::is_code(s) {
                        v.add(format!("mandate.scope[{i}]"), "must be an upper-case code (HEALTH, OLD_AGE, INDIVIDUAL_ASS…)");
                    }
                }
                let start = date(&mut v, "mandate.start_date", &m.start_date);
                let end = opt_date(&mut v, "mandate.end_date", &m.end_date);
                if let (Some(s), Some(e)) = (start, end)
                    && e < s
                {
                    v.add("mandate.end_date", "must not be before the start date");
                }
                let conventions: Vec<ConventionIn> = m
                    .conventions
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| convention(&mut v, &format!("mandate.conventions[{i}]"), c))
                    .collect();
                let mut terms = Vec::new();
                for (i, t) in m.financial_terms.iter().enumerate() {
                    let f = format!("mandate.financial_terms[{i}]");
                    year(&mut v, &format!("{f}.year"), t.year);
                    let ok = t.budget_line.starts_with("funds/") && t.budget_line.contains(&format!("/years/{}/lines/", t.year));
                    if !ok {
                        v.add(format!("{f}.budget_line"), "must be funds/{fund}/years/{year}/lines/{code} of the term's year");
                    }
                    required(&mut v, &format!("{f}.label"), &t.label);
                    if t.amount_cents < 0 {
                        v.add(format!("{f}.amount_cents"), "must not be negative");
                    }
                    terms.push((t.year as i16, t.budget_line.clone(), t.label.clone(), t.amount_cents));
                }
                if !v.is_empty() {
                    return Err(MissionsError::Invalid(v));
                }
                let input = MandateIn {
                    id: req.mandate_id.clone(),
                    partner: holder,
                    form,
                    title: m.title.trim().to_owned(),
                    scope: m.scope.clone(),
                    start: start.unwrap_or_default(),
                    end,
                    conventions,
                    terms,
                };
                let mandate = self.store.create_mandate(&ctx(&identity, &key, &rid, M), input).await?;
                Ok(pb::CreateMandateResponse { mandate: Some(mandate) })
            },
        )
        .await
    }

    async fn get_mandate(&self, request: Request<pb::GetMandateRequest>) -> Guarded<pb::GetMandateResponse> {
        let access = reader(&request)?;
        let id = mandate_id(&request.get_ref().name, "name")?;
        self.visible_mandate(&access, &id).await?;
        let mandate = self.store.get_mandate(&id).await?;
        Ok(Response::new(pb::GetMandateResponse { mandate }))
    }

    async fn list_mandates(&self, request: Request<pb::ListMandatesRequest>) -> Guarded<pb::ListMandatesResponse> {
        let access = reader(&request)?;
        let req = request.into_inner();
        let (mandates, next_page_token) =
            self.store.list_mandates(access.visible_mandates(), size(req.page_size)?, &req.page_token).await?;
        Ok(Response::new(pb::ListMandatesResponse { mandates, next_page_token }))
    }

    async fn add_convention_period(&self, request: Request<pb::AddConventionPeriodRequest>) -> Guarded<pb::AddConventionPeriodResponse> {
        const M: &str = "MissionsService/AddConventionPeriod";
        guarded(
            self,
            &INTERNAL_WRITERS,
            request,
            M,
            |r| r.mandate.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                internal_writer(&identity)?;
                let id = mandate_id(&req.mandate, "mandate")?;
                let mut v = Violations::new();
                let c = convention(&mut v, "convention", &req.convention.unwrap_or_default());
                let Some(c) = c.filter(|_| v.is_empty()) else {
                    return Err(MissionsError::Invalid(v));
                };
                let mandate = self.store.add_convention(&ctx(&identity, &key, &rid, M), &id, c).await?;
                Ok(pb::AddConventionPeriodResponse { mandate: Some(mandate) })
            },
        )
        .await
    }

    async fn set_meeting_requirement(
        &self,
        request: Request<pb::SetMeetingRequirementRequest>,
    ) -> Guarded<pb::SetMeetingRequirementResponse> {
        const M: &str = "MissionsService/SetMeetingRequirement";
        guarded(
            self,
            &INTERNAL_WRITERS,
            request,
            M,
            |r| r.mandate.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                internal_writer(&identity)?;
                let id = mandate_id(&req.mandate, "mandate")?;
                let mut v = Violations::new();
                if pb::SteeringBody::try_from(req.body).unwrap_or_default() == pb::SteeringBody::Unspecified {
                    v.add("body", "is required");
                }
                year(&mut v, "year", req.year);
                if req.minimum_meetings <= 0 {
                    v.add("minimum_meetings", "must be positive");
                }
                if !v.is_empty() {
                    return Err(MissionsError::Invalid(v));
                }
                let holder = self.visible_mandate(&Access::Internal { write: true }, &id).await?;
                let body = pb::SteeringBody::try_from(req.body).unwrap_or_default();
                if domain::body_holder(body) != Some(holder.as_str()) {
                    return Err(MissionsError::field(
                        "body",
                        format!("{} is not a steering body of the {holder} mandate", body.as_str_name()),
                    ));
                }
                let r = pb::MeetingRequirement {
                    mandate: req.mandate.clone(),
                    body: req.body,
                    year: req.year,
                    minimum_meetings: req.minimum_meetings,
                    each_quarter: req.each_quarter,
                };
                let requirement = self.store.set_requirement(&ctx(&identity, &key, &rid, M), r, &id).await?;
                Ok(pb::SetMeetingRequirementResponse { requirement: Some(requirement) })
            },
        )
        .await
    }

    async fn record_meeting(&self, request: Request<pb::RecordMeetingRequest>) -> Guarded<pb::RecordMeetingResponse> {
        const M: &str = "MissionsService/RecordMeeting";
        guarded(
            self,
            &INTERNAL_WRITERS,
            request,
            M,
            |r| r.meeting.as_ref().map(|m| m.mandate.clone()).unwrap_or_default(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                internal_writer(&identity)?;
                let m = req.meeting.unwrap_or_default();
                let id = mandate_id(&m.mandate, "meeting.mandate")?;
                let mut v = Violations::new();
                let body = pb::SteeringBody::try_from(m.body).unwrap_or_default();
                if body == pb::SteeringBody::Unspecified {
                    v.add("meeting.body", "is required");
                }
                let status = pb::MeetingStatus::try_from(m.status).unwrap_or_default();
                let planned = opt_date(&mut v, "meeting.planned_date", &m.planned_date);
                let held = opt_date(&mut v, "meeting.held_date", &m.held_date);
                match status {
                    pb::MeetingStatus::Unspecified => v.add("meeting.status", "is required"),
                    pb::MeetingStatus::Held => {
                        if m.held_date.is_empty() {
                            v.add("meeting.held_date", "is required for a held meeting");
                        }
                        required(&mut v, "meeting.minutes_reference", &m.minutes_reference);
                        no_nir(&mut v, "meeting.minutes_reference", &m.minutes_reference);
                    }
                    _ => {
                        if m.planned_date.is_empty() {
                            v.add("meeting.planned_date", "is required for a planned or cancelled meeting");
                        }
                        if !m.held_date.is_empty() {
                            v.add("meeting.held_date", "only a held meeting has a held date");
                        }
                    }
                }
                for (i, a) in m.agenda.iter().enumerate() {
                    no_nir(&mut v, &format!("meeting.agenda[{i}]"), a);
                }
                if !v.is_empty() {
                    return Err(MissionsError::Invalid(v));
                }
                let holder = self.visible_mandate(&Access::Internal { write: true }, &id).await?;
                if domain::body_holder(body) != Some(holder.as_str()) {
                    return Err(MissionsError::field(
                        "meeting.body",
                        format!("{} is not a steering body of the {holder} mandate", body.as_str_name()),
                    ));
                }
                let input = MeetingIn {
                    mandate_id: id,
                    body: code_of(body.as_str_name(), "STEERING_BODY_"),
                    status: code_of(status.as_str_name(), "MEETING_STATUS_"),
                    planned,
                    held,
                    minutes: m.minutes_reference.trim().to_owned(),
                    agenda: m.agenda.clone(),
                };
                let meeting = self.store.record_meeting(&ctx(&identity, &key, &rid, M), input).await?;
                Ok(pb::RecordMeetingResponse { meeting: Some(meeting) })
            },
        )
        .await
    }

    async fn list_meetings(&self, request: Request<pb::ListMeetingsRequest>) -> Guarded<pb::ListMeetingsResponse> {
        let access = reader(&request)?;
        let req = request.into_inner();
        let mandate = if req.mandate.is_empty() { None } else { Some(mandate_id(&req.mandate, "mandate")?) };
        if let Some(id) = &mandate {
            self.visible_mandate(&access, id).await?;
        }
        let (meetings, next_page_token) = self
            .store
            .list_meetings(access.visible_mandates(), mandate.as_deref(), req.year, size(req.page_size)?, &req.page_token)
            .await?;
        Ok(Response::new(pb::ListMeetingsResponse { meetings, next_page_token }))
    }

    async fn get_governance_compliance(
        &self,
        request: Request<pb::GetGovernanceComplianceRequest>,
    ) -> Guarded<pb::GetGovernanceComplianceResponse> {
        let access = reader(&request)?;
        let req = request.into_inner();
        let id = mandate_id(&req.mandate, "mandate")?;
        let mut v = Violations::new();
        year(&mut v, "year", req.year);
        if !v.is_empty() {
            return Err(MissionsError::Invalid(v).into());
        }
        let holder = self.visible_mandate(&access, &id).await?;
        Ok(Response::new(self.store.compliance(&id, &holder, req.year).await?))
    }

    async fn schedule_deliverables(&self, request: Request<pb::ScheduleDeliverablesRequest>) -> Guarded<pb::ScheduleDeliverablesResponse> {
        const M: &str = "MissionsService/ScheduleDeliverables";
        guarded(
            self,
            &INTERNAL_WRITERS,
            request,
            M,
            |r| r.mandate.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                internal_writer(&identity)?;
                let id = mandate_id(&req.mandate, "mandate")?;
                let mut v = Violations::new();
                if !domain::is_code(&req.code) {
                    v.add("code", "must be an upper-case code (ACTIVITY_REPORT…)");
                }
                required(&mut v, "label", &req.label);
                let recurrence = pb::Recurrence::try_from(req.recurrence).unwrap_or_default();
                if recurrence == pb::Recurrence::Unspecified {
                    v.add("recurrence", "is required");
                }
                year(&mut v, "from_year", req.from_year);
                year(&mut v, "to_year", req.to_year);
                if req.to_year < req.from_year || req.to_year - req.from_year > 10 {
                    v.add("to_year", "must be from from_year to ten years after");
                }
                let mut calendar = Vec::new();
                if v.is_empty() {
                    for p in domain::periods(recurrence, req.from_year, req.to_year) {
                        let Some(period) = v.check("recurrence", Period::parse(&p)) else { break };
                        match domain::due_date(recurrence, &period, req.due_rule.trim()) {
                            Ok(due) => calendar.push((p, due)),
                            Err(e) => {
                                v.add("due_rule", e);
                                break;
                            }
                        }
                    }
                }
                if !v.is_empty() {
                    return Err(MissionsError::Invalid(v));
                }
                let holder = self.visible_mandate(&Access::Internal { write: true }, &id).await?;
                let deliverables = self
                    .store
                    .schedule(
                        &ctx(&identity, &key, &rid, M),
                        &id,
                        &holder,
                        &req.code,
                        req.label.trim(),
                        &code_of(recurrence.as_str_name(), "RECURRENCE_"),
                        &calendar,
                    )
                    .await?;
                Ok(pb::ScheduleDeliverablesResponse { deliverables })
            },
        )
        .await
    }

    async fn submit_deliverable(&self, request: Request<pb::SubmitDeliverableRequest>) -> Guarded<pb::SubmitDeliverableResponse> {
        const M: &str = "MissionsService/SubmitDeliverable";
        guarded(
            self,
            &PARTNER_WRITERS,
            request,
            M,
            |r| r.name.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let access = writer(&identity)?;
                let id = id_of(&req.name, "deliverables/", "name")?;
                let owner = self.store.deliverable_partner(id).await?;
                Self::owned(&access, owner.as_deref(), "deliverable", &req.name, true)?;
                let mut v = Violations::new();
                let received = if req.received_date.is_empty() { Some(today()) } else { date(&mut v, "received_date", &req.received_date) };
                if received.is_some_and(|r| r > today()) {
                    v.add("received_date", "must not be in the future");
                }
                let doc = req.document.unwrap_or_default();
                required(&mut v, "document.uri", &doc.uri);
                if doc.sha256.len() != 64 || !doc.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                    v.add("document.sha256", "must be the SHA-256 of the document, 64 hex characters");
                }
                required(&mut v, "document.media_type", &doc.media_type);
                if doc.size_bytes <= 0 {
                    v.add("document.size_bytes", "must be positive");
                }
                no_nir(&mut v, "document.title", &doc.title);
                no_nir(&mut v, "document.uri", &doc.uri);
                let Some(received) = received.filter(|_| v.is_empty()) else {
                    return Err(MissionsError::Invalid(v));
                };
                let deliverable = self.store.submit(&ctx(&identity, &key, &rid, M), id, received, doc).await?;
                Ok(pb::SubmitDeliverableResponse { deliverable: Some(deliverable) })
            },
        )
        .await
    }

    async fn get_deliverable(&self, request: Request<pb::GetDeliverableRequest>) -> Guarded<pb::GetDeliverableResponse> {
        let access = reader(&request)?;
        let req = request.into_inner();
        let id = id_of(&req.name, "deliverables/", "name")?;
        let owner = self.store.deliverable_partner(id).await?;
        Self::owned(&access, owner.as_deref(), "deliverable", &req.name, true)?;
        let deliverable = self.store.get_deliverable(id, as_of(&req.as_of)?).await?;
        Ok(Response::new(pb::GetDeliverableResponse { deliverable }))
    }

    async fn list_deliverables(&self, request: Request<pb::ListDeliverablesRequest>) -> Guarded<pb::ListDeliverablesResponse> {
        let access = reader(&request)?;
        let req = request.into_inner();
        let mandate = if req.mandate.is_empty() { None } else { Some(mandate_id(&req.mandate, "mandate")?) };
        if let Some(id) = &mandate {
            self.visible_mandate(&access, id).await?;
        }
        let (deliverables, next_page_token) = self
            .store
            .list_deliverables(
                access.visible_mandates(),
                mandate.as_deref(),
                as_of(&req.as_of)?,
                req.due_year,
                false,
                size(req.page_size)?,
                &req.page_token,
            )
            .await?;
        Ok(Response::new(pb::ListDeliverablesResponse { deliverables, next_page_token }))
    }

    async fn list_overdue_deliverables(
        &self,
        request: Request<pb::ListOverdueDeliverablesRequest>,
    ) -> Guarded<pb::ListOverdueDeliverablesResponse> {
        let access = reader(&request)?;
        let req = request.into_inner();
        let (deliverables, next_page_token) = self
            .store
            .list_deliverables(access.visible_mandates(), None, as_of(&req.as_of)?, 0, true, size(req.page_size)?, &req.page_token)
            .await?;
        Ok(Response::new(pb::ListOverdueDeliverablesResponse { deliverables, next_page_token }))
    }

    async fn upload_exchange_file(&self, request: Request<pb::UploadExchangeFileRequest>) -> Guarded<pb::UploadExchangeFileResponse> {
        const M: &str = "MissionsService/UploadExchangeFile";
        guarded(
            self,
            &PARTNER_WRITERS,
            request,
            M,
            |r| format!("exchangeRuns/{}", partner_code(r.sender).unwrap_or("?")),
            |r| {
                // The idempotency hash covers the payload: with keyed digests in place of the
                // NIRs, a retry still matches and no plain hash of a NIR is stored.
                for rec in &mut r.records {
                    rec.nir = self.store.keyed_digest(rec.nir.as_bytes());
                }
                std::mem::take(&mut r.request_id)
            },
            |req, identity, key, rid| async move {
                let access = writer(&identity)?;
                let mut v = Violations::new();
                let sender = partner(&mut v, "sender", req.sender);
                if !sender.is_empty() && !access.sees(&sender) {
                    return Err(scope_denied(&access, &format!("files sent as {sender}")));
                }
                let dataset = pb::ExchangeDataset::try_from(req.dataset).unwrap_or_default();
                if dataset == pb::ExchangeDataset::Unspecified {
                    v.add("dataset", "is required");
                }
                let period = if req.period.is_empty() {
                    v.add("period", "is required");
                    None
                } else {
                    v.check("period", Period::parse(&req.period))
                };
                if req.records.is_empty() {
                    v.add("records", "must hold at least one record");
                }
                if req.records.len() > MAX_EXCHANGE_RECORDS {
                    v.add("records", format!("at most {MAX_EXCHANGE_RECORDS} records per file"));
                }
                let Some(period) = period.filter(|_| v.is_empty()) else {
                    return Err(MissionsError::Invalid(v));
                };
                let default_type = code_of(dataset.as_str_name(), "EXCHANGE_DATASET_");
                let mut file = Vec::new();
                let (mut valid, mut rejected) = (Vec::new(), Vec::new());
                for (i, r) in req.records.iter().enumerate() {
                    file.extend(r.encode_length_delimited_to_vec());
                    match domain::validate_record(i as i32 + 1, r, &period, &default_type) {
                        Ok(rec) => valid.push(rec),
                        Err(line) => rejected.push(line),
                    }
                }
                let input = UploadIn {
                    dataset: req.dataset,
                    recipient: domain::route(&sender),
                    sender,
                    period: req.period.clone(),
                    sent: req.records.len() as i32,
                    checksum: self.store.keyed_digest(&file),
                    valid,
                    rejected,
                };
                let run = self.store.upload(&ctx(&identity, &key, &rid, M), input).await?;
                Ok(pb::UploadExchangeFileResponse { run: Some(run) })
            },
        )
        .await
    }

    async fn get_exchange_run(&self, request: Request<pb::GetExchangeRunRequest>) -> Guarded<pb::GetExchangeRunResponse> {
        let access = reader(&request)?;
        let name = request.into_inner().name;
        let id = id_of(&name, "exchangeRuns/", "name")?;
        self.check_run(&access, id, &name).await?;
        Ok(Response::new(pb::GetExchangeRunResponse { run: self.store.get_run(id).await? }))
    }

    async fn list_exchange_runs(&self, request: Request<pb::ListExchangeRunsRequest>) -> Guarded<pb::ListExchangeRunsResponse> {
        let access = reader(&request)?;
        let req = request.into_inner();
        let (runs, next_page_token) = self.store.list_runs(access.visible(), size(req.page_size)?, &req.page_token).await?;
        Ok(Response::new(pb::ListExchangeRunsResponse { runs, next_page_token }))
    }

    async fn acknowledge_exchange_run(
        &self,
        request: Request<pb::AcknowledgeExchangeRunRequest>,
    ) -> Guarded<pb::AcknowledgeExchangeRunResponse> {
        const M: &str = "MissionsService/AcknowledgeExchangeRun";
        guarded(
            self,
            &PARTNER_WRITERS,
            request,
            M,
            |r| r.name.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let access = writer(&identity)?;
                let id = id_of(&req.name, "exchangeRuns/", "name")?;
                let parties = self.store.run_parties(id).await?;
                // Only the recipient (or CANSSM on its behalf) acknowledges.
                let recipient = match (&parties, &access) {
                    (Some((_, Some(r))), _) if access.sees(r) => r.clone(),
                    (None, Access::Internal { .. }) => {
                        return Err(MissionsError::NotFound { kind: "exchange run", name: req.name.clone() });
                    }
                    (Some((_, None)), Access::Internal { .. }) => {
                        return Err(MissionsError::Conflict(format!("{} is kept by CANSSM: it was routed to no partner", req.name)));
                    }
                    _ => return Err(scope_denied(&access, &format!("the delivery of {}", req.name))),
                };
                let run = self.store.acknowledge(&ctx(&identity, &key, &rid, M), id, &recipient).await?;
                Ok(pb::AcknowledgeExchangeRunResponse { run: Some(run) })
            },
        )
        .await
    }

    async fn record_statistics(&self, request: Request<pb::RecordStatisticsRequest>) -> Guarded<pb::RecordStatisticsResponse> {
        const M: &str = "MissionsService/RecordStatistics";
        guarded(
            self,
            &PARTNER_WRITERS,
            request,
            M,
            |_| "statistics".to_owned(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let access = writer(&identity)?;
                let mut v = Violations::new();
                if req.values.is_empty() {
                    v.add("values", "must hold at least one value");
                }
                let mut values = Vec::new();
                for (i, s) in req.values.iter().enumerate() {
                    let f = format!("values[{i}]");
                    let p = partner(&mut v, &format!("{f}.partner"), s.partner);
                    if !p.is_empty() && !access.sees(&p) {
                        return Err(scope_denied(&access, &format!("statistics of {p}")));
                    }
                    if !domain::is_code(&s.series) {
                        v.add(format!("{f}.series"), "must be an upper-case code (PENSIONERS, CALLS_HANDLED…)");
                    }
                    let period = v.check(&format!("{f}.period"), Period::parse(&s.period));
                    if s.dimension.len() > 128 || s.dimension.contains(char::is_whitespace) {
                        v.add(format!("{f}.dimension"), "must be a short key:value code without spaces");
                    }
                    no_nir(&mut v, &format!("{f}.series"), &s.series);
                    no_nir(&mut v, &format!("{f}.dimension"), &s.dimension);
                    no_nir(&mut v, &format!("{f}.missing_reason"), &s.missing_reason);
                    if !(0..=6).contains(&s.scale) {
                        v.add(format!("{f}.scale"), "must be 0 to 6");
                    }
                    if !matches!(s.unit.as_str(), "COUNT" | "CENTS" | "DAYS" | "YEARS" | "PERCENT") {
                        v.add(format!("{f}.unit"), "must be COUNT, CENTS, DAYS, YEARS or PERCENT");
                    }
                    let missing = pb::MissingValue::try_from(s.missing).unwrap_or_default();
                    if missing != pb::MissingValue::Unspecified && s.value != 0 {
                        v.add(format!("{f}.value"), "must be 0 for a missing value (ND/NC)");
                    }
                    if missing == pb::MissingValue::Nd && s.missing_reason.trim().is_empty() {
                        v.add(format!("{f}.missing_reason"), "is required for ND");
                    }
                    values.push(StatisticIn {
                        partner: p,
                        series: s.series.clone(),
                        dimension: s.dimension.clone(),
                        period: s.period.clone(),
                        year: period.map(|p| p.year() as i16).unwrap_or_default(),
                        value: s.value,
                        scale: s.scale as i16,
                        unit: s.unit.clone(),
                        missing: if missing == pb::MissingValue::Unspecified {
                            String::new()
                        } else {
                            code_of(missing.as_str_name(), "MISSING_VALUE_")
                        },
                        missing_reason: s.missing_reason.trim().to_owned(),
                    });
                }
                if !v.is_empty() {
                    return Err(MissionsError::Invalid(v));
                }
                self.store.record_statistics(&ctx(&identity, &key, &rid, M), values).await
            },
        )
        .await
    }

    async fn list_statistics(&self, request: Request<pb::ListStatisticsRequest>) -> Guarded<pb::ListStatisticsResponse> {
        let access = reader(&request)?;
        let req = request.into_inner();
        let p = partner_code(req.partner);
        if let Some(p) = p
            && !access.sees(p)
        {
            return Err(scope_denied(&access, &format!("statistics of {p}")).into());
        }
        let (values, next_page_token) =
            self.store.list_statistics(access.visible(), &req.series, p, 0, size(req.page_size)?, &req.page_token).await?;
        Ok(Response::new(pb::ListStatisticsResponse { values, next_page_token }))
    }

    async fn create_claim(&self, request: Request<pb::CreateClaimRequest>) -> Guarded<pb::CreateClaimResponse> {
        const M: &str = "MissionsService/CreateClaim";
        guarded(
            self,
            &PARTNER_WRITERS,
            request,
            M,
            |_| "claims".to_owned(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let access = writer(&identity)?;
                let c = req.claim.unwrap_or_default();
                let mut v = Violations::new();
                let p = partner(&mut v, "claim.partner", c.partner);
                if !p.is_empty() && !access.sees(&p) {
                    return Err(scope_denied(&access, &format!("claims of {p}")));
                }
                let received = date(&mut v, "claim.received_date", &c.received_date);
                let channel = pb::ClaimChannel::try_from(c.channel).unwrap_or_default();
                if channel == pb::ClaimChannel::Unspecified {
                    v.add("claim.channel", "is required");
                }
                let category = pb::ClaimCategory::try_from(c.category).unwrap_or_default();
                if category == pb::ClaimCategory::Unspecified {
                    v.add("claim.category", "is required");
                }
                let requester = pb::Requester::try_from(c.requester).unwrap_or_default();
                if requester == pb::Requester::Unspecified {
                    v.add("claim.requester", "is required");
                }
                no_nir(&mut v, "claim.partner_reference", &c.partner_reference);
                let Some(received) = received.filter(|_| v.is_empty()) else {
                    return Err(MissionsError::Invalid(v));
                };
                let input = ClaimIn {
                    partner: p,
                    received,
                    channel: code_of(channel.as_str_name(), "CLAIM_CHANNEL_"),
                    category: code_of(category.as_str_name(), "CLAIM_CATEGORY_"),
                    requester: code_of(requester.as_str_name(), "REQUESTER_"),
                    reference: c.partner_reference.trim().to_owned(),
                };
                let claim = self.store.create_claim(&ctx(&identity, &key, &rid, M), input, today()).await?;
                Ok(pb::CreateClaimResponse { claim: Some(claim) })
            },
        )
        .await
    }

    async fn answer_claim(&self, request: Request<pb::AnswerClaimRequest>) -> Guarded<pb::AnswerClaimResponse> {
        const M: &str = "MissionsService/AnswerClaim";
        guarded(
            self,
            &PARTNER_WRITERS,
            request,
            M,
            |r| r.name.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let access = writer(&identity)?;
                let id = id_of(&req.name, "claims/", "name")?;
                let found = self.store.claim_partner(id).await?;
                Self::owned(&access, found.as_ref().map(|f| f.0.as_str()), "claim", &req.name, false)?;
                let mut v = Violations::new();
                let answered = date(&mut v, "answered_date", &req.answered_date);
                if answered.is_some_and(|a| a > today()) {
                    v.add("answered_date", "must not be in the future");
                }
                if let (Some(a), Some((_, received))) = (answered, &found)
                    && a < *received
                {
                    v.add("answered_date", "must not be before the received date");
                }
                let Some(answered) = answered.filter(|_| v.is_empty()) else {
                    return Err(MissionsError::Invalid(v));
                };
                let claim = self.store.answer_claim(&ctx(&identity, &key, &rid, M), id, answered).await?;
                Ok(pb::AnswerClaimResponse { claim: Some(claim) })
            },
        )
        .await
    }

    async fn get_claim(&self, request: Request<pb::GetClaimRequest>) -> Guarded<pb::GetClaimResponse> {
        let access = reader(&request)?;
        let req = request.into_inner();
        let id = id_of(&req.name, "claims/", "name")?;
        let found = self.store.claim_partner(id).await?;
        Self::owned(&access, found.as_ref().map(|f| f.0.as_str()), "claim", &req.name, false)?;
        Ok(Response::new(pb::GetClaimResponse { claim: self.store.get_claim(id, as_of(&req.as_of)?).await? }))
    }

    async fn list_claims(&self, request: Request<pb::ListClaimsRequest>) -> Guarded<pb::ListClaimsResponse> {
        let access = reader(&request)?;
        let req = request.into_inner();
        let (claims, next_page_token) =
            self.store.list_claims(access.visible(), as_of(&req.as_of)?, size(req.page_size)?, &req.page_token).await?;
        Ok(Response::new(pb::ListClaimsResponse { claims, next_page_token }))
    }

    async fn create_fraud_case(&self, request: Request<pb::CreateFraudCaseRequest>) -> Guarded<pb::CreateFraudCaseResponse> {
        const M: &str = "MissionsService/CreateFraudCase";
        guarded(
            self,
            &PARTNER_WRITERS,
            request,
            M,
            |_| "fraudCases".to_owned(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let access = writer(&identity)?;
                let f = req.fraud_case.unwrap_or_default();
                let mut v = Violations::new();
                let p = partner(&mut v, "fraud_case.partner", f.partner);
                if !p.is_empty() && !access.sees(&p) {
                    return Err(scope_denied(&access, &format!("fraud cases of {p}")));
                }
                let detected = date(&mut v, "fraud_case.detected_date", &f.detected_date);
                required(&mut v, "fraud_case.fraud_type", &f.fraud_type);
                no_nir(&mut v, "fraud_case.fraud_type", &f.fraud_type);
                if f.amount_at_stake_cents < 0 {
                    v.add("fraud_case.amount_at_stake_cents", "must not be negative");
                }
                if f.amount_recovered_cents < 0 {
                    v.add("fraud_case.amount_recovered_cents", "must not be negative");
                }
                let status = match pb::FraudStatus::try_from(f.status).unwrap_or_default() {
                    pb::FraudStatus::Unspecified => pb::FraudStatus::Suspected,
                    pb::FraudStatus::Closed => {
                        v.add("fraud_case.status", "a case is opened SUSPECTED or CONFIRMED, then closed by UpdateFraudCase");
                        pb::FraudStatus::Closed
                    }
                    s => s,
                };
                let Some(detected) = detected.filter(|_| v.is_empty()) else {
                    return Err(MissionsError::Invalid(v));
                };
                let input = FraudIn {
                    partner: p,
                    detected,
                    fraud_type: f.fraud_type.trim().to_owned(),
                    at_stake: f.amount_at_stake_cents,
                    recovered: f.amount_recovered_cents,
                    status: code_of(status.as_str_name(), "FRAUD_STATUS_"),
                    closed: None,
                };
                let case = self.store.create_fraud(&ctx(&identity, &key, &rid, M), input).await?;
                Ok(pb::CreateFraudCaseResponse { fraud_case: Some(case) })
            },
        )
        .await
    }

    async fn update_fraud_case(&self, request: Request<pb::UpdateFraudCaseRequest>) -> Guarded<pb::UpdateFraudCaseResponse> {
        const M: &str = "MissionsService/UpdateFraudCase";
        guarded(
            self,
            &PARTNER_WRITERS,
            request,
            M,
            |r| r.name.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let access = writer(&identity)?;
                let id = id_of(&req.name, "fraudCases/", "name")?;
                let found = self.store.fraud_partner(id).await?;
                Self::owned(&access, found.as_ref().map(|f| f.0.as_str()), "fraud case", &req.name, false)?;
                let mut v = Violations::new();
                let status = pb::FraudStatus::try_from(req.status).unwrap_or_default();
                if status == pb::FraudStatus::Unspecified {
                    v.add("status", "is required");
                }
                if req.amount_recovered_cents < 0 {
                    v.add("amount_recovered_cents", "must not be negative");
                }
                let closed = opt_date(&mut v, "closed_date", &req.closed_date);
                if status == pb::FraudStatus::Closed && closed.is_none() {
                    v.add("closed_date", "is required to close a case");
                }
                if status != pb::FraudStatus::Closed && closed.is_some() {
                    v.add("closed_date", "only a closed case has a closing date");
                }
                if let (Some(c), Some((_, detected))) = (closed, &found)
                    && c < *detected
                {
                    v.add("closed_date", "must not be before the detection date");
                }
                if !v.is_empty() {
                    return Err(MissionsError::Invalid(v));
                }
                let case = self
                    .store
                    .update_fraud(
                        &ctx(&identity, &key, &rid, M),
                        id,
                        &code_of(status.as_str_name(), "FRAUD_STATUS_"),
                        req.amount_recovered_cents,
                        closed,
                    )
                    .await?;
                Ok(pb::UpdateFraudCaseResponse { fraud_case: Some(case) })
            },
        )
        .await
    }

    async fn list_fraud_cases(&self, request: Request<pb::ListFraudCasesRequest>) -> Guarded<pb::ListFraudCasesResponse> {
        let access = reader(&request)?;
        let req = request.into_inner();
        let (fraud_cases, next_page_token) = self.store.list_fraud(access.visible(), size(req.page_size)?, &req.page_token).await?;
        Ok(Response::new(pb::ListFraudCasesResponse { fraud_cases, next_page_token }))
    }

    async fn record_social_action_spending(
        &self,
        request: Request<pb::RecordSocialActionSpendingRequest>,
    ) -> Guarded<pb::RecordSocialActionSpendingResponse> {
        const M: &str = "MissionsService/RecordSocialActionSpending";
        guarded(
            self,
            &PARTNER_WRITERS,
            request,
            M,
            |_| "socialActionStatements".to_owned(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let access = writer(&identity)?;
                if !access.sees("ANGDM") {
                    return Err(scope_denied(&access, "ANGDM spending statements"));
                }
                let s = req.statement.unwrap_or_default();
                let mut v = Violations::new();
                year(&mut v, "statement.year", s.year);
                let section = pb::BnassSection::try_from(s.section).unwrap_or_default();
                let line = domain::section_line(section, s.year);
                if line.is_none() {
                    v.add("statement.section", "is required (PA, MAL or ATMP)");
                }
                let period = v.check("statement.period", Period::parse(&s.period));
                if let Some(p) = &period
                    && p.year() != s.year
                {
                    v.add("statement.period", "must be within the statement's year");
                }
                if !matches!(s.sub_item.as_str(), "INDIVIDUAL_ASS" | "HOLIDAY_POLICY" | "EXPENSES_22B") {
                    v.add("statement.sub_item", "must be INDIVIDUAL_ASS, HOLIDAY_POLICY or EXPENSES_22B");
                }
                if s.amount_cents <= 0 {
                    v.add("statement.amount_cents", "must be a positive amount in cents");
                }
                required(&mut v, "statement.reference", &s.reference);
                no_nir(&mut v, "statement.reference", &s.reference);
                if s.reference.len() > 64 || !s.reference.bytes().all(|b| b.is_ascii_graphic()) {
                    v.add("statement.reference", "must be at most 64 visible ASCII characters");
                }
                let (Some(period), Some(line)) = (period.filter(|_| v.is_empty()), line) else {
                    return Err(MissionsError::Invalid(v));
                };
                let input = StatementIn {
                    year: s.year as i16,
                    period: s.period.clone(),
                    period_end: period.end(),
                    section: s.section,
                    sub_item: s.sub_item.clone(),
                    amount_cents: s.amount_cents,
                    reference: s.reference.clone(),
                    line,
                };
                let statement = self.store.record_statement(&ctx(&identity, &key, &rid, M), &self.finance, input).await?;
                Ok(pb::RecordSocialActionSpendingResponse { statement: Some(statement) })
            },
        )
        .await
    }

    async fn list_social_action_spending(
        &self,
        request: Request<pb::ListSocialActionSpendingRequest>,
    ) -> Guarded<pb::ListSocialActionSpendingResponse> {
        let access = reader(&request)?;
        if !access.sees("ANGDM") {
            return Err(scope_denied(&access, "ANGDM spending statements").into());
        }
        let req = request.into_inner();
        let (statements, next_page_token) = self.store.list_statements(req.year, size(req.page_size)?, &req.page_token).await?;
        Ok(Response::new(pb::ListSocialActionSpendingResponse { statements, next_page_token }))
    }

    async fn get_social_action_execution(
        &self,
        request: Request<pb::GetSocialActionExecutionRequest>,
    ) -> Guarded<pb::GetSocialActionExecutionResponse> {
        let access = reader(&request)?;
        if !access.sees("ANGDM") {
            return Err(scope_denied(&access, "ANGDM spending").into());
        }
        let y = request.into_inner().year;
        let mut v = Violations::new();
        year(&mut v, "year", y);
        if !v.is_empty() {
            return Err(MissionsError::Invalid(v).into());
        }
        let totals = self.store.statement_totals(y).await?;
        let mut sections = Vec::new();
        for section in [pb::BnassSection::Pa, pb::BnassSection::Mal, pb::BnassSection::Atmp] {
            let line = domain::section_line(section, y).unwrap_or_default();
            let position = self.finance.position(&line).await?;
            sections.push(pb::SectionExecution {
                section: section as i32,
                statements_cents: totals.get(&code_of(section.as_str_name(), "BNASS_SECTION_")).copied().unwrap_or_default(),
                budget_line: line,
                authorised_cents: position.authorised_cents,
                executed_cents: position.executed_cents,
                overrun_cents: position.overrun_cents,
            });
        }
        Ok(Response::new(pb::GetSocialActionExecutionResponse { year: y, sections }))
    }

    async fn get_missions_metrics(&self, request: Request<pb::GetMissionsMetricsRequest>) -> Guarded<pb::GetMissionsMetricsResponse> {
        let access = reader(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        year(&mut v, "year", req.year);
        if !v.is_empty() {
            return Err(MissionsError::Invalid(v).into());
        }
        let at = as_of(&req.as_of)?;
        let deliverables = self.store.deliverable_metrics(access.visible_mandates(), req.year, at).await?;
        let mut meetings = Vec::new();
        for (id, holder) in self.store.mandates_of(access.visible_mandates()).await? {
            let c = self.store.compliance(&id, &holder, req.year).await?;
            for b in c.bodies {
                meetings.push(pb::MeetingMetrics {
                    mandate: format!("mandates/{id}"),
                    body: b.body,
                    required_meetings: b.required_meetings,
                    held_meetings: b.held_meetings,
                    compliant: b.compliant,
                });
            }
        }
        let claims = self.store.claim_metrics(access.visible(), req.year, at).await?;
        let mut population = Vec::new();
        let mut token = String::new();
        loop {
            let (page, next) = self.store.list_statistics(access.visible(), "", None, req.year, 200, &token).await?;
            population.extend(page);
            if next.is_empty() {
                break;
            }
            token = next;
        }
        Ok(Response::new(pb::GetMissionsMetricsResponse {
            year: req.year,
            deliverables: Some(deliverables),
            meetings,
            claims: Some(claims),
            population,
        }))
    }
}

impl MissionsApi {
    async fn check_run(&self, access: &Access, id: Uuid, name: &str) -> Result<()> {
        match self.store.run_parties(id).await? {
            Some((sender, recipient)) if access.sees(&sender) || recipient.as_deref().is_some_and(|r| access.sees(r)) => Ok(()),
            None if matches!(access, Access::Internal { .. }) => {
                Err(MissionsError::NotFound { kind: "exchange run", name: name.to_owned() })
            }
            _ => Err(scope_denied(access, name)),
        }
    }
}

fn convention(v: &mut Violations, field: &str, c: &pb::ConventionPeriod) -> Option<ConventionIn> {
    let before = v.is_empty();
    if !matches!(c.kind.as_str(), "ORIGINAL" | "AMENDMENT" | "RENEWAL") {
        v.add(format!("{field}.kind"), "must be ORIGINAL, AMENDMENT or RENEWAL");
    }
    required(v, &format!("{field}.reference"), &c.reference);
    let signed = opt_date(v, &format!("{field}.signed_date"), &c.signed_date);
    let effective = date(v, &format!("{field}.effective_date"), &c.effective_date);
    let end = opt_date(v, &format!("{field}.end_date"), &c.end_date);
    if let (Some(e), Some(end)) = (effective, end)
        && end < e
    {
        v.add(format!("{field}.end_date"), "must not be before the effective date");
    }
    if !before || !v.is_empty() {
        return None;
    }
    Some(ConventionIn {
        kind: c.kind.clone(),
        reference: c.reference.trim().to_owned(),
        signed,
        effective: effective.unwrap_or_default(),
        end,
        summary: c.summary.trim().to_owned(),
    })
}
