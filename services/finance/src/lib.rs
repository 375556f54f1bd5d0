//! The finance service.
//!
//! Same shape as every Filieris service: [`budget`] (the COG funds: pure
//! rules in `budget::domain`, the append-only journal in `budget::storage`,
//! the `BudgetService` adapter in `budget::grpc`), [`error`] (one error type
//! and its mapping), [`demo`] (the `seed-demo` data), the migrations of
//! schema `finance` and the `filieris-finance` binary.

pub mod budget;
pub mod demo;
pub mod error;
pub mod results;

use std::future::Future;
use std::time::Duration;

use filieris_proto::finance::budget_service_server::BudgetServiceServer;
use filieris_proto::finance::finance_results_service_server::FinanceResultsServiceServer;
use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::IdentityInterceptor;
use tokio::net::TcpListener;
use tonic::service::interceptor::InterceptedService;

/// The service's PostgreSQL schema.
pub const SCHEMA: &str = "finance";
/// Migrations of the finance schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Serves the finance APIs on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    budget: budget::BudgetApi,
    results: results::ResultsApi,
    pool: sqlx::PgPool,
    key: InternalKey,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let routes =
        tonic::service::Routes::new(InterceptedService::new(BudgetServiceServer::new(budget), IdentityInterceptor::new(key.clone())))
            .add_service(InterceptedService::new(FinanceResultsServiceServer::new(results), IdentityInterceptor::new(key)));
    filieris_runtime::server::serve(listener, routes, pool, &[budget::SERVICE_NAME, results::SERVICE_NAME], grace, shutdown).await
}
