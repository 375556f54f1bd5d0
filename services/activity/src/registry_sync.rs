//! The activity service's view of the registry: the shared runtime's
//! structure cache ([`filieris_runtime::registry_cache`]) over the
//! `structure_cache` table of the activity schema, fed by the registry's
//! change events, and group resolution for metric scopes.

pub use filieris_runtime::registry_cache::RegistryCache as RegistrySync;

/// Caller id of the activity service towards other services.
pub const SERVICE_CALLER: &str = "service:activity";
