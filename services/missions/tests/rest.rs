//! The missions API over REST through the real gateway (API keys → signed
//! identities → the missions and finance servers on free ports): the routes
//! the gateway derives from the google.api.http annotations, partner keys
//! scoped by `partner:<CODE>`, and 403 with a stable reason.

mod common;

use std::time::Duration;

use common::{INTERNAL, PSEUDONYM_KEY, key};
use filieris_runtime::config::Env;
use filieris_runtime::identity::CallerKind;
use filieris_runtime::registry_cache::RegistryCache;
use serde_json::{Value, json};

struct Rest {
    base: String,
    http: reqwest::Client,
    _stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl Rest {
    async fn call(&self, key: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, key: &str, path: &str) -> (u16, Value) {
        self.call(key, reqwest::Method::GET, path, None).await
    }
    async fn post(&self, key: &str, path: &str, body: Value) -> (u16, Value) {
        self.call(key, reqwest::Method::POST, path, Some(body)).await
    }
}

async fn listener() -> (tokio::net::TcpListener, std::net::SocketAddr) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let a = l.local_addr().expect("addr");
    (l, a)
}

/// Finance, missions and the gateway on free ports; API keys for staff and three partners.
async fn start() -> (Rest, [String; 4]) {
    let env = common::setup().await;
    let url = env.db.url.clone();
    let mut stops = Vec::new();
    // Finance (budget tables loaded; results unused).
    let finance_pool =
        filieris_runtime::db::connect(&url, filieris_finance::SCHEMA, 4, &filieris_finance::MIGRATOR).await.expect("finance");
    let budget = filieris_finance::budget::storage::Store::new(finance_pool.clone());
    budget.load_reference().await.expect("COG tables");
    let nowhere = tonic::transport::Endpoint::from_static("http://127.0.0.1:9").connect_lazy();
    let results = filieris_finance::results::ResultsApi::new(
        filieris_finance::results::storage::ResultsStore::new(finance_pool.clone()),
        RegistryCache::new(nowhere, key(), finance_pool.clone(), filieris_finance::results::SERVICE_CALLER),
    );
    let (l, finance_addr) = listener().await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    stops.push(tx);
    tokio::spawn(filieris_finance::serve(
        l,
        filieris_finance::budget::BudgetApi::new(budget),
        results,
        finance_pool,
        key(),
        Duration::from_secs(1),
        async {
            let _ = rx.await;
        },
    ));
    // Missions.
    let store = filieris_missions::storage::Store::new(
        env.pool.clone(),
        filieris_kernel::pseudonym::PseudonymKey::from_hex(PSEUDONYM_KEY).expect("pseudonym key"),
    );
    let finance = filieris_missions::finance::Finance::new(
        tonic::transport::Endpoint::from_shared(format!("http://{finance_addr}")).expect("url").connect_lazy(),
        key(),
    );
    let (l, missions_addr) = listener().await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    stops.push(tx);
    tokio::spawn(filieris_missions::serve(
        l,
        filieris_missions::MissionsApi::new(store, finance),
        env.pool.clone(),
        key(),
        Duration::from_secs(1),
        async {
            let _ = rx.await;
        },
    ));
    // Gateway and its keys.
    let gw_pool = filieris_runtime::db::connect(&url, filieris_gateway::SCHEMA, 2, &filieris_gateway::MIGRATOR).await.expect("gateway db");
    let keys = [
        filieris_gateway::keys::create_api_key(&gw_pool, "staff:officer", CallerKind::Staff, &["missions", "head_office"], &["*"])
            .await
            .expect("staff key"),
        filieris_gateway::keys::create_api_key(&gw_pool, "partner:cdc", CallerKind::Partner, &["partner"], &["partner:CDC"])
            .await
            .expect("cdc"),
        filieris_gateway::keys::create_api_key(&gw_pool, "partner:cnam", CallerKind::Partner, &["partner"], &["partner:CNAM"])
            .await
            .expect("cnam"),
        filieris_gateway::keys::create_api_key(&gw_pool, "partner:angdm", CallerKind::Partner, &["partner"], &["partner:ANGDM"])
            .await
            .expect("angdm"),
    ];
    let (l, gateway_addr) = listener().await;
    let config = filieris_gateway::GatewayConfig::from_env(&Env::from_pairs([
        ("DATABASE_URL", url.clone()),
        ("FILIERIS_INTERNAL_KEY", INTERNAL.to_owned()),
        ("FILIERIS_MISSIONS_URL", format!("http://{missions_addr}")),
        ("FILIERIS_FINANCE_URL", format!("http://{finance_addr}")),
        ("FILIERIS_GATEWAY_ADDR", gateway_addr.to_string()),
    ]))
    .expect("gateway config");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    stops.push(tx);
    tokio::spawn(filieris_gateway::serve(l, config, async {
        let _ = rx.await;
    }));
    let rest = Rest { base: format!("http://{gateway_addr}"), http: reqwest::Client::new(), _stops: stops };
    for _ in 0..100 {
        if rest.http.get(format!("{}/healthz", rest.base)).send().await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (rest, keys)
}

fn text(v: &Value) -> String {
    v.to_string()
}

#[tokio::test]
async fn partners_use_the_missions_api_over_rest_with_their_own_scope() {
    let (rest, [staff, cdc, cnam, angdm]) = start().await;
    // The officer (missions, and head office to read the budget lines) sets up the CDC and
    // ANGDM mandates and a calendar.
    for (id, partner, form) in [
        ("cdc-pensions", "PARTNER_CDC", "MANDATE_FORM_MANAGEMENT_MANDATE"),
        ("angdm-social-action", "PARTNER_ANGDM", "MANDATE_FORM_COMPETENCE_TRANSFER"),
    ] {
        let (s, b) = rest
            .post(
                &staff,
                "/v1/mandates",
                json!({"mandateId": id, "mandate": {"partner": partner, "form": form, "title": id, "startDate": "2012-04-01"}}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, b) = rest
        .post(
            &staff,
            "/v1/mandates/cdc-pensions/deliverables:schedule",
            json!({"code": "ACTIVITY_REPORT", "label": "Rapport d'activité", "recurrence": "RECURRENCE_ANNUAL", "fromYear": 2022, "toYear": 2022}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let name = b["deliverables"][0]["name"].as_str().expect("name").to_owned();
    // A partner cannot create a mandate (403, stable reason): the gateway's policy refuses
    // it before the service's own check (MISSIONS_WRITE_DENIED) is reached.
    let (s, b) = rest.post(&cdc, "/v1/mandates", json!({"mandateId": "x", "mandate": {}})).await;
    assert_eq!(s, 403, "{b}");
    assert!(text(&b).contains("POLICY_DENIED"), "{b}");

    // Must-show 1 over REST: submitted on 2 July for 30 June → late; overdue the day before.
    let doc = json!({"uri": "ged://cdc/ra-2022.pdf", "sha256": "cd".repeat(32), "mediaType": "application/pdf", "sizeBytes": 1000, "title": "RA 2022"});
    let (s, b) = rest.post(&cdc, &format!("/v1/{name}:submit"), json!({"receivedDate": "2023-07-02", "document": doc})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["deliverable"]["status"], "DELIVERABLE_STATUS_LATE", "{b}");
    let (s, b) = rest.get(&staff, "/v1/deliverables:overdue?asOf=2023-07-01").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["deliverables"].as_array().map(Vec::len), Some(1), "{b}");
    let (s, b) = rest.get(&cdc, &format!("/v1/{name}?asOf=2023-08-01")).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("DELIVERABLE_STATUS_LATE")), "{b}");

    // Must-show 3 over REST: a CDC key gets 403 on a CNAM claim.
    let (s, b) = rest
        .post(
            &cnam,
            "/v1/claims",
            json!({"claim": {"partner": "PARTNER_CNAM", "receivedDate": "2023-03-01", "channel": "CLAIM_CHANNEL_MAIL",
                   "category": "CLAIM_CATEGORY_REIMBURSEMENT", "requester": "REQUESTER_INSURED"}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let claim = b["claim"]["name"].as_str().expect("claim").to_owned();
    let (s, b) = rest.get(&cdc, &format!("/v1/{claim}")).await;
    assert_eq!(s, 403, "{b}");
    assert!(text(&b).contains("PARTNER_SCOPE_DENIED"), "{b}");
    assert_eq!(rest.get(&cnam, &format!("/v1/{claim}")).await.0, 200);

    // Must-show 5 over REST: ANGDM records spending; the BNASS line shows it executed.
    let (s, b) = rest
        .post(
            &angdm,
            "/v1/socialActionStatements",
            json!({"statement": {"year": 2022, "period": "2022Q1", "section": "BNASS_SECTION_PA", "subItem": "INDIVIDUAL_ASS",
                   "amountCents": "450000000", "reference": "ANGDM-PA-2022Q1"}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = rest.get(&angdm, "/v1/socialActionExecution/2022").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["sections"][0]["executedCents"], "450000000", "{b}");
    let (s, b) = rest.get(&staff, "/v1/funds/BNASS/years/2022/lines/BNASS-PA-IND").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["position"]["executedCents"], "450000000", "{b}");
    // The CDC cannot read ANGDM's spending.
    assert_eq!(rest.get(&cdc, "/v1/socialActionExecution/2022").await.0, 403);
    // Metrics for the steering service.
    let (s, b) = rest.get(&staff, "/v1/missionsMetrics/2023?asOf=2023-12-31").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["deliverables"]["late"], 1, "{b}");
    // The OpenAPI document lists the missions routes.
    let openapi: Value = rest.http.get(format!("{}/openapi.json", rest.base)).send().await.expect("openapi").json().await.expect("json");
    assert!(openapi["paths"].get("/v1/deliverables:overdue").is_some());
}
