//! The activity service's errors, and their one mapping to the API error model.

use filieris_runtime::error::{ApiError, ErrorCode, Violations};

/// Error domain of the activity service in `ErrorInfo.domain`.
pub const DOMAIN: &str = "activity.filieris";

/// Everything that can go wrong in an activity call.
#[derive(Debug, thiserror::Error)]
pub enum ActivityError {
    /// Invalid request fields.
    #[error("invalid request")]
    Invalid(Violations),
    /// No such resource.
    #[error("{kind} {name} not found")]
    NotFound { kind: &'static str, name: String },
    /// The act was voided already.
    #[error("{0} is already voided")]
    AlreadyVoided(String),
    /// A structure group or region scope the registry does not know.
    #[error("{0}")]
    Scope(String),
    /// The registry could not be reached to resolve a scope.
    #[error("registry unavailable: {0}")]
    RegistryUnavailable(String),
    /// The client cancelled the import.
    #[error("import {0} was cancelled; nothing was stored")]
    Cancelled(String),
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// Another API error (idempotency, pagination).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// PostgreSQL failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl ActivityError {
    /// One invalid field.
    pub fn field(field: &str, description: impl Into<String>) -> Self {
        let mut v = Violations::new();
        v.add(field, description);
        Self::Invalid(v)
    }
}

impl From<ActivityError> for ApiError {
    fn from(err: ActivityError) -> Self {
        let message = err.to_string();
        match err {
            ActivityError::Invalid(v) => match v.into_result(DOMAIN) {
                Err(e) => e,
                Ok(()) => ApiError::new(ErrorCode::InvalidArgument, DOMAIN, "INVALID_ARGUMENT", "invalid request"),
            },
            ActivityError::NotFound { kind, name } => {
                let reason = match kind {
                    "act" => "ACT_NOT_FOUND",
                    "import operation" => "IMPORT_OPERATION_NOT_FOUND",
                    _ => "ACT_BATCH_NOT_FOUND",
                };
                ApiError::new(ErrorCode::NotFound, DOMAIN, reason, message).with_metadata("resource", name)
            }
            ActivityError::AlreadyVoided(_) => ApiError::new(ErrorCode::FailedPrecondition, DOMAIN, "ACT_ALREADY_VOIDED", message),
            ActivityError::Scope(_) => ApiError::new(ErrorCode::InvalidArgument, DOMAIN, "UNKNOWN_SCOPE", message),
            ActivityError::RegistryUnavailable(_) => {
                let mut e = ApiError::new(ErrorCode::Unavailable, DOMAIN, "REGISTRY_UNAVAILABLE", message);
                e.retry_after = Some(std::time::Duration::from_secs(2));
                e
            }
            ActivityError::Cancelled(_) => ApiError::new(ErrorCode::Aborted, DOMAIN, "IMPORT_CANCELLED", message),
            ActivityError::PermissionDenied(_) => ApiError::new(ErrorCode::PermissionDenied, DOMAIN, "ACTIVITY_WRITE_DENIED", message),
            ActivityError::Api(e) => e,
            ActivityError::Database(e) => ApiError::database(DOMAIN, &e),
        }
    }
}

impl From<ActivityError> for tonic::Status {
    fn from(err: ActivityError) -> Self {
        ApiError::from(err).into()
    }
}

/// Result of activity operations.
pub type Result<T, E = ActivityError> = std::result::Result<T, E>;
