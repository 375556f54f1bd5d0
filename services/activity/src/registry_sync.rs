//! The activity service's view of the registry: a local cache of structures
//! kept current by the registry's change events, and group resolution for
//! metric scopes. Calls carry the service's own signed identity.

use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDate;
use filieris_kernel::date::parse_date;
use filieris_proto::registry as reg;
use filieris_proto::registry::registry_service_client::RegistryServiceClient;
use filieris_proto::types::Change;
use filieris_runtime::config::InternalKey;
use filieris_runtime::events::{ChangeFeed, ChangeHandler};
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::pagination::{encode_token, fingerprint};
use tonic::transport::Channel;
use uuid::Uuid;

use crate::storage::{Store, StructureRecord};

/// Caller id of the activity service towards other services.
pub const SERVICE_CALLER: &str = "service:activity";

/// Registry client plus the cache it feeds.
#[derive(Clone)]
pub struct RegistrySync {
    client: RegistryServiceClient<Channel>,
    key: InternalKey,
    store: Store,
}

fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_owned()
}

fn date(text: &str) -> Option<NaiveDate> {
    if text.is_empty() { None } else { parse_date(text).ok() }
}

impl RegistrySync {
    /// A sync over a (lazily connected) channel to the registry.
    pub fn new(channel: Channel, key: InternalKey, store: Store) -> Self {
        Self { client: RegistryServiceClient::new(channel), key, store }
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let me =
            Identity { caller: SERVICE_CALLER.into(), kind: CallerKind::Service, roles: vec!["reader".into()], scopes: vec!["*".into()] };
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
        self.store.upsert_structure(&record).await.map_err(|e| anyhow::anyhow!("cache: {e}"))
    }

    /// Members of a registry group at any time in [start, end].
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

    /// As shared handles for the event consumer.
    pub fn into_arcs(self) -> (Arc<dyn ChangeFeed>, Arc<dyn ChangeHandler>) {
        let me = Arc::new(self);
        (me.clone(), me)
    }
}

#[async_trait::async_trait]
impl ChangeHandler for RegistrySync {
    async fn apply(&self, change: &Change) -> anyhow::Result<()> {
        // Idempotent: the cache keeps the highest registry revision.
        if change.resource.starts_with("structures/") { self.refresh(&change.resource).await } else { Ok(()) }
    }
}

#[async_trait::async_trait]
impl ChangeFeed for RegistrySync {
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
