//! `filieris-missions`: serves the missions API (`serve`, the default) or
//! loads the demo data set (`seed-demo`, idempotent: fixed request ids, so a
//! second run replays every write and changes nothing).

use std::process::ExitCode;

use anyhow::Context;
use filieris_kernel::pseudonym::PseudonymKey;
use filieris_missions::finance::Finance;
use filieris_missions::storage::Store;
use filieris_runtime::config::{CommonConfig, ConfigError, Env};

const USAGE: &str = "usage: filieris-missions [serve | seed-demo]";

#[tokio::main]
async fn main() -> ExitCode {
    let _telemetry = match filieris_runtime::telemetry::init("filieris-missions") {
        Ok(g) => g,
        Err(e) => {
            eprintln!("filieris-missions: {e}");
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
            tracing::error!(error = %format!("{e:#}"), "filieris-missions failed");
            eprintln!("filieris-missions: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Same key scheme as the activity service: one environment key, never in the database.
fn pseudonym_key(env: &Env) -> Result<PseudonymKey, ConfigError> {
    let raw_key =
        env.required("FILIERIS_PSEUDONYM_KEY", "hex key (at least 32 bytes) of the person pseudonyms; keep it in a secret store")?;
    PseudonymKey::from_hex(&raw_key).map_err(|e| ConfigError::Invalid {
        name: "FILIERIS_PSEUDONYM_KEY".into(),
        value: "***".into(),
        reason: e.to_string(),
    })
}

struct Setup {
    env: Env,
    common: CommonConfig,
    pool: sqlx::PgPool,
    store: Store,
    finance: Finance,
}

async fn setup() -> anyhow::Result<Setup> {
    let env = Env::process();
    let common = CommonConfig::from_env(&env)?;
    let key = pseudonym_key(&env)?;
    let pool = filieris_runtime::db::connect(
        &common.database_url,
        filieris_missions::SCHEMA,
        common.db_max_connections,
        &filieris_missions::MIGRATOR,
    )
    .await?;
    let finance_url = env.get("FILIERIS_FINANCE_URL").unwrap_or_else(|| "http://127.0.0.1:50053".to_owned());
    let channel = tonic::transport::Endpoint::from_shared(finance_url.clone())
        .map_err(|e| ConfigError::Invalid { name: "FILIERIS_FINANCE_URL".into(), value: finance_url, reason: e.to_string() })?
        .connect_lazy();
    let finance = Finance::new(channel, common.internal_key.clone());
    Ok(Setup { store: Store::new(pool.clone(), key), env, common, pool, finance })
}

async fn run() -> anyhow::Result<()> {
    let Setup { env, common, pool, store, finance } = setup().await?;
    let addr = env.addr_or("FILIERIS_MISSIONS_ADDR", "127.0.0.1:50055")?;
    let listener =
        tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} (FILIERIS_MISSIONS_ADDR)"))?;
    let api = filieris_missions::MissionsApi::new(store, finance);
    filieris_missions::serve(listener, api, pool, common.internal_key, common.shutdown_grace, filieris_runtime::server::shutdown_signal())
        .await
}

async fn seed_demo() -> anyhow::Result<()> {
    let Setup { store, finance, .. } = setup().await?;
    let summary = filieris_missions::seed::load_demo(store, finance).await?;
    println!("{summary}");
    Ok(())
}
