//! Gateway configuration from environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use filieris_runtime::config::{CommonConfig, ConfigError, Env, InternalKey};

/// One platform service the gateway routes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Short name; its protobuf packages are `filieris.<name>.*`.
    pub name: &'static str,
    /// Variable holding its gRPC URL.
    pub env: &'static str,
    /// Default local port.
    pub default_port: u16,
}

/// Every service of the platform: adding one is one line here.
pub const SERVICES: &[ServiceSpec] = &[
    ServiceSpec { name: "registry", env: "FILIERIS_REGISTRY_URL", default_port: 50051 },
    ServiceSpec { name: "activity", env: "FILIERIS_ACTIVITY_URL", default_port: 50052 },
    ServiceSpec { name: "finance", env: "FILIERIS_FINANCE_URL", default_port: 50053 },
    ServiceSpec { name: "hr", env: "FILIERIS_HR_URL", default_port: 50054 },
    ServiceSpec { name: "missions", env: "FILIERIS_MISSIONS_URL", default_port: 50055 },
    ServiceSpec { name: "steering", env: "FILIERIS_STEERING_URL", default_port: 50056 },
];

/// A configured upstream service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// Short name (`registry`).
    pub name: &'static str,
    /// Its gRPC URL (`http://host:port`, h2c).
    pub url: http::Uri,
}

impl Upstream {
    /// Prefix of the protobuf packages it serves (`filieris.registry.`).
    pub fn package_prefix(&self) -> String {
        format!("filieris.{}.", self.name)
    }
}

/// An external OAuth2/OIDC issuer whose bearer tokens are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIssuer {
    /// `FILIERIS_OIDC_ISSUER`: the exact `iss` of its tokens.
    pub issuer: String,
    /// `FILIERIS_OIDC_JWKS_URL` (required with an issuer): where its keys are published.
    pub jwks_url: String,
    /// `FILIERIS_OIDC_ALGS` (default `RS256,ES256,EdDSA`): accepted signature algorithms.
    pub algs: Vec<crate::auth::jwks::Alg>,
}

/// Default `aud` of the tokens the gateway accepts.
pub const DEFAULT_AUDIENCE: &str = "filieris-api";
/// Default key file of the development issuer.
pub const DEFAULT_DEV_ISSUER_KEY: &str = ".filieris/dev-issuer.pk8";

/// Everything the gateway needs to start.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `FILIERIS_GATEWAY_ADDR` (default `127.0.0.1:8080`): HTTP/1.1 and h2c.
    pub addr: SocketAddr,
    /// `DATABASE_URL`, `FILIERIS_DB_MAX_CONNECTIONS`, `FILIERIS_INTERNAL_KEY`,
    /// `FILIERIS_SHUTDOWN_GRACE_SECONDS`.
    pub common: CommonConfig,
    /// `FILIERIS_DEV_API_KEY` (optional): an admin key upserted at start for development.
    pub dev_api_key: Option<String>,
    /// One URL per service of [`SERVICES`] (`FILIERIS_<NAME>_URL`, default `http://127.0.0.1:5005x`).
    pub upstreams: Vec<Upstream>,
    /// `FILIERIS_GATEWAY_UPSTREAM_TIMEOUT_SECONDS` (default 30): deadline of a REST call.
    pub upstream_timeout: Duration,
    /// `FILIERIS_API_KEY_CACHE_SECONDS` (default 30): how long a verified key is
    /// trusted without asking PostgreSQL again (so also how long a revocation takes).
    pub key_cache_ttl: Duration,
    /// `FILIERIS_GATEWAY_MAX_BODY_BYTES` (default 4 MiB): largest REST request body.
    pub max_body_bytes: usize,
    /// Concurrency limit, quotas (`FILIERIS_REDIS_URL`, `FILIERIS_GATEWAY_QUOTAS`), idempotency lease.
    pub edge: crate::edge::EdgeConfig,
    /// `FILIERIS_OIDC_*`: the production token issuer, if any.
    pub oidc: Option<OidcIssuer>,
    /// `FILIERIS_OIDC_AUDIENCE` (default `filieris-api`): the `aud` every accepted token carries.
    pub token_audience: String,
    /// `FILIERIS_DEV_ISSUER=1`: serve the development issuer, its key in
    /// `FILIERIS_DEV_ISSUER_KEY_FILE` (default `.filieris/dev-issuer.pk8`).
    pub dev_issuer_key: Option<PathBuf>,
}

/// Shortest accepted development key: anything shorter is guessable.
pub const DEV_KEY_MIN_LEN: usize = 16;

impl GatewayConfig {
    /// Reads and validates the configuration.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let addr = env.addr_or("FILIERIS_GATEWAY_ADDR", "127.0.0.1:8080")?;
        let common = CommonConfig::from_env(env)?;
        let dev_api_key = env.get("FILIERIS_DEV_API_KEY").map(|k| k.trim().to_owned());
        if let Some(key) = &dev_api_key
            && (key.len() < DEV_KEY_MIN_LEN || !key.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ConfigError::Invalid {
                name: "FILIERIS_DEV_API_KEY".into(),
                value: "***".into(),
                reason: format!("must be at least {DEV_KEY_MIN_LEN} visible ASCII characters"),
            });
        }
        let mut upstreams = Vec::with_capacity(SERVICES.len());
        for spec in SERVICES {
            let default = format!("http://127.0.0.1:{}", spec.default_port);
            let raw = env.get(spec.env).unwrap_or(default);
            upstreams.push(Upstream { name: spec.name, url: parse_upstream(spec.env, &raw)? });
        }
        let upstream_timeout = env.seconds_or("FILIERIS_GATEWAY_UPSTREAM_TIMEOUT_SECONDS", 30)?;
        if upstream_timeout.is_zero() {
            return Err(ConfigError::Invalid {
                name: "FILIERIS_GATEWAY_UPSTREAM_TIMEOUT_SECONDS".into(),
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        let key_cache_ttl = env.seconds_or("FILIERIS_API_KEY_CACHE_SECONDS", 30)?;
        let max_body_bytes = env.parse_or("FILIERIS_GATEWAY_MAX_BODY_BYTES", 4 * 1024 * 1024usize)?;
        let edge = crate::edge::EdgeConfig::from_env(env)?;
        let oidc = match env.get("FILIERIS_OIDC_ISSUER").map(|i| i.trim().to_owned()).filter(|i| !i.is_empty()) {
            None => None,
            Some(issuer) => {
                let jwks_url = env.required("FILIERIS_OIDC_JWKS_URL", "the issuer's JWKS URL, e.g. https://idp.example/jwks")?;
                if !(jwks_url.starts_with("https://") || jwks_url.starts_with("http://")) {
                    return Err(ConfigError::Invalid {
                        name: "FILIERIS_OIDC_JWKS_URL".into(),
                        value: jwks_url,
                        reason: "must be an http(s) URL".into(),
                    });
                }
                let raw = env.get("FILIERIS_OIDC_ALGS").unwrap_or_else(|| "RS256,ES256,EdDSA".into());
                let mut algs = Vec::new();
                for name in raw.split(',').map(str::trim).filter(|a| !a.is_empty()) {
                    algs.push(crate::auth::jwks::Alg::parse(name).ok_or_else(|| ConfigError::Invalid {
                        name: "FILIERIS_OIDC_ALGS".into(),
                        value: raw.clone(),
                        reason: format!("{name:?} is not one of RS256, ES256, EdDSA"),
                    })?);
                }
                if algs.is_empty() {
                    return Err(ConfigError::Invalid {
                        name: "FILIERIS_OIDC_ALGS".into(),
                        value: raw,
                        reason: "lists no algorithm".into(),
                    });
                }
                Some(OidcIssuer { issuer, jwks_url, algs })
            }
        };
        let token_audience = env
            .get("FILIERIS_OIDC_AUDIENCE")
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| DEFAULT_AUDIENCE.into());
        let dev_issuer_key = match env.get("FILIERIS_DEV_ISSUER").as_deref().map(str::trim) {
            None | Some("" | "0" | "false") => None,
            Some("1" | "true") => {
                Some(PathBuf::from(env.get("FILIERIS_DEV_ISSUER_KEY_FILE").unwrap_or_else(|| DEFAULT_DEV_ISSUER_KEY.into())))
            }
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "FILIERIS_DEV_ISSUER".into(),
                    value: other.into(),
                    reason: "must be 1 or 0".into(),
                });
            }
        };
        Ok(Self {
            addr,
            common,
            dev_api_key,
            upstreams,
            upstream_timeout,
            key_cache_ttl,
            max_body_bytes,
            edge,
            oidc,
            token_audience,
            dev_issuer_key,
        })
    }

    /// The key signing the caller identity forwarded to services.
    pub fn internal_key(&self) -> &InternalKey {
        &self.common.internal_key
    }
}

fn parse_upstream(name: &str, raw: &str) -> Result<http::Uri, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid { name: name.to_owned(), value: raw.to_owned(), reason };
    let uri: http::Uri = raw.trim().parse().map_err(|e: http::uri::InvalidUri| invalid(e.to_string()))?;
    // Services speak plain h2c inside the platform network (TLS ends at the ingress / mesh).
    if uri.scheme_str() != Some("http") {
        return Err(invalid("must be an http:// URL (h2c)".into()));
    }
    if uri.authority().is_none() {
        return Err(invalid("must name a host and port".into()));
    }
    if uri.path_and_query().is_some_and(|p| p.as_str() != "/" && !p.as_str().is_empty()) {
        return Err(invalid("must not carry a path".into()));
    }
    Ok(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![("DATABASE_URL", "postgres://u@h/db"), ("FILIERIS_INTERNAL_KEY", KEY)]
    }

    #[test]
    fn defaults() {
        let cfg = GatewayConfig::from_env(&Env::from_pairs(base())).expect("config");
        assert_eq!(cfg.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(cfg.upstreams.len(), SERVICES.len());
        assert_eq!(cfg.upstreams[0].url.to_string(), "http://127.0.0.1:50051/");
        assert_eq!(cfg.upstreams[0].package_prefix(), "filieris.registry.");
        assert_eq!(cfg.upstream_timeout, Duration::from_secs(30));
        assert_eq!(cfg.dev_api_key, None);
        assert_eq!((cfg.oidc, cfg.dev_issuer_key, cfg.token_audience.as_str()), (None, None, DEFAULT_AUDIENCE));
    }

    #[test]
    fn token_issuers() {
        let mut pairs = base();
        pairs.push(("FILIERIS_OIDC_ISSUER", "https://idp.example"));
        let err = GatewayConfig::from_env(&Env::from_pairs(pairs.clone())).expect_err("JWKS URL required").to_string();
        assert!(err.contains("FILIERIS_OIDC_JWKS_URL"), "{err}");
        pairs.push(("FILIERIS_OIDC_JWKS_URL", "https://idp.example/jwks"));
        pairs.push(("FILIERIS_OIDC_ALGS", "ES256"));
        pairs.push(("FILIERIS_DEV_ISSUER", "1"));
        let cfg = GatewayConfig::from_env(&Env::from_pairs(pairs.clone())).expect("config");
        assert_eq!(cfg.oidc.map(|o| o.algs), Some(vec![crate::auth::jwks::Alg::Es256]));
        assert_eq!(cfg.dev_issuer_key, Some(PathBuf::from(DEFAULT_DEV_ISSUER_KEY)));
        pairs.push(("FILIERIS_OIDC_ALGS", "HS256"));
        assert!(GatewayConfig::from_env(&Env::from_pairs(pairs)).is_err(), "HMAC is refused");
    }

    #[test]
    fn upstream_urls_are_validated() {
        let mut pairs = base();
        pairs.push(("FILIERIS_REGISTRY_URL", "https://x:1"));
        let err = GatewayConfig::from_env(&Env::from_pairs(pairs)).expect_err("https refused").to_string();
        assert!(err.contains("FILIERIS_REGISTRY_URL"), "{err}");
        let mut pairs = base();
        pairs.push(("FILIERIS_HR_URL", "http://hr:9000"));
        let cfg = GatewayConfig::from_env(&Env::from_pairs(pairs)).expect("config");
        assert_eq!(cfg.upstreams.iter().find(|u| u.name == "hr").map(|u| u.url.to_string()), Some("http://hr:9000/".into()));
    }

    #[test]
    fn short_dev_key_is_refused() {
        let mut pairs = base();
        pairs.push(("FILIERIS_DEV_API_KEY", "dev"));
        let err = GatewayConfig::from_env(&Env::from_pairs(pairs)).expect_err("refused").to_string();
        assert!(err.contains("FILIERIS_DEV_API_KEY"), "{err}");
    }
}
