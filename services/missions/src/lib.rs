//! The delegated-missions service.
//!
//! Same shape as every Filieris service: [`domain`] (pure rules: partner
//! scoping, due dates and statuses, governance compliance, claim targets,
//! routing, record validation), [`storage`] (PostgreSQL, one transaction per
//! write), [`grpc`] (the `MissionsService` adapter: validation, scoping),
//! [`finance`] (the finance budget client for ANGDM spending), [`error`] (one
//! error type and its mapping), [`seed`] (the demo data set), the migrations
//! of schema `missions` and the `filieris-missions` binary.

pub mod domain;
pub mod error;
pub mod finance;
pub mod grpc;
pub mod seed;
pub mod storage;

use std::future::Future;
use std::time::Duration;

use filieris_proto::missions::missions_service_server::MissionsServiceServer;
use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::IdentityInterceptor;
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;

pub use grpc::MissionsApi;

/// The service's PostgreSQL schema.
pub const SCHEMA: &str = "missions";
/// Migrations of the missions schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
/// Fully-qualified gRPC service name.
pub const SERVICE_NAME: &str = "filieris.missions.v1.MissionsService";

/// Serves the missions API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    api: MissionsApi,
    pool: sqlx::PgPool,
    key: InternalKey,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let routes = tonic::service::Routes::new(InterceptedService::new(MissionsServiceServer::new(api), IdentityInterceptor::new(key)));
    filieris_runtime::server::serve(listener, routes, pool, &[SERVICE_NAME], grace, shutdown).await
}
