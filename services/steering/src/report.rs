//! The execution report job: reads the steering API (over gRPC, with the
//! job's signed identity) and writes the indicator annex and the action
//! counts of a year as CSV, plus a simple HTML page. The files depend only on
//! what the API returns for the year and the as-of time, so running the job
//! again with the same `--as-of` writes the same bytes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use filieris_proto::finance as fin;
use filieris_proto::finance::budget_service_client::BudgetServiceClient;
use filieris_proto::steering as pb;
use filieris_proto::steering::steering_service_client::SteeringServiceClient;
use filieris_runtime::config::InternalKey;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::server::timestamp;
use tonic::transport::Channel;

/// Everything a report is built from.
#[derive(Debug, Clone)]
pub struct ReportData {
    pub year: i32,
    pub as_of: DateTime<Utc>,
    pub definitions: Vec<pb::IndicatorDefinition>,
    pub values: Vec<pb::IndicatorValue>,
    pub counts: pb::GetActionCountsResponse,
    /// Budget execution per fund (finance GetBudgetExecution), or why it is missing.
    pub budget: Vec<(String, Result<Vec<fin::ExecutionRow>, String>)>,
}

/// The funds of the budget annex, in report order.
pub const FUNDS: [&str; 3] = ["BNGA", "BNASS", "BNPPS"];

/// The rendered files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub annex_csv: String,
    pub actions_csv: String,
    pub budget_csv: String,
    pub html: String,
}

/// Cents as euros with two decimals, exactly ("-1234.05").
fn euros(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", (cents / 100).unsigned_abs(), (cents % 100).unsigned_abs())
}

const BUDGET_HEADER: [&str; 10] =
    ["fund", "level", "code", "label", "initial_eur", "authorised_eur", "executed_eur", "rate_initial_pct", "rate_final_pct", "note"];

fn budget_rows(data: &ReportData) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (fund, rows) in &data.budget {
        match rows {
            Ok(rows) => {
                for r in rows {
                    let pct = |x: &Option<fin::ExecutionRate>| x.as_ref().map(|x| x.percent.clone()).unwrap_or_default();
                    out.push(vec![
                        fund.clone(),
                        r.level.clone(),
                        r.code.clone(),
                        r.label.clone(),
                        euros(r.initial_cents),
                        euros(r.authorised_cents),
                        euros(r.executed_cents),
                        pct(&r.rate_initial),
                        pct(&r.rate_final),
                        String::new(),
                    ]);
                }
            }
            // A fund the finance service could not give is listed with the reason, not left out.
            Err(reason) => out.push(vec![
                fund.clone(),
                "FUND".into(),
                fund.clone(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                format!("ND: {reason}"),
            ]),
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

fn csv_line(fields: &[&str]) -> String {
    let mut line = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    line.push('\n');
    line
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn enum_name(name: Option<&str>, prefix: &str) -> String {
    name.map(|n| n.trim_start_matches(prefix).to_owned()).unwrap_or_default()
}

/// One annex row per indicator, in catalogue order.
struct AnnexRow {
    cells: Vec<String>,
}

const ANNEX_HEADER: [&str; 16] = [
    "key",
    "number",
    "label_fr",
    "nature",
    "unit",
    "base",
    "target",
    "value",
    "numerator",
    "denominator",
    "provenance",
    "status",
    "qualifiers",
    "reason",
    "definition_version",
    "source",
];

fn annex_rows(data: &ReportData) -> Vec<AnnexRow> {
    data.definitions
        .iter()
        .map(|d| {
            let name = format!("indicators/{}", d.key);
            let v = data.values.iter().find(|v| v.indicator == name).cloned().unwrap_or_default();
            let status = pb::Status::try_from(v.status).map(|s| s.as_str_name()).ok();
            let provenance = pb::Provenance::try_from(v.provenance).map(|s| s.as_str_name()).ok();
            let nature = pb::IndicatorNature::try_from(d.nature).map(|s| s.as_str_name()).ok();
            let qualifiers: Vec<String> = v
                .qualifiers
                .iter()
                .filter_map(|q| pb::Qualifier::try_from(*q).ok())
                .map(|q| q.as_str_name().trim_start_matches("QUALIFIER_").to_owned())
                .collect();
            let is_value = v.kind == pb::ValueKind::Value as i32;
            let kind = enum_name(pb::ValueKind::try_from(v.kind).map(|k| k.as_str_name()).ok(), "VALUE_KIND_");
            AnnexRow {
                cells: vec![
                    d.key.clone(),
                    d.number.to_string(),
                    d.label_fr.clone(),
                    enum_name(nature, "INDICATOR_NATURE_"),
                    d.unit.clone(),
                    d.base.as_ref().map(|b| b.raw.clone()).unwrap_or_default(),
                    v.target_raw.clone(),
                    // NC, ND, blank and text stay as such, never 0.
                    if is_value || kind == "TEXT" { v.display.clone() } else { kind },
                    if is_value { v.numerator.to_string() } else { String::new() },
                    if is_value { v.denominator.map(|d| d.to_string()).unwrap_or_default() } else { String::new() },
                    enum_name(provenance, "PROVENANCE_"),
                    enum_name(status, "STATUS_"),
                    qualifiers.join(" "),
                    v.reason.clone(),
                    v.definition_version.to_string(),
                    v.source.clone(),
                ],
            }
        })
        .collect()
}

/// Renders the annex, the action counts and the HTML page.
pub fn render(data: &ReportData) -> Rendered {
    let rows = annex_rows(data);
    let mut annex_csv = csv_line(&ANNEX_HEADER);
    for r in &rows {
        annex_csv.push_str(&csv_line(&r.cells.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    let mut actions_csv = csv_line(&["axis", "axis_label", "total", "to_come", "in_progress", "done"]);
    let all = data.counts.axes.iter().chain(data.counts.total.as_ref());
    for a in all.clone() {
        let cells = [
            a.axis.to_string(),
            a.axis_label.clone(),
            a.total.to_string(),
            a.to_come.to_string(),
            a.in_progress.to_string(),
            a.done.to_string(),
        ];
        actions_csv.push_str(&csv_line(&cells.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    let budget = budget_rows(data);
    let mut budget_csv = csv_line(&BUDGET_HEADER);
    for r in &budget {
        budget_csv.push_str(&csv_line(&r.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    let as_of = data.as_of.to_rfc3339_opts(SecondsFormat::Micros, true);
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>COG {year} — exécution</title>\n<style>\
         body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin-bottom:2em}}\
         td,th{{border:1px solid #999;padding:2px 6px;font-size:12px;vertical-align:top}}th{{background:#eee}}\
         .MET{{background:#d4f4d4}}.NOT_MET{{background:#f8d0d0}}.AT_RISK{{background:#fbe5c8}}.ON_TRACK{{background:#e4f4e4}}\
         </style></head><body>\n<h1>Rapport d'exécution de la COG — {year}</h1>\n<p>Valeurs telles qu'enregistrées au {as_of}.</p>\n",
        year = data.year,
        as_of = html_escape(&as_of),
    );
    html.push_str("<h2>Annexe : indicateurs</h2>\n<table><tr>");
    for h in ANNEX_HEADER {
        let _ = write!(html, "<th>{}</th>", html_escape(h));
    }
    html.push_str("</tr>\n");
    for r in &rows {
        let status = &r.cells[11];
        let _ = write!(html, "<tr class=\"{}\">", html_escape(status));
        for c in &r.cells {
            let _ = write!(html, "<td>{}</td>", html_escape(c));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n<h2>Actions par axe et statut</h2>\n<table><tr><th>Axe</th><th>Total</th><th>À venir</th><th>En cours</th><th>Réalisées</th></tr>\n");
    for a in all {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html_escape(&a.axis_label),
            a.total,
            a.to_come,
            a.in_progress,
            a.done
        );
    }
    html.push_str("</table>\n");
    html.push_str(&action_chart(&data.counts.axes));
    html.push_str("<h2>Exécution budgétaire par fonds</h2>\n<table><tr>");
    for h in BUDGET_HEADER {
        let _ = write!(html, "<th>{}</th>", html_escape(h));
    }
    html.push_str("</tr>\n");
    for r in &budget {
        html.push_str("<tr>");
        for c in r {
            let _ = write!(html, "<td>{}</td>", html_escape(c));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</table>\n</body></html>\n");
    Rendered { annex_csv, actions_csv, budget_csv, html }
}

/// Horizontal stacked bars of the actions per axis (done, in progress, to
/// come), as inline SVG: integer coordinates, so the same counts give the
/// same bytes.
fn action_chart(axes: &[pb::AxisCounts]) -> String {
    const LABEL: i32 = 220;
    const WIDTH: i32 = 480;
    const BAR: i32 = 22;
    let max = axes.iter().map(|a| a.total).max().unwrap_or(0).max(1);
    let height = 30 + BAR * 2 * i32::try_from(axes.len()).unwrap_or(0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" role=\"img\" aria-label=\"Actions par axe et statut\">\n",
        LABEL + WIDTH + 60
    );
    let legend = [("#2e7d32", "réalisées"), ("#f9a825", "en cours"), ("#b0bec5", "à venir")];
    for (i, (color, text)) in legend.iter().enumerate() {
        let x = LABEL + 130 * i32::try_from(i).unwrap_or(0);
        let _ = writeln!(
            svg,
            "<rect x=\"{x}\" y=\"4\" width=\"12\" height=\"12\" fill=\"{color}\"/><text x=\"{}\" y=\"15\" font-size=\"12\">{text}</text>",
            x + 16
        );
    }
    for (i, a) in axes.iter().enumerate() {
        let y = 30 + BAR * 2 * i32::try_from(i).unwrap_or(0);
        let _ = writeln!(svg, "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text>", y + 15, html_escape(&a.axis_label));
        let mut x = LABEL;
        for (n, (color, _)) in [a.done, a.in_progress, a.to_come].into_iter().zip(legend) {
            let w = WIDTH * n / max;
            if w > 0 {
                let _ = writeln!(svg, "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{BAR}\" fill=\"{color}\"/>");
            }
            x += w;
        }
        let _ = writeln!(svg, "<text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>", x + 6, y + 15, a.total);
    }
    svg.push_str("</svg>\n");
    svg
}

/// The report job's client of the steering API.
pub struct ReportClient {
    client: SteeringServiceClient<Channel>,
    budget: BudgetServiceClient<Channel>,
    key: InternalKey,
}

fn lazy(url: &str, what: &str) -> anyhow::Result<Channel> {
    Ok(tonic::transport::Endpoint::from_shared(url.to_owned())
        .map_err(|e| anyhow::anyhow!("bad {what} URL {url}: {e}"))?
        .connect_timeout(std::time::Duration::from_secs(5))
        .connect_lazy())
}

impl ReportClient {
    /// A client of the steering API at `url` and of the finance budget API at `finance_url`.
    pub fn new(url: &str, finance_url: &str, key: InternalKey) -> anyhow::Result<Self> {
        Ok(Self {
            client: SteeringServiceClient::new(lazy(url, "steering")?),
            budget: BudgetServiceClient::new(lazy(finance_url, "finance")?),
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
        Ok(self.client.clone().compute_indicators(self.request(pb::ComputeIndicatorsRequest { year }, &["steering"])).await?.into_inner())
    }

    /// Reads what the report needs, as of `as_of`.
    pub async fn fetch(&self, year: i32, as_of: DateTime<Utc>) -> anyhow::Result<ReportData> {
        let mut c = self.client.clone();
        let values = c
            .list_indicator_values(
                self.request(pb::ListIndicatorValuesRequest { year, as_of_time: Some(timestamp(as_of)), cog: String::new() }, &["reader"]),
            )
            .await?
            .into_inner()
            .values;
        let all =
            c.list_indicator_definitions(self.request(pb::ListIndicatorDefinitionsRequest { cog: String::new() }, &["reader"])).await?;
        // The definitions of the indicators the values list, in its (annex) order.
        let all = all.into_inner().definitions;
        let definitions =
            values.iter().filter_map(|v| all.iter().find(|d| format!("indicators/{}", d.key) == v.indicator).cloned()).collect();
        let counts = c.get_action_counts(self.request(pb::GetActionCountsRequest { year }, &["reader"])).await?.into_inner();
        let mut budget = Vec::new();
        for fund in FUNDS {
            let req = self.request(fin::GetBudgetExecutionRequest { name: format!("funds/{fund}/years/{year}") }, &["reader"]);
            let rows = match self.budget.clone().get_budget_execution(req).await {
                Ok(r) => Ok(r.into_inner().rows),
                Err(s) => Err(format!("finance did not answer: {} {}", s.code(), s.message())),
            };
            budget.push((fund.to_owned(), rows));
        }
        Ok(ReportData { year, as_of, definitions, values, counts, budget })
    }
}

/// Writes the files into `dir` (created if needed); returns their paths.
pub fn write_files(dir: &Path, year: i32, r: &Rendered) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let files = [
        (format!("cog_{year}_indicator_annex.csv"), &r.annex_csv),
        (format!("cog_{year}_action_counts.csv"), &r.actions_csv),
        (format!("cog_{year}_budget_execution.csv"), &r.budget_csv),
        (format!("cog_{year}_report.html"), &r.html),
    ];
    let mut out = Vec::new();
    for (name, body) in files {
        let path = dir.join(name);
        // Written to a temporary name then renamed: a crash never leaves half a file.
        let tmp = dir.join(format!(".{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("report")));
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, &path)?;
        out.push(path);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_line(&["a", "b,c", "d\"e", ""]), "a,\"b,c\",\"d\"\"e\",\n");
    }

    #[test]
    fn the_annex_keeps_special_values_and_escapes_html() {
        let def = |key: &str, label: &str| pb::IndicatorDefinition {
            key: key.into(),
            number: 1,
            label_fr: label.into(),
            nature: pb::IndicatorNature::Steering as i32,
            unit: "PCT".into(),
            base: Some(pb::PrintedValue { raw: "NC".into(), kind: pb::ValueKind::Nc as i32, ..Default::default() }),
            ..Default::default()
        };
        let data = ReportData {
            year: 2022,
            as_of: DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
            definitions: vec![def("COG22.OFFRE.12", "Taux d'ouverture <MG>"), def("COG22.OFFRE.1", "AFNOR")],
            values: vec![
                pb::IndicatorValue {
                    indicator: "indicators/COG22.OFFRE.12".into(),
                    kind: pb::ValueKind::Value as i32,
                    numerator: 2,
                    denominator: Some(3),
                    display: "66.7".into(),
                    provenance: pb::Provenance::Final as i32,
                    status: pb::Status::NoTarget as i32,
                    target_raw: "x".into(),
                    definition_version: 1,
                    ..Default::default()
                },
                pb::IndicatorValue {
                    indicator: "indicators/COG22.OFFRE.1".into(),
                    kind: pb::ValueKind::Nd as i32,
                    provenance: pb::Provenance::NotAvailable as i32,
                    status: pb::Status::NotEvaluable as i32,
                    reason: "manual value not entered yet".into(),
                    ..Default::default()
                },
            ],
            counts: pb::GetActionCountsResponse {
                axes: vec![pb::AxisCounts {
                    axis: 1,
                    axis_label: "Le projet de santé".into(),
                    total: 2,
                    to_come: 1,
                    in_progress: 1,
                    done: 0,
                }],
                total: Some(pb::AxisCounts { axis: 0, axis_label: "Total".into(), total: 2, to_come: 1, in_progress: 1, done: 0 }),
            },
            budget: vec![
                (
                    "BNGA".into(),
                    Ok(vec![fin::ExecutionRow {
                        level: "FUND".into(),
                        code: "BNGA".into(),
                        label: "Budget national de la gestion administrative".into(),
                        initial_cents: 10_381_000_000,
                        authorised_cents: 10_381_000_000,
                        executed_cents: 8_861_000_005,
                        rate_initial: Some(fin::ExecutionRate {
                            numerator: 8_861_000_005,
                            denominator: 10_381_000_000,
                            percent: "85.36".into(),
                        }),
                        rate_final: None,
                    }]),
                ),
                ("BNASS".into(), Err("finance did not answer".into())),
            ],
        };
        let r = render(&data);
        let lines: Vec<&str> = r.annex_csv.lines().collect();
        assert_eq!(lines[1], "COG22.OFFRE.12,1,Taux d'ouverture <MG>,STEERING,PCT,NC,x,66.7,2,3,FINAL,NO_TARGET,,,1,");
        assert_eq!(lines[2], "COG22.OFFRE.1,1,AFNOR,STEERING,PCT,NC,,ND,,,NOT_AVAILABLE,NOT_EVALUABLE,,manual value not entered yet,0,");
        assert_eq!(r.actions_csv, "axis,axis_label,total,to_come,in_progress,done\n1,Le projet de santé,2,1,1,0\n0,Total,2,1,1,0\n");
        assert!(r.html.contains("Taux d&#39;ouverture &lt;MG&gt;") || r.html.contains("Taux d'ouverture &lt;MG&gt;"));
        assert_eq!(
            r.budget_csv.lines().collect::<Vec<_>>()[1..],
            [
                "BNGA,FUND,BNGA,Budget national de la gestion administrative,103810000.00,103810000.00,88610000.05,85.36,,",
                "BNASS,FUND,BNASS,,,,,,,ND: finance did not answer",
            ]
        );
        assert_eq!(euros(-5), "-0.05");
        assert!(r.html.contains("<svg") && r.html.contains("width=\"240\""), "half of the bar width for 1 of 2 actions");
        assert_eq!(render(&data), r, "same data, same bytes");
    }
}
