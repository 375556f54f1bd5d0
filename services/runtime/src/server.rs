//! Serving a service: its gRPC API plus `grpc.health.v1`, server reflection
//! and gRPC-Web, with a span per call and graceful shutdown.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;

/// Serves `routes` (the service's own gRPC services) with health, reflection
/// and gRPC-Web on `listener` until `shutdown` completes; in-flight calls then
/// get `grace` to finish. Health turns NOT_SERVING as soon as shutdown starts.
pub async fn serve(
    listener: TcpListener,
    routes: Routes,
    pool: PgPool,
    service_names: &[&str],
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let (stop_tx, stop_rx) = watch::channel(false);
    let names: Vec<String> = service_names.iter().map(|s| (*s).to_owned()).collect();
    let up = crate::health::DatabaseUp::default();
    let watcher = tokio::spawn(crate::health::watch_database(reporter, pool, names, up.clone(), stop_rx.clone()));

    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(filieris_proto::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(filieris_proto::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let addr = listener.local_addr()?;
    tracing::info!(%addr, services = ?service_names, "serving gRPC");
    let router = tonic::transport::Server::builder()
        .accept_http1(true)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_status))
        .layer(tower_http::trace::TraceLayer::new_for_grpc().make_span_with(crate::telemetry::server_span))
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(crate::health::DatabaseGateLayer(up))
        .add_routes(routes)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_alpha);

    let signal = {
        let stop_tx = stop_tx.clone();
        async move {
            shutdown.await;
            tracing::info!("shutdown requested: NOT_SERVING, draining in-flight calls");
            let _ = stop_tx.send(true);
        }
    };
    // Small gRPC frames must leave at once: without TCP_NODELAY each answer
    // waits on the peer's delayed ACK (about 40 ms on Linux).
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        conn.inspect(|stream| {
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        })
    });
    let server = router.serve_with_incoming_shutdown(incoming, signal);
    tokio::pin!(server);
    let mut stopped = stop_rx;
    let result = tokio::select! {
        r = &mut server => r.map_err(anyhow::Error::from),
        _ = async {
            let _ = stopped.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(?grace, "grace period elapsed; dropping remaining calls");
            Ok(())
        }
    };
    let _ = stop_tx.send(true);
    let _ = watcher.await;
    result
}

/// A handler that panicked answers INTERNAL (a trailers-only gRPC answer)
/// instead of resetting the stream, which clients would read as CANCELLED.
/// The panic is a defect: it is logged with its message, the client gets none.
fn panic_status(panic: Box<dyn std::any::Any + Send + 'static>) -> http::Response<String> {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    tracing::error!(panic = %message, "a request handler panicked");
    let mut response = http::Response::new(String::new());
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", http::HeaderValue::from_static("13"));
    headers.insert("grpc-message", http::HeaderValue::from_static("internal%20error"));
    response
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// A protobuf timestamp.
pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: t.timestamp_subsec_nanos() as i32 }
}

#[cfg(test)]
mod tests {
    use tower::{Layer, ServiceExt};

    #[tokio::test]
    async fn a_panicking_handler_answers_internal() {
        let panicking = tower::service_fn(|_req: http::Request<String>| async {
            if true {
                panic!("boom");
            }
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        });
        let service = tower_http::catch_panic::CatchPanicLayer::custom(super::panic_status).layer(panicking);
        let response = service.oneshot(http::Request::new(String::new())).await.expect("answer");
        assert_eq!(response.status(), http::StatusCode::OK, "gRPC errors travel in headers");
        assert_eq!(response.headers().get("grpc-status").map(|v| v.as_bytes()), Some(&b"13"[..]));
        assert_eq!(response.headers().get("content-type").map(|v| v.as_bytes()), Some(&b"application/grpc"[..]));
    }
}
