//! Row-level scoping of ListStructures and GetStructure over the demo
//! registry: a structure manager sees its centre (and its antennas), a
//! regional controller its region, a caller without a `*`, region or
//! structure scope nothing.

use filieris_proto::registry as pb;
use filieris_proto::registry::registry_service_server::RegistryService;
use filieris_proto::types::Region;
use filieris_registry::grpc::RegistryApi;
use filieris_registry::storage::Store;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::testing::TestDatabase;
use tonic::{Code, Request};

/// The demo centre the gateway's development structure manager runs
/// (`filieris_gateway::auth::dev_issuer::DEMO_CENTRE_FINESS`).
const LENS_CENTRE: &str = "620990010";

fn who(scopes: &[&str]) -> Identity {
    Identity {
        caller: "staff:scoping-test".into(),
        kind: CallerKind::Staff,
        roles: vec!["reader".into()],
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn req<T>(body: T, identity: &Identity) -> Request<T> {
    let mut r = Request::new(body);
    r.extensions_mut().insert(identity.clone());
    r
}

async fn list(api: &RegistryApi, identity: &Identity, search: &str) -> (Vec<pb::Structure>, i64) {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = api
            .list_structures(req(
                pb::ListStructuresRequest { page_size: 200, page_token: token.clone(), search: search.into(), ..Default::default() },
                identity,
            ))
            .await
            .expect("list")
            .into_inner();
        out.extend(page.structures);
        if page.next_page_token.is_empty() {
            return (out, page.total_size);
        }
        token = page.next_page_token;
    }
}

#[tokio::test]
async fn structures_are_listed_and_read_within_the_callers_visibility() {
    let db = TestDatabase::create().await.expect("test database");
    let pool = filieris_runtime::db::connect(&db.url, filieris_registry::SCHEMA, 5, &filieris_registry::MIGRATOR).await.expect("connect");
    let store = Store::new(pool);
    filieris_registry::seed::load_demo(&store).await.expect("demo");
    let api = RegistryApi::new(store);

    let (all, total) = list(&api, &who(&["*"]), "").await;
    assert_eq!(all.len() as i64, total);
    let lens = all.iter().find(|s| s.display_name == "Centre de santé Filieris Lens Centre").expect("the Lens centre");
    assert_eq!(lens.finess, LENS_CENTRE, "the development issuer's structure manager runs this centre");

    // The manager of the Lens centre: that centre and its antennas, nothing else.
    let manager = who(&[&format!("structure:{LENS_CENTRE}")]);
    let (seen, total) = list(&api, &manager, "").await;
    assert!(!seen.is_empty() && seen.len() as i64 == total);
    assert!(seen.iter().any(|s| s.finess == LENS_CENTRE));
    assert!(
        seen.iter().all(|s| s.finess == LENS_CENTRE || s.parent == lens.name),
        "{:?}",
        seen.iter().map(|s| &s.display_name).collect::<Vec<_>>()
    );
    let get = |identity: Identity, name: String| {
        let api = api.clone();
        async move { api.get_structure(req(pb::GetStructureRequest { name, as_of_date: String::new() }, &identity)).await }
    };
    assert!(get(manager.clone(), format!("structures/{LENS_CENTRE}")).await.is_ok());
    let elsewhere = all.iter().find(|s| s.region != lens.region && !s.finess.is_empty()).expect("a structure of another region");
    let err = get(manager.clone(), format!("structures/{}", elsewhere.finess)).await.expect_err("not its centre");
    assert_eq!(err.code(), Code::PermissionDenied);
    // Its history and FHIR export follow the same rule.
    let revisions = |name: String| {
        let (api, manager) = (api.clone(), manager.clone());
        async move { api.list_structure_revisions(req(pb::ListStructureRevisionsRequest { name, ..Default::default() }, &manager)).await }
    };
    assert!(revisions(format!("structures/{LENS_CENTRE}")).await.is_ok());
    assert_eq!(revisions(format!("structures/{}", elsewhere.finess)).await.map(|_| ()).map_err(|e| e.code()), Err(Code::PermissionDenied));
    let fhir = |name: String| {
        let (api, manager) = (api.clone(), manager.clone());
        async move { api.export_structure_fhir(req(pb::ExportStructureFhirRequest { name, ..Default::default() }, &manager)).await }
    };
    assert!(fhir(format!("structures/{LENS_CENTRE}")).await.is_ok());
    assert_eq!(fhir(format!("structures/{}", elsewhere.finess)).await.map(|_| ()).map_err(|e| e.code()), Err(Code::PermissionDenied));

    // The controller of the Lens centre's region: exactly the structures of that region.
    let region = Region::try_from(lens.region).expect("region").as_str_name().trim_start_matches("REGION_").to_owned();
    let controller = who(&[&format!("region:{region}")]);
    let (seen, _) = list(&api, &controller, "").await;
    let expected = all.iter().filter(|s| s.region == lens.region).count();
    assert_eq!(seen.len(), expected);
    assert!(seen.iter().all(|s| s.region == lens.region));
    assert!(get(controller.clone(), format!("structures/{}", elsewhere.finess)).await.is_err());

    // Scopes that name no region or structure: nothing.
    assert_eq!(list(&api, &who(&["partner:CDC"]), "").await.1, 0);
}
