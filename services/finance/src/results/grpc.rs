//! gRPC adapter of the results part: parse the request → domain → storage → response.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use filieris_proto::finance as pb;
use filieris_proto::finance::finance_results_service_server::FinanceResultsService;
use filieris_proto::types::Region;
use filieris_runtime::error::Violations;
use filieris_runtime::identity::{Identity, caller};
use filieris_runtime::pagination::{decode_token, encode_token, fingerprint, page_size};
use filieris_runtime::registry_cache::RegistryCache;
use filieris_runtime::scope::Visibility;
use filieris_runtime::write::{self, Writers};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::domain::{
    self, HEADLINE_FLOOR_CENTS, MAX_IMPORT_ROWS, Method, Perimeter, Scope, Status as TargetStatus, Target, TargetKind, decide,
    effective_threshold_cents, exact_threshold_text, forecast_side, has_headline, landing_gap, parse_results_period,
};
use super::storage::{AmountRow, Dims, ResultsStore, RowKey, ScopeFilter, no_month};
use crate::error::{DOMAIN, FinanceError};

/// Who may import ledger amounts.
pub const WRITERS: Writers =
    Writers { roles: &["admin", "finance_writer"], denied_reason: "FINANCE_WRITE_DENIED", holds: "ledger amounts" };

/// The FinanceResultsService implementation.
#[derive(Clone)]
pub struct ResultsApi {
    store: ResultsStore,
    registry: RegistryCache,
}

fn amounts(produits: i64, charges: i64) -> pb::ResultAmounts {
    pb::ResultAmounts { produits_cents: produits, charges_cents: charges, result_cents: produits.saturating_sub(charges) }
}

fn year_bounds(year: i32) -> Result<(NaiveDate, NaiveDate), FinanceError> {
    match (NaiveDate::from_ymd_opt(year, 1, 1), NaiveDate::from_ymd_opt(year + 1, 1, 1)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(FinanceError::field("year", "is out of range")),
    }
}

fn registry_error(status: &Status, what: &str) -> FinanceError {
    if status.code() == tonic::Code::NotFound || status.code() == tonic::Code::InvalidArgument {
        FinanceError::UnknownScope(format!("{what}: {}", status.message()))
    } else {
        FinanceError::RegistryUnavailable(status.message().to_owned())
    }
}

impl ResultsApi {
    /// Serves the store, resolving groups and perimeters through the registry.
    pub fn new(store: ResultsStore, registry: RegistryCache) -> Self {
        Self { store, registry }
    }

    /// The structures a scope covers over a period.
    async fn resolve(&self, scope: &Scope, period: &str) -> Result<ScopeFilter, FinanceError> {
        Ok(match scope {
            Scope::National => ScopeFilter::All,
            Scope::Region(r) => ScopeFilter::Region(i16::try_from(*r as i32).unwrap_or(0)),
            Scope::Structure(finess) => match self.store.structure_id(finess.as_str()).await? {
                Some(id) => ScopeFilter::Structures(vec![id]),
                None => return Err(FinanceError::UnknownScope(format!("FINESS {} is not a structure of the registry", finess.as_str()))),
            },
            Scope::Group(code) => ScopeFilter::Structures(
                self.registry.group_members(code, period).await.map_err(|s| registry_error(&s, &format!("structureGroups/{code}")))?,
            ),
        })
    }

    /// The structures a scope covers, narrowed to what the caller may read
    /// (row-level scoping): a region or structure outside its visibility is
    /// refused with SCOPE_NOT_VISIBLE; a national or group scope keeps only
    /// the visible structures (its region, when that is all it sees).
    async fn scoped(&self, identity: &Identity, scope: &Scope, period: &str) -> Result<ScopeFilter, FinanceError> {
        let visibility = Visibility::of(identity);
        if visibility.is_all() {
            return self.resolve(scope, period).await;
        }
        let refused = || FinanceError::Api(visibility.denied(DOMAIN, identity, &scope.name()));
        let code = |r: Region| i16::try_from(r as i32).unwrap_or(0);
        if let Scope::Region(region) = scope {
            return if visibility.covers_region(*region) { self.resolve(scope, period).await } else { Err(refused()) };
        }
        if let (Scope::National, Some(region)) = (scope, visibility.single_region()) {
            return Ok(ScopeFilter::Region(code(region)));
        }
        let regions: Vec<i16> = visibility.regions().iter().map(|r| code(*r)).collect();
        let visible = self.store.visible_structure_ids(&regions, &visibility.finess()).await?;
        Ok(match (scope, self.resolve(scope, period).await?) {
            (Scope::Structure(_), ScopeFilter::Structures(ids)) if !ids.iter().all(|id| visible.contains(id)) => return Err(refused()),
            (_, ScopeFilter::Structures(ids)) => ScopeFilter::Structures(ids.into_iter().filter(|id| visible.contains(id)).collect()),
            (_, _) => ScopeFilter::Structures(visible),
        })
    }

    /// The members of a target's perimeter in a year.
    async fn perimeter_members(&self, perimeter: &Perimeter, year: i32) -> Result<Vec<Uuid>, FinanceError> {
        let end = format!("{year}-12-31");
        let found = match perimeter {
            Perimeter::Group(code) => self.registry.group_members(code, &year.to_string()).await,
            Perimeter::Search { search, filter } => self.registry.find_structures(filter, search, &end).await,
            Perimeter::Filter(filter) => self.registry.find_structures(filter, "", &end).await,
        };
        found.map_err(|s| registry_error(&s, &perimeter.describe()))
    }

    async fn evaluate(&self, target: &Target, year: i32) -> Result<pb::TargetEvaluation, FinanceError> {
        let kind = target.kind(year).ok_or_else(|| FinanceError::field("year", "the COG 2022-2024 targets cover 2022 to 2024"))?;
        let (from, to) = year_bounds(year)?;
        let ids = self.perimeter_members(&target.perimeter, year).await?;
        let (members, months) = self.store.structure_amounts(&ids, from, to).await?;
        let (produits, charges) =
            members.iter().fold((0i64, 0i64), |(p, c), m| (p.saturating_add(m.produits), c.saturating_add(m.charges)));
        let result = produits.saturating_sub(charges);
        let (status, qualifiers) = if members.is_empty() {
            (pb::TargetStatus::NotEvaluable, vec![])
        } else {
            match decide(kind, target.base_cents, result) {
                TargetStatus::Met => (pb::TargetStatus::Met, vec![]),
                TargetStatus::NotMet { better_than_base } => {
                    (pb::TargetStatus::NotMet, if better_than_base { vec![pb::TargetQualifier::BetterThanBase as i32] } else { vec![] })
                }
            }
        };
        let (pb_kind, pct) = match kind {
            TargetKind::ReduceDeficit(x) => (pb::TargetKind::ReduceDeficit, i32::try_from(x).unwrap_or(0)),
            TargetKind::Equilibrium => (pb::TargetKind::Equilibrium, 0),
            TargetKind::Surplus => (pb::TargetKind::Surplus, 0),
        };
        Ok(pb::TargetEvaluation {
            number: target.number,
            label_fr: target.label_fr.clone(),
            label_en: target.label_en.clone(),
            perimeter: target.perimeter.describe(),
            kind: pb_kind as i32,
            reduction_percent: pct,
            base_cents: target.base_cents,
            exact_threshold: exact_threshold_text(kind, target.base_cents),
            effective_threshold_cents: effective_threshold_cents(kind, target.base_cents),
            amounts: Some(amounts(produits, charges)),
            status: status as i32,
            qualifiers,
            members: members
                .iter()
                .map(|m| pb::PerimeterMember {
                    finess: m.finess.clone().unwrap_or_default(),
                    structure: format!("structures/{}", m.structure_id),
                    amounts: Some(amounts(m.produits, m.charges)),
                })
                .collect(),
            headline: (has_headline(target.number, year) && !members.is_empty())
                .then_some(pb::HeadlineCheck { floor_cents: HEADLINE_FLOOR_CENTS, met: result > HEADLINE_FLOOR_CENTS }),
            months_booked: months,
        })
    }
}

fn targets() -> Result<&'static [Target], FinanceError> {
    domain::targets().map_err(FinanceError::ReferenceData)
}

type TokenKey = (String, i16, i16, String);

fn token_key(k: &RowKey) -> TokenKey {
    (k.0.to_string(), k.1, k.2, k.3.to_string())
}

fn row_key(k: TokenKey) -> Option<RowKey> {
    Some((Uuid::parse_str(&k.0).ok()?, k.1, k.2, NaiveDate::parse_from_str(&k.3, "%Y-%m-%d").ok()?))
}

#[tonic::async_trait]
impl FinanceResultsService for ResultsApi {
    async fn import_ledger_entries(
        &self,
        request: Request<pb::ImportLedgerEntriesRequest>,
    ) -> Result<Response<pb::ImportLedgerEntriesResponse>, Status> {
        let method = "FinanceResultsService/ImportLedgerEntries";
        write::guarded(
            self.store.pool(),
            DOMAIN,
            &WRITERS,
            request,
            method,
            |_| "ledgerBatches".to_owned(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, _| async move {
                let mut v = Violations::new();
                if req.request_id.is_empty() {
                    v.add("request_id", "is required for an import (a UUID is recommended)");
                }
                if req.entries.len() > MAX_IMPORT_ROWS {
                    v.add("entries", format!("at most {MAX_IMPORT_ROWS} rows per request; split the batch"));
                }
                if !v.is_empty() {
                    return Err(FinanceError::Invalid(v));
                }
                // The key's hash covers the payload only, so a retry with the same rows replays.
                self.store.import(&identity, key.as_ref(), &req).await
            },
        )
        .await
    }

    async fn query_results(&self, request: Request<pb::QueryResultsRequest>) -> Result<Response<pb::QueryResultsResponse>, Status> {
        let identity = caller(&request)?.clone();
        let req = request.into_inner();
        let mut v = Violations::new();
        let period = v.check("period", parse_results_period(&req.period));
        let scope = v.check("scope", Scope::parse(&req.scope));
        let mut dims = Dims::default();
        for d in &req.group_by {
            match pb::ResultDimension::try_from(*d) {
                Ok(pb::ResultDimension::Structure) => dims.structure = true,
                Ok(pb::ResultDimension::ActivityLine) => dims.line = true,
                Ok(pb::ResultDimension::Region) => dims.region = true,
                Ok(pb::ResultDimension::Month) => dims.month = true,
                _ => v.add("group_by", "unknown dimension: STRUCTURE, ACTIVITY_LINE, REGION or MONTH"),
            }
        }
        let line = if req.activity_line == 0 {
            None
        } else {
            let l = domain::line_code(req.activity_line);
            if l.is_none() {
                v.add("activity_line", "unknown activity line");
            }
            l
        };
        let (Some(period), Some(scope)) = (period, scope) else {
            return Err(FinanceError::Invalid(v).into());
        };
        if !v.is_empty() {
            return Err(FinanceError::Invalid(v).into());
        }
        let size = page_size(DOMAIN, req.page_size)?;
        let query = fingerprint(&["results", &period.to_string(), &scope.name(), &format!("{dims:?}"), &req.activity_line.to_string()]);
        let after = match decode_token::<TokenKey>(DOMAIN, &query, &req.page_token)? {
            None => None,
            Some(k) => Some(row_key(k).ok_or_else(|| FinanceError::field("page_token", "not a page token returned by this API"))?),
        };
        let filter = self.scoped(&identity, &scope, &period.to_string()).await?;
        let (from, to) = (period.start(), period.end().succ_opt().unwrap_or(period.end()));
        let (produits, charges) = self.store.totals(from, to, &filter, line).await?;
        let mut rows = if dims == Dims::default() {
            Vec::new()
        } else {
            self.store.rows(from, to, &filter, line, dims, after, i64::from(size) + 1).await?
        };
        let next = if rows.len() > size as usize {
            rows.truncate(size as usize);
            rows.last().map(|r| encode_token(&query, &token_key(&r.key()))).unwrap_or_default()
        } else {
            String::new()
        };
        let ids: Vec<Uuid> = rows.iter().filter(|_| dims.structure).map(|r| r.structure_id).collect();
        let finess = if ids.is_empty() { HashMap::new() } else { self.store.finess_by_id(&ids).await? };
        let rows = rows
            .iter()
            .map(|r: &AmountRow| pb::ResultRow {
                finess: finess.get(&r.structure_id).cloned().unwrap_or_default(),
                activity_line: i32::from(r.line),
                region: i32::from(r.region),
                month: if r.month == no_month() { String::new() } else { format!("{:04}{:02}", r.month.year(), r.month.month()) },
                amounts: Some(amounts(r.produits, r.charges)),
            })
            .collect();
        Ok(Response::new(pb::QueryResultsResponse {
            period: period.to_string(),
            scope: scope.name(),
            total: Some(amounts(produits, charges)),
            rows,
            next_page_token: next,
        }))
    }

    async fn evaluate_financial_targets(
        &self,
        request: Request<pb::EvaluateFinancialTargetsRequest>,
    ) -> Result<Response<pb::EvaluateFinancialTargetsResponse>, Status> {
        caller(&request)?;
        let year = request.into_inner().year;
        if !domain::TARGET_YEARS.contains(&year) {
            return Err(FinanceError::field("year", "the COG 2022-2024 targets cover 2022 to 2024").into());
        }
        let mut out = Vec::with_capacity(12);
        for target in targets()? {
            out.push(self.evaluate(target, year).await?);
        }
        Ok(Response::new(pb::EvaluateFinancialTargetsResponse { year, targets: out }))
    }

    async fn get_landing_forecast(
        &self,
        request: Request<pb::GetLandingForecastRequest>,
    ) -> Result<Response<pb::GetLandingForecastResponse>, Status> {
        caller(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        if !(2000..=2100).contains(&req.year) {
            v.add("year", "is required: 2000 to 2100");
        }
        if !(1..=12).contains(&req.month) {
            v.add("month", "is required: the last month with actuals, 1 to 12");
        }
        let target = if req.target_number == 0 {
            None
        } else {
            let t = req.target_number.checked_sub(1).and_then(|k| usize::try_from(k).ok()).and_then(|k| targets().ok()?.get(k));
            if t.is_none() {
                v.add("target_number", "must be 1 to 12");
            } else if !req.scope.is_empty() {
                v.add("scope", "give either a scope or a target number");
            }
            t
        };
        let target_kind = target.and_then(|t| t.kind(req.year));
        if target.is_some() && target_kind.is_none() {
            v.add("year", "the COG 2022-2024 targets cover 2022 to 2024");
        }
        let scope = if target.is_none() { v.check("scope", Scope::parse(&req.scope)) } else { None };
        if !v.is_empty() {
            return Err(FinanceError::Invalid(v).into());
        }
        let (year, m) = (req.year, usize::try_from(req.month).unwrap_or(12));
        let (filter, scope_name) = match (target, &scope) {
            (Some(t), _) => (ScopeFilter::Structures(self.perimeter_members(&t.perimeter, year).await?), t.perimeter.describe()),
            (None, Some(s)) => (self.resolve(s, &year.to_string()).await?, s.name()),
            (None, None) => (ScopeFilter::All, Scope::National.name()),
        };
        let (from, _) = year_bounds(year - 1)?;
        let (_, to) = year_bounds(year)?;
        // Per cell: [current produits, current charges, previous produits, previous charges] by month.
        let mut cells: BTreeMap<(Uuid, i16), [[i64; 12]; 4]> = BTreeMap::new();
        for (structure, line, month, produits, charges) in self.store.cell_months(from, to, &filter).await? {
            let k = month.month0() as usize;
            let cell = cells.entry((structure, line)).or_insert([[0; 12]; 4]);
            if month.year() == year {
                // Months after m are ignored: the forecast is as of month m.
                if k < m {
                    cell[0][k] += produits;
                    cell[1][k] += charges;
                }
            } else {
                cell[2][k] += produits;
                cell[3][k] += charges;
            }
        }
        let (mut produits, mut charges) = ([0i64; 12], [0i64; 12]);
        let (mut seasonal, mut run_rate) = (0i32, 0i32);
        for cell in cells.values() {
            for (side, total) in [(0usize, &mut produits), (1usize, &mut charges)] {
                let (f, method) = forecast_side(&cell[side], &cell[side + 2], None, m);
                match method {
                    Method::Seasonal => seasonal += 1,
                    _ => run_rate += 1,
                }
                for k in 0..12 {
                    total[k] = total[k].saturating_add(if k < m { cell[side][k] } else { f[k] });
                }
            }
        }
        let sum = |a: &[i64]| a.iter().fold(0i64, |s, v| s.saturating_add(*v));
        let actual = amounts(sum(&produits[..m]), sum(&charges[..m]));
        let forecast = amounts(sum(&produits[m..]), sum(&charges[m..]));
        let landing = amounts(sum(&produits), sum(&charges));
        let (threshold, gap, status) = match (target, target_kind) {
            (Some(t), Some(kind)) => {
                let threshold = effective_threshold_cents(kind, t.base_cents);
                let (gap, on_track) = landing_gap(landing.result_cents, threshold);
                (threshold, gap, if on_track { pb::LandingStatus::OnTrack } else { pb::LandingStatus::AtRisk })
            }
            _ => (0, 0, pb::LandingStatus::Unspecified),
        };
        let months = (0..12)
            .map(|k| pb::LandingMonth {
                month: format!("{year:04}{:02}", k + 1),
                amounts: Some(amounts(produits[k], charges[k])),
                actual: k < m,
            })
            .collect();
        Ok(Response::new(pb::GetLandingForecastResponse {
            year,
            month: req.month,
            scope: scope_name,
            target_number: req.target_number,
            actual: Some(actual),
            forecast: Some(forecast),
            landing: Some(landing),
            months,
            seasonal_cells: seasonal,
            run_rate_cells: run_rate,
            effective_threshold_cents: threshold,
            gap_cents: gap,
            status: status as i32,
        }))
    }
}
