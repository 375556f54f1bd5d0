//! gRPC adapter: parses requests into domain values, checks the caller's
//! right to write, calls storage, and maps errors once (`RegistryError` →
//! `google.rpc.Status`).

use chrono::NaiveDate;
use filieris_kernel::Period;
use filieris_kernel::date::parse_date;
use filieris_proto::registry as pb;
use filieris_proto::registry::registry_service_server::RegistryService;
use filieris_runtime::Identity;
use filieris_runtime::idempotency::IdempotencyKey;
use filieris_runtime::identity::caller;
use filieris_runtime::pagination::page_size;
use filieris_runtime::scope::Visibility;
use filieris_runtime::write::{self, Writers};
use prost::Message;
use tonic::{Request, Response, Status};

use crate::domain::filter::{Cmp, Term};
use crate::domain::validate::group_code;
use crate::domain::{Ref, STRUCTURES, filter, parse_ref};
use crate::error::{DOMAIN, RegistryError};
use crate::storage::{ListQuery, Store, WriteContext};

/// Who may write to the registry.
pub const WRITERS: Writers =
    Writers { roles: &["admin", "registry_editor"], denied_reason: "REGISTRY_WRITE_DENIED", holds: "the registry" };

/// The RegistryService implementation.
#[derive(Clone)]
pub struct RegistryApi {
    store: Store,
}

impl RegistryApi {
    /// Serves the given store.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Row-level scoping of one structure: a caller that does not see all
    /// structures must see this one (its region, itself, or, for an antenna,
    /// its parent establishment), else SCOPE_NOT_VISIBLE.
    async fn require_visible(
        &self,
        identity: &Identity,
        structure: &pb::Structure,
        as_of: NaiveDate,
        name: &str,
    ) -> Result<(), RegistryError> {
        let visibility = Visibility::of(identity);
        if visibility.is_all() {
            return Ok(());
        }
        let parent =
            if structure.parent.is_empty() { None } else { Some(self.store.get_structure(&structure.parent, as_of).await?.finess) };
        let region = filieris_proto::types::Region::try_from(structure.region).unwrap_or_default();
        if visibility.covers_structure(&structure.finess, parent.as_deref(), region) {
            Ok(())
        } else {
            Err(RegistryError::Api(visibility.denied(DOMAIN, identity, name)))
        }
    }
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

fn date_or_today(field: &str, value: &str) -> Result<NaiveDate, RegistryError> {
    if value.is_empty() {
        return Ok(today());
    }
    parse_date(value).map_err(|e| RegistryError::field(field, e.to_string()))
}

fn required_date(field: &str, value: &str) -> Result<NaiveDate, RegistryError> {
    if value.is_empty() {
        return Err(RegistryError::field(field, "is required (YYYY-MM-DD)"));
    }
    parse_date(value).map_err(|e| RegistryError::field(field, e.to_string()))
}

fn size(requested: i32) -> Result<u32, RegistryError> {
    Ok(page_size(DOMAIN, requested)?)
}

/// Runs a write RPC: role check, idempotency key, refusals audited
/// (`filieris_runtime::write::guarded`).
async fn write<Req, Resp, F, Fut>(
    api: &RegistryApi,
    request: Request<Req>,
    method: &'static str,
    resource: impl Fn(&Req) -> String,
    request_id: impl Fn(&mut Req) -> String,
    run: F,
) -> Result<Response<Resp>, Status>
where
    Req: Message + Clone,
    F: FnOnce(Req, Identity, Option<IdempotencyKey>, String) -> Fut,
    Fut: std::future::Future<Output = Result<Resp, RegistryError>>,
{
    write::guarded(api.store.pool(), DOMAIN, &WRITERS, request, method, resource, request_id, run).await
}

fn json_to_prost(v: serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match v {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Kind::StringValue(s),
        serde_json::Value::Array(a) => Kind::ListValue(prost_types::ListValue { values: a.into_iter().map(json_to_prost).collect() }),
        serde_json::Value::Object(o) => {
            Kind::StructValue(prost_types::Struct { fields: o.into_iter().map(|(k, v)| (k, json_to_prost(v))).collect() })
        }
    };
    prost_types::Value { kind: Some(kind) }
}

#[tonic::async_trait]
impl RegistryService for RegistryApi {
    async fn list_structures(&self, request: Request<pb::ListStructuresRequest>) -> Result<Response<pb::ListStructuresResponse>, Status> {
        let visibility = Visibility::of(caller(&request)?);
        let r = request.into_inner();
        let page_size = size(r.page_size)?;
        let mut parsed = filter::parse(&r.filter).map_err(|e| RegistryError::field("filter", e))?;
        // Row-level scoping: one more AND clause, so the count and the pages agree.
        if !visibility.is_all() {
            parsed.clauses.push(visible_clause(&visibility));
        }
        let as_of = date_or_today("as_of_date", &r.as_of_date)?;
        let page = self
            .store
            .list_structures(&ListQuery {
                filter: &parsed,
                filter_text: &r.filter,
                search: &r.search,
                as_of,
                group_window: None,
                page_size,
                page_token: &r.page_token,
            })
            .await?;
        Ok(Response::new(pb::ListStructuresResponse {
            structures: page.structures,
            next_page_token: page.next_page_token,
            total_size: page.total_size,
        }))
    }

    async fn get_structure(&self, request: Request<pb::GetStructureRequest>) -> Result<Response<pb::GetStructureResponse>, Status> {
        let identity = caller(&request)?.clone();
        let r = request.into_inner();
        let as_of = date_or_today("as_of_date", &r.as_of_date)?;
        let structure = self.store.get_structure(&r.name, as_of).await?;
        self.require_visible(&identity, &structure, as_of, &r.name).await?;
        Ok(Response::new(pb::GetStructureResponse { structure: Some(structure) }))
    }

    async fn create_structure(
        &self,
        request: Request<pb::CreateStructureRequest>,
    ) -> Result<Response<pb::CreateStructureResponse>, Status> {
        let store = self.store.clone();
        write(
            self,
            request,
            "RegistryService/CreateStructure",
            |r| r.structure.as_ref().map(|s| format!("{STRUCTURES}{}", s.finess)).unwrap_or_default(),
            |r| std::mem::take(&mut r.request_id),
            |r, identity, key, rid| async move {
                let structure = r.structure.ok_or_else(|| RegistryError::field("structure", "is required"))?;
                let ctx = WriteContext { identity: &identity, method: "RegistryService/CreateStructure", request_id: &rid };
                store.create_structure(&ctx, &structure, key.as_ref(), r.validate_only).await
            },
        )
        .await
    }

    async fn update_structure(
        &self,
        request: Request<pb::UpdateStructureRequest>,
    ) -> Result<Response<pb::UpdateStructureResponse>, Status> {
        let store = self.store.clone();
        write(
            self,
            request,
            "RegistryService/UpdateStructure",
            |r| r.structure.as_ref().map(|s| s.name.clone()).unwrap_or_default(),
            |r| std::mem::take(&mut r.request_id),
            |r, identity, key, rid| async move {
                let structure = r.structure.ok_or_else(|| RegistryError::field("structure", "is required"))?;
                if structure.name.is_empty() {
                    return Err(RegistryError::field("structure.name", "is required"));
                }
                let paths = r.update_mask.map(|m| m.paths).unwrap_or_default();
                let effective = date_or_today("effective_date", &r.effective_date)?;
                let ctx = WriteContext { identity: &identity, method: "RegistryService/UpdateStructure", request_id: &rid };
                store.update_structure(&ctx, &structure, &paths, effective, r.reason.trim(), key.as_ref()).await
            },
        )
        .await
    }

    async fn close_structure(&self, request: Request<pb::CloseStructureRequest>) -> Result<Response<pb::CloseStructureResponse>, Status> {
        let store = self.store.clone();
        write(
            self,
            request,
            "RegistryService/CloseStructure",
            |r| r.name.clone(),
            |r| std::mem::take(&mut r.request_id),
            |r, identity, key, rid| async move {
                let mut v = filieris_runtime::error::Violations::new();
                let close_date = v.check(
                    "close_date",
                    required_date("close_date", &r.close_date).map_err(|e| match e {
                        RegistryError::Invalid(_) => "must be a date YYYY-MM-DD".to_owned(),
                        other => other.to_string(),
                    }),
                );
                let closure = pb::ClosureType::try_from(r.closure_type).ok().filter(|c| *c != pb::ClosureType::Unspecified);
                if closure.is_none() {
                    v.add("closure_type", "is required: DEFINITIVE or TEMPORARY");
                }
                if r.reason.trim().is_empty() {
                    v.add("reason", "is required");
                }
                let successor = if r.successor.is_empty() {
                    None
                } else {
                    let s = parse_ref(STRUCTURES, &r.successor);
                    if s.is_none() {
                        v.add("successor", "must be structures/{id} or structures/{finess}");
                    }
                    s
                };
                let (Some(close_date), Some(closure)) = (close_date, closure) else { return Err(RegistryError::Invalid(v)) };
                if !v.is_empty() {
                    return Err(RegistryError::Invalid(v));
                }
                let ctx = WriteContext { identity: &identity, method: "RegistryService/CloseStructure", request_id: &rid };
                store.close_structure(&ctx, &r.name, close_date, closure, r.reason.trim(), successor.as_ref(), &r.etag, key.as_ref()).await
            },
        )
        .await
    }

    async fn list_structure_revisions(
        &self,
        request: Request<pb::ListStructureRevisionsRequest>,
    ) -> Result<Response<pb::ListStructureRevisionsResponse>, Status> {
        let identity = caller(&request)?.clone();
        let r = request.into_inner();
        if !Visibility::of(&identity).is_all() {
            let today = date_or_today("as_of_date", "")?;
            let structure = self.store.get_structure(&r.name, today).await?;
            self.require_visible(&identity, &structure, today, &r.name).await?;
        }
        let (revisions, next_page_token) = self.store.list_revisions(&r.name, size(r.page_size)?, &r.page_token).await?;
        Ok(Response::new(pb::ListStructureRevisionsResponse { revisions, next_page_token }))
    }

    async fn export_structure_fhir(
        &self,
        request: Request<pb::ExportStructureFhirRequest>,
    ) -> Result<Response<pb::ExportStructureFhirResponse>, Status> {
        let identity = caller(&request)?.clone();
        let r = request.into_inner();
        let as_of = date_or_today("as_of_date", &r.as_of_date)?;
        let structure = self.store.get_structure(&r.name, as_of).await?;
        self.require_visible(&identity, &structure, as_of, &r.name).await?;
        let legal_entity = match structure.legal_entity.as_str() {
            "" => None,
            name => Some(self.store.get_legal_entity(name).await?),
        };
        let parent = match structure.parent.as_str() {
            "" => None,
            name => Some(self.store.get_structure(name, as_of).await?),
        };
        let bundle = crate::fhir::structure_bundle(&structure, legal_entity.as_ref(), parent.as_ref());
        let fields = match json_to_prost(bundle).kind {
            Some(prost_types::value::Kind::StructValue(s)) => s,
            _ => prost_types::Struct::default(),
        };
        Ok(Response::new(pb::ExportStructureFhirResponse { bundle: Some(fields) }))
    }

    async fn list_legal_entities(
        &self,
        request: Request<pb::ListLegalEntitiesRequest>,
    ) -> Result<Response<pb::ListLegalEntitiesResponse>, Status> {
        caller(&request)?;
        let r = request.into_inner();
        let (legal_entities, next_page_token) = self.store.list_legal_entities(&r.search, size(r.page_size)?, &r.page_token).await?;
        Ok(Response::new(pb::ListLegalEntitiesResponse { legal_entities, next_page_token }))
    }

    async fn get_legal_entity(&self, request: Request<pb::GetLegalEntityRequest>) -> Result<Response<pb::GetLegalEntityResponse>, Status> {
        caller(&request)?;
        let r = request.into_inner();
        let legal_entity = self.store.get_legal_entity(&r.name).await?;
        Ok(Response::new(pb::GetLegalEntityResponse { legal_entity: Some(legal_entity) }))
    }

    async fn create_legal_entity(
        &self,
        request: Request<pb::CreateLegalEntityRequest>,
    ) -> Result<Response<pb::CreateLegalEntityResponse>, Status> {
        let store = self.store.clone();
        write(
            self,
            request,
            "RegistryService/CreateLegalEntity",
            |r| r.legal_entity.as_ref().map(|e| format!("legalEntities/{}", e.finess)).unwrap_or_default(),
            |r| std::mem::take(&mut r.request_id),
            |r, identity, key, rid| async move {
                let entity = r.legal_entity.ok_or_else(|| RegistryError::field("legal_entity", "is required"))?;
                let ctx = WriteContext { identity: &identity, method: "RegistryService/CreateLegalEntity", request_id: &rid };
                store.create_legal_entity(&ctx, &entity, key.as_ref()).await
            },
        )
        .await
    }

    async fn list_structure_groups(
        &self,
        request: Request<pb::ListStructureGroupsRequest>,
    ) -> Result<Response<pb::ListStructureGroupsResponse>, Status> {
        caller(&request)?;
        let r = request.into_inner();
        let (structure_groups, next_page_token) = self.store.list_groups(size(r.page_size)?, &r.page_token).await?;
        Ok(Response::new(pb::ListStructureGroupsResponse { structure_groups, next_page_token }))
    }

    async fn get_structure_group(
        &self,
        request: Request<pb::GetStructureGroupRequest>,
    ) -> Result<Response<pb::GetStructureGroupResponse>, Status> {
        caller(&request)?;
        let r = request.into_inner();
        let code = group_code(&r.name).ok_or_else(|| RegistryError::field("name", "must be structureGroups/{code}"))?;
        let group = self.store.get_group(code).await?;
        Ok(Response::new(pb::GetStructureGroupResponse { structure_group: Some(group) }))
    }

    async fn create_structure_group(
        &self,
        request: Request<pb::CreateStructureGroupRequest>,
    ) -> Result<Response<pb::CreateStructureGroupResponse>, Status> {
        let store = self.store.clone();
        write(
            self,
            request,
            "RegistryService/CreateStructureGroup",
            |r| r.structure_group.as_ref().map(|g| format!("structureGroups/{}", g.code)).unwrap_or_default(),
            |r| std::mem::take(&mut r.request_id),
            |r, identity, key, rid| async move {
                let group = r.structure_group.ok_or_else(|| RegistryError::field("structure_group", "is required"))?;
                let ctx = WriteContext { identity: &identity, method: "RegistryService/CreateStructureGroup", request_id: &rid };
                store.create_group(&ctx, &group, key.as_ref()).await
            },
        )
        .await
    }

    async fn add_group_member(&self, request: Request<pb::AddGroupMemberRequest>) -> Result<Response<pb::AddGroupMemberResponse>, Status> {
        let store = self.store.clone();
        write(
            self,
            request,
            "RegistryService/AddGroupMember",
            |r| r.group.clone(),
            |r| std::mem::take(&mut r.request_id),
            |r, identity, key, rid| async move {
                let code = group_code(&r.group).ok_or_else(|| RegistryError::field("group", "must be structureGroups/{code}"))?;
                let from = required_date("valid_from", &r.valid_from)?;
                let ctx = WriteContext { identity: &identity, method: "RegistryService/AddGroupMember", request_id: &rid };
                store.add_member(&ctx, code, &r.structure, from, key.as_ref()).await
            },
        )
        .await
    }

    async fn remove_group_member(
        &self,
        request: Request<pb::RemoveGroupMemberRequest>,
    ) -> Result<Response<pb::RemoveGroupMemberResponse>, Status> {
        let store = self.store.clone();
        write(
            self,
            request,
            "RegistryService/RemoveGroupMember",
            |r| r.group.clone(),
            |r| std::mem::take(&mut r.request_id),
            |r, identity, key, rid| async move {
                let code = group_code(&r.group).ok_or_else(|| RegistryError::field("group", "must be structureGroups/{code}"))?;
                let to = required_date("valid_to", &r.valid_to)?;
                let ctx = WriteContext { identity: &identity, method: "RegistryService/RemoveGroupMember", request_id: &rid };
                store.remove_member(&ctx, code, &r.structure, to, key.as_ref()).await
            },
        )
        .await
    }

    async fn list_group_members(
        &self,
        request: Request<pb::ListGroupMembersRequest>,
    ) -> Result<Response<pb::ListGroupMembersResponse>, Status> {
        caller(&request)?;
        let r = request.into_inner();
        let code = group_code(&r.group).ok_or_else(|| RegistryError::field("group", "must be structureGroups/{code}"))?;
        let (start, end) = match (r.period.is_empty(), r.as_of_date.is_empty()) {
            (false, false) => return Err(RegistryError::field("period", "give either period or as_of_date, not both").into()),
            (false, true) => {
                let p = Period::parse(&r.period).map_err(|e| RegistryError::field("period", e.to_string()))?;
                (p.start(), p.end())
            }
            _ => {
                let d = date_or_today("as_of_date", &r.as_of_date)?;
                (d, d)
            }
        };
        let page = self.store.group_members(code, start, end, size(r.page_size)?, &r.page_token).await?;
        Ok(Response::new(pb::ListGroupMembersResponse {
            structures: page.structures,
            next_page_token: page.next_page_token,
            total_size: page.total_size,
        }))
    }

    async fn list_changes(&self, request: Request<pb::ListChangesRequest>) -> Result<Response<pb::ListChangesResponse>, Status> {
        caller(&request)?;
        let r = request.into_inner();
        let limit = size(r.page_size)?;
        let fp = filieris_runtime::pagination::fingerprint(&["changes"]);
        let after: i64 = filieris_runtime::pagination::decode_token(DOMAIN, &fp, &r.page_token).map_err(RegistryError::from)?.unwrap_or(0);
        let changes = self.store.changes(after, limit).await?;
        let last = changes.last().map(|c| c.sequence).unwrap_or(after);
        let next_page_token = filieris_runtime::pagination::encode_token(&fp, &last);
        Ok(Response::new(pb::ListChangesResponse { changes, next_page_token }))
    }
}

/// The structures a limited caller sees, as one filter clause: its regions,
/// its structures and their antennas (an empty clause matches nothing).
fn visible_clause(visibility: &Visibility) -> Vec<Cmp> {
    let mut clause: Vec<Cmp> = visibility.regions().iter().map(|r| Cmp { term: Term::Region(*r), negated: false }).collect();
    for f in visibility.structures() {
        clause.push(Cmp { term: Term::Finess(f.clone()), negated: false });
        clause.push(Cmp { term: Term::Parent(Ref::Finess(f.clone())), negated: false });
    }
    clause
}
