//! `request_id` idempotency for create and mutate calls.
//!
//! The first successful response of a (method, caller, request id) is stored in
//! the same transaction as the write; a retry gets that response back and
//! writes nothing. Concurrent duplicates are serialised by a transaction-level
//! advisory lock on the key, so the second waits for the first and then
//! replays it. A request id reused with a different request is refused.

use prost::Message;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use crate::error::{ApiError, ErrorCode, FieldViolation};
use crate::identity::Identity;

/// Longest accepted request id.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The idempotency key of one call.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    method: String,
    caller: String,
    request_id: String,
    request_hash: Vec<u8>,
}

impl IdempotencyKey {
    /// Builds the key; `request` must be the request with its `request_id`
    /// cleared, so the hash covers the payload only. `None` when the caller
    /// sent no request id (the call is then not deduplicated).
    pub fn new<M: Message>(
        domain: &str,
        method: &str,
        identity: &Identity,
        request_id: &str,
        request: &M,
    ) -> Result<Option<Self>, ApiError> {
        if request_id.is_empty() {
            return Ok(None);
        }
        if request_id.len() > MAX_REQUEST_ID_LEN || !request_id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::invalid(
                domain,
                vec![FieldViolation {
                    field: "request_id".into(),
                    description: format!("must be 1 to {MAX_REQUEST_ID_LEN} visible ASCII characters (a UUID is recommended)"),
                }],
            ));
        }
        let request_hash = Sha256::digest(request.encode_to_vec()).to_vec();
        Ok(Some(Self { method: method.to_owned(), caller: identity.caller.clone(), request_id: request_id.to_owned(), request_hash }))
    }

    fn lock_key(&self) -> i64 {
        let d = Sha256::new()
            .chain_update(self.method.as_bytes())
            .chain_update([0])
            .chain_update(self.caller.as_bytes())
            .chain_update([0])
            .chain_update(self.request_id.as_bytes())
            .finalize();
        let mut b = [0u8; 8];
        b.copy_from_slice(&d[..8]);
        i64::from_be_bytes(b)
    }

    /// The request id.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }
}

/// Locks the key for this transaction and returns the stored response of a
/// previous identical call, if any.
pub async fn replay<R: Message + Default>(domain: &str, conn: &mut PgConnection, key: &IdempotencyKey) -> Result<Option<R>, ApiError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key.lock_key())
        .execute(&mut *conn)
        .await
        .map_err(|e| ApiError::database(domain, &e))?;
    let row: Option<(Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT request_hash, response FROM idempotency WHERE method = $1 AND caller = $2 AND request_id = $3")
            .bind(&key.method)
            .bind(&key.caller)
            .bind(&key.request_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| ApiError::database(domain, &e))?;
    match row {
        None => Ok(None),
        Some((hash, _)) if hash != key.request_hash => Err(ApiError::new(
            ErrorCode::InvalidArgument,
            domain,
            "REQUEST_ID_REUSED",
            format!("request_id {:?} was already used for a different request", key.request_id),
        )),
        Some((_, response)) => R::decode(response.as_slice()).map(Some).map_err(|e| ApiError::internal(domain, &e)),
    }
}

/// Stores the response of a first call, in the write's transaction.
pub async fn save<R: Message>(domain: &str, conn: &mut PgConnection, key: &IdempotencyKey, response: &R) -> Result<(), ApiError> {
    sqlx::query("INSERT INTO idempotency (method, caller, request_id, request_hash, response) VALUES ($1, $2, $3, $4, $5)")
        .bind(&key.method)
        .bind(&key.caller)
        .bind(&key.request_id)
        .bind(&key.request_hash)
        .bind(response.encode_to_vec())
        .execute(conn)
        .await
        .map_err(|e| ApiError::database(domain, &e))?;
    Ok(())
}
