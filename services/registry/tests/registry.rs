//! Registry behaviour against a real PostgreSQL, one fresh database per test.

use filieris_kernel::Finess;
use filieris_proto::registry as pb;
use filieris_proto::registry::registry_service_server::RegistryService;
use filieris_proto::types::Region;
use filieris_registry::grpc::RegistryApi;
use filieris_registry::storage::Store;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::testing::TestDatabase;
use sqlx::PgPool;
use tonic::{Code, Request};
use tonic_types::StatusExt;

async fn setup() -> (RegistryApi, PgPool) {
    let db = TestDatabase::create().await.expect("test database");
    let pool = filieris_runtime::db::connect(&db.url, filieris_registry::SCHEMA, 5, &filieris_registry::MIGRATOR).await.expect("connect");
    (RegistryApi::new(Store::new(pool.clone())), pool)
}

fn admin() -> Identity {
    Identity { caller: "staff:test-admin".into(), kind: CallerKind::Staff, roles: vec!["admin".into()], scopes: vec!["*".into()] }
}

fn req<T>(body: T) -> Request<T> {
    req_as(body, admin())
}

fn req_as<T>(body: T, who: Identity) -> Request<T> {
    let mut r = Request::new(body);
    r.extensions_mut().insert(who);
    r
}

fn finess(n: u32) -> String {
    Finess::from_prefix(&format!("590{n:05}")).expect("finess").as_str().to_owned()
}

fn centre(n: u32, name: &str) -> pb::Structure {
    pb::Structure {
        finess: finess(n),
        level: pb::StructureLevel::Establishment as i32,
        category: pb::Category::HealthCentre as i32,
        subtype: pb::Subtype::Polyvalent as i32,
        display_name: name.into(),
        region: Region::Nord as i32,
        department: "59".into(),
        open_date: "2005-07-01".into(),
        address: Some(pb::Address {
            line: "1 place de la Mairie".into(),
            postal_code: "59300".into(),
            city: "Valenciennes".into(),
            insee_code: String::new(),
        }),
        ..Default::default()
    }
}

async fn create(api: &RegistryApi, s: pb::Structure) -> pb::Structure {
    api.create_structure(req(pb::CreateStructureRequest { structure: Some(s), request_id: String::new(), validate_only: false }))
        .await
        .expect("create")
        .into_inner()
        .structure
        .expect("structure")
}

async fn count(pool: &PgPool, table: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(&format!("SELECT count(*) FROM {table}")).fetch_one(pool).await.expect("count");
    n
}

#[tokio::test]
async fn create_and_get_by_id_and_by_finess() {
    let (api, pool) = setup().await;
    let created = create(&api, centre(1, "Centre de santé Filieris Valenciennes")).await;
    assert!(created.name.starts_with("structures/"));
    assert_eq!(created.status, pb::StructureStatus::Open as i32);
    assert_eq!(created.revision, 1);
    for name in [created.name.clone(), format!("structures/{}", created.finess)] {
        let got = api.get_structure(req(pb::GetStructureRequest { name, as_of_date: String::new() })).await.expect("get").into_inner();
        assert_eq!(got.structure.expect("s").name, created.name);
    }
    assert_eq!(count(&pool, "audit_log").await, 1);
    assert_eq!(count(&pool, "change_log").await, 1);
}

#[tokio::test]
async fn wrong_finess_check_digit_is_invalid_argument_and_stores_nothing() {
    let (api, pool) = setup().await;
    let mut s = centre(2, "Centre");
    let good = s.finess.clone();
    let last = good.chars().last().and_then(|c| c.to_digit(10)).expect("digit");
    s.finess = format!("{}{}", &good[..8], (last + 1) % 10);
    let status = api
        .create_structure(req(pb::CreateStructureRequest { structure: Some(s), request_id: "r-bad".into(), validate_only: false }))
        .await
        .expect_err("must fail");
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    let violations = details.bad_request().expect("bad request").field_violations.clone();
    assert!(violations.iter().any(|v| v.field == "structure.finess"), "{violations:?}");
    assert_eq!(details.error_info().expect("info").domain, "registry.filieris");
    assert_eq!(count(&pool, "structure").await, 0);
    assert_eq!(count(&pool, "structure_revision").await, 0);
    assert_eq!(count(&pool, "idempotency").await, 0);
    // The refusal itself is audited.
    let (outcome,): (String,) = sqlx::query_as("SELECT outcome FROM audit_log").fetch_one(&pool).await.expect("audit");
    assert_eq!(outcome, "INVALID_ARGUMENT");
}

#[tokio::test]
async fn same_request_id_stores_once_and_replays_the_response() {
    let (api, pool) = setup().await;
    let send = |s: pb::Structure| {
        api.create_structure(req(pb::CreateStructureRequest {
            structure: Some(s),
            request_id: "7c1e-create-1".into(),
            validate_only: false,
        }))
    };
    let first = send(centre(3, "Centre A")).await.expect("first").into_inner();
    let second = send(centre(3, "Centre A")).await.expect("retry").into_inner();
    assert_eq!(first, second);
    assert_eq!(count(&pool, "structure").await, 1);
    let other = send(centre(4, "Centre B")).await.expect_err("reused id");
    assert_eq!(other.code(), Code::InvalidArgument);
    assert_eq!(other.get_error_details().error_info().expect("info").reason, "REQUEST_ID_REUSED");
    assert_eq!(count(&pool, "structure").await, 1);
}

#[tokio::test]
async fn concurrent_duplicates_store_once() {
    let (api, pool) = setup().await;
    let mut handles = Vec::new();
    for _ in 0..4 {
        let api = api.clone();
        handles.push(tokio::spawn(async move {
            api.create_structure(req(pb::CreateStructureRequest {
                structure: Some(centre(5, "Centre C")),
                request_id: "dup".into(),
                validate_only: false,
            }))
            .await
        }));
    }
    let mut names = Vec::new();
    for h in handles {
        names.push(h.await.expect("join").expect("create").into_inner().structure.expect("s").name);
    }
    names.dedup();
    assert_eq!(names.len(), 1);
    assert_eq!(count(&pool, "structure").await, 1);
}

#[tokio::test]
async fn update_with_stale_etag_is_aborted() {
    let (api, _pool) = setup().await;
    let created = create(&api, centre(6, "Centre D")).await;
    let mut patch = created.clone();
    patch.display_name = "Centre D renommé".into();
    let mask = |p: &[&str]| Some(prost_types::FieldMask { paths: p.iter().map(|s| (*s).to_owned()).collect() });
    let ok = api
        .update_structure(req(pb::UpdateStructureRequest {
            structure: Some(patch.clone()),
            update_mask: mask(&["display_name"]),
            effective_date: String::new(),
            request_id: String::new(),
            reason: "renaming".into(),
        }))
        .await
        .expect("update")
        .into_inner()
        .structure
        .expect("s");
    assert_eq!(ok.display_name, "Centre D renommé");
    assert_eq!(ok.revision, 2);
    assert_ne!(ok.etag, created.etag);
    // The first etag is now stale.
    let stale = api
        .update_structure(req(pb::UpdateStructureRequest {
            structure: Some(patch),
            update_mask: mask(&["display_name"]),
            effective_date: String::new(),
            request_id: String::new(),
            reason: String::new(),
        }))
        .await
        .expect_err("stale");
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(stale.get_error_details().error_info().expect("info").reason, "ETAG_MISMATCH");
    // Identifiers cannot be rewritten.
    let mut p = ok.clone();
    p.finess = finess(7);
    let err = api
        .update_structure(req(pb::UpdateStructureRequest {
            structure: Some(p),
            update_mask: mask(&["finess"]),
            effective_date: String::new(),
            request_id: String::new(),
            reason: String::new(),
        }))
        .await
        .expect_err("immutable");
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn close_keeps_the_structure_readable_with_history_and_as_of_reads() {
    let (api, _pool) = setup().await;
    let principal = create(&api, centre(8, "Centre E")).await;
    let successor = create(&api, centre(9, "Centre F")).await;
    let mut antenna = centre(0, "Antenne E");
    antenna.finess.clear();
    antenna.level = pb::StructureLevel::Antenna as i32;
    antenna.parent = principal.name.clone();
    antenna.weekly_opening_hours = 12;
    let antenna = create(&api, antenna).await;

    let closed = api
        .close_structure(req(pb::CloseStructureRequest {
            name: principal.name.clone(),
            close_date: "2021-06-30".into(),
            closure_type: pb::ClosureType::Definitive as i32,
            reason: "regroupement".into(),
            successor: successor.name.clone(),
            etag: principal.etag.clone(),
            request_id: String::new(),
        }))
        .await
        .expect("close")
        .into_inner()
        .structure
        .expect("s");
    assert_eq!(closed.status, pb::StructureStatus::Closed as i32);
    assert_eq!(closed.successor, successor.name);

    let get = |name: String, as_of: &str| api.get_structure(req(pb::GetStructureRequest { name, as_of_date: as_of.into() }));
    let now = get(principal.name.clone(), "").await.expect("get").into_inner().structure.expect("s");
    assert_eq!(now.status, pb::StructureStatus::Closed as i32);
    assert_eq!(now.close_date, "2021-06-30");
    let before = get(principal.name.clone(), "2020-01-01").await.expect("get").into_inner().structure.expect("s");
    assert_eq!(before.status, pb::StructureStatus::Open as i32);
    assert!(before.close_date.is_empty());
    // The antenna closed with its principal centre.
    let a = get(antenna.name.clone(), "").await.expect("antenna").into_inner().structure.expect("s");
    assert_eq!(a.status, pb::StructureStatus::Closed as i32);

    // Status filters are evaluated as of the read date.
    let by_status = |filter: &str, as_of: &str| {
        api.list_structures(req(pb::ListStructuresRequest {
            page_size: 0,
            page_token: String::new(),
            filter: filter.into(),
            search: String::new(),
            as_of_date: as_of.into(),
        }))
    };
    assert_eq!(by_status("status = CLOSED", "").await.expect("closed").into_inner().total_size, 2);
    assert_eq!(by_status("status = OPEN", "").await.expect("open").into_inner().total_size, 1);
    assert_eq!(by_status("status = CLOSED", "2020-01-01").await.expect("closed then").into_inner().total_size, 0);

    let revisions = api
        .list_structure_revisions(req(pb::ListStructureRevisionsRequest {
            name: principal.name.clone(),
            page_size: 0,
            page_token: String::new(),
        }))
        .await
        .expect("revisions")
        .into_inner()
        .revisions;
    let kinds: Vec<&str> = revisions.iter().map(|r| r.change_type.as_str()).collect();
    assert_eq!(kinds, ["CLOSED", "CREATED"]);

    let again = api
        .close_structure(req(pb::CloseStructureRequest {
            name: principal.name.clone(),
            close_date: "2022-01-01".into(),
            closure_type: pb::ClosureType::Definitive as i32,
            reason: "again".into(),
            successor: String::new(),
            etag: String::new(),
            request_id: String::new(),
        }))
        .await
        .expect_err("closed");
    assert_eq!(again.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn pagination_is_stable_under_inserts_and_tokens_are_bound_to_their_query() {
    let (api, _pool) = setup().await;
    for n in 0..23 {
        create(&api, centre(100 + n, &format!("Centre {n:02}"))).await;
    }
    let list = |token: String, filter: &str| {
        api.list_structures(req(pb::ListStructuresRequest {
            page_size: 5,
            page_token: token,
            filter: filter.into(),
            search: String::new(),
            as_of_date: String::new(),
        }))
    };
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut inserted = 0;
    loop {
        let page = list(token.clone(), "category = HEALTH_CENTRE").await.expect("page").into_inner();
        seen.extend(page.structures.into_iter().map(|s| s.display_name));
        // Rows inserted between pages, before and after the cursor.
        create(&api, centre(200 + inserted, &format!("Centre {:02} bis", inserted * 4))).await;
        inserted += 1;
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    for n in 0..23 {
        let name = format!("Centre {n:02}");
        assert_eq!(seen.iter().filter(|s| **s == name).count(), 1, "{name} seen once");
    }
    // A token from one filter is refused with another.
    let first = list(String::new(), "category = HEALTH_CENTRE").await.expect("page").into_inner();
    let err = list(first.next_page_token, "region = NORD").await.expect_err("mismatch");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(err.get_error_details().error_info().expect("info").reason, "PAGE_TOKEN_MISMATCH");
}

#[tokio::test]
async fn demo_data_has_the_shape_of_the_offer_and_reloads_idempotently() {
    let (api, pool) = setup().await;
    let store = Store::new(pool.clone());
    let report = filieris_registry::seed::load_demo(&store).await.expect("seed");
    assert_eq!(report.structures_created, filieris_registry::demo::dataset().structures.len(), "{report}");
    let total = |filter: &str| {
        let api = api.clone();
        let filter = filter.to_owned();
        async move {
            api.list_structures(req(pb::ListStructuresRequest {
                page_size: 1,
                page_token: String::new(),
                filter,
                search: String::new(),
                as_of_date: String::new(),
            }))
            .await
            .expect("list")
            .into_inner()
            .total_size
        }
    };
    assert_eq!(total("category = HEALTH_CENTRE").await, 163);
    assert_eq!(total("category = HEALTH_CENTRE AND level = ESTABLISHMENT").await, 149);
    assert_eq!(total("category = HEALTH_CENTRE AND subtype = POLYVALENT AND level = ESTABLISHMENT").await, 135);
    assert_eq!(total("category = HEALTH_CENTRE AND level = ANTENNA").await, 14);
    assert_eq!(total("category = PHARMACY").await, 25);
    assert_eq!(total("category = HOSPITAL").await, 11);
    assert_eq!(total("category = EHPAD").await, 6);
    assert_eq!(total("category = SSIAD").await, 16);
    // The financial perimeter "centres de santé" counts the 149 centres with their own FINESS.
    assert_eq!(total("group = centres-de-sante").await, 149);
    let by_region = total("category = HEALTH_CENTRE AND region = NORD").await
        + total("category = HEALTH_CENTRE AND region = EST").await
        + total("category = HEALTH_CENTRE AND region = SUD").await;
    assert_eq!(by_region, 163);
    // Page size above the maximum is coerced to 200.
    let page = api
        .list_structures(req(pb::ListStructuresRequest {
            page_size: 1000,
            page_token: String::new(),
            filter: String::new(),
            search: String::new(),
            as_of_date: String::new(),
        }))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(page.structures.len(), 200);
    assert!(!page.next_page_token.is_empty());
    // Search is accent- and case-insensitive, and finds misspelt aliases.
    let found = api
        .list_structures(req(pb::ListStructuresRequest {
            page_size: 10,
            page_token: String::new(),
            filter: String::new(),
            search: "freyding".into(),
            as_of_date: String::new(),
        }))
        .await
        .expect("search")
        .into_inner();
    assert!(
        found.structures.iter().any(|s| s.display_name.contains("Freyming")),
        "{:?}",
        found.structures.iter().map(|s| &s.display_name).collect::<Vec<_>>()
    );

    let before = count(&pool, "structure").await;
    let again = filieris_registry::seed::load_demo(&store).await.expect("reseed");
    assert_eq!(count(&pool, "structure").await, before, "{again}");
}

#[tokio::test]
async fn fhir_export_is_a_valid_bundle_with_the_finess_system() {
    let (api, pool) = setup().await;
    filieris_registry::seed::load_demo(&Store::new(pool)).await.expect("seed");
    let page = api
        .list_structures(req(pb::ListStructuresRequest {
            page_size: 3,
            page_token: String::new(),
            filter: "category = SSIAD".into(),
            search: String::new(),
            as_of_date: String::new(),
        }))
        .await
        .expect("list")
        .into_inner();
    let s = &page.structures[0];
    let bundle = api
        .export_structure_fhir(req(pb::ExportStructureFhirRequest { name: s.name.clone(), as_of_date: String::new() }))
        .await
        .expect("fhir")
        .into_inner()
        .bundle
        .expect("bundle");
    let json = struct_to_json(&bundle);
    filieris_registry::fhir::validate_bundle(&json).expect("valid R4 bundle");
    let text = json.to_string();
    assert!(text.contains("https://finess.esante.gouv.fr"));
    assert!(text.contains(&s.finess));
}

fn struct_to_json(s: &prost_types::Struct) -> serde_json::Value {
    fn value(v: &prost_types::Value) -> serde_json::Value {
        use prost_types::value::Kind;
        match &v.kind {
            None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
            Some(Kind::BoolValue(b)) => serde_json::Value::Bool(*b),
            Some(Kind::NumberValue(n)) => serde_json::json!(n),
            Some(Kind::StringValue(s)) => serde_json::Value::String(s.clone()),
            Some(Kind::ListValue(l)) => serde_json::Value::Array(l.values.iter().map(value).collect()),
            Some(Kind::StructValue(s)) => struct_to_json(s),
        }
    }
    serde_json::Value::Object(s.fields.iter().map(|(k, v)| (k.clone(), value(v))).collect())
}

#[tokio::test]
async fn groups_resolve_by_rule_and_by_dated_membership() {
    let (api, _pool) = setup().await;
    let a = create(&api, centre(300, "Centre G")).await;
    let b = create(&api, centre(301, "Centre H")).await;
    let group = |code: &str, mode: pb::GroupMode, cats: Vec<i32>| pb::StructureGroup {
        code: code.into(),
        display_name: code.into(),
        mode: mode as i32,
        rule_categories: cats,
        ..Default::default()
    };
    api.create_structure_group(req(pb::CreateStructureGroupRequest {
        structure_group: Some(group("pair", pb::GroupMode::Explicit, vec![])),
        request_id: String::new(),
    }))
    .await
    .expect("explicit");
    api.create_structure_group(req(pb::CreateStructureGroupRequest {
        structure_group: Some(group("centres", pb::GroupMode::Rule, vec![pb::Category::HealthCentre as i32])),
        request_id: String::new(),
    }))
    .await
    .expect("rule");
    api.add_group_member(req(pb::AddGroupMemberRequest {
        group: "structureGroups/pair".into(),
        structure: a.name.clone(),
        valid_from: "2020-01-01".into(),
        request_id: String::new(),
    }))
    .await
    .expect("add");
    api.remove_group_member(req(pb::RemoveGroupMemberRequest {
        group: "structureGroups/pair".into(),
        structure: a.name.clone(),
        valid_to: "2021-12-31".into(),
        request_id: String::new(),
    }))
    .await
    .expect("remove");
    let members = |code: &str, period: &str| {
        api.list_group_members(req(pb::ListGroupMembersRequest {
            group: format!("structureGroups/{code}"),
            period: period.into(),
            as_of_date: String::new(),
            page_size: 0,
            page_token: String::new(),
        }))
    };
    assert_eq!(members("pair", "2021").await.expect("2021").into_inner().total_size, 1);
    assert_eq!(members("pair", "2022").await.expect("2022").into_inner().total_size, 0);
    assert_eq!(members("centres", "2024").await.expect("rule").into_inner().total_size, 2);
    let _ = b;
    let err = members("nope", "2024").await.expect_err("unknown group");
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn change_feed_resumes_from_its_token() {
    let (api, _pool) = setup().await;
    create(&api, centre(400, "Centre I")).await;
    let first = api.list_changes(req(pb::ListChangesRequest { page_size: 0, page_token: String::new() })).await.expect("feed").into_inner();
    assert_eq!(first.changes.len(), 1);
    assert_eq!(first.changes[0].change_type, "STRUCTURE_CREATED");
    let empty = api
        .list_changes(req(pb::ListChangesRequest { page_size: 0, page_token: first.next_page_token.clone() }))
        .await
        .expect("feed")
        .into_inner();
    assert!(empty.changes.is_empty());
    assert!(!empty.next_page_token.is_empty());
    create(&api, centre(401, "Centre J")).await;
    let next =
        api.list_changes(req(pb::ListChangesRequest { page_size: 0, page_token: empty.next_page_token })).await.expect("feed").into_inner();
    assert_eq!(next.changes.len(), 1);
    assert!(next.changes[0].sequence > first.changes[0].sequence);
}

#[tokio::test]
async fn readers_cannot_write() {
    let (api, pool) = setup().await;
    let partner =
        Identity { caller: "partner:cdc".into(), kind: CallerKind::Partner, roles: vec!["partner".into()], scopes: vec!["*".into()] };
    let err = api
        .create_structure(req_as(
            pb::CreateStructureRequest { structure: Some(centre(500, "Centre K")), request_id: String::new(), validate_only: false },
            partner,
        ))
        .await
        .expect_err("denied");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(count(&pool, "structure").await, 0);
    let (outcome,): (String,) = sqlx::query_as("SELECT outcome FROM audit_log").fetch_one(&pool).await.expect("audit");
    assert_eq!(outcome, "REGISTRY_WRITE_DENIED");
}

#[tokio::test]
async fn retroactive_changes_correct_history_without_overriding_later_changes() {
    let (api, pool) = setup().await;
    let created = create(&api, centre(600, "Nom A")).await;
    let update = |fields: &[&str], patch: pb::Structure, date: &str| {
        let api = api.clone();
        let mask = Some(prost_types::FieldMask { paths: fields.iter().map(|s| (*s).to_owned()).collect() });
        let effective_date = date.to_owned();
        async move {
            api.update_structure(req(pb::UpdateStructureRequest {
                structure: Some(patch),
                update_mask: mask,
                effective_date,
                request_id: String::new(),
                reason: "test".into(),
            }))
            .await
        }
    };
    let named = |n: &str| pb::Structure { name: created.name.clone(), display_name: n.into(), ..Default::default() };
    update(&["display_name"], named("Nom B"), "2020-01-01").await.expect("2020");
    let mut moved = named("");
    moved.address = Some(pb::Address {
        line: "3 rue Neuve".into(),
        postal_code: "59300".into(),
        city: "Valenciennes".into(),
        insee_code: String::new(),
    });
    update(&["address"], moved, "2022-01-01").await.expect("2022");
    // A correction dated 2010: holds until the 2020 rename, which stays in force.
    update(&["display_name"], named("Nom A corrigé"), "2010-01-01").await.expect("2010");
    let mut territory = named("");
    territory.territory = "Bassin minier du Nord".into();
    update(&["territory"], territory, "2010-01-01").await.expect("territory");

    let at = |date: &str| {
        let api = api.clone();
        let name = created.name.clone();
        let as_of_date = date.to_owned();
        async move {
            api.get_structure(req(pb::GetStructureRequest { name, as_of_date })).await.expect("get").into_inner().structure.expect("s")
        }
    };
    assert_eq!(at("2009-12-31").await.display_name, "Nom A");
    assert_eq!(at("2015-06-01").await.display_name, "Nom A corrigé");
    let s2021 = at("2021-06-01").await;
    assert_eq!(s2021.display_name, "Nom B");
    assert_eq!(s2021.territory, "Bassin minier du Nord");
    let s2023 = at("2023-06-01").await;
    assert_eq!(s2023.display_name, "Nom B");
    assert_eq!(s2023.territory, "Bassin minier du Nord");
    assert_eq!(s2023.address.expect("address").line, "3 rue Neuve");

    // A closure recorded after a later change still closes every later state.
    update(&["display_name"], named("Nom C"), "").await.expect("today");
    let current = at("").await;
    api.close_structure(req(pb::CloseStructureRequest {
        name: created.name.clone(),
        close_date: "2024-06-30".into(),
        closure_type: pb::ClosureType::Definitive as i32,
        reason: "fermeture".into(),
        successor: String::new(),
        etag: current.etag.clone(),
        request_id: String::new(),
    }))
    .await
    .expect("close");
    assert_eq!(at("2024-06-29").await.status, pb::StructureStatus::Open as i32);
    let now = at("").await;
    assert_eq!(now.status, pb::StructureStatus::Closed as i32);
    assert_eq!(now.display_name, "Nom C");
    // Nothing was rewritten: every revision row is still there.
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM structure_revision").fetch_one(&pool).await.expect("count");
    assert!(rows >= 8, "{rows} revisions");
}
