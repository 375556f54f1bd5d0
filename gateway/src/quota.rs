//! Per-caller quotas: a token bucket per caller id, kept in Redis so every
//! gateway replica draws from the same bucket.
//!
//! One Lua script refills and takes a token atomically, with Redis's own clock
//! (replicas' clocks never disagree about a bucket). When Redis is down or
//! slower than the short timeout, the decision falls back to an in-process
//! bucket (per replica, so the effective limit is multiplied by the number of
//! replicas for that time): a Redis outage never fails a request. The
//! connection is re-established in the background.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use filieris_runtime::config::{ConfigError, Env};
use filieris_runtime::identity::Identity;
use redis::aio::MultiplexedConnection;

use crate::metrics::Metrics;

/// Variable of the quota table.
pub const QUOTAS_VAR: &str = "FILIERIS_GATEWAY_QUOTAS";
/// Default table: `<caller kind | role:<role>>=<tokens per second>:<burst>`.
pub const DEFAULT_QUOTAS: &str = "partner=20:40,staff=100:500,job=200:1000,service=500:2000";
/// Entries above this many callers are pruned from the local fallback.
const LOCAL_MAX_CALLERS: usize = 10_000;

/// Refill, then take one token. KEYS[1] the bucket; ARGV rate (tokens/s),
/// burst. Returns {allowed (0/1), milliseconds until a token is available}.
const SCRIPT: &str = r"
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait}
";

/// Rate and burst of one kind of caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// Tokens added per second.
    pub per_second: f64,
    /// Bucket size: calls allowed at once after a quiet period.
    pub burst: u32,
}

/// The quota table: per caller kind, with per-role overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaTable {
    kinds: HashMap<String, Limit>,
    roles: HashMap<String, Limit>,
}

impl QuotaTable {
    /// Parses `partner=20:40,staff=100:500,role:admin=200:1000`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut table = Self { kinds: HashMap::new(), roles: HashMap::new() };
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (who, limit) = entry.split_once('=').ok_or_else(|| format!("{entry:?}: expected <who>=<rate>:<burst>"))?;
            let (rate, burst) = limit.split_once(':').ok_or_else(|| format!("{entry:?}: expected <rate>:<burst>"))?;
            let per_second: f64 = rate.trim().parse().map_err(|_| format!("{entry:?}: the rate is not a number"))?;
            let burst: u32 = burst.trim().parse().map_err(|_| format!("{entry:?}: the burst is not a whole number"))?;
            if !(per_second.is_finite() && per_second > 0.0) || burst == 0 {
                return Err(format!("{entry:?}: rate and burst must be positive"));
            }
            let limit = Limit { per_second, burst };
            let who = who.trim();
            match who.strip_prefix("role:") {
                Some(role) if !role.is_empty() => table.roles.insert(role.to_owned(), limit),
                Some(_) => return Err(format!("{entry:?}: empty role")),
                None if matches!(who, "partner" | "staff" | "job" | "service") => table.kinds.insert(who.to_owned(), limit),
                None => return Err(format!("{entry:?}: {who:?} is not partner, staff, job, service or role:<name>")),
            };
        }
        for kind in ["partner", "staff", "job", "service"] {
            if !table.kinds.contains_key(kind) {
                return Err(format!("no quota for callers of kind {kind}"));
            }
        }
        Ok(table)
    }

    /// The caller's limit: the most generous of its roles' overrides, else its kind's.
    pub fn limit_for(&self, identity: &Identity) -> Limit {
        let by_role = identity
            .roles
            .iter()
            .filter_map(|r| self.roles.get(r))
            .copied()
            .max_by(|a, b| a.per_second.total_cmp(&b.per_second).then(a.burst.cmp(&b.burst)));
        by_role.or_else(|| self.kinds.get(identity.kind.as_str()).copied()).unwrap_or(Limit { per_second: 1.0, burst: 1 })
    }
}

/// Quota settings of the gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaConfig {
    /// `FILIERIS_REDIS_URL` (default `redis://127.0.0.1:6379`).
    pub redis_url: String,
    /// `FILIERIS_GATEWAY_QUOTA_REDIS_TIMEOUT_MS` (default 50): longest wait on Redis per call.
    pub redis_timeout: Duration,
    /// `FILIERIS_GATEWAY_QUOTAS` (default [`DEFAULT_QUOTAS`]).
    pub table: QuotaTable,
}

impl QuotaConfig {
    /// Reads and validates the quota settings.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let redis_url = env.get(filieris_runtime::events::REDIS_URL_VAR).unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
        // Validated now: a typo must stop the start, not silently disable the shared quotas.
        filieris_runtime::events::RedisConfig::new(&redis_url)?;
        let timeout_ms: u64 = env.parse_or("FILIERIS_GATEWAY_QUOTA_REDIS_TIMEOUT_MS", 50)?;
        let raw = env.get(QUOTAS_VAR).unwrap_or_else(|| DEFAULT_QUOTAS.to_owned());
        let table =
            QuotaTable::parse(&raw).map_err(|reason| ConfigError::Invalid { name: QUOTAS_VAR.into(), value: raw.clone(), reason })?;
        Ok(Self { redis_url, redis_timeout: Duration::from_millis(timeout_ms.max(1)), table })
    }
}

/// The verdict on one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within quota.
    Allowed,
    /// Over quota: a token is available again after this delay.
    Exceeded(Duration),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The quota limiter shared by every request of a gateway.
pub struct Quotas {
    table: QuotaTable,
    client: Option<redis::Client>,
    timeout: Duration,
    redis: Mutex<Option<MultiplexedConnection>>,
    local: Mutex<HashMap<String, Bucket>>,
    metrics: Arc<Metrics>,
}

impl Quotas {
    /// A limiter. Tries Redis once (at most a second) so a healthy start
    /// shares quotas from the first call, then keeps the connection in the
    /// background (reconnecting every second while Redis is unreachable).
    pub async fn start(config: &QuotaConfig, metrics: Arc<Metrics>) -> Arc<Self> {
        let client = match redis::Client::open(config.redis_url.as_str()) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "quota Redis URL unusable; quotas are local to this replica");
                None
            }
        };
        let quotas = Arc::new(Self {
            table: config.table.clone(),
            client,
            timeout: config.redis_timeout,
            redis: Mutex::new(None),
            local: Mutex::new(HashMap::new()),
            metrics,
        });
        if quotas.client.is_some() {
            quotas.connect(true).await;
            tokio::spawn(reconnect(Arc::downgrade(&quotas)));
        }
        quotas
    }

    /// One connection attempt; true when connected. Warns when `warn`.
    async fn connect(&self, warn: bool) -> bool {
        let Some(client) = &self.client else { return false };
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(self.timeout));
        match client.get_multiplexed_async_connection_with_config(&config).await {
            Ok(conn) => {
                tracing::info!("quota store connected: quotas are shared by the gateway replicas");
                *self.redis.lock().unwrap_or_else(|p| p.into_inner()) = Some(conn);
                true
            }
            Err(e) => {
                if warn {
                    tracing::warn!(error = %e, "quota store (Redis) unreachable; quotas are local to this replica meanwhile");
                }
                false
            }
        }
    }

    /// Takes one token from the caller's bucket.
    pub async fn check(&self, identity: &Identity) -> Verdict {
        let limit = self.table.limit_for(identity);
        let conn = self.redis.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(mut conn) = conn {
            let mut cmd = redis::cmd("EVAL");
            let call = cmd
                .arg(SCRIPT)
                .arg(1)
                .arg(format!("filieris:quota:{}", identity.caller))
                .arg(limit.per_second)
                .arg(limit.burst)
                .query_async::<(i64, i64)>(&mut conn);
            match tokio::time::timeout(self.timeout, call).await {
                Ok(Ok((1, _))) => return Verdict::Allowed,
                Ok(Ok((_, wait_ms))) => return Verdict::Exceeded(Duration::from_millis(wait_ms.max(1).unsigned_abs())),
                Ok(Err(e)) => self.lost(&format!("Redis refused the quota script: {e}")),
                Err(_) => self.lost(&format!("Redis did not answer within {:?}", self.timeout)),
            }
        }
        self.metrics.quota_fallback();
        self.local(&identity.caller, limit)
    }

    /// Forgets the connection; the background task makes a new one.
    fn lost(&self, why: &str) {
        let had = self.redis.lock().unwrap_or_else(|p| p.into_inner()).take().is_some();
        if had {
            tracing::warn!(reason = why, "quota store unavailable; using local buckets until Redis is back");
        }
    }

    fn local(&self, caller: &str, limit: Limit) -> Verdict {
        let now = Instant::now();
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if local.len() >= LOCAL_MAX_CALLERS && !local.contains_key(caller) {
            // Full buckets carry no state worth keeping.
            local.retain(|_, b| now.duration_since(b.at).as_secs_f64() * limit.per_second + b.tokens < f64::from(limit.burst));
        }
        let bucket = local.entry(caller.to_owned()).or_insert(Bucket { tokens: f64::from(limit.burst), at: now });
        let refilled = bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * limit.per_second;
        bucket.tokens = refilled.min(f64::from(limit.burst));
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Verdict::Allowed
        } else {
            Verdict::Exceeded(Duration::from_secs_f64((1.0 - bucket.tokens) / limit.per_second))
        }
    }

    /// True while quotas are shared through Redis.
    pub fn shared(&self) -> bool {
        self.redis.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }
}

/// Keeps a Redis connection while the limiter lives.
async fn reconnect(quotas: Weak<Quotas>) {
    // The first attempt (at start) already warned.
    let mut warned = true;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(q) = quotas.upgrade() else { return };
        if !q.shared() {
            let connected = q.connect(!warned).await;
            warned = !connected;
        }
    }
}

/// Whole seconds to announce in `Retry-After` (at least 1).
pub fn retry_after_seconds(delay: Duration) -> u64 {
    delay.as_millis().div_ceil(1000).max(1) as u64
}

#[cfg(test)]
mod tests {
    use filieris_runtime::identity::CallerKind;

    use super::*;

    fn who(kind: CallerKind, roles: &[&str]) -> Identity {
        Identity { caller: "x".into(), kind, roles: roles.iter().map(|r| (*r).to_owned()).collect(), scopes: vec![] }
    }

    #[test]
    fn tables_parse_and_roles_override_kinds() {
        let t = QuotaTable::parse("partner=2:4, staff=10:20,job=1:1,service=5:5,role:admin=50:100,role:hr=20:20").expect("table");
        assert_eq!(t.limit_for(&who(CallerKind::Partner, &[])), Limit { per_second: 2.0, burst: 4 });
        assert_eq!(t.limit_for(&who(CallerKind::Staff, &["hr", "admin"])).burst, 100);
        assert_eq!(t.limit_for(&who(CallerKind::Staff, &["hr"])).burst, 20);
        assert!(QuotaTable::parse(DEFAULT_QUOTAS).is_ok());
        assert!(QuotaTable::parse("partner=2:4").is_err(), "every kind needs a quota");
        assert!(QuotaTable::parse("partner=0:4,staff=1:1,job=1:1,service=1:1").is_err());
        assert!(QuotaTable::parse("robot=1:1,partner=1:1,staff=1:1,job=1:1,service=1:1").is_err());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
    }
}
