//! `filieris-activity`: serves the activity API and keeps the registry cache
//! current from the registry's events (Redis Streams when configured, the
//! registry's change feed otherwise).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use filieris_activity::grpc::ActivityApi;
use filieris_activity::registry_sync::RegistrySync;
use filieris_activity::storage::Store;
use filieris_kernel::pseudonym::PseudonymKey;
use filieris_runtime::config::{CommonConfig, ConfigError, Env};
use filieris_runtime::events::{Consumer, RedisConfig};

#[tokio::main]
async fn main() -> ExitCode {
    let _telemetry = match filieris_runtime::telemetry::init("filieris-activity") {
        Ok(g) => g,
        Err(e) => {
            eprintln!("filieris-activity: {e}");
            return ExitCode::from(2);
        }
    };
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "filieris-activity failed");
            eprintln!("filieris-activity: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let env = Env::process();
    let common = CommonConfig::from_env(&env)?;
    let addr = env.addr_or("FILIERIS_ACTIVITY_ADDR", "127.0.0.1:50052")?;
    let registry_url = env.get("FILIERIS_REGISTRY_URL").unwrap_or_else(|| "http://127.0.0.1:50051".to_owned());
    let raw_key =
        env.required("FILIERIS_PSEUDONYM_KEY", "hex key (at least 32 bytes) of the patient pseudonyms; keep it in a secret store")?;
    let key = PseudonymKey::from_hex(&raw_key).map_err(|e| ConfigError::Invalid {
        name: "FILIERIS_PSEUDONYM_KEY".into(),
        value: "***".into(),
        reason: e.to_string(),
    })?;
    let redis = RedisConfig::from_env(&env)?;

    let pool = filieris_runtime::db::connect(
        &common.database_url,
        filieris_activity::SCHEMA,
        common.db_max_connections,
        &filieris_activity::MIGRATOR,
    )
    .await?;
    let store = Store::new(pool.clone(), key);
    let channel = tonic::transport::Endpoint::from_shared(registry_url.clone())
        .map_err(|e| ConfigError::Invalid { name: "FILIERIS_REGISTRY_URL".into(), value: registry_url.clone(), reason: e.to_string() })?
        .connect_lazy();
    let sync = RegistrySync::new(channel, common.internal_key.clone(), store.clone());
    let (feed, handler) = sync.clone().into_arcs();
    let consumer = Consumer::new(pool.clone(), "registry", "activity", feed, handler, redis);

    let listener =
        tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} (FILIERIS_ACTIVITY_ADDR)"))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let events = tokio::spawn(consumer.run(stop_rx));
    let stop = Arc::new(stop_tx);
    let shutdown = {
        let stop = stop.clone();
        async move {
            filieris_runtime::server::shutdown_signal().await;
            let _ = stop.send(true);
        }
    };
    let result =
        filieris_activity::serve(listener, ActivityApi::new(store, sync), pool, common.internal_key, common.shutdown_grace, shutdown).await;
    let _ = stop.send(true);
    if let Ok(Err(e)) = events.await {
        tracing::warn!(error = %format!("{e:#}"), "registry event consumer stopped with an error");
    }
    result
}
