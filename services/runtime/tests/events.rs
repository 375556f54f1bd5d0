//! Events against a real PostgreSQL and a real Redis.
//!
//! Redis is `FILIERIS_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`); each
//! test uses its own stream key. Without Redis the tests that need it are
//! skipped, except under CI (`CI` set), where they fail.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use filieris_proto::types::Change;
use filieris_runtime::changes::{self, NewChange};
use filieris_runtime::events::{
    self, ChangeFeed, ChangeHandler, Consumer, ConsumerOptions, RedisConfig, RelayOptions, run_relay, run_relay_with,
};
use filieris_runtime::testing::TestDatabase;
use redis::streams::StreamRangeReply;
use sqlx::PgPool;
use tokio::sync::watch;

static DEMO: sqlx::migrate::Migrator = sqlx::migrate!("./tests/migrations_demo");

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// The producer's schema and the consumer's, in one fresh database.
async fn schemas() -> (PgPool, PgPool) {
    let db = TestDatabase::create().await.expect("db");
    let producer = filieris_runtime::db::connect(&db.url, "producer", 4, &DEMO).await.expect("producer schema");
    let consumer = filieris_runtime::db::connect(&db.url, "consumer", 4, &DEMO).await.expect("consumer schema");
    (producer, consumer)
}

fn test_redis_url() -> String {
    std::env::var("FILIERIS_TEST_REDIS_URL").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

/// The test Redis, or `None` (test skipped) when it is not running outside CI.
async fn redis() -> Option<(RedisConfig, redis::aio::MultiplexedConnection)> {
    let url = test_redis_url();
    let reachable = async {
        let client = redis::Client::open(url.as_str()).ok()?;
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        let _: String = redis::cmd("PING").query_async(&mut conn).await.ok()?;
        Some(conn)
    }
    .await;
    match reachable {
        Some(conn) => Some((RedisConfig::new(&url).expect("redis url"), conn)),
        None if std::env::var_os("CI").is_some() => panic!("Redis is required under CI at {url}"),
        None => {
            eprintln!("skipped: no Redis at {url}");
            None
        }
    }
}

fn unique_source() -> String {
    format!("t{}", uuid::Uuid::new_v4().simple())
}

async fn append(pool: &PgPool, from: i64, count: i64) {
    for i in from..from + count {
        let mut tx = pool.begin().await.expect("begin");
        let resource = format!("items/{i}");
        let request_id = format!("req-{i}");
        changes::append(
            &mut tx,
            &NewChange {
                resource: &resource,
                change_type: "ITEM_CREATED",
                revision: i,
                request_id: &request_id,
                payload: serde_json::json!({ "n": i }),
            },
        )
        .await
        .expect("append");
        tx.commit().await.expect("commit");
    }
}

async fn unpublished(pool: &PgPool) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM change_log WHERE NOT published").fetch_one(pool).await.expect("count");
    n
}

/// Polls `check` every 50 ms, a bounded number of times.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

async fn stream_entries(conn: &mut redis::aio::MultiplexedConnection, stream: &str) -> Vec<redis::streams::StreamId> {
    let reply: StreamRangeReply = redis::cmd("XRANGE").arg(stream).arg("-").arg("+").query_async(conn).await.expect("xrange");
    reply.ids
}

fn field(entry: &redis::streams::StreamId, name: &str) -> String {
    entry.get::<String>(name).unwrap_or_else(|| panic!("field {name} in {entry:?}"))
}

async fn drop_stream(conn: &mut redis::aio::MultiplexedConnection, stream: &str) {
    let _: i64 = redis::cmd("DEL").arg(stream).query_async(conn).await.expect("del");
}

/// Records the sequences it is given.
#[derive(Default)]
struct Recorder(Mutex<Vec<i64>>);

impl Recorder {
    fn seen(&self) -> Vec<i64> {
        self.0.lock().expect("lock").clone()
    }
}

#[async_trait]
impl ChangeHandler for Recorder {
    async fn apply(&self, change: &Change) -> anyhow::Result<()> {
        self.0.lock().expect("lock").push(change.sequence);
        Ok(())
    }
}

/// The producer's change feed read straight from its schema (what
/// `ListChanges` serves).
struct DbFeed(PgPool);

#[async_trait]
impl ChangeFeed for DbFeed {
    async fn changes_after(&self, after: i64, limit: u32) -> anyhow::Result<Vec<Change>> {
        Ok(changes::list(&self.0, after, limit).await?)
    }
}

/// An in-memory feed that, like a real service, caps its page size.
struct MemoryFeed {
    changes: Mutex<Vec<Change>>,
    max_page: usize,
}

impl MemoryFeed {
    fn new(max_page: usize) -> Self {
        Self { changes: Mutex::new(Vec::new()), max_page }
    }

    fn push(&self, sequences: impl IntoIterator<Item = i64>) {
        let mut changes = self.changes.lock().expect("lock");
        for sequence in sequences {
            changes.push(Change {
                sequence,
                resource: format!("items/{sequence}"),
                change_type: "ITEM_CREATED".into(),
                revision: 1,
                commit_time: None,
                request_id: String::new(),
            });
        }
    }
}

#[async_trait]
impl ChangeFeed for MemoryFeed {
    async fn changes_after(&self, after: i64, limit: u32) -> anyhow::Result<Vec<Change>> {
        let changes = self.changes.lock().expect("lock");
        let take = (limit as usize).min(self.max_page);
        Ok(changes.iter().filter(|c| c.sequence > after).take(take).cloned().collect())
    }
}

fn fast() -> ConsumerOptions {
    ConsumerOptions {
        poll_interval: Duration::from_millis(50),
        redis_retry: Duration::from_millis(500),
        block: Duration::from_millis(500),
        ..ConsumerOptions::default()
    }
}

fn relay(pool: &PgPool, redis: &RedisConfig, stream: &str, stop: &watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run_relay(pool.clone(), redis.clone(), stream.to_owned(), stop.clone()))
}

// ---------------------------------------------------------------------------
// Relay
// ---------------------------------------------------------------------------

#[tokio::test]
async fn relay_publishes_rows_in_order_and_marks_them_published() {
    let Some((redis, mut conn)) = redis().await else { return };
    let (producer, _) = schemas().await;
    let stream = events::stream_key(&unique_source());
    append(&producer, 1, 5).await;

    let (stop_tx, stop_rx) = watch::channel(false);
    let task = relay(&producer, &redis, &stream, &stop_rx);
    eventually("every row published", || async { unpublished(&producer).await == 0 }).await;
    append(&producer, 6, 2).await;
    eventually("rows written later published too", || async { unpublished(&producer).await == 0 }).await;
    stop_tx.send(true).expect("stop");
    task.await.expect("relay stops");

    let entries = stream_entries(&mut conn, &stream).await;
    let sequences: Vec<i64> = entries.iter().map(|e| field(e, "sequence").parse().expect("number")).collect();
    assert_eq!(sequences, (1..=7).collect::<Vec<_>>());
    let previous: Vec<i64> = entries.iter().map(|e| field(e, "previous").parse().expect("number")).collect();
    assert_eq!(previous, (0..=6).collect::<Vec<_>>());
    let third = &entries[2];
    assert_eq!(field(third, "resource"), "items/3");
    assert_eq!(field(third, "change_type"), "ITEM_CREATED");
    assert_eq!(field(third, "revision"), "3");
    assert_eq!(field(third, "request_id"), "req-3");
    let payload: serde_json::Value = serde_json::from_str(&field(third, "payload")).expect("json payload");
    assert_eq!(payload, serde_json::json!({ "n": 3 }));
    chrono::DateTime::parse_from_rfc3339(&field(third, "commit_time")).expect("RFC 3339 commit time");
    drop_stream(&mut conn, &stream).await;
}

#[tokio::test]
async fn two_relays_publish_each_row_exactly_once_in_order() {
    let Some((redis, mut conn)) = redis().await else { return };
    let (producer, _) = schemas().await;
    let stream = events::stream_key(&unique_source());
    append(&producer, 1, 700).await;

    let (stop_tx, stop_rx) = watch::channel(false);
    let small = RelayOptions { batch_size: 50, ..RelayOptions::default() };
    let a = tokio::spawn(run_relay_with(producer.clone(), redis.clone(), stream.clone(), small.clone(), stop_rx.clone()));
    let b = tokio::spawn(run_relay_with(producer.clone(), redis.clone(), stream.clone(), small, stop_rx.clone()));
    append(&producer, 701, 100).await; // while both run
    eventually("every row published", || async { unpublished(&producer).await == 0 }).await;
    stop_tx.send(true).expect("stop");
    a.await.expect("relay a stops");
    b.await.expect("relay b stops");

    let sequences: Vec<i64> = stream_entries(&mut conn, &stream).await.iter().map(|e| field(e, "sequence").parse().expect("n")).collect();
    assert_eq!(sequences, (1..=800).collect::<Vec<_>>(), "each row once, in sequence order");
    drop_stream(&mut conn, &stream).await;
}

#[tokio::test]
async fn relay_keeps_rows_while_redis_is_down_and_stops_on_request() {
    let (producer, _) = schemas().await;
    append(&producer, 1, 3).await;
    let down = RedisConfig::new("redis://127.0.0.1:1").expect("url");
    let stream = events::stream_key(&unique_source());
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = relay(&producer, &down, &stream, &stop_rx);
    // Several retries happen meanwhile; the relay neither crashes nor drops rows.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!task.is_finished(), "the relay keeps retrying");
    assert_eq!(unpublished(&producer).await, 3);
    stop_tx.send(true).expect("stop");
    task.await.expect("relay stops while Redis is down");

    // Once Redis is back, the same rows go out.
    let Some((redis, mut conn)) = redis().await else { return };
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = relay(&producer, &redis, &stream, &stop_rx);
    eventually("rows published after the outage", || async { unpublished(&producer).await == 0 }).await;
    stop_tx.send(true).expect("stop");
    task.await.expect("relay stops");
    assert_eq!(stream_entries(&mut conn, &stream).await.len(), 3);
    drop_stream(&mut conn, &stream).await;
}

// ---------------------------------------------------------------------------
// Consumer
// ---------------------------------------------------------------------------

#[tokio::test]
async fn consumer_follows_redis_and_applies_each_change_once() {
    let Some((redis, mut conn)) = redis().await else { return };
    let (producer, consumer_pool) = schemas().await;
    let source = unique_source();
    let stream = events::stream_key(&source);
    let (stop_tx, stop_rx) = watch::channel(false);
    let relay_task = relay(&producer, &redis, &stream, &stop_rx);

    // The feed is empty: whatever is applied came through the stream.
    let recorder = Arc::new(Recorder::default());
    let consumer =
        Consumer::new(consumer_pool.clone(), &source, "test", Arc::new(MemoryFeed::new(100)), recorder.clone(), Some(redis.clone()))
            .with_options(fast());
    let consumer_task = tokio::spawn(consumer.run(stop_rx.clone()));

    append(&producer, 1, 3).await;
    eventually("three changes applied", || async { recorder.seen().len() == 3 }).await;

    // The same entry delivered again, then a write that rolled back (a hole in
    // the sequence), then a new change: the duplicate is dropped and the hole
    // is not mistaken for a gap (the feed could not fill it).
    let second = stream_entries(&mut conn, &stream).await.into_iter().nth(1).expect("second entry");
    let mut again = redis::cmd("XADD");
    again.arg(&stream).arg("*");
    for k in second.map.keys() {
        again.arg(k).arg(field(&second, k));
    }
    let _: String = again.query_async(&mut conn).await.expect("xadd duplicate");
    {
        let mut tx = producer.begin().await.expect("begin");
        let change =
            NewChange { resource: "items/x", change_type: "ITEM_CREATED", revision: 0, request_id: "", payload: serde_json::json!({}) };
        changes::append(&mut tx, &change).await.expect("append");
        tx.rollback().await.expect("rollback");
    }
    append(&producer, 5, 1).await; // sequence 5: 4 was rolled back
    eventually("the next change applied", || async { recorder.seen().len() >= 4 }).await;

    assert_eq!(recorder.seen(), vec![1, 2, 3, 5], "each change once, in order");
    let stored: (i64,) = sqlx::query_as("SELECT last_sequence FROM event_offset WHERE source = $1")
        .bind(&source)
        .fetch_one(&consumer_pool)
        .await
        .expect("offset");
    assert_eq!(stored.0, 5);

    stop_tx.send(true).expect("stop");
    consumer_task.await.expect("join").expect("consumer stops cleanly");
    relay_task.await.expect("relay stops");
    drop_stream(&mut conn, &stream).await;
}

#[tokio::test]
async fn consumer_without_redis_catches_up_and_polls_the_feed() {
    let (_, consumer_pool) = schemas().await;
    let feed = Arc::new(MemoryFeed::new(100)); // smaller pages than asked
    feed.push(1..=1200);
    let recorder = Arc::new(Recorder::default());
    let consumer = Consumer::new(consumer_pool.clone(), "registry", "test", feed.clone(), recorder.clone(), None).with_options(fast());

    assert_eq!(consumer.catch_up().await.expect("catch up"), 1200);
    assert_eq!(recorder.seen(), (1..=1200).collect::<Vec<_>>());
    assert_eq!(consumer.offset().await.expect("offset"), 1200);
    assert_eq!(consumer.catch_up().await.expect("again"), 1200, "nothing new");
    assert_eq!(recorder.seen().len(), 1200, "nothing applied twice");

    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(consumer.run(stop_rx));
    feed.push(1201..=1203);
    eventually("new changes polled", || async { recorder.seen().len() == 1203 }).await;
    assert_eq!(recorder.seen()[1200..], [1201, 1202, 1203]);
    stop_tx.send(true).expect("stop");
    task.await.expect("join").expect("consumer stops cleanly");
}

#[tokio::test]
async fn consumer_falls_back_to_the_feed_while_redis_is_down() {
    let (_, consumer_pool) = schemas().await;
    let feed = Arc::new(MemoryFeed::new(100));
    feed.push(1..=2);
    let recorder = Arc::new(Recorder::default());
    let down = RedisConfig::new("redis://127.0.0.1:1").expect("url");
    let consumer = Consumer::new(consumer_pool, "registry", "test", feed.clone(), recorder.clone(), Some(down)).with_options(fast());
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(consumer.run(stop_rx));
    eventually("first changes polled", || async { recorder.seen().len() == 2 }).await;
    feed.push(3..=4);
    eventually("later changes polled", || async { recorder.seen().len() == 4 }).await;
    assert_eq!(recorder.seen(), vec![1, 2, 3, 4]);
    stop_tx.send(true).expect("stop");
    task.await.expect("join").expect("consumer stops cleanly");
}

#[tokio::test]
async fn gaps_in_the_stream_are_filled_from_the_feed() {
    let Some((redis, mut conn)) = redis().await else { return };
    let (producer, consumer_pool) = schemas().await;
    let source = unique_source();
    let stream = events::stream_key(&source);
    let (stop_tx, stop_rx) = watch::channel(false);
    let relay_task = relay(&producer, &redis, &stream, &stop_rx);

    // Starting late: the stream was trimmed to nothing before the consumer came.
    append(&producer, 1, 3).await;
    eventually("published", || async { unpublished(&producer).await == 0 }).await;
    let _: i64 = redis::cmd("XTRIM").arg(&stream).arg("MAXLEN").arg(0).query_async(&mut conn).await.expect("xtrim");

    let recorder = Arc::new(Recorder::default());
    let feed = Arc::new(DbFeed(producer.clone()));
    let consumer = Consumer::new(consumer_pool, &source, "test", feed, recorder.clone(), Some(redis.clone())).with_options(fast());
    let consumer_task = tokio::spawn(consumer.run(stop_rx.clone()));
    eventually("trimmed changes read from the feed", || async { recorder.seen().len() == 3 }).await;

    // Lost while following: 4 and 5 count as published but never reached the
    // stream; 6 arrives announcing 5 as its predecessor.
    {
        let mut tx = producer.begin().await.expect("begin");
        for resource in ["items/4", "items/5"] {
            let change = NewChange { resource, change_type: "ITEM_CREATED", revision: 1, request_id: "", payload: serde_json::json!({}) };
            changes::append(&mut tx, &change).await.expect("append");
        }
        sqlx::query("UPDATE change_log SET published = true WHERE sequence > 3").execute(&mut *tx).await.expect("lose");
        tx.commit().await.expect("commit");
    }
    append(&producer, 6, 1).await;
    eventually("the gap filled", || async { recorder.seen().len() == 6 }).await;
    assert_eq!(recorder.seen(), (1..=6).collect::<Vec<_>>());

    stop_tx.send(true).expect("stop");
    consumer_task.await.expect("join").expect("consumer stops cleanly");
    relay_task.await.expect("relay stops");
    drop_stream(&mut conn, &stream).await;
}

#[tokio::test]
async fn a_restarted_consumer_resumes_after_its_stored_offset() {
    let (_, consumer_pool) = schemas().await;
    let feed = Arc::new(MemoryFeed::new(100));
    feed.push(1..=10);
    let first = Arc::new(Recorder::default());
    let consumer = Consumer::new(consumer_pool.clone(), "registry", "first", feed.clone(), first.clone(), None);
    assert_eq!(consumer.catch_up().await.expect("catch up"), 10);
    drop(consumer);

    feed.push(11..=12);
    let second = Arc::new(Recorder::default());
    let restarted = Consumer::new(consumer_pool.clone(), "registry", "second", feed.clone(), second.clone(), None);
    assert_eq!(restarted.offset().await.expect("offset"), 10);
    assert_eq!(restarted.catch_up().await.expect("catch up"), 12);
    assert_eq!(second.seen(), vec![11, 12], "nothing before the stored offset applied again");

    // Offsets are per source.
    let other = Arc::new(Recorder::default());
    let consumer = Consumer::new(consumer_pool, "billing", "third", feed, other.clone(), None);
    assert_eq!(consumer.catch_up().await.expect("catch up"), 12);
    assert_eq!(other.seen().len(), 12);
}

/// A handler failure is retried: the offset stays before the failed change.
#[tokio::test]
async fn a_failing_handler_does_not_advance_the_offset() {
    struct FailsOn(i64, Recorder);
    #[async_trait]
    impl ChangeHandler for FailsOn {
        async fn apply(&self, change: &Change) -> anyhow::Result<()> {
            anyhow::ensure!(change.sequence != self.0, "refused {}", change.sequence);
            self.1.apply(change).await
        }
    }
    let (_, consumer_pool) = schemas().await;
    let feed = Arc::new(MemoryFeed::new(100));
    feed.push(1..=5);
    let failing = Consumer::new(consumer_pool.clone(), "registry", "t", feed.clone(), Arc::new(FailsOn(3, Recorder::default())), None);
    let err = failing.catch_up().await.expect_err("handler error surfaces");
    assert!(err.to_string().contains("change 3"), "{err}");
    assert_eq!(failing.offset().await.expect("offset"), 2);

    let recorder = Arc::new(Recorder::default());
    let healthy = Consumer::new(consumer_pool, "registry", "t", feed, recorder.clone(), None);
    assert_eq!(healthy.catch_up().await.expect("catch up"), 5);
    assert_eq!(recorder.seen(), vec![3, 4, 5]);
}
