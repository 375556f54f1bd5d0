//! `filieris-finance`: serves the finance APIs. At start it loads the COG
//! budget tables (2022–2024) once; loading again adds nothing.

use std::process::ExitCode;

use anyhow::Context;
use filieris_finance::budget::BudgetApi;
use filieris_finance::budget::storage::Store;
use filieris_finance::results::{self, storage::ResultsStore};
use filieris_runtime::config::{CommonConfig, ConfigError, Env};
use filieris_runtime::events::{Consumer, RedisConfig};
use filieris_runtime::registry_cache::RegistryCache;

const USAGE: &str = "usage: filieris-finance [serve]";

#[tokio::main]
async fn main() -> ExitCode {
    let _telemetry = match filieris_runtime::telemetry::init("filieris-finance") {
        Ok(g) => g,
        Err(e) => {
            eprintln!("filieris-finance: {e}");
            return ExitCode::from(2);
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("serve") => run().await,
        Some(other) => Err(anyhow::anyhow!("unknown command {other:?}; {USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "filieris-finance failed");
            eprintln!("filieris-finance: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let env = Env::process();
    let common = CommonConfig::from_env(&env)?;
    let addr = env.addr_or("FILIERIS_FINANCE_ADDR", "127.0.0.1:50053")?;
    let pool = filieris_runtime::db::connect(
        &common.database_url,
        filieris_finance::SCHEMA,
        common.db_max_connections,
        &filieris_finance::MIGRATOR,
    )
    .await?;
    let store = Store::new(pool.clone());
    store.load_reference().await.context("loading the COG budget tables")?;
    // Results: the registry cache is fed by the registry's events (Redis when configured, its change feed otherwise).
    let registry_url = env.get("FILIERIS_REGISTRY_URL").unwrap_or_else(|| "http://127.0.0.1:50051".to_owned());
    let channel = tonic::transport::Endpoint::from_shared(registry_url.clone())
        .map_err(|e| ConfigError::Invalid { name: "FILIERIS_REGISTRY_URL".into(), value: registry_url.clone(), reason: e.to_string() })?
        .connect_lazy();
    let registry = RegistryCache::new(channel, common.internal_key.clone(), pool.clone(), results::SERVICE_CALLER);
    let (feed, handler) = registry.clone().into_arcs();
    let consumer = Consumer::new(pool.clone(), "registry", "finance", feed, handler, RedisConfig::from_env(&env)?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let events = tokio::spawn(consumer.run(stop_rx));
    let shutdown = async move {
        filieris_runtime::server::shutdown_signal().await;
        let _ = stop_tx.send(true);
    };
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} (FILIERIS_FINANCE_ADDR)"))?;
    let result = filieris_finance::serve(
        listener,
        BudgetApi::new(store),
        results::ResultsApi::new(ResultsStore::new(pool.clone()), registry),
        pool,
        common.internal_key,
        common.shutdown_grace,
        shutdown,
    )
    .await;
    events.abort();
    result
}
