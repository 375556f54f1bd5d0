//! The gateway's edge in process: quotas (Redis and the local fallback),
//! `Idempotency-Key`, the audit and its admin endpoints, load shedding,
//! deadlines, read retries and metrics. A fake registry that can hold calls
//! stands in for the service; each gateway has a database of its own.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use filieris_gateway::{MIGRATOR, SCHEMA, create_api_key};
use filieris_proto::registry as pb;
use filieris_proto::registry::registry_service_client::RegistryServiceClient;
use filieris_proto::registry::registry_service_server::{RegistryService, RegistryServiceServer};
use filieris_runtime::identity::CallerKind;
use filieris_runtime::testing::TestDatabase;
use serde_json::{Value as Json, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Code, Request, Response, Status};

const KEY_HEX: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
const FINESS: &str = "590000017";
/// Quotas no test reaches.
const ROOMY: &str = "partner=1000:1000,staff=1000:1000,job=1000:1000,service=1000:1000";
/// Two calls, then (practically) no refill during a test.
const TIGHT: &str = "partner=0.01:2,staff=0.01:2,job=0.01:2,service=0.01:2";

/// A registry whose CreateStructure can be held until the test releases it.
#[derive(Clone)]
struct Fake {
    creates: Arc<AtomicUsize>,
    gets: Arc<AtomicUsize>,
    /// Permits for held creates; `None` lets them through.
    gate: Option<Arc<Semaphore>>,
    /// Signalled when a create arrives.
    arrived: Arc<Notify>,
    /// Metadata of the last GetStructure.
    last_get: Arc<std::sync::Mutex<Option<tonic::metadata::MetadataMap>>>,
}

impl Fake {
    fn new(held: bool) -> Self {
        Self {
            creates: Arc::default(),
            gets: Arc::default(),
            gate: held.then(|| Arc::new(Semaphore::new(0))),
            arrived: Arc::default(),
            last_get: Arc::default(),
        }
    }

    fn release(&self) {
        if let Some(gate) = &self.gate {
            gate.add_permits(1);
        }
    }
}

fn structure(name: String) -> pb::Structure {
    pb::Structure {
        name, finess: FINESS.to_owned(), display_name: "Centre de santé de Lens".to_owned(), revision: 1, ..Default::default()
    }
}

#[tonic::async_trait]
impl RegistryService for Fake {
    async fn get_structure(&self, req: Request<pb::GetStructureRequest>) -> Result<Response<pb::GetStructureResponse>, Status> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        *self.last_get.lock().unwrap_or_else(|p| p.into_inner()) = Some(req.metadata().clone());
        Ok(Response::new(pb::GetStructureResponse { structure: Some(structure(req.get_ref().name.clone())) }))
    }

    async fn create_structure(&self, _: Request<pb::CreateStructureRequest>) -> Result<Response<pb::CreateStructureResponse>, Status> {
        let n = self.creates.fetch_add(1, Ordering::SeqCst) + 1;
        self.arrived.notify_one();
        if let Some(gate) = &self.gate {
            gate.acquire().await.map_err(|_| Status::internal("gate closed"))?.forget();
        }
        // Each execution creates a new structure: a replay is recognisable.
        Ok(Response::new(pb::CreateStructureResponse { structure: Some(structure(format!("structures/{n}"))) }))
    }

    async fn list_structures(&self, _: Request<pb::ListStructuresRequest>) -> Result<Response<pb::ListStructuresResponse>, Status> {
        Err(Status::unimplemented("list_structures"))
    }

    async fn update_structure(&self, _: Request<pb::UpdateStructureRequest>) -> Result<Response<pb::UpdateStructureResponse>, Status> {
        Err(Status::unimplemented("update_structure"))
    }

    async fn close_structure(&self, _: Request<pb::CloseStructureRequest>) -> Result<Response<pb::CloseStructureResponse>, Status> {
        Err(Status::unimplemented("close_structure"))
    }

    async fn list_structure_revisions(
        &self,
        _: Request<pb::ListStructureRevisionsRequest>,
    ) -> Result<Response<pb::ListStructureRevisionsResponse>, Status> {
        Err(Status::unimplemented("list_structure_revisions"))
    }

    async fn export_structure_fhir(
        &self,
        _: Request<pb::ExportStructureFhirRequest>,
    ) -> Result<Response<pb::ExportStructureFhirResponse>, Status> {
        Err(Status::unimplemented("export_structure_fhir"))
    }

    async fn list_legal_entities(
        &self,
        _: Request<pb::ListLegalEntitiesRequest>,
    ) -> Result<Response<pb::ListLegalEntitiesResponse>, Status> {
        Err(Status::unimplemented("list_legal_entities"))
    }

    async fn get_legal_entity(&self, _: Request<pb::GetLegalEntityRequest>) -> Result<Response<pb::GetLegalEntityResponse>, Status> {
        Err(Status::unimplemented("get_legal_entity"))
    }

    async fn create_legal_entity(
        &self,
        _: Request<pb::CreateLegalEntityRequest>,
    ) -> Result<Response<pb::CreateLegalEntityResponse>, Status> {
        Err(Status::unimplemented("create_legal_entity"))
    }

    async fn list_structure_groups(
        &self,
        _: Request<pb::ListStructureGroupsRequest>,
    ) -> Result<Response<pb::ListStructureGroupsResponse>, Status> {
        Err(Status::unimplemented("list_structure_groups"))
    }

    async fn get_structure_group(
        &self,
        _: Request<pb::GetStructureGroupRequest>,
    ) -> Result<Response<pb::GetStructureGroupResponse>, Status> {
        Err(Status::unimplemented("get_structure_group"))
    }

    async fn create_structure_group(
        &self,
        _: Request<pb::CreateStructureGroupRequest>,
    ) -> Result<Response<pb::CreateStructureGroupResponse>, Status> {
        Err(Status::unimplemented("create_structure_group"))
    }

    async fn add_group_member(&self, _: Request<pb::AddGroupMemberRequest>) -> Result<Response<pb::AddGroupMemberResponse>, Status> {
        Err(Status::unimplemented("add_group_member"))
    }

    async fn remove_group_member(
        &self,
        _: Request<pb::RemoveGroupMemberRequest>,
    ) -> Result<Response<pb::RemoveGroupMemberResponse>, Status> {
        Err(Status::unimplemented("remove_group_member"))
    }

    async fn list_group_members(&self, _: Request<pb::ListGroupMembersRequest>) -> Result<Response<pb::ListGroupMembersResponse>, Status> {
        Err(Status::unimplemented("list_group_members"))
    }

    async fn list_changes(&self, _: Request<pb::ListChangesRequest>) -> Result<Response<pb::ListChangesResponse>, Status> {
        Err(Status::unimplemented("list_changes"))
    }
}

async fn start_fake(fake: Fake) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let service = RegistryServiceServer::new(fake);
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder().add_service(service).serve_with_incoming(TcpListenerStream::new(listener)).await;
    });
    addr
}

struct Gateway {
    base: String,
    pool: sqlx::PgPool,
    _stopper: common::Stopper,
}

impl Gateway {
    /// A key for a new caller of this test (callers are unique: Redis buckets outlive a test).
    async fn key(&self, caller: &str, kind: CallerKind, roles: &[&str]) -> String {
        create_api_key(&self.pool, caller, kind, roles, &["*"]).await.expect("key")
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}:t{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

async fn start_gateway(registry: SocketAddr, extra: &[(&str, &str)]) -> Gateway {
    let db = TestDatabase::create().await.expect("test database");
    let mut pairs: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.url.clone()),
        ("FILIERIS_INTERNAL_KEY".into(), KEY_HEX.into()),
        ("FILIERIS_REGISTRY_URL".into(), format!("http://{registry}")),
        ("FILIERIS_DB_MAX_CONNECTIONS".into(), "4".into()),
        ("FILIERIS_GATEWAY_QUOTAS".into(), ROOMY.into()),
    ];
    for (k, v) in extra {
        pairs.retain(|(name, _)| name != k);
        pairs.push(((*k).into(), (*v).into()));
    }
    let (base, stopper) = common::serve(pairs).await;
    let pool = filieris_runtime::db::connect(&db.url, SCHEMA, 2, &MIGRATOR).await.expect("pool");
    Gateway { base, pool, _stopper: stopper }
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

fn reason(body: &Json) -> &str {
    body["error"]["details"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"))
        .and_then(|i| i["reason"].as_str())
        .unwrap_or("")
}

async fn get_structure(gw: &Gateway, key: &str) -> reqwest::Response {
    http().get(gw.url(&format!("/v1/structures/{FINESS}"))).bearer_auth(key).send().await.expect("call")
}

fn create_body(display_name: &str) -> Json {
    json!({"finess": FINESS, "displayName": display_name})
}

async fn create(gw: &Gateway, key: &str, idem: Option<&str>, body: &Json) -> reqwest::Response {
    let mut req = http().post(gw.url("/v1/structures")).bearer_auth(key).json(body);
    if let Some(k) = idem {
        req = req.header("Idempotency-Key", k);
    }
    req.send().await.expect("call")
}

async fn metrics(gw: &Gateway) -> String {
    http().get(gw.url("/metrics")).send().await.expect("metrics").text().await.expect("text")
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok())).unwrap_or(0)
}

#[tokio::test]
async fn over_quota_is_429_with_retry_after_and_redis_shares_the_bucket() {
    let registry = start_fake(Fake::new(false)).await;
    // scripts/test.sh finds or starts a Redis and names it here.
    let redis = std::env::var("FILIERIS_TEST_REDIS_URL").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let quotas = [("FILIERIS_GATEWAY_QUOTAS", TIGHT), ("FILIERIS_REDIS_URL", redis.as_str())];
    let a = start_gateway(registry, &quotas).await;
    let b = start_gateway(registry, &quotas).await;
    let caller = unique("partner");
    let key_a = a.key(&caller, CallerKind::Partner, &["partner"]).await;
    let key_b = b.key(&caller, CallerKind::Partner, &["partner"]).await;

    // Burst of 2: one call on each replica, then the third (on either) is refused.
    assert_eq!(get_structure(&a, &key_a).await.status(), 200);
    assert_eq!(get_structure(&b, &key_b).await.status(), 200);
    let response = get_structure(&a, &key_a).await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!(retry_after >= 1, "{retry_after}");
    let body: Json = response.json().await.expect("json");
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(reason(&body), "QUOTA_EXCEEDED");
    let retry =
        body["error"]["details"].as_array().and_then(|d| d.iter().find(|d| d["@type"] == "type.googleapis.com/google.rpc.RetryInfo"));
    assert!(retry.is_some_and(|r| r["retryDelay"].is_string()), "{body}");
    assert_eq!(metric(&metrics(&a).await, "filieris_gateway_quota_fallback_total"), 0, "decided by Redis");

    // gRPC: RESOURCE_EXHAUSTED with RetryInfo.
    let mut client = RegistryServiceClient::connect(b.base.clone()).await.expect("connect");
    let mut req = Request::new(pb::GetStructureRequest { name: format!("structures/{FINESS}"), as_of_date: String::new() });
    req.metadata_mut().insert("authorization", format!("Bearer {key_b}").parse().expect("metadata"));
    let status = client.get_structure(req).await.expect_err("over quota");
    assert_eq!(status.code(), Code::ResourceExhausted);
    let details = tonic_types::StatusExt::get_error_details(&status);
    assert!(details.retry_info().and_then(|r| r.retry_delay).is_some(), "RetryInfo");
    assert_eq!(details.error_info().map(|i| i.reason.as_str()), Some("QUOTA_EXCEEDED"));

    // Another caller has its own bucket.
    let other = a.key(&unique("partner"), CallerKind::Partner, &["partner"]).await;
    assert_eq!(get_structure(&a, &other).await.status(), 200);
}

#[tokio::test]
async fn with_redis_unreachable_calls_succeed_and_the_local_bucket_applies() {
    let registry = start_fake(Fake::new(false)).await;
    // Nothing listens on port 1.
    let gw = start_gateway(registry, &[("FILIERIS_GATEWAY_QUOTAS", TIGHT), ("FILIERIS_REDIS_URL", "redis://127.0.0.1:1")]).await;
    let key = gw.key(&unique("partner"), CallerKind::Partner, &["partner"]).await;
    assert_eq!(get_structure(&gw, &key).await.status(), 200);
    assert_eq!(get_structure(&gw, &key).await.status(), 200);
    let response = get_structure(&gw, &key).await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(metric(&metrics(&gw).await, "filieris_gateway_quota_fallback_total"), 3);
}

#[tokio::test]
async fn idempotency_keys_replay_refuse_mismatches_and_serialise_concurrent_calls() {
    let fake = Fake::new(true);
    let registry = start_fake(fake.clone()).await;
    let gw = start_gateway(registry, &[]).await;
    let alice = gw.key(&unique("staff"), CallerKind::Staff, &["admin"]).await;
    let bob = gw.key(&unique("staff"), CallerKind::Staff, &["admin"]).await;
    let body = create_body("Centre A");

    // Concurrent: the first is held by the service, the second gets 409.
    let first = {
        let (base, alice, body) = (gw.base.clone(), alice.clone(), body.clone());
        tokio::spawn(async move {
            http().post(format!("{base}/v1/structures")).bearer_auth(alice).header("Idempotency-Key", "k-1").json(&body).send().await
        })
    };
    fake.arrived.notified().await;
    let second = create(&gw, &alice, Some("k-1"), &body).await;
    assert_eq!(second.status(), 409);
    let second: Json = second.json().await.expect("json");
    assert_eq!(reason(&second), "IDEMPOTENCY_KEY_IN_PROGRESS");
    fake.release();
    let first = first.await.expect("task").expect("call");
    assert_eq!(first.status(), 200);
    assert!(!first.headers().contains_key("idempotent-replayed"));
    let first: Json = first.json().await.expect("json");
    assert_eq!(first["name"], "structures/1");

    // Retry with the same payload: the original response, not a second create.
    let retry = create(&gw, &alice, Some("k-1"), &body).await;
    assert_eq!(retry.status(), 200);
    assert_eq!(retry.headers().get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    assert_eq!(retry.json::<Json>().await.expect("json"), first);
    assert_eq!(fake.creates.load(Ordering::SeqCst), 1);

    // Same key, different payload: 422.
    let mismatch = create(&gw, &alice, Some("k-1"), &create_body("Centre B")).await;
    assert_eq!(mismatch.status(), 422);
    assert_eq!(reason(&mismatch.json().await.expect("json")), "IDEMPOTENCY_KEY_REUSED");

    // Another caller with the same key: its own call.
    fake.release();
    let other = create(&gw, &bob, Some("k-1"), &body).await;
    assert_eq!(other.status(), 200);
    assert_eq!(other.json::<Json>().await.expect("json")["name"], "structures/2");

    // Without a key nothing is deduplicated.
    fake.release();
    assert_eq!(create(&gw, &alice, None, &body).await.status(), 200);
    assert_eq!(fake.creates.load(Ordering::SeqCst), 3);

    // An invalid key is refused before anything runs.
    let bad = create(&gw, &alice, Some("has space"), &body).await;
    assert_eq!(bad.status(), 400);
    assert_eq!(reason(&bad.json().await.expect("json")), "IDEMPOTENCY_KEY_INVALID");
}

#[tokio::test]
async fn a_key_whose_client_went_away_is_released() {
    let fake = Fake::new(true);
    let registry = start_fake(fake.clone()).await;
    let gw = start_gateway(registry, &[]).await;
    let caller = unique("staff");
    let key = gw.key(&caller, CallerKind::Staff, &["admin"]).await;
    let body = create_body("Centre D");
    let abandoned = {
        let (base, key, body) = (gw.base.clone(), key.clone(), body.clone());
        tokio::spawn(async move {
            http().post(format!("{base}/v1/structures")).bearer_auth(key).header("Idempotency-Key", "k-3").json(&body).send().await
        })
    };
    fake.arrived.notified().await;
    abandoned.abort();
    // The gateway notices the closed connection, drops the call and releases the key.
    let mut attempts = 0;
    loop {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM rest_idempotency WHERE caller = $1")
            .bind(&caller)
            .fetch_one(&gw.pool)
            .await
            .expect("count");
        if n == 0 {
            break;
        }
        attempts += 1;
        assert!(attempts < 500, "the abandoned key was never released");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    fake.release();
    fake.release();
    let retry = create(&gw, &key, Some("k-3"), &body).await;
    assert_eq!(retry.status(), 200, "the retry runs instead of waiting for the lease");
}

#[tokio::test]
async fn a_crashed_in_progress_key_is_taken_over_after_its_lease() {
    let fake = Fake::new(false);
    let registry = start_fake(fake.clone()).await;
    // A lease of zero: an unfinished entry is immediately presumed crashed.
    let gw = start_gateway(registry, &[("FILIERIS_GATEWAY_IDEMPOTENCY_LEASE_SECONDS", "0")]).await;
    let caller = unique("staff");
    let key = gw.key(&caller, CallerKind::Staff, &["admin"]).await;
    let body = create_body("Centre C");
    assert_eq!(create(&gw, &key, Some("k-2"), &body).await.status(), 200);
    // Pretend the gateway crashed after claiming the key: the entry is back to in progress.
    sqlx::query("UPDATE rest_idempotency SET state = 'in_progress', status = NULL, body = NULL WHERE caller = $1")
        .bind(&caller)
        .execute(&gw.pool)
        .await
        .expect("update");
    let retry = create(&gw, &key, Some("k-2"), &body).await;
    assert_eq!(retry.status(), 200);
    assert!(!retry.headers().contains_key("idempotent-replayed"), "run again, not replayed");
    assert_eq!(fake.creates.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn writes_and_refusals_are_audited_and_only_admins_read_the_audit() {
    let registry = start_fake(Fake::new(false)).await;
    let gw = start_gateway(registry, &[]).await;
    let admin_caller = unique("staff");
    let admin = gw.key(&admin_caller, CallerKind::Staff, &["admin"]).await;
    let partner_caller = unique("partner");
    let partner = gw.key(&partner_caller, CallerKind::Partner, &["partner"]).await;

    // A write, a read (not audited), a call without credentials, a refused audit read.
    let write = http().post(gw.url("/v1/structures")).bearer_auth(&admin).header("x-request-id", "req-write-1").json(&create_body("A"));
    assert_eq!(write.send().await.expect("call").status(), 200);
    assert_eq!(get_structure(&gw, &admin).await.status(), 200);
    assert_eq!(http().post(gw.url("/v1/structures")).json(&create_body("A")).send().await.expect("call").status(), 401);
    let denied = http().get(gw.url("/admin/audit")).bearer_auth(&partner).send().await.expect("call");
    assert_eq!(denied.status(), 403);
    assert_eq!(reason(&denied.json().await.expect("json")), "AUDIT_DENIED");

    // A gRPC write: its outcome comes from the trailers.
    let mut client = RegistryServiceClient::connect(gw.base.clone()).await.expect("connect");
    let mut req = Request::new(pb::CreateStructureRequest {
        structure: Some(structure(String::new())),
        request_id: "grpc-create-1".into(),
        validate_only: false,
    });
    req.metadata_mut().insert("authorization", format!("Bearer {admin}").parse().expect("metadata"));
    req.metadata_mut().insert("x-request-id", "req-grpc-1".parse().expect("metadata"));
    client.create_structure(req).await.expect("created");

    // The writer is asynchronous: wait for the four events.
    let mut attempts = 0;
    let events = loop {
        attempts += 1;
        assert!(attempts < 1000, "audit events never written");
        let page: Json = http().get(gw.url("/admin/audit")).bearer_auth(&admin).send().await.expect("call").json().await.expect("json");
        let events = page["events"].as_array().cloned().unwrap_or_default();
        // The admin's own audit queries are audited too; count the others.
        if events.iter().filter(|e| e["rpc"] != "gateway/QueryAudit" || e["caller"] == partner_caller.as_str()).count() >= 4 {
            break events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let find = |pred: &dyn Fn(&Json) -> bool| events.iter().find(|e| pred(e)).cloned().expect("event");
    let w = find(&|e| e["requestId"] == "req-write-1");
    assert_eq!(w["caller"], admin_caller.as_str());
    assert_eq!(w["callerKind"], "staff");
    assert_eq!(w["rpc"], "filieris.registry.v1.RegistryService/CreateStructure");
    assert_eq!(w["resource"], "/v1/structures");
    assert_eq!((w["httpStatus"].as_i64(), w["grpcCode"].as_str()), (Some(200), Some("OK")));
    let g = find(&|e| e["requestId"] == "req-grpc-1");
    assert_eq!((g["rpc"].as_str(), g["grpcCode"].as_str()), (Some("filieris.registry.v1.RegistryService/CreateStructure"), Some("OK")));
    assert_eq!(g["resource"], "/filieris.registry.v1.RegistryService/CreateStructure");
    let anonymous = find(&|e| e["httpStatus"] == 401);
    assert_eq!((anonymous["caller"].as_str(), anonymous["reason"].as_str()), (Some(""), Some("UNAUTHENTICATED")));
    let refused = find(&|e| e["caller"] == partner_caller.as_str());
    assert_eq!((refused["httpStatus"].as_i64(), refused["reason"].as_str()), (Some(403), Some("AUDIT_DENIED")));
    assert!(!events.iter().any(|e| e["rpc"] == "filieris.registry.v1.RegistryService/GetStructure"), "reads are not audited");

    // Filters and keyset pages.
    let page: Json = http()
        .get(gw.url(&format!("/admin/audit?caller={admin_caller}&rpc=filieris.registry.v1.RegistryService/CreateStructure&page_size=1")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("call")
        .json()
        .await
        .expect("json");
    assert_eq!(page["events"].as_array().map(Vec::len), Some(1));
    let token = page["nextPageToken"].as_str().expect("token").to_owned();
    let next: Json = http()
        .get(gw.url(&format!(
            "/admin/audit?caller={admin_caller}&rpc=filieris.registry.v1.RegistryService/CreateStructure&page_size=1&page_token={token}"
        )))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("call")
        .json()
        .await
        .expect("json");
    // Two creates (REST, then gRPC), newest first, one per page.
    assert_eq!(page["events"][0]["requestId"], "req-grpc-1");
    assert_eq!(next["events"].as_array().map(Vec::len), Some(1));
    assert_eq!(next["events"][0]["requestId"], "req-write-1");

    // CSV export.
    let csv = http().get(gw.url("/admin/audit.csv")).bearer_auth(&admin).send().await.expect("call");
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"].to_str().expect("ascii").starts_with("text/csv"));
    let csv = csv.text().await.expect("text");
    assert!(csv.starts_with("id,time,caller,caller_kind,rpc,resource,request_id,http_status,grpc_code,reason\n"), "{csv}");
    assert!(csv.contains("req-write-1"));

    // Append-only, enforced by the database.
    assert!(sqlx::query("UPDATE audit_event SET caller = 'x'").execute(&gw.pool).await.is_err());
    assert!(sqlx::query("DELETE FROM audit_event").execute(&gw.pool).await.is_err());
}

#[tokio::test]
async fn overload_is_shed_at_once_with_503() {
    let fake = Fake::new(true);
    let registry = start_fake(fake.clone()).await;
    let gw = start_gateway(registry, &[("FILIERIS_GATEWAY_MAX_CONCURRENCY", "1")]).await;
    let key = gw.key(&unique("staff"), CallerKind::Staff, &["admin"]).await;

    // One slow call holds the only slot.
    let slow = {
        let (base, key) = (gw.base.clone(), key.clone());
        tokio::spawn(async move { http().post(format!("{base}/v1/structures")).bearer_auth(key).json(&create_body("S")).send().await })
    };
    fake.arrived.notified().await;
    let shed = get_structure(&gw, &key).await;
    assert_eq!(shed.status(), 503);
    assert_eq!(shed.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    assert_eq!(reason(&shed.json().await.expect("json")), "OVERLOADED");
    assert_eq!(fake.gets.load(Ordering::SeqCst), 0, "the shed call never reached the service");

    // gRPC callers get UNAVAILABLE.
    let mut client = RegistryServiceClient::connect(gw.base.clone()).await.expect("connect");
    let mut req = Request::new(pb::GetStructureRequest { name: format!("structures/{FINESS}"), as_of_date: String::new() });
    req.metadata_mut().insert("authorization", format!("Bearer {key}").parse().expect("metadata"));
    assert_eq!(client.get_structure(req).await.expect_err("shed").code(), Code::Unavailable);

    // Health stays outside the limit; once the slow call ends, calls pass again.
    assert_eq!(http().get(gw.url("/healthz")).send().await.expect("health").status(), 200);
    fake.release();
    assert_eq!(slow.await.expect("task").expect("call").status(), 200);
    assert_eq!(get_structure(&gw, &key).await.status(), 200);

    let text = metrics(&gw).await;
    assert_eq!(metric(&text, "filieris_gateway_shed_total"), 2);
    assert_eq!(metric(&text, "filieris_gateway_in_flight"), 0);
    assert!(
        text.contains("filieris_gateway_requests_total{rpc=\"filieris.registry.v1.RegistryService/CreateStructure\",code=\"OK\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("filieris_gateway_request_duration_seconds_count{rpc=\"filieris.registry.v1.RegistryService/GetStructure\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn deadlines_are_capped_and_unreachable_reads_are_retried_once() {
    let fake = Fake::new(false);
    let registry = start_fake(fake.clone()).await;
    let gw = start_gateway(registry, &[("FILIERIS_GATEWAY_UPSTREAM_TIMEOUT_SECONDS", "7")]).await;
    let key = gw.key(&unique("staff"), CallerKind::Staff, &["admin"]).await;
    let deadline = || {
        let seen = fake.last_get.lock().unwrap_or_else(|p| p.into_inner()).clone().expect("a call");
        let value = seen.get("grpc-timeout").and_then(|v| v.to_str().ok()).expect("grpc-timeout").to_owned();
        filieris_gateway::edge::parse_grpc_timeout(&value).expect("valid")
    };

    // gRPC: the client's 90 s are capped at the gateway's 7 s; a shorter one is kept.
    let mut client = RegistryServiceClient::connect(gw.base.clone()).await.expect("connect");
    for (asked, most) in [(90u64, 7u64), (2, 2)] {
        let mut req = Request::new(pb::GetStructureRequest { name: format!("structures/{FINESS}"), as_of_date: String::new() });
        req.set_timeout(std::time::Duration::from_secs(asked));
        req.metadata_mut().insert("authorization", format!("Bearer {key}").parse().expect("metadata"));
        client.get_structure(req).await.expect("call");
        let seen = deadline();
        assert!(seen <= std::time::Duration::from_secs(most) && seen > std::time::Duration::from_secs(most) / 2, "{seen:?}");
    }
    // REST: the gateway's deadline.
    assert_eq!(get_structure(&gw, &key).await.status(), 200);
    assert!(deadline() <= std::time::Duration::from_secs(7));

    // A read whose service is unreachable is tried twice, then 503.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let nowhere = closed.local_addr().expect("addr");
    drop(closed);
    let down = start_gateway(nowhere, &[]).await;
    let key = down.key(&unique("staff"), CallerKind::Staff, &["admin"]).await;
    assert_eq!(get_structure(&down, &key).await.status(), 503);
    assert_eq!(metric(&metrics(&down).await, "filieris_gateway_upstream_retries_total"), 1);
    // A write is never retried.
    assert_eq!(create(&down, &key, None, &create_body("W")).await.status(), 503);
    assert_eq!(metric(&metrics(&down).await, "filieris_gateway_upstream_retries_total"), 1);
}
