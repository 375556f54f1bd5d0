//! The steering service.
//!
//! Same shape as every Filieris service: [`domain`] (pure rules: catalogue,
//! targets, values, action calendar), [`error`] (one error type and its
//! mapping), [`storage`] (schema `steering`, append-only histories),
//! [`sources`] (the calls to the other services' metrics APIs), [`grpc`] (the
//! `SteeringService` adapter), [`report`] (the execution report job) and
//! the `filieris-steering` binary.

pub mod domain;
pub mod error;
pub mod grpc;
pub mod report;
pub mod sources;
pub mod storage;

use std::future::Future;
use std::time::Duration;

use filieris_proto::steering::steering_service_server::SteeringServiceServer;
use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::IdentityInterceptor;
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;

pub use grpc::SteeringApi;

/// The service's PostgreSQL schema.
pub const SCHEMA: &str = "steering";
/// Migrations of the steering schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Serves the steering API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    api: SteeringApi,
    pool: sqlx::PgPool,
    key: InternalKey,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let routes = tonic::service::Routes::new(InterceptedService::new(SteeringServiceServer::new(api), IdentityInterceptor::new(key)));
    filieris_runtime::server::serve(listener, routes, pool, &[grpc::SERVICE_NAME], grace, shutdown).await
}
