//! The finance service's errors, and their one mapping to the API error model.

use filieris_runtime::error::{ApiError, ErrorCode, Violations};

/// Error domain of the finance service in `ErrorInfo.domain`.
pub const DOMAIN: &str = "finance.filieris";

/// Everything that can go wrong in a finance call.
#[derive(Debug, thiserror::Error)]
pub enum FinanceError {
    /// Invalid request fields.
    #[error("invalid request")]
    Invalid(Violations),
    /// No such resource.
    #[error("{kind} {name} not found")]
    NotFound { kind: &'static str, name: String },
    /// Spending beyond a limitative line's available credits (R02).
    #[error("line {line} is limitative: {shortfall_cents} cents short of available credits")]
    LimitativeExceeded { line: String, shortfall_cents: i64 },
    /// The national reserve is spent only through an authorised transfer (R15).
    #[error("line {0} is the national reserve: it is used by transfer with the ministries' prior authorisation, never spent directly")]
    ReserveNotConsumable(String),
    /// Subtotals are computed from their lines.
    #[error("line {0} is a subtotal: post to one of its lines")]
    NotPostable(String),
    /// The fund's rule does not let this transfer happen as asked.
    #[error("{0}")]
    TransferForbidden(String),
    /// Evaluative lines change by amending budget only.
    #[error("line {0} is evaluative: it changes by amending budget (BR), never by transfer")]
    EvaluativeNotTransferable(String),
    /// A use of the national reserve without the ministries' prior authorisation.
    #[error("{0}")]
    ReserveUseNotAuthorised(String),
    /// A transfer is not in the state the step needs.
    #[error("{0}")]
    TransferState(String),
    /// A release or payment beyond what remains of a commitment.
    #[error("{0}")]
    CommitmentExceeded(String),
    /// The fund year is closed: no new movement.
    #[error("{0} is closed")]
    YearClosed(String),
    /// A step that needs the year closed first.
    #[error("{0}")]
    YearNotClosed(String),
    /// Revenue reuse without the COG estimate of an account (R07 step 1).
    #[error("no revenue estimate for account {account} in {year}: set it before applying the reuse rule")]
    RevenueEstimateMissing { account: String, year: i16 },
    /// An inflation rate the indexation needs is not recorded (R14).
    #[error("the {what} inflation rate of {year} is not recorded: set it with SetInflationRates")]
    InflationRateMissing { year: i16, what: &'static str },
    /// A sale to another social-security body at a price other than the net book value (R10).
    #[error("a sale to another social-security body is made at the net book value ({net_book_value} cents), not {price} cents")]
    SalePriceNotNetBookValue { price: i64, net_book_value: i64 },
    /// A notification was already recorded as sent.
    #[error("{0} was already sent")]
    NotificationAlreadySent(String),
    /// A region, structure or group scope the registry does not know.
    #[error("{0}")]
    UnknownScope(String),
    /// The registry could not be reached to resolve a scope or perimeter.
    #[error("registry unavailable: {0}")]
    RegistryUnavailable(String),
    /// An embedded reference table does not parse (a defect of the build).
    #[error("reference data: {0}")]
    ReferenceData(String),
    /// Another API error (idempotency, pagination).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// PostgreSQL failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl FinanceError {
    /// One invalid field.
    pub fn field(field: &str, description: impl Into<String>) -> Self {
        let mut v = Violations::new();
        v.add(field, description);
        Self::Invalid(v)
    }
}

impl From<FinanceError> for ApiError {
    fn from(err: FinanceError) -> Self {
        let message = err.to_string();
        let failed = |reason: &str| ApiError::new(ErrorCode::FailedPrecondition, DOMAIN, reason, message.clone());
        match err {
            FinanceError::Invalid(v) => match v.into_result(DOMAIN) {
                Err(e) => e,
                Ok(()) => ApiError::new(ErrorCode::InvalidArgument, DOMAIN, "INVALID_ARGUMENT", "invalid request"),
            },
            FinanceError::NotFound { kind, name } => {
                let reason = match kind {
                    "line" => "BUDGET_LINE_NOT_FOUND",
                    "transfer" => "TRANSFER_NOT_FOUND",
                    "notification" => "NOTIFICATION_NOT_FOUND",
                    "movement" => "MOVEMENT_NOT_FOUND",
                    "year close" => "YEAR_CLOSE_NOT_FOUND",
                    _ => "FUND_YEAR_NOT_FOUND",
                };
                ApiError::new(ErrorCode::NotFound, DOMAIN, reason, message).with_metadata("resource", name)
            }
            FinanceError::LimitativeExceeded { line, shortfall_cents } => failed("LIMITATIVE_CREDIT_EXCEEDED")
                .with_metadata("line", line)
                .with_metadata("shortfall_cents", shortfall_cents.to_string()),
            FinanceError::ReserveNotConsumable(line) => failed("RESERVE_NOT_CONSUMABLE").with_metadata("line", line),
            FinanceError::NotPostable(line) => failed("LINE_NOT_POSTABLE").with_metadata("line", line),
            FinanceError::TransferForbidden(_) => failed("TRANSFER_FORBIDDEN"),
            FinanceError::EvaluativeNotTransferable(line) => failed("EVALUATIVE_LINE_NOT_TRANSFERABLE").with_metadata("line", line),
            FinanceError::ReserveUseNotAuthorised(_) => failed("RESERVE_USE_NOT_AUTHORISED"),
            FinanceError::TransferState(_) => failed("TRANSFER_STATE_CONFLICT"),
            FinanceError::CommitmentExceeded(_) => failed("COMMITMENT_EXCEEDED"),
            FinanceError::YearClosed(_) => failed("YEAR_CLOSED"),
            FinanceError::YearNotClosed(_) => failed("YEAR_NOT_CLOSED"),
            FinanceError::RevenueEstimateMissing { account, .. } => failed("REVENUE_ESTIMATE_MISSING").with_metadata("account", account),
            FinanceError::InflationRateMissing { year, .. } => failed("INFLATION_RATE_MISSING").with_metadata("year", year.to_string()),
            FinanceError::SalePriceNotNetBookValue { .. } => failed("OSS_SALE_PRICE_NOT_VNC"),
            FinanceError::NotificationAlreadySent(_) => failed("NOTIFICATION_ALREADY_SENT"),
            FinanceError::UnknownScope(_) => ApiError::new(ErrorCode::InvalidArgument, DOMAIN, "UNKNOWN_SCOPE", message),
            FinanceError::RegistryUnavailable(_) => {
                let mut e = ApiError::new(ErrorCode::Unavailable, DOMAIN, "REGISTRY_UNAVAILABLE", message);
                e.retry_after = Some(std::time::Duration::from_secs(2));
                e
            }
            FinanceError::ReferenceData(_) => ApiError::new(ErrorCode::Internal, DOMAIN, "REFERENCE_DATA_INVALID", message),
            FinanceError::Api(e) => e,
            FinanceError::Database(e) => ApiError::database(DOMAIN, &e),
        }
    }
}

impl From<FinanceError> for tonic::Status {
    fn from(err: FinanceError) -> Self {
        ApiError::from(err).into()
    }
}

/// Result of finance operations.
pub type Result<T, E = FinanceError> = std::result::Result<T, E>;
