//! The demo data set (missions.md §4.4, §7, §10), loaded through the API as
//! the job `job:missions-seed`: the three mandates with their conventions and
//! financial terms, the required and held meetings 2022–2024 (M1–M3), the
//! deliverables calendar 2022–2024 with late and overdue receipts (M4), a
//! few claims (M19) and a fraud case (M22), the 2014–2018 statistics series
//! of the 2018 report, and ANGDM spending 2024 executed on the finance
//! service. Every write has a fixed request id, so a second run
//! replays and changes nothing.

use std::time::Duration;

use filieris_proto::missions as pb;
use filieris_proto::missions::missions_service_server::MissionsService;
use filieris_runtime::identity::{CallerKind, Identity};

use crate::MissionsApi;
use crate::finance::Finance;
use crate::storage::Store;

/// How long the seed waits for the finance service.
const FINANCE_WAIT: Duration = Duration::from_secs(60);

fn req<T>(body: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(body);
    r.extensions_mut().insert(Identity {
        caller: "job:missions-seed".into(),
        kind: CallerKind::Job,
        roles: vec!["missions".into()],
        scopes: vec!["*".into()],
    });
    r
}

fn rid(s: &str) -> String {
    format!("seed-missions-{s}")
}

fn st(e: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", e.code(), e.message())
}

fn term(year: i32, line: &str, label: &str, euros_cents: i64) -> pb::FinancialTerm {
    pb::FinancialTerm {
        year,
        budget_line: format!("funds/{line}").replace("{y}", &year.to_string()),
        label: label.into(),
        amount_cents: euros_cents,
    }
}

fn mandates() -> Vec<(&'static str, pb::Mandate)> {
    let conv = |kind: &str, reference: &str, signed: &str, effective: &str, end: &str, summary: &str| pb::ConventionPeriod {
        kind: kind.into(),
        reference: reference.into(),
        signed_date: signed.into(),
        effective_date: effective.into(),
        end_date: end.into(),
        summary: summary.into(),
    };
    let mut cnam_terms = Vec::new();
    let mut cdc_terms = Vec::new();
    let mut angdm_terms = Vec::new();
    for (y, cnam, cdc_fee, pa, mal, atmp) in [
        (2022, 529_000_000, 1_112_000_000, 1_887_281_500, 406_576_400, 1_382_700),
        (2023, 494_000_000, 1_083_000_000, 1_761_399_800, 379_457_800, 1_290_500),
        (2024, 461_000_000, 1_054_000_000, 1_644_442_900, 354_261_800, 1_204_700),
    ] {
        cnam_terms.push(term(y, "BNGA/years/{y}/lines/B-II-1", "Charges de fonctionnement assurantiel", cnam));
        cnam_terms.push(term(
            y,
            "BNPPS/years/{y}/lines/BNPPS-MAL-EVAL",
            "Dépenses évaluatives facturées par l'Assurance maladie",
            45_000_000,
        ));
        cdc_terms.push(term(y, "BNGA/years/{y}/lines/A-II-1", "Rémunération CDC", cdc_fee));
        cdc_terms.push(term(y, "BNGA/years/{y}/lines/A-II-2", "Prestations de services CDC", 49_000_000));
        angdm_terms.push(term(y, "BNASS/years/{y}/lines/BNASS-PA-IND", "Dépenses individuelles ANGDM, personnes âgées", pa));
        angdm_terms.push(term(y, "BNASS/years/{y}/lines/BNASS-MAL-IND", "Dépenses individuelles ANGDM, maladie", mal));
        angdm_terms.push(term(y, "BNASS/years/{y}/lines/BNASS-ATMP-IND", "Dépenses individuelles ANGDM, AT-MP", atmp));
    }
    vec![
        (
            "cnam-health",
            pb::Mandate {
                partner: pb::Partner::Cnam as i32,
                form: pb::MandateForm::ManagementMandate as i32,
                title: "Mandat de gestion de l'assurance maladie, maternité et AT-MP (CPAM de l'Artois, CPAM de Moselle)".into(),
                scope: vec!["HEALTH".into(), "MATERNITY".into(), "AT_MP".into()],
                start_date: "2015-01-01".into(),
                conventions: vec![conv(
                    "ORIGINAL",
                    "COG 2014-2017 mandat de gestion CNAM",
                    "",
                    "2015-01-01",
                    "",
                    "Benefits managed for CANSSM's account",
                )],
                financial_terms: cnam_terms,
                ..Default::default()
            },
        ),
        (
            "cdc-pensions",
            pb::Mandate {
                partner: pb::Partner::Cdc as i32,
                form: pb::MandateForm::ManagementMandate as i32,
                title: "Mandat de gestion de l'assurance vieillesse, invalidité et décès (Retraite des Mines)".into(),
                scope: ["OLD_AGE", "INVALIDITY", "DEATH", "CONTRIBUTION_COLLECTION", "CRA_SECRETARIAT", "LITIGATION_ASSISTANCE"]
                    .map(String::from)
                    .to_vec(),
                start_date: "2012-01-01".into(),
                conventions: vec![conv(
                    "ORIGINAL",
                    "Convention de gestion CANSSM-CDC",
                    "",
                    "2012-01-01",
                    "",
                    "Pensions managed for CANSSM's account",
                )],
                financial_terms: cdc_terms,
                ..Default::default()
            },
        ),
        (
            "angdm-social-action",
            pb::Mandate {
                partner: pb::Partner::Angdm as i32,
                form: pb::MandateForm::CompetenceTransfer as i32,
                title: "Action sanitaire et sociale individuelle et politique vacances".into(),
                scope: ["INDIVIDUAL_ASS", "HOLIDAY_POLICY", "SOCIAL_SERVICE"].map(String::from).to_vec(),
                start_date: "2012-04-01".into(),
                conventions: vec![
                    conv(
                        "ORIGINAL",
                        "Convention de coopération CANSSM-ANGDM 2018",
                        "2018-06-04",
                        "2018-04-01",
                        "2021-12-31",
                        "Cooperation convention",
                    ),
                    conv("RENEWAL", "Convention de coopération CANSSM-ANGDM 2022", "2022-09-15", "2022-09-15", "", "New convention (A247)"),
                ],
                financial_terms: angdm_terms,
                ..Default::default()
            },
        ),
    ]
}

/// Loads the demo data set; returns a one-line summary.
pub async fn load_demo(store: Store, finance: Finance) -> anyhow::Result<String> {
    let api = MissionsApi::new(store, finance);
    for (id, mandate) in mandates() {
        api.create_mandate(req(pb::CreateMandateRequest {
            mandate_id: id.into(),
            mandate: Some(mandate),
            request_id: rid(&format!("mandate-{id}")),
        }))
        .await
        .map_err(st)?;
    }
    // Requirements: COFIL MANGA twice a year, CDC each quarter, ANGDM twice a year (convention parameter).
    for y in 2022..=2024 {
        for (mandate, body, min, quarterly) in [
            ("cnam-health", pb::SteeringBody::CofilManga, 2, false),
            ("cdc-pensions", pb::SteeringBody::CanssmCdcQuarterly, 4, true),
            ("angdm-social-action", pb::SteeringBody::CanssmAngdm, 2, false),
        ] {
            api.set_meeting_requirement(req(pb::SetMeetingRequirementRequest {
                mandate: format!("mandates/{mandate}"),
                body: body as i32,
                year: y,
                minimum_meetings: min,
                each_quarter: quarterly,
                request_id: rid(&format!("req-{mandate}-{y}")),
            }))
            .await
            .map_err(st)?;
        }
    }
    let meetings: &[(&str, pb::SteeringBody, pb::MeetingStatus, &str)] = &[
        ("cnam-health", pb::SteeringBody::CofilManga, pb::MeetingStatus::Held, "2022-03-15"),
        ("cnam-health", pb::SteeringBody::CofilManga, pb::MeetingStatus::Held, "2022-10-04"),
        ("cnam-health", pb::SteeringBody::CofilManga, pb::MeetingStatus::Held, "2023-06-20"),
        ("cnam-health", pb::SteeringBody::CofilManga, pb::MeetingStatus::Cancelled, "2023-11-15"),
        ("cnam-health", pb::SteeringBody::CofilManga, pb::MeetingStatus::Held, "2024-04-09"),
        ("cnam-health", pb::SteeringBody::CofilManga, pb::MeetingStatus::Held, "2024-11-19"),
        ("cdc-pensions", pb::SteeringBody::CanssmCdcQuarterly, pb::MeetingStatus::Held, "2022-02-08"),
        ("cdc-pensions", pb::SteeringBody::CanssmCdcQuarterly, pb::MeetingStatus::Held, "2022-05-17"),
        ("cdc-pensions", pb::SteeringBody::CanssmCdcQuarterly, pb::MeetingStatus::Held, "2022-09-13"),
        ("cdc-pensions", pb::SteeringBody::CanssmCdcQuarterly, pb::MeetingStatus::Held, "2022-12-06"),
        ("cdc-pensions", pb::SteeringBody::CanssmCdcQuarterly, pb::MeetingStatus::Held, "2023-02-10"),
        ("cdc-pensions", pb::SteeringBody::CanssmCdcQuarterly, pb::MeetingStatus::Held, "2023-05-12"),
        ("cdc-pensions", pb::SteeringBody::CanssmCdcQuarterly, pb::MeetingStatus::Held, "2023-11-20"),
        ("angdm-social-action", pb::SteeringBody::CanssmAngdm, pb::MeetingStatus::Held, "2022-06-28"),
        ("angdm-social-action", pb::SteeringBody::CanssmAngdm, pb::MeetingStatus::Held, "2022-12-13"),
        ("angdm-social-action", pb::SteeringBody::CanssmAngdm, pb::MeetingStatus::Held, "2023-06-27"),
    ];
    for (i, (mandate, body, status, d)) in meetings.iter().enumerate() {
        let held = *status == pb::MeetingStatus::Held;
        api.record_meeting(req(pb::RecordMeetingRequest {
            meeting: Some(pb::Meeting {
                mandate: format!("mandates/{mandate}"),
                body: *body as i32,
                status: *status as i32,
                planned_date: (*d).into(),
                held_date: if held { (*d).into() } else { String::new() },
                minutes_reference: if held {
                    format!("PV-{}-{d}", body.as_str_name().trim_start_matches("STEERING_BODY_"))
                } else {
                    String::new()
                },
                agenda: vec!["Difficultés techniques et de gestion".into(), "Observations des référents".into()],
                ..Default::default()
            }),
            request_id: rid(&format!("meeting-{i}")),
        }))
        .await
        .map_err(st)?;
    }
    let deliverables = load_deliverables(&api).await?;
    load_claims(&api).await?;
    load_statistics(&api).await?;
    let statements = load_spending(&api).await?;
    Ok(format!(
        "missions demo: 3 mandates, {} meetings, {deliverables} deliverables, 4 claims, 1 fraud case, statistics 2014-2018, {statements} ANGDM statements",
        meetings.len()
    ))
}

async fn load_deliverables(api: &MissionsApi) -> anyhow::Result<usize> {
    let calendars: &[(&str, &str, &str, pb::Recurrence)] = &[
        ("cdc-pensions", "ACTIVITY_REPORT", "Rapport annuel d'activité (A245)", pb::Recurrence::Annual),
        ("cdc-pensions", "CERTIFIED_ACCOUNTS", "Comptes annuels certifiés (A241)", pb::Recurrence::Annual),
        ("cdc-pensions", "RISK_CONTROL_REPORT", "Rapport annuel de maîtrise des risques (A243)", pb::Recurrence::Annual),
        ("cdc-pensions", "MANAGEMENT_REVIEW", "Revue annuelle de gestion (A244)", pb::Recurrence::Annual),
        ("cdc-pensions", "BUDGET_FORECAST", "Prévisions budgétaires pluriannuelles (A242)", pb::Recurrence::Annual),
        ("cnam-health", "STATISTICS_RETURN", "Statistiques utiles sur les assurés (A232)", pb::Recurrence::Quarterly),
        ("angdm-social-action", "COORDINATION_REPORT", "Rapport de coordination médico-sociale (A248)", pb::Recurrence::Annual),
    ];
    let mut all = Vec::new();
    for (mandate, code, label, recurrence) in calendars {
        api.schedule_deliverables(req(pb::ScheduleDeliverablesRequest {
            mandate: format!("mandates/{mandate}"),
            code: (*code).into(),
            label: (*label).into(),
            recurrence: *recurrence as i32,
            from_year: 2022,
            to_year: 2024,
            due_rule: String::new(),
            request_id: rid(&format!("calendar-{mandate}-{code}")),
        }))
        .await
        .map_err(st)?;
    }
    // Read the calendar back (a replayed schedule returns what it created the first time).
    let mut token = String::new();
    loop {
        let page = api
            .list_deliverables(req(pb::ListDeliverablesRequest { page_size: 200, page_token: token, ..Default::default() }))
            .await
            .map_err(st)?
            .into_inner();
        all.extend(page.deliverables);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    // Receipts: days after (+) or before (−) the due date; the 2024 period of
    // several CDC documents and the last CNAM quarters stay missing (overdue).
    let receipts: &[(&str, &str, i64)] = &[
        ("ACTIVITY_REPORT", "2022", 15),
        ("ACTIVITY_REPORT", "2023", -10),
        ("CERTIFIED_ACCOUNTS", "2022", -5),
        ("CERTIFIED_ACCOUNTS", "2023", 2),
        ("CERTIFIED_ACCOUNTS", "2024", -1),
        ("RISK_CONTROL_REPORT", "2022", 0),
        ("RISK_CONTROL_REPORT", "2023", 31),
        ("MANAGEMENT_REVIEW", "2022", -20),
        ("BUDGET_FORECAST", "2022", 45),
        ("BUDGET_FORECAST", "2023", -3),
        ("STATISTICS_RETURN", "2022Q1", 0),
        ("STATISTICS_RETURN", "2022Q2", 4),
        ("STATISTICS_RETURN", "2022Q3", -2),
        ("STATISTICS_RETURN", "2022Q4", 12),
        ("STATISTICS_RETURN", "2023Q1", -1),
        ("STATISTICS_RETURN", "2023Q2", 0),
        ("STATISTICS_RETURN", "2023Q3", 9),
        ("COORDINATION_REPORT", "2022", -30),
        ("COORDINATION_REPORT", "2023", 60),
    ];
    for (code, period, offset) in receipts {
        let Some(d) = all.iter().find(|d| d.code == *code && d.period == *period) else {
            continue;
        };
        let due: chrono::NaiveDate = d.due_date.parse()?;
        let received = due + chrono::Duration::days(*offset);
        let digest = <sha2::Sha256 as sha2::Digest>::digest(format!("{code}-{period}").as_bytes());
        api.submit_deliverable(req(pb::SubmitDeliverableRequest {
            name: d.name.clone(),
            received_date: received.to_string(),
            document: Some(pb::Document {
                uri: format!("ged://partners/{code}/{period}.pdf"),
                sha256: hex::encode(digest),
                media_type: "application/pdf".into(),
                size_bytes: 250_000,
                title: format!("{} {period}", d.label),
            }),
            request_id: rid(&format!("receipt-{code}-{period}")),
        }))
        .await
        .map_err(st)?;
    }
    Ok(all.len())
}

async fn load_claims(api: &MissionsApi) -> anyhow::Result<()> {
    type DemoClaim<'a> = (&'a str, pb::Partner, &'a str, pb::ClaimChannel, pb::ClaimCategory, pb::Requester, Option<&'a str>);
    let claims: &[DemoClaim] = &[
        (
            "m19",
            pb::Partner::Cpam62,
            "2023-03-01",
            pb::ClaimChannel::Mail,
            pb::ClaimCategory::Reimbursement,
            pb::Requester::Insured,
            Some("2023-04-15"),
        ),
        (
            "c2",
            pb::Partner::Cpam57,
            "2023-05-10",
            pb::ClaimChannel::Phone,
            pb::ClaimCategory::Information,
            pb::Requester::Representative,
            Some("2023-05-16"),
        ),
        (
            "c3",
            pb::Partner::Cdc,
            "2023-09-04",
            pb::ClaimChannel::Email,
            pb::ClaimCategory::PensionPayment,
            pb::Requester::Insured,
            Some("2023-09-25"),
        ),
        (
            "c4",
            pb::Partner::Angdm,
            "2024-02-12",
            pb::ClaimChannel::InPerson,
            pb::ClaimCategory::SocialAction,
            pb::Requester::HealthProfessional,
            None,
        ),
    ];
    for (key, partner, received, channel, category, requester, answered) in claims {
        let c = api
            .create_claim(req(pb::CreateClaimRequest {
                claim: Some(pb::Claim {
                    partner: *partner as i32,
                    received_date: (*received).into(),
                    channel: *channel as i32,
                    category: *category as i32,
                    requester: *requester as i32,
                    partner_reference: format!("REF-{key}"),
                    ..Default::default()
                }),
                request_id: rid(&format!("claim-{key}")),
            }))
            .await
            .map_err(st)?
            .into_inner()
            .claim
            .unwrap_or_default();
        if let Some(a) = answered {
            // An answer replayed after a first run is refused as already answered: the state is the same.
            let r = api
                .answer_claim(req(pb::AnswerClaimRequest {
                    name: c.name.clone(),
                    answered_date: (*a).into(),
                    request_id: rid(&format!("answer-{key}")),
                }))
                .await;
            if let Err(e) = r
                && e.code() != tonic::Code::FailedPrecondition
            {
                return Err(st(e));
            }
        }
    }
    // M22: opened 2023 with 12,500.00 € at stake, closed 2024 with 4,000.00 € recovered.
    let case = api
        .create_fraud_case(req(pb::CreateFraudCaseRequest {
            fraud_case: Some(pb::FraudCase {
                partner: pb::Partner::Cnam as i32,
                detected_date: "2023-04-18".into(),
                fraud_type: "Facturation de soins non réalisés".into(),
                amount_at_stake_cents: 1_250_000,
                status: pb::FraudStatus::Confirmed as i32,
                ..Default::default()
            }),
            request_id: rid("fraud-m22"),
        }))
        .await
        .map_err(st)?
        .into_inner()
        .fraud_case
        .unwrap_or_default();
    api.update_fraud_case(req(pb::UpdateFraudCaseRequest {
        name: case.name,
        status: pb::FraudStatus::Closed as i32,
        amount_recovered_cents: 400_000,
        closed_date: "2024-03-12".into(),
        request_id: rid("fraud-m22-close"),
    }))
    .await
    .map_err(st)?;
    Ok(())
}

fn value(partner: pb::Partner, series: &str, period: &str, dimension: &str, v: i64, unit: &str) -> pb::StatisticValue {
    pb::StatisticValue {
        partner: partner as i32,
        series: series.into(),
        period: period.into(),
        dimension: dimension.into(),
        value: v,
        unit: unit.into(),
        ..Default::default()
    }
}

async fn load_statistics(api: &MissionsApi) -> anyhow::Result<()> {
    let mut values = Vec::new();
    // CDC, 2014-2018 (missions.md §7.2).
    for (y, contributors, total, own, derived, invalidity) in [
        (2014, 2_514, 289_116, 153_782, 135_107, 227),
        (2015, 2_089, 277_244, 146_253, 130_805, 186),
        (2016, 1_773, 267_150, 140_096, 126_912, 142),
        (2017, 1_555, 256_104, 133_457, 122_528, 119),
        (2018, 1_346, 245_272, 126_795, 118_379, 98),
    ] {
        let p = y.to_string();
        values.push(value(pb::Partner::Cdc, "CONTRIBUTORS_AVERAGE", &p, "", contributors, "COUNT"));
        values.push(value(pb::Partner::Cdc, "PENSIONERS", &p, "", total, "COUNT"));
        values.push(value(pb::Partner::Cdc, "PENSIONERS", &p, "right:OWN", own, "COUNT"));
        values.push(value(pb::Partner::Cdc, "PENSIONERS", &p, "right:DERIVED", derived, "COUNT"));
        values.push(value(pb::Partner::Cdc, "PENSIONERS", &p, "right:INVALIDITY", invalidity, "COUNT"));
    }
    values.push(value(pb::Partner::Cdc, "BENEFITS_PAID", "2018", "", 136_000_000_000, "CENTS"));
    // CNAM beneficiaries 2014-2018 and the 2018 split (§7.1).
    for (y, total) in [(2014, 136_860), (2015, 129_321), (2016, 119_803), (2017, 119_162), (2018, 111_139)] {
        values.push(value(pb::Partner::Cnam, "BENEFICIARIES", &y.to_string(), "", total, "COUNT"));
    }
    values.push(value(pb::Partner::Cnam, "BENEFICIARIES", "2018", "type:PRIMARY_INSURED", 90_436, "COUNT"));
    values.push(value(pb::Partner::Cnam, "BENEFICIARIES", "2018", "type:DEPENDANTS", 20_703, "COUNT"));
    // M8: an Annex 2 value sent as ND* (request impossible after a change of software).
    values.push(pb::StatisticValue {
        missing: pb::MissingValue::Nd as i32,
        missing_reason: "SOURCE_SYSTEM_CHANGED".into(),
        ..value(pb::Partner::Cnam, "ANNUITY_AWARD_DELAY", "2018", "", 0, "DAYS")
    });
    // CPAM monthly calls handled, 2018 (totals 26,121 and 36,081).
    let calls62 = [2_493, 2_709, 2_784, 2_309, 2_190, 2_029, 2_041, 1_883, 2_026, 2_266, 1_951, 1_440];
    let calls57 = [3_768, 3_415, 3_829, 3_199, 2_847, 2_976, 3_014, 2_548, 2_641, 2_975, 2_774, 2_095];
    for m in 0..12 {
        let p = format!("2018{:02}", m + 1);
        values.push(value(pb::Partner::Cpam62, "CALLS_HANDLED", &p, "", calls62[m], "COUNT"));
        values.push(value(pb::Partner::Cpam57, "CALLS_HANDLED", &p, "", calls57[m], "COUNT"));
    }
    // ANGDM individual social action 2018 by section (26,308 k€).
    for (section, cents) in [("PA", 2_134_700_000), ("MAL", 495_400_000), ("ATMP", 700_000)] {
        values.push(value(pb::Partner::Angdm, "SOCIAL_ACTION_SPENDING", "2018", &format!("section:{section}"), cents, "CENTS"));
    }
    api.record_statistics(req(pb::RecordStatisticsRequest { values, request_id: rid("statistics-2014-2018") })).await.map_err(st)?;
    Ok(())
}

/// ANGDM 2024 statements: PA four quarters totalling 16,600,000 € against the
/// 16,444,429 € allocation (an accepted, flagged evaluative overrun, like M11
/// for 2022), MAL 100,000 € below its 3,542,618 € (M12's pattern), ATMP
/// 11,500 €. 2024, because the finance demo executes the BNASS lines of 2022
/// and 2023 itself (finance `demo.rs`, `LINE_PLANS`): booking the same years
/// here would execute them twice.
async fn load_spending(api: &MissionsApi) -> anyhow::Result<usize> {
    const YEAR: i32 = 2024;
    let statements: &[(pb::BnassSection, &str, &str, i64)] = &[
        (pb::BnassSection::Pa, "2024Q1", "INDIVIDUAL_ASS", 400_000_000),
        (pb::BnassSection::Pa, "2024Q2", "INDIVIDUAL_ASS", 400_000_000),
        (pb::BnassSection::Pa, "2024Q3", "HOLIDAY_POLICY", 460_000_000),
        (pb::BnassSection::Pa, "2024Q4", "INDIVIDUAL_ASS", 400_000_000),
        (pb::BnassSection::Mal, "2024", "INDIVIDUAL_ASS", 344_261_800),
        (pb::BnassSection::Atmp, "2024", "INDIVIDUAL_ASS", 1_150_000),
    ];
    let deadline = tokio::time::Instant::now() + FINANCE_WAIT;
    for (section, period, sub_item, cents) in statements {
        let reference = format!("ANGDM-{}-{period}", section.as_str_name().trim_start_matches("BNASS_SECTION_"));
        loop {
            let r = api
                .record_social_action_spending(req(pb::RecordSocialActionSpendingRequest {
                    statement: Some(pb::SocialActionStatement {
                        year: YEAR,
                        period: (*period).into(),
                        section: *section as i32,
                        sub_item: (*sub_item).into(),
                        amount_cents: *cents,
                        reference: reference.clone(),
                        ..Default::default()
                    }),
                    request_id: rid(&format!("angdm-{reference}")),
                }))
                .await;
            match r {
                Ok(_) => break,
                Err(e) if e.code() == tonic::Code::Unavailable && tokio::time::Instant::now() < deadline => {
                    tracing::info!(error = %e.message(), "waiting for the finance service (FILIERIS_FINANCE_URL)");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(st(e)),
            }
        }
    }
    Ok(statements.len())
}
