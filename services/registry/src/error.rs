//! The registry's errors, and their one mapping to the API error model.

use filieris_runtime::error::{ApiError, ErrorCode, Violations};

/// Error domain of the registry in `ErrorInfo.domain`.
pub const DOMAIN: &str = "registry.filieris";

/// Everything that can go wrong in a registry call.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Invalid fields (all of them).
    #[error("invalid request")]
    Invalid(Violations),
    /// No such resource.
    #[error("{kind} {name} not found")]
    NotFound { kind: &'static str, name: String },
    /// The FINESS belongs to another structure or legal entity.
    #[error("FINESS {finess} is already registered as {existing}")]
    FinessTaken { finess: String, existing: String },
    /// A group with this code exists.
    #[error("structure group {0} already exists")]
    GroupExists(String),
    /// The etag sent is not the current one.
    #[error("etag {sent} is stale: the current etag of {name} is {current}")]
    EtagMismatch { name: String, sent: String, current: String },
    /// The structure is closed; it can only be read.
    #[error("{0} is closed: a closed structure is never modified (a reopening is a new structure)")]
    Closed(String),
    /// A change effective before the latest revision.
    #[error("effective date {date} is before the latest revision of {name}, effective {latest}")]
    EffectiveTooEarly { name: String, date: String, latest: String },
    /// The group is not EXPLICIT, or a membership conflicts.
    #[error("{0}")]
    GroupPrecondition(String),
    /// Another API error (idempotency, pagination).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// PostgreSQL failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl RegistryError {
    /// One invalid field.
    pub fn field(field: &str, description: impl Into<String>) -> Self {
        let mut v = Violations::new();
        v.add(field, description);
        Self::Invalid(v)
    }
}

impl From<RegistryError> for ApiError {
    fn from(err: RegistryError) -> Self {
        let message = err.to_string();
        match err {
            RegistryError::Invalid(v) => match v.into_result(DOMAIN) {
                Err(e) => e,
                Ok(()) => ApiError::new(ErrorCode::InvalidArgument, DOMAIN, "INVALID_ARGUMENT", "invalid request"),
            },
            RegistryError::NotFound { kind, name } => {
                let reason = match kind {
                    "structure" => "STRUCTURE_NOT_FOUND",
                    "legal entity" => "LEGAL_ENTITY_NOT_FOUND",
                    _ => "STRUCTURE_GROUP_NOT_FOUND",
                };
                ApiError::new(ErrorCode::NotFound, DOMAIN, reason, message).with_metadata("resource", name)
            }
            RegistryError::FinessTaken { finess, existing } => {
                ApiError::new(ErrorCode::AlreadyExists, DOMAIN, "FINESS_ALREADY_REGISTERED", message)
                    .with_metadata("finess", finess)
                    .with_metadata("existing", existing)
            }
            RegistryError::GroupExists(code) => {
                ApiError::new(ErrorCode::AlreadyExists, DOMAIN, "STRUCTURE_GROUP_EXISTS", message).with_metadata("code", code)
            }
            RegistryError::EtagMismatch { current, .. } => {
                ApiError::new(ErrorCode::Aborted, DOMAIN, "ETAG_MISMATCH", message).with_metadata("current_etag", current)
            }
            RegistryError::Closed(_) => ApiError::new(ErrorCode::FailedPrecondition, DOMAIN, "STRUCTURE_CLOSED", message),
            RegistryError::EffectiveTooEarly { .. } => {
                ApiError::new(ErrorCode::FailedPrecondition, DOMAIN, "EFFECTIVE_DATE_BEFORE_LATEST_REVISION", message)
            }
            RegistryError::GroupPrecondition(_) => {
                ApiError::new(ErrorCode::FailedPrecondition, DOMAIN, "GROUP_MEMBERSHIP_CONFLICT", message)
            }
            RegistryError::Api(e) => e,
            RegistryError::Database(e) => ApiError::database(DOMAIN, &e),
        }
    }
}

impl From<RegistryError> for tonic::Status {
    fn from(err: RegistryError) -> Self {
        ApiError::from(err).into()
    }
}

/// Result of registry operations.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
