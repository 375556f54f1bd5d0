//! The missions service against a real PostgreSQL, a fresh database per test:
//! must-show 1 to 4 of issue 6, plus scoping, pagination and idempotency.

mod common;

use common::{document, mandate, partner, reason, req, setup, staff, violations};
use filieris_kernel::nir::Nir;
use filieris_proto::missions as pb;
use filieris_proto::missions::missions_service_server::MissionsService;
use filieris_runtime::identity::{CallerKind, Identity};
use tonic::Code;

async fn schedule(env: &common::Env, mandate: &str, code: &str, from: i32, to: i32) -> Vec<pb::Deliverable> {
    env.api
        .schedule_deliverables(req(
            &staff(),
            pb::ScheduleDeliverablesRequest {
                mandate: format!("mandates/{mandate}"),
                code: code.into(),
                label: format!("{code} label"),
                recurrence: pb::Recurrence::Annual as i32,
                from_year: from,
                to_year: to,
                due_rule: String::new(),
                request_id: format!("s-{mandate}-{code}"),
            },
        ))
        .await
        .expect("schedule")
        .into_inner()
        .deliverables
}

async fn overdue(env: &common::Env, who: &Identity, as_of: &str) -> Vec<pb::Deliverable> {
    env.api
        .list_overdue_deliverables(req(who, pb::ListOverdueDeliverablesRequest { as_of: as_of.into(), ..Default::default() }))
        .await
        .expect("overdue")
        .into_inner()
        .deliverables
}

/// Must-show 1: due 30 June, received 2 July → LATE; not received by its due date → overdue.
#[tokio::test]
async fn cdc_deliverable_received_after_its_due_date_is_late_and_a_missing_one_is_overdue() {
    let env = setup().await;
    mandate(&env, "cdc-pensions", pb::Partner::Cdc).await;
    let calendar = schedule(&env, "cdc-pensions", "ACTIVITY_REPORT", 2022, 2023).await;
    assert_eq!(
        calendar.iter().map(|d| (d.period.as_str(), d.due_date.as_str())).collect::<Vec<_>>(),
        [("2022", "2023-06-30"), ("2023", "2024-06-30")]
    );
    // The CDC submits its 2022 report on 2 July 2023.
    let cdc = partner("CDC");
    let submitted = env
        .api
        .submit_deliverable(req(
            &cdc,
            pb::SubmitDeliverableRequest {
                name: calendar[0].name.clone(),
                received_date: "2023-07-02".into(),
                document: Some(document("rapport-activite-2022")),
                request_id: "sub-1".into(),
            },
        ))
        .await
        .expect("submit")
        .into_inner()
        .deliverable
        .expect("deliverable");
    assert_eq!(submitted.status, pb::DeliverableStatus::Late as i32);
    assert_eq!(submitted.days_late, 2);
    assert_eq!(submitted.submitted_by, "partner:cdc");
    assert_eq!(submitted.document.as_ref().map(|d| d.sha256.as_str()), Some("ab".repeat(32).as_str()));
    // A second receipt is refused: the first stays.
    let again = env
        .api
        .submit_deliverable(req(
            &cdc,
            pb::SubmitDeliverableRequest { name: calendar[0].name.clone(), document: Some(document("x")), ..Default::default() },
        ))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);

    // On 1 July 2023 the 2022 report was overdue (missing then); on 2 July it is late, no longer overdue.
    let on_1_july = overdue(&env, &staff(), "2023-07-01").await;
    assert_eq!(
        on_1_july.iter().map(|d| (d.period.as_str(), d.status, d.days_late)).collect::<Vec<_>>(),
        [("2022", pb::DeliverableStatus::Missing as i32, 1)]
    );
    assert!(overdue(&env, &staff(), "2023-07-02").await.is_empty());
    // The 2023 report, never received: expected on its due date, overdue the day after.
    assert!(overdue(&env, &cdc, "2024-06-30").await.is_empty());
    let after = overdue(&env, &cdc, "2024-07-01").await;
    assert_eq!(after.len(), 1);
    assert_eq!((after[0].period.as_str(), after[0].status), ("2023", pb::DeliverableStatus::Missing as i32));
    let got = env
        .api
        .get_deliverable(req(&cdc, pb::GetDeliverableRequest { name: calendar[1].name.clone(), as_of: "2024-06-01".into() }))
        .await
        .expect("get")
        .into_inner()
        .deliverable
        .expect("deliverable");
    assert_eq!(got.status, pb::DeliverableStatus::Expected as i32);
    // Another partner sees none of it.
    assert!(overdue(&env, &partner("CNAM"), "2024-07-01").await.is_empty());
    // Metrics: of the two due in 2023 and 2024, one late, one missing.
    let m = env
        .api
        .get_missions_metrics(req(&staff(), pb::GetMissionsMetricsRequest { year: 2024, as_of: "2024-12-31".into() }))
        .await
        .expect("metrics")
        .into_inner();
    let d = m.deliverables.expect("deliverables");
    assert_eq!((d.due, d.missing), (1, 1));
}

async fn meeting(
    env: &common::Env,
    body: pb::SteeringBody,
    status: pb::MeetingStatus,
    date: &str,
    minutes: &str,
) -> Result<pb::Meeting, tonic::Status> {
    let held = status == pb::MeetingStatus::Held;
    env.api
        .record_meeting(req(
            &staff(),
            pb::RecordMeetingRequest {
                meeting: Some(pb::Meeting {
                    mandate: "mandates/cnam-health".into(),
                    body: body as i32,
                    status: status as i32,
                    planned_date: date.into(),
                    held_date: if held { date.into() } else { String::new() },
                    minutes_reference: minutes.into(),
                    agenda: vec!["Observations des référents".into()],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .map(|r| r.into_inner().meeting.expect("meeting"))
}

async fn compliance(env: &common::Env, who: &Identity, year: i32) -> Result<pb::GetGovernanceComplianceResponse, tonic::Status> {
    env.api
        .get_governance_compliance(req(who, pb::GetGovernanceComplianceRequest { mandate: "mandates/cnam-health".into(), year }))
        .await
        .map(|r| r.into_inner())
}

/// Must-show 2: one COFIL MANGA meeting in a year is non-compliant; two make it compliant.
#[tokio::test]
async fn a_year_with_one_cofil_manga_is_non_compliant_and_two_make_it_compliant() {
    let env = setup().await;
    mandate(&env, "cnam-health", pb::Partner::Cnam).await;
    meeting(&env, pb::SteeringBody::CofilManga, pb::MeetingStatus::Held, "2023-06-20", "PV-COFIL-2023-1").await.expect("held");
    meeting(&env, pb::SteeringBody::CofilManga, pb::MeetingStatus::Cancelled, "2023-11-15", "").await.expect("cancelled");
    // A held meeting needs its minutes.
    let no_minutes = meeting(&env, pb::SteeringBody::CofilManga, pb::MeetingStatus::Held, "2023-12-01", "").await.unwrap_err();
    assert!(violations(&no_minutes).iter().any(|(f, _)| f == "meeting.minutes_reference"), "{no_minutes:?}");

    // A CANSSM-CDC meeting does not belong to the CNAM mandate.
    let wrong = meeting(&env, pb::SteeringBody::CanssmCdcQuarterly, pb::MeetingStatus::Held, "2023-02-10", "PV").await.unwrap_err();
    assert_eq!(violations(&wrong)[0].0, "meeting.body");

    let one = compliance(&env, &staff(), 2023).await.expect("compliance");
    assert!(!one.compliant);
    assert_eq!(one.bodies.len(), 1);
    let b = &one.bodies[0];
    assert_eq!((b.body, b.required_meetings, b.held_meetings, b.compliant), (pb::SteeringBody::CofilManga as i32, 2, 1, false));

    meeting(&env, pb::SteeringBody::CofilManga, pb::MeetingStatus::Held, "2023-10-10", "PV-COFIL-2023-2").await.expect("held");
    let listed = env
        .api
        .list_meetings(req(
            &partner("CPAM57"),
            pb::ListMeetingsRequest { mandate: "mandates/cnam-health".into(), year: 2023, page_size: 2, page_token: String::new() },
        ))
        .await
        .expect("meetings")
        .into_inner();
    assert_eq!(listed.meetings.iter().map(|m| m.planned_date.as_str()).collect::<Vec<_>>(), ["2023-06-20", "2023-10-10"]);
    assert!(!listed.next_page_token.is_empty());
    let e = env
        .api
        .list_meetings(req(&partner("ANGDM"), pb::ListMeetingsRequest { mandate: "mandates/cnam-health".into(), ..Default::default() }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let two = compliance(&env, &partner("CNAM"), 2023).await.expect("compliance");
    assert!(two.compliant, "{two:?}");
    assert_eq!(two.bodies[0].held_meetings, 2);
    // The CDC may not read the CNAM mandate's governance.
    let denied = compliance(&env, &partner("CDC"), 2023).await.unwrap_err();
    assert_eq!((denied.code(), reason(&denied).as_str()), (Code::PermissionDenied, "PARTNER_SCOPE_DENIED"));
    // A requirement set for a year replaces the default: three meetings needed.
    env.api
        .set_meeting_requirement(req(
            &staff(),
            pb::SetMeetingRequirementRequest {
                mandate: "mandates/cnam-health".into(),
                body: pb::SteeringBody::CofilManga as i32,
                year: 2023,
                minimum_meetings: 3,
                each_quarter: false,
                request_id: "r1".into(),
            },
        ))
        .await
        .expect("requirement");
    assert!(!compliance(&env, &staff(), 2023).await.expect("compliance").compliant);
}

async fn claim(env: &common::Env, who: &Identity, p: pb::Partner, received: &str) -> Result<pb::Claim, tonic::Status> {
    env.api
        .create_claim(req(
            who,
            pb::CreateClaimRequest {
                claim: Some(pb::Claim {
                    partner: p as i32,
                    received_date: received.into(),
                    channel: pb::ClaimChannel::Mail as i32,
                    category: pb::ClaimCategory::Reimbursement as i32,
                    requester: pb::Requester::Insured as i32,
                    partner_reference: "DOSSIER-42".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .map(|r| r.into_inner().claim.expect("claim"))
}

/// Must-show 3: a CDC credential cannot read a CNAM claim (403) nor submit on the ANGDM mandate.
#[tokio::test]
async fn a_cdc_credential_cannot_read_a_cnam_claim_nor_submit_on_the_angdm_mandate() {
    let env = setup().await;
    let (cdc, cnam) = (partner("CDC"), partner("CNAM"));
    let cnam_claim = claim(&env, &cnam, pb::Partner::Cnam, "2023-03-01").await.expect("CNAM claim");
    let get = |who: Identity, name: String| {
        let api = env.api.clone();
        async move { api.get_claim(req(&who, pb::GetClaimRequest { name, as_of: "2023-03-10".into() })).await }
    };
    let denied = get(cdc.clone(), cnam_claim.name.clone()).await.unwrap_err();
    assert_eq!((denied.code(), reason(&denied).as_str()), (Code::PermissionDenied, "PARTNER_SCOPE_DENIED"));
    // The same answer for a claim that does not exist (no existence oracle).
    let missing = get(cdc.clone(), format!("claims/{}", uuid::Uuid::now_v7())).await.unwrap_err();
    assert_eq!((missing.code(), reason(&missing).as_str()), (Code::PermissionDenied, "PARTNER_SCOPE_DENIED"));
    // CNAM reads its claim; internal staff too; the claim is within its 30-day target.
    let own = get(cnam.clone(), cnam_claim.name.clone()).await.expect("own claim").into_inner().claim.expect("claim");
    assert_eq!((own.delay_days, own.target_days, own.within_target), (9, 30, true));
    get(staff(), cnam_claim.name.clone()).await.expect("staff reads");
    // The CDC's list holds only its own claims; it cannot file one for CNAM.
    claim(&env, &cdc, pb::Partner::Cdc, "2023-04-01").await.expect("CDC claim");
    let listed = env.api.list_claims(req(&cdc, pb::ListClaimsRequest::default())).await.expect("list").into_inner().claims;
    assert_eq!(listed.iter().map(|c| c.partner).collect::<Vec<_>>(), [pb::Partner::Cdc as i32]);
    let filed = claim(&env, &cdc, pb::Partner::Cnam, "2023-04-01").await.unwrap_err();
    assert_eq!(filed.code(), Code::PermissionDenied);
    // A CDC answer to the CNAM claim is refused too.
    let answer = env
        .api
        .answer_claim(req(
            &cdc,
            pb::AnswerClaimRequest { name: cnam_claim.name.clone(), answered_date: "2023-04-15".into(), request_id: String::new() },
        ))
        .await
        .unwrap_err();
    assert_eq!(answer.code(), Code::PermissionDenied);
    // M19: answered 15/04 for a claim of 01/03 → 45 days, beyond the 30-day target.
    let answered = env
        .api
        .answer_claim(req(
            &cnam,
            pb::AnswerClaimRequest { name: cnam_claim.name.clone(), answered_date: "2023-04-15".into(), request_id: String::new() },
        ))
        .await
        .expect("answer")
        .into_inner()
        .claim
        .expect("claim");
    assert_eq!((answered.status, answered.delay_days, answered.within_target), (pb::ClaimStatus::Answered as i32, 45, false));

    // The ANGDM mandate's deliverable: the CDC may not submit it, ANGDM may.
    mandate(&env, "angdm-social-action", pb::Partner::Angdm).await;
    let calendar = schedule(&env, "angdm-social-action", "COORDINATION_REPORT", 2022, 2022).await;
    let submit = |who: Identity| {
        let api = env.api.clone();
        let name = calendar[0].name.clone();
        async move {
            api.submit_deliverable(req(
                &who,
                pb::SubmitDeliverableRequest {
                    name,
                    received_date: "2023-06-01".into(),
                    document: Some(document("coordination")),
                    request_id: String::new(),
                },
            ))
            .await
        }
    };
    let refused = submit(cdc.clone()).await.unwrap_err();
    assert_eq!((refused.code(), reason(&refused).as_str()), (Code::PermissionDenied, "PARTNER_SCOPE_DENIED"));
    let accepted = submit(partner("ANGDM")).await.expect("ANGDM submits").into_inner().deliverable.expect("deliverable");
    assert_eq!(accepted.status, pb::DeliverableStatus::OnTime as i32);
    // The refusal was audited.
    let (refusals,): (i64,) = sqlx::query_as("SELECT count(*) FROM missions.audit_log WHERE outcome = 'PARTNER_SCOPE_DENIED'")
        .fetch_one(&env.pool)
        .await
        .expect("audit");
    assert!(refusals >= 1);

    // Callers outside the rules: a staff member without a missions role, a partner without a partner.
    let hr = Identity { caller: "staff:hr".into(), kind: CallerKind::Staff, roles: vec!["hr".into()], scopes: vec!["*".into()] };
    let e = env.api.list_claims(req(&hr, pb::ListClaimsRequest::default())).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::PermissionDenied, "MISSIONS_ACCESS_DENIED"));
    let nobody =
        Identity { caller: "partner:acme".into(), kind: CallerKind::Partner, roles: vec!["partner".into()], scopes: vec!["*".into()] };
    let e = env.api.list_claims(req(&nobody, pb::ListClaimsRequest::default())).await.unwrap_err();
    assert_eq!(reason(&e), "MISSIONS_ACCESS_DENIED");
    // A partner may not create a mandate.
    let e = env
        .api
        .create_mandate(req(
            &cdc,
            pb::CreateMandateRequest { mandate_id: "x".into(), mandate: Some(pb::Mandate::default()), request_id: String::new() },
        ))
        .await
        .unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::PermissionDenied, "MISSIONS_WRITE_DENIED"));
}

fn nir_with_wrong_key(nir: &Nir) -> String {
    let s = nir.as_str();
    let key: u32 = s[13..].parse().expect("key");
    format!("{}{:02}", &s[..13], if key == 1 { 2 } else { key - 1 })
}

/// Must-show 4: a deaths file with wrong NIR keys: valid lines stored as
/// pseudonyms, bad lines reported by number, no NIR in clear anywhere, routed
/// to the entitled partner with a delivery log.
#[tokio::test]
async fn a_deaths_file_with_bad_nir_keys_stores_the_valid_lines_pseudonymised_and_is_routed_to_cnam() {
    let env = setup().await;
    let cdc = partner("CDC");
    let nirs: Vec<Nir> =
        (0..20).map(|i| Nir::from_body(&format!("1{:02}0{}75{:06}", 30 + i % 50, 1 + i % 9, 100 + i)).expect("nir")).collect();
    let bad_lines = [3, 7, 12];
    let records: Vec<pb::ExchangeRecordInput> = nirs
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let line = i as i32 + 1;
            pb::ExchangeRecordInput {
                nir: if bad_lines.contains(&line) { nir_with_wrong_key(n) } else { n.as_str().to_owned() },
                event_date: format!("2023-05-{:02}", 1 + i % 28),
                country_code: if i % 4 == 0 { "dz".into() } else { String::new() },
                record_type: String::new(),
            }
        })
        .collect();
    let upload = |who: Identity, records: Vec<pb::ExchangeRecordInput>, rid: &str| {
        let api = env.api.clone();
        let rid = rid.to_owned();
        async move {
            api.upload_exchange_file(req(
                &who,
                pb::UploadExchangeFileRequest {
                    dataset: pb::ExchangeDataset::Deaths as i32,
                    period: "202305".into(),
                    sender: pb::Partner::Cdc as i32,
                    records,
                    request_id: rid,
                },
            ))
            .await
        }
    };
    let run = upload(cdc.clone(), records.clone(), "deaths-2023-05").await.expect("upload").into_inner().run.expect("run");
    assert_eq!((run.records_sent, run.records_accepted, run.records_rejected), (20, 17, 3));
    assert_eq!(run.rejected.iter().map(|r| (r.line, r.field.as_str())).collect::<Vec<_>>(), [(3, "nir"), (7, "nir"), (12, "nir")]);
    assert!(run.rejected.iter().all(|r| r.reason.contains("key")), "{:?}", run.rejected);
    assert_eq!(run.recipient, pb::Partner::Cnam as i32);
    assert_eq!(run.aggregates.iter().map(|a| a.count).sum::<i64>(), 17);
    let dz: i64 = run.aggregates.iter().filter(|a| a.country_code == "DZ").map(|a| a.count).sum();
    assert_eq!(dz, 5);
    assert!(run.aggregates.iter().all(|a| a.month == "202305" && a.record_type == "DEATHS"));
    assert_eq!(run.deliveries.len(), 1);
    assert!(run.deliveries[0].received_time.is_empty());

    // A retry of the same request stores nothing more.
    let again = upload(cdc.clone(), records.clone(), "deaths-2023-05").await.expect("replay").into_inner().run.expect("run");
    assert_eq!(again.name, run.name);
    let (stored,): (i64,) = sqlx::query_as("SELECT count(*) FROM missions.exchange_record").fetch_one(&env.pool).await.expect("count");
    assert_eq!(stored, 17);

    // No column of the schema holds a NIR (valid or not) in clear, nor its 13-digit body.
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'missions' AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&env.pool)
    .await
    .expect("tables");
    assert!(tables.len() >= 10);
    for (table,) in &tables {
        let rows: Vec<(String,)> =
            sqlx::query_as(&format!("SELECT t::text FROM missions.\"{table}\" t")).fetch_all(&env.pool).await.expect("rows");
        for (row,) in rows {
            for r in &records {
                assert!(!row.contains(&r.nir[..13]), "a NIR body is stored in clear in missions.{table}");
            }
        }
    }
    // Neither the idempotency record nor the run's checksum is a plain hash of the file's NIRs.
    let plain = <sha2::Sha256 as sha2::Digest>::digest(prost::Message::encode_to_vec(&pb::UploadExchangeFileRequest {
        dataset: pb::ExchangeDataset::Deaths as i32,
        period: "202305".into(),
        sender: pb::Partner::Cdc as i32,
        records: records.clone(),
        request_id: String::new(),
    }))
    .to_vec();
    let (plain_hashes,): (i64,) = sqlx::query_as("SELECT count(*) FROM missions.idempotency WHERE request_hash = $1")
        .bind(&plain)
        .fetch_one(&env.pool)
        .await
        .expect("hashes");
    assert_eq!(plain_hashes, 0);
    assert_eq!(run.checksum.len(), 64);
    // Pseudonyms are the keyed HMAC of the activity scheme: 32 bytes, one per person.
    let (distinct,): (i64,) = sqlx::query_as("SELECT count(DISTINCT person) FROM missions.exchange_record WHERE length(person) = 32")
        .fetch_one(&env.pool)
        .await
        .expect("persons");
    assert_eq!(distinct, 17);

    // CNAM, the recipient, sees the run and acknowledges it; the delivery log says who and when.
    let cnam = partner("CNAM");
    let seen = env.api.list_exchange_runs(req(&cnam, pb::ListExchangeRunsRequest::default())).await.expect("list").into_inner().runs;
    assert_eq!(seen.len(), 1);
    let acked = env
        .api
        .acknowledge_exchange_run(req(&cnam, pb::AcknowledgeExchangeRunRequest { name: run.name.clone(), request_id: "ack".into() }))
        .await
        .expect("ack")
        .into_inner()
        .run
        .expect("run");
    assert_eq!(acked.deliveries[0].received_by, "partner:cnam");
    assert!(!acked.deliveries[0].received_time.is_empty());
    // The sender reads its run with the rejected lines.
    let mine = env.api.get_exchange_run(req(&cdc, pb::GetExchangeRunRequest { name: run.name.clone() })).await.expect("get").into_inner();
    assert_eq!(mine.run.expect("run").rejected.len(), 3);
    // ANGDM, neither sender nor recipient, sees nothing of it and cannot acknowledge it.
    let angdm = partner("ANGDM");
    let e = env.api.get_exchange_run(req(&angdm, pb::GetExchangeRunRequest { name: run.name.clone() })).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(
        env.api.list_exchange_runs(req(&angdm, pb::ListExchangeRunsRequest::default())).await.expect("list").into_inner().runs.is_empty()
    );
    // The CDC cannot send a file as CNAM.
    let e = env
        .api
        .upload_exchange_file(req(
            &cdc,
            pb::UploadExchangeFileRequest {
                dataset: pb::ExchangeDataset::Deaths as i32,
                period: "202305".into(),
                sender: pb::Partner::Cnam as i32,
                records,
                request_id: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn exchange_lines_are_checked_for_dates_and_country_codes() {
    let env = setup().await;
    let nir = Nir::from_body("2690599350010").expect("nir");
    let rec = |date: &str, country: &str| pb::ExchangeRecordInput {
        nir: nir.as_str().into(),
        event_date: date.into(),
        country_code: country.into(),
        record_type: "OWN_RIGHT".into(),
    };
    let run = env
        .api
        .upload_exchange_file(req(
            &partner("CNAM"),
            pb::UploadExchangeFileRequest {
                dataset: pb::ExchangeDataset::PensionersByCountry as i32,
                period: "2023".into(),
                sender: pb::Partner::Cnam as i32,
                records: vec![rec("2023-12-31", "MA"), rec("2024-01-01", "MA"), rec("2023-02-30", "MA"), rec("2023-06-01", "UK")],
                request_id: String::new(),
            },
        ))
        .await
        .expect("upload")
        .into_inner()
        .run
        .expect("run");
    assert_eq!(run.recipient, pb::Partner::Cdc as i32);
    assert_eq!(
        run.rejected.iter().map(|r| (r.line, r.field.as_str())).collect::<Vec<_>>(),
        [(2, "event_date"), (3, "event_date"), (4, "country_code")]
    );
    assert_eq!(run.aggregates.len(), 1);
    assert_eq!((run.aggregates[0].country_code.as_str(), run.aggregates[0].month.as_str()), ("MA", "202312"));
}

#[tokio::test]
async fn statistics_are_versioned_time_series_scoped_by_partner_and_paginated() {
    let env = setup().await;
    let value = |p: pb::Partner, series: &str, period: &str, v: i64| pb::StatisticValue {
        partner: p as i32,
        series: series.into(),
        period: period.into(),
        value: v,
        unit: "COUNT".into(),
        ..Default::default()
    };
    let mut values: Vec<pb::StatisticValue> = [(2014, 289_116), (2015, 277_244), (2016, 267_150), (2017, 256_104), (2018, 245_272)]
        .iter()
        .map(|(y, n)| value(pb::Partner::Cdc, "PENSIONERS", &y.to_string(), *n))
        .collect();
    values.push(value(pb::Partner::Cpam62, "CALLS_HANDLED", "201801", 2_493));
    values.push(value(pb::Partner::Cpam57, "CALLS_HANDLED", "201801", 3_768));
    env.api.record_statistics(req(&staff(), pb::RecordStatisticsRequest { values, request_id: "st-1".into() })).await.expect("record");
    // A correction is a new version; the list shows the current one.
    let v2 = env
        .api
        .record_statistics(req(
            &partner("CDC"),
            pb::RecordStatisticsRequest { values: vec![value(pb::Partner::Cdc, "PENSIONERS", "2018", 245_273)], request_id: String::new() },
        ))
        .await
        .expect("correction")
        .into_inner()
        .values;
    assert_eq!(v2[0].version, 2);
    // M9: components inconsistent with their total are stored with a warning.
    let resp = env
        .api
        .record_statistics(req(
            &partner("CNAM"),
            pb::RecordStatisticsRequest {
                values: vec![
                    value(pb::Partner::Cnam, "BENEFICIARIES", "2018", 111_239),
                    pb::StatisticValue {
                        dimension: "type:PRIMARY_INSURED".into(),
                        ..value(pb::Partner::Cnam, "BENEFICIARIES", "2018", 90_436)
                    },
                    pb::StatisticValue { dimension: "type:DEPENDANTS".into(), ..value(pb::Partner::Cnam, "BENEFICIARIES", "2018", 20_703) },
                ],
                request_id: String::new(),
            },
        ))
        .await
        .expect("stored despite the inconsistency")
        .into_inner();
    assert_eq!(resp.values.len(), 3);
    assert_eq!(resp.warnings, ["CNAM BENEFICIARIES 2018: the type:* components sum to 111139, the total is 111239"]);
    // ND needs a reason and a zero value.
    let nd = pb::StatisticValue { missing: pb::MissingValue::Nd as i32, ..value(pb::Partner::Cnam, "ANNUITY_AWARD_DELAY", "2018", 5) };
    let e = env
        .api
        .record_statistics(req(&staff(), pb::RecordStatisticsRequest { values: vec![nd], request_id: String::new() }))
        .await
        .unwrap_err();
    let fields: Vec<String> = violations(&e).into_iter().map(|v| v.0).collect();
    assert_eq!(fields, ["values[0].value", "values[0].missing_reason"]);

    // A NIR hidden in a dimension is refused, unstored and not echoed.
    let nir = Nir::from_body("1840175123456").expect("nir");
    let hidden = pb::StatisticValue { dimension: format!("person:{}", nir.as_str()), ..value(pb::Partner::Cdc, "PENSIONERS", "2019", 1) };
    let e = env
        .api
        .record_statistics(req(&staff(), pb::RecordStatisticsRequest { values: vec![hidden], request_id: String::new() }))
        .await
        .unwrap_err();
    assert_eq!(violations(&e)[0].0, "values[0].dimension");
    assert!(!format!("{e:?}").contains(nir.as_str()));

    let mut series = Vec::new();
    let mut token = String::new();
    loop {
        let page = env
            .api
            .list_statistics(req(
                &staff(),
                pb::ListStatisticsRequest { series: "PENSIONERS".into(), page_size: 2, page_token: token, ..Default::default() },
            ))
            .await
            .expect("list")
            .into_inner();
        series.extend(page.values);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(series.iter().map(|v| (v.period.as_str(), v.value)).collect::<Vec<_>>().last(), Some(&("2018", 245_273)));
    assert_eq!(series.len(), 5);
    // CPAM57 sees only its own rows (M17); CNAM sees both CPAMs.
    let cpam57 =
        env.api.list_statistics(req(&partner("CPAM57"), pb::ListStatisticsRequest::default())).await.expect("list").into_inner().values;
    assert_eq!(cpam57.iter().map(|v| v.partner).collect::<Vec<_>>(), [pb::Partner::Cpam57 as i32]);
    let cnam =
        env.api.list_statistics(req(&partner("CNAM"), pb::ListStatisticsRequest::default())).await.expect("list").into_inner().values;
    // CNAM sees its own three values and both CPAMs' rows, none of the CDC's.
    assert_eq!(cnam.len(), 5);
    assert!(cnam.iter().all(|v| v.partner != pb::Partner::Cdc as i32));
    // A CPAM cannot send another CPAM's statistics.
    let e = env
        .api
        .record_statistics(req(
            &partner("CPAM57"),
            pb::RecordStatisticsRequest {
                values: vec![value(pb::Partner::Cpam62, "CALLS_HANDLED", "201802", 1)],
                request_id: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn fraud_cases_keep_amounts_in_cents_and_close_once() {
    let env = setup().await;
    let cnam = partner("CNAM");
    let case = env
        .api
        .create_fraud_case(req(
            &cnam,
            pb::CreateFraudCaseRequest {
                fraud_case: Some(pb::FraudCase {
                    partner: pb::Partner::Cnam as i32,
                    detected_date: "2023-04-18".into(),
                    fraud_type: "Facturation fictive".into(),
                    amount_at_stake_cents: 1_250_000,
                    ..Default::default()
                }),
                request_id: "f1".into(),
            },
        ))
        .await
        .expect("open")
        .into_inner()
        .fraud_case
        .expect("case");
    assert_eq!(case.status, pb::FraudStatus::Suspected as i32);
    let update = |status: pb::FraudStatus, closed: &str| {
        let api = env.api.clone();
        let (who, name, closed) = (cnam.clone(), case.name.clone(), closed.to_owned());
        async move {
            api.update_fraud_case(req(
                &who,
                pb::UpdateFraudCaseRequest {
                    name,
                    status: status as i32,
                    amount_recovered_cents: 400_000,
                    closed_date: closed,
                    request_id: String::new(),
                },
            ))
            .await
        }
    };
    let e = update(pb::FraudStatus::Closed, "").await.unwrap_err();
    assert_eq!(violations(&e)[0].0, "closed_date");
    let closed = update(pb::FraudStatus::Closed, "2024-03-12").await.expect("close").into_inner().fraud_case.expect("case");
    assert_eq!((closed.amount_recovered_cents, closed.closed_date.as_str()), (400_000, "2024-03-12"));
    assert_eq!(update(pb::FraudStatus::Confirmed, "").await.unwrap_err().code(), Code::FailedPrecondition);
    let cdc_list = env.api.list_fraud_cases(req(&partner("CDC"), pb::ListFraudCasesRequest::default())).await.expect("list").into_inner();
    assert!(cdc_list.fraud_cases.is_empty());
}

#[tokio::test]
async fn mandates_keep_conventions_and_financial_terms_and_lists_are_paginated() {
    let env = setup().await;
    for (id, p) in [("angdm-social-action", pb::Partner::Angdm), ("cdc-pensions", pb::Partner::Cdc), ("cnam-health", pb::Partner::Cnam)] {
        mandate(&env, id, p).await;
    }
    let amended = env
        .api
        .add_convention_period(req(
            &staff(),
            pb::AddConventionPeriodRequest {
                mandate: "mandates/angdm-social-action".into(),
                convention: Some(pb::ConventionPeriod {
                    kind: "RENEWAL".into(),
                    reference: "Convention 2022".into(),
                    signed_date: "2022-09-15".into(),
                    effective_date: "2022-09-15".into(),
                    ..Default::default()
                }),
                request_id: "c1".into(),
            },
        ))
        .await
        .expect("amend")
        .into_inner()
        .mandate
        .expect("mandate");
    assert_eq!(amended.conventions.len(), 1);
    // A duplicate id is refused; a term must name a finance line of its year.
    let dup = env
        .api
        .create_mandate(req(
            &staff(),
            pb::CreateMandateRequest {
                mandate_id: "cdc-pensions".into(),
                mandate: Some(pb::Mandate {
                    partner: pb::Partner::Cdc as i32,
                    form: pb::MandateForm::ManagementMandate as i32,
                    title: "again".into(),
                    start_date: "2015-01-01".into(),
                    financial_terms: vec![pb::FinancialTerm {
                        year: 2022,
                        budget_line: "funds/BNGA/years/2022/lines/A-II-1".into(),
                        label: "Rémunération CDC".into(),
                        amount_cents: 1_112_000_000,
                    }],
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists);
    let page1 = env
        .api
        .list_mandates(req(&staff(), pb::ListMandatesRequest { page_size: 2, page_token: String::new() }))
        .await
        .expect("p1")
        .into_inner();
    assert_eq!(page1.mandates.len(), 2);
    let page2 = env
        .api
        .list_mandates(req(&staff(), pb::ListMandatesRequest { page_size: 2, page_token: page1.next_page_token.clone() }))
        .await
        .expect("p2")
        .into_inner();
    assert_eq!(page2.mandates.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["mandates/cnam-health"]);
    assert!(page2.next_page_token.is_empty());
    let got = env
        .api
        .get_mandate(req(&partner("ANGDM"), pb::GetMandateRequest { name: "mandates/angdm-social-action".into() }))
        .await
        .expect("get");
    assert_eq!(got.into_inner().mandate.expect("mandate").conventions[0].kind, "RENEWAL");
    let e = env.api.get_mandate(req(&staff(), pb::GetMandateRequest { name: "mandates/nothing".into() })).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::NotFound, "MANDATE_NOT_FOUND"));
    let e = env.api.get_mandate(req(&partner("CDC"), pb::GetMandateRequest { name: "mandates/nothing".into() })).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    // A CPAM sees the CNAM mandate it works under, and only it.
    let cpam = env.api.list_mandates(req(&partner("CPAM62"), pb::ListMandatesRequest::default())).await.expect("cpam").into_inner();
    assert_eq!(cpam.mandates.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["mandates/cnam-health"]);
}

#[tokio::test]
async fn deliverable_lists_are_keyset_paginated_by_due_date_and_tokens_belong_to_their_query() {
    let env = setup().await;
    mandate(&env, "cnam-health", pb::Partner::Cnam).await;
    let created = env
        .api
        .schedule_deliverables(req(
            &staff(),
            pb::ScheduleDeliverablesRequest {
                mandate: "mandates/cnam-health".into(),
                code: "STATISTICS_RETURN".into(),
                label: "Statistiques".into(),
                recurrence: pb::Recurrence::Quarterly as i32,
                from_year: 2022,
                to_year: 2023,
                due_rule: String::new(),
                request_id: "cal".into(),
            },
        ))
        .await
        .expect("schedule")
        .into_inner()
        .deliverables;
    assert_eq!(created.len(), 8);
    assert_eq!(created[3].due_date, "2023-01-20");
    let list = |token: String, as_of: &str| {
        let api = env.api.clone();
        let as_of = as_of.to_owned();
        async move {
            api.list_deliverables(req(
                &partner("CPAM62"),
                pb::ListDeliverablesRequest { as_of, page_size: 3, page_token: token, ..Default::default() },
            ))
            .await
        }
    };
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(token, "2023-12-31").await.expect("page").into_inner();
        assert!(page.deliverables.len() <= 3);
        seen.extend(page.deliverables.into_iter().map(|d| (d.due_date, d.status)));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 8);
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0));
    // As of 31/12/2023 nothing was received: the seven due by then are missing, 2023Q4 is expected.
    assert_eq!(seen.iter().filter(|d| d.1 == pb::DeliverableStatus::Missing as i32).count(), 7);
    let first = list(String::new(), "2023-12-31").await.expect("page").into_inner();
    let e = list(first.next_page_token, "2024-01-31").await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::InvalidArgument, "PAGE_TOKEN_MISMATCH"));
}
