//! The HR family end to end: the HR service runs in process on a free port,
//! a small payroll and training data set is recorded through its API, and
//! the steering values of COG22.SUP.1-11 for 2022 are checked against
//! figures computed by hand and against their targets.

mod common;

use std::time::Duration;

use chrono::NaiveDate;
use common::{NOWHERE, key, req};
use filieris_proto::hr;
use filieris_proto::hr::hr_service_server::HrService;
use filieris_proto::steering as pb;
use filieris_proto::steering::steering_service_server::SteeringService;
use filieris_runtime::registry_cache::{StructureRecord, upsert_structure};
use filieris_runtime::testing::TestDatabase;
use filieris_steering::sources::UpstreamUrls;

const CENTRE: &str = "300000001";

fn hr_req<T>(body: T) -> tonic::Request<T> {
    common::as_role(body, &["hr"])
}

#[tokio::test]
async fn the_training_share_and_the_hr_indicators_come_from_hr() {
    let db = TestDatabase::create().await.expect("db");
    let pool = filieris_runtime::db::connect(&db.url, filieris_hr::SCHEMA, 4, &filieris_hr::MIGRATOR).await.expect("hr db");
    let record = StructureRecord {
        id: uuid_like(1),
        finess: Some(CENTRE.into()),
        level: "ESTABLISHMENT".into(),
        category: "HEALTH_CENTRE".into(),
        region: 3,
        parent_id: None,
        open_date: NaiveDate::from_ymd_opt(2015, 1, 1).expect("date"),
        close_date: None,
        revision: 1,
    };
    upsert_structure(&pool, &record).await.expect("structure cache");
    let hr_api = filieris_hr::HrApi::new(filieris_hr::storage::Store::new(pool.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(filieris_hr::serve(listener, hr_api.clone(), pool, key(), Duration::from_secs(1), async {
        let _ = stop_rx.await;
    }));

    // One manager in post, trained in change management in 2022.
    let job =
        hr::Job { code: "CENTRE_MANAGER".into(), label: "Manager".into(), family: hr::JobFamily::Management as i32, ..Default::default() };
    hr_api.create_job(hr_req(hr::CreateJobRequest { job: Some(job), request_id: String::new() })).await.expect("job");
    let person = hr::Person {
        employee_id: "M1".into(),
        birth_year: 1970,
        job: "jobs/CENTRE_MANAGER".into(),
        status: hr::StaffStatus::Ucanss as i32,
        manager: true,
        contract_type: hr::ContractType::Permanent as i32,
        start_date: "2015-01-01".into(),
        ..Default::default()
    };
    hr_api.create_person(hr_req(hr::CreatePersonRequest { person: Some(person), request_id: String::new() })).await.expect("person");
    // Payroll 2022: 12 × 83,333.33 € + 0.04 € = 1,000,000.00 €.
    let row = |month: String, status: hr::StaffStatus, gross: i64| hr::PayrollRowInput {
        month,
        finess: CENTRE.into(),
        status: status as i32,
        gross_cents: gross,
        employer_contributions_cents: 0,
        headcount_paid: 1,
    };
    let mut rows: Vec<hr::PayrollRowInput> = (1..=12).map(|m| row(format!("2022{m:02}"), hr::StaffStatus::Ucanss, 8_333_333)).collect();
    rows.push(row("202212".into(), hr::StaffStatus::CompanyAgreement, 4));
    let payroll = hr_api
        .import_payroll(hr_req(hr::ImportPayrollRequest { request_id: "pay".into(), source_system: "TEST".into(), rows }))
        .await
        .expect("payroll")
        .into_inner();
    assert_eq!(payroll.rejected_rows, 0, "{:?}", payroll.errors);
    // Training 2022: 22,900.00 € → 2.29 % of payroll, inside the 2.2 %–2.8 % band.
    let action = hr::TrainingAction {
        title: "Conduite du changement".into(),
        programme: hr::TrainingProgramme::ChangeManagement as i32,
        date: "2022-03-10".into(),
        hours: 7,
        cost_cents: 2_290_000,
        participants: vec![hr::TrainingParticipant { person: "people/M1".into(), completed: true }],
        ..Default::default()
    };
    hr_api
        .create_training_action(hr_req(hr::CreateTrainingActionRequest { action: Some(action), request_id: String::new() }))
        .await
        .expect("training");

    let urls = UpstreamUrls { activity: NOWHERE.into(), finance: NOWHERE.into(), hr: format!("http://{addr}"), missions: NOWHERE.into() };
    let env = common::setup_with(db, urls).await;
    let out = env
        .api
        .compute_indicators(req(pb::ComputeIndicatorsRequest { year: 2022, scopes: vec!["national".into()] }))
        .await
        .expect("compute")
        .into_inner();
    let value = |key: &str| {
        let v = out.values.iter().find(|v| v.indicator == format!("indicators/{key}")).unwrap_or_else(|| panic!("{key}"));
        (v.numerator, v.denominator, v.display.clone(), v.status)
    };
    let met = pb::Status::Met as i32;
    let not_met = pb::Status::NotMet as i32;
    // 2022 is closed: FINAL values, MET / NOT_MET.
    assert_eq!(value("COG22.SUP.1"), (2_290_000, Some(100_000_000), "2.29".into(), met));
    // 1 of 1 manager trained in change management: 100 % ≥ 50 %.
    assert_eq!(value("COG22.SUP.2"), (1, Some(1), "100.0".into(), met));
    // Management by objectives: 0 of 1 < 30 %.
    assert_eq!(value("COG22.SUP.3"), (0, Some(1), "0.0".into(), not_met));
    // The disability diagnostic (the 2022 milestone) is not recorded.
    assert_eq!(value("COG22.SUP.5"), (0, None, "not reached".into(), not_met));
    // No agreement signed: 0 < 1.
    assert_eq!(value("COG22.SUP.6"), (0, None, "0".into(), not_met));
    let sup1 = out.values.iter().find(|v| v.indicator == "indicators/COG22.SUP.1").expect("SUP.1");
    assert_eq!((sup1.provenance, sup1.target_raw.as_str()), (pb::Provenance::Final as i32, "Entre 2,2% et 2,8%"));
    let _ = stop.send(());
}

fn uuid_like(n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(n)
}
