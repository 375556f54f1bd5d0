//! The HR service's errors, and their one mapping to the API error model.

use filieris_runtime::error::{ApiError, ErrorCode, Violations};

/// Error domain of the HR service in `ErrorInfo.domain`.
pub const DOMAIN: &str = "hr.filieris";

/// Everything that can go wrong in an HR call.
#[derive(Debug, thiserror::Error)]
pub enum HrError {
    /// Invalid request fields.
    #[error("invalid request")]
    Invalid(Violations),
    /// No such resource.
    #[error("{kind} {name} not found")]
    NotFound { kind: &'static str, name: String },
    /// The resource exists already (a job code, an employee id).
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The staffing plan has no free FTE for the vacancy.
    #[error(
        "no free position for job {job} in structure {finess}: {free_fte_hundredths} hundredths of FTE free (authorised − filled − open vacancies), {asked_fte_hundredths} asked"
    )]
    NoFreePosition { finess: String, job: String, free_fte_hundredths: i32, asked_fte_hundredths: i32 },
    /// A person's assignments would exceed one FTE on a date.
    #[error("{person} would hold {total_hundredths} hundredths of FTE on {date}: at most 100")]
    FteExceeded { person: String, total_hundredths: i32, date: String },
    /// A vacancy that is not open.
    #[error("{0} is not open")]
    VacancyNotOpen(String),
    /// The person hired is not in the vacancy's job.
    #[error("{person} holds job {person_job}, the vacancy is for {vacancy_job}")]
    JobMismatch { person: String, person_job: String, vacancy_job: String },
    /// The person has no contract on the date asked.
    #[error("{0}")]
    OutsideContract(String),
    /// Personal rows are for HR roles only.
    #[error("{0}")]
    PersonalDataDenied(String),
    /// Another API error (idempotency, pagination).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// PostgreSQL failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl HrError {
    /// One invalid field.
    pub fn field(field: &str, description: impl Into<String>) -> Self {
        let mut v = Violations::new();
        v.add(field, description);
        Self::Invalid(v)
    }
}

impl From<HrError> for ApiError {
    fn from(err: HrError) -> Self {
        let message = err.to_string();
        let failed = |reason: &str| ApiError::new(ErrorCode::FailedPrecondition, DOMAIN, reason, message.clone());
        match err {
            HrError::Invalid(v) => match v.into_result(DOMAIN) {
                Err(e) => e,
                Ok(()) => ApiError::new(ErrorCode::InvalidArgument, DOMAIN, "INVALID_ARGUMENT", "invalid request"),
            },
            HrError::NotFound { kind, name } => {
                let reason = match kind {
                    "job" => "JOB_NOT_FOUND",
                    "person" => "PERSON_NOT_FOUND",
                    "vacancy" => "VACANCY_NOT_FOUND",
                    _ => "STRUCTURE_NOT_FOUND",
                };
                ApiError::new(ErrorCode::NotFound, DOMAIN, reason, message).with_metadata("resource", name)
            }
            HrError::AlreadyExists(name) => {
                ApiError::new(ErrorCode::AlreadyExists, DOMAIN, "ALREADY_EXISTS", message).with_metadata("resource", name)
            }
            HrError::NoFreePosition { finess, job, free_fte_hundredths, asked_fte_hundredths } => failed("NO_FREE_POSITION")
                .with_metadata("finess", finess)
                .with_metadata("job", job)
                .with_metadata("free_fte_hundredths", free_fte_hundredths.to_string())
                .with_metadata("asked_fte_hundredths", asked_fte_hundredths.to_string()),
            HrError::FteExceeded { person, .. } => failed("FTE_EXCEEDED").with_metadata("person", person),
            HrError::VacancyNotOpen(name) => failed("VACANCY_NOT_OPEN").with_metadata("vacancy", name),
            HrError::JobMismatch { .. } => failed("JOB_MISMATCH"),
            HrError::OutsideContract(_) => failed("OUTSIDE_CONTRACT"),
            HrError::PersonalDataDenied(_) => ApiError::new(ErrorCode::PermissionDenied, DOMAIN, "PERSONAL_DATA_DENIED", message),
            HrError::Api(e) => e,
            HrError::Database(e) => ApiError::database(DOMAIN, &e),
        }
    }
}

impl From<HrError> for tonic::Status {
    fn from(err: HrError) -> Self {
        ApiError::from(err).into()
    }
}

/// Result of HR operations.
pub type Result<T, E = HrError> = std::result::Result<T, E>;
