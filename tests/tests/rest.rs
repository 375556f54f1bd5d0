//! The platform driven over REST/JSON through the gateway, as a partner or
//! the UI would.

use filieris_e2e::{ADMIN_KEY, Platform};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get(p: &Platform, path: &str) -> (u16, Value) {
    let r = client().get(format!("{}{path}", p.gateway_url)).bearer_auth(ADMIN_KEY).send().await.expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn send(p: &Platform, method: reqwest::Method, path: &str, body: Value, idempotency_key: Option<&str>) -> (u16, Value) {
    let mut rb = client().request(method, format!("{}{path}", p.gateway_url)).bearer_auth(ADMIN_KEY).json(&body);
    if let Some(k) = idempotency_key {
        rb = rb.header("Idempotency-Key", k);
    }
    let r = rb.send().await.expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn field_violations(body: &Value) -> Vec<String> {
    body["error"]["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["@type"].as_str().is_some_and(|t| t.ends_with("google.rpc.BadRequest")))
        .flat_map(|d| d["fieldViolations"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v["field"].as_str().map(str::to_owned))
        .collect()
}

fn reason(body: &Value) -> String {
    body["error"]["details"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["@type"].as_str().is_some_and(|t| t.ends_with("google.rpc.ErrorInfo")))
        .and_then(|d| d["reason"].as_str())
        .unwrap_or_default()
        .to_owned()
}

fn new_centre(finess: &str, name: &str) -> Value {
    json!({
        "finess": finess,
        "level": "STRUCTURE_LEVEL_ESTABLISHMENT",
        "category": "CATEGORY_HEALTH_CENTRE",
        "subtype": "SUBTYPE_POLYVALENT",
        "displayName": name,
        "region": "REGION_NORD",
        "department": "59",
        "openDate": "2024-01-15",
        "address": {"line": "2 rue Jean Jaurès", "postalCode": "59300", "city": "Valenciennes"}
    })
}

#[tokio::test]
async fn rest_end_to_end() {
    let p = Platform::start().await.expect("platform");

    // No credential → 401 with a JSON error.
    let r = client().get(format!("{}/v1/structures", p.gateway_url)).send().await.expect("send");
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    // An unknown key too.
    let r = client().get(format!("{}/v1/structures", p.gateway_url)).bearer_auth("fk_nope").send().await.expect("send");
    assert_eq!(r.status().as_u16(), 401);

    // Walk every health-centre consultation site page by page: 149 centres + 14 antennas.
    let mut names = std::collections::HashSet::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let path = format!("/v1/structures?filter=category%20%3D%20HEALTH_CENTRE&pageSize=50&pageToken={token}");
        let (status, body) = get(&p, &path).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["totalSize"], "163");
        for s in body["structures"].as_array().expect("structures") {
            assert!(s["region"].as_str().is_some_and(|r| r.starts_with("REGION_")), "{s}");
            names.insert(s["name"].as_str().expect("name").to_owned());
        }
        pages += 1;
        match body["nextPageToken"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_owned(),
            _ => break,
        }
    }
    assert_eq!(names.len(), 163);
    assert_eq!(pages, 4);

    // Page size above the maximum is coerced to 200.
    let (_, body) = get(&p, "/v1/structures?pageSize=5000").await;
    assert_eq!(body["structures"].as_array().map(Vec::len), Some(200));

    // A token reused with another filter is refused.
    let (_, first) = get(&p, "/v1/structures?filter=region%20%3D%20NORD&pageSize=10").await;
    let t = first["nextPageToken"].as_str().expect("token");
    let (status, body) = get(&p, &format!("/v1/structures?filter=region%20%3D%20SUD&pageSize=10&pageToken={t}")).await;
    assert_eq!(status, 400);
    assert_eq!(reason(&body), "PAGE_TOKEN_MISMATCH");

    // A wrong FINESS check digit → 400 naming the field; nothing stored.
    let (status, body) = send(&p, reqwest::Method::POST, "/v1/structures", new_centre("590999995", "Centre de test"), None).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    assert!(field_violations(&body).contains(&"structure.finess".to_owned()), "{body}");
    let (_, found) = get(&p, "/v1/structures?search=centre%20de%20test").await;
    assert_eq!(found["structures"].as_array().map(Vec::len).unwrap_or(0), 0);

    // The same create twice with one idempotency key → one structure, same response.
    let finess = "590999991";
    let (s1, created) = send(&p, reqwest::Method::POST, "/v1/structures", new_centre(finess, "Centre e2e"), Some("e2e-create-1")).await;
    assert_eq!(s1, 200, "{created}");
    let (s2, again) = send(&p, reqwest::Method::POST, "/v1/structures", new_centre(finess, "Centre e2e"), Some("e2e-create-1")).await;
    assert_eq!(s2, 200);
    assert_eq!(created, again);
    let (_, listed) = get(&p, &format!("/v1/structures?filter=finess%20%3D%20{finess}")).await;
    assert_eq!(listed["totalSize"], "1");
    let name = created["name"].as_str().expect("name").to_owned();

    // Update with the current etag, then with the stale one → 409.
    let etag = created["etag"].as_str().expect("etag").to_owned();
    let patch = json!({"displayName": "Centre e2e (renommé)", "etag": etag});
    let (status, updated) = send(&p, reqwest::Method::PATCH, &format!("/v1/{name}?updateMask=displayName"), patch.clone(), None).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["displayName"], "Centre e2e (renommé)");
    let (status, body) = send(&p, reqwest::Method::PATCH, &format!("/v1/{name}?updateMask=displayName"), patch, None).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["status"], "ABORTED");

    // Close; still readable; revisions; as-of read before the closure.
    let close = json!({"closeDate": "2026-01-31", "closureType": "CLOSURE_TYPE_DEFINITIVE", "reason": "regroupement"});
    let (status, closed) = send(&p, reqwest::Method::POST, &format!("/v1/{name}:close"), close, None).await;
    assert_eq!(status, 200, "{closed}");
    let (_, now) = get(&p, &format!("/v1/{name}")).await;
    assert_eq!(now["status"], "STRUCTURE_STATUS_CLOSED");
    let (_, before) = get(&p, &format!("/v1/{name}?asOfDate=2025-06-01")).await;
    assert_eq!(before["status"], "STRUCTURE_STATUS_OPEN");
    let (_, revisions) = get(&p, &format!("/v1/{name}:listRevisions")).await;
    // Created, renamed today, closed at a past date (carried forward onto the rename).
    let kinds: Vec<&str> = revisions["revisions"].as_array().expect("revisions").iter().filter_map(|r| r["changeType"].as_str()).collect();
    assert_eq!(kinds, ["CARRIED_FORWARD", "CLOSED", "UPDATED", "CREATED"]);

    // FHIR export of a demo structure.
    let (_, ssiad) = get(&p, "/v1/structures?filter=category%20%3D%20SSIAD&pageSize=1").await;
    let ssiad_name = ssiad["structures"][0]["name"].as_str().expect("ssiad");
    let (status, bundle) = get(&p, &format!("/v1/{ssiad_name}:fhir")).await;
    assert_eq!(status, 200);
    assert_eq!(bundle["resourceType"], "Bundle");
    filieris_registry::fhir::validate_bundle(&bundle).expect("valid FHIR R4 bundle");
    assert!(bundle.to_string().contains("https://finess.esante.gouv.fr"));

    // OpenAPI generated from the protos.
    let r = client().get(format!("{}/openapi.json", p.gateway_url)).bearer_auth(ADMIN_KEY).send().await.expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let doc: Value = r.json().await.expect("json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    assert!(doc["paths"]["/v1/structures"]["get"].is_object(), "{}", doc["paths"]);
}
