//! Records behaviour (`ActivityRecordsService`) against a real PostgreSQL and
//! a real registry server (in process, demo data, on a free port), one fresh
//! database per test. Reference figures come from the domain notes
//! (activity.md §1.3, §3.2, §3.3, §3.6).

mod common;

use filieris_activity::records::RecordsApi;
use filieris_activity::storage::Store;
use filieris_proto::activity as pb;
use filieris_proto::activity::activity_records_service_server::ActivityRecordsService;
use filieris_proto::registry as reg;
use filieris_proto::registry::registry_service_client::RegistryServiceClient;
use filieris_runtime::config::InternalKey;
use filieris_runtime::events::Consumer;
use filieris_runtime::identity::Identity;
use sqlx::PgPool;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

// Valid NIRs of the domain notes.
const NIR_A: &str = "189127512501282";
const NIR_B: &str = "255081416802538";

struct Env {
    api: RecordsApi,
    store: Store,
    pool: PgPool,
    /// Open health centres (opened before 2018).
    centres: Vec<String>,
    registry: RegistryServiceClient<tonic::transport::Channel>,
    consumer: Consumer,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn admin() -> Identity {
    common::admin("job:test-records")
}

fn req<T>(body: T) -> Request<T> {
    let mut r = Request::new(body);
    r.extensions_mut().insert(admin());
    r
}

async fn setup() -> Env {
    let h = common::harness().await;
    Env {
        api: RecordsApi::new(h.store.clone(), h.channel.clone(), h.key),
        store: h.store,
        pool: h.pool,
        centres: h.centres,
        registry: RegistryServiceClient::new(h.channel),
        consumer: h.consumer,
        _stop: h.stop,
    }
}

/// FINESS of open structures of a registry category, by FINESS.
async fn of_category(env: &Env, category: &str) -> Vec<String> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT finess FROM structure_cache WHERE category = $1 AND level = 'ESTABLISHMENT' AND close_date IS NULL \
         AND open_date <= '2018-01-01' ORDER BY finess",
    )
    .bind(category)
    .fetch_all(&env.pool)
    .await
    .expect("structures");
    rows.into_iter().map(|r| r.0).collect()
}

/// Closes a health centre in the registry on 30 June 2019 and lets the
/// cache learn it from the registry's change feed, as in production.
async fn closed(env: &Env) -> (String, chrono::NaiveDate) {
    let finess = env.centres.last().expect("a centre").clone();
    let mut r = Request::new(reg::CloseStructureRequest {
        name: format!("structures/{finess}"),
        close_date: "2019-06-30".into(),
        closure_type: reg::ClosureType::Definitive as i32,
        reason: "regroupement".into(),
        ..Default::default()
    });
    admin().attach(&InternalKey::from_hex(common::INTERNAL).expect("key"), &mut r);
    env.registry.clone().close_structure(r).await.expect("closed in the registry");
    env.consumer.catch_up().await.expect("cache updated");
    let (close_date,): (Option<chrono::NaiveDate>,) = sqlx::query_as("SELECT close_date FROM structure_cache WHERE finess = $1")
        .bind(&finess)
        .fetch_one(&env.pool)
        .await
        .expect("cached");
    (finess, close_date.expect("the cache knows the closure"))
}

fn fields(status: &Status) -> Vec<String> {
    status.get_error_details().bad_request().map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect()).unwrap_or_default()
}

fn gp(finess: &str, year: i32, patients: i64, status: pb::RecordStatus) -> pb::GpPatientCount {
    pb::GpPatientCount {
        finess: finess.into(),
        year,
        patients,
        status: status as i32,
        letter_reference: format!("CPAM-{year}-{finess}"),
        letter_date: format!("{}-03-15", year + 1),
        source: "courrier de l'assurance maladie".into(),
        ..Default::default()
    }
}

async fn record_gp(env: &Env, rid: &str, count: pb::GpPatientCount) -> Result<pb::GpPatientCount, Status> {
    env.api
        .record_gp_patient_count(req(pb::RecordGpPatientCountRequest { request_id: rid.into(), count: Some(count) }))
        .await
        .map(|r| r.into_inner().count.expect("count"))
}

fn stay(finess: &str, stay_ref: &str, mode: pb::StayMode, admission: &str, discharge: &str, nir: &str) -> pb::HospitalStay {
    pb::HospitalStay {
        finess: finess.into(),
        stay_ref: stay_ref.into(),
        mode: mode as i32,
        unit: "SMR polyvalent".into(),
        admission_date: admission.into(),
        discharge_date: discharge.into(),
        patient: Some(pb::PatientRef { identity: Some(pb::patient_ref::Identity::Nir(nir.into())) }),
        scheme: pb::Scheme::Mining as i32,
        ..Default::default()
    }
}

async fn record_stay(env: &Env, rid: &str, s: pb::HospitalStay) -> Result<pb::HospitalStay, Status> {
    env.api
        .record_hospital_stay(req(pb::RecordHospitalStayRequest { request_id: rid.into(), stay: Some(s) }))
        .await
        .map(|r| r.into_inner().stay.expect("stay"))
}

#[allow(clippy::too_many_arguments)]
fn ms(
    finess: &str,
    service: pb::MedicoSocialService,
    month: &str,
    capacity: i32,
    days: i64,
    status: pb::RecordStatus,
) -> pb::MedicoSocialCount {
    pb::MedicoSocialCount {
        finess: finess.into(),
        service: service as i32,
        month: month.into(),
        capacity,
        days_realised: days,
        users_total: 100,
        users_mining: 80,
        users_other: 15,
        entries: 4,
        exits: 3,
        status: status as i32,
        source: "TITAN".into(),
        ..Default::default()
    }
}

async fn record_ms(env: &Env, rid: &str, c: pb::MedicoSocialCount) -> Result<pb::MedicoSocialCount, Status> {
    env.api
        .record_medico_social_count(req(pb::RecordMedicoSocialCountRequest { request_id: rid.into(), count: Some(c) }))
        .await
        .map(|r| r.into_inner().count.expect("count"))
}

fn placement(finess: &str, category: pb::TraineeCategory, trainee: &str, start: &str, end: &str) -> pb::TraineePlacement {
    pb::TraineePlacement {
        finess: finess.into(),
        category: category as i32,
        trainee_ref: trainee.into(),
        start_date: start.into(),
        end_date: end.into(),
        supervisor_ref: "hr:rpps-10003456789".into(),
        ..Default::default()
    }
}

async fn record_placement(env: &Env, p: pb::TraineePlacement) -> Result<pb::TraineePlacement, Status> {
    env.api
        .record_trainee_placement(req(pb::RecordTraineePlacementRequest { request_id: String::new(), placement: Some(p) }))
        .await
        .map(|r| r.into_inner().placement.expect("placement"))
}

fn event(finess: &str, reference: &str, date: &str, severity: pb::AdverseEventSeverity, category: &str) -> pb::AdverseEvent {
    pb::AdverseEvent {
        finess: finess.into(),
        declaration_ref: reference.into(),
        event_date: date.into(),
        declaration_date: date.into(),
        severity: severity as i32,
        category: category.into(),
        analysis_status: pb::AdverseEventAnalysisStatus::Pending as i32,
        ..Default::default()
    }
}

async fn record_event(env: &Env, e: pb::AdverseEvent) -> Result<pb::AdverseEvent, Status> {
    env.api
        .record_adverse_event(req(pb::RecordAdverseEventRequest { request_id: String::new(), event: Some(e) }))
        .await
        .map(|r| r.into_inner().event.expect("event"))
}

async fn consolidate(env: &Env, rid: &str, finess: &str, year: i32) -> Result<pb::AdverseEventConsolidation, Status> {
    env.api
        .consolidate_adverse_events(req(pb::ConsolidateAdverseEventsRequest { request_id: rid.into(), finess: finess.into(), year }))
        .await
        .map(|r| r.into_inner().consolidation.expect("consolidation"))
}

fn survey(finess: &str) -> pb::SatisfactionSurvey {
    pb::SatisfactionSurvey {
        finess: finess.into(),
        period: "2019".into(),
        population: pb::SurveyPopulation::Patients as i32,
        instrument: "e-Satis".into(),
        respondents: 212,
        overall_result_hundredths: 8450,
        items: vec![
            pb::SurveyItemResult { code: "ACCUEIL".into(), label: "Accueil".into(), result_hundredths: 9120, respondents: 210 },
            pb::SurveyItemResult { code: "REPAS".into(), label: "Repas".into(), result_hundredths: 6875, respondents: 198 },
        ],
        action_plan_ref: "PAQ-2020-07".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn each_record_type_round_trips() {
    let env = setup().await;
    let centre = env.centres[0].clone();
    let hospital = of_category(&env, "HOSPITAL").await[0].clone();
    let ehpad = of_category(&env, "EHPAD").await[0].clone();

    let sent = gp(&centre, 2018, 3_335, pb::RecordStatus::Provisional);
    let got = record_gp(&env, "", sent.clone()).await.expect("gp");
    assert_eq!((got.version, got.imputed, got.record_time.is_some()), (1, false, true));
    assert_eq!(pb::GpPatientCount { version: 0, record_time: None, ..got.clone() }, sent);
    let listed = env
        .api
        .list_gp_patient_counts(req(pb::ListGpPatientCountsRequest { finess: centre.clone(), year: 2018, ..Default::default() }))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.counts, vec![got]);

    let s =
        record_stay(&env, "", stay(&hospital, "HM-2019-0001", pb::StayMode::Hc, "2019-03-04", "2019-03-18", NIR_A)).await.expect("stay");
    assert_eq!((s.version, s.nights, s.patient.is_none()), (1, 14, true), "{s:?}");
    assert_eq!((s.admission_date.as_str(), s.discharge_date.as_str(), s.unit.as_str()), ("2019-03-04", "2019-03-18", "SMR polyvalent"));
    let stays = env
        .api
        .list_hospital_stays(req(pb::ListHospitalStaysRequest { finess: hospital.clone(), period: "201903".into(), ..Default::default() }))
        .await
        .expect("stays")
        .into_inner();
    assert_eq!(stays.stays, vec![s]);
    let none = env
        .api
        .list_hospital_stays(req(pb::ListHospitalStaysRequest { finess: hospital.clone(), period: "201905".into(), ..Default::default() }))
        .await
        .expect("stays")
        .into_inner();
    assert!(none.stays.is_empty());

    let mut count = ms(&ehpad, pb::MedicoSocialService::Ehpad, "201903", 70, 2_001, pb::RecordStatus::Final);
    count.hours_delivered = 12.5;
    let c = record_ms(&env, "", count.clone()).await.expect("ms");
    assert_eq!(pb::MedicoSocialCount { version: 0, record_time: None, ..c.clone() }, count);
    let counts = env
        .api
        .list_medico_social_counts(req(pb::ListMedicoSocialCountsRequest {
            finess: ehpad.clone(),
            period: "2019".into(),
            ..Default::default()
        }))
        .await
        .expect("counts")
        .into_inner();
    assert_eq!(counts.counts, vec![c]);

    let p = placement(&centre, pb::TraineeCategory::MedicalStudent2ndCycle, "UNIV-LILLE-2018-117", "2018-05-02", "2018-07-31");
    let got = record_placement(&env, p.clone()).await.expect("placement");
    assert_eq!(pb::TraineePlacement { version: 0, record_time: None, ..got.clone() }, p);
    let placements = env
        .api
        .list_trainee_placements(req(pb::ListTraineePlacementsRequest { period: "2018Q3".into(), ..Default::default() }))
        .await
        .expect("placements")
        .into_inner();
    assert_eq!(placements.placements, vec![got]);

    let sv = survey(&hospital);
    let got = env
        .api
        .record_satisfaction_survey(req(pb::RecordSatisfactionSurveyRequest { request_id: String::new(), survey: Some(sv.clone()) }))
        .await
        .expect("survey")
        .into_inner()
        .survey
        .expect("survey");
    assert_eq!(pb::SatisfactionSurvey { version: 0, record_time: None, ..got.clone() }, sv);
    let surveys = env
        .api
        .list_satisfaction_surveys(req(pb::ListSatisfactionSurveysRequest { period: "201906".into(), ..Default::default() }))
        .await
        .expect("surveys")
        .into_inner();
    assert_eq!(surveys.surveys, vec![got]);

    let mut e = event(&hospital, "EI-2019-014", "2019-02-11", pb::AdverseEventSeverity::Ei, "Chute");
    e.declaration_date = "2019-02-13".into();
    let got = record_event(&env, e.clone()).await.expect("event");
    assert_eq!(got.category, "chute", "categories are counted case-insensitively");
    assert_eq!(pb::AdverseEvent { version: 0, record_time: None, category: "Chute".into(), ..got.clone() }, e);
    let events = env
        .api
        .list_adverse_events(req(pb::ListAdverseEventsRequest { finess: hospital.clone(), year: 2019, ..Default::default() }))
        .await
        .expect("events")
        .into_inner();
    assert_eq!(events.events, vec![got]);
}

#[tokio::test]
async fn records_for_unknown_or_closed_structures_are_refused_with_the_field_named() {
    let env = setup().await;
    let (shut, closed_on) = closed(&env).await;
    let after = closed_on.succ_opt().expect("day after");
    // The first whole month and year after the closure.
    let next_month = chrono::Datelike::with_day(&closed_on, 1).and_then(|d| d.checked_add_months(chrono::Months::new(1))).expect("month");
    let (day, month) = (after.to_string(), next_month.format("%Y%m").to_string());
    let next_year = chrono::Datelike::year(&closed_on) + 1;
    let unknown = "750712184";

    for finess in [unknown, shut.as_str()] {
        let err = record_gp(&env, "", gp(finess, next_year, 10, pb::RecordStatus::Final)).await.expect_err("gp");
        assert_eq!((err.code(), fields(&err)), (Code::InvalidArgument, vec!["count.finess".to_owned()]), "{finess}: {err:?}");
        let err = record_stay(&env, "", stay(finess, "S1", pb::StayMode::Hc, &day, "", NIR_A)).await.expect_err("stay");
        assert_eq!(fields(&err), vec!["stay.finess".to_owned()], "{err:?}");
        let err =
            record_ms(&env, "", ms(finess, pb::MedicoSocialService::Ssiad, &month, 10, 10, pb::RecordStatus::Final)).await.expect_err("ms");
        assert_eq!(fields(&err), vec!["count.finess".to_owned()], "{err:?}");
        let err = record_placement(&env, placement(finess, pb::TraineeCategory::NursingStudent, "IFSI-1", &day, &day))
            .await
            .expect_err("placement");
        assert_eq!(fields(&err), vec!["placement.finess".to_owned()], "{err:?}");
        let err = env
            .api
            .record_satisfaction_survey(req(pb::RecordSatisfactionSurveyRequest {
                request_id: String::new(),
                survey: Some(pb::SatisfactionSurvey { period: next_year.to_string(), ..survey(finess) }),
            }))
            .await
            .expect_err("survey");
        assert_eq!(fields(&err), vec!["survey.finess".to_owned()], "{err:?}");
        let err = record_event(&env, event(finess, "E1", &day, pb::AdverseEventSeverity::Eig, "chute")).await.expect_err("event");
        assert_eq!(fields(&err), vec!["event.finess".to_owned()], "{err:?}");
    }
    // The refusal says why.
    let err = record_stay(&env, "", stay(&shut, "S1", pb::StayMode::Hc, &day, "", NIR_A)).await.expect_err("closed");
    assert!(err.get_error_details().bad_request().expect("details").field_violations[0].description.contains("closed on"), "{err:?}");
    // Before its closing the same structure takes records.
    let before = closed_on.pred_opt().expect("day before").to_string();
    record_event(&env, event(&shut, "E1", &before, pb::AdverseEventSeverity::Ei, "chute")).await.expect("open then");

    // Every broken field at once, and a NIR is never echoed.
    let centre = env.centres[0].clone();
    let mut bad = placement(&centre, pb::TraineeCategory::Unspecified, NIR_B, "2018-05-02", "2018-04-30");
    bad.supervisor_ref = "2 55 08 14 168 025 38".into();
    let err = record_placement(&env, bad).await.expect_err("bad placement");
    let mut got = fields(&err);
    got.sort();
    assert_eq!(got, ["placement.category", "placement.end_date", "placement.supervisor_ref", "placement.trainee_ref"], "{err:?}");
    assert!(!format!("{err:?}").contains("2550814"), "a NIR leaked into {err:?}");

    let err = record_stay(&env, "", stay(&centre, "S2", pb::StayMode::Hc, "2019-03-04", "2019-03-01", "189127512501283"))
        .await
        .expect_err("stay");
    let mut got = fields(&err);
    got.sort();
    assert_eq!(got, ["stay.discharge_date", "stay.patient.nir"]);
    let mut e = event(&centre, "E2", "2019-03-04", pb::AdverseEventSeverity::Ei, "chute");
    e.declaration_date = "2019-03-03".into();
    assert_eq!(fields(&record_event(&env, e).await.expect_err("declared before")), ["event.declaration_date"]);

    // Writing needs a writer role.
    let mut r = Request::new(pb::RecordGpPatientCountRequest {
        request_id: String::new(),
        count: Some(gp(&centre, 2018, 1, pb::RecordStatus::Final)),
    });
    r.extensions_mut().insert(Identity { roles: vec!["reader".into()], ..admin() });
    assert_eq!(env.api.record_gp_patient_count(r).await.expect_err("reader").code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_request_id_makes_a_write_happen_once() {
    let env = setup().await;
    let centre = env.centres[0].clone();
    let hospital = of_category(&env, "HOSPITAL").await[0].clone();

    let first = record_gp(&env, "letter-2018-1", gp(&centre, 2018, 1_200, pb::RecordStatus::Provisional)).await.expect("first");
    let again = record_gp(&env, "letter-2018-1", gp(&centre, 2018, 1_200, pb::RecordStatus::Provisional)).await.expect("again");
    assert_eq!(first, again, "same request id, same answer");
    let err = record_gp(&env, "letter-2018-1", gp(&centre, 2018, 1_300, pb::RecordStatus::Provisional)).await.expect_err("reused");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(err.get_error_details().error_info().expect("info").reason, "REQUEST_ID_REUSED");
    // Without a request id, a re-send is a correction: a new version.
    let second = record_gp(&env, "", gp(&centre, 2018, 1_250, pb::RecordStatus::Final)).await.expect("correction");
    assert_eq!(second.version, 2);
    let (versions,): (i64,) = sqlx::query_as("SELECT count(*) FROM gp_patient_count").fetch_one(&env.pool).await.expect("count");
    assert_eq!(versions, 2);

    // A stay sent with a NIR replays too; what is kept of the request is keyed.
    let s = stay(&hospital, "HM-7", pb::StayMode::Hc, "2019-01-02", "", NIR_B);
    let a = record_stay(&env, "stay-7", s.clone()).await.expect("stay");
    let b = record_stay(&env, "stay-7", s.clone()).await.expect("replay");
    assert_eq!(a, b);
    let (stays,): (i64,) = sqlx::query_as("SELECT count(*) FROM hospital_stay").fetch_one(&env.pool).await.expect("count");
    assert_eq!(stays, 1);
    let discharged = record_stay(&env, "stay-7-out", pb::HospitalStay { discharge_date: "2019-01-20".into(), ..s }).await.expect("out");
    assert_eq!((discharged.version, discharged.nights), (2, 18));

    let m = ms(&centre, pb::MedicoSocialService::Saad, "201804", 0, 0, pb::RecordStatus::Provisional);
    assert_eq!(record_ms(&env, "ms-1", m.clone()).await.expect("ms"), record_ms(&env, "ms-1", m).await.expect("ms again"));
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM medico_social_count").fetch_one(&env.pool).await.expect("count");
    assert_eq!(rows, 1);

    // No NIR anywhere in the records' tables or the idempotency records.
    for (table, column) in
        [("hospital_stay", "patient"), ("idempotency", "request_hash"), ("idempotency", "response"), ("audit_log", "detail")]
    {
        for nir in [NIR_A, NIR_B] {
            let hex: String = nir[..13].bytes().map(|b| format!("{b:02x}")).collect();
            let (hits,): (i64,) = sqlx::query_as(&format!(
                "SELECT count(*) FROM \"{table}\" WHERE \"{column}\"::text LIKE '%' || $1 || '%' OR \"{column}\"::text LIKE '%' || $2 || '%'"
            ))
            .bind(&nir[..13])
            .bind(&hex)
            .fetch_one(&env.pool)
            .await
            .expect("scan");
            assert_eq!(hits, 0, "{table}.{column} holds a NIR");
        }
    }
}

#[tokio::test]
async fn hospital_occupancy_above_100_percent_is_returned_uncapped() {
    let env = setup().await;
    // La Grand-Combe: 30 médecine + 15 SMR full-time beds installed since 2022-06-01 (registry demo data).
    let (hospital,): (String,) = sqlx::query_as("SELECT DISTINCT finess FROM registry.structure_revision WHERE subtype = 'LOCAL_HOSPITAL'")
        .fetch_one(&env.pool)
        .await
        .expect("the local hospital");
    // 45 beds occupied all of March 2023 (31 nights each) and one more stay of 15 nights:
    // 1,410 patient-days ÷ (45 × 31) = 101.08 %, like the RHT's 2018 rate.
    for i in 0..45 {
        let nir = filieris_kernel::Nir::from_body(&format!("1850175{i:03}123")).expect("nir");
        let discharge = if i % 2 == 0 { "2023-04-10" } else { "" };
        record_stay(&env, "", stay(&hospital, &format!("GC-{i}"), pb::StayMode::Hc, "2023-02-15", discharge, nir.as_str()))
            .await
            .expect("stay");
    }
    // A correction: the extra stay ends on the 25th, not the 31st; only the current version counts.
    record_stay(&env, "", stay(&hospital, "GC-X", pb::StayMode::Hc, "2023-03-10", "2023-03-31", NIR_A)).await.expect("stay");
    record_stay(&env, "", stay(&hospital, "GC-X", pb::StayMode::Hc, "2023-03-10", "2023-03-25", NIR_A)).await.expect("corrected");
    // Day-hospital attendances are not full-time patient-days.
    record_stay(&env, "", stay(&hospital, "GC-D", pb::StayMode::Hdj, "2023-03-14", "2023-03-14", NIR_B)).await.expect("hdj");

    let occ = env
        .api
        .get_hospital_occupancy(req(pb::GetHospitalOccupancyRequest { finess: hospital.clone(), month: "202303".into() }))
        .await
        .expect("occupancy")
        .into_inner();
    let rate = occ.occupancy.expect("rate");
    assert_eq!((rate.days, rate.capacity_days), (1_410, 45 * 31));
    assert_eq!(format!("{:.2}", rate.percent), "101.08");
    assert!(rate.percent > 100.0);
    assert_eq!((occ.installed_beds, occ.days_in_month), (45.0, 31));
    assert_eq!((occ.stays, occ.admissions, occ.discharges), (46, 1, 1));

    // Without the registry there is no capacity to divide by: UNAVAILABLE.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead_addr = dead.local_addr().expect("addr");
    drop(dead);
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{dead_addr}")).expect("url").connect_lazy();
    let offline = RecordsApi::new(env.store.clone(), channel, InternalKey::from_hex(common::INTERNAL).expect("key"));
    let err = offline
        .get_hospital_occupancy(req(pb::GetHospitalOccupancyRequest { finess: hospital, month: "202303".into() }))
        .await
        .expect_err("registry down");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
}

#[tokio::test]
async fn medico_social_occupancy_reproduces_the_2018_ssiad_rate() {
    let env = setup().await;
    let ssiad = of_category(&env, "SSIAD").await;
    assert!(ssiad.len() >= 2);
    // 1,615 places (800 + 815) all year and 555,685 intervention days (activity.md §3.6).
    let plan = [(ssiad[0].clone(), 800, 277_842_i64), (ssiad[1].clone(), 815, 277_843_i64)];
    for (finess, places, days) in &plan {
        for m in 1..=12 {
            let share = if m == 12 { days - 11 * (days / 12) } else { days / 12 };
            let status = if m == 12 { pb::RecordStatus::Provisional } else { pb::RecordStatus::Final };
            record_ms(&env, "", ms(finess, pb::MedicoSocialService::Ssiad, &format!("2018{m:02}"), *places, share, status))
                .await
                .expect("count");
        }
    }
    // A corrected January: the first version no longer counts.
    let mut wrong = ms(&plan[0].0, pb::MedicoSocialService::Ssiad, "201901", 800, 1, pb::RecordStatus::Provisional);
    record_ms(&env, "", wrong.clone()).await.expect("v1");
    wrong.days_realised = 20_000;
    wrong.status = pb::RecordStatus::Final as i32;
    assert_eq!(record_ms(&env, "", wrong).await.expect("v2").version, 2);

    let year = env
        .api
        .get_medico_social_occupancy(req(pb::GetMedicoSocialOccupancyRequest {
            period: "2018".into(),
            scope: "national".into(),
            service: pb::MedicoSocialService::Ssiad as i32,
        }))
        .await
        .expect("2018")
        .into_inner();
    let rate = year.occupancy.expect("rate");
    assert_eq!((rate.days, rate.capacity_days), (555_685, 1_615 * 365));
    assert_eq!(format!("{:.2}", rate.percent), "94.27");
    assert_eq!((year.monthly_counts, year.worst_status), (24, pb::RecordStatus::Provisional as i32));
    let jan = env
        .api
        .get_medico_social_occupancy(req(pb::GetMedicoSocialOccupancyRequest { period: "201901".into(), ..Default::default() }))
        .await
        .expect("201901")
        .into_inner();
    assert_eq!(jan.occupancy.expect("rate").days, 20_000);

    // An RHT above its capacity: 752 days in 24 places over March = 101.08 %, not capped.
    let rht = of_category(&env, "TEMPORARY_ACCOMMODATION_RESIDENCE").await[0].clone();
    let mut march = ms(&rht, pb::MedicoSocialService::TemporaryAccommodationResidence, "201803", 24, 752, pb::RecordStatus::Final);
    march.hours_planned = 200.0;
    march.hours_delivered = 150.0;
    record_ms(&env, "", march).await.expect("rht");
    let occ = env
        .api
        .get_medico_social_occupancy(req(pb::GetMedicoSocialOccupancyRequest {
            period: "2018Q1".into(),
            scope: format!("structures/{rht}"),
            service: 0,
        }))
        .await
        .expect("rht")
        .into_inner();
    let rate = occ.occupancy.expect("rate");
    assert_eq!((rate.days, rate.capacity_days, format!("{:.2}", rate.percent)), (752, 744, "101.08".to_owned()));
    assert_eq!((occ.care_plan_completion_percent, occ.entries, occ.exits), (75.0, 4, 3));

    let err = env
        .api
        .get_medico_social_occupancy(req(pb::GetMedicoSocialOccupancyRequest { period: "2018W10".into(), ..Default::default() }))
        .await
        .expect_err("weeks are not whole months");
    assert_eq!(fields(&err), ["period"]);
}

#[tokio::test]
async fn gp_of_record_imputations_are_flagged_and_the_worst_status_reported() {
    let env = setup().await;
    let (a, b, c) = (env.centres[0].clone(), env.centres[1].clone(), env.centres[2].clone());
    record_gp(&env, "", gp(&a, 2018, 10_380, pb::RecordStatus::Final)).await.expect("a");
    record_gp(&env, "", gp(&b, 2018, 2_000, pb::RecordStatus::Provisional)).await.expect("b");
    // Like Decazeville and Bouligny: no letter for 2018, the 2017 value is carried.
    let carried = pb::GpPatientCount {
        imputed_from_year: 2017,
        letter_reference: String::new(),
        letter_date: String::new(),
        ..gp(&c, 2018, 3_335, pb::RecordStatus::Imputed)
    };
    let got = record_gp(&env, "", carried).await.expect("imputed");
    assert!(got.imputed);
    // Another year does not count in 2018.
    record_gp(&env, "", gp(&a, 2017, 9_000, pb::RecordStatus::Disputed)).await.expect("2017");

    let total = |scope: String| {
        let api = env.api.clone();
        async move { api.get_gp_patient_total(req(pb::GetGpPatientTotalRequest { year: 2018, scope })).await.expect("total").into_inner() }
    };
    let t = total(String::new()).await;
    assert_eq!((t.patients, t.structures, t.worst_status), (15_715, 3, pb::RecordStatus::Imputed as i32));
    assert_eq!(
        t.imputations,
        vec![pb::GpPatientImputation {
            finess: c.clone(),
            imputed_from_year: 2017,
            patients: 3_335,
            status: pb::RecordStatus::Imputed as i32
        }]
    );
    // B is disputed: a new version, same value; the total now reports DISPUTED.
    let disputed = pb::GpPatientCount { dispute_reference: "LITIGE-2019-02".into(), ..gp(&b, 2018, 2_000, pb::RecordStatus::Disputed) };
    assert_eq!(record_gp(&env, "", disputed).await.expect("dispute").version, 2);
    let t = total("national".into()).await;
    assert_eq!((t.patients, t.worst_status), (15_715, pb::RecordStatus::Disputed as i32));
    let t = total(format!("structures/{a}")).await;
    assert_eq!((t.patients, t.worst_status, t.imputations.len()), (10_380, pb::RecordStatus::Final as i32, 0));
    // The history keeps both versions of B.
    let history = env
        .api
        .list_gp_patient_counts(req(pb::ListGpPatientCountsRequest { finess: b.clone(), include_history: true, ..Default::default() }))
        .await
        .expect("history")
        .into_inner();
    let statuses: Vec<i32> = history.counts.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [pb::RecordStatus::Provisional as i32, pb::RecordStatus::Disputed as i32]);
    // An unknown FINESS as a scope is refused.
    let err = env
        .api
        .get_gp_patient_total(req(pb::GetGpPatientTotalRequest { year: 2018, scope: "structures/750712184".into() }))
        .await
        .expect_err("unknown scope");
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_trainee_counts_once_per_structure_and_period() {
    let env = setup().await;
    let (a, b) = (env.centres[0].clone(), env.centres[1].clone());
    use pb::TraineeCategory::{MedicalIntern, MedicalStudent2ndCycle, NursingStudent};
    // T1: two placements in A (student, then intern) and one in B; T2: a nursing student in A.
    record_placement(&env, placement(&a, MedicalStudent2ndCycle, "UNIV-T1", "2018-01-08", "2018-02-28")).await.expect("t1 a 1");
    record_placement(&env, placement(&a, MedicalIntern, "UNIV-T1", "2018-10-01", "2018-11-30")).await.expect("t1 a 2");
    record_placement(&env, placement(&b, MedicalIntern, "UNIV-T1", "2018-05-01", "2018-06-30")).await.expect("t1 b");
    record_placement(&env, placement(&a, NursingStudent, "IFSI-T2", "2017-12-01", "2018-01-15")).await.expect("t2");

    let count = |period: &str, scope: String| {
        let api = env.api.clone();
        let period = period.to_owned();
        async move {
            api.count_trainees(req(pb::CountTraineesRequest { period, scope, ..Default::default() })).await.expect("count").into_inner()
        }
    };
    let y = count("2018", String::new()).await;
    assert_eq!((y.trainees, y.structures, y.structures_with_two_or_more), (3, 2, 1));
    let by: Vec<(i32, i64)> = y.by_category.iter().map(|c| (c.category, c.trainees)).collect();
    assert_eq!(by, [(MedicalIntern as i32, 2), (NursingStudent as i32, 1)], "T1 counts in A as the intern of its latest placement");
    let a_only = count("2018", format!("structures/{a}")).await;
    assert_eq!((a_only.trainees, a_only.structures_with_two_or_more), (2, 1));
    let q1 = count("2018Q1", String::new()).await;
    assert_eq!(q1.trainees, 2, "T1 and T2 in A");
    assert_eq!(count("2018Q3", String::new()).await.trainees, 0);
    assert_eq!(count("2017", String::new()).await.trainees, 1);
}

#[tokio::test]
async fn adverse_events_are_consolidated_once_per_establishment_and_year() {
    let env = setup().await;
    let hospital = of_category(&env, "HOSPITAL").await[0].clone();
    use pb::AdverseEventSeverity::{Ei, Eig};
    for (i, (date, severity, category)) in [
        ("2019-01-05", Ei, "chute"),
        ("2019-03-12", Ei, "chute"),
        ("2019-06-30", Ei, "Chute"),
        ("2019-08-01", Ei, "medicament"),
        ("2020-01-02", Eig, "chute"),
    ]
    .into_iter()
    .enumerate()
    {
        record_event(&env, event(&hospital, &format!("DECL-{i}"), date, severity, category)).await.expect("event");
    }
    // The analysis of DECL-3 reclassifies it as serious: the current version counts.
    let mut serious = event(&hospital, "DECL-3", "2019-08-01", Eig, "medicament");
    serious.analysis_status = pb::AdverseEventAnalysisStatus::Completed as i32;
    assert_eq!(record_event(&env, serious).await.expect("v2").version, 2);

    let first = consolidate(&env, "consolidate-2019", &hospital, 2019).await.expect("consolidation");
    assert_eq!((first.events, first.ei, first.eig), (4, 3, 1));
    let counts: Vec<(i32, &str, i64)> = first.counts.iter().map(|c| (c.severity, c.category.as_str(), c.events)).collect();
    assert_eq!(counts, [(Ei as i32, "chute", 3), (Eig as i32, "medicament", 1)]);
    assert!(!first.consolidation_date.is_empty());

    // A late declaration does not change a frozen year; consolidating again returns the same record.
    record_event(&env, event(&hospital, "DECL-9", "2019-12-24", Eig, "infection")).await.expect("late");
    assert_eq!(consolidate(&env, "consolidate-2019-again", &hospital, 2019).await.expect("again"), first);
    assert_eq!(consolidate(&env, "consolidate-2019", &hospital, 2019).await.expect("replay"), first);
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM adverse_event_consolidation").fetch_one(&env.pool).await.expect("count");
    assert_eq!(rows, 1);
    let listed = env
        .api
        .list_adverse_event_consolidations(req(pb::ListAdverseEventConsolidationsRequest {
            finess: hospital.clone(),
            ..Default::default()
        }))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.consolidations, vec![first]);

    // Another year is its own consolidation; the current year is not over.
    let y2020 = consolidate(&env, "", &hospital, 2020).await.expect("2020");
    assert_eq!((y2020.events, y2020.eig), (1, 1));
    let this_year = chrono::Datelike::year(&chrono::Utc::now().date_naive());
    assert_eq!(fields(&consolidate(&env, "", &hospital, this_year).await.expect_err("not over")), ["year"]);

    // Lists page through in recording order.
    let mut token = String::new();
    let mut seen = Vec::new();
    loop {
        let page = env
            .api
            .list_adverse_events(req(pb::ListAdverseEventsRequest { page_size: 2, page_token: token, ..Default::default() }))
            .await
            .expect("page")
            .into_inner();
        seen.extend(page.events.into_iter().map(|e| e.declaration_ref));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ["DECL-0", "DECL-1", "DECL-2", "DECL-4", "DECL-3", "DECL-9"], "current versions, in the order recorded");
}

#[tokio::test]
async fn trainees_and_surveys_count_against_the_structures_open_of_a_category() {
    let env = setup().await;
    let centres = of_category(&env, "HEALTH_CENTRE").await;
    let hospital = of_category(&env, "HOSPITAL").await[0].clone();
    let (a, b) = (centres[0].clone(), centres[1].clone());
    use pb::TraineeCategory::{MedicalIntern, NursingStudent};
    // Two trainees in centre A, one in centre B, one in a hospital (not a health centre).
    record_placement(&env, placement(&a, MedicalIntern, "T1", "2019-01-07", "2019-04-30")).await.expect("t1");
    record_placement(&env, placement(&a, NursingStudent, "T2", "2019-03-04", "2019-03-29")).await.expect("t2");
    record_placement(&env, placement(&b, NursingStudent, "T3", "2019-09-02", "2019-10-31")).await.expect("t3");
    record_placement(&env, placement(&hospital, MedicalIntern, "T4", "2019-05-02", "2019-10-31")).await.expect("t4");
    let hc = vec!["HEALTH_CENTRE".to_owned()];
    let (open,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM structure_cache WHERE category = 'HEALTH_CENTRE' AND level = 'ESTABLISHMENT' \
         AND open_date <= '2019-12-31' AND (close_date IS NULL OR close_date >= '2019-01-01')",
    )
    .fetch_one(&env.pool)
    .await
    .expect("open centres");
    let t = env
        .api
        .count_trainees(req(pb::CountTraineesRequest { period: "2019".into(), scope: String::new(), categories: hc.clone() }))
        .await
        .expect("count")
        .into_inner();
    assert_eq!((t.trainees, t.structures, t.structures_with_two_or_more, t.structures_open), (3, 2, 1, open));
    let all = env.api.count_trainees(req(pb::CountTraineesRequest { period: "2019".into(), ..Default::default() })).await.expect("all");
    assert_eq!(all.into_inner().trainees, 4);

    // Surveys: A in 2019, the hospital in 2019, B in 2020 only.
    for (finess, period) in [(&a, "2019"), (&hospital, "2019"), (&b, "2020")] {
        let s = pb::SatisfactionSurvey { period: period.into(), ..survey(finess) };
        env.api
            .record_satisfaction_survey(req(pb::RecordSatisfactionSurveyRequest { request_id: String::new(), survey: Some(s) }))
            .await
            .expect("survey");
    }
    let surveyed = |categories: Vec<String>| {
        let api = env.api.clone();
        async move {
            let r = pb::CountSurveyedStructuresRequest { period: "2019".into(), scope: String::new(), categories };
            let out = api.count_surveyed_structures(req(r)).await.expect("surveyed").into_inner();
            (out.structures_open, out.structures_surveyed)
        }
    };
    assert_eq!(surveyed(hc.clone()).await, (open, 1));
    assert_eq!(surveyed(vec!["HEALTH_CENTRE".into(), "HOSPITAL".into()]).await.1, 2);
    let bad = env
        .api
        .count_surveyed_structures(req(pb::CountSurveyedStructuresRequest {
            period: "2019".into(),
            scope: String::new(),
            categories: vec!["CASTLE".into()],
        }))
        .await
        .expect_err("unknown category");
    assert_eq!(fields(&bad), ["categories[0]"]);
}
