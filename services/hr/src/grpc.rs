//! gRPC adapter of the HR service: parses and validates requests at the
//! boundary (every field violation at once), checks the caller's role, and
//! hands typed values to the storage.

use chrono::{Datelike, NaiveDate};
use filieris_kernel::date::parse_date;
use filieris_proto::hr as pb;
use filieris_proto::hr::hr_service_server::HrService;
use filieris_runtime::Identity;
use filieris_runtime::audit::{self, AuditEntry};
use filieris_runtime::error::Violations;
use filieris_runtime::idempotency::IdempotencyKey;
use filieris_runtime::identity::caller;
use filieris_runtime::pagination::page_size;
use filieris_runtime::write::{self, Writers};
use prost::Message;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::domain::{self, DEFAULT_HORIZON_YEARS, DEFAULT_RETIREMENT_AGE};
use crate::error::{DOMAIN, HrError};
use crate::storage::{AssignmentIn, PersonIn, PositionIn, Store, TrainingIn, WriteContext, short, year_bounds};

/// Roles that read personal rows and write (`admin` holds every role).
pub const HR_ROLES: &[&str] = &["hr"];

/// The HrService implementation.
#[derive(Clone)]
pub struct HrApi {
    store: Store,
}

impl HrApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn is_hr(identity: &Identity) -> bool {
    HR_ROLES.iter().any(|r| identity.has_role(r))
}

fn size(requested: i32) -> Result<u32, HrError> {
    Ok(page_size(DOMAIN, requested)?)
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

fn date(v: &mut Violations, field: &str, text: &str) -> Option<NaiveDate> {
    if text.is_empty() {
        v.add(field, "is required (YYYY-MM-DD)");
        None
    } else {
        v.check(field, parse_date(text))
    }
}

fn optional_date(v: &mut Violations, field: &str, text: &str) -> Option<NaiveDate> {
    if text.is_empty() { None } else { v.check(field, parse_date(text)) }
}

fn required(v: &mut Violations, field: &str, text: &str) {
    if text.trim().is_empty() {
        v.add(field, "is required");
    }
}

fn fte(v: &mut Violations, field: &str, value: i32, max: i32) {
    if value < 1 || value > max {
        v.add(field, format!("must be 1 to {max} hundredths of FTE"));
    }
}

fn finess(v: &mut Violations, field: &str, text: &str) {
    if text.len() != 9 || !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
        v.add(field, "must be a 9-character FINESS ET");
    }
}

fn job_ref(v: &mut Violations, field: &str, name: &str) -> String {
    let code = name.strip_prefix("jobs/").unwrap_or(name);
    if let Err(e) = domain::check_job_code(code) {
        v.add(field, format!("must be jobs/{{code}}: {e}"));
    }
    code.to_owned()
}

fn person_ref(name: &str, field: &str) -> Result<String, HrError> {
    let id = name.strip_prefix("people/").unwrap_or_default();
    domain::check_employee_id(id).map_err(|e| HrError::field(field, format!("must be people/{{employee_id}}: {e}")))?;
    Ok(id.to_owned())
}

fn vacancy_ref(name: &str, field: &str) -> Result<Uuid, HrError> {
    name.strip_prefix("vacancies/").and_then(|id| Uuid::parse_str(id).ok()).ok_or_else(|| HrError::field(field, "must be vacancies/{id}"))
}

fn ordered(v: &mut Violations, field: &str, start: Option<NaiveDate>, end: Option<NaiveDate>) {
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        v.add(field, "must not be before the start");
    }
}

fn enum_code<E: Copy + PartialEq>(
    v: &mut Violations,
    field: &str,
    value: Result<E, prost::UnknownEnumValue>,
    unset: E,
    name: fn(E) -> &'static str,
    prefix: &str,
) -> String {
    match value {
        Ok(e) if e != unset => short(name(e), prefix),
        _ => {
            v.add(field, "is required");
            String::new()
        }
    }
}

/// Refuses personal rows to callers without an HR role, and audits the refusal.
async fn require_hr_reader(api: &HrApi, identity: &Identity, method: &str, resource: &str) -> Result<(), HrError> {
    let outcome = if is_hr(identity) { "OK" } else { "PERSONAL_DATA_DENIED" };
    // hr.md 6.8: every read of an individual record is audited, refused or not.
    audit::record_failure(
        api.store.pool(),
        &AuditEntry { identity, method, resource, request_id: "", outcome, detail: "personal data read" },
    )
    .await;
    if is_hr(identity) {
        Ok(())
    } else {
        Err(HrError::PersonalDataDenied(format!(
            "{} may read HR aggregates but not personal rows (roles needed: {} or admin)",
            identity.caller,
            HR_ROLES.join(", ")
        )))
    }
}

/// Who may change HR data.
const WRITERS: Writers = Writers { roles: HR_ROLES, denied_reason: "HR_WRITE_DENIED", holds: "HR data" };

/// Runs a write RPC: role check, idempotency key, refusals audited
/// (`filieris_runtime::write::guarded`).
async fn write<Req, Resp, F, Fut>(
    api: &HrApi,
    request: Request<Req>,
    method: &'static str,
    resource: impl Fn(&Req) -> String,
    request_id: impl Fn(&mut Req) -> String,
    run: F,
) -> Result<Response<Resp>, Status>
where
    Req: Message + Clone,
    F: FnOnce(Req, Identity, Option<IdempotencyKey>, String) -> Fut,
    Fut: std::future::Future<Output = Result<Resp, HrError>>,
{
    write::guarded(api.store.pool(), DOMAIN, &WRITERS, request, method, resource, request_id, run).await
}

macro_rules! ctx {
    ($identity:expr, $method:expr, $key:expr, $rid:expr) => {
        WriteContext { identity: &$identity, method: $method, key: $key.as_ref(), request_id: &$rid }
    };
}

#[tonic::async_trait]
impl HrService for HrApi {
    async fn create_job(&self, request: Request<pb::CreateJobRequest>) -> Result<Response<pb::CreateJobResponse>, Status> {
        let method = "HrService/CreateJob";
        write(
            self,
            request,
            method,
            |r| r.job.as_ref().map(|j| format!("jobs/{}", j.code)).unwrap_or_default(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let job = req.job.unwrap_or_default();
                let mut v = Violations::new();
                v.check("job.code", domain::check_job_code(&job.code));
                required(&mut v, "job.label", &job.label);
                let family = enum_code(
                    &mut v,
                    "job.family",
                    pb::JobFamily::try_from(job.family),
                    pb::JobFamily::Unspecified,
                    |e| e.as_str_name(),
                    "JOB_FAMILY_",
                );
                v.into_result(DOMAIN)?;
                self.store.create_job(&ctx!(identity, method, key, rid), &job.code, job.label.trim(), &family).await
            },
        )
        .await
    }

    async fn list_jobs(&self, request: Request<pb::ListJobsRequest>) -> Result<Response<pb::ListJobsResponse>, Status> {
        let req = request.into_inner();
        let (jobs, next_page_token) = self.store.list_jobs(size(req.page_size)?, &req.page_token).await?;
        Ok(Response::new(pb::ListJobsResponse { jobs, next_page_token }))
    }

    async fn create_position(&self, request: Request<pb::CreatePositionRequest>) -> Result<Response<pb::CreatePositionResponse>, Status> {
        let method = "HrService/CreatePosition";
        write(
            self,
            request,
            method,
            |r| r.position.as_ref().map(|p| format!("structures/{}", p.finess)).unwrap_or_default(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let p = req.position.unwrap_or_default();
                let mut v = Violations::new();
                finess(&mut v, "position.finess", &p.finess);
                let job = job_ref(&mut v, "position.job", &p.job);
                if p.fte_hundredths < 1 {
                    v.add("position.fte_hundredths", "must be at least 1 hundredth of FTE");
                }
                let from = date(&mut v, "position.effective_from", &p.effective_from);
                let to = optional_date(&mut v, "position.effective_to", &p.effective_to);
                ordered(&mut v, "position.effective_to", from, to);
                v.into_result(DOMAIN)?;
                let input = PositionIn { finess: p.finess, job, fte: p.fte_hundredths, from: from.unwrap_or_default(), to };
                self.store.create_position(&ctx!(identity, method, key, rid), &input).await
            },
        )
        .await
    }

    async fn list_positions(&self, request: Request<pb::ListPositionsRequest>) -> Result<Response<pb::ListPositionsResponse>, Status> {
        let req = request.into_inner();
        let (positions, next_page_token) = self.store.list_positions(&req.finess, size(req.page_size)?, &req.page_token).await?;
        Ok(Response::new(pb::ListPositionsResponse { positions, next_page_token }))
    }

    async fn create_person(&self, request: Request<pb::CreatePersonRequest>) -> Result<Response<pb::CreatePersonResponse>, Status> {
        let method = "HrService/CreatePerson";
        write(
            self,
            request,
            method,
            |r| r.person.as_ref().map(|p| format!("people/{}", p.employee_id)).unwrap_or_default(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let p = req.person.unwrap_or_default();
                let mut v = Violations::new();
                v.check("person.employee_id", domain::check_employee_id(&p.employee_id));
                let this_year = today().year();
                if !(1930..=this_year - 14).contains(&p.birth_year) {
                    v.add("person.birth_year", format!("must be from 1930 to {}", this_year - 14));
                }
                let job = job_ref(&mut v, "person.job", &p.job);
                let status = enum_code(
                    &mut v,
                    "person.status",
                    pb::StaffStatus::try_from(p.status),
                    pb::StaffStatus::Unspecified,
                    |e| e.as_str_name(),
                    "STAFF_STATUS_",
                );
                let contract = enum_code(
                    &mut v,
                    "person.contract_type",
                    pb::ContractType::try_from(p.contract_type),
                    pb::ContractType::Unspecified,
                    |e| e.as_str_name(),
                    "CONTRACT_TYPE_",
                );
                let start = date(&mut v, "person.start_date", &p.start_date);
                let end = optional_date(&mut v, "person.end_date", &p.end_date);
                ordered(&mut v, "person.end_date", start, end);
                if end.is_none() && (contract == "FIXED_TERM" || contract == "TRAINEE") {
                    v.add("person.end_date", "is required for a fixed-term or trainee contract");
                }
                v.into_result(DOMAIN)?;
                let input = PersonIn {
                    employee_id: p.employee_id,
                    birth_year: i16::try_from(p.birth_year).unwrap_or_default(),
                    job,
                    status,
                    manager: p.manager,
                    hr_team: p.hr_team,
                    contract_type: contract,
                    start: start.unwrap_or_default(),
                    end,
                };
                self.store.create_person(&ctx!(identity, method, key, rid), &input).await
            },
        )
        .await
    }

    async fn get_person(&self, request: Request<pb::GetPersonRequest>) -> Result<Response<pb::GetPersonResponse>, Status> {
        let identity = caller(&request)?.clone();
        let name = request.into_inner().name;
        require_hr_reader(self, &identity, "HrService/GetPerson", &name).await?;
        let id = person_ref(&name, "name")?;
        Ok(Response::new(pb::GetPersonResponse { person: Some(self.store.get_person(&id).await?) }))
    }

    async fn list_people(&self, request: Request<pb::ListPeopleRequest>) -> Result<Response<pb::ListPeopleResponse>, Status> {
        let identity = caller(&request)?.clone();
        require_hr_reader(self, &identity, "HrService/ListPeople", "people").await?;
        let req = request.into_inner();
        let (people, next_page_token) = self.store.list_people(size(req.page_size)?, &req.page_token).await?;
        Ok(Response::new(pb::ListPeopleResponse { people, next_page_token }))
    }

    async fn create_assignment(
        &self,
        request: Request<pb::CreateAssignmentRequest>,
    ) -> Result<Response<pb::CreateAssignmentResponse>, Status> {
        let method = "HrService/CreateAssignment";
        write(
            self,
            request,
            method,
            |r| r.person.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let person = person_ref(&req.person, "person")?;
                let a = req.assignment.unwrap_or_default();
                let mut v = Violations::new();
                finess(&mut v, "assignment.finess", &a.finess);
                fte(&mut v, "assignment.fte_hundredths", a.fte_hundredths, 100);
                let start = date(&mut v, "assignment.start_date", &a.start_date);
                let end = optional_date(&mut v, "assignment.end_date", &a.end_date);
                ordered(&mut v, "assignment.end_date", start, end);
                v.into_result(DOMAIN)?;
                let input = AssignmentIn { finess: a.finess, fte: a.fte_hundredths, start: start.unwrap_or_default(), end };
                self.store.create_assignment(&ctx!(identity, method, key, rid), &person, &input).await
            },
        )
        .await
    }

    async fn import_payroll(&self, request: Request<pb::ImportPayrollRequest>) -> Result<Response<pb::ImportPayrollResponse>, Status> {
        write(
            self,
            request,
            "HrService/ImportPayroll",
            |r| format!("payrollBatches (request {})", r.request_id),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, _rid| async move {
                let mut v = Violations::new();
                required(&mut v, "request_id", &req.request_id);
                if req.rows.is_empty() {
                    v.add("rows", "must hold at least one row");
                }
                if req.rows.len() > crate::storage::MAX_PAYROLL_ROWS {
                    v.add("rows", format!("at most {} rows per batch", crate::storage::MAX_PAYROLL_ROWS));
                }
                v.into_result(DOMAIN)?;
                self.store.import_payroll(&identity, key.as_ref(), &req).await
            },
        )
        .await
    }

    async fn create_training_action(
        &self,
        request: Request<pb::CreateTrainingActionRequest>,
    ) -> Result<Response<pb::CreateTrainingActionResponse>, Status> {
        let method = "HrService/CreateTrainingAction";
        write(
            self,
            request,
            method,
            |_| "trainingActions".to_owned(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let a = req.action.unwrap_or_default();
                let mut v = Violations::new();
                required(&mut v, "action.title", &a.title);
                let programme = enum_code(
                    &mut v,
                    "action.programme",
                    pb::TrainingProgramme::try_from(a.programme),
                    pb::TrainingProgramme::Unspecified,
                    |e| e.as_str_name(),
                    "TRAINING_PROGRAMME_",
                );
                let d = date(&mut v, "action.date", &a.date);
                if a.hours < 0 {
                    v.add("action.hours", "must not be negative");
                }
                if a.cost_cents < 0 {
                    v.add("action.cost_cents", "must not be negative");
                }
                let mut participants = Vec::new();
                for (i, p) in a.participants.iter().enumerate() {
                    match person_ref(&p.person, "person") {
                        Ok(id) => participants.push((id, p.completed)),
                        Err(_) => v.add(format!("action.participants[{i}].person"), "must be people/{employee_id}"),
                    }
                }
                v.into_result(DOMAIN)?;
                let input = TrainingIn {
                    title: a.title.trim().to_owned(),
                    programme,
                    date: d.unwrap_or_default(),
                    hours: a.hours,
                    cost_cents: a.cost_cents,
                    participants,
                };
                self.store.create_training(&ctx!(identity, method, key, rid), &input).await
            },
        )
        .await
    }

    async fn record_appraisal(
        &self,
        request: Request<pb::RecordAppraisalRequest>,
    ) -> Result<Response<pb::RecordAppraisalResponse>, Status> {
        let method = "HrService/RecordAppraisal";
        write(
            self,
            request,
            method,
            |r| r.person.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let person = person_ref(&req.person, "person")?;
                let mut v = Violations::new();
                let held = optional_date(&mut v, "held_date", &req.held_date);
                if year_bounds(req.campaign_year).is_err() {
                    v.add("campaign_year", "must be a year from 2000 to 2100");
                }
                if held.is_some_and(|h| h.year() != req.campaign_year) {
                    v.add("held_date", "must be within the campaign year");
                }
                v.into_result(DOMAIN)?;
                let year = i16::try_from(req.campaign_year).unwrap_or_default();
                self.store.record_appraisal(&ctx!(identity, method, key, rid), &person, year, held).await
            },
        )
        .await
    }

    async fn record_absence(&self, request: Request<pb::RecordAbsenceRequest>) -> Result<Response<pb::RecordAbsenceResponse>, Status> {
        let method = "HrService/RecordAbsence";
        write(
            self,
            request,
            method,
            |r| r.person.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let person = person_ref(&req.person, "person")?;
                let mut v = Violations::new();
                let reason = enum_code(
                    &mut v,
                    "reason",
                    pb::AbsenceReason::try_from(req.reason),
                    pb::AbsenceReason::Unspecified,
                    |e| e.as_str_name(),
                    "ABSENCE_REASON_",
                );
                let start = date(&mut v, "start_date", &req.start_date);
                let end = date(&mut v, "end_date", &req.end_date);
                ordered(&mut v, "end_date", start, end);
                if let (Some(s), Some(e)) = (start, end) {
                    // A spell is counted in the year it starts: one year per spell keeps yearly sums exact.
                    if s.year() != e.year() {
                        v.add("end_date", "must be in the same year as the start (split a spell at 31 December)");
                    }
                    let calendar = (e - s).num_days() + 1;
                    if req.working_days < 1 || i64::from(req.working_days) > calendar {
                        v.add("working_days", format!("must be 1 to {calendar} (the calendar days of the spell)"));
                    }
                }
                v.into_result(DOMAIN)?;
                let (s, e) = (start.unwrap_or_default(), end.unwrap_or_default());
                self.store.record_absence(&ctx!(identity, method, key, rid), &person, &reason, s, e, req.working_days).await
            },
        )
        .await
    }

    async fn open_vacancy(&self, request: Request<pb::OpenVacancyRequest>) -> Result<Response<pb::OpenVacancyResponse>, Status> {
        let method = "HrService/OpenVacancy";
        write(
            self,
            request,
            method,
            |r| format!("structures/{}/{}", r.finess, r.job),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let mut v = Violations::new();
                finess(&mut v, "finess", &req.finess);
                let job = job_ref(&mut v, "job", &req.job);
                fte(&mut v, "fte_hundredths", req.fte_hundredths, 100);
                let opened = if req.opened_date.is_empty() { Some(today()) } else { v.check("opened_date", parse_date(&req.opened_date)) };
                v.into_result(DOMAIN)?;
                let opened = opened.unwrap_or_else(today);
                self.store.open_vacancy(&ctx!(identity, method, key, rid), &req.finess, &job, req.fte_hundredths, opened).await
            },
        )
        .await
    }

    async fn list_vacancies(&self, request: Request<pb::ListVacanciesRequest>) -> Result<Response<pb::ListVacanciesResponse>, Status> {
        let req = request.into_inner();
        let state = match pb::VacancyState::try_from(req.state) {
            Ok(pb::VacancyState::Unspecified) => String::new(),
            Ok(s) => short(s.as_str_name(), "VACANCY_STATE_"),
            Err(_) => return Err(HrError::field("state", "unknown vacancy state").into()),
        };
        let (vacancies, next_page_token) = self.store.list_vacancies(&req.finess, &state, size(req.page_size)?, &req.page_token).await?;
        Ok(Response::new(pb::ListVacanciesResponse { vacancies, next_page_token }))
    }

    async fn record_application(
        &self,
        request: Request<pb::RecordApplicationRequest>,
    ) -> Result<Response<pb::RecordApplicationResponse>, Status> {
        let method = "HrService/RecordApplication";
        write(
            self,
            request,
            method,
            |r| r.vacancy.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let id = vacancy_ref(&req.vacancy, "vacancy")?;
                let mut v = Violations::new();
                required(&mut v, "candidate_ref", &req.candidate_ref);
                let received = date(&mut v, "received_date", &req.received_date);
                v.into_result(DOMAIN)?;
                let channel = match pb::ApplicationChannel::try_from(req.channel) {
                    Ok(c) if c != pb::ApplicationChannel::Unspecified => short(c.as_str_name(), "APPLICATION_CHANNEL_"),
                    _ => "OTHER".to_owned(),
                };
                self.store
                    .record_application(
                        &ctx!(identity, method, key, rid),
                        id,
                        req.candidate_ref.trim(),
                        &channel,
                        received.unwrap_or_default(),
                    )
                    .await
            },
        )
        .await
    }

    async fn fill_vacancy(&self, request: Request<pb::FillVacancyRequest>) -> Result<Response<pb::FillVacancyResponse>, Status> {
        let method = "HrService/FillVacancy";
        write(
            self,
            request,
            method,
            |r| r.name.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let id = vacancy_ref(&req.name, "name")?;
                let person = person_ref(&req.person, "person")?;
                let mut v = Violations::new();
                let hire = date(&mut v, "hire_date", &req.hire_date);
                v.into_result(DOMAIN)?;
                self.store.fill_vacancy(&ctx!(identity, method, key, rid), id, &person, hire.unwrap_or_default()).await
            },
        )
        .await
    }

    async fn record_trainee(&self, request: Request<pb::RecordTraineeRequest>) -> Result<Response<pb::RecordTraineeResponse>, Status> {
        let method = "HrService/RecordTrainee";
        write(
            self,
            request,
            method,
            |r| format!("structures/{}", r.finess),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let mut v = Violations::new();
                required(&mut v, "trainee_ref", &req.trainee_ref);
                finess(&mut v, "finess", &req.finess);
                let category = enum_code(
                    &mut v,
                    "category",
                    pb::TraineeCategory::try_from(req.category),
                    pb::TraineeCategory::Unspecified,
                    |e| e.as_str_name(),
                    "TRAINEE_CATEGORY_",
                );
                let start = date(&mut v, "start_date", &req.start_date);
                let end = date(&mut v, "end_date", &req.end_date);
                ordered(&mut v, "end_date", start, end);
                v.into_result(DOMAIN)?;
                self.store
                    .record_trainee(
                        &ctx!(identity, method, key, rid),
                        req.trainee_ref.trim(),
                        &req.finess,
                        &category,
                        start.unwrap_or_default(),
                        end.unwrap_or_default(),
                    )
                    .await
            },
        )
        .await
    }

    async fn create_collective_agreement(
        &self,
        request: Request<pb::CreateCollectiveAgreementRequest>,
    ) -> Result<Response<pb::CreateCollectiveAgreementResponse>, Status> {
        let method = "HrService/CreateCollectiveAgreement";
        write(
            self,
            request,
            method,
            |_| "collectiveAgreements".to_owned(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let a = req.agreement.unwrap_or_default();
                let mut v = Violations::new();
                required(&mut v, "agreement.title", &a.title);
                let kind = enum_code(
                    &mut v,
                    "agreement.type",
                    pb::AgreementType::try_from(a.r#type),
                    pb::AgreementType::Unspecified,
                    |e| e.as_str_name(),
                    "AGREEMENT_TYPE_",
                );
                let signed = date(&mut v, "agreement.signed_date", &a.signed_date);
                let support = optional_date(&mut v, "agreement.didactic_support_date", &a.didactic_support_date);
                v.into_result(DOMAIN)?;
                self.store
                    .create_agreement(&ctx!(identity, method, key, rid), a.title.trim(), &kind, signed.unwrap_or_default(), support)
                    .await
            },
        )
        .await
    }

    async fn list_collective_agreements(
        &self,
        request: Request<pb::ListCollectiveAgreementsRequest>,
    ) -> Result<Response<pb::ListCollectiveAgreementsResponse>, Status> {
        let req = request.into_inner();
        let (agreements, next_page_token) = self.store.list_agreements(size(req.page_size)?, &req.page_token).await?;
        Ok(Response::new(pb::ListCollectiveAgreementsResponse { agreements, next_page_token }))
    }

    async fn set_yearly_counters(
        &self,
        request: Request<pb::SetYearlyCountersRequest>,
    ) -> Result<Response<pb::SetYearlyCountersResponse>, Status> {
        let method = "HrService/SetYearlyCounters";
        write(
            self,
            request,
            method,
            |r| r.counters.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let c = req.counters.unwrap_or_default();
                let mut v = Violations::new();
                let year = c.name.strip_prefix("yearlyCounters/").and_then(|y| y.parse::<i32>().ok()).filter(|y| year_bounds(*y).is_ok());
                if year.is_none() {
                    v.add("counters.name", "must be yearlyCounters/{year}, 2000 to 2100");
                }
                for (field, part, whole) in [
                    ("electronic_signatures", c.electronic_signatures, c.signature_events),
                    ("remote_meetings_full_evoting", c.remote_meetings_full_evoting, c.remote_meetings_with_votes),
                    ("disability_actions_done", c.disability_actions_done, c.disability_actions),
                ] {
                    if part < 0 || whole < 0 || part > whole {
                        v.add(format!("counters.{field}"), "must be from 0 to its total");
                    }
                }
                optional_date(&mut v, "counters.disability_diagnostic_date", &c.disability_diagnostic_date);
                optional_date(&mut v, "counters.litigation_hub_date", &c.litigation_hub_date);
                v.into_result(DOMAIN)?;
                let year = i16::try_from(year.unwrap_or_default()).unwrap_or_default();
                self.store.set_counters(&ctx!(identity, method, key, rid), year, &c).await
            },
        )
        .await
    }

    async fn get_gepp_view(&self, request: Request<pb::GetGeppViewRequest>) -> Result<Response<pb::GetGeppViewResponse>, Status> {
        let with_people = is_hr(caller(&request)?);
        let req = request.into_inner();
        let mut v = Violations::new();
        let as_of = if req.as_of_date.is_empty() { Some(today()) } else { v.check("as_of_date", parse_date(&req.as_of_date)) };
        let horizon = if req.horizon_years == 0 { DEFAULT_HORIZON_YEARS } else { req.horizon_years };
        if !(1..=10).contains(&horizon) {
            v.add("horizon_years", "must be 1 to 10");
        }
        let age = if req.retirement_age == 0 { DEFAULT_RETIREMENT_AGE } else { req.retirement_age };
        if !(60..=70).contains(&age) {
            v.add("retirement_age", "must be 60 to 70");
        }
        v.into_result(DOMAIN).map_err(HrError::from)?;
        let as_of = as_of.unwrap_or_else(today);
        // Same day `horizon` years later (29 February falls back to the 28th).
        let horizon_end = as_of
            .with_year(as_of.year() + horizon)
            .or_else(|| as_of.pred_opt().and_then(|d| d.with_year(as_of.year() + horizon)))
            .unwrap_or(as_of);
        let (rows, next_page_token) =
            self.store.gepp_view(&req.finess, as_of, horizon_end, age, with_people, size(req.page_size)?, &req.page_token).await?;
        Ok(Response::new(pb::GetGeppViewResponse {
            rows,
            next_page_token,
            as_of_date: as_of.to_string(),
            horizon_end_date: horizon_end.to_string(),
            retirement_age: age,
        }))
    }

    async fn query_workforce(&self, request: Request<pb::QueryWorkforceRequest>) -> Result<Response<pb::QueryWorkforceResponse>, Status> {
        let req = request.into_inner();
        let as_of = if req.as_of_date.is_empty() {
            today()
        } else {
            parse_date(&req.as_of_date).map_err(|e| HrError::field("as_of_date", e.to_string()))?
        };
        let dimension = pb::WorkforceDimension::try_from(req.dimension).map_err(|_| HrError::field("dimension", "unknown dimension"))?;
        let rows = self.store.workforce(as_of, dimension).await?;
        Ok(Response::new(pb::QueryWorkforceResponse { rows, as_of_date: as_of.to_string() }))
    }

    async fn get_hr_aggregates(
        &self,
        request: Request<pb::GetHrAggregatesRequest>,
    ) -> Result<Response<pb::GetHrAggregatesResponse>, Status> {
        let year = request.into_inner().year;
        Ok(Response::new(self.store.aggregates(year).await?))
    }

    async fn get_hr_indicators(
        &self,
        request: Request<pb::GetHrIndicatorsRequest>,
    ) -> Result<Response<pb::GetHrIndicatorsResponse>, Status> {
        let year = request.into_inner().year;
        let inputs = self.store.indicator_inputs(year).await?;
        let indicators = domain::indicators(&inputs)
            .into_iter()
            .map(|i| {
                let kind = match i.kind {
                    domain::Kind::Rate => pb::IndicatorKind::Rate,
                    domain::Kind::Count => pb::IndicatorKind::Count,
                    domain::Kind::Milestone => pb::IndicatorKind::Milestone,
                };
                let value = (i.kind != domain::Kind::Milestone).then(|| pb::Ratio {
                    numerator: i.numerator,
                    denominator: i.denominator,
                    percent: if i.kind == domain::Kind::Rate { domain::percent(i.numerator, i.denominator) } else { String::new() },
                    unit: i.unit.to_owned(),
                });
                let (reached, milestone_date) = i.milestone.unwrap_or((false, None));
                pb::IndicatorValue {
                    code: i.code.to_owned(),
                    label: i.label.to_owned(),
                    kind: kind as i32,
                    value,
                    milestone_reached: reached,
                    milestone_date: milestone_date.map(|d| d.to_string()).unwrap_or_default(),
                    definition: i.definition.to_owned(),
                }
            })
            .collect();
        Ok(Response::new(pb::GetHrIndicatorsResponse { year, indicators }))
    }
}
