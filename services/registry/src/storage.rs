//! PostgreSQL storage of the registry (schema `registry`).
//!
//! Writes run in one transaction each: idempotency replay check, the change,
//! the idempotency record, the audit row and the change-feed row commit
//! together or not at all. Structures are never updated in place: every
//! change appends a `structure_revision` holding the full state.

use chrono::{DateTime, NaiveDate, Utc};
use filieris_kernel::text::normalize;
use filieris_kernel::{Finess, Siren};
use filieris_proto::registry as pb;
use filieris_runtime::Identity;
use filieris_runtime::changes;
use filieris_runtime::idempotency::IdempotencyKey;
use filieris_runtime::pagination::{decode_token, fingerprint, finish_page};
use filieris_runtime::server::timestamp;
use filieris_runtime::write::{self, Begun, Recorded};
use prost::Message;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::domain::codes::Coded;
use crate::domain::filter::{Filter, Term};
use crate::domain::lifecycle::{self, status_sql};
use crate::domain::validate::{ValidStructure, validate_structure};
use crate::domain::{GROUPS, LEGAL_ENTITIES, Ref, STRUCTURES, etag, legal_entity_name, structure_name};
use crate::error::{DOMAIN, RegistryError, Result};

/// The registry's data access.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

/// Who writes, under which request id and RPC.
pub struct WriteContext<'a> {
    /// Caller.
    pub identity: &'a Identity,
    /// RPC name, e.g. `RegistryService/CreateStructure`.
    pub method: &'a str,
    /// Request id (may be empty).
    pub request_id: &'a str,
}

#[derive(sqlx::FromRow)]
struct RevisionRow {
    structure_id: Uuid,
    revision: i64,
    effective_date: NaiveDate,
    recorded_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    current_revision: i64,
    snapshot: Vec<u8>,
    sort_key: String,
}

const REVISION_COLUMNS: &str =
    "r.structure_id, r.revision, r.effective_date, r.recorded_at, s.created_at, s.current_revision, r.snapshot, r.sort_key";

/// One page of structures.
pub struct StructurePage {
    /// Structures of the page.
    pub structures: Vec<pb::Structure>,
    /// Next token, empty on the last page.
    pub next_page_token: String,
    /// Number of matches.
    pub total_size: i64,
}

/// Parameters of a structure listing.
pub struct ListQuery<'a> {
    /// Parsed filter.
    pub filter: &'a Filter,
    /// The filter as sent (fingerprinted into page tokens).
    pub filter_text: &'a str,
    /// Text search.
    pub search: &'a str,
    /// Read date.
    pub as_of: NaiveDate,
    /// Restrict to members of a group during [start, end].
    pub group_window: Option<(&'a str, NaiveDate, NaiveDate)>,
    /// Effective page size.
    pub page_size: u32,
    /// Page token.
    pub page_token: &'a str,
}

fn hydrate(row: &RevisionRow, as_of: NaiveDate) -> Result<pb::Structure> {
    let mut s =
        pb::Structure::decode(row.snapshot.as_slice()).map_err(|e| RegistryError::Api(filieris_runtime::ApiError::internal(DOMAIN, &e)))?;
    s.name = structure_name(row.structure_id);
    let open = filieris_kernel::date::parse_date(&s.open_date).unwrap_or(row.effective_date);
    let close = filieris_kernel::date::parse_date(&s.close_date).ok();
    let closure = pb::ClosureType::try_from(s.closure_type).unwrap_or(pb::ClosureType::Unspecified);
    s.status = lifecycle::status(open, close, closure, as_of) as i32;
    s.revision = row.revision;
    // The etag is the structure's (its latest recorded revision), whatever
    // date is read: it guards concurrent writes, not a point in valid time.
    s.etag = etag(row.current_revision);
    s.create_time = Some(timestamp(row.created_at));
    s.update_time = Some(timestamp(row.recorded_at));
    Ok(s)
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

impl Store {
    /// Wraps a pool bound to the registry schema.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    // ---------------------------------------------------------------- reads

    async fn resolve_structure(conn: &mut PgConnection, r: &Ref) -> Result<Option<Uuid>> {
        let id: Option<(Uuid,)> = match r {
            Ref::Id(id) => sqlx::query_as("SELECT id FROM structure WHERE id = $1").bind(id).fetch_optional(conn).await?,
            Ref::Finess(f) => sqlx::query_as("SELECT id FROM structure WHERE finess = $1").bind(f.as_str()).fetch_optional(conn).await?,
        };
        Ok(id.map(|x| x.0))
    }

    async fn require_structure(conn: &mut PgConnection, name: &str) -> Result<Uuid> {
        let r = crate::domain::parse_ref(STRUCTURES, name)
            .ok_or_else(|| RegistryError::field("name", format!("{name:?} is not structures/{{id}} or structures/{{finess}}")))?;
        Self::resolve_structure(conn, &r).await?.ok_or(RegistryError::NotFound { kind: "structure", name: name.to_owned() })
    }

    async fn revision_as_of(conn: &mut PgConnection, id: Uuid, as_of: NaiveDate) -> Result<Option<RevisionRow>> {
        let sql = format!(
            "SELECT {REVISION_COLUMNS} FROM structure_revision r JOIN structure s ON s.id = r.structure_id \
             WHERE r.structure_id = $1 AND r.effective_date <= $2 ORDER BY r.effective_date DESC, r.revision DESC LIMIT 1"
        );
        Ok(sqlx::query_as(&sql).bind(id).bind(as_of).fetch_optional(conn).await?)
    }

    /// The state in force today (or, for a structure not open yet, its first state).
    async fn latest_revision(conn: &mut PgConnection, id: Uuid) -> Result<RevisionRow> {
        if let Some(row) = Self::revision_as_of(&mut *conn, id, today()).await? {
            return Ok(row);
        }
        let sql = format!(
            "SELECT {REVISION_COLUMNS} FROM structure_revision r JOIN structure s ON s.id = r.structure_id \
             WHERE r.structure_id = $1 ORDER BY r.effective_date, r.revision DESC LIMIT 1"
        );
        Ok(sqlx::query_as(&sql).bind(id).fetch_one(conn).await?)
    }

    /// A structure as of a date.
    pub async fn get_structure(&self, name: &str, as_of: NaiveDate) -> Result<pb::Structure> {
        let mut conn = self.pool.acquire().await?;
        let id = Self::require_structure(&mut conn, name).await?;
        let row = Self::revision_as_of(&mut conn, id, as_of)
            .await?
            .ok_or_else(|| RegistryError::NotFound { kind: "structure", name: format!("{name} as of {as_of}") })?;
        hydrate(&row, as_of)
    }

    fn push_where(q: &mut QueryBuilder<'_, Postgres>, query: &ListQuery<'_>) {
        q.push(" WHERE TRUE");
        let as_of = query.as_of;
        for clause in &query.filter.clauses {
            q.push(" AND (FALSE");
            for cmp in clause {
                q.push(" OR ");
                if cmp.negated {
                    q.push("NOT ");
                }
                q.push("(");
                match &cmp.term {
                    Term::Category(c) => {
                        q.push("cur.category = ").push_bind(c.code());
                    }
                    Term::Subtype(s) => {
                        q.push("cur.subtype = ").push_bind(s.code());
                    }
                    Term::Level(l) => {
                        q.push("cur.level = ").push_bind(l.code());
                    }
                    Term::Region(r) => {
                        q.push("cur.region = ").push_bind(r.code());
                    }
                    Term::Department(d) => {
                        q.push("cur.department = ").push_bind(d.clone());
                    }
                    Term::Status(s) => {
                        // A NaiveDate renders as YYYY-MM-DD: safe to inline.
                        q.push(status_sql(&format!("'{as_of}'::date"), "cur."));
                        q.push(" = ").push_bind(s.code());
                    }
                    Term::Group(code) => {
                        Self::push_group_match(q, code, as_of, as_of);
                    }
                    Term::Parent(r) => match r {
                        Ref::Id(id) => {
                            q.push("cur.parent_id = ").push_bind(*id);
                        }
                        Ref::Finess(f) => {
                            q.push("cur.parent_id = (SELECT id FROM structure WHERE finess = ").push_bind(f.as_str().to_owned()).push(")");
                        }
                    },
                    Term::LegalEntity(r) => match r {
                        Ref::Id(id) => {
                            q.push("cur.legal_entity_id = ").push_bind(*id);
                        }
                        Ref::Finess(f) => {
                            q.push("cur.legal_entity_id = (SELECT id FROM legal_entity WHERE finess = ")
                                .push_bind(f.as_str().to_owned())
                                .push(")");
                        }
                    },
                    Term::Finess(f) => {
                        q.push("cur.finess = ").push_bind(f.as_str().to_owned());
                    }
                    Term::Demo(b) => {
                        q.push("cur.demo = ").push_bind(*b);
                    }
                }
                q.push(")");
            }
            q.push(")");
        }
        let search = normalize(query.search);
        if !search.is_empty() {
            q.push(" AND cur.search_text LIKE ").push_bind(format!("%{}%", search.replace('%', "").replace('_', "\\_")));
        }
        if let Some((code, start, end)) = query.group_window {
            q.push(" AND ");
            Self::push_group_match(q, code, start, end);
            // Present at some time during the window.
            q.push(" AND cur.open_date <= ").push_bind(end);
            q.push(" AND (cur.close_date IS NULL OR cur.close_date >= ").push_bind(start).push(")");
        }
    }

    fn push_group_match(q: &mut QueryBuilder<'_, Postgres>, code: &str, start: NaiveDate, end: NaiveDate) {
        q.push("EXISTS (SELECT 1 FROM structure_group g WHERE g.code = ").push_bind(code.to_owned());
        q.push(
            " AND ((g.mode = 'RULE' AND (cardinality(g.rule_categories) = 0 OR cur.category = ANY(g.rule_categories)) \
              AND (cardinality(g.rule_regions) = 0 OR cur.region = ANY(g.rule_regions)) \
              AND (cardinality(g.rule_levels) = 0 OR cur.level = ANY(g.rule_levels))) \
              OR (g.mode = 'EXPLICIT' AND EXISTS (SELECT 1 FROM group_membership m WHERE m.group_code = g.code \
              AND m.structure_id = cur.structure_id AND m.valid_from <= ",
        );
        q.push_bind(end).push(" AND (m.valid_to IS NULL OR m.valid_to >= ").push_bind(start).push(")))))");
    }

    fn push_current(q: &mut QueryBuilder<'_, Postgres>, as_of: NaiveDate) {
        q.push("WITH cur AS (SELECT DISTINCT ON (r.structure_id) r.* FROM structure_revision r WHERE r.effective_date <= ");
        q.push_bind(as_of);
        q.push(" ORDER BY r.structure_id, r.effective_date DESC, r.revision DESC) ");
    }

    /// Lists structures as of a date, filtered, by keyset pages on (name, id).
    pub async fn list_structures(&self, query: &ListQuery<'_>) -> Result<StructurePage> {
        for clause in &query.filter.clauses {
            for cmp in clause {
                if let Term::Group(code) = &cmp.term {
                    self.require_group(code).await?;
                }
            }
        }
        let window = query.group_window.map(|(c, s, e)| format!("{c}:{s}:{e}")).unwrap_or_default();
        let fp = fingerprint(&["structures", query.filter_text.trim(), query.search.trim(), &query.as_of.to_string(), &window]);
        let after: Option<(String, Uuid)> = decode_token(DOMAIN, &fp, query.page_token)?;

        let mut q = QueryBuilder::<Postgres>::new("");
        Self::push_current(&mut q, query.as_of);
        q.push(
            "SELECT cur.structure_id, cur.revision, cur.effective_date, cur.recorded_at, s.created_at, s.current_revision, cur.snapshot, cur.sort_key \
             FROM cur JOIN structure s ON s.id = cur.structure_id",
        );
        Self::push_where(&mut q, query);
        if let Some((key, id)) = &after {
            q.push(" AND (cur.sort_key, cur.structure_id) > (").push_bind(key.clone()).push(", ").push_bind(*id).push(")");
        }
        q.push(" ORDER BY cur.sort_key, cur.structure_id LIMIT ").push_bind(i64::from(query.page_size) + 1);
        let rows: Vec<RevisionRow> = q.build_query_as().fetch_all(&self.pool).await?;
        let (rows, next) = finish_page(rows, query.page_size, &fp, |r| (r.sort_key.clone(), r.structure_id));

        let mut count = QueryBuilder::<Postgres>::new("");
        Self::push_current(&mut count, query.as_of);
        count.push("SELECT count(*) FROM cur");
        Self::push_where(&mut count, query);
        let (total,): (i64,) = count.build_query_as().fetch_one(&self.pool).await?;

        let structures = rows.iter().map(|r| hydrate(r, query.as_of)).collect::<Result<Vec<_>>>()?;
        Ok(StructurePage { structures, next_page_token: next, total_size: total })
    }

    /// Revisions of a structure, newest first.
    pub async fn list_revisions(&self, name: &str, page_size: u32, token: &str) -> Result<(Vec<pb::StructureRevision>, String)> {
        let mut conn = self.pool.acquire().await?;
        let id = Self::require_structure(&mut conn, name).await?;
        let fp = fingerprint(&["revisions", &id.to_string()]);
        let before: Option<i64> = decode_token(DOMAIN, &fp, token)?;
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            rev: RevisionRow,
            change_type: String,
            caller: String,
            request_id: String,
            reason: String,
            changed_fields: Vec<String>,
        }
        let sql = format!(
            "SELECT {REVISION_COLUMNS}, r.change_type, r.caller, r.request_id, r.reason, r.changed_fields \
             FROM structure_revision r JOIN structure s ON s.id = r.structure_id \
             WHERE r.structure_id = $1 AND r.revision < $2 ORDER BY r.revision DESC LIMIT $3"
        );
        let rows: Vec<Row> =
            sqlx::query_as(&sql).bind(id).bind(before.unwrap_or(i64::MAX)).bind(i64::from(page_size) + 1).fetch_all(&mut *conn).await?;
        let (rows, next) = finish_page(rows, page_size, &fp, |r| r.rev.revision);
        let revisions = rows
            .iter()
            .map(|r| {
                let mut structure = hydrate(&r.rev, r.rev.effective_date)?;
                structure.etag = etag(r.rev.revision);
                Ok(pb::StructureRevision {
                    revision: r.rev.revision,
                    change_type: r.change_type.clone(),
                    effective_date: r.rev.effective_date.to_string(),
                    record_time: Some(timestamp(r.rev.recorded_at)),
                    caller: r.caller.clone(),
                    request_id: r.request_id.clone(),
                    changed_fields: r.changed_fields.clone(),
                    reason: r.reason.clone(),
                    structure: Some(structure),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((revisions, next))
    }

    // --------------------------------------------------------------- writes

    /// Resolves and checks the references of a validated structure inside the
    /// write transaction; returns (parent, legal entity, integrated_in) ids.
    async fn check_references(
        conn: &mut PgConnection,
        valid: &mut ValidStructure,
        self_id: Option<Uuid>,
    ) -> Result<(Option<Uuid>, Option<Uuid>, Option<Uuid>)> {
        let mut v = filieris_runtime::error::Violations::new();
        let mut parent_id = None;
        if let Some(r) = &valid.parent {
            match Self::resolve_structure(&mut *conn, r).await? {
                None => v.add("structure.parent", "no such structure"),
                Some(pid) if Some(pid) == self_id => v.add("structure.parent", "a structure cannot be its own parent"),
                Some(pid) => {
                    let row = Self::latest_revision(&mut *conn, pid).await?;
                    let parent = hydrate(&row, today())?;
                    let ok =
                        parent.level == pb::StructureLevel::Establishment as i32 && parent.category == pb::Category::HealthCentre as i32;
                    if !ok {
                        v.add("structure.parent", "the principal structure of an antenna is a health centre with its own FINESS");
                    } else if !parent.close_date.is_empty() {
                        v.add("structure.parent", "the principal health centre is closed");
                    }
                    parent_id = Some(pid);
                    valid.snapshot.parent = structure_name(pid);
                }
            }
        }
        let mut le_id = None;
        if let Some(r) = &valid.legal_entity {
            let row: Option<(Uuid, String)> = match r {
                Ref::Id(id) => {
                    sqlx::query_as("SELECT id, siren FROM legal_entity WHERE id = $1").bind(id).fetch_optional(&mut *conn).await?
                }
                Ref::Finess(f) => {
                    sqlx::query_as("SELECT id, siren FROM legal_entity WHERE finess = $1")
                        .bind(f.as_str())
                        .fetch_optional(&mut *conn)
                        .await?
                }
            };
            match row {
                None => v.add("structure.legal_entity", "no such legal entity"),
                Some((id, siren)) => {
                    if let Some(siret) = &valid.siret
                        && !siren.is_empty()
                        && siret.siren().as_str() != siren
                    {
                        v.add("structure.siret", format!("the SIRET does not start with the SIREN {siren} of the legal entity (rule T4)"));
                    }
                    le_id = Some(id);
                    valid.snapshot.legal_entity = legal_entity_name(id);
                }
            }
        }
        let mut integrated = None;
        if let Some(r) = &valid.integrated_in {
            match Self::resolve_structure(&mut *conn, r).await? {
                None => v.add("structure.integrated_in", "no such structure"),
                Some(hid) => {
                    let row = Self::latest_revision(&mut *conn, hid).await?;
                    let host = hydrate(&row, today())?;
                    if host.category != pb::Category::Hospital as i32 {
                        v.add("structure.integrated_in", "must be a sanitary establishment (category HOSPITAL)");
                    }
                    integrated = Some(hid);
                    valid.snapshot.integrated_in = structure_name(hid);
                }
            }
        }
        if v.is_empty() { Ok((parent_id, le_id, integrated)) } else { Err(RegistryError::Invalid(v)) }
    }

    #[allow(clippy::too_many_arguments)]
    async fn insert_revision(
        conn: &mut PgConnection,
        id: Uuid,
        revision: i64,
        effective: NaiveDate,
        change_type: &str,
        ctx: &WriteContext<'_>,
        reason: &str,
        changed: &[String],
        valid: &ValidStructure,
        snapshot: &pb::Structure,
        refs: (Option<Uuid>, Option<Uuid>),
    ) -> Result<()> {
        let close_date = filieris_kernel::date::parse_date(&snapshot.close_date).ok();
        sqlx::query(
            "INSERT INTO structure_revision (structure_id, revision, effective_date, change_type, caller, request_id, reason, changed_fields, \
             finess, level, category, subtype, region, department, open_date, close_date, closure_type, parent_id, legal_entity_id, demo, sort_key, search_text, snapshot) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23)",
        )
        .bind(id)
        .bind(revision)
        .bind(effective)
        .bind(change_type)
        .bind(&ctx.identity.caller)
        .bind(ctx.request_id)
        .bind(reason)
        .bind(changed)
        .bind(valid.finess.as_ref().map(|f| f.as_str().to_owned()))
        .bind(valid.level.code())
        .bind(valid.category.code())
        .bind(valid.subtype.code())
        .bind(valid.region.code())
        .bind(&snapshot.department)
        .bind(valid.open_date)
        .bind(close_date)
        .bind(pb::ClosureType::code_of(snapshot.closure_type))
        .bind(refs.0)
        .bind(refs.1)
        .bind(snapshot.demo)
        .bind(&valid.sort_key)
        .bind(&valid.search_text)
        .bind(snapshot.encode_to_vec())
        .execute(&mut *conn)
        .await?;
        sqlx::query("UPDATE structure SET current_revision = $2, updated_at = now() WHERE id = $1")
            .bind(id)
            .bind(revision)
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn record(
        conn: &mut PgConnection,
        ctx: &WriteContext<'_>,
        resource: &str,
        change_type: &str,
        revision: i64,
        detail: &str,
    ) -> Result<()> {
        let r =
            Recorded { identity: ctx.identity, method: ctx.method, request_id: ctx.request_id, resource, change_type, revision, detail };
        Ok(write::record(conn, &r).await?)
    }

    /// Creates a structure (idempotent per request id).
    pub async fn create_structure(
        &self,
        ctx: &WriteContext<'_>,
        input: &pb::Structure,
        key: Option<&IdempotencyKey>,
        validate_only: bool,
    ) -> Result<pb::CreateStructureResponse> {
        let mut valid = validate_structure(input, "structure.").map_err(RegistryError::Invalid)?;
        let mut tx = match write::begin(DOMAIN, &self.pool, key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        let refs = Self::check_references(&mut tx, &mut valid, None).await?;
        if let Some(f) = &valid.finess {
            let taken: Option<(Uuid,)> =
                sqlx::query_as("SELECT id FROM structure WHERE finess = $1").bind(f.as_str()).fetch_optional(&mut *tx).await?;
            if let Some((other,)) = taken {
                return Err(RegistryError::FinessTaken { finess: f.as_str().to_owned(), existing: structure_name(other) });
            }
        }
        if validate_only {
            let mut s = valid.snapshot.clone();
            s.status = lifecycle::status(valid.open_date, None, pb::ClosureType::Unspecified, today()) as i32;
            return Ok(pb::CreateStructureResponse { structure: Some(s) });
        }
        let id = Uuid::now_v7();
        let inserted =
            sqlx::query("INSERT INTO structure (id, finess, current_revision) VALUES ($1, $2, 1) ON CONFLICT (finess) DO NOTHING")
                .bind(id)
                .bind(valid.finess.as_ref().map(|f| f.as_str().to_owned()))
                .execute(&mut *tx)
                .await?;
        if inserted.rows_affected() == 0 {
            // A concurrent create took the FINESS between our check and insert.
            let f = valid.finess.as_ref().map(|f| f.as_str().to_owned()).unwrap_or_default();
            return Err(RegistryError::FinessTaken { finess: f, existing: "another structure".into() });
        }
        let effective = valid.open_date.min(today());
        let snapshot = valid.snapshot.clone();
        Self::insert_revision(&mut tx, id, 1, effective, "CREATED", ctx, "", &[], &valid, &snapshot, (refs.0, refs.1)).await?;
        let row = Self::latest_revision(&mut tx, id).await?;
        let response = pb::CreateStructureResponse { structure: Some(hydrate(&row, today())?) };
        Self::record(&mut tx, ctx, &structure_name(id), "STRUCTURE_CREATED", 1, "").await?;
        write::commit(DOMAIN, tx, key, &response).await?;
        Ok(response)
    }

    /// Applies an update mask, effective at a date (idempotent per request id).
    /// A date in the past is a correction: see [`Self::apply_dated`].
    #[allow(clippy::too_many_arguments)]
    pub async fn update_structure(
        &self,
        ctx: &WriteContext<'_>,
        patch: &pb::Structure,
        paths: &[String],
        effective: NaiveDate,
        reason: &str,
        key: Option<&IdempotencyKey>,
    ) -> Result<pb::UpdateStructureResponse> {
        let mut tx = match write::begin(DOMAIN, &self.pool, key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        let id = Self::require_structure(&mut tx, &patch.name).await?;
        let current = Self::lock(&mut tx, id).await?;
        let name = structure_name(id);
        if !patch.etag.is_empty() && patch.etag != etag(current) {
            return Err(RegistryError::EtagMismatch { name, sent: patch.etag.clone(), current: etag(current) });
        }
        // Validate the change against the state it applies to, and resolve its
        // references once; later states receive the canonical values.
        let base = Self::state_at(&mut tx, id, effective).await?;
        let mut base_snapshot = decode(&base)?;
        if !base_snapshot.close_date.is_empty() {
            return Err(RegistryError::Closed(name));
        }
        let changed = crate::domain::validate::apply_mask(&mut base_snapshot, patch, paths).map_err(RegistryError::Invalid)?;
        let mut valid = validate_structure(&base_snapshot, "structure.").map_err(RegistryError::Invalid)?;
        Self::check_references(&mut tx, &mut valid, Some(id)).await?;
        let canonical = valid.snapshot;
        let apply = |s: &mut pb::Structure| -> Result<()> {
            crate::domain::validate::apply_mask(s, &canonical, &changed).map(|_| ()).map_err(RegistryError::Invalid)
        };
        let revision = Self::apply_dated(&mut tx, ctx, id, effective, &changed, "UPDATED", reason, &apply).await?;
        let row = Self::state_at(&mut tx, id, effective.max(today())).await?;
        let response = pb::UpdateStructureResponse { structure: Some(hydrate(&row, effective.max(today()))?) };
        Self::record(&mut tx, ctx, &name, "STRUCTURE_UPDATED", revision, &changed.join(",")).await?;
        write::commit(DOMAIN, tx, key, &response).await?;
        Ok(response)
    }

    /// Locks a structure for a write; returns its latest recorded revision.
    async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<i64> {
        let (current,): (i64,) =
            sqlx::query_as("SELECT current_revision FROM structure WHERE id = $1 FOR UPDATE").bind(id).fetch_one(conn).await?;
        Ok(current)
    }

    /// The revision in force on `date`, or EffectiveTooEarly before the structure existed.
    async fn state_at(conn: &mut PgConnection, id: Uuid, date: NaiveDate) -> Result<RevisionRow> {
        if let Some(row) = Self::revision_as_of(&mut *conn, id, date).await? {
            return Ok(row);
        }
        let (first,): (Option<NaiveDate>,) =
            sqlx::query_as("SELECT min(effective_date) FROM structure_revision WHERE structure_id = $1").bind(id).fetch_one(conn).await?;
        Err(RegistryError::EffectiveTooEarly {
            name: structure_name(id),
            date: date.to_string(),
            latest: first.map(|d| d.to_string()).unwrap_or_default(),
        })
    }

    /// Writes a change effective on `date` without rewriting any row: a new
    /// revision at `date` holds the state then in force with the change, and
    /// each later state (in valid time) receives a new revision with the
    /// change carried forward — until a later change of one of the same
    /// fields, which stays in force from its own date. Reads "as of" any date
    /// then see the corrected history; the revisions keep the record of what
    /// was known when. Returns the last revision number written.
    #[allow(clippy::too_many_arguments)]
    async fn apply_dated(
        conn: &mut PgConnection,
        ctx: &WriteContext<'_>,
        id: Uuid,
        date: NaiveDate,
        fields: &[String],
        change_type: &str,
        reason: &str,
        change: &(dyn Fn(&mut pb::Structure) -> Result<()> + Sync),
    ) -> Result<i64> {
        let mut revision = Self::lock(&mut *conn, id).await?;
        let base = Self::state_at(&mut *conn, id, date).await?;
        let (stop,): (Option<NaiveDate>,) = sqlx::query_as(
            "SELECT min(effective_date) FROM structure_revision WHERE structure_id = $1 AND effective_date > $2 AND changed_fields && $3",
        )
        .bind(id)
        .bind(date)
        .bind(fields)
        .fetch_one(&mut *conn)
        .await?;
        let sql = format!(
            "SELECT DISTINCT ON (r.effective_date) {REVISION_COLUMNS} FROM structure_revision r JOIN structure s ON s.id = r.structure_id \
             WHERE r.structure_id = $1 AND r.effective_date > $2 AND ($3::date IS NULL OR r.effective_date < $3) \
             ORDER BY r.effective_date, r.revision DESC"
        );
        let later: Vec<RevisionRow> = sqlx::query_as(&sql).bind(id).bind(date).bind(stop).fetch_all(&mut *conn).await?;
        let mut states = vec![(date, base, change_type)];
        states.extend(later.into_iter().map(|row| (row.effective_date, row, "CARRIED_FORWARD")));
        for (effective, row, kind) in states {
            let mut snapshot = decode(&row)?;
            change(&mut snapshot)?;
            let valid = validate_structure(&snapshot, "structure.").map_err(RegistryError::Invalid)?;
            revision += 1;
            let why =
                if kind == change_type { reason.to_owned() } else { format!("{change_type} effective {date} carried forward: {reason}") };
            Self::insert_revision(
                &mut *conn,
                id,
                revision,
                effective,
                kind,
                ctx,
                &why,
                fields,
                &valid,
                &snapshot,
                projected_refs(&snapshot),
            )
            .await?;
        }
        Ok(revision)
    }

    /// Closes a structure, and its antennas with it (ROR rule RG_EXP_044).
    #[allow(clippy::too_many_arguments)]
    pub async fn close_structure(
        &self,
        ctx: &WriteContext<'_>,
        name: &str,
        close_date: NaiveDate,
        closure: pb::ClosureType,
        reason: &str,
        successor: Option<&Ref>,
        sent_etag: &str,
        key: Option<&IdempotencyKey>,
    ) -> Result<pb::CloseStructureResponse> {
        let mut tx = match write::begin(DOMAIN, &self.pool, key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        let id = Self::require_structure(&mut tx, name).await?;
        let successor_id = match successor {
            None => None,
            Some(r) => match Self::resolve_structure(&mut tx, r).await? {
                None => return Err(RegistryError::field("successor", "no such structure")),
                Some(s) if s == id => return Err(RegistryError::field("successor", "a structure cannot succeed itself")),
                Some(s) => Some(s),
            },
        };
        Self::close_one(&mut tx, ctx, id, close_date, closure, reason, successor_id, Some(sent_etag)).await?;
        // Antennas of a closed principal centre close with it.
        let antennas: Vec<(Uuid,)> = sqlx::query_as(
            "SELECT DISTINCT r.structure_id FROM structure_revision r WHERE r.parent_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM structure_revision c WHERE c.structure_id = r.structure_id AND c.close_date IS NOT NULL)",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        for (antenna,) in antennas {
            let why = format!("principal centre {} closed: {reason}", structure_name(id));
            Self::close_one(&mut tx, ctx, antenna, close_date, closure, &why, None, None).await?;
        }
        let row = Self::state_at(&mut tx, id, close_date.max(today())).await?;
        let response = pb::CloseStructureResponse { structure: Some(hydrate(&row, close_date.max(today()))?) };
        write::commit(DOMAIN, tx, key, &response).await?;
        Ok(response)
    }

    #[allow(clippy::too_many_arguments)]
    async fn close_one(
        conn: &mut PgConnection,
        ctx: &WriteContext<'_>,
        id: Uuid,
        close_date: NaiveDate,
        closure: pb::ClosureType,
        reason: &str,
        successor: Option<Uuid>,
        sent_etag: Option<&str>,
    ) -> Result<()> {
        let current = Self::lock(&mut *conn, id).await?;
        let name = structure_name(id);
        if let Some(sent) = sent_etag
            && !sent.is_empty()
            && sent != etag(current)
        {
            return Err(RegistryError::EtagMismatch { name, sent: sent.to_owned(), current: etag(current) });
        }
        // Closing is final: once recorded at any date, never again.
        let (closed,): (bool,) =
            sqlx::query_as("SELECT EXISTS (SELECT 1 FROM structure_revision WHERE structure_id = $1 AND close_date IS NOT NULL)")
                .bind(id)
                .fetch_one(&mut *conn)
                .await?;
        if closed {
            return Err(RegistryError::Closed(name));
        }
        let base = decode(&Self::state_at(&mut *conn, id, close_date).await?)?;
        let open = filieris_kernel::date::parse_date(&base.open_date).ok();
        if let Some(open) = open
            && close_date <= open
        {
            return Err(RegistryError::field("close_date", format!("{close_date} is not after the opening date {open}")));
        }
        let fields = ["close_date", "closure_type", "closure_reason", "successor"].map(str::to_owned);
        let apply = |s: &mut pb::Structure| -> Result<()> {
            s.close_date = close_date.to_string();
            s.closure_type = closure as i32;
            s.closure_reason = reason.to_owned();
            s.successor = successor.map(structure_name).unwrap_or_default();
            Ok(())
        };
        let revision = Self::apply_dated(&mut *conn, ctx, id, close_date, &fields, "CLOSED", reason, &apply).await?;
        Self::record(conn, ctx, &name, "STRUCTURE_CLOSED", revision, reason).await?;
        Ok(())
    }

    // --------------------------------------------------------- legal entities

    /// Creates a legal entity.
    pub async fn create_legal_entity(
        &self,
        ctx: &WriteContext<'_>,
        input: &pb::LegalEntity,
        key: Option<&IdempotencyKey>,
    ) -> Result<pb::CreateLegalEntityResponse> {
        let mut v = filieris_runtime::error::Violations::new();
        let finess = if input.finess.is_empty() {
            v.add("legal_entity.finess", "is required (FINESS EJ)");
            None
        } else {
            v.check("legal_entity.finess", Finess::parse(&input.finess))
        };
        let siren = if input.siren.is_empty() { None } else { v.check("legal_entity.siren", Siren::parse(&input.siren)) };
        let name = input.display_name.trim();
        if name.is_empty() {
            v.add("legal_entity.display_name", "is required");
        }
        let Some(finess) = finess else { return Err(RegistryError::Invalid(v)) };
        if !v.is_empty() {
            return Err(RegistryError::Invalid(v));
        }
        let mut tx = match write::begin(DOMAIN, &self.pool, key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        let id = Uuid::now_v7();
        let inserted = sqlx::query(
            "INSERT INTO legal_entity (id, finess, siren, display_name, legal_status, demo, sort_key, search_text) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (finess) DO NOTHING",
        )
        .bind(id)
        .bind(finess.as_str())
        .bind(siren.as_ref().map(|s| s.as_str().to_owned()).unwrap_or_default())
        .bind(name)
        .bind(input.legal_status.trim())
        .bind(input.demo)
        .bind(normalize(name))
        .bind(format!("{} | {}", normalize(name), finess.as_str().to_ascii_lowercase()))
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(RegistryError::FinessTaken { finess: finess.as_str().to_owned(), existing: "a legal entity".into() });
        }
        let entity = Self::legal_entity_by(&mut tx, &Ref::Id(id))
            .await?
            .ok_or(RegistryError::NotFound { kind: "legal entity", name: legal_entity_name(id) })?;
        let response = pb::CreateLegalEntityResponse { legal_entity: Some(entity) };
        Self::record(&mut tx, ctx, &legal_entity_name(id), "LEGAL_ENTITY_CREATED", 1, "").await?;
        write::commit(DOMAIN, tx, key, &response).await?;
        Ok(response)
    }

    async fn legal_entity_by(conn: &mut PgConnection, r: &Ref) -> Result<Option<pb::LegalEntity>> {
        let sql = "SELECT id, finess, siren, display_name, legal_status, demo, created_at, sort_key FROM legal_entity WHERE ";
        let row: Option<LegalEntityRow> = match r {
            Ref::Id(id) => sqlx::query_as(&format!("{sql} id = $1")).bind(id).fetch_optional(conn).await?,
            Ref::Finess(f) => sqlx::query_as(&format!("{sql} finess = $1")).bind(f.as_str()).fetch_optional(conn).await?,
        };
        Ok(row.map(legal_entity_from))
    }

    /// Gets a legal entity.
    pub async fn get_legal_entity(&self, name: &str) -> Result<pb::LegalEntity> {
        let r = crate::domain::parse_ref(LEGAL_ENTITIES, name)
            .ok_or_else(|| RegistryError::field("name", format!("{name:?} is not legalEntities/{{id}} or legalEntities/{{finess}}")))?;
        let mut conn = self.pool.acquire().await?;
        Self::legal_entity_by(&mut conn, &r).await?.ok_or(RegistryError::NotFound { kind: "legal entity", name: name.to_owned() })
    }

    /// Lists legal entities.
    pub async fn list_legal_entities(&self, search: &str, page_size: u32, token: &str) -> Result<(Vec<pb::LegalEntity>, String)> {
        let fp = fingerprint(&["legal_entities", search.trim()]);
        let after: Option<(String, Uuid)> = decode_token(DOMAIN, &fp, token)?;
        let (k, id) = after.unwrap_or((String::new(), Uuid::nil()));
        let rows: Vec<LegalEntityRow> = sqlx::query_as(
            "SELECT id, finess, siren, display_name, legal_status, demo, created_at, sort_key FROM legal_entity \
             WHERE search_text LIKE $1 AND (sort_key, id) > ($2, $3) ORDER BY sort_key, id LIMIT $4",
        )
        .bind(format!("%{}%", normalize(search)))
        .bind(k)
        .bind(id)
        .bind(i64::from(page_size) + 1)
        .fetch_all(&self.pool)
        .await?;
        let (rows, next) = finish_page(rows, page_size, &fp, |r| (r.sort_key.clone(), r.id));
        Ok((rows.into_iter().map(legal_entity_from).collect(), next))
    }

    // ----------------------------------------------------------------- groups

    async fn require_group(&self, code: &str) -> Result<()> {
        let found: Option<(String,)> =
            sqlx::query_as("SELECT code FROM structure_group WHERE code = $1").bind(code).fetch_optional(&self.pool).await?;
        match found {
            Some(_) => Ok(()),
            None => Err(RegistryError::NotFound { kind: "structure group", name: format!("{GROUPS}{code}") }),
        }
    }

    /// Creates a group.
    pub async fn create_group(
        &self,
        ctx: &WriteContext<'_>,
        input: &pb::StructureGroup,
        key: Option<&IdempotencyKey>,
    ) -> Result<pb::CreateStructureGroupResponse> {
        let mut v = filieris_runtime::error::Violations::new();
        if !crate::domain::validate::valid_group_code(&input.code) {
            v.add("structure_group.code", "must be 1-63 lower-case letters, digits and hyphens");
        }
        if input.display_name.trim().is_empty() {
            v.add("structure_group.display_name", "is required");
        }
        let mode = pb::GroupMode::try_from(input.mode).ok().filter(|m| *m != pb::GroupMode::Unspecified);
        let has_rules = !(input.rule_categories.is_empty() && input.rule_regions.is_empty() && input.rule_levels.is_empty());
        match mode {
            None => v.add("structure_group.mode", "is required: EXPLICIT or RULE"),
            Some(pb::GroupMode::Explicit) if has_rules => v.add("structure_group.mode", "an EXPLICIT group has no rule; use RULE"),
            Some(pb::GroupMode::Rule) if !has_rules => v.add("structure_group.rule_categories", "a RULE group needs at least one rule"),
            _ => {}
        }
        let categories: Vec<String> = input.rule_categories.iter().map(|c| pb::Category::code_of(*c).to_owned()).collect();
        let regions: Vec<String> = input.rule_regions.iter().map(|c| filieris_proto::types::Region::code_of(*c).to_owned()).collect();
        let levels: Vec<String> = input.rule_levels.iter().map(|c| pb::StructureLevel::code_of(*c).to_owned()).collect();
        if categories.iter().any(String::is_empty) {
            v.add("structure_group.rule_categories", "unknown or unspecified category");
        }
        if regions.iter().any(String::is_empty) {
            v.add("structure_group.rule_regions", "unknown or unspecified region");
        }
        if levels.iter().any(String::is_empty) {
            v.add("structure_group.rule_levels", "unknown or unspecified level");
        }
        let Some(mode) = mode else { return Err(RegistryError::Invalid(v)) };
        if !v.is_empty() {
            return Err(RegistryError::Invalid(v));
        }
        let mut tx = match write::begin(DOMAIN, &self.pool, key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        let inserted = sqlx::query(
            "INSERT INTO structure_group (code, display_name, mode, rule_categories, rule_regions, rule_levels) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (code) DO NOTHING",
        )
        .bind(&input.code)
        .bind(input.display_name.trim())
        .bind(mode.code())
        .bind(&categories)
        .bind(&regions)
        .bind(&levels)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(RegistryError::GroupExists(input.code.clone()));
        }
        let group = Self::group_by(&mut tx, &input.code).await?;
        let response = pb::CreateStructureGroupResponse { structure_group: Some(group) };
        Self::record(&mut tx, ctx, &format!("{GROUPS}{}", input.code), "GROUP_CREATED", 1, "").await?;
        write::commit(DOMAIN, tx, key, &response).await?;
        Ok(response)
    }

    async fn group_by(conn: &mut PgConnection, code: &str) -> Result<pb::StructureGroup> {
        #[derive(sqlx::FromRow)]
        struct GroupRow {
            code: String,
            display_name: String,
            mode: String,
            rule_categories: Vec<String>,
            rule_regions: Vec<String>,
            rule_levels: Vec<String>,
            revision: i64,
        }
        let row: Option<GroupRow> = sqlx::query_as(
            "SELECT code, display_name, mode, rule_categories, rule_regions, rule_levels, revision FROM structure_group WHERE code = $1",
        )
        .bind(code)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(GroupRow { code, display_name, mode, rule_categories: cats, rule_regions: regions, rule_levels: levels, revision }) = row
        else {
            return Err(RegistryError::NotFound { kind: "structure group", name: format!("{GROUPS}{code}") });
        };
        let members: Vec<(Uuid, NaiveDate, Option<NaiveDate>)> =
            sqlx::query_as("SELECT structure_id, valid_from, valid_to FROM group_membership WHERE group_code = $1 ORDER BY valid_from, id")
                .bind(&code)
                .fetch_all(conn)
                .await?;
        Ok(pb::StructureGroup {
            name: format!("{GROUPS}{code}"),
            code,
            display_name,
            mode: pb::GroupMode::parse_code(&mode).map(|m| m as i32).unwrap_or(0),
            rule_categories: cats.iter().filter_map(|c| pb::Category::parse_code(c)).map(|c| c as i32).collect(),
            rule_regions: regions.iter().filter_map(|c| filieris_proto::types::Region::parse_code(c)).map(|c| c as i32).collect(),
            rule_levels: levels.iter().filter_map(|c| pb::StructureLevel::parse_code(c)).map(|c| c as i32).collect(),
            memberships: members
                .into_iter()
                .map(|(id, from, to)| pb::GroupMembership {
                    structure: structure_name(id),
                    valid_from: from.to_string(),
                    valid_to: to.map(|d| d.to_string()).unwrap_or_default(),
                })
                .collect(),
            etag: etag(revision),
        })
    }

    /// Gets a group with its memberships.
    pub async fn get_group(&self, code: &str) -> Result<pb::StructureGroup> {
        let mut conn = self.pool.acquire().await?;
        Self::group_by(&mut conn, code).await
    }

    /// Lists groups by code.
    pub async fn list_groups(&self, page_size: u32, token: &str) -> Result<(Vec<pb::StructureGroup>, String)> {
        let fp = fingerprint(&["groups"]);
        let after: Option<String> = decode_token(DOMAIN, &fp, token)?;
        let codes: Vec<(String,)> = sqlx::query_as("SELECT code FROM structure_group WHERE code > $1 ORDER BY code LIMIT $2")
            .bind(after.unwrap_or_default())
            .bind(i64::from(page_size) + 1)
            .fetch_all(&self.pool)
            .await?;
        let (codes, next) = finish_page(codes, page_size, &fp, |c| c.0.clone());
        let mut conn = self.pool.acquire().await?;
        let mut groups = Vec::with_capacity(codes.len());
        for (code,) in codes {
            groups.push(Self::group_by(&mut conn, &code).await?);
        }
        Ok((groups, next))
    }

    /// Adds a member to an EXPLICIT group from a date.
    pub async fn add_member(
        &self,
        ctx: &WriteContext<'_>,
        code: &str,
        structure: &str,
        from: NaiveDate,
        key: Option<&IdempotencyKey>,
    ) -> Result<pb::AddGroupMemberResponse> {
        let mut tx = match write::begin(DOMAIN, &self.pool, key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        let group = Self::group_by(&mut tx, code).await?;
        if group.mode != pb::GroupMode::Explicit as i32 {
            return Err(RegistryError::GroupPrecondition(format!("{} is a RULE group: its members follow its rule", group.name)));
        }
        sqlx::query("SELECT code FROM structure_group WHERE code = $1 FOR UPDATE").bind(code).execute(&mut *tx).await?;
        let id = Self::require_structure(&mut tx, structure).await?;
        let overlap: Option<(i64,)> = sqlx::query_as(
            "SELECT id FROM group_membership WHERE group_code = $1 AND structure_id = $2 AND (valid_to IS NULL OR valid_to >= $3)",
        )
        .bind(code)
        .bind(id)
        .bind(from)
        .fetch_optional(&mut *tx)
        .await?;
        if overlap.is_some() {
            return Err(RegistryError::GroupPrecondition(format!(
                "{} is already a member of {} on {from}",
                structure_name(id),
                group.name
            )));
        }
        sqlx::query("INSERT INTO group_membership (group_code, structure_id, valid_from) VALUES ($1, $2, $3)")
            .bind(code)
            .bind(id)
            .bind(from)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE structure_group SET revision = revision + 1 WHERE code = $1").bind(code).execute(&mut *tx).await?;
        let response = pb::AddGroupMemberResponse {
            membership: Some(pb::GroupMembership { structure: structure_name(id), valid_from: from.to_string(), valid_to: String::new() }),
        };
        Self::record(&mut tx, ctx, &group.name, "GROUP_MEMBER_ADDED", 0, &structure_name(id)).await?;
        write::commit(DOMAIN, tx, key, &response).await?;
        Ok(response)
    }

    /// Ends a membership at a date.
    pub async fn remove_member(
        &self,
        ctx: &WriteContext<'_>,
        code: &str,
        structure: &str,
        to: NaiveDate,
        key: Option<&IdempotencyKey>,
    ) -> Result<pb::RemoveGroupMemberResponse> {
        let mut tx = match write::begin(DOMAIN, &self.pool, key).await? {
            Begun::Replayed(previous) => return Ok(previous),
            Begun::Fresh(tx) => tx,
        };
        let group = Self::group_by(&mut tx, code).await?;
        let id = Self::require_structure(&mut tx, structure).await?;
        let open: Option<(i64, NaiveDate)> = sqlx::query_as(
            "SELECT id, valid_from FROM group_membership WHERE group_code = $1 AND structure_id = $2 AND valid_to IS NULL FOR UPDATE",
        )
        .bind(code)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((mid, from)) = open else {
            return Err(RegistryError::GroupPrecondition(format!("{} has no open membership in {}", structure_name(id), group.name)));
        };
        if to < from {
            return Err(RegistryError::field("valid_to", format!("{to} is before the start of the membership {from}")));
        }
        sqlx::query("UPDATE group_membership SET valid_to = $2 WHERE id = $1").bind(mid).bind(to).execute(&mut *tx).await?;
        sqlx::query("UPDATE structure_group SET revision = revision + 1 WHERE code = $1").bind(code).execute(&mut *tx).await?;
        let response = pb::RemoveGroupMemberResponse {
            membership: Some(pb::GroupMembership { structure: structure_name(id), valid_from: from.to_string(), valid_to: to.to_string() }),
        };
        Self::record(&mut tx, ctx, &group.name, "GROUP_MEMBER_REMOVED", 0, &structure_name(id)).await?;
        write::commit(DOMAIN, tx, key, &response).await?;
        Ok(response)
    }

    /// Resolves a group over a window (members at any time during it).
    pub async fn group_members(&self, code: &str, start: NaiveDate, end: NaiveDate, page_size: u32, token: &str) -> Result<StructurePage> {
        self.require_group(code).await?;
        let filter = Filter::default();
        self.list_structures(&ListQuery {
            filter: &filter,
            filter_text: "",
            search: "",
            as_of: end,
            group_window: Some((code, start, end)),
            page_size,
            page_token: token,
        })
        .await
    }

    /// The change feed.
    pub async fn changes(&self, after: i64, limit: u32) -> Result<Vec<filieris_proto::types::Change>> {
        Ok(changes::list(&self.pool, after, limit).await?)
    }
}

fn decode(row: &RevisionRow) -> Result<pb::Structure> {
    pb::Structure::decode(row.snapshot.as_slice()).map_err(|e| RegistryError::Api(filieris_runtime::ApiError::internal(DOMAIN, &e)))
}

/// Parent and legal-entity ids of a stored snapshot (its references are
/// canonical `…/{uuid}` names, resolved when they were written).
fn projected_refs(s: &pb::Structure) -> (Option<Uuid>, Option<Uuid>) {
    let id = |name: &str, prefix: &str| name.strip_prefix(prefix).and_then(|x| Uuid::parse_str(x).ok());
    (id(&s.parent, STRUCTURES), id(&s.legal_entity, LEGAL_ENTITIES))
}

#[derive(sqlx::FromRow)]
struct LegalEntityRow {
    id: Uuid,
    finess: String,
    siren: String,
    display_name: String,
    legal_status: String,
    demo: bool,
    created_at: DateTime<Utc>,
    sort_key: String,
}

fn legal_entity_from(r: LegalEntityRow) -> pb::LegalEntity {
    pb::LegalEntity {
        name: legal_entity_name(r.id),
        finess: r.finess,
        siren: r.siren,
        display_name: r.display_name,
        legal_status: r.legal_status,
        demo: r.demo,
        etag: etag(1),
        create_time: Some(timestamp(r.created_at)),
    }
}
