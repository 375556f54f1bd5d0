//! The HR service through the gateway over REST (issue 5, must-show 3): a
//! caller whose API key has no HR role gets 403 on a person and reads the
//! aggregates; a caller with the role `hr` reads the person.

use filieris_e2e::{ADMIN_KEY, Platform};
use filieris_runtime::identity::CallerKind;
use serde_json::{Value, json};

async fn call(p: &Platform, key: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut r = reqwest::Client::new().request(method, format!("{}{path}", p.gateway_url)).bearer_auth(key);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// An API key for `caller` with `roles`, as `filieris-gateway create-api-key` makes it.
async fn key(p: &Platform, caller: &str, roles: &[&str]) -> String {
    let pool =
        filieris_runtime::db::connect(&p.database_url, filieris_gateway::SCHEMA, 2, &filieris_gateway::MIGRATOR).await.expect("gateway db");
    let key = filieris_gateway::create_api_key(&pool, caller, CallerKind::Staff, roles, &["*"]).await.expect("key");
    pool.close().await;
    key
}

fn reason(body: &Value) -> String {
    body["error"]["details"].as_array().and_then(|d| d.iter().find_map(|x| x["reason"].as_str())).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_person_is_403_without_an_hr_role_while_the_aggregates_are_readable() {
    let p = Platform::start().await.expect("platform");
    let centre = p.open_health_centres().await.expect("centres").into_iter().next().expect("a centre");
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;

    // Set-up by the platform admin: a job, a post, a doctor assigned to the centre.
    let (s, b) = call(
        &p,
        ADMIN_KEY,
        post.clone(),
        "/v1/jobs",
        Some(json!({"job": {"code": "MED_GP", "label": "Médecin généraliste", "family": "JOB_FAMILY_MEDICAL"}})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = call(
        &p,
        ADMIN_KEY,
        post.clone(),
        "/v1/positions",
        Some(json!({"position": {"finess": centre, "job": "jobs/MED_GP", "fteHundredths": 200, "effectiveFrom": "2020-01-01"}})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let person = json!({"person": {
        "employeeId": "E2E-0001", "birthYear": 1963, "job": "jobs/MED_GP", "status": "STAFF_STATUS_COMPANY_AGREEMENT",
        "contractType": "CONTRACT_TYPE_PERMANENT", "startDate": "2015-01-01"
    }});
    let (s, b) = call(&p, ADMIN_KEY, post.clone(), "/v1/people", Some(person)).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = call(
        &p,
        ADMIN_KEY,
        post.clone(),
        "/v1/people/E2E-0001/assignments",
        Some(json!({"assignment": {"finess": centre, "fteHundredths": 80, "startDate": "2015-01-01"}})),
    )
    .await;
    assert_eq!(s, 200, "{b}");

    // A structure manager's key (no HR role): 403 on the person and on the list…
    let manager = key(&p, "staff:centre-manager", &["reader"]).await;
    let (s, b) = call(&p, &manager, get.clone(), "/v1/people/E2E-0001", None).await;
    assert_eq!(s, 403, "{b}");
    assert_eq!(reason(&b), "PERSONAL_DATA_DENIED", "{b}");
    let (s, _) = call(&p, &manager, get.clone(), "/v1/people", None).await;
    assert_eq!(s, 403);
    // …and 200 on the aggregates: workforce, GEPP view (departure counted, not named), indicators.
    let (s, b) = call(&p, &manager, get.clone(), "/v1/workforce?asOfDate=2022-12-31&dimension=WORKFORCE_DIMENSION_STRUCTURE", None).await;
    assert_eq!(s, 200, "{b}");
    let row = b["rows"].as_array().expect("rows").iter().find(|r| r["key"] == centre).cloned().expect("centre row");
    assert_eq!(row["fteHundredths"], json!("80"), "{row}");
    let (s, b) = call(&p, &manager, get.clone(), &format!("/v1/geppView?finess={centre}&asOfDate=2026-11-23"), None).await;
    assert_eq!(s, 200, "{b}");
    let departures = b["rows"][0]["departures"].as_array().cloned().unwrap_or_default();
    assert_eq!(departures.len(), 1, "{b}");
    assert!(departures[0].get("person").is_none_or(|v| v == ""), "{b}");
    let (s, b) = call(&p, &manager, get.clone(), "/v1/hrIndicators?year=2022", None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["indicators"].as_array().map(Vec::len), Some(11));
    let (s, _) = call(&p, &manager, get.clone(), "/v1/hrAggregates?year=2022", None).await;
    assert_eq!(s, 200);

    // An HR key reads the person.
    let hr = key(&p, "staff:dnrh", &["hr"]).await;
    let (s, b) = call(&p, &hr, get, "/v1/people/E2E-0001", None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["person"]["birthYear"], json!(1963));
    assert_eq!(b["person"]["assignments"].as_array().map(Vec::len), Some(1));
}
