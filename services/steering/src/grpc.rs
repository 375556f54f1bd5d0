//! gRPC adapter of the steering service: parses and validates requests at
//! the boundary, checks the caller's role on writes, and hands typed values
//! to the domain and the storage.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use filieris_kernel::date::parse_date;
use filieris_proto::steering as pb;
use filieris_proto::steering::steering_service_server::SteeringService;
use filieris_runtime::Identity;
use filieris_runtime::error::Violations;
use filieris_runtime::idempotency::IdempotencyKey;
use filieris_runtime::scope::Scope;
use filieris_runtime::write::{self, Writers};
use prost::Message;
use tonic::{Request, Response, Status};

use crate::domain::actions::ActionStatus;
use crate::domain::catalogue::{Definition, MetricRef, Nature, Printed, ValueKind};
use crate::domain::targets::{Dec, TargetRule};
use crate::domain::values::{Fetched, NewValue, Provenance, build_value};
use crate::error::{DOMAIN, SteeringError};
use crate::sources::Upstreams;
use crate::storage::{StatusChange, Store, TargetAmendment, ValueRow, WriteContext, annex_order};

/// Fully-qualified gRPC service name.
pub const SERVICE_NAME: &str = "filieris.steering.v1.SteeringService";

/// Who may change definitions, compute, enter values and set action statuses.
pub const WRITERS: Writers = Writers { roles: &["admin", "steering"], denied_reason: "STEERING_WRITE_DENIED", holds: "steering data" };

/// The SteeringService implementation.
#[derive(Clone)]
pub struct SteeringApi {
    store: Store,
    upstreams: Upstreams,
}

impl SteeringApi {
    pub fn new(store: Store, upstreams: Upstreams) -> Self {
        Self { store, upstreams }
    }

    /// Computes every indicator of `year` (COG22 for 2022-2024, COG18 for
    /// 2018-2021) nationally and for the three regions, and appends the values.
    pub async fn compute(&self, identity: &Identity, year: i32) -> Result<pb::ComputeIndicatorsResponse, SteeringError> {
        self.compute_scopes(identity, year, &default_scopes()).await
    }

    /// Computes every indicator of `year` for each scope and appends the
    /// values; MANUAL indicators that already have a national value for the
    /// year are left as entered. Each value is evaluated against the target
    /// amendment in force when the run starts, and records which.
    pub async fn compute_scopes(
        &self,
        identity: &Identity,
        year: i32,
        scopes: &[Scope],
    ) -> Result<pb::ComputeIndicatorsResponse, SteeringError> {
        let cog = cog_of_year(year).ok_or_else(|| SteeringError::field("year", "must be 2018 to 2024 (a year of a COG)"))?;
        let definitions = self.store.current_definitions(Some(cog)).await?;
        let targets = self.store.targets_of_year(year).await?;
        let existing = self.store.values_as_of(year, Utc::now()).await?;
        let year_closed = year < Utc::now().year();
        let mut values = Vec::new();
        for scope in scopes {
            let mut run = self.upstreams.run_in(year, scope.clone());
            for row in &definitions {
                let d = &row.definition;
                if *scope == Scope::National
                    && matches!(d.source, MetricRef::Manual(_))
                    && existing.iter().any(|v| v.key == d.key && v.provenance == "MANUAL")
                {
                    continue;
                }
                let fetched = run.fetch(&d.source).await;
                let target = targets.iter().find(|t| t.key == d.key);
                let mut value = build_value(d, row.version, year, target.map(|t| (t.raw.as_str(), &t.rule)), fetched, year_closed);
                value.scope = scope.name();
                value.target_amendment = target.map(|t| t.amendment);
                values.push(value);
            }
        }
        let rows = self.store.append_values(identity, "SteeringService/ComputeIndicators", year, &values).await?;
        let not_available = i32::try_from(rows.iter().filter(|r| r.provenance == "NOT_AVAILABLE").count()).unwrap_or(i32::MAX);
        Ok(pb::ComputeIndicatorsResponse { values: rows.iter().map(ValueRow::to_proto).collect(), not_available })
    }

    /// The national values of a year as of a time, one per indicator of the catalogue.
    pub async fn values(&self, year: i32, as_of: DateTime<Utc>, cog: Option<&str>) -> Result<Vec<pb::IndicatorValue>, SteeringError> {
        self.scoped_values(year, &Scope::National, as_of, cog).await
    }

    /// The values of a year for a scope as of a time, one per indicator of the catalogue.
    pub async fn scoped_values(
        &self,
        year: i32,
        scope: &Scope,
        as_of: DateTime<Utc>,
        cog: Option<&str>,
    ) -> Result<Vec<pb::IndicatorValue>, SteeringError> {
        let cog = match cog {
            Some(c) => c,
            None => cog_of_year(year).ok_or_else(|| SteeringError::field("year", "must be 2018 to 2024 (a year of a COG)"))?,
        };
        let mut definitions = self.store.current_definitions(Some(cog)).await?;
        definitions.sort_by_key(|r| annex_order(&r.definition));
        let scope_name = scope.name();
        let rows = self.store.scoped_values_as_of(year, &scope_name, as_of).await?;
        Ok(definitions
            .iter()
            .map(|d| match rows.iter().find(|r| r.key == d.definition.key) {
                Some(r) => r.to_proto(),
                None => pb::IndicatorValue {
                    indicator: format!("indicators/{}", d.definition.key),
                    year,
                    kind: pb::ValueKind::Nd as i32,
                    provenance: pb::Provenance::NotAvailable as i32,
                    status: pb::Status::NotEvaluable as i32,
                    reason: "not computed yet at that time".into(),
                    source: d.definition.source.reference(),
                    scope: scope_name.clone(),
                    ..Default::default()
                },
            })
            .collect())
    }
}

/// What ComputeIndicators computes when no scope is asked for: the nation
/// and the three regional directorates.
pub fn default_scopes() -> Vec<Scope> {
    let mut out = vec![Scope::National];
    out.extend(["NORD", "EST", "SUD"].into_iter().filter_map(filieris_runtime::scope::region_from_name).map(Scope::Region));
    out
}

/// A scope of steering values: national, a region or a structure group
/// (values are not computed per structure).
fn steering_scope(text: &str, field: &str) -> Result<Scope, SteeringError> {
    match Scope::parse(text) {
        Ok(Scope::Structure(_)) => Err(SteeringError::field(field, "steering values are national, per region or per structure group")),
        Ok(s) => Ok(s),
        Err(e) => Err(SteeringError::field(field, e)),
    }
}

/// `indicators/{key}/targets/{year}`.
fn target_name(name: &str) -> Result<(String, i32), SteeringError> {
    name.strip_prefix("indicators/")
        .and_then(|rest| rest.split_once("/targets/"))
        .and_then(|(k, y)| Some((k, y.parse::<i32>().ok()?)))
        .filter(|(k, _)| !k.is_empty() && !k.contains('/'))
        .map(|(k, y)| (k.to_owned(), y))
        .ok_or_else(|| SteeringError::field("name", "must be indicators/{key}/targets/{year}, e.g. indicators/COG22.FINRES.1/targets/2023"))
}

fn decimal(v: &mut Violations, field: &str, d: Option<&pb::Decimal>) -> Option<Dec> {
    match d {
        None => {
            v.add(field, "is required for this target type");
            None
        }
        Some(d) => match u32::try_from(d.scale).ok().filter(|s| *s <= 6) {
            Some(scale) => Some(Dec { units: d.units, scale }),
            None => {
                v.add(field, "scale must be 0 to 6");
                None
            }
        },
    }
}

/// The typed rule of an amended target (problems of the fields go to `v`).
fn target_rule(t: &pb::IndicatorTarget, v: &mut Violations) -> TargetRule {
    let zero = Dec { units: 0, scale: 0 };
    match pb::TargetType::try_from(t.r#type) {
        Ok(pb::TargetType::ReduceDeficit) => TargetRule::ReduceDeficit { percent: t.percent },
        Ok(pb::TargetType::Equilibrium) => TargetRule::Equilibrium { tolerance_cents: t.tolerance_cents },
        Ok(pb::TargetType::Surplus) => TargetRule::Surplus,
        Ok(pb::TargetType::Range) => TargetRule::Range {
            low: decimal(v, "target.low", t.low.as_ref()).unwrap_or(zero),
            high: decimal(v, "target.high", t.high.as_ref()).unwrap_or(zero),
        },
        Ok(pb::TargetType::Min) => TargetRule::Min { low: decimal(v, "target.low", t.low.as_ref()).unwrap_or(zero) },
        Ok(pb::TargetType::Max) => TargetRule::Max { high: decimal(v, "target.high", t.high.as_ref()).unwrap_or(zero) },
        Ok(pb::TargetType::Count) => match decimal(v, "target.low", t.low.as_ref()) {
            Some(Dec { units, scale: 0 }) => TargetRule::Count { low: units },
            Some(_) => {
                v.add("target.low", "a count has no decimals (scale 0)");
                TargetRule::Count { low: 0 }
            }
            None => TargetRule::Count { low: 0 },
        },
        Ok(pb::TargetType::Milestone) => TargetRule::Milestone { text: t.milestone.trim().to_owned() },
        Ok(pb::TargetType::None) => TargetRule::None,
        Ok(pb::TargetType::Blank) => TargetRule::Blank,
        Ok(pb::TargetType::Text) => {
            if t.raw.trim().is_empty() {
                v.add("target.raw", "is required for a TEXT target (the text as printed)");
            }
            TargetRule::Text
        }
        _ => {
            v.add(
                "target.type",
                "is required: REDUCE_DEFICIT, EQUILIBRIUM, SURPLUS, RANGE, MIN, MAX, COUNT, MILESTONE, NONE, BLANK or TEXT",
            );
            TargetRule::Text
        }
    }
}

/// The COG a year belongs to.
pub fn cog_of_year(year: i32) -> Option<&'static str> {
    match year {
        2018..=2021 => Some("COG18"),
        2022..=2024 => Some("COG22"),
        _ => None,
    }
}

fn indicator_key(name: &str, field: &str) -> Result<String, SteeringError> {
    name.strip_prefix("indicators/")
        .filter(|k| !k.is_empty() && !k.contains('/'))
        .map(str::to_owned)
        .ok_or_else(|| SteeringError::field(field, "must be indicators/{key}, e.g. indicators/COG22.SUP.1"))
}

fn action_code(name: &str) -> Result<String, SteeringError> {
    name.strip_prefix("actions/")
        .filter(|k| !k.is_empty() && !k.contains('/'))
        .map(str::to_owned)
        .ok_or_else(|| SteeringError::field("name", "must be actions/{code}, e.g. actions/A001"))
}

fn optional_date(v: &mut Violations, field: &str, text: &str) -> Option<NaiveDate> {
    if text.is_empty() { None } else { v.check(field, parse_date(text)) }
}

fn to_timestamp(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

/// The edited definition: the stored one with the editable fields of `p`.
fn edited(current: &Definition, p: &pb::IndicatorDefinition, v: &mut Violations) -> Definition {
    let mut d = current.clone();
    d.theme = p.theme.clone();
    d.label_fr = p.label_fr.clone();
    d.label_en = p.label_en.clone();
    d.nature = match pb::IndicatorNature::try_from(p.nature) {
        Ok(pb::IndicatorNature::Result) => Nature::Result,
        Ok(pb::IndicatorNature::Steering) => Nature::Steering,
        _ => {
            v.add("definition.nature", "is required: RESULT or STEERING");
            current.nature
        }
    };
    match &p.source {
        Some(s) => {
            let kind = pb::SourceKind::try_from(s.kind).map(|k| k.as_str_name().trim_start_matches("SOURCE_KIND_").to_owned());
            match kind.map_err(|e| e.to_string()).and_then(|k| MetricRef::parse(&k, &s.parameter, &s.reason)) {
                Ok(r) => d.source = r,
                Err(e) => v.add("definition.source", e),
            }
        }
        None => v.add("definition.source", "is required"),
    }
    d.factor = i64::from(p.factor);
    d.unit = p.unit.clone();
    d.decimals = u32::try_from(p.decimals).unwrap_or(u32::MAX);
    d.scope = p.scope.clone();
    d.period_type = p.period_type.clone();
    d.lower_is_better = p.lower_is_better;
    if let Some(b) = &p.base {
        let kind = pb::ValueKind::try_from(b.kind).ok().and_then(|k| ValueKind::parse(k.as_str_name().trim_start_matches("VALUE_KIND_")));
        match kind {
            Some(kind) => {
                d.base = Printed {
                    raw: b.raw.clone(),
                    kind,
                    value: (kind == ValueKind::Value)
                        .then(|| u32::try_from(b.scale).ok().filter(|s| *s <= 6).map(|scale| Dec { units: b.numerator, scale }))
                        .flatten(),
                    year: (b.year != 0).then_some(b.year),
                };
                if kind == ValueKind::Value && d.base.value.is_none() {
                    v.add("definition.base.scale", "must be 0 to 6");
                }
            }
            None => v.add("definition.base.kind", "is required: VALUE, NC, ND, BLANK or TEXT"),
        }
    }
    for (field, problem) in d.problems() {
        v.add(field, problem);
    }
    d
}

/// Runs a write RPC: role check, idempotency key, refusals audited.
async fn write<Req, Resp, F, Fut>(
    api: &SteeringApi,
    request: Request<Req>,
    method: &'static str,
    resource: impl Fn(&Req) -> String,
    request_id: impl Fn(&mut Req) -> String,
    run: F,
) -> Result<Response<Resp>, Status>
where
    Req: Message + Clone,
    F: FnOnce(Req, Identity, Option<IdempotencyKey>, String) -> Fut,
    Fut: std::future::Future<Output = Result<Resp, SteeringError>>,
{
    write::guarded(api.store.pool(), DOMAIN, &WRITERS, request, method, resource, request_id, run).await
}

#[tonic::async_trait]
impl SteeringService for SteeringApi {
    async fn list_indicator_definitions(
        &self,
        request: Request<pb::ListIndicatorDefinitionsRequest>,
    ) -> Result<Response<pb::ListIndicatorDefinitionsResponse>, Status> {
        let cog = request.into_inner().cog;
        let rows = self.store.current_definitions((!cog.is_empty()).then_some(cog.as_str())).await?;
        Ok(Response::new(pb::ListIndicatorDefinitionsResponse { definitions: rows.iter().map(|r| r.to_proto()).collect() }))
    }

    async fn get_indicator_definition(
        &self,
        request: Request<pb::GetIndicatorDefinitionRequest>,
    ) -> Result<Response<pb::GetIndicatorDefinitionResponse>, Status> {
        let req = request.into_inner();
        let key = indicator_key(&req.name, "name")?;
        let row = self.store.definition(&key, (req.version > 0).then_some(req.version)).await?;
        Ok(Response::new(pb::GetIndicatorDefinitionResponse { definition: Some(row.to_proto()) }))
    }

    async fn update_indicator_definition(
        &self,
        request: Request<pb::UpdateIndicatorDefinitionRequest>,
    ) -> Result<Response<pb::UpdateIndicatorDefinitionResponse>, Status> {
        let method = "SteeringService/UpdateIndicatorDefinition";
        write(
            self,
            request,
            method,
            |r| r.definition.as_ref().map(|d| d.name.clone()).unwrap_or_default(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let p = req.definition.ok_or_else(|| SteeringError::field("definition", "is required"))?;
                let k = indicator_key(&p.name, "definition.name")?;
                let current = self.store.definition(&k, None).await?;
                let mut v = Violations::new();
                let d = edited(&current.definition, &p, &mut v);
                if req.reason.trim().is_empty() {
                    v.add("reason", "is required: why the definition changes");
                }
                v.into_result(DOMAIN)?;
                let ctx = WriteContext { identity: &identity, method, key: key.as_ref(), request_id: &rid };
                self.store.update_definition(&ctx, &d, (req.expected_version > 0).then_some(req.expected_version), req.reason.trim()).await
            },
        )
        .await
    }

    async fn list_indicator_definition_versions(
        &self,
        request: Request<pb::ListIndicatorDefinitionVersionsRequest>,
    ) -> Result<Response<pb::ListIndicatorDefinitionVersionsResponse>, Status> {
        let key = indicator_key(&request.into_inner().name, "name")?;
        let rows = self.store.versions(&key).await?;
        Ok(Response::new(pb::ListIndicatorDefinitionVersionsResponse { versions: rows.iter().map(|r| r.to_proto()).collect() }))
    }

    async fn list_indicator_targets(
        &self,
        request: Request<pb::ListIndicatorTargetsRequest>,
    ) -> Result<Response<pb::ListIndicatorTargetsResponse>, Status> {
        let key = indicator_key(&request.into_inner().parent, "parent")?;
        let rows = self.store.targets(&key).await?;
        Ok(Response::new(pb::ListIndicatorTargetsResponse { targets: rows.iter().map(|t| t.to_proto()).collect() }))
    }

    async fn amend_indicator_target(
        &self,
        request: Request<pb::AmendIndicatorTargetRequest>,
    ) -> Result<Response<pb::AmendIndicatorTargetResponse>, Status> {
        let method = "SteeringService/AmendIndicatorTarget";
        write(
            self,
            request,
            method,
            |r| r.name.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let (k, year) = target_name(&req.name)?;
                let row = self.store.definition(&k, None).await?;
                let d = &row.definition;
                let mut v = Violations::new();
                if cog_of_year(year) != Some(d.cog.as_str()) {
                    v.add("name", format!("the year must be a year of {}", d.cog));
                }
                let t = req.target.unwrap_or_default();
                let rule = target_rule(&t, &mut v);
                for (field, problem) in rule.problems(d.target_context(), d.base.exact()) {
                    v.add(field, problem);
                }
                if req.reason.trim().is_empty() {
                    v.add("reason", "is required: why the target changes (e.g. the amendment signed)");
                }
                if req.expected_amendment < -1 {
                    v.add("expected_amendment", "must be -1 (no check) or an amendment number");
                }
                v.into_result(DOMAIN)?;
                let raw = if t.raw.trim().is_empty() { rule.text(&d.unit) } else { t.raw.trim().to_owned() };
                let amendment = TargetAmendment {
                    key: k,
                    year,
                    rule,
                    raw,
                    expected: (req.expected_amendment >= 0).then_some(req.expected_amendment),
                    reason: req.reason.trim().to_owned(),
                    comment: req.comment.trim().to_owned(),
                };
                let ctx = WriteContext { identity: &identity, method, key: key.as_ref(), request_id: &rid };
                self.store.amend_target(&ctx, &amendment).await
            },
        )
        .await
    }

    async fn list_indicator_target_versions(
        &self,
        request: Request<pb::ListIndicatorTargetVersionsRequest>,
    ) -> Result<Response<pb::ListIndicatorTargetVersionsResponse>, Status> {
        let (key, year) = target_name(&request.into_inner().name)?;
        let rows = self.store.target_versions(&key, year).await?;
        Ok(Response::new(pb::ListIndicatorTargetVersionsResponse { versions: rows.iter().map(|t| t.to_proto()).collect() }))
    }

    async fn compute_indicators(
        &self,
        request: Request<pb::ComputeIndicatorsRequest>,
    ) -> Result<Response<pb::ComputeIndicatorsResponse>, Status> {
        // Not deduplicated by request id: every run appends a new, dated computation on purpose.
        write(
            self,
            request,
            "SteeringService/ComputeIndicators",
            |r| format!("indicatorYears/{}", r.year),
            |_| String::new(),
            |req, identity, _key, _rid| async move {
                let scopes = if req.scopes.is_empty() {
                    default_scopes()
                } else {
                    let mut out: Vec<Scope> = Vec::new();
                    for (i, text) in req.scopes.iter().enumerate() {
                        let scope = steering_scope(text, &format!("scopes[{i}]"))?;
                        if !out.contains(&scope) {
                            out.push(scope);
                        }
                    }
                    out
                };
                self.compute_scopes(&identity, req.year, &scopes).await
            },
        )
        .await
    }

    async fn list_indicator_values(
        &self,
        request: Request<pb::ListIndicatorValuesRequest>,
    ) -> Result<Response<pb::ListIndicatorValuesResponse>, Status> {
        let req = request.into_inner();
        let as_of = match &req.as_of_time {
            Some(t) => to_timestamp(t).ok_or_else(|| SteeringError::field("as_of_time", "is not a valid time"))?,
            None => Utc::now(),
        };
        let scope = steering_scope(&req.scope, "scope")?;
        let values = self.scoped_values(req.year, &scope, as_of, (!req.cog.is_empty()).then_some(req.cog.as_str())).await?;
        Ok(Response::new(pb::ListIndicatorValuesResponse { values }))
    }

    async fn record_manual_value(
        &self,
        request: Request<pb::RecordManualValueRequest>,
    ) -> Result<Response<pb::RecordManualValueResponse>, Status> {
        let method = "SteeringService/RecordManualValue";
        write(
            self,
            request,
            method,
            |r| r.indicator.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let k = indicator_key(&req.indicator, "indicator")?;
                let row = self.store.definition(&k, None).await?;
                let d = &row.definition;
                if !matches!(d.source, MetricRef::Manual(_)) {
                    return Err(SteeringError::NotManual { key: k, source_ref: d.source.reference() });
                }
                let mut v = Violations::new();
                if cog_of_year(req.year) != Some(d.cog.as_str()) {
                    v.add("year", format!("must be a year of {}", d.cog));
                }
                let kind = pb::ValueKind::try_from(req.kind)
                    .ok()
                    .and_then(|k| ValueKind::parse(k.as_str_name().trim_start_matches("VALUE_KIND_")));
                let comment = req.comment.trim().to_owned();
                let fetched = match kind {
                    Some(ValueKind::Value) => {
                        if req.denominator.is_some_and(|d| d <= 0) {
                            v.add("denominator", "must be positive when given");
                        }
                        Fetched::Number {
                            numerator: req.numerator,
                            denominator: req.denominator,
                            provisional: false,
                            note: comment.clone(),
                        }
                    }
                    Some(other) => {
                        if matches!(other, ValueKind::Nd | ValueKind::Text) && comment.is_empty() {
                            v.add("comment", "is required for ND (the reason) and TEXT (the statement)");
                        }
                        Fetched::NotAvailable(comment.clone())
                    }
                    None => {
                        v.add("kind", "is required: VALUE, NC, ND, BLANK or TEXT");
                        Fetched::NotAvailable(String::new())
                    }
                };
                v.into_result(DOMAIN)?;
                let target = self.store.targets(&k).await?.into_iter().find(|t| t.year == req.year);
                let mut value: NewValue =
                    build_value(d, row.version, req.year, target.as_ref().map(|t| (t.raw.as_str(), &t.rule)), fetched, true);
                value.provenance = Provenance::Manual;
                value.target_amendment = target.as_ref().map(|t| t.amendment);
                if let Some(kind) = kind
                    && kind != ValueKind::Value
                {
                    value.kind = kind;
                    value.display = if kind == ValueKind::Text { comment.clone() } else { kind.as_str().to_owned() };
                }
                let ctx = WriteContext { identity: &identity, method, key: key.as_ref(), request_id: &rid };
                self.store.record_manual(&ctx, &value).await
            },
        )
        .await
    }

    async fn list_actions(&self, request: Request<pb::ListActionsRequest>) -> Result<Response<pb::ListActionsResponse>, Status> {
        let req = request.into_inner();
        let status = match pb::ActionStatus::try_from(req.status) {
            Ok(pb::ActionStatus::Unspecified) => None,
            Ok(s) => ActionStatus::parse(s.as_str_name().trim_start_matches("ACTION_STATUS_")),
            Err(_) => return Err(SteeringError::field("status", "is not an action status").into()),
        };
        let rows = self.store.list_actions((req.axis != 0).then_some(req.axis), status).await?;
        Ok(Response::new(pb::ListActionsResponse { actions: rows.iter().map(|a| a.to_proto()).collect() }))
    }

    async fn update_action_status(
        &self,
        request: Request<pb::UpdateActionStatusRequest>,
    ) -> Result<Response<pb::UpdateActionStatusResponse>, Status> {
        let method = "SteeringService/UpdateActionStatus";
        write(
            self,
            request,
            method,
            |r| r.name.clone(),
            |r| std::mem::take(&mut r.request_id),
            |req, identity, key, rid| async move {
                let code = action_code(&req.name)?;
                let mut v = Violations::new();
                let status = pb::ActionStatus::try_from(req.status)
                    .ok()
                    .and_then(|s| ActionStatus::parse(s.as_str_name().trim_start_matches("ACTION_STATUS_")));
                if status.is_none() {
                    v.add("status", "is required: TO_COME, IN_PROGRESS or DONE");
                }
                let start_date = optional_date(&mut v, "start_date", &req.start_date);
                let end_date = optional_date(&mut v, "end_date", &req.end_date);
                if req.comment.trim().is_empty() {
                    v.add("comment", "is required");
                }
                v.into_result(DOMAIN)?;
                let change = StatusChange {
                    status: status.unwrap_or(ActionStatus::ToCome),
                    owner: (!req.owner.trim().is_empty()).then(|| req.owner.trim().to_owned()),
                    start_date,
                    end_date,
                    comment: req.comment.trim().to_owned(),
                };
                let ctx = WriteContext { identity: &identity, method, key: key.as_ref(), request_id: &rid };
                self.store.update_action_status(&ctx, &code, &change).await
            },
        )
        .await
    }

    async fn list_action_status_history(
        &self,
        request: Request<pb::ListActionStatusHistoryRequest>,
    ) -> Result<Response<pb::ListActionStatusHistoryResponse>, Status> {
        let code = action_code(&request.into_inner().name)?;
        Ok(Response::new(pb::ListActionStatusHistoryResponse { changes: self.store.action_history(&code).await? }))
    }

    async fn get_dashboard(&self, request: Request<pb::GetDashboardRequest>) -> Result<Response<pb::GetDashboardResponse>, Status> {
        let req = request.into_inner();
        let (cog, years) = match req.cog.as_str() {
            "" | "COG22" => ("COG22", 2022..=2024),
            "COG18" => ("COG18", 2018..=2021),
            _ => return Err(SteeringError::field("cog", "must be COG22 or COG18").into()),
        };
        let as_of = match &req.as_of_time {
            Some(t) => to_timestamp(t).ok_or_else(|| SteeringError::field("as_of_time", "is not a valid time"))?,
            None => Utc::now(),
        };
        let scope = steering_scope(&req.scope, "scope")?.name();
        if req.year != 0 && !years.contains(&req.year) {
            return Err(SteeringError::field("year", format!("must be a year of {cog}, or 0 for all")).into());
        }
        let mut by_year = Vec::new();
        for year in years.filter(|y| req.year == 0 || *y == req.year) {
            by_year.push((
                year,
                self.store.scoped_values_as_of(year, &scope, as_of).await?,
                self.store.targets_of_year_as_of(year, as_of).await?,
            ));
        }
        let definitions = self.store.current_definitions(Some(cog)).await?;
        let tiles = definitions
            .iter()
            .map(|row| {
                let d = &row.definition;
                let mut numbers = Vec::new();
                let points = by_year
                    .iter()
                    .map(|(year, values, targets)| match values.iter().find(|v| v.key == d.key) {
                        Some(v) => {
                            if v.kind == "VALUE"
                                && let Some(x) = v.numerator.and_then(|n| d.observed(n, v.denominator))
                            {
                                numbers.push(x);
                            }
                            let p = v.to_proto();
                            pb::DashboardPoint {
                                year: *year,
                                kind: p.kind,
                                display: p.display,
                                target_raw: p.target_raw,
                                status: p.status,
                                provenance: p.provenance,
                                reason: p.reason,
                            }
                        }
                        None => pb::DashboardPoint {
                            year: *year,
                            kind: pb::ValueKind::Nd as i32,
                            display: String::new(),
                            target_raw: targets.iter().find(|t| t.key == d.key).map(|t| t.raw.clone()).unwrap_or_default(),
                            status: pb::Status::NotEvaluable as i32,
                            provenance: pb::Provenance::NotAvailable as i32,
                            reason: "not computed yet at that time".into(),
                        },
                    })
                    .collect();
                let trend = match numbers.as_slice() {
                    [.., prev, last] => match last.cmp(prev) {
                        std::cmp::Ordering::Greater => pb::Trend::Up,
                        std::cmp::Ordering::Less => pb::Trend::Down,
                        std::cmp::Ordering::Equal => pb::Trend::Flat,
                    },
                    _ => pb::Trend::Unspecified,
                };
                pb::DashboardTile {
                    indicator: format!("indicators/{}", d.key),
                    label_fr: d.label_fr.clone(),
                    theme: d.theme.clone(),
                    unit: d.unit.clone(),
                    points,
                    trend: trend as i32,
                    lower_is_better: d.lower_is_better,
                }
            })
            .collect();
        Ok(Response::new(pb::GetDashboardResponse { tiles, scope }))
    }

    async fn get_action_counts(
        &self,
        request: Request<pb::GetActionCountsRequest>,
    ) -> Result<Response<pb::GetActionCountsResponse>, Status> {
        let year = request.into_inner().year;
        let (axes, total) = self.store.action_counts((year != 0).then_some(year)).await?;
        let conv = |a: &crate::domain::actions::AxisCounts| pb::AxisCounts {
            axis: a.axis,
            axis_label: a.axis_label.clone(),
            total: a.total,
            to_come: a.to_come,
            in_progress: a.in_progress,
            done: a.done,
        };
        Ok(Response::new(pb::GetActionCountsResponse { axes: axes.iter().map(conv).collect(), total: Some(conv(&total)) }))
    }
}
