//! PostgreSQL access of the records (tables of migration `…02_records`).
//!
//! Every write has the shape of `filieris_runtime::write`: idempotent replay
//! by request id, the insert, the audit and change-feed rows, the
//! idempotency record, one commit. A new version of a key is numbered under
//! a transaction advisory lock on that key, so concurrent corrections of the
//! same record get consecutive versions instead of a unique-key failure.

use chrono::{DateTime, NaiveDate, Utc};
use filieris_kernel::Period;
use filieris_proto::activity as pb;
use filieris_runtime::idempotency::IdempotencyKey;
use filieris_runtime::identity::Identity;
use filieris_runtime::pagination::{decode_token, fingerprint, finish_page};
use filieris_runtime::server::timestamp;
use filieris_runtime::write::{self, Begun, Recorded};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::domain::{
    StructureAt, ValidAdverseEvent, ValidGpCount, ValidMsCount, ValidPlacement, ValidStay, ValidSurvey, nights_within, survey_items,
};
use crate::domain::rows::StructureIndex;
use crate::error::{ActivityError, DOMAIN, Result};
use crate::storage::{ScopeFilter, Store};

/// Who writes, through which RPC, under which request id.
pub struct WriteContext<'a> {
    /// Caller.
    pub identity: &'a Identity,
    /// RPC, e.g. `ActivityRecordsService/RecordHospitalStay`.
    pub method: &'a str,
    /// Request id (may be empty).
    pub request_id: &'a str,
}

/// Data access of the records, over the activity store (same pool, same
/// registry cache, same pseudonym key).
#[derive(Clone)]
pub struct RecordStore {
    store: Store,
}

/// A page filter shared by the lists: structure and dates.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Normalised FINESS.
    pub finess: Option<String>,
    /// Inclusive date span the records must touch.
    pub span: Option<(NaiveDate, NaiveDate)>,
    /// Every version rather than the current ones (where records have versions).
    pub history: bool,
}

impl ListFilter {
    fn fingerprint(&self, list: &str) -> String {
        let (start, end) = self.span.map(|(s, e)| (s.to_string(), e.to_string())).unwrap_or_default();
        fingerprint(&[list, self.finess.as_deref().unwrap_or(""), &start, &end, if self.history { "history" } else { "current" }])
    }

    fn start(&self) -> Option<NaiveDate> {
        self.span.map(|s| s.0)
    }

    fn end(&self) -> Option<NaiveDate> {
        self.span.map(|s| s.1)
    }
}

/// Sums of the current monthly medico-social counts of a period and scope.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub struct MsTotals {
    /// Days realised.
    pub days: i64,
    /// Σ capacity × days of the month.
    pub capacity_days: i64,
    /// Hours delivered.
    pub hours_delivered: f64,
    /// Hours planned.
    pub hours_planned: f64,
    /// Entries.
    pub entries: i64,
    /// Exits.
    pub exits: i64,
    /// Monthly counts summed.
    pub counts: i64,
    /// Their distinct status codes.
    pub statuses: Vec<i16>,
}

/// HC stays of an establishment over a month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StayTotals {
    /// Nights within the month.
    pub patient_days: i64,
    /// Stays present in the month.
    pub stays: i64,
    /// Admissions in the month.
    pub admissions: i64,
    /// Discharges in the month.
    pub discharges: i64,
}

fn lock_key(parts: &[&str]) -> i64 {
    let mut h = Sha256::new();
    h.update(b"activity-record\0");
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b)
}

/// Serialises the writers of one record key until the transaction ends.
async fn lock(conn: &mut PgConnection, parts: &[&str]) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(lock_key(parts)).execute(conn).await?;
    Ok(())
}

async fn record(
    conn: &mut PgConnection,
    ctx: &WriteContext<'_>,
    resource: &str,
    change_type: &str,
    revision: i32,
    detail: &str,
) -> Result<()> {
    let r = Recorded {
        identity: ctx.identity,
        method: ctx.method,
        request_id: ctx.request_id,
        resource,
        change_type,
        revision: i64::from(revision),
        detail,
    };
    Ok(write::record(conn, &r).await?)
}

fn scope_parts(scope: &ScopeFilter) -> (Option<i16>, Option<Vec<Uuid>>) {
    match scope {
        ScopeFilter::All => (None, None),
        ScopeFilter::Region(r) => (Some(*r), None),
        ScopeFilter::Structures(ids) => (None, Some(ids.clone())),
    }
}

fn month_code(d: NaiveDate) -> String {
    d.format("%Y%m").to_string()
}

fn opt_date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

// ------------------------------------------------------------------- rows

const GP_COLUMNS: &str = "id, finess, year, version, patients, status, letter_reference, letter_date, imputed_from_year, \
                          dispute_reference, source, recorded_at";

#[derive(sqlx::FromRow)]
struct GpRow {
    id: i64,
    finess: String,
    year: i16,
    version: i32,
    patients: i64,
    status: i16,
    letter_reference: String,
    letter_date: Option<NaiveDate>,
    imputed_from_year: Option<i16>,
    dispute_reference: String,
    source: String,
    recorded_at: DateTime<Utc>,
}

impl GpRow {
    fn to_proto(&self) -> pb::GpPatientCount {
        pb::GpPatientCount {
            finess: self.finess.clone(),
            year: self.year.into(),
            patients: self.patients,
            status: self.status.into(),
            letter_reference: self.letter_reference.clone(),
            letter_date: opt_date(self.letter_date),
            imputed_from_year: self.imputed_from_year.map(i32::from).unwrap_or_default(),
            imputed: self.imputed_from_year.is_some(),
            dispute_reference: self.dispute_reference.clone(),
            source: self.source.clone(),
            version: self.version,
            record_time: Some(timestamp(self.recorded_at)),
        }
    }
}

const STAY_COLUMNS: &str = "id, finess, stay_ref, version, mode, unit, admission_date, discharge_date, scheme, recorded_at";

#[derive(sqlx::FromRow)]
struct StayRow {
    id: i64,
    finess: String,
    stay_ref: String,
    version: i32,
    mode: i16,
    unit: String,
    admission_date: NaiveDate,
    discharge_date: Option<NaiveDate>,
    scheme: i16,
    recorded_at: DateTime<Utc>,
}

impl StayRow {
    fn to_proto(&self) -> pb::HospitalStay {
        pb::HospitalStay {
            finess: self.finess.clone(),
            stay_ref: self.stay_ref.clone(),
            mode: self.mode.into(),
            unit: self.unit.clone(),
            admission_date: self.admission_date.to_string(),
            discharge_date: opt_date(self.discharge_date),
            // The pseudonym never leaves the service.
            patient: None,
            scheme: self.scheme.into(),
            nights: self.discharge_date.map(|d| (d - self.admission_date).num_days()).unwrap_or_default(),
            version: self.version,
            record_time: Some(timestamp(self.recorded_at)),
        }
    }
}

const MS_COLUMNS: &str = "id, finess, month, version, service, capacity, days_realised, hours_delivered, hours_planned, users_total, \
                          users_mining, users_other, entries, exits, status, source, recorded_at";

#[derive(sqlx::FromRow)]
struct MsRow {
    id: i64,
    finess: String,
    month: NaiveDate,
    version: i32,
    service: i16,
    capacity: i32,
    days_realised: i64,
    hours_delivered: f64,
    hours_planned: f64,
    users_total: i32,
    users_mining: i32,
    users_other: i32,
    entries: i32,
    exits: i32,
    status: i16,
    source: String,
    recorded_at: DateTime<Utc>,
}

impl MsRow {
    fn to_proto(&self) -> pb::MedicoSocialCount {
        pb::MedicoSocialCount {
            finess: self.finess.clone(),
            service: self.service.into(),
            month: month_code(self.month),
            capacity: self.capacity,
            days_realised: self.days_realised,
            hours_delivered: self.hours_delivered,
            hours_planned: self.hours_planned,
            users_total: self.users_total,
            users_mining: self.users_mining,
            users_other: self.users_other,
            entries: self.entries,
            exits: self.exits,
            status: self.status.into(),
            source: self.source.clone(),
            version: self.version,
            record_time: Some(timestamp(self.recorded_at)),
        }
    }
}

const PLACEMENT_COLUMNS: &str = "id, finess, trainee_ref, start_date, version, category, end_date, supervisor_ref, recorded_at";

#[derive(sqlx::FromRow)]
struct PlacementRow {
    id: i64,
    finess: String,
    trainee_ref: String,
    start_date: NaiveDate,
    version: i32,
    category: i16,
    end_date: NaiveDate,
    supervisor_ref: String,
    recorded_at: DateTime<Utc>,
}

impl PlacementRow {
    fn to_proto(&self) -> pb::TraineePlacement {
        pb::TraineePlacement {
            finess: self.finess.clone(),
            category: self.category.into(),
            trainee_ref: self.trainee_ref.clone(),
            start_date: self.start_date.to_string(),
            end_date: self.end_date.to_string(),
            supervisor_ref: self.supervisor_ref.clone(),
            version: self.version,
            record_time: Some(timestamp(self.recorded_at)),
        }
    }
}

const SURVEY_COLUMNS: &str =
    "id, finess, period, population, instrument, version, respondents, overall_result_hundredths, items, action_plan_ref, recorded_at";

#[derive(sqlx::FromRow)]
struct SurveyRow {
    id: i64,
    finess: String,
    period: String,
    population: i16,
    instrument: String,
    version: i32,
    respondents: i32,
    overall_result_hundredths: i32,
    items: serde_json::Value,
    action_plan_ref: String,
    recorded_at: DateTime<Utc>,
}

impl SurveyRow {
    fn to_proto(&self) -> pb::SatisfactionSurvey {
        pb::SatisfactionSurvey {
            finess: self.finess.clone(),
            period: self.period.clone(),
            population: self.population.into(),
            instrument: self.instrument.clone(),
            respondents: self.respondents,
            overall_result_hundredths: self.overall_result_hundredths,
            items: survey_items(&self.items),
            action_plan_ref: self.action_plan_ref.clone(),
            version: self.version,
            record_time: Some(timestamp(self.recorded_at)),
        }
    }
}

const EVENT_COLUMNS: &str =
    "id, finess, declaration_ref, version, event_date, declaration_date, severity, category, analysis_status, recorded_at";

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    finess: String,
    declaration_ref: String,
    version: i32,
    event_date: NaiveDate,
    declaration_date: NaiveDate,
    severity: i16,
    category: String,
    analysis_status: i16,
    recorded_at: DateTime<Utc>,
}

impl EventRow {
    fn to_proto(&self) -> pb::AdverseEvent {
        pb::AdverseEvent {
            finess: self.finess.clone(),
            declaration_ref: self.declaration_ref.clone(),
            event_date: self.event_date.to_string(),
            declaration_date: self.declaration_date.to_string(),
            severity: self.severity.into(),
            category: self.category.clone(),
            analysis_status: self.analysis_status.into(),
            version: self.version,
            record_time: Some(timestamp(self.recorded_at)),
        }
    }
}

#[derive(sqlx::FromRow)]
struct ConsolidationRow {
    id: i64,
    structure_id: Uuid,
    year: i16,
    finess: String,
    consolidation_date: NaiveDate,
    caller: String,
    recorded_at: DateTime<Utc>,
}

const CONSOLIDATION_COLUMNS: &str = "id, structure_id, year, finess, consolidation_date, caller, recorded_at";

impl ConsolidationRow {
    fn to_proto(&self, counts: &[(Uuid, i16, i16, String, i64)]) -> pb::AdverseEventConsolidation {
        let mine: Vec<pb::AdverseEventCount> = counts
            .iter()
            .filter(|c| c.0 == self.structure_id && c.1 == self.year)
            .map(|c| pb::AdverseEventCount { severity: c.2.into(), category: c.3.clone(), events: c.4 })
            .collect();
        let by = |s: pb::AdverseEventSeverity| mine.iter().filter(|c| c.severity == s as i32).map(|c| c.events).sum::<i64>();
        pb::AdverseEventConsolidation {
            finess: self.finess.clone(),
            year: self.year.into(),
            consolidation_date: self.consolidation_date.to_string(),
            events: mine.iter().map(|c| c.events).sum(),
            ei: by(pb::AdverseEventSeverity::Ei),
            eig: by(pb::AdverseEventSeverity::Eig),
            counts: mine,
            consolidated_by: self.caller.clone(),
            consolidate_time: Some(timestamp(self.recorded_at)),
        }
    }
}

// ------------------------------------------------------------------ store

impl RecordStore {
    /// Records over the activity store.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The pool (audit of refused calls).
    pub fn pool(&self) -> &PgPool {
        self.store.pool()
    }

    /// The acts store (structure cache lookups shared with the acts API).
    pub fn acts(&self) -> &Store {
        &self.store
    }

    /// The pseudonymisation key of the patients.
    pub fn pseudonym_key(&self) -> &filieris_kernel::pseudonym::PseudonymKey {
        self.store.pseudonym_key()
    }

    /// The registry cache by FINESS.
    pub async fn structure_index(&self) -> Result<StructureIndex> {
        self.store.structure_index().await
    }

    /// Resolves a metric scope; an unknown FINESS is a scope error.
    pub async fn scope_filter(&self, scope: &crate::domain::scope::Scope) -> Result<ScopeFilter> {
        use crate::domain::scope::Scope;
        match scope {
            Scope::National => Ok(ScopeFilter::All),
            Scope::Region(r) => Ok(ScopeFilter::Region(crate::domain::codes::region_code(*r))),
            Scope::Structure(f) => {
                let ids = self.store.structure_ids(&[f.as_str().to_owned()]).await?;
                ids.get(f.as_str())
                    .map(|id| ScopeFilter::Structures(vec![*id]))
                    .ok_or_else(|| ActivityError::Scope(format!("FINESS {} is not a structure of the registry", f.as_str())))
            }
            Scope::Group(_) => Err(ActivityError::field("scope", "records are aggregated nationally, by region or by structure")),
        }
    }

    async fn begin<R: prost::Message + Default>(&self, key: Option<&IdempotencyKey>) -> Result<Begun<R>> {
        Ok(write::begin(DOMAIN, self.pool(), key).await?)
    }

    async fn commit<R: prost::Message>(tx: Transaction<'static, Postgres>, key: Option<&IdempotencyKey>, response: &R) -> Result<()> {
        Ok(write::commit(DOMAIN, tx, key, response).await?)
    }

    // ------------------------------------------------------- GP of record

    /// Adds the next version of a (structure, year) GP-of-record count.
    pub async fn record_gp_count(
        &self,
        ctx: &WriteContext<'_>,
        c: &ValidGpCount,
        key: Option<&IdempotencyKey>,
    ) -> Result<pb::RecordGpPatientCountResponse> {
        let mut tx = match self.begin(key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        lock(&mut tx, &["gp_patient_count", &c.structure.id.to_string(), &c.year.to_string()]).await?;
        let row: GpRow = sqlx::query_as(&format!(
            "INSERT INTO gp_patient_count (structure_id, finess, year, version, patients, status, letter_reference, letter_date, \
             imputed_from_year, dispute_reference, source, caller) \
             SELECT $1, $2, $3, coalesce(max(version), 0) + 1, $4, $5, $6, $7, $8, $9, $10, $11 \
             FROM gp_patient_count WHERE structure_id = $1 AND year = $3 RETURNING {GP_COLUMNS}"
        ))
        .bind(c.structure.id)
        .bind(&c.structure.finess)
        .bind(c.year)
        .bind(c.patients)
        .bind(c.status)
        .bind(&c.letter_reference)
        .bind(c.letter_date)
        .bind(c.imputed_from_year)
        .bind(&c.dispute_reference)
        .bind(&c.source)
        .bind(&ctx.identity.caller)
        .fetch_one(&mut *tx)
        .await?;
        let resource = format!("gpPatientCounts/{}/{}", c.structure.finess, c.year);
        let detail = format!("{} patients, status {}", c.patients, c.status);
        record(&mut tx, ctx, &resource, "GP_PATIENT_COUNT_RECORDED", row.version, &detail).await?;
        let response = pb::RecordGpPatientCountResponse { count: Some(row.to_proto()) };
        Self::commit(tx, key, &response).await?;
        Ok(response)
    }

    /// GP-of-record counts in recording order; `span` selects reference years.
    pub async fn list_gp_counts(&self, f: &ListFilter, size: u32, token: &str) -> Result<(Vec<pb::GpPatientCount>, String)> {
        let fp = f.fingerprint("gp_patient_counts");
        let after: Option<i64> = decode_token(DOMAIN, &fp, token)?;
        let rows: Vec<GpRow> = sqlx::query_as(&format!(
            "SELECT {GP_COLUMNS} FROM gp_patient_count g WHERE ($1::bigint IS NULL OR id > $1) AND ($2::text IS NULL OR finess = $2) \
             AND ($3::date IS NULL OR make_date(year, 12, 31) >= $3) AND ($4::date IS NULL OR make_date(year, 1, 1) <= $4) \
             AND ($5 OR NOT EXISTS (SELECT 1 FROM gp_patient_count n WHERE n.structure_id = g.structure_id AND n.year = g.year \
                                    AND n.version > g.version)) \
             ORDER BY id LIMIT $6"
        ))
        .bind(after)
        .bind(&f.finess)
        .bind(f.start())
        .bind(f.end())
        .bind(f.history)
        .bind(i64::from(size) + 1)
        .fetch_all(self.pool())
        .await?;
        let (rows, next) = finish_page(rows, size, &fp, |r| r.id);
        Ok((rows.iter().map(GpRow::to_proto).collect(), next))
    }

    /// Current GP-of-record counts of a year in a scope, by FINESS.
    pub async fn gp_current(&self, year: i16, scope: &ScopeFilter) -> Result<Vec<pb::GpPatientCount>> {
        let (region, ids) = scope_parts(scope);
        let rows: Vec<GpRow> = sqlx::query_as(&format!(
            "SELECT {GP_COLUMNS} FROM (SELECT DISTINCT ON (g.structure_id) g.* FROM gp_patient_count g \
               JOIN structure_cache s ON s.structure_id = g.structure_id \
               WHERE g.year = $1 AND ($2::smallint IS NULL OR s.region = $2) AND ($3::uuid[] IS NULL OR g.structure_id = ANY($3)) \
               ORDER BY g.structure_id, g.version DESC) c ORDER BY finess"
        ))
        .bind(year)
        .bind(region)
        .bind(ids)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(GpRow::to_proto).collect())
    }

    // -------------------------------------------------------------- stays

    /// Adds the next version of a (establishment, stay_ref) stay.
    pub async fn record_stay(
        &self,
        ctx: &WriteContext<'_>,
        s: &ValidStay,
        key: Option<&IdempotencyKey>,
    ) -> Result<pb::RecordHospitalStayResponse> {
        let mut tx = match self.begin(key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        lock(&mut tx, &["hospital_stay", &s.structure.id.to_string(), &s.stay_ref]).await?;
        let row: StayRow = sqlx::query_as(&format!(
            "INSERT INTO hospital_stay (structure_id, finess, stay_ref, version, mode, unit, admission_date, discharge_date, patient, \
             identity_basis, scheme, caller) \
             SELECT $1, $2, $3, coalesce(max(version), 0) + 1, $4, $5, $6, $7, $8, $9, $10, $11 \
             FROM hospital_stay WHERE structure_id = $1 AND stay_ref = $3 RETURNING {STAY_COLUMNS}"
        ))
        .bind(s.structure.id)
        .bind(&s.structure.finess)
        .bind(&s.stay_ref)
        .bind(s.mode)
        .bind(&s.unit)
        .bind(s.admission)
        .bind(s.discharge)
        .bind(&s.patient[..])
        .bind(s.identity_basis)
        .bind(s.scheme)
        .bind(&ctx.identity.caller)
        .fetch_one(&mut *tx)
        .await?;
        let resource = format!("hospitalStays/{}/{}", s.structure.finess, s.stay_ref);
        let detail = format!("admitted {}, discharged {}", s.admission, opt_date(s.discharge));
        record(&mut tx, ctx, &resource, "HOSPITAL_STAY_RECORDED", row.version, &detail).await?;
        let response = pb::RecordHospitalStayResponse { stay: Some(row.to_proto()) };
        Self::commit(tx, key, &response).await?;
        Ok(response)
    }

    /// Current stays in recording order; `span` keeps stays present in it.
    pub async fn list_stays(&self, f: &ListFilter, size: u32, token: &str) -> Result<(Vec<pb::HospitalStay>, String)> {
        let fp = f.fingerprint("hospital_stays");
        let after: Option<i64> = decode_token(DOMAIN, &fp, token)?;
        let rows: Vec<StayRow> = sqlx::query_as(&format!(
            "SELECT {STAY_COLUMNS} FROM hospital_stay h WHERE ($1::bigint IS NULL OR id > $1) AND ($2::text IS NULL OR finess = $2) \
             AND ($3::date IS NULL OR discharge_date IS NULL OR discharge_date >= $3) AND ($4::date IS NULL OR admission_date <= $4) \
             AND NOT EXISTS (SELECT 1 FROM hospital_stay n WHERE n.structure_id = h.structure_id AND n.stay_ref = h.stay_ref \
                             AND n.version > h.version) \
             ORDER BY id LIMIT $5"
        ))
        .bind(after)
        .bind(&f.finess)
        .bind(f.start())
        .bind(f.end())
        .bind(i64::from(size) + 1)
        .fetch_all(self.pool())
        .await?;
        let (rows, next) = finish_page(rows, size, &fp, |r| r.id);
        Ok((rows.iter().map(StayRow::to_proto).collect(), next))
    }

    /// Full-time (HC) stays of an establishment over `[start, end]`, from
    /// their current versions; an ongoing stay runs to `open_until`.
    pub async fn hc_stays(&self, structure: Uuid, start: NaiveDate, end: NaiveDate, open_until: NaiveDate) -> Result<StayTotals> {
        let rows: Vec<(NaiveDate, Option<NaiveDate>)> = sqlx::query_as(
            "SELECT admission_date, discharge_date FROM ( \
               SELECT DISTINCT ON (stay_ref) mode, admission_date, discharge_date FROM hospital_stay WHERE structure_id = $1 \
               ORDER BY stay_ref, version DESC) c \
             WHERE mode = $2 AND admission_date <= $4 AND (discharge_date IS NULL OR discharge_date >= $3)",
        )
        .bind(structure)
        .bind(super::domain::STAY_HC)
        .bind(start)
        .bind(end)
        .fetch_all(self.pool())
        .await?;
        let within = |d: NaiveDate| start <= d && d <= end;
        Ok(StayTotals {
            patient_days: rows.iter().map(|(a, d)| nights_within(*a, *d, open_until, start, end)).sum(),
            stays: rows.len() as i64,
            admissions: rows.iter().filter(|(a, _)| within(*a)).count() as i64,
            discharges: rows.iter().filter(|(_, d)| d.is_some_and(within)).count() as i64,
        })
    }

    // ------------------------------------------------------ medico-social

    /// Adds the next version of a (structure, month) count.
    pub async fn record_ms_count(
        &self,
        ctx: &WriteContext<'_>,
        c: &ValidMsCount,
        key: Option<&IdempotencyKey>,
    ) -> Result<pb::RecordMedicoSocialCountResponse> {
        let mut tx = match self.begin(key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        lock(&mut tx, &["medico_social_count", &c.structure.id.to_string(), &c.month.to_string()]).await?;
        let row: MsRow = sqlx::query_as(&format!(
            "INSERT INTO medico_social_count (structure_id, finess, month, version, service, capacity, days_realised, hours_delivered, \
             hours_planned, users_total, users_mining, users_other, entries, exits, status, source, caller) \
             SELECT $1, $2, $3, coalesce(max(version), 0) + 1, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16 \
             FROM medico_social_count WHERE structure_id = $1 AND month = $3 RETURNING {MS_COLUMNS}"
        ))
        .bind(c.structure.id)
        .bind(&c.structure.finess)
        .bind(c.month)
        .bind(c.service)
        .bind(c.capacity)
        .bind(c.days_realised)
        .bind(c.hours_delivered)
        .bind(c.hours_planned)
        .bind(c.users_total)
        .bind(c.users_mining)
        .bind(c.users_other)
        .bind(c.entries)
        .bind(c.exits)
        .bind(c.status)
        .bind(&c.source)
        .bind(&ctx.identity.caller)
        .fetch_one(&mut *tx)
        .await?;
        let resource = format!("medicoSocialCounts/{}/{}", c.structure.finess, month_code(c.month));
        let detail = format!("{} days, {} places", c.days_realised, c.capacity);
        record(&mut tx, ctx, &resource, "MEDICO_SOCIAL_COUNT_RECORDED", row.version, &detail).await?;
        let response = pb::RecordMedicoSocialCountResponse { count: Some(row.to_proto()) };
        Self::commit(tx, key, &response).await?;
        Ok(response)
    }

    /// Monthly counts in recording order; `span` selects months.
    pub async fn list_ms_counts(&self, f: &ListFilter, size: u32, token: &str) -> Result<(Vec<pb::MedicoSocialCount>, String)> {
        let fp = f.fingerprint("medico_social_counts");
        let after: Option<i64> = decode_token(DOMAIN, &fp, token)?;
        let rows: Vec<MsRow> = sqlx::query_as(&format!(
            "SELECT {MS_COLUMNS} FROM medico_social_count m WHERE ($1::bigint IS NULL OR id > $1) AND ($2::text IS NULL OR finess = $2) \
             AND ($3::date IS NULL OR month >= date_trunc('month', $3)::date) AND ($4::date IS NULL OR month <= $4) \
             AND ($5 OR NOT EXISTS (SELECT 1 FROM medico_social_count n WHERE n.structure_id = m.structure_id AND n.month = m.month \
                                    AND n.version > m.version)) \
             ORDER BY id LIMIT $6"
        ))
        .bind(after)
        .bind(&f.finess)
        .bind(f.start())
        .bind(f.end())
        .bind(f.history)
        .bind(i64::from(size) + 1)
        .fetch_all(self.pool())
        .await?;
        let (rows, next) = finish_page(rows, size, &fp, |r| r.id);
        Ok((rows.iter().map(MsRow::to_proto).collect(), next))
    }

    /// Sums of the current monthly counts of the months in `period`.
    pub async fn ms_totals(&self, period: &Period, scope: &ScopeFilter, service: Option<i16>) -> Result<MsTotals> {
        let (region, ids) = scope_parts(scope);
        let totals: MsTotals = sqlx::query_as(
            "SELECT coalesce(sum(c.days_realised), 0)::bigint AS days, \
                    coalesce(sum(c.capacity::bigint * ((c.month + interval '1 month')::date - c.month)), 0)::bigint AS capacity_days, \
                    coalesce(sum(c.hours_delivered), 0)::float8 AS hours_delivered, \
                    coalesce(sum(c.hours_planned), 0)::float8 AS hours_planned, \
                    coalesce(sum(c.entries), 0)::bigint AS entries, coalesce(sum(c.exits), 0)::bigint AS exits, \
                    count(*) AS counts, coalesce(array_agg(DISTINCT c.status), '{}'::smallint[]) AS statuses \
             FROM (SELECT DISTINCT ON (structure_id, month) * FROM medico_social_count WHERE month BETWEEN $1 AND $2 \
                   ORDER BY structure_id, month, version DESC) c \
             JOIN structure_cache s ON s.structure_id = c.structure_id \
             WHERE ($3::smallint IS NULL OR s.region = $3) AND ($4::uuid[] IS NULL OR c.structure_id = ANY($4)) \
               AND ($5::smallint IS NULL OR c.service = $5)",
        )
        .bind(period.start())
        .bind(period.end())
        .bind(region)
        .bind(ids)
        .bind(service)
        .fetch_one(self.pool())
        .await?;
        Ok(totals)
    }

    // ----------------------------------------------------------- trainees

    /// Adds the next version of a (structure, trainee, start date) placement.
    pub async fn record_placement(
        &self,
        ctx: &WriteContext<'_>,
        p: &ValidPlacement,
        key: Option<&IdempotencyKey>,
    ) -> Result<pb::RecordTraineePlacementResponse> {
        let mut tx = match self.begin(key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        lock(&mut tx, &["trainee_placement", &p.structure.id.to_string(), &p.trainee_ref, &p.start.to_string()]).await?;
        let row: PlacementRow = sqlx::query_as(&format!(
            "INSERT INTO trainee_placement (structure_id, finess, trainee_ref, start_date, version, category, end_date, supervisor_ref, caller) \
             SELECT $1, $2, $3, $4, coalesce(max(version), 0) + 1, $5, $6, $7, $8 \
             FROM trainee_placement WHERE structure_id = $1 AND trainee_ref = $3 AND start_date = $4 RETURNING {PLACEMENT_COLUMNS}"
        ))
        .bind(p.structure.id)
        .bind(&p.structure.finess)
        .bind(&p.trainee_ref)
        .bind(p.start)
        .bind(p.category)
        .bind(p.end)
        .bind(&p.supervisor_ref)
        .bind(&ctx.identity.caller)
        .fetch_one(&mut *tx)
        .await?;
        let resource = format!("traineePlacements/{}/{}/{}", p.structure.finess, p.trainee_ref, p.start);
        let detail = format!("{} to {}", p.start, p.end);
        record(&mut tx, ctx, &resource, "TRAINEE_PLACEMENT_RECORDED", row.version, &detail).await?;
        let response = pb::RecordTraineePlacementResponse { placement: Some(row.to_proto()) };
        Self::commit(tx, key, &response).await?;
        Ok(response)
    }

    /// Current placements in recording order; `span` keeps those overlapping it.
    pub async fn list_placements(&self, f: &ListFilter, size: u32, token: &str) -> Result<(Vec<pb::TraineePlacement>, String)> {
        let fp = f.fingerprint("trainee_placements");
        let after: Option<i64> = decode_token(DOMAIN, &fp, token)?;
        let rows: Vec<PlacementRow> = sqlx::query_as(&format!(
            "SELECT {PLACEMENT_COLUMNS} FROM trainee_placement p WHERE ($1::bigint IS NULL OR id > $1) AND ($2::text IS NULL OR finess = $2) \
             AND ($3::date IS NULL OR end_date >= $3) AND ($4::date IS NULL OR start_date <= $4) \
             AND NOT EXISTS (SELECT 1 FROM trainee_placement n WHERE n.structure_id = p.structure_id AND n.trainee_ref = p.trainee_ref \
                             AND n.start_date = p.start_date AND n.version > p.version) \
             ORDER BY id LIMIT $5"
        ))
        .bind(after)
        .bind(&f.finess)
        .bind(f.start())
        .bind(f.end())
        .bind(i64::from(size) + 1)
        .fetch_all(self.pool())
        .await?;
        let (rows, next) = finish_page(rows, size, &fp, |r| r.id);
        Ok((rows.iter().map(PlacementRow::to_proto).collect(), next))
    }

    /// Trainees per (structure, category) over a period: current placements
    /// overlapping it, each trainee once per structure, in the category of
    /// their latest placement there.
    pub async fn trainee_counts(
        &self,
        period: &Period,
        scope: &ScopeFilter,
        categories: Option<&[String]>,
    ) -> Result<Vec<(Uuid, i16, i64)>> {
        let (region, ids) = scope_parts(scope);
        let rows = sqlx::query_as(
            "WITH cur AS ( \
               SELECT DISTINCT ON (structure_id, trainee_ref, start_date) structure_id, trainee_ref, start_date, end_date, category \
               FROM trainee_placement ORDER BY structure_id, trainee_ref, start_date, version DESC), \
             per AS ( \
               SELECT DISTINCT ON (c.structure_id, c.trainee_ref) c.structure_id, c.category FROM cur c \
               JOIN structure_cache s ON s.structure_id = c.structure_id \
               WHERE c.start_date <= $2 AND c.end_date >= $1 \
                 AND ($3::smallint IS NULL OR s.region = $3) AND ($4::uuid[] IS NULL OR c.structure_id = ANY($4)) \
                 AND ($5::text[] IS NULL OR s.category = ANY($5)) \
               ORDER BY c.structure_id, c.trainee_ref, c.start_date DESC) \
             SELECT structure_id, category, count(*) FROM per GROUP BY 1, 2",
        )
        .bind(period.start())
        .bind(period.end())
        .bind(region)
        .bind(ids)
        .bind(categories)
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    /// Establishments of the scope and categories open at some time in the
    /// period, and how many of them have a survey whose period overlaps it.
    pub async fn surveyed_structures(&self, period: &Period, scope: &ScopeFilter, categories: Option<&[String]>) -> Result<(i64, i64)> {
        let (region, ids) = scope_parts(scope);
        Ok(sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE EXISTS ( \
               SELECT 1 FROM satisfaction_survey v WHERE v.structure_id = s.structure_id \
               AND v.period_start <= $2 AND v.period_end >= $1)) \
             FROM structure_cache s WHERE s.level = 'ESTABLISHMENT' AND s.open_date <= $2 \
               AND (s.close_date IS NULL OR s.close_date >= $1) \
               AND ($3::smallint IS NULL OR s.region = $3) AND ($4::uuid[] IS NULL OR s.structure_id = ANY($4)) \
               AND ($5::text[] IS NULL OR s.category = ANY($5))",
        )
        .bind(period.start())
        .bind(period.end())
        .bind(region)
        .bind(ids)
        .bind(categories)
        .fetch_one(self.pool())
        .await?)
    }

    // ------------------------------------------------------------ surveys

    /// Adds the next version of a (structure, period, population, instrument) survey.
    pub async fn record_survey(
        &self,
        ctx: &WriteContext<'_>,
        s: &ValidSurvey,
        key: Option<&IdempotencyKey>,
    ) -> Result<pb::RecordSatisfactionSurveyResponse> {
        let mut tx = match self.begin(key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        let period = s.period.to_string();
        lock(&mut tx, &["satisfaction_survey", &s.structure.id.to_string(), &period, &s.population.to_string(), &s.instrument]).await?;
        let row: SurveyRow = sqlx::query_as(&format!(
            "INSERT INTO satisfaction_survey (structure_id, finess, period, period_start, period_end, population, instrument, version, \
             respondents, overall_result_hundredths, items, action_plan_ref, caller) \
             SELECT $1, $2, $3, $4, $5, $6, $7, coalesce(max(version), 0) + 1, $8, $9, $10, $11, $12 \
             FROM satisfaction_survey WHERE structure_id = $1 AND period = $3 AND population = $6 AND instrument = $7 \
             RETURNING {SURVEY_COLUMNS}"
        ))
        .bind(s.structure.id)
        .bind(&s.structure.finess)
        .bind(&period)
        .bind(s.period.start())
        .bind(s.period.end())
        .bind(s.population)
        .bind(&s.instrument)
        .bind(s.respondents)
        .bind(s.overall)
        .bind(&s.items)
        .bind(&s.action_plan_ref)
        .bind(&ctx.identity.caller)
        .fetch_one(&mut *tx)
        .await?;
        let resource = format!("satisfactionSurveys/{}/{}", s.structure.finess, period);
        let detail = format!("{} respondents, {} hundredths", s.respondents, s.overall);
        record(&mut tx, ctx, &resource, "SATISFACTION_SURVEY_RECORDED", row.version, &detail).await?;
        let response = pb::RecordSatisfactionSurveyResponse { survey: Some(row.to_proto()) };
        Self::commit(tx, key, &response).await?;
        Ok(response)
    }

    /// Current surveys in recording order; `span` keeps periods overlapping it.
    pub async fn list_surveys(&self, f: &ListFilter, size: u32, token: &str) -> Result<(Vec<pb::SatisfactionSurvey>, String)> {
        let fp = f.fingerprint("satisfaction_surveys");
        let after: Option<i64> = decode_token(DOMAIN, &fp, token)?;
        let rows: Vec<SurveyRow> = sqlx::query_as(&format!(
            "SELECT {SURVEY_COLUMNS} FROM satisfaction_survey v WHERE ($1::bigint IS NULL OR id > $1) AND ($2::text IS NULL OR finess = $2) \
             AND ($3::date IS NULL OR period_end >= $3) AND ($4::date IS NULL OR period_start <= $4) \
             AND NOT EXISTS (SELECT 1 FROM satisfaction_survey n WHERE n.structure_id = v.structure_id AND n.period = v.period \
                             AND n.population = v.population AND n.instrument = v.instrument AND n.version > v.version) \
             ORDER BY id LIMIT $5"
        ))
        .bind(after)
        .bind(&f.finess)
        .bind(f.start())
        .bind(f.end())
        .bind(i64::from(size) + 1)
        .fetch_all(self.pool())
        .await?;
        let (rows, next) = finish_page(rows, size, &fp, |r| r.id);
        Ok((rows.iter().map(SurveyRow::to_proto).collect(), next))
    }

    // ----------------------------------------------------- adverse events

    /// Adds the next version of an (establishment, declaration_ref) declaration.
    pub async fn record_adverse_event(
        &self,
        ctx: &WriteContext<'_>,
        e: &ValidAdverseEvent,
        key: Option<&IdempotencyKey>,
    ) -> Result<pb::RecordAdverseEventResponse> {
        let mut tx = match self.begin(key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        lock(&mut tx, &["adverse_event", &e.structure.id.to_string(), &e.declaration_ref]).await?;
        let row: EventRow = sqlx::query_as(&format!(
            "INSERT INTO adverse_event (structure_id, finess, declaration_ref, version, event_date, declaration_date, severity, category, \
             analysis_status, caller) \
             SELECT $1, $2, $3, coalesce(max(version), 0) + 1, $4, $5, $6, $7, $8, $9 \
             FROM adverse_event WHERE structure_id = $1 AND declaration_ref = $3 RETURNING {EVENT_COLUMNS}"
        ))
        .bind(e.structure.id)
        .bind(&e.structure.finess)
        .bind(&e.declaration_ref)
        .bind(e.event_date)
        .bind(e.declaration_date)
        .bind(e.severity)
        .bind(&e.category)
        .bind(e.analysis_status)
        .bind(&ctx.identity.caller)
        .fetch_one(&mut *tx)
        .await?;
        let resource = format!("adverseEvents/{}/{}", e.structure.finess, e.declaration_ref);
        let detail = format!("event {}, severity {}", e.event_date, e.severity);
        record(&mut tx, ctx, &resource, "ADVERSE_EVENT_RECORDED", row.version, &detail).await?;
        let response = pb::RecordAdverseEventResponse { event: Some(row.to_proto()) };
        Self::commit(tx, key, &response).await?;
        Ok(response)
    }

    /// Current declarations in recording order; `span` selects event dates.
    pub async fn list_adverse_events(&self, f: &ListFilter, size: u32, token: &str) -> Result<(Vec<pb::AdverseEvent>, String)> {
        let fp = f.fingerprint("adverse_events");
        let after: Option<i64> = decode_token(DOMAIN, &fp, token)?;
        let rows: Vec<EventRow> = sqlx::query_as(&format!(
            "SELECT {EVENT_COLUMNS} FROM adverse_event e WHERE ($1::bigint IS NULL OR id > $1) AND ($2::text IS NULL OR finess = $2) \
             AND ($3::date IS NULL OR event_date >= $3) AND ($4::date IS NULL OR event_date <= $4) \
             AND NOT EXISTS (SELECT 1 FROM adverse_event n WHERE n.structure_id = e.structure_id AND n.declaration_ref = e.declaration_ref \
                             AND n.version > e.version) \
             ORDER BY id LIMIT $5"
        ))
        .bind(after)
        .bind(&f.finess)
        .bind(f.start())
        .bind(f.end())
        .bind(i64::from(size) + 1)
        .fetch_all(self.pool())
        .await?;
        let (rows, next) = finish_page(rows, size, &fp, |r| r.id);
        Ok((rows.iter().map(EventRow::to_proto).collect(), next))
    }

    async fn consolidation_counts(conn: &mut PgConnection, keys: &[(Uuid, i16)]) -> Result<Vec<(Uuid, i16, i16, String, i64)>> {
        let (ids, years): (Vec<Uuid>, Vec<i16>) = keys.iter().copied().unzip();
        Ok(sqlx::query_as(
            "SELECT structure_id, year, severity, category, events FROM adverse_event_consolidation_count \
             WHERE (structure_id, year) IN (SELECT * FROM UNNEST($1::uuid[], $2::smallint[])) ORDER BY severity, category",
        )
        .bind(ids)
        .bind(years)
        .fetch_all(conn)
        .await?)
    }

    /// Freezes the year's counts of an establishment's current declarations
    /// (by event date). The first consolidation of a year is the only one:
    /// later calls get it back unchanged.
    pub async fn consolidate(
        &self,
        ctx: &WriteContext<'_>,
        structure: &StructureAt,
        year: i16,
        today: NaiveDate,
        key: Option<&IdempotencyKey>,
    ) -> Result<pb::ConsolidateAdverseEventsResponse> {
        let mut tx = match self.begin(key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        lock(&mut tx, &["adverse_event_consolidation", &structure.id.to_string(), &year.to_string()]).await?;
        let existing: Option<ConsolidationRow> = sqlx::query_as(&format!(
            "SELECT {CONSOLIDATION_COLUMNS} FROM adverse_event_consolidation WHERE structure_id = $1 AND year = $2"
        ))
        .bind(structure.id)
        .bind(year)
        .fetch_optional(&mut *tx)
        .await?;
        let fresh = existing.is_none();
        let row = match existing {
            Some(row) => row,
            None => {
                let row: ConsolidationRow = sqlx::query_as(&format!(
                    "INSERT INTO adverse_event_consolidation (structure_id, year, finess, consolidation_date, caller) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING {CONSOLIDATION_COLUMNS}"
                ))
                .bind(structure.id)
                .bind(year)
                .bind(&structure.finess)
                .bind(today)
                .bind(&ctx.identity.caller)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO adverse_event_consolidation_count (structure_id, year, severity, category, events) \
                     SELECT $1, $2, severity, category, count(*) FROM ( \
                       SELECT DISTINCT ON (declaration_ref) severity, category, event_date FROM adverse_event WHERE structure_id = $1 \
                       ORDER BY declaration_ref, version DESC) e \
                     WHERE event_date BETWEEN make_date($2, 1, 1) AND make_date($2, 12, 31) GROUP BY severity, category",
                )
                .bind(structure.id)
                .bind(year)
                .execute(&mut *tx)
                .await?;
                row
            }
        };
        let counts = Self::consolidation_counts(&mut tx, &[(row.structure_id, row.year)]).await?;
        let consolidation = row.to_proto(&counts);
        if fresh {
            let resource = format!("adverseEventConsolidations/{}/{}", structure.finess, year);
            let detail = format!("{} EI, {} EIG", consolidation.ei, consolidation.eig);
            record(&mut tx, ctx, &resource, "ADVERSE_EVENTS_CONSOLIDATED", 1, &detail).await?;
        }
        let response = pb::ConsolidateAdverseEventsResponse { consolidation: Some(consolidation) };
        Self::commit(tx, key, &response).await?;
        Ok(response)
    }

    /// Consolidations in the order they were made; `span` selects years.
    pub async fn list_consolidations(
        &self,
        f: &ListFilter,
        size: u32,
        token: &str,
    ) -> Result<(Vec<pb::AdverseEventConsolidation>, String)> {
        let fp = f.fingerprint("adverse_event_consolidations");
        let after: Option<i64> = decode_token(DOMAIN, &fp, token)?;
        let mut conn = self.pool().acquire().await?;
        let rows: Vec<ConsolidationRow> = sqlx::query_as(&format!(
            "SELECT {CONSOLIDATION_COLUMNS} FROM adverse_event_consolidation WHERE ($1::bigint IS NULL OR id > $1) \
             AND ($2::text IS NULL OR finess = $2) AND ($3::date IS NULL OR make_date(year, 12, 31) >= $3) \
             AND ($4::date IS NULL OR make_date(year, 1, 1) <= $4) ORDER BY id LIMIT $5"
        ))
        .bind(after)
        .bind(&f.finess)
        .bind(f.start())
        .bind(f.end())
        .bind(i64::from(size) + 1)
        .fetch_all(&mut *conn)
        .await?;
        let (rows, next) = finish_page(rows, size, &fp, |r| r.id);
        let keys: Vec<(Uuid, i16)> = rows.iter().map(|r| (r.structure_id, r.year)).collect();
        let counts = Self::consolidation_counts(&mut conn, &keys).await?;
        Ok((rows.iter().map(|r| r.to_proto(&counts)).collect(), next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_separate_their_parts() {
        assert_ne!(lock_key(&["a", "bc"]), lock_key(&["ab", "c"]));
        assert_eq!(lock_key(&["gp", "x", "2018"]), lock_key(&["gp", "x", "2018"]));
    }

    #[test]
    fn list_fingerprints_cover_every_filter() {
        let d = NaiveDate::from_ymd_opt(2018, 1, 1);
        let a = ListFilter { finess: Some("590000017".into()), span: None, history: false };
        let b = ListFilter { history: true, ..a.clone() };
        let c = ListFilter { span: d.zip(d), ..a.clone() };
        assert_ne!(a.fingerprint("x"), b.fingerprint("x"));
        assert_ne!(a.fingerprint("x"), c.fingerprint("x"));
        assert_ne!(a.fingerprint("x"), a.fingerprint("y"));
    }
}
