//! `filieris-registry`: serves the registry (no argument) or loads the demo
//! data set (`seed-demo`).

use std::process::ExitCode;

use filieris_runtime::config::{CommonConfig, Env};
use filieris_runtime::events::{RedisConfig, run_relay, stream_key};

const USAGE: &str = "usage: filieris-registry [serve | seed-demo]";

#[tokio::main]
async fn main() -> ExitCode {
    let _telemetry = match filieris_runtime::telemetry::init("filieris-registry") {
        Ok(g) => g,
        Err(e) => {
            eprintln!("filieris-registry: {e}");
            return ExitCode::from(2);
        }
    };
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".to_owned());
    match run(&command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "filieris-registry failed");
            eprintln!("filieris-registry: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: &str) -> anyhow::Result<()> {
    let env = Env::process();
    let common = CommonConfig::from_env(&env)?;
    match command {
        "serve" => {
            let addr = env.addr_or("FILIERIS_REGISTRY_ADDR", "127.0.0.1:50051")?;
            let redis = RedisConfig::from_env(&env)?;
            let pool = filieris_runtime::db::connect(
                &common.database_url,
                filieris_registry::SCHEMA,
                common.db_max_connections,
                &filieris_registry::MIGRATOR,
            )
            .await?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (FILIERIS_REGISTRY_ADDR): {e}"))?;
            // The relay publishes change_log to Redis next to the server and
            // stops after it; without Redis, consumers read ListChanges.
            let (stop_relay, relay_stopped) = tokio::sync::watch::channel(false);
            let relay = match redis {
                Some(redis) => {
                    Some(tokio::spawn(run_relay(pool.clone(), redis, stream_key(filieris_registry::EVENT_SOURCE), relay_stopped)))
                }
                None => {
                    tracing::info!("FILIERIS_REDIS_URL unset: change events are served by ListChanges only");
                    None
                }
            };
            let served = filieris_registry::serve(
                listener,
                pool,
                common.internal_key,
                common.shutdown_grace,
                filieris_runtime::server::shutdown_signal(),
            )
            .await;
            let _ = stop_relay.send(true);
            if let Some(relay) = relay
                && let Err(e) = relay.await
            {
                tracing::error!(error = %e, "change relay task failed");
            }
            served
        }
        "seed-demo" => {
            let pool = filieris_runtime::db::connect(
                &common.database_url,
                filieris_registry::SCHEMA,
                common.db_max_connections,
                &filieris_registry::MIGRATOR,
            )
            .await?;
            let report = filieris_registry::seed::load_demo(&filieris_registry::storage::Store::new(pool)).await?;
            println!("{report}");
            Ok(())
        }
        other => anyhow::bail!("unknown command {other:?}; {USAGE}"),
    }
}
