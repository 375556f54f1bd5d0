//! Logs and traces.
//!
//! `tracing` everywhere; logs as text or JSON (`FILIERIS_LOG_FORMAT`), filtered
//! by `RUST_LOG` (default `info`). When `OTEL_EXPORTER_OTLP_ENDPOINT` is set,
//! spans are exported over OTLP/gRPC. W3C trace context (`traceparent`) is read
//! from incoming calls and written on outgoing ones, so one trace follows a
//! request from the gateway through the services.

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{TraceContextExt as _, TraceId, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{ConfigError, Env};
use crate::identity::REQUEST_ID_HEADER;

/// Flushes exported spans when dropped; hold it until the process exits.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown();
        }
    }
}

/// Installs the global subscriber for a binary.
pub fn init(service_name: &'static str) -> Result<TelemetryGuard, ConfigError> {
    let env = Env::process();
    let json = match env.get("FILIERIS_LOG_FORMAT").as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "FILIERIS_LOG_FORMAT".into(),
                value: other.into(),
                reason: "expected text or json".into(),
            });
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,h2=warn,hyper=warn,tower=warn"));
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let provider = match env.get("OTEL_EXPORTER_OTLP_ENDPOINT") {
        None => None,
        Some(endpoint) => {
            use opentelemetry_otlp::WithExportConfig;
            let exporter =
                opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(endpoint.clone()).build().map_err(|e| {
                    ConfigError::Invalid { name: "OTEL_EXPORTER_OTLP_ENDPOINT".into(), value: endpoint, reason: e.to_string() }
                })?;
            let resource = opentelemetry_sdk::Resource::builder().with_service_name(service_name).build();
            Some(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
        }
    };
    let otel_layer = provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service_name)));
    let registry = tracing_subscriber::registry().with(filter).with(otel_layer);
    let result = if json {
        registry.with(tracing_subscriber::fmt::layer().json().with_current_span(true)).try_init()
    } else {
        // Colours only on a terminal: log files stay plain text.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
        registry.with(tracing_subscriber::fmt::layer().with_ansi(ansi)).try_init()
    };
    // A second init (tests running several servers in one process) keeps the first.
    let _ = result;
    Ok(TelemetryGuard { provider })
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (http::HeaderName::from_bytes(key.as_bytes()), http::HeaderValue::from_str(&value)) {
            self.0.insert(name, value);
        }
    }
}

/// The span of one incoming request (gRPC method or REST path), child of
/// the caller's trace context.
pub fn server_span<B>(req: &http::Request<B>) -> tracing::Span {
    let request_id = req.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    let span = tracing::info_span!(
        "request",
        otel.kind = "server",
        path = %req.uri().path(),
        request_id = %request_id,
        trace_id = tracing::field::Empty,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(req.headers())));
    let incoming = parent.span().span_context().trace_id();
    let _ = span.set_parent(parent);
    // Logs carry the trace id, so a log line leads to its trace: the span's
    // own when OpenTelemetry is on, else the caller's from `traceparent`.
    let own = span.context().span().span_context().trace_id();
    let trace_id = if own != TraceId::INVALID { own } else { incoming };
    if trace_id != TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace_id));
    }
    span
}

/// Writes the current span's trace context into outgoing headers.
pub fn inject_current(headers: &mut http::HeaderMap) {
    let cx = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut HeaderInjector(headers)));
}
