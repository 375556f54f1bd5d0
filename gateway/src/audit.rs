//! The edge audit: every write and every refused call (401, 403, 429) that
//! crossed the gateway, with caller, RPC, resource, request id, time and
//! outcome, in the append-only table `gateway.audit_event` (a trigger refuses
//! UPDATE, DELETE and TRUNCATE).
//!
//! Written off the hot path: calls push events into a bounded queue and one
//! task inserts them in batches. When the queue is full (PostgreSQL slower
//! than the traffic) events are dropped and counted
//! (`filieris_gateway_audit_dropped_total`) rather than slowing every call;
//! a crash loses at most the queue. The services keep their own transactional
//! audit of each committed write (`audit_log` in their schema), so a write is
//! never unaudited: this table adds the edge's view, refusals included.
//!
//! Admins query it with `GET /admin/audit` (JSON, keyset-paginated) and
//! export it with `GET /admin/audit.csv`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use filieris_runtime::error::{ApiError, ErrorCode};
use http::HeaderValue;
use sqlx::{PgPool, Postgres, QueryBuilder};
use tokio::sync::mpsc;

use crate::errors::api_error_response;
use crate::metrics::Metrics;
use crate::{DOMAIN, Gateway};

/// Events waiting for the writer; beyond this they are dropped and counted.
const QUEUE: usize = 4096;
/// Largest batch insert.
const BATCH: usize = 256;
/// Default and largest page of `GET /admin/audit`.
const PAGE: i64 = 100;
const MAX_PAGE: i64 = 1000;
/// Most rows one CSV export returns (narrow the period for more).
const MAX_EXPORT: i64 = 100_000;

/// One audited call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// When the call was answered.
    pub at: DateTime<Utc>,
    /// Caller id; empty when the call carried no valid credential.
    pub caller: String,
    /// `partner`, `staff`, `job`, `service`, or empty.
    pub caller_kind: String,
    /// Full RPC name (`filieris.registry.v1.RegistryService/CreateStructure`), a
    /// gateway route (`gateway/QueryAudit`), or `unmatched`.
    pub rpc: String,
    /// The path called.
    pub resource: String,
    /// The request id.
    pub request_id: String,
    /// HTTP status of the answer (200 for gRPC, whose outcome is `grpc_code`).
    pub http_status: u16,
    /// gRPC code name (`OK`, `PERMISSION_DENIED`, …).
    pub grpc_code: String,
    /// `ErrorInfo.reason` of a refusal, empty on success.
    pub reason: String,
}

/// The queue in front of the writer.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<AuditEvent>,
    metrics: Arc<Metrics>,
}

impl AuditLog {
    /// Starts the writer task (it stops when every sender is gone, after
    /// writing what is queued).
    pub fn start(pool: PgPool, metrics: Arc<Metrics>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(writer(pool, rx, metrics.clone()));
        Self { tx, metrics }
    }

    /// Queues an event; never waits.
    pub fn record(&self, event: AuditEvent) {
        if let Err(e) = self.tx.try_send(event) {
            self.metrics.audit_dropped();
            tracing::warn!(error = %e, "audit queue full: event dropped");
        }
    }
}

async fn writer(pool: PgPool, mut rx: mpsc::Receiver<AuditEvent>, metrics: Arc<Metrics>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        if let Err(e) = insert(&pool, &batch).await {
            metrics.audit_failed(batch.len() as u64);
            tracing::error!(error = %e, events = batch.len(), "could not write audit events");
        }
        batch.clear();
    }
}

async fn insert(pool: &PgPool, events: &[AuditEvent]) -> Result<(), sqlx::Error> {
    let mut q: QueryBuilder<Postgres> =
        QueryBuilder::new("INSERT INTO audit_event (at, caller, caller_kind, rpc, resource, request_id, http_status, grpc_code, reason) ");
    q.push_values(events, |mut row, e| {
        row.push_bind(e.at)
            .push_bind(&e.caller)
            .push_bind(&e.caller_kind)
            .push_bind(&e.rpc)
            .push_bind(&e.resource)
            .push_bind(&e.request_id)
            .push_bind(e.http_status as i16)
            .push_bind(&e.grpc_code)
            .push_bind(&e.reason);
    });
    q.build().execute(pool).await.map(|_| ())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    at: DateTime<Utc>,
    caller: String,
    caller_kind: String,
    rpc: String,
    resource: String,
    request_id: String,
    http_status: i16,
    grpc_code: String,
    reason: String,
}

impl Row {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id.to_string(),
            "time": self.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "caller": self.caller,
            "callerKind": self.caller_kind,
            "rpc": self.rpc,
            "resource": self.resource,
            "requestId": self.request_id,
            "httpStatus": self.http_status,
            "grpcCode": self.grpc_code,
            "reason": self.reason,
        })
    }
}

/// Filters of a query or an export.
struct Filter {
    caller: Option<String>,
    rpc: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    before_id: Option<i64>,
    limit: i64,
}

fn bad(reason: &str, message: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidArgument, DOMAIN, reason, message)
}

impl Filter {
    fn parse(params: &HashMap<String, String>, default_limit: i64, max_limit: i64) -> Result<Self, ApiError> {
        let time = |name: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
            params
                .get(name)
                .filter(|v| !v.is_empty())
                .map(|v| {
                    DateTime::parse_from_rfc3339(v)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|e| bad("INVALID_TIME", format!("{name}={v:?} is not an RFC 3339 time: {e}")))
                })
                .transpose()
        };
        let text = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
        let before_id = match params.get("page_token").filter(|v| !v.is_empty()) {
            None => None,
            Some(t) => Some(t.parse::<i64>().map_err(|_| bad("INVALID_PAGE_TOKEN", "page_token is not one this API returned".into()))?),
        };
        let limit = match params.get("page_size").filter(|v| !v.is_empty()) {
            None => default_limit,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .map(|n| n.min(max_limit))
                .ok_or_else(|| bad("INVALID_PAGE_SIZE", format!("page_size must be 1 to {max_limit}")))?,
        };
        Ok(Self { caller: text("caller"), rpc: text("rpc"), from: time("from")?, to: time("to")?, before_id, limit })
    }

    async fn fetch(&self, pool: &PgPool) -> Result<Vec<Row>, sqlx::Error> {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "SELECT id, at, caller, caller_kind, rpc, resource, request_id, http_status, grpc_code, reason FROM audit_event WHERE true",
        );
        if let Some(c) = &self.caller {
            q.push(" AND caller = ").push_bind(c.clone());
        }
        if let Some(r) = &self.rpc {
            q.push(" AND rpc = ").push_bind(r.clone());
        }
        if let Some(t) = self.from {
            q.push(" AND at >= ").push_bind(t);
        }
        if let Some(t) = self.to {
            q.push(" AND at < ").push_bind(t);
        }
        if let Some(id) = self.before_id {
            q.push(" AND id < ").push_bind(id);
        }
        // Newest first; the id is the keyset (stable under concurrent inserts).
        q.push(" ORDER BY id DESC LIMIT ").push_bind(self.limit);
        q.build_query_as().fetch_all(pool).await
    }
}

/// Authenticates the caller and requires the admin role.
async fn admin(gateway: &Gateway, req: Request) -> Result<(), ApiError> {
    // Only the head travels across the await: a body is not Sync.
    let (parts, _) = req.into_parts();
    let identity = gateway.auth.authenticate(&parts.headers).await?;
    crate::edge::note_identity(&http::Request::from_parts(parts, ()), &identity);
    if identity.has_role("admin") {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::PermissionDenied, DOMAIN, "AUDIT_DENIED", "only administrators read the audit"))
    }
}

/// `GET /admin/audit?caller=&rpc=&from=&to=&page_size=&page_token=`: newest first.
pub(crate) async fn query(State(gateway): State<Arc<Gateway>>, Query(params): Query<HashMap<String, String>>, req: Request) -> Response {
    let pool = &gateway.descriptors;
    if let Err(e) = admin(&gateway, req).await {
        return api_error_response(e, pool);
    }
    let filter = match Filter::parse(&params, PAGE, MAX_PAGE) {
        Ok(f) => f,
        Err(e) => return api_error_response(e, pool),
    };
    match filter.fetch(&gateway.pool).await {
        Ok(rows) => {
            let next = if rows.len() as i64 == filter.limit { rows.last().map(|r| r.id.to_string()) } else { None };
            let events: Vec<_> = rows.iter().map(Row::json).collect();
            axum::Json(serde_json::json!({"events": events, "nextPageToken": next.unwrap_or_default()})).into_response()
        }
        Err(e) => api_error_response(ApiError::database(DOMAIN, &e), pool),
    }
}

/// `GET /admin/audit.csv?caller=&rpc=&from=&to=`: the same rows as CSV (at most 100 000).
pub(crate) async fn export_csv(
    State(gateway): State<Arc<Gateway>>,
    Query(params): Query<HashMap<String, String>>,
    req: Request,
) -> Response {
    let pool = &gateway.descriptors;
    if let Err(e) = admin(&gateway, req).await {
        return api_error_response(e, pool);
    }
    let filter = match Filter::parse(&params, MAX_EXPORT, MAX_EXPORT) {
        Ok(f) => f,
        Err(e) => return api_error_response(e, pool),
    };
    let rows = match filter.fetch(&gateway.pool).await {
        Ok(rows) => rows,
        Err(e) => return api_error_response(ApiError::database(DOMAIN, &e), pool),
    };
    let mut out = String::from("id,time,caller,caller_kind,rpc,resource,request_id,http_status,grpc_code,reason\n");
    for r in &rows {
        let fields = [
            r.id.to_string(),
            r.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            r.caller.clone(),
            r.caller_kind.clone(),
            r.rpc.clone(),
            r.resource.clone(),
            r.request_id.clone(),
            r.http_status.to_string(),
            r.grpc_code.clone(),
            r.reason.clone(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    let mut response = out.into_response();
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    response.headers_mut().insert(http::header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"audit.csv\""));
    if rows.len() as i64 == MAX_EXPORT {
        response.headers_mut().insert("x-filieris-truncated", HeaderValue::from_static("true"));
    }
    response
}

/// Quotes a CSV field when needed; a leading formula character is defused
/// (spreadsheets would evaluate `=…` from a caller-controlled path).
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) { format!("'{value}") } else { value.to_owned() };
    if value.contains([',', '"', '\n', '\r']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
    }

    #[test]
    fn filters_parse() {
        let params: HashMap<String, String> = [("from", "2026-11-23T00:00:00Z"), ("page_size", "5000"), ("page_token", "42")]
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        let f = Filter::parse(&params, PAGE, MAX_PAGE).expect("filter");
        assert_eq!(f.limit, MAX_PAGE);
        assert_eq!(f.before_id, Some(42));
        assert!(f.from.is_some() && f.to.is_none() && f.caller.is_none());
        let bad: HashMap<String, String> = [("from".to_owned(), "yesterday".to_owned())].into_iter().collect();
        assert!(Filter::parse(&bad, PAGE, MAX_PAGE).is_err());
    }
}
