//! The COG budget rules through the BudgetService API, against a real
//! PostgreSQL (one fresh database per test). Scenarios are those of
//! `../shared/domain/finance.md` §3 (TS-xx).

use std::time::Duration;

use filieris_finance::budget::BudgetApi;
use filieris_finance::budget::storage::Store;
use filieris_kernel::csv::parse_csv_records;
use filieris_proto::finance as pb;
use filieris_proto::finance::budget_service_server::BudgetService;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::testing::TestDatabase;
use sqlx::PgPool;
use tonic::{Code, Request, Status};

struct Env {
    api: BudgetApi,
    pool: PgPool,
    _db: TestDatabase,
}

async fn setup() -> Env {
    let db = TestDatabase::create().await.expect("db");
    let pool = filieris_runtime::db::connect(&db.url, filieris_finance::SCHEMA, 4, &filieris_finance::MIGRATOR).await.expect("finance db");
    let store = Store::new(pool.clone());
    store.load_reference().await.expect("reference tables");
    Env { api: BudgetApi::new(store), pool, _db: db }
}

fn req<T>(body: T) -> Request<T> {
    let mut r = Request::new(body);
    r.extensions_mut().insert(Identity {
        caller: "user:dg".into(),
        kind: CallerKind::Staff,
        roles: vec!["finance".into()],
        scopes: vec!["*".into()],
    });
    r
}

fn reason(status: &Status) -> String {
    let details = tonic_types::StatusExt::get_error_details(status);
    details.error_info().map(|i| i.reason.clone()).unwrap_or_default()
}

const EUR: i64 = 100;

async fn line(env: &Env, fund: &str, year: i16, code: &str) -> pb::LinePosition {
    env.api
        .get_budget_line(req(pb::GetBudgetLineRequest { name: format!("funds/{fund}/years/{year}/lines/{code}") }))
        .await
        .expect("line")
        .into_inner()
        .line
        .and_then(|l| l.position)
        .expect("position")
}

async fn spend(env: &Env, year: i16, code: &str, kind: pb::SpendingKind, euros: i64) -> Result<pb::RecordSpendingResponse, Status> {
    spend_in(env, "BNGA", year, code, kind, euros).await
}

async fn spend_in(
    env: &Env,
    fund: &str,
    year: i16,
    code: &str,
    kind: pb::SpendingKind,
    euros: i64,
) -> Result<pb::RecordSpendingResponse, Status> {
    env.api
        .record_spending(req(pb::RecordSpendingRequest {
            line: format!("funds/{fund}/years/{year}/lines/{code}"),
            kind: kind as i32,
            amount_cents: euros * EUR,
            date: format!("{year}-06-15"),
            commitment: String::new(),
            reason: "test".into(),
            request_id: String::new(),
        }))
        .await
        .map(|r| r.into_inner())
}

async fn movements(env: &Env) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM finance.movement").fetch_one(&env.pool).await.expect("count")
}

fn transfer(year: i16, from: &str, to: &str, euros: i64, date: &str) -> pb::CreateTransferRequest {
    pb::CreateTransferRequest {
        parent: format!("funds/BNGA/years/{year}"),
        from_line: from.into(),
        to_line: to.into(),
        amount_cents: euros * EUR,
        transfer_date: date.into(),
        reason: "test".into(),
        amending_decision: false,
        ministries_authorisation: None,
        request_id: String::new(),
    }
}

fn authority(kind: &str, reference: &str, date: &str) -> Option<pb::Authority> {
    Some(pb::Authority { kind: kind.into(), reference: reference.into(), date: date.into() })
}

/// Source total of a fund's 2022 column, read from the reference CSV itself.
fn source_total_2022(csv: &str, pick: impl Fn(&std::collections::HashMap<String, String>) -> bool, meur: bool) -> i64 {
    parse_csv_records(csv)
        .expect("csv")
        .iter()
        .filter(|r| pick(r))
        .map(|r| {
            let text = &r["budget_2022"];
            let cents = filieris_kernel::cents::Cents::from_euros_str(text).expect("amount").0;
            if meur { cents * 1_000_000 } else { cents }
        })
        .sum()
}

#[tokio::test]
async fn the_2022_budgets_are_loaded_and_their_totals_match_the_source() {
    let env = setup().await;
    let fund_total = |fund: &'static str| {
        let api = env.api.clone();
        async move {
            let rows = api
                .get_budget_execution(req(pb::GetBudgetExecutionRequest { name: format!("funds/{fund}/years/2022") }))
                .await
                .expect("execution")
                .into_inner()
                .rows;
            assert_eq!(rows[0].level, "FUND");
            rows[0].initial_cents
        }
    };
    // BNGA: the printed section totals (I, II, III), in M€.
    let bnga = source_total_2022(include_str!("../data/budget_bnga_2022_2024.csv"), |r| r["level"] == "1", true);
    assert_eq!(bnga, 11_518_000_000, "115.18 M€");
    assert_eq!(fund_total("BNGA").await, bnga);
    let bnass = source_total_2022(include_str!("../data/budget_bnass_2022_2024.csv"), |r| r["label_fr"] == "TOTAL", false);
    assert_eq!(bnass, 4_669_520_600, "46,695,206 €");
    assert_eq!(fund_total("BNASS").await, bnass);
    let bnpps = source_total_2022(include_str!("../data/budget_bnpps_2022_2024.csv"), |r| r["line_type"] == "total", false);
    assert_eq!(bnpps, 280_550_000);
    assert_eq!(fund_total("BNPPS").await, bnpps);
    // Lines keep the table's structure; subtotals are computed.
    let lines = env
        .api
        .list_budget_lines(req(pb::ListBudgetLinesRequest {
            parent: "funds/BNGA/years/2022".into(),
            page_size: 10,
            page_token: String::new(),
        }))
        .await
        .expect("lines")
        .into_inner();
    assert_eq!(lines.lines.len(), 10);
    assert_eq!(lines.lines[0].code, "I");
    assert_eq!(lines.lines[0].position.as_ref().map(|p| p.initial_cents), Some(8_761_000_000));
    // Leaves are authoritative: subtotal A sums to 64.44 M€ where the table prints 64.45.
    assert_eq!((lines.lines[1].code.as_str(), lines.lines[1].position.as_ref().map(|p| p.initial_cents)), ("A", Some(6_444_000_000)));
    assert!(!lines.next_page_token.is_empty());
    // Loading again adds nothing.
    let before = movements(&env).await;
    Store::new(env.pool.clone()).load_reference().await.expect("reload");
    assert_eq!(movements(&env).await, before);
    // The journal refuses updates.
    let err = sqlx::query("UPDATE finance.movement SET amount_cents = 0").execute(&env.pool).await.expect_err("append-only");
    assert!(err.to_string().contains("append-only"));
}

/// Issue must-show 3; TS-01, TS-02, TS-03.
#[tokio::test]
async fn a_limitative_line_refuses_overspending_and_an_evaluative_line_flags_it() {
    let env = setup().await;
    use pb::SpendingKind::*;
    // TS-01: A-I-2.a 2023, 4,700,000 authorised.
    spend(&env, 2023, "A-I-2.a", Execution, 4_500_000).await.expect("execution");
    spend(&env, 2023, "A-I-2.a", Commitment, 150_000).await.expect("commitment");
    let before = movements(&env).await;
    let err = spend(&env, 2023, "A-I-2.a", Commitment, 60_000).await.expect_err("beyond the credits");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "LIMITATIVE_CREDIT_EXCEEDED");
    assert!(err.message().contains("A-I-2.a") && err.message().contains("1000000 cents"), "{}", err.message());
    assert_eq!(movements(&env).await, before, "nothing is written");
    let ok = spend(&env, 2023, "A-I-2.a", Commitment, 50_000).await.expect("within the credits");
    assert_eq!(ok.position.map(|p| p.available_cents), Some(0));
    // TS-02: B-II-2 2022, 12,400,000 authorised, bookings reach 12,550,000.
    let r = spend(&env, 2022, "B-II-2", Execution, 12_550_000).await.expect("evaluative accepts");
    assert!(r.evaluative_overrun);
    assert_eq!(r.movements[0].overrun_cents, 15_000_000);
    assert_eq!(line(&env, "BNGA", 2022, "B-II-2").await.overrun_cents, 15_000_000);
    // TS-03: the reserve is never spent directly; subtotals are not posted to.
    let err = spend(&env, 2022, "II.a", Commitment, 1_000).await.expect_err("reserve");
    assert_eq!(reason(&err), "RESERVE_NOT_CONSUMABLE");
    let err = spend(&env, 2022, "A-I-2", Commitment, 1_000).await.expect_err("subtotal");
    assert_eq!(reason(&err), "LINE_NOT_POSTABLE");
    // An execution against a commitment consumes the commitment, not new credits.
    let c = spend(&env, 2022, "A-I-2.b", Commitment, 7_000_000).await.expect("commit");
    let mut pay = pb::RecordSpendingRequest {
        line: "funds/BNGA/years/2022/lines/A-I-2.b".into(),
        kind: Execution as i32,
        amount_cents: 7_000_000 * EUR,
        date: "2022-09-01".into(),
        commitment: c.movements[0].name.clone(),
        reason: "facture".into(),
        request_id: "pay-1".into(),
    };
    let paid = env.api.record_spending(req(pay.clone())).await.expect("pay").into_inner();
    let p = paid.position.expect("position");
    assert_eq!((p.committed_cents, p.executed_cents, p.available_cents), (0, 7_000_000 * EUR, 870_000 * EUR));
    // The same request id again: the same answer, nothing written twice.
    let count = movements(&env).await;
    let again = env.api.record_spending(req(pay.clone())).await.expect("replay").into_inner();
    assert_eq!(again, paid);
    assert_eq!(movements(&env).await, count);
    pay.amount_cents += 1;
    let err = env.api.record_spending(req(pay)).await.expect_err("same id, other payload");
    assert_eq!(err.code(), Code::InvalidArgument);
}

/// Issue must-show 2; TS-05, TS-07, TS-09, TS-10, TS-08 (chain), TS-40 (reserve).
#[tokio::test]
async fn transfers_follow_the_fungibility_rules_with_notifications_and_amending_decisions() {
    let env = setup().await;
    // TS-05: personnel → operating by the DG, notified within 15 days.
    let t = env.api.create_transfer(req(transfer(2023, "A-I-1", "A-I-2.b", 500_000, "2023-03-10"))).await.expect("P → F").into_inner();
    let t = t.transfer.expect("transfer");
    assert_eq!(t.state, pb::TransferState::Done as i32);
    assert_eq!(t.notifications.len(), 2);
    assert!(t.notifications.iter().all(|n| n.due_date == "2023-03-25"));
    assert_eq!(line(&env, "BNGA", 2023, "A-I-1").await.authorised_cents, 36_170_000 * EUR);
    assert_eq!(line(&env, "BNGA", 2023, "A-I-2.b").await.authorised_cents, 8_290_000 * EUR);
    let list = |filter: pb::NotificationFilter| {
        let api = env.api.clone();
        async move {
            api.list_notifications(req(pb::ListNotificationsRequest {
                parent: "funds/BNGA/years/2023".into(),
                filter: filter as i32,
                page_size: 0,
                page_token: String::new(),
            }))
            .await
            .expect("notifications")
            .into_inner()
            .notifications
        }
    };
    assert_eq!(list(pb::NotificationFilter::Pending).await.len(), 2);
    for n in &t.notifications {
        let sent = env
            .api
            .mark_notification_sent(req(pb::MarkNotificationSentRequest { name: n.name.clone(), sent_date: "2023-03-27".into() }))
            .await
            .expect("sent")
            .into_inner()
            .notification
            .expect("notification");
        assert_eq!(sent.days_late, 2, "sent two days after the due date");
    }
    assert_eq!(list(pb::NotificationFilter::Pending).await.len(), 0);
    assert_eq!(list(pb::NotificationFilter::Late).await.len(), 2, "late notifications are listed; the transfer stands");

    // TS-07: investment → operating without a board vote is refused with the reason.
    let err = env.api.create_transfer(req(transfer(2023, "A-I-3.b", "A-I-1", 300_000, "2023-10-01"))).await.expect_err("forbidden");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "TRANSFER_FORBIDDEN");
    assert!(err.message().contains("amending decision"), "{}", err.message());
    // TS-09 and TS-10.
    let err = env.api.create_transfer(req(transfer(2023, "A-II-2", "A-II-1", 50_000, "2023-10-01"))).await.expect_err("CDC lines");
    assert_eq!(reason(&err), "TRANSFER_FORBIDDEN");
    let err = env.api.create_transfer(req(transfer(2023, "B-I", "A-I-2.b", 100_000, "2023-10-01"))).await.expect_err("evaluative");
    assert_eq!(reason(&err), "EVALUATIVE_LINE_NOT_TRANSFERABLE");

    // With an amending decision: requested → voted → approved; only approval moves credits.
    let mut dm = transfer(2023, "A-I-3.b", "A-I-1", 300_000, "2023-10-01");
    dm.amending_decision = true;
    let requested = env.api.create_transfer(req(dm)).await.expect("requested").into_inner().transfer.expect("transfer");
    assert_eq!(requested.state, pb::TransferState::Requested as i32);
    assert_eq!(line(&env, "BNGA", 2023, "A-I-3.b").await.authorised_cents, 2_150_000 * EUR, "nothing moves before approval");
    let err = env
        .api
        .approve_transfer(req(pb::ApproveTransferRequest {
            name: requested.name.clone(),
            approval: authority("MINISTRIES", "lettre DSS", "2023-11-02"),
            request_id: String::new(),
        }))
        .await
        .expect_err("not voted yet");
    assert_eq!(reason(&err), "TRANSFER_STATE_CONFLICT");
    let voted = env
        .api
        .vote_transfer(req(pb::VoteTransferRequest {
            name: requested.name.clone(),
            vote: authority("BOARD", "délibération 2023-41", "2023-10-12"),
            request_id: String::new(),
        }))
        .await
        .expect("vote")
        .into_inner()
        .transfer
        .expect("transfer");
    assert_eq!(voted.state, pb::TransferState::Voted as i32);
    let approved = env
        .api
        .approve_transfer(req(pb::ApproveTransferRequest {
            name: requested.name.clone(),
            approval: authority("MINISTRIES", "lettre DSS", "2023-11-02"),
            request_id: String::new(),
        }))
        .await
        .expect("approve")
        .into_inner()
        .transfer
        .expect("transfer");
    assert_eq!((approved.state, approved.effective_date.as_str()), (pb::TransferState::Approved as i32, "2023-11-02"));
    assert_eq!(line(&env, "BNGA", 2023, "A-I-3.b").await.authorised_cents, 1_850_000 * EUR);
    assert_eq!(line(&env, "BNGA", 2023, "A-I-1").await.authorised_cents, 36_470_000 * EUR);

    // TS-08: personnel → operating then operating → investment within 30 days is flagged as a chain.
    env.api.create_transfer(req(transfer(2023, "A-I-1", "A-I-2.b", 100_000, "2023-05-05"))).await.expect("step 1");
    let step2 = env.api.create_transfer(req(transfer(2023, "A-I-2.b", "A-I-3.a", 100_000, "2023-05-12"))).await.expect("step 2");
    assert!(step2.into_inner().transfer.expect("t").tags.contains(&"chain".to_owned()));

    // TS-40: the reserve, endowed by the board, is used only with the ministries' prior authorisation.
    env.api
        .amend_budget(req(pb::AmendBudgetRequest {
            line: "funds/BNGA/years/2023/lines/II.a".into(),
            amount_cents: 500_000 * EUR,
            authority: authority("BOARD", "BR 2023-1", "2023-04-01"),
            reason: "dotation de la réserve nationale".into(),
            request_id: String::new(),
        }))
        .await
        .expect("endowment");
    let err = env.api.create_transfer(req(transfer(2023, "II.a", "A-I-2.b", 100_000, "2023-06-01"))).await.expect_err("no authorisation");
    assert_eq!(reason(&err), "RESERVE_USE_NOT_AUTHORISED");
    let mut use_reserve = transfer(2023, "II.a", "A-I-2.b", 100_000, "2023-06-01");
    use_reserve.ministries_authorisation = authority("MINISTRIES", "autorisation préalable", "2023-05-20");
    let used = env.api.create_transfer(req(use_reserve)).await.expect("authorised").into_inner().transfer.expect("t");
    assert!(used.tags.contains(&"board_information".to_owned()));
    assert_eq!(line(&env, "BNGA", 2023, "II.a").await.available_cents, 400_000 * EUR);
}

async fn close(env: &Env, fund: &str, year: i16) -> pb::YearClose {
    let name = format!("funds/{fund}/years/{year}");
    let started = env.api.start_year_close(req(pb::StartYearCloseRequest { name: name.clone() })).await.expect("close").into_inner();
    let mut close = started.close.expect("operation");
    for _ in 0..200 {
        if close.state != pb::YearCloseState::Running as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        close = env
            .api
            .get_year_close(req(pb::GetYearCloseRequest { name: format!("{name}/close") }))
            .await
            .expect("poll")
            .into_inner()
            .close
            .expect("operation");
    }
    assert_eq!(close.state, pb::YearCloseState::Done as i32, "{}", close.error);
    close
}

/// Issue must-show 4; TS-14, TS-15, TS-19.
#[tokio::test]
async fn closing_a_year_carries_unspent_limitative_credits_once_and_no_evaluative_credit() {
    let env = setup().await;
    use pb::SpendingKind::*;
    spend(&env, 2022, "A-I-2.b", Execution, 7_500_000).await.expect("spend");
    spend(&env, 2022, "B-II-2", Execution, 12_100_000).await.expect("spend");
    spend_in(&env, "BNASS", 2022, "BNASS-MAL-COL", Execution, 2_233_300).await.expect("spend");
    let done = close(&env, "BNGA", 2022).await;
    let row = |code: &str| done.statement.iter().find(|l| l.line == code).cloned().expect("statement line");
    assert_eq!(row("A-I-2.b").carried_cents, 370_000 * EUR);
    assert_eq!(row("B-II-2").carried_cents, 0);
    assert_eq!(done.lines_done, done.lines_total);
    let next = line(&env, "BNGA", 2023, "A-I-2.b").await;
    assert_eq!((next.authorised_cents, next.carried_in_cents), (8_160_000 * EUR, 370_000 * EUR));
    assert_eq!(line(&env, "BNGA", 2023, "B-II-2").await.authorised_cents, 11_940_000 * EUR, "evaluative credits are never carried");
    let tagged: Vec<String> =
        sqlx::query_scalar("SELECT unnest(tags) FROM finance.movement WHERE kind = 'CARRY_IN' AND code = 'A-I-2.b' AND year = 2023")
            .fetch_all(&env.pool)
            .await
            .expect("tags");
    assert_eq!(tagged, vec!["non_perennial"]);
    // Closing again changes nothing and returns the same statement.
    let count = movements(&env).await;
    let again = close(&env, "BNGA", 2022).await;
    assert_eq!(again.statement, done.statement);
    assert_eq!(movements(&env).await, count);
    // A closed year takes no more spending.
    let err = spend(&env, 2022, "A-I-2.b", Commitment, 1).await.expect_err("closed");
    assert_eq!(reason(&err), "YEAR_CLOSED");
    // TS-19: BNASS collective credits are carried without a vote, ANGDM ones never.
    close(&env, "BNASS", 2022).await;
    assert_eq!(line(&env, "BNASS", 2023, "BNASS-MAL-COL").await.carried_in_cents, 100_000 * EUR);
    assert_eq!(line(&env, "BNASS", 2023, "BNASS-MAL-IND").await.carried_in_cents, 0);
}

/// Issue must-show 5; TS-20 and the blank-percentage reading of R07.
#[tokio::test]
async fn revenue_above_its_estimate_raises_next_years_limitative_authorisations() {
    let env = setup().await;
    let revenue = |account: &str, euros: i64| pb::RecordRevenueRequest {
        parent: "revenueYears/2022".into(),
        account: account.into(),
        amount_cents: euros * EUR,
        date: "2022-11-30".into(),
        reason: "test".into(),
        request_id: String::new(),
    };
    env.api.record_revenue(req(revenue("7083", 120_000))).await.expect("7083");
    env.api.record_revenue(req(revenue("706", 50_000))).await.expect("706 (blank percentage)");
    let apply = || {
        let api = env.api.clone();
        async move { api.apply_revenue_reuse(req(pb::ApplyRevenueReuseRequest { name: "revenueYears/2022".into() })).await }
    };
    let err = apply().await.expect_err("year open");
    assert_eq!(reason(&err), "YEAR_NOT_CLOSED");
    close(&env, "BNGA", 2022).await;
    let before = line(&env, "BNGA", 2023, "A-I-2.b").await.authorised_cents;
    let err = apply().await.expect_err("no estimate");
    assert_eq!(reason(&err), "REVENUE_ESTIMATE_MISSING");
    env.api
        .set_revenue_estimate(req(pb::SetRevenueEstimateRequest {
            parent: "revenueYears/2022".into(),
            account: "7083".into(),
            amount_cents: 80_000 * EUR,
        }))
        .await
        .expect("estimate");
    let run = apply().await.expect("reuse").into_inner();
    assert_eq!(run.uplift_cents, 40_000 * EUR, "100 % of the 40,000 € excess");
    assert_eq!(run.uplifted_line, "funds/BNGA/years/2023/lines/A-I-2.b");
    let by = |account: &str| run.lines.iter().find(|l| l.account == account).cloned().expect("account line");
    assert_eq!((by("706").reuse_percent, by("706").uplift_cents), (0, 0), "an account without a reuse percentage raises nothing");
    assert_eq!(line(&env, "BNGA", 2023, "A-I-2.b").await.authorised_cents, before + 40_000 * EUR);
    // Once per year.
    let again = apply().await.expect("again").into_inner();
    assert_eq!(again, run);
    assert_eq!(line(&env, "BNGA", 2023, "A-I-2.b").await.authorised_cents, before + 40_000 * EUR);
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_named() {
    let env = setup().await;
    let err = env
        .api
        .record_spending(req(pb::RecordSpendingRequest {
            line: "funds/BNGA/years/2022/lines/A-I-2.b".into(),
            kind: 0,
            amount_cents: -5,
            date: "2023-01-01".into(),
            commitment: String::new(),
            reason: String::new(),
            request_id: String::new(),
        }))
        .await
        .expect_err("invalid");
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: Vec<String> = tonic_types::StatusExt::get_error_details(&err)
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default();
    for f in ["kind", "amount_cents", "date", "reason"] {
        assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
    }
    let err = env
        .api
        .get_budget_line(req(pb::GetBudgetLineRequest { name: "funds/BNGA/years/2022/lines/Z-9".into() }))
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound);
    let err =
        env.api.list_budget_lines(req(pb::ListBudgetLinesRequest { parent: "funds/XX/years/2022".into(), ..Default::default() })).await;
    assert_eq!(err.expect_err("bad fund").code(), Code::InvalidArgument);
}

/// R14 (TS-38, TS-39) through the API, with the domain notes' hypothetical rates.
#[tokio::test]
async fn bnass_and_bnpps_lines_follow_corrected_inflation() {
    let env = setup().await;
    for (year, forecast, actual) in [(2022, 150, Some(530)), (2023, 420, Some(490)), (2024, 250, None)] {
        env.api
            .set_inflation_rates(req(pb::SetInflationRatesRequest {
                name: format!("inflationYears/{year}"),
                forecast_basis_points: forecast,
                actual_basis_points: actual,
                source: "hypothèse de test (finance.md TS-38)".into(),
            }))
            .await
            .expect("rates");
    }
    let index = |name: &'static str| {
        let api = env.api.clone();
        async move { api.apply_indexation(req(pb::ApplyIndexationRequest { name: name.into() })).await }
    };
    let r = index("funds/BNASS/years/2024").await.expect("indexation").into_inner();
    assert_eq!(r.corrected_basis_points.get(&2023), Some(&800));
    assert_eq!(r.corrected_basis_points.get(&2024), Some(&320));
    let mal = r.lines.iter().find(|l| l.line == "BNASS-MAL-COL").expect("indexed line");
    assert_eq!((mal.index.as_str(), mal.indexed_cents), ("1.11456", 240_979_018));
    assert_eq!(line(&env, "BNASS", 2024, "BNASS-MAL-COL").await.authorised_cents, 240_979_018);
    assert_eq!(line(&env, "BNASS", 2024, "BNASS-MAL-CAP").await.authorised_cents, 80_000_000, "capital lines are not indexed");
    index("funds/BNPPS/years/2023").await.expect("bnpps");
    assert_eq!(line(&env, "BNPPS", 2023, "BNPPS-MAL-CANSSM").await.authorised_cents, 237_600_000);
    assert_eq!(line(&env, "BNPPS", 2023, "BNPPS-MAL-EVAL").await.authorised_cents, 45_000_000);
    // Once per fund year; BNGA and 2022 are never indexed.
    let count = movements(&env).await;
    assert_eq!(index("funds/BNASS/years/2024").await.expect("again").into_inner(), r);
    assert_eq!(movements(&env).await, count);
    assert_eq!(index("funds/BNGA/years/2023").await.expect_err("R13").code(), Code::InvalidArgument);
    assert_eq!(index("funds/BNASS/years/2022").await.expect_err("base year").code(), Code::InvalidArgument);
}

/// R10 (TS-29, TS-32, TS-33) through the API.
#[tokio::test]
async fn real_estate_gains_raise_next_years_investment_or_the_rent_envelope() {
    let env = setup().await;
    let sale = |year: i32, price: i64, vnc: i64, buyer: pb::Buyer, pct: Option<i32>| pb::RecordAssetSaleRequest {
        year,
        asset: "immeuble rue de la Mine, Lens".into(),
        sale_date: format!("{year}-05-12"),
        price_cents: price * EUR,
        net_book_value_cents: vnc * EUR,
        buyer: buyer as i32,
        investment_percent: pct,
        square_metres: 850,
        reason: "décision du directeur général".into(),
        request_id: String::new(),
    };
    let before = line(&env, "BNGA", 2024, "A-I-3.b").await.authorised_cents;
    let s = env.api.record_asset_sale(req(sale(2023, 900_000, 300_000, pb::Buyer::Other, None))).await.expect("sale").into_inner();
    let s = s.sale.expect("sale");
    assert_eq!(s.gain_cents, 600_000 * EUR);
    assert_eq!(line(&env, "BNGA", 2024, "A-I-3.b").await.authorised_cents, before + 600_000 * EUR);
    // Half to rents: 2024 applied, 2025–2033 pending for the next COG.
    let s = env.api.record_asset_sale(req(sale(2023, 900_000, 300_000, pb::Buyer::Other, Some(50)))).await.expect("split").into_inner();
    let s = s.sale.expect("sale");
    let rents: Vec<&pb::SaleUplift> = s.uplifts.iter().filter(|u| u.line == "A-I-2.b").collect();
    assert_eq!(rents.len(), 10);
    assert!(rents.iter().all(|u| u.amount_cents == 30_000 * EUR));
    assert_eq!(rents.iter().filter(|u| u.state == "APPLIED").count(), 1);
    let err = env.api.record_asset_sale(req(sale(2023, 900_000, 300_000, pb::Buyer::SocialSecurityBody, None))).await.expect_err("OSS");
    assert_eq!(reason(&err), "OSS_SALE_PRICE_NOT_VNC");
    let at_vnc = env.api.record_asset_sale(req(sale(2023, 300_000, 300_000, pb::Buyer::SocialSecurityBody, None))).await.expect("at VNC");
    assert!(at_vnc.into_inner().sale.expect("sale").uplifts.is_empty());
    // 2024: a loss raises nothing; a gain waits for the next COG.
    let count = movements(&env).await;
    let loss = env.api.record_asset_sale(req(sale(2024, 250_000, 300_000, pb::Buyer::Other, None))).await.expect("loss").into_inner();
    assert!(loss.sale.expect("sale").uplifts.is_empty());
    let gain = env.api.record_asset_sale(req(sale(2024, 500_000, 300_000, pb::Buyer::Other, None))).await.expect("gain").into_inner();
    let u = gain.sale.expect("sale").uplifts;
    assert_eq!((u.len(), u[0].year, u[0].amount_cents, u[0].state.as_str()), (1, 2025, 200_000 * EUR, "PENDING_NEXT_COG"));
    assert_eq!(movements(&env).await, count, "no movement for the loss nor for 2025");
}

#[tokio::test]
async fn asset_sale_totals_sum_the_floor_area_sold_in_the_deed_year() {
    let env = setup().await;
    let sale = |year: i32, asset: &str, m2: i32| pb::RecordAssetSaleRequest {
        year,
        asset: asset.into(),
        sale_date: format!("{year}-09-30"),
        price_cents: 400_000 * EUR,
        net_book_value_cents: 100_000 * EUR,
        buyer: pb::Buyer::Other as i32,
        investment_percent: None,
        square_metres: m2,
        reason: "décision du directeur général".into(),
        request_id: String::new(),
    };
    // 2023: 1,200 + 2,300 m², and a sale recorded without its floor area; 2024: 500 m².
    for (year, asset, m2) in [(2023, "A", 1_200), (2023, "B", 2_300), (2023, "C", 0), (2024, "D", 500)] {
        env.api.record_asset_sale(req(sale(year, asset, m2))).await.expect("sale");
    }
    let totals = |year: i32| {
        let api = env.api.clone();
        async move { api.get_asset_sale_totals(req(pb::GetAssetSaleTotalsRequest { year })).await }
    };
    let t = totals(2023).await.expect("2023").into_inner();
    assert_eq!((t.year, t.sales, t.square_metres, t.sales_without_square_metres, t.price_cents), (2023, 3, 3_500, 1, 1_200_000 * EUR));
    assert_eq!(totals(2024).await.expect("2024").into_inner().square_metres, 500);
    assert_eq!(totals(2022).await.expect("2022").into_inner().sales, 0);
    assert_eq!(totals(-3).await.expect_err("bad year").code(), Code::InvalidArgument);
}
