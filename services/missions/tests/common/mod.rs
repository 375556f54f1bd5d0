//! Shared set-up of the missions tests: a fresh database per test, callers.
#![allow(dead_code)]

use filieris_kernel::pseudonym::PseudonymKey;
use filieris_missions::MissionsApi;
use filieris_missions::finance::Finance;
use filieris_missions::storage::Store;
use filieris_proto::missions as pb;
use filieris_proto::missions::missions_service_server::MissionsService;
use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::testing::TestDatabase;
use sqlx::PgPool;
use tonic::{Request, Status};

pub const INTERNAL: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
pub const PSEUDONYM_KEY: &str = "abababababababababababababababababababababababababababababababab";

pub struct Env {
    pub api: MissionsApi,
    pub pool: PgPool,
    pub db: TestDatabase,
}

pub fn key() -> InternalKey {
    InternalKey::from_hex(INTERNAL).expect("key")
}

/// Fresh database; the finance service at `finance_url` (unreachable by default).
pub async fn setup_with(finance_url: &str) -> Env {
    let db = TestDatabase::create().await.expect("db");
    let pool =
        filieris_runtime::db::connect(&db.url, filieris_missions::SCHEMA, 4, &filieris_missions::MIGRATOR).await.expect("missions db");
    let channel = tonic::transport::Endpoint::from_shared(finance_url.to_owned()).expect("url").connect_lazy();
    let store = Store::new(pool.clone(), PseudonymKey::from_hex(PSEUDONYM_KEY).expect("pseudonym key"));
    Env { api: MissionsApi::new(store, Finance::new(channel, key())), pool, db }
}

pub async fn setup() -> Env {
    setup_with("http://127.0.0.1:9").await
}

pub fn staff() -> Identity {
    Identity { caller: "staff:officer".into(), kind: CallerKind::Staff, roles: vec!["missions".into()], scopes: vec!["*".into()] }
}

pub fn partner(code: &str) -> Identity {
    Identity {
        caller: format!("partner:{}", code.to_ascii_lowercase()),
        kind: CallerKind::Partner,
        roles: vec!["partner".into()],
        scopes: vec![format!("partner:{code}")],
    }
}

pub fn req<T>(who: &Identity, body: T) -> Request<T> {
    let mut r = Request::new(body);
    r.extensions_mut().insert(who.clone());
    r
}

pub fn reason(status: &Status) -> String {
    let details = tonic_types::StatusExt::get_error_details(status);
    details.error_info().map(|i| i.reason.clone()).unwrap_or_default()
}

pub fn violations(status: &Status) -> Vec<(String, String)> {
    let details = tonic_types::StatusExt::get_error_details(status);
    details.bad_request().map(|b| b.field_violations.iter().map(|v| (v.field.clone(), v.description.clone())).collect()).unwrap_or_default()
}

/// Creates a mandate of `partner` named `id`.
pub async fn mandate(env: &Env, id: &str, partner: pb::Partner) {
    env.api
        .create_mandate(req(
            &staff(),
            pb::CreateMandateRequest {
                mandate_id: id.into(),
                mandate: Some(pb::Mandate {
                    partner: partner as i32,
                    form: pb::MandateForm::ManagementMandate as i32,
                    title: format!("mandate {id}"),
                    scope: vec!["HEALTH".into()],
                    start_date: "2015-01-01".into(),
                    ..Default::default()
                }),
                request_id: format!("m-{id}"),
            },
        ))
        .await
        .expect("mandate");
}

pub fn document(title: &str) -> pb::Document {
    pb::Document {
        uri: format!("ged://docs/{title}.pdf"),
        sha256: "ab".repeat(32),
        media_type: "application/pdf".into(),
        size_bytes: 1234,
        title: title.into(),
    }
}
