//! `filieris-steering`: serves the steering API. At start it loads the
//! indicator catalogue, the targets and the action calendar once; loading
//! again adds nothing and never overwrites an edited definition.

use std::process::ExitCode;

use anyhow::Context;
use filieris_runtime::config::{CommonConfig, Env};
use filieris_steering::sources::{UpstreamUrls, Upstreams};
use filieris_steering::storage::Store;

#[tokio::main]
async fn main() -> ExitCode {
    let _telemetry = match filieris_runtime::telemetry::init("filieris-steering") {
        Ok(g) => g,
        Err(e) => {
            eprintln!("filieris-steering: {e}");
            return ExitCode::from(2);
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("serve") => run().await,
        Some(other) => Err(anyhow::anyhow!("unknown command {other:?}; usage: filieris-steering [serve]")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "filieris-steering failed");
            eprintln!("filieris-steering: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let env = Env::process();
    let common = CommonConfig::from_env(&env)?;
    let addr = env.addr_or("FILIERIS_STEERING_ADDR", "127.0.0.1:50056")?;
    let defaults = UpstreamUrls::default();
    let urls = UpstreamUrls {
        activity: env.get("FILIERIS_ACTIVITY_URL").unwrap_or(defaults.activity),
        finance: env.get("FILIERIS_FINANCE_URL").unwrap_or(defaults.finance),
        hr: env.get("FILIERIS_HR_URL").unwrap_or(defaults.hr),
        missions: env.get("FILIERIS_MISSIONS_URL").unwrap_or(defaults.missions),
    };
    let pool = filieris_runtime::db::connect(
        &common.database_url,
        filieris_steering::SCHEMA,
        common.db_max_connections,
        &filieris_steering::MIGRATOR,
    )
    .await?;
    let store = Store::new(pool.clone());
    let loaded = store.load_reference().await.context("loading the indicator catalogue and the action calendar")?;
    tracing::info!(indicators = loaded.indicators, targets = loaded.targets, actions = loaded.actions, "reference tables loaded");
    let upstreams = Upstreams::new(&urls, common.internal_key.clone())?;
    let listener =
        tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} (FILIERIS_STEERING_ADDR)"))?;
    filieris_steering::serve(
        listener,
        filieris_steering::SteeringApi::new(store, upstreams),
        pool,
        common.internal_key,
        common.shutdown_grace,
        filieris_runtime::server::shutdown_signal(),
    )
    .await
}
