//! The HR / GEPP service.
//!
//! Same shape as every Filieris service: [`domain`] (pure rules: identifiers,
//! exact rates, departures foreseen, the COG 2022-2024 HR indicators),
//! [`storage`] (PostgreSQL, one transaction per write), [`grpc`] (the
//! `HrService` adapter: validation, roles), [`error`] (one error type and its
//! mapping), [`seed`] (the demo data set), the migrations of schema `hr` and
//! the `filieris-hr` binary.

pub mod domain;
pub mod error;
pub mod grpc;
pub mod seed;
pub mod storage;

use std::future::Future;
use std::time::Duration;

use filieris_proto::hr::hr_service_server::HrServiceServer;
use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::IdentityInterceptor;
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;

pub use grpc::HrApi;

/// The service's PostgreSQL schema.
pub const SCHEMA: &str = "hr";
/// Migrations of the hr schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
/// Fully-qualified gRPC service name.
pub const SERVICE_NAME: &str = "filieris.hr.v1.HrService";
/// Caller id of the service's own calls (registry cache).
pub const SERVICE_CALLER: &str = "service:hr";

/// Serves the HR API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    api: HrApi,
    pool: sqlx::PgPool,
    key: InternalKey,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let routes = tonic::service::Routes::new(InterceptedService::new(HrServiceServer::new(api), IdentityInterceptor::new(key)));
    filieris_runtime::server::serve(listener, routes, pool, &[SERVICE_NAME], grace, shutdown).await
}
