//! `filieris-steering`: serves the steering API. At start it loads the
//! indicator catalogue, the targets and the action calendar once; loading
//! again adds nothing and never overwrites an edited definition.
//!
//! `report --year Y --out DIR` is the execution report job: it reads the
//! steering API at `FILIERIS_STEERING_URL` (default http://127.0.0.1:50056)
//! with its own signed identity, and finance, activity and missions at their
//! `FILIERIS_*_URL`, and writes the report as HTML, PDF and CSV with a
//! manifest. `report --month YYYY-MM` writes the monthly dashboard.
//! `--compute` first runs ComputeIndicators; `--as-of` regenerates the
//! report as it stood at that time (same bytes).
//!
//! `FILIERIS_STEERING_COMPUTE_EVERY_SECONDS` (default 0: off) schedules
//! ComputeIndicators for 2022-2024 in the serving process.

use std::process::ExitCode;

use anyhow::Context;
use filieris_runtime::config::{CommonConfig, Env};
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_steering::sources::{UpstreamUrls, Upstreams};
use filieris_steering::storage::Store;

const USAGE: &str =
    "usage: filieris-steering [serve | report (--year 2022 | --month 2022-06) --out DIR [--as-of 2023-01-31T00:00:00Z] [--compute]]";

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
        Some("report") => report(&args[1..]).await,
        Some(other) => Err(anyhow::anyhow!("unknown command {other:?}; {USAGE}")),
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
    tracing::info!(
        indicators = loaded.indicators,
        updated = loaded.updated,
        targets = loaded.targets,
        actions = loaded.actions,
        "reference tables loaded"
    );
    let upstreams = Upstreams::new(&urls, common.internal_key.clone())?;
    let api = filieris_steering::SteeringApi::new(store, upstreams);
    // Scheduled computation (off unless set): the years of the COG in force, each run appended to the history.
    let every = env.seconds_or("FILIERIS_STEERING_COMPUTE_EVERY_SECONDS", 0)?;
    if !every.is_zero() {
        let api = api.clone();
        tokio::spawn(async move {
            let me = Identity {
                caller: filieris_steering::storage::SERVICE_CALLER.into(),
                kind: CallerKind::Service,
                roles: vec!["steering".into()],
                scopes: vec!["*".into()],
            };
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                for year in 2022..=2024 {
                    match api.compute(&me, year).await {
                        Ok(r) => tracing::info!(year, values = r.values.len(), not_available = r.not_available, "scheduled computation"),
                        Err(e) => tracing::warn!(year, error = %e, "scheduled computation failed"),
                    }
                }
            }
        });
    }
    let listener =
        tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} (FILIERIS_STEERING_ADDR)"))?;
    filieris_steering::serve(listener, api, pool, common.internal_key, common.shutdown_grace, filieris_runtime::server::shutdown_signal())
        .await
}

struct ReportArgs {
    period: filieris_steering::report::Period,
    out: std::path::PathBuf,
    as_of: Option<chrono::DateTime<chrono::Utc>>,
    compute: bool,
}

fn parse_report_args(args: &[String]) -> anyhow::Result<ReportArgs> {
    use filieris_steering::report::Period;
    let (mut period, mut out, mut as_of, mut compute) = (None, None, None, false);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned()).with_context(|| format!("{name} needs a value; {USAGE}"));
        match name {
            "--year" => {
                anyhow::ensure!(period.is_none(), "give --year or --month, not both; {USAGE}");
                period = Some(Period::Year(value()?.parse::<i32>().with_context(|| format!("--year takes a year; {USAGE}"))?));
            }
            "--month" => {
                anyhow::ensure!(period.is_none(), "give --year or --month, not both; {USAGE}");
                let v = value()?;
                period = Some(
                    filieris_steering::report::data::parse_month(&v)
                        .with_context(|| format!("--month takes a month YYYY-MM, e.g. 2022-06; got {v:?}"))?,
                );
            }
            "--out" => out = Some(std::path::PathBuf::from(value()?)),
            "--as-of" => {
                let v = value()?;
                as_of = Some(
                    chrono::DateTime::parse_from_rfc3339(&v)
                        .with_context(|| format!("--as-of takes an RFC 3339 time, e.g. 2023-01-31T00:00:00Z; got {v:?}"))?
                        .with_timezone(&chrono::Utc),
                );
            }
            "--compute" => compute = true,
            other => anyhow::bail!("unknown option {other:?}; {USAGE}"),
        }
    }
    Ok(ReportArgs {
        period: period.with_context(|| format!("--year or --month is required; {USAGE}"))?,
        out: out.with_context(|| format!("--out is required; {USAGE}"))?,
        as_of,
        compute,
    })
}

/// The execution report job (annual) or the monthly dashboard. Progress goes
/// to stderr, one line per step; the files replace `--out` at the end.
async fn report(args: &[String]) -> anyhow::Result<()> {
    use filieris_steering::report::{self, ReportData, ReportUrls, data};
    let a = parse_report_args(args)?;
    let env = Env::process();
    let key = filieris_runtime::config::InternalKey::from_env(&env)?;
    let defaults = ReportUrls::default();
    let urls = ReportUrls {
        steering: env.get("FILIERIS_STEERING_URL").unwrap_or(defaults.steering),
        finance: env.get("FILIERIS_FINANCE_URL").unwrap_or(defaults.finance),
        activity: env.get("FILIERIS_ACTIVITY_URL").unwrap_or(defaults.activity),
        missions: env.get("FILIERIS_MISSIONS_URL").unwrap_or(defaults.missions),
    };
    let client = report::ReportClient::new(&urls, key)?;
    let year = a.period.year();
    let total = if a.compute { 8 } else { 7 };
    let mut step = 0;
    let mut progress = |what: String| {
        step += 1;
        eprintln!("[{step}/{total}] {what}");
    };
    if a.compute {
        progress(format!("computing the indicators of {year} …"));
        let c = client.compute(year).await.with_context(|| format!("ComputeIndicators at {} (FILIERIS_STEERING_URL)", urls.steering))?;
        eprintln!("      {} values, {} not available", c.values.len(), c.not_available);
    }
    let as_of = a.as_of.unwrap_or_else(chrono::Utc::now);
    let as_of_text = as_of.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    progress(format!("indicator values of {year} as of {as_of_text} …"));
    let (definitions, values) =
        client.indicators(year, as_of).await.with_context(|| format!("steering API at {} (FILIERIS_STEERING_URL)", urls.steering))?;
    progress("action counts per axis and status …".into());
    let counts = client.action_counts(year).await.with_context(|| format!("steering API at {} (FILIERIS_STEERING_URL)", urls.steering))?;
    progress("budget execution per fund …".into());
    let budget = client.budget(year).await;
    progress("delegated-mission figures …".into());
    let missions = client.missions(year, data::missions_day(a.period, as_of)).await;
    if let Err(e) = &missions {
        eprintln!("      missions section not available: {e}");
    }
    progress("opening rates per month and per region …".into());
    let (monthly_asks, region_asks) = data::opening_rate_asks(a.period);
    let monthly = client.opening_rates(&monthly_asks).await;
    let regions = client.opening_rates(&region_asks).await;
    let data = ReportData { period: a.period, as_of, definitions, values, counts, budget, missions, monthly, regions };
    progress("rendering HTML, PDF and CSV …".into());
    let rendered = report::render(&data);
    progress(format!("writing {} files into {} …", rendered.files.len(), a.out.display()));
    let files = report::write_files(&a.out, &rendered).with_context(|| format!("writing the report into {}", a.out.display()))?;
    for f in files {
        println!("{}", f.display());
    }
    let option = match a.period {
        report::Period::Year(y) => format!("--year {y}"),
        report::Period::Month(y, m) => format!("--month {y}-{m:02}"),
    };
    eprintln!("done; to regenerate this report identically: filieris-steering report {option} --out DIR --as-of {as_of_text}");
    Ok(())
}
