//! gRPC adapter of the activity service.

use filieris_kernel::Period;
use filieris_proto::activity as pb;
use filieris_proto::activity::activity_service_server::ActivityService;
use filieris_runtime::Identity;
use filieris_runtime::error::ApiError;
use filieris_runtime::identity::caller;
use filieris_runtime::pagination::page_size;
use filieris_runtime::scope::Visibility;
use futures::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use crate::domain::codes::{line_code, line_from_code, mode_from_code, region_code, scheme_from_code};
use crate::domain::scope::Scope;
use crate::domain::upload::{Format, RowInput, UploadParser};
use crate::error::{ActivityError, DOMAIN};
use crate::registry_sync::RegistrySync;
use crate::storage::{Dim, ImportContext, ScopeFilter, Store};

/// Roles allowed to import and void acts.
pub const WRITER_ROLES: &[&str] = &["admin", "activity_writer"];

/// The ActivityService implementation.
#[derive(Clone)]
pub struct ActivityApi {
    store: Store,
    registry: RegistrySync,
}

impl ActivityApi {
    /// Serves the store, resolving group scopes through the registry.
    pub fn new(store: Store, registry: RegistrySync) -> Self {
        Self { store, registry }
    }

    /// The structures a scope covers over a period.
    async fn resolve(&self, scope: &Scope, period: &str) -> Result<ScopeFilter, ActivityError> {
        Ok(match scope {
            Scope::National => ScopeFilter::All,
            Scope::Region(region) => ScopeFilter::Region(region_code(*region)),
            Scope::Structure(finess) => {
                let ids = self.store.structure_ids(&[finess.as_str().to_owned()]).await?;
                match ids.get(finess.as_str()) {
                    Some(id) => ScopeFilter::Structures(vec![*id]),
                    None => return Err(ActivityError::Scope(format!("FINESS {} is not a structure of the registry", finess.as_str()))),
                }
            }
            Scope::Group(code) => match self.registry.group_members(code, period).await {
                Ok(ids) => ScopeFilter::Structures(ids),
                Err(status) if status.code() == tonic::Code::NotFound => {
                    return Err(ActivityError::Scope(format!("structureGroups/{code} is not a registry group")));
                }
                Err(status) => return Err(ActivityError::RegistryUnavailable(status.message().to_owned())),
            },
        })
    }

    /// The structures a scope covers, narrowed to what the caller may read
    /// (row-level scoping, see [`narrow`]).
    async fn scoped(&self, identity: &Identity, scope: &Scope, period: &str) -> Result<ScopeFilter, ActivityError> {
        let resolved = self.resolve(scope, period).await?;
        narrow(&self.store, identity, scope, resolved).await
    }
}

/// Row-level scoping of a resolved scope: a region or structure outside the
/// caller's visibility is refused with SCOPE_NOT_VISIBLE; a national or group
/// scope keeps only the visible structures (its region, when that is all it
/// sees). Callers holding `*` get the scope unchanged.
pub(crate) async fn narrow(store: &Store, identity: &Identity, scope: &Scope, resolved: ScopeFilter) -> Result<ScopeFilter, ActivityError> {
    let visibility = Visibility::of(identity);
    if visibility.is_all() {
        return Ok(resolved);
    }
    let refused = || ActivityError::Api(visibility.denied(DOMAIN, identity, &scope.name()));
    if let Scope::Region(region) = scope {
        return if visibility.covers_region(*region) { Ok(resolved) } else { Err(refused()) };
    }
    if let (Scope::National, Some(region)) = (scope, visibility.single_region()) {
        return Ok(ScopeFilter::Region(region_code(region)));
    }
    let regions: Vec<i16> = visibility.regions().iter().map(|r| region_code(*r)).collect();
    let visible = store.visible_structure_ids(&regions, &visibility.finess()).await?;
    Ok(match (scope, resolved) {
        (Scope::Structure(_), ScopeFilter::Structures(ids)) if !ids.iter().all(|id| visible.contains(id)) => return Err(refused()),
        (_, ScopeFilter::Structures(ids)) => ScopeFilter::Structures(ids.into_iter().filter(|id| visible.contains(id)).collect()),
        (_, _) => ScopeFilter::Structures(visible),
    })
}

/// The rows of an import stream after its header: `rows` parts as they are,
/// `data` parts through the CSV/NDJSON parser (lines may straddle parts).
fn rows_of(
    stream: Streaming<pb::ImportActsRequest>,
    format: Option<Format>,
) -> impl futures::Stream<Item = Result<Vec<RowInput>, ActivityError>> + Send {
    let parser = format.map(UploadParser::new);
    futures::stream::unfold((stream, parser, false), |(mut stream, mut parser, done)| async move {
        if done {
            return None;
        }
        match stream.next().await {
            None => {
                let rest = parser.as_mut().map(UploadParser::finish).unwrap_or_default();
                Some((Ok(rest), (stream, parser, true)))
            }
            Some(Err(status)) => Some((
                Err(ActivityError::field("stream", format!("the import stream failed: {}", status.message()))),
                (stream, parser, true),
            )),
            Some(Ok(msg)) => {
                let item = match (msg.part, parser.as_mut()) {
                    (Some(pb::import_acts_request::Part::Rows(rows)), None) => Ok(rows.acts.into_iter().map(RowInput::Act).collect()),
                    (Some(pb::import_acts_request::Part::Data(bytes)), Some(p)) => Ok(p.push(&bytes)),
                    (Some(pb::import_acts_request::Part::Header(_)), _) => {
                        Err(ActivityError::field("header", "only the first message of an import is a header"))
                    }
                    (Some(pb::import_acts_request::Part::Rows(_)), Some(_)) => {
                        Err(ActivityError::field("rows", "this import announced a CSV/NDJSON format: send data parts"))
                    }
                    (Some(pb::import_acts_request::Part::Data(_)), None) => {
                        Err(ActivityError::field("data", "data parts need the header's format (CSV or NDJSON)"))
                    }
                    (None, _) => Ok(Vec::new()),
                };
                let stop = item.is_err();
                Some((item, (stream, parser, stop)))
            }
        }
    })
}

fn operation_request_id(name: &str) -> Result<&str, ActivityError> {
    name.strip_prefix("importOperations/")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ActivityError::field("name", "must be importOperations/{request_id}"))
}

fn parse_period(v: &mut filieris_runtime::error::Violations, text: &str) -> Option<Period> {
    if text.is_empty() {
        v.add("period", "is required, e.g. 2018, 2018Q1, 201803");
        None
    } else {
        v.check("period", Period::parse(text))
    }
}

/// Acts and activity records are written by the same roles.
pub(crate) fn require_writer(identity: &Identity) -> Result<(), ActivityError> {
    if WRITER_ROLES.iter().any(|r| identity.has_role(r)) {
        Ok(())
    } else {
        Err(ActivityError::PermissionDenied(format!(
            "{} may not write activity (roles needed: {})",
            identity.caller,
            WRITER_ROLES.join(" or ")
        )))
    }
}

fn require_request_id(request_id: &str) -> Result<(), ActivityError> {
    if request_id.is_empty()
        || request_id.len() > filieris_runtime::idempotency::MAX_REQUEST_ID_LEN
        || !request_id.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ActivityError::field(
            "request_id",
            "is required for an import: 1 to 128 visible ASCII characters (a UUID is recommended)",
        ));
    }
    Ok(())
}

async fn audited<T>(
    store: &Store,
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
            filieris_runtime::audit::record_failure(
                store.pool(),
                &filieris_runtime::audit::AuditEntry { identity, method, resource, request_id, outcome: &api.reason, detail: &api.message },
            )
            .await;
            Err(api.into())
        }
    }
}

#[tonic::async_trait]
impl ActivityService for ActivityApi {
    async fn import_acts(&self, request: Request<Streaming<pb::ImportActsRequest>>) -> Result<Response<pb::ImportActsResponse>, Status> {
        let identity = caller(&request)?.clone();
        let mut stream = request.into_inner();
        let header = match stream.next().await {
            Some(Ok(pb::ImportActsRequest { part: Some(pb::import_acts_request::Part::Header(h)) })) => h,
            Some(Err(status)) => return Err(status),
            _ => {
                return Err(
                    ActivityError::field("header", "the first message of an import is its header (request_id, source_system)").into()
                );
            }
        };
        let method = "ActivityService/ImportActs";
        let checks = require_writer(&identity).and_then(|()| require_request_id(&header.request_id));
        audited(&self.store, &identity, method, "actBatches", &header.request_id, checks).await?;
        let format = match pb::UploadFormat::try_from(header.format) {
            Ok(pb::UploadFormat::Csv) => Some(Format::Csv),
            Ok(pb::UploadFormat::Ndjson) => Some(Format::Ndjson),
            _ => None,
        };
        let chunks = Box::pin(rows_of(stream, format));
        let ctx = ImportContext { identity: &identity, method, request_id: &header.request_id, source_system: &header.source_system };
        let result = self.store.import(&ctx, chunks).await;
        let batch = audited(&self.store, &identity, method, "actBatches", &header.request_id, result).await?;
        Ok(Response::new(pb::ImportActsResponse { batch: Some(batch) }))
    }

    async fn get_import_operation(
        &self,
        request: Request<pb::GetImportOperationRequest>,
    ) -> Result<Response<pb::GetImportOperationResponse>, Status> {
        let identity = caller(&request)?.clone();
        let request_id = operation_request_id(&request.get_ref().name)?;
        let operation = self.store.get_operation(&identity.caller, request_id).await?;
        Ok(Response::new(pb::GetImportOperationResponse { operation: Some(operation) }))
    }

    async fn cancel_import_operation(
        &self,
        request: Request<pb::CancelImportOperationRequest>,
    ) -> Result<Response<pb::CancelImportOperationResponse>, Status> {
        let identity = caller(&request)?.clone();
        let request_id = operation_request_id(&request.get_ref().name)?;
        let operation = self.store.cancel_operation(&identity.caller, request_id).await?;
        Ok(Response::new(pb::CancelImportOperationResponse { operation: Some(operation) }))
    }

    async fn create_act_batch(&self, request: Request<pb::CreateActBatchRequest>) -> Result<Response<pb::CreateActBatchResponse>, Status> {
        let identity = caller(&request)?.clone();
        let r = request.into_inner();
        let method = "ActivityService/CreateActBatch";
        let checks = require_writer(&identity).and_then(|()| require_request_id(&r.request_id));
        audited(&self.store, &identity, method, "actBatches", &r.request_id, checks).await?;
        let ctx = ImportContext { identity: &identity, method, request_id: &r.request_id, source_system: &r.source_system };
        let result = self.store.import(&ctx, futures::stream::iter([Ok(r.acts.into_iter().map(RowInput::Act).collect())])).await;
        let batch = audited(&self.store, &identity, method, "actBatches", &r.request_id, result).await?;
        Ok(Response::new(pb::CreateActBatchResponse { batch: Some(batch) }))
    }

    async fn get_act_batch(&self, request: Request<pb::GetActBatchRequest>) -> Result<Response<pb::GetActBatchResponse>, Status> {
        caller(&request)?;
        let batch = self.store.get_batch(&request.into_inner().name).await?;
        Ok(Response::new(pb::GetActBatchResponse { batch: Some(batch) }))
    }

    async fn list_act_batches(&self, request: Request<pb::ListActBatchesRequest>) -> Result<Response<pb::ListActBatchesResponse>, Status> {
        caller(&request)?;
        let r = request.into_inner();
        let size = page_size(DOMAIN, r.page_size)?;
        let (batches, next_page_token) = self.store.list_batches(size, &r.page_token).await?;
        Ok(Response::new(pb::ListActBatchesResponse { batches, next_page_token }))
    }

    async fn void_act(&self, request: Request<pb::VoidActRequest>) -> Result<Response<pb::VoidActResponse>, Status> {
        let identity = caller(&request)?.clone();
        let r = request.into_inner();
        let method = "ActivityService/VoidAct";
        let result = async {
            require_writer(&identity)?;
            if r.reason.trim().is_empty() {
                return Err(ActivityError::field("reason", "is required"));
            }
            self.store.void_act(&identity, method, &r.request_id, &r.name, r.reason.trim()).await
        }
        .await;
        let resp = audited(&self.store, &identity, method, &r.name, &r.request_id, result).await?;
        Ok(Response::new(resp))
    }

    async fn replace_act(&self, request: Request<pb::ReplaceActRequest>) -> Result<Response<pb::ReplaceActResponse>, Status> {
        let identity = caller(&request)?.clone();
        let r = request.into_inner();
        let method = "ActivityService/ReplaceAct";
        let result = async {
            require_writer(&identity)?;
            require_request_id(&r.request_id)?;
            if r.reason.trim().is_empty() {
                return Err(ActivityError::field("reason", "is required"));
            }
            let act = r.act.as_ref().ok_or_else(|| ActivityError::field("act", "is required"))?;
            let ctx = ImportContext { identity: &identity, method, request_id: &r.request_id, source_system: "replacement" };
            self.store.replace_act(&ctx, &r.name, act, r.reason.trim()).await
        }
        .await;
        let resp = audited(&self.store, &identity, method, &r.name, &r.request_id, result).await?;
        Ok(Response::new(resp))
    }

    async fn query_activity_metrics(
        &self,
        request: Request<pb::QueryActivityMetricsRequest>,
    ) -> Result<Response<pb::QueryActivityMetricsResponse>, Status> {
        let identity = caller(&request)?.clone();
        let r = request.into_inner();
        let mut v = filieris_runtime::error::Violations::new();
        let period = parse_period(&mut v, &r.period);
        let line = match pb::ActivityLine::try_from(r.line) {
            Ok(pb::ActivityLine::Unspecified) => Some(None),
            Ok(l) => Some(line_code(l)),
            Err(_) => {
                v.add("line", "unknown value");
                None
            }
        };
        let scope = v.check("scope", Scope::parse(&r.scope));
        let mut dims = Vec::new();
        for (i, d) in r.group_by.iter().enumerate() {
            match pb::MetricDimension::try_from(*d) {
                Ok(pb::MetricDimension::Line) => dims.push(Dim::Line),
                Ok(pb::MetricDimension::Scheme) => dims.push(Dim::Scheme),
                Ok(pb::MetricDimension::Mode) => dims.push(Dim::Mode),
                Ok(pb::MetricDimension::Region) => dims.push(Dim::Region),
                Ok(pb::MetricDimension::Structure) => dims.push(Dim::Structure),
                Ok(pb::MetricDimension::Month) => dims.push(Dim::Month),
                _ => v.add(format!("group_by[{i}]"), "unknown dimension"),
            }
        }
        dims.dedup();
        let (Some(period), Some(line), Some(scope)) = (period, line, scope) else {
            return Err(ActivityError::Invalid(v).into());
        };
        if !v.is_empty() {
            return Err(ActivityError::Invalid(v).into());
        }
        let filter = self.scoped(&identity, &scope, &r.period).await?;
        let cells = self.store.metrics(line, &period, &filter, &dims).await?;
        let ids: Vec<_> = cells.iter().filter_map(|c| c.structure_id).collect();
        let finess = self.store.finess_by_id(&ids).await?;
        let rows = cells
            .into_iter()
            .map(|c| pb::MetricRow {
                line: c.line.map(line_from_code).unwrap_or_default() as i32,
                scheme: c.scheme.map(scheme_from_code).unwrap_or_default() as i32,
                mode: c.mode.map(mode_from_code).unwrap_or_default() as i32,
                region: c.region.map(i32::from).unwrap_or_default(),
                finess: c.structure_id.and_then(|id| finess.get(&id).cloned()).unwrap_or_default(),
                month: c.month.map(|m| m.to_string()).unwrap_or_default(),
                acts: c.acts,
                amount_cents: c.amount_cents,
                patients: c.patients,
            })
            .collect();
        Ok(Response::new(pb::QueryActivityMetricsResponse { period: period.to_string(), scope: scope.name(), rows }))
    }

    async fn get_opening_rate(&self, request: Request<pb::GetOpeningRateRequest>) -> Result<Response<pb::GetOpeningRateResponse>, Status> {
        let identity = caller(&request)?.clone();
        let r = request.into_inner();
        let mut v = filieris_runtime::error::Violations::new();
        let period = parse_period(&mut v, &r.period);
        let line = pb::ActivityLine::try_from(r.line).ok().filter(|l| line_code(*l).is_some());
        if line.is_none() {
            v.add("line", "is required: GENERAL_MEDICINE, NURSING, DENTAL or SPECIALIST");
        }
        let scope = v.check("scope", Scope::parse(&r.scope));
        let (Some(period), Some(line), Some(scope)) = (period, line, scope) else {
            return Err(ActivityError::Invalid(v).into());
        };
        let filter = self.scoped(&identity, &scope, &r.period).await?;
        let code = line_code(line).unwrap_or_default();
        let (patients, acts) = self.store.opening_counts(code, &period, &filter).await?;
        let region = match scope {
            Scope::Region(r) => r as i32,
            _ => 0,
        };
        Ok(Response::new(pb::GetOpeningRateResponse {
            period: period.to_string(),
            scope: scope.name(),
            line: line as i32,
            patients: Some(patients.ratio()),
            acts: Some(acts.ratio()),
            region,
        }))
    }
}
