//! The report job against the steering service served in process (gRPC,
//! signed identity): the files are written, and last month's report
//! regenerates byte for byte after a definition change and a new computation.
//! Finance, activity and missions are unreachable here: their sections say so.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{key, req, setup};
use filieris_proto::steering as pb;
use filieris_proto::steering::steering_service_server::SteeringService;
use filieris_steering::report::data::{missions_day, opening_rate_asks};
use filieris_steering::report::{Period, ReportClient, ReportData, ReportUrls, render, write_files};

async fn fetch(client: &ReportClient, period: Period, as_of: chrono::DateTime<Utc>) -> ReportData {
    let year = period.year();
    let (definitions, values) = client.indicators(year, as_of).await.expect("indicators");
    let counts = client.action_counts(year).await.expect("counts");
    let budget = client.budget(year).await;
    let missions = client.missions(year, missions_day(period, as_of)).await;
    let (m, r) = opening_rate_asks(period);
    let monthly = client.opening_rates(&m).await;
    let regions = client.opening_rates(&r).await;
    ReportData { period, as_of, definitions, values, counts, budget, missions, monthly, regions }
}

#[tokio::test]
async fn the_report_regenerates_identically_as_of_its_time() {
    let env = setup().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(filieris_steering::serve(listener, env.api.clone(), env.pool.clone(), key(), Duration::from_secs(1), async {
        let _ = stop_rx.await;
    }));
    let urls = ReportUrls {
        steering: format!("http://{addr}"),
        finance: common::NOWHERE.into(),
        activity: common::NOWHERE.into(),
        missions: common::NOWHERE.into(),
    };
    let client = ReportClient::new(&urls, key()).expect("client");

    env.api
        .record_manual_value(req(pb::RecordManualValueRequest {
            indicator: "indicators/COG22.OFFRE.2".into(),
            year: 2022,
            kind: pb::ValueKind::Value as i32,
            numerator: 8,
            denominator: Some(11),
            comment: "HAS".into(),
            ..Default::default()
        }))
        .await
        .expect("manual");
    client.compute(2022).await.expect("compute over gRPC");
    let published_at = Utc::now();
    let data = fetch(&client, Period::Year(2022), published_at).await;
    assert_eq!(data.definitions.len(), 44);
    let first = render(&data);
    let dir = std::env::temp_dir().join(format!("steering-report-{}", env.db.name));
    let files = write_files(&dir, &first).expect("files");
    assert_eq!(files.len(), first.files.len());
    assert!(files.iter().all(|f| f.exists()));
    // Finance is unreachable here: each fund is listed with the reason.
    let budget = std::fs::read_to_string(dir.join("cog_2022_budget_execution.csv")).expect("budget");
    assert_eq!(budget.lines().filter(|l| l.contains(",ND: finance did not answer")).count(), 3, "{budget}");
    let annex = std::fs::read_to_string(dir.join("cog_2022_indicator_annex.csv")).expect("annex");
    assert_eq!(annex.lines().count(), 45);
    assert!(annex.lines().any(|l| l.starts_with("COG22.OFFRE.2,2,") && l.contains(",72.7,8,11,MANUAL,NO_TARGET,")), "{annex}");
    let counts = std::fs::read_to_string(dir.join("cog_2022_action_counts.csv")).expect("counts");
    // Actions scheduled in 2022: the 194 whole-period ones and the 29 the data file ticks 2022.
    assert!(counts.ends_with("0,Total,223,223,0,0\n"), "{counts}");
    // The unreachable services are named in the report, which is still written.
    let html = std::fs::read_to_string(dir.join("cog_2022_report.html")).expect("html");
    assert!(
        html.contains("le service des missions n&#39;a pas répondu") || html.contains("le service des missions n'a pas répondu"),
        "missions"
    );
    assert!(html.contains("72,7 % (m)"), "the manual value is marked");
    let pdf = std::fs::read(dir.join("cog_2022_report.pdf")).expect("pdf");
    assert!(pdf.starts_with(b"%PDF-1.4"));
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest")).expect("json");
    assert_eq!(manifest["as_of"], published_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));

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
            ..Default::default()
        }))
        .await
        .expect("manual");
    client.compute(2022).await.expect("compute again");

    let again = render(&fetch(&client, Period::Year(2022), published_at).await);
    assert_eq!(again, first, "last month's report regenerates identically");
    // Written again into the same directory: same bytes, the directory replaced as a whole.
    write_files(&dir, &again).expect("files again");
    assert_eq!(std::fs::read(dir.join("cog_2022_report.pdf")).expect("pdf"), pdf);
    let today = render(&fetch(&client, Period::Year(2022), Utc::now()).await);
    assert!(today.text("indicator_annex.csv").contains(",81.818,9,11,MANUAL,"), "{}", today.text("indicator_annex.csv"));
    assert_ne!(today.file("report.pdf"), first.file("report.pdf"));

    // The monthly dashboard reuses the parts.
    let month = render(&fetch(&client, Period::Month(2022, 6), published_at).await);
    assert!(month.files.iter().all(|(n, _)| n.starts_with("dashboard_2022-06_") || n == "manifest.json"));
    assert!(month.text("report.html").contains("Tableau de bord mensuel — juin 2022"));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = stop.send(());
}
