//! Append-only audit of writes: who, what, on which resource, under which
//! request id, when, and with what outcome.
//!
//! A successful write is audited in its own transaction, so a row exists if
//! and only if the change committed. A refused write is audited on its own
//! (its transaction was rolled back).

use sqlx::PgConnection;

use crate::identity::Identity;

/// One audited call.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// Who called.
    pub identity: &'a Identity,
    /// The RPC, e.g. `RegistryService/CreateStructure`.
    pub method: &'a str,
    /// The resource name written (or targeted).
    pub resource: &'a str,
    /// The request id of the call.
    pub request_id: &'a str,
    /// `OK` or the error reason.
    pub outcome: &'a str,
    /// Free text (e.g. the update mask).
    pub detail: &'a str,
}

/// Appends an audit row on the given connection (usually the write's transaction).
pub async fn record(conn: &mut PgConnection, entry: &AuditEntry<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (caller, caller_kind, method, resource, request_id, outcome, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&entry.identity.caller)
    .bind(entry.identity.kind.as_str())
    .bind(entry.method)
    .bind(entry.resource)
    .bind(entry.request_id)
    .bind(entry.outcome)
    .bind(entry.detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// Audits a refused write; failures to audit are logged, never hide the
/// original error.
pub async fn record_failure(pool: &sqlx::PgPool, entry: &AuditEntry<'_>) {
    match pool.acquire().await {
        Ok(mut conn) => {
            if let Err(e) = record(&mut conn, entry).await {
                tracing::warn!(error = %e, method = entry.method, "could not audit a refused call");
            }
        }
        Err(e) => tracing::warn!(error = %e, method = entry.method, "could not audit a refused call"),
    }
}
