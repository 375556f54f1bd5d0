//! `Idempotency-Key` for REST `POST` and `PATCH`.
//!
//! The first call of a (caller, key) is recorded as in progress, with a
//! fingerprint of what it asked (method, path and query, body); its response
//! is stored when it completes. Then:
//! - the same request again → the stored response, with `Idempotent-Replayed: true`;
//! - the same key with a different request → 422 `IDEMPOTENCY_KEY_REUSED`;
//! - the same key while the first call still runs → 409 `IDEMPOTENCY_KEY_IN_PROGRESS`;
//! - an in-progress entry older than its lease (the gateway crashed) is taken over.
//!
//! Responses that say "nothing was done, try again" (401, 403, 408, 429 and
//! every 5xx) are not kept: the entry is released so a retry runs. Entries
//! expire after 24 hours. The fingerprint is an HMAC under the internal key:
//! bodies may carry personal data, and a plain hash could be tested against
//! guesses. Over gRPC the services deduplicate `request_id` themselves.

use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use filieris_runtime::config::InternalKey;
use filieris_runtime::error::{ApiError, ErrorCode};
use filieris_runtime::identity::Identity;
use hmac::{Hmac, Mac};
use http::{HeaderValue, Method, StatusCode};
use prost_reflect::DescriptorPool;
use sha2::Sha256;
use sqlx::PgPool;

use crate::DOMAIN;
use crate::errors::{api_error_response, error_response_with};

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The header marking a replayed response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Longest accepted key (as the transcoder accepts for `request_id`).
pub const MAX_KEY_LEN: usize = 200;
/// How long a key is remembered.
const RETENTION: Duration = Duration::from_secs(24 * 3600);
/// Largest response kept for replay; a larger one is answered but not kept.
const MAX_STORED_BODY: usize = 8 * 1024 * 1024;

/// A first call in progress: finish it with [`IdempotencyStore::finish`].
#[derive(Debug, Clone)]
pub struct Ticket {
    caller: String,
    key: String,
}

/// What to do with a call carrying an `Idempotency-Key`.
#[derive(Debug)]
pub enum Begin {
    /// A first call: run it, then finish the ticket with its response.
    Fresh(Ticket),
    /// Answer this instead of running the call (a replay or a refusal).
    Respond(Response),
}

/// The gateway's idempotency records (schema `gateway`, table `rest_idempotency`).
#[derive(Clone)]
pub struct IdempotencyStore {
    pool: PgPool,
    secret: Arc<InternalKey>,
    lease: Duration,
}

/// True for the methods the header applies to.
pub fn applies_to(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PATCH)
}

impl IdempotencyStore {
    /// A store; `lease` is how long an in-progress entry blocks retries
    /// before it is presumed crashed. Purges expired entries hourly while it lives.
    pub fn new(pool: PgPool, secret: InternalKey, lease: Duration) -> Arc<Self> {
        let store = Arc::new(Self { pool, secret: Arc::new(secret), lease });
        tokio::spawn(purge(Arc::downgrade(&store)));
        store
    }

    fn fingerprint(&self, method: &Method, path_and_query: &str, body: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length; the error branch cannot happen.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.secret.bytes()) else {
            return Vec::new();
        };
        for part in [b"filieris-idempotency".as_slice(), method.as_str().as_bytes(), path_and_query.as_bytes(), body] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// Records the start of a call, or says how to answer it.
    pub async fn begin(
        &self,
        identity: &Identity,
        key: &str,
        method: &Method,
        path_and_query: &str,
        body: &[u8],
        pool: &DescriptorPool,
    ) -> Begin {
        if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
            let err = ApiError::new(
                ErrorCode::InvalidArgument,
                DOMAIN,
                "IDEMPOTENCY_KEY_INVALID",
                format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters (a UUID is recommended)"),
            );
            return Begin::Respond(api_error_response(err, pool));
        }
        let fingerprint = self.fingerprint(method, path_and_query, body);
        // Twice at most: a row released between our insert and our read is gone on the second try.
        for _ in 0..2 {
            match self.try_claim(identity, key, &fingerprint).await {
                Ok(true) => return Begin::Fresh(Ticket { caller: identity.caller.clone(), key: key.to_owned() }),
                Ok(false) => {}
                Err(e) => return Begin::Respond(api_error_response(ApiError::database(DOMAIN, &e), pool)),
            }
            let row: Result<Option<Existing>, sqlx::Error> = sqlx::query_as(
                "SELECT fingerprint, state, status, content_type, body FROM rest_idempotency \
                 WHERE caller = $1 AND idem_key = $2",
            )
            .bind(&identity.caller)
            .bind(key)
            .fetch_optional(&self.pool)
            .await;
            let existing = match row {
                Ok(Some(existing)) => existing,
                Ok(None) => continue,
                Err(e) => return Begin::Respond(api_error_response(ApiError::database(DOMAIN, &e), pool)),
            };
            return Begin::Respond(existing.answer(key, &fingerprint, pool));
        }
        Begin::Respond(in_progress(key, pool))
    }

    /// Inserts the in-progress entry, or takes over an expired or crashed one
    /// (same request, lease passed). True when this call owns the key now.
    async fn try_claim(&self, identity: &Identity, key: &str, fingerprint: &[u8]) -> Result<bool, sqlx::Error> {
        let claimed: Option<(bool,)> = sqlx::query_as(
            "INSERT INTO rest_idempotency (caller, idem_key, fingerprint, state, lease_until, expires_at) \
             VALUES ($1, $2, $3, 'in_progress', now() + make_interval(secs => $4), now() + make_interval(secs => $5)) \
             ON CONFLICT (caller, idem_key) DO UPDATE SET \
               fingerprint = EXCLUDED.fingerprint, state = 'in_progress', lease_until = EXCLUDED.lease_until, \
               status = NULL, content_type = NULL, body = NULL, created_at = now(), expires_at = EXCLUDED.expires_at \
             WHERE rest_idempotency.expires_at < now() \
                OR (rest_idempotency.state = 'in_progress' AND rest_idempotency.lease_until < now() \
                    AND rest_idempotency.fingerprint = EXCLUDED.fingerprint) \
             RETURNING true",
        )
        .bind(&identity.caller)
        .bind(key)
        .bind(fingerprint)
        .bind(self.lease.as_secs_f64())
        .bind(RETENTION.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?;
        Ok(claimed.is_some())
    }

    /// Stores the response of a first call (or releases the key when the
    /// response invites a retry) and returns the response to send.
    pub async fn finish(&self, ticket: Ticket, response: Response) -> Response {
        let status = response.status();
        let retryable = status.is_server_error() || matches!(status.as_u16(), 401 | 403 | 408 | 429);
        if retryable {
            self.release(&ticket).await;
            return response;
        }
        let (parts, body) = response.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_STORED_BODY).await {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(error = %e, "response too large to keep for Idempotency-Key replay");
                self.release(&ticket).await;
                let body = serde_json::json!({"error": {"code": 500, "status": "INTERNAL",
                    "message": "the response could not be read", "details": []}});
                return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response();
            }
        };
        let content_type = parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let stored = sqlx::query(
            "UPDATE rest_idempotency SET state = 'completed', status = $3, content_type = $4, body = $5 \
             WHERE caller = $1 AND idem_key = $2 AND state = 'in_progress'",
        )
        .bind(&ticket.caller)
        .bind(&ticket.key)
        .bind(status.as_u16() as i16)
        .bind(content_type)
        .bind(bytes.as_ref())
        .execute(&self.pool)
        .await;
        if let Err(e) = stored {
            // The entry stays in progress until its lease passes; then a retry runs again.
            tracing::warn!(error = %e, "could not store the response of an Idempotency-Key call");
        }
        Response::from_parts(parts, Body::from(bytes))
    }

    /// Forgets an unfinished call's key, so a retry runs.
    pub async fn release(&self, ticket: &Ticket) {
        let released = sqlx::query("DELETE FROM rest_idempotency WHERE caller = $1 AND idem_key = $2 AND state = 'in_progress'")
            .bind(&ticket.caller)
            .bind(&ticket.key)
            .execute(&self.pool)
            .await;
        if let Err(e) = released {
            tracing::warn!(error = %e, "could not release an Idempotency-Key; it is retryable after its lease");
        }
    }
}

#[derive(sqlx::FromRow)]
struct Existing {
    fingerprint: Vec<u8>,
    state: String,
    status: Option<i16>,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
}

impl Existing {
    fn answer(self, key: &str, fingerprint: &[u8], pool: &DescriptorPool) -> Response {
        if self.fingerprint != fingerprint {
            let err = ApiError::new(
                ErrorCode::InvalidArgument,
                DOMAIN,
                "IDEMPOTENCY_KEY_REUSED",
                format!("Idempotency-Key {key:?} was already used for a different request"),
            );
            // 422: the request is well-formed but conflicts with the key's first use.
            return error_response_with(&tonic::Status::from(err), 422, pool);
        }
        match (self.state.as_str(), self.status) {
            ("completed", Some(status)) => {
                let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
                let mut response = Response::new(Body::from(Bytes::from(self.body.unwrap_or_default())));
                *response.status_mut() = status;
                if let Some(ct) = self.content_type.and_then(|ct| HeaderValue::from_str(&ct).ok()) {
                    response.headers_mut().insert(http::header::CONTENT_TYPE, ct);
                }
                response.headers_mut().insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
                response
            }
            _ => in_progress(key, pool),
        }
    }
}

fn in_progress(key: &str, pool: &DescriptorPool) -> Response {
    let mut err = ApiError::new(
        ErrorCode::Aborted,
        DOMAIN,
        "IDEMPOTENCY_KEY_IN_PROGRESS",
        format!("a request with Idempotency-Key {key:?} is still running; retry when it has finished"),
    );
    err.retry_after = Some(Duration::from_secs(1));
    let mut response = api_error_response(err, pool);
    response.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// Deletes expired entries every hour while the store lives.
async fn purge(store: Weak<IdempotencyStore>) {
    loop {
        let Some(s) = store.upgrade() else { return };
        match sqlx::query("DELETE FROM rest_idempotency WHERE expires_at < now()").execute(&s.pool).await {
            Ok(done) if done.rows_affected() > 0 => tracing::debug!(purged = done.rows_affected(), "expired Idempotency-Keys purged"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not purge expired Idempotency-Keys"),
        }
        drop(s);
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
