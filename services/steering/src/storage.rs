//! PostgreSQL storage of the steering service (schema `steering`).
//!
//! Definitions, targets, values and action statuses are append-only (a
//! trigger refuses UPDATE and DELETE): an edit appends a version, a new
//! computation appends values, and reads "as of" a time pick the last row
//! recorded at or before it. Writes go through `filieris_runtime::write`
//! (audit, change feed, request-id idempotency in the same transaction).

use chrono::{DateTime, NaiveDate, Utc};
use filieris_proto::steering as pb;
use filieris_runtime::idempotency::IdempotencyKey;
use filieris_runtime::identity::Identity;
use filieris_runtime::server::timestamp;
use filieris_runtime::write::{self, Begun, Recorded};
use sqlx::PgPool;

use crate::domain::actions::{ActionStatus, AxisCounts, count_by_axis, reference_calendar};
use crate::domain::catalogue::{Definition, Nature, ValueKind, reference_catalogue};
use crate::domain::targets::TargetRule;
use crate::domain::values::NewValue;
use crate::error::{DOMAIN, Result, SteeringError};

/// Caller recorded on what the service writes itself.
pub const SERVICE_CALLER: &str = "service:steering";

/// Who writes, with which request id.
pub struct WriteContext<'a> {
    pub identity: &'a Identity,
    pub method: &'a str,
    pub key: Option<&'a IdempotencyKey>,
    pub request_id: &'a str,
}

/// A stored version of a definition.
#[derive(Debug, Clone)]
pub struct DefinitionRow {
    pub definition: Definition,
    pub version: i64,
    pub reason: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

impl DefinitionRow {
    pub fn to_proto(&self) -> pb::IndicatorDefinition {
        let d = &self.definition;
        let source = pb::MetricSource {
            kind: pb::SourceKind::from_str_name(&format!("SOURCE_KIND_{}", d.source.kind())).map(|k| k as i32).unwrap_or(0),
            parameter: d.source.parameter(),
            reason: d.source.reason().to_owned(),
            reference: d.source.reference(),
        };
        let base = pb::PrintedValue {
            raw: d.base.raw.clone(),
            kind: value_kind(d.base.kind) as i32,
            numerator: d.base.value.map(|v| v.units).unwrap_or_default(),
            scale: d.base.value.map(|v| i32::try_from(v.scale).unwrap_or_default()).unwrap_or_default(),
            year: d.base.year.unwrap_or_default(),
        };
        pb::IndicatorDefinition {
            name: format!("indicators/{}", d.key),
            key: d.key.clone(),
            cog: d.cog.clone(),
            block: d.block.clone(),
            number: d.number,
            theme: d.theme.clone(),
            label_fr: d.label_fr.clone(),
            label_en: d.label_en.clone(),
            nature: match d.nature {
                Nature::Result => pb::IndicatorNature::Result,
                Nature::Steering => pb::IndicatorNature::Steering,
            } as i32,
            source: Some(source),
            factor: i32::try_from(d.factor).unwrap_or_default(),
            unit: d.unit.clone(),
            decimals: i32::try_from(d.decimals).unwrap_or_default(),
            scope: d.scope.clone(),
            period_type: d.period_type.clone(),
            base: Some(base),
            lower_is_better: d.lower_is_better,
            version: self.version,
            change_reason: self.reason.clone(),
            recorded_by: self.recorded_by.clone(),
            record_time: Some(timestamp(self.recorded_at)),
            source_line: d.source_line.clone(),
        }
    }
}

pub fn value_kind(k: ValueKind) -> pb::ValueKind {
    match k {
        ValueKind::Value => pb::ValueKind::Value,
        ValueKind::Nc => pb::ValueKind::Nc,
        ValueKind::Nd => pb::ValueKind::Nd,
        ValueKind::Blank => pb::ValueKind::Blank,
        ValueKind::Text => pb::ValueKind::Text,
    }
}

/// A stored target.
#[derive(Debug, Clone)]
pub struct TargetRow {
    pub key: String,
    pub year: i32,
    pub amendment: i32,
    pub raw: String,
    pub rule: TargetRule,
    pub reason: String,
    pub comment: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

type TargetTuple = (String, i32, i32, String, serde_json::Value, String, String, String, DateTime<Utc>);

const TARGET_COLUMNS: &str = "key, year, amendment, raw, rule, reason, comment, recorded_by, recorded_at";

impl TargetRow {
    fn from_tuple((key, year, amendment, raw, rule, reason, comment, recorded_by, recorded_at): TargetTuple) -> Result<TargetRow> {
        let rule = serde_json::from_value(rule).map_err(|e| SteeringError::ReferenceData(format!("stored target: {e}")))?;
        Ok(TargetRow { key, year, amendment, raw, rule, reason, comment, recorded_by, recorded_at })
    }
}

impl TargetRow {
    pub fn to_proto(&self) -> pb::IndicatorTarget {
        let dec = |d: crate::domain::targets::Dec| pb::Decimal { units: d.units, scale: i32::try_from(d.scale).unwrap_or_default() };
        let mut t = pb::IndicatorTarget {
            name: format!("indicators/{}/targets/{}", self.key, self.year),
            year: self.year,
            raw: self.raw.clone(),
            amendment: self.amendment,
            reason: self.reason.clone(),
            comment: self.comment.clone(),
            recorded_by: self.recorded_by.clone(),
            record_time: Some(timestamp(self.recorded_at)),
            ..Default::default()
        };
        let ty = match &self.rule {
            TargetRule::ReduceDeficit { percent } => {
                t.percent = *percent;
                pb::TargetType::ReduceDeficit
            }
            TargetRule::Equilibrium { tolerance_cents } => {
                t.tolerance_cents = *tolerance_cents;
                pb::TargetType::Equilibrium
            }
            TargetRule::Surplus => pb::TargetType::Surplus,
            TargetRule::Range { low, high } => {
                t.low = Some(dec(*low));
                t.high = Some(dec(*high));
                pb::TargetType::Range
            }
            TargetRule::Min { low } => {
                t.low = Some(dec(*low));
                pb::TargetType::Min
            }
            TargetRule::Max { high } => {
                t.high = Some(dec(*high));
                pb::TargetType::Max
            }
            TargetRule::Count { low } => {
                t.low = Some(pb::Decimal { units: *low, scale: 0 });
                pb::TargetType::Count
            }
            TargetRule::Milestone { text } => {
                t.milestone = text.clone();
                pb::TargetType::Milestone
            }
            TargetRule::None => pb::TargetType::None,
            TargetRule::Blank => pb::TargetType::Blank,
            TargetRule::Text => pb::TargetType::Text,
        };
        t.r#type = ty as i32;
        t
    }
}

/// A stored value.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ValueRow {
    pub sequence: i64,
    pub key: String,
    pub year: i32,
    pub definition_version: i64,
    pub kind: String,
    pub numerator: Option<i64>,
    pub denominator: Option<i64>,
    pub display: String,
    pub provenance: String,
    pub reason: String,
    pub status: String,
    pub qualifiers: Vec<String>,
    pub target_raw: String,
    pub source: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
    pub scope: String,
    pub target_amendment: Option<i32>,
}

const VALUE_COLUMNS: &str = "sequence, key, year, definition_version, kind, numerator, denominator, display, provenance, reason, \
                             status, qualifiers, target_raw, source, recorded_by, recorded_at, scope, target_amendment";

impl ValueRow {
    pub fn to_proto(&self) -> pb::IndicatorValue {
        pb::IndicatorValue {
            indicator: format!("indicators/{}", self.key),
            year: self.year,
            definition_version: self.definition_version,
            kind: pb::ValueKind::from_str_name(&format!("VALUE_KIND_{}", self.kind)).map(|k| k as i32).unwrap_or(0),
            numerator: self.numerator.unwrap_or_default(),
            denominator: self.denominator,
            display: self.display.clone(),
            provenance: pb::Provenance::from_str_name(&format!("PROVENANCE_{}", self.provenance)).map(|k| k as i32).unwrap_or(0),
            reason: self.reason.clone(),
            status: pb::Status::from_str_name(&format!("STATUS_{}", self.status)).map(|k| k as i32).unwrap_or(0),
            qualifiers: self
                .qualifiers
                .iter()
                .filter_map(|q| pb::Qualifier::from_str_name(&format!("QUALIFIER_{q}")))
                .map(|q| q as i32)
                .collect(),
            target_raw: self.target_raw.clone(),
            source: self.source.clone(),
            record_time: Some(timestamp(self.recorded_at)),
            recorded_by: self.recorded_by.clone(),
            sequence: self.sequence,
            scope: self.scope.clone(),
            target_amendment: self.target_amendment,
        }
    }
}

/// An action with its current state.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActionRow {
    pub code: String,
    pub axis: i32,
    pub axis_label: String,
    pub fiche: i32,
    pub fiche_label: String,
    pub engagement: String,
    pub label_fr: String,
    pub label_en: String,
    pub whole_period: bool,
    pub years: Vec<i32>,
    pub calendar_ambiguous: bool,
    pub status: String,
    pub owner: String,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub comment: String,
}

fn date_text(d: Option<NaiveDate>) -> String {
    d.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

fn action_status(s: &str) -> pb::ActionStatus {
    pb::ActionStatus::from_str_name(&format!("ACTION_STATUS_{s}")).unwrap_or(pb::ActionStatus::Unspecified)
}

impl ActionRow {
    pub fn to_proto(&self) -> pb::Action {
        pb::Action {
            name: format!("actions/{}", self.code),
            code: self.code.clone(),
            axis: self.axis,
            axis_label: self.axis_label.clone(),
            fiche: self.fiche,
            fiche_label: self.fiche_label.clone(),
            engagement: self.engagement.clone(),
            label_fr: self.label_fr.clone(),
            label_en: self.label_en.clone(),
            whole_period: self.whole_period,
            years: self.years.clone(),
            calendar_ambiguous: self.calendar_ambiguous,
            status: action_status(&self.status) as i32,
            owner: self.owner.clone(),
            start_date: date_text(self.start_date),
            end_date: date_text(self.end_date),
            comment: self.comment.clone(),
        }
    }
}

/// The current state of every action: its last status row, TO_COME when none.
const ACTIONS_CURRENT: &str = "SELECT a.code, a.axis, a.axis_label, a.fiche, a.fiche_label, a.engagement, a.label_fr, a.label_en, \
       a.whole_period, a.years, a.calendar_ambiguous, COALESCE(s.status, 'TO_COME') AS status, COALESCE(s.owner, '') AS owner, \
       s.start_date, s.end_date, COALESCE(s.comment, '') AS comment \
     FROM action a LEFT JOIN LATERAL ( \
       SELECT status, owner, start_date, end_date, comment FROM action_status st WHERE st.code = a.code ORDER BY sequence DESC LIMIT 1 \
     ) s ON true";

/// A status change asked for, validated.
pub struct StatusChange {
    pub status: ActionStatus,
    pub owner: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub comment: String,
}

/// An amendment asked for, validated.
pub struct TargetAmendment {
    pub key: String,
    pub year: i32,
    pub rule: TargetRule,
    pub raw: String,
    /// The amendment in force the change is based on.
    pub expected: Option<i32>,
    pub reason: String,
    pub comment: String,
}

/// What loading the reference tables added.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LoadReport {
    pub indicators: u64,
    /// Definitions moved to a newer reference version (never a person's edit).
    pub updated: u64,
    pub targets: u64,
    pub actions: u64,
    /// Results printed in a past report, stored for MANUAL indicators.
    pub values: u64,
}

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

    /// Loads the reference catalogue, targets and calendar. Idempotent: an
    /// indicator, target or action already present is left as it is (an
    /// edited definition is never overwritten by the reference table).
    pub async fn load_reference(&self) -> Result<LoadReport> {
        let catalogue = reference_catalogue().map_err(SteeringError::ReferenceData)?;
        let calendar = reference_calendar().map_err(SteeringError::ReferenceData)?;
        let mut report = LoadReport::default();
        let mut tx = self.pool.begin().await?;
        for item in &catalogue {
            let d = &item.definition;
            let added = sqlx::query("INSERT INTO indicator (key, cog, block, number) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                .bind(&d.key)
                .bind(&d.cog)
                .bind(&d.block)
                .bind(d.number)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if added == 1 {
                let json = serde_json::to_value(d).map_err(|e| SteeringError::ReferenceData(e.to_string()))?;
                sqlx::query(
                    "INSERT INTO indicator_version (key, version, definition, reason, recorded_by) \
                     VALUES ($1, 1, $2, 'loaded from the reference table', $3)",
                )
                .bind(&d.key)
                .bind(json)
                .bind(SERVICE_CALLER)
                .execute(&mut *tx)
                .await?;
                report.indicators += 1;
            } else {
                // A definition nobody edited follows the reference table when a newer
                // release changes it (a source wired since, say): a new version, so values
                // computed with the old one stay reproducible. A person's edit is never
                // overwritten.
                let json = serde_json::to_value(d).map_err(|e| SteeringError::ReferenceData(e.to_string()))?;
                let (version, current, by): (i64, serde_json::Value, String) = sqlx::query_as(
                    "SELECT version, definition, recorded_by FROM indicator_version WHERE key = $1 ORDER BY version DESC LIMIT 1",
                )
                .bind(&d.key)
                .fetch_one(&mut *tx)
                .await?;
                if by == SERVICE_CALLER && current != json {
                    report.updated += sqlx::query(
                        "INSERT INTO indicator_version (key, version, definition, reason, recorded_by) \
                         VALUES ($1, $2, $3, 'updated from a newer reference table', $4) ON CONFLICT DO NOTHING",
                    )
                    .bind(&d.key)
                    .bind(version + 1)
                    .bind(json)
                    .bind(SERVICE_CALLER)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
            }
            for t in &item.targets {
                let rule = serde_json::to_value(&t.rule).map_err(|e| SteeringError::ReferenceData(e.to_string()))?;
                report.targets += sqlx::query(
                    "INSERT INTO indicator_target (key, year, amendment, raw, rule) VALUES ($1, $2, 0, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(&d.key)
                .bind(t.year)
                .bind(&t.raw)
                .bind(rule)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
        }
        // Results printed in the 2018 report, for the indicators the platform has no data for:
        // stored once, as MANUAL values, so that the 2018 annex can be regenerated.
        for item in &catalogue {
            if !matches!(item.definition.source, crate::domain::catalogue::MetricRef::Manual(_)) {
                continue;
            }
            for (year, printed) in &item.printed_results {
                let key = &item.definition.key;
                let exists: bool =
                    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM indicator_value WHERE key = $1 AND year = $2 AND scope = 'national')")
                        .bind(key)
                        .bind(year)
                        .fetch_one(&mut *tx)
                        .await?;
                if exists {
                    continue;
                }
                let (json, version): (serde_json::Value, i64) =
                    sqlx::query_as("SELECT definition, version FROM indicator_version WHERE key = $1 ORDER BY version DESC LIMIT 1")
                        .bind(key)
                        .fetch_one(&mut *tx)
                        .await?;
                let stored: Definition =
                    serde_json::from_value(json).map_err(|e| SteeringError::ReferenceData(format!("stored definition: {e}")))?;
                let target = item.targets.iter().find(|t| t.year == *year).map(|t| (t.raw.as_str(), &t.rule));
                let note = format!("printed in the {year} execution report ({})", stored.source_line);
                let value = crate::domain::values::printed_value(&stored, version, *year, target, printed, &note);
                insert_value(&mut tx, &value, SERVICE_CALLER).await?;
                report.values += 1;
            }
        }
        for a in &calendar {
            report.actions += sqlx::query(
                "INSERT INTO action (code, axis, axis_label, fiche, fiche_label, engagement, label_fr, label_en, whole_period, years, \
                 calendar_ambiguous, source_line) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
            )
            .bind(&a.code)
            .bind(a.axis)
            .bind(&a.axis_label)
            .bind(a.fiche)
            .bind(&a.fiche_label)
            .bind(&a.engagement)
            .bind(&a.label_fr)
            .bind(&a.label_en)
            .bind(a.whole_period)
            .bind(&a.years)
            .bind(a.calendar_ambiguous)
            .bind(a.source_line)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(report)
    }

    fn definition_row(
        (json, version, reason, recorded_by, recorded_at): (serde_json::Value, i64, String, String, DateTime<Utc>),
    ) -> Result<DefinitionRow> {
        let definition: Definition =
            serde_json::from_value(json).map_err(|e| SteeringError::ReferenceData(format!("stored definition: {e}")))?;
        Ok(DefinitionRow { definition, version, reason, recorded_by, recorded_at })
    }

    /// The current version of every definition, in key order (COG, block, number).
    pub async fn current_definitions(&self, cog: Option<&str>) -> Result<Vec<DefinitionRow>> {
        let rows: Vec<(serde_json::Value, i64, String, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT DISTINCT ON (v.key) v.definition, v.version, v.reason, v.recorded_by, v.recorded_at \
             FROM indicator_version v JOIN indicator i ON i.key = v.key \
             WHERE $1::text IS NULL OR i.cog = $1 ORDER BY v.key, v.version DESC",
        )
        .bind(cog)
        .fetch_all(&self.pool)
        .await?;
        let mut out = rows.into_iter().map(Self::definition_row).collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|r| annex_order(&r.definition));
        Ok(out)
    }

    /// One version (the current one when `version` is none).
    pub async fn definition(&self, key: &str, version: Option<i64>) -> Result<DefinitionRow> {
        let row: Option<(serde_json::Value, i64, String, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT definition, version, reason, recorded_by, recorded_at FROM indicator_version \
             WHERE key = $1 AND ($2::bigint IS NULL OR version = $2) ORDER BY version DESC LIMIT 1",
        )
        .bind(key)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Self::definition_row(r),
            None if version.is_some() && self.exists(key).await? => {
                Err(SteeringError::NotFound { kind: "definition version", name: format!("indicators/{key}") })
            }
            None => Err(SteeringError::NotFound { kind: "indicator", name: format!("indicators/{key}") }),
        }
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        Ok(sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM indicator WHERE key = $1)").bind(key).fetch_one(&self.pool).await?)
    }

    /// Every version, oldest first.
    pub async fn versions(&self, key: &str) -> Result<Vec<DefinitionRow>> {
        let rows: Vec<(serde_json::Value, i64, String, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT definition, version, reason, recorded_by, recorded_at FROM indicator_version WHERE key = $1 ORDER BY version",
        )
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Err(SteeringError::NotFound { kind: "indicator", name: format!("indicators/{key}") });
        }
        rows.into_iter().map(Self::definition_row).collect()
    }

    /// Appends a version of a definition. `expected` (when set) must be the
    /// current version, so two editors do not overwrite each other.
    pub async fn update_definition(
        &self,
        ctx: &WriteContext<'_>,
        definition: &Definition,
        expected: Option<i64>,
        reason: &str,
    ) -> Result<pb::UpdateIndicatorDefinitionResponse> {
        let mut tx = match write::begin(DOMAIN, &self.pool, ctx.key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        let locked: Option<String> = sqlx::query_scalar("SELECT key FROM indicator WHERE key = $1 FOR UPDATE")
            .bind(&definition.key)
            .fetch_optional(&mut *tx)
            .await?;
        if locked.is_none() {
            return Err(SteeringError::NotFound { kind: "indicator", name: format!("indicators/{}", definition.key) });
        }
        let current: i64 = sqlx::query_scalar("SELECT max(version) FROM indicator_version WHERE key = $1")
            .bind(&definition.key)
            .fetch_one(&mut *tx)
            .await?;
        if let Some(expected) = expected
            && expected != current
        {
            return Err(SteeringError::VersionConflict { key: definition.key.clone(), current, expected });
        }
        let json = serde_json::to_value(definition).map_err(|e| SteeringError::ReferenceData(e.to_string()))?;
        let version = current + 1;
        let recorded_at: DateTime<Utc> = sqlx::query_scalar(
            "INSERT INTO indicator_version (key, version, definition, reason, recorded_by) VALUES ($1, $2, $3, $4, $5) RETURNING recorded_at",
        )
        .bind(&definition.key)
        .bind(version)
        .bind(json)
        .bind(reason)
        .bind(&ctx.identity.caller)
        .fetch_one(&mut *tx)
        .await?;
        let resource = format!("indicators/{}", definition.key);
        write::record(
            &mut tx,
            &Recorded {
                identity: ctx.identity,
                method: ctx.method,
                request_id: ctx.request_id,
                resource: &resource,
                change_type: "INDICATOR_DEFINITION_VERSIONED",
                revision: version,
                detail: reason,
            },
        )
        .await?;
        let row = DefinitionRow {
            definition: definition.clone(),
            version,
            reason: reason.to_owned(),
            recorded_by: ctx.identity.caller.clone(),
            recorded_at,
        };
        let response = pb::UpdateIndicatorDefinitionResponse { definition: Some(row.to_proto()) };
        write::commit(DOMAIN, tx, ctx.key, &response).await?;
        Ok(response)
    }

    /// The targets of an indicator (latest amendment per year), by year.
    pub async fn targets(&self, key: &str) -> Result<Vec<TargetRow>> {
        if !self.exists(key).await? {
            return Err(SteeringError::NotFound { kind: "indicator", name: format!("indicators/{key}") });
        }
        self.targets_where(Some(key), None).await
    }

    /// The targets of every indicator for a year (latest amendment).
    pub async fn targets_of_year(&self, year: i32) -> Result<Vec<TargetRow>> {
        self.targets_where(None, Some(year)).await
    }

    /// The targets of every indicator for a year as they stood at `as_of`
    /// (the amendment in force then).
    pub async fn targets_of_year_as_of(&self, year: i32, as_of: DateTime<Utc>) -> Result<Vec<TargetRow>> {
        self.targets_at(None, Some(year), Some(as_of)).await
    }

    async fn targets_where(&self, key: Option<&str>, year: Option<i32>) -> Result<Vec<TargetRow>> {
        self.targets_at(key, year, None).await
    }

    async fn targets_at(&self, key: Option<&str>, year: Option<i32>, as_of: Option<DateTime<Utc>>) -> Result<Vec<TargetRow>> {
        let rows: Vec<TargetTuple> = sqlx::query_as(&format!(
            "SELECT DISTINCT ON (key, year) {TARGET_COLUMNS} FROM indicator_target \
             WHERE ($1::text IS NULL OR key = $1) AND ($2::int IS NULL OR year = $2) \
             AND ($3::timestamptz IS NULL OR recorded_at <= $3) ORDER BY key, year, amendment DESC"
        ))
        .bind(key)
        .bind(year)
        .bind(as_of)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(TargetRow::from_tuple).collect()
    }

    /// Every amendment of a year's target, oldest first.
    pub async fn target_versions(&self, key: &str, year: i32) -> Result<Vec<TargetRow>> {
        if !self.exists(key).await? {
            return Err(SteeringError::NotFound { kind: "indicator", name: format!("indicators/{key}") });
        }
        let rows: Vec<TargetTuple> =
            sqlx::query_as(&format!("SELECT {TARGET_COLUMNS} FROM indicator_target WHERE key = $1 AND year = $2 ORDER BY amendment"))
                .bind(key)
                .bind(year)
                .fetch_all(&self.pool)
                .await?;
        if rows.is_empty() {
            return Err(SteeringError::NotFound { kind: "target", name: format!("indicators/{key}/targets/{year}") });
        }
        rows.into_iter().map(TargetRow::from_tuple).collect()
    }

    /// Appends an amendment of a year's target. `expected` (when set) must be
    /// the amendment in force, so two editors do not overwrite each other.
    pub async fn amend_target(&self, ctx: &WriteContext<'_>, amendment: &TargetAmendment) -> Result<pb::AmendIndicatorTargetResponse> {
        let a = amendment;
        let mut tx = match write::begin(DOMAIN, &self.pool, ctx.key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        // Serialises the amendments of one indicator.
        let locked: Option<String> =
            sqlx::query_scalar("SELECT key FROM indicator WHERE key = $1 FOR UPDATE").bind(&a.key).fetch_optional(&mut *tx).await?;
        if locked.is_none() {
            return Err(SteeringError::NotFound { kind: "indicator", name: format!("indicators/{}", a.key) });
        }
        let current: Option<i32> = sqlx::query_scalar("SELECT max(amendment) FROM indicator_target WHERE key = $1 AND year = $2")
            .bind(&a.key)
            .bind(a.year)
            .fetch_one(&mut *tx)
            .await?;
        let current = current.unwrap_or(-1);
        if let Some(expected) = a.expected
            && expected != current
        {
            return Err(SteeringError::TargetConflict { key: a.key.clone(), year: a.year, current, expected });
        }
        let rule = serde_json::to_value(&a.rule).map_err(|e| SteeringError::ReferenceData(e.to_string()))?;
        let tuple: TargetTuple = sqlx::query_as(&format!(
            "INSERT INTO indicator_target (key, year, amendment, raw, rule, reason, comment, recorded_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {TARGET_COLUMNS}"
        ))
        .bind(&a.key)
        .bind(a.year)
        .bind(current + 1)
        .bind(&a.raw)
        .bind(rule)
        .bind(&a.reason)
        .bind(&a.comment)
        .bind(&ctx.identity.caller)
        .fetch_one(&mut *tx)
        .await?;
        let row = TargetRow::from_tuple(tuple)?;
        let resource = format!("indicators/{}/targets/{}", a.key, a.year);
        write::record(
            &mut tx,
            &Recorded {
                identity: ctx.identity,
                method: ctx.method,
                request_id: ctx.request_id,
                resource: &resource,
                change_type: "INDICATOR_TARGET_AMENDED",
                revision: i64::from(row.amendment),
                detail: &format!("{} → {:?}: {}", a.year, a.raw, a.reason),
            },
        )
        .await?;
        let response = pb::AmendIndicatorTargetResponse { target: Some(row.to_proto()) };
        write::commit(DOMAIN, tx, ctx.key, &response).await?;
        Ok(response)
    }

    /// Appends computed values in one transaction, with one audit and change row.
    pub async fn append_values(&self, identity: &Identity, method: &str, year: i32, values: &[NewValue]) -> Result<Vec<ValueRow>> {
        let mut tx = self.pool.begin().await?;
        let mut out = Vec::with_capacity(values.len());
        for v in values {
            out.push(insert_value(&mut tx, v, &identity.caller).await?);
        }
        let detail = format!("{} values computed for {year}", values.len());
        write::record(
            &mut tx,
            &Recorded {
                identity,
                method,
                request_id: "",
                resource: &format!("indicatorYears/{year}"),
                change_type: "INDICATOR_VALUES_COMPUTED",
                revision: out.last().map(|v| v.sequence).unwrap_or_default(),
                detail: &detail,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Records a manual value (the caller checked the source is MANUAL).
    pub async fn record_manual(&self, ctx: &WriteContext<'_>, value: &NewValue) -> Result<pb::RecordManualValueResponse> {
        let mut tx = match write::begin(DOMAIN, &self.pool, ctx.key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        let row = insert_value(&mut tx, value, &ctx.identity.caller).await?;
        let resource = format!("indicators/{}", value.key);
        write::record(
            &mut tx,
            &Recorded {
                identity: ctx.identity,
                method: ctx.method,
                request_id: ctx.request_id,
                resource: &resource,
                change_type: "INDICATOR_VALUE_ENTERED",
                revision: row.sequence,
                detail: &format!("{} {}: {} {}", value.year, value.kind.as_str(), value.display, value.reason),
            },
        )
        .await?;
        let response = pb::RecordManualValueResponse { value: Some(row.to_proto()) };
        write::commit(DOMAIN, tx, ctx.key, &response).await?;
        Ok(response)
    }

    /// Per indicator, the last national value of `year` recorded at or before `as_of`.
    pub async fn values_as_of(&self, year: i32, as_of: DateTime<Utc>) -> Result<Vec<ValueRow>> {
        self.scoped_values_as_of(year, "national", as_of).await
    }

    /// Per indicator, the last value of `year` for `scope` (canonical name)
    /// recorded at or before `as_of`.
    pub async fn scoped_values_as_of(&self, year: i32, scope: &str, as_of: DateTime<Utc>) -> Result<Vec<ValueRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT DISTINCT ON (key) {VALUE_COLUMNS} FROM indicator_value WHERE year = $1 AND scope = $3 AND recorded_at <= $2 \
             ORDER BY key, recorded_at DESC, sequence DESC"
        ))
        .bind(year)
        .bind(as_of)
        .bind(scope)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Actions with their current state, in annex order.
    pub async fn list_actions(&self, axis: Option<i32>, status: Option<ActionStatus>) -> Result<Vec<ActionRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT * FROM ({ACTIONS_CURRENT}) x WHERE ($1::int IS NULL OR axis = $1) AND ($2::text IS NULL OR status = $2) \
             ORDER BY (SELECT source_line FROM action WHERE code = x.code), code"
        ))
        .bind(axis)
        .bind(status.map(ActionStatus::as_str))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn action(&self, conn: &mut sqlx::PgConnection, code: &str) -> Result<ActionRow> {
        sqlx::query_as(&format!("SELECT * FROM ({ACTIONS_CURRENT}) x WHERE code = $1"))
            .bind(code)
            .fetch_optional(conn)
            .await?
            .ok_or_else(|| SteeringError::NotFound { kind: "action", name: format!("actions/{code}") })
    }

    /// Appends a status change; owner and dates not given are kept.
    pub async fn update_action_status(
        &self,
        ctx: &WriteContext<'_>,
        code: &str,
        change: &StatusChange,
    ) -> Result<pb::UpdateActionStatusResponse> {
        let mut tx = match write::begin(DOMAIN, &self.pool, ctx.key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        // Serialises changes of one action so each builds on the last.
        let locked: Option<String> =
            sqlx::query_scalar("SELECT code FROM action WHERE code = $1 FOR UPDATE").bind(code).fetch_optional(&mut *tx).await?;
        if locked.is_none() {
            return Err(SteeringError::NotFound { kind: "action", name: format!("actions/{code}") });
        }
        let before = self.action(&mut tx, code).await?;
        let owner = change.owner.clone().unwrap_or(before.owner);
        let start = change.start_date.or(before.start_date);
        let end = change.end_date.or(before.end_date);
        if change.status == ActionStatus::Done && end.is_none() {
            return Err(SteeringError::field("end_date", "is required to mark an action DONE"));
        }
        if let (Some(s), Some(e)) = (start, end)
            && e < s
        {
            return Err(SteeringError::field("end_date", "must not be before start_date"));
        }
        let sequence: i64 = sqlx::query_scalar(
            "INSERT INTO action_status (code, status, owner, start_date, end_date, comment, recorded_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING sequence",
        )
        .bind(code)
        .bind(change.status.as_str())
        .bind(&owner)
        .bind(start)
        .bind(end)
        .bind(&change.comment)
        .bind(&ctx.identity.caller)
        .fetch_one(&mut *tx)
        .await?;
        let resource = format!("actions/{code}");
        write::record(
            &mut tx,
            &Recorded {
                identity: ctx.identity,
                method: ctx.method,
                request_id: ctx.request_id,
                resource: &resource,
                change_type: "ACTION_STATUS_CHANGED",
                revision: sequence,
                detail: &format!("{} → {}: {}", before.status, change.status.as_str(), change.comment),
            },
        )
        .await?;
        let after = self.action(&mut tx, code).await?;
        let response = pb::UpdateActionStatusResponse { action: Some(after.to_proto()) };
        write::commit(DOMAIN, tx, ctx.key, &response).await?;
        Ok(response)
    }

    /// The status history of an action, oldest first.
    pub async fn action_history(&self, code: &str) -> Result<Vec<pb::ActionStatusChange>> {
        let mut conn = self.pool.acquire().await?;
        self.action(&mut conn, code).await?;
        #[allow(clippy::type_complexity)]
        let rows: Vec<(i64, String, String, Option<NaiveDate>, Option<NaiveDate>, String, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT sequence, status, owner, start_date, end_date, comment, recorded_by, recorded_at FROM action_status \
             WHERE code = $1 ORDER BY sequence",
        )
        .bind(code)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(sequence, status, owner, start, end, comment, recorded_by, at)| pb::ActionStatusChange {
                sequence,
                status: action_status(&status) as i32,
                owner,
                start_date: date_text(start),
                end_date: date_text(end),
                comment,
                recorded_by,
                record_time: Some(timestamp(at)),
            })
            .collect())
    }

    /// Counts per axis and status (scheduled in `year` when given).
    pub async fn action_counts(&self, year: Option<i32>) -> Result<(Vec<AxisCounts>, AxisCounts)> {
        let rows = self.list_actions(None, None).await?;
        let items: Vec<(i32, String, ActionStatus)> = rows
            .into_iter()
            .filter(|a| year.is_none_or(|y| a.whole_period || a.years.contains(&y)))
            .map(|a| (a.axis, a.axis_label, ActionStatus::parse(&a.status).unwrap_or(ActionStatus::ToCome)))
            .collect();
        Ok(count_by_axis(items.iter().map(|(axis, label, status)| (*axis, label.as_str(), *status))))
    }
}

/// Annex order: COG 2022-2024 first, then blocks as printed, then numbers.
pub fn annex_order(d: &Definition) -> (std::cmp::Reverse<String>, u8, i32) {
    let block = match d.block.as_str() {
        "FINRES" => 0,
        "SUP" => 1,
        _ => 2,
    };
    (std::cmp::Reverse(d.cog.clone()), block, d.number)
}

async fn insert_value(conn: &mut sqlx::PgConnection, v: &NewValue, who: &str) -> Result<ValueRow> {
    Ok(sqlx::query_as(&format!(
        "INSERT INTO indicator_value (key, year, definition_version, kind, numerator, denominator, display, provenance, reason, \
         status, qualifiers, target_raw, source, recorded_by, scope, target_amendment) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING {VALUE_COLUMNS}"
    ))
    .bind(&v.key)
    .bind(v.year)
    .bind(v.definition_version)
    .bind(v.kind.as_str())
    .bind(v.numerator)
    .bind(v.denominator)
    .bind(&v.display)
    .bind(v.provenance.as_str())
    .bind(&v.reason)
    .bind(&v.status)
    .bind(&v.qualifiers)
    .bind(&v.target_raw)
    .bind(&v.source)
    .bind(who)
    .bind(&v.scope)
    .bind(v.target_amendment)
    .fetch_one(conn)
    .await?)
}
