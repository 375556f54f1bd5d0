//! Row-level scoping of QueryResults: a structure manager reads its centre's
//! results only, a regional controller its region's; a scope outside the
//! caller's visibility is refused with SCOPE_NOT_VISIBLE.

use std::time::Duration;

use filieris_finance::results::storage::ResultsStore;
use filieris_finance::results::{ResultsApi, SERVICE_CALLER};
use filieris_proto::finance as pb;
use filieris_proto::finance::finance_results_service_server::FinanceResultsService;
use filieris_proto::types::Region;
use filieris_runtime::config::InternalKey;
use filieris_runtime::events::Consumer;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::registry_cache::RegistryCache;
use filieris_runtime::testing::TestDatabase;
use tonic::{Code, Request};

const INTERNAL: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn who(roles: &[&str], scopes: &[String]) -> Identity {
    Identity {
        caller: "staff:scoping-test".into(),
        kind: CallerKind::Staff,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        scopes: scopes.to_vec(),
    }
}

fn req<T>(body: T, identity: &Identity) -> Request<T> {
    let mut r = Request::new(body);
    r.extensions_mut().insert(identity.clone());
    r
}

async fn by_structure(api: &ResultsApi, identity: &Identity, scope: &str) -> Result<(Vec<(String, i64)>, i64), tonic::Status> {
    let response = api
        .query_results(req(
            pb::QueryResultsRequest {
                period: "2022".into(),
                scope: scope.into(),
                group_by: vec![pb::ResultDimension::Structure as i32],
                activity_line: 0,
                page_size: 100,
                page_token: String::new(),
            },
            identity,
        ))
        .await?
        .into_inner();
    let mut rows: Vec<(String, i64)> =
        response.rows.into_iter().map(|r| (r.finess, r.amounts.map(|a| a.produits_cents).unwrap_or_default())).collect();
    rows.sort();
    Ok((rows, response.total.map(|t| t.produits_cents).unwrap_or_default()))
}

#[tokio::test]
async fn structure_managers_and_regional_controllers_get_their_results_only() {
    let db = TestDatabase::create().await.expect("db");
    let key = InternalKey::from_hex(INTERNAL).expect("key");
    let reg_pool =
        filieris_runtime::db::connect(&db.url, filieris_registry::SCHEMA, 4, &filieris_registry::MIGRATOR).await.expect("registry db");
    filieris_registry::seed::load_demo(&filieris_registry::storage::Store::new(reg_pool.clone())).await.expect("seed");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (_stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(filieris_registry::serve(listener, reg_pool, key.clone(), Duration::from_secs(1), async {
        let _ = stop_rx.await;
    }));
    let pool = filieris_runtime::db::connect(&db.url, filieris_finance::SCHEMA, 4, &filieris_finance::MIGRATOR).await.expect("finance db");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).expect("url").connect_lazy();
    let registry = RegistryCache::new(channel, key, pool.clone(), SERVICE_CALLER);
    let (feed, handler) = registry.clone().into_arcs();
    Consumer::new(pool.clone(), "registry", "finance-scoping", feed, handler, None).catch_up().await.expect("cache filled");
    let api = ResultsApi::new(ResultsStore::new(pool.clone()), registry);

    let centres: Vec<(String, i16)> = sqlx::query_as(
        "SELECT finess, region FROM structure_cache WHERE category = 'HEALTH_CENTRE' AND level = 'ESTABLISHMENT' \
         AND finess IS NOT NULL AND open_date <= '2018-01-01' AND close_date IS NULL ORDER BY finess",
    )
    .fetch_all(&pool)
    .await
    .expect("centres");
    let first = centres[0].clone();
    let same_region = centres.iter().skip(1).find(|(_, r)| *r == first.1).cloned().expect("two centres in one region");
    let other_region = centres.iter().find(|(_, r)| *r != first.1).cloned().expect("a centre of another region");
    let entry = |finess: &str, cents: i64| pb::LedgerEntryInput {
        finess: finess.into(),
        account: "706".into(),
        activity_line: pb::ActivityLine::HealthCentrePolyvalent as i32,
        month: "202203".into(),
        amount_cents: cents,
    };
    let admin = who(&["admin"], &["*".to_owned()]);
    api.import_ledger_entries(req(
        pb::ImportLedgerEntriesRequest {
            request_id: "scoping-1".into(),
            source_system: "test".into(),
            entries: vec![entry(&first.0, 100), entry(&same_region.0, 20), entry(&other_region.0, 3)],
        },
        &admin,
    ))
    .await
    .expect("import");

    let (all, total) = by_structure(&api, &admin, "").await.expect("national");
    assert_eq!((all.len(), total), (3, 123));

    // The manager of `first`: its centre's rows and total only, whatever scope it names within it.
    let manager = who(&["reader"], &[format!("structure:{}", first.0)]);
    assert_eq!(by_structure(&api, &manager, "").await.expect("own"), (vec![(first.0.clone(), 100)], 100));
    let err = by_structure(&api, &manager, &format!("structures/{}", same_region.0)).await.expect_err("another centre");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(tonic_types::StatusExt::get_details_error_info(&err).map(|i| i.reason).as_deref(), Some("SCOPE_NOT_VISIBLE"));

    // The controller of the region: both centres there.
    let region = Region::try_from(i32::from(first.1)).expect("region").as_str_name().trim_start_matches("REGION_").to_owned();
    let controller = who(&["reader"], &[format!("region:{region}")]);
    let (rows, total) = by_structure(&api, &controller, "").await.expect("region");
    assert_eq!((rows, total), (vec![(first.0.clone(), 100), (same_region.0.clone(), 20)], 120));
    assert_eq!(by_structure(&api, &controller, &format!("regions/{region}")).await.expect("own region").1, 120);
    let err = by_structure(&api, &controller, &format!("structures/{}", other_region.0)).await.expect_err("other region");
    assert_eq!(err.code(), Code::PermissionDenied);
}
