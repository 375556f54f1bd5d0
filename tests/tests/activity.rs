//! The 2018 general-medicine opening rate, end to end: a year of acts
//! streamed through the gateway's gRPC endpoint, the rate read over REST.
//!
//! Reference (shared/data/activity_2017_2018_reference.csv, COG 2018-2021
//! execution report): 64,372 miner and 117,366 other patients; 545,991 and
//! 497,148 acts; opening rate 64.58 % in patients, 47.66 % in acts.

use filieris_e2e::{ADMIN_KEY, Platform};
use filieris_proto::activity as pb;
use filieris_proto::activity::activity_service_client::ActivityServiceClient;
use serde_json::Value;
use tonic::metadata::MetadataValue;

const MINER_PATIENTS: i64 = 64_372;
const OTHER_PATIENTS: i64 = 117_366;
const MINER_ACTS: i64 = 545_991;
const OTHER_ACTS: i64 = 497_148;
const CHUNK: usize = 10_000;

/// Acts of one patient: the scheme's acts spread evenly over its patients.
fn acts_of(index: i64, patients: i64, acts: i64) -> i64 {
    acts / patients + i64::from(index < acts % patients)
}

/// Every act of the year, deterministic: patients spread over the centres,
/// acts over the days of 2018.
fn rows(centres: &[String]) -> Vec<pb::ActInput> {
    let mut out = Vec::with_capacity((MINER_ACTS + OTHER_ACTS) as usize);
    let start = chrono::NaiveDate::from_ymd_opt(2018, 1, 1).expect("date");
    for (scheme, prefix, patients, acts) in
        [(pb::Scheme::Mining, "m", MINER_PATIENTS, MINER_ACTS), (pb::Scheme::Other, "o", OTHER_PATIENTS, OTHER_ACTS)]
    {
        for p in 0..patients {
            let centre = &centres[(p as usize * 7) % centres.len()];
            for k in 0..acts_of(p, patients, acts) {
                let day = start + chrono::Days::new(((p * 37 + k * 53) % 365) as u64);
                out.push(pb::ActInput {
                    act_date: day.to_string(),
                    finess: centre.clone(),
                    line: pb::ActivityLine::GeneralMedicine as i32,
                    nomenclature: pb::Nomenclature::Ngap as i32,
                    code: if k % 5 == 4 { "V".into() } else { "C".into() },
                    mode: 0,
                    patient: Some(pb::PatientRef {
                        identity: Some(pb::patient_ref::Identity::Partner(pb::PartnerPseudonym {
                            partner: "mlm".into(),
                            id: format!("{prefix}{p}"),
                        })),
                    }),
                    scheme: scheme as i32,
                    amount_cents: 2799,
                    source_ref: String::new(),
                });
            }
        }
    }
    out
}

/// An authenticated ImportActs call through the gateway: header, then the rows in chunks.
fn import_request(
    request_id: &str,
    all: &[pb::ActInput],
) -> tonic::Request<impl tokio_stream::Stream<Item = pb::ImportActsRequest> + use<>> {
    let mut messages = vec![pb::ImportActsRequest {
        part: Some(pb::import_acts_request::Part::Header(pb::ImportHeader {
            request_id: request_id.into(),
            source_system: "MLM".into(),
            format: 0,
        })),
    }];
    messages.extend(
        all.chunks(CHUNK)
            .map(|c| pb::ImportActsRequest { part: Some(pb::import_acts_request::Part::Rows(pb::ActRows { acts: c.to_vec() })) }),
    );
    let mut request = tonic::Request::new(tokio_stream::iter(messages));
    let auth: MetadataValue<_> = format!("Bearer {ADMIN_KEY}").parse().expect("header");
    request.metadata_mut().insert("authorization", auth);
    request
}

async fn activity_client(p: &Platform) -> ActivityServiceClient<tonic::transport::Channel> {
    let channel = tonic::transport::Channel::from_shared(p.gateway_url.clone()).expect("url").connect().await.expect("connect");
    ActivityServiceClient::new(channel).max_encoding_message_size(64 << 20)
}

async fn import(p: &Platform, request_id: &str, all: &[pb::ActInput]) -> pb::ActBatch {
    activity_client(p).await.import_acts(import_request(request_id, all)).await.expect("import").into_inner().batch.expect("batch")
}

async fn opening_rate(p: &Platform) -> Value {
    let url = format!("{}/v1/openingRate?period=2018&line=ACTIVITY_LINE_GENERAL_MEDICINE", p.gateway_url);
    let r = reqwest::Client::new().get(url).bearer_auth(ADMIN_KEY).send().await.expect("send");
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.expect("json")
}

fn counts(v: &Value) -> (String, String, String, String) {
    let s = |x: &Value| x.as_str().map(str::to_owned).unwrap_or_else(|| x.to_string());
    (s(&v["patients"]["numerator"]), s(&v["patients"]["denominator"]), s(&v["acts"]["numerator"]), s(&v["acts"]["denominator"]))
}

#[tokio::test]
async fn the_2018_general_medicine_opening_rate_through_the_gateway() {
    let p = Platform::start().await.expect("platform");
    let centres = p.open_health_centres().await.expect("centres");
    assert!(centres.len() > 100);
    let all = rows(&centres);
    assert_eq!(all.len() as i64, MINER_ACTS + OTHER_ACTS);

    let batch = import(&p, "gm-2018", &all).await;
    assert_eq!((batch.accepted_rows, batch.rejected_rows), (1_043_139, 0));
    let rate = opening_rate(&p).await;
    assert_eq!(counts(&rate), ("117366".into(), "181738".into(), "497148".into(), "1043139".into()), "{rate}");
    let pct = |x: &Value| x.as_f64().expect("percent");
    assert_eq!(format!("{:.2}", pct(&rate["patients"]["percent"])), "64.58");
    assert_eq!(format!("{:.2}", pct(&rate["acts"]["percent"])), "47.66");

    // The same batch again: nothing changes, same summary.
    let again = import(&p, "gm-2018", &all).await;
    assert_eq!(again, batch);
    assert_eq!(counts(&opening_rate(&p).await), counts(&rate));

    // Voiding an "other" act lowers its numerator and denominator by one.
    let other_row = MINER_ACTS + 1; // the first act of the first other-scheme patient
    let url = format!("{}/v1/{}/acts/{other_row}:void", p.gateway_url, batch.name);
    let r =
        reqwest::Client::new().post(url).bearer_auth(ADMIN_KEY).json(&serde_json::json!({"reason": "doublon"})).send().await.expect("void");
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap_or_default());
    let after = opening_rate(&p).await;
    assert_eq!(counts(&after), ("117366".into(), "181738".into(), "497147".into(), "1043138".into()), "{after}");
}

#[tokio::test]
async fn csv_and_ndjson_uploads_through_the_gateway() {
    let p = Platform::start().await.expect("platform");
    let finess = p.open_health_centres().await.expect("centres").remove(0);
    let upload = |content_type: &'static str, key: &'static str, body: String| {
        let url = format!("{}/v1/actBatches:upload?sourceSystem=MLM", p.gateway_url);
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .bearer_auth(ADMIN_KEY)
                .header("content-type", content_type)
                .header("Idempotency-Key", key)
                .body(body)
                .send()
                .await
                .expect("upload");
            (r.status().as_u16(), r.json::<Value>().await.expect("json"))
        }
    };
    let csv = format!(
        "act_date,finess,line,nomenclature,code,scheme,amount_cents,patient_nir\n\
         2018-04-03,{finess},GENERAL_MEDICINE,NGAP,C,OTHER,2500,189127512501282\n\
         2018-04-04,{finess},GENERAL_MEDICINE,NGAP,C,MINING,2500,189127512501283\n\
         2018-04-05,{finess},NURSING,NGAP,AMI 1.5,MINING,801,255081416802538\n"
    );
    let (status, batch) = upload("text/csv", "csv-1", csv.clone()).await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!((batch["acceptedRows"].as_str(), batch["rejectedRows"].as_str()), (Some("2"), Some("1")), "{batch}");
    assert_eq!(batch["errors"][0]["row"], "2");
    assert_eq!(batch["errors"][0]["field"], "patient.nir");
    // Same key, same file: the same summary.
    let (_, again) = upload("text/csv", "csv-1", csv).await;
    assert_eq!(again, batch);

    let ndjson = format!(
        "{{\"actDate\":\"2018-05-02\",\"finess\":\"{finess}\",\"line\":\"DENTAL\",\"nomenclature\":\"CCAM\",\"code\":\"HBLD038\",\"scheme\":\"OTHER\",\"patient\":{{\"partner\":{{\"partner\":\"mlm\",\"id\":\"7\"}}}}}}\nnot json\n"
    );
    let (status, batch) = upload("application/x-ndjson", "ndjson-1", ndjson).await;
    assert_eq!(status, 200, "{batch}");
    assert_eq!((batch["acceptedRows"].as_str(), batch["rejectedRows"].as_str()), (Some("1"), Some("1")), "{batch}");

    let (status, err) = upload("text/plain", "x", "hello".into()).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["status"], "INVALID_ARGUMENT");
}

#[tokio::test]
async fn a_running_import_reports_progress_and_can_be_cancelled() {
    let p = Platform::start().await.expect("platform");
    let db = sqlx::PgPool::connect(&p.database_url).await.expect("db");
    let centres = p.open_health_centres().await.expect("centres");
    let all: Vec<pb::ActInput> = rows(&centres).into_iter().take(400_000).collect();

    // A slow sender: one chunk every 100 ms.
    let mut client = activity_client(&p).await;
    let (metadata, extensions, stream) = import_request("slow-1", &all).into_parts();
    let slow = tokio_stream::StreamExt::throttle(stream, std::time::Duration::from_millis(100));
    let request = tonic::Request::from_parts(metadata, extensions, slow);
    let import = tokio::spawn(async move { client.import_acts(request).await });

    let http = reqwest::Client::new();
    let get = || async {
        let r = http.get(format!("{}/v1/importOperations/slow-1", p.gateway_url)).bearer_auth(ADMIN_KEY).send().await.expect("get");
        (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
    };
    let mut progressed = Value::Null;
    for _ in 0..200 {
        let (status, op) = get().await;
        if status == 200
            && op["state"] == "IMPORT_STATE_RUNNING"
            && op["rowsReceived"].as_str().and_then(|n| n.parse::<i64>().ok()).unwrap_or(0) > 0
        {
            progressed = op;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(progressed["state"], "IMPORT_STATE_RUNNING", "progress is visible while the import runs");

    let r = http
        .post(format!("{}/v1/importOperations/slow-1:cancel", p.gateway_url))
        .bearer_auth(ADMIN_KEY)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("cancel");
    assert_eq!(r.status().as_u16(), 200);
    let outcome = import.await.expect("join");
    let status = outcome.expect_err("a cancelled import fails");
    assert_eq!(status.code(), tonic::Code::Aborted);
    let (_, op) = get().await;
    assert_eq!(op["state"], "IMPORT_STATE_CANCELLED", "{op}");
    let (acts,): (i64,) = sqlx::query_as("SELECT count(*) FROM activity.act").fetch_one(&db).await.expect("count");
    assert_eq!(acts, 0, "nothing of a cancelled import is stored");
}
