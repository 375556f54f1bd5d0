//! What a report is built from, and the job's client that reads it from the
//! services' APIs (steering, finance, activity, missions) with the job's
//! signed identity. A section whose service does not answer carries the
//! reason instead of failing the report.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use filieris_proto::activity as act;
use filieris_proto::activity::activity_service_client::ActivityServiceClient;
use filieris_proto::finance as fin;
use filieris_proto::finance::budget_service_client::BudgetServiceClient;
use filieris_proto::missions as mis;
use filieris_proto::missions::missions_service_client::MissionsServiceClient;
use filieris_proto::steering as pb;
use filieris_proto::steering::steering_service_client::SteeringServiceClient;
use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::server::timestamp;
use tonic::transport::Channel;

/// The funds of the budget annex, in report order.
pub const FUNDS: [&str; 3] = ["BNGA", "BNASS", "BNPPS"];
/// The regional directorates, in report order.
pub const REGIONS: [(&str, &str); 3] = [("NORD", "Nord"), ("EST", "Est"), ("SUD", "Sud")];
/// The activity lines of the opening-rate charts.
pub const LINES: [(&str, &str); 2] = [("GENERAL_MEDICINE", "médecine générale"), ("NURSING", "soins infirmiers")];

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// The annual execution report of a year.
    Year(i32),
    /// The monthly dashboard of a month of a year.
    Month(i32, u32),
}

impl Period {
    pub fn year(self) -> i32 {
        match self {
            Period::Year(y) | Period::Month(y, _) => y,
        }
    }

    /// Last day covered: 31 December, or the month's last day.
    pub fn last_day(self) -> NaiveDate {
        let (y, m) = match self {
            Period::Year(y) => (y, 12),
            Period::Month(y, m) => (y, m),
        };
        let next = if m == 12 { NaiveDate::from_ymd_opt(y + 1, 1, 1) } else { NaiveDate::from_ymd_opt(y, m + 1, 1) };
        next.and_then(|d| d.pred_opt()).unwrap_or(NaiveDate::MIN)
    }

    /// Months of the trend chart: the year's twelve, or January to the month.
    pub fn months(self) -> u32 {
        match self {
            Period::Year(_) => 12,
            Period::Month(_, m) => m,
        }
    }

    /// Prefix of the file names: `cog_2022` or `dashboard_2022-06`.
    pub fn prefix(self) -> String {
        match self {
            Period::Year(y) => format!("cog_{y}"),
            Period::Month(y, m) => format!("dashboard_{y}-{m:02}"),
        }
    }
}

/// An opening rate as activity gives it: the integers of both ratios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rates {
    pub patients: (i64, i64),
    pub acts: (i64, i64),
}

/// One opening-rate answer (or why there is none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpeningRate {
    /// `GENERAL_MEDICINE` or `NURSING`.
    pub line: String,
    /// Activity period code (`2022`, `202206`).
    pub period: String,
    /// `national` or `regions/NORD`.
    pub scope: String,
    pub rates: Result<Rates, String>,
}

/// Everything a report is built from.
#[derive(Debug, Clone)]
pub struct ReportData {
    pub period: Period,
    pub as_of: DateTime<Utc>,
    pub definitions: Vec<pb::IndicatorDefinition>,
    pub values: Vec<pb::IndicatorValue>,
    pub counts: pb::GetActionCountsResponse,
    /// Budget execution per fund (finance GetBudgetExecution), or why it is missing.
    pub budget: Vec<(String, Result<Vec<fin::ExecutionRow>, String>)>,
    /// Delegated-mission figures (missions GetMissionsMetrics), or why they are missing.
    pub missions: Result<mis::GetMissionsMetricsResponse, String>,
    /// Opening rates per month, national, per line (the trend chart).
    pub monthly: Vec<OpeningRate>,
    /// Opening rates of the period per region and line (the bars).
    pub regions: Vec<OpeningRate>,
}

/// Where the job reaches the services.
#[derive(Debug, Clone)]
pub struct ReportUrls {
    pub steering: String,
    pub finance: String,
    pub activity: String,
    pub missions: String,
}

impl Default for ReportUrls {
    fn default() -> Self {
        Self {
            steering: "http://127.0.0.1:50056".into(),
            finance: "http://127.0.0.1:50053".into(),
            activity: "http://127.0.0.1:50052".into(),
            missions: "http://127.0.0.1:50055".into(),
        }
    }
}

/// The report job's client of the services.
pub struct ReportClient {
    steering: SteeringServiceClient<Channel>,
    budget: BudgetServiceClient<Channel>,
    activity: ActivityServiceClient<Channel>,
    missions: MissionsServiceClient<Channel>,
    key: InternalKey,
}

fn lazy(url: &str, what: &str) -> anyhow::Result<Channel> {
    Ok(tonic::transport::Endpoint::from_shared(url.to_owned())
        .map_err(|e| anyhow::anyhow!("bad {what} URL {url}: {e}"))?
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(120))
        .connect_lazy())
}

fn unanswered(service: &str, s: &tonic::Status) -> String {
    format!("{service} did not answer: {} {}", s.code(), s.message())
}

impl ReportClient {
    pub fn new(urls: &ReportUrls, key: InternalKey) -> anyhow::Result<Self> {
        Ok(Self {
            steering: SteeringServiceClient::new(lazy(&urls.steering, "steering")?),
            budget: BudgetServiceClient::new(lazy(&urls.finance, "finance")?),
            activity: ActivityServiceClient::new(lazy(&urls.activity, "activity")?),
            missions: MissionsServiceClient::new(lazy(&urls.missions, "missions")?),
            key,
        })
    }

    fn request<T>(&self, message: T, roles: &[&str]) -> tonic::Request<T> {
        let me = Identity {
            caller: "job:steering-report".into(),
            kind: CallerKind::Job,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            scopes: vec!["*".into()],
        };
        let mut req = tonic::Request::new(message);
        me.attach(&self.key, &mut req);
        req
    }

    /// Runs ComputeIndicators for the year (a new, dated computation).
    pub async fn compute(&self, year: i32) -> anyhow::Result<pb::ComputeIndicatorsResponse> {
        Ok(self
            .steering
            .clone()
            .compute_indicators(self.request(pb::ComputeIndicatorsRequest { year, ..Default::default() }, &["steering"]))
            .await?
            .into_inner())
    }

    /// The indicator values of the year as of `as_of`, with their definitions in annex order.
    pub async fn indicators(
        &self,
        year: i32,
        as_of: DateTime<Utc>,
    ) -> anyhow::Result<(Vec<pb::IndicatorDefinition>, Vec<pb::IndicatorValue>)> {
        let mut c = self.steering.clone();
        let values = c
            .list_indicator_values(
                self.request(
                    pb::ListIndicatorValuesRequest { year, as_of_time: Some(timestamp(as_of)), ..Default::default() },
                    &["reader"],
                ),
            )
            .await?
            .into_inner()
            .values;
        let all = c
            .list_indicator_definitions(self.request(pb::ListIndicatorDefinitionsRequest { cog: String::new() }, &["reader"]))
            .await?
            .into_inner()
            .definitions;
        // Both lists pair up by key; a value without a definition is dropped (it cannot be labelled).
        let mut definitions = Vec::new();
        let mut kept = Vec::new();
        for v in values {
            if let Some(d) = all.iter().find(|d| format!("indicators/{}", d.key) == v.indicator) {
                definitions.push(d.clone());
                kept.push(v);
            }
        }
        Ok((definitions, kept))
    }

    /// The action counts per axis and status of the year.
    pub async fn action_counts(&self, year: i32) -> anyhow::Result<pb::GetActionCountsResponse> {
        Ok(self.steering.clone().get_action_counts(self.request(pb::GetActionCountsRequest { year }, &["reader"])).await?.into_inner())
    }

    /// Budget execution per fund; a fund finance cannot give carries the reason.
    pub async fn budget(&self, year: i32) -> Vec<(String, Result<Vec<fin::ExecutionRow>, String>)> {
        let mut out = Vec::new();
        let mut down: Option<String> = None;
        for fund in FUNDS {
            let rows = match &down {
                Some(reason) => Err(reason.clone()),
                None => {
                    let req = self.request(fin::GetBudgetExecutionRequest { name: format!("funds/{fund}/years/{year}") }, &["reader"]);
                    match self.budget.clone().get_budget_execution(req).await {
                        Ok(r) => Ok(r.into_inner().rows),
                        Err(s) => {
                            let reason = unanswered("finance", &s);
                            // Unreachable once, unreachable for the other funds: do not wait three times.
                            if s.code() == tonic::Code::Unavailable {
                                down = Some(reason.clone());
                            }
                            Err(reason)
                        }
                    }
                }
            };
            out.push((fund.to_owned(), rows));
        }
        out
    }

    /// Delegated-mission figures of the year, statuses at `day`.
    pub async fn missions(&self, year: i32, day: NaiveDate) -> Result<mis::GetMissionsMetricsResponse, String> {
        let req = self.request(mis::GetMissionsMetricsRequest { year, as_of: day.format("%Y-%m-%d").to_string() }, &["reader"]);
        self.missions.clone().get_missions_metrics(req).await.map(tonic::Response::into_inner).map_err(|s| unanswered("missions", &s))
    }

    /// Opening rates for each (line, period, scope); stops calling once activity is unreachable.
    pub async fn opening_rates(&self, asks: &[(&str, String, String)]) -> Vec<OpeningRate> {
        let mut out = Vec::with_capacity(asks.len());
        let mut down: Option<String> = None;
        for (line, period, scope) in asks {
            let rates = match &down {
                Some(reason) => Err(reason.clone()),
                None => {
                    let l =
                        act::ActivityLine::from_str_name(&format!("ACTIVITY_LINE_{line}")).unwrap_or(act::ActivityLine::GeneralMedicine);
                    let req = self
                        .request(act::GetOpeningRateRequest { period: period.clone(), line: l as i32, scope: scope.clone() }, &["reader"]);
                    match self.activity.clone().get_opening_rate(req).await {
                        Ok(r) => {
                            let r = r.into_inner();
                            let pair = |x: Option<act::Ratio>| x.map(|x| (x.numerator, x.denominator)).unwrap_or((0, 0));
                            Ok(Rates { patients: pair(r.patients), acts: pair(r.acts) })
                        }
                        Err(s) => {
                            let reason = unanswered("activity", &s);
                            if s.code() == tonic::Code::Unavailable {
                                down = Some(reason.clone());
                            }
                            Err(reason)
                        }
                    }
                }
            };
            out.push(OpeningRate { line: (*line).to_owned(), period: period.clone(), scope: scope.clone(), rates });
        }
        out
    }
}

/// An opening-rate question: line, activity period code, scope.
pub type Ask = (&'static str, String, String);

/// The opening-rate questions of a report: national per month, per region for the period.
pub fn opening_rate_asks(period: Period) -> (Vec<Ask>, Vec<Ask>) {
    let year = period.year();
    let mut monthly = Vec::new();
    for (line, _) in LINES {
        for m in 1..=period.months() {
            monthly.push((line, format!("{year}{m:02}"), "national".to_owned()));
        }
    }
    let code = match period {
        Period::Year(y) => y.to_string(),
        Period::Month(y, m) => format!("{y}{m:02}"),
    };
    let mut regions = Vec::new();
    for (line, _) in LINES {
        for (r, _) in REGIONS {
            regions.push((line, code.clone(), format!("regions/{r}")));
        }
    }
    (monthly, regions)
}

/// The status date of the missions figures: the period's last day, or the as-of day if earlier.
pub fn missions_day(period: Period, as_of: DateTime<Utc>) -> NaiveDate {
    period.last_day().min(as_of.date_naive())
}

/// Checks a `YYYY-MM` month.
pub fn parse_month(s: &str) -> Option<Period> {
    let (y, m) = s.split_once('-')?;
    let (y, m) = (y.parse::<i32>().ok()?, m.parse::<u32>().ok()?);
    NaiveDate::from_ymd_opt(y, m, 1).map(|d| Period::Month(d.year(), d.month()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        assert_eq!(Period::Year(2022).last_day(), NaiveDate::from_ymd_opt(2022, 12, 31).unwrap_or_default());
        assert_eq!(Period::Month(2024, 2).last_day(), NaiveDate::from_ymd_opt(2024, 2, 29).unwrap_or_default());
        assert_eq!(parse_month("2022-06"), Some(Period::Month(2022, 6)));
        assert_eq!(parse_month("2022-13"), None);
        assert_eq!(Period::Month(2022, 6).prefix(), "dashboard_2022-06");
        let (monthly, regions) = opening_rate_asks(Period::Month(2022, 6));
        assert_eq!(monthly.len(), 12);
        assert_eq!(regions[0], ("GENERAL_MEDICINE", "202206".to_owned(), "regions/NORD".to_owned()));
    }
}
