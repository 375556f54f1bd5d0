//! One trace from the gateway through the registry to its database for a
//! REST call: the client's W3C `traceparent` is continued by the gateway,
//! propagated to the service, and the service's database spans hang under its
//! own request span. Spans are collected in memory.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use filieris_runtime::config::{Env, InternalKey};
use filieris_runtime::testing::TestDatabase;
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tracing_subscriber::layer::SubscriberExt;

const INTERNAL_KEY: &str = "6e7d8c9b0a1f2e3d4c5b6a798877665544332211ffeeddccbbaa998877665544";
const ADMIN_KEY: &str = "fk_trace_admin_key_for_tests_only_0123456789";

/// Keeps every finished span.
#[derive(Debug, Clone, Default)]
struct Collected(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Collected {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend(batch);
        Ok(())
    }
}

impl Collected {
    fn spans(&self) -> Vec<SpanData> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.to_string())
}

#[tokio::test]
async fn one_trace_spans_gateway_service_and_database() {
    let spans = Collected::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(spans.clone()).build();
    let subscriber = tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("trace-test")));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this test binary");
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    // The registry and the gateway, in this process.
    let db = TestDatabase::create().await.expect("database");
    let key = InternalKey::from_hex(INTERNAL_KEY).expect("key");
    let pool =
        filieris_runtime::db::connect(&db.url, filieris_registry::SCHEMA, 4, &filieris_registry::MIGRATOR).await.expect("registry db");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let registry = listener.local_addr().expect("addr");
    let (_stop_registry, stopped) = oneshot::channel::<()>();
    tokio::spawn(filieris_registry::serve(listener, pool, key, Duration::from_secs(1), async move {
        let _ = stopped.await;
    }));
    let config = filieris_gateway::GatewayConfig::from_env(&Env::from_pairs([
        ("DATABASE_URL", db.url.as_str()),
        ("FILIERIS_INTERNAL_KEY", INTERNAL_KEY),
        ("FILIERIS_DEV_API_KEY", ADMIN_KEY),
        ("FILIERIS_REGISTRY_URL", &format!("http://{registry}")),
    ]))
    .expect("config");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (_stop_gateway, stopped) = oneshot::channel::<()>();
    tokio::spawn(filieris_gateway::serve(listener, config, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    while !http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
        tokio::task::yield_now().await;
    }

    // A REST write, as a client already tracing would send it.
    let client_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let client_span = "00f067aa0ba902b7";
    let response = http
        .post(format!("{base}/v1/structures"))
        .bearer_auth(ADMIN_KEY)
        .header("traceparent", format!("00-{client_trace}-{client_span}-01"))
        .json(&serde_json::json!({
            "finess": "590999991",
            "level": "STRUCTURE_LEVEL_ESTABLISHMENT",
            "category": "CATEGORY_HEALTH_CENTRE",
            "subtype": "SUBTYPE_POLYVALENT",
            "displayName": "Centre tracé",
            "region": "REGION_NORD",
            "department": "59",
            "openDate": "2024-01-15",
            "address": {"line": "2 rue Jean Jaurès", "postalCode": "59300", "city": "Valenciennes"}
        }))
        .send()
        .await
        .expect("call");
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());

    // Spans end as the responses complete; wait for the gateway's.
    let trace = TraceId::from_hex(client_trace).expect("trace id");
    let is_gateway = |s: &SpanData| s.span_context.trace_id() == trace && attribute(s, "path").as_deref() == Some("/v1/structures");
    let mut attempts = 0;
    while !spans.spans().iter().any(is_gateway) {
        attempts += 1;
        assert!(attempts < 500, "the gateway's span never ended: {:?}", spans.spans().iter().map(|s| &s.name).collect::<Vec<_>>());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let all: Vec<SpanData> = spans.spans().into_iter().filter(|s| s.span_context.trace_id() == trace).collect();
    let names: Vec<String> = all.iter().map(|s| format!("{} {:?}", s.name, attribute(s, "path"))).collect();

    // gateway (child of the client's span) → registry (child of the gateway's) → database (children of the registry's).
    let gateway = all.iter().find(|s| is_gateway(s)).expect("gateway span");
    assert_eq!(gateway.parent_span_id, SpanId::from_hex(client_span).expect("span id"), "{names:?}");
    let service = all
        .iter()
        .find(|s| attribute(s, "path").as_deref() == Some("/filieris.registry.v1.RegistryService/CreateStructure"))
        .unwrap_or_else(|| panic!("registry span in the same trace: {names:?}"));
    assert_eq!(service.parent_span_id, gateway.span_context.span_id(), "{names:?}");
    // Both request spans carry the trace id as a field, so their log lines do too.
    assert_eq!(attribute(gateway, "trace_id").as_deref(), Some(client_trace));
    assert_eq!(attribute(service, "trace_id").as_deref(), Some(client_trace));
    let database: Vec<&SpanData> = all.iter().filter(|s| attribute(s, "db.system").as_deref() == Some("postgresql")).collect();
    let operations: Vec<String> = database.iter().map(|s| s.name.to_string()).collect();
    for op in ["write.begin", "write.record", "write.commit"] {
        assert!(operations.iter().any(|o| o == op), "{op} span missing: {names:?}");
    }
    for span in &database {
        assert_eq!(span.parent_span_id, service.span_context.span_id(), "database spans belong to the registry's call: {names:?}");
    }
    let _ = provider.shutdown();
}
