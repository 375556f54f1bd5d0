//! From what a source answered to the value stored in the history: kind,
//! numerator and denominator, display, provenance and status.

use super::catalogue::{Definition, Printed, ValueKind};
use super::targets::{Observed, TargetRule, evaluate};

/// What a source gave for one indicator and year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// A number: numerator (cents for EUR) and denominator (none for a total).
    Number { numerator: i64, denominator: Option<i64>, provisional: bool, note: String },
    /// A milestone, reached or not.
    Milestone { reached: bool, provisional: bool },
    /// A rate that also tells whether a milestone is reached (HR COG22.SUP.5:
    /// the disability plan's deployment rate and its diagnostic): evaluated
    /// as the milestone in a year whose target is one, as the rate otherwise.
    RateAndMilestone { numerator: i64, denominator: i64, reached: bool },
    /// No value, with the reason.
    NotAvailable(String),
}

/// Provenance of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    Final,
    Provisional,
    NotAvailable,
    Manual,
}

impl Provenance {
    pub fn as_str(self) -> &'static str {
        match self {
            Provenance::Final => "FINAL",
            Provenance::Provisional => "PROVISIONAL",
            Provenance::NotAvailable => "NOT_AVAILABLE",
            Provenance::Manual => "MANUAL",
        }
    }
}

/// A value ready to be appended to the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewValue {
    pub key: String,
    pub year: i32,
    pub definition_version: i64,
    pub kind: ValueKind,
    pub numerator: Option<i64>,
    pub denominator: Option<i64>,
    pub display: String,
    pub provenance: Provenance,
    pub reason: String,
    pub status: String,
    pub qualifiers: Vec<String>,
    pub target_raw: String,
    pub source: String,
    /// `national`, `regions/{code}` or `structureGroups/{code}`.
    pub scope: String,
    /// Amendment of the target evaluated against (none: no target row).
    pub target_amendment: Option<i32>,
}

/// Builds the stored value. `target` is the year's target (raw and typed);
/// `year_closed`: the year is over, so a non-provisional value is FINAL.
pub fn build_value(
    def: &Definition,
    version: i64,
    year: i32,
    target: Option<(&str, &TargetRule)>,
    fetched: Fetched,
    year_closed: bool,
) -> NewValue {
    let (rule, target_raw) = match target {
        Some((raw, rule)) => (rule.clone(), raw.to_owned()),
        None => (TargetRule::Blank, String::new()),
    };
    let base = def.base.exact();
    let mut v = NewValue {
        key: def.key.clone(),
        year,
        definition_version: version,
        kind: ValueKind::Nd,
        numerator: None,
        denominator: None,
        display: String::new(),
        provenance: Provenance::NotAvailable,
        reason: String::new(),
        status: String::new(),
        qualifiers: Vec::new(),
        target_raw,
        source: def.source.reference(),
        scope: "national".to_owned(),
        target_amendment: None,
    };
    let fetched = match fetched {
        Fetched::RateAndMilestone { reached, .. } if matches!(rule, TargetRule::Milestone { .. }) => {
            Fetched::Milestone { reached, provisional: false }
        }
        Fetched::RateAndMilestone { numerator, denominator, .. } => {
            Fetched::Number { numerator, denominator: Some(denominator), provisional: false, note: String::new() }
        }
        other => other,
    };
    let (observed, provisional) = match fetched {
        Fetched::NotAvailable(reason) => {
            v.reason = reason;
            (Observed::NotANumber, true)
        }
        Fetched::Milestone { reached, provisional } => {
            v.kind = ValueKind::Value;
            v.numerator = Some(i64::from(reached));
            v.display = if reached { "reached".into() } else { "not reached".into() };
            (Observed::Milestone(reached), provisional)
        }
        Fetched::RateAndMilestone { .. } => (Observed::NotANumber, true),
        Fetched::Number { numerator, denominator, provisional, note } => match def.observed(numerator, denominator) {
            Some(exact) => {
                v.kind = ValueKind::Value;
                v.numerator = Some(numerator);
                v.denominator = denominator;
                v.display = exact.display(def.decimals);
                v.reason = note;
                (Observed::Number(exact), provisional)
            }
            None => {
                // A zero denominator is ND, never 0 % or 100 %.
                v.reason = "NO_DENOMINATOR: the denominator is 0".into();
                (Observed::NotANumber, provisional)
            }
        },
    };
    if v.kind == ValueKind::Value {
        v.provenance = if provisional || !year_closed { Provenance::Provisional } else { Provenance::Final };
    }
    let final_value = v.provenance == Provenance::Final;
    let (status, qualifiers) = evaluate(&rule, observed, base, final_value, def.lower_is_better);
    v.status = status.as_str().to_owned();
    v.qualifiers = qualifiers.into_iter().map(|q| q.as_str().to_owned()).collect();
    v
}

/// A value printed in a past report, stored as MANUAL with its special
/// kind kept (NC, blank, text): the numbers become the exact numerator and
/// denominator of the display unit (64,6 % → 646 ÷ 1000 × 100).
pub fn printed_value(
    def: &Definition,
    version: i64,
    year: i32,
    target: Option<(&str, &TargetRule)>,
    printed: &Printed,
    note: &str,
) -> NewValue {
    let fetched = match printed.value {
        Some(d) if printed.kind == ValueKind::Value => {
            let pow = 10_i64.checked_pow(d.scale).unwrap_or(1);
            match (def.unit.as_str(), def.factor) {
                // Euros with at most 2 decimals → cents.
                ("EUR", _) if d.scale <= 2 => Fetched::Number {
                    numerator: d.units * 10_i64.pow(2 - d.scale),
                    denominator: None,
                    provisional: false,
                    note: note.to_owned(),
                },
                (_, 1) => Fetched::Number {
                    numerator: d.units,
                    denominator: (d.scale > 0).then_some(pow),
                    provisional: false,
                    note: note.to_owned(),
                },
                (_, factor) => {
                    Fetched::Number { numerator: d.units, denominator: Some(pow * factor), provisional: false, note: note.to_owned() }
                }
            }
        }
        _ => Fetched::NotAvailable(note.to_owned()),
    };
    let mut v = build_value(def, version, year, target, fetched, true);
    v.provenance = Provenance::Manual;
    if printed.kind != ValueKind::Value || printed.value.is_none() {
        v.kind = if printed.kind == ValueKind::Value { ValueKind::Text } else { printed.kind };
        v.display = if v.kind == ValueKind::Text { printed.raw.clone() } else { v.kind.as_str().to_owned() };
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalogue::reference_catalogue;

    fn def(key: &str) -> (Definition, Vec<(i32, String, TargetRule)>) {
        let all = reference_catalogue().expect("catalogue");
        let i = all.into_iter().find(|i| i.definition.key == key).expect(key);
        (i.definition, i.targets.into_iter().map(|t| (t.year, t.raw, t.rule)).collect())
    }

    #[test]
    fn a_financial_result_is_evaluated_against_its_base() {
        let (d, targets) = def("COG22.FINRES.1");
        let (_, raw, rule) = &targets[0];
        let met = Fetched::Number { numerator: -168_330_907, denominator: None, provisional: false, note: String::new() };
        let v = build_value(&d, 1, 2022, Some((raw, rule)), met, true);
        assert_eq!((v.display.as_str(), v.provenance, v.status.as_str()), ("-1683309.07", Provenance::Final, "MET"));
        let missed = Fetched::Number { numerator: -168_330_908, denominator: None, provisional: true, note: String::new() };
        let v = build_value(&d, 1, 2022, Some((raw, rule)), missed, true);
        assert_eq!(
            (v.provenance, v.status.as_str(), v.qualifiers.as_slice()),
            (Provenance::Provisional, "AT_RISK", &["BETTER_THAN_BASE".to_owned()][..])
        );
    }

    #[test]
    fn opening_rates_keep_their_counts_and_a_zero_denominator_is_nd() {
        let (d, targets) = def("COG22.OFFRE.12");
        let (_, raw, rule) = &targets[0];
        let f = Fetched::Number { numerator: 117_366, denominator: Some(181_738), provisional: false, note: String::new() };
        let v = build_value(&d, 1, 2022, Some((raw, rule)), f, true);
        assert_eq!(
            (v.numerator, v.denominator, v.display.as_str(), v.status.as_str()),
            (Some(117_366), Some(181_738), "64.6", "NO_TARGET")
        );
        let zero = Fetched::Number { numerator: 0, denominator: Some(0), provisional: false, note: String::new() };
        let v = build_value(&d, 1, 2022, Some((raw, rule)), zero, true);
        assert_eq!((v.kind, v.provenance, v.display.as_str()), (ValueKind::Nd, Provenance::NotAvailable, ""));
        assert!(v.reason.starts_with("NO_DENOMINATOR"));
    }

    #[test]
    fn the_disability_plan_is_a_milestone_in_2022_and_a_rate_afterwards() {
        let (d, targets) = def("COG22.SUP.5");
        let fetched = Fetched::RateAndMilestone { numerator: 2, denominator: 12, reached: true };
        let (_, raw, rule) = &targets[0];
        let v = build_value(&d, 1, 2022, Some((raw, rule)), fetched.clone(), true);
        assert_eq!((v.display.as_str(), v.status.as_str()), ("reached", "MET"));
        let (_, raw, rule) = &targets[1];
        let v = build_value(&d, 1, 2023, Some((raw, rule)), fetched, true);
        assert_eq!((v.numerator, v.denominator, v.display.as_str(), v.status.as_str()), (Some(2), Some(12), "16.7", "NOT_MET"));
    }

    /// The 2018 financial trajectory as printed evaluates to the 2018 report's
    /// classification (indicators.md §3.3): 30-33 met, 34 missed but better
    /// than its base ("partiellement atteint"), 35 and 36 missed, 37 met.
    #[test]
    fn the_2018_financial_trajectory_reproduces_the_report() {
        let all = reference_catalogue().expect("catalogue");
        let mut seen = Vec::new();
        for n in 30..=37 {
            let i = all.iter().find(|i| i.definition.key == format!("COG18.FINRES.{n}")).expect("row");
            let t = i.targets.iter().find(|t| t.year == 2018).expect("2018 target");
            let (_, printed) = &i.printed_results[0];
            let v = printed_value(&i.definition, 1, 2018, Some((&t.raw, &t.rule)), printed, "2018 report");
            seen.push((n, v.display.clone(), v.status.clone(), v.qualifiers.clone()));
        }
        let q = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            seen,
            [
                (30, "-3658000.00".into(), "MET".into(), q(&[])),
                (31, "-392000.00".into(), "MET".into(), q(&[])),
                (32, "-1248000.00".into(), "MET".into(), q(&[])),
                (33, "-14060000.00".into(), "MET".into(), q(&[])),
                (34, "-633000.00".into(), "NOT_MET".into(), q(&["BETTER_THAN_BASE"])),
                (35, "-146000.00".into(), "NOT_MET".into(), q(&[])),
                (36, "-99000.00".into(), "NOT_MET".into(), q(&[])),
                (37, "327000.00".into(), "MET".into(), q(&[])),
            ]
        );
    }

    #[test]
    fn printed_supports_keep_their_kind() {
        let all = reference_catalogue().expect("catalogue");
        let value = |key: &str| {
            let i = all.iter().find(|i| i.definition.key == key).expect(key);
            let t = i.targets.iter().find(|t| t.year == 2018).expect("target");
            printed_value(&i.definition, 1, 2018, Some((&t.raw, &t.rule)), &i.printed_results[0].1, "2018 report")
        };
        let paper = value("COG18.SUP.6");
        assert_eq!((paper.numerator, paper.display.as_str(), paper.status.as_str()), (Some(82), "82", "MET"));
        let erp = value("COG18.SUP.5");
        assert_eq!((erp.numerator, erp.denominator, erp.display.as_str(), erp.status.as_str()), (Some(136), Some(1000), "13.6", "NOT_MET"));
        let survey = value("COG18.OFFRE.15");
        assert_eq!((survey.kind, survey.display.as_str(), survey.provenance), (ValueKind::Nc, "NC", Provenance::Manual));
        let ror = value("COG18.OFFRE.31");
        assert_eq!(ror.kind, ValueKind::Text);
        assert!(ror.display.starts_with("Inclusion de l'offre"));
    }

    #[test]
    fn a_missing_source_is_not_available_with_its_reason() {
        let (d, targets) = def("COG22.SUP.14");
        let (_, raw, rule) = &targets[0];
        let v = build_value(&d, 1, 2022, Some((raw, rule)), Fetched::NotAvailable("no property data".into()), true);
        assert_eq!(
            (v.kind, v.provenance, v.status.as_str(), v.reason.as_str()),
            (ValueKind::Nd, Provenance::NotAvailable, "NOT_EVALUABLE", "no property data")
        );
    }
}
