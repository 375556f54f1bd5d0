//! Killing the activity service (SIGKILL) in the middle of an import, then
//! re-sending the batch: nothing is lost and nothing is counted twice.
//!
//! The activity service runs as a real child process (the `filieris-activity`
//! binary); the registry runs in this process.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use filieris_proto::activity as pb;
use filieris_proto::activity::activity_service_client::ActivityServiceClient;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::testing::TestDatabase;

const INTERNAL: &str = "00aa11bb22cc33dd44ee55ff66007711882299aa33bb44cc55dd66ee77ff8800";
const PSEUDO: &str = "99887766554433221100ffeeddccbbaa99887766554433221100ffeeddccbbaa";
const ROWS: usize = 200_000;
const CHUNK: usize = 5_000;

/// The `filieris-activity` binary next to this test's target folder, built if missing.
fn activity_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir").to_path_buf();
    let bin = dir.join("filieris-activity");
    if !bin.exists() {
        let status =
            Command::new(env!("CARGO")).args(["build", "-p", "filieris-activity", "--bin", "filieris-activity"]).status().expect("cargo");
        assert!(status.success(), "building filieris-activity failed");
    }
    bin
}

fn spawn(bin: &std::path::Path, db: &str, registry: &str, addr: &str) -> Child {
    Command::new(bin)
        .env("DATABASE_URL", db)
        .env("FILIERIS_INTERNAL_KEY", INTERNAL)
        .env("FILIERIS_PSEUDONYM_KEY", PSEUDO)
        .env("FILIERIS_REGISTRY_URL", registry)
        .env("FILIERIS_ACTIVITY_ADDR", addr)
        .env_remove("FILIERIS_REDIS_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn filieris-activity")
}

async fn client(addr: &str) -> ActivityServiceClient<tonic::transport::Channel> {
    for _ in 0..300 {
        if let Ok(c) = tonic::transport::Channel::from_shared(format!("http://{addr}")).expect("url").connect().await {
            return ActivityServiceClient::new(c).max_encoding_message_size(64 << 20);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("filieris-activity did not start on {addr}");
}

fn signed<T>(msg: T) -> tonic::Request<T> {
    let key = filieris_runtime::config::InternalKey::from_hex(INTERNAL).expect("key");
    let me = Identity { caller: "job:crash-test".into(), kind: CallerKind::Job, roles: vec!["admin".into()], scopes: vec!["*".into()] };
    let mut r = tonic::Request::new(msg);
    me.attach(&key, &mut r);
    r
}

fn rows(finess: &[String]) -> Vec<pb::ActInput> {
    (0..ROWS)
        .map(|i| pb::ActInput {
            act_date: format!("2018-{:02}-{:02}", i % 12 + 1, i % 28 + 1),
            finess: finess[i % finess.len()].clone(),
            line: pb::ActivityLine::Nursing as i32,
            nomenclature: pb::Nomenclature::Ngap as i32,
            code: "AMI 1.5".into(),
            mode: 0,
            patient: Some(pb::PatientRef {
                identity: Some(pb::patient_ref::Identity::Partner(pb::PartnerPseudonym {
                    partner: "crash".into(),
                    id: format!("p{}", i % 20_000),
                })),
            }),
            scheme: if i % 3 == 0 { pb::Scheme::Other as i32 } else { pb::Scheme::Mining as i32 },
            amount_cents: 801,
            source_ref: String::new(),
        })
        .collect()
}

fn stream_of(all: &[pb::ActInput], slow: bool) -> impl tokio_stream::Stream<Item = pb::ImportActsRequest> + Send + 'static {
    let mut messages = vec![pb::ImportActsRequest {
        part: Some(pb::import_acts_request::Part::Header(pb::ImportHeader {
            request_id: "crash-batch-1".into(),
            source_system: "test".into(),
            format: 0,
        })),
    }];
    messages.extend(
        all.chunks(CHUNK)
            .map(|c| pb::ImportActsRequest { part: Some(pb::import_acts_request::Part::Rows(pb::ActRows { acts: c.to_vec() })) }),
    );
    // The first send trickles so that the kill lands mid-import.
    tokio_stream::StreamExt::throttle(tokio_stream::iter(messages), if slow { Duration::from_millis(50) } else { Duration::from_millis(0) })
}

#[tokio::test]
async fn a_killed_import_resent_is_stored_exactly_once() {
    let db = TestDatabase::create().await.expect("db");
    let key = filieris_runtime::config::InternalKey::from_hex(INTERNAL).expect("key");
    let reg_pool =
        filieris_runtime::db::connect(&db.url, filieris_registry::SCHEMA, 4, &filieris_registry::MIGRATOR).await.expect("registry db");
    filieris_registry::seed::load_demo(&filieris_registry::storage::Store::new(reg_pool.clone())).await.expect("seed");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let registry = format!("http://{}", listener.local_addr().expect("addr"));
    let (_stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(filieris_registry::serve(listener, reg_pool.clone(), key, Duration::from_secs(1), async {
        let _ = stop_rx.await;
    }));
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().expect("addr").to_string()
    };

    let bin = activity_binary();
    let mut child = spawn(&bin, &db.url, &registry, &addr);
    let mut c = client(&addr).await;
    // Wait until the registry cache is filled (the service catches up at start).
    let pool = sqlx::PgPool::connect(&db.url).await.expect("db");
    let mut centres: Vec<(String,)> = Vec::new();
    for _ in 0..300 {
        centres = sqlx::query_as(
            "SELECT finess FROM activity.structure_cache WHERE category = 'HEALTH_CENTRE' AND level = 'ESTABLISHMENT' \
             AND open_date <= '2018-01-01' AND close_date IS NULL ORDER BY finess",
        )
        .fetch_all(&pool)
        .await
        .unwrap_or_default();
        if centres.len() > 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let finess: Vec<String> = centres.into_iter().map(|c| c.0).collect();
    assert!(finess.len() > 100, "registry cache not filled");
    let all = rows(&finess);

    // First send: killed with SIGKILL while rows are still flowing.
    let first = tokio::spawn({
        let mut c = c.clone();
        let s = stream_of(&all, true);
        async move { c.import_acts(signed(s)).await }
    });
    tokio::time::sleep(Duration::from_millis(600)).await;
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert!(first.await.expect("join").is_err(), "the interrupted import must fail");
    let (acts,): (i64,) = sqlx::query_as("SELECT count(*) FROM activity.act").fetch_one(&pool).await.expect("count");
    assert_eq!(acts, 0, "nothing of the interrupted batch is stored");

    // Restart and re-send the same batch: stored once.
    let mut child = spawn(&bin, &db.url, &registry, &addr);
    c = client(&addr).await;
    let batch = c.import_acts(signed(stream_of(&all, false))).await.expect("re-send").into_inner().batch.expect("batch");
    assert_eq!((batch.accepted_rows, batch.rejected_rows), (ROWS as i64, 0));
    let again = c.import_acts(signed(stream_of(&all, false))).await.expect("third send").into_inner().batch.expect("batch");
    assert_eq!(again, batch);
    let (acts,): (i64,) = sqlx::query_as("SELECT count(*) FROM activity.act").fetch_one(&pool).await.expect("count");
    assert_eq!(acts, ROWS as i64);
    let (rolled,): (i64,) = sqlx::query_as("SELECT sum(acts)::bigint FROM activity.act_month").fetch_one(&pool).await.expect("rollup");
    assert_eq!(rolled, ROWS as i64);
    println!(
        "fault figures: {ROWS} acts sent three times (first send killed with SIGKILL); stored after the kill 0, \
         after the re-send and a replay {acts} (lost {}, duplicated {})",
        ROWS as i64 - acts.min(ROWS as i64),
        (acts - ROWS as i64).max(0)
    );
    let _ = child.kill();
    let _ = child.wait();
}
