//! ComputeIndicators end to end: the registry (demo data), the activity and
//! finance services run in process on free ports, a small data set is
//! imported through their APIs, and the steering values are checked against
//! figures computed by hand. HR is unreachable here: its indicators are
//! stored as not available with the reason.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{INTERNAL, NOWHERE, key, req};
use filieris_proto::activity::activity_records_service_server::ActivityRecordsService;
use filieris_proto::activity::activity_service_server::ActivityService;
use filieris_proto::finance::budget_service_server::BudgetService;
use filieris_proto::finance::finance_results_service_server::FinanceResultsService;
use filieris_proto::steering as pb;
use filieris_proto::steering::steering_service_server::SteeringService;
use filieris_proto::{activity as act, finance as fin};
use filieris_runtime::events::Consumer;
use filieris_runtime::testing::TestDatabase;
use filieris_steering::sources::UpstreamUrls;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const PSEUDO: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
// Valid NIRs of the domain notes.
const NIR_A: &str = "189127512501282";
const NIR_B: &str = "255081416802538";
const NIR_C: &str = "253072B07300470";

struct Platform {
    activity: filieris_activity::grpc::ActivityApi,
    results: filieris_finance::results::ResultsApi,
    records: filieris_activity::records::RecordsApi,
    budget: filieris_finance::budget::BudgetApi,
    activity_pool: sqlx::PgPool,
    env: common::Env,
    /// Open demo health centres, as the activity cache has them, with their region (1 NORD, 2 EST, 3 SUD).
    centres: Vec<(String, i16)>,
    _stops: Vec<oneshot::Sender<()>>,
}

async fn free() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    (l, a)
}

async fn start() -> Platform {
    let db = TestDatabase::create().await.expect("db");
    let key = key();
    assert!(!INTERNAL.is_empty());
    let mut stops = Vec::new();
    let stop = |stops: &mut Vec<oneshot::Sender<()>>| {
        let (tx, rx) = oneshot::channel::<()>();
        stops.push(tx);
        async move {
            let _ = rx.await;
        }
    };

    let reg_pool =
        filieris_runtime::db::connect(&db.url, filieris_registry::SCHEMA, 4, &filieris_registry::MIGRATOR).await.expect("registry db");
    filieris_registry::seed::load_demo(&filieris_registry::storage::Store::new(reg_pool.clone())).await.expect("seed");
    let (listener, registry_addr) = free().await;
    tokio::spawn(filieris_registry::serve(listener, reg_pool, key.clone(), Duration::from_secs(1), stop(&mut stops)));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{registry_addr}")).expect("url").connect_lazy();

    let activity_pool =
        filieris_runtime::db::connect(&db.url, filieris_activity::SCHEMA, 4, &filieris_activity::MIGRATOR).await.expect("activity db");
    let pseudonyms = filieris_kernel::pseudonym::PseudonymKey::from_hex(PSEUDO).expect("pseudonym key");
    let store = filieris_activity::storage::Store::new(activity_pool.clone(), pseudonyms);
    let sync = filieris_activity::registry_sync::RegistrySync::new(
        channel.clone(),
        key.clone(),
        activity_pool.clone(),
        filieris_activity::registry_sync::SERVICE_CALLER,
    );
    let (feed, handler) = sync.clone().into_arcs();
    Consumer::new(activity_pool.clone(), "registry", "activity", feed, handler, None).catch_up().await.expect("activity cache");
    let activity = filieris_activity::grpc::ActivityApi::new(store.clone(), sync);
    let records = filieris_activity::records::RecordsApi::new(store, channel.clone(), key.clone());
    let (listener, activity_addr) = free().await;
    tokio::spawn(filieris_activity::serve(
        listener,
        activity.clone(),
        records.clone(),
        activity_pool.clone(),
        key.clone(),
        Duration::from_secs(1),
        stop(&mut stops),
    ));

    let finance_pool =
        filieris_runtime::db::connect(&db.url, filieris_finance::SCHEMA, 4, &filieris_finance::MIGRATOR).await.expect("finance db");
    let budget_store = filieris_finance::budget::storage::Store::new(finance_pool.clone());
    budget_store.load_reference().await.expect("budget tables");
    let budget = filieris_finance::budget::BudgetApi::new(budget_store);
    let finance_registry = filieris_runtime::registry_cache::RegistryCache::new(
        channel.clone(),
        key.clone(),
        finance_pool.clone(),
        filieris_finance::results::SERVICE_CALLER,
    );
    let (feed, handler) = finance_registry.clone().into_arcs();
    Consumer::new(finance_pool.clone(), "registry", "finance", feed, handler, None).catch_up().await.expect("finance cache");
    let results = filieris_finance::results::ResultsApi::new(
        filieris_finance::results::storage::ResultsStore::new(finance_pool.clone()),
        finance_registry,
    );
    let (listener, finance_addr) = free().await;
    tokio::spawn(filieris_finance::serve(
        listener,
        budget.clone(),
        results.clone(),
        finance_pool,
        key,
        Duration::from_secs(1),
        stop(&mut stops),
    ));

    let centres: Vec<(String, i16)> = sqlx::query_as(
        "SELECT finess, region FROM structure_cache WHERE category = 'HEALTH_CENTRE' AND level = 'ESTABLISHMENT' \
         AND open_date <= '2018-01-01' AND close_date IS NULL ORDER BY finess",
    )
    .fetch_all(&activity_pool)
    .await
    .expect("centres");
    let urls = UpstreamUrls {
        activity: format!("http://{activity_addr}"),
        finance: format!("http://{finance_addr}"),
        hr: NOWHERE.into(),
        missions: NOWHERE.into(),
    };
    let env = common::setup_with(db, urls).await;
    Platform { activity, results, records, budget, activity_pool, env, centres, _stops: stops }
}

fn act_row(
    finess: &str,
    date: &str,
    line: act::ActivityLine,
    code: &str,
    mode: act::ActMode,
    nir: &str,
    scheme: act::Scheme,
) -> act::ActInput {
    act::ActInput {
        act_date: date.into(),
        finess: finess.into(),
        line: line as i32,
        nomenclature: act::Nomenclature::Ngap as i32,
        code: code.into(),
        mode: mode as i32,
        patient: Some(act::PatientRef { identity: Some(act::patient_ref::Identity::Nir(nir.into())) }),
        scheme: scheme as i32,
        amount_cents: 2500,
        source_ref: String::new(),
    }
}

fn value<'a>(values: &'a [pb::IndicatorValue], key: &str) -> &'a pb::IndicatorValue {
    scoped(values, key, "national")
}

fn scoped<'a>(values: &'a [pb::IndicatorValue], key: &str, scope: &str) -> &'a pb::IndicatorValue {
    values
        .iter()
        .find(|v| v.indicator == format!("indicators/{key}") && v.scope == scope)
        .unwrap_or_else(|| panic!("{key} {scope} missing"))
}

/// Centre A in NORD, centre B in EST (SUD gets nothing).
fn centres_a_b(p: &Platform) -> (String, String) {
    let first = |region: i16| p.centres.iter().find(|c| c.1 == region).map(|c| c.0.clone()).expect("a demo centre in the region");
    (first(1), first(2))
}

/// The 2022 data set of the tests, in centres A (NORD) and B (EST).
async fn load_2022(p: &Platform) {
    let (a, b) = centres_a_b(p);
    use act::ActMode::{InPerson, Teleconsultation};
    use act::ActivityLine::{GeneralMedicine as Gm, Nursing};
    use act::Scheme::{Mining, Other};
    // General medicine 2022: A (other) twice, once by teleconsultation; B (mining) once; C (other) once in another centre.
    // Acts: 3 other of 4 → 75.0 %. Patients: 2 other of 3 → 66.7 %. Mining revenue 2,500 of 10,000 cents → 25.0 %.
    // Nursing 2022: A (other) once, B (mining) twice → acts 1 of 3 = 33.3 %, patients 1 of 2 = 50.0 %.
    let rows = vec![
        act_row(&a, "2022-02-01", Gm, "C", InPerson, NIR_A, Other),
        act_row(&a, "2022-03-01", Gm, "TC", Teleconsultation, NIR_A, Other),
        act_row(&a, "2022-03-02", Gm, "C", InPerson, NIR_B, Mining),
        act_row(&b, "2022-04-01", Gm, "C", InPerson, NIR_C, Other),
        act_row(&a, "2022-05-01", Nursing, "AMI 1", InPerson, NIR_A, Other),
        act_row(&a, "2022-05-02", Nursing, "AMI 1", InPerson, NIR_B, Mining),
        act_row(&b, "2022-05-03", Nursing, "AMI 1", InPerson, NIR_B, Mining),
        // Another year: not counted.
        act_row(&a, "2021-12-31", Gm, "C", InPerson, NIR_B, Mining),
    ];
    let mut admin =
        tonic::Request::new(act::CreateActBatchRequest { request_id: "steering-e2e".into(), source_system: "test".into(), acts: rows });
    admin.extensions_mut().insert(common::identity(&["admin"]));
    let batch = p.activity.create_act_batch(admin).await.expect("acts").into_inner().batch.expect("batch");
    assert_eq!(batch.rejected_rows, 0, "{:?}", batch.errors);

    // Finance: one health centre books 10,000.00 € of revenue and 7,000.00 € of expenses in January 2022.
    let entry = |account: &str, cents: i64| fin::LedgerEntryInput {
        finess: a.clone(),
        account: account.into(),
        activity_line: fin::ActivityLine::HealthCentrePolyvalent as i32,
        month: "202201".into(),
        amount_cents: cents,
    };
    let mut ledger = tonic::Request::new(fin::ImportLedgerEntriesRequest {
        request_id: "steering-e2e".into(),
        source_system: "test".into(),
        entries: vec![entry("706", 1_000_000), entry("6411", 700_000)],
    });
    ledger.extensions_mut().insert(common::identity(&["admin"]));
    let imported = p.results.import_ledger_entries(ledger).await.expect("ledger").into_inner();
    assert_eq!(imported.accepted_rows, 2);
}

#[tokio::test]
async fn opening_rates_and_financial_results_match_figures_computed_by_hand() {
    let p = start().await;
    load_2022(&p).await;
    let out = p
        .env
        .api
        .compute_indicators(req(pb::ComputeIndicatorsRequest { year: 2022, ..Default::default() }))
        .await
        .expect("compute")
        .into_inner();
    let v = &out.values;
    // National and the three regions by default.
    assert_eq!(v.len(), 4 * 44);
    assert_eq!(v.iter().filter(|x| x.scope == "national").count(), 44);
    let ratio = |key: &str| {
        let x = value(v, key);
        (x.numerator, x.denominator, x.display.as_str(), x.provenance, x.status)
    };
    let fin_ = pb::Provenance::Final as i32;
    let no_target = pb::Status::NoTarget as i32;
    assert_eq!(ratio("COG22.OFFRE.11"), (3, Some(4), "75.0", fin_, no_target));
    assert_eq!(ratio("COG22.OFFRE.12"), (2, Some(3), "66.7", fin_, no_target));
    assert_eq!(ratio("COG22.OFFRE.13"), (2_500, Some(10_000), "25.0", fin_, no_target));
    assert_eq!(ratio("COG22.OFFRE.14"), (1, Some(3), "33.3", fin_, no_target));
    assert_eq!(ratio("COG22.OFFRE.15"), (1, Some(2), "50.0", fin_, no_target));
    assert_eq!(ratio("COG22.OFFRE.16"), (5_000, Some(7_500), "66.7", fin_, no_target));
    assert_eq!(ratio("COG22.OFFRE.10"), (1, None, "1", fin_, no_target));

    // The health centres' result: +3,000.00 € on one month booked → provisional, on track against −5 %.
    let fin8 = value(v, "COG22.FINRES.8");
    assert_eq!((fin8.numerator, fin8.denominator, fin8.display.as_str()), (300_000, None, "3000.00"));
    assert_eq!(
        (fin8.provenance, fin8.status, fin8.target_raw.as_str()),
        (pb::Provenance::Provisional as i32, pb::Status::OnTrack as i32, "-5%")
    );
    let mut eval = tonic::Request::new(fin::EvaluateFinancialTargetsRequest { year: 2022 });
    eval.extensions_mut().insert(common::identity(&["admin"]));
    let finance_view = p.results.evaluate_financial_targets(eval).await.expect("evaluate").into_inner();
    let t8 = finance_view.targets.iter().find(|t| t.number == 8).expect("target 8");
    assert_eq!(t8.amounts.as_ref().map(|a| a.result_cents), Some(fin8.numerator));
    // A perimeter with nothing booked is not available, with the reason; so is HR, unreachable here.
    let fin1 = value(v, "COG22.FINRES.1");
    assert_eq!((fin1.kind, fin1.provenance), (pb::ValueKind::Nd as i32, pb::Provenance::NotAvailable as i32));
    assert!(fin1.reason.contains("no result booked"), "{}", fin1.reason);
    assert!(value(v, "COG22.SUP.1").reason.starts_with("hr did not answer"));

    // The same figures as of now, and a second computation appends rather than overwrites.
    let first_sequence = value(v, "COG22.OFFRE.12").sequence;
    let again = p
        .env
        .api
        .compute_indicators(req(pb::ComputeIndicatorsRequest { year: 2022, ..Default::default() }))
        .await
        .expect("compute")
        .into_inner();
    assert!(value(&again.values, "COG22.OFFRE.12").sequence > first_sequence);
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM indicator_value WHERE key = 'COG22.OFFRE.12'").fetch_one(&p.env.pool).await.expect("n");
    assert_eq!(n, 2 * 4);
}

#[tokio::test]
async fn regional_values_match_figures_computed_by_hand_and_national_only_sources_say_so() {
    let p = start().await;
    load_2022(&p).await;
    let out = p
        .env
        .api
        .compute_indicators(req(pb::ComputeIndicatorsRequest { year: 2022, ..Default::default() }))
        .await
        .expect("compute")
        .into_inner();
    let v = &out.values;
    let ratio = |key: &str, scope: &str| {
        let x = scoped(v, key, scope);
        (x.numerator, x.denominator, x.display.clone())
    };
    // NORD (centre A): GM acts A, A (tele), B(mining) → 2 of 3; patients A, B → 1 of 2; mining 2,500 of 7,500 cents.
    assert_eq!(ratio("COG22.OFFRE.11", "regions/NORD"), (2, Some(3), "66.7".into()));
    assert_eq!(ratio("COG22.OFFRE.12", "regions/NORD"), (1, Some(2), "50.0".into()));
    assert_eq!(ratio("COG22.OFFRE.13", "regions/NORD"), (2_500, Some(7_500), "33.3".into()));
    // Nursing in A: A (other), B (mining) → 1 of 2 acts and patients, 2,500 of 5,000 cents.
    assert_eq!(ratio("COG22.OFFRE.14", "regions/NORD"), (1, Some(2), "50.0".into()));
    assert_eq!(ratio("COG22.OFFRE.16", "regions/NORD"), (2_500, Some(5_000), "50.0".into()));
    assert_eq!(ratio("COG22.OFFRE.10", "regions/NORD"), (1, None, "1".into()));
    // EST (centre B): GM C (other) → 1 of 1; nursing B (mining) → 0 of 1; no teleconsultation.
    assert_eq!(ratio("COG22.OFFRE.11", "regions/EST"), (1, Some(1), "100.0".into()));
    assert_eq!(ratio("COG22.OFFRE.13", "regions/EST"), (0, Some(2_500), "0.0".into()));
    assert_eq!(ratio("COG22.OFFRE.14", "regions/EST"), (0, Some(1), "0.0".into()));
    assert_eq!(ratio("COG22.OFFRE.10", "regions/EST"), (0, None, "0".into()));
    // SUD: no act → no denominator, ND rather than 0 %.
    let sud = scoped(v, "COG22.OFFRE.11", "regions/SUD");
    assert_eq!((sud.kind, sud.reason.as_str()), (pb::ValueKind::Nd as i32, "NO_DENOMINATOR: the denominator is 0"));
    // Finance, HR and manual sources are national: NOT_AVAILABLE with the reason, never the national figure.
    for key in ["COG22.FINRES.8", "COG22.SUP.1", "COG22.OFFRE.1"] {
        let x = scoped(v, key, "regions/NORD");
        assert_eq!((x.kind, x.provenance), (pb::ValueKind::Nd as i32, pb::Provenance::NotAvailable as i32), "{key}");
        assert!(x.reason.contains("defined nationally"), "{key}: {}", x.reason);
    }
    // The regions add up to the nation for the acts ratio: (2 + 1) of (3 + 1) = 3 of 4.
    assert_eq!(value(v, "COG22.OFFRE.11").numerator, 3);

    // Read back per scope, and a structure-group scope computed on request.
    let list = |scope: &str| pb::ListIndicatorValuesRequest { year: 2022, scope: scope.into(), ..Default::default() };
    let nord = p.env.api.list_indicator_values(req(list("regions/NORD"))).await.expect("nord").into_inner().values;
    assert_eq!(nord.len(), 44);
    assert!(nord.iter().all(|x| x.scope == "regions/NORD"));
    assert_eq!(scoped(&nord, "COG22.OFFRE.11", "regions/NORD").display, "66.7");
    let group = p.env.api.list_indicator_values(req(list("structureGroups/centres-de-sante"))).await.expect("group").into_inner().values;
    assert!(group.iter().all(|x| x.reason == "not computed yet at that time"));
    let bad = p.env.api.list_indicator_values(req(list("regions/OUEST"))).await.expect_err("no such region");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    let bad = p.env.api.list_indicator_values(req(list(&format!("structures/{}", p.centres[0].0)))).await.expect_err("structure");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);

    // The dashboard of one region and one year.
    let tiles = p
        .env
        .api
        .get_dashboard(req(pb::GetDashboardRequest { scope: "regions/EST".into(), year: 2022, ..Default::default() }))
        .await
        .expect("dashboard")
        .into_inner();
    assert_eq!(tiles.scope, "regions/EST");
    let t = tiles.tiles.iter().find(|t| t.indicator == "indicators/COG22.OFFRE.11").expect("tile");
    assert_eq!(t.points.iter().map(|x| (x.year, x.display.as_str())).collect::<Vec<_>>(), [(2022, "100.0")]);
    let f = tiles.tiles.iter().find(|t| t.indicator == "indicators/COG22.FINRES.8").expect("tile");
    assert!(f.points[0].reason.contains("defined nationally"), "{}", f.points[0].reason);
}

#[tokio::test]
async fn an_amended_target_applies_to_later_computations_and_earlier_reads_keep_the_old_one() {
    let p = start().await;
    load_2022(&p).await;
    let national = || pb::ComputeIndicatorsRequest { year: 2022, scopes: vec!["national".into()] };
    let first = p.env.api.compute_indicators(req(national())).await.expect("compute").into_inner();
    assert_eq!(first.values.len(), 44);
    let before = value(&first.values, "COG22.OFFRE.11").clone();
    // "x" in the signed COG: no target.
    assert_eq!(
        (before.display.as_str(), before.status, before.target_raw.as_str(), before.target_amendment),
        ("75.0", pb::Status::NoTarget as i32, "x", Some(0))
    );

    // Amendment 1: at least 80 %.
    let amended = p
        .env
        .api
        .amend_indicator_target(req(pb::AmendIndicatorTargetRequest {
            name: "indicators/COG22.OFFRE.11/targets/2022".into(),
            target: Some(pb::IndicatorTarget {
                r#type: pb::TargetType::Min as i32,
                low: Some(pb::Decimal { units: 80, scale: 0 }),
                ..Default::default()
            }),
            expected_amendment: 0,
            reason: "Avenant n°1".into(),
            comment: "opening rate target set".into(),
            request_id: "amend-1".into(),
        }))
        .await
        .expect("amend")
        .into_inner()
        .target
        .expect("target");
    assert_eq!((amended.amendment, amended.raw.as_str(), amended.r#type), (1, "80%", pb::TargetType::Min as i32));

    let second = p.env.api.compute_indicators(req(national())).await.expect("compute").into_inner();
    let after = value(&second.values, "COG22.OFFRE.11");
    // 2022 is closed: 75.0 < 80 is NOT_MET.
    assert_eq!(
        (after.display.as_str(), after.status, after.target_raw.as_str(), after.target_amendment),
        ("75.0", pb::Status::NotMet as i32, "80%", Some(1))
    );

    // Read as of the first computation: what it returned then.
    let read =
        |as_of: Option<prost_types::Timestamp>| pb::ListIndicatorValuesRequest { year: 2022, as_of_time: as_of, ..Default::default() };
    let then = p.env.api.list_indicator_values(req(read(before.record_time))).await.expect("then").into_inner().values;
    let old = value(&then, "COG22.OFFRE.11");
    assert_eq!((old.sequence, old.status, old.target_raw.as_str(), old.target_amendment), (before.sequence, before.status, "x", Some(0)));
    let now = p.env.api.list_indicator_values(req(read(None))).await.expect("now").into_inner().values;
    assert_eq!(value(&now, "COG22.OFFRE.11").status, pb::Status::NotMet as i32);

    // The dashboard as of then shows the old status too.
    let tiles = p
        .env
        .api
        .get_dashboard(req(pb::GetDashboardRequest { as_of_time: before.record_time, year: 2022, ..Default::default() }))
        .await
        .expect("dashboard")
        .into_inner()
        .tiles;
    let t = tiles.iter().find(|t| t.indicator == "indicators/COG22.OFFRE.11").expect("tile");
    assert_eq!((t.points[0].status, t.points[0].target_raw.as_str()), (pb::Status::NoTarget as i32, "x"));
}

fn admin<T>(body: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(body);
    r.extensions_mut().insert(common::identity(&["admin"]));
    r
}

#[tokio::test]
async fn trainees_and_satisfaction_surveys_close_offre_4_7_and_8_against_hand_counts() {
    let p = start().await;
    let (a, b) = centres_a_b(&p);
    let (hospital,): (String,) = sqlx::query_as(
        "SELECT finess FROM structure_cache WHERE category = 'HOSPITAL' AND level = 'ESTABLISHMENT' AND close_date IS NULL \
         AND open_date <= '2018-01-01' ORDER BY finess LIMIT 1",
    )
    .fetch_one(&p.activity_pool)
    .await
    .expect("hospital");
    use act::TraineeCategory::{MedicalIntern, MedicalStudent2ndCycle, NursingStudent, Other};
    // 2022: centre A hosts an intern, a nursing student and an "other" trainee; centre B a
    // second-cycle student; a hospital an intern (not a health centre).
    for (finess, category, trainee) in [
        (&a, MedicalIntern, "T1"),
        (&a, NursingStudent, "T2"),
        (&a, Other, "T3"),
        (&b, MedicalStudent2ndCycle, "T4"),
        (&hospital, MedicalIntern, "T5"),
    ] {
        let placement = act::TraineePlacement {
            finess: finess.clone(),
            category: category as i32,
            trainee_ref: trainee.into(),
            start_date: "2022-03-01".into(),
            end_date: "2022-05-31".into(),
            ..Default::default()
        };
        p.records
            .record_trainee_placement(admin(act::RecordTraineePlacementRequest { request_id: String::new(), placement: Some(placement) }))
            .await
            .expect("placement");
    }
    // Surveys: A and the hospital in 2022, B in 2023 only.
    for (finess, period) in [(&a, "2022"), (&hospital, "2022"), (&b, "2023")] {
        let survey = act::SatisfactionSurvey {
            finess: finess.clone(),
            period: period.into(),
            population: act::SurveyPopulation::Patients as i32,
            instrument: "e-Satis".into(),
            respondents: 40,
            overall_result_hundredths: 8_000,
            ..Default::default()
        };
        p.records
            .record_satisfaction_survey(admin(act::RecordSatisfactionSurveyRequest { request_id: String::new(), survey: Some(survey) }))
            .await
            .expect("survey");
    }
    // The denominators, counted here from the registry cache: establishments open at some time in 2022.
    let open = |categories: &[&str], region: Option<i16>| {
        let pool = p.activity_pool.clone();
        let categories: Vec<String> = categories.iter().map(|c| (*c).to_owned()).collect();
        async move {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT count(*) FROM structure_cache WHERE level = 'ESTABLISHMENT' AND category = ANY($1) \
                 AND open_date <= '2022-12-31' AND (close_date IS NULL OR close_date >= '2022-01-01') \
                 AND ($2::smallint IS NULL OR region = $2)",
            )
            .bind(categories)
            .bind(region)
            .fetch_one(&pool)
            .await
            .expect("open");
            n
        }
    };
    let centres = open(&["HEALTH_CENTRE"], None).await;
    let centres_nord = open(&["HEALTH_CENTRE"], Some(1)).await;
    let surveyed_categories = [
        "HEALTH_CENTRE",
        "HOSPITAL",
        "EHPAD",
        "INDEPENDENT_LIVING_RESIDENCE",
        "TEMPORARY_ACCOMMODATION_RESIDENCE",
        "SSIAD",
        "SAAD",
        "SPASAD",
    ];
    let establishments = open(&surveyed_categories, None).await;
    assert!(centres >= 2 && establishments > centres);

    let scopes = vec!["national".into(), "regions/NORD".into(), "regions/EST".into(), "structureGroups/centres-de-sante".into()];
    let out =
        p.env.api.compute_indicators(req(pb::ComputeIndicatorsRequest { year: 2022, scopes })).await.expect("compute").into_inner().values;
    let got = |key: &str, scope: &str| {
        let v = scoped(&out, key, scope);
        (v.numerator, v.denominator, v.source.clone())
    };
    // OFFRE.7: T1, T2 and T4 (the "other" trainee and the hospital's intern are not counted).
    assert_eq!(got("COG22.OFFRE.7", "national"), (3, None, "ACTIVITY_TRAINEES{HEALTH_CENTRE}".into()));
    assert_eq!(got("COG22.OFFRE.7", "regions/NORD").0, 2);
    assert_eq!(got("COG22.OFFRE.7", "regions/EST").0, 1);
    // OFFRE.5: the hospital's intern T5 only (centre A's intern is in a health centre).
    assert_eq!(got("COG22.OFFRE.5", "national"), (1, None, "ACTIVITY_TRAINEES{HOSPITAL/MEDICAL_INTERN}".into()));
    // OFFRE.8: only A hosts two or more, over every health centre open in 2022.
    assert_eq!(got("COG22.OFFRE.8", "national"), (1, Some(centres), "ACTIVITY_TRAINEE_HOST_SHARE{HEALTH_CENTRE}".into()));
    assert_eq!(got("COG22.OFFRE.8", "regions/NORD").1, Some(centres_nord));
    assert_eq!(got("COG22.OFFRE.8", "regions/EST").0, 0);
    // OFFRE.4: A and the hospital of the establishments open in 2022 (B's survey is 2023).
    assert_eq!(got("COG22.OFFRE.4", "national").0, 2);
    assert_eq!(got("COG22.OFFRE.4", "national").1, Some(establishments));
    let share = scoped(&out, "COG22.OFFRE.4", "national");
    assert_eq!(share.display, filieris_steering::domain::targets::Exact::new(200, i128::from(establishments)).display(1));
    // Records are not aggregated per structure group: not available there, with the reason.
    let group = scoped(&out, "COG22.OFFRE.7", "structureGroups/centres-de-sante");
    assert_eq!(group.provenance, pb::Provenance::NotAvailable as i32);
    assert!(group.reason.contains("nationally, by region or by structure"), "{}", group.reason);
}

#[tokio::test]
async fn square_metres_sold_close_sup_14_from_the_finance_sales() {
    let p = start().await;
    let sale = |asset: &str, m2: i32| fin::RecordAssetSaleRequest {
        year: 2022,
        asset: asset.into(),
        sale_date: "2022-06-15".into(),
        price_cents: 30_000_000,
        net_book_value_cents: 10_000_000,
        buyer: fin::Buyer::Other as i32,
        investment_percent: None,
        square_metres: m2,
        reason: "décision du directeur général".into(),
        request_id: String::new(),
    };
    for (asset, m2) in [("immeuble A, Lens", 1_200), ("immeuble B, Douai", 2_300)] {
        p.budget.record_asset_sale(admin(sale(asset, m2))).await.expect("sale");
    }
    let scopes = vec!["national".into(), "regions/SUD".into()];
    let out = p.env.api.compute_indicators(req(pb::ComputeIndicatorsRequest { year: 2022, scopes })).await.expect("compute");
    let out = out.into_inner().values;
    // 1,200 + 2,300 = 3,500 m² against "4 000": missed, but better than the 3,353 m² base of 2020.
    let v = value(&out, "COG22.SUP.14");
    assert_eq!((v.numerator, v.display.as_str(), v.source.as_str()), (3_500, "3500", "FINANCE_SQUARE_METRES_SOLD"));
    assert_eq!((v.provenance, v.status, v.target_raw.as_str()), (pb::Provenance::Final as i32, pb::Status::NotMet as i32, "4 000"));
    assert_eq!(v.qualifiers, [pb::Qualifier::BetterThanBase as i32]);
    let sud = scoped(&out, "COG22.SUP.14", "regions/SUD");
    assert!(sud.reason.contains("defined nationally"), "{}", sud.reason);

    // A sale recorded without its floor area: the total is provisional until it is completed.
    p.budget.record_asset_sale(admin(sale("terrain C, Lens", 0))).await.expect("sale");
    let again = p
        .env
        .api
        .compute_indicators(req(pb::ComputeIndicatorsRequest { year: 2022, scopes: vec!["national".into()] }))
        .await
        .expect("compute")
        .into_inner()
        .values;
    let v = value(&again, "COG22.SUP.14");
    assert_eq!((v.numerator, v.provenance, v.status), (3_500, pb::Provenance::Provisional as i32, pb::Status::AtRisk as i32));
    assert!(v.reason.contains("1 without floor area"), "{}", v.reason);
}
