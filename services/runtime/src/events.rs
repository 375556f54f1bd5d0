//! Events: every service's `change_log` published to a Redis stream, and the
//! consumer other services run to apply those changes.
//!
//! Producer side, [`run_relay`]: unpublished `change_log` rows are read in
//! sequence order, added to the stream `filieris:<service>:changes`, then marked
//! published in the same transaction. Publishing happens before the commit, so a
//! crash in between publishes the rows again: delivery is at-least-once and
//! consumers drop what they have already applied, by sequence.
//!
//! Consumer side, [`Consumer`]: the service's gRPC change feed is the source of
//! truth and Redis only a fast path. The consumer first catches up from the
//! feed, then follows the stream; a duplicate (sequence at or below the stored
//! offset) is skipped and a gap (an entry whose predecessor was never seen:
//! stream trimmed, entries lost, consumer started late) is filled from the
//! feed. Without Redis, or while it is down, the feed is polled instead.
//!
//! Redis is optional everywhere: nothing is lost while it is absent, rows stay
//! unpublished and consumers poll.
//!
//! Each stream entry carries `sequence`, `previous` (the sequence of the entry
//! published just before it, so holes left by rolled-back writes are not taken
//! for gaps), `resource`, `change_type`, `revision`, `request_id`,
//! `commit_time` (RFC 3339) and `payload` (JSON).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use filieris_proto::types::Change;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamRangeReply, StreamReadReply};
use sqlx::PgPool;
use tokio::sync::{Notify, watch};

use crate::config::{ConfigError, Env, redact_url};

/// Environment variable naming the Redis server.
pub const REDIS_URL_VAR: &str = "FILIERIS_REDIS_URL";

/// Name of the stream a service publishes its changes to.
pub fn stream_key(service: &str) -> String {
    format!("filieris:{service}:changes")
}

/// Where Redis is (`FILIERIS_REDIS_URL`, e.g. `redis://127.0.0.1:6379`).
#[derive(Clone)]
pub struct RedisConfig {
    url: String,
    client: redis::Client,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig").field("url", &redact_url(&self.url)).finish()
    }
}

impl RedisConfig {
    /// Validates a Redis URL (`redis://[user[:password]@]host[:port][/db]`).
    pub fn new(url: &str) -> Result<Self, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid { name: REDIS_URL_VAR.into(), value: redact_url(url), reason };
        let url = url.trim();
        if !(url.starts_with("redis://") || url.starts_with("redis+unix://") || url.starts_with("unix://")) {
            return Err(invalid("must start with redis:// (TLS is not built in)".into()));
        }
        let client = redis::Client::open(url).map_err(|e| invalid(e.to_string()))?;
        Ok(Self { url: url.to_owned(), client })
    }

    /// `None` when `FILIERIS_REDIS_URL` is unset: events then go through the
    /// change feed alone.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        env.get(REDIS_URL_VAR).map(|url| Self::new(&url)).transpose()
    }

    /// The URL with its password hidden (logs).
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    async fn connect(&self, response_timeout: Duration) -> Result<MultiplexedConnection, redis::RedisError> {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(response_timeout));
        self.client.get_multiplexed_async_connection_with_config(&config).await
    }
}

/// Why a step of the relay or the consumer failed (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Redis refused or could not be reached.
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// PostgreSQL refused or could not be reached.
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    /// The source's change feed failed.
    #[error("change feed: {0:#}")]
    Feed(anyhow::Error),
    /// The handler refused a change; it is retried, never skipped.
    #[error("applying change {sequence}: {source:#}")]
    Handler { sequence: i64, source: anyhow::Error },
    /// The stream announced a change the feed does not have yet.
    #[error("stream entry {sequence} follows changes the feed does not return (feed at {feed_at})")]
    FeedBehind { sequence: i64, feed_at: i64 },
}

/// Logs a failure once per outage rather than once per retry.
struct Outage {
    what: &'static str,
    failing: bool,
}

impl Outage {
    fn new(what: &'static str) -> Self {
        Self { what, failing: false }
    }

    fn failed(&mut self, error: &EventError) {
        if self.failing {
            tracing::debug!(error = %error, "{} still failing", self.what);
        } else {
            tracing::warn!(error = %error, "{} failing; retrying", self.what);
            self.failing = true;
        }
    }

    fn recovered(&mut self) {
        if self.failing {
            tracing::info!("{} recovered", self.what);
            self.failing = false;
        }
    }
}

/// True once stop is requested or its sender is gone.
fn is_stopped(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

/// Completes when stop is requested or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Sleeps for `pause`, or less if woken; returns false when stopped.
async fn pause_unless_stopped(stop: &mut watch::Receiver<bool>, pause: Duration, wake: Option<&Notify>) -> bool {
    let woken = async {
        match wake {
            Some(n) => n.notified().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = stopped(stop) => false,
        _ = tokio::time::sleep(pause) => true,
        _ = woken => true,
    }
}

// ---------------------------------------------------------------------------
// Relay
// ---------------------------------------------------------------------------

/// Advisory-lock class of the relay (two-key form; the other key is the
/// schema), so that one relay per schema publishes at a time and the stream
/// stays in sequence order even with several replicas.
const RELAY_LOCK_CLASS: i32 = 0x4652_4c59; // "FRLY"

const RELAY_MIN_BACKOFF: Duration = Duration::from_millis(250);

/// Tuning of [`run_relay_with`].
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// Rows published per transaction (default 500).
    pub batch_size: u32,
    /// Approximate length the stream is trimmed to (default 1,000,000).
    pub max_len: u64,
    /// Pause when nothing is left to publish (default 200 ms).
    pub idle_interval: Duration,
    /// Longest pause between retries while Redis or PostgreSQL fails (default 30 s).
    pub max_backoff: Duration,
    /// Cuts the idle pause short, e.g. notified by the service after a write.
    pub wake: Option<Arc<Notify>>,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self {
            batch_size: 500,
            max_len: 1_000_000,
            idle_interval: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            wake: None,
        }
    }
}

/// Publishes the service's `change_log` to `stream` until `stop` turns true
/// (or its sender is dropped), with [`RelayOptions::default`].
pub async fn run_relay(pool: PgPool, redis: RedisConfig, stream: String, stop: watch::Receiver<bool>) {
    run_relay_with(pool, redis, stream, RelayOptions::default(), stop).await;
}

/// [`run_relay`] with explicit options. Never fails: errors are logged once
/// per outage and retried with backoff; unpublished rows wait in the table.
pub async fn run_relay_with(pool: PgPool, redis: RedisConfig, stream: String, options: RelayOptions, mut stop: watch::Receiver<bool>) {
    tracing::info!(stream = %stream, redis = %redis.redacted_url(), "change relay started");
    let batch_size = options.batch_size.max(1);
    let mut conn: Option<MultiplexedConnection> = None;
    let mut outage = Outage::new("change relay");
    let mut backoff = RELAY_MIN_BACKOFF;
    while !is_stopped(&stop) {
        let result = async {
            let c = match conn.as_mut() {
                Some(c) => c,
                None => conn.insert(redis.connect(Duration::from_secs(10)).await?),
            };
            publish_batch(&pool, c, &stream, batch_size, options.max_len).await
        }
        .await;
        let keep_going = match result {
            Ok(published) => {
                outage.recovered();
                backoff = RELAY_MIN_BACKOFF;
                if published >= batch_size as usize {
                    continue; // a full batch: more are probably waiting
                }
                pause_unless_stopped(&mut stop, options.idle_interval, options.wake.as_deref()).await
            }
            Err(e) => {
                if matches!(e, EventError::Redis(_)) {
                    conn = None; // reconnect: a broken multiplexed connection does not heal
                }
                outage.failed(&e);
                let pause = backoff;
                backoff = (backoff * 2).min(options.max_backoff.max(RELAY_MIN_BACKOFF));
                pause_unless_stopped(&mut stop, pause, None).await
            }
        };
        if !keep_going {
            break;
        }
    }
    tracing::info!(stream = %stream, "change relay stopped");
}

type OutboxRow = (i64, String, String, i64, String, serde_json::Value, DateTime<Utc>);

/// Publishes one batch of unpublished rows; returns how many (0 when another
/// relay holds the lock).
async fn publish_batch(
    pool: &PgPool,
    conn: &mut MultiplexedConnection,
    stream: &str,
    batch: u32,
    max_len: u64,
) -> Result<usize, EventError> {
    let mut tx = pool.begin().await?;
    let (locked,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_xact_lock($1, hashtext(current_schema()))")
        .bind(RELAY_LOCK_CLASS)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(0);
    }
    // SKIP LOCKED as well: rows are never published twice concurrently, even by
    // a process that does not take the lock above.
    let rows: Vec<OutboxRow> = sqlx::query_as(
        "SELECT sequence, resource, change_type, revision, request_id, payload, commit_time FROM change_log \
         WHERE NOT published ORDER BY sequence LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(i64::from(batch))
    .fetch_all(&mut *tx)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(0);
    };
    let (mut previous,): (i64,) = sqlx::query_as("SELECT COALESCE(max(sequence), 0) FROM change_log WHERE published AND sequence < $1")
        .bind(first.0)
        .fetch_one(&mut *tx)
        .await?;
    let mut pipe = redis::pipe();
    for (sequence, resource, change_type, revision, request_id, payload, commit_time) in &rows {
        pipe.cmd("XADD")
            .arg(stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(max_len)
            .arg("*")
            .arg("sequence")
            .arg(sequence)
            .arg("previous")
            .arg(previous)
            .arg("resource")
            .arg(resource)
            .arg("change_type")
            .arg(change_type)
            .arg("revision")
            .arg(revision)
            .arg("request_id")
            .arg(request_id)
            .arg("commit_time")
            .arg(commit_time.to_rfc3339_opts(SecondsFormat::Micros, true))
            .arg("payload")
            .arg(payload.to_string())
            .ignore();
        previous = *sequence;
    }
    pipe.query_async::<()>(conn).await?;
    let sequences: Vec<i64> = rows.iter().map(|r| r.0).collect();
    sqlx::query("UPDATE change_log SET published = true WHERE sequence = ANY($1)").bind(&sequences).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows.len())
}

// ---------------------------------------------------------------------------
// Consumer
// ---------------------------------------------------------------------------

/// Applies another service's changes to this service.
///
/// Delivery is at-least-once: changes are applied, then the offset advanced
/// (after each stream entry, after each page of a catch-up), so a crash in
/// between applies them again. `apply` must therefore be idempotent (e.g. an
/// upsert keyed by resource and guarded by `revision`). An error leaves the
/// offset just before the failed change, which is retried; later changes wait
/// for it.
#[async_trait]
pub trait ChangeHandler: Send + Sync {
    /// Applies one change.
    async fn apply(&self, change: &Change) -> anyhow::Result<()>;
}

/// The source service's change feed (its `ListChanges` RPC), the source of
/// truth the stream is checked against.
#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// Up to `limit` changes with a sequence greater than `after`, in order.
    async fn changes_after(&self, after: i64, limit: u32) -> anyhow::Result<Vec<Change>>;
}

/// Tuning of a [`Consumer`].
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// How often the feed is polled when Redis is absent or down (default 5 s).
    pub poll_interval: Duration,
    /// How long to poll after a Redis failure before trying Redis again (default 30 s).
    pub redis_retry: Duration,
    /// How long one `XREAD` waits for new entries (default 5 s).
    pub block: Duration,
    /// Changes asked of the feed per call (default 500).
    pub page_size: u32,
    /// Stream entries read per `XREAD` (default 100).
    pub read_count: u32,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(5),
            redis_retry: Duration::from_secs(30),
            block: Duration::from_secs(5),
            page_size: 500,
            read_count: 100,
        }
    }
}

/// Applies the changes of one source service, in sequence order, remembering
/// how far it got in this service's `event_offset` table.
pub struct Consumer {
    pool: PgPool,
    source: String,
    name: String,
    stream: String,
    feed: Arc<dyn ChangeFeed>,
    handler: Arc<dyn ChangeHandler>,
    redis: Option<RedisConfig>,
    options: ConsumerOptions,
    /// Last applied sequence as this instance knows it (the table is the
    /// reference; reloaded at every catch-up).
    offset: AtomicI64,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("source", &self.source)
            .field("name", &self.name)
            .field("stream", &self.stream)
            .field("redis", &self.redis)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A change read from the stream.
struct StreamEvent {
    change: Change,
    previous: Option<i64>,
}

impl Consumer {
    /// A consumer of `source` (e.g. `"registry"`, whose stream is
    /// [`stream_key`]`("registry")`); `pool` is this service's own pool;
    /// `consumer_name` identifies it in logs.
    pub fn new(
        pool: PgPool,
        source: &str,
        consumer_name: &str,
        feed: Arc<dyn ChangeFeed>,
        handler: Arc<dyn ChangeHandler>,
        redis: Option<RedisConfig>,
    ) -> Self {
        Self {
            pool,
            source: source.to_owned(),
            name: consumer_name.to_owned(),
            stream: stream_key(source),
            feed,
            handler,
            redis,
            options: ConsumerOptions::default(),
            offset: AtomicI64::new(0),
        }
    }

    /// Replaces the default options.
    pub fn with_options(mut self, options: ConsumerOptions) -> Self {
        self.options = options;
        self
    }

    /// Reads another stream than `stream_key(source)`.
    pub fn with_stream(mut self, stream: impl Into<String>) -> Self {
        self.stream = stream.into();
        self
    }

    /// The stored offset: the last sequence applied (0 before the first).
    pub async fn offset(&self) -> anyhow::Result<i64> {
        Ok(load_offset(&self.pool, &self.source).await?)
    }

    /// Applies everything the feed has after the stored offset; returns the
    /// new offset.
    pub async fn catch_up(&self) -> anyhow::Result<i64> {
        Ok(self.catch_up_inner().await?)
    }

    /// Follows the source until `stop` turns true (or its sender is dropped):
    /// catch-up from the feed, then the Redis stream, or the feed every
    /// `poll_interval` when Redis is absent or failing. Failures are logged
    /// and retried; an error is returned only when the offset table cannot be
    /// read at start (schema not migrated).
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        load_offset(&self.pool, &self.source)
            .await
            .map_err(|e| anyhow::anyhow!("consumer {} of {}: cannot read event_offset: {e}", self.name, self.source))?;
        tracing::info!(consumer = %self.name, source = %self.source, stream = %self.stream, redis = self.redis.is_some(), "consumer started");
        let mut redis_outage = Outage::new("event stream");
        let mut feed_outage = Outage::new("change feed catch-up");
        loop {
            if is_stopped(&stop) {
                break;
            }
            let poll_for = match &self.redis {
                Some(redis) => match self.follow(redis, &mut stop, &mut redis_outage).await {
                    Ok(()) => break, // stopped
                    Err(e) => {
                        redis_outage.failed(&e);
                        Some(self.options.redis_retry)
                    }
                },
                None => None,
            };
            if !self.poll(&mut stop, poll_for, &mut feed_outage).await {
                break;
            }
        }
        tracing::info!(consumer = %self.name, source = %self.source, "consumer stopped");
        Ok(())
    }

    /// Polls the feed for `duration` (forever when `None`); false when stopped.
    async fn poll(&self, stop: &mut watch::Receiver<bool>, duration: Option<Duration>, outage: &mut Outage) -> bool {
        let deadline = duration.map(|d| tokio::time::Instant::now() + d);
        loop {
            match self.catch_up_inner().await {
                Ok(_) => outage.recovered(),
                Err(e) => outage.failed(&e),
            }
            let pause = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(tokio::time::Instant::now());
                    if left.is_zero() {
                        return true;
                    }
                    left.min(self.options.poll_interval)
                }
                None => self.options.poll_interval,
            };
            if !pause_unless_stopped(stop, pause, None).await {
                return false;
            }
        }
    }

    /// Catches up then applies stream entries; returns Ok only when stopped.
    async fn follow(&self, redis: &RedisConfig, stop: &mut watch::Receiver<bool>, outage: &mut Outage) -> Result<(), EventError> {
        let mut conn = redis.connect(self.options.block + Duration::from_secs(5)).await?;
        // Position before catching up: entries after this id are read from the
        // stream, everything before it is already in the feed.
        let mut last_id = last_entry_id(&mut conn, &self.stream).await?;
        self.catch_up_inner().await?;
        outage.recovered();
        let block_ms = u64::try_from(self.options.block.as_millis()).unwrap_or(u64::MAX).max(1);
        loop {
            let read = async {
                redis::cmd("XREAD")
                    .arg("COUNT")
                    .arg(self.options.read_count.max(1))
                    .arg("BLOCK")
                    .arg(block_ms)
                    .arg("STREAMS")
                    .arg(&self.stream)
                    .arg(&last_id)
                    .query_async::<Option<StreamReadReply>>(&mut conn)
                    .await
            };
            let reply = tokio::select! {
                _ = stopped(stop) => return Ok(()),
                r = read => r?,
            };
            for entry in reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
                self.on_entry(&entry).await?;
                last_id = entry.id;
            }
        }
    }

    async fn on_entry(&self, entry: &StreamId) -> Result<(), EventError> {
        let Some(event) = parse_entry(entry) else {
            // Skipped: if it mattered, the next entry's `previous` shows the gap.
            tracing::warn!(stream = %self.stream, id = %entry.id, "malformed stream entry skipped");
            return Ok(());
        };
        let sequence = event.change.sequence;
        let offset = self.offset.load(Ordering::Acquire);
        if sequence <= offset {
            return Ok(()); // delivered again
        }
        let gap = match event.previous {
            Some(previous) => previous > offset,
            None => sequence > offset + 1,
        };
        if gap {
            tracing::debug!(consumer = %self.name, source = %self.source, offset, sequence, "gap in the stream: catching up from the feed");
            let feed_at = self.catch_up_inner().await?;
            if feed_at >= sequence {
                return Ok(());
            }
            return Err(EventError::FeedBehind { sequence, feed_at });
        }
        self.apply(&event.change).await
    }

    async fn catch_up_inner(&self) -> Result<i64, EventError> {
        let mut offset = load_offset(&self.pool, &self.source).await?;
        self.offset.store(offset, Ordering::Release);
        let limit = self.options.page_size.max(1);
        // Until an empty page: the feed may cap the page size below `limit`.
        loop {
            let page = self.feed.changes_after(offset, limit).await.map_err(EventError::Feed)?;
            let before = offset;
            for change in &page {
                if change.sequence <= offset {
                    continue;
                }
                if let Err(source) = self.handler.apply(change).await {
                    // Keep what this page already applied before reporting.
                    if offset > before {
                        self.advance(offset).await?;
                    }
                    return Err(EventError::Handler { sequence: change.sequence, source });
                }
                offset = change.sequence;
            }
            if offset == before {
                return Ok(offset);
            }
            // One offset write per page: a crash re-applies at most a page,
            // which idempotent handlers absorb.
            self.advance(offset).await?;
        }
    }

    /// Applies one change, then advances the stored offset.
    async fn apply(&self, change: &Change) -> Result<(), EventError> {
        self.handler.apply(change).await.map_err(|source| EventError::Handler { sequence: change.sequence, source })?;
        self.advance(change.sequence).await
    }

    async fn advance(&self, sequence: i64) -> Result<(), EventError> {
        store_offset(&self.pool, &self.source, sequence).await?;
        self.offset.fetch_max(sequence, Ordering::AcqRel);
        Ok(())
    }
}

async fn load_offset(pool: &PgPool, source: &str) -> Result<i64, sqlx::Error> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT last_sequence FROM event_offset WHERE source = $1").bind(source).fetch_optional(pool).await?;
    Ok(row.map_or(0, |(s,)| s))
}

/// Never moves the offset backwards (replicas of a consumer share the row).
async fn store_offset(pool: &PgPool, source: &str, sequence: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO event_offset (source, last_sequence, updated_at) VALUES ($1, $2, now()) \
         ON CONFLICT (source) DO UPDATE SET last_sequence = EXCLUDED.last_sequence, updated_at = EXCLUDED.updated_at \
         WHERE event_offset.last_sequence < EXCLUDED.last_sequence",
    )
    .bind(source)
    .bind(sequence)
    .execute(pool)
    .await?;
    Ok(())
}

/// Id of the newest entry, `0-0` for an empty or missing stream.
async fn last_entry_id(conn: &mut MultiplexedConnection, stream: &str) -> Result<String, redis::RedisError> {
    let reply: StreamRangeReply = redis::cmd("XREVRANGE").arg(stream).arg("+").arg("-").arg("COUNT").arg(1).query_async(conn).await?;
    Ok(reply.ids.into_iter().next().map_or_else(|| "0-0".to_owned(), |e| e.id))
}

fn parse_entry(entry: &StreamId) -> Option<StreamEvent> {
    let commit_time = entry
        .get::<String>("commit_time")
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| crate::server::timestamp(t.with_timezone(&Utc)));
    Some(StreamEvent {
        change: Change {
            sequence: entry.get("sequence")?,
            resource: entry.get("resource")?,
            change_type: entry.get("change_type")?,
            revision: entry.get("revision").unwrap_or(0),
            commit_time,
            request_id: entry.get("request_id").unwrap_or_default(),
        },
        previous: entry.get("previous"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_is_optional() {
        assert!(RedisConfig::from_env(&Env::from_pairs([("OTHER", "x")])).unwrap().is_none());
        assert!(RedisConfig::from_env(&Env::from_pairs([(REDIS_URL_VAR, " ")])).unwrap().is_none());
        let cfg = RedisConfig::from_env(&Env::from_pairs([(REDIS_URL_VAR, "redis://127.0.0.1:6379")])).unwrap();
        assert!(cfg.is_some());
    }

    #[test]
    fn bad_url_names_the_variable_and_hides_the_password() {
        let err = RedisConfig::from_env(&Env::from_pairs([(REDIS_URL_VAR, "http://u:secret@h:6379")])).unwrap_err().to_string();
        assert!(err.contains(REDIS_URL_VAR), "{err}");
        assert!(!err.contains("secret"), "{err}");
        let dbg = format!("{:?}", RedisConfig::new("redis://u:secret@h:6379").unwrap());
        assert!(!dbg.contains("secret"), "{dbg}");
    }

    #[test]
    fn stream_key_is_per_service() {
        assert_eq!(stream_key("registry"), "filieris:registry:changes");
    }

    #[test]
    fn entries_parse_back_into_changes() {
        let mut map = std::collections::HashMap::new();
        for (k, v) in [
            ("sequence", "7"),
            ("previous", "5"),
            ("resource", "structures/1"),
            ("change_type", "STRUCTURE_CREATED"),
            ("revision", "2"),
            ("request_id", "r-1"),
            ("commit_time", "2026-01-02T03:04:05.000006Z"),
            ("payload", "{}"),
        ] {
            map.insert(k.to_owned(), redis::Value::BulkString(v.as_bytes().to_vec()));
        }
        let entry = StreamId { id: "1-0".into(), map, ..Default::default() };
        let event = parse_entry(&entry).unwrap();
        assert_eq!(event.previous, Some(5));
        assert_eq!(event.change.sequence, 7);
        assert_eq!(event.change.resource, "structures/1");
        assert_eq!(event.change.revision, 2);
        assert_eq!(event.change.commit_time.map(|t| (t.seconds, t.nanos)), Some((1_767_323_045, 6_000)));
        let broken = StreamId { id: "2-0".into(), ..Default::default() };
        assert!(parse_entry(&broken).is_none());
    }
}
