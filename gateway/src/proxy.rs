//! gRPC and gRPC-Web forwarding: a streaming reverse proxy over HTTP/2
//! (prior knowledge) to the service owning the package. Bodies and trailers
//! are streamed through unchanged; gRPC-Web is forwarded as-is (services
//! accept it through tonic-web).

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Uri, Version};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tonic::Status;

use crate::upstream::UpstreamClient;

/// The HTTP/2 client shared by every proxied call.
pub type ProxyClient = Client<HttpConnector, Body>;

/// A new HTTP/2-only client.
pub fn client() -> ProxyClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(std::time::Duration::from_secs(5)));
    Client::builder(TokioExecutor::new()).http2_only(true).build(connector)
}

/// Headers that describe one hop, never forwarded.
const HOP_BY_HOP: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "proxy-authorization"];

/// True for a gRPC or gRPC-Web request.
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| ct.starts_with("application/grpc"))
}

/// The gRPC service named by a path `/<package>.<Service>/<Method>`.
pub fn service_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix('/')?;
    let (service, method) = rest.split_once('/')?;
    (!service.is_empty() && !method.is_empty() && !method.contains('/')).then_some(service)
}

/// A trailers-only gRPC error response, in the request's gRPC flavour.
pub fn status_response(status: Status, request_content_type: Option<&HeaderValue>) -> Response {
    let mut response: Response = status.into_http();
    if let Some(ct) = request_content_type.filter(|ct| ct.to_str().is_ok_and(|s| s.starts_with("application/grpc-web"))) {
        response.headers_mut().insert(http::header::CONTENT_TYPE, ct.clone());
    }
    response
}

/// Forwards `req` to `upstream`; `extra` (identity, request id, trace
/// context) replaces the client's values.
pub async fn forward(client: &ProxyClient, upstream: &UpstreamClient, req: Request<Body>, extra: HeaderMap) -> Response {
    let content_type = req.headers().get(http::header::CONTENT_TYPE).cloned();
    let (mut parts, body) = req.into_parts();
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut target = upstream.url.clone().into_parts();
    target.path_and_query = path_and_query.parse().ok();
    parts.uri = match Uri::from_parts(target) {
        Ok(uri) => uri,
        Err(e) => return status_response(Status::internal(format!("bad upstream URI: {e}")), content_type.as_ref()),
    };
    parts.version = Version::HTTP_2;
    for name in HOP_BY_HOP {
        parts.headers.remove(*name);
    }
    // Credentials stop at the gateway: services trust the signed identity only.
    parts.headers.remove(http::header::AUTHORIZATION);
    parts.headers.remove(HeaderName::from_static("x-api-key"));
    for (name, value) in &extra {
        parts.headers.insert(name.clone(), value.clone());
    }
    match client.request(Request::from_parts(parts, body)).await {
        Ok(response) => response.map(Body::new),
        Err(err) => {
            tracing::warn!(upstream = upstream.name, error = %err, "gRPC upstream unreachable");
            status_response(Status::unavailable(format!("service {} is unavailable", upstream.name)), content_type.as_ref())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_from_paths() {
        assert_eq!(service_of("/filieris.registry.v1.RegistryService/GetStructure"), Some("filieris.registry.v1.RegistryService"));
        assert_eq!(service_of("/grpc.health.v1.Health/Check"), Some("grpc.health.v1.Health"));
        assert_eq!(service_of("/v1/structures"), Some("v1"));
        assert_eq!(service_of("/x"), None);
        assert_eq!(service_of("/a/b/c"), None);
    }

    #[test]
    fn errors_keep_the_grpc_web_content_type() {
        let ct = HeaderValue::from_static("application/grpc-web+proto");
        let r = status_response(Status::unauthenticated("no"), Some(&ct));
        assert_eq!(r.headers().get("content-type"), Some(&ct));
        assert_eq!(r.headers().get("grpc-status").map(|v| v.as_bytes()), Some(&b"16"[..]));
        let r = status_response(Status::unimplemented("no"), None);
        assert_eq!(r.headers().get("content-type").map(|v| v.as_bytes()), Some(&b"application/grpc"[..]));
    }
}
