//! `filieris-activity`: serves the activity API and keeps the registry cache
//! current from the registry's events (Redis Streams when configured, the
//! registry's change feed otherwise); `seed-demo` imports a synthetic year of
//! acts for the demo health centres.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use filieris_activity::grpc::ActivityApi;
use filieris_activity::records::RecordsApi;
use filieris_activity::registry_sync::{RegistrySync, SERVICE_CALLER};
use filieris_activity::storage::Store;
use filieris_kernel::pseudonym::PseudonymKey;
use filieris_runtime::config::{CommonConfig, ConfigError, Env};
use filieris_runtime::events::{Consumer, RedisConfig};

const USAGE: &str = "usage: filieris-activity [serve | seed-demo [--scale 0.05] [--year 2018 --year 2022 …]]";

#[tokio::main]
async fn main() -> ExitCode {
    let _telemetry = match filieris_runtime::telemetry::init("filieris-activity") {
        Ok(g) => g,
        Err(e) => {
            eprintln!("filieris-activity: {e}");
            return ExitCode::from(2);
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("serve") => run().await,
        Some("seed-demo") => seed::seed_demo(&args[1..]).await,
        Some(other) => Err(anyhow::anyhow!("unknown command {other:?}; {USAGE}")),
    };
    match result {
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
    let key = pseudonym_key(&env)?;
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
    let sync = RegistrySync::new(channel.clone(), common.internal_key.clone(), store.pool().clone(), SERVICE_CALLER);
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
    let result = filieris_activity::serve(
        listener,
        ActivityApi::new(store.clone(), sync),
        RecordsApi::new(store, channel, common.internal_key.clone()),
        pool,
        common.internal_key,
        common.shutdown_grace,
        shutdown,
    )
    .await;
    let _ = stop.send(true);
    if let Ok(Err(e)) = events.await {
        tracing::warn!(error = %format!("{e:#}"), "registry event consumer stopped with an error");
    }
    result
}

/// `FILIERIS_PSEUDONYM_KEY`, never echoed.
fn pseudonym_key(env: &Env) -> Result<PseudonymKey, ConfigError> {
    let raw_key =
        env.required("FILIERIS_PSEUDONYM_KEY", "hex key (at least 32 bytes) of the patient pseudonyms; keep it in a secret store")?;
    PseudonymKey::from_hex(&raw_key).map_err(|e| ConfigError::Invalid {
        name: "FILIERIS_PSEUDONYM_KEY".into(),
        value: "***".into(),
        reason: e.to_string(),
    })
}

/// `seed-demo`: a synthetic year of acts for the open health centres of the
/// registry cache, imported as one batch whose request id is fixed per
/// (year, scale), so that running it again changes nothing.
mod seed {
    use std::collections::HashMap;
    use std::time::Duration;

    use anyhow::Context;
    use chrono::NaiveDate;
    use filieris_activity::domain::upload::RowInput;
    use filieris_activity::registry_sync::{RegistrySync, SERVICE_CALLER};
    use filieris_activity::storage::{ImportContext, Store};
    use filieris_activity::synth::{Centre, Lines, Options, Plan};
    use filieris_proto::activity as pb;
    use filieris_proto::registry as reg;
    use filieris_proto::registry::registry_service_client::RegistryServiceClient;
    use filieris_proto::types::Region;
    use filieris_runtime::config::{CommonConfig, ConfigError, Env, InternalKey};
    use filieris_runtime::events::Consumer;
    use filieris_runtime::identity::{CallerKind, Identity};
    use tonic::transport::Channel;

    use super::USAGE;

    /// Rows per chunk of the import stream.
    const CHUNK: usize = 10_000;
    /// How long to wait for the registry's change feed.
    const REGISTRY_WAIT: Duration = Duration::from_secs(60);

    /// Years seeded by default: 2018, the year of the published reference
    /// figures, and 2022, the first year of the COG 2022–2024 the steering
    /// report computes (same volumes, 2022 dates).
    const DEFAULT_YEARS: [i32; 2] = [2018, 2022];

    fn parse_args(args: &[String]) -> anyhow::Result<(f64, Vec<i32>)> {
        let (mut scale, mut years) = (0.05, Vec::new());
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (arg.as_str(), None),
            };
            let mut value = || inline.clone().or_else(|| it.next().cloned()).with_context(|| format!("{name} needs a value; {USAGE}"));
            match name {
                "--scale" => scale = value()?.parse().with_context(|| format!("--scale takes a number; {USAGE}"))?,
                "--year" => years.push(value()?.parse().with_context(|| format!("--year takes a year; {USAGE}"))?),
                other => anyhow::bail!("unknown option {other:?}; {USAGE}"),
            }
        }
        if years.is_empty() {
            years = DEFAULT_YEARS.to_vec();
        }
        Ok((scale, years))
    }

    pub async fn seed_demo(args: &[String]) -> anyhow::Result<()> {
        let (scale, years) = parse_args(args)?;
        let env = Env::process();
        let common = CommonConfig::from_env(&env)?;
        let registry_url = env.get("FILIERIS_REGISTRY_URL").unwrap_or_else(|| "http://127.0.0.1:50051".to_owned());
        let key = super::pseudonym_key(&env)?;
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

        // The registry cache first, from the registry's change feed.
        let sync = RegistrySync::new(channel.clone(), common.internal_key.clone(), store.pool().clone(), SERVICE_CALLER);
        let (feed, handler) = sync.into_arcs();
        let consumer = Consumer::new(pool.clone(), "registry", "activity", feed, handler, None);
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

        let centres = health_centres(&store, channel, &common.internal_key).await?;
        anyhow::ensure!(
            !centres.is_empty(),
            "the registry cache holds no health centre: seed the registry first (filieris-registry seed-demo)"
        );
        for year in years {
            let plan = Plan::new(Options::new(year, scale), &centres)?;
            let identity =
                Identity { caller: "job:demo-seed".into(), kind: CallerKind::Job, roles: vec!["admin".into()], scopes: vec!["*".into()] };
            let request_id = format!("demo-acts-{year}-scale-{scale}");
            let ctx = ImportContext { identity: &identity, method: "seed/ImportActs", request_id: &request_id, source_system: "DEMO" };
            let mut acts = plan.acts();
            let chunks = futures::stream::iter(std::iter::from_fn(move || {
                let chunk = acts.next_chunk(CHUNK);
                (!chunk.is_empty()).then(|| Ok(chunk.into_iter().map(RowInput::Act).collect()))
            }));
            let batch = store.import(&ctx, chunks).await.map_err(|e| anyhow::anyhow!("import: {}", filieris_runtime::ApiError::from(e)))?;

            let mut by_line: HashMap<pb::ActivityLine, (u64, u64)> = HashMap::new();
            for cell in plan.expected() {
                let e = by_line.entry(cell.line).or_default();
                e.0 += cell.acts;
                e.1 += cell.patients;
            }
            println!("activity demo data: year {year}, scale {scale}, {} health centres", centres.len());
            for line in [pb::ActivityLine::GeneralMedicine, pb::ActivityLine::Nursing, pb::ActivityLine::Dental] {
                let (acts, patients) = by_line.get(&line).copied().unwrap_or_default();
                println!("  {:<16} {acts:>9} acts  {patients:>7} patients", line.as_str_name().trim_start_matches("ACTIVITY_LINE_"));
            }
            println!(
                "  batch {} (request id {request_id}): {} rows, {} accepted, {} rejected",
                batch.name, batch.total_rows, batch.accepted_rows, batch.rejected_rows
            );
            for e in batch.errors.iter().take(10) {
                println!("    row {}: {}: {}", e.row, e.field, e.reason);
            }
            if batch.rejected_rows > 0 {
                tracing::warn!(rejected = batch.rejected_rows, "demo rows were rejected");
            }
        }
        Ok(())
    }

    /// Health-centre establishments of the cache, with their lines from the
    /// registry's subtype (dental, nursing, otherwise polyvalent).
    async fn health_centres(store: &Store, channel: Channel, key: &InternalKey) -> anyhow::Result<Vec<Centre>> {
        let rows: Vec<(String, i16, NaiveDate, Option<NaiveDate>)> = sqlx::query_as(
            "SELECT finess, region, open_date, close_date FROM structure_cache \
             WHERE category = 'HEALTH_CENTRE' AND level = 'ESTABLISHMENT' AND finess IS NOT NULL ORDER BY finess",
        )
        .fetch_all(store.pool())
        .await
        .context("reading the registry cache")?;
        let subtypes = subtypes(channel, key).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(finess, region, open_date, close_date)| {
                let region = Region::try_from(i32::from(region)).ok().filter(|r| *r != Region::Unspecified)?;
                let lines = match subtypes.get(&finess) {
                    Some(reg::Subtype::Dental) => Lines::DENTAL,
                    Some(reg::Subtype::Nursing) => Lines::NURSING,
                    _ => Lines::POLYVALENT,
                };
                Some(Centre { finess, region, open_date, close_date, lines })
            })
            .collect())
    }

    async fn subtypes(channel: Channel, key: &InternalKey) -> anyhow::Result<HashMap<String, reg::Subtype>> {
        let mut client = RegistryServiceClient::new(channel);
        let me =
            Identity { caller: SERVICE_CALLER.into(), kind: CallerKind::Service, roles: vec!["reader".into()], scopes: vec!["*".into()] };
        let mut out = HashMap::new();
        let mut token = String::new();
        loop {
            let mut req = tonic::Request::new(reg::ListStructuresRequest {
                page_size: 200,
                page_token: token.clone(),
                filter: "category = HEALTH_CENTRE AND level = ESTABLISHMENT".into(),
                search: String::new(),
                as_of_date: String::new(),
            });
            me.attach(key, &mut req);
            let page =
                client.list_structures(req).await.map_err(|s| anyhow::anyhow!("registry ListStructures: {}", s.message()))?.into_inner();
            for s in page.structures {
                if let Ok(subtype) = reg::Subtype::try_from(s.subtype) {
                    out.insert(s.finess, subtype);
                }
            }
            if page.next_page_token.is_empty() {
                return Ok(out);
            }
            token = page.next_page_token;
        }
    }
}
