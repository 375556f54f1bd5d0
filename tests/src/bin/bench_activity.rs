//! Benchmark of the activity service: a program, not a test (docs/benchmarks.md).
//!
//! ```text
//! cargo run --release -p filieris-e2e --bin bench_activity [-- --no-build --keep --queries 200 --no-doc]
//! ```
//!
//! Builds (unless `--no-build`) and starts the release binaries of the
//! registry, the activity service and the gateway as child processes on free
//! ports over a fresh PostgreSQL database (`DATABASE_URL` names the admin
//! connection, default `postgres://postgres@127.0.0.1:5432/postgres`), seeds
//! the registry, then measures:
//!
//! - (a) the synthetic 2018 year of general-medicine and nursing acts
//!   (3,032,535 rows) imported through the gateway with client-streaming
//!   `ImportActs` in chunks of 10,000 rows, with the dev API key;
//! - (b) the same rows, validated and pseudonymised in this process, loaded by
//!   raw binary COPY into `activity.bench_act` (a copy of `act` with its
//!   indexes), in the same database and run;
//! - (c) the national yearly opening rate through the gateway's REST endpoint,
//!   median and p99 over repeated queries;
//! - (d) the peak resident memory (VmHWM) of the activity process;
//!
//! and where the time goes: CPU seconds per process during the import, the
//! statements the service logged as slow, the per-row validation cost,
//! replays of COPY without indexes, of the staging COPY and of a plain INSERT
//! into `act`, the opening rate straight from the service, and the cost of a
//! bare distinct count over the monthly patient rollup. The figures are printed
//! and written between the markers of docs/benchmarks.md (`--no-doc` to skip).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use chrono::NaiveDate;
use filieris_activity::domain::rows::{CachedStructure, StructureIndex, ValidAct, validate_row};
use filieris_activity::synth::{Centre, Lines, Options, Plan};
use filieris_e2e::procs::{build_release, command, free_addr, machine_description, random_hex, release_dir, spawn, status_kb, write_doc};
use filieris_kernel::pseudonym::PseudonymKey;
use filieris_proto::activity as pb;
use filieris_proto::activity::activity_service_client::ActivityServiceClient;
use filieris_proto::types::Region;
use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::testing::TestDatabase;
use prost::Message;
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

/// 2018 general-medicine + nursing acts (1,043,139 + 1,989,396).
const EXPECTED_ACTS: u64 = 3_032_535;
/// Rows per ImportActs message.
const CHUNK: usize = 10_000;
/// COPY data sent per message.
const COPY_SEND: usize = 1 << 20;
const DEV_KEY_PREFIX: &str = "fk_bench_";
/// Columns of the staged / copied act rows (the order of `act_stage`).
const COPY_COLUMNS: &str =
    "row_number, act_date, structure_id, region, line, nomenclature, code, mode, scheme, patient, identity_basis, amount_cents, source_ref";

struct Args {
    build: bool,
    keep: bool,
    queries: usize,
    doc: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args { build: true, keep: false, queries: 200, doc: true };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--no-build" => args.build = false,
            "--keep" => args.keep = true,
            "--no-doc" => args.doc = false,
            "--queries" => {
                args.queries =
                    it.next().and_then(|v| v.parse().ok()).filter(|n| (1..=100_000).contains(n)).context("--queries takes 1..100000")?
            }
            other => bail!("unknown argument {other:?}; usage: bench_activity [--no-build] [--keep] [--queries N] [--no-doc]"),
        }
    }
    Ok(args)
}

// ------------------------------------------------------------------ /proc

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// (command name, user + system ticks) of a process.
fn proc_stat(pid: &str) -> Option<(String, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

fn cpu_of(pid: u32) -> u64 {
    proc_stat(&pid.to_string()).map_or(0, |s| s.1)
}

/// CPU ticks of every PostgreSQL process on this machine (the server is shared).
fn postgres_cpu() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())).map(str::to_owned))
        .filter_map(|pid| proc_stat(&pid))
        .filter(|(comm, _)| comm == "postgres")
        .map(|(_, t)| t)
        .sum()
}

/// Total CPU ticks of the machine (all cores, busy or idle).
fn machine_busy_ticks() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<u64> = text.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let idle = cpu.get(3).copied().unwrap_or(0) + cpu.get(4).copied().unwrap_or(0);
    let total: u64 = cpu.iter().take(8).sum();
    (total - idle, total)
}

// ------------------------------------------------------------------ COPY binary

/// PostgreSQL binary COPY: signature, flags, header extension length.
fn copy_header(buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buf.extend_from_slice(&0i32.to_be_bytes());
    buf.extend_from_slice(&0i32.to_be_bytes());
}

fn field(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    buf.extend_from_slice(bytes);
}

/// One tuple in the order of [`COPY_COLUMNS`].
fn copy_tuple(buf: &mut Vec<u8>, a: &ValidAct, epoch: NaiveDate) {
    buf.extend_from_slice(&13i16.to_be_bytes());
    field(buf, &a.row.to_be_bytes());
    field(buf, &((a.act_date - epoch).num_days() as i32).to_be_bytes());
    field(buf, a.structure_id.as_bytes());
    field(buf, &a.region.to_be_bytes());
    field(buf, &a.line.to_be_bytes());
    field(buf, &a.nomenclature.to_be_bytes());
    field(buf, a.code.as_bytes());
    field(buf, &a.mode.to_be_bytes());
    field(buf, &a.scheme.to_be_bytes());
    field(buf, &a.patient);
    field(buf, &a.identity_basis.to_be_bytes());
    field(buf, &a.amount_cents.to_be_bytes());
    field(buf, a.source_ref.as_bytes());
}

async fn copy_in(conn: &mut PgConnection, statement: &str, data: &[u8]) -> anyhow::Result<u64> {
    let mut copy = conn.copy_in_raw(statement).await?;
    for part in data.chunks(COPY_SEND) {
        copy.send(part).await?;
    }
    Ok(copy.finish().await?)
}

// ------------------------------------------------------------------ report

#[derive(Default)]
struct Report {
    machine: Vec<(String, String)>,
    generation_rate: f64,
    api_secs: f64,
    api_rate: f64,
    api_cpu: Vec<(String, f64)>,
    slow_statements: Vec<(String, f64)>,
    copy_secs: f64,
    copy_rate: f64,
    validate_rate: f64,
    hash_rate: f64,
    stage_secs: f64,
    bare_copy_secs: f64,
    insert_secs: f64,
    latency: Vec<(String, Stats)>,
    explain_ms: Option<f64>,
    patient_month_rows: i64,
    activity_hwm_kb: u64,
    activity_rss_kb: u64,
    gateway_hwm_kb: u64,
    counts: String,
}

#[derive(Clone, Copy, Default)]
struct Stats {
    n: usize,
    min: f64,
    median: f64,
    p99: f64,
    max: f64,
}

fn stats(mut ms: Vec<f64>) -> Stats {
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    // Nearest rank.
    let rank = |q: f64| ms[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
    Stats { n, min: ms[0], median: rank(0.5), p99: rank(0.99), max: ms[n - 1] }
}

fn thousands(n: f64) -> String {
    let s = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

impl Report {
    fn markdown(&self) -> String {
        let mut md = String::new();
        let mut line = |s: String| {
            md.push_str(&s);
            md.push('\n');
        };
        line("### Machine and run".into());
        line(String::new());
        line("| | |".into());
        line("|---|---|".into());
        for (k, v) in &self.machine {
            line(format!("| {k} | {v} |"));
        }
        line(String::new());
        line("### Results".into());
        line(String::new());
        line("| Measure | Result | Aim |".into());
        line("|---|---|---|".into());
        line(format!(
            "| (a) import through the API (gateway, gRPC client streaming, {} rows) | {:.1} s, **{} acts/s** | ≥ 100,000 acts/s: {} |",
            thousands(EXPECTED_ACTS as f64),
            self.api_secs,
            thousands(self.api_rate),
            verdict(self.api_rate >= 100_000.0)
        ));
        line(format!(
            "| (b) same rows, raw binary COPY into `bench_act` (with the `act` indexes) | {:.1} s, **{} acts/s** | |",
            self.copy_secs,
            thousands(self.copy_rate)
        ));
        let ratio = if self.copy_rate > 0.0 { self.api_rate / self.copy_rate } else { 0.0 };
        line(format!("| API / COPY | **{:.2}** | ≥ 0.50: {} |", ratio, verdict(ratio >= 0.5)));
        for (name, s) in &self.latency {
            let aim = if name.contains("GENERAL_MEDICINE") || name.starts_with("same") {
                format!("< 100 ms: {}", verdict(s.median < 100.0))
            } else {
                String::new()
            };
            line(format!(
                "| (c) {name}, {} queries | median **{:.1} ms**, p99 **{:.1} ms** (min {:.1}, max {:.1}) | {aim} |",
                s.n, s.median, s.p99, s.min, s.max
            ));
        }
        line(format!(
            "| (d) activity process, peak resident memory (VmHWM) | **{:.0} MiB** (VmRSS at the end {:.0} MiB; gateway VmHWM {:.0} MiB) | |",
            self.activity_hwm_kb as f64 / 1024.0,
            self.activity_rss_kb as f64 / 1024.0,
            self.gateway_hwm_kb as f64 / 1024.0
        ));
        line(String::new());
        line(format!("Opening rate returned after the import: {}.", self.counts));
        line(String::new());
        line("### Where the import time goes".into());
        line(String::new());
        line("| Phase | Measure |".into());
        line("|---|---|".into());
        line(format!("| rows generated by `synth` in the client (before timing) | {} rows/s |", thousands(self.generation_rate)));
        for (who, secs) in &self.api_cpu {
            line(format!("| CPU during the API import: {who} | {secs:.1} s |"));
        }
        for (summary, secs) in &self.slow_statements {
            line(format!("| statement logged by the service (> 1 s): `{summary}` | {secs:.1} s |"));
        }
        line(format!(
            "| `validate_row` (FINESS, date, code, NIR check, HMAC pseudonym), one core | {} rows/s |",
            thousands(self.validate_rate)
        ));
        line(format!("| batch hash (protobuf encoding + SHA-256 per row), one core | {} rows/s |", thousands(self.hash_rate)));
        line(format!("| replay: binary COPY into a copy of `act` without any index | {:.1} s |", self.bare_copy_secs));
        line(format!("| replay: binary COPY into a temporary staging table | {:.1} s |", self.stage_secs));
        line(format!("| replay: `INSERT INTO act … SELECT … FROM act_stage` (no rollup, rolled back) | {:.1} s |", self.insert_secs));
        if let Some(ms) = self.explain_ms {
            line(format!(
                "| floor: `SELECT count(*) FROM (SELECT patient FROM patient_month WHERE line = 1 AND month in 2018 GROUP BY patient)` ({} rows), `EXPLAIN ANALYZE` | {ms:.1} ms |",
                thousands(self.patient_month_rows as f64)
            ));
        }
        md
    }
}

// ------------------------------------------------------------------ steps

/// Statements the activity service logged as slow (sqlx: over 1 s).
fn slow_statements(log: &Path, from: u64) -> Vec<(String, f64)> {
    let text = std::fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(text.get(from as usize..).unwrap_or_default());
    text.lines()
        .filter(|l| l.contains("slow statement"))
        .filter_map(|l| {
            let summary = l.split_once("summary=\"")?.1.split('"').next()?.to_owned();
            let secs: f64 = l.split_once("elapsed_secs=")?.1.split_whitespace().next()?.parse().ok()?;
            Some((summary, secs))
        })
        .collect()
}

async fn import_through_gateway(gateway: &str, dev_key: &str, messages: Vec<pb::ImportActsRequest>) -> anyhow::Result<pb::ActBatch> {
    let channel = tonic::transport::Channel::from_shared(gateway.to_owned())?.connect().await?;
    let mut client = ActivityServiceClient::new(channel).max_encoding_message_size(64 << 20).max_decoding_message_size(64 << 20);
    let mut request = tonic::Request::new(tokio_stream::iter(messages));
    request.metadata_mut().insert("authorization", format!("Bearer {dev_key}").parse()?);
    let response = client.import_acts(request).await.map_err(|s| anyhow::anyhow!("ImportActs: {:?} {}", s.code(), s.message()))?;
    response.into_inner().batch.context("ImportActs answered without a batch")
}

async fn opening_rate(http: &reqwest::Client, gateway: &str, dev_key: &str, line: &str) -> anyhow::Result<serde_json::Value> {
    let url = format!("{gateway}/v1/openingRate?period=2018&line={line}");
    let r = http.get(url).bearer_auth(dev_key).send().await?;
    ensure!(r.status().is_success(), "openingRate answered {}", r.status());
    Ok(r.json().await?)
}

fn json_int(v: &serde_json::Value) -> i64 {
    v.as_str().and_then(|s| s.parse().ok()).or_else(|| v.as_i64()).unwrap_or(-1)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_activity: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let args = parse_args()?;
    let (root, bins) = release_dir()?;
    let logs = bins.parent().context("target dir")?.join("bench-activity");
    std::fs::create_dir_all(&logs)?;
    if args.build {
        eprintln!("[bench] cargo build --release (registry, activity, gateway)");
        build_release(&root, &["filieris-registry", "filieris-activity", "filieris-gateway"])?;
    }
    for b in ["filieris-registry", "filieris-activity", "filieris-gateway"] {
        ensure!(bins.join(b).exists(), "{} missing: run cargo build --release -p {b}", bins.join(b).display());
    }

    let mut report = Report::default();
    let mut machine = machine_description(&root);
    let db = TestDatabase::create().await?;
    let result = measure(&args, &bins, &logs, &db, &mut report).await;
    if args.keep {
        eprintln!("[bench] database kept: {}", db.name);
    } else {
        db.drop_database().await;
    }
    result?;

    machine.append(&mut report.machine);
    report.machine = machine;
    let block = report.markdown();
    println!("\n{block}");
    if args.doc {
        let path = write_doc(&root, "bench_activity", "bench_activity", &block)?;
        eprintln!("[bench] written to {}", path.display());
    }
    Ok(())
}

async fn measure(args: &Args, bins: &Path, logs: &Path, db: &TestDatabase, report: &mut Report) -> anyhow::Result<()> {
    let internal_key = random_hex();
    let pseudonym_key = random_hex();
    let dev_key = format!("{DEV_KEY_PREFIX}{}", Uuid::new_v4().simple());
    let (registry_addr, activity_addr, gateway_addr) = (free_addr()?, free_addr()?, free_addr()?);
    let common = [("DATABASE_URL", db.url.clone()), ("FILIERIS_INTERNAL_KEY", internal_key.clone())];

    eprintln!("[bench] database {}; seeding the registry", db.name);
    let seeded = command(&bins.join("filieris-registry"), &common).arg("seed-demo").output()?;
    ensure!(seeded.status.success(), "registry seed-demo failed: {}", String::from_utf8_lossy(&seeded.stderr));
    let registry = spawn(
        "registry",
        &bins.join("filieris-registry"),
        &[common[0].clone(), common[1].clone(), ("FILIERIS_REGISTRY_ADDR", registry_addr.clone())],
        logs,
    )?;
    let mut activity = spawn(
        "activity",
        &bins.join("filieris-activity"),
        &[
            common[0].clone(),
            common[1].clone(),
            ("FILIERIS_ACTIVITY_ADDR", activity_addr.clone()),
            ("FILIERIS_REGISTRY_URL", format!("http://{registry_addr}")),
            ("FILIERIS_PSEUDONYM_KEY", pseudonym_key.clone()),
        ],
        logs,
    )?;
    let mut gateway = spawn(
        "gateway",
        &bins.join("filieris-gateway"),
        &[
            common[0].clone(),
            common[1].clone(),
            ("FILIERIS_GATEWAY_ADDR", gateway_addr.clone()),
            ("FILIERIS_DEV_API_KEY", dev_key.clone()),
            ("FILIERIS_REGISTRY_URL", format!("http://{registry_addr}")),
            ("FILIERIS_ACTIVITY_URL", format!("http://{activity_addr}")),
        ],
        logs,
    )?;
    let gateway_url = format!("http://{gateway_addr}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !http.get(format!("{gateway_url}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
        ensure!(gateway.running(), "the gateway exited: see {}", gateway.log.display());
        ensure!(Instant::now() < deadline, "the gateway is not ready after 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut conn = PgConnection::connect(&db.url).await?;
    // The activity cache has applied every registry change.
    let caught_up = "SELECT (SELECT coalesce(max(sequence), 0) FROM registry.change_log) > 0 AND \
                     (SELECT coalesce(max(sequence), 0) FROM registry.change_log) = \
                     (SELECT coalesce(max(last_sequence), -1) FROM activity.event_offset WHERE source = 'registry')";
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let done: Option<bool> = sqlx::query_scalar(caught_up).fetch_one(&mut conn).await.ok().flatten();
        if done == Some(true) {
            break;
        }
        ensure!(activity.running(), "the activity service exited: see {}", activity.log.display());
        ensure!(Instant::now() < deadline, "the activity registry cache did not catch up");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    for (k, q) in [
        ("PostgreSQL", "SELECT split_part(version(), ' on ', 1)"),
        ("shared_buffers", "SELECT current_setting('shared_buffers')"),
        ("work_mem", "SELECT current_setting('work_mem')"),
        ("max_wal_size", "SELECT current_setting('max_wal_size')"),
        ("synchronous_commit (bench database)", "SELECT current_setting('synchronous_commit')"),
    ] {
        let v: String = sqlx::query_scalar(q).fetch_one(&mut conn).await?;
        report.machine.push((k.to_owned(), v));
    }

    // The year: every health-centre establishment of the cache runs both lines.
    let rows: Vec<(String, i16, NaiveDate, Option<NaiveDate>)> = sqlx::query_as(
        "SELECT finess, region, open_date, close_date FROM activity.structure_cache \
         WHERE category = 'HEALTH_CENTRE' AND level = 'ESTABLISHMENT' AND finess IS NOT NULL ORDER BY finess",
    )
    .fetch_all(&mut conn)
    .await?;
    let centres: Vec<Centre> = rows
        .into_iter()
        .filter_map(|(finess, region, open_date, close_date)| {
            let region = Region::try_from(i32::from(region)).ok().filter(|r| *r != Region::Unspecified)?;
            Some(Centre { finess, region, open_date, close_date, lines: Lines::POLYVALENT })
        })
        .collect();
    let plan = Plan::new(Options::new(2018, 1.0), &centres)?;
    ensure!(plan.total_acts() == EXPECTED_ACTS, "the plan has {} acts, not {EXPECTED_ACTS}", plan.total_acts());
    report.machine.push(("Health centres".to_owned(), centres.len().to_string()));

    // (a) through the API.
    eprintln!("[bench] generating {EXPECTED_ACTS} acts");
    let t = Instant::now();
    let mut acts = plan.acts();
    let mut messages = vec![pb::ImportActsRequest {
        part: Some(pb::import_acts_request::Part::Header(pb::ImportHeader {
            request_id: format!("bench-{}", Uuid::new_v4()),
            source_system: "BENCH".into(),
            ..Default::default()
        })),
    }];
    loop {
        let chunk = acts.next_chunk(CHUNK);
        if chunk.is_empty() {
            break;
        }
        messages.push(pb::ImportActsRequest { part: Some(pb::import_acts_request::Part::Rows(pb::ActRows { acts: chunk })) });
    }
    report.generation_rate = EXPECTED_ACTS as f64 / t.elapsed().as_secs_f64();

    eprintln!("[bench] (a) importing through the gateway");
    let log_from = std::fs::metadata(&activity.log).map_or(0, |m| m.len());
    let ticks = clock_ticks();
    let me = std::process::id();
    let before = (cpu_of(activity.pid()), cpu_of(gateway.pid()), postgres_cpu(), cpu_of(me), machine_busy_ticks());
    let t = Instant::now();
    let batch = import_through_gateway(&gateway_url, &dev_key, messages).await?;
    report.api_secs = t.elapsed().as_secs_f64();
    let after = (cpu_of(activity.pid()), cpu_of(gateway.pid()), postgres_cpu(), cpu_of(me), machine_busy_ticks());
    ensure!(
        batch.accepted_rows as u64 == EXPECTED_ACTS && batch.rejected_rows == 0,
        "import: {} accepted, {} rejected, first errors {:?}",
        batch.accepted_rows,
        batch.rejected_rows,
        batch.errors.iter().take(3).collect::<Vec<_>>()
    );
    report.api_rate = EXPECTED_ACTS as f64 / report.api_secs;
    let secs = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / ticks;
    let (busy, total) = ((after.4).0 - (before.4).0, (after.4).1 - (before.4).1);
    report.api_cpu = vec![
        ("activity service".into(), secs(before.0, after.0)),
        ("gateway".into(), secs(before.1, after.1)),
        ("PostgreSQL (all backends of the shared server)".into(), secs(before.2, after.2)),
        ("benchmark client (encoding, sending)".into(), secs(before.3, after.3)),
        (format!("whole machine, busy ({:.0} % of {} cores)", busy as f64 * 100.0 / total.max(1) as f64, num_cores()), busy as f64 / ticks),
    ];
    report.slow_statements = slow_statements(&activity.log, log_from);
    let hwm_import = status_kb(activity.pid(), "VmHWM:");
    eprintln!("[bench] (a) {:.1} s, {:.0} acts/s, activity VmHWM {} kB", report.api_secs, report.api_rate, hwm_import);

    // (c) latency, after the statistics autovacuum would gather.
    sqlx::query("ANALYZE activity.act, activity.act_month, activity.patient_month").execute(&mut conn).await?;
    let gm = opening_rate(&http, &gateway_url, &dev_key, "ACTIVITY_LINE_GENERAL_MEDICINE").await?;
    let counts = (
        json_int(&gm["patients"]["numerator"]),
        json_int(&gm["patients"]["denominator"]),
        json_int(&gm["acts"]["numerator"]),
        json_int(&gm["acts"]["denominator"]),
    );
    ensure!(counts == (117_366, 181_738, 497_148, 1_043_139), "unexpected 2018 general-medicine counts {counts:?}: {gm}");
    report.counts = format!(
        "general medicine {} / {} patients ({:.2} %), {} / {} acts ({:.2} %)",
        counts.0,
        counts.1,
        gm["patients"]["percent"].as_f64().unwrap_or_default(),
        counts.2,
        counts.3,
        gm["acts"]["percent"].as_f64().unwrap_or_default()
    );
    for line in ["ACTIVITY_LINE_GENERAL_MEDICINE", "ACTIVITY_LINE_NURSING"] {
        eprintln!("[bench] (c) {} queries, {line}", args.queries);
        for _ in 0..5 {
            opening_rate(&http, &gateway_url, &dev_key, line).await?;
        }
        let mut ms = Vec::with_capacity(args.queries);
        for _ in 0..args.queries {
            let t = Instant::now();
            opening_rate(&http, &gateway_url, &dev_key, line).await?;
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        report.latency.push((format!("national yearly opening rate, `GET /v1/openingRate?period=2018&line={line}`"), stats(ms)));
    }
    // Same query to the activity service directly (no gateway, no REST).
    let mut direct =
        ActivityServiceClient::new(tonic::transport::Channel::from_shared(format!("http://{activity_addr}"))?.connect().await?);
    let signer = InternalKey::from_hex(&internal_key).map_err(anyhow::Error::msg)?;
    let me = Identity { caller: "job:bench".into(), kind: CallerKind::Job, roles: vec!["reader".into()], scopes: vec!["*".into()] };
    let mut ms = Vec::with_capacity(args.queries);
    for i in 0..args.queries + 5 {
        let mut req = tonic::Request::new(pb::GetOpeningRateRequest {
            period: "2018".into(),
            line: pb::ActivityLine::GeneralMedicine as i32,
            scope: String::new(),
        });
        me.attach(&signer, &mut req);
        let t = Instant::now();
        direct.get_opening_rate(req).await.map_err(|s| anyhow::anyhow!("GetOpeningRate: {}", s.message()))?;
        if i >= 5 {
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    report.latency.push(("same, gRPC `GetOpeningRate` straight to the activity service (no gateway)".into(), stats(ms)));
    // A floor for any exact national count: distinct patients of the line
    // over the year from the monthly rollup, without the scheme.
    let plan_text: Vec<String> = sqlx::query_scalar(
        "EXPLAIN (ANALYZE, FORMAT TEXT) SELECT count(*) FROM (SELECT patient FROM activity.patient_month \
           WHERE line = 1 AND month >= '2018-01-01' AND month <= '2018-12-31' GROUP BY patient) p",
    )
    .fetch_all(&mut conn)
    .await?;
    report.explain_ms = plan_text.iter().find_map(|l| l.trim().strip_prefix("Execution Time: ")?.trim_end_matches(" ms").parse().ok());
    report.patient_month_rows =
        sqlx::query_scalar("SELECT count(*) FROM activity.patient_month WHERE line = 1").fetch_one(&mut conn).await?;

    // (d) memory.
    report.activity_hwm_kb = status_kb(activity.pid(), "VmHWM:");
    report.activity_rss_kb = status_kb(activity.pid(), "VmRSS:");
    report.gateway_hwm_kb = status_kb(gateway.pid(), "VmHWM:");

    // (b) the same rows by raw binary COPY; validation timed on its own.
    eprintln!("[bench] (b) validating and encoding the rows for COPY");
    let structures: Vec<(Uuid, String, i16, NaiveDate, Option<NaiveDate>)> =
        sqlx::query_as("SELECT structure_id, finess, region, open_date, close_date FROM activity.structure_cache WHERE finess IS NOT NULL")
            .fetch_all(&mut conn)
            .await?;
    let index: StructureIndex = structures
        .into_iter()
        .map(|(id, finess, region, open_date, close_date)| (finess, CachedStructure { id, region, open_date, close_date }))
        .collect();
    let key = PseudonymKey::from_hex(&pseudonym_key).map_err(|e| anyhow::anyhow!("{e}"))?;
    let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).context("epoch")?;
    let mut data = Vec::with_capacity(EXPECTED_ACTS as usize * 180);
    copy_header(&mut data);
    let (mut validating, mut hashing) = (Duration::ZERO, Duration::ZERO);
    let mut hasher = Sha256::new();
    let mut acts = plan.acts();
    let mut row = 0i64;
    loop {
        let chunk = acts.next_chunk(CHUNK);
        if chunk.is_empty() {
            break;
        }
        let t = Instant::now();
        for input in &chunk {
            let bytes = input.encode_to_vec();
            hasher.update((bytes.len() as u64).to_be_bytes());
            hasher.update(&bytes);
        }
        hashing += t.elapsed();
        let t = Instant::now();
        let valid: Vec<ValidAct> = chunk
            .iter()
            .map(|input| {
                row += 1;
                validate_row(row, input, &index, &key)
            })
            .collect::<Result<_, _>>()
            .map_err(|p| anyhow::anyhow!("row {row} invalid: {p:?}"))?;
        validating += t.elapsed();
        for a in &valid {
            copy_tuple(&mut data, a, epoch);
        }
    }
    data.extend_from_slice(&(-1i16).to_be_bytes());
    let _ = hasher.finalize();
    report.validate_rate = EXPECTED_ACTS as f64 / validating.as_secs_f64();
    report.hash_rate = EXPECTED_ACTS as f64 / hashing.as_secs_f64();

    sqlx::query("CREATE TABLE activity.bench_act (LIKE activity.act INCLUDING ALL)").execute(&mut conn).await?;
    sqlx::query(&format!("ALTER TABLE activity.bench_act ALTER COLUMN batch_id SET DEFAULT '{}'", Uuid::now_v7()))
        .execute(&mut conn)
        .await?;
    eprintln!("[bench] (b) COPY of {} MiB", data.len() >> 20);
    let t = Instant::now();
    let copied = copy_in(&mut conn, &format!("COPY activity.bench_act ({COPY_COLUMNS}) FROM STDIN (FORMAT binary)"), &data).await?;
    report.copy_secs = t.elapsed().as_secs_f64();
    ensure!(copied == EXPECTED_ACTS, "COPY stored {copied} rows");
    report.copy_rate = EXPECTED_ACTS as f64 / report.copy_secs;
    eprintln!("[bench] (b) {:.1} s, {:.0} acts/s", report.copy_secs, report.copy_rate);

    // Replay of the import's first two steps on an empty copy of `act`, rolled back.
    eprintln!("[bench] replaying staging and INSERT");
    sqlx::query("CREATE SCHEMA bench_phase").execute(&mut conn).await?;
    sqlx::query("CREATE TABLE bench_phase.bare (LIKE activity.act INCLUDING DEFAULTS)").execute(&mut conn).await?;
    sqlx::query(&format!("ALTER TABLE bench_phase.bare ALTER COLUMN batch_id SET DEFAULT '{}'", Uuid::now_v7())).execute(&mut conn).await?;
    let t = Instant::now();
    copy_in(&mut conn, &format!("COPY bench_phase.bare ({COPY_COLUMNS}) FROM STDIN (FORMAT binary)"), &data).await?;
    report.bare_copy_secs = t.elapsed().as_secs_f64();
    sqlx::query("DROP TABLE bench_phase.bare").execute(&mut conn).await?;
    sqlx::query("CREATE TABLE bench_phase.act (LIKE activity.act INCLUDING ALL)").execute(&mut conn).await?;
    {
        let mut tx = conn.begin().await?;
        sqlx::query(
            "CREATE TEMP TABLE act_stage (row_number BIGINT, act_date DATE, structure_id UUID, region SMALLINT, line SMALLINT, \
             nomenclature SMALLINT, code TEXT, mode SMALLINT, scheme SMALLINT, patient BYTEA, identity_basis SMALLINT, \
             amount_cents BIGINT, source_ref TEXT) ON COMMIT DROP",
        )
        .execute(&mut *tx)
        .await?;
        let t = Instant::now();
        copy_in(&mut tx, &format!("COPY act_stage ({COPY_COLUMNS}) FROM STDIN (FORMAT binary)"), &data).await?;
        report.stage_secs = t.elapsed().as_secs_f64();
        let t = Instant::now();
        sqlx::query(&format!(
            "INSERT INTO bench_phase.act (batch_id, {COPY_COLUMNS}) SELECT '{}'::uuid, {COPY_COLUMNS} FROM act_stage",
            Uuid::now_v7()
        ))
        .execute(&mut *tx)
        .await?;
        report.insert_secs = t.elapsed().as_secs_f64();
        tx.rollback().await?;
    }
    sqlx::query("DROP SCHEMA bench_phase CASCADE").execute(&mut conn).await?;
    drop(data);

    ensure!(activity.running() && gateway.running(), "a service exited during the run: see {}", logs.display());
    report.activity_hwm_kb = report.activity_hwm_kb.max(status_kb(activity.pid(), "VmHWM:"));
    for p in [&mut gateway, &mut activity] {
        p.stop();
    }
    drop(registry);
    let _ = conn.close().await;
    Ok(())
}

fn num_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
