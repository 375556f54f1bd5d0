//! `filieris-hr`: serves the HR API (`serve`, the default) or loads the demo
//! data set (`seed-demo`, idempotent: a second run replays every write).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use filieris_hr::storage::Store;
use filieris_runtime::config::{CommonConfig, ConfigError, Env};
use filieris_runtime::events::{Consumer, RedisConfig};
use filieris_runtime::registry_cache::RegistryCache;

const USAGE: &str = "usage: filieris-hr [serve | seed-demo]";
/// How long seed-demo waits for the registry to answer.
const REGISTRY_WAIT: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> ExitCode {
    let _telemetry = match filieris_runtime::telemetry::init("filieris-hr") {
        Ok(g) => g,
        Err(e) => {
            eprintln!("filieris-hr: {e}");
            return ExitCode::from(2);
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("serve") => run().await,
        Some("seed-demo") => seed_demo().await,
        Some(other) => Err(anyhow::anyhow!("unknown command {other:?}; {USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "filieris-hr failed");
            eprintln!("filieris-hr: {e:#}");
            ExitCode::FAILURE
        }
    }
}

struct Setup {
    env: Env,
    common: CommonConfig,
    pool: sqlx::PgPool,
    registry: RegistryCache,
    registry_url: String,
}

async fn setup() -> anyhow::Result<Setup> {
    let env = Env::process();
    let common = CommonConfig::from_env(&env)?;
    let pool =
        filieris_runtime::db::connect(&common.database_url, filieris_hr::SCHEMA, common.db_max_connections, &filieris_hr::MIGRATOR).await?;
    // The registry cache is fed by the registry's events (Redis when configured, its change feed otherwise).
    let registry_url = env.get("FILIERIS_REGISTRY_URL").unwrap_or_else(|| "http://127.0.0.1:50051".to_owned());
    let channel = tonic::transport::Endpoint::from_shared(registry_url.clone())
        .map_err(|e| ConfigError::Invalid { name: "FILIERIS_REGISTRY_URL".into(), value: registry_url.clone(), reason: e.to_string() })?
        .connect_lazy();
    let registry = RegistryCache::new(channel, common.internal_key.clone(), pool.clone(), filieris_hr::SERVICE_CALLER);
    Ok(Setup { env, common, pool, registry, registry_url })
}

async fn run() -> anyhow::Result<()> {
    let Setup { env, common, pool, registry, .. } = setup().await?;
    let addr = env.addr_or("FILIERIS_HR_ADDR", "127.0.0.1:50054")?;
    let (feed, handler) = registry.into_arcs();
    let consumer = Consumer::new(pool.clone(), "registry", "hr", feed, handler, RedisConfig::from_env(&env)?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let events = tokio::spawn(consumer.run(stop_rx));
    let shutdown = async move {
        filieris_runtime::server::shutdown_signal().await;
        let _ = stop_tx.send(true);
    };
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} (FILIERIS_HR_ADDR)"))?;
    let api = filieris_hr::HrApi::new(Store::new(pool.clone()));
    let result = filieris_hr::serve(listener, api, pool, common.internal_key, common.shutdown_grace, shutdown).await;
    events.abort();
    result
}

async fn seed_demo() -> anyhow::Result<()> {
    let Setup { pool, registry, registry_url, .. } = setup().await?;
    // The registry cache first, from the registry's change feed.
    let (feed, handler) = registry.clone().into_arcs();
    let consumer = Consumer::new(pool.clone(), "registry", "hr", feed, handler, None);
    let deadline = tokio::time::Instant::now() + REGISTRY_WAIT;
    loop {
        match consumer.catch_up().await {
            Ok(_) => break,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::info!(error = %format!("{e:#}"), "waiting for the registry at {registry_url}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(e.context(format!("registry change feed at {registry_url} (FILIERIS_REGISTRY_URL)"))),
        }
    }
    // The named demo structure: the Salindres health centre (hr.md H18), found by the registry's search.
    let named = registry.find_structures("", "Salindres", "").await.map_err(|s| anyhow::anyhow!("registry search: {s}"))?;
    let store = Store::new(pool);
    let summary = filieris_hr::seed::load_demo(&store, named.first().copied()).await?;
    println!("{summary}");
    Ok(())
}
