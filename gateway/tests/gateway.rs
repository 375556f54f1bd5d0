//! The gateway in process, against a fake registry (a tonic server built on
//! the generated trait) and a real PostgreSQL database of its own.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use filieris_gateway::{MIGRATOR, SCHEMA, create_api_key};
use filieris_proto::registry as pb;
use filieris_proto::registry::registry_service_client::RegistryServiceClient;
use filieris_proto::registry::registry_service_server::{RegistryService, RegistryServiceServer};
use filieris_runtime::config::InternalKey;
use filieris_runtime::error::Violations;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::testing::TestDatabase;
use prost::Message;
use serde_json::Value as Json;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::metadata::MetadataMap;
use tonic::{Code, Request, Response, Status};

const KEY_HEX: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
const VALID_FINESS: &str = "590000017";

fn internal_key() -> InternalKey {
    InternalKey::from_hex(KEY_HEX).expect("key")
}

/// What the fake registry saw of each call.
#[derive(Debug, Clone)]
struct Seen {
    method: &'static str,
    metadata: MetadataMap,
    name: String,
    request_id: String,
}

#[derive(Clone, Default)]
struct FakeRegistry {
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeRegistry {
    fn record(&self, method: &'static str, metadata: &MetadataMap, name: &str, request_id: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.push(Seen { method, metadata: metadata.clone(), name: name.to_owned(), request_id: request_id.to_owned() });
    }

    fn last(&self, method: &str) -> Seen {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter().rev().find(|s| s.method == method).cloned().expect("the upstream saw the call")
    }
}

fn structure(name: &str) -> pb::Structure {
    pb::Structure {
        name: name.to_owned(),
        finess: VALID_FINESS.to_owned(),
        display_name: "Centre de santé de Lens".to_owned(),
        revision: 3,
        ..Default::default()
    }
}

#[tonic::async_trait]
impl RegistryService for FakeRegistry {
    async fn get_structure(&self, req: Request<pb::GetStructureRequest>) -> Result<Response<pb::GetStructureResponse>, Status> {
        self.record("GetStructure", req.metadata(), &req.get_ref().name, "");
        if req.get_ref().name == "structures/404" {
            return Err(Status::not_found("no such structure"));
        }
        Ok(Response::new(pb::GetStructureResponse { structure: Some(structure(&req.get_ref().name)) }))
    }

    async fn create_structure(&self, req: Request<pb::CreateStructureRequest>) -> Result<Response<pb::CreateStructureResponse>, Status> {
        let finess = req.get_ref().structure.as_ref().map(|s| s.finess.clone()).unwrap_or_default();
        self.record("CreateStructure", req.metadata(), &finess, &req.get_ref().request_id);
        if finess != VALID_FINESS {
            let mut v = Violations::new();
            v.add("structure.finess", "FINESS check digit is wrong");
            let err = v.into_result("registry.filieris").expect_err("violations");
            return Err(err.into());
        }
        Ok(Response::new(pb::CreateStructureResponse { structure: Some(structure("structures/1")) }))
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

/// Starts the fake registry (gRPC and gRPC-Web) on a free port.
async fn start_fake() -> (FakeRegistry, SocketAddr) {
    let fake = FakeRegistry::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let service = RegistryServiceServer::new(fake.clone());
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .accept_http1(true)
            .layer(tonic_web::GrpcWebLayer::new())
            .add_service(service)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await;
    });
    (fake, addr)
}

struct Running {
    base: String,
    pool: sqlx::PgPool,
    stopper: common::Stopper,
}

/// Starts the gateway with [`filieris_gateway::serve`] on a free port over a
/// fresh database, routing the registry to `registry_url`.
async fn start_gateway(registry_url: &str, dev_key: Option<&str>) -> Running {
    let db = TestDatabase::create().await.expect("test database");
    let mut pairs = vec![
        ("DATABASE_URL".to_owned(), db.url.clone()),
        ("FILIERIS_INTERNAL_KEY".to_owned(), KEY_HEX.to_owned()),
        ("FILIERIS_REGISTRY_URL".to_owned(), registry_url.to_owned()),
        ("FILIERIS_DB_MAX_CONNECTIONS".to_owned(), "3".to_owned()),
    ];
    if let Some(k) = dev_key {
        pairs.push(("FILIERIS_DEV_API_KEY".to_owned(), k.to_owned()));
    }
    let (base, stopper) = common::serve(pairs).await;
    let pool = filieris_runtime::db::connect(&db.url, SCHEMA, 2, &MIGRATOR).await.expect("pool");
    Running { base, pool, stopper }
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn json_of(response: reqwest::Response) -> Json {
    response.json().await.expect("JSON body")
}

fn error_info(body: &Json) -> &Json {
    body["error"]["details"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"))
        .expect("ErrorInfo detail")
}

#[tokio::test]
async fn rest_calls_are_authenticated_transcoded_and_signed() {
    let (fake, upstream) = start_fake().await;
    let gw = start_gateway(&format!("http://{upstream}"), None).await;
    let key = create_api_key(&gw.pool, "partner:cdc", CallerKind::Partner, &["partner"], &["*"]).await.expect("key");
    assert!(key.starts_with("fk_") && key.len() == 3 + 64, "{key}");
    let url = format!("{}/v1/structures/{VALID_FINESS}", gw.base);

    // Health needs no credentials.
    let health = http().get(format!("{}/healthz", gw.base)).send().await.expect("healthz");
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    assert_eq!(http().get(format!("{}/readyz", gw.base)).send().await.expect("readyz").status(), 200);

    // No credentials: 401 with a google.rpc.Status body, and nothing reaches the service.
    let response = http().get(&url).send().await.expect("call");
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("x-request-id"));
    let body = json_of(response).await;
    assert_eq!(body["error"]["code"], 401);
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(error_info(&body)["reason"], "UNAUTHENTICATED");
    assert!(fake.seen.lock().map(|s| s.is_empty()).unwrap_or(false));

    // An unknown key: 401 API_KEY_UNKNOWN.
    let response = http().get(&url).bearer_auth("fk_nope").send().await.expect("call");
    assert_eq!(response.status(), 401);
    assert_eq!(error_info(&json_of(response).await)["reason"], "API_KEY_UNKNOWN");

    // A valid key: 200 with the structure (response_body), lowerCamelCase, int64 as string.
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let response = http()
        .get(format!("{url}?as_of_date=2024-01-01"))
        .bearer_auth(&key)
        .header("x-request-id", "client-req-1")
        .header("x-filieris-roles", "admin")
        .header("x-filieris-identity-sig", "00")
        .header("traceparent", traceparent)
        .send()
        .await
        .expect("call");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("client-req-1"));
    let body = json_of(response).await;
    assert_eq!(
        body,
        serde_json::json!({
            "name": format!("structures/{VALID_FINESS}"),
            "finess": VALID_FINESS,
            "displayName": "Centre de santé de Lens",
            "revision": "3",
        })
    );

    // The service saw the signed identity of the key, not the forged headers.
    let seen = fake.last("GetStructure");
    assert_eq!(seen.name, format!("structures/{VALID_FINESS}"));
    let identity = Identity::from_metadata(&seen.metadata, &internal_key()).expect("signed identity");
    assert_eq!(
        identity,
        Identity { caller: "partner:cdc".into(), kind: CallerKind::Partner, roles: vec!["partner".into()], scopes: vec!["*".into()] }
    );
    let header = |name: &str| seen.metadata.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(header("x-request-id").as_deref(), Some("client-req-1"));
    assert_eq!(header("traceparent").as_deref(), Some(traceparent));
    assert!(header("grpc-timeout").is_some(), "a deadline is set");
    assert!(header("authorization").is_none(), "credentials stop at the gateway");

    // A bad client request id is replaced by a generated one, echoed back.
    let response = http().get(&url).header("x-api-key", &key).header("x-request-id", "bad id!").send().await.expect("call");
    let echoed = response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned).expect("id");
    assert_ne!(echoed, "bad id!");
    assert_eq!(fake.last("GetStructure").metadata.get("x-request-id").and_then(|v| v.to_str().ok()), Some(echoed.as_str()));

    // Upstream errors keep their code: NOT_FOUND → 404.
    let response = http().get(format!("{}/v1/structures/404", gw.base)).bearer_auth(&key).send().await.expect("call");
    assert_eq!(response.status(), 404);
    assert_eq!(json_of(response).await["error"]["status"], "NOT_FOUND");
}

#[tokio::test]
async fn invalid_input_is_a_400_with_field_violations() {
    let (fake, upstream) = start_fake().await;
    let gw = start_gateway(&format!("http://{upstream}"), None).await;
    let key = create_api_key(&gw.pool, "staff:alice", CallerKind::Staff, &["registry-writer"], &["region:NORD"]).await.expect("key");

    let response = http()
        .post(format!("{}/v1/structures", gw.base))
        .bearer_auth(&key)
        .header("Idempotency-Key", "idem-1")
        .json(&serde_json::json!({"finess": "590000018", "displayName": "X"}))
        .send()
        .await
        .expect("call");
    assert_eq!(response.status(), 400);
    let body = json_of(response).await;
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(error_info(&body)["domain"], "registry.filieris");
    let bad = body["error"]["details"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest"))
        .expect("BadRequest detail");
    assert_eq!(bad["fieldViolations"][0]["field"], "structure.finess");
    assert_eq!(bad["fieldViolations"][0]["description"], "FINESS check digit is wrong");
    let seen = fake.last("CreateStructure");
    assert_eq!(seen.request_id, "idem-1", "Idempotency-Key fills request_id");
    let identity = Identity::from_metadata(&seen.metadata, &internal_key()).expect("identity");
    assert_eq!(identity.scopes, vec!["region:NORD".to_owned()]);

    // The gateway refuses unknown JSON fields and query parameters itself.
    let response = http()
        .post(format!("{}/v1/structures", gw.base))
        .bearer_auth(&key)
        .json(&serde_json::json!({"finess": VALID_FINESS, "colour": "red"}))
        .send()
        .await
        .expect("call");
    assert_eq!(response.status(), 400);
    assert!(json_of(response).await["error"]["message"].as_str().is_some_and(|m| m.contains("colour")));
    let response = http().get(format!("{}/v1/structures/1?colour=red", gw.base)).bearer_auth(&key).send().await.expect("call");
    assert_eq!(response.status(), 400);
    assert_eq!(error_info(&json_of(response).await)["reason"], "UNKNOWN_QUERY_PARAMETER");

    // Unknown route → 404, wrong method → 405, both JSON.
    let response = http().get(format!("{}/v1/nothing", gw.base)).bearer_auth(&key).send().await.expect("call");
    assert_eq!(response.status(), 404);
    assert_eq!(error_info(&json_of(response).await)["reason"], "ROUTE_NOT_FOUND");
    let response = http().delete(format!("{}/v1/structures", gw.base)).bearer_auth(&key).send().await.expect("call");
    assert_eq!(response.status(), 405);
    assert!(response.headers().get("allow").and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("GET")));
    assert_eq!(error_info(&json_of(response).await)["reason"], "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn openapi_is_public_and_describes_the_routes() {
    let (_fake, upstream) = start_fake().await;
    let gw = start_gateway(&format!("http://{upstream}"), None).await;
    let response = http().get(format!("{}/openapi.json", gw.base)).send().await.expect("call");
    assert_eq!(response.status(), 200);
    let doc = json_of(response).await;
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["paths"]["/v1/structures"]["get"].is_object());
    assert_eq!(doc["components"]["schemas"]["Structure"]["properties"]["finess"]["type"], "string");
}

#[tokio::test]
async fn grpc_and_grpc_web_are_forwarded_with_the_identity() {
    let (fake, upstream) = start_fake().await;
    let dev_key = "dev-key-0123456789abcdef";
    let gw = start_gateway(&format!("http://{upstream}"), Some(dev_key)).await;

    // The gateway's own health answers without credentials.
    let channel = tonic::transport::Endpoint::from_shared(gw.base.clone()).expect("url").connect().await.expect("connect");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await.expect("health");
    assert_eq!(status.into_inner().status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);

    let mut client = RegistryServiceClient::connect(gw.base.clone()).await.expect("connect");
    let get = || pb::GetStructureRequest { name: format!("structures/{VALID_FINESS}"), as_of_date: String::new() };
    let status = client.get_structure(get()).await.expect_err("no credentials");
    assert_eq!(status.code(), Code::Unauthenticated);

    let mut req = Request::new(get());
    req.metadata_mut().insert("authorization", format!("Bearer {dev_key}").parse().expect("metadata"));
    req.metadata_mut().insert("x-filieris-caller", "partner:forged".parse().expect("metadata"));
    let response = client.get_structure(req).await.expect("forwarded");
    assert_eq!(response.into_inner().structure.map(|s| s.finess), Some(VALID_FINESS.to_owned()));
    let seen = fake.last("GetStructure");
    let identity = Identity::from_metadata(&seen.metadata, &internal_key()).expect("identity");
    assert_eq!(identity.caller, filieris_gateway::DEV_CALLER);
    assert!(identity.has_role("admin"));

    // Upstream error statuses and their details come back unchanged.
    let mut req = Request::new(pb::CreateStructureRequest {
        structure: Some(pb::Structure { finess: "590000018".into(), ..Default::default() }),
        request_id: String::new(),
        validate_only: false,
    });
    req.metadata_mut().insert("x-api-key", dev_key.parse().expect("metadata"));
    let status = client.create_structure(req).await.expect_err("invalid");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(!status.details().is_empty(), "details travel in the trailers");

    // gRPC-Web over HTTP/1.1, forwarded as-is.
    let message = get().encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(message.len()).expect("length").to_be_bytes());
    frame.extend_from_slice(&message);
    let response = http()
        .post(format!("{}/filieris.registry.v1.RegistryService/GetStructure", gw.base))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .bearer_auth(dev_key)
        .body(frame)
        .send()
        .await
        .expect("grpc-web");
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.expect("body");
    assert_eq!(bytes.first(), Some(&0u8), "first frame is a message");
    let len = u32::from_be_bytes(bytes[1..5].try_into().expect("length")) as usize;
    let decoded = pb::GetStructureResponse::decode(&bytes[5..5 + len]).expect("message");
    assert_eq!(decoded.structure.map(|s| s.finess), Some(VALID_FINESS.to_owned()));
    let trailers = String::from_utf8_lossy(&bytes[5 + len..]);
    assert!(trailers.contains("grpc-status:0"), "{trailers}");

    // A package no service owns: UNIMPLEMENTED.
    let response = http()
        .post(format!("{}/filieris.nothing.v1.NothingService/Do", gw.base))
        .header("content-type", "application/grpc-web+proto")
        .bearer_auth(dev_key)
        .body(vec![0u8, 0, 0, 0, 0])
        .send()
        .await
        .expect("grpc-web");
    assert_eq!(response.headers().get("grpc-status").and_then(|v| v.to_str().ok()), Some("12"));
}

#[tokio::test]
async fn an_unreachable_service_is_a_503() {
    // Bind then drop a listener: nothing answers on that port.
    let port = TcpListener::bind("127.0.0.1:0").await.expect("bind").local_addr().expect("addr").port();
    let dev_key = "dev-key-0123456789abcdef";
    let gw = start_gateway(&format!("http://127.0.0.1:{port}"), Some(dev_key)).await;
    let response = http().get(format!("{}/v1/structures/{VALID_FINESS}", gw.base)).bearer_auth(dev_key).send().await.expect("call");
    assert_eq!(response.status(), 503);
    let body = json_of(response).await;
    assert_eq!(body["error"]["status"], "UNAVAILABLE");
    assert_eq!(error_info(&body)["reason"], "UPSTREAM_UNAVAILABLE");

    let mut client = RegistryServiceClient::connect(gw.base.clone()).await.expect("connect");
    let mut req = Request::new(pb::GetStructureRequest { name: "structures/1".into(), as_of_date: String::new() });
    req.metadata_mut().insert("authorization", format!("Bearer {dev_key}").parse().expect("metadata"));
    assert_eq!(client.get_structure(req).await.expect_err("unavailable").code(), Code::Unavailable);
}

#[tokio::test]
async fn revoked_keys_stop_working_after_the_cache() {
    let (_fake, upstream) = start_fake().await;
    let gw = start_gateway(&format!("http://{upstream}"), None).await;
    let key = create_api_key(&gw.pool, "job:report", CallerKind::Job, &["reader"], &["*"]).await.expect("key");
    let store = filieris_gateway::keys::KeyStore::new(gw.pool.clone(), std::time::Duration::ZERO);
    assert_eq!(store.identify(&key).await.map(|i| i.caller).ok().as_deref(), Some("job:report"));
    assert!(filieris_gateway::keys::revoke_api_key(&gw.pool, &key).await.expect("revoke"));
    let err = store.identify(&key).await.expect_err("revoked");
    assert_eq!(err.reason, "API_KEY_UNKNOWN");
    assert!(create_api_key(&gw.pool, "partner:cdc", CallerKind::Staff, &[], &[]).await.is_err(), "kind must match the caller");

    // Graceful shutdown: the server returns once asked to stop.
    assert!(gw.stopper.stop().await.is_ok());
}
