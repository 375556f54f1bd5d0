//! The indicator catalogue against a real PostgreSQL, one fresh database per
//! test: loaded once from the reference tables, every indicator with a
//! source, definitions versioned, earlier values reproducible.

mod common;

use std::collections::BTreeSet;

use common::{as_role, req, setup};
use filieris_proto::steering as pb;
use filieris_proto::steering::steering_service_server::SteeringService;
use tonic::Code;

fn reason(status: &tonic::Status) -> String {
    let details = tonic_types::StatusExt::get_error_details(status);
    details.error_info().map(|i| i.reason.clone()).unwrap_or_default()
}

async fn definitions(env: &common::Env, cog: &str) -> Vec<pb::IndicatorDefinition> {
    env.api
        .list_indicator_definitions(req(pb::ListIndicatorDefinitionsRequest { cog: cog.into() }))
        .await
        .expect("list")
        .into_inner()
        .definitions
}

#[tokio::test]
async fn every_indicator_of_the_2022_2024_table_is_loaded_once_with_a_source() {
    let env = setup().await;
    // A second start adds nothing.
    let again = env.store.load_reference().await.expect("reload");
    assert_eq!((again.indicators, again.targets, again.actions, again.values), (0, 0, 0, 0));

    let defs = definitions(&env, "COG22").await;
    let keys: BTreeSet<String> = defs.iter().map(|d| d.key.clone()).collect();
    let mut expected = BTreeSet::new();
    for n in 1..=12 {
        expected.insert(format!("COG22.FINRES.{n}"));
    }
    for n in (1..=11).chain(14..=19) {
        expected.insert(format!("COG22.SUP.{n}"));
    }
    for n in (1..=8).chain(10..=16) {
        expected.insert(format!("COG22.OFFRE.{n}"));
    }
    assert_eq!(keys, expected);
    // Annex order: financial results, supports, health offer.
    assert_eq!(defs[0].key, "COG22.FINRES.1");
    assert_eq!(defs[12].key, "COG22.SUP.1");
    assert_eq!(defs[43].key, "COG22.OFFRE.16");
    for d in &defs {
        let s = d.source.as_ref().expect("source");
        assert_ne!(s.kind, pb::SourceKind::Unspecified as i32, "{}", d.key);
        if s.kind == pb::SourceKind::NotYetAvailable as i32 || s.kind == pb::SourceKind::Manual as i32 {
            assert!(!s.reason.is_empty(), "{} has no reason", d.key);
        }
        assert_eq!(d.version, 1);
    }
    let by_key = |k: &str| defs.iter().find(|d| d.key == k).expect(k);
    assert_eq!(
        by_key("COG22.OFFRE.11").source.as_ref().map(|s| s.reference.as_str()),
        Some("ACTIVITY_OPENING_RATE_ACTS{GENERAL_MEDICINE}")
    );
    assert_eq!(by_key("COG22.OFFRE.15").source.as_ref().map(|s| s.reference.as_str()), Some("ACTIVITY_OPENING_RATE_PATIENTS{NURSING}"));
    assert_eq!(by_key("COG22.FINRES.8").source.as_ref().map(|s| s.reference.as_str()), Some("FINANCE_TARGET{8}"));
    assert_eq!(by_key("COG22.SUP.1").source.as_ref().map(|s| s.reference.as_str()), Some("HR_INDICATOR{COG22.SUP.1}"));
    // Special values stay as printed.
    let base = by_key("COG22.SUP.2").base.clone().expect("base");
    assert_eq!((base.raw.as_str(), base.kind), ("NC", pb::ValueKind::Nc as i32));
    let base = by_key("COG22.FINRES.1").base.clone().expect("base");
    assert_eq!((base.numerator, base.scale, base.year), (-280_551_512, 2, 2019));

    assert_eq!(definitions(&env, "COG18").await.len(), 38);

    let targets = env
        .api
        .list_indicator_targets(req(pb::ListIndicatorTargetsRequest { parent: "indicators/COG22.SUP.2".into() }))
        .await
        .expect("targets")
        .into_inner()
        .targets;
    let typed: Vec<(i32, i32)> = targets.iter().map(|t| (t.year, t.r#type)).collect();
    assert_eq!(typed, [(2022, pb::TargetType::Min as i32), (2023, pb::TargetType::Min as i32), (2024, pb::TargetType::Blank as i32)]);
}

#[tokio::test]
async fn a_definition_edit_keeps_earlier_values_reproducible() {
    let env = setup().await;
    let manual = |numerator: i64, request_id: &str| pb::RecordManualValueRequest {
        indicator: "indicators/COG22.OFFRE.2".into(),
        year: 2022,
        kind: pb::ValueKind::Value as i32,
        numerator,
        denominator: Some(11),
        comment: "HAS decisions at 31 December".into(),
        request_id: request_id.into(),
    };
    let first = env.api.record_manual_value(req(manual(8, "v1"))).await.expect("manual").into_inner().value.expect("value");
    assert_eq!((first.display.as_str(), first.definition_version), ("72.7", 1));
    assert_eq!(first.provenance, pb::Provenance::Manual as i32);
    // Replaying the same request id records nothing new.
    let replay = env.api.record_manual_value(req(manual(8, "v1"))).await.expect("replay").into_inner().value.expect("value");
    assert_eq!(replay.sequence, first.sequence);
    let published = env
        .api
        .list_indicator_values(req(pb::ListIndicatorValuesRequest { year: 2022, as_of_time: None, ..Default::default() }))
        .await
        .expect("values")
        .into_inner()
        .values;
    assert_eq!(published.len(), 44);
    let t1 = first.record_time.expect("time");

    // The definition changes: two decimals.
    let mut d = env
        .api
        .get_indicator_definition(req(pb::GetIndicatorDefinitionRequest { name: "indicators/COG22.OFFRE.2".into(), version: 0 }))
        .await
        .expect("get")
        .into_inner()
        .definition
        .expect("definition");
    d.decimals = 2;
    let updated = env
        .api
        .update_indicator_definition(req(pb::UpdateIndicatorDefinitionRequest {
            definition: Some(d.clone()),
            expected_version: 1,
            reason: "annex shows two decimals".into(),
            request_id: "edit-1".into(),
        }))
        .await
        .expect("update")
        .into_inner()
        .definition
        .expect("definition");
    assert_eq!((updated.version, updated.decimals, updated.recorded_by.as_str()), (2, 2, "staff:steering-test"));
    // A stale edit is refused, and the reference load does not overwrite the edit.
    let stale = env
        .api
        .update_indicator_definition(req(pb::UpdateIndicatorDefinitionRequest {
            definition: Some(d),
            expected_version: 1,
            reason: "again".into(),
            request_id: String::new(),
        }))
        .await
        .expect_err("stale");
    assert_eq!((stale.code(), reason(&stale).as_str()), (Code::Aborted, "DEFINITION_VERSION_CONFLICT"));
    env.store.load_reference().await.expect("reload");

    let second = env.api.record_manual_value(req(manual(9, "v2"))).await.expect("manual").into_inner().value.expect("value");
    assert_eq!((second.display.as_str(), second.definition_version), ("81.82", 2));

    // As of the first publication: the same value, version and display as then.
    let as_of = |t: prost_types::Timestamp| pb::ListIndicatorValuesRequest { year: 2022, as_of_time: Some(t), ..Default::default() };
    let then = env.api.list_indicator_values(req(as_of(t1))).await.expect("as of").into_inner().values;
    let then_offre2 = then.iter().find(|v| v.indicator == "indicators/COG22.OFFRE.2").expect("OFFRE.2");
    assert_eq!(then_offre2, published.iter().find(|v| v.indicator == "indicators/COG22.OFFRE.2").expect("OFFRE.2"));
    assert_eq!(then, published);
    let now = env
        .api
        .list_indicator_values(req(pb::ListIndicatorValuesRequest { year: 2022, as_of_time: None, ..Default::default() }))
        .await
        .expect("now")
        .into_inner()
        .values;
    assert_eq!(now.iter().find(|v| v.indicator == "indicators/COG22.OFFRE.2").map(|v| v.display.as_str()), Some("81.82"));
    // The version used then is still readable.
    let v1 = env
        .api
        .get_indicator_definition(req(pb::GetIndicatorDefinitionRequest { name: "indicators/COG22.OFFRE.2".into(), version: 1 }))
        .await
        .expect("v1")
        .into_inner()
        .definition
        .expect("definition");
    assert_eq!((v1.version, v1.decimals), (1, 1));
    let versions = env
        .api
        .list_indicator_definition_versions(req(pb::ListIndicatorDefinitionVersionsRequest { name: "indicators/COG22.OFFRE.2".into() }))
        .await
        .expect("versions")
        .into_inner()
        .versions;
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2]);
    // History rows cannot be rewritten.
    let rewrite = sqlx::query("UPDATE indicator_value SET display = 'x'").execute(&env.pool).await;
    assert!(rewrite.is_err());
}

#[tokio::test]
async fn manual_values_only_for_manual_sources_and_writes_need_the_role() {
    let env = setup().await;
    let body = pb::RecordManualValueRequest {
        indicator: "indicators/COG22.OFFRE.12".into(),
        year: 2022,
        kind: pb::ValueKind::Value as i32,
        numerator: 1,
        denominator: Some(2),
        comment: String::new(),
        request_id: String::new(),
    };
    let refused = env.api.record_manual_value(req(body.clone())).await.expect_err("computed indicator");
    assert_eq!((refused.code(), reason(&refused).as_str()), (Code::FailedPrecondition, "INDICATOR_NOT_MANUAL"));
    let denied = env.api.record_manual_value(as_role(body, &["reader"])).await.expect_err("reader");
    assert_eq!((denied.code(), reason(&denied).as_str()), (Code::PermissionDenied, "STEERING_WRITE_DENIED"));
    let nd_without_reason = pb::RecordManualValueRequest {
        indicator: "indicators/COG22.OFFRE.1".into(),
        year: 2022,
        kind: pb::ValueKind::Nd as i32,
        numerator: 0,
        denominator: None,
        comment: String::new(),
        request_id: String::new(),
    };
    let invalid = env.api.record_manual_value(req(nd_without_reason.clone())).await.expect_err("no reason");
    assert_eq!(invalid.code(), Code::InvalidArgument);
    let nd = env
        .api
        .record_manual_value(req(pb::RecordManualValueRequest { comment: "AFNOR audit report pending".into(), ..nd_without_reason }))
        .await
        .expect("nd")
        .into_inner()
        .value
        .expect("value");
    assert_eq!(
        (nd.kind, nd.status, nd.reason.as_str()),
        (pb::ValueKind::Nd as i32, pb::Status::NoTarget as i32, "AFNOR audit report pending")
    );
    let unknown = env
        .api
        .get_indicator_definition(req(pb::GetIndicatorDefinitionRequest { name: "indicators/COG22.SUP.12".into(), version: 0 }))
        .await
        .expect_err("no SUP.12");
    assert_eq!((unknown.code(), reason(&unknown).as_str()), (Code::NotFound, "INDICATOR_NOT_FOUND"));
}

#[tokio::test]
async fn computing_with_unreachable_sources_stores_every_indicator_as_not_available_with_a_reason() {
    let env = setup().await;
    let out = env
        .api
        .compute_indicators(req(pb::ComputeIndicatorsRequest { year: 2022, ..Default::default() }))
        .await
        .expect("compute")
        .into_inner();
    // Manual indicators without a value are stored too, with their reason; national and three regions.
    assert_eq!(out.values.len(), 4 * 44);
    assert_eq!(out.not_available, 4 * 44);
    for v in &out.values {
        assert_eq!(v.kind, pb::ValueKind::Nd as i32, "{}", v.indicator);
        assert!(!v.reason.is_empty(), "{}", v.indicator);
        assert_eq!(v.definition_version, 1);
    }
    let fin1 = out.values.iter().find(|v| v.indicator == "indicators/COG22.FINRES.1" && v.scope == "national").expect("FINRES.1");
    assert!(fin1.reason.starts_with("finance did not answer"), "{}", fin1.reason);
    assert_eq!((fin1.status, fin1.target_raw.as_str()), (pb::Status::NotEvaluable as i32, "-40%"));
    let bad_year =
        env.api.compute_indicators(req(pb::ComputeIndicatorsRequest { year: 2030, ..Default::default() })).await.expect_err("2030");
    assert_eq!(bad_year.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn dashboard_tiles_show_each_year_and_the_trend() {
    let env = setup().await;
    for (year, numerator, rid) in [(2022, 8, "d22"), (2023, 9, "d23")] {
        env.api
            .record_manual_value(req(pb::RecordManualValueRequest {
                indicator: "indicators/COG22.OFFRE.2".into(),
                year,
                kind: pb::ValueKind::Value as i32,
                numerator,
                denominator: Some(11),
                comment: "HAS".into(),
                request_id: rid.into(),
            }))
            .await
            .expect("manual");
    }
    let tiles = env.api.get_dashboard(req(pb::GetDashboardRequest::default())).await.expect("dashboard").into_inner().tiles;
    assert_eq!(tiles.len(), 44);
    let t = tiles.iter().find(|t| t.indicator == "indicators/COG22.OFFRE.2").expect("tile");
    let points: Vec<(i32, &str, i32)> = t.points.iter().map(|p| (p.year, p.display.as_str(), p.kind)).collect();
    let (v, nd) = (pb::ValueKind::Value as i32, pb::ValueKind::Nd as i32);
    assert_eq!(points, [(2022, "72.7", v), (2023, "81.8", v), (2024, "", nd)]);
    assert_eq!(t.trend, pb::Trend::Up as i32);
    let fin1 = tiles.iter().find(|t| t.indicator == "indicators/COG22.FINRES.1").expect("tile");
    assert_eq!(fin1.points.iter().map(|p| p.target_raw.as_str()).collect::<Vec<_>>(), ["-40%", "-55%", "-70%"]);
    assert_eq!(fin1.trend, pb::Trend::Unspecified as i32);
}

#[tokio::test]
async fn the_2018_annex_is_held_as_printed_and_the_activity_rows_are_computed() {
    let env = setup().await;
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM indicator_value WHERE year = 2018 AND provenance = 'MANUAL'")
        .fetch_one(&env.pool)
        .await
        .expect("n");
    // 38 rows, less the 7 activity rows (24-30) the platform computes.
    assert_eq!(n, 31);
    let values = env
        .api
        .list_indicator_values(req(pb::ListIndicatorValuesRequest { year: 2018, as_of_time: None, ..Default::default() }))
        .await
        .expect("2018")
        .into_inner()
        .values;
    assert_eq!(values.len(), 38);
    let v = |key: &str| values.iter().find(|v| v.indicator == format!("indicators/{key}")).expect(key);
    let freyming = v("COG18.FINRES.30");
    assert_eq!((freyming.numerator, freyming.display.as_str(), freyming.status), (-365_800_000, "-3658000.00", pb::Status::Met as i32));
    let home_help = v("COG18.FINRES.34");
    assert_eq!(
        (home_help.status, home_help.qualifiers.as_slice()),
        (pb::Status::NotMet as i32, &[pb::Qualifier::BetterThanBase as i32][..])
    );
    assert_eq!(v("COG18.OFFRE.15").kind, pb::ValueKind::Nc as i32);
    assert_eq!(v("COG18.OFFRE.26").provenance, pb::Provenance::NotAvailable as i32, "computed from activity, never typed in");
    // Computing 2018 keeps the printed values and asks activity for its rows.
    let out = env
        .api
        .compute_indicators(req(pb::ComputeIndicatorsRequest { year: 2018, ..Default::default() }))
        .await
        .expect("compute")
        .into_inner();
    // Nationally the printed MANUAL values stay as entered; the regions get every row (MANUAL: not available there).
    assert_eq!(out.values.iter().filter(|v| v.scope == "national").count(), 7);
    assert_eq!(out.values.len(), 7 + 3 * 38);
}

#[tokio::test]
async fn a_newer_reference_table_moves_unedited_definitions_to_a_new_version() {
    let env = setup().await;
    // What an older release loaded for OFFRE.5: not available yet.
    let (version, mut old): (i64, serde_json::Value) =
        sqlx::query_as("SELECT version, definition FROM indicator_version WHERE key = 'COG22.OFFRE.5' ORDER BY version DESC LIMIT 1")
            .fetch_one(&env.pool)
            .await
            .expect("OFFRE.5");
    let current = old.clone();
    old["source"] = serde_json::json!({"kind": "NOT_YET_AVAILABLE", "parameter": "not wired in that release"});
    assert_ne!(old, current, "the test must change the source");
    sqlx::query(
        "INSERT INTO indicator_version (key, version, definition, reason, recorded_by) \
         VALUES ('COG22.OFFRE.5', $1, $2, 'older release', $3)",
    )
    .bind(version + 1)
    .bind(&old)
    .bind(filieris_steering::storage::SERVICE_CALLER)
    .execute(&env.pool)
    .await
    .expect("older definition");

    // The next start brings it back to the reference, as a new version; the old one stays.
    let load = env.store.load_reference().await.expect("reload");
    assert_eq!(load.updated, 1);
    let rows: Vec<(i64, serde_json::Value, String)> =
        sqlx::query_as("SELECT version, definition, reason FROM indicator_version WHERE key = 'COG22.OFFRE.5' ORDER BY version")
            .fetch_all(&env.pool)
            .await
            .expect("versions");
    assert_eq!(rows.len() as i64, version + 2);
    assert_eq!(rows[rows.len() - 2].1, old);
    assert_eq!(rows[rows.len() - 1].1, current);
    assert_eq!(rows[rows.len() - 1].2, "updated from a newer reference table");
    // And nothing more on the start after.
    assert_eq!(env.store.load_reference().await.expect("reload").updated, 0);
}
