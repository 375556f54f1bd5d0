//! Target amendments (avenants) against a real PostgreSQL: typed and
//! validated input, reason and author recorded, an append-only history per
//! indicator and year, idempotency by request id and an optimistic check.

mod common;

use common::{as_role, req, setup};
use filieris_proto::steering as pb;
use filieris_proto::steering::steering_service_server::SteeringService;
use tonic::Code;

fn reason(status: &tonic::Status) -> String {
    let details = tonic_types::StatusExt::get_error_details(status);
    details.error_info().map(|i| i.reason.clone()).unwrap_or_default()
}

fn fields(status: &tonic::Status) -> Vec<String> {
    let details = tonic_types::StatusExt::get_error_details(status);
    details.bad_request().map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect()).unwrap_or_default()
}

fn amend(name: &str, target: pb::IndicatorTarget, expected: i32, rid: &str) -> pb::AmendIndicatorTargetRequest {
    pb::AmendIndicatorTargetRequest {
        name: name.into(),
        target: Some(target),
        expected_amendment: expected,
        reason: "Avenant n°1 du 2023-06-30".into(),
        comment: String::new(),
        request_id: rid.into(),
    }
}

fn typed(t: pb::TargetType) -> pb::IndicatorTarget {
    pb::IndicatorTarget { r#type: t as i32, ..Default::default() }
}

#[tokio::test]
async fn an_amendment_appends_a_typed_target_with_its_reason_and_author() {
    let env = setup().await;
    let name = "indicators/COG22.FINRES.1/targets/2023";
    // Break-even with a 1,000 € tolerance instead of −55 %.
    let t = pb::IndicatorTarget { tolerance_cents: 100_000, ..typed(pb::TargetType::Equilibrium) };
    let out = env.api.amend_indicator_target(req(amend(name, t.clone(), 0, "a1"))).await.expect("amend").into_inner();
    let target = out.target.expect("target");
    assert_eq!(
        (target.name.as_str(), target.amendment, target.raw.as_str(), target.tolerance_cents),
        (name, 1, "Equilibre (tolérance 1000,00 €)", 100_000)
    );
    assert_eq!((target.reason.as_str(), target.recorded_by.as_str()), ("Avenant n°1 du 2023-06-30", "staff:steering-test"));

    // The same request id replays the same answer; nothing is appended twice.
    let again = env.api.amend_indicator_target(req(amend(name, t, 0, "a1"))).await.expect("replay").into_inner();
    assert_eq!(again.target.map(|t| t.amendment), Some(1));

    // Based on amendment 0 while 1 is in force: refused, the caller re-reads.
    let stale = pb::IndicatorTarget { percent: 50, ..typed(pb::TargetType::ReduceDeficit) };
    let conflict = env.api.amend_indicator_target(req(amend(name, stale.clone(), 0, "a2"))).await.expect_err("stale");
    assert_eq!((conflict.code(), reason(&conflict).as_str()), (Code::Aborted, "TARGET_AMENDMENT_CONFLICT"));
    let second = env.api.amend_indicator_target(req(amend(name, stale, -1, "a3"))).await.expect("no check").into_inner();
    assert_eq!(second.target.map(|t| (t.amendment, t.raw, t.percent)), Some((2, "-50%".into(), 50)));

    // History, oldest first: the signed COG then the amendments.
    let versions = env
        .api
        .list_indicator_target_versions(req(pb::ListIndicatorTargetVersionsRequest { name: name.into() }))
        .await
        .expect("versions")
        .into_inner()
        .versions;
    let summary: Vec<(i32, &str, i32)> = versions.iter().map(|v| (v.amendment, v.raw.as_str(), v.r#type)).collect();
    assert_eq!(
        summary,
        [
            (0, "-55%", pb::TargetType::ReduceDeficit as i32),
            (1, "Equilibre (tolérance 1000,00 €)", pb::TargetType::Equilibrium as i32),
            (2, "-50%", pb::TargetType::ReduceDeficit as i32)
        ]
    );
    assert_eq!(versions[0].reason, "signed COG (reference table)");

    // The targets in force: 2023 amended, the other years as signed.
    let targets = env
        .api
        .list_indicator_targets(req(pb::ListIndicatorTargetsRequest { parent: "indicators/COG22.FINRES.1".into() }))
        .await
        .expect("targets")
        .into_inner()
        .targets;
    assert_eq!(
        targets.iter().map(|t| (t.year, t.amendment, t.raw.as_str())).collect::<Vec<_>>(),
        [(2022, 0, "-40%"), (2023, 2, "-50%"), (2024, 0, "-70%")]
    );

    // Append-only: the history cannot be rewritten.
    let update = sqlx::query("UPDATE indicator_target SET raw = 'x' WHERE key = 'COG22.FINRES.1'").execute(&env.pool).await;
    assert!(update.is_err());
}

#[tokio::test]
async fn amendments_are_validated_and_need_the_steering_role() {
    let env = setup().await;
    let bad = |r: pb::AmendIndicatorTargetRequest| {
        let api = env.api.clone();
        async move { api.amend_indicator_target(req(r)).await.expect_err("invalid") }
    };
    let sup1 = "indicators/COG22.SUP.1/targets/2024";
    // A deficit reduction on a percentage indicator.
    let e = bad(amend(sup1, pb::IndicatorTarget { percent: 10, ..typed(pb::TargetType::ReduceDeficit) }, -1, "v1")).await;
    assert_eq!((e.code(), fields(&e)), (Code::InvalidArgument, vec!["target.type".to_owned()]));
    // A range upside down.
    let range = pb::IndicatorTarget {
        low: Some(pb::Decimal { units: 28, scale: 1 }),
        high: Some(pb::Decimal { units: 22, scale: 1 }),
        ..typed(pb::TargetType::Range)
    };
    assert_eq!(fields(&bad(amend(sup1, range, -1, "v2")).await), ["target.high"]);
    // A minimum without its bound; no type at all; no reason; a year outside the COG; a bad name.
    assert_eq!(fields(&bad(amend(sup1, typed(pb::TargetType::Min), -1, "v3")).await), ["target.low"]);
    assert_eq!(fields(&bad(amend(sup1, pb::IndicatorTarget::default(), -1, "v4")).await), ["target.type"]);
    let no_reason = pb::AmendIndicatorTargetRequest { reason: " ".into(), ..amend(sup1, typed(pb::TargetType::None), -1, "v5") };
    assert_eq!(fields(&bad(no_reason).await), ["reason"]);
    assert_eq!(fields(&bad(amend("indicators/COG22.SUP.1/targets/2019", typed(pb::TargetType::None), -1, "v6")).await), ["name"]);
    assert_eq!(fields(&bad(amend("indicators/COG22.SUP.1", typed(pb::TargetType::None), -1, "v7")).await), ["name"]);
    let missing = env
        .api
        .amend_indicator_target(req(amend("indicators/COG22.SUP.99/targets/2024", typed(pb::TargetType::None), -1, "v8")))
        .await
        .expect_err("unknown");
    assert_eq!((missing.code(), reason(&missing).as_str()), (Code::NotFound, "INDICATOR_NOT_FOUND"));
    // A reader may not amend.
    let denied =
        env.api.amend_indicator_target(as_role(amend(sup1, typed(pb::TargetType::None), -1, "v9"), &["reader"])).await.expect_err("reader");
    assert_eq!((denied.code(), reason(&denied).as_str()), (Code::PermissionDenied, "STEERING_WRITE_DENIED"));
    // A blank cell stays blank; a text target keeps its text.
    let blank = env.api.amend_indicator_target(req(amend(sup1, typed(pb::TargetType::Blank), -1, "v10"))).await.expect("blank");
    assert_eq!(blank.into_inner().target.map(|t| (t.raw, t.r#type)), Some((String::new(), pb::TargetType::Blank as i32)));
    let text = pb::IndicatorTarget { raw: "5%/91%".into(), ..typed(pb::TargetType::Text) };
    let text = env.api.amend_indicator_target(req(amend(sup1, text, -1, "v11"))).await.expect("text").into_inner();
    assert_eq!(text.target.map(|t| (t.amendment, t.raw)), Some((2, "5%/91%".into())));
    // Nothing was appended by the refused calls.
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM indicator_target WHERE key = 'COG22.SUP.1' AND year = 2024")
        .fetch_one(&env.pool)
        .await
        .expect("n");
    assert_eq!(n, 3);
}
