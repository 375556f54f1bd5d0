//! Bearer JWTs (JWS compact form) from trusted OAuth2/OIDC issuers.
//!
//! A token is accepted when: its `alg` is on the allow-list (never `none` or
//! HMAC: the gateway holds no shared secrets with issuers), its `iss` is a
//! configured issuer, one of that issuer's keys verifies the signature, `aud`
//! names the configured audience, `exp` is in the future and `nbf`/`iat` are
//! not (with [`LEEWAY`] for clock skew), and no `crit` header asks for an
//! extension the gateway does not implement.
//!
//! Claims become an [`Identity`]:
//! - `filieris_kind`: `partner`, `staff` or `job` (required; `service` is
//!   reserved to the platform's own calls);
//! - `sub`: the caller name, so the caller id is `<kind>:<sub>`;
//! - `filieris_roles`: the policy roles (array, or a space-separated string);
//! - `filieris_scopes` (array or space-separated), plus `region` → `region:<R>`
//!   and `structures`/`structure` → `structure:<FINESS>`.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use filieris_runtime::error::{ApiError, ErrorCode};
use filieris_runtime::identity::{CallerKind, Identity};
use serde_json::Value;

use super::jwks::{Alg, KeyLookupError, KeySource};
use crate::DOMAIN;

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY: u64 = 60;
/// Longest token read.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// One trusted issuer.
#[derive(Debug)]
pub struct Issuer {
    /// The exact `iss` value.
    pub issuer: String,
    /// The `aud` value tokens must carry.
    pub audience: String,
    /// Accepted algorithms.
    pub algs: Vec<Alg>,
    /// Its keys.
    pub keys: KeySource,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the bearer token is not a well-formed JWT: {0}")]
    Malformed(String),
    #[error("the token's algorithm {0:?} is not accepted")]
    AlgNotAllowed(String),
    #[error("the token's issuer {0:?} is not trusted")]
    UnknownIssuer(String),
    #[error("the token's signature does not verify with the issuer's keys")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is not meant for this API (audience {0:?} expected)")]
    WrongAudience(String),
    #[error("the token's claims do not name a caller: {0}")]
    Claims(String),
    #[error("{0}")]
    KeysUnavailable(String),
}

impl TokenError {
    /// The stable `ErrorInfo.reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "TOKEN_MALFORMED",
            Self::AlgNotAllowed(_) => "TOKEN_ALG_NOT_ALLOWED",
            Self::UnknownIssuer(_) => "TOKEN_ISSUER_UNKNOWN",
            Self::BadSignature => "TOKEN_SIGNATURE_INVALID",
            Self::Expired => "TOKEN_EXPIRED",
            Self::NotYetValid => "TOKEN_NOT_YET_VALID",
            Self::WrongAudience(_) => "TOKEN_AUDIENCE_MISMATCH",
            Self::Claims(_) => "TOKEN_CLAIMS_INVALID",
            Self::KeysUnavailable(_) => "ISSUER_KEYS_UNAVAILABLE",
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(err: TokenError) -> Self {
        let code = match err {
            // The client did nothing wrong: retry later.
            TokenError::KeysUnavailable(_) => ErrorCode::Unavailable,
            _ => ErrorCode::Unauthenticated,
        };
        ApiError::new(code, DOMAIN, err.reason(), err.to_string())
    }
}

/// True when a bearer credential is shaped like a JWT rather than an API key.
pub fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.bytes().filter(|b| *b == b'.').count() == 2
}

/// Verifies tokens of the configured issuers.
#[derive(Debug, Default)]
pub struct Verifier {
    issuers: Vec<Issuer>,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn decode_json(part: &str, what: &str) -> Result<Value, TokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed(format!("the {what} is not base64url")))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed(format!("the {what} is not JSON")))?;
    if !value.is_object() {
        return Err(TokenError::Malformed(format!("the {what} is not a JSON object")));
    }
    Ok(value)
}

impl Verifier {
    /// A verifier trusting `issuers`.
    pub fn new(issuers: Vec<Issuer>) -> Self {
        Self { issuers }
    }

    /// True when no issuer is configured (bearer JWTs are then refused).
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// The verified claims of `token`.
    pub async fn verify(&self, token: &str) -> Result<Value, TokenError> {
        self.verify_at(token, now()).await
    }

    /// [`Verifier::verify`] at a given time (seconds since the epoch).
    pub async fn verify_at(&self, token: &str, now: u64) -> Result<Value, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed(format!("longer than {MAX_TOKEN_LEN} bytes")));
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Malformed("expected three dot-separated parts".into()));
        };
        let header = decode_json(h, "header")?;
        let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("");
        if header.get("crit").is_some() {
            return Err(TokenError::Malformed("critical header extensions are not supported".into()));
        }
        let alg = Alg::parse(alg_name).ok_or_else(|| TokenError::AlgNotAllowed(alg_name.to_owned()))?;
        let kid = header.get("kid").and_then(Value::as_str);
        let claims = decode_json(p, "payload")?;
        let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| TokenError::Malformed("the signature is not base64url".into()))?;

        // The issuer is read before the signature is checked only to pick its keys.
        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
        let issuer = self.issuers.iter().find(|i| i.issuer == iss).ok_or_else(|| TokenError::UnknownIssuer(iss.to_owned()))?;
        if !issuer.algs.contains(&alg) {
            return Err(TokenError::AlgNotAllowed(alg_name.to_owned()));
        }
        let candidates = issuer.keys.candidates(kid, alg).await.map_err(|KeyLookupError::Unavailable(e)| {
            TokenError::KeysUnavailable(format!("the issuer's keys are unavailable ({e}); retry later"))
        })?;
        let signed = &token[..h.len() + 1 + p.len()];
        if !candidates.iter().any(|k| k.verify(alg, signed.as_bytes(), &sig)) {
            return Err(TokenError::BadSignature);
        }

        let time = |name: &str| -> Result<Option<u64>, TokenError> {
            match claims.get(name) {
                None => Ok(None),
                Some(v) => v
                    .as_f64()
                    .filter(|t| *t >= 0.0)
                    .map(|t| Some(t as u64))
                    .ok_or_else(|| TokenError::Malformed(format!("`{name}` must be a number of seconds"))),
            }
        };
        let exp = time("exp")?.ok_or_else(|| TokenError::Malformed("`exp` is required".into()))?;
        if now > exp.saturating_add(LEEWAY) {
            return Err(TokenError::Expired);
        }
        for name in ["nbf", "iat"] {
            if time(name)?.is_some_and(|t| t > now.saturating_add(LEEWAY)) {
                return Err(TokenError::NotYetValid);
            }
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == issuer.audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(issuer.audience.as_str())),
            _ => false,
        };
        if !aud_ok {
            return Err(TokenError::WrongAudience(issuer.audience.clone()));
        }
        Ok(claims)
    }
}

/// A claim holding a list: a JSON array of strings or one space-separated string.
fn list_claim(claims: &Value, name: &str) -> Result<Vec<String>, TokenError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s.split_whitespace().map(str::to_owned).collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned).ok_or_else(|| TokenError::Claims(format!("`{name}` must list strings"))))
            .collect(),
        Some(_) => Err(TokenError::Claims(format!("`{name}` must be a string or an array of strings"))),
    }
}

/// The identity named by verified claims.
pub fn identity_of(claims: &Value) -> Result<Identity, TokenError> {
    let kind = match claims.get("filieris_kind").and_then(Value::as_str) {
        Some("partner") => CallerKind::Partner,
        Some("staff") => CallerKind::Staff,
        Some("job") => CallerKind::Job,
        other => {
            return Err(TokenError::Claims(format!("`filieris_kind` must be partner, staff or job, not {other:?}")));
        }
    };
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
    let roles = list_claim(claims, "filieris_roles")?;
    let mut scopes = list_claim(claims, "filieris_scopes")?;
    for region in list_claim(claims, "region")? {
        scopes.push(format!("region:{}", region.to_ascii_uppercase()));
    }
    for name in ["structures", "structure"] {
        for finess in list_claim(claims, name)? {
            scopes.push(format!("structure:{finess}"));
        }
    }
    scopes.sort();
    scopes.dedup();
    let identity = Identity { caller: format!("{}:{sub}", kind.as_str()), kind, roles, scopes };
    crate::keys::validate(&identity).map_err(|e| TokenError::Claims(e.to_string()))?;
    Ok(identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_become_an_identity() {
        let claims = serde_json::json!({
            "sub": "marie", "filieris_kind": "staff", "filieris_roles": "structure_manager",
            "structures": ["590000017"], "region": "nord", "filieris_scopes": ["x:y"],
        });
        let identity = identity_of(&claims).expect("identity");
        assert_eq!(identity.caller, "staff:marie");
        assert_eq!(identity.roles, vec!["structure_manager"]);
        assert_eq!(identity.scopes, vec!["region:NORD", "structure:590000017", "x:y"]);
        for bad in [
            serde_json::json!({"sub": "x", "filieris_kind": "service"}),
            serde_json::json!({"sub": "", "filieris_kind": "staff"}),
            serde_json::json!({"sub": "a b", "filieris_kind": "staff"}),
            serde_json::json!({"sub": "x", "filieris_kind": "staff", "filieris_roles": [1]}),
        ] {
            assert!(identity_of(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jwt_shapes_are_told_from_api_keys() {
        assert!(looks_like_jwt("eyJhbGciOiJFZERTQSJ9.eyJ9.c2ln"));
        assert!(!looks_like_jwt("fk_0011"));
        assert!(!looks_like_jwt("eyJ.only-one-dot"));
    }
}
