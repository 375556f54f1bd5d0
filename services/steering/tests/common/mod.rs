//! Shared set-up of the steering tests: a fresh database per test, the
//! reference tables loaded, and the API over upstreams given by URL.

#![allow(dead_code)]

use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::testing::TestDatabase;
use filieris_steering::SteeringApi;
use filieris_steering::sources::{UpstreamUrls, Upstreams};
use filieris_steering::storage::Store;
use sqlx::PgPool;
use tonic::Request;

pub const INTERNAL: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Nothing listens there: a source that cannot answer.
pub const NOWHERE: &str = "http://127.0.0.1:9";

pub struct Env {
    pub api: SteeringApi,
    pub store: Store,
    pub pool: PgPool,
    pub db: TestDatabase,
}

pub fn key() -> InternalKey {
    InternalKey::from_hex(INTERNAL).expect("key")
}

pub fn identity(roles: &[&str]) -> Identity {
    Identity {
        caller: "staff:steering-test".into(),
        kind: CallerKind::Staff,
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        scopes: vec!["*".into()],
    }
}

pub fn req<T>(body: T) -> Request<T> {
    as_role(body, &["steering"])
}

pub fn as_role<T>(body: T, roles: &[&str]) -> Request<T> {
    let mut r = Request::new(body);
    r.extensions_mut().insert(identity(roles));
    r
}

/// A fresh database with the steering schema and its reference tables,
/// the API reading its sources at `urls`.
pub async fn setup_with(db: TestDatabase, urls: UpstreamUrls) -> Env {
    let pool =
        filieris_runtime::db::connect(&db.url, filieris_steering::SCHEMA, 4, &filieris_steering::MIGRATOR).await.expect("steering db");
    let store = Store::new(pool.clone());
    store.load_reference().await.expect("reference tables");
    let api = SteeringApi::new(store.clone(), Upstreams::new(&urls, key()).expect("upstreams"));
    Env { api, store, pool, db }
}

/// Same, with every source unreachable.
pub async fn setup() -> Env {
    let db = TestDatabase::create().await.expect("db");
    let urls = UpstreamUrls { activity: NOWHERE.into(), finance: NOWHERE.into(), hr: NOWHERE.into(), missions: NOWHERE.into() };
    setup_with(db, urls).await
}
