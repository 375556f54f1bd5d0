//! Row-level scoping of the activity metrics: a structure manager reads its
//! centre's rows only, a regional controller its region's; a scope outside
//! the caller's visibility is refused with SCOPE_NOT_VISIBLE.

mod common;

use filieris_activity::grpc::ActivityApi;
use filieris_activity::records::grpc::RecordsApi;
use filieris_proto::activity as pb;
use filieris_proto::activity::activity_records_service_server::ActivityRecordsService;
use filieris_proto::activity::activity_service_server::ActivityService;
use filieris_proto::types::Region;
use filieris_runtime::identity::{CallerKind, Identity};
use tonic::{Code, Request};

fn req<T>(body: T, who: &Identity) -> Request<T> {
    let mut r = Request::new(body);
    r.extensions_mut().insert(who.clone());
    r
}

fn staff(scopes: &[String]) -> Identity {
    Identity { caller: "staff:scoped".into(), kind: CallerKind::Staff, roles: vec!["reader".into()], scopes: scopes.to_vec() }
}

fn act(finess: &str, day: u32, nir: &str) -> pb::ActInput {
    pb::ActInput {
        act_date: format!("2018-03-{day:02}"),
        finess: finess.into(),
        line: pb::ActivityLine::GeneralMedicine as i32,
        nomenclature: pb::Nomenclature::Ngap as i32,
        code: "C".into(),
        mode: 0,
        patient: Some(pb::PatientRef { identity: Some(pb::patient_ref::Identity::Nir(nir.into())) }),
        scheme: pb::Scheme::Other as i32,
        amount_cents: 2500,
        source_ref: String::new(),
    }
}

async fn by_structure(api: &ActivityApi, who: &Identity, scope: &str) -> Result<Vec<(String, i64)>, tonic::Status> {
    let rows = api
        .query_activity_metrics(req(
            pb::QueryActivityMetricsRequest {
                period: "2018".into(),
                scope: scope.into(),
                line: 0,
                group_by: vec![pb::MetricDimension::Structure as i32],
            },
            who,
        ))
        .await?
        .into_inner()
        .rows;
    let mut cells: Vec<(String, i64)> = rows.into_iter().map(|r| (r.finess, r.acts)).collect();
    cells.sort();
    Ok(cells)
}

fn reason(status: &tonic::Status) -> String {
    tonic_types::StatusExt::get_details_error_info(status).map(|i| i.reason).unwrap_or_default()
}

#[tokio::test]
async fn structure_managers_and_regional_controllers_see_their_rows_only() {
    let h = common::harness().await;
    let pool = h.pool.clone();
    let records = RecordsApi::new(h.store.clone(), h.channel.clone(), h.key.clone());
    let api = ActivityApi::new(h.store, h.sync);
    let admin = common::admin("job:scoping-test");

    // One centre per region where the demo has one, and a second centre of the first region.
    let rows: Vec<(String, i16)> = sqlx::query_as("SELECT finess, region FROM structure_cache WHERE finess = ANY($1) ORDER BY finess")
        .bind(&h.centres)
        .fetch_all(&pool)
        .await
        .expect("regions");
    let first = rows[0].clone();
    let same_region = rows.iter().skip(1).find(|(_, r)| *r == first.1).cloned().expect("two centres in one region");
    let other_region = rows.iter().find(|(_, r)| *r != first.1).cloned().expect("a centre of another region");
    let acts = vec![
        act(&first.0, 1, "189127512501282"),
        act(&first.0, 2, "255081416802538"),
        act(&same_region.0, 3, "189127512501282"),
        act(&other_region.0, 4, "253072B07300470"),
    ];
    api.create_act_batch(req(pb::CreateActBatchRequest { request_id: "scoping-1".into(), source_system: "test".into(), acts }, &admin))
        .await
        .expect("batch");

    // Everything for a `*` caller.
    let all = by_structure(&api, &admin, "").await.expect("national");
    assert_eq!(all.len(), 3, "{all:?}");

    // The manager of `first`: national → its centre only; another centre → refused.
    let manager = staff(&[format!("structure:{}", first.0)]);
    assert_eq!(by_structure(&api, &manager, "").await.expect("own rows"), vec![(first.0.clone(), 2)]);
    assert_eq!(by_structure(&api, &manager, &format!("structures/{}", first.0)).await.expect("own centre"), vec![(first.0.clone(), 2)]);
    let err = by_structure(&api, &manager, &format!("structures/{}", other_region.0)).await.expect_err("refused");
    assert_eq!((err.code(), reason(&err).as_str()), (Code::PermissionDenied, "SCOPE_NOT_VISIBLE"));
    let region_name = Region::try_from(i32::from(first.1)).expect("region").as_str_name().trim_start_matches("REGION_").to_owned();
    let err = by_structure(&api, &manager, &format!("regions/{region_name}")).await.expect_err("its region is wider");
    assert_eq!(err.code(), Code::PermissionDenied);

    // The controller of `first`'s region: both centres there, not the other region's.
    let controller = staff(&[format!("region:{region_name}")]);
    let seen = by_structure(&api, &controller, "").await.expect("region rows");
    assert_eq!(seen, vec![(first.0.clone(), 2), (same_region.0.clone(), 1)]);
    let err = by_structure(&api, &controller, &format!("structures/{}", other_region.0)).await.expect_err("refused");
    assert_eq!(err.code(), Code::PermissionDenied);

    // The opening rate follows the same visibility.
    let rate = api
        .get_opening_rate(req(
            pb::GetOpeningRateRequest { period: "2018".into(), line: pb::ActivityLine::GeneralMedicine as i32, scope: String::new() },
            &manager,
        ))
        .await
        .expect("rate")
        .into_inner();
    assert_eq!(rate.acts.map(|a| a.denominator), Some(2), "the manager's rate counts its centre's acts");

    // The activity records' aggregates follow the same visibility.
    let trainees = |who: Identity, scope: String| {
        let records = records.clone();
        async move {
            records
                .count_trainees(req(pb::CountTraineesRequest { period: "2018".into(), scope, ..Default::default() }, &who))
                .await
                .map(|_| ())
                .map_err(|e| e.code())
        }
    };
    assert_eq!(trainees(manager.clone(), format!("structures/{}", first.0)).await, Ok(()));
    assert_eq!(trainees(manager.clone(), format!("structures/{}", other_region.0)).await, Err(Code::PermissionDenied));
    assert_eq!(trainees(controller.clone(), format!("structures/{}", other_region.0)).await, Err(Code::PermissionDenied));

    // A caller without any region or structure scope sees nothing.
    let nobody = staff(&["partner:CDC".to_owned()]);
    assert_eq!(by_structure(&api, &nobody, "").await.expect("empty"), vec![]);
}
