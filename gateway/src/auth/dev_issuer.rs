//! The development OAuth2/OIDC issuer, served by the gateway itself when
//! `FILIERIS_DEV_ISSUER=1` (`scripts/run.sh` sets it; never in production).
//!
//! - `GET /.well-known/openid-configuration`: discovery document;
//! - `GET /oauth/jwks.json`: its public key;
//! - `GET /oauth/dev-users`: the fixed staff users and partner clients;
//! - `POST /oauth/token` (form-encoded):
//!   - `grant_type=client_credentials` with `client_id`/`client_secret` (form
//!     fields or HTTP Basic): the partner clients `cnam`, `cdc`, `angdm` and
//!     the `reporting` job, secret `<client_id>-dev-secret`;
//!   - `grant_type=urn:filieris:dev-staff` with `username=<one of the staff
//!     users>`: a staff sign-in without a password, for the web UI.
//!
//! Tokens are EdDSA (Ed25519) JWTs valid one hour. The private key is
//! generated on first start into `FILIERIS_DEV_ISSUER_KEY_FILE` (default
//! `.filieris/dev-issuer.pk8`, mode 0600) and reused after, so tokens survive
//! a restart; it is never committed.

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{HeaderMap, StatusCode};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::jwks::{Alg, Jwk, KeySource};
use super::jwt::Issuer;

/// `iss` of development tokens.
pub const DEV_ISSUER: &str = "urn:filieris:dev-issuer";
/// Grant type of the development staff sign-in.
pub const DEV_STAFF_GRANT: &str = "urn:filieris:dev-staff";
/// Lifetime of a development token, in seconds.
pub const TOKEN_TTL: u64 = 3600;
/// FINESS of the demo centre the development structure manager runs
/// (Centre de santé Filieris Lens Centre in the registry's demo data).
pub const DEMO_CENTRE_FINESS: &str = "620990010";

/// A machine client of the development issuer (client credentials).
#[derive(Debug, Clone, Copy)]
pub struct DevClient {
    /// `client_id`, also the token's `sub`.
    pub id: &'static str,
    /// `partner` or `job`.
    pub kind: &'static str,
    /// Policy roles.
    pub roles: &'static [&'static str],
}

/// A staff user of the development sign-in.
#[derive(Debug, Clone, Copy)]
pub struct DevUser {
    /// `username`, also the token's `sub`.
    pub id: &'static str,
    /// Who it stands for.
    pub label: &'static str,
    /// Policy roles.
    pub roles: &'static [&'static str],
    /// Scopes (`*`, `region:NORD`, `structure:<FINESS>`).
    pub scopes: &'static [&'static str],
}

/// The partner and job clients.
pub const DEV_CLIENTS: &[DevClient] = &[
    DevClient { id: "cnam", kind: "partner", roles: &["partner_cnam"] },
    DevClient { id: "cdc", kind: "partner", roles: &["partner_cdc"] },
    DevClient { id: "angdm", kind: "partner", roles: &["partner_angdm"] },
    DevClient { id: "reporting", kind: "job", roles: &["reporting"] },
];

/// The staff users.
pub const DEV_USERS: &[DevUser] = &[
    DevUser { id: "head-office", label: "Head office (siège)", roles: &["head_office"], scopes: &["*"] },
    DevUser { id: "controller-nord", label: "Regional controller, NORD", roles: &["regional_controller"], scopes: &["region:NORD"] },
    DevUser {
        id: "manager-lens",
        label: "Structure manager, Centre de santé Filieris Lens Centre",
        roles: &["structure_manager"],
        scopes: &["structure:620990010"],
    },
    DevUser { id: "hr", label: "HR (DNRH)", roles: &["hr"], scopes: &["*"] },
    DevUser { id: "finance", label: "Finance", roles: &["finance"], scopes: &["*"] },
    DevUser { id: "admin", label: "Administrator", roles: &["admin"], scopes: &["*"] },
];

/// The development secret of a client.
pub fn client_secret(client_id: &str) -> String {
    format!("{client_id}-dev-secret")
}

/// The development issuer: its signing key and the audience it issues for.
pub struct DevIssuer {
    key: Ed25519KeyPair,
    kid: String,
    audience: String,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer").field("kid", &self.kid).field("audience", &self.audience).finish_non_exhaustive()
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl DevIssuer {
    /// Loads the key from `path`, generating it there on first use.
    pub fn load_or_create(path: &Path, audience: &str) -> anyhow::Result<Self> {
        let pkcs8 = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let rng = ring::rand::SystemRandom::new();
                let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| anyhow::anyhow!("cannot generate an Ed25519 key"))?;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                write_private(path, doc.as_ref())?;
                tracing::info!(path = %path.display(), "generated the development issuer's key");
                doc.as_ref().to_vec()
            }
            Err(e) => return Err(anyhow::anyhow!("cannot read the development issuer key {}: {e}", path.display())),
        };
        Self::from_pkcs8(&pkcs8, audience).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// An issuer over a PKCS#8 Ed25519 key.
    pub fn from_pkcs8(pkcs8: &[u8], audience: &str) -> anyhow::Result<Self> {
        let key = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|e| anyhow::anyhow!("not an Ed25519 PKCS#8 key: {e}"))?;
        let kid = hex::encode(&Sha256::digest(key.public_key().as_ref())[..8]);
        Ok(Self { key, kid, audience: audience.to_owned() })
    }

    /// Its public key.
    pub fn jwk(&self) -> Jwk {
        Jwk::ed25519(Some(self.kid.clone()), self.key.public_key().as_ref())
    }

    /// The issuer entry the gateway's verifier trusts (keys known in-process).
    pub fn trusted(&self) -> Issuer {
        Issuer {
            issuer: DEV_ISSUER.to_owned(),
            audience: self.audience.clone(),
            algs: vec![Alg::EdDsa],
            keys: KeySource::Static(vec![self.jwk()]),
        }
    }

    /// Signs `claims` (iss, aud, iat, exp added) into a compact JWT.
    pub fn sign(&self, mut claims: Value) -> String {
        let now = now();
        claims["iss"] = DEV_ISSUER.into();
        claims["aud"] = self.audience.clone().into();
        claims["iat"] = now.into();
        if claims.get("exp").is_none() {
            claims["exp"] = (now + TOKEN_TTL).into();
        }
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid});
        let signed = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let sig = self.key.sign(signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    /// A token for a client.
    pub fn client_token(&self, client: &DevClient) -> String {
        self.sign(json!({"sub": client.id, "filieris_kind": client.kind, "filieris_roles": client.roles, "client_id": client.id}))
    }

    /// A token for a staff user.
    pub fn user_token(&self, user: &DevUser) -> String {
        self.sign(json!({"sub": user.id, "filieris_kind": "staff", "filieris_roles": user.roles, "filieris_scopes": user.scopes, "name": user.label}))
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// The issuer's routes.
pub fn routes<S: Clone + Send + Sync + 'static>(issuer: Arc<DevIssuer>) -> Router<S> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth/jwks.json", get(jwks))
        .route("/oauth/dev-users", get(users))
        .route("/oauth/token", post(token))
        .with_state(issuer)
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:8080");
    format!("http://{host}")
}

async fn discovery(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    axum::Json(json!({
        "issuer": DEV_ISSUER,
        "jwks_uri": format!("{base}/oauth/jwks.json"),
        "token_endpoint": format!("{base}/oauth/token"),
        "grant_types_supported": ["client_credentials", DEV_STAFF_GRANT],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "claims_supported": ["sub", "filieris_kind", "filieris_roles", "filieris_scopes"],
    }))
    .into_response()
}

async fn jwks(State(issuer): State<Arc<DevIssuer>>) -> Response {
    axum::Json(json!({"keys": [issuer.jwk().to_json()]})).into_response()
}

async fn users() -> Response {
    let users: Vec<Value> =
        DEV_USERS.iter().map(|u| json!({"username": u.id, "label": u.label, "roles": u.roles, "scopes": u.scopes})).collect();
    let clients: Vec<Value> = DEV_CLIENTS
        .iter()
        .map(|c| json!({"client_id": c.id, "client_secret": client_secret(c.id), "kind": c.kind, "roles": c.roles}))
        .collect();
    axum::Json(json!({"staff": users, "clients": clients})).into_response()
}

/// An RFC 6749 §5.2 error.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, axum::Json(json!({"error": error, "error_description": description}))).into_response()
}

/// Decodes `application/x-www-form-urlencoded` pairs.
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    match std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        Some(b) => {
                            out.push(b);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// `client_id`/`client_secret` from HTTP Basic, else from the form.
fn client_credentials(headers: &HeaderMap, form: &[(String, String)]) -> Option<(String, String)> {
    let basic = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(i, p)| (i.to_owned(), p.to_owned())));
    basic.or_else(|| {
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        Some((field("client_id")?, field("client_secret")?))
    })
}

async fn token(State(issuer): State<Arc<DevIssuer>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let form = form_pairs(&body);
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let token = match field("grant_type") {
        Some("client_credentials") => {
            let Some((id, secret)) = client_credentials(&headers, &form) else {
                return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client_id and client_secret are required");
            };
            match DEV_CLIENTS.iter().find(|c| c.id == id) {
                Some(client) if secret == client_secret(client.id) => issuer.client_token(client),
                _ => return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client or wrong secret"),
            }
        }
        Some(DEV_STAFF_GRANT) => {
            let username = field("username").unwrap_or("");
            match DEV_USERS.iter().find(|u| u.id == username) {
                Some(user) => issuer.user_token(user),
                None => {
                    let known = DEV_USERS.iter().map(|u| u.id).collect::<Vec<_>>().join(", ");
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &format!("unknown staff user; one of: {known}"));
                }
            }
        }
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type must be client_credentials or {DEV_STAFF_GRANT}"),
            );
        }
        None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is required"),
    };
    let mut response = axum::Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL})).into_response();
    response.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::jwt::{Verifier, identity_of};

    fn issuer() -> DevIssuer {
        let rng = ring::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).expect("key");
        DevIssuer::from_pkcs8(doc.as_ref(), "filieris-api").expect("issuer")
    }

    #[tokio::test]
    async fn issued_tokens_verify_and_name_the_caller() {
        let dev = issuer();
        let verifier = Verifier::new(vec![dev.trusted()]);
        let token = dev.client_token(&DEV_CLIENTS[1]);
        let claims = verifier.verify(&token).await.expect("valid");
        let identity = identity_of(&claims).expect("identity");
        assert_eq!(identity.caller, "partner:cdc");
        assert_eq!(identity.roles, vec!["partner_cdc"]);
        let user = identity_of(&verifier.verify(&dev.user_token(&DEV_USERS[2])).await.expect("valid")).expect("identity");
        assert_eq!(user.scopes, vec![format!("structure:{DEMO_CENTRE_FINESS}")]);
    }

    #[test]
    fn forms_decode() {
        let pairs = form_pairs(b"grant_type=client_credentials&client_id=c%64c&x=a+b&bad=%zz");
        assert_eq!(pairs[1], ("client_id".into(), "cdc".into()));
        assert_eq!(pairs[2].1, "a b");
        assert_eq!(pairs[3].1, "%zz");
    }
}
