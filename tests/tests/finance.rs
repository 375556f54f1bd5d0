//! Finance results through the gateway over REST, as the finance directorate
//! or the steering service would use them: ledger amounts imported, the
//! twelve COG financial targets evaluated (issue 4, must-show 6).

use filieris_e2e::{ADMIN_KEY, Platform};
use filieris_finance::results::domain::{self, Perimeter};
use serde_json::{Value, json};

async fn get(p: &Platform, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new().get(format!("{}{path}", p.gateway_url)).bearer_auth(ADMIN_KEY).send().await.expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post(p: &Platform, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new().post(format!("{}{path}", p.gateway_url)).bearer_auth(ADMIN_KEY).json(&body).send().await.expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// An int64 of a JSON response (proto3 JSON writes them as strings).
fn cents(v: &Value) -> i64 {
    v.as_str().and_then(|s| s.parse().ok()).or_else(|| v.as_i64()).unwrap_or(0)
}

/// FINESS of the one structure a registry search finds.
async fn finess_of(p: &Platform, filter: &str, search: &str) -> String {
    let (status, body) = get(p, &format!("/v1/structures?filter={}&search={}", urlencode(filter), urlencode(search))).await;
    assert_eq!(status, 200, "{body}");
    let found = body["structures"].as_array().expect("structures");
    assert_eq!(found.len(), 1, "{search}: {body}");
    found[0]["finess"].as_str().expect("finess").to_owned()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// FINESS of the first member (by FINESS) of a target's perimeter in 2022, read
/// from the registry over REST the way the finance service resolves it.
async fn first_member(p: &Platform, perimeter: &Perimeter) -> String {
    let path = match perimeter {
        Perimeter::Group(code) => format!("/v1/structureGroups/{code}/members?period=2022&pageSize=200"),
        Perimeter::Search { search, filter } => {
            format!("/v1/structures?filter={}&search={}&asOfDate=2022-12-31", urlencode(filter), urlencode(search))
        }
        Perimeter::Filter(filter) => format!("/v1/structures?filter={}&asOfDate=2022-12-31&pageSize=200", urlencode(filter)),
    };
    let (status, body) = get(p, &path).await;
    assert_eq!(status, 200, "{path}: {body}");
    let mut finess: Vec<String> =
        body["structures"].as_array().expect("structures").iter().filter_map(|s| s["finess"].as_str().map(str::to_owned)).collect();
    finess.sort();
    finess.into_iter().next().unwrap_or_else(|| panic!("{path}: no member with a FINESS"))
}

fn entry(finess: &str, account: &str, month: &str, amount_cents: i64) -> Value {
    json!({
        "finess": finess,
        "account": account,
        "activityLine": "ACTIVITY_LINE_SSR_HAD_MEDICINE",
        "month": month,
        "amountCents": amount_cents.to_string(),
    })
}

#[tokio::test]
async fn freyming_2022_target_and_the_twelve_targets_through_the_gateway() {
    let p = Platform::start().await.expect("platform");
    let freyming = finess_of(&p, "category = HOSPITAL", "Freyming-Creutzwald").await;

    // 2022: produits 20,000,000.00, charges 21,600,000.00 → result −1,600,000.00.
    let (status, batch) = post(
        &p,
        "/v1/ledgerBatches",
        json!({
            "requestId": "e2e-freyming-1",
            "sourceSystem": "GESCICA",
            "entries": [entry(&freyming, "7311", "202206", 2_000_000_000), entry(&freyming, "6411", "202206", 2_160_000_000), entry("750712185", "6411", "202206", 1)],
        }),
    )
    .await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!(cents(&batch["acceptedRows"]), 2);
    assert_eq!(cents(&batch["rejectedRows"]), 1);
    assert_eq!(batch["errors"][0]["field"], "finess");
    // The same request again: same summary, nothing written twice.
    let (_, again) = post(
        &p,
        "/v1/ledgerBatches",
        json!({
            "requestId": "e2e-freyming-1",
            "sourceSystem": "GESCICA",
            "entries": [entry(&freyming, "7311", "202206", 2_000_000_000), entry(&freyming, "6411", "202206", 2_160_000_000), entry("750712185", "6411", "202206", 1)],
        }),
    )
    .await;
    assert_eq!(again["name"], batch["name"]);

    let (status, r) = get(&p, &format!("/v1/results?period=2022&scope=structures/{freyming}")).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(cents(&r["total"]["resultCents"]), -160_000_000);

    // Targets 2 to 12: one member of each perimeter booked so that the perimeter lands exactly on its 2022 threshold.
    let mut rows = Vec::new();
    for target in &domain::targets().expect("targets")[1..] {
        let member = first_member(&p, &target.perimeter).await;
        let threshold = domain::effective_threshold_cents(target.kind(2022).expect("2022"), target.base_cents);
        rows.push(entry(&member, "7311", "202209", 100_000));
        rows.push(entry(&member, "6411", "202209", 100_000 - threshold));
    }
    let (status, batch) = post(&p, "/v1/ledgerBatches", json!({"requestId": "e2e-perimeters", "entries": rows})).await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!(cents(&batch["rejectedRows"]), 0, "{batch}");

    let (status, eval) = get(&p, "/v1/financialTargets:evaluate?year=2022").await;
    assert_eq!(status, 200, "{eval}");
    let targets = eval["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 12);
    let t1 = &targets[0];
    assert_eq!(t1["number"], 1);
    assert_eq!(cents(&t1["baseCents"]), -280_551_512);
    assert_eq!(t1["reductionPercent"], 40);
    assert_eq!(t1["exactThreshold"], "-1683309.072");
    assert_eq!(cents(&t1["effectiveThresholdCents"]), -168_330_907);
    assert_eq!(t1["status"], "TARGET_STATUS_MET", "{t1}");
    for t in &targets[1..] {
        assert_eq!(t["status"], "TARGET_STATUS_MET", "{t}");
        assert_eq!(cents(&t["amounts"]["resultCents"]), cents(&t["effectiveThresholdCents"]), "{t}");
        assert!(t["perimeter"].as_str().is_some_and(|s| !s.is_empty()));
    }
    // 2024 has no booked amount: nothing is evaluable.
    let (_, later) = get(&p, "/v1/financialTargets:evaluate?year=2024").await;
    assert!(later["targets"].as_array().expect("targets").iter().all(|t| t["status"] == "TARGET_STATUS_NOT_EVALUABLE"), "{later}");
    assert_eq!(targets[11]["kind"], "TARGET_KIND_SURPLUS");
    assert_eq!(cents(&targets[11]["effectiveThresholdCents"]), 1);

    // 100,000.00 more charges: −1,700,000.00 misses the target.
    let (status, _) =
        post(&p, "/v1/ledgerBatches", json!({"requestId": "e2e-freyming-2", "entries": [entry(&freyming, "6411", "202212", 10_000_000)]}))
            .await;
    assert_eq!(status, 200);
    let (_, eval) = get(&p, "/v1/financialTargets:evaluate?year=2022").await;
    let t1 = &eval["targets"][0];
    assert_eq!(cents(&t1["amounts"]["resultCents"]), -170_000_000);
    assert_eq!(t1["status"], "TARGET_STATUS_NOT_MET", "{t1}");
    assert_eq!(t1["qualifiers"][0], "TARGET_QUALIFIER_BETTER_THAN_BASE");
    let met = eval["targets"].as_array().expect("targets").iter().filter(|t| t["status"] == "TARGET_STATUS_MET").count();
    assert_eq!(met, 11);

    // The landing of indicator 1 after December is the booked year.
    let (status, landing) = get(&p, "/v1/landingForecast?year=2022&month=12&targetNumber=1").await;
    assert_eq!(status, 200, "{landing}");
    assert_eq!(cents(&landing["landing"]["resultCents"]), -170_000_000);
    assert_eq!(cents(&landing["gapCents"]), -170_000_000 + 168_330_907);
    assert_eq!(landing["status"], "LANDING_STATUS_AT_RISK");

    // Outside the COG years: 400 naming the field.
    let (status, body) = get(&p, "/v1/financialTargets:evaluate?year=2019").await;
    assert_eq!(status, 400, "{body}");
}
