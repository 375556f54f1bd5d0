//! Registry domain: codes, validation of structures at the boundary, the list
//! filter language and lifecycle status. No I/O here.

pub mod codes;
pub mod filter;
pub mod lifecycle;
pub mod validate;

/// The structure resource-name collection.
pub const STRUCTURES: &str = "structures/";
/// The legal-entity resource-name collection.
pub const LEGAL_ENTITIES: &str = "legalEntities/";
/// The structure-group resource-name collection.
pub const GROUPS: &str = "structureGroups/";

/// How a resource name designates a structure or a legal entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    /// By internal id.
    Id(uuid::Uuid),
    /// By FINESS.
    Finess(filieris_kernel::Finess),
}

/// Parses `{collection}{id}` where id is a UUID or a FINESS.
pub fn parse_ref(collection: &str, name: &str) -> Option<Ref> {
    let id = name.strip_prefix(collection)?;
    if let Ok(uuid) = uuid::Uuid::parse_str(id) {
        return Some(Ref::Id(uuid));
    }
    filieris_kernel::Finess::parse(id).ok().map(Ref::Finess)
}

/// `structures/{id}`.
pub fn structure_name(id: uuid::Uuid) -> String {
    format!("{STRUCTURES}{id}")
}

/// `legalEntities/{id}`.
pub fn legal_entity_name(id: uuid::Uuid) -> String {
    format!("{LEGAL_ENTITIES}{id}")
}

/// The opaque etag of a revision.
pub fn etag(revision: i64) -> String {
    format!("W/\"{revision}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_accept_ids_and_finess() {
        let id = uuid::Uuid::now_v7();
        assert_eq!(parse_ref(STRUCTURES, &structure_name(id)), Some(Ref::Id(id)));
        assert!(matches!(parse_ref(STRUCTURES, "structures/750712184"), Some(Ref::Finess(_))));
        assert_eq!(parse_ref(STRUCTURES, "structures/750712185"), None);
        assert_eq!(parse_ref(STRUCTURES, "legalEntities/750712184"), None);
    }
}
