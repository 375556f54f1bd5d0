//! The activity service.
//!
//! Same shape as every Filieris service: [`domain`] (row validation, codes,
//! scopes), [`storage`] (PostgreSQL schema `activity`: acts, batches,
//! rollups, the registry cache), [`grpc`] (the `ActivityService` adapter),
//! [`registry_sync`] (the registry cache fed by its change events) and the
//! `filieris-activity` binary.

pub mod domain;
pub mod error;
pub mod grpc;
pub mod registry_sync;
pub mod storage;

use std::future::Future;
use std::time::Duration;

use filieris_proto::activity::activity_service_server::ActivityServiceServer;
use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::IdentityInterceptor;
use tokio::net::TcpListener;

/// The service's PostgreSQL schema.
pub const SCHEMA: &str = "activity";
/// Fully-qualified gRPC service name.
pub const SERVICE_NAME: &str = "filieris.activity.v1.ActivityService";
/// Migrations of the activity schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Largest gRPC message accepted (an import chunk).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Serves the activity API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    api: grpc::ActivityApi,
    pool: sqlx::PgPool,
    key: InternalKey,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let server = ActivityServiceServer::new(api).max_decoding_message_size(MAX_MESSAGE_BYTES);
    let service = tonic::service::interceptor::InterceptedService::new(server, IdentityInterceptor::new(key));
    let routes = tonic::service::Routes::new(service);
    filieris_runtime::server::serve(listener, routes, pool, &[SERVICE_NAME], grace, shutdown).await
}
