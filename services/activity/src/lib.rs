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
pub mod records;
pub mod registry_sync;
pub mod storage;
pub mod synth;

use std::future::Future;
use std::time::Duration;

use filieris_proto::activity::activity_records_service_server::ActivityRecordsServiceServer;
use filieris_proto::activity::activity_service_server::ActivityServiceServer;
use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::IdentityInterceptor;
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;

/// The service's PostgreSQL schema.
pub const SCHEMA: &str = "activity";
/// Fully-qualified gRPC service name.
pub const SERVICE_NAME: &str = "filieris.activity.v1.ActivityService";
/// Migrations of the activity schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Largest gRPC message accepted (an import chunk).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Serves the acts API and the records API on `listener` until `shutdown`
/// completes.
pub async fn serve(
    listener: TcpListener,
    activity: grpc::ActivityApi,
    records: records::RecordsApi,
    pool: sqlx::PgPool,
    key: InternalKey,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let acts = ActivityServiceServer::new(activity).max_decoding_message_size(MAX_MESSAGE_BYTES);
    let records = ActivityRecordsServiceServer::new(records);
    let routes = tonic::service::Routes::new(InterceptedService::new(acts, IdentityInterceptor::new(key.clone())))
        .add_service(InterceptedService::new(records, IdentityInterceptor::new(key)));
    filieris_runtime::server::serve(listener, routes, pool, &[SERVICE_NAME, records::SERVICE_NAME], grace, shutdown).await
}
