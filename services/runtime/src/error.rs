//! One mapping of errors to `google.rpc.Status`.
//!
//! Each service keeps a typed error enum for its domain and converts it into
//! an [`ApiError`]; this module is the only place that turns an `ApiError`
//! into a gRPC status with its `ErrorInfo` (stable `reason`, `domain`),
//! `BadRequest` field violations, `PreconditionFailure` and `RetryInfo`. The
//! gateway renders the same status as JSON with the matching HTTP code.

use std::collections::HashMap;
use std::time::Duration;

use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

/// The canonical codes the platform uses, with their HTTP equivalents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Bad input: 400.
    InvalidArgument,
    /// The state does not allow the call (e.g. closing a closed structure): 400.
    FailedPrecondition,
    /// Unknown resource: 404.
    NotFound,
    /// The resource exists already: 409.
    AlreadyExists,
    /// Concurrency conflict (stale etag): 409.
    Aborted,
    /// No or bad credentials: 401.
    Unauthenticated,
    /// Not allowed for this caller: 403.
    PermissionDenied,
    /// Quota exceeded: 429.
    ResourceExhausted,
    /// A dependency (the database) is unreachable: 503.
    Unavailable,
    /// A bug or an unexpected failure: 500.
    Internal,
}

impl ErrorCode {
    /// The gRPC code.
    pub fn grpc(self) -> Code {
        match self {
            Self::InvalidArgument => Code::InvalidArgument,
            Self::FailedPrecondition => Code::FailedPrecondition,
            Self::NotFound => Code::NotFound,
            Self::AlreadyExists => Code::AlreadyExists,
            Self::Aborted => Code::Aborted,
            Self::Unauthenticated => Code::Unauthenticated,
            Self::PermissionDenied => Code::PermissionDenied,
            Self::ResourceExhausted => Code::ResourceExhausted,
            Self::Unavailable => Code::Unavailable,
            Self::Internal => Code::Internal,
        }
    }
}

/// The HTTP status of a gRPC code (AIP-193 mapping), used by the gateway.
pub fn http_status(code: Code) -> u16 {
    match code {
        Code::Ok => 200,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
        Code::Unauthenticated => 401,
        Code::PermissionDenied => 403,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::ResourceExhausted => 429,
        Code::Cancelled => 499,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::DeadlineExceeded => 504,
        Code::Unknown | Code::Internal | Code::DataLoss => 500,
    }
}

/// One invalid request field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field in the request, e.g. `structure.finess`.
    pub field: String,
    /// What is wrong, in English.
    pub description: String,
}

/// An error as the API reports it.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// Canonical code.
    pub code: ErrorCode,
    /// Stable machine-readable reason, UPPER_SNAKE_CASE.
    pub reason: String,
    /// The service domain, e.g. `registry.filieris`.
    pub domain: String,
    /// Developer-facing message.
    pub message: String,
    /// Field violations (INVALID_ARGUMENT).
    pub violations: Vec<FieldViolation>,
    /// Extra facts for `ErrorInfo.metadata`.
    pub metadata: HashMap<String, String>,
    /// Suggested retry delay.
    pub retry_after: Option<Duration>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// A new error.
    pub fn new(code: ErrorCode, domain: &str, reason: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.to_owned(),
            domain: domain.to_owned(),
            message: message.into(),
            violations: Vec::new(),
            metadata: HashMap::new(),
            retry_after: None,
        }
    }

    /// INVALID_ARGUMENT with field violations.
    pub fn invalid(domain: &str, violations: Vec<FieldViolation>) -> Self {
        let message = match violations.as_slice() {
            [one] => format!("invalid {}: {}", one.field, one.description),
            many => format!("{} invalid fields: {}", many.len(), many.iter().map(|v| v.field.as_str()).collect::<Vec<_>>().join(", ")),
        };
        let mut err = Self::new(ErrorCode::InvalidArgument, domain, "INVALID_ARGUMENT", message);
        err.violations = violations;
        err
    }

    /// Adds one `ErrorInfo.metadata` entry.
    pub fn with_metadata(mut self, key: &str, value: impl Into<String>) -> Self {
        self.metadata.insert(key.to_owned(), value.into());
        self
    }

    /// An unexpected failure: logged here with its cause; the client sees a
    /// generic message (no internals leak).
    pub fn internal(domain: &str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::Internal, domain, "INTERNAL", "internal error; the incident was logged")
    }

    /// A database error: unreachable → UNAVAILABLE (retryable), other → INTERNAL.
    pub fn database(domain: &str, err: &sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
                tracing::warn!(error = %err, "database unavailable");
                let mut e = Self::new(ErrorCode::Unavailable, domain, "DATABASE_UNAVAILABLE", "the database is unavailable; retry later");
                e.retry_after = Some(Duration::from_secs(2));
                e
            }
            other => Self::internal(domain, other),
        }
    }
}

impl From<ApiError> for tonic::Status {
    fn from(err: ApiError) -> Self {
        let mut details = ErrorDetails::new();
        details.set_error_info(err.reason.clone(), err.domain.clone(), err.metadata.clone());
        for v in &err.violations {
            details.add_bad_request_violation(v.field.clone(), v.description.clone());
        }
        if let Some(delay) = err.retry_after {
            details.set_retry_info(Some(delay));
        }
        tonic::Status::with_error_details(err.code.grpc(), err.message, details)
    }
}

/// Collects field violations while validating a request, so that every
/// broken field is reported at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a violation.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation { field: field.into(), description: description.into() });
    }

    /// Runs a parser and records its error under `field`.
    pub fn check<T, E: std::fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` or INVALID_ARGUMENT with every violation.
    pub fn into_result(self, domain: &str) -> Result<(), ApiError> {
        if self.0.is_empty() { Ok(()) } else { Err(ApiError::invalid(domain, self.0)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_error_info_and_field_violations() {
        let mut v = Violations::new();
        v.add("structure.finess", "FINESS check digit is wrong");
        let status: tonic::Status = v.into_result("registry.filieris").unwrap_err().into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let info = details.error_info().expect("error info");
        assert_eq!(info.reason, "INVALID_ARGUMENT");
        assert_eq!(info.domain, "registry.filieris");
        let bad = details.bad_request().expect("bad request");
        assert_eq!(bad.field_violations[0].field, "structure.finess");
    }

    #[test]
    fn http_mapping_follows_aip_193() {
        assert_eq!(http_status(Code::InvalidArgument), 400);
        assert_eq!(http_status(Code::Aborted), 409);
        assert_eq!(http_status(Code::Unauthenticated), 401);
        assert_eq!(http_status(Code::Unavailable), 503);
    }

    #[test]
    fn pool_timeout_is_unavailable_and_retryable() {
        let e = ApiError::database("x", &sqlx::Error::PoolTimedOut);
        assert_eq!(e.code, ErrorCode::Unavailable);
        assert!(e.retry_after.is_some());
    }
}
