//! The report job against the steering service served in process (gRPC,
//! signed identity): the files are written, and last month's report
//! regenerates byte for byte after a definition change and a new computation.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{key, req, setup};
use filieris_proto::steering as pb;
use filieris_proto::steering::steering_service_server::SteeringService;
use filieris_steering::report::{ReportClient, render, write_files};

#[tokio::test]
async fn the_report_regenerates_identically_as_of_its_time() {
    let env = setup().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(filieris_steering::serve(listener, env.api.clone(), env.pool.clone(), key(), Duration::from_secs(1), async {
        let _ = stop_rx.await;
    }));
    let client = ReportClient::new(&format!("http://{addr}"), common::NOWHERE, key()).expect("client");

    env.api
        .record_manual_value(req(pb::RecordManualValueRequest {
            indicator: "indicators/COG22.OFFRE.2".into(),
            year: 2022,
            kind: pb::ValueKind::Value as i32,
            numerator: 8,
            denominator: Some(11),
            comment: "HAS".into(),
            request_id: String::new(),
        }))
        .await
        .expect("manual");
    let computed = client.compute(2022).await.expect("compute over gRPC");
    assert_eq!(computed.values.len(), 43, "the manual indicator keeps its entered value");
    let published_at = Utc::now();
    let data = client.fetch(2022, published_at).await.expect("fetch");
    assert_eq!(data.definitions.len(), 44);
    let first = render(&data);
    let dir = std::env::temp_dir().join(format!("steering-report-{}", env.db.name));
    let files = write_files(&dir, 2022, &first).expect("files");
    assert_eq!(files.len(), 4);
    // Finance is unreachable here: each fund is listed with the reason.
    let budget = std::fs::read_to_string(&files[2]).expect("budget");
    assert_eq!(budget.lines().filter(|l| l.contains(",ND: finance did not answer")).count(), 3, "{budget}");
    let annex = std::fs::read_to_string(&files[0]).expect("annex");
    assert_eq!(annex.lines().count(), 45);
    assert!(annex.lines().any(|l| l.starts_with("COG22.OFFRE.2,2,") && l.contains(",72.7,8,11,MANUAL,NO_TARGET,")), "{annex}");
    let counts = std::fs::read_to_string(&files[1]).expect("counts");
    // Actions scheduled in 2022: the 194 whole-period ones and the 29 the data file ticks 2022.
    assert!(counts.ends_with("0,Total,223,223,0,0\n"), "{counts}");

    // A month later the definition changes and the indicators are computed again.
    let mut d = env
        .api
        .get_indicator_definition(req(pb::GetIndicatorDefinitionRequest { name: "indicators/COG22.OFFRE.2".into(), version: 0 }))
        .await
        .expect("get")
        .into_inner()
        .definition
        .expect("definition");
    d.decimals = 3;
    env.api
        .update_indicator_definition(req(pb::UpdateIndicatorDefinitionRequest {
            definition: Some(d),
            expected_version: 0,
            reason: "three decimals".into(),
            request_id: String::new(),
        }))
        .await
        .expect("edit");
    env.api
        .record_manual_value(req(pb::RecordManualValueRequest {
            indicator: "indicators/COG22.OFFRE.2".into(),
            year: 2022,
            kind: pb::ValueKind::Value as i32,
            numerator: 9,
            denominator: Some(11),
            comment: "HAS, new decision".into(),
            request_id: String::new(),
        }))
        .await
        .expect("manual");
    client.compute(2022).await.expect("compute again");

    let again = render(&client.fetch(2022, published_at).await.expect("fetch as of"));
    assert_eq!(again, first, "last month's report regenerates identically");
    let today = render(&client.fetch(2022, Utc::now()).await.expect("fetch now"));
    assert!(today.annex_csv.contains(",81.818,9,11,MANUAL,"), "{}", today.annex_csv);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = stop.send(());
}
