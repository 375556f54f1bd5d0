//! Shared set-up of the activity test binaries: a fresh database, the real
//! registry serving its demo data on a free port, and the activity store with
//! its registry cache filled from the registry's change feed.

// Each test binary uses part of the harness.
#![allow(dead_code)]

use std::time::Duration;

use filieris_activity::registry_sync::RegistrySync;
use filieris_activity::storage::Store;
use filieris_kernel::pseudonym::PseudonymKey;
use filieris_runtime::config::InternalKey;
use filieris_runtime::events::Consumer;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::testing::TestDatabase;
use sqlx::PgPool;
use tonic::transport::Channel;

pub const INTERNAL: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
pub const PSEUDO: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

/// What a test works with.
pub struct Harness {
    pub store: Store,
    pub pool: PgPool,
    pub sync: RegistrySync,
    /// Channel to the registry.
    pub channel: Channel,
    pub key: InternalKey,
    pub consumer: Consumer,
    /// FINESS of open demo health centres (opened before 2018), ordered.
    pub centres: Vec<String>,
    /// Stops the registry when dropped.
    pub stop: tokio::sync::oneshot::Sender<()>,
}

/// An admin caller.
pub fn admin(caller: &str) -> Identity {
    Identity { caller: caller.into(), kind: CallerKind::Job, roles: vec!["admin".into()], scopes: vec!["*".into()] }
}

pub async fn harness() -> Harness {
    let db = TestDatabase::create().await.expect("db");
    let key = InternalKey::from_hex(INTERNAL).expect("key");
    let reg_pool =
        filieris_runtime::db::connect(&db.url, filieris_registry::SCHEMA, 4, &filieris_registry::MIGRATOR).await.expect("registry db");
    filieris_registry::seed::load_demo(&filieris_registry::storage::Store::new(reg_pool.clone())).await.expect("seed");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(filieris_registry::serve(listener, reg_pool, key.clone(), Duration::from_secs(1), async {
        let _ = stop_rx.await;
    }));

    let pool =
        filieris_runtime::db::connect(&db.url, filieris_activity::SCHEMA, 4, &filieris_activity::MIGRATOR).await.expect("activity db");
    let store = Store::new(pool.clone(), PseudonymKey::from_hex(PSEUDO).expect("pseudo key"));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).expect("url").connect_lazy();
    let sync = RegistrySync::new(channel.clone(), key.clone(), pool.clone(), filieris_activity::registry_sync::SERVICE_CALLER);
    let (feed, handler) = sync.clone().into_arcs();
    let consumer = Consumer::new(pool.clone(), "registry", "activity-test", feed, handler, None);
    consumer.catch_up().await.expect("cache filled from the registry's change feed");
    let centres: Vec<(String,)> = sqlx::query_as(
        "SELECT finess FROM structure_cache WHERE category = 'HEALTH_CENTRE' AND level = 'ESTABLISHMENT' \
         AND open_date <= '2018-01-01' AND close_date IS NULL ORDER BY finess",
    )
    .fetch_all(&pool)
    .await
    .expect("centres");
    assert!(centres.len() >= 3);
    Harness { store, pool, sync, channel, key, consumer, centres: centres.into_iter().map(|c| c.0).collect(), stop }
}
