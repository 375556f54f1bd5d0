//! PostgreSQL: one pool per service, bound to the service's own schema.
//!
//! Each service owns one schema (`registry`, `activity`, ...) and nobody else
//! reads its tables. Its migrations, and the runtime's own tables (audit,
//! idempotency, change feed), are embedded in the binary and applied at start
//! under a session advisory lock, so two replicas starting together apply them
//! once.

use std::borrow::Cow;
use std::time::Duration;

use sqlx::migrate::{Migration, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::config::redact_url;

/// Runtime tables every service schema carries. Versions 1–999 are reserved
/// for them; service migrations use timestamps (YYYYMMDDNNNNNN).
static RUNTIME_MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Database errors at start-up.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL does not parse.
    #[error("DATABASE_URL {url} is invalid: {source}")]
    Url { url: String, source: sqlx::Error },
    /// The schema name is not a plain identifier.
    #[error("schema name {0:?} must be lower-case letters, digits and underscores")]
    Schema(String),
    /// PostgreSQL could not be reached or refused a statement.
    #[error("PostgreSQL at {url}: {source}")]
    Sql { url: String, source: sqlx::Error },
    /// A migration failed.
    #[error("migrating schema {schema}: {source}")]
    Migrate { schema: String, source: sqlx::migrate::MigrateError },
}

/// Connects to PostgreSQL, applies the runtime's and the service's migrations
/// to `schema`, and returns a pool whose connections use that schema.
pub async fn connect(database_url: &str, schema: &str, max_connections: u32, migrator: &Migrator) -> Result<PgPool, DbError> {
    if schema.is_empty() || !schema.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        return Err(DbError::Schema(schema.to_owned()));
    }
    let redacted = redact_url(database_url);
    let base: PgConnectOptions = database_url.parse().map_err(|source| DbError::Url { url: redacted.clone(), source })?;
    let base = base.log_statements(tracing::log::LevelFilter::Debug);
    migrate(&base, schema, migrator).await.map_err(|e| match e {
        MigrateStep::Sql(source) => DbError::Sql { url: redacted.clone(), source },
        MigrateStep::Migrate(source) => DbError::Migrate { schema: schema.to_owned(), source },
    })?;
    let options = base.options([("search_path", schema)]);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|source| DbError::Sql { url: redacted, source })
}

enum MigrateStep {
    Sql(sqlx::Error),
    Migrate(sqlx::migrate::MigrateError),
}

async fn migrate(base: &PgConnectOptions, schema: &str, migrator: &Migrator) -> Result<(), MigrateStep> {
    let mut conn = base.connect().await.map_err(MigrateStep::Sql)?;
    // One lock per schema: creating the schema and its migration table races otherwise.
    let lock_key = schema_lock_key(schema);
    sqlx::query("SELECT pg_advisory_lock($1)").bind(lock_key).execute(&mut conn).await.map_err(MigrateStep::Sql)?;
    let result = async {
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).execute(&mut conn).await.map_err(MigrateStep::Sql)?;
        sqlx::query(&format!("SET search_path TO {schema}")).execute(&mut conn).await.map_err(MigrateStep::Sql)?;
        let combined = combined_migrator(migrator);
        combined.run_direct(&mut conn).await.map_err(MigrateStep::Migrate)
    }
    .await;
    let unlock = sqlx::query("SELECT pg_advisory_unlock($1)").bind(lock_key).execute(&mut conn).await;
    let _ = conn.close().await;
    result?;
    unlock.map_err(MigrateStep::Sql)?;
    Ok(())
}

/// The runtime's migrations followed by the service's, as one ordered set.
fn combined_migrator(service: &Migrator) -> Migrator {
    let mut all: Vec<Migration> = RUNTIME_MIGRATOR.iter().cloned().collect();
    all.extend(service.iter().cloned());
    all.sort_by_key(|m| m.version);
    Migrator { migrations: Cow::Owned(all), ignore_missing: false, locking: false, no_tx: false }
}

/// Stable advisory-lock key for a schema's migrations.
fn schema_lock_key(schema: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("filieris-migrate:{schema}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// A span around database work, child of the current span: sqlx makes no
/// spans of its own, so without these a request's trace stops at the
/// service. `operation` names the span (`write.begin`, …).
pub fn span(operation: &'static str) -> tracing::Span {
    tracing::info_span!("db", otel.name = operation, otel.kind = "client", db.system = "postgresql", db.operation = operation)
}

/// True when the database answers a trivial query (readiness).
pub async fn ping(pool: &PgPool) -> bool {
    sqlx::query("SELECT 1").execute(pool).await.is_ok()
}
