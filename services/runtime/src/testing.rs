//! Test support: a fresh PostgreSQL database per test.
//!
//! `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! names a server and a role that may create databases. Each test gets its own
//! database `ft_<unix time>_<random>`; databases left over by earlier runs for
//! more than two hours are dropped, so a crashed run does not leak forever.

use sqlx::{Connection, PgConnection};

/// Default admin URL for tests.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database created for one test.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    /// URL of the new database.
    pub url: String,
    /// Its name.
    pub name: String,
}

/// The admin URL tests use.
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| DEFAULT_ADMIN_URL.to_owned())
}

impl TestDatabase {
    /// Creates a fresh, empty database.
    pub async fn create() -> anyhow::Result<Self> {
        let admin = admin_url();
        let mut conn = PgConnection::connect(&admin)
            .await
            .map_err(|e| anyhow::anyhow!("tests need PostgreSQL at DATABASE_URL={}: {e}", crate::config::redact_url(&admin)))?;
        let now = chrono::Utc::now().timestamp();
        let stale: Vec<(String,)> =
            sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'ft\\_%'").fetch_all(&mut conn).await?;
        for (db,) in stale {
            let created = db.split('_').nth(1).and_then(|t| t.parse::<i64>().ok());
            if created.is_some_and(|t| now - t > 7200) {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)")).execute(&mut conn).await;
            }
        }
        let name = format!("ft_{now}_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).await?;
        // Test data need no durability: commits without waiting for the disk.
        sqlx::query(&format!("ALTER DATABASE \"{name}\" SET synchronous_commit = off")).execute(&mut conn).await?;
        let _ = conn.close().await;
        let url = replace_database(&admin, &name);
        Ok(Self { url, name })
    }

    /// Drops the database, closing its connections; failures are ignored (the
    /// next `create` sweeps what is left after two hours).
    pub async fn drop_database(&self) {
        if let Ok(mut admin) = PgConnection::connect(&admin_url()).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)).execute(&mut admin).await;
            let _ = admin.close().await;
        }
    }
}

fn replace_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(replace_database("postgres://u@h:5432/postgres", "x"), "postgres://u@h:5432/x");
        assert_eq!(replace_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(replace_database("postgres://u@h/p?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
    }
}
