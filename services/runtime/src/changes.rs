//! The change feed (and outbox) of a service.
//!
//! Every write appends a row to `change_log` in its own transaction. Writers
//! take a transaction-level advisory lock first, so sequences become visible in
//! commit order and a reader resuming "after sequence N" never skips a row that
//! commits late with a smaller number.

use chrono::{DateTime, Utc};
use filieris_proto::types::Change;
use sqlx::{PgConnection, PgPool};

/// Serialises writers of `change_log` (one key per schema is enough: the
/// table lives in the service's own schema).
const CHANGE_LOG_LOCK: i64 = 0x46_49_4c_43_48_47; // "FILCHG"

/// A change to append.
#[derive(Debug, Clone)]
pub struct NewChange<'a> {
    /// Resource name.
    pub resource: &'a str,
    /// e.g. `STRUCTURE_CREATED`.
    pub change_type: &'a str,
    /// Revision after the change.
    pub revision: i64,
    /// Request id of the write.
    pub request_id: &'a str,
    /// Event payload for consumers (small JSON).
    pub payload: serde_json::Value,
}

/// Appends a change in the write's transaction; returns its sequence.
pub async fn append(conn: &mut PgConnection, change: &NewChange<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(CHANGE_LOG_LOCK).execute(&mut *conn).await?;
    let (seq,): (i64,) = sqlx::query_as(
        "INSERT INTO change_log (resource, change_type, revision, request_id, payload) VALUES ($1, $2, $3, $4, $5) RETURNING sequence",
    )
    .bind(change.resource)
    .bind(change.change_type)
    .bind(change.revision)
    .bind(change.request_id)
    .bind(&change.payload)
    .fetch_one(conn)
    .await?;
    Ok(seq)
}

/// Reads up to `limit` changes after `after` (exclusive), in order.
pub async fn list(pool: &PgPool, after: i64, limit: u32) -> Result<Vec<Change>, sqlx::Error> {
    let rows: Vec<(i64, String, String, i64, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT sequence, resource, change_type, revision, request_id, commit_time FROM change_log \
         WHERE sequence > $1 ORDER BY sequence LIMIT $2",
    )
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(sequence, resource, change_type, revision, request_id, t)| Change {
            sequence,
            resource,
            change_type,
            revision,
            commit_time: Some(crate::server::timestamp(t)),
            request_id,
        })
        .collect())
}
