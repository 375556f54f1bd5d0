//! API keys: creation, storage (SHA-256 only, never the key) and lookup with
//! a short in-memory cache.
//!
//! A key is `fk_` + 64 hex characters (32 random bytes). The table
//! `gateway.api_key` keeps its SHA-256 hex, the caller it identifies, the
//! caller's kind, roles and scopes. A verified key is cached for the
//! configured TTL, so a revocation takes effect within that delay; unknown
//! keys are not cached (a flood of random keys cannot fill memory).
//!
//! A key's roles are policy roles (`gateway/policy.toml`), like the roles of
//! a bearer token; keys issued before the policy carry service-role names,
//! which the policy keeps as legacy roles.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use filieris_runtime::error::{ApiError, ErrorCode};
use filieris_runtime::identity::{CallerKind, Identity};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::DOMAIN;

/// Prefix of generated keys (recognisable in logs and secret scanners).
pub const KEY_PREFIX: &str = "fk_";
/// Most entries kept in the cache before it is emptied.
const CACHE_CAPACITY: usize = 10_000;
/// Longest credential accepted from a client.
const MAX_KEY_LEN: usize = 256;

/// An invalid caller, role or scope given to [`create_api_key`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The caller id does not look like `<kind>:<name>`.
    #[error("caller {0:?} must be `<kind>:<name>` with the kind of the key, in visible ASCII without commas")]
    Caller(String),
    /// A role or scope is empty or has characters outside visible ASCII or a comma.
    #[error("{what} {value:?} must be non-empty visible ASCII without commas")]
    Item { what: &'static str, value: String },
}

/// SHA-256 hex of a key, as stored.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn plain_token(s: &str) -> bool {
    !s.is_empty() && s.len() <= 200 && s.bytes().all(|b| b.is_ascii_graphic() && b != b',')
}

/// Checks an identity before it is stored.
pub fn validate(identity: &Identity) -> Result<(), KeyError> {
    let prefix_ok = identity.caller.split_once(':').is_some_and(|(kind, name)| kind == identity.kind.as_str() && !name.is_empty());
    if !prefix_ok || !plain_token(&identity.caller) {
        return Err(KeyError::Caller(identity.caller.clone()));
    }
    for (what, list) in [("role", &identity.roles), ("scope", &identity.scopes)] {
        if let Some(bad) = list.iter().find(|s| !plain_token(s)) {
            return Err(KeyError::Item { what, value: bad.clone() });
        }
    }
    Ok(())
}

/// Creates a new key for `caller` and returns it (the only time it is visible).
pub async fn create_api_key(pool: &PgPool, caller: &str, kind: CallerKind, roles: &[&str], scopes: &[&str]) -> anyhow::Result<String> {
    let identity = Identity {
        caller: caller.to_owned(),
        kind,
        roles: roles.iter().map(|s| (*s).to_owned()).collect(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
    };
    validate(&identity)?;
    // ThreadRng is a CSPRNG seeded from the operating system.
    let secret: [u8; 32] = rand::random();
    let key = format!("{KEY_PREFIX}{}", hex::encode(secret));
    sqlx::query("INSERT INTO api_key (key_hash, caller, caller_kind, roles, scopes) VALUES ($1, $2, $3, $4, $5)")
        .bind(hash_key(&key))
        .bind(&identity.caller)
        .bind(identity.kind.as_str())
        .bind(&identity.roles)
        .bind(&identity.scopes)
        .execute(pool)
        .await?;
    Ok(key)
}

/// Stores a chosen key (the development key), replacing what it identified
/// before and clearing a revocation.
pub async fn upsert_api_key(pool: &PgPool, key: &str, identity: &Identity) -> anyhow::Result<()> {
    validate(identity)?;
    sqlx::query(
        "INSERT INTO api_key (key_hash, caller, caller_kind, roles, scopes) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (key_hash) DO UPDATE SET caller = EXCLUDED.caller, caller_kind = EXCLUDED.caller_kind, \
         roles = EXCLUDED.roles, scopes = EXCLUDED.scopes, revoked_at = NULL",
    )
    .bind(hash_key(key))
    .bind(&identity.caller)
    .bind(identity.kind.as_str())
    .bind(&identity.roles)
    .bind(&identity.scopes)
    .execute(pool)
    .await?;
    Ok(())
}

/// Revokes a key; false when it was unknown or already revoked.
pub async fn revoke_api_key(pool: &PgPool, key: &str) -> anyhow::Result<bool> {
    let done = sqlx::query("UPDATE api_key SET revoked_at = now() WHERE key_hash = $1 AND revoked_at IS NULL")
        .bind(hash_key(key))
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The credential of a request: `Authorization: Bearer <key>` or `x-api-key: <key>`.
///
/// `Err` when an `Authorization` header is present but not a bearer token.
pub fn credential(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    if let Some(value) = headers.get(http::header::AUTHORIZATION) {
        let text = value.to_str().unwrap_or("");
        let token = text
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty());
        return match token {
            Some(t) => Ok(Some(t)),
            None => Err(unauthenticated("UNAUTHENTICATED", "the Authorization header must be `Bearer <access token or API key>`")),
        };
    }
    Ok(headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim).filter(|k| !k.is_empty()))
}

fn unauthenticated(reason: &str, message: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthenticated, DOMAIN, reason, message)
}

/// Looks keys up in PostgreSQL, with a short cache.
#[derive(Debug)]
pub struct KeyStore {
    pool: PgPool,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Identity, Instant)>>,
}

impl KeyStore {
    /// A store over `pool` caching verified keys for `ttl`.
    pub fn new(pool: PgPool, ttl: Duration) -> Self {
        Self { pool, ttl, cache: Mutex::new(HashMap::new()) }
    }

    /// The identity of a request's credential: 401 when missing or unknown,
    /// 503 when the database does not answer.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Identity, ApiError> {
        let key = credential(headers)?.ok_or_else(|| {
            unauthenticated("UNAUTHENTICATED", "an API key is required: `Authorization: Bearer <key>` or `x-api-key: <key>`")
        })?;
        self.identify(key).await
    }

    /// The identity of a key.
    pub async fn identify(&self, key: &str) -> Result<Identity, ApiError> {
        if key.len() > MAX_KEY_LEN {
            return Err(unknown_key());
        }
        let hash = hash_key(key);
        if let Some(identity) = self.cached(&hash) {
            return Ok(identity);
        }
        let row: Option<(String, String, Vec<String>, Vec<String>)> =
            sqlx::query_as("SELECT caller, caller_kind, roles, scopes FROM api_key WHERE key_hash = $1 AND revoked_at IS NULL")
                .bind(&hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| ApiError::database(DOMAIN, &e))?;
        let (caller, kind, roles, scopes) = row.ok_or_else(unknown_key)?;
        let kind = kind.parse::<CallerKind>().map_err(|e| ApiError::internal(DOMAIN, &e))?;
        let identity = Identity { caller, kind, roles, scopes };
        self.remember(hash, identity.clone());
        Ok(identity)
    }

    fn cached(&self, hash: &str) -> Option<Identity> {
        let cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.get(hash).filter(|(_, at)| at.elapsed() < self.ttl).map(|(identity, _)| identity.clone())
    }

    fn remember(&self, hash: String, identity: Identity) {
        if self.ttl.is_zero() {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= CACHE_CAPACITY {
            let ttl = self.ttl;
            cache.retain(|_, (_, at)| at.elapsed() < ttl);
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(hash, (identity, Instant::now()));
    }
}

fn unknown_key() -> ApiError {
    unauthenticated("API_KEY_UNKNOWN", "the API key is unknown or revoked")
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn identity(caller: &str, kind: CallerKind) -> Identity {
        Identity { caller: caller.into(), kind, roles: vec!["partner".into()], scopes: vec!["*".into()] }
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(hash_key("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn callers_must_carry_their_kind() {
        assert!(validate(&identity("partner:cdc", CallerKind::Partner)).is_ok());
        assert!(validate(&identity("staff:cdc", CallerKind::Partner)).is_err());
        assert!(validate(&identity("partner:", CallerKind::Partner)).is_err());
        assert!(validate(&identity("partner:c d", CallerKind::Partner)).is_err());
        let mut bad_role = identity("partner:cdc", CallerKind::Partner);
        bad_role.roles.push("a,b".into());
        assert!(matches!(validate(&bad_role), Err(KeyError::Item { what: "role", .. })));
    }

    #[test]
    fn credentials_from_either_header() {
        let mut h = HeaderMap::new();
        assert_eq!(credential(&h).ok(), Some(None));
        h.insert("x-api-key", HeaderValue::from_static("k1"));
        assert_eq!(credential(&h).ok(), Some(Some("k1")));
        h.insert(http::header::AUTHORIZATION, HeaderValue::from_static("Bearer k2"));
        assert_eq!(credential(&h).ok(), Some(Some("k2")));
        h.insert(http::header::AUTHORIZATION, HeaderValue::from_static("Basic dXNlcjpwdw=="));
        assert!(credential(&h).is_err());
    }
}
