//! The Filieris gateway: the single entry point of the platform.
//!
//! One TCP port serves HTTP/1.1 and h2c:
//! - REST/JSON under `/v1/…`, derived at start from the `google.api.http`
//!   annotations of the descriptor set ([`rules`], [`transcode`]) and sent to
//!   the services as unary gRPC calls ([`upstream`]);
//! - gRPC and gRPC-Web (`content-type: application/grpc*`), streamed to the
//!   service owning the package ([`proxy`]);
//! - `GET /openapi.json` ([`openapi`]), `GET /healthz`, `GET /readyz`, and
//!   the gateway's own `grpc.health.v1` and server reflection;
//! - `GET /metrics` (Prometheus) and, for admins, `GET /admin/audit` and
//!   `/admin/audit.csv` ([`audit`]).
//!
//! Around every call ([`edge`]): a concurrency limit that sheds overload at
//! once, per-caller quotas ([`quota`]), `Idempotency-Key` for REST writes
//! ([`idempotency`]), deadline capping, metrics ([`metrics`]) and the audit of
//! writes and refusals.
//!
//! Every other route needs an API key ([`keys`]). The gateway strips any
//! `x-filieris-*` header a client sends and forwards the caller's identity
//! signed with the internal key (`filieris_runtime::identity`), a request id
//! (the client's when it is a sensible token, else a new UUIDv7, echoed in
//! every response) and the W3C trace context.
//!
//! The OpenAPI document, health and reflection are public: they describe the
//! API, not its data.

pub mod audit;
pub mod auth;
pub mod config;
pub mod descriptors;
pub mod edge;
pub mod errors;
pub mod idempotency;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod policy;
pub mod proxy;
pub mod quota;
pub mod rules;
pub mod template;
pub mod transcode;
mod ui;
pub mod upload;
pub mod upstream;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use filieris_runtime::config::InternalKey;
use filieris_runtime::error::{ApiError, ErrorCode};
use filieris_runtime::identity::{CallerKind, Identity, REQUEST_ID_HEADER};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use prost_reflect::DescriptorPool;
use sqlx::PgPool;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::ServiceExt;
use tracing::Instrument;

pub use config::GatewayConfig;
pub use keys::create_api_key;

use crate::errors::{api_error_response, error_response, error_response_with};
use crate::rules::{RestRouter, RouteMatch};
use crate::transcode::{RestInput, build_request, render_response};
use crate::upstream::UpstreamClient;

/// Error domain of the errors the gateway raises itself.
pub const DOMAIN: &str = "gateway.filieris";
/// The gateway's PostgreSQL schema.
pub const SCHEMA: &str = "gateway";
/// Migrations of the gateway schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
/// Caller id of the development key.
pub const DEV_CALLER: &str = "staff:dev-admin";

/// Headers carrying the W3C trace context.
const TRACE_HEADERS: &[&str] = &["traceparent", "tracestate"];
/// Longest client request id kept.
const MAX_REQUEST_ID: usize = 128;

/// Shared state of every request.
pub(crate) struct Gateway {
    pool: PgPool,
    descriptors: DescriptorPool,
    auth: auth::Authenticator,
    policy: policy::Policy,
    router: RestRouter,
    upstreams: Vec<UpstreamClient>,
    client: proxy::ProxyClient,
    internal_key: InternalKey,
    timeout: std::time::Duration,
    max_body: usize,
    openapi: Bytes,
    local_grpc: tonic::service::Routes,
    health: HealthReporter,
    edge: edge::Edge,
}

/// The request id of the current request (set by the outer middleware).
#[derive(Debug, Clone)]
pub(crate) struct RequestId(HeaderValue);

/// Builds the gateway's router: connects to PostgreSQL (schema `gateway`,
/// migrations applied), upserts the development key when configured, and
/// derives the REST routes and the OpenAPI document from the descriptors.
pub async fn app(config: GatewayConfig) -> anyhow::Result<Router> {
    Ok(build(config).await?.0)
}

/// Serves the gateway on `listener` until `shutdown` completes, then gives
/// in-flight calls the configured grace period.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: GatewayConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let grace = config.common.shutdown_grace;
    let (router, gateway) = build(config).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "gateway serving REST, gRPC and gRPC-Web");
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let health = gateway.health.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutdown requested: NOT_SERVING, draining in-flight requests");
        health.set_service_status("", ServingStatus::NotServing).await;
        let _ = stop_tx.send(true);
    };
    // Answers leave at once instead of waiting on the client's delayed ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let server = axum::serve(listener, router).with_graceful_shutdown(signal).into_future();
    tokio::select! {
        result = server => result.map_err(anyhow::Error::from),
        _ = async {
            let _ = stop_rx.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(?grace, "grace period elapsed; dropping remaining connections");
            Ok(())
        }
    }
}

async fn build(config: GatewayConfig) -> anyhow::Result<(Router, Arc<Gateway>)> {
    let descriptors = descriptors::pool()?;
    let pool = filieris_runtime::db::connect(&config.common.database_url, SCHEMA, config.common.db_max_connections, &MIGRATOR).await?;
    if let Some(key) = &config.dev_api_key {
        let admin = Identity {
            caller: DEV_CALLER.to_owned(),
            kind: CallerKind::Staff,
            roles: vec!["admin".to_owned()],
            scopes: vec!["*".to_owned()],
        };
        keys::upsert_api_key(&pool, key, &admin).await?;
        tracing::info!(caller = DEV_CALLER, "development API key ready");
    }

    // Only services whose protos exist are routed.
    let upstreams: Vec<UpstreamClient> =
        config.upstreams.iter().map(UpstreamClient::new).filter(|u| descriptors.services().any(|s| u.serves(s.full_name()))).collect();
    for u in &upstreams {
        tracing::info!(service = u.name, url = %u.url, "routing to service");
    }
    let rules = rules::http_rules(&descriptors, |service| upstreams.iter().any(|u| u.serves(service)))?;
    let openapi = Bytes::from(serde_json::to_vec(&openapi::document(&descriptors, &rules))?);

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_service_status("", ServingStatus::Serving).await;
    let reflection =
        tonic_reflection::server::Builder::configure().register_encoded_file_descriptor_set(descriptors::DESCRIPTOR_SET).build_v1()?;
    let reflection_alpha =
        tonic_reflection::server::Builder::configure().register_encoded_file_descriptor_set(descriptors::DESCRIPTOR_SET).build_v1alpha()?;
    let local_grpc = tonic::service::Routes::new(health_service).add_service(reflection).add_service(reflection_alpha);
    let policy = policy::Policy::shipped()?;
    let dev_issuer = match &config.dev_issuer_key {
        Some(path) => {
            let issuer = auth::dev_issuer::DevIssuer::load_or_create(path, &config.token_audience)?;
            tracing::warn!(key = %path.display(), "development token issuer enabled (FILIERIS_DEV_ISSUER=1): not for production");
            Some(Arc::new(issuer))
        }
        None => None,
    };

    let gateway = Arc::new(Gateway {
        edge: edge::Edge::start(&config.edge, pool.clone(), config.common.internal_key.clone()).await,
        auth: auth::Authenticator::new(
            keys::KeyStore::new(pool.clone(), config.key_cache_ttl),
            token_verifier(&config, dev_issuer.as_deref()),
        ),
        policy,
        pool,
        descriptors,
        router: RestRouter::new(rules),
        upstreams,
        client: proxy::client(),
        internal_key: config.common.internal_key.clone(),
        timeout: config.upstream_timeout,
        max_body: config.max_body_bytes,
        openapi,
        local_grpc,
        health,
    });
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi_json))
        .route("/metrics", get(edge::metrics))
        .route("/admin/audit", get(audit::query))
        .route("/admin/audit.csv", get(audit::export_csv))
        .route("/v1/actBatches:upload", axum::routing::post(upload::upload_acts))
        .merge(ui::router(&gateway, &config, dev_issuer.clone()))
        .merge(dev_issuer.map(auth::dev_issuer::routes).unwrap_or_default())
        .fallback(dispatch)
        .layer(middleware::from_fn_with_state(gateway.clone(), edge::observe))
        .layer(middleware::from_fn(request_context))
        .with_state(gateway.clone());
    Ok((router, gateway))
}

/// Strips client-sent identity headers, settles the request id, opens the
/// request's span and echoes the request id on the response.
async fn request_context(mut req: Request, next: Next) -> Response {
    let forged: Vec<HeaderName> = req.headers().keys().filter(|name| name.as_str().starts_with("x-filieris-")).cloned().collect();
    for name in forged {
        req.headers_mut().remove(name);
    }
    let request_id =
        req.headers().get(REQUEST_ID_HEADER).filter(|v| sensible_request_id(v.as_bytes())).cloned().unwrap_or_else(new_request_id);
    req.headers_mut().insert(REQUEST_ID_HEADER, request_id.clone());
    req.extensions_mut().insert(RequestId(request_id.clone()));

    let span = filieris_runtime::telemetry::server_span(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    response.headers_mut().insert(REQUEST_ID_HEADER, request_id);
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if path == "/healthz" || path == "/readyz" {
            tracing::debug!(%method, %path, status, elapsed_ms, "request");
        } else {
            tracing::info!(%method, %path, status, elapsed_ms, "request");
        }
    });
    response
}

/// A client request id is kept when it is a short token of safe characters.
fn sensible_request_id(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID
        && value.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn new_request_id() -> HeaderValue {
    // A UUID's text form is always a valid header value.
    HeaderValue::from_str(&uuid::Uuid::now_v7().to_string()).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

async fn healthz() -> Response {
    axum::Json(serde_json::json!({"status": "ok"})).into_response()
}

async fn readyz(State(gateway): State<Arc<Gateway>>) -> Response {
    if filieris_runtime::db::ping(&gateway.pool).await {
        axum::Json(serde_json::json!({"status": "ready"})).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({"status": "database unavailable"}))).into_response()
    }
}

async fn openapi_json(State(gateway): State<Arc<Gateway>>) -> Response {
    ([(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], gateway.openapi.clone()).into_response()
}

/// The tokens the gateway accepts: the configured OIDC issuer and, in
/// development, its own issuer.
fn token_verifier(config: &GatewayConfig, dev: Option<&auth::dev_issuer::DevIssuer>) -> auth::jwt::Verifier {
    let mut issuers = Vec::new();
    if let Some(oidc) = &config.oidc {
        tracing::info!(issuer = %oidc.issuer, jwks = %oidc.jwks_url, "accepting bearer tokens of the OIDC issuer");
        issuers.push(auth::jwt::Issuer {
            issuer: oidc.issuer.clone(),
            audience: config.token_audience.clone(),
            algs: oidc.algs.clone(),
            keys: auth::jwks::KeySource::Remote(auth::jwks::RemoteKeys::new(oidc.jwks_url.clone())),
        });
    }
    if let Some(dev) = dev {
        issuers.push(dev.trusted());
    }
    auth::jwt::Verifier::new(issuers)
}

/// Every API call: authenticate → resolve the RPC → policy → forward.
///
/// Request extensions after the policy: the authenticated [`Identity`], the
/// [`policy::RpcName`] and the [`Forwarded`] identity. A refusal carries a
/// [`policy::Denial`] response extension.
async fn dispatch(State(gateway): State<Arc<Gateway>>, mut req: Request) -> Response {
    let reply = Reply::of(&req);
    if reply.grpc
        && proxy::service_of(req.uri().path()).is_some_and(|s| s.starts_with("grpc.health.v1.") || s.starts_with("grpc.reflection."))
    {
        return match gateway.local_grpc.clone().oneshot(req).await {
            Ok(response) => response.map(Body::new),
            Err(never) => match never {},
        };
    }
    let identity = match gateway.auth.authenticate(req.headers()).await {
        Ok(identity) => identity,
        Err(err) => return reply.error(&gateway, err),
    };
    req.extensions_mut().insert(identity.clone());
    edge::note_identity(&req, &identity);
    let target = match resolve(&gateway, &req, &reply) {
        Ok(target) => target,
        Err(response) => return response,
    };
    let rpc = target.rpc();
    let forwarded = match authorize(&gateway, &identity, &rpc) {
        Ok(forwarded) => forwarded,
        Err(denial) => return reply.denied(&gateway, denial),
    };
    req.extensions_mut().insert(rpc);
    req.extensions_mut().insert(Forwarded(forwarded.clone()));
    match target {
        Target::Grpc(_) => grpc(&gateway, req, &forwarded).await,
        Target::Rest(rule, bindings) => rest(&gateway, req, &forwarded, rule, bindings).await,
    }
}

/// The identity forwarded to the service after the policy (request extension).
#[derive(Debug, Clone)]
pub struct Forwarded(pub Identity);

/// How errors are rendered for a request: gRPC status or JSON.
pub(crate) struct Reply {
    grpc: bool,
    content_type: Option<HeaderValue>,
}

impl Reply {
    pub(crate) fn of(req: &Request) -> Self {
        Self { grpc: proxy::is_grpc(req.headers()), content_type: req.headers().get(http::header::CONTENT_TYPE).cloned() }
    }

    pub(crate) fn error(&self, gateway: &Gateway, err: ApiError) -> Response {
        if self.grpc {
            proxy::status_response(err.into(), self.content_type.as_ref())
        } else {
            api_error_response(err, &gateway.descriptors)
        }
    }

    /// 403 / PERMISSION_DENIED with the denial as a response extension.
    pub(crate) fn denied(&self, gateway: &Gateway, denial: policy::Denial) -> Response {
        let mut response = self.error(gateway, ApiError::from(&denial));
        response.extensions_mut().insert(denial);
        response
    }
}

/// What a request calls.
enum Target<'a> {
    Grpc(policy::RpcName),
    Rest(&'a rules::RestRule, template::Bindings),
}

impl Target<'_> {
    fn rpc(&self) -> policy::RpcName {
        match self {
            Self::Grpc(rpc) => rpc.clone(),
            Self::Rest(rule, _) => policy::RpcName(rule.grpc_path().trim_start_matches('/').to_owned()),
        }
    }
}

/// The RPC of a request: its gRPC path, or the REST rule its route matches.
fn resolve<'a>(gateway: &'a Gateway, req: &Request, reply: &Reply) -> Result<Target<'a>, Response> {
    if reply.grpc {
        let unimplemented = |message: String| proxy::status_response(tonic::Status::unimplemented(message), reply.content_type.as_ref());
        let rpc = policy::RpcName::from_path(req.uri().path()).ok_or_else(|| unimplemented("not a gRPC method path".into()))?;
        let (service, method) = rpc.parts();
        // Unknown methods are UNIMPLEMENTED, as a server would answer, before the policy is asked.
        let known = gateway.descriptors.get_service_by_name(service).is_some_and(|s| s.methods().any(|m| m.name() == method));
        if !known || !gateway.upstreams.iter().any(|u| u.serves(service)) {
            return Err(unimplemented(format!("no service serves {}", rpc.0)));
        }
        return Ok(Target::Grpc(rpc));
    }
    let pool = &gateway.descriptors;
    let method = req.method();
    let path = req.uri().path();
    match gateway.router.find(method, path) {
        RouteMatch::Found(rule, bindings) => Ok(Target::Rest(rule, bindings)),
        RouteMatch::NotFound => {
            let err = ApiError::new(ErrorCode::NotFound, DOMAIN, "ROUTE_NOT_FOUND", format!("no API route {path}"));
            Err(api_error_response(err, pool))
        }
        RouteMatch::MethodNotAllowed(allowed) => {
            let list = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
            let message = format!("{method} is not allowed on {path}; allowed: {list}");
            let err = ApiError::new(ErrorCode::InvalidArgument, DOMAIN, "METHOD_NOT_ALLOWED", message.clone());
            // No canonical code means "wrong HTTP method": UNIMPLEMENTED, rendered as 405.
            let status = with_info(tonic::Status::new(tonic::Code::Unimplemented, message), &err);
            let mut response = error_response_with(&status, 405, pool);
            if let Ok(value) = HeaderValue::from_str(&list) {
                response.headers_mut().insert(http::header::ALLOW, value);
            }
            Err(response)
        }
    }
}

/// The policy's decision: the identity to forward, or the refusal (logged).
pub(crate) fn authorize(gateway: &Gateway, identity: &Identity, rpc: &policy::RpcName) -> Result<Identity, policy::Denial> {
    gateway.policy.decide(identity, rpc).inspect_err(|denial| {
        tracing::info!(caller = %identity.caller, rpc = %rpc.0, reason = denial.reason, "call denied by the policy");
    })
}

/// Authentication and policy for a route outside [`dispatch`] (the upload).
pub(crate) async fn admit(gateway: &Gateway, req: &mut Request, rpc: &str) -> Result<Identity, Response> {
    let reply = Reply::of(req);
    let identity = gateway.auth.authenticate(req.headers()).await.map_err(|err| reply.error(gateway, err))?;
    req.extensions_mut().insert(identity.clone());
    edge::note_identity(req, &identity);
    let rpc = policy::RpcName(rpc.to_owned());
    let forwarded = authorize(gateway, &identity, &rpc).map_err(|denial| reply.denied(gateway, denial))?;
    edge::quota(gateway, req.headers(), &forwarded).await?;
    req.extensions_mut().insert(rpc);
    req.extensions_mut().insert(Forwarded(forwarded.clone()));
    Ok(forwarded)
}

/// Headers every upstream call carries: signed identity, request id, trace context.
pub(crate) fn upstream_headers(gateway: &Gateway, identity: &Identity, incoming: &HeaderMap, request_id: Option<&RequestId>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    identity.write_headers(&gateway.internal_key, &mut headers);
    if let Some(RequestId(id)) = request_id {
        headers.insert(REQUEST_ID_HEADER, id.clone());
    }
    for name in TRACE_HEADERS {
        if let Some(value) = incoming.get(*name) {
            headers.insert(*name, value.clone());
        }
    }
    // With OpenTelemetry on, the gateway's span becomes the parent.
    filieris_runtime::telemetry::inject_current(&mut headers);
    headers
}

async fn grpc(gateway: &Gateway, req: Request, identity: &Identity) -> Response {
    let content_type = req.headers().get(http::header::CONTENT_TYPE).cloned();
    let Some(service) = proxy::service_of(req.uri().path()).map(str::to_owned) else {
        return proxy::status_response(tonic::Status::unimplemented("not a gRPC method path"), content_type.as_ref());
    };
    let req = match edge::admit(gateway, req, identity).await {
        Ok(req) => req,
        Err(response) => return response,
    };
    let Some(upstream) = gateway.upstreams.iter().find(|u| u.serves(&service)) else {
        return proxy::status_response(tonic::Status::unimplemented(format!("no service serves {service}")), content_type.as_ref());
    };
    let extra = upstream_headers(gateway, identity, req.headers(), req.extensions().get::<RequestId>());
    proxy::forward(&gateway.client, upstream, req, extra).await
}

async fn rest(gateway: &Gateway, req: Request, identity: &Identity, rule: &rules::RestRule, bindings: template::Bindings) -> Response {
    let pool = &gateway.descriptors;
    let req = match edge::admit(gateway, req, identity).await {
        Ok(req) => req,
        Err(response) => return response,
    };
    let method = req.method().clone();
    let query = req.uri().query().map(str::to_owned);
    // A non-ASCII key becomes one the validation refuses, rather than being ignored.
    let idempotency_key = req.headers().get("idempotency-key").map(|v| v.to_str().unwrap_or("\u{0}").to_owned());
    let extra = upstream_headers(gateway, identity, req.headers(), req.extensions().get::<RequestId>());
    let body = match axum::body::to_bytes(req.into_body(), gateway.max_body).await {
        Ok(body) => body,
        Err(_) => {
            let err = ApiError::new(
                ErrorCode::InvalidArgument,
                DOMAIN,
                "REQUEST_TOO_LARGE",
                format!("the request body is unreadable or larger than {} bytes", gateway.max_body),
            );
            return api_error_response(err, pool);
        }
    };
    let input = RestInput { method: &method, query: query.as_deref(), body: &body, idempotency_key: idempotency_key.as_deref() };
    let message = match build_request(rule, &bindings, input) {
        Ok(message) => message,
        Err(err) => return api_error_response(err, pool),
    };
    let Some(upstream) = gateway.upstreams.iter().find(|u| u.serves(rule.rpc.parent_service().full_name())) else {
        let err = ApiError::new(ErrorCode::Unavailable, DOMAIN, "UPSTREAM_UNAVAILABLE", "no service serves this route");
        return api_error_response(err, pool);
    };
    let encoded = Bytes::from(prost::Message::encode_to_vec(&message));
    let metadata = tonic::metadata::MetadataMap::from_headers(extra);
    match edge::unary(gateway, upstream, &rule.grpc_path(), encoded, metadata, method == Method::GET).await {
        Ok(bytes) => match render_response(rule, &bytes) {
            Ok(json) => axum::Json(json).into_response(),
            Err(err) => api_error_response(err, pool),
        },
        Err(status) if status.code() == tonic::Code::Unavailable && status.details().is_empty() => {
            tracing::warn!(upstream = upstream.name, error = %status.message(), "REST upstream unavailable");
            let err = ApiError::new(
                ErrorCode::Unavailable,
                DOMAIN,
                "UPSTREAM_UNAVAILABLE",
                format!("service {} is unavailable; retry later", upstream.name),
            )
            .with_metadata("service", upstream.name);
            api_error_response(err, pool)
        }
        Err(status) => error_response(&status, pool),
    }
}

/// A status with an `ErrorInfo` from `err`, keeping the status's own code.
fn with_info(status: tonic::Status, err: &ApiError) -> tonic::Status {
    let from_err = tonic::Status::from(err.clone());
    tonic::Status::with_details(status.code(), status.message(), Bytes::copy_from_slice(from_err.details()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_only_when_sensible() {
        assert!(sensible_request_id(b"0190b1b2-7c1e-7e3a-9a7b-3c2d1e0f9a8b"));
        assert!(sensible_request_id(b"client.req_42:a"));
        assert!(!sensible_request_id(b""));
        assert!(!sensible_request_id(b"has space"));
        assert!(!sensible_request_id(&[b'a'; 129]));
        assert!(sensible_request_id(new_request_id().as_bytes()));
    }
}
