//! Faults: PostgreSQL stopped and restarted under load, and one service
//! stopped while the others keep answering. (Killing the activity service in
//! the middle of an import is `crash.rs`; Redis stopped is the gateway's quota
//! tests.)
//!
//! The PostgreSQL test runs its own private cluster (initdb in a temporary
//! directory, as the `postgres` user), so stopping it disturbs no other test.
//! Each test prints its outcome figures (calls, codes seen, recovery time);
//! docs/benchmarks.md records a run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use filieris_e2e::{ADMIN_KEY, Platform};
use filieris_proto::registry::GetStructureRequest;
use filieris_proto::registry::registry_service_client::RegistryServiceClient;
use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::{CallerKind, Identity};
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const INTERNAL: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// The directory holding initdb and pg_ctl (newest major version first).
fn pg_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir("/usr/lib/postgresql").ok()?.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).collect();
    dirs.sort();
    dirs.into_iter().rev().find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
}

/// A private PostgreSQL cluster owned by the `postgres` user (initdb refuses root).
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn as_postgres(&self, program: &str, args: &[&str]) -> std::process::Output {
        Command::new("runuser").args(["-u", "postgres", "--"]).arg(self.bin.join(program)).args(args).output().expect("runuser")
    }

    fn create(bin: PathBuf) -> Self {
        let dir = std::env::temp_dir().join(format!("filieris-fault-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let chown = Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir).status().expect("chown");
        assert!(chown.success(), "chown of {} failed", dir.display());
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let cluster = Self { bin, dir, port };
        let data = cluster.data();
        let out = cluster.as_postgres("initdb", &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"]);
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn start(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.display());
        let log = self.dir.join("server.log").display().to_string();
        let out = self.as_postgres("pg_ctl", &["-D", &self.data(), "-o", &options, "-l", &log, "-w", "start"]);
        assert!(out.status.success(), "pg_ctl start failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Fast shutdown: open connections are cut, as in a crash of the server.
    fn stop(&self) {
        let out = self.as_postgres("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
        assert!(out.status.success(), "pg_ctl stop failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.as_postgres("pg_ctl", &["-D", &self.data(), "-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Calls GetStructure once; Ok or the gRPC code's name, with the latency.
async fn read(client: &mut RegistryServiceClient<Channel>, key: &InternalKey, name: &str) -> (Result<(), String>, Duration) {
    let identity =
        Identity { caller: "job:fault-test".into(), kind: CallerKind::Job, roles: vec!["reader".into()], scopes: vec!["*".into()] };
    let mut request = tonic::Request::new(GetStructureRequest { name: name.to_owned(), as_of_date: String::new() });
    request.set_timeout(Duration::from_secs(30));
    identity.attach(key, &mut request);
    let t = Instant::now();
    let result = client.get_structure(request).await.map(|_| ()).map_err(|s| format!("{:?}", s.code()));
    (result, t.elapsed())
}

async fn health(channel: &Channel) -> Option<ServingStatus> {
    let mut client = HealthClient::new(channel.clone());
    let response = client.check(HealthCheckRequest { service: String::new() }).await.ok()?;
    ServingStatus::try_from(response.into_inner().status).ok()
}

/// Polls until `health` reports `want`, at most `limit` (so a broken
/// readiness fails the test instead of hanging it).
async fn wait_health(channel: &Channel, want: ServingStatus, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if health(channel).await == Some(want) {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_under_load_fails_fast_with_unavailable_then_recovers() {
    let Some(bin) = pg_bin().filter(|_| is_root()) else {
        assert!(std::env::var_os("CI").is_none(), "CI must run the PostgreSQL fault test: it needs root and /usr/lib/postgresql/*/bin");
        eprintln!("skipped: needs root (to run initdb as postgres) and PostgreSQL server binaries");
        return;
    };
    let cluster = Cluster::create(bin);
    cluster.start();
    let key = InternalKey::from_hex(INTERNAL).expect("key");
    let pool =
        filieris_runtime::db::connect(&cluster.url(), filieris_registry::SCHEMA, 5, &filieris_registry::MIGRATOR).await.expect("connect");
    filieris_registry::seed::load_demo(&filieris_registry::storage::Store::new(pool.clone())).await.expect("seed");
    let name: String = sqlx::query_scalar("SELECT 'structures/' || id::text FROM registry.structure ORDER BY id LIMIT 1")
        .fetch_one(&pool)
        .await
        .expect("a structure");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    tokio::spawn(filieris_registry::serve(listener, pool, key.clone(), Duration::from_secs(1), async {
        let _ = stop_rx.await;
    }));
    let channel = Channel::from_shared(format!("http://{addr}")).expect("url").connect_lazy();
    let mut client = RegistryServiceClient::new(channel.clone());
    assert!(wait_health(&channel, ServingStatus::Serving, Duration::from_secs(60)).await.is_some(), "registry never SERVING");

    // Before: every call answers.
    for _ in 0..50 {
        let (r, _) = read(&mut client, &key, &name).await;
        assert_eq!(r, Ok(()), "before the outage");
    }

    // Outage: calls fail with UNAVAILABLE (never another code, never a hang
    // until the client's deadline), and readiness turns NOT_SERVING.
    cluster.stop();
    let outage = Instant::now();
    let mut codes: BTreeMap<String, u32> = BTreeMap::new();
    let mut failures_ms: Vec<f64> = Vec::new();
    let not_serving = {
        let mut seen = None;
        for _ in 0..20 {
            let (r, took) = read(&mut client, &key, &name).await;
            if let Err(code) = r {
                failures_ms.push(took.as_secs_f64() * 1000.0);
                *codes.entry(code).or_default() += 1;
            } else {
                *codes.entry("OK".into()).or_default() += 1;
            }
            if seen.is_none() && health(&channel).await == Some(ServingStatus::NotServing) {
                seen = Some(outage.elapsed());
            }
        }
        match seen {
            Some(t) => Some(t),
            None => wait_health(&channel, ServingStatus::NotServing, Duration::from_secs(60)).await.map(|t| t + outage.elapsed()),
        }
    };
    assert!(codes.keys().all(|c| c == "Unavailable"), "during the outage only UNAVAILABLE is expected, saw {codes:?}");
    assert!(not_serving.is_some(), "readiness never turned NOT_SERVING during the outage");

    // Recovery: the same process answers again once PostgreSQL is back.
    cluster.start();
    let back = Instant::now();
    let mut recovered = None;
    for _ in 0..600 {
        if read(&mut client, &key, &name).await.0.is_ok() {
            recovered = Some(back.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = recovered.expect("calls never succeeded after PostgreSQL came back");
    let serving = wait_health(&channel, ServingStatus::Serving, Duration::from_secs(60)).await.expect("readiness never SERVING again");
    for _ in 0..20 {
        assert_eq!(read(&mut client, &key, &name).await.0, Ok(()), "after recovery");
    }
    failures_ms.sort_by(f64::total_cmp);
    println!(
        "fault figures: outage calls {codes:?}; failure latency ms min {:.0} median {:.0} max {:.0}; NOT_SERVING after {:.1} s; \
         first success {:.2} s after restart; SERVING again after {:.1} s",
        failures_ms.first().copied().unwrap_or(0.0),
        failures_ms.get(failures_ms.len() / 2).copied().unwrap_or(0.0),
        failures_ms.last().copied().unwrap_or(0.0),
        not_serving.unwrap_or_default().as_secs_f64(),
        recovered.as_secs_f64(),
        serving.as_secs_f64(),
    );
    let _ = stop_tx.send(());
}

async fn get(base: &str, path: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new().get(format!("{base}{path}")).bearer_auth(ADMIN_KEY).send().await.expect("gateway answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_service_down_leaves_the_others_and_the_gateway_answering() {
    let mut platform = Platform::start().await.expect("platform");
    let base = platform.gateway_url.clone();
    let finance = "/v1/funds/BNGA/years/2022/lines";
    let reads = ["/v1/structures?page_size=2", "/v1/jobs?page_size=2"];
    assert_eq!(get(&base, finance).await.0, 200, "finance before the outage");
    for path in reads {
        assert_eq!(get(&base, path).await.0, 200, "{path} before the outage");
    }

    assert!(platform.stop("finance"));
    // The stopped service: 503 with the gateway's reason, within the call (no hang).
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let (status, body) = get(&base, finance).await;
        if status == 200 {
            // In-flight connections may drain first; keep asking.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        statuses.push(status);
        assert_eq!(status, 503, "a stopped service answers 503, got {status}: {body}");
        assert!(body.to_string().contains("UNAVAILABLE") || body.to_string().contains("unavailable"), "{body}");
    }
    assert!(!statuses.is_empty(), "finance kept answering after being stopped");
    // Everything that does not need finance still answers, and the gateway stays ready.
    for path in reads {
        assert_eq!(get(&base, path).await.0, 200, "{path} with finance down");
    }
    assert_eq!(get(&base, "/readyz").await.0, 200, "the gateway stays ready");
    println!("fault figures: finance stopped → {} calls answered 503; registry and HR reads 200; gateway ready", statuses.len());
}
