//! `grpc.health.v1`: SERVING only while the database answers, NOT_SERVING
//! while it does not and from the moment shutdown starts, so load balancers
//! stop routing before the process stops accepting.
//!
//! The same reading feeds [`DatabaseGate`] (set in `server::serve`): while the
//! database is known to be down, calls are refused at once with UNAVAILABLE
//! instead of each waiting for the pool's acquire timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;

use sqlx::PgPool;
use tokio::sync::watch;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// How often readiness is re-checked while the database answers.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(2);
/// How often it is re-checked while it does not (recovery is seen quickly).
pub const DOWN_CHECK_INTERVAL: Duration = Duration::from_millis(250);
/// Longest wait for one check: an unreachable server must not hold the
/// reading for the pool's whole acquire timeout.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether the database answered the last check; shared by the watcher and
/// the gate. Starts up: the service only serves after connecting.
#[derive(Debug, Clone)]
pub struct DatabaseUp(Arc<AtomicBool>);

impl Default for DatabaseUp {
    fn default() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }
}

impl DatabaseUp {
    /// The last reading.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, up: bool) {
        self.0.store(up, Ordering::Relaxed);
    }
}

/// Keeps the health of `services` (and the overall "" entry) in line with the
/// database until `stopping` turns true, then reports NOT_SERVING for good.
pub async fn watch_database(
    reporter: HealthReporter,
    pool: PgPool,
    services: Vec<String>,
    up_flag: DatabaseUp,
    mut stopping: watch::Receiver<bool>,
) {
    let mut last: Option<bool> = None;
    loop {
        if *stopping.borrow() {
            set_all(&reporter, &services, ServingStatus::NotServing).await;
            return;
        }
        let up = tokio::time::timeout(CHECK_TIMEOUT, crate::db::ping(&pool)).await.unwrap_or(false);
        up_flag.set(up);
        if last != Some(up) {
            if up {
                tracing::info!("database reachable: SERVING");
            } else {
                tracing::warn!("database unreachable: NOT_SERVING");
            }
            set_all(&reporter, &services, if up { ServingStatus::Serving } else { ServingStatus::NotServing }).await;
            last = Some(up);
        }
        tokio::select! {
            _ = tokio::time::sleep(if up { CHECK_INTERVAL } else { DOWN_CHECK_INTERVAL }) => {}
            _ = stopping.changed() => {}
        }
    }
}

async fn set_all(reporter: &HealthReporter, services: &[String], status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for s in services {
        reporter.set_service_status(s, status).await;
    }
}

/// Tower layer refusing calls with UNAVAILABLE (`DATABASE_UNAVAILABLE`) while
/// the database is down; health and reflection still answer.
#[derive(Debug, Clone)]
pub struct DatabaseGateLayer(pub DatabaseUp);

impl<S> tower::Layer<S> for DatabaseGateLayer {
    type Service = DatabaseGate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DatabaseGate { inner, up: self.0.clone() }
    }
}

/// See [`DatabaseGateLayer`].
#[derive(Debug, Clone)]
pub struct DatabaseGate<S> {
    inner: S,
    up: DatabaseUp,
}

/// Paths answered even while the database is down.
fn always_served(path: &str) -> bool {
    path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.")
}

impl<S, B> tower::Service<http::Request<B>> for DatabaseGate<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if !self.up.get() && !always_served(request.uri().path()) {
            let status: tonic::Status = crate::error::ApiError::new(
                crate::error::ErrorCode::Unavailable,
                "filieris",
                "DATABASE_UNAVAILABLE",
                "the database is unavailable; retry later",
            )
            .into();
            return Box::pin(std::future::ready(Ok(status.into_http())));
        }
        Box::pin(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer, Service, ServiceExt};

    fn ok_service() -> impl tower::Service<
        http::Request<()>,
        Response = http::Response<tonic::body::Body>,
        Error = std::convert::Infallible,
        Future = impl Send + 'static,
    > + Clone {
        tower::service_fn(|_req: http::Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(tonic::body::Body::empty()))
        })
    }

    fn grpc_status(response: &http::Response<tonic::body::Body>) -> Option<String> {
        response.headers().get("grpc-status").map(|v| v.to_str().unwrap_or_default().to_owned())
    }

    #[tokio::test]
    async fn the_gate_refuses_calls_while_the_database_is_down_but_not_health() {
        let up = DatabaseUp::default();
        let mut gate = DatabaseGateLayer(up.clone()).layer(ok_service());
        let call = |path: &str| http::Request::builder().uri(path).body(()).unwrap();

        let r = gate.ready().await.unwrap().call(call("/filieris.registry.v1.RegistryService/GetStructure")).await.unwrap();
        assert_eq!(grpc_status(&r), None, "passes while up");

        up.set(false);
        let r = gate.ready().await.unwrap().call(call("/filieris.registry.v1.RegistryService/GetStructure")).await.unwrap();
        assert_eq!(grpc_status(&r).as_deref(), Some("14"), "UNAVAILABLE while down");
        let r = gate.ready().await.unwrap().call(call("/grpc.health.v1.Health/Check")).await.unwrap();
        assert_eq!(grpc_status(&r), None, "health still answers");

        up.set(true);
        let r = gate.ready().await.unwrap().call(call("/filieris.registry.v1.RegistryService/GetStructure")).await.unwrap();
        assert_eq!(grpc_status(&r), None, "passes again once up");
    }
}
