//! The steering API over REST through the gateway (in process): the
//! google.api.http rules of steering.proto route, JSON maps both ways, and
//! errors keep their stable reasons.

mod common;

use std::time::Duration;

use common::{INTERNAL, key, setup};
use filieris_runtime::config::Env;
use serde_json::{Value, json};

const ADMIN_KEY: &str = "fk_steering_rest_admin_key_for_tests_0123456789abcdef";

#[tokio::test]
async fn the_steering_api_answers_over_rest() {
    let env = setup().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let steering_addr = listener.local_addr().expect("addr");
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(filieris_steering::serve(listener, env.api.clone(), env.pool.clone(), key(), Duration::from_secs(1), async {
        let _ = stop_rx.await;
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let gateway_addr = listener.local_addr().expect("addr");
    let config = filieris_gateway::GatewayConfig::from_env(&Env::from_pairs([
        ("DATABASE_URL", env.db.url.clone()),
        ("FILIERIS_INTERNAL_KEY", INTERNAL.to_owned()),
        ("FILIERIS_DEV_API_KEY", ADMIN_KEY.to_owned()),
        ("FILIERIS_STEERING_URL", format!("http://{steering_addr}")),
        ("FILIERIS_GATEWAY_ADDR", gateway_addr.to_string()),
    ]))
    .expect("gateway config");
    let (gw_stop, gw_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(filieris_gateway::serve(listener, config, async {
        let _ = gw_rx.await;
    }));
    let base = format!("http://{gateway_addr}");
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let get = |path: &str| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            let r = http.get(url).bearer_auth(ADMIN_KEY).send().await.expect("send");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.expect("json"))
        }
    };
    let send = |method: reqwest::Method, path: &str, body: Value| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            let r = http.request(method, url).bearer_auth(ADMIN_KEY).json(&body).send().await.expect("send");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.expect("json"))
        }
    };

    let (status, list) = get("/v1/indicators?cog=COG22").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["definitions"].as_array().map(Vec::len), Some(44));
    let (status, one) = get("/v1/indicators/COG22.OFFRE.12").await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["definition"]["source"]["reference"], "ACTIVITY_OPENING_RATE_PATIENTS{GENERAL_MEDICINE}");
    let (status, targets) = get("/v1/indicators/COG22.SUP.1/targets").await;
    assert_eq!(status, 200, "{targets}");
    assert_eq!(targets["targets"][0]["type"], "TARGET_TYPE_RANGE");

    // An edit over PATCH appends version 2.
    let mut definition = one["definition"].clone();
    definition["decimals"] = json!(2);
    let (status, edited) = send(
        reqwest::Method::PATCH,
        "/v1/indicators/COG22.OFFRE.12",
        json!({"definition": definition, "expectedVersion": "1", "reason": "two decimals"}),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["definition"]["version"], "2");

    let (status, manual) = send(
        reqwest::Method::POST,
        "/v1/indicators/COG22.OFFRE.1:recordManualValue",
        json!({"year": 2022, "kind": "VALUE_KIND_VALUE", "numerator": "12", "comment": "AFNOR certificates"}),
    )
    .await;
    assert_eq!(status, 200, "{manual}");
    assert_eq!(manual["value"]["display"], "12");
    let (status, refused) = send(
        reqwest::Method::POST,
        "/v1/indicators/COG22.OFFRE.12:recordManualValue",
        json!({"year": 2022, "kind": "VALUE_KIND_VALUE", "numerator": "1", "denominator": "2"}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("INDICATOR_NOT_MANUAL"), "{refused}");

    // A target amendment, typed, then its history.
    let (status, amended) = send(
        reqwest::Method::POST,
        "/v1/indicators/COG22.FINRES.1/targets/2023:amend",
        json!({"target": {"type": "TARGET_TYPE_REDUCE_DEFICIT", "percent": 50}, "expectedAmendment": 0,
               "reason": "Avenant n°1", "requestId": "avenant-1"}),
    )
    .await;
    assert_eq!(status, 200, "{amended}");
    assert_eq!((&amended["target"]["amendment"], &amended["target"]["raw"]), (&json!(1), &json!("-50%")));
    let (status, stale) = send(
        reqwest::Method::POST,
        "/v1/indicators/COG22.FINRES.1/targets/2023:amend",
        json!({"target": {"type": "TARGET_TYPE_SURPLUS"}, "expectedAmendment": 0, "reason": "late"}),
    )
    .await;
    assert_eq!(status, 409, "{stale}");
    assert!(stale.to_string().contains("TARGET_AMENDMENT_CONFLICT"), "{stale}");
    let (status, versions) = get("/v1/indicators/COG22.FINRES.1/targets/2023/versions").await;
    assert_eq!(status, 200, "{versions}");
    assert_eq!(versions["versions"].as_array().map(Vec::len), Some(2));

    let (status, computed) = send(reqwest::Method::POST, "/v1/indicatorYears/2022:compute", json!({})).await;
    assert_eq!(status, 200, "{computed}");
    assert_eq!(computed["values"].as_array().map(Vec::len), Some(4 * 44 - 1), "national and three regions, less OFFRE.1 entered by hand");
    let (status, values) = get("/v1/indicatorYears/2022/values").await;
    assert_eq!(status, 200, "{values}");
    assert_eq!(values["values"].as_array().map(Vec::len), Some(44));
    let (status, nord) = get("/v1/indicatorYears/2022/values?scope=regions/NORD").await;
    assert_eq!(status, 200, "{nord}");
    assert_eq!(nord["values"][0]["scope"], "regions/NORD");

    let (status, action) = send(
        reqwest::Method::POST,
        "/v1/actions/A001:updateStatus",
        json!({"status": "ACTION_STATUS_IN_PROGRESS", "owner": "DSI", "comment": "pilot"}),
    )
    .await;
    assert_eq!(status, 200, "{action}");
    let (status, counts) = get("/v1/actionCounts?year=2022").await;
    assert_eq!(status, 200, "{counts}");
    assert_eq!(counts["axes"][0]["inProgress"], 1);
    let (status, history) = get("/v1/actions/A001/statusHistory").await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history["changes"].as_array().map(Vec::len), Some(1));
    let (status, dashboard) = get("/v1/dashboard").await;
    assert_eq!(status, 200, "{dashboard}");
    assert_eq!(dashboard["tiles"].as_array().map(Vec::len), Some(44));
    let (status, regional) = get("/v1/dashboard?scope=regions/SUD&year=2023").await;
    assert_eq!(status, 200, "{regional}");
    assert_eq!((&regional["scope"], regional["tiles"][0]["points"].as_array().map(Vec::len)), (&json!("regions/SUD"), Some(1)));
    let _ = (stop.send(()), gw_stop.send(()));
}
