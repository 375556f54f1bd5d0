//! `grpc.health.v1`: SERVING only while the database answers, NOT_SERVING
//! while it does not and from the moment shutdown starts, so load balancers
//! stop routing before the process stops accepting.

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// How often readiness is re-checked.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Keeps the health of `services` (and the overall "" entry) in line with the
/// database until `stopping` turns true, then reports NOT_SERVING for good.
pub async fn watch_database(reporter: HealthReporter, pool: PgPool, services: Vec<String>, mut stopping: watch::Receiver<bool>) {
    let mut last: Option<bool> = None;
    loop {
        if *stopping.borrow() {
            set_all(&reporter, &services, ServingStatus::NotServing).await;
            return;
        }
        let up = crate::db::ping(&pool).await;
        if last != Some(up) {
            if up {
                tracing::info!("database reachable: SERVING");
            } else {
                tracing::warn!("database unreachable: NOT_SERVING");
            }
            set_all(&reporter, &services, if up { ServingStatus::Serving } else { ServingStatus::NotServing }).await;
            last = Some(up);
        }
        tokio::select! {
            _ = tokio::time::sleep(CHECK_INTERVAL) => {}
            _ = stopping.changed() => {}
        }
    }
}

async fn set_all(reporter: &HealthReporter, services: &[String], status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for s in services {
        reporter.set_service_status(s, status).await;
    }
}
