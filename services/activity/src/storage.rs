//! PostgreSQL storage of the activity service (schema `activity`).
//!
//! An import is one transaction: valid rows are streamed with COPY into a
//! temporary staging table, then moved into `act` and folded into the rollups
//! (`act_month`, `patient_month`, `patient_year`) set-wise, together with the batch record,
//! the audit row and the change-feed row. A crash before COMMIT leaves
//! nothing; a re-sent batch (same caller and request id) finds its record and
//! gets the same summary back.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use filieris_kernel::Period;
use filieris_kernel::period::PeriodKind;
use filieris_kernel::pseudonym::PseudonymKey;
use filieris_proto::activity as pb;
use filieris_runtime::identity::Identity;
use filieris_runtime::pagination::{decode_token, fingerprint, finish_page};
use filieris_runtime::server::timestamp;
use filieris_runtime::write::{self, Recorded};
use futures::{Stream, StreamExt};
use prost::Message;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::codes::{MINING, OTHER};
use crate::domain::rows::{StructureIndex, ValidAct, validate_row};
use crate::domain::upload::RowInput;
use crate::error::{ActivityError, DOMAIN, Result};

/// Row errors kept in a batch record (all are counted).
pub const MAX_STORED_ERRORS: usize = 1000;
/// COPY buffer flushed past this size.
const COPY_CHUNK: usize = 1 << 20;
/// Imports at least this large refresh the planner statistics.
const ANALYZE_AFTER_ROWS: i64 = 100_000;
/// `patient_year.region` of the national rows.
const NATION: i16 = -1;

/// The activity service's data access.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    key: PseudonymKey,
}

/// Who imports what.
pub struct ImportContext<'a> {
    /// Caller.
    pub identity: &'a Identity,
    /// RPC name.
    pub method: &'a str,
    /// Idempotency key of the batch (required).
    pub request_id: &'a str,
    /// Source system.
    pub source_system: &'a str,
}

/// Counts by scheme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchemeCounts {
    /// Mining scheme.
    pub mining: i64,
    /// Other schemes.
    pub other: i64,
    /// Unknown.
    pub unknown: i64,
}

impl SchemeCounts {
    fn add(&mut self, scheme: i16, n: i64) {
        match scheme {
            MINING => self.mining += n,
            OTHER => self.other += n,
            _ => self.unknown += n,
        }
    }

    /// All schemes.
    pub fn total(&self) -> i64 {
        self.mining + self.other + self.unknown
    }

    /// As an API ratio (other ÷ all).
    pub fn ratio(&self) -> pb::Ratio {
        let total = self.total();
        let percent = if total == 0 { 0.0 } else { self.other as f64 * 100.0 / total as f64 };
        pb::Ratio { numerator: self.other, denominator: total, percent, mining: self.mining, unknown: self.unknown }
    }
}

/// Which structures a metric covers.
#[derive(Debug, Clone)]
pub enum ScopeFilter {
    /// All.
    All,
    /// One region (code).
    Region(i16),
    /// These structures.
    Structures(Vec<Uuid>),
}

impl ScopeFilter {
    fn parts(&self) -> (Option<i16>, Option<Vec<Uuid>>) {
        match self {
            ScopeFilter::All => (None, None),
            ScopeFilter::Region(r) => (Some(*r), None),
            ScopeFilter::Structures(ids) => (None, Some(ids.clone())),
        }
    }
}

pub use filieris_runtime::registry_cache::StructureRecord;

fn escape_copy(out: &mut String, text: &str) {
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// One line of COPY text for `act_stage`.
fn copy_line(out: &mut String, a: &ValidAct) {
    use std::fmt::Write;
    let _ = write!(out, "{}\t{}\t{}\t{}\t{}\t{}\t", a.row, a.act_date, a.structure_id, a.region, a.line, a.nomenclature);
    escape_copy(out, &a.code);
    let _ = write!(out, "\t{}\t{}\t\\\\x", a.mode, a.scheme);
    for b in a.patient {
        let _ = write!(out, "{b:02x}");
    }
    let _ = write!(out, "\t{}\t{}\t", a.identity_basis, a.amount_cents);
    escape_copy(out, &a.source_ref);
    out.push('\n');
}

/// A dimension of [`Store::metrics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    /// Activity line.
    Line,
    /// Scheme.
    Scheme,
    /// Mode.
    Mode,
    /// Region.
    Region,
    /// Structure.
    Structure,
    /// Month.
    Month,
}

/// One cell of [`Store::metrics`]; `None` dimensions are not split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricCell {
    /// Line code.
    pub line: Option<i16>,
    /// Scheme code.
    pub scheme: Option<i16>,
    /// Mode code.
    pub mode: Option<i16>,
    /// Region code.
    pub region: Option<i16>,
    /// Structure.
    pub structure_id: Option<Uuid>,
    /// Month.
    pub month: Option<NaiveDate>,
    /// Acts.
    pub acts: i64,
    /// Amounts in cents.
    pub amount_cents: i64,
    /// Distinct patients of the cell (absent when split by mode).
    pub patients: Option<i64>,
}

type CellRow = (Option<i16>, Option<i16>, Option<i16>, Option<i16>, Option<Uuid>, Option<NaiveDate>, i64, i64);

fn lock_key(caller: &str, request_id: &str) -> i64 {
    let d = Sha256::new()
        .chain_update(b"act-batch\0")
        .chain_update(caller.as_bytes())
        .chain_update([0])
        .chain_update(request_id.as_bytes())
        .finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b)
}

fn month_aligned(p: &Period) -> bool {
    let start = p.start();
    let end = p.end();
    start.day() == 1 && end.succ_opt().is_some_and(|d| d.day() == 1)
}

#[derive(sqlx::FromRow)]
struct BatchRow {
    id: Uuid,
    caller: String,
    request_id: String,
    source_system: String,
    request_hash: Vec<u8>,
    total_rows: i64,
    accepted_rows: i64,
    rejected_rows: i64,
    errors: serde_json::Value,
    created_at: DateTime<Utc>,
}

impl BatchRow {
    fn to_proto(&self, with_errors: bool) -> pb::ActBatch {
        let errors = if with_errors {
            self.errors
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| pb::RowError {
                    row: e["row"].as_i64().unwrap_or_default(),
                    field: e["field"].as_str().unwrap_or_default().to_owned(),
                    reason: e["reason"].as_str().unwrap_or_default().to_owned(),
                })
                .collect()
        } else {
            Vec::new()
        };
        pb::ActBatch {
            name: format!("actBatches/{}", self.id),
            request_id: self.request_id.clone(),
            source_system: self.source_system.clone(),
            total_rows: self.total_rows,
            accepted_rows: self.accepted_rows,
            rejected_rows: self.rejected_rows,
            errors,
            create_time: Some(timestamp(self.created_at)),
            caller: self.caller.clone(),
        }
    }
}

const BATCH_COLUMNS: &str =
    "id, caller, request_id, source_system, request_hash, total_rows, accepted_rows, rejected_rows, errors, created_at";

impl Store {
    /// Wraps a pool bound to the activity schema and the pseudonymisation key.
    pub fn new(pool: PgPool, key: PseudonymKey) -> Self {
        Self { pool, key }
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The key of the patient pseudonyms (records pseudonymise stays with it).
    pub fn pseudonym_key(&self) -> &PseudonymKey {
        &self.key
    }

    // ---------------------------------------------------------------- cache

    /// Upserts a structure of the registry cache (see [`filieris_runtime::registry_cache`]).
    pub async fn upsert_structure(&self, s: &StructureRecord) -> Result<()> {
        Ok(filieris_runtime::registry_cache::upsert_structure(&self.pool, s).await?)
    }

    /// The cache by FINESS.
    pub async fn structure_index(&self) -> Result<StructureIndex> {
        Ok(filieris_runtime::registry_cache::structure_index(&self.pool).await?)
    }

    /// Number of structures in the cache.
    pub async fn cached_structures(&self) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM structure_cache").fetch_one(&self.pool).await?;
        Ok(n)
    }

    // --------------------------------------------------------------- import

    /// Imports a stream of row chunks as one batch.
    pub async fn import<S>(&self, ctx: &ImportContext<'_>, mut chunks: S) -> Result<pb::ActBatch>
    where
        S: Stream<Item = Result<Vec<RowInput>>> + Unpin,
    {
        let structures = self.structure_index().await?;
        let mut tx = self.pool.begin().await?;
        // Concurrent sends of the same batch wait here, then replay.
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(lock_key(&ctx.identity.caller, ctx.request_id)).execute(&mut *tx).await?;
        let existing: Option<BatchRow> =
            sqlx::query_as(&format!("SELECT {BATCH_COLUMNS} FROM act_batch WHERE caller = $1 AND request_id = $2"))
                .bind(&ctx.identity.caller)
                .bind(ctx.request_id)
                .fetch_optional(&mut *tx)
                .await?;
        let mut hasher = Sha256::new();
        hasher.update(ctx.source_system.as_bytes());
        if let Some(batch) = existing {
            while let Some(chunk) = chunks.next().await {
                for input in chunk? {
                    hash_input(&mut hasher, &input);
                }
            }
            // Keyed digest since this session; a plain SHA-256 from batches stored before is still recognised.
            let plain = hasher.finalize();
            if self.key.keyed_digest(&plain).as_slice() != batch.request_hash.as_slice()
                && plain.as_slice() != batch.request_hash.as_slice()
            {
                return Err(request_id_reused(ctx.request_id));
            }
            return Ok(batch.to_proto(true));
        }

        let op = Operation { pool: &self.pool, caller: &ctx.identity.caller, request_id: ctx.request_id };
        op.start().await?;
        let loaded = self.load_fresh(tx, ctx, &mut chunks, hasher, &structures, &op).await;
        op.finish(&loaded).await;
        let batch = loaded?;
        if batch.accepted_rows >= ANALYZE_AFTER_ROWS {
            // Fresh statistics for the query plans now rather than at
            // autovacuum's next pass; off the response path.
            let pool = self.pool.clone();
            tokio::spawn(async move {
                if let Err(e) = sqlx::query("ANALYZE act, act_month, patient_month, patient_year").execute(&pool).await {
                    tracing::warn!(error = %e, "ANALYZE after a large import failed");
                }
            });
        }
        Ok(batch.to_proto(true))
    }

    /// Streams, validates and stores a new batch in `tx`, reporting progress
    /// to `op` (and stopping when a cancellation was asked).
    async fn load_fresh<S>(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
        ctx: &ImportContext<'_>,
        chunks: &mut S,
        mut hasher: Sha256,
        structures: &StructureIndex,
        op: &Operation<'_>,
    ) -> Result<BatchRow>
    where
        S: Stream<Item = Result<Vec<RowInput>>> + Unpin,
    {
        Self::create_stage(&mut tx).await?;
        let mut total = 0i64;
        let mut accepted = 0i64;
        let mut rejected = 0i64;
        let mut errors: Vec<serde_json::Value> = Vec::new();
        let mut buf = String::with_capacity(COPY_CHUNK + 4096);
        {
            let mut copy = tx
                .copy_in_raw(
                    "COPY act_stage (row_number, act_date, structure_id, region, line, nomenclature, code, mode, scheme, patient, \
                     identity_basis, amount_cents, source_ref) FROM STDIN",
                )
                .await?;
            while let Some(chunk) = chunks.next().await {
                let chunk = match chunk {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = copy.abort("import stream failed").await;
                        return Err(e);
                    }
                };
                for input in chunk {
                    total += 1;
                    hash_input(&mut hasher, &input);
                    let checked = match &input {
                        RowInput::Act(act) => validate_row(total, act, structures, &self.key),
                        RowInput::Unparsable(problems) => Err(problems.clone()),
                    };
                    match checked {
                        Ok(act) => {
                            accepted += 1;
                            copy_line(&mut buf, &act);
                        }
                        Err(problems) => {
                            rejected += 1;
                            for p in problems {
                                if errors.len() < MAX_STORED_ERRORS {
                                    errors.push(serde_json::json!({"row": total, "field": p.field, "reason": p.reason}));
                                }
                            }
                        }
                    }
                }
                if op.progress(total, accepted, rejected).await? {
                    let _ = copy.abort("import cancelled").await;
                    return Err(ActivityError::Cancelled(ctx.request_id.to_owned()));
                }
                if buf.len() >= COPY_CHUNK {
                    copy.send(std::mem::take(&mut buf).into_bytes()).await?;
                    buf.reserve(COPY_CHUNK + 4096);
                }
            }
            if !buf.is_empty() {
                copy.send(buf.into_bytes()).await?;
            }
            copy.finish().await?;
        }

        let id = Uuid::now_v7();
        // Keyed: the rows carry NIRs, and a plain hash could be tested against guesses.
        let hash = self.key.keyed_digest(&hasher.finalize()).to_vec();
        sqlx::query(
            "INSERT INTO act_batch (id, caller, request_id, source_system, request_hash, total_rows, accepted_rows, rejected_rows, errors) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
        )
        .bind(id)
        .bind(&ctx.identity.caller)
        .bind(ctx.request_id)
        .bind(ctx.source_system)
        .bind(&hash)
        .bind(total)
        .bind(accepted)
        .bind(rejected)
        .bind(serde_json::Value::Array(errors))
        .execute(&mut *tx)
        .await?;
        Self::fold_staged(&mut tx, id).await?;
        let name = format!("actBatches/{id}");
        let detail = format!("{accepted} accepted, {rejected} rejected");
        write::record(
            &mut tx,
            &Recorded {
                identity: ctx.identity,
                method: ctx.method,
                request_id: ctx.request_id,
                resource: &name,
                change_type: "ACT_BATCH_IMPORTED",
                revision: 0,
                detail: &detail,
            },
        )
        .await?;
        let batch: BatchRow =
            sqlx::query_as(&format!("SELECT {BATCH_COLUMNS} FROM act_batch WHERE id = $1")).bind(id).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(batch)
    }

    /// The temporary staging table of one import (dropped at commit). Each
    /// staged row takes its `act` id from the table's sequence as it is
    /// copied, so the rollups can be computed from the staging table (no WAL,
    /// no index) instead of reading the inserted acts back.
    async fn create_stage(conn: &mut PgConnection) -> Result<()> {
        sqlx::query(
            "CREATE TEMP TABLE act_stage (id BIGINT NOT NULL DEFAULT nextval('act_id_seq'), row_number BIGINT, act_date DATE, \
             structure_id UUID, region SMALLINT, line SMALLINT, nomenclature SMALLINT, code TEXT, mode SMALLINT, scheme SMALLINT, \
             patient BYTEA, identity_basis SMALLINT, amount_cents BIGINT, source_ref TEXT) ON COMMIT DROP",
        )
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Moves the staged rows into `act` (batch `id`) and folds them into the
    /// rollups: `act_month`, `patient_month` and `patient_year`.
    async fn fold_staged(conn: &mut PgConnection, id: Uuid) -> Result<()> {
        // The patient aggregates of a national year stay in memory at 64 MB
        // (they spill to disk at the default 4 MB).
        sqlx::query("SET LOCAL work_mem = '64MB'").execute(&mut *conn).await?;
        sqlx::query(
            "INSERT INTO act (id, batch_id, row_number, act_date, structure_id, region, line, nomenclature, code, mode, scheme, patient, \
                              identity_basis, amount_cents, source_ref) \
             SELECT id, $1, row_number, act_date, structure_id, region, line, nomenclature, code, mode, scheme, patient, identity_basis, \
                    amount_cents, source_ref FROM act_stage",
        )
        .bind(id)
        .execute(&mut *conn)
        .await?;
        // Patients per month and structure (g), folded into patient_month and,
        // one level up, into the yearly national (region -1) and regional rows
        // (y); the per-scheme counters move by the difference between the
        // rows' keys before (pre) and after (post) the upsert. All CTEs read
        // the same snapshot, so `pre` sees the rows as they were.
        // The last act of a patient in a cell is max(LAST_ACT_KEY): one hash
        // aggregate, no sort.
        sqlx::query(&format!(
            "WITH g AS MATERIALIZED ( \
               SELECT date_trunc('month', act_date)::date AS month, structure_id, region, line, patient, max({key}) AS k, count(*) AS n \
               FROM act_stage GROUP BY 1, 2, 3, 4, 5), \
             pm AS ( \
               INSERT INTO patient_month AS pm (month, structure_id, region, line, patient, last_date, last_act, last_scheme, acts) \
               SELECT month, structure_id, region, line, patient, DATE '1900-01-01' + (k >> 44)::int, (k >> 2) & 4398046511103, \
                      (k & 3)::smallint, n FROM g \
               ON CONFLICT (line, month, structure_id, patient) DO UPDATE SET \
                 acts = pm.acts + EXCLUDED.acts, \
                 last_scheme = CASE WHEN (EXCLUDED.last_date, EXCLUDED.last_act) > (pm.last_date, pm.last_act) THEN EXCLUDED.last_scheme ELSE pm.last_scheme END, \
                 last_act = CASE WHEN (EXCLUDED.last_date, EXCLUDED.last_act) > (pm.last_date, pm.last_act) THEN EXCLUDED.last_act ELSE pm.last_act END, \
                 last_date = GREATEST(pm.last_date, EXCLUDED.last_date)), \
             y AS MATERIALIZED ( \
               SELECT line, year, CASE WHEN GROUPING(region) = 1 THEN {NATION} ELSE region END AS region, patient, max(k) AS k, sum(n) AS n \
               FROM (SELECT line, extract(year FROM month)::smallint AS year, region, patient, k, n FROM g) m \
               GROUP BY GROUPING SETS ((line, year, region, patient), (line, year, patient))), \
             pre AS MATERIALIZED ( \
               SELECT py.line, py.year, py.region, py.last_key FROM patient_year py JOIN y USING (line, year, region, patient)), \
             post AS ( \
               INSERT INTO patient_year AS py (line, year, region, patient, last_key, acts) \
               SELECT line, year, region, patient, k, n FROM y \
               ON CONFLICT (line, year, region, patient) DO UPDATE SET \
                 last_key = GREATEST(py.last_key, EXCLUDED.last_key), acts = py.acts + EXCLUDED.acts \
               RETURNING line, year, region, last_key) \
             INSERT INTO patient_year_scheme AS s (line, year, region, scheme, patients) \
             SELECT line, year, region, (last_key & 3)::smallint, sum(d) \
             FROM (SELECT line, year, region, last_key, 1 AS d FROM post \
                   UNION ALL SELECT line, year, region, last_key, -1 FROM pre) c \
             GROUP BY 1, 2, 3, 4 HAVING sum(d) <> 0 \
             ON CONFLICT (line, year, region, scheme) DO UPDATE SET patients = s.patients + EXCLUDED.patients",
            key = last_act_key("act_date", "id", "scheme"),
        ))
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO act_month AS am (month, structure_id, region, line, mode, scheme, acts, amount_cents) \
             SELECT date_trunc('month', act_date)::date, structure_id, region, line, mode, scheme, count(*), sum(amount_cents) \
             FROM act_stage GROUP BY 1, 2, 3, 4, 5, 6 \
             ON CONFLICT (month, structure_id, line, mode, scheme) DO UPDATE SET \
               acts = am.acts + EXCLUDED.acts, amount_cents = am.amount_cents + EXCLUDED.amount_cents",
        )
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// An import operation of the caller, by request id.
    pub async fn get_operation(&self, caller: &str, request_id: &str) -> Result<pb::ImportOperation> {
        let row: Option<OperationRow> =
            sqlx::query_as(&format!("SELECT {OPERATION_COLUMNS} FROM import_operation WHERE caller = $1 AND request_id = $2"))
                .bind(caller)
                .bind(request_id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(OperationRow::into_proto)
            .ok_or(ActivityError::NotFound { kind: "import operation", name: format!("importOperations/{request_id}") })
    }

    /// Asks a running import to stop; a finished one is returned as it is.
    pub async fn cancel_operation(&self, caller: &str, request_id: &str) -> Result<pb::ImportOperation> {
        sqlx::query("UPDATE import_operation SET cancel_requested = true WHERE caller = $1 AND request_id = $2 AND state = 'RUNNING'")
            .bind(caller)
            .bind(request_id)
            .execute(&self.pool)
            .await?;
        self.get_operation(caller, request_id).await
    }

    /// A batch with its row errors.
    pub async fn get_batch(&self, name: &str) -> Result<pb::ActBatch> {
        let id = name
            .strip_prefix("actBatches/")
            .and_then(|x| Uuid::parse_str(x).ok())
            .ok_or_else(|| ActivityError::field("name", "must be actBatches/{id}"))?;
        let row: Option<BatchRow> =
            sqlx::query_as(&format!("SELECT {BATCH_COLUMNS} FROM act_batch WHERE id = $1")).bind(id).fetch_optional(&self.pool).await?;
        row.map(|b| b.to_proto(true)).ok_or(ActivityError::NotFound { kind: "act batch", name: name.to_owned() })
    }

    /// Batches, newest first.
    pub async fn list_batches(&self, page_size: u32, token: &str) -> Result<(Vec<pb::ActBatch>, String)> {
        let fp = fingerprint(&["act_batches"]);
        let before: Option<Uuid> = decode_token(DOMAIN, &fp, token)?;
        let rows: Vec<BatchRow> =
            sqlx::query_as(&format!("SELECT {BATCH_COLUMNS} FROM act_batch WHERE ($1::uuid IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"))
                .bind(before)
                .bind(i64::from(page_size) + 1)
                .fetch_all(&self.pool)
                .await?;
        let (rows, next) = finish_page(rows, page_size, &fp, |r| r.id);
        Ok((rows.iter().map(|b| b.to_proto(false)).collect(), next))
    }

    // ----------------------------------------------------------------- void

    /// Voids an act: it stays, marked, and leaves every rollup.
    pub async fn void_act(
        &self,
        identity: &Identity,
        method: &str,
        request_id: &str,
        name: &str,
        reason: &str,
    ) -> Result<pb::VoidActResponse> {
        let (batch, row) = parse_act_name(name).ok_or_else(|| ActivityError::field("name", "must be actBatches/{batch}/acts/{row}"))?;
        let mut tx = self.pool.begin().await?;
        let (_, void_time) = Self::void_in(&mut tx, batch, row, name, reason).await?;
        write::record(
            &mut tx,
            &Recorded { identity, method, request_id, resource: name, change_type: "ACT_VOIDED", revision: 0, detail: reason },
        )
        .await?;
        tx.commit().await?;
        Ok(pb::VoidActResponse { name: name.to_owned(), void_time: Some(timestamp(void_time)) })
    }

    /// Voids one act inside a transaction and takes it out of the rollups;
    /// returns its id and the void time.
    async fn void_in(conn: &mut PgConnection, batch: Uuid, row: i64, name: &str, reason: &str) -> Result<(i64, DateTime<Utc>)> {
        #[derive(sqlx::FromRow)]
        struct Voided {
            id: i64,
            act_date: NaiveDate,
            structure_id: Uuid,
            region: i16,
            line: i16,
            mode: i16,
            scheme: i16,
            patient: Vec<u8>,
            amount_cents: i64,
            voided_at: Option<DateTime<Utc>>,
        }
        let act: Option<Voided> = sqlx::query_as(
            "SELECT id, act_date, structure_id, region, line, mode, scheme, patient, amount_cents, voided_at FROM act \
             WHERE batch_id = $1 AND row_number = $2 FOR UPDATE",
        )
        .bind(batch)
        .bind(row)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(act) = act else { return Err(ActivityError::NotFound { kind: "act", name: name.to_owned() }) };
        if act.voided_at.is_some() {
            return Err(ActivityError::AlreadyVoided(name.to_owned()));
        }
        let (void_time,): (DateTime<Utc>,) =
            sqlx::query_as("UPDATE act SET voided_at = now(), void_reason = $2 WHERE id = $1 RETURNING voided_at")
                .bind(act.id)
                .bind(reason)
                .fetch_one(&mut *conn)
                .await?;
        let month = act.act_date.with_day(1).unwrap_or(act.act_date);
        sqlx::query(
            "UPDATE act_month SET acts = acts - 1, amount_cents = amount_cents - $6 \
             WHERE month = $1 AND structure_id = $2 AND line = $3 AND mode = $4 AND scheme = $5",
        )
        .bind(month)
        .bind(act.structure_id)
        .bind(act.line)
        .bind(act.mode)
        .bind(act.scheme)
        .bind(act.amount_cents)
        .execute(&mut *conn)
        .await?;
        Self::refresh_patient_month(conn, month, act.structure_id, act.line, &act.patient).await?;
        Self::refresh_patient_year(conn, act.line, act.act_date.year(), act.region, &act.patient).await?;
        Ok((act.id, void_time))
    }

    /// Replaces an act by a corrected one in one transaction: the old act is
    /// voided, the new one stored as a one-row batch that supersedes it.
    /// Idempotent per (caller, request id).
    pub async fn replace_act(
        &self,
        ctx: &ImportContext<'_>,
        name: &str,
        input: &pb::ActInput,
        reason: &str,
    ) -> Result<pb::ReplaceActResponse> {
        let (old_batch, old_row) =
            parse_act_name(name).ok_or_else(|| ActivityError::field("name", "must be actBatches/{batch}/acts/{row}"))?;
        let structures = self.structure_index().await?;
        let act = validate_row(1, input, &structures, &self.key).map_err(|problems| {
            let mut v = filieris_runtime::error::Violations::new();
            for p in problems {
                v.add(format!("act.{}", p.field), p.reason);
            }
            ActivityError::Invalid(v)
        })?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(lock_key(&ctx.identity.caller, ctx.request_id)).execute(&mut *tx).await?;
        let mut hasher = Sha256::new();
        hasher.update(b"replace\0");
        hasher.update(name.as_bytes());
        hasher.update(reason.as_bytes());
        hash_row(&mut hasher, input);
        let plain = hasher.finalize();
        let hash = self.key.keyed_digest(&plain).to_vec();
        let existing: Option<(Uuid, Vec<u8>)> =
            sqlx::query_as("SELECT id, request_hash FROM act_batch WHERE caller = $1 AND request_id = $2")
                .bind(&ctx.identity.caller)
                .bind(ctx.request_id)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((id, previous)) = existing {
            if previous != hash && previous.as_slice() != plain.as_slice() {
                return Err(request_id_reused(ctx.request_id));
            }
            return Ok(pb::ReplaceActResponse { replaced: name.to_owned(), name: format!("actBatches/{id}/acts/1") });
        }
        let (old_id, _) = Self::void_in(&mut tx, old_batch, old_row, name, reason).await?;
        Self::create_stage(&mut tx).await?;
        let mut line = String::new();
        copy_line(&mut line, &act);
        let mut copy = tx
            .copy_in_raw(
                "COPY act_stage (row_number, act_date, structure_id, region, line, nomenclature, code, mode, scheme, patient, \
                 identity_basis, amount_cents, source_ref) FROM STDIN",
            )
            .await?;
        copy.send(line.into_bytes()).await?;
        copy.finish().await?;
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO act_batch (id, caller, request_id, source_system, request_hash, total_rows, accepted_rows, rejected_rows) \
             VALUES ($1, $2, $3, $4, $5, 1, 1, 0)",
        )
        .bind(id)
        .bind(&ctx.identity.caller)
        .bind(ctx.request_id)
        .bind(ctx.source_system)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
        Self::fold_staged(&mut tx, id).await?;
        sqlx::query("UPDATE act SET supersedes = $2 WHERE batch_id = $1 AND row_number = 1")
            .bind(id)
            .bind(old_id)
            .execute(&mut *tx)
            .await?;
        let new_name = format!("actBatches/{id}/acts/1");
        write::record(
            &mut tx,
            &Recorded {
                identity: ctx.identity,
                method: ctx.method,
                request_id: ctx.request_id,
                resource: name,
                change_type: "ACT_REPLACED",
                revision: 0,
                detail: &format!("{new_name}: {reason}"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(pb::ReplaceActResponse { replaced: name.to_owned(), name: new_name })
    }

    /// Recomputes one patient-month row from the valid acts.
    async fn refresh_patient_month(conn: &mut PgConnection, month: NaiveDate, structure: Uuid, line: i16, patient: &[u8]) -> Result<()> {
        let end = month.checked_add_months(chrono::Months::new(1)).unwrap_or(month);
        let last: Option<(NaiveDate, i64, i16, i64)> = sqlx::query_as(
            "SELECT act_date, id, scheme, count(*) OVER () FROM act \
             WHERE structure_id = $1 AND act_date >= $2 AND act_date < $3 AND line = $4 AND patient = $5 AND voided_at IS NULL \
             ORDER BY act_date DESC, id DESC LIMIT 1",
        )
        .bind(structure)
        .bind(month)
        .bind(end)
        .bind(line)
        .bind(patient)
        .fetch_optional(&mut *conn)
        .await?;
        match last {
            None => {
                sqlx::query("DELETE FROM patient_month WHERE line = $1 AND month = $2 AND structure_id = $3 AND patient = $4")
                    .bind(line)
                    .bind(month)
                    .bind(structure)
                    .bind(patient)
                    .execute(conn)
                    .await?;
            }
            Some((date, id, scheme, n)) => {
                sqlx::query(
                    "UPDATE patient_month SET last_date = $5, last_act = $6, last_scheme = $7, acts = $8 \
                     WHERE line = $1 AND month = $2 AND structure_id = $3 AND patient = $4",
                )
                .bind(line)
                .bind(month)
                .bind(structure)
                .bind(patient)
                .bind(date)
                .bind(id)
                .bind(scheme)
                .bind(n)
                .execute(conn)
                .await?;
            }
        }
        Ok(())
    }

    /// Recomputes a patient's yearly rows (its region's, then the national
    /// one) from `patient_month`, after a void. The lookups go through the
    /// primary keys: the year's months × the region's structures, then the
    /// regions.
    async fn refresh_patient_year(conn: &mut PgConnection, line: i16, year: i32, region: i16, patient: &[u8]) -> Result<()> {
        let start = NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(|| ActivityError::field("act_date", "year out of range"))?;
        let months: Vec<NaiveDate> = (0..12).filter_map(|m| start.checked_add_months(chrono::Months::new(m))).collect();
        let (structures, regions): (Option<Vec<Uuid>>, Option<Vec<i16>>) = sqlx::query_as(
            "SELECT array_agg(DISTINCT structure_id) FILTER (WHERE region = $3), array_agg(DISTINCT region) \
             FROM act_month WHERE line = $1 AND month = ANY($2)",
        )
        .bind(line)
        .bind(&months)
        .bind(region)
        .fetch_one(&mut *conn)
        .await?;
        let year = i16::try_from(year).map_err(|_| ActivityError::field("act_date", "year out of range"))?;
        let regional: (Option<i64>, Option<i64>) = sqlx::query_as(&format!(
            "SELECT max({}), sum(acts)::bigint FROM patient_month \
             WHERE line = $1 AND month = ANY($2) AND structure_id = ANY($3) AND patient = $4 AND region = $5",
            last_act_key("last_date", "last_act", "last_scheme")
        ))
        .bind(line)
        .bind(&months)
        .bind(structures.unwrap_or_default())
        .bind(patient)
        .bind(region)
        .fetch_one(&mut *conn)
        .await?;
        Self::set_patient_year(conn, line, year, region, patient, regional).await?;
        let national: (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT max(last_key), sum(acts)::bigint FROM patient_year WHERE line = $1 AND year = $2 AND region = ANY($3) AND patient = $4",
        )
        .bind(line)
        .bind(year)
        .bind(regions.unwrap_or_default())
        .bind(patient)
        .fetch_one(&mut *conn)
        .await?;
        Self::set_patient_year(conn, line, year, NATION, patient, national).await
    }

    /// Writes (or deletes, when the patient has no act left) one `patient_year` row.
    async fn set_patient_year(
        conn: &mut PgConnection,
        line: i16,
        year: i16,
        region: i16,
        patient: &[u8],
        value: (Option<i64>, Option<i64>),
    ) -> Result<()> {
        let before: Option<i64> =
            sqlx::query_scalar("SELECT last_key FROM patient_year WHERE line = $1 AND year = $2 AND region = $3 AND patient = $4")
                .bind(line)
                .bind(year)
                .bind(region)
                .bind(patient)
                .fetch_optional(&mut *conn)
                .await?;
        let after = match value {
            (Some(key), Some(acts)) if acts > 0 => Some(key),
            _ => None,
        };
        // The per-scheme counters follow the row: out of the old scheme, into the new.
        for (key, delta) in [(before, -1i64), (after, 1)] {
            if let Some(k) = key {
                sqlx::query(
                    "INSERT INTO patient_year_scheme AS s (line, year, region, scheme, patients) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (line, year, region, scheme) DO UPDATE SET patients = s.patients + EXCLUDED.patients",
                )
                .bind(line)
                .bind(year)
                .bind(region)
                .bind(i16::try_from(k & 3).unwrap_or_default())
                .bind(delta)
                .execute(&mut *conn)
                .await?;
            }
        }
        match value {
            (Some(key), Some(acts)) if acts > 0 => {
                sqlx::query(
                    "UPDATE patient_year SET last_key = $5, acts = $6 WHERE line = $1 AND year = $2 AND region = $3 AND patient = $4",
                )
                .bind(line)
                .bind(year)
                .bind(region)
                .bind(patient)
                .bind(key)
                .bind(acts)
                .execute(conn)
                .await?;
            }
            _ => {
                sqlx::query("DELETE FROM patient_year WHERE line = $1 AND year = $2 AND region = $3 AND patient = $4")
                    .bind(line)
                    .bind(year)
                    .bind(region)
                    .bind(patient)
                    .execute(conn)
                    .await?;
            }
        }
        Ok(())
    }

    // -------------------------------------------------------------- metrics

    /// Acts and distinct patients by scheme for a line, a period and a scope.
    pub async fn opening_counts(&self, line: i16, period: &Period, scope: &ScopeFilter) -> Result<(SchemeCounts, SchemeCounts)> {
        let mut acts = SchemeCounts::default();
        let mut patients = SchemeCounts::default();
        for cell in self.metrics(Some(line), period, scope, &[Dim::Scheme]).await? {
            let scheme = cell.scheme.unwrap_or_default();
            acts.add(scheme, cell.acts);
            patients.add(scheme, cell.patients.unwrap_or_default());
        }
        Ok((patients, acts))
    }

    /// Acts, amounts and exact distinct patients split by `dims`.
    /// Month-aligned periods read the rollups, others the acts. Patient counts
    /// are computed per cell (never summed) and are absent when split by mode.
    pub async fn metrics(&self, line: Option<i16>, period: &Period, scope: &ScopeFilter, dims: &[Dim]) -> Result<Vec<MetricCell>> {
        let aligned = month_aligned(period);
        let (region, structures) = scope.parts();
        let col = |d: Dim, patients: bool| -> &'static str {
            match (d, aligned, patients) {
                (Dim::Line, _, _) => "line",
                (Dim::Scheme, true, true) => "last_scheme",
                (Dim::Scheme, _, _) => "scheme",
                (Dim::Mode, _, _) => "mode",
                (Dim::Region, _, _) => "region",
                (Dim::Structure, _, _) => "structure_id",
                (Dim::Month, true, _) => "month",
                (Dim::Month, false, _) => "date_trunc('month', act_date)::date",
            }
        };
        let select = |patients: bool| -> String {
            let pick = |d: Dim, cast: &str| if dims.contains(&d) { format!("{}{cast}", col(d, patients)) } else { format!("NULL{cast}") };
            format!(
                "{} AS line, {} AS scheme, {} AS mode, {} AS region, {} AS structure_id, {} AS month",
                pick(Dim::Line, "::smallint"),
                pick(Dim::Scheme, "::smallint"),
                pick(Dim::Mode, "::smallint"),
                pick(Dim::Region, "::smallint"),
                pick(Dim::Structure, "::uuid"),
                pick(Dim::Month, "::date"),
            )
        };
        let group = |patients: bool, skip_scheme: bool| -> String {
            let cols: Vec<&str> = dims.iter().filter(|d| !(skip_scheme && **d == Dim::Scheme)).map(|d| col(*d, patients)).collect();
            if cols.is_empty() { String::new() } else { format!(" GROUP BY {}", cols.join(", ")) }
        };
        let date_filter = if aligned { "month >= $2 AND month <= $3" } else { "act_date >= $2 AND act_date <= $3 AND voided_at IS NULL" };
        let filter = format!(
            "($1::smallint IS NULL OR line = $1) AND {date_filter} AND ($4::smallint IS NULL OR region = $4) AND ($5::uuid[] IS NULL OR structure_id = ANY($5))"
        );
        let (acts_sql, amount) =
            // coalesce: without GROUP BY, an aggregate over no row is one row of NULL.
            if aligned { ("coalesce(sum(acts), 0)::bigint", "sum(amount_cents)::bigint") } else { ("count(*)", "sum(amount_cents)::bigint") };
        let table = if aligned { "act_month" } else { "act" };
        let sql = format!("SELECT {}, {acts_sql}, coalesce({amount}, 0) FROM {table} WHERE {filter}{}", select(false), group(false, false));
        let (start, end) = (period.start(), period.end());
        let act_rows: Vec<CellRow> =
            sqlx::query_as(&sql).bind(line).bind(start).bind(end).bind(region).bind(&structures).fetch_all(&self.pool).await?;
        let mut cells: Vec<MetricCell> = act_rows
            .into_iter()
            .map(|r| MetricCell {
                line: r.0,
                scheme: r.1,
                mode: r.2,
                region: r.3,
                structure_id: r.4,
                month: r.5,
                acts: r.6,
                amount_cents: r.7,
                patients: None,
            })
            .collect();
        if !dims.contains(&Dim::Mode) {
            // Distinct patients per cell; with a scheme split, each patient's
            // last scheme in the cell (R5), found by max(last_act_key).
            let names = |d: Dim| match d {
                Dim::Line => "line",
                Dim::Scheme => "scheme",
                Dim::Mode => "mode",
                Dim::Region => "region",
                Dim::Structure => "structure_id",
                Dim::Month => "month",
            };
            let cell: Vec<Dim> = dims.iter().copied().filter(|d| *d != Dim::Scheme).collect();
            let inner_cols: String = cell.iter().map(|d| format!("{} AS {}, ", col(*d, true), names(*d))).collect();
            let inner_group: String = cell.iter().map(|d| format!("{}, ", col(*d, true))).collect();
            let key = if aligned { last_act_key("last_date", "last_act", "last_scheme") } else { last_act_key("act_date", "id", "scheme") };
            let pick = |d: Dim, cast: &str| {
                if !dims.contains(&d) {
                    format!("NULL{cast}")
                } else if d == Dim::Scheme {
                    "(k & 3)::smallint".to_owned()
                } else {
                    names(d).to_owned()
                }
            };
            let outer = format!(
                "{} AS line, {} AS scheme, {} AS mode, {} AS region, {} AS structure_id, {} AS month",
                pick(Dim::Line, "::smallint"),
                pick(Dim::Scheme, "::smallint"),
                pick(Dim::Mode, "::smallint"),
                pick(Dim::Region, "::smallint"),
                pick(Dim::Structure, "::uuid"),
                pick(Dim::Month, "::date"),
            );
            let outer_group: Vec<String> =
                dims.iter().map(|d| if *d == Dim::Scheme { "(k & 3)".to_owned() } else { names(*d).to_owned() }).collect();
            let outer_group = if outer_group.is_empty() { String::new() } else { format!(" GROUP BY {}", outer_group.join(", ")) };
            // A calendar year at the national or regional level, per line, is
            // read from the per-scheme patient counters (patient_year_scheme).
            let yearly = period.kind() == PeriodKind::Year
                && structures.is_none()
                && (line.is_some() || dims.contains(&Dim::Line))
                && dims.iter().all(|d| matches!(d, Dim::Line | Dim::Scheme | Dim::Region));
            let rows: Vec<CellRow> = if yearly {
                let level = if dims.contains(&Dim::Region) {
                    format!("region <> {NATION} AND ($3::smallint IS NULL OR region = $3)")
                } else {
                    format!("region = coalesce($3::smallint, {NATION})")
                };
                // The per-scheme counters: `k` is the scheme, so `k & 3` below picks it.
                let source = format!(
                    "SELECT line, region, scheme::bigint AS k, patients FROM patient_year_scheme \
                     WHERE ($1::smallint IS NULL OR line = $1) AND year = $2 AND {level}"
                );
                let sql = format!("SELECT {outer}, coalesce(sum(patients), 0)::bigint, 0::bigint FROM ({source}) p{outer_group}");
                let year = i16::try_from(period.year()).map_err(|_| ActivityError::field("period", "year out of range"))?;
                sqlx::query_as(&sql).bind(line).bind(year).bind(region).fetch_all(&self.pool).await?
            } else {
                let patients_table = if aligned { "patient_month" } else { "act" };
                let source = format!(
                    "SELECT {inner_cols}patient, max({key}) AS k FROM {patients_table} WHERE {filter} GROUP BY {inner_group}patient"
                );
                let sql = format!("SELECT {outer}, count(*), 0::bigint FROM ({source}) p{outer_group}");
                sqlx::query_as(&sql).bind(line).bind(start).bind(end).bind(region).bind(&structures).fetch_all(&self.pool).await?
            };
            for r in rows {
                let key = (r.0, r.1, r.2, r.3, r.4, r.5);
                match cells.iter_mut().find(|c| (c.line, c.scheme, c.mode, c.region, c.structure_id, c.month) == key) {
                    Some(c) => c.patients = Some(r.6),
                    None => cells.push(MetricCell {
                        line: r.0,
                        scheme: r.1,
                        mode: r.2,
                        region: r.3,
                        structure_id: r.4,
                        month: r.5,
                        acts: 0,
                        amount_cents: 0,
                        patients: Some(r.6),
                    }),
                }
            }
            for c in &mut cells {
                c.patients.get_or_insert(0);
            }
        }
        cells.sort_by(|a, b| {
            (a.line, a.scheme, a.mode, a.region, a.structure_id, a.month).cmp(&(
                b.line,
                b.scheme,
                b.mode,
                b.region,
                b.structure_id,
                b.month,
            ))
        });
        Ok(cells)
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

    /// Registry ids of structures by FINESS (for structure scopes).
    pub async fn structure_ids(&self, finess: &[String]) -> Result<HashMap<String, Uuid>> {
        let rows: Vec<(String, Uuid)> = sqlx::query_as("SELECT finess, structure_id FROM structure_cache WHERE finess = ANY($1)")
            .bind(finess)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().collect())
    }
}

/// `actBatches/{uuid}/acts/{row}` → (batch, row).
pub fn parse_act_name(name: &str) -> Option<(Uuid, i64)> {
    let rest = name.strip_prefix("actBatches/")?;
    let (batch, row) = rest.split_once("/acts/")?;
    Some((Uuid::parse_str(batch).ok()?, row.parse().ok().filter(|r: &i64| *r > 0)?))
}

/// SQL of a bigint that orders acts by (date, id) and carries the scheme, so
/// that "the scheme of the last act" is a plain `max()`, a hash aggregate
/// rather than a sort: days since 1900 in bits 44–62, the act id in bits
/// 2–43, the scheme in bits 0–1 (`key & 3`).
fn last_act_key(date: &str, id: &str, scheme: &str) -> String {
    format!("((({date} - DATE '1900-01-01')::bigint << 44) | ({id} << 2) | {scheme})")
}

/// No progress for this long: the sender or the service stopped.
const ABANDONED_AFTER_SECONDS: i64 = 120;

const OPERATION_COLUMNS: &str =
    "request_id, state, rows_received, accepted_rows, rejected_rows, batch_id, error, cancel_requested, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct OperationRow {
    request_id: String,
    state: String,
    rows_received: i64,
    accepted_rows: i64,
    rejected_rows: i64,
    batch_id: Option<Uuid>,
    error: String,
    cancel_requested: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl OperationRow {
    fn into_proto(self) -> pb::ImportOperation {
        let stale = (Utc::now() - self.updated_at).num_seconds() > ABANDONED_AFTER_SECONDS;
        let state = match self.state.as_str() {
            "RUNNING" if stale => pb::ImportState::Abandoned,
            "RUNNING" => pb::ImportState::Running,
            "SUCCEEDED" => pb::ImportState::Succeeded,
            "CANCELLED" => pb::ImportState::Cancelled,
            _ => pb::ImportState::Failed,
        };
        pb::ImportOperation {
            name: format!("importOperations/{}", self.request_id),
            state: state as i32,
            rows_received: self.rows_received,
            accepted_rows: self.accepted_rows,
            rejected_rows: self.rejected_rows,
            batch: self.batch_id.map(|id| format!("actBatches/{id}")).unwrap_or_default(),
            error: self.error,
            cancel_requested: self.cancel_requested,
            create_time: Some(timestamp(self.created_at)),
            update_time: Some(timestamp(self.updated_at)),
        }
    }
}

/// The progress record of one import, written outside its transaction.
struct Operation<'a> {
    pool: &'a PgPool,
    caller: &'a str,
    request_id: &'a str,
}

impl Operation<'_> {
    async fn start(&self) -> Result<()> {
        sqlx::query(
            "INSERT INTO import_operation (caller, request_id, state) VALUES ($1, $2, 'RUNNING') \
             ON CONFLICT (caller, request_id) DO UPDATE SET state = 'RUNNING', rows_received = 0, accepted_rows = 0, \
             rejected_rows = 0, batch_id = NULL, error = '', cancel_requested = false, created_at = now(), updated_at = now()",
        )
        .bind(self.caller)
        .bind(self.request_id)
        .execute(self.pool)
        .await?;
        Ok(())
    }

    /// Records progress; true when a cancellation was asked.
    async fn progress(&self, received: i64, accepted: i64, rejected: i64) -> Result<bool> {
        let cancel: Option<(bool,)> = sqlx::query_as(
            "UPDATE import_operation SET rows_received = $3, accepted_rows = $4, rejected_rows = $5, updated_at = now() \
             WHERE caller = $1 AND request_id = $2 RETURNING cancel_requested",
        )
        .bind(self.caller)
        .bind(self.request_id)
        .bind(received)
        .bind(accepted)
        .bind(rejected)
        .fetch_optional(self.pool)
        .await?;
        Ok(cancel.is_some_and(|c| c.0))
    }

    /// Records the outcome; a failure to record it is logged, never hides it.
    async fn finish(&self, outcome: &Result<BatchRow>) {
        let (state, batch, error) = match outcome {
            Ok(b) => ("SUCCEEDED", Some(b.id), String::new()),
            Err(ActivityError::Cancelled(_)) => ("CANCELLED", None, "cancelled by the client".to_owned()),
            Err(e) => ("FAILED", None, e.to_string()),
        };
        let (received, accepted, rejected) = match outcome {
            Ok(b) => (Some(b.total_rows), Some(b.accepted_rows), Some(b.rejected_rows)),
            Err(_) => (None, None, None),
        };
        let updated = sqlx::query(
            "UPDATE import_operation SET state = $3, batch_id = $4, error = $5, updated_at = now(), \
             rows_received = coalesce($6, rows_received), accepted_rows = coalesce($7, accepted_rows), rejected_rows = coalesce($8, rejected_rows) \
             WHERE caller = $1 AND request_id = $2",
        )
        .bind(self.caller)
        .bind(self.request_id)
        .bind(state)
        .bind(batch)
        .bind(error)
        .bind(received)
        .bind(accepted)
        .bind(rejected)
        .execute(self.pool)
        .await;
        if let Err(e) = updated {
            tracing::warn!(error = %e, request_id = self.request_id, "could not record the outcome of an import");
        }
    }
}

fn request_id_reused(request_id: &str) -> ActivityError {
    ActivityError::Api(filieris_runtime::ApiError::new(
        filieris_runtime::ErrorCode::InvalidArgument,
        DOMAIN,
        "REQUEST_ID_REUSED",
        format!("request_id {request_id:?} was already used for a different request"),
    ))
}

fn hash_input(hasher: &mut Sha256, input: &RowInput) {
    match input {
        RowInput::Act(act) => hash_row(hasher, act),
        RowInput::Unparsable(problems) => {
            hasher.update(b"unparsable\0");
            for p in problems {
                hasher.update(p.field.as_bytes());
                hasher.update(p.reason.as_bytes());
            }
        }
    }
}

fn hash_row(hasher: &mut Sha256, input: &pb::ActInput) {
    let bytes = input.encode_to_vec();
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(&bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_separators() {
        let mut out = String::new();
        escape_copy(&mut out, "a\tb\\c\nd");
        assert_eq!(out, "a\\tb\\\\c\\nd");
    }

    #[test]
    fn month_alignment() {
        for (code, aligned) in
            [("2018", true), ("2018S2", true), ("2018Q1", true), ("201803", true), ("2018W10", false), ("20180315", false)]
        {
            assert_eq!(month_aligned(&Period::parse(code).unwrap()), aligned, "{code}");
        }
    }

    #[test]
    fn ratio_of_the_2018_general_medicine_patients() {
        let c = SchemeCounts { mining: 64_372, other: 117_366, unknown: 0 };
        let r = c.ratio();
        assert_eq!((r.numerator, r.denominator), (117_366, 181_738));
        assert_eq!(format!("{:.2}", r.percent), "64.58");
    }
}
