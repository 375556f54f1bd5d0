//! The authorisation policy, walked whole.
//!
//! 1. Every RPC of every Filieris service in the descriptor set has a policy
//!    entry, and every entry names a real RPC: a new RPC without one fails here.
//! 2. The decision for every RPC × every role is rendered into
//!    `tests/policy_matrix.txt` (one line per RPC: its group and the roles
//!    allowed), the table a reviewer reads; the test fails when the policy
//!    and the committed table disagree. After an intended policy change:
//!    `UPDATE_POLICY_MATRIX=1 cargo test -p filieris-gateway --test policy`
//!    and review the diff.
//! 3. Every RPC × every role is then called through a real gateway (gRPC,
//!    development-issuer tokens, a fake upstream answering OK for every
//!    service): allowed calls reach the upstream, denied ones get
//!    PERMISSION_DENIED and never reach it. REST and gRPC-Web samples get the
//!    same answers as gRPC.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use bytes::Bytes;
use filieris_gateway::auth::dev_issuer::DevIssuer;
use filieris_gateway::policy::{DENIED, Policy, RpcName, SCOPE_MISSING, ScopeRule};
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::testing::TestDatabase;
use http_body_util::StreamBody;
use hyper::body::Frame;
use ring::signature::Ed25519KeyPair;
use serde_json::json;
use tokio::net::TcpListener;

const KEY_HEX: &str = "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b";
const MATRIX: &str = "tests/policy_matrix.txt";
const CENTRE: &str = "620000018";

/// Every `filieris.*` RPC of the descriptor set.
fn all_rpcs() -> Vec<String> {
    let pool = filieris_gateway::descriptors::pool().expect("descriptors");
    let mut rpcs: Vec<String> = pool
        .services()
        .filter(|s| s.full_name().starts_with("filieris."))
        .flat_map(|s| {
            let service = s.full_name().to_owned();
            s.methods().map(|m| format!("{service}/{}", m.name())).collect::<Vec<_>>()
        })
        .collect();
    rpcs.sort();
    rpcs
}

/// The caller a role is tested as: its first kind, and the scopes its scope
/// rule reads (a structure manager of one centre, a NORD controller).
fn caller_of(role: &filieris_gateway::policy::Role) -> Identity {
    let kind = role.kinds().first().copied().unwrap_or(CallerKind::Staff);
    let scopes = match &role.scopes {
        ScopeRule::Own("structure:") => vec![format!("structure:{CENTRE}")],
        ScopeRule::Own(_) => vec!["region:NORD".to_owned()],
        ScopeRule::Any => vec!["*".to_owned()],
        ScopeRule::Fixed(_) => vec![],
    };
    Identity { caller: format!("{}:policy-test-{}", kind.as_str(), role.name), kind, roles: vec![role.name.clone()], scopes }
}

fn policy() -> Policy {
    Policy::shipped().expect("the shipped policy parses")
}

#[test]
fn every_rpc_has_a_policy_entry_and_every_entry_an_rpc() {
    let policy = policy();
    let rpcs = all_rpcs();
    assert!(rpcs.len() > 100, "the descriptor set lists the services ({} RPCs)", rpcs.len());
    let missing: Vec<&String> = rpcs.iter().filter(|r| policy.group_of(r).is_none()).collect();
    assert!(missing.is_empty(), "RPCs without a policy entry (add them to a group in gateway/policy.toml): {missing:#?}");
    let stale: Vec<&str> = policy.listed().map(|(rpc, _)| rpc).filter(|rpc| !rpcs.iter().any(|r| r == rpc)).collect();
    assert!(stale.is_empty(), "policy entries naming no RPC: {stale:#?}");
}

/// One line per RPC: `<rpc> [<group>]: <roles allowed>`.
fn render_matrix(policy: &Policy) -> String {
    let mut out = String::from(
        "# Who may call what: every RPC, its policy group, and the roles the policy allows.\n\
         # Generated from gateway/policy.toml by gateway/tests/policy.rs (UPDATE_POLICY_MATRIX=1); review its diff.\n\
         # Each role is tested as its first caller kind; structure_manager with one structure: scope, regional_controller with region:NORD.\n",
    );
    for rpc in all_rpcs() {
        let group = policy.group_of(&rpc).unwrap_or("UNLISTED");
        let allowed: Vec<&str> = policy
            .roles()
            .filter(|role| policy.decide(&caller_of(role), &RpcName(rpc.clone())).is_ok())
            .map(|role| role.name.as_str())
            .collect();
        let allowed = if allowed.is_empty() { "nobody".to_owned() } else { allowed.join(", ") };
        out.push_str(&format!("{rpc} [{group}]: {allowed}\n"));
    }
    out
}

#[test]
fn the_policy_matches_the_reviewed_matrix() {
    let rendered = render_matrix(&policy());
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(MATRIX);
    if std::env::var("UPDATE_POLICY_MATRIX").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &rendered).expect("write the matrix");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != rendered {
        let diff: Vec<String> = rendered
            .lines()
            .filter(|l| !committed.lines().any(|c| c == *l))
            .map(|l| format!("+ {l}"))
            .chain(committed.lines().filter(|c| !rendered.lines().any(|l| l == *c)).map(|l| format!("- {l}")))
            .collect();
        panic!("the policy differs from {MATRIX} (rerun with UPDATE_POLICY_MATRIX=1 and review):\n{}", diff.join("\n"));
    }
}

/// The requirements, written out independently of the policy file.
#[test]
fn required_decisions() {
    let policy = policy();
    let role = |name: &str| policy.roles().find(|r| r.name == name).map(caller_of).expect("role");
    let allowed = |who: &Identity, rpc: &str| policy.decide(who, &RpcName(rpc.into())).is_ok();
    let rpcs = all_rpcs();
    let of = |prefix: &'static str| rpcs.iter().filter(move |r| r.starts_with(prefix));

    // A CDC partner: nothing of HR, no CNAM claims or fraud cases; its mandate's data yes.
    let cdc = role("partner_cdc");
    for rpc in of("filieris.hr.") {
        assert!(!allowed(&cdc, rpc), "partner_cdc must not call {rpc}");
    }
    for m in ["CreateClaim", "AnswerClaim", "GetClaim", "ListClaims", "ListFraudCases"] {
        assert!(!allowed(&cdc, &format!("filieris.missions.v1.MissionsService/{m}")), "partner_cdc must not call {m}");
        assert!(allowed(&role("partner_cnam"), &format!("filieris.missions.v1.MissionsService/{m}")), "partner_cnam calls {m}");
    }
    assert!(allowed(&cdc, "filieris.missions.v1.MissionsService/ListMandates"));
    // No partner touches activity, finance, HR or steering.
    for partner in ["partner_cnam", "partner_cdc", "partner_angdm"] {
        let who = role(partner);
        for prefix in ["filieris.activity.", "filieris.finance.", "filieris.hr.", "filieris.steering."] {
            for rpc in of(prefix) {
                assert!(!allowed(&who, rpc), "{partner} must not call {rpc}");
            }
        }
    }
    // Personal HR rows: HR and admin only among the staff roles.
    for staff in ["head_office", "regional_controller", "structure_manager", "finance", "reporting"] {
        assert!(!allowed(&role(staff), "filieris.hr.v1.HrService/ListPeople"), "{staff} must not list people");
    }
    assert!(allowed(&role("hr"), "filieris.hr.v1.HrService/ListPeople"));
    // Structure managers and regional controllers read, never write.
    for reader in ["structure_manager", "regional_controller"] {
        let who = role(reader);
        assert!(allowed(&who, "filieris.activity.v1.ActivityService/QueryActivityMetrics"));
        assert!(allowed(&who, "filieris.finance.v1.FinanceResultsService/QueryResults"));
        assert!(!allowed(&who, "filieris.registry.v1.RegistryService/CreateStructure"));
        assert!(!allowed(&who, "filieris.finance.v1.BudgetService/RecordSpending"));
    }
    // The reporting job reads for the report and computes the indicators.
    assert!(allowed(&role("reporting"), "filieris.steering.v1.SteeringService/ComputeIndicators"));
    assert!(!allowed(&role("reporting"), "filieris.registry.v1.RegistryService/UpdateStructure"));
    // Admin: everything listed.
    for rpc in &rpcs {
        assert!(allowed(&role("admin"), rpc), "admin calls {rpc}");
    }
    // A structure manager without a structure scope is refused, not widened.
    let mut scopeless = role("structure_manager");
    scopeless.scopes.clear();
    let denial = policy.decide(&scopeless, &RpcName("filieris.activity.v1.ActivityService/GetOpeningRate".into())).expect_err("refused");
    assert_eq!(denial.reason, SCOPE_MISSING);
}

// --- Through a real gateway ---------------------------------------------------

/// Calls an upstream saw: path and the signed identity.
type Seen = Arc<Mutex<Vec<(String, Option<Identity>)>>>;

/// An upstream answering every gRPC call with an empty message and OK.
#[derive(Clone, Default)]
struct Fake {
    seen: Seen,
}

impl Fake {
    fn calls_to(&self, path: &str) -> Vec<Option<Identity>> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter().filter(|(p, _)| p == path).map(|(_, i)| i.clone()).collect()
    }
}

async fn start_fake() -> (Fake, SocketAddr) {
    let fake = Fake::default();
    let seen = fake.seen.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let seen = seen.clone();
        async move {
            let key = filieris_runtime::config::InternalKey::from_hex(KEY_HEX).expect("key");
            let identity = Identity::from_headers(req.headers(), &key).ok();
            seen.lock().unwrap_or_else(|p| p.into_inner()).push((req.uri().path().to_owned(), identity));
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> =
                vec![Ok(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 0]))), Ok(Frame::trailers(trailers))];
            let body = Body::new(StreamBody::new(tokio_stream::iter(frames)));
            http::Response::builder().header("content-type", "application/grpc").body(body).expect("response")
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (fake, addr)
}

struct Platform {
    base: String,
    fake: Fake,
    issuer: DevIssuer,
    _dir: tempdir::Dir,
    _stopper: common::Stopper,
}

mod tempdir {
    /// A directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new() -> Self {
            let path = std::env::temp_dir().join(format!("filieris-policy-{}", uuid::Uuid::now_v7()));
            std::fs::create_dir_all(&path).expect("temp dir");
            Self(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

async fn start() -> Platform {
    let (fake, upstream) = start_fake().await;
    let db = TestDatabase::create().await.expect("test database");
    let dir = tempdir::Dir::new();
    // The test signs its own tokens with the key the gateway's development issuer loads.
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("key");
    let key_file = dir.0.join("dev-issuer.pk8");
    std::fs::write(&key_file, pkcs8.as_ref()).expect("key file");
    let issuer = DevIssuer::from_pkcs8(pkcs8.as_ref(), "filieris-api").expect("issuer");
    let url = format!("http://{upstream}");
    let mut pairs: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.url.clone()),
        ("FILIERIS_INTERNAL_KEY".into(), KEY_HEX.into()),
        ("FILIERIS_DB_MAX_CONNECTIONS".into(), "3".into()),
        ("FILIERIS_DEV_ISSUER".into(), "1".into()),
        ("FILIERIS_DEV_ISSUER_KEY_FILE".into(), key_file.display().to_string()),
        // This test makes thousands of calls: quotas are not what it checks.
        ("FILIERIS_GATEWAY_QUOTAS".into(), "partner=100000:100000,staff=100000:100000,job=100000:100000,service=100000:100000".into()),
    ];
    for spec in filieris_gateway::config::SERVICES {
        pairs.push((spec.env.into(), url.clone()));
    }
    let (base, stopper) = common::serve(pairs).await;
    Platform { base, fake, issuer, _dir: dir, _stopper: stopper }
}

impl Platform {
    fn token(&self, who: &Identity) -> String {
        let sub = who.caller.split_once(':').map(|(_, s)| s).unwrap_or("x");
        self.issuer
            .sign(json!({"sub": sub, "filieris_kind": who.kind.as_str(), "filieris_roles": who.roles, "filieris_scopes": who.scopes}))
    }
}

/// The `grpc-status` of a unary gRPC call with an empty request message
/// (trailers-only answers carry it in the headers, full answers in the trailers).
async fn grpc_status(client: &reqwest::Client, base: &str, rpc: &str, token: &str, web: bool) -> String {
    let content_type = if web { "application/grpc-web+proto" } else { "application/grpc" };
    let response = client
        .post(format!("{base}/{rpc}"))
        .header("content-type", content_type)
        .header("te", "trailers")
        .bearer_auth(token)
        .body(vec![0u8, 0, 0, 0, 0])
        .send()
        .await
        .expect("call");
    if let Some(status) = response.headers().get("grpc-status").and_then(|v| v.to_str().ok()) {
        return status.to_owned();
    }
    let bytes = response.bytes().await.expect("body");
    // gRPC-Web trailers travel in the body; HTTP/2 trailers are not exposed by reqwest,
    // so a full answer without a status header is the fake's OK.
    let text = String::from_utf8_lossy(&bytes);
    text.split("grpc-status:").nth(1).map(|s| s.trim().chars().take_while(char::is_ascii_digit).collect()).unwrap_or_else(|| "0".into())
}

#[tokio::test]
async fn every_rpc_and_role_through_a_real_gateway() {
    let platform = start().await;
    let policy = policy();
    let grpc = reqwest::Client::builder().http2_prior_knowledge().build().expect("client");
    let mut checked = 0usize;
    let mut mismatches: BTreeMap<String, String> = BTreeMap::new();
    for role in policy.roles() {
        let who = caller_of(role);
        let token = platform.token(&who);
        for rpc in all_rpcs() {
            let decision = policy.decide(&who, &RpcName(rpc.clone()));
            let before = platform.fake.calls_to(&format!("/{rpc}")).len();
            let status = grpc_status(&grpc, &platform.base, &rpc, &token, false).await;
            let calls = platform.fake.calls_to(&format!("/{rpc}"));
            let reached = calls.len() > before;
            let ok = match &decision {
                // Allowed: the upstream saw it, with the identity the policy forwards.
                Ok(forwarded) => status == "0" && reached && calls.last().cloned().flatten().as_ref() == Some(forwarded),
                Err(_) => status == "7" && !reached,
            };
            if !ok {
                mismatches.insert(
                    format!("{} → {rpc}", role.name),
                    format!("decision {:?}, status {status}, reached {reached}", decision.is_ok()),
                );
            }
            checked += 1;
        }
    }
    assert!(mismatches.is_empty(), "gateway and policy disagree on {} of {checked} calls: {mismatches:#?}", mismatches.len());
    assert_eq!(checked, policy.roles().count() * all_rpcs().len());
}

#[tokio::test]
async fn rest_and_grpc_web_get_the_same_answers() {
    let platform = start().await;
    let policy = policy();
    let role = |name: &str| policy.roles().find(|r| r.name == name).map(caller_of).expect("role");
    let http = reqwest::Client::new();
    let cdc = platform.token(&role("partner_cdc"));
    let cnam = platform.token(&role("partner_cnam"));

    // REST: a CDC partner gets 403 POLICY_DENIED on HR and on CNAM claims, nothing reaches the service.
    for path in ["/v1/jobs", "/v1/people", "/v1/claims/c1"] {
        let response = http.get(format!("{}{path}", platform.base)).bearer_auth(&cdc).send().await.expect("call");
        assert_eq!(response.status(), 403, "{path}");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["error"]["status"], "PERMISSION_DENIED");
        let info = body["error"]["details"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"))
            .cloned()
            .expect("ErrorInfo");
        assert_eq!(info["reason"], DENIED);
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("partner_cdc")), "{body}");
    }
    assert!(platform.fake.calls_to("/filieris.hr.v1.HrService/ListJobs").is_empty());
    assert!(platform.fake.calls_to("/filieris.missions.v1.MissionsService/GetClaim").is_empty());

    // The CNAM partner reads its claims; the service gets the CNAM partner scope.
    let response = http.get(format!("{}/v1/claims/c1", platform.base)).bearer_auth(&cnam).send().await.expect("call");
    assert_eq!(response.status(), 200);
    let seen = platform.fake.calls_to("/filieris.missions.v1.MissionsService/GetClaim");
    let forwarded = seen.last().cloned().flatten().expect("signed identity");
    assert_eq!(forwarded.roles, vec!["partner"]);
    assert!(forwarded.scopes.contains(&"partner:CNAM".to_owned()), "{forwarded:?}");

    // gRPC-Web: the same refusal.
    let status = grpc_status(&http, &platform.base, "filieris.hr.v1.HrService/ListPeople", &cdc, true).await;
    assert_eq!(status, "7");
    let status = grpc_status(&http, &platform.base, "filieris.missions.v1.MissionsService/ListMandates", &cdc, true).await;
    assert_eq!(status, "0");
}
