//! From [`ReportData`] to the report: the document (in French, structured
//! like the 2018 execution report) and the CSV of every table and chart.
//! Nothing here reads the clock: the dates printed come from the as-of.

use std::collections::BTreeMap;

use chrono::SecondsFormat;
use filieris_proto::finance as fin;
use filieris_proto::missions as mis;
use filieris_proto::steering as pb;

use super::charts::{self, Chart, Kind, Series};
use super::data::{LINES, OpeningRate, Period, REGIONS, ReportData, missions_day};
use super::doc::{Block, Doc, Figure, Row, Table, Tone};
use super::text::{
    csv, enum_name, euros, fr_decimal, fr_euros, fr_number, month_fr, month_short_fr, provenance_fr, status_fr, value_fr, with_unit,
};

/// A CSV file of the report: name suffix and content.
pub type CsvFile = (String, String);

fn cog_of(year: i32) -> &'static str {
    if year <= 2021 { "COG 2018-2021" } else { "COG 2022-2024" }
}

fn block_fr(block: &str) -> &'static str {
    match block {
        "FINRES" => "Résultats financiers de l'offre de santé Filieris",
        "SUP" => "Fonctions support : ressources humaines, immobilier, achats",
        "OFFRE" => "Offre de santé Filieris : qualité, médico-social, centres de santé",
        _ => "Autres indicateurs",
    }
}

fn date_fr(d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    format!("{} {} {}", d.day(), month_fr(d.month()), d.year())
}

fn as_of_fr(data: &ReportData) -> String {
    use chrono::Timelike;
    let t = data.as_of;
    format!("{} à {:02}:{:02} UTC", date_fr(t.date_naive()), t.hour(), t.minute())
}

/// A ratio in percent, or `None` without a denominator.
fn pct((num, den): (i64, i64)) -> Option<f64> {
    (den > 0).then(|| num as f64 * 100.0 / den as f64)
}

fn pct_fr(r: (i64, i64)) -> String {
    pct(r).map(|p| format!("{} %", fr_number(p, 1))).unwrap_or_else(|| "ND".into())
}

/// Status bucket of a value for the synthesis counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Bucket {
    Met,
    NotMet,
    OnTrack,
    AtRisk,
    NotEvaluable,
    NoTarget,
}

fn bucket(v: &pb::IndicatorValue) -> Bucket {
    match pb::Status::try_from(v.status) {
        Ok(pb::Status::Met) => Bucket::Met,
        Ok(pb::Status::NotMet) => Bucket::NotMet,
        Ok(pb::Status::OnTrack) => Bucket::OnTrack,
        Ok(pb::Status::AtRisk) => Bucket::AtRisk,
        Ok(pb::Status::NoTarget) => Bucket::NoTarget,
        _ => Bucket::NotEvaluable,
    }
}

fn tone(v: &pb::IndicatorValue) -> Tone {
    if v.provenance == pb::Provenance::NotAvailable as i32 {
        return Tone::Muted;
    }
    match bucket(v) {
        Bucket::Met | Bucket::OnTrack => Tone::Good,
        Bucket::NotMet if v.qualifiers.contains(&(pb::Qualifier::BetterThanBase as i32)) => Tone::Warn,
        Bucket::NotMet => Tone::Bad,
        Bucket::AtRisk => Tone::Warn,
        _ => Tone::Plain,
    }
}

/// The result cell: value, with a mark for a manual or provisional value.
fn result_cell(v: &pb::IndicatorValue, unit: &str) -> String {
    let value = value_fr(v, unit);
    match pb::Provenance::try_from(v.provenance) {
        Ok(pb::Provenance::Manual) => format!("{value} (m)"),
        Ok(pb::Provenance::Provisional) => format!("{value} (p)"),
        _ => value,
    }
}

/// Counts per block: indicators, then one per bucket, then not available.
#[derive(Debug, Default, Clone)]
struct BlockCounts {
    total: usize,
    buckets: BTreeMap<Bucket, usize>,
    not_available: usize,
    manual: usize,
}

fn pairs(data: &ReportData) -> impl Iterator<Item = (&pb::IndicatorDefinition, &pb::IndicatorValue)> {
    data.definitions.iter().zip(&data.values)
}

fn block_counts(data: &ReportData) -> Vec<(String, BlockCounts)> {
    let mut out: Vec<(String, BlockCounts)> = Vec::new();
    for (d, v) in pairs(data) {
        let i = match out.iter().position(|(b, _)| *b == d.block) {
            Some(i) => i,
            None => {
                out.push((d.block.clone(), BlockCounts::default()));
                out.len() - 1
            }
        };
        let c = &mut out[i].1;
        c.total += 1;
        *c.buckets.entry(bucket(v)).or_default() += 1;
        if v.provenance == pb::Provenance::NotAvailable as i32 {
            c.not_available += 1;
        }
        if v.provenance == pb::Provenance::Manual as i32 {
            c.manual += 1;
        }
    }
    out
}

const SYNTHESIS_HEADER: [&str; 10] =
    ["block", "indicators", "met", "not_met", "on_track", "at_risk", "not_evaluable", "no_target", "not_available", "manual"];

fn synthesis_rows(counts: &[(String, BlockCounts)]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut all = BlockCounts::default();
    for (b, c) in counts {
        all.total += c.total;
        all.not_available += c.not_available;
        all.manual += c.manual;
        for (k, n) in &c.buckets {
            *all.buckets.entry(*k).or_default() += n;
        }
        rows.push(count_row(b, c));
    }
    rows.push(count_row("TOTAL", &all));
    rows
}

fn count_row(name: &str, c: &BlockCounts) -> Vec<String> {
    let n = |b: Bucket| c.buckets.get(&b).copied().unwrap_or(0).to_string();
    vec![
        name.to_owned(),
        c.total.to_string(),
        n(Bucket::Met),
        n(Bucket::NotMet),
        n(Bucket::OnTrack),
        n(Bucket::AtRisk),
        n(Bucket::NotEvaluable),
        n(Bucket::NoTarget),
        c.not_available.to_string(),
        c.manual.to_string(),
    ]
}

// ---------------------------------------------------------------- annex --

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

fn annex_csv_rows(data: &ReportData) -> Vec<Vec<String>> {
    pairs(data)
        .map(|(d, v)| {
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
            vec![
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
            ]
        })
        .collect()
}

fn annex_table(data: &ReportData, compact: bool) -> Table {
    let year = data.period.year();
    let target = format!("Cible {year}");
    let result = format!("Résultat {year}");
    let mut t = if compact {
        Table::new(&["Indicateur", "Libellé", &target, &result, "Statut"], &[62.0, 200.0, 55.0, 70.0, 70.0]).numeric(&[3])
    } else {
        Table::new(
            &["Indicateur", "Libellé", "Base", &target, &result, "Provenance", "Statut", "Observations"],
            &[76.0, 150.0, 62.0, 46.0, 68.0, 52.0, 52.0, 90.0],
        )
        .numeric(&[4])
        .font_size(6.6)
    };
    for (d, v) in pairs(data) {
        let base = d
            .base
            .as_ref()
            .map(|b| if b.kind == pb::ValueKind::Value as i32 { fr_decimal(&b.raw) } else { b.raw.clone() })
            .unwrap_or_default();
        let status = status_fr(v.status, &v.qualifiers);
        let cells = if compact {
            vec![d.key.clone(), d.label_fr.clone(), v.target_raw.clone(), result_cell(v, &d.unit), status]
        } else {
            vec![
                d.key.clone(),
                d.label_fr.clone(),
                base,
                v.target_raw.clone(),
                result_cell(v, &d.unit),
                provenance_fr(v.provenance).to_owned(),
                status,
                // The reason of a missing value, or the comment of a manual one; a computed value's source note stays in the CSV.
                if matches!(pb::Provenance::try_from(v.provenance), Ok(pb::Provenance::NotAvailable | pb::Provenance::Manual)) {
                    v.reason.clone()
                } else {
                    String::new()
                },
            ]
        };
        t.rows.push(Row::new(cells).tone(tone(v)));
    }
    t
}

// -------------------------------------------------------------- actions --

fn actions_rows(data: &ReportData) -> Vec<Vec<String>> {
    data.counts
        .axes
        .iter()
        .chain(data.counts.total.as_ref())
        .map(|a| {
            vec![
                a.axis.to_string(),
                a.axis_label.clone(),
                a.total.to_string(),
                a.to_come.to_string(),
                a.in_progress.to_string(),
                a.done.to_string(),
            ]
        })
        .collect()
}

fn actions_table(data: &ReportData) -> Table {
    let mut t =
        Table::new(&["Axe", "Actions", "Réalisées", "En cours", "À venir", "Part réalisée"], &[220.0, 50.0, 50.0, 50.0, 50.0, 55.0])
            .numeric(&[1, 2, 3, 4, 5]);
    let share = |a: &pb::AxisCounts| {
        pct((i64::from(a.done), i64::from(a.total))).map(|p| format!("{} %", fr_number(p, 1))).unwrap_or_else(|| "—".into())
    };
    for a in &data.counts.axes {
        let label = if a.axis > 0 { format!("{}. {}", a.axis, a.axis_label) } else { a.axis_label.clone() };
        t.rows.push(Row::new(vec![
            label,
            a.total.to_string(),
            a.done.to_string(),
            a.in_progress.to_string(),
            a.to_come.to_string(),
            share(a),
        ]));
    }
    if let Some(a) = &data.counts.total {
        t.rows.push(
            Row::new(vec![
                "Total".into(),
                a.total.to_string(),
                a.done.to_string(),
                a.in_progress.to_string(),
                a.to_come.to_string(),
                share(a),
            ])
            .tone(Tone::Total),
        );
    }
    t
}

fn actions_chart(data: &ReportData) -> Chart {
    let axes = &data.counts.axes;
    let series = |name: &str, color, f: fn(&pb::AxisCounts) -> i32| Series {
        name: name.into(),
        color,
        values: axes.iter().map(|a| Some(f64::from(f(a)))).collect(),
    };
    Chart {
        id: "actions_by_axis".into(),
        title: format!("Actions {} par axe et statut", data.period.year()),
        unit: "actions".into(),
        categories: axes.iter().map(|a| format!("{}. {}", a.axis, a.axis_label)).collect(),
        series: vec![
            series("réalisées", charts::GREEN, |a| a.done),
            series("en cours", charts::YELLOW, |a| a.in_progress),
            series("à venir", charts::GREY, |a| a.to_come),
        ],
        kind: Kind::StackedBars,
        decimals: 0,
        note: "Source : calendrier des actions (annexe 2 de la COG), statut enregistré à la date d'arrêté.".into(),
    }
}

// --------------------------------------------------------------- budget --

const BUDGET_HEADER: [&str; 10] =
    ["fund", "level", "code", "label", "initial_eur", "authorised_eur", "executed_eur", "rate_initial_pct", "rate_final_pct", "note"];

fn rate(x: &Option<fin::ExecutionRate>) -> String {
    x.as_ref().map(|x| x.percent.clone()).unwrap_or_default()
}

fn budget_rows(data: &ReportData) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (fund, rows) in &data.budget {
        match rows {
            Ok(rows) => {
                for r in rows {
                    out.push(vec![
                        fund.clone(),
                        r.level.clone(),
                        r.code.clone(),
                        r.label.clone(),
                        euros(r.initial_cents),
                        euros(r.authorised_cents),
                        euros(r.executed_cents),
                        rate(&r.rate_initial),
                        rate(&r.rate_final),
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

fn budget_table(data: &ReportData, funds_only: bool) -> Table {
    let mut t = Table::new(
        &["Fonds / section / ligne", "Libellé", "Initial", "Autorisé", "Exécuté", "Taux / initial", "Taux / autorisé"],
        &[70.0, 150.0, 62.0, 62.0, 62.0, 40.0, 44.0],
    )
    .numeric(&[2, 3, 4, 5, 6])
    .font_size(7.2);
    let pct = |x: &Option<fin::ExecutionRate>| x.as_ref().map(|x| format!("{} %", fr_decimal(&x.percent))).unwrap_or_else(|| "—".into());
    for (fund, rows) in &data.budget {
        match rows {
            Ok(rows) if rows.is_empty() => {
                t.rows.push(Row::new(vec![fund.clone(), "aucune ligne budgétaire pour l'année".into()]).tone(Tone::Muted));
            }
            Ok(rows) => {
                for r in rows.iter().filter(|r| !funds_only || r.level == "FUND") {
                    let indent = match r.level.as_str() {
                        "FUND" => "",
                        "SECTION" => "  ",
                        _ => "    ",
                    };
                    let row = Row::new(vec![
                        format!("{indent}{}", r.code),
                        r.label.clone(),
                        fr_euros(r.initial_cents),
                        fr_euros(r.authorised_cents),
                        fr_euros(r.executed_cents),
                        pct(&r.rate_initial),
                        pct(&r.rate_final),
                    ]);
                    t.rows.push(if r.level == "FUND" { row.tone(Tone::Total) } else { row });
                }
            }
            Err(reason) => t.rows.push(Row::new(vec![fund.clone(), format!("ND — {reason}")]).tone(Tone::Muted)),
        }
    }
    t
}

fn budget_chart(data: &ReportData) -> Chart {
    let fund_row =
        |rows: &Result<Vec<fin::ExecutionRow>, String>| rows.as_ref().ok().and_then(|r| r.iter().find(|r| r.level == "FUND").cloned());
    let series = |name: &str, color, f: fn(&fin::ExecutionRow) -> i64| Series {
        name: name.into(),
        color,
        values: data.budget.iter().map(|(_, rows)| fund_row(rows).map(|r| f(&r) as f64 / 100_000_000.0)).collect(),
    };
    Chart {
        id: "budget_by_fund".into(),
        title: format!("Exécution budgétaire {} par fonds (M€)", data.period.year()),
        unit: "M€".into(),
        categories: data.budget.iter().map(|(f, _)| f.clone()).collect(),
        series: vec![
            series("crédits initiaux", charts::GREY, |r| r.initial_cents),
            series("crédits autorisés", charts::BLUE, |r| r.authorised_cents),
            series("exécuté", charts::GREEN, |r| r.executed_cents),
        ],
        kind: Kind::Bars,
        decimals: 2,
        note: "Source : service finance (GetBudgetExecution), montants lus à la génération du rapport.".into(),
    }
}

// ---------------------------------------------------- financial results --

fn finres_chart(data: &ReportData) -> Option<Chart> {
    let rows: Vec<(&pb::IndicatorDefinition, &pb::IndicatorValue)> =
        pairs(data).filter(|(d, _)| d.block == "FINRES" && d.unit == "EUR").collect();
    if rows.is_empty() {
        return None;
    }
    let base = |d: &pb::IndicatorDefinition| {
        d.base.as_ref().filter(|b| b.kind == pb::ValueKind::Value as i32).map(|b| b.numerator as f64 / 10f64.powi(b.scale) / 1_000_000.0)
    };
    let result = |v: &pb::IndicatorValue| (v.kind == pb::ValueKind::Value as i32).then(|| v.numerator as f64 / 100.0 / 1_000_000.0);
    Some(Chart {
        id: "financial_results".into(),
        title: format!("Résultats financiers par périmètre : base et {} (M€)", data.period.year()),
        unit: "M€".into(),
        categories: rows.iter().map(|(d, _)| d.number.to_string()).collect(),
        series: vec![
            Series { name: "base".into(), color: charts::GREY, values: rows.iter().map(|(d, _)| base(d)).collect() },
            Series {
                name: format!("résultat {}", data.period.year()),
                color: charts::BLUE,
                values: rows.iter().map(|(_, v)| result(v)).collect(),
            },
        ],
        kind: Kind::Bars,
        decimals: 1,
        note: "Numéros des indicateurs de résultat financier (annexe 1) ; un résultat non disponible est laissé vide.".into(),
    })
}

fn finres_table(data: &ReportData) -> Table {
    let year = data.period.year();
    let mut t = Table::new(
        &["N°", "Périmètre", "Base 2019", &format!("Cible {year}"), &format!("Résultat {year}"), "Statut"],
        &[22.0, 200.0, 70.0, 50.0, 75.0, 70.0],
    )
    .numeric(&[2, 4])
    .font_size(7.2);
    for (d, v) in pairs(data).filter(|(d, _)| d.block == "FINRES") {
        let base = d.base.as_ref().map(|b| b.raw.clone()).unwrap_or_default();
        t.rows.push(
            Row::new(vec![
                d.number.to_string(),
                d.label_fr.clone(),
                base,
                v.target_raw.clone(),
                result_cell(v, &d.unit),
                status_fr(v.status, &v.qualifiers),
            ])
            .tone(tone(v)),
        );
    }
    t
}

// ------------------------------------------------------ opening rates --

fn monthly_chart(data: &ReportData) -> Chart {
    let months = data.period.months();
    let mut series = Vec::new();
    let colors = [charts::BLUE, charts::ORANGE, charts::GREEN, charts::PURPLE];
    let mut k = 0;
    for (line, label) in LINES {
        for (what, patients) in [("patients", true), ("actes", false)] {
            let values = (1..=months)
                .map(|m| {
                    let period = format!("{}{m:02}", data.period.year());
                    data.monthly
                        .iter()
                        .find(|r| r.line == line && r.period == period)
                        .and_then(|r| r.rates.as_ref().ok())
                        .and_then(|r| pct(if patients { r.patients } else { r.acts }))
                })
                .collect();
            series.push(Series { name: format!("{label} — {what}"), color: colors[k % colors.len()], values });
            k += 1;
        }
    }
    let failed = data.monthly.iter().find_map(|r| r.rates.as_ref().err());
    Chart {
        id: "opening_rate_by_month".into(),
        title: format!("Taux d'ouverture mensuel {} (national)", data.period.year()),
        unit: "%".into(),
        categories: (1..=months).map(|m| month_short_fr(m).to_owned()).collect(),
        series,
        kind: Kind::Lines,
        decimals: 1,
        note: match failed {
            Some(reason) => format!("Source : service activité (GetOpeningRate). Données manquantes : {reason}."),
            None => "Source : service activité (GetOpeningRate) ; part des patients et des actes hors régime minier. Un mois sans activité est laissé vide.".into(),
        },
    }
}

fn region_rates<'a>(data: &'a ReportData, line: &str, region: &str) -> Option<&'a OpeningRate> {
    data.regions.iter().find(|r| r.line == line && r.scope == format!("regions/{region}"))
}

fn regions_chart(data: &ReportData) -> Chart {
    let colors = [charts::BLUE, charts::ORANGE, charts::GREEN, charts::PURPLE];
    let mut series = Vec::new();
    let mut k = 0;
    for (line, label) in LINES {
        for (what, patients) in [("patients", true), ("actes", false)] {
            let values = REGIONS
                .iter()
                .map(|(r, _)| {
                    region_rates(data, line, r)
                        .and_then(|x| x.rates.as_ref().ok())
                        .and_then(|x| pct(if patients { x.patients } else { x.acts }))
                })
                .collect();
            series.push(Series { name: format!("{label} — {what}"), color: colors[k % colors.len()], values });
            k += 1;
        }
    }
    let period = match data.period {
        Period::Year(y) => y.to_string(),
        Period::Month(y, m) => format!("{} {y}", month_fr(m)),
    };
    Chart {
        id: "opening_rate_by_region".into(),
        title: format!("Taux d'ouverture par direction régionale — {period}"),
        unit: "%".into(),
        categories: REGIONS.iter().map(|(_, n)| (*n).to_owned()).collect(),
        series,
        kind: Kind::Bars,
        decimals: 1,
        note: "Source : service activité (GetOpeningRate, périmètre regions/NORD, EST, SUD). Un patient vu dans deux régions compte dans chacune."
            .into(),
    }
}

fn regions_table(data: &ReportData) -> Table {
    let mut t = Table::new(
        &["Direction régionale", "Ligne", "Patients hors régime minier", "Taux patients", "Actes hors régime minier", "Taux actes"],
        &[80.0, 90.0, 80.0, 55.0, 80.0, 55.0],
    )
    .numeric(&[2, 3, 4, 5]);
    for (r, name) in REGIONS {
        for (line, label) in LINES {
            let cells = match region_rates(data, line, r).map(|x| &x.rates) {
                Some(Ok(x)) => vec![
                    name.to_owned(),
                    label.to_owned(),
                    format!("{} / {}", fr_number(x.patients.0 as f64, 0), fr_number(x.patients.1 as f64, 0)),
                    pct_fr(x.patients),
                    format!("{} / {}", fr_number(x.acts.0 as f64, 0), fr_number(x.acts.1 as f64, 0)),
                    pct_fr(x.acts),
                ],
                Some(Err(reason)) => vec![name.to_owned(), label.to_owned(), format!("ND — {reason}")],
                None => vec![name.to_owned(), label.to_owned(), "ND".into()],
            };
            t.rows.push(Row::new(cells));
        }
    }
    t
}

fn rates_csv(rates: &[OpeningRate]) -> String {
    let rows: Vec<Vec<String>> = rates
        .iter()
        .map(|r| match &r.rates {
            Ok(x) => vec![
                r.line.clone(),
                r.period.clone(),
                r.scope.clone(),
                x.patients.0.to_string(),
                x.patients.1.to_string(),
                x.acts.0.to_string(),
                x.acts.1.to_string(),
                String::new(),
            ],
            Err(e) => vec![
                r.line.clone(),
                r.period.clone(),
                r.scope.clone(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                format!("ND: {e}"),
            ],
        })
        .collect();
    csv(&["line", "period", "scope", "patients_other_schemes", "patients_all", "acts_other_schemes", "acts_all", "note"], &rows)
}

/// A chart's data as CSV: one row per category, one column per series.
pub fn chart_csv(c: &Chart) -> String {
    let mut header = vec!["category".to_owned()];
    header.extend(c.series.iter().map(|s| s.name.clone()));
    let rows: Vec<Vec<String>> = c
        .categories
        .iter()
        .enumerate()
        .map(|(i, cat)| {
            let mut row = vec![cat.clone()];
            row.extend(
                c.series
                    .iter()
                    .map(|s| s.values.get(i).copied().flatten().filter(|v| v.is_finite()).map(|v| format!("{v:.4}")).unwrap_or_default()),
            );
            row
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    csv(&header, &rows)
}

// ------------------------------------------------------------- missions --

fn body_fr(b: i32) -> &'static str {
    match mis::SteeringBody::try_from(b) {
        Ok(mis::SteeringBody::CofilManga) => "COFIL MANGA (CNAM)",
        Ok(mis::SteeringBody::CanssmCdcQuarterly) => "réunions CANSSM-CDC",
        Ok(mis::SteeringBody::CanssmAngdm) => "réunions CANSSM-ANGDM",
        _ => "instance",
    }
}

fn partner_fr(p: i32) -> String {
    mis::Partner::try_from(p).map(|p| p.as_str_name().trim_start_matches("PARTNER_").to_owned()).unwrap_or_default()
}

fn statistic_value(s: &mis::StatisticValue) -> String {
    match mis::MissingValue::try_from(s.missing) {
        Ok(mis::MissingValue::Nd) => format!("ND ({})", s.missing_reason),
        Ok(mis::MissingValue::Nc) => "NC".into(),
        _ => {
            let v = s.value as f64 / 10f64.powi(s.scale);
            match s.unit.as_str() {
                "CENTS" => fr_euros(s.value),
                "PERCENT" => format!("{} %", fr_number(v, s.scale.max(0) as usize)),
                "DAYS" => format!("{} jours", fr_number(v, s.scale.max(0) as usize)),
                "YEARS" => format!("{} ans", fr_number(v, s.scale.max(0) as usize)),
                _ => fr_number(v, s.scale.max(0) as usize),
            }
        }
    }
}

fn missions_rows(data: &ReportData) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    match &data.missions {
        Err(reason) => rows.push(vec!["unavailable".into(), String::new(), String::new(), String::new(), format!("ND: {reason}")]),
        Ok(m) => {
            if let Some(d) = &m.deliverables {
                for (k, v) in [("due", d.due), ("on_time", d.on_time), ("late", d.late), ("missing", d.missing), ("expected", d.expected)] {
                    rows.push(vec!["deliverables".into(), k.into(), String::new(), v.to_string(), String::new()]);
                }
            }
            for x in &m.meetings {
                let body = mis::SteeringBody::try_from(x.body).map(|b| b.as_str_name().to_owned()).unwrap_or_default();
                rows.push(vec![
                    "meetings".into(),
                    body.clone(),
                    x.mandate.clone(),
                    x.held_meetings.to_string(),
                    format!("required {}", x.required_meetings),
                ]);
            }
            if let Some(c) = &m.claims {
                for (k, v) in [
                    ("received", c.received),
                    ("answered", c.answered),
                    ("answered_within_target", c.answered_within_target),
                    ("open_overdue", c.open_overdue),
                ] {
                    rows.push(vec!["claims".into(), k.into(), String::new(), v.to_string(), String::new()]);
                }
            }
            for s in &m.population {
                let value = if s.missing == 0 { s.value.to_string() } else { String::new() };
                let note = if s.missing == 0 {
                    format!("scale {} {}", s.scale, s.unit)
                } else {
                    format!("{} {}", if s.missing == 1 { "ND" } else { "NC" }, s.missing_reason)
                };
                rows.push(vec![
                    "population".into(),
                    format!("{}/{}", partner_fr(s.partner), s.series),
                    format!("{} {}", s.period, s.dimension).trim().to_owned(),
                    value,
                    note,
                ]);
            }
        }
    }
    rows
}

fn missions_blocks(data: &ReportData, blocks: &mut Vec<Block>) {
    let day = date_fr(missions_day(data.period, data.as_of));
    match &data.missions {
        Err(reason) => {
            blocks.push(Block::Para(format!(
                "Les données des missions déléguées ne sont pas disponibles : le service des missions n'a pas répondu à la génération du rapport ({reason}). La section sera complétée à la prochaine génération."
            )));
        }
        Ok(m) => {
            blocks.push(Block::Para(format!(
                "Indicateurs de gestion déléguée (CNAM via les CPAM de l'Artois et de Moselle, Caisse des dépôts, ANGDM), statuts au {day}. Les valeurs sont celles déclarées par les mandataires."
            )));
            let d = m.deliverables.unwrap_or_default();
            let c = m.claims.unwrap_or_default();
            blocks.push(Block::Figures(vec![
                Figure {
                    value: format!("{} / {}", d.on_time, d.due),
                    label: "livrables reçus dans les délais / attendus dans l'année".into(),
                },
                Figure { value: d.missing.to_string(), label: "livrables manquants (échus, non reçus)".into() },
                Figure {
                    value: format!("{} / {}", c.answered_within_target, c.received),
                    label: "réclamations traitées dans le délai cible / reçues".into(),
                },
            ]));
            let mut t = Table::new(
                &["Livrables", "Attendus", "Dans les délais", "En retard", "Manquants", "Non encore échus"],
                &[110.0, 60.0, 60.0, 60.0, 60.0, 60.0],
            )
            .numeric(&[1, 2, 3, 4, 5]);
            t.rows.push(Row::new(vec![
                "Livrables des conventions".into(),
                d.due.to_string(),
                d.on_time.to_string(),
                d.late.to_string(),
                d.missing.to_string(),
                d.expected.to_string(),
            ]));
            blocks.push(Block::Table(t));
            if !m.meetings.is_empty() {
                let mut t = Table::new(
                    &["Mandat", "Instance", "Réunions requises", "Tenues (avec compte rendu)", "Conforme"],
                    &[120.0, 120.0, 60.0, 70.0, 50.0],
                )
                .numeric(&[2, 3]);
                for x in &m.meetings {
                    let row = Row::new(vec![
                        x.mandate.trim_start_matches("mandates/").to_owned(),
                        body_fr(x.body).into(),
                        x.required_meetings.to_string(),
                        x.held_meetings.to_string(),
                        if x.compliant { "oui".into() } else { "non".into() },
                    ]);
                    t.rows.push(row.tone(if x.compliant { Tone::Good } else { Tone::Bad }));
                }
                blocks.push(Block::Heading { level: 2, text: "Gouvernance des conventions".into() });
                blocks.push(Block::Table(t));
            }
            let mut t = Table::new(
                &["Réclamations", "Reçues", "Traitées", "Dans le délai cible", "En retard, non traitées"],
                &[120.0, 60.0, 60.0, 70.0, 80.0],
            )
            .numeric(&[1, 2, 3, 4]);
            t.rows.push(Row::new(vec![
                "Réclamations de l'année".into(),
                c.received.to_string(),
                c.answered.to_string(),
                c.answered_within_target.to_string(),
                c.open_overdue.to_string(),
            ]));
            blocks.push(Block::Table(t));
            if !m.population.is_empty() {
                let mut t = Table::new(&["Mandataire", "Série", "Période", "Dimension", "Valeur"], &[60.0, 130.0, 55.0, 90.0, 90.0])
                    .numeric(&[4])
                    .font_size(7.2);
                for s in &m.population {
                    let row =
                        Row::new(vec![partner_fr(s.partner), s.series.clone(), s.period.clone(), s.dimension.clone(), statistic_value(s)]);
                    t.rows.push(if s.missing != 0 { row.tone(Tone::Muted) } else { row });
                }
                blocks.push(Block::Heading { level: 2, text: "Populations et prestations déclarées par les mandataires".into() });
                blocks.push(Block::Table(t));
            }
        }
    }
}

// ------------------------------------------------------------ synthesis --

fn headline(data: &ReportData, block: &str) -> Vec<Figure> {
    let rows: Vec<_> = pairs(data).filter(|(d, _)| d.block == block).collect();
    let mut figures = Vec::new();
    if block == "FINRES" {
        let with_value: Vec<_> = rows.iter().filter(|(_, v)| v.kind == pb::ValueKind::Value as i32).collect();
        if !with_value.is_empty() {
            let sum: i64 = with_value.iter().map(|(_, v)| v.numerator).sum();
            figures.push(Figure {
                value: format!("{} M€", fr_number(sum as f64 / 100_000_000.0, 2)),
                label: format!("résultat cumulé {} des {} périmètres disposant d'un résultat", data.period.year(), with_value.len()),
            });
            let base: f64 = with_value
                .iter()
                .filter_map(|(d, _)| d.base.as_ref().filter(|b| b.kind == pb::ValueKind::Value as i32))
                .map(|b| b.numerator as f64 / 10f64.powi(b.scale))
                .sum();
            figures.push(Figure {
                value: format!("{} M€", fr_number(base / 1_000_000.0, 2)),
                label: "base 2019 cumulée des mêmes périmètres".into(),
            });
        }
        let met = rows.iter().filter(|(_, v)| matches!(bucket(v), Bucket::Met | Bucket::OnTrack)).count();
        figures.push(Figure { value: format!("{met} / {}", rows.len()), label: "objectifs atteints ou en bonne voie".into() });
        return figures;
    }
    for (d, v) in rows.iter().filter(|(_, v)| v.kind == pb::ValueKind::Value as i32).take(6) {
        let label = charts::fit(&d.label_fr, 7.5, 480.0);
        figures.push(Figure { value: with_unit(&v.display, &d.unit), label: format!("{} — {label}", d.key) });
    }
    figures
}

fn synthesis_table(counts: &[(String, BlockCounts)]) -> Table {
    let mut t = Table::new(
        &[
            "Bloc",
            "Indicateurs",
            "Atteints",
            "Non atteints",
            "En bonne voie",
            "À risque",
            "Non évaluables",
            "Sans cible",
            "Non disponibles",
        ],
        &[120.0, 45.0, 42.0, 42.0, 42.0, 40.0, 45.0, 40.0, 47.0],
    )
    .numeric(&[1, 2, 3, 4, 5, 6, 7, 8])
    .font_size(7.5);
    for row in synthesis_rows(counts) {
        let total = row[0] == "TOTAL";
        let name = if total { "Total".to_owned() } else { format!("{} ({})", block_fr(&row[0]), row[0]) };
        let mut cells = vec![name];
        cells.extend(row[1..9].iter().cloned());
        t.rows.push(if total { Row::new(cells).tone(Tone::Total) } else { Row::new(cells) });
    }
    t
}

fn legend_note() -> String {
    "Lecture : (m) valeur saisie manuellement (source hors plateforme) ; (p) valeur provisoire (exercice non clos) ; NC non communiqué ; \
     ND non disponible, le motif figure en observations ; case vide : aucune valeur publiée. Les statuts comparent la valeur exacte à la cible \
     de l'année ; « partiellement atteint » : cible manquée mais valeur meilleure que la base."
        .into()
}

// ------------------------------------------------------------ documents --

/// The files of a report: the document and the CSV files (name suffix, content).
pub fn compose(data: &ReportData) -> (Doc, Vec<CsvFile>) {
    match data.period {
        Period::Year(_) => annual(data),
        Period::Month(..) => monthly(data),
    }
}

fn created(data: &ReportData) -> String {
    data.as_of.format("%Y%m%d%H%M%S").to_string()
}

fn common_csv(data: &ReportData, charts: &[&Chart]) -> Vec<CsvFile> {
    let mut files = vec![
        ("indicator_annex.csv".to_owned(), csv(&ANNEX_HEADER, &annex_csv_rows(data))),
        ("synthesis.csv".to_owned(), csv(&SYNTHESIS_HEADER, &synthesis_rows(&block_counts(data)))),
        ("action_counts.csv".to_owned(), csv(&["axis", "axis_label", "total", "to_come", "in_progress", "done"], &actions_rows(data))),
        ("budget_execution.csv".to_owned(), csv(&BUDGET_HEADER, &budget_rows(data))),
        ("missions.csv".to_owned(), csv(&["section", "item", "detail", "value", "note"], &missions_rows(data))),
        ("opening_rates.csv".to_owned(), rates_csv(&[data.monthly.clone(), data.regions.clone()].concat())),
    ];
    for c in charts {
        files.push((format!("chart_{}.csv", c.id), chart_csv(c)));
    }
    files
}

fn annual(data: &ReportData) -> (Doc, Vec<CsvFile>) {
    let year = data.period.year();
    let cog = cog_of(year);
    let as_of = as_of_fr(data);
    let counts = block_counts(data);
    let mut b = Vec::new();
    b.push(Block::Cover {
        title: format!("Rapport d'exécution de la {cog} — année {year}"),
        lines: vec![
            "Rapport du directeur général au comité de suivi de la convention d'objectifs et de gestion".into(),
            "Caisse autonome nationale de la sécurité sociale dans les mines (CANSSM) — Filieris".into(),
            format!("Données de l'année {year}, telles qu'enregistrées au {as_of}."),
            format!("Édition produite à partir des données arrêtées au {as_of} ; la régénérer avec la même date d'arrêté donne le même document."),
        ],
    });

    // 1. Synthesis.
    b.push(Block::Heading { level: 1, text: "1. Synthèse".into() });
    b.push(Block::Para(format!(
        "Ce rapport présente l'exécution de la {cog} pour l'année {year} : l'état des indicateurs de l'annexe 1 (valeurs calculées par la plateforme, \
         saisies manuelles signalées, valeurs non disponibles avec leur motif), l'avancement des actions du calendrier de l'annexe 2, \
         l'exécution budgétaire des fonds nationaux et les indicateurs des missions déléguées."
    )));
    let all = synthesis_rows(&counts);
    let total = all.last().cloned().unwrap_or_default();
    let get = |i: usize| total.get(i).cloned().unwrap_or_default();
    let mut figures = vec![
        Figure { value: get(1), label: "indicateurs suivis dans l'annexe".into() },
        Figure { value: get(2), label: "cibles atteintes".into() },
        Figure { value: get(3), label: "cibles non atteintes".into() },
        Figure { value: format!("{} / {}", get(4), get(5)), label: "en bonne voie / à risque (valeurs provisoires)".into() },
        Figure { value: get(8), label: "indicateurs non disponibles (motif en annexe)".into() },
        Figure { value: get(9), label: "valeurs saisies manuellement".into() },
    ];
    if let Some(a) = &data.counts.total {
        figures.push(Figure { value: a.total.to_string(), label: format!("actions programmées en {year}") });
        figures.push(Figure { value: a.done.to_string(), label: "actions réalisées".into() });
        figures.push(Figure { value: a.in_progress.to_string(), label: "actions en cours".into() });
    }
    b.push(Block::Figures(figures));
    b.push(Block::Heading { level: 2, text: "Indicateurs par bloc et par statut".into() });
    b.push(Block::Table(synthesis_table(&counts)));
    for (block, c) in &counts {
        b.push(Block::Heading { level: 2, text: block_fr(block).into() });
        let n = |k: Bucket| c.buckets.get(&k).copied().unwrap_or(0);
        b.push(Block::Para(format!(
            "{} indicateurs : {} atteints, {} non atteints, {} en bonne voie, {} à risque, {} non évaluables, {} sans cible ; {} non disponibles, {} saisis manuellement.",
            c.total,
            n(Bucket::Met),
            n(Bucket::NotMet),
            n(Bucket::OnTrack),
            n(Bucket::AtRisk),
            n(Bucket::NotEvaluable),
            n(Bucket::NoTarget),
            c.not_available,
            c.manual
        )));
        let h = headline(data, block);
        if !h.is_empty() {
            b.push(Block::Figures(h));
        }
    }

    // 2. Actions.
    b.push(Block::Heading { level: 1, text: "2. Les actions de la COG".into() });
    b.push(Block::Para(format!(
        "Actions du calendrier programmées en {year} (les actions courant sur toute la période de la COG comprises), par axe et par statut. \
         La plupart des actions récurrentes n'ont pas vocation à être dites « réalisées »."
    )));
    for a in &data.counts.axes {
        b.push(Block::Para(format!(
            "Axe {} — {} : {} actions, dont {} réalisées, {} en cours et {} à venir.",
            a.axis, a.axis_label, a.total, a.done, a.in_progress, a.to_come
        )));
    }
    b.push(Block::Table(actions_table(data)));
    let actions = actions_chart(data);
    b.push(Block::Chart(actions.clone()));

    // 3. Health offer: opening rates.
    b.push(Block::Heading { level: 1, text: "3. Offre de santé : ouverture des centres de santé".into() });
    b.push(Block::Para(
        "Le taux d'ouverture mesure la part des patients (et des actes) relevant d'un autre régime que le régime minier. \
         Les graphiques ci-dessous suivent son évolution mois par mois et le comparent entre directions régionales."
            .into(),
    ));
    let monthly = monthly_chart(data);
    let regions = regions_chart(data);
    b.push(Block::Chart(monthly.clone()));
    b.push(Block::Chart(regions.clone()));
    b.push(Block::Table(regions_table(data)));

    // 4. Financial results.
    b.push(Block::Heading { level: 1, text: "4. Résultats financiers de l'offre de santé".into() });
    let finres = finres_chart(data);
    if let Some(c) = &finres {
        b.push(Block::Para(format!(
            "Résultat {year} de chaque périmètre de l'annexe 1 comparé à sa base 2019 ; l'évaluation figure dans l'annexe des indicateurs."
        )));
        b.push(Block::Chart(c.clone()));
        b.push(Block::Table(finres_table(data)));
    } else {
        b.push(Block::Para("La COG de cette année ne comporte pas d'indicateur de résultat financier en euros.".into()));
    }

    // 5. Budget.
    b.push(Block::Heading { level: 1, text: "5. Exécution budgétaire par fonds".into() });
    b.push(Block::Para(format!(
        "Crédits initiaux, crédits autorisés (après virements et rectificatifs) et montants exécutés en {year} des budgets nationaux : \
         gestion administrative (BNGA), action sanitaire et sociale (BNASS), prévention et promotion de la santé (BNPPS)."
    )));
    let budget = budget_chart(data);
    b.push(Block::Table(budget_table(data, false)));
    b.push(Block::Chart(budget.clone()));

    // 6. Delegated missions.
    b.push(Block::Heading { level: 1, text: "6. Missions déléguées".into() });
    missions_blocks(data, &mut b);

    // Annex 1.
    b.push(Block::Heading { level: 1, text: format!("Annexe 1 : indicateurs de la {cog} — {year}") });
    b.push(Block::Note(legend_note()));
    b.push(Block::Table(annex_table(data, false)));

    let mut chart_list = vec![&actions, &monthly, &regions, &budget];
    if let Some(c) = &finres {
        chart_list.push(c);
    }
    let csv = common_csv(data, &chart_list);
    let doc = Doc {
        title: format!("Rapport d'exécution de la {cog} — {year}"),
        footer: format!(
            "CANSSM — Rapport d'exécution de la {cog} — année {year} — données au {}",
            data.as_of.to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
        created: created(data),
        blocks: b,
    };
    (doc, csv)
}

fn monthly(data: &ReportData) -> (Doc, Vec<CsvFile>) {
    let year = data.period.year();
    let Period::Month(_, month) = data.period else { return annual(data) };
    let label = format!("{} {year}", month_fr(month));
    let as_of = as_of_fr(data);
    let counts = block_counts(data);
    let mut b = vec![
        Block::Heading { level: 1, text: format!("Tableau de bord mensuel — {label}") },
        Block::Para(format!(
            "Tableau de bord de la {} : activité du mois, indicateurs de l'année {year} tels qu'enregistrés au {as_of}, exécution budgétaire et missions déléguées.",
            cog_of(year)
        )),
    ];
    let national = |line: &str| {
        data.monthly.iter().find(|r| r.line == line && r.period == format!("{year}{month:02}")).and_then(|r| r.rates.as_ref().ok().copied())
    };
    let mut figures = Vec::new();
    for (line, name) in LINES {
        if let Some(r) = national(line) {
            figures.push(Figure { value: pct_fr(r.patients), label: format!("taux d'ouverture patients, {name}, {label}") });
            figures.push(Figure { value: pct_fr(r.acts), label: format!("taux d'ouverture actes, {name}, {label}") });
        }
    }
    let total = synthesis_rows(&counts).last().cloned().unwrap_or_default();
    figures.push(Figure {
        value: format!("{} / {}", total.get(2).cloned().unwrap_or_default(), total.get(1).cloned().unwrap_or_default()),
        label: format!("indicateurs {year} atteints"),
    });
    b.push(Block::Figures(figures));
    let monthly = monthly_chart(data);
    let regions = regions_chart(data);
    b.push(Block::Chart(monthly.clone()));
    b.push(Block::Chart(regions.clone()));
    b.push(Block::Heading { level: 1, text: format!("Indicateurs {year}") });
    b.push(Block::Table(synthesis_table(&counts)));
    b.push(Block::Note(legend_note()));
    b.push(Block::Table(annex_table(data, true)));
    b.push(Block::Heading { level: 1, text: "Exécution budgétaire et missions déléguées".into() });
    b.push(Block::Heading { level: 2, text: format!("Exécution budgétaire {year} par fonds") });
    b.push(Block::Table(budget_table(data, true)));
    b.push(Block::Heading { level: 2, text: "Missions déléguées".into() });
    missions_blocks(data, &mut b);
    let csv = common_csv(data, &[&monthly, &regions]);
    let doc = Doc {
        title: format!("Tableau de bord COG — {label}"),
        footer: format!(
            "CANSSM — Tableau de bord de la {} — {label} — données au {}",
            cog_of(year),
            data.as_of.to_rfc3339_opts(SecondsFormat::Secs, true)
        ),
        created: created(data),
        blocks: b,
    };
    (doc, csv)
}
