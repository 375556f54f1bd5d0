//! The offer-of-care registry service.
//!
//! Same shape as every Filieris service: [`domain`] (pure rules), [`storage`]
//! (PostgreSQL, schema `registry`, migrations in `migrations/`), [`grpc`] (the
//! `RegistryService` adapter) and the `filieris-registry` binary.

pub mod demo;
pub mod domain;
pub mod error;
pub mod fhir;
pub mod grpc;
pub mod seed;
pub mod storage;

use std::future::Future;
use std::time::Duration;

use filieris_proto::registry::registry_service_server::RegistryServiceServer;
use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::IdentityInterceptor;
use sqlx::PgPool;
use tokio::net::TcpListener;

/// The service's PostgreSQL schema.
pub const SCHEMA: &str = "registry";
/// Source name of the registry's change events: consumers use it for their
/// offset, and the relay publishes to `events::stream_key(EVENT_SOURCE)`.
pub const EVENT_SOURCE: &str = "registry";
/// Fully-qualified gRPC service name (health entries).
pub const SERVICE_NAME: &str = "filieris.registry.v1.RegistryService";
/// Migrations of the registry schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Serves the registry on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    pool: PgPool,
    key: InternalKey,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let api = grpc::RegistryApi::new(storage::Store::new(pool.clone()));
    let service = RegistryServiceServer::with_interceptor(api, IdentityInterceptor::new(key));
    let routes = tonic::service::Routes::new(service);
    filieris_runtime::server::serve(listener, routes, pool, &[SERVICE_NAME], grace, shutdown).await
}
