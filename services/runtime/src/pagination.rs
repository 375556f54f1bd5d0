//! Keyset pagination with opaque page tokens.
//!
//! A token carries the sort key of the last row returned and a fingerprint of
//! the query (filter, search, as-of date...). Rows are read `WHERE key > last
//! ORDER BY key LIMIT n+1`, so rows inserted between two pages never shift a
//! page, and every pre-existing row is returned exactly once. A token reused
//! with another query is refused rather than silently giving wrong pages.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ErrorCode, FieldViolation};

/// Page size when the request leaves it at 0.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page; larger requests are coerced down, not refused.
pub const MAX_PAGE_SIZE: u32 = 200;

/// The effective page size of a request: 0 → default, above max → max,
/// negative → INVALID_ARGUMENT.
pub fn page_size(domain: &str, requested: i32) -> Result<u32, ApiError> {
    match requested {
        n if n < 0 => {
            Err(ApiError::invalid(domain, vec![FieldViolation { field: "page_size".into(), description: "must not be negative".into() }]))
        }
        0 => Ok(DEFAULT_PAGE_SIZE),
        n => Ok((n as u32).min(MAX_PAGE_SIZE)),
    }
}

/// A fingerprint of the query a token belongs to.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for p in parts {
        hasher.update((p.len() as u64).to_be_bytes());
        hasher.update(p.as_bytes());
    }
    hex::encode(&hasher.finalize()[..8])
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Token<K> {
    v: u8,
    q: String,
    k: K,
}

/// Encodes the key of the last row of a page.
pub fn encode_token<K: Serialize>(query: &str, key: &K) -> String {
    let token = Token { v: 1, q: query.to_owned(), k: key };
    // Serialising plain keys (strings, integers, tuples) cannot fail.
    let json = serde_json::to_vec(&token).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a page token: `None` for the first page.
pub fn decode_token<K: DeserializeOwned>(domain: &str, query: &str, token: &str) -> Result<Option<K>, ApiError> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = |reason: &str, text: &str| {
        let mut e = ApiError::invalid(domain, vec![FieldViolation { field: "page_token".into(), description: text.into() }]);
        e.reason = reason.to_owned();
        e.code = ErrorCode::InvalidArgument;
        e
    };
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| invalid("PAGE_TOKEN_INVALID", "not a page token returned by this API"))?;
    let parsed: Token<K> =
        serde_json::from_slice(&bytes).map_err(|_| invalid("PAGE_TOKEN_INVALID", "not a page token returned by this API"))?;
    if parsed.v != 1 {
        return Err(invalid("PAGE_TOKEN_INVALID", "page token from an unsupported version"));
    }
    if parsed.q != query {
        return Err(invalid(
            "PAGE_TOKEN_MISMATCH",
            "page token was issued for a different query (filter, search or date); restart without a page token",
        ));
    }
    Ok(Some(parsed.k))
}

/// Splits `rows` (read with `LIMIT size + 1`) into the page and the next
/// token (empty on the last page).
pub fn finish_page<T, K: Serialize>(mut rows: Vec<T>, size: u32, query: &str, key_of: impl Fn(&T) -> K) -> (Vec<T>, String) {
    if rows.len() > size as usize {
        rows.truncate(size as usize);
        let next = rows.last().map(|r| encode_token(query, &key_of(r))).unwrap_or_default();
        (rows, next)
    } else {
        (rows, String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_defaulted_and_coerced() {
        assert_eq!(page_size("t", 0).unwrap(), 50);
        assert_eq!(page_size("t", 7).unwrap(), 7);
        assert_eq!(page_size("t", 10_000).unwrap(), 200);
        let err = page_size("t", -1).unwrap_err();
        assert_eq!(err.violations[0].field, "page_size");
    }

    #[test]
    fn token_round_trips_for_the_same_query() {
        let q = fingerprint(&["category = HEALTH_CENTRE", "", "2024-01-01"]);
        let t = encode_token(&q, &("lens".to_string(), 42i64));
        let k: Option<(String, i64)> = decode_token("t", &q, &t).unwrap();
        assert_eq!(k, Some(("lens".to_string(), 42)));
    }

    #[test]
    fn token_with_another_query_is_refused() {
        let t = encode_token(&fingerprint(&["region = NORD"]), &1i64);
        let err = decode_token::<i64>("t", &fingerprint(&["region = SUD"]), &t).unwrap_err();
        assert_eq!(err.reason, "PAGE_TOKEN_MISMATCH");
        assert_eq!(err.violations[0].field, "page_token");
    }

    #[test]
    fn garbage_token_is_refused() {
        let err = decode_token::<i64>("t", "q", "%%%not-base64").unwrap_err();
        assert_eq!(err.reason, "PAGE_TOKEN_INVALID");
        let err = decode_token::<i64>("t", "q", &URL_SAFE_NO_PAD.encode(b"{}")).unwrap_err();
        assert_eq!(err.reason, "PAGE_TOKEN_INVALID");
    }

    #[test]
    fn fingerprint_separates_parts() {
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
    }

    #[test]
    fn finish_page_emits_a_token_only_when_more_rows_exist() {
        let (page, next) = finish_page(vec![1, 2, 3], 2, "q", |r| *r);
        assert_eq!(page, vec![1, 2]);
        assert_eq!(decode_token::<i32>("t", "q", &next).unwrap(), Some(2));
        let (page, next) = finish_page(vec![1, 2], 2, "q", |r| *r);
        assert_eq!(page.len(), 2);
        assert!(next.is_empty());
    }
}
