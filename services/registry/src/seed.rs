//! Loads the demo data set through the same storage path as the API (same
//! validation, audit and change feed). Safe to run again: what exists is kept.

use std::collections::HashMap;

use filieris_proto::registry as pb;
use filieris_runtime::idempotency::IdempotencyKey;
use filieris_runtime::identity::{CallerKind, Identity};

use crate::demo::{DemoDataset, dataset};
use crate::error::{DOMAIN, RegistryError};
use crate::storage::{Store, WriteContext};

/// What a seeding run did.
#[derive(Debug, Default)]
pub struct SeedReport {
    /// Legal entities created.
    pub legal_entities: usize,
    /// Structures created.
    pub structures_created: usize,
    /// Structures already present.
    pub structures_present: usize,
    /// Groups created.
    pub groups: usize,
    /// Group memberships added.
    pub memberships: usize,
}

impl std::fmt::Display for SeedReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "demo data: {} legal entities, {} structures created ({} already present), {} groups, {} group memberships",
            self.legal_entities, self.structures_created, self.structures_present, self.groups, self.memberships
        )
    }
}

fn seeder() -> Identity {
    Identity { caller: "job:demo-seed".into(), kind: CallerKind::Job, roles: vec!["admin".into()], scopes: vec!["*".into()] }
}

/// Loads [`dataset`] into the registry.
pub async fn load_demo(store: &Store) -> anyhow::Result<SeedReport> {
    load(store, &dataset()).await
}

/// Loads a data set: legal entities, then establishments, then the
/// structures that point at them (integrated EHPAD, antennas), then groups.
pub async fn load(store: &Store, data: &DemoDataset) -> anyhow::Result<SeedReport> {
    let identity = seeder();
    let mut report = SeedReport::default();
    let mut entity_names: HashMap<String, String> = HashMap::new();
    for entity in &data.legal_entities {
        let rid = format!("demo-le-{}", entity.finess);
        let ctx = WriteContext { identity: &identity, method: "seed/CreateLegalEntity", request_id: &rid };
        match store.create_legal_entity(&ctx, entity, None).await {
            Ok(resp) => {
                report.legal_entities += 1;
                if let Some(e) = resp.legal_entity {
                    entity_names.insert(entity.finess.clone(), e.name);
                }
            }
            Err(RegistryError::FinessTaken { .. }) => {
                let existing = store.get_legal_entity(&format!("legalEntities/{}", entity.finess)).await?;
                entity_names.insert(entity.finess.clone(), existing.name);
            }
            Err(e) => return Err(anyhow::anyhow!("legal entity {}: {}", entity.finess, filieris_runtime::ApiError::from(e))),
        }
    }

    let mut names: HashMap<String, String> = HashMap::new();
    // Three passes: establishments, then structures integrated in one, then antennas.
    let passes: [&dyn Fn(&crate::demo::DemoStructure) -> bool; 3] = [
        &|d| d.parent_key.is_none() && d.integrated_in_key.is_none(),
        &|d| d.parent_key.is_none() && d.integrated_in_key.is_some(),
        &|d| d.parent_key.is_some(),
    ];
    for pass in passes {
        for d in data.structures.iter().filter(|d| pass(d)) {
            let mut s = d.structure.clone();
            if let Some(le) = d.legal_entity_key.as_ref().and_then(|k| entity_names.get(k)) {
                s.legal_entity = le.clone();
            }
            if let Some(p) = &d.parent_key {
                s.parent = names.get(p).cloned().ok_or_else(|| anyhow::anyhow!("demo antenna {} has unknown parent {p}", d.key))?;
            }
            if let Some(h) = &d.integrated_in_key {
                s.integrated_in =
                    names.get(h).cloned().ok_or_else(|| anyhow::anyhow!("demo structure {} integrated in unknown {h}", d.key))?;
            }
            let rid = format!("demo-st-{}", d.key.replace(':', "-"));
            let request = pb::CreateStructureRequest { structure: Some(s.clone()), request_id: String::new(), validate_only: false };
            let key = IdempotencyKey::new(DOMAIN, "seed/CreateStructure", &identity, &rid, &request)?;
            let ctx = WriteContext { identity: &identity, method: "seed/CreateStructure", request_id: &rid };
            match store.create_structure(&ctx, &s, key.as_ref(), false).await {
                Ok(resp) => {
                    let name = resp.structure.map(|x| x.name).unwrap_or_default();
                    if name.is_empty() {
                        anyhow::bail!("demo structure {} created without a name", d.key);
                    }
                    report.structures_created += 1;
                    names.insert(d.key.clone(), name);
                }
                Err(RegistryError::FinessTaken { finess, .. }) => {
                    let existing = store.get_structure(&format!("structures/{finess}"), chrono::Utc::now().date_naive()).await?;
                    report.structures_present += 1;
                    names.insert(d.key.clone(), existing.name);
                }
                Err(RegistryError::Api(e)) if e.reason == "REQUEST_ID_REUSED" => {
                    report.structures_present += 1;
                }
                Err(e) => return Err(anyhow::anyhow!("demo structure {}: {}", d.key, filieris_runtime::ApiError::from(e))),
            }
        }
    }

    for g in &data.groups {
        let rid = format!("demo-group-{}", g.group.code);
        let ctx = WriteContext { identity: &identity, method: "seed/CreateStructureGroup", request_id: &rid };
        match store.create_group(&ctx, &g.group, None).await {
            Ok(_) => report.groups += 1,
            Err(RegistryError::GroupExists(_)) => {}
            Err(e) => return Err(anyhow::anyhow!("demo group {}: {}", g.group.code, filieris_runtime::ApiError::from(e))),
        }
        for member in &g.member_keys {
            let Some(name) = names.get(member) else { continue };
            let start = data.structures.iter().find(|d| &d.key == member).map(|d| d.structure.open_date.clone()).unwrap_or_default();
            let from = filieris_kernel::date::parse_date(&start).unwrap_or_else(|_| chrono::Utc::now().date_naive());
            let rid = format!("demo-member-{}-{}", g.group.code, member.replace(':', "-"));
            let ctx = WriteContext { identity: &identity, method: "seed/AddGroupMember", request_id: &rid };
            match store.add_member(&ctx, &g.group.code, name, from, None).await {
                Ok(_) => report.memberships += 1,
                Err(RegistryError::GroupPrecondition(_)) => {}
                Err(e) => {
                    return Err(anyhow::anyhow!("demo membership {} in {}: {}", member, g.group.code, filieris_runtime::ApiError::from(e)));
                }
            }
        }
    }
    Ok(report)
}
