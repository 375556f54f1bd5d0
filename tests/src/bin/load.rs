//! Load program: the same read (GetStructure of one demo structure) driven
//! side by side in one run, a program, not a test (docs/benchmarks.md).
//!
//! ```text
//! cargo run --release -p filieris-e2e --bin load [-- --no-build --seconds 15 --rate 200 --concurrency 32 --soak-seconds 300 --no-redis --no-doc]
//! ```
//!
//! Builds (unless `--no-build`) and starts the release binaries of the
//! registry and the gateway as child processes on free ports over a fresh
//! PostgreSQL database (`DATABASE_URL` names the admin connection), seeds the
//! registry, starts a bare tonic server in this process that answers the same
//! `GetStructure` message from memory (the ceiling: no database, no gateway),
//! then for each path —
//!
//! 1. bare tonic server (gRPC),
//! 2. gRPC straight to the registry,
//! 3. gRPC through the gateway,
//! 4. REST through the gateway (`GET /v1/structures/{id}`) —
//!
//! measures throughput at saturation (`--concurrency` closed-loop workers for
//! `--seconds`) and latency at a fixed rate (`--rate` per second, open loop:
//! latency counts from the scheduled start, so a stall is not hidden), then the
//! peak memory of the registry and the gateway, and a soak (REST through the
//! gateway at the fixed rate for `--soak-seconds`, resident memory sampled
//! every 15 s). The load generator shares the machine's cores with the
//! processes it measures; the figures say so.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use filieris_e2e::procs::{
    Percentiles, Proc, build_release, command, free_addr, machine_description, random_hex, release_dir, spawn, status_kb, write_doc,
};
use filieris_proto::registry::registry_service_client::RegistryServiceClient;
use filieris_proto::registry::{GetStructureRequest, GetStructureResponse, ListStructuresRequest};
use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::testing::TestDatabase;
use futures::future::BoxFuture;
use tokio::task::JoinSet;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use uuid::Uuid;

const DOC_TAG: &str = "load";
const SOAK_SAMPLE: Duration = Duration::from_secs(15);
const WARM_UP: Duration = Duration::from_secs(2);

struct Args {
    build: bool,
    seconds: u64,
    rate: u32,
    concurrency: usize,
    soak_seconds: u64,
    doc: bool,
    /// The gateway's Redis made unreachable: quotas decided by its local
    /// fallback, to see what the shared quota's round trip costs.
    no_redis: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args { build: true, seconds: 15, rate: 200, concurrency: 32, soak_seconds: 300, doc: true, no_redis: false };
    let mut it = std::env::args().skip(1);
    let number = |v: Option<String>, what: &str, max: u64| -> anyhow::Result<u64> {
        v.and_then(|v| v.parse().ok()).filter(|n| (1..=max).contains(n)).with_context(|| format!("{what} takes 1..={max}"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--no-build" => args.build = false,
            "--no-doc" => args.doc = false,
            "--no-redis" => args.no_redis = true,
            "--seconds" => args.seconds = number(it.next(), "--seconds", 3600)?,
            "--rate" => args.rate = u32::try_from(number(it.next(), "--rate", 100_000)?)?,
            "--concurrency" => args.concurrency = usize::try_from(number(it.next(), "--concurrency", 4096)?)?,
            "--soak-seconds" => {
                args.soak_seconds =
                    it.next().and_then(|v| v.parse().ok()).filter(|n| *n <= 86_400).context("--soak-seconds takes 0..=86400")?
            }
            other => bail!(
                "unknown argument {other:?}; usage: load [--no-build] [--seconds N] [--rate R] [--concurrency C] [--soak-seconds S] [--no-redis] [--no-doc]"
            ),
        }
    }
    Ok(args)
}

// ------------------------------------------------------------------ bare server

/// Answers `RegistryService/GetStructure` with one message held in memory:
/// what tonic alone costs for this exchange.
#[derive(Clone)]
struct Bare(Arc<GetStructureResponse>);

impl tonic::server::NamedService for Bare {
    const NAME: &'static str = "filieris.registry.v1.RegistryService";
}

struct Answer(Arc<GetStructureResponse>);

impl tonic::server::UnaryService<GetStructureRequest> for Answer {
    type Response = GetStructureResponse;
    type Future = std::future::Ready<Result<tonic::Response<GetStructureResponse>, tonic::Status>>;

    fn call(&mut self, _request: tonic::Request<GetStructureRequest>) -> Self::Future {
        std::future::ready(Ok(tonic::Response::new((*self.0).clone())))
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for Bare {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let answer = Answer(self.0.clone());
        Box::pin(async move {
            if request.uri().path() == "/filieris.registry.v1.RegistryService/GetStructure" {
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.unary(answer, request).await)
            } else {
                // The load program only ever asks for GetStructure.
                Ok(tonic::Status::not_found("the bare server answers GetStructure only").into_http())
            }
        })
    }
}

async fn start_bare(response: GetStructureResponse) -> anyhow::Result<String> {
    use tokio_stream::StreamExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    // TCP_NODELAY as the platform's servers set it (runtime::server).
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener).map(|c| c.inspect(|s| drop(s.set_nodelay(true))));
    let router = tonic::transport::Server::builder().add_service(Bare(Arc::new(response)));
    tokio::spawn(async move {
        if let Err(e) = router.serve_with_incoming(incoming).await {
            eprintln!("[load] bare server stopped: {e}");
        }
    });
    Ok(format!("http://{addr}"))
}

// ------------------------------------------------------------------ callers

/// One way to ask for the structure.
#[derive(Clone)]
enum Caller {
    Grpc { client: RegistryServiceClient<Channel>, auth: Option<MetadataValue<Ascii>>, signed: Option<Box<Signed>>, name: String },
    Rest { http: reqwest::Client, url: String, key: String },
}

impl Caller {
    /// Through the gateway with an API key (`key`), or straight to a server
    /// with the signed identity the gateway would forward (`signed`).
    async fn grpc(url: &str, key: Option<&str>, signed: Option<Box<Signed>>, name: &str) -> anyhow::Result<Self> {
        let channel =
            Channel::from_shared(url.to_owned())?.tcp_nodelay(true).connect().await.with_context(|| format!("connecting {url}"))?;
        let auth = key.map(|k| format!("Bearer {k}").parse()).transpose()?;
        Ok(Self::Grpc { client: RegistryServiceClient::new(channel), auth, signed, name: name.to_owned() })
    }

    /// Ok, or the error's code (gRPC code name or HTTP status).
    async fn call(&self) -> Result<(), String> {
        match self {
            Self::Grpc { client, auth, signed, name } => {
                let mut request = tonic::Request::new(GetStructureRequest { name: name.clone(), as_of_date: String::new() });
                if let Some(a) = auth {
                    request.metadata_mut().insert("authorization", a.clone());
                }
                if let Some(signed) = signed {
                    signed.attach(&mut request);
                }
                client.clone().get_structure(request).await.map(|_| ()).map_err(|s| format!("{:?}", s.code()))
            }
            Self::Rest { http, url, key } => {
                let response = http.get(url).bearer_auth(key).send().await.map_err(|_| "transport error".to_owned())?;
                let status = response.status();
                response.bytes().await.map_err(|_| "body error".to_owned())?;
                if status.is_success() { Ok(()) } else { Err(format!("HTTP {}", status.as_u16())) }
            }
        }
    }
}

/// The caller identity a service accepts, signed with the internal key.
#[derive(Clone)]
struct Signed(Identity, InternalKey);

impl Signed {
    fn attach<T>(&self, request: &mut tonic::Request<T>) {
        self.0.attach(&self.1, request);
    }
}

// ------------------------------------------------------------------ runs

#[derive(Default)]
struct Run {
    ok: u64,
    errors: BTreeMap<String, u64>,
    elapsed: Duration,
    latency: Percentiles,
}

impl Run {
    fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    fn errors_text(&self) -> String {
        if self.errors.is_empty() {
            return "0".into();
        }
        self.errors.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", ")
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Closed loop: `concurrency` workers call back to back for `length`.
async fn saturate(caller: &Caller, concurrency: usize, length: Duration) -> Run {
    let stop = Instant::now() + length;
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency {
        let caller = caller.clone();
        tasks.spawn(async move {
            let (mut ms, mut errors) = (Vec::new(), BTreeMap::<String, u64>::new());
            while Instant::now() < stop {
                let t = Instant::now();
                match caller.call().await {
                    Ok(()) => ms.push(ms_since(t)),
                    Err(e) => *errors.entry(e).or_default() += 1,
                }
            }
            (ms, errors)
        });
    }
    collect(tasks, start).await
}

/// Open loop: one call started every 1/rate s for `length`, whatever the
/// previous ones are doing; latency counts from the scheduled start.
async fn fixed_rate(caller: &Caller, rate: u32, length: Duration) -> Run {
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let calls = (f64::from(rate) * length.as_secs_f64()) as u32;
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for i in 0..calls {
        let due = start + interval * i;
        tokio::time::sleep_until(due.into()).await;
        let caller = caller.clone();
        tasks.spawn(async move {
            match caller.call().await {
                Ok(()) => (vec![ms_since(due)], BTreeMap::new()),
                Err(e) => (Vec::new(), BTreeMap::from([(e, 1)])),
            }
        });
    }
    collect(tasks, start).await
}

async fn collect(mut tasks: JoinSet<(Vec<f64>, BTreeMap<String, u64>)>, start: Instant) -> Run {
    let (mut ms, mut errors) = (Vec::new(), BTreeMap::<String, u64>::new());
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((m, e)) => {
                ms.extend(m);
                for (k, v) in e {
                    *errors.entry(k).or_default() += v;
                }
            }
            Err(e) => *errors.entry(format!("task failed: {e}")).or_default() += 1,
        }
    }
    let elapsed = start.elapsed();
    Run { ok: ms.len() as u64, errors, elapsed, latency: Percentiles::of(&mut ms) }
}

// ------------------------------------------------------------------ report

#[derive(Default)]
struct Report {
    machine: Vec<(String, String)>,
    paths: Vec<(&'static str, Run, Run)>,
    memory: Vec<(String, u64, u64)>,
    soak: Vec<(u64, u64, u64, Percentiles, u64)>,
    settings: String,
}

impl Report {
    fn throughput_of(&self, label: &str) -> f64 {
        self.paths.iter().find(|p| p.0 == label).map_or(0.0, |p| p.1.throughput())
    }

    fn markdown(&self) -> String {
        let mut s = String::from("### Machine\n\n| | |\n|---|---|\n");
        for (k, v) in &self.machine {
            s += &format!("| {k} | {v} |\n");
        }
        s += &format!("\n{}\n\n### The same read four ways\n\n", self.settings);
        s += "| Path | Saturation: calls/s | p50 ms | p99 ms | errors | Fixed rate: p50 ms | p99 ms | max ms | errors |\n";
        s += "|---|---:|---:|---:|---|---:|---:|---:|---|\n";
        for (label, sat, fixed) in &self.paths {
            s += &format!(
                "| {label} | {:.0} | {:.2} | {:.2} | {} | {:.2} | {:.2} | {:.2} | {} |\n",
                sat.throughput(),
                sat.latency.p50,
                sat.latency.p99,
                sat.errors_text(),
                fixed.latency.p50,
                fixed.latency.p99,
                fixed.latency.max,
                fixed.errors_text()
            );
        }
        let ratio = |a: &str, b: &str| {
            let d = self.throughput_of(b);
            if d > 0.0 { format!("{:.2}", self.throughput_of(a) / d) } else { "n/a".into() }
        };
        s += "\n| Ratio (saturation throughput) | |\n|---|---:|\n";
        s += &format!("| gRPC via gateway / gRPC direct (aim ≥ 0.8) | {} |\n", ratio(GRPC_GATEWAY, GRPC_DIRECT));
        s += &format!("| REST via gateway / gRPC direct (aim ≥ 0.8) | {} |\n", ratio(REST_GATEWAY, GRPC_DIRECT));
        s += &format!("| gRPC direct / bare tonic | {} |\n", ratio(GRPC_DIRECT, BARE));
        s += "\n### Memory after the runs\n\n| Process | peak (VmHWM) MiB | resident (VmRSS) MiB |\n|---|---:|---:|\n";
        for (name, hwm, rss) in &self.memory {
            s += &format!("| {name} | {:.1} | {:.1} |\n", *hwm as f64 / 1024.0, *rss as f64 / 1024.0);
        }
        if !self.soak.is_empty() {
            s += "\n### Soak (REST via the gateway at the fixed rate)\n\n";
            s += "| t (s) | gateway RSS MiB | registry RSS MiB | p50 ms | p99 ms | errors |\n|---:|---:|---:|---:|---:|---:|\n";
            for (t, gw, reg, p, errors) in &self.soak {
                s += &format!(
                    "| {t} | {:.1} | {:.1} | {:.2} | {:.2} | {errors} |\n",
                    *gw as f64 / 1024.0,
                    *reg as f64 / 1024.0,
                    p.p50,
                    p.p99
                );
            }
            if let (Some(first), Some(last)) = (self.soak.first(), self.soak.last()) {
                let growth = |a: u64, b: u64| (b as f64 - a as f64) / 1024.0;
                s += &format!(
                    "\nResident memory from the first to the last sample: gateway {:+.1} MiB, registry {:+.1} MiB.\n",
                    growth(first.1, last.1),
                    growth(first.2, last.2)
                );
            }
        }
        s
    }
}

const BARE: &str = "bare tonic server (gRPC, in the load process)";
const GRPC_DIRECT: &str = "gRPC straight to the registry";
const GRPC_GATEWAY: &str = "gRPC through the gateway";
const REST_GATEWAY: &str = "REST through the gateway";

// ------------------------------------------------------------------ main

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let args = parse_args()?;
    let (root, bins) = release_dir()?;
    let logs = bins.parent().context("target dir")?.join("load");
    std::fs::create_dir_all(&logs)?;
    if args.build {
        eprintln!("[load] cargo build --release (registry, gateway)");
        build_release(&root, &["filieris-registry", "filieris-gateway"])?;
    }
    for b in ["filieris-registry", "filieris-gateway"] {
        ensure!(bins.join(b).exists(), "{} missing: run cargo build --release -p {b}", bins.join(b).display());
    }
    let mut report = Report { machine: machine_description(&root), ..Report::default() };
    report.settings = format!(
        "Settings: saturation {} closed-loop workers for {} s per path; fixed rate {} calls/s (open loop) for {} s per path; \
         {} s warm-up before each measured run; load generator in the same machine; gateway quotas {}.",
        args.concurrency,
        args.seconds,
        args.rate,
        args.seconds,
        WARM_UP.as_secs(),
        if args.no_redis { "decided locally (Redis unreachable: the fallback)" } else { "checked in Redis on every call" }
    );
    let db = TestDatabase::create().await?;
    let result = measure(&args, &bins, &logs, &db, &mut report).await;
    db.drop_database().await;
    result?;
    let block = report.markdown();
    println!("\n{block}");
    if args.doc {
        let path = write_doc(&root, DOC_TAG, "load", &block)?;
        eprintln!("[load] written to {}", path.display());
    }
    Ok(())
}

async fn measure(
    args: &Args,
    bins: &std::path::Path,
    logs: &std::path::Path,
    db: &TestDatabase,
    report: &mut Report,
) -> anyhow::Result<()> {
    let internal_key = random_hex();
    let dev_key = format!("fk_load_{}", Uuid::new_v4().simple());
    let (registry_addr, gateway_addr) = (free_addr()?, free_addr()?);
    let common = [("DATABASE_URL", db.url.clone()), ("FILIERIS_INTERNAL_KEY", internal_key.clone())];
    let signed = Signed(
        Identity { caller: "job:load".into(), kind: CallerKind::Job, roles: vec!["reader".into()], scopes: vec!["*".into()] },
        InternalKey::from_hex(&internal_key).map_err(anyhow::Error::msg)?,
    );

    eprintln!("[load] database {}; seeding the registry", db.name);
    let seeded = command(&bins.join("filieris-registry"), &common).arg("seed-demo").output()?;
    ensure!(seeded.status.success(), "registry seed-demo failed: {}", String::from_utf8_lossy(&seeded.stderr));
    let mut registry = spawn(
        "registry",
        &bins.join("filieris-registry"),
        &[common[0].clone(), common[1].clone(), ("FILIERIS_REGISTRY_ADDR", registry_addr.clone())],
        logs,
    )?;
    // A closed port: the gateway decides quotas locally (its Redis fallback).
    let redis = if args.no_redis {
        "redis://127.0.0.1:1".to_owned()
    } else {
        std::env::var("FILIERIS_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
    };
    let mut gateway = spawn(
        "gateway",
        &bins.join("filieris-gateway"),
        &[
            ("FILIERIS_REDIS_URL", redis),
            common[0].clone(),
            common[1].clone(),
            ("FILIERIS_GATEWAY_ADDR", gateway_addr.clone()),
            ("FILIERIS_DEV_API_KEY", dev_key.clone()),
            ("FILIERIS_REGISTRY_URL", format!("http://{registry_addr}")),
            // The quota check still runs (Redis round trip per call), but with a
            // bucket large enough that the load measures serving, not refusals.
            ("FILIERIS_GATEWAY_QUOTAS", "partner=1000000:1000000,staff=1000000:1000000,job=1000000:1000000,service=1000000:1000000".into()),
        ],
        logs,
    )?;
    let gateway_url = format!("http://{gateway_addr}");
    wait_ready(&gateway_url, &mut gateway, &mut registry).await?;

    // The structure every path reads, and the message the bare server answers.
    let mut direct = RegistryServiceClient::new(Channel::from_shared(format!("http://{registry_addr}"))?.connect().await?);
    let mut ask = tonic::Request::new(ListStructuresRequest { page_size: 1, ..Default::default() });
    signed.attach(&mut ask);
    let list = direct.list_structures(ask).await?.into_inner();
    let structure = list.structures.first().context("the demo registry has no structure")?;
    let name = structure.name.clone();
    let mut ask = tonic::Request::new(GetStructureRequest { name: name.clone(), as_of_date: String::new() });
    signed.attach(&mut ask);
    let answer = direct.get_structure(ask).await?.into_inner();
    let bare_url = start_bare(answer).await?;
    eprintln!("[load] reading {name}");

    let http = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency).build()?;
    let callers = [
        // The bare server gets the same signed headers: the three gRPC paths carry the same request.
        (BARE, Caller::grpc(&bare_url, None, Some(Box::new(signed.clone())), &name).await?),
        (GRPC_DIRECT, Caller::grpc(&format!("http://{registry_addr}"), None, Some(Box::new(signed.clone())), &name).await?),
        (GRPC_GATEWAY, Caller::grpc(&gateway_url, Some(&dev_key), None, &name).await?),
        (REST_GATEWAY, Caller::Rest { http: http.clone(), url: format!("{gateway_url}/v1/{name}"), key: dev_key.clone() }),
    ];
    let length = Duration::from_secs(args.seconds);
    for (label, caller) in &callers {
        caller.call().await.map_err(|e| anyhow::anyhow!("{label}: the first call failed: {e}"))?;
        eprintln!("[load] {label}: saturation");
        saturate(caller, args.concurrency, WARM_UP).await;
        let sat = saturate(caller, args.concurrency, length).await;
        eprintln!("[load] {label}: {:.0} calls/s; fixed rate {} /s", sat.throughput(), args.rate);
        fixed_rate(caller, args.rate, WARM_UP).await;
        let fixed = fixed_rate(caller, args.rate, length).await;
        report.paths.push((label, sat, fixed));
    }
    for (name, proc) in [("registry", &registry), ("gateway", &gateway)] {
        report.memory.push((name.to_owned(), status_kb(proc.pid(), "VmHWM:"), status_kb(proc.pid(), "VmRSS:")));
    }
    report.memory.push((
        "load program (incl. bare server)".to_owned(),
        status_kb(std::process::id(), "VmHWM:"),
        status_kb(std::process::id(), "VmRSS:"),
    ));

    if args.soak_seconds > 0 {
        let rest = &callers[3].1;
        let samples = args.soak_seconds.div_ceil(SOAK_SAMPLE.as_secs());
        eprintln!("[load] soak: {} s at {} /s", samples * SOAK_SAMPLE.as_secs(), args.rate);
        for i in 1..=samples {
            let run = fixed_rate(rest, args.rate, SOAK_SAMPLE).await;
            ensure!(gateway.running() && registry.running(), "a process exited during the soak: see {}", logs.display());
            let errors = run.errors.values().sum();
            report.soak.push((
                i * SOAK_SAMPLE.as_secs(),
                status_kb(gateway.pid(), "VmRSS:"),
                status_kb(registry.pid(), "VmRSS:"),
                run.latency,
                errors,
            ));
        }
    }
    Ok(())
}

async fn wait_ready(gateway_url: &str, gateway: &mut Proc, registry: &mut Proc) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !http.get(format!("{gateway_url}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
        ensure!(gateway.running(), "the gateway exited: see {}", gateway.log.display());
        ensure!(registry.running(), "the registry exited: see {}", registry.log.display());
        ensure!(Instant::now() < deadline, "the gateway is not ready after 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}
