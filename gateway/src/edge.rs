//! What the gateway does around every call besides routing it: the
//! concurrency limit with load shedding, quotas, `Idempotency-Key`, deadline
//! capping, one retry of unreachable reads, metrics and the edge audit.
//!
//! [`observe`] wraps the whole dispatch (outermost after the request id and
//! span); [`admit`] runs right after authentication, once the caller is known.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::{Buf, Bytes};
use filieris_runtime::config::{ConfigError, Env};
use filieris_runtime::error::{ApiError, ErrorCode};
use filieris_runtime::identity::Identity;
use http::{HeaderMap, HeaderValue, Method};
use http_body::{Frame, SizeHint};
use sqlx::PgPool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::audit::{AuditEvent, AuditLog};
use crate::errors::{api_error_response, code_name};
use crate::idempotency::{self, Begin, IdempotencyStore, Ticket};
use crate::metrics::Metrics;
use crate::quota::{QuotaConfig, Quotas, Verdict, retry_after_seconds};
use crate::rules::RouteMatch;
use crate::{DOMAIN, Gateway, RequestId, proxy};

/// Method-name prefixes of read RPCs: never audited unless refused, retried
/// once when their service is unreachable.
pub const READ_PREFIXES: &[&str] = &["List", "Get", "Query", "Count", "Evaluate", "Search", "Export", "Watch", "Check", "Stream"];

/// Edge settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeConfig {
    /// Quotas and their Redis.
    pub quota: QuotaConfig,
    /// `FILIERIS_GATEWAY_MAX_CONCURRENCY` (default 512): calls served at
    /// once; beyond it a call is refused at once with 503 / UNAVAILABLE.
    pub max_concurrency: usize,
    /// `FILIERIS_GATEWAY_IDEMPOTENCY_LEASE_SECONDS` (default 120): after this an
    /// in-progress `Idempotency-Key` whose call never finished is retryable.
    pub idempotency_lease: Duration,
}

impl EdgeConfig {
    /// Reads and validates the edge settings.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let max_concurrency: usize = env.parse_or("FILIERIS_GATEWAY_MAX_CONCURRENCY", 512)?;
        if max_concurrency == 0 {
            return Err(ConfigError::Invalid {
                name: "FILIERIS_GATEWAY_MAX_CONCURRENCY".into(),
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self {
            quota: QuotaConfig::from_env(env)?,
            max_concurrency,
            idempotency_lease: env.seconds_or("FILIERIS_GATEWAY_IDEMPOTENCY_LEASE_SECONDS", 120)?,
        })
    }
}

/// The edge state of a gateway.
pub struct Edge {
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    quotas: Arc<Quotas>,
    idempotency: Arc<IdempotencyStore>,
    audit: AuditLog,
    limit: Arc<Semaphore>,
}

impl Edge {
    /// Starts the background parts (Redis connection, audit writer, purge).
    pub async fn start(config: &EdgeConfig, pool: PgPool, internal_key: filieris_runtime::config::InternalKey) -> Self {
        let metrics = Arc::new(Metrics::default());
        Self {
            quotas: Quotas::start(&config.quota, metrics.clone()).await,
            idempotency: IdempotencyStore::new(pool.clone(), internal_key, config.idempotency_lease),
            audit: AuditLog::start(pool, metrics.clone()),
            limit: Arc::new(Semaphore::new(config.max_concurrency)),
            metrics,
        }
    }
}

/// Per-call state shared between [`observe`] and the dispatch.
#[derive(Clone, Default)]
pub(crate) struct CallSlot(Arc<Mutex<SlotState>>);

#[derive(Default)]
struct SlotState {
    identity: Option<Identity>,
    ticket: Option<(Arc<IdempotencyStore>, Ticket)>,
}

impl Drop for SlotState {
    fn drop(&mut self) {
        // Still here: the call was abandoned (the client went away and the
        // dispatch was dropped). Release the key now rather than making every
        // retry wait out the lease; the service deduplicates the key as its
        // request id, so a write that did commit is still not repeated.
        if let Some((store, ticket)) = self.ticket.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move { store.release(&ticket).await });
        }
    }
}

/// Remembers who called, for the audit (handlers outside the dispatch).
pub(crate) fn note_identity<B>(req: &http::Request<B>, identity: &Identity) {
    if let Some(slot) = req.extensions().get::<CallSlot>() {
        slot.0.lock().unwrap_or_else(|p| p.into_inner()).identity = Some(identity.clone());
    }
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(gateway): State<Arc<Gateway>>) -> Response {
    let mut response = gateway.edge.metrics.render().into_response();
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

/// Paths outside the limit, the metrics and the audit.
fn is_infrastructure(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// The RPC a call targets (a bounded label) and whether it is a read.
fn classify(gateway: &Gateway, method: &Method, path: &str, grpc: bool) -> (String, bool) {
    if grpc {
        return match method_of(gateway, path) {
            Some(m) => (format!("{}/{}", m.parent_service().full_name(), m.name()), READ_PREFIXES.iter().any(|p| m.name().starts_with(p))),
            // The gateway's own health and reflection, or an unknown method.
            None => ("unmatched".to_owned(), true),
        };
    }
    let read = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    match path {
        "/admin/audit" | "/admin/audit.csv" => return ("gateway/QueryAudit".to_owned(), false),
        "/v1/actBatches:upload" => return ("filieris.activity.v1.ActivityService/ImportActs".to_owned(), false),
        // Token requests are audited like writes: who asked for credentials, and who was refused.
        "/oauth/token" => return ("gateway/IssueToken".to_owned(), false),
        p if p.starts_with("/oauth/") || p.starts_with("/.well-known/") => return ("gateway/OAuth".to_owned(), read),
        // The web UI calls the services in process; its pages are one label.
        p if p == "/ui" || p.starts_with("/ui/") => return ("ui".to_owned(), read),
        _ => {}
    }
    match gateway.router.find(method, path) {
        RouteMatch::Found(rule, _) => (format!("{}/{}", rule.rpc.parent_service().full_name(), rule.rpc.name()), read),
        _ => ("unmatched".to_owned(), read),
    }
}

/// The method a gRPC path names, when the descriptors define it.
fn method_of(gateway: &Gateway, path: &str) -> Option<prost_reflect::MethodDescriptor> {
    let service = gateway.descriptors.get_service_by_name(proxy::service_of(path)?)?;
    let name = path.rsplit('/').next()?;
    service.methods().find(|m| m.name() == name)
}

/// The gRPC code name an HTTP status of a REST answer stands for.
fn rest_code(status: u16) -> &'static str {
    match status {
        200..=299 => "OK",
        400 | 405 | 413 | 422 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

/// True for refusals the audit keeps even on reads.
fn is_refusal(code: &str) -> bool {
    matches!(code, "UNAUTHENTICATED" | "PERMISSION_DENIED" | "RESOURCE_EXHAUSTED")
}

/// The middleware around the whole dispatch: concurrency limit, metrics,
/// idempotency completion and the audit.
pub(crate) async fn observe(State(gateway): State<Arc<Gateway>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if is_infrastructure(&path) {
        return next.run(req).await;
    }
    let grpc = proxy::is_grpc(req.headers());
    let content_type = req.headers().get(http::header::CONTENT_TYPE).cloned();
    let edge = &gateway.edge;
    let Ok(permit) = edge.limit.clone().try_acquire_owned() else {
        edge.metrics.shed();
        // Refused at once: a queue here only turns overload into timeouts.
        let mut err = ApiError::new(ErrorCode::Unavailable, DOMAIN, "OVERLOADED", "the gateway is at capacity; retry shortly");
        err.retry_after = Some(Duration::from_secs(1));
        let mut response = if grpc {
            proxy::status_response(tonic::Status::from(err), content_type.as_ref())
        } else {
            api_error_response(err, &gateway.descriptors)
        };
        response.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    let (rpc, read) = classify(&gateway, req.method(), &path, grpc);
    let request_id = req.extensions().get::<RequestId>().and_then(|RequestId(v)| v.to_str().ok()).map(str::to_owned).unwrap_or_default();
    let slot = CallSlot::default();
    req.extensions_mut().insert(slot.clone());
    edge.metrics.in_flight(1);
    let started = Instant::now();
    let mut response = next.run(req).await;

    let (identity, ticket) = {
        let mut state = slot.0.lock().unwrap_or_else(|p| p.into_inner());
        (state.identity.take(), state.ticket.take())
    };
    if let Some((store, ticket)) = ticket {
        response = store.finish(ticket, response).await;
    }
    let done = Done { gateway: gateway.clone(), rpc, read, path, request_id, identity, started, _permit: permit };
    if grpc {
        // Trailers-only answers carry their status in the headers; others at the end of the body.
        if let Some(code) = grpc_code(response.headers()) {
            let reason = grpc_reason(response.headers());
            done.finish(200, code, reason);
            return response;
        }
        let web = content_type.as_ref().and_then(|v| v.to_str().ok()).is_some_and(|ct| ct.starts_with("application/grpc-web"));
        return response.map(|body| Body::new(Observed { inner: body, done: Some(done), web: web.then(WebTrailers::default) }));
    }
    let status = response.status().as_u16();
    let code = rest_code(status);
    let mut reason = String::new();
    if status >= 400 && (!done.read || is_refusal(code)) {
        // Error bodies are small JSON: read the reason, then send the same bytes.
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
        reason = rest_reason(&bytes);
        response = Response::from_parts(parts, Body::from(bytes));
    }
    done.finish(status, code, reason);
    response
}

/// What is known of a call once it started; finished when its answer is complete.
struct Done {
    gateway: Arc<Gateway>,
    rpc: String,
    read: bool,
    path: String,
    request_id: String,
    identity: Option<Identity>,
    started: Instant,
    _permit: OwnedSemaphorePermit,
}

impl Done {
    fn finish(self, http_status: u16, code: &'static str, reason: String) {
        let edge = &self.gateway.edge;
        edge.metrics.record(&self.rpc, code, self.started.elapsed());
        edge.metrics.in_flight(-1);
        if !self.read || is_refusal(code) {
            let (caller, caller_kind) = self.identity.as_ref().map(|i| (i.caller.clone(), i.kind.as_str().to_owned())).unwrap_or_default();
            edge.audit.record(AuditEvent {
                at: chrono::Utc::now(),
                caller,
                caller_kind,
                rpc: self.rpc,
                resource: self.path,
                request_id: self.request_id,
                http_status,
                grpc_code: code.to_owned(),
                reason,
            });
        }
    }
}

fn grpc_code(headers: &HeaderMap) -> Option<&'static str> {
    let value = headers.get("grpc-status")?.to_str().ok()?.parse::<i32>().ok()?;
    Some(code_name(tonic::Code::from_i32(value)))
}

fn grpc_reason(headers: &HeaderMap) -> String {
    use base64::Engine as _;
    use prost::Message as _;
    let Some(raw) = headers.get("grpc-status-details-bin") else { return String::new() };
    // The value is base64, padded or not.
    let trimmed = raw.to_str().unwrap_or("").trim_end_matches('=');
    let decoded = base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed);
    let Ok(status) = decoded.map_err(|_| ()).and_then(|b| filieris_proto::google::rpc::Status::decode(b.as_slice()).map_err(|_| ())) else {
        return String::new();
    };
    status
        .details
        .iter()
        .find(|a| a.type_url.ends_with("google.rpc.ErrorInfo"))
        .and_then(|a| filieris_proto::google::rpc::ErrorInfo::decode(a.value.as_slice()).ok())
        .map(|info| info.reason)
        .unwrap_or_default()
}

fn rest_reason(body: &[u8]) -> String {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else { return String::new() };
    json["error"]["details"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"))
        .and_then(|info| info["reason"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// A gRPC response body that finishes its call when its trailers arrive (or
/// when it ends or is dropped without them).
struct Observed {
    inner: Body,
    done: Option<Done>,
    web: Option<WebTrailers>,
}

impl Observed {
    fn complete(&mut self, code: &'static str, reason: String) {
        if let Some(done) = self.done.take() {
            done.finish(200, code, reason);
        }
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        // Dropped before the end: the client went away.
        self.complete("CANCELLED", String::new());
    }
}

impl http_body::Body for Observed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let code = grpc_code(trailers).unwrap_or("UNKNOWN");
                    let reason = grpc_reason(trailers);
                    this.complete(code, reason);
                } else if let (Some(data), Some(web)) = (frame.data_ref(), this.web.as_mut()) {
                    web.feed(data);
                    if let Some(headers) = web.trailers.take() {
                        let code = grpc_code(&headers).unwrap_or("UNKNOWN");
                        this.complete(code, grpc_reason(&headers));
                    }
                }
            }
            Poll::Ready(Some(Err(_))) => this.complete("UNAVAILABLE", String::new()),
            Poll::Ready(None) => this.complete("UNKNOWN", String::new()),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Finds the trailers frame of a gRPC-Web body (flag 0x80), across chunks.
#[derive(Default)]
struct WebTrailers {
    header: Vec<u8>,
    remaining: usize,
    in_trailers: bool,
    trailer_bytes: Vec<u8>,
    trailers: Option<HeaderMap>,
}

impl WebTrailers {
    fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.remaining == 0 && self.header.len() < 5 {
                let take = (5 - self.header.len()).min(data.len());
                self.header.extend_from_slice(&data[..take]);
                data.advance(take);
                if self.header.len() == 5 {
                    self.in_trailers = self.header[0] & 0x80 != 0;
                    self.remaining = u32::from_be_bytes([self.header[1], self.header[2], self.header[3], self.header[4]]) as usize;
                    if self.remaining == 0 {
                        self.end_frame();
                    }
                }
                continue;
            }
            let take = self.remaining.min(data.len());
            if self.in_trailers && self.trailer_bytes.len() < 64 * 1024 {
                self.trailer_bytes.extend_from_slice(&data[..take]);
            }
            data.advance(take);
            self.remaining -= take;
            if self.remaining == 0 {
                self.end_frame();
            }
        }
    }

    fn end_frame(&mut self) {
        if self.in_trailers {
            let mut headers = HeaderMap::new();
            for line in self.trailer_bytes.split(|b| *b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if let Some(colon) = line.iter().position(|b| *b == b':')
                    && let (Ok(name), Ok(value)) =
                        (http::HeaderName::from_bytes(line[..colon].trim_ascii()), HeaderValue::from_bytes(line[colon + 1..].trim_ascii()))
                {
                    headers.insert(name, value);
                }
            }
            self.trailers = Some(headers);
        }
        self.header.clear();
        self.in_trailers = false;
        self.trailer_bytes.clear();
    }
}

/// Runs right after authentication: remembers the caller, applies its quota,
/// caps a gRPC deadline, and starts an `Idempotency-Key` call. Returns the
/// request to dispatch, or the answer to send instead.
pub(crate) async fn admit(gateway: &Gateway, req: Request, identity: &Identity) -> Result<Request, Response> {
    note_identity(&req, identity);
    quota(gateway, req.headers(), identity).await?;
    let grpc = proxy::is_grpc(req.headers());
    let edge = &gateway.edge;
    if grpc {
        // Unary calls get the gateway's deadline at most. A stream (a bulk import, a
        // feed) lasts as long as its data: it keeps the client's deadline, if any.
        let unary = method_of(gateway, req.uri().path()).is_some_and(|m| !m.is_client_streaming() && !m.is_server_streaming());
        return Ok(if unary { cap_deadline(req, gateway.timeout) } else { req });
    }
    let key = req.headers().get(idempotency::HEADER).map(|v| v.to_str().unwrap_or("\u{0}").to_owned());
    let Some(key) = key.filter(|_| idempotency::applies_to(req.method())) else {
        return Ok(req);
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, gateway.max_body).await else {
        let err = ApiError::new(
            ErrorCode::InvalidArgument,
            DOMAIN,
            "REQUEST_TOO_LARGE",
            format!("the request body is unreadable or larger than {} bytes", gateway.max_body),
        );
        return Err(api_error_response(err, &gateway.descriptors));
    };
    let target = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    match edge.idempotency.begin(identity, &key, &parts.method, target, &bytes, &gateway.descriptors).await {
        Begin::Respond(response) => Err(response),
        Begin::Fresh(ticket) => {
            if let Some(slot) = parts.extensions.get::<CallSlot>() {
                slot.0.lock().unwrap_or_else(|p| p.into_inner()).ticket = Some((edge.idempotency.clone(), ticket));
            }
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
    }
}

/// Takes one token of the caller's quota, or answers 429 / RESOURCE_EXHAUSTED
/// (`Retry-After`, `RetryInfo`) in the request's flavour.
pub(crate) async fn quota(gateway: &Gateway, headers: &HeaderMap, identity: &Identity) -> Result<(), Response> {
    let edge = &gateway.edge;
    let Verdict::Exceeded(delay) = edge.quotas.check(identity).await else {
        return Ok(());
    };
    edge.metrics.quota_rejected();
    let seconds = retry_after_seconds(delay);
    let mut err = ApiError::new(
        ErrorCode::ResourceExhausted,
        DOMAIN,
        "QUOTA_EXCEEDED",
        format!("{} exceeded its request quota; retry in {seconds} s", identity.caller),
    )
    .with_metadata("caller", &identity.caller);
    err.retry_after = Some(Duration::from_secs(seconds));
    let mut response = if proxy::is_grpc(headers) {
        proxy::status_response(tonic::Status::from(err), headers.get(http::header::CONTENT_TYPE))
    } else {
        api_error_response(err, &gateway.descriptors)
    };
    if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(http::header::RETRY_AFTER, v);
    }
    Err(response)
}

/// Parses a `grpc-timeout` value (`<digits><H|M|S|m|u|n>`).
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The client's deadline, capped by the gateway's, sent on to the service.
fn cap_deadline(mut req: Request, cap: Duration) -> Request {
    let client = req.headers().get("grpc-timeout").and_then(|v| v.to_str().ok()).and_then(parse_grpc_timeout);
    let effective = client.map_or(cap, |c| c.min(cap));
    // Milliseconds, at most 8 digits (about 27 hours) as the protocol requires.
    let ms = effective.as_millis().clamp(1, 99_999_999);
    if let Ok(v) = HeaderValue::from_str(&format!("{ms}m")) {
        req.headers_mut().insert("grpc-timeout", v);
    }
    req
}

/// A REST call to its service; a read whose service could not be reached
/// (no answer came back, so nothing ran) is tried once more.
pub(crate) async fn unary(
    gateway: &Gateway,
    upstream: &crate::upstream::UpstreamClient,
    path: &str,
    message: Bytes,
    metadata: tonic::metadata::MetadataMap,
    read: bool,
) -> Result<Bytes, tonic::Status> {
    let first = upstream.unary(path, message.clone(), metadata.clone(), gateway.timeout).await;
    match first {
        Err(status) if read && status.code() == tonic::Code::Unavailable && status.details().is_empty() => {
            gateway.edge.metrics.upstream_retry();
            tracing::info!(upstream = upstream.name, "read retried once: its service was unreachable");
            upstream.unary(path, message, metadata, gateway.timeout).await
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("S"), None);
        assert_eq!(parse_grpc_timeout("123456789S"), None);
        assert_eq!(parse_grpc_timeout("5x"), None);
    }

    #[test]
    fn deadlines_are_capped() {
        let req = Request::builder().header("grpc-timeout", "90S").body(Body::empty()).expect("request");
        let req = cap_deadline(req, Duration::from_secs(30));
        assert_eq!(req.headers()["grpc-timeout"], "30000m");
        let req = Request::builder().header("grpc-timeout", "2S").body(Body::empty()).expect("request");
        assert_eq!(cap_deadline(req, Duration::from_secs(30)).headers()["grpc-timeout"], "2000m");
        let req = Request::builder().body(Body::empty()).expect("request");
        assert_eq!(cap_deadline(req, Duration::from_secs(30)).headers()["grpc-timeout"], "30000m");
    }

    #[test]
    fn grpc_web_trailers_are_found_across_chunks() {
        let mut body = vec![0u8, 0, 0, 0, 2, 8, 1];
        let trailer = b"grpc-status:7\r\ngrpc-message:no\r\n";
        body.push(0x80);
        body.extend_from_slice(&(trailer.len() as u32).to_be_bytes());
        body.extend_from_slice(trailer);
        let mut web = WebTrailers::default();
        for chunk in body.chunks(3) {
            web.feed(chunk);
        }
        let headers = web.trailers.expect("trailers");
        assert_eq!(grpc_code(&headers), Some("PERMISSION_DENIED"));
    }
}
