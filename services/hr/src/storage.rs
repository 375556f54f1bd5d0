//! PostgreSQL storage of the HR service (schema `hr`).
//!
//! Every write goes through `filieris_runtime::write` (audit, change feed and
//! request-id idempotency in the same transaction). The staffing-plan checks
//! (opening a vacancy, assigning a person) lock what they check first: an
//! advisory lock per structure and job, the person's row, the vacancy's row.
//! Aggregates are computed from the rows at read time: the volumes (a few
//! thousand people) do not need rollups.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use filieris_kernel::date::parse_date;
use filieris_proto::hr as pb;
use filieris_runtime::idempotency::IdempotencyKey;
use filieris_runtime::identity::Identity;
use filieris_runtime::pagination::{decode_token, fingerprint, finish_page};
use filieris_runtime::registry_cache::{self, StructureIndex};
use filieris_runtime::write::{self, Begun, Recorded};
use prost::Message;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::{self, COG_START_YEAR, Departure, FULL_TIME, IndicatorInputs};
use crate::error::{DOMAIN, HrError, Result};

/// Largest payroll batch.
pub const MAX_PAYROLL_ROWS: usize = 10_000;
/// Absence reasons counted in absenteeism (hr.md 4.4, COG18.SUP.3).
const ABSENTEEISM_REASONS: &[&str] = &["SICKNESS", "WORK_ACCIDENT", "UNJUSTIFIED"];

/// Who writes, under which request id.
pub struct WriteContext<'a> {
    pub identity: &'a Identity,
    pub method: &'a str,
    pub key: Option<&'a IdempotencyKey>,
    pub request_id: &'a str,
}

/// Short code of a protobuf enum value: `JOB_FAMILY_MEDICAL` → `MEDICAL`.
pub fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_owned()
}

fn opt_date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn family_pb(code: &str) -> pb::JobFamily {
    pb::JobFamily::from_str_name(&format!("JOB_FAMILY_{code}")).unwrap_or(pb::JobFamily::Unspecified)
}

fn hundredths(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn ratio(numerator: i64, denominator: i64, unit: &str) -> pb::Ratio {
    pb::Ratio { numerator, denominator, percent: domain::percent(numerator, denominator), unit: unit.to_owned() }
}

/// A position to create, validated.
pub struct PositionIn {
    pub finess: String,
    pub job: String,
    pub fte: i32,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

/// A person to create, validated.
pub struct PersonIn {
    pub employee_id: String,
    pub birth_year: i16,
    pub job: String,
    pub status: String,
    pub manager: bool,
    pub hr_team: bool,
    pub contract_type: String,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

/// An assignment to create, validated.
pub struct AssignmentIn {
    pub finess: String,
    pub fte: i32,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

/// A payroll row, validated.
struct PayrollRow {
    row: i32,
    month: NaiveDate,
    finess: String,
    region: i16,
    status: String,
    gross: i64,
    employer: i64,
    headcount: i32,
}

/// A training action to create, validated.
pub struct TrainingIn {
    pub title: String,
    pub programme: String,
    pub date: NaiveDate,
    pub hours: i32,
    pub cost_cents: i64,
    pub participants: Vec<(String, bool)>,
}

/// A person as stored.
#[derive(sqlx::FromRow)]
struct PersonRow {
    employee_id: String,
    birth_year: i16,
    job_code: String,
    status: String,
    manager: bool,
    hr_team: bool,
    contract_type: String,
    start_date: NaiveDate,
    end_date: Option<NaiveDate>,
}

const PERSON_COLUMNS: &str = "employee_id, birth_year, job_code, status, manager, hr_team, contract_type, start_date, end_date";

impl PersonRow {
    fn to_proto(&self, assignments: Vec<pb::Assignment>) -> pb::Person {
        pb::Person {
            name: format!("people/{}", self.employee_id),
            employee_id: self.employee_id.clone(),
            birth_year: i32::from(self.birth_year),
            job: format!("jobs/{}", self.job_code),
            status: pb::StaffStatus::from_str_name(&format!("STAFF_STATUS_{}", self.status)).unwrap_or_default() as i32,
            manager: self.manager,
            hr_team: self.hr_team,
            contract_type: pb::ContractType::from_str_name(&format!("CONTRACT_TYPE_{}", self.contract_type)).unwrap_or_default() as i32,
            start_date: self.start_date.to_string(),
            end_date: opt_date(self.end_date),
            assignments,
        }
    }
}

#[derive(sqlx::FromRow)]
struct AssignmentRow {
    id: Uuid,
    employee_id: String,
    finess: String,
    fte_hundredths: i32,
    start_date: NaiveDate,
    end_date: Option<NaiveDate>,
    vacancy_id: Option<Uuid>,
}

impl AssignmentRow {
    fn to_proto(&self) -> pb::Assignment {
        pb::Assignment {
            name: format!("people/{}/assignments/{}", self.employee_id, self.id),
            finess: self.finess.clone(),
            fte_hundredths: self.fte_hundredths,
            start_date: self.start_date.to_string(),
            end_date: opt_date(self.end_date),
            vacancy: self.vacancy_id.map(|v| format!("vacancies/{v}")).unwrap_or_default(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct VacancyRow {
    id: Uuid,
    finess: String,
    job_code: String,
    fte_hundredths: i32,
    opened_date: NaiveDate,
    state: String,
    medical: bool,
    filled_date: Option<NaiveDate>,
    employee_id: Option<String>,
    applications: i64,
}

const VACANCY_COLUMNS: &str = "v.id, v.finess, v.job_code, v.fte_hundredths, v.opened_date, v.state, v.medical, v.filled_date, v.employee_id, \
                               (SELECT count(*) FROM application a WHERE a.vacancy_id = v.id) AS applications";

impl VacancyRow {
    fn to_proto(&self) -> pb::Vacancy {
        pb::Vacancy {
            name: format!("vacancies/{}", self.id),
            finess: self.finess.clone(),
            job: format!("jobs/{}", self.job_code),
            fte_hundredths: self.fte_hundredths,
            opened_date: self.opened_date.to_string(),
            state: pb::VacancyState::from_str_name(&format!("VACANCY_STATE_{}", self.state)).unwrap_or_default() as i32,
            medical: self.medical,
            applications: i32::try_from(self.applications).unwrap_or(i32::MAX),
            filled_date: opt_date(self.filled_date),
            hired_person: self.employee_id.as_ref().map(|e| format!("people/{e}")).unwrap_or_default(),
            days_to_hire: self.filled_date.map(|f| i32::try_from((f - self.opened_date).num_days()).unwrap_or(i32::MAX)).unwrap_or(0),
        }
    }
}

/// The HR service's data access.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

/// A transaction-scoped advisory lock key from text parts.
fn lock_key(parts: &[&str]) -> i64 {
    let fp = fingerprint(parts);
    i64::from_str_radix(&fp, 16).unwrap_or_else(|_| u64::from_str_radix(&fp, 16).map(|u| u as i64).unwrap_or(0))
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin<R: Message + Default>(&self, ctx: &WriteContext<'_>) -> Result<std::result::Result<Transaction<'static, Postgres>, R>> {
        Ok(match write::begin::<R>(DOMAIN, &self.pool, ctx.key).await? {
            Begun::Replayed(previous) => Err(previous),
            Begun::Fresh(tx) => Ok(tx),
        })
    }

    /// Audit and change rows, idempotency record, COMMIT.
    async fn finish<R: Message>(
        mut tx: Transaction<'static, Postgres>,
        ctx: &WriteContext<'_>,
        resource: &str,
        change_type: &str,
        detail: &str,
        response: R,
    ) -> Result<R> {
        write::record(
            &mut tx,
            &Recorded {
                identity: ctx.identity,
                method: ctx.method,
                request_id: ctx.request_id,
                resource,
                change_type,
                revision: 0,
                detail,
            },
        )
        .await?;
        write::commit(DOMAIN, tx, ctx.key, &response).await?;
        Ok(response)
    }

    /// The registry structures the cache knows, by FINESS.
    pub async fn structure_index(&self) -> Result<StructureIndex> {
        Ok(registry_cache::structure_index(&self.pool).await?)
    }

    async fn require_structure(conn: &mut PgConnection, finess: &str) -> Result<i16> {
        let row: Option<(i16,)> =
            sqlx::query_as("SELECT region FROM structure_cache WHERE finess = $1").bind(finess).fetch_optional(&mut *conn).await?;
        row.map(|r| r.0).ok_or_else(|| HrError::NotFound { kind: "structure", name: format!("structures/{finess}") })
    }

    async fn require_job(conn: &mut PgConnection, code: &str) -> Result<String> {
        let row: Option<(String,)> = sqlx::query_as("SELECT family FROM job WHERE code = $1").bind(code).fetch_optional(&mut *conn).await?;
        row.map(|r| r.0).ok_or_else(|| HrError::NotFound { kind: "job", name: format!("jobs/{code}") })
    }

    async fn person_row(conn: &mut PgConnection, employee_id: &str, lock: bool) -> Result<PersonRow> {
        let sql = format!("SELECT {PERSON_COLUMNS} FROM person WHERE employee_id = $1{}", if lock { " FOR UPDATE" } else { "" });
        sqlx::query_as::<_, PersonRow>(&sql)
            .bind(employee_id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| HrError::NotFound { kind: "person", name: format!("people/{employee_id}") })
    }

    // ------------------------------------------------------------ catalogue

    /// Adds a job to the catalogue.
    pub async fn create_job(&self, ctx: &WriteContext<'_>, code: &str, label: &str, family: &str) -> Result<pb::CreateJobResponse> {
        let mut tx = match self.begin(ctx).await? {
            Ok(tx) => tx,
            Err(previous) => return Ok(previous),
        };
        let name = format!("jobs/{code}");
        let done = sqlx::query("INSERT INTO job (code, label, family) VALUES ($1, $2, $3) ON CONFLICT (code) DO NOTHING")
            .bind(code)
            .bind(label)
            .bind(family)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(HrError::AlreadyExists(name));
        }
        let job = pb::Job { name: name.clone(), code: code.to_owned(), label: label.to_owned(), family: family_pb(family) as i32 };
        Self::finish(tx, ctx, &name, "JOB_CREATED", family, pb::CreateJobResponse { job: Some(job) }).await
    }

    /// Jobs by code.
    pub async fn list_jobs(&self, size: u32, token: &str) -> Result<(Vec<pb::Job>, String)> {
        let fp = fingerprint(&["jobs"]);
        let after: Option<String> = decode_token(DOMAIN, &fp, token)?;
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT code, label, family FROM job WHERE ($1::text IS NULL OR code > $1) ORDER BY code LIMIT $2")
                .bind(after)
                .bind(i64::from(size) + 1)
                .fetch_all(&self.pool)
                .await?;
        let (page, next) = finish_page(rows, size, &fp, |r| r.0.clone());
        Ok((
            page.into_iter()
                .map(|(code, label, family)| pb::Job { name: format!("jobs/{code}"), code, label, family: family_pb(&family) as i32 })
                .collect(),
            next,
        ))
    }

    /// Adds authorised posts to the staffing plan.
    pub async fn create_position(&self, ctx: &WriteContext<'_>, p: &PositionIn) -> Result<pb::CreatePositionResponse> {
        let mut tx = match self.begin(ctx).await? {
            Ok(tx) => tx,
            Err(previous) => return Ok(previous),
        };
        Self::require_structure(&mut tx, &p.finess).await?;
        Self::require_job(&mut tx, &p.job).await?;
        let id = Uuid::now_v7();
        sqlx::query("INSERT INTO position (id, finess, job_code, fte_hundredths, effective_from, effective_to) VALUES ($1,$2,$3,$4,$5,$6)")
            .bind(id)
            .bind(&p.finess)
            .bind(&p.job)
            .bind(p.fte)
            .bind(p.from)
            .bind(p.to)
            .execute(&mut *tx)
            .await?;
        let name = format!("positions/{id}");
        let position = pb::Position {
            name: name.clone(),
            finess: p.finess.clone(),
            job: format!("jobs/{}", p.job),
            fte_hundredths: p.fte,
            effective_from: p.from.to_string(),
            effective_to: opt_date(p.to),
        };
        let detail = format!("{} {} {} hundredths FTE from {}", p.finess, p.job, p.fte, p.from);
        Self::finish(tx, ctx, &name, "POSITION_CREATED", &detail, pb::CreatePositionResponse { position: Some(position) }).await
    }

    /// Positions by structure, job and id.
    pub async fn list_positions(&self, finess: &str, size: u32, token: &str) -> Result<(Vec<pb::Position>, String)> {
        let fp = fingerprint(&["positions", finess]);
        let after: Option<(String, String, Uuid)> = decode_token(DOMAIN, &fp, token)?;
        let (af, aj, ai) = match after {
            Some((f, j, i)) => (Some(f), Some(j), Some(i)),
            None => (None, None, None),
        };
        type Row = (Uuid, String, String, i32, NaiveDate, Option<NaiveDate>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, finess, job_code, fte_hundredths, effective_from, effective_to FROM position \
             WHERE ($1 = '' OR finess = $1) AND ($2::text IS NULL OR (finess, job_code, id) > ($2, $3, $4)) \
             ORDER BY finess, job_code, id LIMIT $5",
        )
        .bind(finess)
        .bind(af)
        .bind(aj)
        .bind(ai)
        .bind(i64::from(size) + 1)
        .fetch_all(&self.pool)
        .await?;
        let (page, next) = finish_page(rows, size, &fp, |r| (r.1.clone(), r.2.clone(), r.0));
        Ok((
            page.into_iter()
                .map(|(id, finess, job, fte, from, to)| pb::Position {
                    name: format!("positions/{id}"),
                    finess,
                    job: format!("jobs/{job}"),
                    fte_hundredths: fte,
                    effective_from: from.to_string(),
                    effective_to: opt_date(to),
                })
                .collect(),
            next,
        ))
    }

    // --------------------------------------------------------------- people

    /// Records a person.
    pub async fn create_person(&self, ctx: &WriteContext<'_>, p: &PersonIn) -> Result<pb::CreatePersonResponse> {
        let mut tx = match self.begin(ctx).await? {
            Ok(tx) => tx,
            Err(previous) => return Ok(previous),
        };
        Self::require_job(&mut tx, &p.job).await?;
        let name = format!("people/{}", p.employee_id);
        let done = sqlx::query(
            "INSERT INTO person (employee_id, birth_year, job_code, status, manager, hr_team, contract_type, start_date, end_date) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (employee_id) DO NOTHING",
        )
        .bind(&p.employee_id)
        .bind(p.birth_year)
        .bind(&p.job)
        .bind(&p.status)
        .bind(p.manager)
        .bind(p.hr_team)
        .bind(&p.contract_type)
        .bind(p.start)
        .bind(p.end)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(HrError::AlreadyExists(name));
        }
        let row = Self::person_row(&mut tx, &p.employee_id, false).await?;
        // The audit names the resource only: no personal attribute in the change feed.
        Self::finish(tx, ctx, &name, "PERSON_CREATED", "", pb::CreatePersonResponse { person: Some(row.to_proto(Vec::new())) }).await
    }

    /// A person with their assignments.
    pub async fn get_person(&self, employee_id: &str) -> Result<pb::Person> {
        let mut conn = self.pool.acquire().await?;
        let row = Self::person_row(&mut conn, employee_id, false).await?;
        let assignments: Vec<AssignmentRow> = sqlx::query_as(
            "SELECT id, employee_id, finess, fte_hundredths, start_date, end_date, vacancy_id FROM assignment \
             WHERE employee_id = $1 ORDER BY start_date, id",
        )
        .bind(employee_id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(row.to_proto(assignments.iter().map(AssignmentRow::to_proto).collect()))
    }

    /// People by employee id.
    pub async fn list_people(&self, size: u32, token: &str) -> Result<(Vec<pb::Person>, String)> {
        let fp = fingerprint(&["people"]);
        let after: Option<String> = decode_token(DOMAIN, &fp, token)?;
        let rows: Vec<PersonRow> = sqlx::query_as(&format!(
            "SELECT {PERSON_COLUMNS} FROM person WHERE ($1::text IS NULL OR employee_id > $1) ORDER BY employee_id LIMIT $2"
        ))
        .bind(after)
        .bind(i64::from(size) + 1)
        .fetch_all(&self.pool)
        .await?;
        let (page, next) = finish_page(rows, size, &fp, |r| r.employee_id.clone());
        Ok((page.iter().map(|r| r.to_proto(Vec::new())).collect(), next))
    }

    /// Inserts an assignment after the checks: within the contract, and the
    /// person's shares overlapping it stay within one FTE. The person's row
    /// is locked, so two assignments of one person cannot both pass.
    async fn insert_assignment(
        tx: &mut Transaction<'static, Postgres>,
        employee_id: &str,
        a: &AssignmentIn,
        vacancy: Option<Uuid>,
    ) -> Result<AssignmentRow> {
        Self::require_structure(tx, &a.finess).await?;
        let person = Self::person_row(tx, employee_id, true).await?;
        let name = format!("people/{employee_id}");
        if a.start < person.start_date || person.end_date.is_some_and(|e| a.start > e) {
            return Err(HrError::OutsideContract(format!("{name} has no contract on {}", a.start)));
        }
        // Open-ended within a fixed contract ends with the contract.
        let end = match (a.end, person.end_date) {
            (Some(e), Some(c)) => Some(e.min(c)),
            (e, c) => e.or(c),
        };
        // Shares of assignments overlapping the new one, summed at each of their start dates and at the new start.
        let overlapping: Vec<(NaiveDate, Option<NaiveDate>, i32)> = sqlx::query_as(
            "SELECT start_date, end_date, fte_hundredths FROM assignment WHERE employee_id = $1 \
             AND start_date <= coalesce($3, 'infinity'::date) AND coalesce(end_date, 'infinity'::date) >= $2",
        )
        .bind(employee_id)
        .bind(a.start)
        .bind(end)
        .fetch_all(&mut **tx)
        .await?;
        let mut checkpoints: Vec<NaiveDate> = overlapping.iter().map(|o| o.0.max(a.start)).collect();
        checkpoints.push(a.start);
        for day in checkpoints {
            let held: i32 = overlapping.iter().filter(|(s, e, _)| *s <= day && e.is_none_or(|e| e >= day)).map(|o| o.2).sum();
            if held + a.fte > FULL_TIME {
                return Err(HrError::FteExceeded { person: name, total_hundredths: held + a.fte, date: day.to_string() });
            }
        }
        let row = AssignmentRow {
            id: Uuid::now_v7(),
            employee_id: employee_id.to_owned(),
            finess: a.finess.clone(),
            fte_hundredths: a.fte,
            start_date: a.start,
            end_date: end,
            vacancy_id: vacancy,
        };
        sqlx::query(
            "INSERT INTO assignment (id, employee_id, finess, fte_hundredths, start_date, end_date, vacancy_id) VALUES ($1,$2,$3,$4,$5,$6,$7)",
        )
        .bind(row.id)
        .bind(&row.employee_id)
        .bind(&row.finess)
        .bind(row.fte_hundredths)
        .bind(row.start_date)
        .bind(row.end_date)
        .bind(row.vacancy_id)
        .execute(&mut **tx)
        .await?;
        Ok(row)
    }

    /// Assigns a person to a structure.
    pub async fn create_assignment(
        &self,
        ctx: &WriteContext<'_>,
        employee_id: &str,
        a: &AssignmentIn,
    ) -> Result<pb::CreateAssignmentResponse> {
        let mut tx = match self.begin(ctx).await? {
            Ok(tx) => tx,
            Err(previous) => return Ok(previous),
        };
        let row = Self::insert_assignment(&mut tx, employee_id, a, None).await?;
        let assignment = row.to_proto();
        let detail = format!("{} {} hundredths FTE from {}", a.finess, a.fte, a.start);
        Self::finish(
            tx,
            ctx,
            &assignment.name.clone(),
            "ASSIGNMENT_CREATED",
            &detail,
            pb::CreateAssignmentResponse { assignment: Some(assignment) },
        )
        .await
    }

    // -------------------------------------------------------------- payroll

    /// Imports a payroll batch: every row validated, valid rows stored in one
    /// set-wise statement, errors reported by row; replayed by request id.
    pub async fn import_payroll(
        &self,
        identity: &Identity,
        key: Option<&IdempotencyKey>,
        request: &pb::ImportPayrollRequest,
    ) -> Result<pb::ImportPayrollResponse> {
        let ctx = WriteContext { identity, method: "HrService/ImportPayroll", key, request_id: &request.request_id };
        let mut tx = match self.begin(&ctx).await? {
            Ok(tx) => tx,
            Err(previous) => return Ok(previous),
        };
        let structures = self.structure_index().await?;
        let mut valid: Vec<PayrollRow> = Vec::with_capacity(request.rows.len());
        let mut errors = Vec::new();
        let mut rejected = 0i64;
        let mut seen: HashMap<(NaiveDate, String, String), i32> = HashMap::new();
        for (i, input) in request.rows.iter().enumerate() {
            let row = i32::try_from(i + 1).unwrap_or(i32::MAX);
            match validate_payroll_row(row, input, &structures, &mut seen) {
                Ok(v) => valid.push(v),
                Err(problems) => {
                    rejected += 1;
                    errors.extend(problems.into_iter().map(|(field, reason)| pb::RowError {
                        row: i64::from(row),
                        field: field.into(),
                        reason,
                    }));
                }
            }
        }
        let id = Uuid::now_v7();
        let total = i64::try_from(request.rows.len()).unwrap_or(i64::MAX);
        let accepted = total - rejected;
        sqlx::query(
            "INSERT INTO payroll_batch (id, caller, request_id, source_system, total_rows, accepted_rows, rejected_rows) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(&identity.caller)
        .bind(&request.request_id)
        .bind(&request.source_system)
        .bind(total)
        .bind(accepted)
        .bind(rejected)
        .execute(&mut *tx)
        .await?;
        // Set-wise: one statement whatever the number of rows.
        sqlx::query(
            "INSERT INTO payroll_entry (batch_id, row_number, month, finess, region, status, gross_cents, employer_cents, headcount_paid) \
             SELECT $1, * FROM UNNEST($2::int[], $3::date[], $4::text[], $5::smallint[], $6::text[], $7::bigint[], $8::bigint[], $9::int[])",
        )
        .bind(id)
        .bind(valid.iter().map(|v| v.row).collect::<Vec<_>>())
        .bind(valid.iter().map(|v| v.month).collect::<Vec<_>>())
        .bind(valid.iter().map(|v| v.finess.as_str()).collect::<Vec<_>>())
        .bind(valid.iter().map(|v| v.region).collect::<Vec<_>>())
        .bind(valid.iter().map(|v| v.status.as_str()).collect::<Vec<_>>())
        .bind(valid.iter().map(|v| v.gross).collect::<Vec<_>>())
        .bind(valid.iter().map(|v| v.employer).collect::<Vec<_>>())
        .bind(valid.iter().map(|v| v.headcount).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        let gross = valid.iter().fold(0i64, |acc, v| acc.saturating_add(v.gross));
        let name = format!("payrollBatches/{id}");
        let response = pb::ImportPayrollResponse {
            name: name.clone(),
            request_id: request.request_id.clone(),
            total_rows: total,
            accepted_rows: accepted,
            rejected_rows: rejected,
            errors,
            gross_cents: gross,
        };
        let detail = format!("{accepted} of {total} rows stored");
        Self::finish(tx, &ctx, &name, "PAYROLL_BATCH_IMPORTED", &detail, response).await
    }

    // ------------------------------------------------------------- training

    /// Records a training action and its participants.
    pub async fn create_training(&self, ctx: &WriteContext<'_>, t: &TrainingIn) -> Result<pb::CreateTrainingActionResponse> {
        let mut tx = match self.begin(ctx).await? {
            Ok(tx) => tx,
            Err(previous) => return Ok(previous),
        };
        let id = Uuid::now_v7();
        sqlx::query("INSERT INTO training_action (id, title, programme, action_date, hours, cost_cents) VALUES ($1,$2,$3,$4,$5,$6)")
            .bind(id)
            .bind(&t.title)
            .bind(&t.programme)
            .bind(t.date)
            .bind(t.hours)
            .bind(t.cost_cents)
            .execute(&mut *tx)
            .await?;
        for (employee_id, _) in &t.participants {
            Self::person_row(&mut tx, employee_id, false).await?;
        }
        sqlx::query(
            "INSERT INTO training_participant (action_id, employee_id, completed) SELECT $1, * FROM UNNEST($2::text[], $3::bool[]) \
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(t.participants.iter().map(|p| p.0.as_str()).collect::<Vec<_>>())
        .bind(t.participants.iter().map(|p| p.1).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        let name = format!("trainingActions/{id}");
        let action = pb::TrainingAction {
            name: name.clone(),
            title: t.title.clone(),
            programme: pb::TrainingProgramme::from_str_name(&format!("TRAINING_PROGRAMME_{}", t.programme)).unwrap_or_default() as i32,
            date: t.date.to_string(),
            hours: t.hours,
            cost_cents: t.cost_cents,
            participants: t
                .participants
                .iter()
                .map(|(e, completed)| pb::TrainingParticipant { person: format!("people/{e}"), completed: *completed })
                .collect(),
        };
        let detail = format!("{} {} cents, {} participants", t.programme, t.cost_cents, t.participants.len());
        Self::finish(tx, ctx, &name, "TRAINING_ACTION_CREATED", &detail, pb::CreateTrainingActionResponse { action: Some(action) }).await
    }

    /// Records an appraisal planned, or held on a date.
    pub async fn record_appraisal(
        &self,
        ctx: &WriteContext<'_>,
        employee_id: &str,
        year: i16,
        held: Option<NaiveDate>,
    ) -> Result<pb::RecordAppraisalResponse> {
        let mut tx = match self.begin(ctx).await? {
            Ok(tx) => tx,
            Err(previous) => return Ok(previous),
        };
        Self::person_row(&mut tx, employee_id, false).await?;
        sqlx::query(
            "INSERT INTO appraisal (employee_id, campaign_year, held_date) VALUES ($1, $2, $3) \
             ON CONFLICT (employee_id, campaign_year) DO UPDATE SET held_date = coalesce(EXCLUDED.held_date, appraisal.held_date)",
        )
        .bind(employee_id)
        .bind(year)
        .bind(held)
        .execute(&mut *tx)
        .await?;
        let held_now: (Option<NaiveDate>,) =
            sqlx::query_as("SELECT held_date FROM appraisal WHERE employee_id = $1 AND campaign_year = $2")
                .bind(employee_id)
                .bind(year)
                .fetch_one(&mut *tx)
                .await?;
        let name = format!("people/{employee_id}/appraisals/{year}");
        let response = pb::RecordAppraisalResponse { name: name.clone(), held: held_now.0.is_some() };
        Self::finish(tx, ctx, &name, "APPRAISAL_RECORDED", if response.held { "held" } else { "planned" }, response).await
    }

    /// Records an absence spell.
    pub async fn record_absence(
        &self,
        ctx: &WriteContext<'_>,
        employee_id: &str,
        reason: &str,
        start: NaiveDate,
        end: NaiveDate,
        working_days: i32,
    ) -> Result<pb::RecordAbsenceResponse> {
        let mut tx = match self.begin(ctx).await? {
            Ok(tx) => tx,
            Err(previous) => return Ok(previous),
        };
        Self::person_row(&mut tx, employee_id, false).await?;
        let id = Uuid::now_v7();
        sqlx::query("INSERT INTO absence (id, employee_id, reason, start_date, end_date, working_days) VALUES ($1,$2,$3,$4,$5,$6)")
            .bind(id)
            .bind(employee_id)
            .bind(reason)
            .bind(start)
            .bind(end)
            .bind(working_days)
            .execute(&mut *tx)
            .await?;
        let name = format!("people/{employee_id}/absences/{id}");
        Self::finish(tx, ctx, &name, "ABSENCE_RECORDED", "", pb::RecordAbsenceResponse { name: name.clone() }).await
    }

    // ---------------------------------------------------------- recruitment

    /// Authorised, filled and open-vacancy FTE of a structure and job on a date.
    async fn plan_position(conn: &mut PgConnection, finess: &str, job: &str, day: NaiveDate) -> Result<(i64, i64, i64)> {
        let row: (i64, i64, i64) = sqlx::query_as(
            "SELECT \
               (SELECT coalesce(sum(fte_hundredths), 0)::bigint FROM position WHERE finess = $1 AND job_code = $2 \
                  AND effective_from <= $3 AND (effective_to IS NULL OR effective_to >= $3)), \
               (SELECT coalesce(sum(a.fte_hundredths), 0)::bigint FROM assignment a JOIN person p USING (employee_id) \
                  WHERE a.finess = $1 AND p.job_code = $2 AND a.start_date <= $3 AND (a.end_date IS NULL OR a.end_date >= $3) \
                  AND p.start_date <= $3 AND (p.end_date IS NULL OR p.end_date >= $3)), \
               (SELECT coalesce(sum(fte_hundredths), 0)::bigint FROM vacancy WHERE finess = $1 AND job_code = $2 AND state = 'OPEN')",
        )
        .bind(finess)
        .bind(job)
        .bind(day)
        .fetch_one(&mut *conn)
        .await?;
        Ok(row)
    }

    async fn vacancy_row(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<VacancyRow> {
        if lock {
            sqlx::query("SELECT 1 FROM vacancy WHERE id = $1 FOR UPDATE").bind(id).execute(&mut *conn).await?;
        }
        sqlx::query_as::<_, VacancyRow>(&format!("SELECT {VACANCY_COLUMNS} FROM vacancy v WHERE v.id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| HrError::NotFound { kind: "vacancy", name: format!("vacancies/{id}") })
    }

    /// Opens a vacancy when the staffing plan has the FTE free.
    pub async fn open_vacancy(
        &self,
        ctx: &WriteContext<'_>,
        finess: &str,
        job: &str,
        fte: i32,
        opened: NaiveDate,
    ) -> Result<pb::OpenVacancyResponse> {
        let mut tx = match self.begin(ctx).await? {
            Ok(tx) => tx,
            Err(previous) => return Ok(previous),
        };
        Self::require_structure(&mut tx, finess).await?;
        let family = Self::require_job(&mut tx, job).await?;
        // Two openings for the same posts wait for each other, so both cannot take the last free FTE.
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(lock_key(&["hr-plan", finess, job])).execute(&mut *tx).await?;
        let (authorised, filled, open) = Self::plan_position(&mut tx, finess, job, opened).await?;
        let free = domain::free_fte(authorised, filled, open);
        if free < i64::from(fte) {
            return Err(HrError::NoFreePosition {
                finess: finess.to_owned(),
                job: format!("jobs/{job}"),
                free_fte_hundredths: hundredths(free.max(0)),
                asked_fte_hundredths: fte,
            });
        }
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO vacancy (id, finess, job_code, fte_hundredths, opened_date, state, medical) VALUES ($1,$2,$3,$4,$5,'OPEN',$6)",
        )
        .bind(id)
        .bind(finess)
        .bind(job)
        .bind(fte)
        .bind(opened)
        .bind(family == "MEDICAL")
        .execute(&mut *tx)
        .await?;
        let vacancy = Self::vacancy_row(&mut tx, id, false).await?.to_proto();
        let detail = format!("{finess} {job} {fte} hundredths FTE; {free} free before");
        Self::finish(tx, ctx, &vacancy.name.clone(), "VACANCY_OPENED", &detail, pb::OpenVacancyResponse { vacancy: Some(vacancy) }).await
    }

    /// Vacancies by id (opening order).
    pub async fn list_vacancies(&self, finess: &str, state: &str, size: u32, token: &str) -> Result<(Vec<pb::Vacancy>, String)> {
        let fp = fingerprint(&["vacancies", finess, state]);
        let after: Option<Uuid> = decode_token(DOMAIN, &fp, token)?;
        let rows: Vec<VacancyRow> = sqlx::query_as(&format!(
            "SELECT {VACANCY_COLUMNS} FROM vacancy v WHERE ($1 = '' OR v.finess = $1) AND ($2 = '' OR v.state = $2) \
             AND ($3::uuid IS NULL OR v.id > $3) ORDER BY v.id LIMIT $4"
        ))
        .bind(finess)
        .bind(state)
        .bind(after)
        .bind(i64::from(size) + 1)
        .fetch_all(&self.pool)
        .await?;
        let (page, next) = finish_page(rows, size, &fp, |r| r.id);
        Ok((page.iter().map(VacancyRow::to_proto).collect(), next))
    }

    /// Records an application to an open vacancy.
    pub async fn record_application(
        &self,
        ctx: &WriteContext<'_>,
        id: Uuid,
        candidate_ref: &str,
        channel: &str,
        received: NaiveDate,
    ) -> Result<pb::RecordApplicationResponse> {
        let mut tx = match self.begin(ctx).await? {
            Ok(tx) => tx,
            Err(previous) => return Ok(previous),
        };
        let vacancy = Self::vacancy_row(&mut tx, id, true).await?;
        if vacancy.state != "OPEN" {
            return Err(HrError::VacancyNotOpen(format!("vacancies/{id}")));
        }
        sqlx::query("INSERT INTO application (id, vacancy_id, candidate_ref, channel, received_date) VALUES ($1,$2,$3,$4,$5)")
            .bind(Uuid::now_v7())
            .bind(id)
            .bind(candidate_ref)
            .bind(channel)
            .bind(received)
            .execute(&mut *tx)
            .await?;
        let vacancy = Self::vacancy_row(&mut tx, id, false).await?.to_proto();
        Self::finish(
            tx,
            ctx,
            &vacancy.name.clone(),
            "APPLICATION_RECORDED",
            channel,
            pb::RecordApplicationResponse { vacancy: Some(vacancy) },
        )
        .await
    }

    /// Fills an open vacancy: the hire's assignment takes the vacancy's
    /// structure and FTE from the hire date.
    pub async fn fill_vacancy(
        &self,
        ctx: &WriteContext<'_>,
        id: Uuid,
        employee_id: &str,
        hire: NaiveDate,
    ) -> Result<pb::FillVacancyResponse> {
        let mut tx = match self.begin(ctx).await? {
            Ok(tx) => tx,
            Err(previous) => return Ok(previous),
        };
        let vacancy = Self::vacancy_row(&mut tx, id, true).await?;
        let name = format!("vacancies/{id}");
        if vacancy.state != "OPEN" {
            return Err(HrError::VacancyNotOpen(name));
        }
        if hire < vacancy.opened_date {
            return Err(HrError::field("hire_date", format!("must not be before the opening date {}", vacancy.opened_date)));
        }
        let person = Self::person_row(&mut tx, employee_id, false).await?;
        if person.job_code != vacancy.job_code {
            return Err(HrError::JobMismatch {
                person: format!("people/{employee_id}"),
                person_job: format!("jobs/{}", person.job_code),
                vacancy_job: format!("jobs/{}", vacancy.job_code),
            });
        }
        let a = AssignmentIn { finess: vacancy.finess.clone(), fte: vacancy.fte_hundredths, start: hire, end: None };
        let assignment = Self::insert_assignment(&mut tx, employee_id, &a, Some(id)).await?;
        sqlx::query("UPDATE vacancy SET state = 'FILLED', filled_date = $2, employee_id = $3 WHERE id = $1")
            .bind(id)
            .bind(hire)
            .bind(employee_id)
            .execute(&mut *tx)
            .await?;
        let vacancy = Self::vacancy_row(&mut tx, id, false).await?.to_proto();
        let detail = format!("filled on {hire} after {} days", vacancy.days_to_hire);
        Self::finish(
            tx,
            ctx,
            &name,
            "VACANCY_FILLED",
            &detail,
            pb::FillVacancyResponse { vacancy: Some(vacancy), assignment: Some(assignment.to_proto()) },
        )
        .await
    }

    // ------------------------------------------------- trainees, agreements

    /// Records a hosted trainee.
    pub async fn record_trainee(
        &self,
        ctx: &WriteContext<'_>,
        trainee_ref: &str,
        finess: &str,
        category: &str,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<pb::RecordTraineeResponse> {
        let mut tx = match self.begin(ctx).await? {
            Ok(tx) => tx,
            Err(previous) => return Ok(previous),
        };
        Self::require_structure(&mut tx, finess).await?;
        let id = Uuid::now_v7();
        sqlx::query("INSERT INTO trainee (id, trainee_ref, finess, category, start_date, end_date) VALUES ($1,$2,$3,$4,$5,$6)")
            .bind(id)
            .bind(trainee_ref)
            .bind(finess)
            .bind(category)
            .bind(start)
            .bind(end)
            .execute(&mut *tx)
            .await?;
        let name = format!("trainees/{id}");
        Self::finish(tx, ctx, &name, "TRAINEE_RECORDED", category, pb::RecordTraineeResponse { name: name.clone() }).await
    }

    /// Records a collective agreement.
    pub async fn create_agreement(
        &self,
        ctx: &WriteContext<'_>,
        title: &str,
        kind: &str,
        signed: NaiveDate,
        support: Option<NaiveDate>,
    ) -> Result<pb::CreateCollectiveAgreementResponse> {
        let mut tx = match self.begin(ctx).await? {
            Ok(tx) => tx,
            Err(previous) => return Ok(previous),
        };
        let id = Uuid::now_v7();
        sqlx::query("INSERT INTO collective_agreement (id, title, kind, signed_date, didactic_support_date) VALUES ($1,$2,$3,$4,$5)")
            .bind(id)
            .bind(title)
            .bind(kind)
            .bind(signed)
            .bind(support)
            .execute(&mut *tx)
            .await?;
        let name = format!("collectiveAgreements/{id}");
        let agreement = agreement_proto(id, title.to_owned(), kind, signed, support);
        Self::finish(tx, ctx, &name, "AGREEMENT_RECORDED", kind, pb::CreateCollectiveAgreementResponse { agreement: Some(agreement) }).await
    }

    /// Agreements by signature date.
    pub async fn list_agreements(&self, size: u32, token: &str) -> Result<(Vec<pb::CollectiveAgreement>, String)> {
        let fp = fingerprint(&["agreements"]);
        let after: Option<(NaiveDate, Uuid)> = decode_token(DOMAIN, &fp, token)?;
        type Row = (Uuid, String, String, NaiveDate, Option<NaiveDate>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, title, kind, signed_date, didactic_support_date FROM collective_agreement \
             WHERE ($1::date IS NULL OR (signed_date, id) > ($1, $2)) ORDER BY signed_date, id LIMIT $3",
        )
        .bind(after.map(|a| a.0))
        .bind(after.map(|a| a.1))
        .bind(i64::from(size) + 1)
        .fetch_all(&self.pool)
        .await?;
        let (page, next) = finish_page(rows, size, &fp, |r| (r.3, r.0));
        Ok((page.into_iter().map(|(id, title, kind, signed, support)| agreement_proto(id, title, &kind, signed, support)).collect(), next))
    }

    /// Replaces the yearly counters of a year.
    pub async fn set_counters(&self, ctx: &WriteContext<'_>, year: i16, c: &pb::YearlyCounters) -> Result<pb::SetYearlyCountersResponse> {
        let mut tx = match self.begin(ctx).await? {
            Ok(tx) => tx,
            Err(previous) => return Ok(previous),
        };
        let date = |s: &str| if s.is_empty() { None } else { parse_date(s).ok() };
        sqlx::query(
            "INSERT INTO yearly_counters (year, signature_events, electronic_signatures, remote_meetings_with_votes, \
               remote_meetings_full_evoting, disability_diagnostic_date, disability_actions, disability_actions_done, litigation_hub_date) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (year) DO UPDATE SET signature_events = EXCLUDED.signature_events, \
               electronic_signatures = EXCLUDED.electronic_signatures, remote_meetings_with_votes = EXCLUDED.remote_meetings_with_votes, \
               remote_meetings_full_evoting = EXCLUDED.remote_meetings_full_evoting, \
               disability_diagnostic_date = EXCLUDED.disability_diagnostic_date, disability_actions = EXCLUDED.disability_actions, \
               disability_actions_done = EXCLUDED.disability_actions_done, litigation_hub_date = EXCLUDED.litigation_hub_date",
        )
        .bind(year)
        .bind(c.signature_events)
        .bind(c.electronic_signatures)
        .bind(c.remote_meetings_with_votes)
        .bind(c.remote_meetings_full_evoting)
        .bind(date(&c.disability_diagnostic_date))
        .bind(c.disability_actions)
        .bind(c.disability_actions_done)
        .bind(date(&c.litigation_hub_date))
        .execute(&mut *tx)
        .await?;
        let name = format!("yearlyCounters/{year}");
        let counters = pb::YearlyCounters { name: name.clone(), ..c.clone() };
        Self::finish(tx, ctx, &name, "YEARLY_COUNTERS_SET", "", pb::SetYearlyCountersResponse { counters: Some(counters) }).await
    }

    // ------------------------------------------------------------ GEPP view

    /// The GEPP view on `as_of`, a page of (structure, job) rows.
    #[allow(clippy::too_many_arguments)]
    pub async fn gepp_view(
        &self,
        finess: &str,
        as_of: NaiveDate,
        horizon_end: NaiveDate,
        retirement_age: i32,
        with_people: bool,
        size: u32,
        token: &str,
    ) -> Result<(Vec<pb::GeppRow>, String)> {
        let fp = fingerprint(&["gepp", finess, &as_of.to_string(), &horizon_end.to_string(), &retirement_age.to_string()]);
        let after: Option<(String, String)> = decode_token(DOMAIN, &fp, token)?;
        type Row = (String, String, String, i64, i64, i64, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "WITH auth AS ( \
               SELECT finess, job_code, sum(fte_hundredths)::bigint AS fte FROM position \
               WHERE effective_from <= $2 AND (effective_to IS NULL OR effective_to >= $2) GROUP BY 1, 2), \
             filled AS ( \
               SELECT a.finess, p.job_code, sum(a.fte_hundredths)::bigint AS fte FROM assignment a JOIN person p USING (employee_id) \
               WHERE a.start_date <= $2 AND (a.end_date IS NULL OR a.end_date >= $2) \
                 AND p.start_date <= $2 AND (p.end_date IS NULL OR p.end_date >= $2) GROUP BY 1, 2), \
             vac AS ( \
               SELECT finess, job_code, count(*) AS n, sum(fte_hundredths)::bigint AS fte FROM vacancy \
               WHERE state = 'OPEN' AND opened_date <= $2 GROUP BY 1, 2), \
             keys AS (SELECT finess, job_code FROM auth UNION SELECT finess, job_code FROM filled UNION SELECT finess, job_code FROM vac) \
             SELECT k.finess, k.job_code, j.family, coalesce(auth.fte, 0), coalesce(filled.fte, 0), coalesce(vac.n, 0), coalesce(vac.fte, 0) \
             FROM keys k JOIN job j ON j.code = k.job_code \
             LEFT JOIN auth USING (finess, job_code) LEFT JOIN filled USING (finess, job_code) LEFT JOIN vac USING (finess, job_code) \
             WHERE ($1 = '' OR k.finess = $1) AND ($3::text IS NULL OR (k.finess, k.job_code) > ($3, $4)) \
             ORDER BY k.finess, k.job_code LIMIT $5",
        )
        .bind(finess)
        .bind(as_of)
        .bind(after.as_ref().map(|a| a.0.clone()))
        .bind(after.as_ref().map(|a| a.1.clone()))
        .bind(i64::from(size) + 1)
        .fetch_all(&self.pool)
        .await?;
        let (page, next) = finish_page(rows, size, &fp, |r| (r.0.clone(), r.1.clone()));
        // People holding the page's posts on the date, for their foreseen departures.
        let structures: Vec<String> = page.iter().map(|r| r.0.clone()).collect();
        type Holder = (String, String, String, i32, i16, Option<NaiveDate>);
        let holders: Vec<Holder> = sqlx::query_as(
            "SELECT a.finess, p.job_code, p.employee_id, a.fte_hundredths, p.birth_year, p.end_date \
             FROM assignment a JOIN person p USING (employee_id) \
             WHERE a.finess = ANY($1) AND a.start_date <= $2 AND (a.end_date IS NULL OR a.end_date >= $2) \
               AND p.start_date <= $2 AND (p.end_date IS NULL OR p.end_date >= $2) \
             ORDER BY a.finess, p.job_code, p.employee_id",
        )
        .bind(&structures)
        .bind(as_of)
        .fetch_all(&self.pool)
        .await?;
        let mut departures: HashMap<(String, String), Vec<pb::ForeseenDeparture>> = HashMap::new();
        for (f, job, employee, fte, birth, end) in holders {
            if let Some((why, year)) = domain::foreseen_departure(i32::from(birth), end, as_of, horizon_end, retirement_age) {
                let reason = match why {
                    Departure::Retirement => pb::DepartureReason::Retirement,
                    Departure::ContractEnd => pb::DepartureReason::ContractEnd,
                };
                departures.entry((f, job)).or_default().push(pb::ForeseenDeparture {
                    reason: reason as i32,
                    year,
                    fte_hundredths: fte,
                    person: if with_people { format!("people/{employee}") } else { String::new() },
                });
            }
        }
        let rows = page
            .into_iter()
            .map(|(f, job, family, authorised, filled, open, open_fte)| {
                let mut leaving = departures.remove(&(f.clone(), job.clone())).unwrap_or_default();
                leaving.sort_by_key(|d| (d.year, d.reason, d.person.clone()));
                let departing: i32 = leaving.iter().map(|d| d.fte_hundredths).sum();
                pb::GeppRow {
                    departing_fte_hundredths: departing,
                    to_recruit_fte_hundredths: hundredths((authorised - filled + i64::from(departing) - open_fte).max(0)),
                    departures: leaving,
                    finess: f,
                    job: format!("jobs/{job}"),
                    family: family_pb(&family) as i32,
                    authorised_fte_hundredths: hundredths(authorised),
                    filled_fte_hundredths: hundredths(filled),
                    vacant_fte_hundredths: hundredths(authorised - filled),
                    open_vacancies: hundredths(open),
                    open_vacancy_fte_hundredths: hundredths(open_fte),
                }
            })
            .collect();
        Ok((rows, next))
    }

    // -------------------------------------------------------------- metrics

    /// Headcount and FTE on a date by a dimension. Trainees under contract
    /// are counted with the trainees, not in the workforce (hr.md 2.2).
    pub async fn workforce(&self, as_of: NaiveDate, dimension: pb::WorkforceDimension) -> Result<Vec<pb::WorkforceRow>> {
        let (key, from_assignments) = match dimension {
            pb::WorkforceDimension::Status => ("p.status", false),
            pb::WorkforceDimension::JobFamily => ("j.family", false),
            pb::WorkforceDimension::Structure => ("a.finess", true),
            pb::WorkforceDimension::Region => ("coalesce(s.region, 0)::text", true),
            pb::WorkforceDimension::Unspecified => ("'total'", false),
        };
        // By person attributes every active person counts (FTE 0 without an
        // assignment); by structure or region only people assigned there.
        let join = if from_assignments { "JOIN" } else { "LEFT JOIN" };
        let sql = format!(
            "SELECT {key} AS k, count(DISTINCT p.employee_id), coalesce(sum(a.fte_hundredths), 0)::bigint \
             FROM person p JOIN job j ON j.code = p.job_code \
             {join} assignment a ON a.employee_id = p.employee_id AND a.start_date <= $1 AND (a.end_date IS NULL OR a.end_date >= $1) \
             LEFT JOIN structure_cache s ON s.finess = a.finess \
             WHERE p.contract_type <> 'TRAINEE' AND p.start_date <= $1 AND (p.end_date IS NULL OR p.end_date >= $1) \
             GROUP BY 1 ORDER BY 1"
        );
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(&sql).bind(as_of).fetch_all(&self.pool).await?;
        Ok(rows
            .into_iter()
            .map(|(k, headcount, fte)| {
                let region = if dimension == pb::WorkforceDimension::Region {
                    k.parse::<i32>().ok().and_then(|r| filieris_proto::types::Region::try_from(r).ok()).unwrap_or_default()
                } else {
                    filieris_proto::types::Region::Unspecified
                };
                let key = if dimension == pb::WorkforceDimension::Region { short(region.as_str_name(), "REGION_") } else { k };
                pb::WorkforceRow { key, region: region as i32, headcount, fte_hundredths: fte }
            })
            .collect())
    }

    /// Managers (or managers and HR teams) in post on `day`, and those of
    /// them who completed `programme` between 1/1/2022 and `day`.
    async fn trained(conn: &mut PgConnection, day: NaiveDate, programme: &str, with_hr_teams: bool) -> Result<(i64, i64)> {
        let cog_start = NaiveDate::from_ymd_opt(COG_START_YEAR, 1, 1).unwrap_or(day);
        let row: (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE EXISTS ( \
                 SELECT 1 FROM training_participant tp JOIN training_action t ON t.id = tp.action_id \
                 WHERE tp.employee_id = p.employee_id AND tp.completed AND t.programme = $2 AND t.action_date BETWEEN $3 AND $1)) \
             FROM person p WHERE (p.manager OR ($4 AND p.hr_team)) \
               AND p.start_date <= $1 AND (p.end_date IS NULL OR p.end_date >= $1)",
        )
        .bind(day)
        .bind(programme)
        .bind(cog_start)
        .bind(with_hr_teams)
        .fetch_one(&mut *conn)
        .await?;
        Ok(row)
    }

    /// Yearly aggregates.
    pub async fn aggregates(&self, year: i32) -> Result<pb::GetHrAggregatesResponse> {
        let (start, end) = year_bounds(year)?;
        let mut conn = self.pool.acquire().await?;
        let (gross, employer): (i64, i64) = sqlx::query_as(
            "SELECT coalesce(sum(gross_cents), 0)::bigint, coalesce(sum(employer_cents), 0)::bigint FROM payroll_entry \
             WHERE month BETWEEN $1 AND $2",
        )
        .bind(start)
        .bind(end)
        .fetch_one(&mut *conn)
        .await?;
        let by_status: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT status, sum(gross_cents)::bigint, sum(employer_cents)::bigint FROM payroll_entry \
             WHERE month BETWEEN $1 AND $2 GROUP BY 1 ORDER BY 1",
        )
        .bind(start)
        .bind(end)
        .fetch_all(&mut *conn)
        .await?;
        let (cost, hours): (i64, i64) = sqlx::query_as(
            "SELECT coalesce(sum(cost_cents), 0)::bigint, \
               coalesce(sum(hours::bigint * (SELECT count(*) FROM training_participant tp WHERE tp.action_id = t.id)), 0)::bigint \
             FROM training_action t WHERE action_date BETWEEN $1 AND $2",
        )
        .bind(start)
        .bind(end)
        .fetch_one(&mut *conn)
        .await?;
        let mut managers_trained = Vec::new();
        for (programme, code, with_hr) in [
            (pb::TrainingProgramme::ChangeManagement, "CHANGE_MANAGEMENT", false),
            (pb::TrainingProgramme::ManagementByObjectives, "MANAGEMENT_BY_OBJECTIVES", false),
            (pb::TrainingProgramme::CareerPathManagement, "CAREER_PATH_MANAGEMENT", true),
        ] {
            let (population, trained) = Self::trained(&mut conn, end, code, with_hr).await?;
            managers_trained.push(pb::ProgrammeTraining {
                programme: programme as i32,
                managers_trained: Some(ratio(trained, population, if with_hr { "managers and HR-team members" } else { "managers" })),
            });
        }
        let (planned, held): (i64, i64) = sqlx::query_as("SELECT count(*), count(held_date) FROM appraisal WHERE campaign_year = $1")
            .bind(i16::try_from(year).unwrap_or(0))
            .fetch_one(&mut *conn)
            .await?;
        let absent: (i64,) = sqlx::query_as(
            "SELECT coalesce(sum(working_days), 0)::bigint FROM absence WHERE start_date BETWEEN $1 AND $2 AND reason = ANY($3)",
        )
        .bind(start)
        .bind(end)
        .bind(ABSENTEEISM_REASONS)
        .fetch_one(&mut *conn)
        .await?;
        // Theoretical working days: weekdays of each assignment within the contract and the year, weighted by its FTE share.
        let spans: Vec<(NaiveDate, Option<NaiveDate>, i32)> = sqlx::query_as(
            "SELECT greatest(a.start_date, p.start_date, $1), least(a.end_date, p.end_date, $2), a.fte_hundredths \
             FROM assignment a JOIN person p USING (employee_id) WHERE p.contract_type <> 'TRAINEE' \
               AND a.start_date <= $2 AND coalesce(a.end_date, 'infinity'::date) >= $1 \
               AND p.start_date <= $2 AND coalesce(p.end_date, 'infinity'::date) >= $1",
        )
        .bind(start)
        .bind(end)
        .fetch_all(&mut *conn)
        .await?;
        let theoretical: i64 = spans.iter().map(|(s, e, fte)| domain::weekdays(*s, e.unwrap_or(end).min(end)) * i64::from(*fte)).sum();
        type VacancyFacts = (NaiveDate, Option<NaiveDate>, bool, String);
        let vacancies: Vec<VacancyFacts> = sqlx::query_as(
            "SELECT opened_date, filled_date, medical, state FROM vacancy WHERE opened_date <= $2 AND (filled_date IS NULL OR filled_date >= $1)",
        )
        .bind(start)
        .bind(end)
        .fetch_all(&mut *conn)
        .await?;
        let opened: Vec<&VacancyFacts> = vacancies.iter().filter(|v| v.0 >= start).collect();
        let hires: Vec<&VacancyFacts> = vacancies.iter().filter(|v| v.1.is_some_and(|f| f >= start && f <= end)).collect();
        let open_at_end = vacancies.iter().filter(|v| v.1.is_none_or(|f| f > end)).count();
        let days: Vec<i32> = hires.iter().filter_map(|v| v.1.map(|f| i32::try_from((f - v.0).num_days()).unwrap_or(i32::MAX))).collect();
        let trainees: Vec<(String, i64)> = sqlx::query_as(
            "SELECT finess, count(DISTINCT trainee_ref) FROM trainee WHERE start_date <= $2 AND end_date >= $1 GROUP BY 1 ORDER BY 1",
        )
        .bind(start)
        .bind(end)
        .fetch_all(&mut *conn)
        .await?;
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(pb::GetHrAggregatesResponse {
            year,
            payroll_gross_cents: gross,
            payroll_employer_contributions_cents: employer,
            training_cost_cents: cost,
            training_hours: hours,
            training_share_of_payroll: Some(ratio(cost, gross, "cents")),
            managers_trained,
            appraisal_rate: Some(ratio(held, planned, "interviews")),
            absenteeism: Some(ratio(absent.0 * 100, theoretical, "hundredths of working days")),
            vacancies_opened: count(opened.len()),
            medical_vacancies_opened: count(opened.iter().filter(|v| v.2).count()),
            vacancies_open: count(open_at_end),
            hires: count(hires.len()),
            medical_hires: count(hires.iter().filter(|v| v.2).count()),
            median_days_to_hire: domain::lower_median(days),
            payroll_by_status: by_status
                .into_iter()
                .map(|(status, gross_cents, employer_contributions_cents)| pb::StatusPayroll {
                    status: pb::StaffStatus::from_str_name(&format!("STAFF_STATUS_{status}")).unwrap_or_default() as i32,
                    gross_cents,
                    employer_contributions_cents,
                })
                .collect(),
            trainees: trainees
                .into_iter()
                .map(|(finess, n)| pb::TraineesAtStructure { finess, trainees: i32::try_from(n).unwrap_or(i32::MAX) })
                .collect(),
        })
    }

    /// The counts of the eleven indicators of a year.
    pub async fn indicator_inputs(&self, year: i32) -> Result<IndicatorInputs> {
        let (start, end) = year_bounds(year)?;
        let mut conn = self.pool.acquire().await?;
        let (payroll, cost): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT coalesce(sum(gross_cents), 0)::bigint FROM payroll_entry WHERE month BETWEEN $1 AND $2), \
                    (SELECT coalesce(sum(cost_cents), 0)::bigint FROM training_action WHERE action_date BETWEEN $1 AND $2)",
        )
        .bind(start)
        .bind(end)
        .fetch_one(&mut *conn)
        .await?;
        let (managers, change) = Self::trained(&mut conn, end, "CHANGE_MANAGEMENT", false).await?;
        let (_, mbo) = Self::trained(&mut conn, end, "MANAGEMENT_BY_OBJECTIVES", false).await?;
        let (career_population, career_trained) = Self::trained(&mut conn, end, "CAREER_PATH_MANAGEMENT", true).await?;
        let agreements: (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE kind = 'HARMONISATION'), count(*) FILTER (WHERE kind = 'OVERHAUL'), count(*), \
                    count(*) FILTER (WHERE didactic_support_date <= $2) \
             FROM collective_agreement WHERE signed_date BETWEEN $1 AND $2",
        )
        .bind(start)
        .bind(end)
        .fetch_one(&mut *conn)
        .await?;
        type Counters = (i32, i32, i32, i32, Option<NaiveDate>, i32, i32, Option<NaiveDate>);
        let counters: Option<Counters> = sqlx::query_as(
            "SELECT signature_events, electronic_signatures, remote_meetings_with_votes, remote_meetings_full_evoting, \
                    disability_diagnostic_date, disability_actions, disability_actions_done, litigation_hub_date \
             FROM yearly_counters WHERE year = $1",
        )
        .bind(i16::try_from(year).unwrap_or(0))
        .fetch_optional(&mut *conn)
        .await?;
        // Milestones hold from the year they are reached: the earliest date recorded up to this year.
        let milestones: (Option<NaiveDate>, Option<NaiveDate>) =
            sqlx::query_as("SELECT min(disability_diagnostic_date), min(litigation_hub_date) FROM yearly_counters WHERE year <= $1")
                .bind(i16::try_from(year).unwrap_or(0))
                .fetch_one(&mut *conn)
                .await?;
        let c = counters.unwrap_or_default();
        Ok(IndicatorInputs {
            year,
            training_cost_cents: cost,
            payroll_gross_cents: payroll,
            managers,
            managers_change: change,
            managers_mbo: mbo,
            career_population,
            career_trained,
            diagnostic_date: c.4.or(milestones.0),
            disability_actions: i64::from(c.5),
            disability_done: i64::from(c.6),
            harmonisation_signed: agreements.0,
            overhaul_signed: agreements.1,
            agreements_signed: agreements.2,
            agreements_with_support: agreements.3,
            litigation_hub_date: c.7.or(milestones.1),
            signature_events: i64::from(c.0),
            electronic_signatures: i64::from(c.1),
            remote_meetings: i64::from(c.2),
            remote_meetings_evoting: i64::from(c.3),
        })
    }

    /// Counts of what the service holds (seed summaries, tests).
    pub async fn counts(&self) -> Result<BTreeMap<&'static str, i64>> {
        let mut out = BTreeMap::new();
        for table in ["job", "position", "person", "assignment", "payroll_entry", "training_action", "vacancy", "trainee"] {
            let n: (i64,) = sqlx::query_as(&format!("SELECT count(*) FROM {table}")).fetch_one(&self.pool).await?;
            out.insert(table, n.0);
        }
        Ok(out)
    }
}

fn agreement_proto(id: Uuid, title: String, kind: &str, signed: NaiveDate, support: Option<NaiveDate>) -> pb::CollectiveAgreement {
    pb::CollectiveAgreement {
        name: format!("collectiveAgreements/{id}"),
        title,
        r#type: pb::AgreementType::from_str_name(&format!("AGREEMENT_TYPE_{kind}")).unwrap_or_default() as i32,
        signed_date: signed.to_string(),
        didactic_support_date: opt_date(support),
    }
}

/// First and last day of a calendar year.
pub fn year_bounds(year: i32) -> Result<(NaiveDate, NaiveDate)> {
    match (NaiveDate::from_ymd_opt(year, 1, 1), NaiveDate::from_ymd_opt(year, 12, 31)) {
        (Some(s), Some(e)) if (2000..=2100).contains(&year) => Ok((s, e)),
        _ => Err(HrError::field("year", "must be a year from 2000 to 2100")),
    }
}

/// Validates one payroll row; a duplicate (month, structure, status) within
/// the batch is refused, naming the first row.
fn validate_payroll_row(
    row: i32,
    input: &pb::PayrollRowInput,
    structures: &StructureIndex,
    seen: &mut HashMap<(NaiveDate, String, String), i32>,
) -> std::result::Result<PayrollRow, Vec<(&'static str, String)>> {
    let mut problems = Vec::new();
    let month = parse_month(&input.month);
    if month.is_none() {
        problems.push(("month", "must be a month YYYYMM from 2000 to 2100".to_owned()));
    }
    let structure = structures.get(&input.finess);
    match (structure, month) {
        (None, _) => problems.push(("finess", format!("{:?} is not a structure known to the registry", input.finess))),
        (Some(s), Some(m)) if s.open_date > last_day(m) || s.close_date.is_some_and(|c| c <= m) => {
            problems.push(("finess", format!("{} is not open in {}", input.finess, input.month)));
        }
        _ => {}
    }
    let status = pb::StaffStatus::try_from(input.status).unwrap_or(pb::StaffStatus::Unspecified);
    if status == pb::StaffStatus::Unspecified {
        problems.push(("status", "is required".to_owned()));
    }
    if input.employer_contributions_cents < 0 && input.gross_cents >= 0 {
        problems.push(("employer_contributions_cents", "must not be negative unless the row corrects gross pay".to_owned()));
    }
    if input.headcount_paid < 0 {
        problems.push(("headcount_paid", "must not be negative".to_owned()));
    }
    let status = short(status.as_str_name(), "STAFF_STATUS_");
    if let Some(m) = month
        && problems.is_empty()
    {
        if let Some(first) = seen.get(&(m, input.finess.clone(), status.clone())) {
            problems.push(("month", format!("same month, structure and status as row {first}")));
        } else {
            seen.insert((m, input.finess.clone(), status.clone()), row);
        }
    }
    match (problems.is_empty(), month, structure) {
        (true, Some(month), Some(s)) => Ok(PayrollRow {
            row,
            month,
            finess: input.finess.clone(),
            region: s.region,
            status,
            gross: input.gross_cents,
            employer: input.employer_contributions_cents,
            headcount: input.headcount_paid,
        }),
        _ => Err(problems),
    }
}

/// `YYYYMM` → the month's first day.
pub fn parse_month(text: &str) -> Option<NaiveDate> {
    if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i32 = text[..4].parse().ok()?;
    let month: u32 = text[4..].parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, 1).filter(|_| (2000..=2100).contains(&year))
}

fn last_day(first: NaiveDate) -> NaiveDate {
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    };
    next.and_then(|n| n.pred_opt()).unwrap_or(first)
}
