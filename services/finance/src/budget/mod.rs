//! The COG budget funds: rules ([`domain`]), journal ([`storage`]) and the
//! `BudgetService` adapter ([`grpc`]).

pub mod domain;
pub mod grpc;
pub mod storage;

pub use grpc::BudgetApi;

/// Fully-qualified gRPC service name.
pub const SERVICE_NAME: &str = "filieris.finance.v1.BudgetService";
