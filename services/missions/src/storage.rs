//! PostgreSQL access of the missions service. Every write goes through
//! `filieris_runtime::write::{begin, record, commit}`: one transaction with
//! its audit row, change-feed row and request-id record.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use filieris_kernel::pseudonym::{PseudonymKey, pseudonymise_nir, pseudonymise_partner};
use filieris_proto::missions as pb;
use filieris_runtime::Identity;
use filieris_runtime::idempotency::IdempotencyKey;
use filieris_runtime::pagination::{decode_token, fingerprint, finish_page};
use filieris_runtime::write::{self, Begun, Recorded};
use prost::Message;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::{self, ValidRecord, partner_enum};
use crate::error::{DOMAIN, MissionsError, Result};
use crate::finance::Finance;

/// Who writes, under which request id.
pub struct WriteContext<'a> {
    /// Caller.
    pub identity: &'a Identity,
    /// Idempotency key (absent without a request id).
    pub key: Option<&'a IdempotencyKey>,
    /// Request id (may be empty).
    pub request_id: &'a str,
    /// RPC, e.g. `MissionsService/CreateMandate`.
    pub method: &'a str,
}

/// The missions store.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    pseudonyms: PseudonymKey,
}

fn ds(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

fn short<'a>(name: &'a str, prefix: &str) -> &'a str {
    name.strip_prefix(prefix).unwrap_or(name)
}

/// Enum value → stored short code: `MEETING_STATUS_HELD` → `HELD`.
pub fn code_of(full: &str, prefix: &str) -> String {
    short(full, prefix).to_owned()
}

fn body_code(b: i32) -> String {
    pb::SteeringBody::try_from(b).map(|b| code_of(b.as_str_name(), "STEERING_BODY_")).unwrap_or_default()
}

fn body_enum(code: &str) -> i32 {
    pb::SteeringBody::from_str_name(&format!("STEERING_BODY_{code}")).map(|b| b as i32).unwrap_or_default()
}

fn enum_of<E>(code: &str, prefix: &str, parse: impl Fn(&str) -> Option<E>) -> i32
where
    E: Into<i32>,
{
    parse(&format!("{prefix}{code}")).map(Into::into).unwrap_or_default()
}

/// Keyset position of a (date, id) list.
type DateKey = (String, String);

fn date_key(domain_q: &str, token: &str) -> Result<(Option<NaiveDate>, Option<Uuid>)> {
    Ok(match decode_token::<DateKey>(DOMAIN, domain_q, token)? {
        Some((d, id)) => (d.parse().ok(), Uuid::parse_str(&id).ok()),
        None => (None, None),
    })
}

async fn begin<R: Message + Default>(
    pool: &PgPool,
    key: Option<&IdempotencyKey>,
) -> Result<std::result::Result<R, Transaction<'static, Postgres>>> {
    Ok(match write::begin::<R>(DOMAIN, pool, key).await? {
        Begun::Replayed(r) => Ok(r),
        Begun::Fresh(tx) => Err(tx),
    })
}

async fn finish<R: Message>(
    ctx: &WriteContext<'_>,
    mut tx: Transaction<'static, Postgres>,
    resource: &str,
    change: &str,
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
            change_type: change,
            revision: 0,
            detail,
        },
    )
    .await?;
    write::commit(DOMAIN, tx, ctx.key, &response).await?;
    Ok(response)
}

/// A new mandate, validated.
pub struct MandateIn {
    pub id: String,
    pub partner: String,
    pub form: String,
    pub title: String,
    pub scope: Vec<String>,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub conventions: Vec<ConventionIn>,
    pub terms: Vec<(i16, String, String, i64)>,
}

/// A convention period, validated.
pub struct ConventionIn {
    pub kind: String,
    pub reference: String,
    pub signed: Option<NaiveDate>,
    pub effective: NaiveDate,
    pub end: Option<NaiveDate>,
    pub summary: String,
}

/// A meeting, validated.
pub struct MeetingIn {
    pub mandate_id: String,
    pub body: String,
    pub status: String,
    pub planned: Option<NaiveDate>,
    pub held: Option<NaiveDate>,
    pub minutes: String,
    pub agenda: Vec<String>,
}

/// A claim, validated.
pub struct ClaimIn {
    pub partner: String,
    pub received: NaiveDate,
    pub channel: String,
    pub category: String,
    pub requester: String,
    pub reference: String,
}

/// A fraud case, validated.
pub struct FraudIn {
    pub partner: String,
    pub detected: NaiveDate,
    pub fraud_type: String,
    pub at_stake: i64,
    pub recovered: i64,
    pub status: String,
    pub closed: Option<NaiveDate>,
}

/// A statistic value, validated.
pub struct StatisticIn {
    pub partner: String,
    pub series: String,
    pub dimension: String,
    pub period: String,
    pub year: i16,
    pub value: i64,
    pub scale: i16,
    pub unit: String,
    pub missing: String,
    pub missing_reason: String,
}

/// An ANGDM statement, validated.
pub struct StatementIn {
    pub year: i16,
    pub period: String,
    pub period_end: NaiveDate,
    pub section: i32,
    pub sub_item: String,
    pub amount_cents: i64,
    pub reference: String,
    pub line: String,
}

/// An uploaded file, validated line by line.
pub struct UploadIn {
    pub dataset: i32,
    pub sender: String,
    pub recipient: Option<&'static str>,
    pub period: String,
    pub sent: i32,
    pub checksum: String,
    pub valid: Vec<ValidRecord>,
    pub rejected: Vec<pb::RejectedLine>,
}

type MandateRow = (String, String, String, String, Vec<String>, NaiveDate, Option<NaiveDate>);
type DeliverableRow = (
    Uuid,
    String,
    String,
    String,
    String,
    String,
    String,
    NaiveDate,
    Option<NaiveDate>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
);
const DELIVERABLE_COLUMNS: &str = "deliverable_id, mandate_id, partner, code, label, recurrence, period, due_date, received_date, \
     doc_uri, doc_sha256, doc_media_type, doc_size_bytes, doc_title, submitted_by";
type ClaimRow = (Uuid, String, NaiveDate, String, String, String, String, Option<NaiveDate>);
const CLAIM_COLUMNS: &str = "claim_id, partner, received_date, channel, category, requester, partner_reference, answered_date";
type FraudRow = (Uuid, String, NaiveDate, String, i64, i64, String, Option<NaiveDate>);
const FRAUD_COLUMNS: &str =
    "case_id, partner, detected_date, fraud_type, amount_at_stake_cents, amount_recovered_cents, status, closed_date";
type StatementRow = (Uuid, i16, String, String, String, i64, String, String, String, bool);
const STATEMENT_COLUMNS: &str =
    "statement_id, year, period, section, sub_item, amount_cents, reference, budget_line, finance_movement, evaluative_overrun";
type StatisticRow = (String, String, String, String, i32, i64, i16, String, String, String);
const STATISTIC_COLUMNS: &str = "partner, series, dimension, period, version, value, scale, unit, missing, missing_reason";

fn deliverable(r: DeliverableRow, as_of: NaiveDate) -> pb::Deliverable {
    let (id, mandate, partner, code, label, recurrence, period, due, received, uri, sha, media, size, title, by) = r;
    let (status, days_late) = domain::deliverable_status(due, received, as_of);
    let known = received.filter(|r| *r <= as_of);
    pb::Deliverable {
        name: format!("deliverables/{id}"),
        mandate: format!("mandates/{mandate}"),
        partner: partner_enum(&partner),
        code,
        label,
        recurrence: enum_of(&recurrence, "RECURRENCE_", pb::Recurrence::from_str_name),
        period,
        due_date: due.to_string(),
        received_date: ds(known),
        status: status as i32,
        days_late,
        document: known.and(uri.clone()).map(|uri| pb::Document {
            uri,
            sha256: sha.unwrap_or_default(),
            media_type: media.unwrap_or_default(),
            size_bytes: size.unwrap_or_default(),
            title: title.unwrap_or_default(),
        }),
        submitted_by: if known.is_some() { by.unwrap_or_default() } else { String::new() },
    }
}

fn claim(r: ClaimRow, as_of: NaiveDate) -> pb::Claim {
    let (id, partner, received, channel, category, requester, reference, answered) = r;
    let category = pb::ClaimCategory::from_str_name(&format!("CLAIM_CATEGORY_{category}")).unwrap_or_default();
    let target = domain::claim_target_days(category);
    let answered_known = answered.filter(|a| *a <= as_of.max(received));
    let (delay, within) = domain::claim_delay(received, answered_known, as_of, target);
    pb::Claim {
        name: format!("claims/{id}"),
        partner: partner_enum(&partner),
        received_date: received.to_string(),
        channel: enum_of(&channel, "CLAIM_CHANNEL_", pb::ClaimChannel::from_str_name),
        category: category as i32,
        requester: enum_of(&requester, "REQUESTER_", pb::Requester::from_str_name),
        partner_reference: reference,
        status: if answered_known.is_some() { pb::ClaimStatus::Answered } else { pb::ClaimStatus::Open } as i32,
        answered_date: ds(answered_known),
        delay_days: delay,
        target_days: target,
        within_target: within,
    }
}

fn fraud(r: FraudRow) -> pb::FraudCase {
    let (id, partner, detected, fraud_type, at_stake, recovered, status, closed) = r;
    pb::FraudCase {
        name: format!("fraudCases/{id}"),
        partner: partner_enum(&partner),
        detected_date: detected.to_string(),
        fraud_type,
        amount_at_stake_cents: at_stake,
        amount_recovered_cents: recovered,
        status: enum_of(&status, "FRAUD_STATUS_", pb::FraudStatus::from_str_name),
        closed_date: ds(closed),
    }
}

fn statement(r: StatementRow) -> pb::SocialActionStatement {
    let (id, year, period, section, sub_item, amount, reference, line, movement, overrun) = r;
    pb::SocialActionStatement {
        name: format!("socialActionStatements/{id}"),
        year: i32::from(year),
        period,
        section: enum_of(&section, "BNASS_SECTION_", pb::BnassSection::from_str_name),
        sub_item,
        amount_cents: amount,
        reference,
        budget_line: line,
        finance_movement: movement,
        evaluative_overrun: overrun,
    }
}

fn statistic(r: StatisticRow) -> pb::StatisticValue {
    let (partner, series, dimension, period, version, value, scale, unit, missing, reason) = r;
    pb::StatisticValue {
        partner: partner_enum(&partner),
        series,
        period,
        dimension,
        value,
        scale: i32::from(scale),
        unit,
        missing: if missing.is_empty() { 0 } else { enum_of(&missing, "MISSING_VALUE_", pb::MissingValue::from_str_name) },
        missing_reason: reason,
        version,
    }
}

impl Store {
    /// A store over `pool` (schema `missions`), pseudonymising with `pseudonyms`.
    pub fn new(pool: PgPool, pseudonyms: PseudonymKey) -> Self {
        Self { pool, pseudonyms }
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A keyed digest (HMAC under the pseudonym key) of bytes that may hold a
    /// person identifier: kept instead of a plain hash, which anyone could
    /// test guessed NIRs against.
    pub fn keyed_digest(&self, bytes: &[u8]) -> String {
        let inner = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes));
        // The code and the 64-character id always pass the scheme's checks.
        pseudonymise_partner(&self.pseudonyms, "missions-digest", &inner).map(|p| hex::encode(p.as_bytes())).unwrap_or_default()
    }

    // --- mandates -------------------------------------------------------------

    /// Creates a mandate.
    pub async fn create_mandate(&self, ctx: &WriteContext<'_>, m: MandateIn) -> Result<pb::Mandate> {
        let mut tx = match begin::<pb::CreateMandateResponse>(&self.pool, ctx.key).await? {
            Ok(r) => return r.mandate.ok_or_else(|| MissionsError::NotFound { kind: "mandate", name: m.id.clone() }),
            Err(tx) => tx,
        };
        let inserted = sqlx::query(
            "INSERT INTO mandate (mandate_id, partner, form, title, scope, start_date, end_date) VALUES ($1,$2,$3,$4,$5,$6,$7) \
             ON CONFLICT (mandate_id) DO NOTHING",
        )
        .bind(&m.id)
        .bind(&m.partner)
        .bind(&m.form)
        .bind(&m.title)
        .bind(&m.scope)
        .bind(m.start)
        .bind(m.end)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(MissionsError::AlreadyExists(format!("mandates/{} already exists", m.id)));
        }
        for c in &m.conventions {
            insert_convention(&mut tx, &m.id, c).await?;
        }
        for (i, (year, line, label, amount)) in m.terms.iter().enumerate() {
            sqlx::query("INSERT INTO financial_term (mandate_id, seq, year, budget_line, label, amount_cents) VALUES ($1,$2,$3,$4,$5,$6)")
                .bind(&m.id)
                .bind(i as i32 + 1)
                .bind(year)
                .bind(line)
                .bind(label)
                .bind(amount)
                .execute(&mut *tx)
                .await?;
        }
        let mandate = load_mandate(&mut tx, &m.id).await?.ok_or_else(|| MissionsError::NotFound { kind: "mandate", name: m.id.clone() })?;
        let name = mandate.name.clone();
        let resp = pb::CreateMandateResponse { mandate: Some(mandate) };
        Ok(finish(ctx, tx, &name, "MANDATE_CREATED", &m.partner, resp).await?.mandate.unwrap_or_default())
    }

    /// Adds a convention period to a mandate.
    pub async fn add_convention(&self, ctx: &WriteContext<'_>, id: &str, c: ConventionIn) -> Result<pb::Mandate> {
        let mut tx = match begin::<pb::AddConventionPeriodResponse>(&self.pool, ctx.key).await? {
            Ok(r) => return Ok(r.mandate.unwrap_or_default()),
            Err(tx) => tx,
        };
        // Lock the mandate so concurrent amendments get distinct sequence numbers.
        let found: Option<(String,)> =
            sqlx::query_as("SELECT mandate_id FROM mandate WHERE mandate_id = $1 FOR UPDATE").bind(id).fetch_optional(&mut *tx).await?;
        if found.is_none() {
            return Err(MissionsError::NotFound { kind: "mandate", name: format!("mandates/{id}") });
        }
        insert_convention(&mut tx, id, &c).await?;
        let mandate = load_mandate(&mut tx, id).await?.unwrap_or_default();
        let name = mandate.name.clone();
        let resp = pb::AddConventionPeriodResponse { mandate: Some(mandate) };
        Ok(finish(ctx, tx, &name, "CONVENTION_ADDED", &c.kind, resp).await?.mandate.unwrap_or_default())
    }

    /// A mandate.
    pub async fn get_mandate(&self, id: &str) -> Result<Option<pb::Mandate>> {
        let mut conn = self.pool.acquire().await?;
        load_mandate(&mut conn, id).await
    }

    /// The partner holding a mandate.
    pub async fn mandate_holder(&self, id: &str) -> Result<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT partner FROM mandate WHERE mandate_id = $1").bind(id).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| r.0))
    }

    /// Mandates of the visible holders, by id.
    pub async fn list_mandates(&self, visible: Option<Vec<String>>, size: u32, token: &str) -> Result<(Vec<pb::Mandate>, String)> {
        let q = fingerprint(&["mandates", &visible.as_ref().map(|v| v.join(",")).unwrap_or_default()]);
        let after: Option<String> = decode_token(DOMAIN, &q, token)?;
        let ids: Vec<(String,)> = sqlx::query_as(
            "SELECT mandate_id FROM mandate WHERE ($1::text[] IS NULL OR partner = ANY($1)) AND ($2::text IS NULL OR mandate_id > $2) \
             ORDER BY mandate_id LIMIT $3",
        )
        .bind(&visible)
        .bind(&after)
        .bind(i64::from(size) + 1)
        .fetch_all(&self.pool)
        .await?;
        let (ids, next) = finish_page(ids, size, &q, |r| r.0.clone());
        let mut conn = self.pool.acquire().await?;
        let mut out = Vec::with_capacity(ids.len());
        for (id,) in ids {
            if let Some(m) = load_mandate(&mut conn, &id).await? {
                out.push(m);
            }
        }
        Ok((out, next))
    }

    // --- governance -----------------------------------------------------------

    /// Sets a body's requirement for a year.
    pub async fn set_requirement(
        &self,
        ctx: &WriteContext<'_>,
        r: pb::MeetingRequirement,
        mandate_id: &str,
    ) -> Result<pb::MeetingRequirement> {
        let mut tx = match begin::<pb::SetMeetingRequirementResponse>(&self.pool, ctx.key).await? {
            Ok(resp) => return Ok(resp.requirement.unwrap_or_default()),
            Err(tx) => tx,
        };
        sqlx::query(
            "INSERT INTO meeting_requirement (mandate_id, body, year, minimum_meetings, each_quarter) VALUES ($1,$2,$3,$4,$5) \
             ON CONFLICT (mandate_id, body, year) DO UPDATE SET minimum_meetings = EXCLUDED.minimum_meetings, each_quarter = EXCLUDED.each_quarter",
        )
        .bind(mandate_id)
        .bind(body_code(r.body))
        .bind(r.year as i16)
        .bind(r.minimum_meetings)
        .bind(r.each_quarter)
        .execute(&mut *tx)
        .await?;
        let resource = format!("mandates/{mandate_id}/requirements/{}/{}", body_code(r.body), r.year);
        let detail = format!("{} meetings", r.minimum_meetings);
        Ok(finish(ctx, tx, &resource, "MEETING_REQUIREMENT_SET", &detail, pb::SetMeetingRequirementResponse { requirement: Some(r) })
            .await?
            .requirement
            .unwrap_or_default())
    }

    /// Records a meeting.
    pub async fn record_meeting(&self, ctx: &WriteContext<'_>, m: MeetingIn) -> Result<pb::Meeting> {
        let mut tx = match begin::<pb::RecordMeetingResponse>(&self.pool, ctx.key).await? {
            Ok(r) => return Ok(r.meeting.unwrap_or_default()),
            Err(tx) => tx,
        };
        let id = Uuid::now_v7();
        let date = m.held.or(m.planned).unwrap_or_default();
        sqlx::query(
            "INSERT INTO meeting (meeting_id, mandate_id, body, status, planned_date, held_date, minutes_reference, agenda, meeting_date) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
        )
        .bind(id)
        .bind(&m.mandate_id)
        .bind(&m.body)
        .bind(&m.status)
        .bind(m.planned)
        .bind(m.held)
        .bind(&m.minutes)
        .bind(&m.agenda)
        .bind(date)
        .execute(&mut *tx)
        .await?;
        let meeting = pb::Meeting {
            name: format!("meetings/{id}"),
            mandate: format!("mandates/{}", m.mandate_id),
            body: body_enum(&m.body),
            status: enum_of(&m.status, "MEETING_STATUS_", pb::MeetingStatus::from_str_name),
            planned_date: ds(m.planned),
            held_date: ds(m.held),
            minutes_reference: m.minutes.clone(),
            agenda: m.agenda.clone(),
        };
        let name = meeting.name.clone();
        let detail = format!("{} {} {date}", m.body, m.status);
        Ok(finish(ctx, tx, &name, "MEETING_RECORDED", &detail, pb::RecordMeetingResponse { meeting: Some(meeting) })
            .await?
            .meeting
            .unwrap_or_default())
    }

    /// Meetings of visible mandates, by date.
    pub async fn list_meetings(
        &self,
        visible: Option<Vec<String>>,
        mandate: Option<&str>,
        year: i32,
        size: u32,
        token: &str,
    ) -> Result<(Vec<pb::Meeting>, String)> {
        let q = fingerprint(&[
            "meetings",
            &visible.as_ref().map(|v| v.join(",")).unwrap_or_default(),
            mandate.unwrap_or(""),
            &year.to_string(),
        ]);
        let (after_d, after_id) = date_key(&q, token)?;
        type Row = (Uuid, String, String, String, Option<NaiveDate>, Option<NaiveDate>, String, Vec<String>, NaiveDate);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT m.meeting_id, m.mandate_id, m.body, m.status, m.planned_date, m.held_date, m.minutes_reference, m.agenda, m.meeting_date \
             FROM meeting m JOIN mandate d USING (mandate_id) \
             WHERE ($1::text[] IS NULL OR d.partner = ANY($1)) AND ($2::text IS NULL OR m.mandate_id = $2) \
             AND ($3 = 0 OR extract(year FROM m.meeting_date) = $3) \
             AND ($4::date IS NULL OR (m.meeting_date, m.meeting_id) > ($4, $5)) \
             ORDER BY m.meeting_date, m.meeting_id LIMIT $6",
        )
        .bind(&visible)
        .bind(mandate)
        .bind(year)
        .bind(after_d)
        .bind(after_id)
        .bind(i64::from(size) + 1)
        .fetch_all(&self.pool)
        .await?;
        let (rows, next) = finish_page(rows, size, &q, |r| (r.8.to_string(), r.0.to_string()));
        let meetings = rows
            .into_iter()
            .map(|(id, mandate, body, status, planned, held, minutes, agenda, _)| pb::Meeting {
                name: format!("meetings/{id}"),
                mandate: format!("mandates/{mandate}"),
                body: body_enum(&body),
                status: enum_of(&status, "MEETING_STATUS_", pb::MeetingStatus::from_str_name),
                planned_date: ds(planned),
                held_date: ds(held),
                minutes_reference: minutes,
                agenda,
            })
            .collect();
        Ok((meetings, next))
    }

    /// Governance compliance of a mandate in a year: the requirements set
    /// for the year, else the holder's default.
    pub async fn compliance(&self, mandate_id: &str, holder: &str, year: i32) -> Result<pb::GetGovernanceComplianceResponse> {
        let mut reqs: Vec<(String, i32, bool)> = sqlx::query_as(
            "SELECT body, minimum_meetings, each_quarter FROM meeting_requirement WHERE mandate_id = $1 AND year = $2 ORDER BY body",
        )
        .bind(mandate_id)
        .bind(year as i16)
        .fetch_all(&self.pool)
        .await?;
        if reqs.is_empty()
            && let Some((body, min, quarterly)) = domain::default_requirement(holder)
        {
            reqs.push((code_of(body.as_str_name(), "STEERING_BODY_"), min, quarterly));
        }
        let mut bodies = Vec::new();
        for (body, min, quarterly) in reqs {
            // A held meeting counts once its minutes are recorded (A227).
            let held: Vec<(NaiveDate,)> = sqlx::query_as(
                "SELECT held_date FROM meeting WHERE mandate_id = $1 AND body = $2 AND status = 'HELD' AND minutes_reference <> '' \
                 AND held_date IS NOT NULL AND extract(year FROM held_date) = $3 ORDER BY held_date",
            )
            .bind(mandate_id)
            .bind(&body)
            .bind(year)
            .fetch_all(&self.pool)
            .await?;
            let held: Vec<NaiveDate> = held.into_iter().map(|r| r.0).collect();
            let body_enum = pb::SteeringBody::try_from(body_enum(&body)).unwrap_or_default();
            bodies.push(domain::body_compliance(body_enum, min, quarterly, &held));
        }
        let compliant = !bodies.is_empty() && bodies.iter().all(|b| b.compliant);
        Ok(pb::GetGovernanceComplianceResponse { mandate: format!("mandates/{mandate_id}"), year, bodies, compliant })
    }

    /// Mandate ids and holders visible to a caller.
    pub async fn mandates_of(&self, visible: Option<Vec<String>>) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as("SELECT mandate_id, partner FROM mandate WHERE ($1::text[] IS NULL OR partner = ANY($1)) ORDER BY mandate_id")
            .bind(&visible)
            .fetch_all(&self.pool)
            .await?)
    }

    // --- deliverables ---------------------------------------------------------

    /// Creates the deliverables of a calendar; periods already scheduled are kept.
    #[allow(clippy::too_many_arguments)]
    pub async fn schedule(
        &self,
        ctx: &WriteContext<'_>,
        mandate_id: &str,
        holder: &str,
        code: &str,
        label: &str,
        recurrence: &str,
        calendar: &[(String, NaiveDate)],
    ) -> Result<Vec<pb::Deliverable>> {
        let mut tx = match begin::<pb::ScheduleDeliverablesResponse>(&self.pool, ctx.key).await? {
            Ok(r) => return Ok(r.deliverables),
            Err(tx) => tx,
        };
        let mut created = Vec::new();
        for (period, due) in calendar {
            let row: Option<DeliverableRow> = sqlx::query_as(&format!(
                "INSERT INTO deliverable (deliverable_id, mandate_id, partner, code, label, recurrence, period, due_date) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (mandate_id, code, period) DO NOTHING RETURNING {DELIVERABLE_COLUMNS}"
            ))
            .bind(Uuid::now_v7())
            .bind(mandate_id)
            .bind(holder)
            .bind(code)
            .bind(label)
            .bind(recurrence)
            .bind(period)
            .bind(due)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(r) = row {
                created.push(deliverable(r, *due));
            }
        }
        let resource = format!("mandates/{mandate_id}/deliverables/{code}");
        let detail = format!("{} scheduled", created.len());
        Ok(finish(ctx, tx, &resource, "DELIVERABLES_SCHEDULED", &detail, pb::ScheduleDeliverablesResponse { deliverables: created })
            .await?
            .deliverables)
    }

    /// The partner owing a deliverable.
    pub async fn deliverable_partner(&self, id: Uuid) -> Result<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT partner FROM deliverable WHERE deliverable_id = $1").bind(id).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| r.0))
    }

    /// Records the receipt of a deliverable.
    pub async fn submit(&self, ctx: &WriteContext<'_>, id: Uuid, received: NaiveDate, doc: pb::Document) -> Result<pb::Deliverable> {
        let mut tx = match begin::<pb::SubmitDeliverableResponse>(&self.pool, ctx.key).await? {
            Ok(r) => return Ok(r.deliverable.unwrap_or_default()),
            Err(tx) => tx,
        };
        let row: Option<DeliverableRow> = sqlx::query_as(&format!(
            "UPDATE deliverable SET received_date = $2, doc_uri = $3, doc_sha256 = $4, doc_media_type = $5, doc_size_bytes = $6, \
             doc_title = $7, submitted_by = $8 WHERE deliverable_id = $1 AND received_date IS NULL RETURNING {DELIVERABLE_COLUMNS}"
        ))
        .bind(id)
        .bind(received)
        .bind(&doc.uri)
        .bind(doc.sha256.to_ascii_lowercase())
        .bind(&doc.media_type)
        .bind(doc.size_bytes)
        .bind(&doc.title)
        .bind(&ctx.identity.caller)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(MissionsError::Conflict(format!("deliverables/{id} was already received; a correction goes through CANSSM")));
        };
        let d = deliverable(row, received);
        let name = d.name.clone();
        let detail = format!("received {received}, sha256 {}", doc.sha256);
        Ok(finish(ctx, tx, &name, "DELIVERABLE_RECEIVED", &detail, pb::SubmitDeliverableResponse { deliverable: Some(d) })
            .await?
            .deliverable
            .unwrap_or_default())
    }

    /// A deliverable at a date.
    pub async fn get_deliverable(&self, id: Uuid, as_of: NaiveDate) -> Result<Option<pb::Deliverable>> {
        let row: Option<DeliverableRow> =
            sqlx::query_as(&format!("SELECT {DELIVERABLE_COLUMNS} FROM deliverable WHERE deliverable_id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| deliverable(r, as_of)))
    }

    /// Deliverables of visible holders at a date, by due date; `overdue`
    /// keeps only those MISSING then.
    #[allow(clippy::too_many_arguments)]
    pub async fn list_deliverables(
        &self,
        visible: Option<Vec<String>>,
        mandate: Option<&str>,
        as_of: NaiveDate,
        due_year: i32,
        overdue: bool,
        size: u32,
        token: &str,
    ) -> Result<(Vec<pb::Deliverable>, String)> {
        let q = fingerprint(&[
            "deliverables",
            &visible.as_ref().map(|v| v.join(",")).unwrap_or_default(),
            mandate.unwrap_or(""),
            &as_of.to_string(),
            &due_year.to_string(),
            if overdue { "overdue" } else { "" },
        ]);
        let (after_d, after_id) = date_key(&q, token)?;
        let rows: Vec<DeliverableRow> = sqlx::query_as(&format!(
            "SELECT {DELIVERABLE_COLUMNS} FROM deliverable WHERE ($1::text[] IS NULL OR partner = ANY($1)) \
             AND ($2::text IS NULL OR mandate_id = $2) AND ($3 = 0 OR extract(year FROM due_date) = $3) \
             AND (NOT $4 OR (due_date < $5 AND (received_date IS NULL OR received_date > $5))) \
             AND ($6::date IS NULL OR (due_date, deliverable_id) > ($6, $7)) ORDER BY due_date, deliverable_id LIMIT $8"
        ))
        .bind(&visible)
        .bind(mandate)
        .bind(due_year)
        .bind(overdue)
        .bind(as_of)
        .bind(after_d)
        .bind(after_id)
        .bind(i64::from(size) + 1)
        .fetch_all(&self.pool)
        .await?;
        let (rows, next) = finish_page(rows, size, &q, |r| (r.7.to_string(), r.0.to_string()));
        Ok((rows.into_iter().map(|r| deliverable(r, as_of)).collect(), next))
    }

    // --- file exchanges -------------------------------------------------------

    /// Stores an uploaded file: valid records as pseudonyms, the rejected
    /// lines, the aggregates and the routing to the recipient.
    pub async fn upload(&self, ctx: &WriteContext<'_>, u: UploadIn) -> Result<pb::ExchangeRun> {
        let mut tx = match begin::<pb::UploadExchangeFileResponse>(&self.pool, ctx.key).await? {
            Ok(r) => return Ok(r.run.unwrap_or_default()),
            Err(tx) => tx,
        };
        let id = Uuid::now_v7();
        let dataset = pb::ExchangeDataset::try_from(u.dataset).map(|d| code_of(d.as_str_name(), "EXCHANGE_DATASET_")).unwrap_or_default();
        let rejected = serde_json::Value::Array(
            u.rejected.iter().map(|r| serde_json::json!({"line": r.line, "field": r.field, "reason": r.reason})).collect(),
        );
        sqlx::query(
            "INSERT INTO exchange_run (run_id, dataset, sender, recipient, period, records_sent, records_accepted, records_rejected, \
             checksum, rejected_lines, uploaded_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
        )
        .bind(id)
        .bind(&dataset)
        .bind(&u.sender)
        .bind(u.recipient)
        .bind(&u.period)
        .bind(u.sent)
        .bind(u.valid.len() as i32)
        .bind(u.rejected.len() as i32)
        .bind(&u.checksum)
        .bind(&rejected)
        .bind(&ctx.identity.caller)
        .execute(&mut *tx)
        .await?;
        // The NIRs are dropped here: only their keyed pseudonyms reach the database.
        let mut lines = Vec::with_capacity(u.valid.len());
        let mut types = Vec::with_capacity(u.valid.len());
        let mut persons = Vec::with_capacity(u.valid.len());
        let mut dates = Vec::with_capacity(u.valid.len());
        let mut countries = Vec::with_capacity(u.valid.len());
        for r in &u.valid {
            lines.push(r.line);
            types.push(r.record_type.clone());
            persons.push(pseudonymise_nir(&self.pseudonyms, &r.nir).as_bytes().to_vec());
            dates.push(r.event_date);
            countries.push(r.country.clone());
        }
        sqlx::query(
            "INSERT INTO exchange_record (run_id, line, record_type, person, event_date, country_code) \
             SELECT $1, * FROM UNNEST($2::int[], $3::text[], $4::bytea[], $5::date[], $6::text[])",
        )
        .bind(id)
        .bind(&lines)
        .bind(&types)
        .bind(&persons)
        .bind(&dates)
        .bind(&countries)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO exchange_aggregate (run_id, record_type, country_code, month, records) \
             SELECT run_id, record_type, country_code, to_char(event_date, 'YYYYMM'), count(*) FROM exchange_record WHERE run_id = $1 \
             GROUP BY run_id, record_type, country_code, to_char(event_date, 'YYYYMM')",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if let Some(recipient) = u.recipient {
            sqlx::query("INSERT INTO exchange_delivery (run_id, recipient) VALUES ($1, $2)")
                .bind(id)
                .bind(recipient)
                .execute(&mut *tx)
                .await?;
        }
        let run = load_run(&mut tx, id, true).await?.unwrap_or_default();
        let detail = format!(
            "{dataset} {} from {} to {}: {} sent, {} accepted, {} rejected",
            u.period,
            u.sender,
            u.recipient.unwrap_or("CANSSM"),
            u.sent,
            u.valid.len(),
            u.rejected.len()
        );
        let name = run.name.clone();
        Ok(finish(ctx, tx, &name, "EXCHANGE_FILE_RECEIVED", &detail, pb::UploadExchangeFileResponse { run: Some(run) })
            .await?
            .run
            .unwrap_or_default())
    }

    /// A run with its details.
    pub async fn get_run(&self, id: Uuid) -> Result<Option<pb::ExchangeRun>> {
        let mut conn = self.pool.acquire().await?;
        load_run(&mut conn, id, true).await
    }

    /// Runs where a visible partner is sender or recipient, oldest first.
    pub async fn list_runs(&self, visible: Option<Vec<String>>, size: u32, token: &str) -> Result<(Vec<pb::ExchangeRun>, String)> {
        let q = fingerprint(&["runs", &visible.as_ref().map(|v| v.join(",")).unwrap_or_default()]);
        let after: Option<String> = decode_token(DOMAIN, &q, token)?;
        let after = after.and_then(|a| Uuid::parse_str(&a).ok());
        let ids: Vec<(Uuid,)> = sqlx::query_as(
            "SELECT run_id FROM exchange_run WHERE ($1::text[] IS NULL OR sender = ANY($1) OR recipient = ANY($1)) \
             AND ($2::uuid IS NULL OR run_id > $2) ORDER BY run_id LIMIT $3",
        )
        .bind(&visible)
        .bind(after)
        .bind(i64::from(size) + 1)
        .fetch_all(&self.pool)
        .await?;
        let (ids, next) = finish_page(ids, size, &q, |r| r.0.to_string());
        let mut conn = self.pool.acquire().await?;
        let mut out = Vec::new();
        for (id,) in ids {
            if let Some(r) = load_run(&mut conn, id, false).await? {
                out.push(r);
            }
        }
        Ok((out, next))
    }

    /// Sender and recipient of a run.
    pub async fn run_parties(&self, id: Uuid) -> Result<Option<(String, Option<String>)>> {
        Ok(sqlx::query_as("SELECT sender, recipient FROM exchange_run WHERE run_id = $1").bind(id).fetch_optional(&self.pool).await?)
    }

    /// The recipient acknowledges a routed run (the first acknowledgement stays).
    pub async fn acknowledge(&self, ctx: &WriteContext<'_>, id: Uuid, recipient: &str) -> Result<pb::ExchangeRun> {
        let mut tx = match begin::<pb::AcknowledgeExchangeRunResponse>(&self.pool, ctx.key).await? {
            Ok(r) => return Ok(r.run.unwrap_or_default()),
            Err(tx) => tx,
        };
        sqlx::query(
            "UPDATE exchange_delivery SET received_at = now(), received_by = $3 WHERE run_id = $1 AND recipient = $2 AND received_at IS NULL",
        )
        .bind(id)
        .bind(recipient)
        .bind(&ctx.identity.caller)
        .execute(&mut *tx)
        .await?;
        let run = load_run(&mut tx, id, true).await?.unwrap_or_default();
        let name = run.name.clone();
        Ok(finish(ctx, tx, &name, "EXCHANGE_FILE_DELIVERED", recipient, pb::AcknowledgeExchangeRunResponse { run: Some(run) })
            .await?
            .run
            .unwrap_or_default())
    }

    // --- statistics -----------------------------------------------------------

    /// Stores statistic values, each as the next version of its key.
    pub async fn record_statistics(&self, ctx: &WriteContext<'_>, values: Vec<StatisticIn>) -> Result<pb::RecordStatisticsResponse> {
        let mut tx = match begin::<pb::RecordStatisticsResponse>(&self.pool, ctx.key).await? {
            Ok(r) => return Ok(r),
            Err(tx) => tx,
        };
        let mut out = Vec::with_capacity(values.len());
        for v in &values {
            // Serialise versions of one key.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
                .bind(format!("{}|{}|{}|{}", v.partner, v.series, v.dimension, v.period))
                .execute(&mut *tx)
                .await?;
            let row: StatisticRow = sqlx::query_as(&format!(
                "INSERT INTO statistic_value (partner, series, dimension, period, version, year, value, scale, unit, missing, missing_reason, recorded_by) \
                 SELECT $1,$2,$3,$4, COALESCE(max(version), 0) + 1, $5,$6,$7,$8,$9,$10,$11 FROM statistic_value \
                 WHERE partner = $1 AND series = $2 AND dimension = $3 AND period = $4 RETURNING {STATISTIC_COLUMNS}"
            ))
            .bind(&v.partner)
            .bind(&v.series)
            .bind(&v.dimension)
            .bind(&v.period)
            .bind(v.year)
            .bind(v.value)
            .bind(v.scale)
            .bind(&v.unit)
            .bind(&v.missing)
            .bind(&v.missing_reason)
            .bind(&ctx.identity.caller)
            .fetch_one(&mut *tx)
            .await?;
            out.push(statistic(row));
        }
        // The consistency of each series touched, with what it now holds for the year.
        let touched: std::collections::BTreeSet<(String, String, i16)> =
            values.iter().map(|v| (v.partner.clone(), v.series.clone(), v.year)).collect();
        let mut warnings = Vec::new();
        for (partner, series, year) in touched {
            let points: Vec<(String, String, i64, String)> = sqlx::query_as(
                "SELECT DISTINCT ON (dimension, period) period, dimension, value, missing FROM statistic_value \
                 WHERE partner = $1 AND series = $2 AND year = $3 ORDER BY dimension, period, version DESC",
            )
            .bind(&partner)
            .bind(&series)
            .bind(year)
            .fetch_all(&mut *tx)
            .await?;
            let points: Vec<domain::SeriesPoint> = points
                .into_iter()
                .map(|(period, dimension, value, missing)| domain::SeriesPoint {
                    period,
                    dimension,
                    value: missing.is_empty().then_some(value),
                })
                .collect();
            warnings.extend(domain::consistency_warnings(&partner, &series, &points));
        }
        let detail = format!("{} values, {} warnings", out.len(), warnings.len());
        finish(ctx, tx, "statistics", "STATISTICS_RECORDED", &detail, pb::RecordStatisticsResponse { values: out, warnings }).await
    }

    /// Current statistic values of visible partners, in series order.
    pub async fn list_statistics(
        &self,
        visible: Option<Vec<String>>,
        series: &str,
        partner: Option<&str>,
        year: i32,
        size: u32,
        token: &str,
    ) -> Result<(Vec<pb::StatisticValue>, String)> {
        let q = fingerprint(&[
            "stats",
            &visible.as_ref().map(|v| v.join(",")).unwrap_or_default(),
            series,
            partner.unwrap_or(""),
            &year.to_string(),
        ]);
        type Key = (String, String, String, String);
        let after: Option<Key> = decode_token(DOMAIN, &q, token)?;
        let (a1, a2, a3, a4) = match after {
            Some((a, b, c, d)) => (Some(a), Some(b), Some(c), Some(d)),
            None => (None, None, None, None),
        };
        let rows: Vec<StatisticRow> = sqlx::query_as(&format!(
            "SELECT DISTINCT ON (series, partner, dimension, period) {STATISTIC_COLUMNS} FROM statistic_value \
             WHERE ($1::text[] IS NULL OR partner = ANY($1)) AND ($2 = '' OR series = $2) AND ($3::text IS NULL OR partner = $3) \
             AND ($4 = 0 OR year = $4) AND ($5::text IS NULL OR (series, partner, dimension, period) > ($5, $6, $7, $8)) \
             ORDER BY series, partner, dimension, period, version DESC LIMIT $9"
        ))
        .bind(&visible)
        .bind(series)
        .bind(partner)
        .bind(year as i16)
        .bind(a1)
        .bind(a2)
        .bind(a3)
        .bind(a4)
        .bind(i64::from(size) + 1)
        .fetch_all(&self.pool)
        .await?;
        let (rows, next) = finish_page(rows, size, &q, |r| (r.1.clone(), r.0.clone(), r.2.clone(), r.3.clone()));
        Ok((rows.into_iter().map(statistic).collect(), next))
    }

    // --- claims and fraud -----------------------------------------------------

    /// Records a claim.
    pub async fn create_claim(&self, ctx: &WriteContext<'_>, c: ClaimIn, as_of: NaiveDate) -> Result<pb::Claim> {
        let mut tx = match begin::<pb::CreateClaimResponse>(&self.pool, ctx.key).await? {
            Ok(r) => return Ok(r.claim.unwrap_or_default()),
            Err(tx) => tx,
        };
        let row: ClaimRow = sqlx::query_as(&format!(
            "INSERT INTO claim (claim_id, partner, received_date, channel, category, requester, partner_reference) \
             VALUES ($1,$2,$3,$4,$5,$6,$7) RETURNING {CLAIM_COLUMNS}"
        ))
        .bind(Uuid::now_v7())
        .bind(&c.partner)
        .bind(c.received)
        .bind(&c.channel)
        .bind(&c.category)
        .bind(&c.requester)
        .bind(&c.reference)
        .fetch_one(&mut *tx)
        .await?;
        let claim = claim(row, as_of);
        let name = claim.name.clone();
        let detail = format!("{} {} {}", c.partner, c.category, c.received);
        Ok(finish(ctx, tx, &name, "CLAIM_RECEIVED", &detail, pb::CreateClaimResponse { claim: Some(claim) })
            .await?
            .claim
            .unwrap_or_default())
    }

    /// Partner of a claim and its received date.
    pub async fn claim_partner(&self, id: Uuid) -> Result<Option<(String, NaiveDate)>> {
        Ok(sqlx::query_as("SELECT partner, received_date FROM claim WHERE claim_id = $1").bind(id).fetch_optional(&self.pool).await?)
    }

    /// Records the answer of an open claim.
    pub async fn answer_claim(&self, ctx: &WriteContext<'_>, id: Uuid, answered: NaiveDate) -> Result<pb::Claim> {
        let mut tx = match begin::<pb::AnswerClaimResponse>(&self.pool, ctx.key).await? {
            Ok(r) => return Ok(r.claim.unwrap_or_default()),
            Err(tx) => tx,
        };
        let row: Option<ClaimRow> = sqlx::query_as(&format!(
            "UPDATE claim SET answered_date = $2 WHERE claim_id = $1 AND answered_date IS NULL RETURNING {CLAIM_COLUMNS}"
        ))
        .bind(id)
        .bind(answered)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(MissionsError::Conflict(format!("claims/{id} is already answered")));
        };
        let claim = claim(row, answered);
        let name = claim.name.clone();
        let detail = format!("answered {answered} after {} days", claim.delay_days);
        Ok(finish(ctx, tx, &name, "CLAIM_ANSWERED", &detail, pb::AnswerClaimResponse { claim: Some(claim) })
            .await?
            .claim
            .unwrap_or_default())
    }

    /// A claim at a date.
    pub async fn get_claim(&self, id: Uuid, as_of: NaiveDate) -> Result<Option<pb::Claim>> {
        let row: Option<ClaimRow> =
            sqlx::query_as(&format!("SELECT {CLAIM_COLUMNS} FROM claim WHERE claim_id = $1")).bind(id).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| claim(r, as_of)))
    }

    /// Claims of visible partners, by received date.
    pub async fn list_claims(
        &self,
        visible: Option<Vec<String>>,
        as_of: NaiveDate,
        size: u32,
        token: &str,
    ) -> Result<(Vec<pb::Claim>, String)> {
        let q = fingerprint(&["claims", &visible.as_ref().map(|v| v.join(",")).unwrap_or_default(), &as_of.to_string()]);
        let (after_d, after_id) = date_key(&q, token)?;
        let rows: Vec<ClaimRow> = sqlx::query_as(&format!(
            "SELECT {CLAIM_COLUMNS} FROM claim WHERE ($1::text[] IS NULL OR partner = ANY($1)) \
             AND ($2::date IS NULL OR (received_date, claim_id) > ($2, $3)) ORDER BY received_date, claim_id LIMIT $4"
        ))
        .bind(&visible)
        .bind(after_d)
        .bind(after_id)
        .bind(i64::from(size) + 1)
        .fetch_all(&self.pool)
        .await?;
        let (rows, next) = finish_page(rows, size, &q, |r| (r.2.to_string(), r.0.to_string()));
        Ok((rows.into_iter().map(|r| claim(r, as_of)).collect(), next))
    }

    /// Opens a fraud case.
    pub async fn create_fraud(&self, ctx: &WriteContext<'_>, f: FraudIn) -> Result<pb::FraudCase> {
        let mut tx = match begin::<pb::CreateFraudCaseResponse>(&self.pool, ctx.key).await? {
            Ok(r) => return Ok(r.fraud_case.unwrap_or_default()),
            Err(tx) => tx,
        };
        let row: FraudRow = sqlx::query_as(&format!(
            "INSERT INTO fraud_case (case_id, partner, detected_date, fraud_type, amount_at_stake_cents, amount_recovered_cents, status, closed_date) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING {FRAUD_COLUMNS}"
        ))
        .bind(Uuid::now_v7())
        .bind(&f.partner)
        .bind(f.detected)
        .bind(&f.fraud_type)
        .bind(f.at_stake)
        .bind(f.recovered)
        .bind(&f.status)
        .bind(f.closed)
        .fetch_one(&mut *tx)
        .await?;
        let case = fraud(row);
        let name = case.name.clone();
        let detail = format!("{} {} cents at stake", f.partner, f.at_stake);
        Ok(finish(ctx, tx, &name, "FRAUD_CASE_OPENED", &detail, pb::CreateFraudCaseResponse { fraud_case: Some(case) })
            .await?
            .fraud_case
            .unwrap_or_default())
    }

    /// Partner of a fraud case.
    pub async fn fraud_partner(&self, id: Uuid) -> Result<Option<(String, NaiveDate)>> {
        Ok(sqlx::query_as("SELECT partner, detected_date FROM fraud_case WHERE case_id = $1").bind(id).fetch_optional(&self.pool).await?)
    }

    /// Updates a fraud case; a closed case is final.
    pub async fn update_fraud(
        &self,
        ctx: &WriteContext<'_>,
        id: Uuid,
        status: &str,
        recovered: i64,
        closed: Option<NaiveDate>,
    ) -> Result<pb::FraudCase> {
        let mut tx = match begin::<pb::UpdateFraudCaseResponse>(&self.pool, ctx.key).await? {
            Ok(r) => return Ok(r.fraud_case.unwrap_or_default()),
            Err(tx) => tx,
        };
        let row: Option<FraudRow> = sqlx::query_as(&format!(
            "UPDATE fraud_case SET status = $2, amount_recovered_cents = $3, closed_date = $4 WHERE case_id = $1 AND status <> 'CLOSED' \
             RETURNING {FRAUD_COLUMNS}"
        ))
        .bind(id)
        .bind(status)
        .bind(recovered)
        .bind(closed)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(MissionsError::Conflict(format!("fraudCases/{id} is closed")));
        };
        let case = fraud(row);
        let name = case.name.clone();
        let detail = format!("{status}, {recovered} cents recovered");
        Ok(finish(ctx, tx, &name, "FRAUD_CASE_UPDATED", &detail, pb::UpdateFraudCaseResponse { fraud_case: Some(case) })
            .await?
            .fraud_case
            .unwrap_or_default())
    }

    /// Fraud cases of visible partners, by detection date.
    pub async fn list_fraud(&self, visible: Option<Vec<String>>, size: u32, token: &str) -> Result<(Vec<pb::FraudCase>, String)> {
        let q = fingerprint(&["fraud", &visible.as_ref().map(|v| v.join(",")).unwrap_or_default()]);
        let (after_d, after_id) = date_key(&q, token)?;
        let rows: Vec<FraudRow> = sqlx::query_as(&format!(
            "SELECT {FRAUD_COLUMNS} FROM fraud_case WHERE ($1::text[] IS NULL OR partner = ANY($1)) \
             AND ($2::date IS NULL OR (detected_date, case_id) > ($2, $3)) ORDER BY detected_date, case_id LIMIT $4"
        ))
        .bind(&visible)
        .bind(after_d)
        .bind(after_id)
        .bind(i64::from(size) + 1)
        .fetch_all(&self.pool)
        .await?;
        let (rows, next) = finish_page(rows, size, &q, |r| (r.2.to_string(), r.0.to_string()));
        Ok((rows.into_iter().map(fraud).collect(), next))
    }

    // --- ANGDM social-action spending ----------------------------------------

    /// Records an ANGDM statement and executes it on its finance line, in
    /// one transaction: the statement's natural key is locked while finance
    /// is called, and finance's request id derives from that key, so neither
    /// a retry here nor a crash after finance answered records twice.
    pub async fn record_statement(&self, ctx: &WriteContext<'_>, finance: &Finance, s: StatementIn) -> Result<pb::SocialActionStatement> {
        let mut tx = match begin::<pb::RecordSocialActionSpendingResponse>(&self.pool, ctx.key).await? {
            Ok(r) => return Ok(r.statement.unwrap_or_default()),
            Err(tx) => tx,
        };
        let section = pb::BnassSection::try_from(s.section).map(|x| code_of(x.as_str_name(), "BNASS_SECTION_")).unwrap_or_default();
        let id = Uuid::now_v7();
        let inserted: Option<(Uuid,)> = sqlx::query_as(
            "INSERT INTO social_action_statement (statement_id, year, period, section, sub_item, amount_cents, reference, budget_line, recorded_by) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (year, section, sub_item, period, reference) DO NOTHING RETURNING statement_id",
        )
        .bind(id)
        .bind(s.year)
        .bind(&s.period)
        .bind(&section)
        .bind(&s.sub_item)
        .bind(s.amount_cents)
        .bind(&s.reference)
        .bind(&s.line)
        .bind(&ctx.identity.caller)
        .fetch_optional(&mut *tx)
        .await?;
        if inserted.is_none() {
            let existing: Option<StatementRow> = sqlx::query_as(&format!(
                "SELECT {STATEMENT_COLUMNS} FROM social_action_statement WHERE year = $1 AND section = $2 AND sub_item = $3 AND period = $4 AND reference = $5"
            ))
            .bind(s.year)
            .bind(&section)
            .bind(&s.sub_item)
            .bind(&s.period)
            .bind(&s.reference)
            .fetch_optional(&mut *tx)
            .await?;
            return match existing {
                // The same statement sent again under another request id: it is already executed.
                Some(row) if row.5 == s.amount_cents => Ok(statement(row)),
                _ => Err(MissionsError::AlreadyExists(format!(
                    "statement {} of {} {section} {} is already recorded with another amount",
                    s.reference, s.period, s.sub_item
                ))),
            };
        }
        let natural = format!("{}|{}|{}|{}|{}", s.year, section, s.sub_item, s.period, s.reference);
        let digest = <sha2::Sha256 as sha2::Digest>::digest(natural.as_bytes());
        let finance_request_id = format!("missions-angdm-{}", &hex::encode(digest)[..32]);
        let reason = format!("ANGDM {} {} {} statement {}", section, s.sub_item, s.period, s.reference);
        let executed = finance.execute(&s.line, s.amount_cents, &s.period_end.to_string(), &reason, &finance_request_id).await?;
        let row: StatementRow = sqlx::query_as(&format!(
            "UPDATE social_action_statement SET finance_movement = $2, evaluative_overrun = $3 WHERE statement_id = $1 RETURNING {STATEMENT_COLUMNS}"
        ))
        .bind(id)
        .bind(&executed.movement)
        .bind(executed.overrun)
        .fetch_one(&mut *tx)
        .await?;
        let st = statement(row);
        let name = st.name.clone();
        let detail = format!("{} cents on {} ({})", s.amount_cents, s.line, executed.movement);
        Ok(finish(
            ctx,
            tx,
            &name,
            "SOCIAL_ACTION_SPENDING_RECORDED",
            &detail,
            pb::RecordSocialActionSpendingResponse { statement: Some(st) },
        )
        .await?
        .statement
        .unwrap_or_default())
    }

    /// Statements, by year, section, period and reference.
    pub async fn list_statements(&self, year: i32, size: u32, token: &str) -> Result<(Vec<pb::SocialActionStatement>, String)> {
        let q = fingerprint(&["statements", &year.to_string()]);
        type Key = (i16, String, String, String, String);
        let after: Option<Key> = decode_token(DOMAIN, &q, token)?;
        let (a1, a2, a3, a4, a5) = match after {
            Some((a, b, c, d, e)) => (Some(a), Some(b), Some(c), Some(d), Some(e)),
            None => (None, None, None, None, None),
        };
        let rows: Vec<StatementRow> = sqlx::query_as(&format!(
            "SELECT {STATEMENT_COLUMNS} FROM social_action_statement WHERE ($1 = 0 OR year = $1) \
             AND ($2::smallint IS NULL OR (year, section, period, reference, sub_item) > ($2, $3, $4, $5, $6)) \
             ORDER BY year, section, period, reference, sub_item LIMIT $7"
        ))
        .bind(year as i16)
        .bind(a1)
        .bind(a2)
        .bind(a3)
        .bind(a4)
        .bind(a5)
        .bind(i64::from(size) + 1)
        .fetch_all(&self.pool)
        .await?;
        let (rows, next) = finish_page(rows, size, &q, |r| (r.1, r.3.clone(), r.2.clone(), r.6.clone(), r.4.clone()));
        Ok((rows.into_iter().map(statement).collect(), next))
    }

    /// Total of the statements of a year per section code.
    pub async fn statement_totals(&self, year: i32) -> Result<BTreeMap<String, i64>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT section, sum(amount_cents)::bigint FROM social_action_statement WHERE year = $1 GROUP BY section")
                .bind(year as i16)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().collect())
    }

    // --- metrics --------------------------------------------------------------

    /// Deliverables due in a year by status at `as_of`.
    pub async fn deliverable_metrics(&self, visible: Option<Vec<String>>, year: i32, as_of: NaiveDate) -> Result<pb::DeliverableMetrics> {
        let rows: Vec<(NaiveDate, Option<NaiveDate>)> = sqlx::query_as(
            "SELECT due_date, received_date FROM deliverable WHERE ($1::text[] IS NULL OR partner = ANY($1)) AND extract(year FROM due_date) = $2",
        )
        .bind(&visible)
        .bind(year)
        .fetch_all(&self.pool)
        .await?;
        let mut m = pb::DeliverableMetrics { due: rows.len() as i32, ..Default::default() };
        for (due, received) in rows {
            match domain::deliverable_status(due, received, as_of).0 {
                pb::DeliverableStatus::OnTime => m.on_time += 1,
                pb::DeliverableStatus::Late => m.late += 1,
                pb::DeliverableStatus::Missing => m.missing += 1,
                _ => m.expected += 1,
            }
        }
        Ok(m)
    }

    /// Claims received in a year against their targets at `as_of`.
    pub async fn claim_metrics(&self, visible: Option<Vec<String>>, year: i32, as_of: NaiveDate) -> Result<pb::ClaimMetrics> {
        let rows: Vec<ClaimRow> = sqlx::query_as(&format!(
            "SELECT {CLAIM_COLUMNS} FROM claim WHERE ($1::text[] IS NULL OR partner = ANY($1)) AND extract(year FROM received_date) = $2"
        ))
        .bind(&visible)
        .bind(year)
        .fetch_all(&self.pool)
        .await?;
        let mut m = pb::ClaimMetrics { received: rows.len() as i32, ..Default::default() };
        for r in rows {
            let c = claim(r, as_of);
            if c.status == pb::ClaimStatus::Answered as i32 {
                m.answered += 1;
                if c.within_target {
                    m.answered_within_target += 1;
                }
            } else if !c.within_target {
                m.open_overdue += 1;
            }
        }
        Ok(m)
    }
}

async fn insert_convention(tx: &mut sqlx::PgConnection, mandate_id: &str, c: &ConventionIn) -> Result<()> {
    sqlx::query(
        "INSERT INTO convention_period (mandate_id, seq, kind, reference, signed_date, effective_date, end_date, summary) \
         SELECT $1, COALESCE(max(seq), 0) + 1, $2, $3, $4, $5, $6, $7 FROM convention_period WHERE mandate_id = $1",
    )
    .bind(mandate_id)
    .bind(&c.kind)
    .bind(&c.reference)
    .bind(c.signed)
    .bind(c.effective)
    .bind(c.end)
    .bind(&c.summary)
    .execute(tx)
    .await?;
    Ok(())
}

async fn load_mandate(conn: &mut sqlx::PgConnection, id: &str) -> Result<Option<pb::Mandate>> {
    let row: Option<MandateRow> =
        sqlx::query_as("SELECT mandate_id, partner, form, title, scope, start_date, end_date FROM mandate WHERE mandate_id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((id, partner, form, title, scope, start, end)) = row else {
        return Ok(None);
    };
    type ConvRow = (String, String, Option<NaiveDate>, NaiveDate, Option<NaiveDate>, String);
    let convs: Vec<ConvRow> = sqlx::query_as(
        "SELECT kind, reference, signed_date, effective_date, end_date, summary FROM convention_period WHERE mandate_id = $1 ORDER BY seq",
    )
    .bind(&id)
    .fetch_all(&mut *conn)
    .await?;
    let terms: Vec<(i16, String, String, i64)> =
        sqlx::query_as("SELECT year, budget_line, label, amount_cents FROM financial_term WHERE mandate_id = $1 ORDER BY seq")
            .bind(&id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(Some(pb::Mandate {
        name: format!("mandates/{id}"),
        partner: partner_enum(&partner),
        form: enum_of(&form, "MANDATE_FORM_", pb::MandateForm::from_str_name),
        title,
        scope,
        start_date: start.to_string(),
        end_date: ds(end),
        conventions: convs
            .into_iter()
            .map(|(kind, reference, signed, effective, end, summary)| pb::ConventionPeriod {
                kind,
                reference,
                signed_date: ds(signed),
                effective_date: effective.to_string(),
                end_date: ds(end),
                summary,
            })
            .collect(),
        financial_terms: terms
            .into_iter()
            .map(|(year, budget_line, label, amount_cents)| pb::FinancialTerm { year: i32::from(year), budget_line, label, amount_cents })
            .collect(),
    }))
}

async fn load_run(conn: &mut sqlx::PgConnection, id: Uuid, details: bool) -> Result<Option<pb::ExchangeRun>> {
    type RunRow = (String, String, Option<String>, String, i32, i32, i32, String, serde_json::Value, chrono::DateTime<chrono::Utc>);
    let row: Option<RunRow> = sqlx::query_as(
        "SELECT dataset, sender, recipient, period, records_sent, records_accepted, records_rejected, checksum, rejected_lines, received_at \
         FROM exchange_run WHERE run_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((dataset, sender, recipient, period, sent, accepted, rejected_count, checksum, rejected, received_at)) = row else {
        return Ok(None);
    };
    let mut run = pb::ExchangeRun {
        name: format!("exchangeRuns/{id}"),
        dataset: enum_of(&dataset, "EXCHANGE_DATASET_", pb::ExchangeDataset::from_str_name),
        sender: partner_enum(&sender),
        recipient: recipient.as_deref().map(partner_enum).unwrap_or_default(),
        period,
        records_sent: sent,
        records_accepted: accepted,
        records_rejected: rejected_count,
        checksum,
        received_time: received_at.to_rfc3339(),
        ..Default::default()
    };
    type Time = chrono::DateTime<chrono::Utc>;
    let deliveries: Vec<(String, Time, Option<Time>, Option<String>)> =
        sqlx::query_as("SELECT recipient, routed_at, received_at, received_by FROM exchange_delivery WHERE run_id = $1 ORDER BY recipient")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    run.deliveries = deliveries
        .into_iter()
        .map(|(recipient, routed, received, by)| pb::ExchangeDelivery {
            recipient: partner_enum(&recipient),
            routed_time: routed.to_rfc3339(),
            received_time: received.map(|r| r.to_rfc3339()).unwrap_or_default(),
            received_by: by.unwrap_or_default(),
        })
        .collect();
    if details {
        run.rejected = rejected
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| pb::RejectedLine {
                        line: r["line"].as_i64().unwrap_or_default() as i32,
                        field: r["field"].as_str().unwrap_or_default().to_owned(),
                        reason: r["reason"].as_str().unwrap_or_default().to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let aggs: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT record_type, country_code, month, records FROM exchange_aggregate WHERE run_id = $1 ORDER BY record_type, country_code, month",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        run.aggregates = aggs
            .into_iter()
            .map(|(record_type, country_code, month, count)| pb::ExchangeAggregate { record_type, country_code, month, count })
            .collect();
    }
    Ok(Some(run))
}
