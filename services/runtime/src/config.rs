//! Configuration from environment variables, validated at start-up.
//!
//! Every variable has a documented default (README, "Configuration") except
//! the ones a deployment must choose. A bad value stops the process with a
//! message naming the variable, never later at first use.

use std::fmt::Display;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// A configuration error naming the variable at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("environment variable {name} is required: {help}")]
    Missing { name: String, help: &'static str },
    /// A variable is set to a value that does not parse.
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Invalid { name: String, value: String, reason: String },
}

/// Reads variables from the process environment or, in tests, from a map.
#[derive(Debug, Clone, Default)]
pub struct Env {
    overrides: Option<std::collections::HashMap<String, String>>,
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Self { overrides: None }
    }

    /// A fixed set of variables (tests and embedded use).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self { overrides: Some(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect()) }
    }

    /// The raw value, `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<String> {
        let value = match &self.overrides {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    /// A required variable.
    pub fn required(&self, name: &str, help: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or_else(|| ConfigError::Missing { name: name.to_owned(), help })
    }

    /// A parsed variable with a default.
    pub fn parse_or<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
                name: name.to_owned(),
                value: raw.clone(),
                reason: e.to_string(),
            }),
        }
    }

    /// A socket address with a default.
    pub fn addr_or(&self, name: &str, default: &str) -> Result<SocketAddr, ConfigError> {
        let raw = self.get(name).unwrap_or_else(|| default.to_owned());
        raw.parse().map_err(|e: std::net::AddrParseError| ConfigError::Invalid {
            name: name.to_owned(),
            value: raw.clone(),
            reason: e.to_string(),
        })
    }

    /// A duration in seconds with a default.
    pub fn seconds_or(&self, name: &str, default: u64) -> Result<Duration, ConfigError> {
        self.parse_or(name, default).map(Duration::from_secs)
    }
}

/// Settings every service shares.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    /// `DATABASE_URL`: PostgreSQL URL (required).
    pub database_url: String,
    /// `FILIERIS_DB_MAX_CONNECTIONS` (default 10).
    pub db_max_connections: u32,
    /// `FILIERIS_INTERNAL_KEY`: hex key (≥ 32 bytes) signing the caller
    /// identity the gateway forwards (required).
    pub internal_key: InternalKey,
    /// `FILIERIS_SHUTDOWN_GRACE_SECONDS` (default 20): time given to in-flight
    /// calls after SIGTERM.
    pub shutdown_grace: Duration,
}

impl CommonConfig {
    /// Reads and validates the shared settings.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let database_url = env.required("DATABASE_URL", "a PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/filieris")?;
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL".into(),
                value: redact_url(&database_url),
                reason: "must start with postgres:// or postgresql://".into(),
            });
        }
        let db_max_connections = env.parse_or("FILIERIS_DB_MAX_CONNECTIONS", 10u32)?;
        if db_max_connections == 0 {
            return Err(ConfigError::Invalid {
                name: "FILIERIS_DB_MAX_CONNECTIONS".into(),
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        let internal_key = InternalKey::from_env(env)?;
        let shutdown_grace = env.seconds_or("FILIERIS_SHUTDOWN_GRACE_SECONDS", 20)?;
        Ok(Self { database_url, db_max_connections, internal_key, shutdown_grace })
    }
}

/// The key shared by the gateway and the services to sign caller identities.
#[derive(Clone)]
pub struct InternalKey(std::sync::Arc<[u8]>);

impl std::fmt::Debug for InternalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InternalKey(***)")
    }
}

impl InternalKey {
    /// Minimum key length in bytes.
    pub const MIN_BYTES: usize = 32;

    /// Reads `FILIERIS_INTERNAL_KEY` (hex).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let raw =
            env.required("FILIERIS_INTERNAL_KEY", "hex-encoded random key of at least 32 bytes shared by the gateway and the services")?;
        Self::from_hex(&raw).map_err(|reason| ConfigError::Invalid { name: "FILIERIS_INTERNAL_KEY".into(), value: "***".into(), reason })
    }

    /// Parses a hex key of at least [`Self::MIN_BYTES`] bytes.
    pub fn from_hex(raw: &str) -> Result<Self, String> {
        let bytes = hex::decode(raw.trim()).map_err(|e| format!("not hex: {e}"))?;
        if bytes.len() < Self::MIN_BYTES {
            return Err(format!("{} bytes, at least {} required", bytes.len(), Self::MIN_BYTES));
        }
        Ok(Self(bytes.into()))
    }

    /// The key bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Hides the password of a database URL for logs and errors.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &creds[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn missing_database_url_names_the_variable() {
        let env = Env::from_pairs([("FILIERIS_INTERNAL_KEY", KEY)]);
        let err = CommonConfig::from_env(&env).unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
    }

    #[test]
    fn invalid_number_names_the_variable_and_value() {
        let env = Env::from_pairs([
            ("DATABASE_URL", "postgres://u@h/db"),
            ("FILIERIS_INTERNAL_KEY", KEY),
            ("FILIERIS_DB_MAX_CONNECTIONS", "ten"),
        ]);
        let err = CommonConfig::from_env(&env).unwrap_err().to_string();
        assert!(err.contains("FILIERIS_DB_MAX_CONNECTIONS") && err.contains("ten"), "{err}");
    }

    #[test]
    fn defaults_apply() {
        let env = Env::from_pairs([("DATABASE_URL", "postgres://u@h/db"), ("FILIERIS_INTERNAL_KEY", KEY)]);
        let cfg = CommonConfig::from_env(&env).unwrap();
        assert_eq!(cfg.db_max_connections, 10);
        assert_eq!(cfg.shutdown_grace, Duration::from_secs(20));
    }

    #[test]
    fn short_internal_key_is_refused() {
        let env = Env::from_pairs([("DATABASE_URL", "postgres://u@h/db"), ("FILIERIS_INTERNAL_KEY", "abcd")]);
        let err = CommonConfig::from_env(&env).unwrap_err().to_string();
        assert!(err.contains("FILIERIS_INTERNAL_KEY") && err.contains("at least 32"), "{err}");
    }

    #[test]
    fn redacts_password() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
