//! Calls to the metrics APIs of the other services, with the steering
//! service's own signed identity. One [`Run`] per computation caches the
//! answers that cover several indicators (the 12 financial targets, the HR
//! indicators) so each upstream is asked once per year.

use std::collections::HashMap;

use filieris_proto::activity::activity_records_service_client::ActivityRecordsServiceClient;
use filieris_proto::activity::activity_service_client::ActivityServiceClient;
use filieris_proto::finance::budget_service_client::BudgetServiceClient;
use filieris_proto::finance::finance_results_service_client::FinanceResultsServiceClient;
use filieris_proto::hr::hr_service_client::HrServiceClient;
use filieris_proto::{activity as act, finance as fin, hr};
use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::scope::Scope;
use tonic::transport::Channel;

use crate::domain::catalogue::MetricRef;
use crate::domain::values::Fetched;
use crate::storage::SERVICE_CALLER;

/// Lazily connected channels to the source services.
#[derive(Clone)]
pub struct Upstreams {
    activity: ActivityServiceClient<Channel>,
    records: ActivityRecordsServiceClient<Channel>,
    results: FinanceResultsServiceClient<Channel>,
    budget: BudgetServiceClient<Channel>,
    hr: HrServiceClient<Channel>,
    key: InternalKey,
}

/// Upstream URLs.
#[derive(Debug, Clone)]
pub struct UpstreamUrls {
    pub activity: String,
    pub finance: String,
    pub hr: String,
    pub missions: String,
}

impl Default for UpstreamUrls {
    fn default() -> Self {
        Self {
            activity: "http://127.0.0.1:50052".into(),
            finance: "http://127.0.0.1:50053".into(),
            hr: "http://127.0.0.1:50054".into(),
            missions: "http://127.0.0.1:50055".into(),
        }
    }
}

fn channel(url: &str) -> anyhow::Result<Channel> {
    Ok(tonic::transport::Endpoint::from_shared(url.to_owned())
        .map_err(|e| anyhow::anyhow!("bad upstream URL {url}: {e}"))?
        .connect_timeout(std::time::Duration::from_secs(3))
        .timeout(std::time::Duration::from_secs(60))
        .connect_lazy())
}

impl Upstreams {
    pub fn new(urls: &UpstreamUrls, key: InternalKey) -> anyhow::Result<Self> {
        let finance = channel(&urls.finance)?;
        let activity = channel(&urls.activity)?;
        Ok(Self {
            activity: ActivityServiceClient::new(activity.clone()),
            records: ActivityRecordsServiceClient::new(activity),
            results: FinanceResultsServiceClient::new(finance.clone()),
            budget: BudgetServiceClient::new(finance),
            hr: HrServiceClient::new(channel(&urls.hr)?),
            key,
        })
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let me =
            Identity { caller: SERVICE_CALLER.into(), kind: CallerKind::Service, roles: vec!["reader".into()], scopes: vec!["*".into()] };
        let mut req = tonic::Request::new(message);
        me.attach(&self.key, &mut req);
        req
    }

    /// A computation of one year, national.
    pub fn run(&self, year: i32) -> Run<'_> {
        self.run_in(year, Scope::National)
    }

    /// A computation of one year over a scope (national, a region or a
    /// structure group).
    pub fn run_in(&self, year: i32, scope: Scope) -> Run<'_> {
        Run { up: self, year, scope, finance_targets: None, hr_indicators: None }
    }
}

/// One computation: the year, the scope and the answers already fetched.
pub struct Run<'a> {
    up: &'a Upstreams,
    year: i32,
    scope: Scope,
    finance_targets: Option<Result<HashMap<i32, fin::TargetEvaluation>, String>>,
    hr_indicators: Option<Result<HashMap<String, hr::IndicatorValue>, String>>,
}

fn line(name: &str) -> act::ActivityLine {
    match name {
        "NURSING" => act::ActivityLine::Nursing,
        _ => act::ActivityLine::GeneralMedicine,
    }
}

fn unavailable(service: &str, status: &tonic::Status) -> Fetched {
    Fetched::NotAvailable(format!("{service} did not answer: {} {}", status.code(), status.message()))
}

/// Why a source has no value for a scope other than the nation, or `None`
/// when it answers for any scope (the activity metrics take national,
/// region and structure-group scopes).
pub fn scope_gap(source: &MetricRef, scope: &Scope) -> Option<String> {
    if *scope == Scope::National {
        return None;
    }
    let why = match source {
        MetricRef::ActivityOpeningRateActs(_)
        | MetricRef::ActivityOpeningRatePatients(_)
        | MetricRef::ActivityMiningRevenueShare(_)
        | MetricRef::ActivityEhealthActs => return None,
        MetricRef::ActivityTrainees(_) | MetricRef::ActivityTraineeHostShare(_) | MetricRef::ActivitySurveyedShare(_) => {
            if matches!(scope, Scope::Region(_)) {
                return None;
            }
            "activity records are aggregated nationally, by region or by structure"
        }
        MetricRef::FinanceTarget(_) => "finance targets are defined on their perimeters (registry groups), not by region or group",
        MetricRef::FinanceExecutionRate(_) => "budget execution is kept per fund, for the whole fund",
        MetricRef::FinanceSquareMetresSold => "the property portfolio is the CANSSM's, sales are not split by region",
        MetricRef::HrIndicator(_) => "HR indicators are company-wide",
        MetricRef::Manual(_) => "manual values are entered for the nation",
        MetricRef::NotYetAvailable(reason) => return Some(reason.clone()),
    };
    Some(format!("SCOPE_NOT_SUPPORTED: defined nationally ({why}); no value for {}", scope.name()))
}

impl Run<'_> {
    /// Fetches the metric of `source` for the run's year and scope.
    pub async fn fetch(&mut self, source: &MetricRef) -> Fetched {
        if let Some(reason) = scope_gap(source, &self.scope) {
            return Fetched::NotAvailable(reason);
        }
        let year = self.year;
        let period = year.to_string();
        let scope = self.scope.name();
        match source {
            MetricRef::ActivityOpeningRateActs(l) | MetricRef::ActivityOpeningRatePatients(l) => {
                let req = act::GetOpeningRateRequest { period, line: line(l) as i32, scope };
                match self.up.activity.clone().get_opening_rate(self.up.request(req)).await {
                    Ok(r) => {
                        let r = r.into_inner();
                        let ratio = if matches!(source, MetricRef::ActivityOpeningRateActs(_)) { r.acts } else { r.patients };
                        match ratio {
                            Some(x) => Fetched::Number {
                                numerator: x.numerator,
                                denominator: Some(x.denominator),
                                provisional: false,
                                note: String::new(),
                            },
                            None => Fetched::NotAvailable("activity answered without the ratio".into()),
                        }
                    }
                    Err(s) => unavailable("activity", &s),
                }
            }
            MetricRef::ActivityMiningRevenueShare(l) => {
                let req = act::QueryActivityMetricsRequest {
                    period,
                    scope,
                    line: line(l) as i32,
                    group_by: vec![act::MetricDimension::Scheme as i32],
                };
                match self.up.activity.clone().query_activity_metrics(self.up.request(req)).await {
                    Ok(r) => {
                        let rows = r.into_inner().rows;
                        let total: i64 = rows.iter().map(|r| r.amount_cents).sum();
                        let mining: i64 = rows.iter().filter(|r| r.scheme == act::Scheme::Mining as i32).map(|r| r.amount_cents).sum();
                        Fetched::Number { numerator: mining, denominator: Some(total), provisional: false, note: String::new() }
                    }
                    Err(s) => unavailable("activity", &s),
                }
            }
            MetricRef::ActivityEhealthActs => {
                let req = act::QueryActivityMetricsRequest { period, scope, line: 0, group_by: vec![act::MetricDimension::Mode as i32] };
                let remote = [
                    act::ActMode::Teleconsultation,
                    act::ActMode::TeleexpertiseRequest,
                    act::ActMode::TeleexpertiseOpinion,
                    act::ActMode::Telesoin,
                ]
                .map(|m| m as i32);
                match self.up.activity.clone().query_activity_metrics(self.up.request(req)).await {
                    Ok(r) => {
                        let acts = r.into_inner().rows.iter().filter(|r| remote.contains(&r.mode)).map(|r| r.acts).sum();
                        Fetched::Number { numerator: acts, denominator: None, provisional: false, note: String::new() }
                    }
                    Err(s) => unavailable("activity", &s),
                }
            }
            MetricRef::FinanceTarget(n) => {
                if self.finance_targets.is_none() {
                    let req = fin::EvaluateFinancialTargetsRequest { year };
                    self.finance_targets = Some(match self.up.results.clone().evaluate_financial_targets(self.up.request(req)).await {
                        Ok(r) => Ok(r.into_inner().targets.into_iter().map(|t| (t.number, t)).collect()),
                        Err(s) => Err(format!("finance did not answer: {} {}", s.code(), s.message())),
                    });
                }
                match self.finance_targets.as_ref() {
                    Some(Ok(targets)) => match targets.get(n) {
                        Some(t) if t.status == fin::TargetStatus::NotEvaluable as i32 => {
                            Fetched::NotAvailable(format!("finance has no result booked for the perimeter of target {n} in {year}"))
                        }
                        Some(t) => Fetched::Number {
                            numerator: t.amounts.as_ref().map(|a| a.result_cents).unwrap_or_default(),
                            denominator: None,
                            // The year's result is final once its twelve months are booked.
                            provisional: t.months_booked < 12,
                            note: format!("{} months booked; perimeter {}", t.months_booked, t.perimeter),
                        },
                        None => Fetched::NotAvailable(format!("finance evaluated no target {n} for {year}")),
                    },
                    Some(Err(e)) => Fetched::NotAvailable(e.clone()),
                    None => Fetched::NotAvailable("finance targets not fetched".into()),
                }
            }
            MetricRef::FinanceExecutionRate(fund) => {
                let req = fin::GetBudgetExecutionRequest { name: format!("funds/{fund}/years/{year}") };
                match self.up.budget.clone().get_budget_execution(self.up.request(req)).await {
                    Ok(r) => match r.into_inner().rows.into_iter().find(|r| r.level == "FUND").and_then(|r| r.rate_final) {
                        Some(rate) => Fetched::Number {
                            numerator: rate.numerator,
                            denominator: Some(rate.denominator),
                            provisional: false,
                            note: String::new(),
                        },
                        None => Fetched::NotAvailable(format!("finance has no execution row for {fund} {year}")),
                    },
                    Err(s) => unavailable("finance", &s),
                }
            }
            MetricRef::FinanceSquareMetresSold => {
                let req = fin::GetAssetSaleTotalsRequest { year };
                match self.up.budget.clone().get_asset_sale_totals(self.up.request(req)).await {
                    Ok(r) => {
                        let t = r.into_inner();
                        let missing = t.sales_without_square_metres;
                        Fetched::Number {
                            numerator: t.square_metres,
                            denominator: None,
                            // A sale without its floor area makes the total too low: not final until completed.
                            provisional: missing > 0,
                            note: if missing > 0 {
                                format!("{} sales recorded, {missing} without floor area (not counted)", t.sales)
                            } else {
                                format!("{} sales recorded", t.sales)
                            },
                        }
                    }
                    Err(s) => unavailable("finance", &s),
                }
            }
            MetricRef::HrIndicator(code) => {
                if self.hr_indicators.is_none() {
                    let req = hr::GetHrIndicatorsRequest { year };
                    self.hr_indicators = Some(match self.up.hr.clone().get_hr_indicators(self.up.request(req)).await {
                        Ok(r) => Ok(r.into_inner().indicators.into_iter().map(|i| (i.code.clone(), i)).collect()),
                        Err(s) => Err(format!("hr did not answer: {} {}", s.code(), s.message())),
                    });
                }
                match self.hr_indicators.as_ref() {
                    Some(Ok(all)) => match all.get(code) {
                        Some(i) if i.kind == hr::IndicatorKind::Milestone as i32 => {
                            Fetched::Milestone { reached: i.milestone_reached, provisional: false }
                        }
                        Some(i) if i.kind == hr::IndicatorKind::Rate as i32 => {
                            let ratio = i.value.clone().unwrap_or_default();
                            // HR gives the milestone beside a rate (SUP.5); the year's target decides which counts.
                            Fetched::RateAndMilestone {
                                numerator: ratio.numerator,
                                denominator: ratio.denominator,
                                reached: i.milestone_reached,
                            }
                        }
                        Some(i) => {
                            let ratio = i.value.clone().unwrap_or_default();
                            Fetched::Number {
                                numerator: ratio.numerator,
                                denominator: None,
                                provisional: false,
                                note: i.definition.clone(),
                            }
                        }
                        None => Fetched::NotAvailable(format!("hr returned no indicator {code} for {year}")),
                    },
                    Some(Err(e)) => Fetched::NotAvailable(e.clone()),
                    None => Fetched::NotAvailable("hr indicators not fetched".into()),
                }
            }
            MetricRef::ActivityTrainees(parameter) | MetricRef::ActivityTraineeHostShare(parameter) => {
                let (category, counted) = crate::domain::catalogue::trainee_parameter(parameter);
                let req = act::CountTraineesRequest { period, scope, categories: vec![category] };
                match self.up.records.clone().count_trainees(self.up.request(req)).await {
                    Ok(r) => {
                        let r = r.into_inner();
                        if matches!(source, MetricRef::ActivityTrainees(_)) {
                            let counted: Vec<i32> = counted
                                .iter()
                                .filter_map(|c| act::TraineeCategory::from_str_name(&format!("TRAINEE_CATEGORY_{c}")))
                                .map(|c| c as i32)
                                .collect();
                            let n = r.by_category.iter().filter(|c| counted.contains(&c.category)).map(|c| c.trainees).sum();
                            Fetched::Number { numerator: n, denominator: None, provisional: false, note: String::new() }
                        } else {
                            Fetched::Number {
                                numerator: r.structures_with_two_or_more,
                                denominator: Some(r.structures_open),
                                provisional: false,
                                note: format!("{} of the {} structures open host at least one trainee", r.structures, r.structures_open),
                            }
                        }
                    }
                    Err(s) => unavailable("activity", &s),
                }
            }
            MetricRef::ActivitySurveyedShare(categories) => {
                let categories = categories.split(',').map(str::to_owned).collect();
                let req = act::CountSurveyedStructuresRequest { period, scope, categories };
                match self.up.records.clone().count_surveyed_structures(self.up.request(req)).await {
                    Ok(r) => {
                        let r = r.into_inner();
                        Fetched::Number {
                            numerator: r.structures_surveyed,
                            denominator: Some(r.structures_open),
                            provisional: false,
                            note: String::new(),
                        }
                    }
                    Err(s) => unavailable("activity", &s),
                }
            }
            MetricRef::Manual(who) => Fetched::NotAvailable(format!("manual value not entered yet ({who})")),
            MetricRef::NotYetAvailable(reason) => Fetched::NotAvailable(reason.clone()),
        }
    }
}
