//! PostgreSQL access of the results part: ledger batches and entries, and
//! the aggregates every query reads. Sums run in PostgreSQL over BIGINT cents
//! (`sum(bigint)` is an exact numeric, cast back to BIGINT, which errors
//! rather than rounds on overflow).

use std::collections::HashMap;

use chrono::NaiveDate;
use filieris_proto::finance as pb;
use filieris_runtime::Identity;
use filieris_runtime::idempotency::IdempotencyKey;
use filieris_runtime::registry_cache::{self, StructureIndex};
use filieris_runtime::write::{self, Begun, Recorded};
use sqlx::PgPool;
use uuid::Uuid;

use super::domain::{ValidEntry, validate_entry};
use crate::error::{DOMAIN, Result};

/// Structures a query covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeFilter {
    /// Every structure.
    All,
    /// One region (code).
    Region(i16),
    /// These structures.
    Structures(Vec<Uuid>),
}

impl ScopeFilter {
    fn parts(&self) -> (Option<i16>, Option<Vec<Uuid>>) {
        match self {
            Self::All => (None, None),
            Self::Region(r) => (Some(*r), None),
            Self::Structures(ids) => (None, Some(ids.clone())),
        }
    }
}

/// Which dimensions a results query splits by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dims {
    /// By structure.
    pub structure: bool,
    /// By activity line.
    pub line: bool,
    /// By region.
    pub region: bool,
    /// By month.
    pub month: bool,
}

/// Keyset of a results row: dimensions not asked for hold fixed sentinels.
pub type RowKey = (Uuid, i16, i16, NaiveDate);

/// One aggregated row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmountRow {
    /// Structure (nil when not split by structure).
    pub structure_id: Uuid,
    /// Line code (0 when not split).
    pub line: i16,
    /// Region code (0 when not split).
    pub region: i16,
    /// Month (`0001-01-01` when not split).
    pub month: NaiveDate,
    /// Σ class 7.
    pub produits: i64,
    /// Σ class 6.
    pub charges: i64,
}

impl AmountRow {
    /// Its keyset.
    pub fn key(&self) -> RowKey {
        (self.structure_id, self.line, self.region, self.month)
    }
}

/// The date standing for "not split by month".
pub fn no_month() -> NaiveDate {
    NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// One structure's amounts over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructureAmounts {
    /// Structure.
    pub structure_id: Uuid,
    /// Its FINESS, if any.
    pub finess: Option<String>,
    /// Σ class 7.
    pub produits: i64,
    /// Σ class 6.
    pub charges: i64,
}

/// The results store.
#[derive(Clone)]
pub struct ResultsStore {
    pool: PgPool,
}

const FILTER: &str = "month >= $1 AND month < $2 AND ($3::smallint IS NULL OR region = $3) \
                      AND ($4::uuid[] IS NULL OR structure_id = ANY($4)) AND ($5::smallint IS NULL OR activity_line = $5)";

impl ResultsStore {
    /// A store over the finance schema.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The registry cache by FINESS.
    pub async fn structure_index(&self) -> Result<StructureIndex> {
        Ok(registry_cache::structure_index(&self.pool).await?)
    }

    /// Structures of these regions, these FINESS, and the antennas of these FINESS.
    pub async fn visible_structure_ids(&self, regions: &[i16], finess: &[String]) -> Result<Vec<Uuid>> {
        let rows: Vec<(Uuid,)> = sqlx::query_as(
            "SELECT structure_id FROM structure_cache WHERE region = ANY($1) OR finess = ANY($2) \
             OR parent_id IN (SELECT structure_id FROM structure_cache WHERE finess = ANY($2))",
        )
        .bind(regions)
        .bind(finess)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Registry ids by FINESS (structure scopes).
    pub async fn structure_id(&self, finess: &str) -> Result<Option<Uuid>> {
        let row: Option<(Uuid,)> =
            sqlx::query_as("SELECT structure_id FROM structure_cache WHERE finess = $1").bind(finess).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| r.0))
    }

    /// FINESS of cached structures by id.
    pub async fn finess_by_id(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, String>> {
        let rows: Vec<(Uuid, Option<String>)> =
            sqlx::query_as("SELECT structure_id, finess FROM structure_cache WHERE structure_id = ANY($1)")
                .bind(ids)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().filter_map(|(id, f)| f.map(|f| (id, f))).collect())
    }

    /// Imports one batch in one transaction: valid rows stored set-wise,
    /// invalid ones reported; a replay of the same request id returns the
    /// first summary.
    pub async fn import(
        &self,
        identity: &Identity,
        key: Option<&IdempotencyKey>,
        request: &pb::ImportLedgerEntriesRequest,
    ) -> Result<pb::ImportLedgerEntriesResponse> {
        let mut tx = match write::begin::<pb::ImportLedgerEntriesResponse>(DOMAIN, &self.pool, key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        let structures = self.structure_index().await?;
        let mut valid: Vec<ValidEntry> = Vec::with_capacity(request.entries.len());
        let mut errors = Vec::new();
        let mut rejected = 0i64;
        for (i, input) in request.entries.iter().enumerate() {
            let row = i32::try_from(i + 1).unwrap_or(i32::MAX);
            match validate_entry(row, input, &structures) {
                Ok(v) => valid.push(v),
                Err(problems) => {
                    rejected += 1;
                    errors.extend(problems.into_iter().map(|p| pb::LedgerRowError { row: p.row, field: p.field.into(), reason: p.reason }));
                }
            }
        }
        let id = Uuid::now_v7();
        let total = i64::try_from(request.entries.len()).unwrap_or(i64::MAX);
        let accepted = total - rejected;
        sqlx::query(
            "INSERT INTO ledger_batch (id, caller, request_id, source_system, total_rows, accepted_rows, rejected_rows) \
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
        let rows: Vec<i32> = valid.iter().map(|v| v.row).collect();
        let structures: Vec<Uuid> = valid.iter().map(|v| v.structure_id).collect();
        let regions: Vec<i16> = valid.iter().map(|v| v.region).collect();
        let accounts: Vec<&str> = valid.iter().map(|v| v.account.as_str()).collect();
        let classes: Vec<i16> = valid.iter().map(|v| v.class).collect();
        let lines: Vec<i16> = valid.iter().map(|v| v.line).collect();
        let months: Vec<NaiveDate> = valid.iter().map(|v| v.month).collect();
        let amounts: Vec<i64> = valid.iter().map(|v| v.amount_cents).collect();
        sqlx::query(
            "INSERT INTO ledger_entry (batch_id, row_number, structure_id, region, account, account_class, activity_line, month, amount_cents) \
             SELECT $1, * FROM UNNEST($2::int[], $3::uuid[], $4::smallint[], $5::text[], $6::smallint[], $7::smallint[], $8::date[], $9::bigint[])",
        )
        .bind(id)
        .bind(&rows)
        .bind(&structures)
        .bind(&regions)
        .bind(&accounts)
        .bind(&classes)
        .bind(&lines)
        .bind(&months)
        .bind(&amounts)
        .execute(&mut *tx)
        .await?;
        let (produits, charges) = valid.iter().fold((0i64, 0i64), |(p, c), v| {
            if v.class == 7 { (p.saturating_add(v.amount_cents), c) } else { (p, c.saturating_add(v.amount_cents)) }
        });
        let name = format!("ledgerBatches/{id}");
        let response = pb::ImportLedgerEntriesResponse {
            name: name.clone(),
            request_id: request.request_id.clone(),
            total_rows: total,
            accepted_rows: accepted,
            rejected_rows: rejected,
            errors,
            produits_cents: produits,
            charges_cents: charges,
        };
        let detail = format!("{accepted} of {total} rows stored");
        write::record(
            &mut tx,
            &Recorded {
                identity,
                method: "FinanceResultsService/ImportLedgerEntries",
                request_id: &request.request_id,
                resource: &name,
                change_type: "LEDGER_BATCH_IMPORTED",
                revision: 0,
                detail: &detail,
            },
        )
        .await?;
        write::commit(DOMAIN, tx, key, &response).await?;
        Ok(response)
    }

    /// Totals over [from, to) and a scope.
    pub async fn totals(&self, from: NaiveDate, to: NaiveDate, scope: &ScopeFilter, line: Option<i16>) -> Result<(i64, i64)> {
        let (region, ids) = scope.parts();
        let row: (i64, i64) = sqlx::query_as(&format!(
            "SELECT COALESCE(sum(amount_cents) FILTER (WHERE account_class = 7), 0)::bigint, \
                    COALESCE(sum(amount_cents) FILTER (WHERE account_class = 6), 0)::bigint \
             FROM ledger_entry WHERE {FILTER}"
        ))
        .bind(from)
        .bind(to)
        .bind(region)
        .bind(ids)
        .bind(line)
        .fetch_one(&self.pool)
        .await?;
        Ok(row)
    }

    /// One page of rows split by `dims`, after the keyset `after`.
    #[allow(clippy::too_many_arguments)]
    pub async fn rows(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        scope: &ScopeFilter,
        line: Option<i16>,
        dims: Dims,
        after: Option<RowKey>,
        limit: i64,
    ) -> Result<Vec<AmountRow>> {
        let (region, ids) = scope.parts();
        // Column expressions are fixed strings chosen here, never request text.
        let s = if dims.structure { "structure_id" } else { "'00000000-0000-0000-0000-000000000000'::uuid" };
        let l = if dims.line { "activity_line" } else { "0::smallint" };
        let r = if dims.region { "region" } else { "0::smallint" };
        let m = if dims.month { "month" } else { "DATE '0001-01-01'" };
        // Every row's line and region are ≥ 0, so this key precedes them all.
        let after = after.unwrap_or((Uuid::nil(), i16::MIN, i16::MIN, no_month()));
        let sql = format!(
            "SELECT s, l, r, m, p, c FROM ( \
               SELECT {s} AS s, {l} AS l, {r} AS r, {m} AS m, \
                      COALESCE(sum(amount_cents) FILTER (WHERE account_class = 7), 0)::bigint AS p, \
                      COALESCE(sum(amount_cents) FILTER (WHERE account_class = 6), 0)::bigint AS c \
               FROM ledger_entry WHERE {FILTER} GROUP BY 1, 2, 3, 4) g \
             WHERE (s, l, r, m) > ($6, $7, $8, $9) ORDER BY s, l, r, m LIMIT $10"
        );
        let rows: Vec<(Uuid, i16, i16, NaiveDate, i64, i64)> = sqlx::query_as(&sql)
            .bind(from)
            .bind(to)
            .bind(region)
            .bind(ids)
            .bind(line)
            .bind(after.0)
            .bind(after.1)
            .bind(after.2)
            .bind(after.3)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(structure_id, line, region, month, produits, charges)| AmountRow {
                structure_id,
                line,
                region,
                month,
                produits,
                charges,
            })
            .collect())
    }

    /// Each structure's amounts over [from, to) among `ids`, and the number
    /// of distinct months booked.
    pub async fn structure_amounts(&self, ids: &[Uuid], from: NaiveDate, to: NaiveDate) -> Result<(Vec<StructureAmounts>, i32)> {
        let rows: Vec<(Uuid, Option<String>, i64, i64)> = sqlx::query_as(
            "SELECT e.structure_id, c.finess, \
                    COALESCE(sum(e.amount_cents) FILTER (WHERE e.account_class = 7), 0)::bigint, \
                    COALESCE(sum(e.amount_cents) FILTER (WHERE e.account_class = 6), 0)::bigint \
             FROM ledger_entry e LEFT JOIN structure_cache c ON c.structure_id = e.structure_id \
             WHERE e.month >= $1 AND e.month < $2 AND e.structure_id = ANY($3) \
             GROUP BY e.structure_id, c.finess ORDER BY c.finess, e.structure_id",
        )
        .bind(from)
        .bind(to)
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        let (months,): (i64,) =
            sqlx::query_as("SELECT count(DISTINCT month) FROM ledger_entry WHERE month >= $1 AND month < $2 AND structure_id = ANY($3)")
                .bind(from)
                .bind(to)
                .bind(ids)
                .fetch_one(&self.pool)
                .await?;
        Ok((
            rows.into_iter()
                .map(|(structure_id, finess, produits, charges)| StructureAmounts { structure_id, finess, produits, charges })
                .collect(),
            i32::try_from(months).unwrap_or(i32::MAX),
        ))
    }

    /// Monthly amounts per cell (structure × line) over [from, to).
    pub async fn cell_months(&self, from: NaiveDate, to: NaiveDate, scope: &ScopeFilter) -> Result<Vec<(Uuid, i16, NaiveDate, i64, i64)>> {
        let (region, ids) = scope.parts();
        Ok(sqlx::query_as(&format!(
            "SELECT structure_id, activity_line, month, \
                    COALESCE(sum(amount_cents) FILTER (WHERE account_class = 7), 0)::bigint, \
                    COALESCE(sum(amount_cents) FILTER (WHERE account_class = 6), 0)::bigint \
             FROM ledger_entry WHERE {FILTER} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        ))
        .bind(from)
        .bind(to)
        .bind(region)
        .bind(ids)
        .bind(None::<i16>)
        .fetch_all(&self.pool)
        .await?)
    }
}
