//! The steering service's errors, and their one mapping to the API error model.

use filieris_runtime::error::{ApiError, ErrorCode, Violations};

/// Error domain of the steering service in `ErrorInfo.domain`.
pub const DOMAIN: &str = "steering.filieris";

/// Everything that can go wrong in a steering call.
#[derive(Debug, thiserror::Error)]
pub enum SteeringError {
    /// Invalid request fields.
    #[error("invalid request")]
    Invalid(Violations),
    /// No such resource.
    #[error("{kind} {name} not found")]
    NotFound { kind: &'static str, name: String },
    /// A manual value for an indicator the platform computes.
    #[error("{key} is computed from {source_ref}: only indicators whose source is MANUAL take typed-in values")]
    NotManual { key: String, source_ref: String },
    /// The definition changed since the version the edit was based on.
    #[error("{key} is at version {current}, not {expected}: read it again and re-apply the change")]
    VersionConflict { key: String, current: i64, expected: i64 },
    /// The year's target was amended since the amendment the change was based on.
    #[error("the {year} target of {key} is at amendment {current}, not {expected}: read it again and re-apply the change")]
    TargetConflict { key: String, year: i32, current: i32, expected: i32 },
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// An embedded reference table does not parse (a defect of the build).
    #[error("reference data: {0}")]
    ReferenceData(String),
    /// Another API error (idempotency).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// PostgreSQL failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl SteeringError {
    /// One invalid field.
    pub fn field(field: &str, description: impl Into<String>) -> Self {
        let mut v = Violations::new();
        v.add(field, description);
        Self::Invalid(v)
    }
}

impl From<SteeringError> for ApiError {
    fn from(err: SteeringError) -> Self {
        let message = err.to_string();
        match err {
            SteeringError::Invalid(v) => match v.into_result(DOMAIN) {
                Err(e) => e,
                Ok(()) => ApiError::new(ErrorCode::InvalidArgument, DOMAIN, "INVALID_ARGUMENT", "invalid request"),
            },
            SteeringError::NotFound { kind, name } => {
                let reason = match kind {
                    "indicator" => "INDICATOR_NOT_FOUND",
                    "definition version" => "DEFINITION_VERSION_NOT_FOUND",
                    "target" => "TARGET_NOT_FOUND",
                    _ => "ACTION_NOT_FOUND",
                };
                ApiError::new(ErrorCode::NotFound, DOMAIN, reason, message).with_metadata("resource", name)
            }
            SteeringError::NotManual { key, source_ref } => {
                ApiError::new(ErrorCode::FailedPrecondition, DOMAIN, "INDICATOR_NOT_MANUAL", message)
                    .with_metadata("indicator", key)
                    .with_metadata("source", source_ref)
            }
            SteeringError::VersionConflict { current, .. } => {
                ApiError::new(ErrorCode::Aborted, DOMAIN, "DEFINITION_VERSION_CONFLICT", message)
                    .with_metadata("current_version", current.to_string())
            }
            SteeringError::TargetConflict { current, .. } => {
                ApiError::new(ErrorCode::Aborted, DOMAIN, "TARGET_AMENDMENT_CONFLICT", message)
                    .with_metadata("current_amendment", current.to_string())
            }
            SteeringError::PermissionDenied(_) => ApiError::new(ErrorCode::PermissionDenied, DOMAIN, "STEERING_WRITE_DENIED", message),
            SteeringError::ReferenceData(_) => ApiError::new(ErrorCode::Internal, DOMAIN, "REFERENCE_DATA_INVALID", message),
            SteeringError::Api(e) => e,
            SteeringError::Database(e) => ApiError::database(DOMAIN, &e),
        }
    }
}

impl From<SteeringError> for tonic::Status {
    fn from(err: SteeringError) -> Self {
        ApiError::from(err).into()
    }
}

/// Result of steering operations.
pub type Result<T, E = SteeringError> = std::result::Result<T, E>;
