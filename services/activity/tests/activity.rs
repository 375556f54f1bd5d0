//! Activity behaviour against a real PostgreSQL and a real registry server
//! (in process, on a free port), one fresh database per test.

mod common;

use filieris_activity::grpc::ActivityApi;
use filieris_proto::activity as pb;
use filieris_proto::activity::activity_service_server::ActivityService;
use filieris_runtime::identity::Identity;
use sqlx::PgPool;
use tonic::{Code, Request};

struct Env {
    api: ActivityApi,
    pool: PgPool,
    /// FINESS of open demo health centres (opened before 2018).
    centres: Vec<String>,
    /// FINESS of a demo pharmacy closed... or any closed structure.
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn admin() -> Identity {
    common::admin("job:test-import")
}

fn req<T>(body: T) -> Request<T> {
    let mut r = Request::new(body);
    r.extensions_mut().insert(admin());
    r
}

async fn setup() -> Env {
    let h = common::harness().await;
    Env { api: ActivityApi::new(h.store, h.sync), pool: h.pool, centres: h.centres, _stop: h.stop }
}

fn nir_act(finess: &str, date: &str, nir: &str, scheme: pb::Scheme) -> pb::ActInput {
    pb::ActInput {
        act_date: date.into(),
        finess: finess.into(),
        line: pb::ActivityLine::GeneralMedicine as i32,
        nomenclature: pb::Nomenclature::Ngap as i32,
        code: "C".into(),
        mode: 0,
        patient: Some(pb::PatientRef { identity: Some(pb::patient_ref::Identity::Nir(nir.into())) }),
        scheme: scheme as i32,
        amount_cents: 2500,
        source_ref: String::new(),
    }
}

async fn batch(env: &Env, request_id: &str, acts: Vec<pb::ActInput>) -> pb::ActBatch {
    env.api
        .create_act_batch(req(pb::CreateActBatchRequest { request_id: request_id.into(), source_system: "test".into(), acts }))
        .await
        .expect("batch")
        .into_inner()
        .batch
        .expect("batch")
}

async fn rate(env: &Env, period: &str, scope: &str) -> pb::GetOpeningRateResponse {
    env.api
        .get_opening_rate(req(pb::GetOpeningRateRequest {
            period: period.into(),
            line: pb::ActivityLine::GeneralMedicine as i32,
            scope: scope.into(),
        }))
        .await
        .expect("rate")
        .into_inner()
}

// Valid NIRs of the domain notes (activity.md / registry.md §2.6).
const NIR_A: &str = "189127512501282";
const NIR_B: &str = "255081416802538";
const NIR_C: &str = "253072B07300470";

#[tokio::test]
async fn invalid_rows_are_reported_and_valid_rows_stored() {
    let env = setup().await;
    let f = env.centres[0].clone();
    let mut rows = vec![nir_act(&f, "2018-03-01", NIR_A, pb::Scheme::Other)];
    rows.push(nir_act(&f, "2018-03-02", "189127512501283", pb::Scheme::Other)); // wrong NIR key
    rows.push(nir_act("750712184", "2018-03-03", NIR_A, pb::Scheme::Other)); // unknown FINESS
    let mut ccam = nir_act(&f, "2018-03-04", NIR_B, pb::Scheme::Mining);
    ccam.nomenclature = pb::Nomenclature::Ccam as i32;
    ccam.code = "HB38".into(); // malformed CCAM
    rows.push(ccam);
    let (opened,): (chrono::NaiveDate,) = sqlx::query_as("SELECT open_date FROM activity.structure_cache WHERE finess = $1")
        .bind(&f)
        .fetch_one(&env.pool)
        .await
        .expect("open date");
    let before = opened.pred_opt().expect("day before").to_string();
    rows.push(nir_act(&f, &before, NIR_B, pb::Scheme::Mining)); // structure not open then
    rows.push(nir_act(&f, "2018-03-05", NIR_C, pb::Scheme::Mining));
    let b = batch(&env, "rows-1", rows).await;
    assert_eq!((b.total_rows, b.accepted_rows, b.rejected_rows), (6, 2, 4));
    let by_row: Vec<(i64, &str)> = b.errors.iter().map(|e| (e.row, e.field.as_str())).collect();
    assert!(by_row.contains(&(2, "patient.nir")), "{by_row:?}");
    assert!(by_row.contains(&(3, "finess")), "{by_row:?}");
    assert!(by_row.contains(&(4, "code")), "{by_row:?}");
    assert!(by_row.contains(&(5, "finess")), "{by_row:?}");
    let r = rate(&env, "2018", "").await;
    assert_eq!(r.acts.expect("acts").denominator, 2);
}

#[tokio::test]
async fn no_nir_is_stored_anywhere_in_the_schema() {
    let env = setup().await;
    let f = env.centres[0].clone();
    let nirs = [NIR_A, NIR_B, NIR_C];
    let rows: Vec<_> = nirs.iter().map(|n| nir_act(&f, "2018-05-02", n, pb::Scheme::Other)).collect();
    let mut with_ref = nir_act(&f, "2018-05-03", NIR_A, pb::Scheme::Other);
    with_ref.source_ref = "MLM-42".into();
    let mut all = rows;
    all.push(with_ref);
    batch(&env, "nir-scan", all.clone()).await;
    // The batch's request hash is keyed: not the plain SHA-256 of the rows,
    // which could be tested against guessed NIRs.
    let mut plain = <sha2::Sha256 as sha2::Digest>::new();
    sha2::Digest::update(&mut plain, b"test");
    for row in &all {
        let bytes = prost::Message::encode_to_vec(row);
        sha2::Digest::update(&mut plain, (bytes.len() as u64).to_be_bytes());
        sha2::Digest::update(&mut plain, &bytes);
    }
    let plain = sha2::Digest::finalize(plain).to_vec();
    let stored: Vec<u8> = sqlx::query_scalar("SELECT request_hash FROM activity.act_batch WHERE request_id = 'nir-scan'")
        .fetch_one(&env.pool)
        .await
        .expect("batch");
    let key = filieris_kernel::pseudonym::PseudonymKey::from_hex(common::PSEUDO).expect("key");
    assert_eq!(stored, key.keyed_digest(&plain).to_vec(), "the keyed digest of the rows' hash");
    assert_ne!(stored, plain);
    // Every column of every table of the schema, as text: no NIR, with or without its key.
    let columns: Vec<(String, String)> =
        sqlx::query_as("SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'activity'")
            .fetch_all(&env.pool)
            .await
            .expect("columns");
    assert!(columns.len() > 20);
    for (table, column) in columns {
        for nir in nirs {
            let body = &nir[..13];
            let hex_body: String = body.bytes().map(|b| format!("{b:02x}")).collect();
            let (hits,): (i64,) = sqlx::query_as(&format!(
                "SELECT count(*) FROM activity.\"{table}\" WHERE \"{column}\"::text LIKE '%' || $1 || '%' OR \"{column}\"::text LIKE '%' || $2 || '%'"
            ))
            .bind(body)
            .bind(&hex_body)
            .fetch_one(&env.pool)
            .await
            .expect("scan");
            assert_eq!(hits, 0, "{table}.{column} holds a NIR");
        }
    }
}

#[tokio::test]
async fn resending_a_batch_changes_nothing_and_a_void_updates_the_rates() {
    let env = setup().await;
    let (f1, f2) = (env.centres[0].clone(), env.centres[1].clone());
    // Patient A: 10 acts in one centre; B: one act in each of two centres; C: miner in January, other in June.
    let mut rows = Vec::new();
    for day in 1..=10 {
        rows.push(nir_act(&f1, &format!("2018-02-{day:02}"), NIR_A, pb::Scheme::Other));
    }
    rows.push(nir_act(&f1, "2018-03-01", NIR_B, pb::Scheme::Mining));
    rows.push(nir_act(&f2, "2018-09-01", NIR_B, pb::Scheme::Mining));
    rows.push(nir_act(&f1, "2018-01-10", NIR_C, pb::Scheme::Mining));
    rows.push(nir_act(&f1, "2018-06-10", NIR_C, pb::Scheme::Other));
    let first = batch(&env, "fixture-1", rows.clone()).await;
    assert_eq!(first.accepted_rows, 14);
    let again = batch(&env, "fixture-1", rows.clone()).await;
    assert_eq!(first, again, "same request id, same summary");
    let r = rate(&env, "2018", "national").await;
    let (p, a) = (r.patients.expect("p"), r.acts.expect("a"));
    assert_eq!((p.numerator, p.denominator, p.mining), (2, 3, 1), "A and C are other (C's last act), B is a miner");
    assert_eq!((a.numerator, a.denominator), (11, 14));
    // Per structure: B counts once in each; nationally once.
    let s2 = rate(&env, "2018", &format!("structures/{f2}")).await.patients.expect("p");
    assert_eq!(s2.denominator, 1);
    // A quarter reads the rollups; a week reads the acts.
    assert_eq!(rate(&env, "2018Q1", "").await.acts.expect("a").denominator, 12);
    assert_eq!(rate(&env, "2018W06", "").await.acts.expect("a").denominator, 6);
    // Reusing the request id for another batch is refused.
    let err = env
        .api
        .create_act_batch(req(pb::CreateActBatchRequest {
            request_id: "fixture-1".into(),
            source_system: "test".into(),
            acts: rows[..3].to_vec(),
        }))
        .await
        .expect_err("reused");
    assert_eq!(err.code(), Code::InvalidArgument);

    // Void C's June act: C is now a miner for the year, and one "other" act less.
    // Row 14 of the batch is C's June act.
    let name = format!("{}/acts/14", first.name);
    env.api
        .void_act(req(pb::VoidActRequest { name: name.clone(), reason: "saisie en double".into(), request_id: String::new() }))
        .await
        .expect("void");
    let r = rate(&env, "2018", "").await;
    let (p, a) = (r.patients.expect("p"), r.acts.expect("a"));
    assert_eq!((p.numerator, p.denominator), (1, 3));
    assert_eq!((a.numerator, a.denominator), (10, 13));
    let err = env
        .api
        .void_act(req(pb::VoidActRequest { name, reason: "again".into(), request_id: String::new() }))
        .await
        .expect_err("already void");
    assert_eq!(err.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn metrics_split_by_dimension_and_replacements_keep_history() {
    let env = setup().await;
    let (f1, f2) = (env.centres[0].clone(), env.centres[1].clone());
    let mut rows = Vec::new();
    for day in 1..=10 {
        rows.push(nir_act(&f1, &format!("2018-02-{day:02}"), NIR_A, pb::Scheme::Other));
    }
    rows.push(nir_act(&f1, "2018-03-01", NIR_B, pb::Scheme::Mining));
    rows.push(nir_act(&f2, "2018-09-01", NIR_B, pb::Scheme::Mining));
    rows.push(nir_act(&f1, "2018-01-10", NIR_C, pb::Scheme::Mining));
    rows.push(nir_act(&f1, "2018-06-10", NIR_C, pb::Scheme::Other));
    let b = batch(&env, "metrics-1", rows).await;
    let metrics = |dims: Vec<pb::MetricDimension>| {
        let api = env.api.clone();
        async move {
            api.query_activity_metrics(req(pb::QueryActivityMetricsRequest {
                period: "2018".into(),
                scope: String::new(),
                line: 0,
                group_by: dims.into_iter().map(|d| d as i32).collect(),
            }))
            .await
            .expect("metrics")
            .into_inner()
            .rows
        }
    };
    let total = metrics(vec![]).await;
    assert_eq!(total.len(), 1);
    assert_eq!((total[0].acts, total[0].amount_cents, total[0].patients), (14, 14 * 2500, Some(3)));
    let by_structure = metrics(vec![pb::MetricDimension::Structure]).await;
    let cell = |f: &str| by_structure.iter().find(|r| r.finess == f).map(|r| (r.acts, r.patients)).expect("cell");
    assert_eq!(cell(&f1), (13, Some(3)));
    assert_eq!(cell(&f2), (1, Some(1)), "patient B counts once in each structure");
    let by_month = metrics(vec![pb::MetricDimension::Month]).await;
    let feb = by_month.iter().find(|r| r.month == "2018-02-01").expect("february");
    assert_eq!((feb.acts, feb.patients), (10, Some(1)));
    let by_mode = metrics(vec![pb::MetricDimension::Mode]).await;
    assert_eq!(by_mode[0].patients, None, "patient counts are not split by mode");

    // Replace C's January act (row 13) by a corrected one: the old one is voided, history kept.
    let mut corrected = nir_act(&f1, "2018-01-11", NIR_C, pb::Scheme::Other);
    corrected.source_ref = "correction-1".into();
    let replace = |rid: &str| {
        let api = env.api.clone();
        let r = pb::ReplaceActRequest {
            name: format!("{}/acts/13", b.name),
            act: Some(corrected.clone()),
            reason: "régime erroné".into(),
            request_id: rid.into(),
        };
        async move { api.replace_act(req(r)).await }
    };
    let first = replace("replace-1").await.expect("replace").into_inner();
    let again = replace("replace-1").await.expect("replay").into_inner();
    assert_eq!(first, again);
    let r = rate(&env, "2018", "").await;
    assert_eq!(r.acts.expect("acts").denominator, 14, "one act out, one in");
    let (voided, supersedes): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE voided_at IS NOT NULL), count(*) FILTER (WHERE supersedes IS NOT NULL) FROM activity.act",
    )
    .fetch_one(&env.pool)
    .await
    .expect("history");
    assert_eq!((voided, supersedes), (1, 1));
    // Replacing a voided act again is refused.
    let err = replace("replace-2").await.expect_err("already replaced");
    assert_eq!(err.code(), Code::FailedPrecondition);
}

/// FINESS of an open demo centre in the given region (1 Nord, 3 Sud).
async fn centre_in(env: &Env, region: i16) -> String {
    let (finess,): (String,) =
        sqlx::query_as("SELECT finess FROM activity.structure_cache WHERE finess = ANY($1) AND region = $2 ORDER BY finess LIMIT 1")
            .bind(&env.centres)
            .bind(region)
            .fetch_one(&env.pool)
            .await
            .expect("a centre in the region");
    finess
}

#[tokio::test]
async fn a_patient_seen_in_two_regions_counts_once_in_each_and_once_nationally() {
    let env = setup().await;
    let (nord, sud) = (centre_in(&env, 1).await, centre_in(&env, 3).await);
    // A: "other" in Nord in January, miner in Sud in March. B: miner in Nord only.
    let rows = vec![
        nir_act(&nord, "2018-01-15", NIR_A, pb::Scheme::Other),
        nir_act(&sud, "2018-03-15", NIR_A, pb::Scheme::Mining),
        nir_act(&nord, "2018-05-02", NIR_B, pb::Scheme::Mining),
    ];
    let b = batch(&env, "two-regions", rows).await;
    assert_eq!(b.accepted_rows, 3);
    let patients = |r: pb::GetOpeningRateResponse| {
        let p = r.patients.expect("patients");
        (p.numerator, p.mining, p.denominator)
    };
    assert_eq!(patients(rate(&env, "2018", "national").await), (0, 2, 2), "A's last act in the nation is a miner's");
    assert_eq!(patients(rate(&env, "2018", "regions/NORD").await), (1, 1, 2), "A is 'other' on its last act in Nord");
    assert_eq!(patients(rate(&env, "2018", "regions/SUD").await), (0, 1, 1));
    // The yearly tables agree with the monthly rollup read for the same months.
    assert_eq!(patients(rate(&env, "2018S1", "national").await), (0, 2, 2));
    let by_region = env
        .api
        .query_activity_metrics(req(pb::QueryActivityMetricsRequest {
            period: "2018".into(),
            scope: String::new(),
            line: pb::ActivityLine::GeneralMedicine as i32,
            group_by: vec![pb::MetricDimension::Region as i32],
        }))
        .await
        .expect("metrics")
        .into_inner()
        .rows;
    let sum: i64 = by_region.iter().filter_map(|r| r.patients).sum();
    assert_eq!(sum, 3, "the regions add up to one more than the nation: A is in two");
    // A month-aligned period with no act, no dimension: one row of zeros, not a 500.
    let empty = env
        .api
        .query_activity_metrics(req(pb::QueryActivityMetricsRequest {
            period: "2024Q2".into(),
            scope: String::new(),
            line: pb::ActivityLine::Unspecified as i32,
            group_by: vec![],
        }))
        .await
        .expect("metrics of an empty period")
        .into_inner()
        .rows;
    assert_eq!(empty.iter().map(|r| r.acts).sum::<i64>(), 0);

    // Voiding A's act in Sud takes A out of Sud, and makes A "other" nationally.
    env.api
        .void_act(req(pb::VoidActRequest { name: format!("{}/acts/2", b.name), reason: "erreur".into(), request_id: String::new() }))
        .await
        .expect("void");
    assert_eq!(patients(rate(&env, "2018", "national").await), (1, 1, 2));
    assert_eq!(patients(rate(&env, "2018", "regions/SUD").await), (0, 0, 0));
    assert_eq!(patients(rate(&env, "2018", "regions/NORD").await), (1, 1, 2));
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM activity.patient_year").fetch_one(&env.pool).await.expect("count");
    assert_eq!(rows, 4, "A and B nationally and in Nord; nothing left in Sud");
    // The per-scheme counters the yearly rates read agree with the rows they count.
    let drift: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM activity.patient_year_scheme c \
         FULL JOIN (SELECT line, year, region, (last_key & 3)::smallint AS scheme, count(*) AS n FROM activity.patient_year \
                    GROUP BY 1, 2, 3, 4) p USING (line, year, region, scheme) \
         WHERE coalesce(c.patients, 0) <> coalesce(p.n, 0)",
    )
    .fetch_one(&env.pool)
    .await
    .expect("drift");
    assert_eq!(drift, 0);
}
