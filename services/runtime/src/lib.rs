//! Shared runtime of every Filieris service.
//!
//! Everything a service needs besides its domain lives here, once: configuration
//! from the environment, telemetry, the PostgreSQL pool and migrations, the
//! mapping of errors to `google.rpc.Status`, keyset page tokens, the caller
//! identity sent by the gateway, audit records, `request_id` idempotency, the
//! change feed and its events (Redis relay and consumer), the registry
//! structure cache of consuming services, gRPC health and the server itself.

pub mod audit;
pub mod changes;
pub mod client;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod health;
pub mod idempotency;
pub mod identity;
pub mod pagination;
pub mod registry_cache;
pub mod scope;
pub mod server;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod write;

pub use error::{ApiError, ErrorCode};
pub use identity::Identity;
