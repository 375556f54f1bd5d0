//! Authentication at the gateway: bearer JWTs of an OIDC issuer (keys from
//! its JWKS, fetched again on a new `kid` at most once per 30 s), the
//! development issuer's token endpoint, and API keys next to them.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use filieris_gateway::{MIGRATOR, SCHEMA, create_api_key};
use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::testing::TestDatabase;
use http_body_util::StreamBody;
use hyper::body::Frame;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};
use tokio::net::TcpListener;

const KEY_HEX: &str = "7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c7c";
const ISSUER: &str = "https://idp.test";
const AUDIENCE: &str = "filieris-api";

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The test's identity provider: ES256 keys and the JWKS it publishes.
struct Idp {
    rng: ring::rand::SystemRandom,
    keys: Vec<(String, EcdsaKeyPair)>,
    published: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

impl Idp {
    fn key(&mut self, kid: &str) {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &self.rng).expect("key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &self.rng).expect("pair");
        self.keys.push((kid.to_owned(), pair));
    }

    /// Publishes only these keys.
    fn publish(&self, kids: &[&str]) {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .filter(|(kid, _)| kids.contains(&kid.as_str()))
            .map(|(kid, pair)| {
                let point = pair.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                       "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])})
            })
            .collect();
        *self.published.lock().unwrap_or_else(|p| p.into_inner()) = json!({"keys": keys});
    }

    fn sign_with(&self, kid: &str, header: Value, claims: &Value) -> String {
        let (_, pair) = self.keys.iter().find(|(k, _)| k == kid).expect("kid");
        let signed = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let sig = pair.sign(&self.rng, signed.as_bytes()).expect("sign");
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn token(&self, kid: &str, claims: &Value) -> String {
        self.sign_with(kid, json!({"alg": "ES256", "typ": "JWT", "kid": kid}), claims)
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn claims(extra: Value) -> Value {
    let mut c = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "cdc", "filieris_kind": "partner",
                       "filieris_roles": ["partner_cdc"], "iat": now(), "exp": now() + 300});
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            c.insert(k.clone(), v.clone());
        }
    }
    c
}

async fn start_idp() -> (Idp, SocketAddr) {
    let published = Arc::new(Mutex::new(json!({"keys": []})));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (p, f) = (published.clone(), fetches.clone());
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let (p, f) = (p.clone(), f.clone());
            async move {
                f.fetch_add(1, Ordering::SeqCst);
                axum::Json(p.lock().unwrap_or_else(|e| e.into_inner()).clone())
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (Idp { rng: ring::rand::SystemRandom::new(), keys: Vec::new(), published, fetches }, addr)
}

/// Identities an upstream saw.
type Seen = Arc<Mutex<Vec<Option<Identity>>>>;

/// An upstream answering every gRPC call with an empty message, recording the identity.
async fn start_fake() -> (Seen, SocketAddr) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let s = s.clone();
        async move {
            let key = InternalKey::from_hex(KEY_HEX).expect("key");
            s.lock().unwrap_or_else(|p| p.into_inner()).push(Identity::from_headers(req.headers(), &key).ok());
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> =
                vec![Ok(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 0]))), Ok(Frame::trailers(trailers))];
            http::Response::builder()
                .header("content-type", "application/grpc")
                .body(Body::new(StreamBody::new(tokio_stream::iter(frames))))
                .expect("response")
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (seen, addr)
}

struct Gateway {
    base: String,
    pool: sqlx::PgPool,
    seen: Seen,
    _key_dir: KeyDir,
    _stopper: common::Stopper,
}

struct KeyDir(std::path::PathBuf);

impl Drop for KeyDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start_gateway(jwks: SocketAddr) -> Gateway {
    let (seen, upstream) = start_fake().await;
    let db = TestDatabase::create().await.expect("test database");
    let dir = KeyDir(std::env::temp_dir().join(format!("filieris-auth-{}", uuid::Uuid::now_v7())));
    let url = format!("http://{upstream}");
    let mut pairs: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.url.clone()),
        ("FILIERIS_INTERNAL_KEY".into(), KEY_HEX.into()),
        ("FILIERIS_DB_MAX_CONNECTIONS".into(), "3".into()),
        ("FILIERIS_OIDC_ISSUER".into(), ISSUER.into()),
        ("FILIERIS_OIDC_JWKS_URL".into(), format!("http://{jwks}/jwks")),
        ("FILIERIS_OIDC_ALGS".into(), "ES256".into()),
        ("FILIERIS_DEV_ISSUER".into(), "1".into()),
        // Generated on first start, in a directory that does not exist yet.
        ("FILIERIS_DEV_ISSUER_KEY_FILE".into(), dir.0.join("state/dev-issuer.pk8").display().to_string()),
    ];
    for spec in filieris_gateway::config::SERVICES {
        pairs.push((spec.env.into(), url.clone()));
    }
    let (base, stopper) = common::serve(pairs).await;
    assert!(dir.0.join("state/dev-issuer.pk8").exists(), "the development key is generated on first start");
    let pool = filieris_runtime::db::connect(&db.url, SCHEMA, 2, &MIGRATOR).await.expect("pool");
    Gateway { base, pool, seen, _key_dir: dir, _stopper: stopper }
}

impl Gateway {
    /// Status and `ErrorInfo.reason` of `GET /v1/structures` with a bearer credential.
    async fn call(&self, bearer: &str) -> (u16, String) {
        self.get("/v1/structures", bearer).await
    }

    async fn get(&self, path: &str, bearer: &str) -> (u16, String) {
        let response = reqwest::Client::new().get(format!("{}{path}", self.base)).bearer_auth(bearer).send().await.expect("call");
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let reason = body["error"]["details"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"))
            .and_then(|i| i["reason"].as_str())
            .unwrap_or("")
            .to_owned();
        (status, reason)
    }

    fn last_identity(&self) -> Identity {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).last().cloned().flatten().expect("the service saw a signed identity")
    }

    async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let body = form.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let response = reqwest::Client::new()
            .post(format!("{}/oauth/token", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("token");
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn oidc_tokens_are_verified_against_the_issuers_keys() {
    let (mut idp, jwks) = start_idp().await;
    idp.key("k1");
    idp.key("k2");
    idp.key("k3");
    idp.publish(&["k1"]);
    let gw = start_gateway(jwks).await;

    // A valid token: the service sees the identity the policy forwards.
    assert_eq!(gw.call(&idp.token("k1", &claims(json!({})))).await, (200, String::new()));
    let seen = gw.last_identity();
    assert_eq!((seen.caller.as_str(), seen.roles.clone()), ("partner:cdc", vec!["partner".to_owned()]));
    assert_eq!(idp.fetches(), 1, "the key set is fetched once and cached");
    assert_eq!(gw.call(&idp.token("k1", &claims(json!({})))).await.0, 200);
    assert_eq!(idp.fetches(), 1);

    // The issuer rotates to k2: the unknown kid triggers one refetch.
    idp.publish(&["k2"]);
    assert_eq!(gw.call(&idp.token("k2", &claims(json!({})))).await.0, 200);
    assert_eq!(idp.fetches(), 2);
    // Another unknown kid right after: no new fetch (at most one per 30 s), refused.
    idp.publish(&["k2", "k3"]);
    assert_eq!(gw.call(&idp.token("k3", &claims(json!({})))).await, (401, "TOKEN_SIGNATURE_INVALID".into()));
    assert_eq!(gw.call(&idp.token("k3", &claims(json!({})))).await.0, 401);
    assert_eq!(idp.fetches(), 2, "unknown kids do not make the gateway hammer the issuer");

    // Claims.
    let refused = [
        (claims(json!({"exp": now() - 120})), "TOKEN_EXPIRED"),
        (claims(json!({"nbf": now() + 600})), "TOKEN_NOT_YET_VALID"),
        (claims(json!({"aud": "another-api"})), "TOKEN_AUDIENCE_MISMATCH"),
        (claims(json!({"iss": "https://evil.test"})), "TOKEN_ISSUER_UNKNOWN"),
        (claims(json!({"filieris_kind": "service"})), "TOKEN_CLAIMS_INVALID"),
    ];
    for (c, reason) in refused {
        assert_eq!(gw.call(&idp.token("k2", &c)).await, (401, reason.to_owned()), "{c}");
    }
    // Expired a few seconds ago: within the leeway for clock skew.
    assert_eq!(gw.call(&idp.token("k2", &claims(json!({"exp": now() - 10})))).await.0, 200);
    // No exp at all: refused.
    let mut no_exp = claims(json!({}));
    no_exp.as_object_mut().map(|c| c.remove("exp"));
    assert_eq!(gw.call(&idp.token("k2", &no_exp)).await, (401, "TOKEN_MALFORMED".into()));

    // Algorithms: none, HMAC, and a type this issuer is not configured for.
    let body = URL_SAFE_NO_PAD.encode(claims(json!({})).to_string());
    for alg in ["none", "HS256"] {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": "k2"}).to_string());
        assert_eq!(gw.call(&format!("{header}.{body}.")).await, (401, "TOKEN_ALG_NOT_ALLOWED".into()), "{alg}");
    }
    let ed = Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&idp.rng).expect("key").as_ref()).expect("pair");
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "EdDSA", "kid": "k2"}).to_string());
    let sig = URL_SAFE_NO_PAD.encode(ed.sign(format!("{header}.{body}").as_bytes()).as_ref());
    assert_eq!(gw.call(&format!("{header}.{body}.{sig}")).await, (401, "TOKEN_ALG_NOT_ALLOWED".into()));

    // A payload changed after signing.
    let token = idp.token("k2", &claims(json!({})));
    let parts: Vec<&str> = token.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(claims(json!({"filieris_roles": ["admin"]})).to_string());
    assert_eq!(gw.call(&format!("{}.{forged}.{}", parts[0], parts[2])).await, (401, "TOKEN_SIGNATURE_INVALID".into()));

    // API keys keep working next to tokens.
    let key = create_api_key(&gw.pool, "partner:cnam", CallerKind::Partner, &["partner_cnam"], &[]).await.expect("key");
    assert_eq!(gw.call(&key).await.0, 200);
    assert_eq!(gw.last_identity().scopes, vec!["partner:CNAM", "*"]);
    assert_eq!(gw.call("fk_unknown").await, (401, "API_KEY_UNKNOWN".into()));
}

#[tokio::test]
async fn the_development_issuer_signs_in_clients_and_staff() {
    let (_idp, jwks) = start_idp().await;
    let gw = start_gateway(jwks).await;
    let http = reqwest::Client::new();

    let discovery: Value =
        http.get(format!("{}/.well-known/openid-configuration", gw.base)).send().await.expect("discovery").json().await.expect("json");
    assert_eq!(discovery["issuer"], "urn:filieris:dev-issuer");
    let jwks_uri = discovery["jwks_uri"].as_str().expect("jwks_uri").to_owned();
    let keys: Value = http.get(jwks_uri).send().await.expect("jwks").json().await.expect("json");
    assert_eq!(keys["keys"][0]["alg"], "EdDSA");

    // Client credentials: a CDC partner gets a token, reads the registry, not HR.
    let (status, body) = gw.token(&[("grant_type", "client_credentials"), ("client_id", "cdc"), ("client_secret", "cdc-dev-secret")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let cdc = body["access_token"].as_str().expect("token").to_owned();
    assert_eq!(gw.call(&cdc).await.0, 200);
    assert_eq!(gw.last_identity().caller, "partner:cdc");
    assert_eq!(gw.get("/v1/jobs", &cdc).await, (403, "POLICY_DENIED".into()));
    let (status, body) = gw.token(&[("grant_type", "client_credentials"), ("client_id", "cdc"), ("client_secret", "wrong")]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));

    // Staff sign-in: the structure manager's identity carries its centre.
    let (status, body) = gw.token(&[("grant_type", "urn:filieris:dev-staff"), ("username", "manager-lens")]).await;
    assert_eq!(status, 200, "{body}");
    let manager = body["access_token"].as_str().expect("token").to_owned();
    assert_eq!(gw.call(&manager).await.0, 200);
    let seen = gw.last_identity();
    assert_eq!((seen.caller.as_str(), seen.roles.clone()), ("staff:manager-lens", vec!["reader".to_owned()]));
    assert_eq!(seen.scopes, vec![format!("structure:{}", filieris_gateway::auth::dev_issuer::DEMO_CENTRE_FINESS)]);
    assert_eq!(gw.token(&[("grant_type", "urn:filieris:dev-staff"), ("username", "nobody")]).await.0, 400);
    assert_eq!(gw.token(&[("grant_type", "password")]).await.1["error"], "unsupported_grant_type");
}
