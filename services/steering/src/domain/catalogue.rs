//! The indicator catalogue as data: definitions read from the reference
//! tables (Annex 1 of the COG 2022-2024 and the 2018-2021 annex of the 2018
//! report), each with the metric it is computed from.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::targets::{Dec, Exact, TargetContext, TargetRule, parse_target};

const COG22_CSV: &str = include_str!("../../data/cog_2022_2024_indicators.csv");
const COG18_CSV: &str = include_str!("../../data/cog_2018_2021_indicators_2018_results.csv");

/// Nature of an indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Nature {
    /// "Résultat": contractual targets.
    Result,
    /// "Pilotage": tracked, no target.
    Steering,
}

/// The metric an indicator is computed from: a small closed set of
/// references to the other services' metrics APIs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "parameter", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MetricRef {
    /// activity GetOpeningRate, acts (line `GENERAL_MEDICINE` or `NURSING`).
    ActivityOpeningRateActs(String),
    /// activity GetOpeningRate, distinct patients.
    ActivityOpeningRatePatients(String),
    /// activity QueryActivityMetrics by scheme: mining amount ÷ all amounts.
    ActivityMiningRevenueShare(String),
    /// activity QueryActivityMetrics by mode: e-health acts.
    ActivityEhealthActs,
    /// activity records CountTrainees in structures of a registry category:
    /// young doctors and nurses (medical interns, second-cycle medical
    /// students, nursing students; "other" trainees left out), or the trainee
    /// categories named after a slash (`HOSPITAL/MEDICAL_INTERN`).
    ActivityTrainees(String),
    /// activity records CountTrainees in structures of a registry category:
    /// structures hosting at least two trainees ÷ structures open in the year.
    ActivityTraineeHostShare(String),
    /// activity records CountSurveyedStructures over registry categories
    /// (comma-separated): establishments with a satisfaction survey in the
    /// year ÷ establishments open in the year.
    ActivitySurveyedShare(String),
    /// finance EvaluateFinancialTargets, target number 1-12.
    FinanceTarget(i32),
    /// finance GetBudgetExecution, executed ÷ final authorised of a fund.
    FinanceExecutionRate(String),
    /// finance GetAssetSaleTotals: m² sold (deeds signed in the year).
    FinanceSquareMetresSold,
    /// hr GetHrIndicators, by code.
    HrIndicator(String),
    /// Entered by a person; the text says who provides it.
    Manual(String),
    /// The platform does not hold the data; the text says why.
    NotYetAvailable(String),
}

/// Activity lines a metric reference may name.
pub const LINES: [&str; 2] = ["GENERAL_MEDICINE", "NURSING"];
/// Funds of the budget.
pub const FUNDS: [&str; 4] = ["BNGA", "BNASS", "BNPPS", "FNMO"];

impl MetricRef {
    /// Proto kind name without prefix, e.g. `ACTIVITY_OPENING_RATE_ACTS`.
    pub fn kind(&self) -> &'static str {
        match self {
            MetricRef::ActivityOpeningRateActs(_) => "ACTIVITY_OPENING_RATE_ACTS",
            MetricRef::ActivityOpeningRatePatients(_) => "ACTIVITY_OPENING_RATE_PATIENTS",
            MetricRef::ActivityMiningRevenueShare(_) => "ACTIVITY_MINING_REVENUE_SHARE",
            MetricRef::ActivityEhealthActs => "ACTIVITY_EHEALTH_ACTS",
            MetricRef::ActivityTrainees(_) => "ACTIVITY_TRAINEES",
            MetricRef::ActivityTraineeHostShare(_) => "ACTIVITY_TRAINEE_HOST_SHARE",
            MetricRef::ActivitySurveyedShare(_) => "ACTIVITY_SURVEYED_SHARE",
            MetricRef::FinanceTarget(_) => "FINANCE_TARGET",
            MetricRef::FinanceExecutionRate(_) => "FINANCE_EXECUTION_RATE",
            MetricRef::FinanceSquareMetresSold => "FINANCE_SQUARE_METRES_SOLD",
            MetricRef::HrIndicator(_) => "HR_INDICATOR",
            MetricRef::Manual(_) => "MANUAL",
            MetricRef::NotYetAvailable(_) => "NOT_YET_AVAILABLE",
        }
    }

    /// The parameter (line, number, fund, code); empty for none.
    pub fn parameter(&self) -> String {
        match self {
            MetricRef::ActivityOpeningRateActs(p)
            | MetricRef::ActivityOpeningRatePatients(p)
            | MetricRef::ActivityMiningRevenueShare(p)
            | MetricRef::FinanceExecutionRate(p)
            | MetricRef::ActivityTrainees(p)
            | MetricRef::ActivityTraineeHostShare(p)
            | MetricRef::ActivitySurveyedShare(p)
            | MetricRef::HrIndicator(p) => p.clone(),
            MetricRef::FinanceTarget(n) => n.to_string(),
            MetricRef::ActivityEhealthActs | MetricRef::FinanceSquareMetresSold | MetricRef::Manual(_) | MetricRef::NotYetAvailable(_) => {
                String::new()
            }
        }
    }

    /// The reason (MANUAL: who provides it; NOT_YET_AVAILABLE: why).
    pub fn reason(&self) -> &str {
        match self {
            MetricRef::Manual(r) | MetricRef::NotYetAvailable(r) => r,
            _ => "",
        }
    }

    /// Canonical text, e.g. `ACTIVITY_OPENING_RATE_PATIENTS{NURSING}`.
    pub fn reference(&self) -> String {
        let p = self.parameter();
        if p.is_empty() { self.kind().to_owned() } else { format!("{}{{{p}}}", self.kind()) }
    }

    /// Builds a reference from its parts, checking the parameter.
    pub fn parse(kind: &str, parameter: &str, reason: &str) -> Result<MetricRef, String> {
        let p = parameter.trim();
        let line = |f: fn(String) -> MetricRef| {
            if LINES.contains(&p) { Ok(f(p.to_owned())) } else { Err(format!("parameter must be a line: {}", LINES.join(" or "))) }
        };
        match kind {
            "ACTIVITY_OPENING_RATE_ACTS" => line(MetricRef::ActivityOpeningRateActs),
            "ACTIVITY_OPENING_RATE_PATIENTS" => line(MetricRef::ActivityOpeningRatePatients),
            "ACTIVITY_MINING_REVENUE_SHARE" => line(MetricRef::ActivityMiningRevenueShare),
            "ACTIVITY_EHEALTH_ACTS" => Ok(MetricRef::ActivityEhealthActs),
            "ACTIVITY_TRAINEES" => trainees(p).map(MetricRef::ActivityTrainees),
            "ACTIVITY_TRAINEE_HOST_SHARE" => categories(p, false).map(MetricRef::ActivityTraineeHostShare),
            "ACTIVITY_SURVEYED_SHARE" => categories(p, true).map(MetricRef::ActivitySurveyedShare),
            "FINANCE_TARGET" => match p.parse::<i32>() {
                Ok(n) if (1..=12).contains(&n) => Ok(MetricRef::FinanceTarget(n)),
                _ => Err("parameter must be a financial target number, 1 to 12".into()),
            },
            "FINANCE_SQUARE_METRES_SOLD" => Ok(MetricRef::FinanceSquareMetresSold),
            "FINANCE_EXECUTION_RATE" if FUNDS.contains(&p) => Ok(MetricRef::FinanceExecutionRate(p.to_owned())),
            "FINANCE_EXECUTION_RATE" => Err(format!("parameter must be a fund: {}", FUNDS.join(", "))),
            "HR_INDICATOR" if p.starts_with("COG22.SUP.") => Ok(MetricRef::HrIndicator(p.to_owned())),
            "HR_INDICATOR" => Err("parameter must be an HR indicator code, COG22.SUP.{n}".into()),
            "MANUAL" | "NOT_YET_AVAILABLE" if reason.trim().is_empty() => {
                Err(format!("{kind} needs a reason (who provides the value, or why it is not available)"))
            }
            "MANUAL" => Ok(MetricRef::Manual(reason.trim().to_owned())),
            "NOT_YET_AVAILABLE" => Ok(MetricRef::NotYetAvailable(reason.trim().to_owned())),
            other => Err(format!("unknown source kind {other:?}")),
        }
    }
}

/// Checks registry category names (`HEALTH_CENTRE`, or a comma-separated
/// list when `several`) and returns them canonical.
/// Trainee categories counted by default: young doctors and nurses.
pub const YOUNG_TRAINEES: [&str; 3] = ["MEDICAL_INTERN", "MEDICAL_STUDENT_2ND_CYCLE", "NURSING_STUDENT"];

/// `<registry category>[/<trainee category>,…]`, e.g. `HOSPITAL/MEDICAL_INTERN`.
fn trainees(p: &str) -> Result<String, String> {
    let (structures, counted) = match p.split_once('/') {
        Some((s, t)) => (s, Some(t)),
        None => (p, None),
    };
    let structures = categories(structures, false)?;
    let Some(counted) = counted else { return Ok(structures) };
    let names: Vec<&str> = counted.split(',').map(str::trim).filter(|c| !c.is_empty()).collect();
    let known = |c: &str| {
        filieris_proto::activity::TraineeCategory::from_str_name(&format!("TRAINEE_CATEGORY_{c}"))
            .is_some_and(|k| k != filieris_proto::activity::TraineeCategory::Unspecified)
    };
    match names.iter().find(|c| !known(c)) {
        _ if names.is_empty() => Err("after the slash, name trainee categories, e.g. MEDICAL_INTERN".into()),
        Some(c) => Err(format!("{c:?} is not a trainee category (MEDICAL_INTERN, MEDICAL_STUDENT_2ND_CYCLE, NURSING_STUDENT, OTHER)")),
        None => Ok(format!("{structures}/{}", names.join(","))),
    }
}

/// The structure category and the trainee categories of an `ACTIVITY_TRAINEES` parameter.
pub fn trainee_parameter(p: &str) -> (String, Vec<String>) {
    match p.split_once('/') {
        Some((s, t)) => (s.to_owned(), t.split(',').map(str::to_owned).collect()),
        None => (p.to_owned(), YOUNG_TRAINEES.iter().map(|c| (*c).to_owned()).collect()),
    }
}

fn categories(p: &str, several: bool) -> Result<String, String> {
    let names: Vec<&str> = p.split(',').map(str::trim).filter(|c| !c.is_empty()).collect();
    let known = |c: &str| {
        filieris_proto::registry::Category::from_str_name(&format!("CATEGORY_{c}"))
            .is_some_and(|k| k != filieris_proto::registry::Category::Unspecified)
    };
    match names.as_slice() {
        [] => Err("parameter must name a registry category, e.g. HEALTH_CENTRE".into()),
        [_, _, ..] if !several => Err("parameter must be one registry category, e.g. HEALTH_CENTRE".into()),
        _ => match names.iter().find(|c| !known(c)) {
            Some(c) => Err(format!("{c:?} is not a registry category (e.g. HEALTH_CENTRE, HOSPITAL, SSIAD)")),
            None => Ok(names.join(",")),
        },
    }
}

/// Kind of a printed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ValueKind {
    Value,
    Nc,
    Nd,
    Blank,
    Text,
}

impl ValueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueKind::Value => "VALUE",
            ValueKind::Nc => "NC",
            ValueKind::Nd => "ND",
            ValueKind::Blank => "BLANK",
            ValueKind::Text => "TEXT",
        }
    }

    pub fn parse(s: &str) -> Option<ValueKind> {
        [ValueKind::Value, ValueKind::Nc, ValueKind::Nd, ValueKind::Blank, ValueKind::Text].into_iter().find(|k| k.as_str() == s)
    }
}

/// A base as printed, with its exact reading in the display unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Printed {
    pub raw: String,
    pub kind: ValueKind,
    /// VALUE: the number in the display unit (euros, percent, m² …).
    pub value: Option<Dec>,
    pub year: Option<i32>,
}

impl Printed {
    /// Reads a printed cell; `numeric` is the table's numeric reading, if any.
    pub fn read(raw: &str, numeric: &str, year: Option<i32>) -> Printed {
        let raw = raw.trim();
        let (kind, value) = if raw.is_empty() {
            (ValueKind::Blank, None)
        } else if raw == "NC" {
            (ValueKind::Nc, None)
        } else if raw.starts_with("ND") {
            (ValueKind::Nd, None)
        } else {
            match Dec::parse(numeric) {
                Some(d) => (ValueKind::Value, Some(d)),
                None => (ValueKind::Text, None),
            }
        };
        Printed { raw: raw.to_owned(), kind, value, year }
    }

    pub fn exact(&self) -> Option<Exact> {
        self.value.map(Dec::exact)
    }
}

/// One version of an indicator definition (stored as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    pub key: String,
    pub cog: String,
    pub block: String,
    pub number: i32,
    pub theme: String,
    pub label_fr: String,
    pub label_en: String,
    pub nature: Nature,
    pub source: MetricRef,
    /// 1, 100 (percent) or 1000.
    pub factor: i64,
    /// EUR (numerators in cents), PCT, COUNT, M2, TONNE, BOOL.
    pub unit: String,
    pub decimals: u32,
    pub scope: String,
    pub period_type: String,
    pub base: Printed,
    pub lower_is_better: bool,
    pub source_line: String,
}

/// Units of a definition.
pub const UNITS: [&str; 6] = ["EUR", "PCT", "COUNT", "M2", "TONNE", "BOOL"];

impl Definition {
    /// The value in the display unit: numerator × factor ÷ denominator, and
    /// cents → euros for EUR. `None` for a zero denominator.
    pub fn observed(&self, numerator: i64, denominator: Option<i64>) -> Option<Exact> {
        let den = i128::from(denominator.unwrap_or(1)) * if self.unit == "EUR" { 100 } else { 1 };
        (den != 0).then(|| Exact::new(i128::from(numerator) * i128::from(self.factor), den))
    }

    pub fn target_context(&self) -> TargetContext {
        TargetContext { financial: self.block == "FINRES", count: self.unit == "COUNT", lower_is_better: self.lower_is_better }
    }

    /// Field problems of an edited definition (empty when valid).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.label_fr.trim().is_empty() {
            out.push(("definition.label_fr", "is required".to_owned()));
        }
        if ![1, 100, 1000].contains(&self.factor) {
            out.push(("definition.factor", "must be 1, 100 or 1000".to_owned()));
        }
        if !UNITS.contains(&self.unit.as_str()) {
            out.push(("definition.unit", format!("must be one of {}", UNITS.join(", "))));
        }
        if self.decimals > 6 {
            out.push(("definition.decimals", "must be 0 to 6".to_owned()));
        }
        if self.period_type != "YEARLY" {
            out.push(("definition.period_type", "must be YEARLY (the annex indicators are yearly)".to_owned()));
        }
        out
    }
}

/// A target of the reference tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceTarget {
    pub year: i32,
    pub raw: String,
    pub rule: TargetRule,
}

/// An indicator of the reference tables with its targets.
#[derive(Debug, Clone)]
pub struct ReferenceIndicator {
    pub definition: Definition,
    pub targets: Vec<ReferenceTarget>,
    /// Results printed in a past report (the 2018 execution report), by year.
    pub printed_results: Vec<(i32, Printed)>,
}

fn block_of(block_en: &str) -> Result<&'static str, String> {
    if block_en.starts_with("Financial") {
        Ok("FINRES")
    } else if block_en.starts_with("Support") {
        Ok("SUP")
    } else if block_en.contains("health offer") {
        Ok("OFFRE")
    } else {
        Err(format!("unknown block {block_en:?}"))
    }
}

fn field<'a>(row: &'a HashMap<String, String>, name: &str) -> Result<&'a str, String> {
    row.get(name).map(String::as_str).ok_or_else(|| format!("column {name} missing"))
}

/// Not in the platform yet: the sub-domains that would hold the data.
const PURCHASING: &str = "finance purchasing sub-domain (contracts, PHARE gains, pooling) is not built";
const ERP: &str = "the registry holds no ERP accessibility attributes (Ad'AP) yet";
const EQUIPMENT: &str = "the registry holds no quality-management equipment attribute for SSIAD and health centres";
/// OFFRE.4's categories: health centres, sanitary establishments, medico-social
/// establishments (EHPAD, independent-living and temporary residences) and
/// medico-social services (SSIAD, SAAD, SPASAD).
const SURVEYED: &str = "HEALTH_CENTRE,HOSPITAL,EHPAD,INDEPENDENT_LIVING_RESIDENCE,TEMPORARY_ACCOMMODATION_RESIDENCE,SSIAD,SAAD,SPASAD";
const MS_USERS: &str =
    "activity holds medico-social users per month only: a yearly distinct count cannot be summed from months (indicators.md §2.3)";
const EXTERNAL_CERT: &str = "external certification body decision (AFNOR / HAS), entered by the quality department";
const HISTORIC: &str = "historic value printed in the 2018 execution report (no platform data for 2018)";

/// Source, unit, factor and decimals of a COG 2022-2024 indicator (design
/// choices of indicators.md §2, one place).
fn cog22_shape(block: &str, n: i32) -> (MetricRef, &'static str, i64, u32, &'static str) {
    use MetricRef::*;
    let gm = || "GENERAL_MEDICINE".to_owned();
    let nursing = || "NURSING".to_owned();
    match (block, n) {
        ("FINRES", n) => (FinanceTarget(n), "EUR", 1, 2, "finance perimeter of the target (registry groups, resolved over the year)"),
        ("SUP", 1) => (HrIndicator("COG22.SUP.1".into()), "PCT", 100, 2, "company payroll"),
        ("SUP", 6 | 11) => (HrIndicator(format!("COG22.SUP.{n}")), "COUNT", 1, 0, "company-level collective agreements"),
        ("SUP", 7) => (HrIndicator("COG22.SUP.7".into()), "BOOL", 1, 0, "national HR directorate"),
        ("SUP", 1..=11) => (HrIndicator(format!("COG22.SUP.{n}")), "PCT", 100, 1, "company"),
        ("SUP", 14) => (FinanceSquareMetresSold, "M2", 1, 0, "CANSSM property portfolio"),
        ("SUP", 15) => (NotYetAvailable(ERP.into()), "PCT", 100, 1, "ERP sites under the Ad'AP"),
        ("SUP", _) => (NotYetAvailable(PURCHASING.into()), "PCT", 100, 1, "contracts awarded in the year"),
        ("OFFRE", 11) => (ActivityOpeningRateActs(gm()), "PCT", 100, 1, "national (health centres)"),
        ("OFFRE", 12) => (ActivityOpeningRatePatients(gm()), "PCT", 100, 1, "national (health centres)"),
        ("OFFRE", 13) => (ActivityMiningRevenueShare(gm()), "PCT", 100, 1, "national (health centres)"),
        ("OFFRE", 14) => (ActivityOpeningRateActs(nursing()), "PCT", 100, 1, "national (health centres)"),
        ("OFFRE", 15) => (ActivityOpeningRatePatients(nursing()), "PCT", 100, 1, "national (health centres)"),
        ("OFFRE", 16) => (ActivityMiningRevenueShare(nursing()), "PCT", 100, 1, "national (health centres)"),
        ("OFFRE", 10) => (ActivityEhealthActs, "COUNT", 1, 0, "national (health centres)"),
        ("OFFRE", 1) => (Manual(EXTERNAL_CERT.into()), "COUNT", 1, 0, "health centres with their own FINESS"),
        ("OFFRE", 2) => (Manual(EXTERNAL_CERT.into()), "PCT", 100, 1, "sanitary establishments"),
        ("OFFRE", 3) => (NotYetAvailable(EQUIPMENT.into()), "PCT", 100, 1, "SSIAD and health centres"),
        ("OFFRE", 4) => {
            (ActivitySurveyedShare(SURVEYED.into()), "PCT", 100, 1, "health centres, establishments and medico-social services")
        }
        ("OFFRE", 5) => (
            ActivityTrainees("HOSPITAL/MEDICAL_INTERN".into()),
            "COUNT",
            1,
            0,
            "sanitary establishments: interns hosted in the year, all establishments together (per establishment: activity CountTrainees with scope structures/{FINESS})",
        ),
        ("OFFRE", 6) => (NotYetAvailable(MS_USERS.into()), "PCT", 100, 1, "SSIAD, SAAD, SPASAD"),
        ("OFFRE", 7) => (ActivityTrainees("HEALTH_CENTRE".into()), "COUNT", 1, 0, "health centres"),
        // OFFRE.8's denominator (indicators.md §8 point 8): every health centre open in the year.
        (_, _) => (ActivityTraineeHostShare("HEALTH_CENTRE".into()), "PCT", 100, 1, "health centres open in the year"),
    }
}

fn cog18_shape(block: &str, n: i32, unit: &str) -> (MetricRef, &'static str, i64, u32) {
    use MetricRef::*;
    let gm = || "GENERAL_MEDICINE".to_owned();
    let nursing = || "NURSING".to_owned();
    let source = match (block, n) {
        ("OFFRE", 25) => ActivityOpeningRateActs(gm()),
        ("OFFRE", 26) => ActivityOpeningRatePatients(gm()),
        ("OFFRE", 27) => ActivityMiningRevenueShare(gm()),
        ("OFFRE", 28) => ActivityOpeningRateActs(nursing()),
        ("OFFRE", 29) => ActivityOpeningRatePatients(nursing()),
        ("OFFRE", 30) => ActivityMiningRevenueShare(nursing()),
        ("OFFRE", 24) => ActivityEhealthActs,
        _ => Manual(HISTORIC.into()),
    };
    let (unit, factor, decimals) = match unit {
        "pct" => ("PCT", 100, 1),
        "count" => ("COUNT", 1, 0),
        "m2" => ("M2", 1, 0),
        "t" => ("TONNE", 1, 0),
        _ => ("EUR", 1, 2),
    };
    (source, unit, factor, decimals)
}

/// M€ printed with 3 decimals → euros, exactly.
fn meur_to_eur(d: Dec) -> Dec {
    match d.scale {
        s if s <= 6 => Dec { units: d.units * 10_i64.pow(6 - s), scale: 0 },
        _ => d,
    }
}

/// Every indicator of the two reference tables, with its targets.
pub fn reference_catalogue() -> Result<Vec<ReferenceIndicator>, String> {
    let mut out = Vec::new();
    for row in filieris_kernel::csv::parse_csv_records(COG22_CSV)? {
        let block = block_of(field(&row, "block_en")?)?;
        let number: i32 = field(&row, "number")?.parse().map_err(|_| "bad number".to_owned())?;
        let (source, unit, factor, decimals, scope) = cog22_shape(block, number);
        let base_year = field(&row, "base_year")?.parse().ok();
        let definition = Definition {
            key: format!("COG22.{block}.{number}"),
            cog: "COG22".into(),
            block: block.into(),
            number,
            theme: field(&row, "theme")?.to_owned(),
            label_fr: field(&row, "label_fr")?.to_owned(),
            label_en: field(&row, "label_en")?.to_owned(),
            nature: if field(&row, "kind")? == "result" { Nature::Result } else { Nature::Steering },
            source,
            factor,
            unit: unit.into(),
            decimals,
            scope: scope.into(),
            period_type: "YEARLY".into(),
            base: Printed::read(field(&row, "base_raw")?, field(&row, "base_value")?, base_year),
            lower_is_better: false,
            source_line: format!("001_f135143bb431bda7.txt L{}", field(&row, "source_line")?),
        };
        let ctx = definition.target_context();
        let targets = [2022, 2023, 2024]
            .into_iter()
            .map(|year| {
                let raw = field(&row, &format!("target_{year}"))?.to_owned();
                Ok(ReferenceTarget { year, rule: parse_target(&raw, ctx), raw })
            })
            .collect::<Result<Vec<_>, String>>()?;
        out.push(ReferenceIndicator { definition, targets, printed_results: Vec::new() });
    }
    for row in filieris_kernel::csv::parse_csv_records(COG18_CSV)? {
        let block = block_of(field(&row, "block_en")?)?;
        let number: i32 = field(&row, "number")?.parse().map_err(|_| "bad number".to_owned())?;
        let csv_unit = field(&row, "unit")?;
        let (source, unit, factor, decimals) = cog18_shape(block, number, csv_unit);
        let mut base = Printed::read(field(&row, "base_2017")?, field(&row, "base_2017_value")?, Some(2017));
        if csv_unit == "MEUR" {
            base.value = base.value.map(meur_to_eur);
        }
        let key = format!("COG18.{block}.{number}");
        let definition = Definition {
            lower_is_better: key == "COG18.SUP.6",
            key,
            cog: "COG18".into(),
            block: block.into(),
            number,
            theme: field(&row, "theme")?.to_owned(),
            label_fr: field(&row, "label_fr")?.to_owned(),
            label_en: field(&row, "label_en")?.to_owned(),
            nature: if field(&row, "kind")? == "result" { Nature::Result } else { Nature::Steering },
            source,
            factor,
            unit: unit.into(),
            decimals,
            scope: String::new(),
            period_type: "YEARLY".into(),
            base,
            source_line: format!("000_ebabf1473c58d5b7.txt L{}", field(&row, "source_line")?),
        };
        let ctx = definition.target_context();
        let mut targets = vec![];
        let t2018 = field(&row, "target_2018")?.to_owned();
        targets.push(ReferenceTarget { year: 2018, rule: parse_target(&t2018, ctx), raw: t2018 });
        let goal = field(&row, "goal_2021")?.to_owned();
        if !goal.is_empty() {
            targets.push(ReferenceTarget { year: 2021, rule: parse_target(&goal, ctx), raw: goal });
        }
        // Financial rows print the amount beside the % change: the amount is the value.
        let amount = field(&row, "result_2018_amount")?;
        let raw = if amount.is_empty() { field(&row, "result_2018")? } else { amount };
        let mut result = Printed::read(raw, field(&row, "result_2018_value")?, Some(2018));
        if csv_unit == "MEUR" {
            result.value = result.value.map(meur_to_eur);
        }
        out.push(ReferenceIndicator { definition, targets, printed_results: vec![(2018, result)] });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_catalogue_reads_both_tables() {
        let all = reference_catalogue().expect("catalogue");
        let cog22: Vec<_> = all.iter().filter(|i| i.definition.cog == "COG22").collect();
        assert_eq!(cog22.len(), 44);
        assert_eq!(all.len() - cog22.len(), 38);
        let mut keys: Vec<_> = all.iter().map(|i| i.definition.key.clone()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), all.len(), "keys are unique");
        let get = |k: &str| all.iter().find(|i| i.definition.key == k).expect(k);
        let f1 = get("COG22.FINRES.1");
        assert_eq!(f1.definition.source, MetricRef::FinanceTarget(1));
        assert_eq!(f1.definition.base.value, Some(Dec { units: -280_551_512, scale: 2 }));
        assert_eq!(f1.targets[0].rule, TargetRule::ReduceDeficit { percent: 40 });
        assert_eq!(get("COG22.OFFRE.12").definition.source.reference(), "ACTIVITY_OPENING_RATE_PATIENTS{GENERAL_MEDICINE}");
        assert_eq!(get("COG22.OFFRE.12").definition.base.kind, ValueKind::Nc);
        assert_eq!(get("COG22.SUP.2").targets[2].rule, TargetRule::Blank);
        assert_eq!(
            get("COG22.SUP.1").targets[0].rule,
            TargetRule::Range { low: Dec { units: 22, scale: 1 }, high: Dec { units: 28, scale: 1 } }
        );
        assert_eq!(get("COG22.SUP.6").targets[0].rule, TargetRule::Count { low: 1 });
        assert_eq!(get("COG22.SUP.16").definition.base.kind, ValueKind::Text);
        assert_eq!(get("COG18.SUP.6").targets[0].rule, TargetRule::Max { high: Dec { units: 95, scale: 0 } });
        assert_eq!(get("COG18.FINRES.30").definition.base.value, Some(Dec { units: -5_172_000, scale: 0 }));
        assert_eq!(get("COG18.FINRES.30").targets[1].rule, TargetRule::ReduceDeficit { percent: 50 });
        // Every indicator has a source, and a reason when it is not computed.
        for i in &all {
            match &i.definition.source {
                MetricRef::Manual(r) | MetricRef::NotYetAvailable(r) => assert!(!r.is_empty(), "{}", i.definition.key),
                _ => {}
            }
        }
    }

    #[test]
    fn metric_references_round_trip_and_are_checked() {
        for r in [
            MetricRef::ActivityOpeningRateActs("NURSING".into()),
            MetricRef::FinanceTarget(12),
            MetricRef::FinanceExecutionRate("BNGA".into()),
            MetricRef::HrIndicator("COG22.SUP.1".into()),
            MetricRef::ActivityEhealthActs,
            MetricRef::ActivityTrainees("HEALTH_CENTRE".into()),
            MetricRef::ActivityTraineeHostShare("HEALTH_CENTRE".into()),
            MetricRef::ActivitySurveyedShare(SURVEYED.into()),
            MetricRef::FinanceSquareMetresSold,
            MetricRef::Manual("quality department".into()),
        ] {
            assert_eq!(MetricRef::parse(r.kind(), &r.parameter(), r.reason()), Ok(r.clone()));
        }
        assert!(MetricRef::parse("FINANCE_TARGET", "13", "").is_err());
        assert!(MetricRef::parse("ACTIVITY_OPENING_RATE_ACTS", "DENTAL", "").is_err());
        assert!(MetricRef::parse("NOT_YET_AVAILABLE", "", " ").is_err());
        assert!(MetricRef::parse("SQL", "", "").is_err());
        assert_eq!(
            MetricRef::parse("ACTIVITY_SURVEYED_SHARE", " SSIAD, HOSPITAL ", ""),
            Ok(MetricRef::ActivitySurveyedShare("SSIAD,HOSPITAL".into()))
        );
        assert!(MetricRef::parse("ACTIVITY_TRAINEES", "SSIAD,HOSPITAL", "").is_err());
        assert!(MetricRef::parse("ACTIVITY_TRAINEES", "CASTLE", "").is_err());
        // Trainee categories after a slash: validated, kept in the parameter.
        let interns = MetricRef::parse("ACTIVITY_TRAINEES", "HOSPITAL/MEDICAL_INTERN", "").unwrap();
        assert_eq!(interns.reference(), "ACTIVITY_TRAINEES{HOSPITAL/MEDICAL_INTERN}");
        assert_eq!(trainee_parameter(&interns.parameter()), ("HOSPITAL".to_owned(), vec!["MEDICAL_INTERN".to_owned()]));
        assert_eq!(trainee_parameter("HEALTH_CENTRE").1, YOUNG_TRAINEES.map(str::to_owned).to_vec());
        assert!(MetricRef::parse("ACTIVITY_TRAINEES", "HOSPITAL/PILOT", "").is_err());
        assert!(MetricRef::parse("ACTIVITY_TRAINEES", "HOSPITAL/", "").is_err());
        assert!(MetricRef::parse("ACTIVITY_TRAINEE_HOST_SHARE", "", "").is_err());
    }
}
