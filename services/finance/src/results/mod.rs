//! Results of the offer of care: monthly ledger amounts by account, structure
//! and activity line ([`storage`]), the rules on them ([`domain`]: row checks,
//! the 12 COG financial targets, the landing forecast) and the
//! `FinanceResultsService` adapter ([`grpc`]). Structures come from the
//! registry cache of the shared runtime, groups and target perimeters from
//! the registry's API.

pub mod domain;
pub mod grpc;
pub mod storage;

pub use grpc::ResultsApi;

/// Fully-qualified gRPC service name.
pub const SERVICE_NAME: &str = "filieris.finance.v1.FinanceResultsService";
/// Caller id of the finance service towards other services.
pub const SERVICE_CALLER: &str = "service:finance";
