//! A service's local view of the registry: a `structure_cache` table in the
//! service's own schema, kept current by the registry's change events
//! ([`crate::events::Consumer`] drives a [`RegistryCache`] as its feed and
//! handler), and the registry queries a service needs to resolve scopes
//! (group members, structures by filter). Calls carry the service's own
//! signed identity.
//!
//! The table is created by each consuming service's migrations (the registry
//! itself has no cache of itself), with the columns this module reads and
//! writes: `structure_id UUID PRIMARY KEY, finess TEXT UNIQUE, level TEXT,
//! category TEXT, region SMALLINT, parent_id UUID, open_date DATE, close_date
//! DATE, revision BIGINT, updated_at TIMESTAMPTZ`.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDate;
use filieris_kernel::date::parse_date;
use filieris_proto::registry as reg;
use filieris_proto::registry::registry_service_client::RegistryServiceClient;
use filieris_proto::types::Change;
use sqlx::PgPool;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::config::InternalKey;
use crate::events::{ChangeFeed, ChangeHandler};
use crate::identity::{CallerKind, Identity};
use crate::pagination::{encode_token, fingerprint};

/// A structure as the registry describes it, for the cache.
#[derive(Debug, Clone)]
pub struct StructureRecord {
    /// Registry id.
    pub id: Uuid,
    /// FINESS (absent for antennas).
    pub finess: Option<String>,
    /// Level short code (`ESTABLISHMENT`, `ANTENNA`…).
    pub level: String,
    /// Category short code (`HEALTH_CENTRE`, `HOSPITAL`…).
    pub category: String,
    /// Region code (`filieris.type.v1.Region` number).
    pub region: i16,
    /// Principal centre of an antenna.
    pub parent_id: Option<Uuid>,
    /// Opening date.
    pub open_date: NaiveDate,
    /// Closing date.
    pub close_date: Option<NaiveDate>,
    /// Registry revision.
    pub revision: i64,
}

/// What the cache knows of a structure with a FINESS, for row validation.
#[derive(Debug, Clone)]
pub struct CachedStructure {
    /// Registry id.
    pub id: Uuid,
    /// Region code.
    pub region: i16,
    /// Opening date.
    pub open_date: NaiveDate,
    /// Closing date, if closed.
    pub close_date: Option<NaiveDate>,
}

impl CachedStructure {
    /// Open on `date`: opened on or before it and not closed by then.
    pub fn open_on(&self, date: NaiveDate) -> bool {
        self.open_date <= date && self.close_date.is_none_or(|c| date < c)
    }
}

/// Structures by FINESS, as the cache holds them when a batch starts.
pub type StructureIndex = HashMap<String, CachedStructure>;

/// Upserts a structure; an older revision never overwrites a newer one
/// (events may arrive twice or late).
pub async fn upsert_structure(pool: &PgPool, s: &StructureRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO structure_cache (structure_id, finess, level, category, region, parent_id, open_date, close_date, revision) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) \
         ON CONFLICT (structure_id) DO UPDATE SET finess = EXCLUDED.finess, level = EXCLUDED.level, category = EXCLUDED.category, \
         region = EXCLUDED.region, parent_id = EXCLUDED.parent_id, open_date = EXCLUDED.open_date, close_date = EXCLUDED.close_date, \
         revision = EXCLUDED.revision, updated_at = now() WHERE structure_cache.revision < EXCLUDED.revision",
    )
    .bind(s.id)
    .bind(&s.finess)
    .bind(&s.level)
    .bind(&s.category)
    .bind(s.region)
    .bind(s.parent_id)
    .bind(s.open_date)
    .bind(s.close_date)
    .bind(s.revision)
    .execute(pool)
    .await?;
    Ok(())
}

/// The cached structures that have a FINESS, by FINESS.
pub async fn structure_index(pool: &PgPool) -> Result<StructureIndex, sqlx::Error> {
    let rows: Vec<(Uuid, String, i16, NaiveDate, Option<NaiveDate>)> =
        sqlx::query_as("SELECT structure_id, finess, region, open_date, close_date FROM structure_cache WHERE finess IS NOT NULL")
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, finess, region, open_date, close_date)| (finess, CachedStructure { id, region, open_date, close_date }))
        .collect())
}

/// Registry client plus the cache it feeds.
#[derive(Clone)]
pub struct RegistryCache {
    client: RegistryServiceClient<Channel>,
    key: InternalKey,
    pool: PgPool,
    caller: String,
}

fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_owned()
}

fn date(text: &str) -> Option<NaiveDate> {
    if text.is_empty() { None } else { parse_date(text).ok() }
}

impl RegistryCache {
    /// A cache in `pool`'s schema over a (lazily connected) channel to the
    /// registry; `caller` is the service's caller id (`service:activity`).
    pub fn new(channel: Channel, key: InternalKey, pool: PgPool, caller: &str) -> Self {
        Self { client: RegistryServiceClient::new(channel), key, pool, caller: caller.to_owned() }
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let me =
            Identity { caller: self.caller.clone(), kind: CallerKind::Service, roles: vec!["reader".into()], scopes: vec!["*".into()] };
        let mut req = tonic::Request::new(message);
        me.attach(&self.key, &mut req);
        req
    }

    /// Reloads one structure into the cache.
    pub async fn refresh(&self, name: &str) -> anyhow::Result<()> {
        let mut client = self.client.clone();
        let resp = client.get_structure(self.request(reg::GetStructureRequest { name: name.to_owned(), as_of_date: String::new() })).await;
        let s = match resp {
            Ok(r) => r.into_inner().structure.context("registry answered without a structure")?,
            // A structure not open yet is not visible today: its opening event will come.
            Err(status) if status.code() == tonic::Code::NotFound => return Ok(()),
            Err(status) => return Err(anyhow::anyhow!("registry GetStructure {name}: {status}")),
        };
        let id = Uuid::parse_str(&short(&s.name, "structures/")).context("registry structure name is not structures/{uuid}")?;
        let record = StructureRecord {
            id,
            finess: (!s.finess.is_empty()).then(|| s.finess.clone()),
            level: short(reg::StructureLevel::try_from(s.level).map(|l| l.as_str_name()).unwrap_or(""), "STRUCTURE_LEVEL_"),
            category: short(reg::Category::try_from(s.category).map(|c| c.as_str_name()).unwrap_or(""), "CATEGORY_"),
            region: i16::try_from(s.region).unwrap_or(0),
            parent_id: Uuid::parse_str(&short(&s.parent, "structures/")).ok(),
            open_date: date(&s.open_date).context("registry structure without an opening date")?,
            close_date: date(&s.close_date),
            revision: s.revision,
        };
        upsert_structure(&self.pool, &record).await.map_err(|e| anyhow::anyhow!("cache: {e}"))
    }

    /// Members of a registry group at any time during `period` (a period
    /// code; empty: as of today).
    pub async fn group_members(&self, code: &str, period: &str) -> Result<Vec<Uuid>, tonic::Status> {
        let mut client = self.client.clone();
        let mut ids = Vec::new();
        let mut token = String::new();
        loop {
            let page = client
                .list_group_members(self.request(reg::ListGroupMembersRequest {
                    group: format!("structureGroups/{code}"),
                    period: period.to_owned(),
                    as_of_date: String::new(),
                    page_size: 200,
                    page_token: token.clone(),
                }))
                .await?
                .into_inner();
            ids.extend(page.structures.iter().filter_map(|s| Uuid::parse_str(&short(&s.name, "structures/")).ok()));
            if page.next_page_token.is_empty() {
                return Ok(ids);
            }
            token = page.next_page_token;
        }
    }

    /// Structures matching a registry `ListStructures` filter and text search,
    /// read as of `as_of_date` (YYYY-MM-DD; empty: today).
    pub async fn find_structures(&self, filter: &str, search: &str, as_of_date: &str) -> Result<Vec<Uuid>, tonic::Status> {
        let mut client = self.client.clone();
        let mut ids = Vec::new();
        let mut token = String::new();
        loop {
            let page = client
                .list_structures(self.request(reg::ListStructuresRequest {
                    page_size: 200,
                    page_token: token.clone(),
                    filter: filter.to_owned(),
                    search: search.to_owned(),
                    as_of_date: as_of_date.to_owned(),
                }))
                .await?
                .into_inner();
            ids.extend(page.structures.iter().filter_map(|s| Uuid::parse_str(&short(&s.name, "structures/")).ok()));
            if page.next_page_token.is_empty() {
                return Ok(ids);
            }
            token = page.next_page_token;
        }
    }

    /// As shared handles for the event consumer.
    pub fn into_arcs(self) -> (Arc<dyn ChangeFeed>, Arc<dyn ChangeHandler>) {
        let me = Arc::new(self);
        (me.clone(), me)
    }
}

#[async_trait::async_trait]
impl ChangeHandler for RegistryCache {
    async fn apply(&self, change: &Change) -> anyhow::Result<()> {
        // Idempotent: the cache keeps the highest registry revision.
        if change.resource.starts_with("structures/") { self.refresh(&change.resource).await } else { Ok(()) }
    }
}

#[async_trait::async_trait]
impl ChangeFeed for RegistryCache {
    async fn changes_after(&self, after: i64, limit: u32) -> anyhow::Result<Vec<Change>> {
        let mut client = self.client.clone();
        // The registry's resume token is the shared runtime token over the last sequence.
        let token = if after <= 0 { String::new() } else { encode_token(&fingerprint(&["changes"]), &after) };
        let page = client
            .list_changes(self.request(reg::ListChangesRequest { page_size: i32::try_from(limit).unwrap_or(200), page_token: token }))
            .await
            .map_err(|s| anyhow::anyhow!("registry ListChanges: {s}"))?
            .into_inner();
        Ok(page.changes)
    }
}
