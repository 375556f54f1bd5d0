//! PostgreSQL storage of the budget funds (schema `finance`).
//!
//! A line's position is always derived from the append-only `movement`
//! journal (a trigger refuses UPDATE and DELETE). Every write locks the lines
//! it checks (`SELECT … FOR UPDATE` on `budget_line`), so two spendings on a
//! limitative line cannot both pass the control; and writes go through
//! `filieris_runtime::write` (audit, change feed, request-id idempotency in
//! the same transaction).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use filieris_proto::finance as pb;
use filieris_runtime::idempotency::IdempotencyKey;
use filieris_runtime::identity::Identity;
use filieris_runtime::pagination::{decode_token, fingerprint, finish_page};
use filieris_runtime::server::timestamp;
use filieris_runtime::write::{self, Begun, Recorded};
use prost::Message;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::domain::{
    self, CloseDecision, Fund, Group, LineInfo, NOTIFICATION_DAYS, Nature, REUSE_TARGET_LINE, SpendRefusal, TransferRefusal, TransferRule,
};
use crate::error::{DOMAIN, FinanceError, Result};

/// Budget kinds: they change the authorised credits.
const AUTHORISED_KINDS: &str = "('BASE','BUDGET_CHANGE','TRANSFER_OUT','TRANSFER_IN','CARRY_IN','UPLIFT','INDEXATION','CANCELLATION')";
/// A running close not updated for this long is considered abandoned (crash) and restarted.
const CLOSE_STALE_SECONDS: i64 = 60;
/// Caller recorded on the movements the service makes itself.
const SERVICE_CALLER: &str = "service:finance";

/// A fund year: `funds/{fund}/years/{year}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FundYear {
    pub fund: Fund,
    pub year: i16,
}

impl FundYear {
    /// Parses the start of a resource name; returns the rest after the year.
    pub fn parse_prefix(name: &str) -> Option<(FundYear, &str)> {
        let rest = name.strip_prefix("funds/")?;
        let (fund, rest) = rest.split_once("/years/")?;
        let (year, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let year: i16 = year.parse().ok()?;
        Some((FundYear { fund: Fund::parse(fund)?, year }, tail))
    }

    /// Parses `funds/{fund}/years/{year}` exactly.
    pub fn parse(name: &str) -> Result<FundYear> {
        match Self::parse_prefix(name) {
            Some((fy, "")) => Ok(fy),
            _ => Err(FinanceError::field("name", "must be funds/{BNGA|BNASS|BNPPS|FNMO}/years/{year}")),
        }
    }

    pub fn name(&self) -> String {
        format!("funds/{}/years/{}", self.fund.as_str(), self.year)
    }

    fn child(&self, collection: &str, id: impl std::fmt::Display) -> String {
        format!("{}/{collection}/{id}", self.name())
    }
}

/// Parses `funds/{fund}/years/{year}/{collection}/{id}`.
pub fn parse_child<'a>(name: &'a str, collection: &str) -> Option<(FundYear, &'a str)> {
    let (fy, tail) = FundYear::parse_prefix(name)?;
    let id = tail.strip_prefix(collection)?.strip_prefix('/')?;
    (!id.is_empty() && !id.contains('/')).then_some((fy, id))
}

/// A line and its position.
#[derive(Debug, Clone)]
pub struct LineRow {
    pub info: LineInfo,
    pub parent: String,
    pub ordinal: i32,
    pub label: String,
    pub label_en: String,
    pub initial: i64,
    pub authorised: i64,
    pub committed: i64,
    pub executed: i64,
    pub carried_in: i64,
}

impl LineRow {
    pub fn available(&self) -> i64 {
        self.authorised - self.executed - self.committed
    }

    /// Evaluative overrun awaiting regularisation: what is spent beyond the
    /// credits (a later amending budget clears it).
    pub fn overrun(&self) -> i64 {
        if self.info.nature == Nature::Evaluative { (-self.available()).max(0) } else { 0 }
    }

    pub fn position(&self) -> pb::LinePosition {
        pb::LinePosition {
            initial_cents: self.initial,
            authorised_cents: self.authorised,
            committed_cents: self.committed,
            executed_cents: self.executed,
            available_cents: self.available(),
            carried_in_cents: self.carried_in,
            overrun_cents: self.overrun(),
        }
    }

    pub fn to_proto(&self, fy: &FundYear) -> pb::BudgetLine {
        pb::BudgetLine {
            name: fy.child("lines", &self.info.code),
            code: self.info.code.clone(),
            parent_code: self.parent.clone(),
            label: self.label.clone(),
            label_en: self.label_en.clone(),
            section: self.info.section.clone(),
            nature: nature_proto(self.info.nature) as i32,
            transfer_group: group_proto(self.info.group) as i32,
            position: Some(self.position()),
        }
    }
}

fn nature_proto(n: Nature) -> pb::LineNature {
    match n {
        Nature::Limitative => pb::LineNature::Limitative,
        Nature::Evaluative => pb::LineNature::Evaluative,
        Nature::Reserve => pb::LineNature::Reserve,
        Nature::Subtotal => pb::LineNature::Subtotal,
    }
}

fn group_proto(g: Group) -> pb::TransferGroup {
    match g {
        Group::None => pb::TransferGroup::Unspecified,
        Group::Personnel => pb::TransferGroup::Personnel,
        Group::Operating => pb::TransferGroup::Operating,
        Group::Investment => pb::TransferGroup::Investment,
        Group::CollectiveOperating => pb::TransferGroup::CollectiveOperating,
        Group::CollectiveInvestment => pb::TransferGroup::CollectiveInvestment,
    }
}

/// state, lines done, lines total, statement, error, started, finished.
type CloseRow = (String, i32, i32, serde_json::Value, String, DateTime<Utc>, Option<DateTime<Utc>>);

type PositionRow = (String, String, String, i32, String, String, String, String, i64, i64, i64, i64, i64);

/// Who allowed a movement, as stored.
#[derive(Debug, Clone, Default)]
pub struct AuthorityIn {
    pub kind: String,
    pub reference: String,
    pub date: Option<NaiveDate>,
}

fn date_text(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// A movement to append.
struct NewMovement<'a> {
    code: &'a str,
    year: i16,
    kind: &'static str,
    amount: i64,
    date: NaiveDate,
    rule: &'a str,
    authority: &'a AuthorityIn,
    reason: &'a str,
    recorded_by: &'a str,
    request_id: &'a str,
    tags: Vec<String>,
    overrun: i64,
    commitment: Option<i64>,
    transfer: Option<Uuid>,
    origin: String,
}

const MOVEMENT_COLUMNS: &str = "id, year, code, kind, amount_cents, effective_date, rule, authority_kind, authority_ref, authority_date, reason, \
                                recorded_by, recorded_at, tags, overrun_cents, transfer_id";

#[derive(sqlx::FromRow)]
struct MovementRow {
    id: i64,
    year: i16,
    code: String,
    kind: String,
    amount_cents: i64,
    effective_date: NaiveDate,
    rule: String,
    authority_kind: String,
    authority_ref: String,
    authority_date: Option<NaiveDate>,
    reason: String,
    recorded_by: String,
    recorded_at: DateTime<Utc>,
    tags: Vec<String>,
    overrun_cents: i64,
    transfer_id: Option<Uuid>,
}

fn movement_kind(kind: &str) -> pb::MovementKind {
    pb::MovementKind::from_str_name(&format!("MOVEMENT_KIND_{kind}")).unwrap_or(pb::MovementKind::Unspecified)
}

impl MovementRow {
    fn to_proto(&self, fund: Fund) -> pb::Movement {
        let fy = FundYear { fund, year: self.year };
        pb::Movement {
            name: fy.child("movements", self.id),
            line: self.code.clone(),
            kind: movement_kind(&self.kind) as i32,
            amount_cents: self.amount_cents,
            effective_date: self.effective_date.to_string(),
            rule: self.rule.clone(),
            authority: Some(pb::Authority {
                kind: self.authority_kind.clone(),
                reference: self.authority_ref.clone(),
                date: date_text(self.authority_date),
            }),
            reason: self.reason.clone(),
            recorded_by: self.recorded_by.clone(),
            record_time: Some(timestamp(self.recorded_at)),
            tags: self.tags.clone(),
            overrun_cents: self.overrun_cents,
            transfer: self.transfer_id.map(|t| fy.child("transfers", t)).unwrap_or_default(),
        }
    }
}

const TRANSFER_COLUMNS: &str = "id, fund, year, from_code, to_code, amount_cents, transfer_date, effective_date, state, rule, reason, vote_ref, \
                                vote_date, ministries_kind, ministries_ref, ministries_date, tags, requested_by, created_at";

#[derive(sqlx::FromRow, Clone)]
struct TransferRow {
    id: Uuid,
    fund: String,
    year: i16,
    from_code: String,
    to_code: String,
    amount_cents: i64,
    transfer_date: NaiveDate,
    effective_date: Option<NaiveDate>,
    state: String,
    rule: String,
    reason: String,
    vote_ref: Option<String>,
    vote_date: Option<NaiveDate>,
    ministries_kind: Option<String>,
    ministries_ref: Option<String>,
    ministries_date: Option<NaiveDate>,
    tags: Vec<String>,
    requested_by: String,
    created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow, Clone)]
struct NotificationRow {
    id: Uuid,
    transfer_id: Uuid,
    fund: String,
    year: i16,
    recipient: String,
    due_date: NaiveDate,
    sent_date: Option<NaiveDate>,
}

impl NotificationRow {
    fn to_proto(&self, today: NaiveDate) -> pb::Notification {
        let fy = FundYear { fund: Fund::parse(&self.fund).unwrap_or(Fund::Bnga), year: self.year };
        let late_as_of = self.sent_date.unwrap_or(today);
        let days_late = (late_as_of - self.due_date).num_days().max(0);
        pb::Notification {
            name: fy.child("notifications", self.id),
            transfer: fy.child("transfers", self.transfer_id),
            recipient: self.recipient.clone(),
            due_date: self.due_date.to_string(),
            sent_date: date_text(self.sent_date),
            days_late: i32::try_from(days_late).unwrap_or(i32::MAX),
        }
    }
}

fn transfer_state(s: &str) -> pb::TransferState {
    pb::TransferState::from_str_name(&format!("TRANSFER_STATE_{s}")).unwrap_or(pb::TransferState::Unspecified)
}

/// An advisory-lock key for a named thing.
fn lock_key(parts: &[&str]) -> i64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b)
}

/// The context of one write call.
pub struct WriteContext<'a> {
    pub identity: &'a Identity,
    pub method: &'a str,
    pub key: Option<&'a IdempotencyKey>,
    pub request_id: &'a str,
}

/// A spending request, validated.
pub struct Spending {
    pub line: String,
    pub kind: pb::SpendingKind,
    pub amount: i64,
    pub date: NaiveDate,
    pub commitment: Option<i64>,
    pub reason: String,
}

/// A real-estate sale, validated.
pub struct AssetSaleIn {
    pub year: i16,
    pub asset: String,
    pub date: NaiveDate,
    pub price: i64,
    pub net_book_value: i64,
    pub social_security_buyer: bool,
    pub investment_percent: i16,
    pub square_metres: i32,
    pub reason: String,
}

/// A transfer request, validated.
pub struct TransferIn {
    pub from: String,
    pub to: String,
    pub amount: i64,
    pub date: NaiveDate,
    pub reason: String,
    pub amending_decision: bool,
    pub ministries: Option<AuthorityIn>,
}

/// The budget's data access.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Loads the lines of the COG tables for 2022–2024 and their BASE
    /// movements, once: running it again adds nothing (R01).
    pub async fn load_reference(&self) -> anyhow::Result<()> {
        let lines = domain::reference_lines().map_err(|e| anyhow::anyhow!("reference tables: {e}"))?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(lock_key(&["finance-reference"])).execute(&mut *tx).await?;
        let cog =
            AuthorityIn { kind: "COG".into(), reference: "COG 2022-2024, annexe 3".into(), date: NaiveDate::from_ymd_opt(2022, 2, 2) };
        for (i, year) in domain::COG_YEARS.iter().enumerate() {
            for l in &lines {
                sqlx::query(
                    "INSERT INTO budget_line (fund, year, code, parent_code, section, ordinal, label, label_en, nature, transfer_group) \
                     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT DO NOTHING",
                )
                .bind(l.info.fund.as_str())
                .bind(year)
                .bind(&l.info.code)
                .bind(&l.parent)
                .bind(&l.info.section)
                .bind(l.ordinal)
                .bind(&l.label)
                .bind(&l.label_en)
                .bind(l.info.nature.as_str())
                .bind(l.info.group.as_str())
                .execute(&mut *tx)
                .await?;
                let Some(amount) = l.amounts[i] else { continue };
                let exists: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM movement WHERE fund = $1 AND year = $2 AND code = $3 AND kind = 'BASE'")
                        .bind(l.info.fund.as_str())
                        .bind(year)
                        .bind(&l.info.code)
                        .fetch_optional(&mut *tx)
                        .await?;
                if exists.is_none() {
                    let date = NaiveDate::from_ymd_opt(i32::from(*year), 1, 1).unwrap_or_default();
                    let m = NewMovement {
                        code: &l.info.code,
                        year: *year,
                        kind: "BASE",
                        amount,
                        date,
                        rule: "R01",
                        authority: &cog,
                        reason: "montant de la COG (budget initial)",
                        recorded_by: SERVICE_CALLER,
                        request_id: "",
                        tags: Vec::new(),
                        overrun: 0,
                        commitment: None,
                        transfer: None,
                        origin: String::new(),
                    };
                    Self::append(&mut tx, l.info.fund, &m).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn append(conn: &mut PgConnection, fund: Fund, m: &NewMovement<'_>) -> Result<MovementRow> {
        Ok(sqlx::query_as(&format!(
            "INSERT INTO movement (fund, year, code, kind, amount_cents, effective_date, rule, authority_kind, authority_ref, authority_date, \
                                   reason, recorded_by, request_id, tags, overrun_cents, commitment_id, transfer_id, origin) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18) RETURNING {MOVEMENT_COLUMNS}"
        ))
        .bind(fund.as_str())
        .bind(m.year)
        .bind(m.code)
        .bind(m.kind)
        .bind(m.amount)
        .bind(m.date)
        .bind(m.rule)
        .bind(&m.authority.kind)
        .bind(&m.authority.reference)
        .bind(m.authority.date)
        .bind(m.reason)
        .bind(m.recorded_by)
        .bind(m.request_id)
        .bind(&m.tags)
        .bind(m.overrun)
        .bind(m.commitment)
        .bind(m.transfer)
        .bind(&m.origin)
        .fetch_one(conn)
        .await?)
    }

    // ------------------------------------------------------------ positions

    /// Positions of the lines of a fund year (or of one line), subtotals
    /// summed from their lines.
    async fn positions(conn: &mut PgConnection, fy: &FundYear, code: Option<&str>) -> Result<Vec<LineRow>> {
        let rows: Vec<PositionRow> = sqlx::query_as(&format!(
            "SELECT l.code, l.parent_code, l.section, l.ordinal, l.label, l.label_en, l.nature, l.transfer_group, \
                    coalesce(sum(m.amount_cents) FILTER (WHERE m.kind = 'BASE'), 0)::bigint, \
                    coalesce(sum(m.amount_cents) FILTER (WHERE m.kind IN {AUTHORISED_KINDS}), 0)::bigint, \
                    (coalesce(sum(m.amount_cents) FILTER (WHERE m.kind = 'COMMITMENT'), 0) \
                     - coalesce(sum(m.amount_cents) FILTER (WHERE m.kind = 'COMMITMENT_RELEASE'), 0))::bigint, \
                    coalesce(sum(m.amount_cents) FILTER (WHERE m.kind = 'EXECUTION'), 0)::bigint, \
                    coalesce(sum(m.amount_cents) FILTER (WHERE m.kind = 'CARRY_IN'), 0)::bigint \
             FROM budget_line l LEFT JOIN movement m ON m.fund = l.fund AND m.year = l.year AND m.code = l.code \
             WHERE l.fund = $1 AND l.year = $2 AND ($3::text IS NULL OR l.code = $3) \
             GROUP BY l.fund, l.year, l.code ORDER BY l.ordinal"
        ))
        .bind(fy.fund.as_str())
        .bind(fy.year)
        .bind(code)
        .fetch_all(conn)
        .await?;
        let mut lines: Vec<LineRow> = rows
            .into_iter()
            .map(|r| LineRow {
                info: LineInfo {
                    fund: fy.fund,
                    code: r.0,
                    section: r.2,
                    nature: Nature::parse(&r.6).unwrap_or(Nature::Subtotal),
                    group: Group::parse(&r.7),
                },
                parent: r.1,
                ordinal: r.3,
                label: r.4,
                label_en: r.5,
                initial: r.8,
                authorised: r.9,
                committed: r.10,
                executed: r.11,
                carried_in: r.12,
            })
            .collect();
        if code.is_none() {
            // Add each leaf to every ancestor.
            let index: HashMap<String, usize> = lines.iter().enumerate().map(|(i, l)| (l.info.code.clone(), i)).collect();
            let leaves: Vec<LineRow> = lines.iter().filter(|l| l.info.nature != Nature::Subtotal).cloned().collect();
            for leaf in leaves {
                let mut parent = leaf.parent.clone();
                while let Some(&i) = index.get(&parent) {
                    let p = &mut lines[i];
                    p.initial += leaf.initial;
                    p.authorised += leaf.authorised;
                    p.committed += leaf.committed;
                    p.executed += leaf.executed;
                    p.carried_in += leaf.carried_in;
                    parent = p.parent.clone();
                }
            }
        }
        Ok(lines)
    }

    /// One line, locked for the rest of the transaction.
    async fn locked_line(conn: &mut PgConnection, fy: &FundYear, code: &str) -> Result<LineRow> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT code FROM budget_line WHERE fund = $1 AND year = $2 AND code = $3 FOR UPDATE")
                .bind(fy.fund.as_str())
                .bind(fy.year)
                .bind(code)
                .fetch_optional(&mut *conn)
                .await?;
        if found.is_none() {
            return Err(FinanceError::NotFound { kind: "line", name: fy.child("lines", code) });
        }
        Self::positions(conn, fy, Some(code))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| FinanceError::NotFound { kind: "line", name: fy.child("lines", code) })
    }

    async fn ensure_open(conn: &mut PgConnection, fy: &FundYear) -> Result<()> {
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM year_close WHERE fund = $1 AND year = $2")
            .bind(fy.fund.as_str())
            .bind(fy.year)
            .fetch_optional(conn)
            .await?;
        if state.as_deref() == Some("DONE") { Err(FinanceError::YearClosed(fy.name())) } else { Ok(()) }
    }

    async fn ensure_fund_year(&self, fy: &FundYear) -> Result<()> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM budget_line WHERE fund = $1 AND year = $2")
            .bind(fy.fund.as_str())
            .bind(fy.year)
            .fetch_one(&self.pool)
            .await?;
        if n == 0 { Err(FinanceError::NotFound { kind: "fund year", name: fy.name() }) } else { Ok(()) }
    }

    /// Lines of a fund year in table order, a page at a time.
    pub async fn list_lines(&self, fy: &FundYear, size: u32, token: &str) -> Result<(Vec<pb::BudgetLine>, String)> {
        self.ensure_fund_year(fy).await?;
        let fp = fingerprint(&["lines", &fy.name()]);
        let after: Option<i32> = decode_token(DOMAIN, &fp, token)?;
        let mut conn = self.pool.acquire().await?;
        let lines: Vec<LineRow> =
            Self::positions(&mut conn, fy, None).await?.into_iter().filter(|l| after.is_none_or(|a| l.ordinal > a)).collect();
        let lines: Vec<LineRow> = lines.into_iter().take(size as usize + 1).collect();
        let (page, next) = finish_page(lines, size, &fp, |l| l.ordinal);
        Ok((page.iter().map(|l| l.to_proto(fy)).collect(), next))
    }

    /// One line with its position (subtotals included).
    pub async fn get_line(&self, fy: &FundYear, code: &str) -> Result<pb::BudgetLine> {
        let mut conn = self.pool.acquire().await?;
        Self::positions(&mut conn, fy, None)
            .await?
            .into_iter()
            .find(|l| l.info.code == code)
            .map(|l| l.to_proto(fy))
            .ok_or_else(|| FinanceError::NotFound { kind: "line", name: fy.child("lines", code) })
    }

    /// Movements of a fund year (optionally one line), oldest first.
    pub async fn list_movements(&self, fy: &FundYear, line: &str, size: u32, token: &str) -> Result<(Vec<pb::Movement>, String)> {
        self.ensure_fund_year(fy).await?;
        let fp = fingerprint(&["movements", &fy.name(), line]);
        let after: Option<i64> = decode_token(DOMAIN, &fp, token)?;
        let rows: Vec<MovementRow> = sqlx::query_as(&format!(
            "SELECT {MOVEMENT_COLUMNS} FROM movement WHERE fund = $1 AND year = $2 AND ($3 = '' OR code = $3) \
             AND ($4::bigint IS NULL OR id > $4) ORDER BY id LIMIT $5"
        ))
        .bind(fy.fund.as_str())
        .bind(fy.year)
        .bind(line)
        .bind(after)
        .bind(i64::from(size) + 1)
        .fetch_all(&self.pool)
        .await?;
        let (page, next) = finish_page(rows, size, &fp, |m| m.id);
        Ok((page.iter().map(|m| m.to_proto(fy.fund)).collect(), next))
    }

    // ------------------------------------------------------------- spending

    /// Records a commitment, a release or an execution under the R02 control.
    pub async fn record_spending(&self, ctx: &WriteContext<'_>, fy: &FundYear, s: &Spending) -> Result<pb::RecordSpendingResponse> {
        let mut tx = match write::begin(DOMAIN, &self.pool, ctx.key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        Self::ensure_open(&mut tx, fy).await?;
        let line = Self::locked_line(&mut tx, fy, &s.line).await?;
        let line_name = fy.child("lines", &s.line);
        let refusal = |r: SpendRefusal| match r {
            SpendRefusal::LimitativeExceeded { shortfall_cents } => {
                FinanceError::LimitativeExceeded { line: line_name.clone(), shortfall_cents }
            }
            SpendRefusal::ReserveNotConsumable => FinanceError::ReserveNotConsumable(line_name.clone()),
            SpendRefusal::NotPostable => FinanceError::NotPostable(line_name.clone()),
        };
        if line.info.nature == Nature::Subtotal {
            return Err(refusal(SpendRefusal::NotPostable));
        }
        // What remains of the commitment, when one is named.
        let commitment_left = match s.commitment {
            None => None,
            Some(id) => {
                let row: Option<(String, i64, i64)> = sqlx::query_as(
                    "SELECT c.code, c.amount_cents, coalesce((SELECT sum(r.amount_cents) FROM movement r \
                        WHERE r.commitment_id = c.id AND r.kind = 'COMMITMENT_RELEASE'), 0)::bigint \
                     FROM movement c WHERE c.id = $1 AND c.fund = $2 AND c.year = $3 AND c.kind = 'COMMITMENT'",
                )
                .bind(id)
                .bind(fy.fund.as_str())
                .bind(fy.year)
                .fetch_optional(&mut *tx)
                .await?;
                match row {
                    Some((code, amount, released)) if code == s.line => Some((id, amount - released)),
                    _ => return Err(FinanceError::NotFound { kind: "movement", name: fy.child("movements", id) }),
                }
            }
        };
        let me = AuthorityIn { kind: "SERVICE".into(), reference: ctx.identity.caller.clone(), date: Some(s.date) };
        let base = |kind: &'static str, amount: i64, overrun: i64, commitment: Option<i64>| NewMovement {
            code: &s.line,
            year: fy.year,
            kind,
            amount,
            date: s.date,
            rule: "R02",
            authority: &me,
            reason: &s.reason,
            recorded_by: &ctx.identity.caller,
            request_id: ctx.request_id,
            tags: Vec::new(),
            overrun,
            commitment,
            transfer: None,
            origin: String::new(),
        };
        let mut written = Vec::new();
        let mut overrun = 0;
        match s.kind {
            pb::SpendingKind::Commitment => {
                overrun = domain::check_spending(line.info.nature, line.available(), s.amount).map_err(refusal)?;
                written.push(Self::append(&mut tx, fy.fund, &base("COMMITMENT", s.amount, overrun, None)).await?);
            }
            pb::SpendingKind::CommitmentRelease => {
                let Some((id, left)) = commitment_left else {
                    return Err(FinanceError::field("commitment", "a release names the commitment it releases"));
                };
                if s.amount > left {
                    return Err(FinanceError::CommitmentExceeded(format!("commitment {id} has {left} cents left, {} asked", s.amount)));
                }
                written.push(Self::append(&mut tx, fy.fund, &base("COMMITMENT_RELEASE", s.amount, 0, Some(id))).await?);
            }
            _ => {
                // A payment against a commitment consumes the commitment first:
                // only the excess is new spending.
                let covered = commitment_left.map(|(_, left)| left.clamp(0, s.amount)).unwrap_or(0);
                let excess = s.amount - covered;
                if excess > 0 || line.info.nature != Nature::Evaluative {
                    overrun = domain::check_spending(line.info.nature, line.available(), excess).map_err(refusal)?;
                }
                if let (Some((id, _)), true) = (commitment_left, covered > 0) {
                    written.push(Self::append(&mut tx, fy.fund, &base("COMMITMENT_RELEASE", covered, 0, Some(id))).await?);
                }
                written.push(Self::append(&mut tx, fy.fund, &base("EXECUTION", s.amount, overrun, commitment_left.map(|c| c.0))).await?);
            }
        }
        let after = Self::locked_line(&mut tx, fy, &s.line).await?;
        let response = pb::RecordSpendingResponse {
            movements: written.iter().map(|m| m.to_proto(fy.fund)).collect(),
            position: Some(after.position()),
            evaluative_overrun: overrun > 0,
        };
        let detail = format!(
            "{:?} {} cents{}",
            s.kind,
            s.amount,
            if overrun > 0 { format!(", evaluative overrun {overrun}") } else { String::new() }
        );
        write::record(
            &mut tx,
            &Recorded {
                identity: ctx.identity,
                method: ctx.method,
                request_id: ctx.request_id,
                resource: &line_name,
                change_type: "BUDGET_SPENDING_RECORDED",
                revision: 0,
                detail: &detail,
            },
        )
        .await?;
        write::commit(DOMAIN, tx, ctx.key, &response).await?;
        Ok(response)
    }

    /// Records a board decision (BP/BR) on a line.
    pub async fn amend(
        &self,
        ctx: &WriteContext<'_>,
        fy: &FundYear,
        code: &str,
        amount: i64,
        authority: &AuthorityIn,
        reason: &str,
    ) -> Result<pb::AmendBudgetResponse> {
        let mut tx = match write::begin(DOMAIN, &self.pool, ctx.key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        Self::ensure_open(&mut tx, fy).await?;
        let line = Self::locked_line(&mut tx, fy, code).await?;
        let name = fy.child("lines", code);
        if line.info.nature == Nature::Subtotal {
            return Err(FinanceError::NotPostable(name));
        }
        // A reduction cannot take a limitative line below what it already consumed.
        if amount < 0 && line.info.nature != Nature::Evaluative && -amount > line.available() {
            return Err(FinanceError::LimitativeExceeded { line: name, shortfall_cents: -amount - line.available() });
        }
        let date = authority.date.unwrap_or_default();
        let m = NewMovement {
            code,
            year: fy.year,
            kind: "BUDGET_CHANGE",
            amount,
            date,
            rule: if line.info.nature == Nature::Reserve { "R15" } else { "R18" },
            authority,
            reason,
            recorded_by: &ctx.identity.caller,
            request_id: ctx.request_id,
            tags: Vec::new(),
            overrun: 0,
            commitment: None,
            transfer: None,
            origin: String::new(),
        };
        let row = Self::append(&mut tx, fy.fund, &m).await?;
        let after = Self::locked_line(&mut tx, fy, code).await?;
        let response = pb::AmendBudgetResponse { movement: Some(row.to_proto(fy.fund)), position: Some(after.position()) };
        write::record(
            &mut tx,
            &Recorded {
                identity: ctx.identity,
                method: ctx.method,
                request_id: ctx.request_id,
                resource: &name,
                change_type: "BUDGET_AMENDED",
                revision: 0,
                detail: &format!("{amount} cents, {} {}", authority.kind, authority.reference),
            },
        )
        .await?;
        write::commit(DOMAIN, tx, ctx.key, &response).await?;
        Ok(response)
    }

    // ------------------------------------------------------------ transfers

    /// Asks for a transfer under the fund's rule.
    pub async fn create_transfer(&self, ctx: &WriteContext<'_>, fy: &FundYear, t: &TransferIn) -> Result<pb::Transfer> {
        let mut tx = match write::begin::<pb::CreateTransferResponse>(DOMAIN, &self.pool, ctx.key).await? {
            Begun::Replayed(previous) => {
                return previous.transfer.ok_or_else(|| FinanceError::field("request_id", "replay without a transfer"));
            }
            Begun::Fresh(tx) => tx,
        };
        Self::ensure_open(&mut tx, fy).await?;
        // Lock both lines in a fixed order so two transfers cannot deadlock.
        let (first, second) = if t.from <= t.to { (&t.from, &t.to) } else { (&t.to, &t.from) };
        let a = Self::locked_line(&mut tx, fy, first).await?;
        let b = Self::locked_line(&mut tx, fy, second).await?;
        let (from, to) = if t.from <= t.to { (a, b) } else { (b, a) };
        let (rule, rule_id) = domain::transfer_rule(&from.info, &to.info).map_err(|r| match r {
            TransferRefusal::EvaluativeByBudgetOnly(code) => FinanceError::EvaluativeNotTransferable(fy.child("lines", code)),
            TransferRefusal::NotATransfer(why) => FinanceError::TransferForbidden(why),
            TransferRefusal::FnmoByBudgetOnly => {
                FinanceError::TransferForbidden("the FNMO changes only through its initial and amending budgets (R05)".into())
            }
        })?;
        let id = Uuid::now_v7();
        let mut tags: Vec<String> = Vec::new();
        let (state, ministries) = match rule {
            TransferRule::AmendingDecision if !t.amending_decision => {
                return Err(FinanceError::TransferForbidden(format!(
                    "{rule_id}: a transfer from {} to {} is not one the director general may make; it needs an amending decision \
                     voted by the board and approved by the ministries (send it again with amending_decision)",
                    t.from, t.to
                )));
            }
            TransferRule::AmendingDecision => ("REQUESTED", None),
            TransferRule::ReserveUse => {
                let authorised = t.ministries.as_ref().filter(|m| !m.reference.is_empty() && m.date.is_some_and(|d| d <= t.date));
                let Some(m) = authorised else {
                    return Err(FinanceError::ReserveUseNotAuthorised(format!(
                        "R15: using the national reserve ({}) needs the ministries' prior authorisation (reference and a date not after {})",
                        t.from, t.date
                    )));
                };
                tags.push("board_information".into());
                ("DONE", Some(m.clone()))
            }
            TransferRule::Director { cross_section, .. } => {
                if cross_section {
                    tags.push("cross_section".into());
                }
                ("DONE", None)
            }
        };
        if state == "DONE" && from.info.nature == Nature::Limitative && t.amount > from.available() {
            return Err(FinanceError::LimitativeExceeded {
                line: fy.child("lines", &t.from),
                shortfall_cents: t.amount - from.available(),
            });
        }
        if state == "DONE" && from.info.nature == Nature::Reserve && t.amount > from.available() {
            return Err(FinanceError::ReserveUseNotAuthorised(format!(
                "the national reserve holds {} cents, {} asked",
                from.available(),
                t.amount
            )));
        }
        let notify = matches!(rule, TransferRule::Director { notify: true, .. });
        if notify && Self::completes_chain(&mut tx, fy, &from.info, t).await? {
            tags.push("chain".into());
        }
        sqlx::query(
            "INSERT INTO transfer (id, fund, year, from_code, to_code, amount_cents, transfer_date, effective_date, state, rule, reason, \
                                   ministries_kind, ministries_ref, ministries_date, tags, requested_by) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)",
        )
        .bind(id)
        .bind(fy.fund.as_str())
        .bind(fy.year)
        .bind(&t.from)
        .bind(&t.to)
        .bind(t.amount)
        .bind(t.date)
        .bind((state == "DONE").then_some(t.date))
        .bind(state)
        .bind(rule_id)
        .bind(&t.reason)
        .bind(ministries.as_ref().map(|m| m.kind.clone()))
        .bind(ministries.as_ref().map(|m| m.reference.clone()))
        .bind(ministries.as_ref().and_then(|m| m.date))
        .bind(&tags)
        .bind(&ctx.identity.caller)
        .execute(&mut *tx)
        .await?;
        if state == "DONE" {
            let authority = match &ministries {
                Some(m) => m.clone(),
                None => AuthorityIn { kind: "DG".into(), reference: ctx.identity.caller.clone(), date: Some(t.date) },
            };
            Self::move_credits(&mut tx, fy, id, t, t.date, rule_id, &authority, &ctx.identity.caller, ctx.request_id, &tags).await?;
        }
        if notify {
            let due = t.date.checked_add_days(chrono::Days::new(NOTIFICATION_DAYS)).unwrap_or(t.date);
            for recipient in ["CGEFI", "MINISTRIES"] {
                sqlx::query("INSERT INTO notification (id, transfer_id, fund, year, recipient, due_date) VALUES ($1,$2,$3,$4,$5,$6)")
                    .bind(Uuid::now_v7())
                    .bind(id)
                    .bind(fy.fund.as_str())
                    .bind(fy.year)
                    .bind(recipient)
                    .bind(due)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let transfer = Self::transfer_in(&mut tx, id).await?;
        let name = transfer.name.clone();
        write::record(
            &mut tx,
            &Recorded {
                identity: ctx.identity,
                method: ctx.method,
                request_id: ctx.request_id,
                resource: &name,
                change_type: if state == "DONE" { "TRANSFER_DONE" } else { "TRANSFER_REQUESTED" },
                revision: 0,
                detail: &format!("{} → {}: {} cents ({rule_id})", t.from, t.to, t.amount),
            },
        )
        .await?;
        let response = pb::CreateTransferResponse { transfer: Some(transfer) };
        write::commit(DOMAIN, tx, ctx.key, &response).await?;
        response.transfer.ok_or_else(|| FinanceError::field("transfer", "missing"))
    }

    /// R03 step 8: an operating → investment transfer that follows a personnel
    /// → operating one of the same amount (± 1 %) within 30 days completes a
    /// personnel → investment chain, flagged for management control.
    async fn completes_chain(conn: &mut PgConnection, fy: &FundYear, from: &LineInfo, t: &TransferIn) -> Result<bool> {
        if from.group != Group::Operating {
            return Ok(false);
        }
        let found: Option<Uuid> = sqlx::query_scalar(
            "SELECT t.id FROM transfer t JOIN budget_line f ON f.fund = t.fund AND f.year = t.year AND f.code = t.from_code \
             WHERE t.fund = $1 AND t.year = $2 AND t.state = 'DONE' AND f.transfer_group = 'PERSONNEL' \
               AND t.transfer_date BETWEEN $3::date - 30 AND $3::date \
               AND t.amount_cents * 100 BETWEEN $4 * 99 AND $4 * 101 LIMIT 1",
        )
        .bind(fy.fund.as_str())
        .bind(fy.year)
        .bind(t.date)
        .bind(t.amount)
        .fetch_optional(conn)
        .await?;
        Ok(found.is_some())
    }

    #[allow(clippy::too_many_arguments)]
    async fn move_credits(
        conn: &mut PgConnection,
        fy: &FundYear,
        id: Uuid,
        t: &TransferIn,
        effective: NaiveDate,
        rule: &str,
        authority: &AuthorityIn,
        caller: &str,
        request_id: &str,
        tags: &[String],
    ) -> Result<()> {
        for (code, kind, amount) in [(&t.from, "TRANSFER_OUT", -t.amount), (&t.to, "TRANSFER_IN", t.amount)] {
            let m = NewMovement {
                code,
                year: fy.year,
                kind,
                amount,
                date: effective,
                rule,
                authority,
                reason: &t.reason,
                recorded_by: caller,
                request_id,
                tags: tags.to_vec(),
                overrun: 0,
                commitment: None,
                transfer: Some(id),
                origin: String::new(),
            };
            Self::append(conn, fy.fund, &m).await?;
        }
        Ok(())
    }

    async fn transfer_in(conn: &mut PgConnection, id: Uuid) -> Result<pb::Transfer> {
        let row: TransferRow = sqlx::query_as(&format!("SELECT {TRANSFER_COLUMNS} FROM transfer WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| FinanceError::NotFound { kind: "transfer", name: id.to_string() })?;
        let notes: Vec<NotificationRow> = sqlx::query_as(
            "SELECT id, transfer_id, fund, year, recipient, due_date, sent_date FROM notification WHERE transfer_id = $1 ORDER BY recipient",
        )
        .bind(id)
        .fetch_all(conn)
        .await?;
        Ok(Self::transfer_proto(&row, &notes))
    }

    fn transfer_proto(row: &TransferRow, notes: &[NotificationRow]) -> pb::Transfer {
        let fy = FundYear { fund: Fund::parse(&row.fund).unwrap_or(Fund::Bnga), year: row.year };
        let today = Utc::now().date_naive();
        pb::Transfer {
            name: fy.child("transfers", row.id),
            from_line: row.from_code.clone(),
            to_line: row.to_code.clone(),
            amount_cents: row.amount_cents,
            transfer_date: row.transfer_date.to_string(),
            effective_date: date_text(row.effective_date),
            state: transfer_state(&row.state) as i32,
            rule: row.rule.clone(),
            reason: row.reason.clone(),
            vote: row.vote_ref.as_ref().map(|r| pb::Authority {
                kind: "BOARD".into(),
                reference: r.clone(),
                date: date_text(row.vote_date),
            }),
            ministries: row.ministries_ref.as_ref().map(|r| pb::Authority {
                kind: row.ministries_kind.clone().unwrap_or_default(),
                reference: r.clone(),
                date: date_text(row.ministries_date),
            }),
            notifications: notes.iter().map(|n| n.to_proto(today)).collect(),
            tags: row.tags.clone(),
            requested_by: row.requested_by.clone(),
            create_time: Some(timestamp(row.created_at)),
        }
    }

    pub async fn get_transfer(&self, fy: &FundYear, id: Uuid) -> Result<pb::Transfer> {
        let mut conn = self.pool.acquire().await?;
        let t = Self::transfer_in(&mut conn, id).await?;
        if !t.name.starts_with(&fy.name()) {
            return Err(FinanceError::NotFound { kind: "transfer", name: fy.child("transfers", id) });
        }
        Ok(t)
    }

    pub async fn list_transfers(&self, fy: &FundYear, size: u32, token: &str) -> Result<(Vec<pb::Transfer>, String)> {
        self.ensure_fund_year(fy).await?;
        let fp = fingerprint(&["transfers", &fy.name()]);
        let before: Option<(DateTime<Utc>, Uuid)> = decode_token(DOMAIN, &fp, token)?;
        let rows: Vec<TransferRow> = sqlx::query_as(&format!(
            "SELECT {TRANSFER_COLUMNS} FROM transfer WHERE fund = $1 AND year = $2 \
             AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) ORDER BY created_at DESC, id DESC LIMIT $5"
        ))
        .bind(fy.fund.as_str())
        .bind(fy.year)
        .bind(before.map(|b| b.0))
        .bind(before.map(|b| b.1))
        .bind(i64::from(size) + 1)
        .fetch_all(&self.pool)
        .await?;
        let (page, next) = finish_page(rows, size, &fp, |r| (r.created_at, r.id));
        let ids: Vec<Uuid> = page.iter().map(|r| r.id).collect();
        let notes: Vec<NotificationRow> = sqlx::query_as(
            "SELECT id, transfer_id, fund, year, recipient, due_date, sent_date FROM notification WHERE transfer_id = ANY($1) ORDER BY recipient",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        let out = page
            .iter()
            .map(|r| {
                let mine: Vec<NotificationRow> = notes.iter().filter(|n| n.transfer_id == r.id).cloned().collect();
                Self::transfer_proto(r, &mine)
            })
            .collect();
        Ok((out, next))
    }

    /// Moves a requested transfer along REQUESTED → VOTED → APPROVED (or REJECTED).
    pub async fn decide_transfer(
        &self,
        ctx: &WriteContext<'_>,
        fy: &FundYear,
        id: Uuid,
        step: TransferStep,
        authority: &AuthorityIn,
    ) -> Result<pb::Transfer> {
        let mut tx = match write::begin::<pb::GetTransferResponse>(DOMAIN, &self.pool, ctx.key).await? {
            Begun::Replayed(previous) => {
                return previous.transfer.ok_or_else(|| FinanceError::field("request_id", "replay without a transfer"));
            }
            Begun::Fresh(tx) => tx,
        };
        let row: TransferRow =
            sqlx::query_as(&format!("SELECT {TRANSFER_COLUMNS} FROM transfer WHERE id = $1 AND fund = $2 AND year = $3 FOR UPDATE"))
                .bind(id)
                .bind(fy.fund.as_str())
                .bind(fy.year)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| FinanceError::NotFound { kind: "transfer", name: fy.child("transfers", id) })?;
        let name = fy.child("transfers", id);
        let date = authority.date.unwrap_or_default();
        let (allowed_from, to_state): (&[&str], &str) = match step {
            TransferStep::Vote => (&["REQUESTED"], "VOTED"),
            TransferStep::Approve => (&["VOTED"], "APPROVED"),
            TransferStep::Reject => (&["REQUESTED", "VOTED"], "REJECTED"),
        };
        if !allowed_from.contains(&row.state.as_str()) {
            return Err(FinanceError::TransferState(format!("{name} is {}: it cannot become {to_state}", row.state)));
        }
        match step {
            TransferStep::Vote => {
                sqlx::query("UPDATE transfer SET state = 'VOTED', vote_ref = $2, vote_date = $3 WHERE id = $1")
                    .bind(id)
                    .bind(&authority.reference)
                    .bind(date)
                    .execute(&mut *tx)
                    .await?;
            }
            TransferStep::Approve => {
                if row.vote_date.is_some_and(|v| date < v) {
                    return Err(FinanceError::field("approval.date", "the ministries approve after the board's vote"));
                }
                Self::ensure_open(&mut tx, fy).await?;
                let from = Self::locked_line(&mut tx, fy, &row.from_code).await?;
                Self::locked_line(&mut tx, fy, &row.to_code).await?;
                if from.info.nature == Nature::Limitative && row.amount_cents > from.available() {
                    return Err(FinanceError::LimitativeExceeded {
                        line: fy.child("lines", &row.from_code),
                        shortfall_cents: row.amount_cents - from.available(),
                    });
                }
                sqlx::query(
                    "UPDATE transfer SET state = 'APPROVED', effective_date = $2, ministries_kind = 'MINISTRIES', ministries_ref = $3, \
                     ministries_date = $2 WHERE id = $1",
                )
                .bind(id)
                .bind(date)
                .bind(&authority.reference)
                .execute(&mut *tx)
                .await?;
                let t = TransferIn {
                    from: row.from_code.clone(),
                    to: row.to_code.clone(),
                    amount: row.amount_cents,
                    date: row.transfer_date,
                    reason: row.reason.clone(),
                    amending_decision: true,
                    ministries: None,
                };
                let decision = AuthorityIn { kind: "MINISTRIES".into(), reference: authority.reference.clone(), date: Some(date) };
                Self::move_credits(&mut tx, fy, id, &t, date, &row.rule, &decision, &ctx.identity.caller, ctx.request_id, &row.tags)
                    .await?;
            }
            TransferStep::Reject => {
                sqlx::query(
                    "UPDATE transfer SET state = 'REJECTED', ministries_kind = $2, ministries_ref = $3, ministries_date = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(&authority.kind)
                .bind(&authority.reference)
                .bind(date)
                .execute(&mut *tx)
                .await?;
            }
        }
        let transfer = Self::transfer_in(&mut tx, id).await?;
        write::record(
            &mut tx,
            &Recorded {
                identity: ctx.identity,
                method: ctx.method,
                request_id: ctx.request_id,
                resource: &name,
                change_type: match step {
                    TransferStep::Vote => "TRANSFER_VOTED",
                    TransferStep::Approve => "TRANSFER_APPROVED",
                    TransferStep::Reject => "TRANSFER_REJECTED",
                },
                revision: 0,
                detail: &format!("{} {}", authority.kind, authority.reference),
            },
        )
        .await?;
        let response = pb::GetTransferResponse { transfer: Some(transfer) };
        write::commit(DOMAIN, tx, ctx.key, &response).await?;
        response.transfer.ok_or_else(|| FinanceError::field("transfer", "missing"))
    }

    // -------------------------------------------------------- notifications

    pub async fn list_notifications(
        &self,
        fy: &FundYear,
        filter: pb::NotificationFilter,
        size: u32,
        token: &str,
    ) -> Result<(Vec<pb::Notification>, String)> {
        self.ensure_fund_year(fy).await?;
        let today = Utc::now().date_naive();
        let fp = fingerprint(&["notifications", &fy.name(), filter.as_str_name()]);
        let after: Option<(NaiveDate, Uuid)> = decode_token(DOMAIN, &fp, token)?;
        let condition = match filter {
            pb::NotificationFilter::Pending => "sent_date IS NULL",
            pb::NotificationFilter::Late => "coalesce(sent_date, $5::date) > due_date",
            pb::NotificationFilter::Unspecified => "true",
        };
        let rows: Vec<NotificationRow> = sqlx::query_as(&format!(
            "SELECT id, transfer_id, fund, year, recipient, due_date, sent_date FROM notification \
             WHERE fund = $1 AND year = $2 AND ($3::date IS NULL OR (due_date, id) > ($3, $4)) AND ({condition}) AND $5::date IS NOT NULL \
             ORDER BY due_date, id LIMIT $6"
        ))
        .bind(fy.fund.as_str())
        .bind(fy.year)
        .bind(after.map(|a| a.0))
        .bind(after.map(|a| a.1))
        .bind(today)
        .bind(i64::from(size) + 1)
        .fetch_all(&self.pool)
        .await?;
        let (page, next) = finish_page(rows, size, &fp, |n| (n.due_date, n.id));
        Ok((page.iter().map(|n| n.to_proto(today)).collect(), next))
    }

    pub async fn mark_notification_sent(
        &self,
        ctx: &WriteContext<'_>,
        fy: &FundYear,
        id: Uuid,
        sent: NaiveDate,
    ) -> Result<pb::Notification> {
        let mut tx = self.pool.begin().await?;
        let name = fy.child("notifications", id);
        let row: NotificationRow = sqlx::query_as(
            "SELECT id, transfer_id, fund, year, recipient, due_date, sent_date FROM notification WHERE id = $1 AND fund = $2 AND year = $3 FOR UPDATE",
        )
        .bind(id)
        .bind(fy.fund.as_str())
        .bind(fy.year)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| FinanceError::NotFound { kind: "notification", name: name.clone() })?;
        if row.sent_date.is_some() {
            return Err(FinanceError::NotificationAlreadySent(name));
        }
        let transfer_date: NaiveDate =
            sqlx::query_scalar("SELECT transfer_date FROM transfer WHERE id = $1").bind(row.transfer_id).fetch_one(&mut *tx).await?;
        if sent < transfer_date {
            return Err(FinanceError::field("sent_date", format!("a notification is sent after its transfer ({transfer_date})")));
        }
        sqlx::query("UPDATE notification SET sent_date = $2 WHERE id = $1").bind(id).bind(sent).execute(&mut *tx).await?;
        let updated = NotificationRow { sent_date: Some(sent), ..row };
        let out = updated.to_proto(Utc::now().date_naive());
        write::record(
            &mut tx,
            &Recorded {
                identity: ctx.identity,
                method: ctx.method,
                request_id: ctx.request_id,
                resource: &name,
                change_type: "NOTIFICATION_SENT",
                revision: 0,
                detail: &format!("sent {sent}, {} days late", out.days_late),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }

    // ----------------------------------------------------------- year close

    /// Starts (or returns) the close of a fund year; the work runs in the background.
    pub async fn start_close(&self, identity: &Identity, fy: &FundYear) -> Result<(pb::YearClose, bool)> {
        self.ensure_fund_year(fy).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(lock_key(&["close", &fy.name()])).execute(&mut *tx).await?;
        let current: Option<(String, DateTime<Utc>)> =
            sqlx::query_as("SELECT state, updated_at FROM year_close WHERE fund = $1 AND year = $2")
                .bind(fy.fund.as_str())
                .bind(fy.year)
                .fetch_optional(&mut *tx)
                .await?;
        let fresh_run = match current {
            Some((state, _)) if state == "DONE" => false,
            Some((state, at)) if state == "RUNNING" && (Utc::now() - at).num_seconds() < CLOSE_STALE_SECONDS => false,
            _ => true,
        };
        if fresh_run {
            let total: i64 = sqlx::query_scalar("SELECT count(*) FROM budget_line WHERE fund = $1 AND year = $2 AND nature <> 'SUBTOTAL'")
                .bind(fy.fund.as_str())
                .bind(fy.year)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO year_close (fund, year, state, lines_total) VALUES ($1, $2, 'RUNNING', $3) \
                 ON CONFLICT (fund, year) DO UPDATE SET state = 'RUNNING', lines_done = 0, lines_total = $3, error = '', \
                 statement = '[]'::jsonb, started_at = now(), updated_at = now(), finished_at = NULL",
            )
            .bind(fy.fund.as_str())
            .bind(fy.year)
            .bind(i32::try_from(total).unwrap_or(i32::MAX))
            .execute(&mut *tx)
            .await?;
            write::record(
                &mut tx,
                &Recorded {
                    identity,
                    method: "BudgetService/StartYearClose",
                    request_id: "",
                    resource: &format!("{}/close", fy.name()),
                    change_type: "YEAR_CLOSE_STARTED",
                    revision: 0,
                    detail: "",
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok((self.get_close(fy).await?, fresh_run))
    }

    /// Runs a started close: all its movements and its statement in one
    /// transaction (a crash leaves nothing half-written; the operation is
    /// then restarted by the next StartYearClose).
    pub async fn run_close(&self, fy: FundYear) {
        if let Err(e) = self.close_in_one_transaction(&fy).await {
            tracing::error!(fund_year = %fy.name(), error = %e, "year-end close failed");
            let _ = sqlx::query("UPDATE year_close SET state = 'FAILED', error = $3, updated_at = now() WHERE fund = $1 AND year = $2")
                .bind(fy.fund.as_str())
                .bind(fy.year)
                .bind(e.to_string())
                .execute(&self.pool)
                .await;
        }
    }

    async fn close_in_one_transaction(&self, fy: &FundYear) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(lock_key(&["close", &fy.name()])).execute(&mut *tx).await?;
        // No row lock on year_close here: progress is written to it from
        // other connections while this transaction runs (the advisory lock
        // already serialises closes of the fund year).
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM year_close WHERE fund = $1 AND year = $2")
            .bind(fy.fund.as_str())
            .bind(fy.year)
            .fetch_optional(&mut *tx)
            .await?;
        if state.as_deref() != Some("RUNNING") {
            return Ok(());
        }
        // Lock every line of the year: no spending slips in during the close.
        sqlx::query("SELECT code FROM budget_line WHERE fund = $1 AND year = $2 FOR UPDATE")
            .bind(fy.fund.as_str())
            .bind(fy.year)
            .execute(&mut *tx)
            .await?;
        let lines: Vec<LineRow> =
            Self::positions(&mut tx, fy, None).await?.into_iter().filter(|l| l.info.nature != Nature::Subtotal).collect();
        let close_authority = AuthorityIn { kind: "YEAR_CLOSE".into(), reference: format!("{}/close", fy.name()), date: None };
        let year_end = NaiveDate::from_ymd_opt(i32::from(fy.year), 12, 31).unwrap_or_default();
        let next_start = NaiveDate::from_ymd_opt(i32::from(fy.year) + 1, 1, 1).unwrap_or_default();
        let mut statement = Vec::new();
        for (done, line) in lines.iter().enumerate() {
            let d: CloseDecision = domain::close_decision(&line.info, fy.year, line.authorised, line.executed);
            if d.carried_cents > 0 {
                let note = format!("origine {} {}", fy.name(), line.info.code);
                let m = NewMovement {
                    code: &line.info.code,
                    year: fy.year + 1,
                    kind: "CARRY_IN",
                    amount: d.carried_cents,
                    date: next_start,
                    rule: "R06",
                    authority: &close_authority,
                    reason: "report des crédits limitatifs non consommés",
                    recorded_by: SERVICE_CALLER,
                    request_id: "",
                    tags: d.tag.map(|t| vec![t.to_owned()]).unwrap_or_default(),
                    overrun: 0,
                    commitment: None,
                    transfer: None,
                    origin: note,
                };
                Self::append(&mut tx, fy.fund, &m).await?;
            }
            if d.cancelled_cents > 0 {
                let m = NewMovement {
                    code: &line.info.code,
                    year: fy.year,
                    kind: "CANCELLATION",
                    amount: -d.cancelled_cents,
                    date: year_end,
                    rule: if line.info.nature == Nature::Reserve { "R15" } else { "R06" },
                    authority: &close_authority,
                    reason: "annulation de fin d'exercice",
                    recorded_by: SERVICE_CALLER,
                    request_id: "",
                    tags: Vec::new(),
                    overrun: 0,
                    commitment: None,
                    transfer: None,
                    origin: String::new(),
                };
                Self::append(&mut tx, fy.fund, &m).await?;
            }
            statement.push(serde_json::json!({
                "line": line.info.code, "nature": line.info.nature.as_str(), "authorised": line.authorised,
                "executed": line.executed, "unspent": line.authorised - line.executed, "carried": d.carried_cents,
                "cancelled": d.cancelled_cents, "note": d.note,
            }));
            // Progress is visible to pollers outside this transaction.
            sqlx::query("UPDATE year_close SET lines_done = $3, updated_at = now() WHERE fund = $1 AND year = $2")
                .bind(fy.fund.as_str())
                .bind(fy.year)
                .bind(i32::try_from(done + 1).unwrap_or(i32::MAX))
                .execute(&self.pool)
                .await?;
        }
        sqlx::query(
            "UPDATE year_close SET state = 'DONE', statement = $3, lines_done = lines_total, finished_at = now(), updated_at = now() \
             WHERE fund = $1 AND year = $2",
        )
        .bind(fy.fund.as_str())
        .bind(fy.year)
        .bind(serde_json::Value::Array(statement))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_close(&self, fy: &FundYear) -> Result<pb::YearClose> {
        let row: Option<CloseRow> = sqlx::query_as(
            "SELECT state, lines_done, lines_total, statement, error, started_at, finished_at FROM year_close WHERE fund = $1 AND year = $2",
        )
        .bind(fy.fund.as_str())
        .bind(fy.year)
        .fetch_optional(&self.pool)
        .await?;
        let Some((state, done, total, statement, error, started, finished)) = row else {
            return Err(FinanceError::NotFound { kind: "year close", name: format!("{}/close", fy.name()) });
        };
        let lines: Vec<pb::CloseStatementLine> = statement
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| pb::CloseStatementLine {
                        line: v["line"].as_str().unwrap_or_default().to_owned(),
                        nature: nature_proto(Nature::parse(v["nature"].as_str().unwrap_or_default()).unwrap_or(Nature::Subtotal)) as i32,
                        authorised_cents: v["authorised"].as_i64().unwrap_or_default(),
                        executed_cents: v["executed"].as_i64().unwrap_or_default(),
                        unspent_cents: v["unspent"].as_i64().unwrap_or_default(),
                        carried_cents: v["carried"].as_i64().unwrap_or_default(),
                        cancelled_cents: v["cancelled"].as_i64().unwrap_or_default(),
                        note: v["note"].as_str().unwrap_or_default().to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(pb::YearClose {
            name: format!("{}/close", fy.name()),
            state: pb::YearCloseState::from_str_name(&format!("YEAR_CLOSE_STATE_{state}")).unwrap_or_default() as i32,
            lines_done: done,
            lines_total: total,
            carried_cents: lines.iter().map(|l| l.carried_cents).sum(),
            cancelled_cents: lines.iter().map(|l| l.cancelled_cents).sum(),
            statement: lines,
            error,
            start_time: Some(timestamp(started)),
            end_time: finished.map(timestamp),
        })
    }

    // -------------------------------------------------------------- revenue

    pub async fn record_revenue(
        &self,
        ctx: &WriteContext<'_>,
        year: i16,
        account: &str,
        amount: i64,
        date: NaiveDate,
        reason: &str,
    ) -> Result<pb::RecordRevenueResponse> {
        let mut tx = match write::begin(DOMAIN, &self.pool, ctx.key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        sqlx::query("INSERT INTO revenue (year, account, amount_cents, revenue_date, reason, recorded_by) VALUES ($1,$2,$3,$4,$5,$6)")
            .bind(year)
            .bind(account)
            .bind(amount)
            .bind(date)
            .bind(reason)
            .bind(&ctx.identity.caller)
            .execute(&mut *tx)
            .await?;
        let total: i64 = sqlx::query_scalar("SELECT coalesce(sum(amount_cents), 0)::bigint FROM revenue WHERE year = $1 AND account = $2")
            .bind(year)
            .bind(account)
            .fetch_one(&mut *tx)
            .await?;
        let response = pb::RecordRevenueResponse { account_total_cents: total };
        write::record(
            &mut tx,
            &Recorded {
                identity: ctx.identity,
                method: ctx.method,
                request_id: ctx.request_id,
                resource: &format!("revenueYears/{year}/accounts/{account}"),
                change_type: "REVENUE_RECORDED",
                revision: 0,
                detail: &format!("{amount} cents"),
            },
        )
        .await?;
        write::commit(DOMAIN, tx, ctx.key, &response).await?;
        Ok(response)
    }

    pub async fn set_estimate(
        &self,
        ctx: &WriteContext<'_>,
        year: i16,
        account: &str,
        amount: i64,
    ) -> Result<pb::SetRevenueEstimateResponse> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO revenue_estimate (year, account, amount_cents, set_by) VALUES ($1,$2,$3,$4) \
             ON CONFLICT (year, account) DO UPDATE SET amount_cents = $3, set_by = $4, set_at = now()",
        )
        .bind(year)
        .bind(account)
        .bind(amount)
        .bind(&ctx.identity.caller)
        .execute(&mut *tx)
        .await?;
        write::record(
            &mut tx,
            &Recorded {
                identity: ctx.identity,
                method: ctx.method,
                request_id: ctx.request_id,
                resource: &format!("revenueYears/{year}/estimates/{account}"),
                change_type: "REVENUE_ESTIMATE_SET",
                revision: 0,
                detail: &format!("{amount} cents"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(pb::SetRevenueEstimateResponse { amount_cents: amount })
    }

    /// R07: raises next year's limitative authorisations by the reusable
    /// excess of the closed year's revenue. Once per year.
    pub async fn apply_revenue_reuse(&self, identity: &Identity, year: i16) -> Result<pb::ApplyRevenueReuseResponse> {
        let table = domain::reuse_accounts().map_err(|e| FinanceError::field("reuse table", e))?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(lock_key(&["reuse", &year.to_string()])).execute(&mut *tx).await?;
        let previous: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT response FROM revenue_reuse_run WHERE year = $1").bind(year).fetch_optional(&mut *tx).await?;
        if let Some(bytes) = previous {
            return pb::ApplyRevenueReuseResponse::decode(bytes.as_slice())
                .map_err(|e| FinanceError::field("revenue reuse", format!("stored run unreadable: {e}")));
        }
        let bnga = FundYear { fund: Fund::Bnga, year };
        let closed: Option<String> = sqlx::query_scalar("SELECT state FROM year_close WHERE fund = 'BNGA' AND year = $1")
            .bind(year)
            .fetch_optional(&mut *tx)
            .await?;
        if closed.as_deref() != Some("DONE") {
            return Err(FinanceError::YearNotClosed(format!(
                "revenue reuse runs after the closing of the year: close {} first (R07)",
                bnga.name()
            )));
        }
        let realised: Vec<(String, i64)> =
            sqlx::query_as("SELECT account, sum(amount_cents)::bigint FROM revenue WHERE year = $1 GROUP BY account ORDER BY account")
                .bind(year)
                .fetch_all(&mut *tx)
                .await?;
        let estimates: HashMap<String, i64> =
            sqlx::query_as::<_, (String, i64)>("SELECT account, amount_cents FROM revenue_estimate WHERE year = $1")
                .bind(year)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
        // Group the realised revenue under the table's accounts (longest prefix).
        let mut by_account: Vec<(String, i16, i64)> = Vec::new();
        for (account, amount) in realised {
            let (key, pct) = match domain::reuse_account_of(&table, &account) {
                Some(a) => (a.account.clone(), a.percent),
                None => (account.clone(), 0),
            };
            match by_account.iter_mut().find(|(k, _, _)| *k == key) {
                Some(entry) => entry.2 += amount,
                None => by_account.push((key, pct, amount)),
            }
        }
        let mut lines = Vec::new();
        for (account, pct, realised) in by_account {
            let estimate = match estimates.get(&account) {
                Some(e) => *e,
                None if pct > 0 => return Err(FinanceError::RevenueEstimateMissing { account, year }),
                None => 0,
            };
            let excess = (realised - estimate).max(0);
            lines.push(pb::RevenueReuseLine {
                account,
                reuse_percent: i32::from(pct),
                realised_cents: realised,
                estimate_cents: estimate,
                excess_cents: if pct > 0 { excess } else { 0 },
                uplift_cents: domain::reuse_uplift(excess, pct),
            });
        }
        let total: i64 = lines.iter().map(|l| l.uplift_cents).sum();
        let next = FundYear { fund: Fund::Bnga, year: year + 1 };
        let mut uplifted_line = String::new();
        // 2024 revenue raises the next COG's authorisations: recorded, not applied (R07 step 8).
        if total > 0 && year < domain::LAST_COG_YEAR {
            let authority = AuthorityIn { kind: "SERVICE".into(), reference: format!("revenueYears/{year}:applyRevenueReuse"), date: None };
            let date = NaiveDate::from_ymd_opt(i32::from(year) + 1, 1, 1).unwrap_or_default();
            for l in lines.iter().filter(|l| l.uplift_cents > 0) {
                let m = NewMovement {
                    code: REUSE_TARGET_LINE,
                    year: next.year,
                    kind: "UPLIFT",
                    amount: l.uplift_cents,
                    date,
                    rule: "R07",
                    authority: &authority,
                    reason: "réutilisation des recettes au-delà de l'évaluation",
                    recorded_by: SERVICE_CALLER,
                    request_id: "",
                    tags: vec!["non_perennial".into()],
                    overrun: 0,
                    commitment: None,
                    transfer: None,
                    origin: format!("compte {} {year}", l.account),
                };
                Self::append(&mut tx, Fund::Bnga, &m).await?;
            }
            uplifted_line = next.child("lines", REUSE_TARGET_LINE);
        }
        let response = pb::ApplyRevenueReuseResponse { lines, uplift_cents: total, uplifted_line };
        sqlx::query("INSERT INTO revenue_reuse_run (year, response) VALUES ($1, $2)")
            .bind(year)
            .bind(response.encode_to_vec())
            .execute(&mut *tx)
            .await?;
        write::record(
            &mut tx,
            &Recorded {
                identity,
                method: "BudgetService/ApplyRevenueReuse",
                request_id: "",
                resource: &format!("revenueYears/{year}"),
                change_type: "REVENUE_REUSE_APPLIED",
                revision: 0,
                detail: &format!("{total} cents"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(response)
    }

    // ---------------------------------------------------- real-estate sales

    /// Totals of the sales whose deed is signed in `year`.
    pub async fn asset_sale_totals(&self, year: i16) -> Result<pb::GetAssetSaleTotalsResponse> {
        let (sales, square_metres, without, price): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT count(*), coalesce(sum(square_metres), 0)::bigint, count(*) FILTER (WHERE square_metres = 0), \
             coalesce(sum(price_cents), 0)::bigint FROM asset_sale WHERE year = $1",
        )
        .bind(year)
        .fetch_one(&self.pool)
        .await?;
        Ok(pb::GetAssetSaleTotalsResponse {
            year: i32::from(year),
            sales,
            square_metres,
            sales_without_square_metres: without,
            price_cents: price,
        })
    }

    /// R10: records a sale and the uplifts of its gain.
    pub async fn record_asset_sale(&self, ctx: &WriteContext<'_>, sale: &AssetSaleIn) -> Result<pb::AssetSale> {
        let mut tx = match write::begin::<pb::RecordAssetSaleResponse>(DOMAIN, &self.pool, ctx.key).await? {
            Begun::Replayed(previous) => return previous.sale.ok_or_else(|| FinanceError::field("request_id", "replay without a sale")),
            Begun::Fresh(tx) => tx,
        };
        let plan = domain::plan_sale(sale.year, sale.price, sale.net_book_value, sale.social_security_buyer, sale.investment_percent)
            .map_err(|_| FinanceError::SalePriceNotNetBookValue { price: sale.price, net_book_value: sale.net_book_value })?;
        let id = Uuid::now_v7();
        let authority = AuthorityIn { kind: "DG".into(), reference: format!("assetSales/{id}"), date: Some(sale.date) };
        let mut uplifts = Vec::new();
        for (year, code, amount) in &plan.uplifts {
            let fy = FundYear { fund: Fund::Bnga, year: *year };
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM budget_line WHERE fund = 'BNGA' AND year = $1 AND code = $2)")
                    .bind(year)
                    .bind(code)
                    .fetch_one(&mut *tx)
                    .await?;
            let state = if exists {
                Self::ensure_open(&mut tx, &fy).await?;
                let tag = if *code == domain::SALE_RENT_LINE { "rent_envelope_restricted" } else { "real_estate_gain" };
                let m = NewMovement {
                    code,
                    year: *year,
                    kind: "UPLIFT",
                    amount: *amount,
                    date: NaiveDate::from_ymd_opt(i32::from(*year), 1, 1).unwrap_or_default(),
                    rule: "R10",
                    authority: &authority,
                    reason: &sale.reason,
                    recorded_by: &ctx.identity.caller,
                    request_id: ctx.request_id,
                    tags: vec![tag.to_owned()],
                    overrun: 0,
                    commitment: None,
                    transfer: None,
                    origin: format!("cession {} ({})", sale.asset, sale.date),
                };
                Self::append(&mut tx, Fund::Bnga, &m).await?;
                "APPLIED"
            } else {
                "PENDING_NEXT_COG"
            };
            uplifts.push(pb::SaleUplift { year: i32::from(*year), line: (*code).to_owned(), amount_cents: *amount, state: state.into() });
        }
        let uplifts_json = serde_json::Value::Array(
            uplifts
                .iter()
                .map(|u| serde_json::json!({"year": u.year, "line": u.line, "amount": u.amount_cents, "state": u.state}))
                .collect(),
        );
        sqlx::query(
            "INSERT INTO asset_sale (id, year, asset, sale_date, price_cents, net_book_value_cents, buyer, square_metres, gain_cents, \
                                     investment_cents, rent_cents, uplifts, reason, recorded_by) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
        )
        .bind(id)
        .bind(sale.year)
        .bind(&sale.asset)
        .bind(sale.date)
        .bind(sale.price)
        .bind(sale.net_book_value)
        .bind(if sale.social_security_buyer { "SOCIAL_SECURITY_BODY" } else { "OTHER" })
        .bind(sale.square_metres)
        .bind(plan.gain)
        .bind(plan.investment)
        .bind(plan.rent)
        .bind(uplifts_json)
        .bind(&sale.reason)
        .bind(&ctx.identity.caller)
        .execute(&mut *tx)
        .await?;
        let out = pb::AssetSale {
            name: format!("assetSales/{id}"),
            asset: sale.asset.clone(),
            gain_cents: plan.gain,
            investment_cents: plan.investment,
            rent_envelope_cents: plan.rent,
            uplifts,
        };
        write::record(
            &mut tx,
            &Recorded {
                identity: ctx.identity,
                method: ctx.method,
                request_id: ctx.request_id,
                resource: &out.name,
                change_type: "ASSET_SALE_RECORDED",
                revision: 0,
                detail: &format!("gain {} cents", plan.gain),
            },
        )
        .await?;
        let response = pb::RecordAssetSaleResponse { sale: Some(out) };
        write::commit(DOMAIN, tx, ctx.key, &response).await?;
        response.sale.ok_or_else(|| FinanceError::field("sale", "missing"))
    }

    // ----------------------------------------------------------- indexation

    pub async fn set_inflation(
        &self,
        ctx: &WriteContext<'_>,
        year: i16,
        forecast_bp: i32,
        actual_bp: Option<i32>,
        source: &str,
    ) -> Result<pb::SetInflationRatesResponse> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO inflation_rate (year, forecast_bp, actual_bp, source, set_by) VALUES ($1,$2,$3,$4,$5) \
             ON CONFLICT (year) DO UPDATE SET forecast_bp = $2, actual_bp = $3, source = $4, set_by = $5, set_at = now()",
        )
        .bind(year)
        .bind(forecast_bp)
        .bind(actual_bp)
        .bind(source)
        .bind(&ctx.identity.caller)
        .execute(&mut *tx)
        .await?;
        let name = format!("inflationYears/{year}");
        write::record(
            &mut tx,
            &Recorded {
                identity: ctx.identity,
                method: ctx.method,
                request_id: ctx.request_id,
                resource: &name,
                change_type: "INFLATION_RATES_SET",
                revision: 0,
                detail: &format!("forecast {forecast_bp} bp, actual {actual_bp:?} bp ({source})"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(pb::SetInflationRatesResponse { name, forecast_basis_points: forecast_bp, actual_basis_points: actual_bp })
    }

    /// R14: INDEXATION movements on the indexed lines of a BNASS or BNPPS
    /// year. Once per fund year.
    pub async fn apply_indexation(&self, identity: &Identity, fy: &FundYear) -> Result<pb::ApplyIndexationResponse> {
        if !matches!(fy.fund, Fund::Bnass | Fund::Bnpps) {
            return Err(FinanceError::field(
                "name",
                "only BNASS and BNPPS lines follow inflation (R13: no BNGA indexation; the FNMO has none)",
            ));
        }
        if fy.year < domain::FIRST_INDEXED_YEAR {
            return Err(FinanceError::field("name", "the 2022 amounts are the base of the indexation: the first indexed year is 2023"));
        }
        self.ensure_fund_year(fy).await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(lock_key(&["index", &fy.name()])).execute(&mut *tx).await?;
        let previous: Option<Vec<u8>> = sqlx::query_scalar("SELECT response FROM indexation_run WHERE fund = $1 AND year = $2")
            .bind(fy.fund.as_str())
            .bind(fy.year)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(bytes) = previous {
            return pb::ApplyIndexationResponse::decode(bytes.as_slice())
                .map_err(|e| FinanceError::field("indexation", format!("stored run unreadable: {e}")));
        }
        Self::ensure_open(&mut tx, fy).await?;
        let rates: HashMap<i16, domain::Inflation> =
            sqlx::query_as::<_, (i16, i32, Option<i32>)>("SELECT year, forecast_bp, actual_bp FROM inflation_rate")
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|(y, f, a)| (y, domain::Inflation { forecast_bp: f, actual_bp: a }))
                .collect();
        let taus = domain::corrected_rates(&rates, fy.year).map_err(|(year, what)| FinanceError::InflationRateMissing { year, what })?;
        let tau_values: Vec<i32> = taus.iter().map(|t| t.1).collect();
        sqlx::query("SELECT code FROM budget_line WHERE fund = $1 AND year = $2 FOR UPDATE")
            .bind(fy.fund.as_str())
            .bind(fy.year)
            .execute(&mut *tx)
            .await?;
        let authority = AuthorityIn { kind: "SERVICE".into(), reference: format!("{}:index", fy.name()), date: None };
        let date = NaiveDate::from_ymd_opt(i32::from(fy.year), 1, 1).unwrap_or_default();
        let mut lines = Vec::new();
        for line in Self::positions(&mut tx, fy, None).await?.into_iter().filter(|l| domain::is_indexed(&l.info)) {
            let (indexed, index) = domain::index_amount(line.initial, &tau_values);
            let delta = indexed - line.initial;
            if delta != 0 {
                let m = NewMovement {
                    code: &line.info.code,
                    year: fy.year,
                    kind: "INDEXATION",
                    amount: delta,
                    date,
                    rule: "R14",
                    authority: &authority,
                    reason: "indexation sur l'inflation prévisionnelle hors tabac corrigée",
                    recorded_by: SERVICE_CALLER,
                    request_id: "",
                    tags: Vec::new(),
                    overrun: 0,
                    commitment: None,
                    transfer: None,
                    origin: format!("index {index}"),
                };
                Self::append(&mut tx, fy.fund, &m).await?;
            }
            lines.push(pb::IndexedLine {
                line: line.info.code.clone(),
                table_cents: line.initial,
                index,
                indexed_cents: indexed,
                movement_cents: delta,
            });
        }
        let response =
            pb::ApplyIndexationResponse { corrected_basis_points: taus.iter().map(|(y, t)| (i32::from(*y), *t)).collect(), lines };
        sqlx::query("INSERT INTO indexation_run (fund, year, response) VALUES ($1, $2, $3)")
            .bind(fy.fund.as_str())
            .bind(fy.year)
            .bind(response.encode_to_vec())
            .execute(&mut *tx)
            .await?;
        write::record(
            &mut tx,
            &Recorded {
                identity,
                method: "BudgetService/ApplyIndexation",
                request_id: "",
                resource: &fy.name(),
                change_type: "INDEXATION_APPLIED",
                revision: 0,
                detail: &format!("{} lines", response.lines.len()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(response)
    }

    // ------------------------------------------------------------ execution

    /// Execution of a fund year by fund, section and line (R22).
    pub async fn execution(&self, fy: &FundYear) -> Result<Vec<pb::ExecutionRow>> {
        self.ensure_fund_year(fy).await?;
        let mut conn = self.pool.acquire().await?;
        let lines = Self::positions(&mut conn, fy, None).await?;
        let decimals = if fy.fund == Fund::Bnpps { 1 } else { 2 };
        let rate = |n: i64, d: i64| pb::ExecutionRate {
            numerator: n,
            denominator: d,
            percent: domain::percent(n, d, decimals).unwrap_or_default(),
        };
        let row = |level: &str, code: &str, label: &str, initial: i64, authorised: i64, executed: i64| pb::ExecutionRow {
            level: level.into(),
            code: code.into(),
            label: label.into(),
            initial_cents: initial,
            authorised_cents: authorised,
            executed_cents: executed,
            rate_initial: Some(rate(executed, initial)),
            rate_final: Some(rate(executed, authorised)),
        };
        let leaves: Vec<&LineRow> = lines.iter().filter(|l| l.info.nature != Nature::Subtotal).collect();
        let sum = |f: &dyn Fn(&LineRow) -> i64, section: Option<&str>| -> i64 {
            leaves.iter().filter(|l| section.is_none_or(|s| l.info.section == s)).map(|l| f(l)).sum()
        };
        let mut out = vec![row(
            "FUND",
            fy.fund.as_str(),
            fy.fund.as_str(),
            sum(&|l| l.initial, None),
            sum(&|l| l.authorised, None),
            sum(&|l| l.executed, None),
        )];
        let mut sections: Vec<&str> = Vec::new();
        for l in &leaves {
            if !sections.contains(&l.info.section.as_str()) {
                sections.push(&l.info.section);
            }
        }
        for s in sections {
            let label = lines.iter().find(|l| l.info.code == s).map(|l| l.label.as_str()).unwrap_or(s);
            out.push(row(
                "SECTION",
                s,
                label,
                sum(&|l| l.initial, Some(s)),
                sum(&|l| l.authorised, Some(s)),
                sum(&|l| l.executed, Some(s)),
            ));
        }
        for l in leaves {
            out.push(row("LINE", &l.info.code, &l.label, l.initial, l.authorised, l.executed));
        }
        Ok(out)
    }
}

/// A step of a transfer's decision path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferStep {
    Vote,
    Approve,
    Reject,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print() {
        let fy = FundYear::parse("funds/BNGA/years/2022").unwrap();
        assert_eq!(fy, FundYear { fund: Fund::Bnga, year: 2022 });
        assert_eq!(fy.name(), "funds/BNGA/years/2022");
        assert!(FundYear::parse("funds/XYZ/years/2022").is_err());
        assert!(FundYear::parse("funds/BNGA/years/2022/lines/A").is_err());
        assert_eq!(
            parse_child("funds/BNASS/years/2023/lines/BNASS-MAL-COL", "lines").map(|(f, c)| (f.fund, c)),
            Some((Fund::Bnass, "BNASS-MAL-COL"))
        );
        assert_eq!(parse_child("funds/BNGA/years/2023/lines/", "lines"), None);
        assert_eq!(parse_child("funds/BNGA/years/2023/lines/A-I-2.a", "transfers"), None);
    }
}
