//! The shape of every write, shared by all services:
//!
//! ```text
//! let mut tx = match write::begin(DOMAIN, &pool, key).await? {
//!     Begun::Replayed(previous) => return Ok(previous),  // same request id seen: nothing is written again
//!     Begun::Fresh(tx) => tx,
//! };
//! …the change, in tx…
//! write::record(&mut tx, &Recorded { … }).await?;      // audit row + change-feed row
//! write::commit(DOMAIN, tx, key, &response).await?;    // idempotency record + COMMIT
//! ```
//!
//! Everything commits together or not at all, so a crash never leaves a write
//! without its audit row, its event or its idempotency record.

use prost::Message;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tracing::Instrument;

use crate::audit::{self, AuditEntry};
use crate::changes::{self, NewChange};
use crate::error::ApiError;
use crate::idempotency::{self, IdempotencyKey};
use crate::identity::Identity;

/// The start of a write.
pub enum Begun<R> {
    /// The request id was already used for this request: its response.
    Replayed(R),
    /// A new write, in this transaction.
    Fresh(Transaction<'static, Postgres>),
}

/// Opens the transaction of a write, or returns the stored response of an
/// earlier call with the same request id.
pub async fn begin<R: Message + Default>(domain: &str, pool: &PgPool, key: Option<&IdempotencyKey>) -> Result<Begun<R>, ApiError> {
    async {
        let mut tx = pool.begin().await.map_err(|e| ApiError::database(domain, &e))?;
        if let Some(k) = key
            && let Some(previous) = idempotency::replay(domain, &mut tx, k).await?
        {
            return Ok(Begun::Replayed(previous));
        }
        Ok(Begun::Fresh(tx))
    }
    .instrument(crate::db::span("write.begin"))
    .await
}

/// What one change of a write records.
pub struct Recorded<'a> {
    /// Caller.
    pub identity: &'a Identity,
    /// RPC, e.g. `RegistryService/CreateStructure`.
    pub method: &'a str,
    /// Request id (may be empty).
    pub request_id: &'a str,
    /// Resource changed.
    pub resource: &'a str,
    /// Change type for the feed, e.g. `STRUCTURE_CREATED`.
    pub change_type: &'a str,
    /// Revision after the change (0 when the resource has none).
    pub revision: i64,
    /// Free text for the audit and the event.
    pub detail: &'a str,
}

/// Appends the audit row and the change-feed row of one change.
pub async fn record(conn: &mut PgConnection, r: &Recorded<'_>) -> Result<(), sqlx::Error> {
    record_rows(conn, r).instrument(crate::db::span("write.record")).await
}

async fn record_rows(conn: &mut PgConnection, r: &Recorded<'_>) -> Result<(), sqlx::Error> {
    audit::record(
        &mut *conn,
        &AuditEntry {
            identity: r.identity,
            method: r.method,
            resource: r.resource,
            request_id: r.request_id,
            outcome: "OK",
            detail: r.detail,
        },
    )
    .await?;
    changes::append(
        conn,
        &NewChange {
            resource: r.resource,
            change_type: r.change_type,
            revision: r.revision,
            request_id: r.request_id,
            payload: serde_json::json!({ "detail": r.detail }),
        },
    )
    .await?;
    Ok(())
}

/// Stores the response under the request id (if any) and commits.
pub async fn commit<R: Message>(
    domain: &str,
    mut tx: Transaction<'static, Postgres>,
    key: Option<&IdempotencyKey>,
    response: &R,
) -> Result<(), ApiError> {
    async {
        if let Some(k) = key {
            idempotency::save(domain, &mut tx, k, response).await?;
        }
        tx.commit().await.map_err(|e| ApiError::database(domain, &e))
    }
    .instrument(crate::db::span("write.commit"))
    .await
}

/// Who may call a service's write RPCs, and how a refusal reads.
pub struct Writers {
    /// Roles allowed to write (any one of them).
    pub roles: &'static [&'static str],
    /// `ErrorInfo.reason` of a refusal, e.g. `REGISTRY_WRITE_DENIED`.
    pub denied_reason: &'static str,
    /// What the service holds, for the message ("the registry", "budgets").
    pub holds: &'static str,
}

/// Runs a write RPC the same way in every service: checks the caller's role,
/// builds the idempotency key from the request without its request id (so
/// the hash covers the payload only), runs `run`, and audits a refusal (a
/// success is audited inside its own transaction by [`record`]).
#[allow(clippy::too_many_arguments)]
pub async fn guarded<Req, Resp, E, F, Fut>(
    pool: &PgPool,
    domain: &str,
    writers: &Writers,
    request: tonic::Request<Req>,
    method: &str,
    resource: impl Fn(&Req) -> String,
    request_id: impl Fn(&mut Req) -> String,
    run: F,
) -> Result<tonic::Response<Resp>, tonic::Status>
where
    Req: Message + Clone,
    E: Into<ApiError>,
    F: FnOnce(Req, Identity, Option<IdempotencyKey>, String) -> Fut,
    Fut: std::future::Future<Output = Result<Resp, E>>,
{
    let identity = crate::identity::caller(&request)?.clone();
    let req = request.into_inner();
    let mut without_id = req.clone();
    let rid = request_id(&mut without_id);
    let target = resource(&req);
    let result: Result<Resp, ApiError> = async {
        if !writers.roles.iter().any(|r| identity.has_role(r)) {
            return Err(ApiError::new(
                crate::error::ErrorCode::PermissionDenied,
                domain,
                writers.denied_reason,
                format!(
                    "{} may read {} but not change them (roles needed: {})",
                    identity.caller,
                    writers.holds,
                    writers.roles.join(" or ")
                ),
            ));
        }
        let key = IdempotencyKey::new(domain, method, &identity, &rid, &without_id)?;
        run(req, identity.clone(), key, rid.clone()).await.map_err(Into::into)
    }
    .await;
    match result {
        Ok(resp) => Ok(tonic::Response::new(resp)),
        Err(err) => {
            audit::record_failure(
                pool,
                &AuditEntry {
                    identity: &identity,
                    method,
                    resource: &target,
                    request_id: &rid,
                    outcome: &err.reason,
                    detail: &err.message,
                },
            )
            .await;
            Err(err.into())
        }
    }
}
