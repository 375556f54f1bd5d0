//! `filieris-finance`: serves the finance APIs. At start it loads the COG
//! budget tables (2022–2024) once; loading again adds nothing. `seed-demo`
//! books the demo results and budget execution (`filieris_finance::demo`).

use std::process::ExitCode;

use anyhow::Context;
use filieris_finance::budget::BudgetApi;
use filieris_finance::budget::storage::Store;
use filieris_finance::results::{self, storage::ResultsStore};
use filieris_runtime::config::{CommonConfig, ConfigError, Env};
use filieris_runtime::events::{Consumer, RedisConfig};
use filieris_runtime::registry_cache::RegistryCache;

const USAGE: &str = "usage: filieris-finance [serve | seed-demo [--year 2022]]";

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
        Some("seed-demo") => seed_demo(&args[1..]).await,
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

/// `--year` of `seed-demo` (default 2022).
fn parse_seed_args(args: &[String]) -> anyhow::Result<i32> {
    let mut year = 2022;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        match name {
            "--year" => {
                let value = inline.or_else(|| it.next().cloned()).with_context(|| format!("--year needs a value; {USAGE}"))?;
                year = value.parse().with_context(|| format!("--year takes a year; {USAGE}"))?;
            }
            other => anyhow::bail!("unknown option {other:?}; {USAGE}"),
        }
    }
    Ok(year)
}

/// `seed-demo`: the COG budget tables, the registry cache from the
/// registry's change feed, then the demo results and budget execution with
/// fixed request ids (a second run writes nothing).
async fn seed_demo(args: &[String]) -> anyhow::Result<()> {
    const REGISTRY_WAIT: std::time::Duration = std::time::Duration::from_secs(60);
    let year = parse_seed_args(args)?;
    let env = Env::process();
    let common = CommonConfig::from_env(&env)?;
    let pool = filieris_runtime::db::connect(
        &common.database_url,
        filieris_finance::SCHEMA,
        common.db_max_connections,
        &filieris_finance::MIGRATOR,
    )
    .await?;
    let store = Store::new(pool.clone());
    store.load_reference().await.context("loading the COG budget tables")?;
    let registry_url = env.get("FILIERIS_REGISTRY_URL").unwrap_or_else(|| "http://127.0.0.1:50051".to_owned());
    let channel = tonic::transport::Endpoint::from_shared(registry_url.clone())
        .map_err(|e| ConfigError::Invalid { name: "FILIERIS_REGISTRY_URL".into(), value: registry_url.clone(), reason: e.to_string() })?
        .connect_lazy();
    let registry = RegistryCache::new(channel, common.internal_key.clone(), pool.clone(), results::SERVICE_CALLER);
    let (feed, handler) = registry.clone().into_arcs();
    // The service's own consumer: it resumes from here when it starts.
    let consumer = Consumer::new(pool.clone(), "registry", "finance", feed, handler, None);
    let deadline = tokio::time::Instant::now() + REGISTRY_WAIT;
    loop {
        match consumer.catch_up().await {
            Ok(_) => break,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::info!(error = %format!("{e:#}"), "waiting for the registry at {registry_url}");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Err(e) => return Err(e.context(format!("registry change feed at {registry_url} (FILIERIS_REGISTRY_URL)"))),
        }
    }
    let results_store = ResultsStore::new(pool.clone());
    let report = filieris_finance::demo::seed(
        &BudgetApi::new(store),
        &results::ResultsApi::new(results_store.clone(), registry.clone()),
        &registry,
        &results_store,
        year,
    )
    .await?;
    println!("finance demo data: --year {year}, in {:.1} s", report.elapsed.as_secs_f64());
    for (book, n) in &report.members {
        println!("  {book:<12} {n:>4} structures");
    }
    let (accepted, rejected): (i64, i64) = report.batches.iter().fold((0, 0), |(a, r), b| (a + b.accepted_rows, r + b.rejected_rows));
    // A batch already imported replays its first answer.
    println!("  ledger: {} batches, {} rows sent, {accepted} accepted, {rejected} rejected", report.batches.len(), report.rows);
    for b in &report.batches {
        for e in b.errors.iter().take(5) {
            println!("    {} row {}: {}: {}", b.request_id, e.row, e.field, e.reason);
        }
    }
    println!("  budget: {} operations (spending, commitments, transfers)", report.budget_ops);
    for s in &report.skipped {
        println!("  in two perimeters, booked once: {s}");
    }
    if rejected > 0 {
        tracing::warn!(rejected, "demo ledger rows were rejected");
    }
    Ok(())
}
