//! Runtime behaviour against a real PostgreSQL.

use std::time::Duration;

use filieris_runtime::testing::TestDatabase;
use sqlx::Row;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

static DEMO: sqlx::migrate::Migrator = sqlx::migrate!("./tests/migrations_demo");

#[tokio::test]
async fn replicas_starting_together_migrate_once() {
    let db = TestDatabase::create().await.expect("db");
    let mut handles = Vec::new();
    for _ in 0..4 {
        let url = db.url.clone();
        handles.push(tokio::spawn(async move { filieris_runtime::db::connect(&url, "demo", 2, &DEMO).await }));
    }
    let mut pools = Vec::new();
    for h in handles {
        pools.push(h.await.expect("join").expect("every replica starts"));
    }
    let pool = &pools[0];
    // The pool works in the service schema, with the runtime's tables and the service's.
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM _sqlx_migrations").fetch_one(pool).await.expect("migrations");
    assert_eq!(n, 3, "runtime (2) + demo (1) migrations applied once");
    sqlx::query("INSERT INTO demo_item (label) VALUES ('x')").execute(pool).await.expect("service table");
    let schema: String = sqlx::query("SELECT current_schema()").fetch_one(pool).await.expect("schema").get(0);
    assert_eq!(schema, "demo");
}

#[tokio::test]
async fn audit_log_is_append_only() {
    let db = TestDatabase::create().await.expect("db");
    let pool = filieris_runtime::db::connect(&db.url, "demo", 2, &DEMO).await.expect("connect");
    sqlx::query("INSERT INTO audit_log (caller, caller_kind, method, resource, request_id, outcome) VALUES ('a','staff','m','r','','OK')")
        .execute(&pool)
        .await
        .expect("insert");
    let update = sqlx::query("UPDATE audit_log SET outcome = 'FORGED'").execute(&pool).await;
    assert!(update.is_err(), "audit rows cannot be changed");
    let delete = sqlx::query("DELETE FROM audit_log").execute(&pool).await;
    assert!(delete.is_err(), "audit rows cannot be deleted");
}

#[tokio::test]
async fn bad_schema_names_are_refused() {
    let err = filieris_runtime::db::connect("postgres://x@127.0.0.1:1/db", "Robert'); DROP", 1, &DEMO).await.expect_err("refused");
    assert!(err.to_string().contains("schema name"), "{err}");
}

async fn status(addr: std::net::SocketAddr) -> Option<i32> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}")).ok()?.connect().await.ok()?;
    let r = HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await.ok()?;
    Some(r.into_inner().status)
}

/// Polls health until it reports `want` (bounded number of polls).
async fn wait_for(addr: std::net::SocketAddr, want: ServingStatus) -> bool {
    for _ in 0..100 {
        if status(addr).await == Some(want as i32) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn health_follows_the_database() {
    let db = TestDatabase::create().await.expect("db");
    let pool = filieris_runtime::db::connect(&db.url, "demo", 2, &DEMO).await.expect("connect");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(filieris_runtime::server::serve(
        listener,
        tonic::service::Routes::default(),
        pool.clone(),
        &["demo.v1.Demo"],
        Duration::from_secs(1),
        async {
            let _ = stop_rx.await;
        },
    ));
    assert!(wait_for(addr, ServingStatus::Serving).await, "SERVING while the database answers");

    // The database goes away: NOT_SERVING.
    let admin = filieris_runtime::testing::admin_url();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await.expect("admin");
    sqlx::query(&format!("DROP DATABASE \"{}\" WITH (FORCE)", db.name)).execute(&mut conn).await.expect("drop");
    assert!(wait_for(addr, ServingStatus::NotServing).await, "NOT_SERVING while the database is unreachable");

    // Shutdown completes.
    let _ = stop_tx.send(());
    server.await.expect("join").expect("clean shutdown");
}
