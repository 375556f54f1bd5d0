//! Must-show 5, end to end across two services: the finance service runs in
//! process on a free port (COG budget tables loaded), the missions service
//! calls it over gRPC with its own signed identity, and the BNASS line's
//! executed amount moves by the ANGDM spending recorded in missions, once.

mod common;

use std::time::Duration;

use common::{key, partner, reason, req, setup_with, staff};
use filieris_proto::finance as fin;
use filieris_proto::finance::budget_service_client::BudgetServiceClient;
use filieris_proto::missions as pb;
use filieris_proto::missions::missions_service_server::MissionsService;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::registry_cache::RegistryCache;
use tonic::Code;

struct Platform {
    missions: common::Env,
    finance_url: String,
    finance: BudgetServiceClient<tonic::transport::Channel>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn platform() -> Platform {
    // The missions database first; finance gets its own schema in the same database.
    let probe = setup_with("http://127.0.0.1:9").await;
    let finance_pool =
        filieris_runtime::db::connect(&probe.db.url, filieris_finance::SCHEMA, 4, &filieris_finance::MIGRATOR).await.expect("finance db");
    let budget_store = filieris_finance::budget::storage::Store::new(finance_pool.clone());
    budget_store.load_reference().await.expect("COG tables");
    // Results are not used here: their registry cache points nowhere and is never filled.
    let nowhere = tonic::transport::Endpoint::from_static("http://127.0.0.1:9").connect_lazy();
    let registry = RegistryCache::new(nowhere, key(), finance_pool.clone(), filieris_finance::results::SERVICE_CALLER);
    let results =
        filieris_finance::results::ResultsApi::new(filieris_finance::results::storage::ResultsStore::new(finance_pool.clone()), registry);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(filieris_finance::serve(
        listener,
        filieris_finance::budget::BudgetApi::new(budget_store),
        results,
        finance_pool,
        key(),
        Duration::from_secs(1),
        async {
            let _ = stop_rx.await;
        },
    ));
    // Missions on the same database, pointing at the finance server.
    let url = format!("http://{addr}");
    let pool = probe.pool.clone();
    let missions = common::Env {
        api: filieris_missions::MissionsApi::new(
            filieris_missions::storage::Store::new(
                pool.clone(),
                filieris_kernel::pseudonym::PseudonymKey::from_hex(common::PSEUDONYM_KEY).expect("pseudonym key"),
            ),
            filieris_missions::finance::Finance::new(
                tonic::transport::Endpoint::from_shared(url.clone()).expect("url").connect_lazy(),
                key(),
            ),
        ),
        pool,
        db: probe.db,
    };
    let channel = tonic::transport::Endpoint::from_shared(url.clone()).expect("url").connect_lazy();
    Platform { missions, finance_url: url, finance: BudgetServiceClient::new(channel), _stop: stop }
}

async fn line(p: &Platform, name: &str) -> fin::LinePosition {
    let me =
        Identity { caller: "staff:controller".into(), kind: CallerKind::Staff, roles: vec!["reader".into()], scopes: vec!["*".into()] };
    let mut r = tonic::Request::new(fin::GetBudgetLineRequest { name: name.into() });
    me.attach(&key(), &mut r);
    // The server may still be starting.
    for _ in 0..50 {
        match p
            .finance
            .clone()
            .get_budget_line(tonic::Request::from_parts(r.metadata().clone(), Default::default(), r.get_ref().clone()))
            .await
        {
            Ok(resp) => return resp.into_inner().line.and_then(|l| l.position).expect("position"),
            Err(e) if e.code() == Code::Unavailable => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("finance: {e:?}"),
        }
    }
    panic!("finance never answered")
}

fn statement(section: pb::BnassSection, period: &str, cents: i64, reference: &str) -> pb::SocialActionStatement {
    pb::SocialActionStatement {
        year: 2022,
        period: period.into(),
        section: section as i32,
        sub_item: "INDIVIDUAL_ASS".into(),
        amount_cents: cents,
        reference: reference.into(),
        ..Default::default()
    }
}

async fn record(p: &Platform, who: &Identity, s: pb::SocialActionStatement, rid: &str) -> Result<pb::SocialActionStatement, tonic::Status> {
    p.missions
        .api
        .record_social_action_spending(req(who, pb::RecordSocialActionSpendingRequest { statement: Some(s), request_id: rid.into() }))
        .await
        .map(|r| r.into_inner().statement.expect("statement"))
}

#[tokio::test]
async fn angdm_spending_recorded_in_missions_is_executed_once_on_the_bnass_line_of_the_finance_service() {
    let p = platform().await;
    const PA: &str = "funds/BNASS/years/2022/lines/BNASS-PA-IND";
    let before = line(&p, PA).await;
    assert_eq!((before.initial_cents, before.executed_cents), (1_887_281_500, 0));

    let angdm = partner("ANGDM");
    let first = record(&p, &angdm, statement(pb::BnassSection::Pa, "2022Q1", 450_000_000, "ANGDM-PA-2022Q1"), "q1").await.expect("record");
    assert_eq!(first.budget_line, PA);
    assert!(first.finance_movement.starts_with("funds/BNASS/years/2022/movements/"), "{first:?}");
    assert!(!first.evaluative_overrun);
    assert_eq!(line(&p, PA).await.executed_cents, 450_000_000);

    // Retries: the same request id replays; the same statement under another
    // request id is the same statement; neither executes again.
    assert_eq!(
        record(&p, &angdm, statement(pb::BnassSection::Pa, "2022Q1", 450_000_000, "ANGDM-PA-2022Q1"), "q1").await.expect("replay").name,
        first.name
    );
    assert_eq!(
        record(&p, &angdm, statement(pb::BnassSection::Pa, "2022Q1", 450_000_000, "ANGDM-PA-2022Q1"), "q1-bis").await.expect("same").name,
        first.name
    );
    let other_amount = record(&p, &angdm, statement(pb::BnassSection::Pa, "2022Q1", 1, "ANGDM-PA-2022Q1"), "q1-ter").await.unwrap_err();
    assert_eq!(other_amount.code(), Code::AlreadyExists);
    assert_eq!(line(&p, PA).await.executed_cents, 450_000_000);

    // A crash after finance answered but before missions committed: the statement is
    // not stored here, and recording it again finds finance's first answer.
    sqlx::query("DELETE FROM missions.social_action_statement").execute(&p.missions.pool).await.expect("simulate the lost commit");
    let again = record(&p, &angdm, statement(pb::BnassSection::Pa, "2022Q1", 450_000_000, "ANGDM-PA-2022Q1"), "q1-after-crash")
        .await
        .expect("again");
    assert_eq!(again.finance_movement, first.finance_movement);
    assert_eq!(line(&p, PA).await.executed_cents, 450_000_000);

    // M11: PA 2022 statements of 19,100,000 € against 18,872,815 €: accepted, overrun flagged.
    let rest = record(&p, &staff(), statement(pb::BnassSection::Pa, "2022Q4", 1_460_000_000, "ANGDM-PA-2022Q4"), "q4")
        .await
        .expect("overrun accepted");
    assert!(rest.evaluative_overrun);
    let pa = line(&p, PA).await;
    assert_eq!((pa.executed_cents, pa.overrun_cents), (1_910_000_000, 22_718_500));

    // MAL goes to its own line.
    record(&p, &angdm, statement(pb::BnassSection::Mal, "2022", 396_576_400, "ANGDM-MAL-2022"), "mal").await.expect("mal");
    assert_eq!(line(&p, "funds/BNASS/years/2022/lines/BNASS-MAL-IND").await.executed_cents, 396_576_400);

    // Shown against the budget, section by section.
    let exec = p
        .missions
        .api
        .get_social_action_execution(req(&angdm, pb::GetSocialActionExecutionRequest { year: 2022 }))
        .await
        .expect("execution")
        .into_inner();
    let rows: Vec<(i32, i64, i64, i64)> =
        exec.sections.iter().map(|s| (s.section, s.statements_cents, s.executed_cents, s.authorised_cents)).collect();
    assert_eq!(
        rows,
        [
            (pb::BnassSection::Pa as i32, 1_910_000_000, 1_910_000_000, 1_887_281_500),
            (pb::BnassSection::Mal as i32, 396_576_400, 396_576_400, 406_576_400),
            (pb::BnassSection::Atmp as i32, 0, 0, 1_382_700),
        ]
    );
    let listed = p
        .missions
        .api
        .list_social_action_spending(req(
            &angdm,
            pb::ListSocialActionSpendingRequest { year: 2022, page_size: 2, page_token: String::new() },
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.statements.len(), 2);
    let rest = p
        .missions
        .api
        .list_social_action_spending(req(
            &angdm,
            pb::ListSocialActionSpendingRequest { year: 2022, page_size: 2, page_token: listed.next_page_token },
        ))
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(rest.statements.len(), 1);
    assert!(rest.next_page_token.is_empty());
    // Only ANGDM (and CANSSM) record or read its spending.
    let e = record(&p, &partner("CDC"), statement(pb::BnassSection::Atmp, "2022", 100, "X"), "cdc").await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::PermissionDenied, "PARTNER_SCOPE_DENIED"));
    // Finance's audit names the missions service as the caller of every execution.
    let (callers,): (Vec<String>,) =
        sqlx::query_as("SELECT array_agg(DISTINCT recorded_by) FROM finance.movement WHERE kind = 'EXECUTION'")
            .fetch_one(&p.missions.pool)
            .await
            .expect("movements");
    assert_eq!(callers, ["service:missions"]);
}

#[tokio::test]
async fn finance_unreachable_leaves_nothing_recorded_and_says_unavailable() {
    let env = common::setup().await;
    let e = env
        .api
        .record_social_action_spending(req(
            &partner("ANGDM"),
            pb::RecordSocialActionSpendingRequest {
                statement: Some(statement(pb::BnassSection::Atmp, "2022", 1_000, "A-1")),
                request_id: "a1".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::Unavailable, "FINANCE_UNAVAILABLE"));
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM missions.social_action_statement").fetch_one(&env.pool).await.expect("count");
    assert_eq!(n, 0);
}

/// `seed-demo` loads the demo set through the API and executes its ANGDM
/// statements on finance; a second run changes nothing, here or in finance.
#[tokio::test]
async fn seed_demo_is_deterministic_and_idempotent_across_both_services() {
    let p = platform().await;
    let _ = line(&p, "funds/BNASS/years/2024/lines/BNASS-PA-IND").await;
    let load = || {
        let store = filieris_missions::storage::Store::new(
            p.missions.pool.clone(),
            filieris_kernel::pseudonym::PseudonymKey::from_hex(common::PSEUDONYM_KEY).expect("pseudonym key"),
        );
        let finance = filieris_missions::finance::Finance::new(
            tonic::transport::Endpoint::from_shared(p.finance_url.clone()).expect("url").connect_lazy(),
            key(),
        );
        filieris_missions::seed::load_demo(store, finance)
    };
    let counts = || async {
        let mut out = Vec::new();
        for table in
            ["mandate", "meeting", "deliverable", "claim", "fraud_case", "statistic_value", "social_action_statement", "change_log"]
        {
            let (n,): (i64,) =
                sqlx::query_as(&format!("SELECT count(*) FROM missions.{table}")).fetch_one(&p.missions.pool).await.expect("count");
            out.push((table, n));
        }
        out
    };
    let summary = load().await.expect("first seed");
    assert!(summary.contains("3 mandates"), "{summary}");
    let first = counts().await;
    let pa = line(&p, "funds/BNASS/years/2024/lines/BNASS-PA-IND").await;
    assert_eq!((pa.executed_cents, pa.overrun_cents), (1_660_000_000, 15_557_100));
    load().await.expect("second seed");
    assert_eq!(counts().await, first);
    assert_eq!(line(&p, "funds/BNASS/years/2024/lines/BNASS-PA-IND").await.executed_cents, 1_660_000_000);
    // The demo shows what the issue asks: COFIL 2022 met, 2023 not; CDC 2023 missed Q3; late and overdue deliverables.
    let compliance = |mandate: &str, year: i32| {
        let api = p.missions.api.clone();
        let mandate = format!("mandates/{mandate}");
        async move {
            api.get_governance_compliance(req(&staff(), pb::GetGovernanceComplianceRequest { mandate, year }))
                .await
                .expect("c")
                .into_inner()
        }
    };
    assert!(compliance("cnam-health", 2022).await.compliant);
    assert!(!compliance("cnam-health", 2023).await.compliant);
    assert_eq!(compliance("cdc-pensions", 2023).await.bodies[0].quarters_missed, [3]);
    let metrics = |year: i32| {
        let api = p.missions.api.clone();
        async move {
            api.get_missions_metrics(req(&staff(), pb::GetMissionsMetricsRequest { year, as_of: "2025-12-31".into() }))
                .await
                .expect("m")
                .into_inner()
        }
    };
    let d = metrics(2024).await.deliverables.expect("deliverables");
    assert!(d.late > 0 && d.on_time > 0 && d.missing > 0, "{d:?}");
    let m2023 = metrics(2023).await;
    let c = m2023.claims.expect("claims");
    assert_eq!((c.received, c.answered, c.answered_within_target), (3, 3, 2));
    assert!(m2023.meetings.iter().any(|m| m.mandate == "mandates/cnam-health" && m.held_meetings == 1 && !m.compliant));
    let population = metrics(2018).await.population;
    assert!(population.iter().any(|v| v.series == "PENSIONERS" && v.dimension.is_empty() && v.value == 245_272));
}
