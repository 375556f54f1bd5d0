//! The gateway's Prometheus metrics, served as text at `GET /metrics`.
//!
//! A small registry of its own: a handful of counters and one histogram
//! family do not justify a metrics framework. Labels are bounded: `rpc` is a
//! method the descriptors define (or `unmatched`), `code` a gRPC code name.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the duration histogram buckets.
const BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS.len()];
        }
        for (slot, bound) in self.counts.iter_mut().zip(BUCKETS) {
            if seconds <= *bound {
                *slot += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }
}

/// Every metric of one gateway process.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<HashMap<(String, &'static str), u64>>,
    durations: Mutex<HashMap<String, Histogram>>,
    in_flight: AtomicI64,
    shed: AtomicU64,
    quota_rejected: AtomicU64,
    quota_fallbacks: AtomicU64,
    audit_dropped: AtomicU64,
    audit_failed: AtomicU64,
    upstream_retries: AtomicU64,
}

impl Metrics {
    /// One finished call of `rpc` with outcome `code` (a gRPC code name).
    pub fn record(&self, rpc: &str, code: &'static str, elapsed: Duration) {
        {
            let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            *requests.entry((rpc.to_owned(), code)).or_default() += 1;
        }
        let mut durations = self.durations.lock().unwrap_or_else(|p| p.into_inner());
        durations.entry(rpc.to_owned()).or_default().observe(elapsed.as_secs_f64());
    }

    /// A call entered (+1) or left (-1) the gateway.
    pub fn in_flight(&self, delta: i64) {
        self.in_flight.fetch_add(delta, Ordering::Relaxed);
    }

    /// A call refused by the concurrency limit.
    pub fn shed(&self) {
        self.shed.fetch_add(1, Ordering::Relaxed);
    }

    /// A call refused by its caller's quota.
    pub fn quota_rejected(&self) {
        self.quota_rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// A quota decision taken by the local bucket because Redis failed.
    pub fn quota_fallback(&self) {
        self.quota_fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    /// Audit events dropped because the writer's queue was full.
    pub fn audit_dropped(&self) {
        self.audit_dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Audit events lost because PostgreSQL refused the batch.
    pub fn audit_failed(&self, n: u64) {
        self.audit_failed.fetch_add(n, Ordering::Relaxed);
    }

    /// A read retried once after its service was unreachable.
    pub fn upstream_retry(&self) {
        self.upstream_retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Quota decisions taken locally so far (tests, readiness checks).
    pub fn quota_fallbacks(&self) -> u64 {
        self.quota_fallbacks.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP filieris_gateway_requests_total Calls answered, by RPC and gRPC code.");
        let _ = writeln!(out, "# TYPE filieris_gateway_requests_total counter");
        {
            let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            let mut rows: Vec<_> = requests.iter().collect();
            rows.sort();
            for ((rpc, code), n) in rows {
                let _ = writeln!(out, "filieris_gateway_requests_total{{rpc=\"{}\",code=\"{code}\"}} {n}", escape(rpc));
            }
        }
        let _ = writeln!(out, "# HELP filieris_gateway_request_duration_seconds Time to answer a call, by RPC.");
        let _ = writeln!(out, "# TYPE filieris_gateway_request_duration_seconds histogram");
        {
            let durations = self.durations.lock().unwrap_or_else(|p| p.into_inner());
            let mut rows: Vec<_> = durations.iter().collect();
            rows.sort_by(|a, b| a.0.cmp(b.0));
            for (rpc, h) in rows {
                let rpc = escape(rpc);
                for (bound, n) in BUCKETS.iter().zip(&h.counts) {
                    let _ = writeln!(out, "filieris_gateway_request_duration_seconds_bucket{{rpc=\"{rpc}\",le=\"{bound}\"}} {n}");
                }
                let _ = writeln!(out, "filieris_gateway_request_duration_seconds_bucket{{rpc=\"{rpc}\",le=\"+Inf\"}} {}", h.count);
                let _ = writeln!(out, "filieris_gateway_request_duration_seconds_sum{{rpc=\"{rpc}\"}} {}", h.sum);
                let _ = writeln!(out, "filieris_gateway_request_duration_seconds_count{{rpc=\"{rpc}\"}} {}", h.count);
            }
        }
        let gauges: [(&str, &str, &str, i64); 1] =
            [("filieris_gateway_in_flight", "gauge", "Calls being served now.", self.in_flight.load(Ordering::Relaxed))];
        let counters: [(&str, &str, &AtomicU64); 6] = [
            ("filieris_gateway_shed_total", "Calls refused at once because the gateway was at its concurrency limit.", &self.shed),
            ("filieris_gateway_quota_rejected_total", "Calls refused because the caller exceeded its quota.", &self.quota_rejected),
            (
                "filieris_gateway_quota_fallback_total",
                "Quota decisions taken by the local bucket because Redis was unreachable or slow.",
                &self.quota_fallbacks,
            ),
            ("filieris_gateway_audit_dropped_total", "Audit events dropped because the audit queue was full.", &self.audit_dropped),
            ("filieris_gateway_audit_failed_total", "Audit events lost because PostgreSQL refused their batch.", &self.audit_failed),
            (
                "filieris_gateway_upstream_retries_total",
                "Reads retried once because their service was unreachable.",
                &self.upstream_retries,
            ),
        ];
        for (name, kind, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", value.load(Ordering::Relaxed));
        }
        out
    }
}

/// Escapes a label value (backslash, quote, newline).
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.record("filieris.registry.v1.RegistryService/GetStructure", "OK", Duration::from_millis(20));
        m.record("filieris.registry.v1.RegistryService/GetStructure", "OK", Duration::from_secs(2));
        m.shed();
        let text = m.render();
        assert!(text.contains("filieris_gateway_requests_total{rpc=\"filieris.registry.v1.RegistryService/GetStructure\",code=\"OK\"} 2"));
        assert!(text.contains("le=\"0.025\"} 1"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 2"), "{text}");
        assert!(text.contains("filieris_gateway_shed_total 1"));
        assert_eq!(escape("a\"b\\"), "a\\\"b\\\\");
    }
}
