//! Records of the offer of care other than acts (`ActivityRecordsService`):
//! GP-of-record patients notified by the health insurance, hospital stays and
//! their occupancy against the registry's installed beds, monthly
//! medico-social counts, trainees hosted, satisfaction surveys and
//! adverse-event declarations with their yearly consolidation.
//!
//! Same shape as the service: [`domain`] (validation and rules, no I/O),
//! [`storage`] (append-only versioned tables, one transaction per write),
//! [`grpc`] (the adapter), plus [`capacity`] (installed beds from the
//! registry). Records share the activity store: its pool, its registry cache
//! (every record's FINESS is checked there) and its pseudonym key.

pub mod capacity;
pub mod domain;
pub mod grpc;
pub mod storage;

pub use grpc::RecordsApi;

/// Fully-qualified gRPC service name.
pub const SERVICE_NAME: &str = "filieris.activity.v1.ActivityRecordsService";
