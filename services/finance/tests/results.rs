//! Results per structure against a real PostgreSQL and a real registry server
//! (in process, demo data, on a free port), one fresh database per test.

use std::time::Duration;

use filieris_finance::results::storage::{ResultsStore, ScopeFilter};
use filieris_finance::results::{ResultsApi, SERVICE_CALLER};
use filieris_proto::finance as pb;
use filieris_proto::finance::finance_results_service_server::FinanceResultsService;
use filieris_runtime::config::InternalKey;
use filieris_runtime::events::Consumer;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::registry_cache::RegistryCache;
use filieris_runtime::testing::TestDatabase;
use sqlx::PgPool;
use tonic::{Code, Request};

const INTERNAL: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct Env {
    api: ResultsApi,
    store: ResultsStore,
    registry: RegistryCache,
    pool: PgPool,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn identity(roles: &[&str]) -> Identity {
    Identity {
        caller: "job:finance-test".into(),
        kind: CallerKind::Job,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        scopes: vec!["*".into()],
    }
}

fn req<T>(body: T) -> Request<T> {
    let mut r = Request::new(body);
    r.extensions_mut().insert(identity(&["admin"]));
    r
}

/// Fresh database, the registry with its demo data, the finance cache filled.
async fn setup() -> Env {
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
    let pool = filieris_runtime::db::connect(&db.url, filieris_finance::SCHEMA, 4, &filieris_finance::MIGRATOR).await.expect("finance db");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).expect("url").connect_lazy();
    let registry = RegistryCache::new(channel, key, pool.clone(), SERVICE_CALLER);
    let (feed, handler) = registry.clone().into_arcs();
    Consumer::new(pool.clone(), "registry", "finance-test", feed, handler, None).catch_up().await.expect("cache filled");
    let store = ResultsStore::new(pool.clone());
    Env { api: ResultsApi::new(store.clone(), registry.clone()), store, registry, pool, _stop: stop }
}

/// FINESS of a structure the registry finds by name within a filter.
async fn finess_of(env: &Env, filter: &str, search: &str) -> String {
    let ids = env.registry.find_structures(filter, search, "").await.expect("registry");
    assert_eq!(ids.len(), 1, "{search}");
    let map = env.store.finess_by_id(&ids).await.expect("finess");
    map.get(&ids[0]).cloned().expect("has a FINESS")
}

/// FINESS of open structures of a category, ordered.
async fn of_category(env: &Env, category: &str) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT finess FROM structure_cache WHERE category = $1 AND level = 'ESTABLISHMENT' AND finess IS NOT NULL \
         AND open_date <= '2018-01-01' AND close_date IS NULL ORDER BY finess",
    )
    .bind(category)
    .fetch_all(&env.pool)
    .await
    .expect("structures");
    rows.into_iter().map(|r| r.0).collect()
}

fn entry(finess: &str, account: &str, line: pb::ActivityLine, month: &str, cents: i64) -> pb::LedgerEntryInput {
    pb::LedgerEntryInput {
        finess: finess.into(),
        account: account.into(),
        activity_line: line as i32,
        month: month.into(),
        amount_cents: cents,
    }
}

async fn import(env: &Env, request_id: &str, entries: Vec<pb::LedgerEntryInput>) -> pb::ImportLedgerEntriesResponse {
    env.api
        .import_ledger_entries(req(pb::ImportLedgerEntriesRequest { request_id: request_id.into(), source_system: "test".into(), entries }))
        .await
        .expect("import")
        .into_inner()
}

async fn results(env: &Env, period: &str, scope: &str, group_by: &[pb::ResultDimension], token: &str) -> pb::QueryResultsResponse {
    env.api
        .query_results(req(pb::QueryResultsRequest {
            period: period.into(),
            scope: scope.into(),
            group_by: group_by.iter().map(|d| *d as i32).collect(),
            activity_line: 0,
            page_size: 2,
            page_token: token.into(),
        }))
        .await
        .expect("results")
        .into_inner()
}

fn result_of(a: &Option<pb::ResultAmounts>) -> i64 {
    a.as_ref().map(|a| a.result_cents).unwrap_or(i64::MIN)
}

#[tokio::test]
async fn import_reports_invalid_rows_and_stores_the_valid_ones() {
    let env = setup().await;
    let centres = of_category(&env, "HEALTH_CENTRE").await;
    let c = &centres[0];
    let resp = import(
        &env,
        "batch-1",
        vec![
            entry(c, "706", pb::ActivityLine::HealthCentrePolyvalent, "202201", 1_000_000),
            entry(c, "6411", pb::ActivityLine::HealthCentrePolyvalent, "202201", 700_000),
            entry("750712185", "706", pb::ActivityLine::HealthCentrePolyvalent, "202201", 5),
            entry(c, "512", pb::ActivityLine::Unspecified, "2022-01", 5),
            entry("130786049", "706", pb::ActivityLine::HealthCentreDental, "202201", 5),
        ],
    )
    .await;
    assert_eq!((resp.total_rows, resp.accepted_rows, resp.rejected_rows), (5, 2, 3));
    assert_eq!((resp.produits_cents, resp.charges_cents), (1_000_000, 700_000));
    let errors: Vec<(i64, &str)> = resp.errors.iter().map(|e| (e.row, e.field.as_str())).collect();
    assert_eq!(errors, [(3, "finess"), (4, "month"), (4, "account"), (4, "activity_line"), (5, "finess")]);
    assert!(resp.errors.iter().all(|e| !e.reason.is_empty()));
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM ledger_entry").fetch_one(&env.pool).await.expect("count");
    assert_eq!(n, 2);
    let r = results(&env, "2022", &format!("structures/{c}"), &[], "").await;
    assert_eq!(result_of(&r.total), 300_000);

    // Without a writer role, nothing is imported.
    let mut denied = Request::new(pb::ImportLedgerEntriesRequest { request_id: "x".into(), source_system: String::new(), entries: vec![] });
    denied.extensions_mut().insert(identity(&["reader"]));
    assert_eq!(env.api.import_ledger_entries(denied).await.expect_err("denied").code(), Code::PermissionDenied);
    // A request id is required; more than 10,000 rows are refused whole.
    let missing =
        env.api.import_ledger_entries(req(pb::ImportLedgerEntriesRequest { request_id: String::new(), ..Default::default() })).await;
    assert_eq!(missing.expect_err("no id").code(), Code::InvalidArgument);
    let big = vec![entry(c, "706", pb::ActivityLine::HealthCentrePolyvalent, "202201", 1); 10_001];
    let too_many = env
        .api
        .import_ledger_entries(req(pb::ImportLedgerEntriesRequest { request_id: "big".into(), entries: big, ..Default::default() }))
        .await;
    assert_eq!(too_many.expect_err("too many").code(), Code::InvalidArgument);
}

#[tokio::test]
async fn the_same_request_id_replays_and_another_payload_is_refused() {
    let env = setup().await;
    let c = of_category(&env, "HEALTH_CENTRE").await.remove(0);
    let rows = vec![entry(&c, "706", pb::ActivityLine::HealthCentrePolyvalent, "202203", 12_345)];
    let first = import(&env, "same", rows.clone()).await;
    let again = import(&env, "same", rows).await;
    assert_eq!(first, again);
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM ledger_entry").fetch_one(&env.pool).await.expect("count");
    assert_eq!(n, 1);
    let other = env
        .api
        .import_ledger_entries(req(pb::ImportLedgerEntriesRequest {
            request_id: "same".into(),
            source_system: "test".into(),
            entries: vec![entry(&c, "706", pb::ActivityLine::HealthCentrePolyvalent, "202203", 12_346)],
        }))
        .await
        .expect_err("reused");
    assert_eq!(other.code(), Code::InvalidArgument);
    let details = tonic_types::StatusExt::get_error_details(&other);
    assert_eq!(details.error_info().map(|i| i.reason.as_str()), Some("REQUEST_ID_REUSED"));
}

#[tokio::test]
async fn results_by_structure_region_line_month_and_group() {
    let env = setup().await;
    let centres = of_category(&env, "HEALTH_CENTRE").await;
    let ssiad = of_category(&env, "SSIAD").await;
    let (a, b, s) = (&centres[0], &centres[1], &ssiad[0]);
    use pb::ActivityLine::*;
    import(
        &env,
        "r",
        vec![
            entry(a, "706", HealthCentrePolyvalent, "202201", 10_000),
            entry(a, "6411", HealthCentrePolyvalent, "202201", 15_000),
            entry(a, "706", HealthCentreDental, "202202", 4_000),
            entry(b, "706", HealthCentrePolyvalent, "202204", 7_000),
            entry(b, "606", HealthCentrePolyvalent, "202204", 2_000),
            entry(s, "7311", Ssiad, "202201", 50_000),
            entry(s, "6411", Ssiad, "202203", 45_000),
            entry(a, "706", HealthCentrePolyvalent, "202301", 99_900),
        ],
    )
    .await;
    // National 2022: produits 710.00, charges 620.00.
    let all = results(&env, "2022", "", &[], "").await;
    assert_eq!(all.total, Some(pb::ResultAmounts { produits_cents: 71_000, charges_cents: 62_000, result_cents: 9_000 }));
    assert!(all.rows.is_empty());
    // Quarter and month periods.
    assert_eq!(result_of(&results(&env, "2022Q1", "", &[], "").await.total), 10_000 - 15_000 + 4_000 + 50_000 - 45_000);
    assert_eq!(result_of(&results(&env, "202204", "", &[], "").await.total), 5_000);
    // By structure, two rows a page, keyset tokens until the end.
    let mut rows = Vec::new();
    let mut token = String::new();
    loop {
        let page = results(&env, "2022", "", &[pb::ResultDimension::Structure], &token).await;
        assert_eq!(result_of(&page.total), 9_000, "every page carries the totals");
        rows.extend(page.rows);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut by: Vec<(String, i64)> = rows.iter().map(|r| (r.finess.clone(), result_of(&r.amounts))).collect();
    by.sort();
    let mut expected = vec![(a.clone(), -1_000), (b.clone(), 5_000), (s.clone(), 5_000)];
    expected.sort();
    assert_eq!(by, expected);
    // By line, by month.
    let lines = results(&env, "2022", "", &[pb::ResultDimension::ActivityLine], "").await;
    let lines: Vec<(i32, i64)> = lines.rows.iter().map(|r| (r.activity_line, result_of(&r.amounts))).collect();
    assert_eq!(lines[0], (HealthCentrePolyvalent as i32, 0));
    assert_eq!(lines[1], (HealthCentreDental as i32, 4_000));
    let months = results(&env, "2022Q1", &format!("structures/{a}"), &[pb::ResultDimension::Month], "").await;
    assert_eq!(months.rows[0].month, "202201");
    // By region: the three regions add up to the national result.
    let mut sum = 0;
    let mut token = String::new();
    loop {
        let page = results(&env, "2022", "", &[pb::ResultDimension::Region], &token).await;
        sum += page.rows.iter().map(|r| result_of(&r.amounts)).sum::<i64>();
        assert!(page.rows.iter().all(|r| r.region != 0));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(sum, 9_000);
    // A region scope and a registry group scope.
    let nord = results(&env, "2022", "regions/NORD", &[], "").await;
    let est = results(&env, "2022", "regions/EST", &[], "").await;
    let sud = results(&env, "2022", "regions/SUD", &[], "").await;
    assert_eq!(result_of(&nord.total) + result_of(&est.total) + result_of(&sud.total), 9_000);
    let health_centres = results(&env, "2022", "structureGroups/centres-de-sante", &[], "").await;
    assert_eq!(result_of(&health_centres.total), 4_000);
    let ssiad_group = results(&env, "2022", "structureGroups/ssiad", &[], "").await;
    assert_eq!(result_of(&ssiad_group.total), 5_000);
    // One activity line only.
    let only = env
        .api
        .query_results(req(pb::QueryResultsRequest { period: "2022".into(), activity_line: Ssiad as i32, ..Default::default() }))
        .await
        .expect("line")
        .into_inner();
    assert_eq!(result_of(&only.total), 5_000);
    // Unknown group, bad period, token of another query.
    let unknown = env
        .api
        .query_results(req(pb::QueryResultsRequest { period: "2022".into(), scope: "structureGroups/nope".into(), ..Default::default() }))
        .await;
    assert_eq!(unknown.expect_err("unknown").code(), Code::InvalidArgument);
    let week = env.api.query_results(req(pb::QueryResultsRequest { period: "2022W10".into(), ..Default::default() })).await;
    assert_eq!(week.expect_err("week").code(), Code::InvalidArgument);
    let page = results(&env, "2022", "", &[pb::ResultDimension::Structure], "").await;
    let mismatch = env
        .api
        .query_results(req(pb::QueryResultsRequest {
            period: "2023".into(),
            group_by: vec![1],
            page_token: page.next_page_token,
            ..Default::default()
        }))
        .await;
    assert_eq!(mismatch.expect_err("mismatch").code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_million_one_cent_entries_sum_exactly() {
    let env = setup().await;
    let c = of_category(&env, "HEALTH_CENTRE").await.remove(0);
    // One import through the API fixes the batch and the structure; the
    // million rows are then written set-wise in one statement.
    let first = import(&env, "cents", vec![entry(&c, "706", pb::ActivityLine::HealthCentrePolyvalent, "202201", 1)]).await;
    let batch = uuid::Uuid::parse_str(first.name.trim_start_matches("ledgerBatches/")).expect("batch id");
    sqlx::query(
        "INSERT INTO ledger_entry (batch_id, row_number, structure_id, region, account, account_class, activity_line, month, amount_cents) \
         SELECT batch_id, row_number + g, structure_id, region, account, account_class, activity_line, \
                (DATE '2022-01-01' + make_interval(months => g % 12))::date, amount_cents \
         FROM ledger_entry, generate_series(1, 999999) AS g WHERE batch_id = $1",
    )
    .bind(batch)
    .execute(&env.pool)
    .await
    .expect("a million rows");
    let total = results(&env, "2022", "", &[], "").await.total.expect("total");
    assert_eq!(total.produits_cents, 1_000_000);
    let (p, _) = env
        .store
        .totals(
            chrono::NaiveDate::from_ymd_opt(2022, 1, 1).expect("date"),
            chrono::NaiveDate::from_ymd_opt(2023, 1, 1).expect("date"),
            &ScopeFilter::All,
            None,
        )
        .await
        .expect("totals");
    assert_eq!(p, 1_000_000);
    // The twelve monthly rows add up to the same exact total.
    let months = env
        .api
        .query_results(req(pb::QueryResultsRequest {
            period: "2022".into(),
            group_by: vec![pb::ResultDimension::Month as i32],
            page_size: 12,
            ..Default::default()
        }))
        .await
        .expect("months")
        .into_inner();
    assert_eq!(months.rows.len(), 12);
    assert_eq!(months.rows.iter().map(|r| r.amounts.as_ref().map_or(0, |a| a.produits_cents)).sum::<i64>(), 1_000_000);
}

#[tokio::test]
async fn freyming_2022_meets_at_minus_1_6_million_and_misses_at_minus_1_7_million() {
    let env = setup().await;
    let freyming = finess_of(&env, "category = HOSPITAL", "Freyming-Creutzwald").await;
    use pb::ActivityLine::SsrHadMedicine;
    // Produits 20,000,000.00 and charges 21,600,000.00 over 2022: result −1,600,000.00.
    import(
        &env,
        "frey-1",
        vec![
            entry(&freyming, "7311", SsrHadMedicine, "202206", 2_000_000_000),
            entry(&freyming, "6411", SsrHadMedicine, "202206", 2_160_000_000),
        ],
    )
    .await;
    let eval = |env: &Env| {
        let api = env.api.clone();
        async move {
            api.evaluate_financial_targets(req(pb::EvaluateFinancialTargetsRequest { year: 2022 })).await.expect("evaluate").into_inner()
        }
    };
    let r = eval(&env).await;
    assert_eq!(r.targets.len(), 12);
    let t1 = &r.targets[0];
    assert_eq!((t1.number, t1.base_cents, t1.reduction_percent), (1, -280_551_512, 40));
    assert_eq!((t1.exact_threshold.as_str(), t1.effective_threshold_cents), ("-1683309.072", -168_330_907));
    assert_eq!(result_of(&t1.amounts), -160_000_000);
    assert_eq!(t1.status, pb::TargetStatus::Met as i32);
    assert_eq!(t1.members.len(), 1);
    assert_eq!(t1.members[0].finess, freyming);
    // The other perimeters have no data: not evaluable.
    assert!(r.targets[1..].iter().all(|t| t.status == pb::TargetStatus::NotEvaluable as i32));
    // A further 100,000.00 of charges: −1,700,000.00 misses the target, still better than the base.
    import(&env, "frey-2", vec![entry(&freyming, "6411", SsrHadMedicine, "202212", 10_000_000)]).await;
    let t1 = eval(&env).await.targets.remove(0);
    assert_eq!(result_of(&t1.amounts), -170_000_000);
    assert_eq!(t1.status, pb::TargetStatus::NotMet as i32);
    assert_eq!(t1.qualifiers, [pb::TargetQualifier::BetterThanBase as i32]);
    assert_eq!(t1.months_booked, 2);
    // Outside the COG years.
    let bad = env.api.evaluate_financial_targets(req(pb::EvaluateFinancialTargetsRequest { year: 2021 })).await;
    assert_eq!(bad.expect_err("2021").code(), Code::InvalidArgument);
}

#[tokio::test]
async fn every_perimeter_resolves_to_registry_structures() {
    let env = setup().await;
    for (i, perimeter) in filieris_finance::results::domain::PERIMETERS.iter().enumerate() {
        let ids = match perimeter {
            filieris_finance::results::domain::Perimeter::Group(code) => env.registry.group_members(code, "2022").await,
            filieris_finance::results::domain::Perimeter::Search { search, filter } => {
                env.registry.find_structures(filter, search, "2022-12-31").await
            }
            filieris_finance::results::domain::Perimeter::Filter(filter) => env.registry.find_structures(filter, "", "2022-12-31").await,
        }
        .expect("registry");
        let single = matches!(perimeter, filieris_finance::results::domain::Perimeter::Search { .. });
        assert!(if single { ids.len() == 1 } else { !ids.is_empty() }, "indicator {}: {} members", i + 1, ids.len());
    }
}

/// Every target at its effective threshold is MET and one cent below is
/// NOT_MET, with the amounts booked on perimeter members through the import
/// and the perimeters resolved by the registry (aggregates summed, FIN-T05).
#[tokio::test]
async fn the_twelve_targets_switch_at_their_effective_thresholds() {
    use filieris_finance::results::domain::{self, Perimeter};
    let env = setup().await;
    let year = 2023;
    let mut rows = Vec::new();
    let mut cent_rows = Vec::new();
    for target in domain::targets().expect("targets") {
        let ids = match target.perimeter {
            Perimeter::Group(code) => env.registry.group_members(code, "2023").await,
            Perimeter::Search { search, filter } => env.registry.find_structures(filter, search, "2023-12-31").await,
            Perimeter::Filter(filter) => env.registry.find_structures(filter, "", "2023-12-31").await,
        }
        .expect("registry");
        let finess = env.store.finess_by_id(&ids).await.expect("finess");
        let mut members: Vec<&String> = finess.values().collect();
        members.sort();
        let threshold = domain::effective_threshold_cents(target.kind(year).expect("2023"), target.base_cents);
        let line = pb::ActivityLine::SsrHadMedicine;
        // Produits 1,000.00 on the first member, charges making the perimeter's result exactly the threshold,
        // split over two members when there are two.
        let charges = 100_000 - threshold;
        rows.push(entry(members[0], "7311", line, "202303", 100_000));
        match members.get(1) {
            Some(second) => {
                rows.push(entry(members[0], "6411", line, "202303", charges / 2));
                rows.push(entry(second, "6411", line, "202304", charges - charges / 2));
            }
            None => rows.push(entry(members[0], "6411", line, "202303", charges)),
        }
        cent_rows.push(entry(members[0], "6411", line, "202312", 1));
    }
    import(&env, "thresholds", rows).await;
    let eval = env.api.evaluate_financial_targets(req(pb::EvaluateFinancialTargetsRequest { year })).await.expect("evaluate").into_inner();
    for t in &eval.targets {
        assert_eq!(result_of(&t.amounts), t.effective_threshold_cents, "indicator {}", t.number);
        assert_eq!(t.status, pb::TargetStatus::Met as i32, "indicator {}", t.number);
        let members_sum: i64 = t.members.iter().map(|m| result_of(&m.amounts)).sum();
        assert_eq!(members_sum, result_of(&t.amounts), "indicator {}", t.number);
    }
    import(&env, "one-cent-less", cent_rows).await;
    let eval = env.api.evaluate_financial_targets(req(pb::EvaluateFinancialTargetsRequest { year })).await.expect("evaluate").into_inner();
    for t in &eval.targets {
        assert_eq!(t.status, pb::TargetStatus::NotMet as i32, "indicator {}", t.number);
        let months = if t.members.len() == 1 { 2 } else { 3 };
        assert_eq!(t.months_booked, months, "indicator {}", t.number);
    }
    // One cent short still beats a negative 2019 base, never a positive one (4, 7, 9, 10, 12).
    let better: Vec<i32> = eval.targets.iter().filter(|t| !t.qualifiers.is_empty()).map(|t| t.number).collect();
    assert_eq!(better, [1, 2, 3, 5, 6, 8, 11]);
}

#[tokio::test]
async fn ts_59_landing_of_indicator_2_with_the_previous_year_seasonality() {
    let env = setup().await;
    let charleville = finess_of(&env, "category = HOSPITAL", "Charleville-sous-Bois").await;
    use pb::ActivityLine::SsrHadMedicine;
    let mut rows = Vec::new();
    // 2022: identical every month (produits 480,000.00, charges 492,000.00 a month).
    for m in 1..=12 {
        rows.push(entry(&charleville, "7311", SsrHadMedicine, &format!("2022{m:02}"), 48_000_000));
        rows.push(entry(&charleville, "6411", SsrHadMedicine, &format!("2022{m:02}"), 49_200_000));
    }
    // January-May 2023: produits 2,500,000.00, charges 2,675,000.00.
    for m in 1..=5 {
        rows.push(entry(&charleville, "7311", SsrHadMedicine, &format!("2023{m:02}"), 50_000_000));
        rows.push(entry(&charleville, "6411", SsrHadMedicine, &format!("2023{m:02}"), 53_500_000));
    }
    // A June amount is after the forecast month: ignored.
    rows.push(entry(&charleville, "6411", SsrHadMedicine, "202306", 1));
    import(&env, "landing", rows).await;
    let r = env
        .api
        .get_landing_forecast(req(pb::GetLandingForecastRequest { year: 2023, month: 5, scope: String::new(), target_number: 2 }))
        .await
        .expect("landing")
        .into_inner();
    assert_eq!(r.actual, Some(pb::ResultAmounts { produits_cents: 250_000_000, charges_cents: 267_500_000, result_cents: -17_500_000 }));
    assert_eq!(r.landing, Some(pb::ResultAmounts { produits_cents: 600_000_000, charges_cents: 642_000_000, result_cents: -42_000_000 }));
    assert_eq!((r.effective_threshold_cents, r.gap_cents), (-36_464_120, -5_535_880));
    assert_eq!(r.status, pb::LandingStatus::AtRisk as i32);
    assert_eq!((r.seasonal_cells, r.run_rate_cells), (2, 0));
    assert_eq!(r.months.iter().filter(|m| m.actual).count(), 5);
    assert_eq!(r.months[11].amounts.as_ref().map(|a| a.result_cents), Some(50_000_000 - 53_500_000));

    // The same structure as a scope, with no previous year: run rate.
    let r = env
        .api
        .get_landing_forecast(req(pb::GetLandingForecastRequest {
            year: 2022,
            month: 3,
            scope: format!("structures/{charleville}"),
            target_number: 0,
        }))
        .await
        .expect("landing")
        .into_inner();
    assert_eq!((r.seasonal_cells, r.run_rate_cells), (0, 2));
    assert_eq!(r.landing.as_ref().map(|a| a.result_cents), Some(12 * (48_000_000 - 49_200_000)));
    assert_eq!(r.status, pb::LandingStatus::Unspecified as i32);

    // A target number at the bottom of i32 is a client mistake, not an overflow.
    let e = env
        .api
        .get_landing_forecast(req(pb::GetLandingForecastRequest { year: 2022, month: 3, scope: String::new(), target_number: i32::MIN }))
        .await
        .expect_err("i32::MIN");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
}
