//! Scopes of the metrics: the shared runtime type.

pub use filieris_runtime::scope::Scope;
