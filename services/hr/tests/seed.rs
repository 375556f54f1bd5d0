//! `seed-demo` against the real registry demo data: the registry serves its
//! demo structures on a free port, the HR registry cache is filled from its
//! change feed, the named structure is found by the registry's search (the
//! Salindres health centre), and seeding twice adds nothing.

use std::time::Duration;

use filieris_hr::storage::Store;
use filieris_proto::hr as pb;
use filieris_proto::hr::hr_service_server::HrService;
use filieris_runtime::config::InternalKey;
use filieris_runtime::events::Consumer;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::registry_cache::RegistryCache;
use filieris_runtime::testing::TestDatabase;

const INTERNAL: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn seed_demo_staffs_the_registry_demo_structures_once() {
    let db = TestDatabase::create().await.expect("db");
    let key = InternalKey::from_hex(INTERNAL).expect("key");
    let reg_pool =
        filieris_runtime::db::connect(&db.url, filieris_registry::SCHEMA, 4, &filieris_registry::MIGRATOR).await.expect("registry db");
    filieris_registry::seed::load_demo(&filieris_registry::storage::Store::new(reg_pool.clone())).await.expect("registry seed");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (_stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(filieris_registry::serve(listener, reg_pool, key.clone(), Duration::from_secs(1), async {
        let _ = stop_rx.await;
    }));

    let pool = filieris_runtime::db::connect(&db.url, filieris_hr::SCHEMA, 4, &filieris_hr::MIGRATOR).await.expect("hr db");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).expect("url").connect_lazy();
    let registry = RegistryCache::new(channel, key, pool.clone(), filieris_hr::SERVICE_CALLER);
    let (feed, handler) = registry.clone().into_arcs();
    Consumer::new(pool.clone(), "registry", "hr-test", feed, handler, None).catch_up().await.expect("cache filled");
    let named = registry.find_structures("", "Salindres", "").await.expect("search");
    assert_eq!(named.len(), 1, "the registry demo has one Salindres centre");

    let store = Store::new(pool.clone());
    let summary = filieris_hr::seed::load_demo(&store, named.first().copied()).await.expect("seed");
    assert!(summary.contains("named: "), "{summary}");
    let first = store.counts().await.expect("counts");
    assert!(first["person"] > 300, "{first:?}");
    filieris_hr::seed::load_demo(&store, named.first().copied()).await.expect("seed again");
    assert_eq!(store.counts().await.expect("counts"), first);

    // The named centre's GEPP view foresees its three departures.
    let (finess,): (String,) =
        sqlx::query_as("SELECT finess FROM structure_cache WHERE structure_id = $1").bind(named[0]).fetch_one(&pool).await.expect("finess");
    let api = filieris_hr::HrApi::new(store);
    let mut req = tonic::Request::new(pb::GetGeppViewRequest { finess, as_of_date: "2026-11-23".into(), ..Default::default() });
    req.extensions_mut().insert(Identity { caller: "staff:x".into(), kind: CallerKind::Staff, roles: vec![], scopes: vec![] });
    let view = api.get_gepp_view(req).await.expect("gepp").into_inner();
    let departures: usize = view.rows.iter().map(|r| r.departures.len()).sum();
    assert_eq!(departures, 3);
}
