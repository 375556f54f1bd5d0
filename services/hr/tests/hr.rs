//! HR service behaviour against a real PostgreSQL (a fresh database per test),
//! through its gRPC API with signed identities: the five must-show items of
//! issue 5 and the staffing rules.

use std::time::Duration;

use chrono::NaiveDate;
use filieris_hr::storage::Store;
use filieris_proto::hr as pb;
use filieris_proto::hr::hr_service_client::HrServiceClient;
use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::registry_cache::{StructureRecord, upsert_structure};
use filieris_runtime::testing::TestDatabase;
use sqlx::PgPool;
use tonic::transport::Channel;
use tonic_types::StatusExt;
use uuid::Uuid;

const INTERNAL: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
/// Two health centres (Sud, Nord) and an EHPAD (Est).
const CENTRE: &str = "300000001";
const CENTRE_NORD: &str = "590000001";
const EHPAD: &str = "570000001";

struct Harness {
    client: HrServiceClient<Channel>,
    key: InternalKey,
    pool: PgPool,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
}

fn hr_user() -> Identity {
    Identity { caller: "staff:dnrh".into(), kind: CallerKind::Staff, roles: vec!["hr".into()], scopes: vec!["*".into()] }
}

fn reader() -> Identity {
    Identity { caller: "staff:centre-manager".into(), kind: CallerKind::Staff, roles: vec!["reader".into()], scopes: vec!["*".into()] }
}

async fn harness() -> Harness {
    let db = TestDatabase::create().await.expect("db");
    let key = InternalKey::from_hex(INTERNAL).expect("key");
    let pool = filieris_runtime::db::connect(&db.url, filieris_hr::SCHEMA, 4, &filieris_hr::MIGRATOR).await.expect("hr db");
    for (i, (finess, category, region)) in
        [(CENTRE, "HEALTH_CENTRE", 3), (CENTRE_NORD, "HEALTH_CENTRE", 1), (EHPAD, "EHPAD", 2)].iter().enumerate()
    {
        let record = StructureRecord {
            id: Uuid::from_u128(i as u128 + 1),
            finess: Some((*finess).into()),
            level: "ESTABLISHMENT".into(),
            category: (*category).into(),
            region: *region,
            parent_id: None,
            open_date: d("2015-01-01"),
            close_date: None,
            revision: 1,
        };
        upsert_structure(&pool, &record).await.expect("cache");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let api = filieris_hr::HrApi::new(Store::new(pool.clone()));
    tokio::spawn(filieris_hr::serve(listener, api, pool.clone(), key.clone(), Duration::from_secs(1), async {
        let _ = stop_rx.await;
    }));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).expect("url").connect_lazy();
    Harness { client: HrServiceClient::new(channel), key, pool, _stop: stop }
}

impl Harness {
    fn req<T>(&self, who: &Identity, message: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(message);
        who.attach(&self.key, &mut r);
        r
    }

    async fn job(&mut self, code: &str, family: pb::JobFamily) {
        let job = pb::Job { code: code.into(), label: code.into(), family: family as i32, ..Default::default() };
        let r = self.req(&hr_user(), pb::CreateJobRequest { job: Some(job), request_id: String::new() });
        self.client.create_job(r).await.expect("job");
    }

    async fn position(&mut self, finess: &str, job: &str, fte: i32) {
        let position = pb::Position {
            finess: finess.into(),
            job: format!("jobs/{job}"),
            fte_hundredths: fte,
            effective_from: "2022-01-01".into(),
            ..Default::default()
        };
        let r = self.req(&hr_user(), pb::CreatePositionRequest { position: Some(position), request_id: String::new() });
        self.client.create_position(r).await.expect("position");
    }

    #[allow(clippy::too_many_arguments)]
    async fn person(&mut self, id: &str, job: &str, birth_year: i32, manager: bool, hr_team: bool, start: &str, end: &str) {
        let contract = if end.is_empty() { pb::ContractType::Permanent } else { pb::ContractType::FixedTerm };
        let person = pb::Person {
            employee_id: id.into(),
            birth_year,
            job: format!("jobs/{job}"),
            status: pb::StaffStatus::Ucanss as i32,
            manager,
            hr_team,
            contract_type: contract as i32,
            start_date: start.into(),
            end_date: end.into(),
            ..Default::default()
        };
        let r = self.req(&hr_user(), pb::CreatePersonRequest { person: Some(person), request_id: String::new() });
        self.client.create_person(r).await.expect("person");
    }

    async fn assign(&mut self, id: &str, finess: &str, fte: i32, start: &str) -> Result<pb::Assignment, tonic::Status> {
        let assignment = pb::Assignment { finess: finess.into(), fte_hundredths: fte, start_date: start.into(), ..Default::default() };
        let r = self.req(
            &hr_user(),
            pb::CreateAssignmentRequest { person: format!("people/{id}"), assignment: Some(assignment), request_id: String::new() },
        );
        self.client.create_assignment(r).await.map(|r| r.into_inner().assignment.unwrap_or_default())
    }

    async fn training(&mut self, programme: pb::TrainingProgramme, date: &str, cost_cents: i64, people: &[&str]) {
        let action = pb::TrainingAction {
            title: format!("{programme:?}"),
            programme: programme as i32,
            date: date.into(),
            hours: 7,
            cost_cents,
            participants: people.iter().map(|p| pb::TrainingParticipant { person: format!("people/{p}"), completed: true }).collect(),
            ..Default::default()
        };
        let r = self.req(&hr_user(), pb::CreateTrainingActionRequest { action: Some(action), request_id: String::new() });
        self.client.create_training_action(r).await.expect("training");
    }

    async fn open_vacancy(&mut self, finess: &str, job: &str, fte: i32, opened: &str) -> Result<pb::Vacancy, tonic::Status> {
        let r = self.req(
            &hr_user(),
            pb::OpenVacancyRequest {
                finess: finess.into(),
                job: format!("jobs/{job}"),
                fte_hundredths: fte,
                opened_date: opened.into(),
                request_id: String::new(),
            },
        );
        self.client.open_vacancy(r).await.map(|r| r.into_inner().vacancy.unwrap_or_default())
    }

    async fn gepp(&mut self, who: &Identity, finess: &str, as_of: &str) -> pb::GetGeppViewResponse {
        let r = self.req(who, pb::GetGeppViewRequest { finess: finess.into(), as_of_date: as_of.into(), ..Default::default() });
        self.client.get_gepp_view(r).await.expect("gepp").into_inner()
    }
}

fn reason(status: &tonic::Status) -> String {
    status.get_error_details().error_info().map(|i| i.reason.clone()).unwrap_or_default()
}

fn payroll_row(month: &str, finess: &str, status: pb::StaffStatus, gross: i64) -> pb::PayrollRowInput {
    pb::PayrollRowInput {
        month: month.into(),
        finess: finess.into(),
        status: status as i32,
        gross_cents: gross,
        employer_contributions_cents: gross * 45 / 100,
        headcount_paid: 10,
    }
}

/// Must-show 1: the eleven indicators of 2022 with numerators and
/// denominators, three of them (and more) checked against hand-computed values.
#[tokio::test]
async fn indicators_of_a_year_match_hand_computed_values() {
    let mut h = harness().await;
    h.job("CENTRE_MANAGER", pb::JobFamily::Management).await;
    h.job("HR_OFFICER", pb::JobFamily::Administrative).await;
    // Four managers in post on 31/12/2022 (M4 also in an HR team), one HR officer,
    // and a trained manager who left on 30/06/2022 (in neither term, hr.md H3).
    h.person("M1", "CENTRE_MANAGER", 1970, true, false, "2015-01-01", "").await;
    h.person("M2", "CENTRE_MANAGER", 1975, true, false, "2015-01-01", "").await;
    h.person("M3", "CENTRE_MANAGER", 1980, true, false, "2015-01-01", "").await;
    h.person("M4", "CENTRE_MANAGER", 1985, true, true, "2015-01-01", "").await;
    h.person("H1", "HR_OFFICER", 1990, false, true, "2015-01-01", "").await;
    h.person("M5", "CENTRE_MANAGER", 1972, true, false, "2015-01-01", "2022-06-30").await;
    // Payroll 2022: 12 months × 83,333.33 € + a 4.04 € adjustment = 1,000,000.00 €; 2021 is not counted.
    let mut rows: Vec<pb::PayrollRowInput> =
        (1..=12).map(|m| payroll_row(&format!("2022{m:02}"), CENTRE, pb::StaffStatus::Ucanss, 8_333_333)).collect();
    rows.push(payroll_row("202212", CENTRE, pb::StaffStatus::CompanyAgreement, 4));
    rows.push(payroll_row("202112", CENTRE, pb::StaffStatus::Ucanss, 9_999_999));
    let r = h.req(&hr_user(), pb::ImportPayrollRequest { request_id: "pay-2022".into(), source_system: "TEST".into(), rows });
    let summary = h.client.import_payroll(r).await.expect("payroll").into_inner();
    assert_eq!(summary.rejected_rows, 0);
    // Training 2022: 22,900.00 € → 2.29 % of payroll; an action of 2021 is not counted in 2022.
    h.training(pb::TrainingProgramme::ChangeManagement, "2022-03-10", 1_000_000, &["M1", "M2", "M5"]).await;
    h.training(pb::TrainingProgramme::ChangeManagement, "2022-09-10", 290_000, &["M3"]).await;
    h.training(pb::TrainingProgramme::ManagementByObjectives, "2022-05-10", 500_000, &["M1"]).await;
    h.training(pb::TrainingProgramme::CareerPathManagement, "2022-06-10", 500_000, &["M4", "H1"]).await;
    h.training(pb::TrainingProgramme::Other, "2021-06-10", 700_000, &["M2"]).await;
    // Agreements 2022: one harmonisation, two overhauls, one with its didactic support by 31/12.
    for (title, kind, signed, support) in [
        ("Aides à domicile", pb::AgreementType::Harmonisation, "2022-06-30", ""),
        ("Forfait jours", pb::AgreementType::Overhaul, "2022-04-12", "2022-12-01"),
        ("Plages variables", pb::AgreementType::Overhaul, "2022-11-08", "2023-01-15"),
        ("Médecins", pb::AgreementType::Overhaul, "2023-05-23", "2023-06-01"),
    ] {
        let agreement = pb::CollectiveAgreement {
            title: title.into(),
            r#type: kind as i32,
            signed_date: signed.into(),
            didactic_support_date: support.into(),
            ..Default::default()
        };
        let r = h.req(&hr_user(), pb::CreateCollectiveAgreementRequest { agreement: Some(agreement), request_id: String::new() });
        h.client.create_collective_agreement(r).await.expect("agreement");
    }
    let counters = pb::YearlyCounters {
        name: "yearlyCounters/2022".into(),
        signature_events: 840,
        electronic_signatures: 310,
        remote_meetings_with_votes: 12,
        remote_meetings_full_evoting: 11,
        disability_diagnostic_date: "2022-10-15".into(),
        disability_actions: 12,
        disability_actions_done: 2,
        litigation_hub_date: String::new(),
    };
    let r = h.req(&hr_user(), pb::SetYearlyCountersRequest { counters: Some(counters), request_id: String::new() });
    h.client.set_yearly_counters(r).await.expect("counters");

    // Read by a caller without an HR role: indicators are aggregates.
    let r = h.req(&reader(), pb::GetHrIndicatorsRequest { year: 2022 });
    let got = h.client.get_hr_indicators(r).await.expect("indicators").into_inner();
    let codes: Vec<&str> = got.indicators.iter().map(|i| i.code.as_str()).collect();
    let expected: Vec<String> = (1..=11).map(|n| format!("COG22.SUP.{n}")).collect();
    assert_eq!(codes, expected.iter().map(String::as_str).collect::<Vec<_>>());
    let value = |code: &str| {
        let i = got.indicators.iter().find(|i| i.code == code).unwrap();
        let v = i.value.clone().unwrap_or_default();
        (v.numerator, v.denominator, v.percent)
    };
    // Hand-computed: 22,900.00 € ÷ 1,000,000.00 € = 2.29 %.
    assert_eq!(value("COG22.SUP.1"), (2_290_000, 100_000_000, "2.29".to_owned()));
    // 3 of the 4 managers in post trained in change management (M5 left): 75.00 %.
    assert_eq!(value("COG22.SUP.2"), (3, 4, "75.00".to_owned()));
    // 1 of 4 in management by objectives: 25.00 %.
    assert_eq!(value("COG22.SUP.3"), (1, 4, "25.00".to_owned()));
    // Managers ∪ HR teams = {M1, M2, M3, M4, H1}; M4 and H1 trained: 40.00 %.
    assert_eq!(value("COG22.SUP.4"), (2, 5, "40.00".to_owned()));
    assert_eq!(value("COG22.SUP.5"), (2, 12, "16.67".to_owned()));
    let sup5 = got.indicators.iter().find(|i| i.code == "COG22.SUP.5").unwrap();
    assert!(sup5.milestone_reached, "diagnostic dated 15/10/2022");
    assert_eq!(value("COG22.SUP.6").0, 1);
    let sup7 = got.indicators.iter().find(|i| i.code == "COG22.SUP.7").unwrap();
    assert!(!sup7.milestone_reached);
    assert_eq!(value("COG22.SUP.8"), (1, 3, "33.33".to_owned()));
    assert_eq!(value("COG22.SUP.9"), (310, 840, "36.90".to_owned()));
    assert_eq!(value("COG22.SUP.10"), (11, 12, "91.67".to_owned()));
    assert_eq!(value("COG22.SUP.11").0, 2);

    // The same figures in the generic aggregates.
    let r = h.req(&reader(), pb::GetHrAggregatesRequest { year: 2022 });
    let agg = h.client.get_hr_aggregates(r).await.expect("aggregates").into_inner();
    assert_eq!(agg.payroll_gross_cents, 100_000_000);
    assert_eq!(agg.training_cost_cents, 2_290_000);
    assert_eq!(agg.training_share_of_payroll.unwrap().percent, "2.29");
    let change = agg.managers_trained.iter().find(|p| p.programme == pb::TrainingProgramme::ChangeManagement as i32).unwrap();
    assert_eq!(change.managers_trained.clone().unwrap().percent, "75.00");
    // 2023: the milestone of SUP.5 holds, no agreement of type harmonisation, one overhaul.
    let r = h.req(&reader(), pb::GetHrIndicatorsRequest { year: 2023 });
    let y2023 = h.client.get_hr_indicators(r).await.expect("2023").into_inner();
    let sup11 = y2023.indicators.iter().find(|i| i.code == "COG22.SUP.11").unwrap();
    assert_eq!(sup11.value.clone().unwrap().numerator, 1);
    assert!(y2023.indicators.iter().find(|i| i.code == "COG22.SUP.5").unwrap().milestone_reached);
}

/// Absenteeism and appraisal rate from a small hand-computed data set.
#[tokio::test]
async fn absenteeism_and_appraisal_rate_are_exact_ratios() {
    let mut h = harness().await;
    h.job("NURSE", pb::JobFamily::Paramedical).await;
    h.person("A", "NURSE", 1980, false, false, "2020-01-01", "").await;
    h.person("B", "NURSE", 1985, false, false, "2022-07-01", "").await;
    h.assign("A", CENTRE, 100, "2020-01-01").await.expect("A");
    h.assign("B", CENTRE, 50, "2022-07-01").await.expect("B");
    for (who, reason, start, end, days) in [
        ("A", pb::AbsenceReason::Sickness, "2022-03-07", "2022-03-18", 10),
        ("B", pb::AbsenceReason::Unjustified, "2022-09-05", "2022-09-07", 3),
        ("A", pb::AbsenceReason::MaternityPaternity, "2022-05-02", "2022-05-06", 5),
    ] {
        let r = h.req(
            &hr_user(),
            pb::RecordAbsenceRequest {
                person: format!("people/{who}"),
                reason: reason as i32,
                start_date: start.into(),
                end_date: end.into(),
                working_days: days,
                request_id: String::new(),
            },
        );
        h.client.record_absence(r).await.expect("absence");
    }
    for (who, held) in [("A", "2022-02-01"), ("B", "")] {
        let r = h.req(
            &hr_user(),
            pb::RecordAppraisalRequest {
                person: format!("people/{who}"),
                campaign_year: 2022,
                held_date: held.into(),
                request_id: String::new(),
            },
        );
        h.client.record_appraisal(r).await.expect("appraisal");
    }
    let r = h.req(&reader(), pb::GetHrAggregatesRequest { year: 2022 });
    let agg = h.client.get_hr_aggregates(r).await.expect("aggregates").into_inner();
    // (10 + 3) days ÷ (260 weekdays × 1.00 + 131 weekdays of July–December × 0.50), in hundredths of days.
    let abs = agg.absenteeism.unwrap();
    assert_eq!((abs.numerator, abs.denominator, abs.percent.as_str()), (1_300, 32_550, "3.99"));
    let appraisal = agg.appraisal_rate.unwrap();
    assert_eq!((appraisal.numerator, appraisal.denominator, appraisal.percent.as_str()), (1, 2, "50.00"));
}

/// Must-show 2: no vacancy without a free post; filling one updates the GEPP view.
#[tokio::test]
async fn vacancy_needs_a_free_post_and_filling_it_updates_the_gepp_view() {
    let mut h = harness().await;
    h.job("NURSE", pb::JobFamily::Paramedical).await;
    h.job("MED_GP", pb::JobFamily::Medical).await;
    h.position(CENTRE, "NURSE", 300).await;
    h.person("N1", "NURSE", 1980, false, false, "2020-01-01", "").await;
    h.person("N2", "NURSE", 1985, false, false, "2020-01-01", "").await;
    h.assign("N1", CENTRE, 100, "2020-01-01").await.expect("N1");
    h.assign("N2", CENTRE, 50, "2020-01-01").await.expect("N2");
    // hr.md H12: 3.0 authorised, 1.5 filled: 1.0 opens, then another 1.0 is refused, naming the 0.5 still free.
    let nurse = h.open_vacancy(CENTRE, "NURSE", 100, "2022-03-01").await.expect("1.0 fits");
    assert!(nurse.name.starts_with("vacancies/"));
    let err = h.open_vacancy(CENTRE, "NURSE", 100, "2022-03-02").await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert_eq!(reason(&err), "NO_FREE_POSITION");
    let info = err.get_error_details().error_info().cloned().unwrap();
    assert_eq!(info.metadata.get("free_fte_hundredths").map(String::as_str), Some("50"));
    // No plan at all for this job.
    let err = h.open_vacancy(CENTRE, "MED_GP", 50, "2022-03-02").await.unwrap_err();
    assert_eq!(reason(&err), "NO_FREE_POSITION");
    let half = h.open_vacancy(CENTRE, "NURSE", 50, "2022-03-02").await.expect("0.5 fits");
    assert!(!half.medical);

    let before = h.gepp(&reader(), CENTRE, "2022-06-01").await;
    let row = before.rows.iter().find(|r| r.job == "jobs/NURSE").unwrap();
    assert_eq!(
        (row.authorised_fte_hundredths, row.filled_fte_hundredths, row.open_vacancies, row.open_vacancy_fte_hundredths),
        (300, 150, 2, 150)
    );

    // An application, then the hire: the assignment is created from the vacancy.
    let r = h.req(
        &hr_user(),
        pb::RecordApplicationRequest {
            vacancy: nurse.name.clone(),
            candidate_ref: "CAND-1".into(),
            channel: pb::ApplicationChannel::School as i32,
            received_date: "2022-03-15".into(),
            request_id: String::new(),
        },
    );
    assert_eq!(h.client.record_application(r).await.expect("application").into_inner().vacancy.unwrap().applications, 1);
    h.job("HR_OFFICER", pb::JobFamily::Administrative).await;
    h.person("X", "HR_OFFICER", 1990, false, false, "2022-05-01", "").await;
    let r = h.req(
        &hr_user(),
        pb::FillVacancyRequest {
            name: nurse.name.clone(),
            person: "people/X".into(),
            hire_date: "2022-05-01".into(),
            request_id: String::new(),
        },
    );
    assert_eq!(reason(&h.client.fill_vacancy(r).await.unwrap_err()), "JOB_MISMATCH");
    h.person("N3", "NURSE", 1995, false, false, "2022-05-01", "").await;
    let r = h.req(
        &hr_user(),
        pb::FillVacancyRequest {
            name: nurse.name.clone(),
            person: "people/N3".into(),
            hire_date: "2022-05-01".into(),
            request_id: "fill-1".into(),
        },
    );
    let filled = h.client.fill_vacancy(r).await.expect("fill").into_inner();
    let vacancy = filled.vacancy.unwrap();
    assert_eq!(vacancy.state, pb::VacancyState::Filled as i32);
    assert_eq!(vacancy.days_to_hire, 61);
    assert_eq!(filled.assignment.unwrap().fte_hundredths, 100);

    let after = h.gepp(&reader(), CENTRE, "2022-06-01").await;
    let row = after.rows.iter().find(|r| r.job == "jobs/NURSE").unwrap();
    assert_eq!(
        (row.authorised_fte_hundredths, row.filled_fte_hundredths, row.vacant_fte_hundredths, row.open_vacancies),
        (300, 250, 50, 1)
    );
    // Filling it again: the vacancy is no longer open.
    let r = h.req(
        &hr_user(),
        pb::FillVacancyRequest {
            name: nurse.name.clone(),
            person: "people/N3".into(),
            hire_date: "2022-05-02".into(),
            request_id: String::new(),
        },
    );
    assert_eq!(reason(&h.client.fill_vacancy(r).await.unwrap_err()), "VACANCY_NOT_OPEN");
    let r = h.req(&reader(), pb::GetHrAggregatesRequest { year: 2022 });
    let agg = h.client.get_hr_aggregates(r).await.expect("aggregates").into_inner();
    assert_eq!((agg.vacancies_opened, agg.hires, agg.vacancies_open, agg.median_days_to_hire), (2, 1, 1, 61));
}

/// Must-show 3: personal rows need an HR role; aggregates do not.
#[tokio::test]
async fn personal_rows_need_an_hr_role_while_aggregates_stay_readable() {
    let mut h = harness().await;
    h.job("MED_GP", pb::JobFamily::Medical).await;
    h.person("P1", "MED_GP", 1963, false, false, "2010-01-01", "").await;
    h.assign("P1", CENTRE, 80, "2010-01-01").await.expect("assign");

    let err = h.client.get_person(h.req(&reader(), pb::GetPersonRequest { name: "people/P1".into() })).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    assert_eq!(reason(&err), "PERSONAL_DATA_DENIED");
    let err = h.client.list_people(h.req(&reader(), pb::ListPeopleRequest::default())).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    // Writes too.
    let job = pb::Job { code: "NURSE".into(), label: "Nurse".into(), family: pb::JobFamily::Paramedical as i32, ..Default::default() };
    let err = h.client.create_job(h.req(&reader(), pb::CreateJobRequest { job: Some(job), request_id: String::new() })).await.unwrap_err();
    assert_eq!(reason(&err), "HR_WRITE_DENIED");

    // The same caller reads the aggregates.
    let r =
        h.req(&reader(), pb::QueryWorkforceRequest { as_of_date: "2022-12-31".into(), dimension: pb::WorkforceDimension::Region as i32 });
    let rows = h.client.query_workforce(r).await.expect("workforce").into_inner().rows;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].key.as_str(), rows[0].headcount, rows[0].fte_hundredths), ("SUD", 1, 80));
    h.client.get_hr_aggregates(h.req(&reader(), pb::GetHrAggregatesRequest { year: 2022 })).await.expect("aggregates");
    // The GEPP view counts the departure without naming the person.
    let view = h.gepp(&reader(), CENTRE, "2026-11-23").await;
    assert_eq!(view.rows[0].departures.len(), 1);
    assert_eq!(view.rows[0].departures[0].person, "");

    // An HR user reads the person and the name in the GEPP view; so does admin.
    let person = h.client.get_person(h.req(&hr_user(), pb::GetPersonRequest { name: "people/P1".into() })).await.expect("hr").into_inner();
    let person = person.person.unwrap();
    assert_eq!((person.birth_year, person.assignments.len()), (1963, 1));
    let admin = Identity { caller: "staff:admin".into(), kind: CallerKind::Staff, roles: vec!["admin".into()], scopes: vec!["*".into()] };
    let listed = h.client.list_people(h.req(&admin, pb::ListPeopleRequest::default())).await.expect("admin").into_inner();
    assert_eq!(listed.people.len(), 1);
    assert_eq!(h.gepp(&hr_user(), CENTRE, "2026-11-23").await.rows[0].departures[0].person, "people/P1");
    // Every personal read is audited, the refused ones with their reason.
    let audited: Vec<(String, String)> =
        sqlx::query_as("SELECT method, outcome FROM audit_log WHERE method IN ('HrService/GetPerson', 'HrService/ListPeople') ORDER BY id")
            .fetch_all(&h.pool)
            .await
            .unwrap();
    assert_eq!(audited.len(), 4);
    assert_eq!(audited[0], ("HrService/GetPerson".to_owned(), "PERSONAL_DATA_DENIED".to_owned()));
}

/// Must-show 4: the GEPP view of the named demo structure lists the
/// departures of the next three years; the demo seed is idempotent.
#[tokio::test]
async fn gepp_view_lists_departures_of_the_next_three_years_in_the_demo_structure() {
    let h = harness().await;
    let store = Store::new(h.pool.clone());
    let structures = vec![
        filieris_hr::seed::DemoStructure { finess: CENTRE.into(), category: "HEALTH_CENTRE".into() },
        filieris_hr::seed::DemoStructure { finess: EHPAD.into(), category: "EHPAD".into() },
    ];
    filieris_hr::seed::load_structures(&store, &structures, Some(CENTRE)).await.expect("seed");
    let first = store.counts().await.unwrap();
    filieris_hr::seed::load_structures(&store, &structures, Some(CENTRE)).await.expect("seed again");
    assert_eq!(store.counts().await.unwrap(), first, "a second seed adds nothing");

    let mut h = h;
    let view = h.gepp(&hr_user(), CENTRE, "2026-11-23").await;
    assert_eq!(view.horizon_end_date, "2029-11-23");
    assert_eq!(view.retirement_age, 64);
    let mut leaving: Vec<(String, String, i32, i32)> = view
        .rows
        .iter()
        .flat_map(|r| {
            r.departures.iter().map(|d| {
                let why = pb::DepartureReason::try_from(d.reason).unwrap().as_str_name().to_owned();
                (r.job.clone(), why, d.year, d.fte_hundredths)
            })
        })
        .collect();
    leaving.sort();
    assert_eq!(
        leaving,
        vec![
            ("jobs/MED_GP".to_owned(), "DEPARTURE_REASON_RETIREMENT".to_owned(), 2027, 80),
            ("jobs/MED_SECRETARY".to_owned(), "DEPARTURE_REASON_RETIREMENT".to_owned(), 2028, 100),
            ("jobs/NURSE".to_owned(), "DEPARTURE_REASON_CONTRACT_END".to_owned(), 2027, 100),
        ]
    );
    // The GP posts: 3.0 authorised, 0.8 + 0.6 + 0.6 + the 1.0 hire of 2022 filled.
    let gp = view.rows.iter().find(|r| r.job == "jobs/MED_GP").unwrap();
    assert_eq!((gp.authorised_fte_hundredths, gp.filled_fte_hundredths, gp.open_vacancies, gp.departing_fte_hundredths), (300, 300, 0, 80));
    // The 0.8 FTE of the retiring doctor is to recruit before it is empty.
    assert_eq!(gp.to_recruit_fte_hundredths, 80);
    // Paging through the whole view returns each row once.
    let mut token = String::new();
    let mut seen = Vec::new();
    loop {
        let r = h.req(
            &reader(),
            pb::GetGeppViewRequest { as_of_date: "2026-11-23".into(), page_size: 3, page_token: token.clone(), ..Default::default() },
        );
        let page = h.client.get_gepp_view(r).await.expect("page").into_inner();
        seen.extend(page.rows.iter().map(|r| (r.finess.clone(), r.job.clone())));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted);
    assert!(seen.len() > 5);
    // The demo payroll and training make the COG22.SUP.1 base.
    let got = h.client.get_hr_indicators(h.req(&reader(), pb::GetHrIndicatorsRequest { year: 2022 })).await.unwrap().into_inner();
    assert_eq!(got.indicators[0].value.clone().unwrap().percent, "2.29");
}

/// Must-show 5: payroll import guarantees.
#[tokio::test]
async fn payroll_import_reports_row_errors_and_replays_by_request_id() {
    let mut h = harness().await;
    let rows = vec![
        payroll_row("202201", CENTRE, pb::StaffStatus::Ucanss, 1_000_000),
        payroll_row("202213", CENTRE, pb::StaffStatus::Ucanss, 5),
        payroll_row("202201", "999999999", pb::StaffStatus::Ucanss, 7),
        payroll_row("202202", EHPAD, pb::StaffStatus::Unspecified, 11),
        payroll_row("202201", CENTRE, pb::StaffStatus::Ucanss, 13),
        payroll_row("202201", CENTRE_NORD, pb::StaffStatus::BranchAgreement, 2_000_000),
    ];
    let request = pb::ImportPayrollRequest { request_id: "batch-1".into(), source_system: "PAIE".into(), rows };
    let first = h.client.import_payroll(h.req(&hr_user(), request.clone())).await.expect("import").into_inner();
    assert_eq!((first.total_rows, first.accepted_rows, first.rejected_rows, first.gross_cents), (6, 2, 4, 3_000_000));
    let errors: Vec<(i64, &str)> = first.errors.iter().map(|e| (e.row, e.field.as_str())).collect();
    assert_eq!(errors, vec![(2, "month"), (3, "finess"), (4, "status"), (5, "month")]);
    assert!(first.errors[3].reason.contains("row 1"), "{}", first.errors[3].reason);

    // The same batch again: the same summary, nothing written twice.
    let again = h.client.import_payroll(h.req(&hr_user(), request.clone())).await.expect("replay").into_inner();
    assert_eq!(again, first);
    let stored: (i64, i64) =
        sqlx::query_as("SELECT count(*), sum(gross_cents)::bigint FROM payroll_entry").fetch_one(&h.pool).await.unwrap();
    assert_eq!(stored, (2, 3_000_000));
    let batches: (i64,) = sqlx::query_as("SELECT count(*) FROM payroll_batch").fetch_one(&h.pool).await.unwrap();
    assert_eq!(batches.0, 1);
    let agg = h.client.get_hr_aggregates(h.req(&reader(), pb::GetHrAggregatesRequest { year: 2022 })).await.unwrap().into_inner();
    assert_eq!(agg.payroll_gross_cents, 3_000_000);
    let by_status: Vec<(i32, i64)> = agg.payroll_by_status.iter().map(|s| (s.status, s.gross_cents)).collect();
    assert_eq!(by_status, vec![(pb::StaffStatus::BranchAgreement as i32, 2_000_000), (pb::StaffStatus::Ucanss as i32, 1_000_000)]);

    // The same id with another payload is refused.
    let mut other = request.clone();
    other.rows.truncate(1);
    let err = h.client.import_payroll(h.req(&hr_user(), other)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(reason(&err), "REQUEST_ID_REUSED");
    // A batch needs a request id; a caller without an HR role cannot import.
    let mut no_id = request.clone();
    no_id.request_id.clear();
    assert_eq!(h.client.import_payroll(h.req(&hr_user(), no_id)).await.unwrap_err().code(), tonic::Code::InvalidArgument);
    assert_eq!(reason(&h.client.import_payroll(h.req(&reader(), request)).await.unwrap_err()), "HR_WRITE_DENIED");
}

/// hr.md H17 and H18: shares of one person stay within one FTE; the Salindres fixture.
#[tokio::test]
async fn assignments_stay_within_one_fte_and_fte_adds_up_per_structure() {
    let mut h = harness().await;
    h.job("MED_GP", pb::JobFamily::Medical).await;
    h.person("G1", "MED_GP", 1970, false, false, "2019-01-01", "").await;
    h.assign("G1", CENTRE, 60, "2019-01-01").await.expect("0.6");
    let err = h.assign("G1", CENTRE_NORD, 50, "2019-06-01").await.unwrap_err();
    assert_eq!(reason(&err), "FTE_EXCEEDED");
    h.assign("G1", CENTRE_NORD, 40, "2019-06-01").await.expect("0.4 fits");
    // Before the contract: refused.
    assert_eq!(reason(&h.assign("G1", CENTRE, 10, "2018-01-01").await.unwrap_err()), "OUTSIDE_CONTRACT");
    // Unknown structure.
    assert_eq!(h.assign("G1", "111111111", 10, "2019-01-01").await.unwrap_err().code(), tonic::Code::NotFound);
    // H18: 0.8 + 0.6 + 0.6 → centre FTE 2.0, headcount 3.
    h.person("S1", "MED_GP", 1970, false, false, "2019-01-01", "").await;
    h.person("S2", "MED_GP", 1971, false, false, "2019-01-01", "").await;
    h.person("S3", "MED_GP", 1972, false, false, "2019-01-01", "").await;
    for (who, fte) in [("S1", 80), ("S2", 60), ("S3", 60)] {
        h.assign(who, EHPAD, fte, "2019-01-01").await.expect("salindres");
    }
    let r = h
        .req(&reader(), pb::QueryWorkforceRequest { as_of_date: "2019-12-31".into(), dimension: pb::WorkforceDimension::Structure as i32 });
    let rows = h.client.query_workforce(r).await.expect("workforce").into_inner().rows;
    let ehpad = rows.iter().find(|r| r.key == EHPAD).unwrap();
    assert_eq!((ehpad.headcount, ehpad.fte_hundredths), (3, 200));
    let r = h
        .req(&reader(), pb::QueryWorkforceRequest { as_of_date: "2019-12-31".into(), dimension: pb::WorkforceDimension::JobFamily as i32 });
    let rows = h.client.query_workforce(r).await.expect("by family").into_inner().rows;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].key.as_str(), rows[0].headcount, rows[0].fte_hundredths), ("MEDICAL", 4, 300));
    // Invalid input is reported field by field.
    let person = pb::Person { employee_id: "Jean Dupont".into(), birth_year: 1800, ..Default::default() };
    let err = h
        .client
        .create_person(h.req(&hr_user(), pb::CreatePersonRequest { person: Some(person), request_id: String::new() }))
        .await
        .unwrap_err();
    let fields: Vec<String> = err.get_error_details().bad_request().unwrap().field_violations.iter().map(|v| v.field.clone()).collect();
    assert!(fields.contains(&"person.employee_id".to_owned()) && fields.contains(&"person.birth_year".to_owned()), "{fields:?}");
}

/// Two openings racing for the last free post: exactly one is opened.
#[tokio::test]
async fn concurrent_openings_cannot_both_take_the_last_free_post() {
    let mut h = harness().await;
    h.job("NURSE", pb::JobFamily::Paramedical).await;
    h.position(CENTRE, "NURSE", 100).await;
    let mut tasks = Vec::new();
    for i in 0..4 {
        let mut client = h.client.clone();
        let r = h.req(
            &hr_user(),
            pb::OpenVacancyRequest {
                finess: CENTRE.into(),
                job: "jobs/NURSE".into(),
                fte_hundredths: 100,
                opened_date: "2022-03-01".into(),
                request_id: format!("race-{i}"),
            },
        );
        tasks.push(tokio::spawn(async move { client.open_vacancy(r).await.map(|_| ()).map_err(|e| reason(&e)) }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.expect("task"));
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().filter_map(|o| o.as_ref().err()).all(|r| r == "NO_FREE_POSITION"), "{outcomes:?}");
}
