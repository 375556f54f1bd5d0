//! The missions service's errors, and their one mapping to the API error model.

use filieris_runtime::error::{ApiError, ErrorCode, Violations};

/// Error domain of the missions service in `ErrorInfo.domain`.
pub const DOMAIN: &str = "missions.filieris";

/// Everything that can go wrong in a missions call.
#[derive(Debug, thiserror::Error)]
pub enum MissionsError {
    /// Invalid request fields.
    #[error("invalid request")]
    Invalid(Violations),
    /// No such resource.
    #[error("{kind} {name} not found")]
    NotFound { kind: &'static str, name: String },
    /// The caller has no missions role, or is a partner credential without a partner.
    #[error("{0}")]
    AccessDenied(String),
    /// The resource belongs to another partner (answered whether or not it exists).
    #[error("{0}")]
    PartnerScope(String),
    /// The caller may read but not write.
    #[error("{0}")]
    WriteDenied(String),
    /// The resource already exists with other values.
    #[error("{0}")]
    AlreadyExists(String),
    /// The resource is not in a state that allows the change.
    #[error("{0}")]
    Conflict(String),
    /// The finance service refused the spending.
    #[error("finance service: {0}")]
    FinanceRefused(String),
    /// The finance service could not be reached.
    #[error("finance service unavailable: {0}")]
    FinanceUnavailable(String),
    /// Another API error (idempotency, pagination).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// PostgreSQL failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl MissionsError {
    /// One invalid field.
    pub fn field(field: &str, description: impl Into<String>) -> Self {
        let mut v = Violations::new();
        v.add(field, description);
        Self::Invalid(v)
    }
}

impl From<MissionsError> for ApiError {
    fn from(err: MissionsError) -> Self {
        let message = err.to_string();
        match err {
            MissionsError::Invalid(v) => match v.into_result(DOMAIN) {
                Err(e) => e,
                Ok(()) => ApiError::new(ErrorCode::InvalidArgument, DOMAIN, "INVALID_ARGUMENT", "invalid request"),
            },
            MissionsError::NotFound { kind, name } => {
                let reason = match kind {
                    "mandate" => "MANDATE_NOT_FOUND",
                    "deliverable" => "DELIVERABLE_NOT_FOUND",
                    "exchange run" => "EXCHANGE_RUN_NOT_FOUND",
                    "claim" => "CLAIM_NOT_FOUND",
                    "fraud case" => "FRAUD_CASE_NOT_FOUND",
                    _ => "RESOURCE_NOT_FOUND",
                };
                ApiError::new(ErrorCode::NotFound, DOMAIN, reason, message).with_metadata("resource", name)
            }
            MissionsError::AccessDenied(_) => ApiError::new(ErrorCode::PermissionDenied, DOMAIN, "MISSIONS_ACCESS_DENIED", message),
            MissionsError::PartnerScope(_) => ApiError::new(ErrorCode::PermissionDenied, DOMAIN, "PARTNER_SCOPE_DENIED", message),
            MissionsError::WriteDenied(_) => ApiError::new(ErrorCode::PermissionDenied, DOMAIN, "MISSIONS_WRITE_DENIED", message),
            MissionsError::AlreadyExists(_) => ApiError::new(ErrorCode::AlreadyExists, DOMAIN, "ALREADY_EXISTS", message),
            MissionsError::Conflict(_) => ApiError::new(ErrorCode::FailedPrecondition, DOMAIN, "STATE_CONFLICT", message),
            MissionsError::FinanceRefused(_) => ApiError::new(ErrorCode::FailedPrecondition, DOMAIN, "FINANCE_REFUSED", message),
            MissionsError::FinanceUnavailable(_) => {
                let mut e = ApiError::new(ErrorCode::Unavailable, DOMAIN, "FINANCE_UNAVAILABLE", message);
                e.retry_after = Some(std::time::Duration::from_secs(2));
                e
            }
            MissionsError::Api(e) => e,
            MissionsError::Database(e) => ApiError::database(DOMAIN, &e),
        }
    }
}

impl From<MissionsError> for tonic::Status {
    fn from(err: MissionsError) -> Self {
        ApiError::from(err).into()
    }
}

/// Result of missions operations.
pub type Result<T, E = MissionsError> = std::result::Result<T, E>;
