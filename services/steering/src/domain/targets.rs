//! Targets as printed in the annexes, typed, and the evaluation of a value
//! against them. Everything is exact: values are rationals built from the
//! integers the sources return, never floats, and only the display rounds.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// An exact decimal `units ÷ 10^scale` (a bound as printed: 2,2 % → 22 / 10¹).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dec {
    pub units: i64,
    pub scale: u32,
}

impl Dec {
    pub fn exact(self) -> Exact {
        Exact::new(i128::from(self.units), 10_i128.pow(self.scale))
    }

    /// Parses a French or English decimal: `2,2`, `-2 805 515,12`, `4 000`, `21.5`.
    pub fn parse(text: &str) -> Option<Dec> {
        let cleaned: String = text.chars().filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}').collect();
        let cleaned = cleaned.replace(',', ".");
        let (negative, digits) = match cleaned.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if int.is_empty() && frac.is_empty() || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
            return None;
        }
        let scale = u32::try_from(frac.len()).ok().filter(|s| *s <= 6)?;
        let units: i64 = format!("{int}{frac}").parse().ok()?;
        Some(Dec { units: if negative { -units } else { units }, scale })
    }
}

/// An exact rational with a positive denominator.
#[derive(Debug, Clone, Copy)]
pub struct Exact {
    pub num: i128,
    pub den: i128,
}

impl Exact {
    /// `num ÷ den`; the sign is carried by the numerator. `den` must not be 0.
    pub fn new(num: i128, den: i128) -> Exact {
        if den < 0 { Exact { num: -num, den: -den } } else { Exact { num, den } }
    }

    pub fn int(n: i128) -> Exact {
        Exact { num: n, den: 1 }
    }

    pub fn times(self, other: Exact) -> Exact {
        Exact::new(self.num * other.num, self.den * other.den)
    }

    pub fn signum(self) -> i128 {
        self.num.signum()
    }

    /// Rounded half away from zero to `decimals` places, e.g. "64.6", "-1683309.07".
    pub fn display(self, decimals: u32) -> String {
        let scale = 10_i128.pow(decimals);
        let scaled = self.num.abs() * scale * 2 + self.den;
        let rounded = scaled / (self.den * 2);
        let sign = if self.num < 0 && rounded != 0 { "-" } else { "" };
        if decimals == 0 {
            return format!("{sign}{rounded}");
        }
        let width = decimals as usize;
        format!("{sign}{}.{:0width$}", rounded / scale, rounded % scale)
    }
}

impl PartialEq for Exact {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Exact {}

impl PartialOrd for Exact {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Exact {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.num * other.den).cmp(&(other.num * self.den))
    }
}

/// A typed target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TargetRule {
    /// "-40%" on a deficit base: value ≥ base × (100 − percent) ÷ 100.
    ReduceDeficit { percent: i32 },
    /// "Equilibre": value ≥ −tolerance (cents).
    Equilibrium { tolerance_cents: i64 },
    /// "Excédent": value > 0.
    Surplus,
    /// "Entre 2,2% et 2,8%": both bounds included.
    Range { low: Dec, high: Dec },
    /// "50%", "4 000": value ≥ low.
    Min { low: Dec },
    /// "95" (tonnes) where less is better: value ≤ high.
    Max { high: Dec },
    /// "1" agreement: count ≥ low.
    Count { low: i64 },
    /// "Réalisation": reached by 31 December.
    Milestone { text: String },
    /// "x": steering indicator, no target.
    None,
    /// Empty cell: no target that year.
    Blank,
    /// Printed but not testable (e.g. "5%/91%").
    Text,
}

/// What the parser needs to know about the indicator.
#[derive(Debug, Clone, Copy)]
pub struct TargetContext {
    /// A financial-result indicator (percentages are deficit reductions).
    pub financial: bool,
    /// The value is a count (integers).
    pub count: bool,
    /// Less is better (a printed number is a ceiling).
    pub lower_is_better: bool,
}

/// Types a printed target cell.
pub fn parse_target(raw: &str, ctx: TargetContext) -> TargetRule {
    let text = raw.trim();
    let lower = text.to_lowercase();
    if text.is_empty() {
        return TargetRule::Blank;
    }
    if lower == "x" {
        return TargetRule::None;
    }
    if lower.starts_with("equilibre") || lower.starts_with("équilibre") {
        return TargetRule::Equilibrium { tolerance_cents: 0 };
    }
    if lower.starts_with("excédent") || lower.starts_with("excedent") {
        return TargetRule::Surplus;
    }
    if let Some(rest) = lower.strip_prefix("entre ") {
        let bounds = rest.split_once(" et ").and_then(|(a, b)| Some((percent(a)?, percent(b)?)));
        return match bounds {
            Some((low, high)) => TargetRule::Range { low, high },
            None => TargetRule::Text,
        };
    }
    if lower.contains("réalisation") || lower.contains("realisation") {
        return TargetRule::Milestone { text: text.to_owned() };
    }
    if let Some(p) = percent(&lower) {
        if ctx.financial {
            // A printed "-40%" is a 40 % reduction of the base deficit.
            return match (p.units < 0, p.scale) {
                (true, 0) => i32::try_from(-p.units).map(|percent| TargetRule::ReduceDeficit { percent }).unwrap_or(TargetRule::Text),
                _ => TargetRule::Text,
            };
        }
        return if ctx.lower_is_better { TargetRule::Max { high: p } } else { TargetRule::Min { low: p } };
    }
    match Dec::parse(&lower) {
        Some(d) if ctx.count && d.scale == 0 => TargetRule::Count { low: d.units },
        Some(d) if ctx.lower_is_better => TargetRule::Max { high: d },
        Some(d) => TargetRule::Min { low: d },
        None => TargetRule::Text,
    }
}

impl Dec {
    /// As printed in French: `2,2`, `4000`, `-40`.
    pub fn french(self) -> String {
        let e = self.exact();
        e.display(self.scale).replace('.', ",")
    }
}

impl TargetRule {
    /// Problems of an amended target for an indicator (empty when valid):
    /// the bounds a type needs are there and consistent, and a deficit
    /// reduction only applies to a financial result with a deficit base.
    pub fn problems(&self, ctx: TargetContext, base: Option<Exact>) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let scale_ok = |d: &Dec| d.scale <= 6;
        match self {
            TargetRule::ReduceDeficit { percent } => {
                if !(1..=100).contains(percent) {
                    out.push(("target.percent", "must be 1 to 100".to_owned()));
                }
                if !ctx.financial {
                    out.push(("target.type", "REDUCE_DEFICIT applies to financial results only".to_owned()));
                } else if base.is_none_or(|b| b.signum() >= 0) {
                    out.push(("target.type", "REDUCE_DEFICIT needs a deficit base (the indicator's base is not a deficit)".to_owned()));
                }
            }
            TargetRule::Equilibrium { tolerance_cents } if *tolerance_cents < 0 => {
                out.push(("target.tolerance_cents", "must not be negative".to_owned()));
            }
            TargetRule::Range { low, high } => {
                if !scale_ok(low) || !scale_ok(high) {
                    out.push(("target.low", "scale must be 0 to 6".to_owned()));
                } else if low.exact() > high.exact() {
                    out.push(("target.high", "must not be below low".to_owned()));
                }
            }
            TargetRule::Min { low: d } | TargetRule::Max { high: d } if !scale_ok(d) => {
                out.push(("target.low", "scale must be 0 to 6".to_owned()));
            }
            TargetRule::Count { low } if *low < 0 => out.push(("target.low", "must be a count, 0 or more".to_owned())),
            TargetRule::Milestone { text } if text.trim().is_empty() => {
                out.push(("target.milestone", "is required: what must be reached".to_owned()));
            }
            _ => {}
        }
        out
    }

    /// The target written as the annex prints it (for an amendment given
    /// typed without its text).
    pub fn text(&self, unit: &str) -> String {
        let pct = if unit == "PCT" { "%" } else { "" };
        match self {
            TargetRule::ReduceDeficit { percent } => format!("-{percent}%"),
            TargetRule::Equilibrium { tolerance_cents: 0 } => "Equilibre".to_owned(),
            TargetRule::Equilibrium { tolerance_cents } => {
                format!("Equilibre (tolérance {} €)", Exact::new(i128::from(*tolerance_cents), 100).display(2).replace('.', ","))
            }
            TargetRule::Surplus => "Excédent".to_owned(),
            TargetRule::Range { low, high } => format!("Entre {}{pct} et {}{pct}", low.french(), high.french()),
            TargetRule::Min { low } => format!("{}{pct}", low.french()),
            TargetRule::Max { high } => format!("{}{pct}", high.french()),
            TargetRule::Count { low } => low.to_string(),
            TargetRule::Milestone { text } => text.clone(),
            TargetRule::None => "x".to_owned(),
            TargetRule::Blank | TargetRule::Text => String::new(),
        }
    }
}

fn percent(text: &str) -> Option<Dec> {
    Dec::parse(text.trim().strip_suffix('%')?)
}

/// Status of a value against its target (one vocabulary with finance and hr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Met,
    NotMet,
    OnTrack,
    AtRisk,
    NotEvaluable,
    NoTarget,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Met => "MET",
            Status::NotMet => "NOT_MET",
            Status::OnTrack => "ON_TRACK",
            Status::AtRisk => "AT_RISK",
            Status::NotEvaluable => "NOT_EVALUABLE",
            Status::NoTarget => "NO_TARGET",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [Status::Met, Status::NotMet, Status::OnTrack, Status::AtRisk, Status::NotEvaluable, Status::NoTarget]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// A qualifier shown beside the status, never instead of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    WithinTolerance,
    BetterThanBase,
}

impl Qualifier {
    pub fn as_str(self) -> &'static str {
        match self {
            Qualifier::WithinTolerance => "WITHIN_TOLERANCE",
            Qualifier::BetterThanBase => "BETTER_THAN_BASE",
        }
    }
}

/// What was observed, in the indicator's display unit (euros, percent, count).
#[derive(Debug, Clone, Copy)]
pub enum Observed {
    Number(Exact),
    /// A milestone: reached or not.
    Milestone(bool),
    /// NC, ND, blank, text, zero denominator.
    NotANumber,
}

/// Evaluates a value against the year's target. `final_value`: the year is
/// closed and the data final (MET / NOT_MET), otherwise ON_TRACK / AT_RISK.
/// `base` is the indicator's base in the same unit, when it is a number.
pub fn evaluate(
    rule: &TargetRule,
    observed: Observed,
    base: Option<Exact>,
    final_value: bool,
    lower_is_better: bool,
) -> (Status, Vec<Qualifier>) {
    let mut qualifiers = Vec::new();
    if matches!(rule, TargetRule::None | TargetRule::Blank) {
        return (Status::NoTarget, qualifiers);
    }
    let pass = match (rule, observed) {
        (TargetRule::Milestone { .. }, Observed::Milestone(done)) => Some(done),
        (TargetRule::Milestone { .. }, Observed::Number(v)) => Some(v >= Exact::int(1)),
        (_, Observed::Number(v)) => match rule {
            TargetRule::ReduceDeficit { percent } => base.map(|b| v >= b.times(Exact::new(i128::from(100 - percent), 100))),
            TargetRule::Equilibrium { tolerance_cents } => {
                let ok = v >= Exact::new(-i128::from(*tolerance_cents), 100);
                if ok && v.signum() < 0 {
                    qualifiers.push(Qualifier::WithinTolerance);
                }
                Some(ok)
            }
            TargetRule::Surplus => Some(v.signum() > 0),
            TargetRule::Range { low, high } => Some(v >= low.exact() && v <= high.exact()),
            TargetRule::Min { low } => Some(v >= low.exact()),
            TargetRule::Max { high } => Some(v <= high.exact()),
            TargetRule::Count { low } => Some(v >= Exact::int(i128::from(*low))),
            _ => None,
        },
        _ => None,
    };
    let Some(pass) = pass else {
        return (Status::NotEvaluable, qualifiers);
    };
    if !pass
        && let (Observed::Number(v), Some(b)) = (observed, base)
        && (if lower_is_better { v < b } else { v > b })
    {
        qualifiers.push(Qualifier::BetterThanBase);
    }
    let status = match (pass, final_value) {
        (true, true) => Status::Met,
        (false, true) => Status::NotMet,
        (true, false) => Status::OnTrack,
        (false, false) => Status::AtRisk,
    };
    (status, qualifiers)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUP: TargetContext = TargetContext { financial: false, count: false, lower_is_better: false };
    const FIN: TargetContext = TargetContext { financial: true, count: false, lower_is_better: false };

    #[test]
    fn amended_targets_are_checked_and_written_back_as_printed() {
        let deficit = Some(Exact::int(-100));
        assert!(TargetRule::ReduceDeficit { percent: 40 }.problems(FIN, deficit).is_empty());
        assert_eq!(TargetRule::ReduceDeficit { percent: 0 }.problems(FIN, deficit)[0].0, "target.percent");
        assert_eq!(TargetRule::ReduceDeficit { percent: 40 }.problems(SUP, deficit)[0].0, "target.type");
        assert_eq!(TargetRule::ReduceDeficit { percent: 40 }.problems(FIN, Some(Exact::int(5)))[0].0, "target.type");
        let (d22, d28) = (Dec { units: 22, scale: 1 }, Dec { units: 28, scale: 1 });
        assert!(TargetRule::Range { low: d22, high: d28 }.problems(SUP, None).is_empty());
        assert_eq!(TargetRule::Range { low: d28, high: d22 }.problems(SUP, None)[0].0, "target.high");
        assert!(!TargetRule::Count { low: -1 }.problems(SUP, None).is_empty());
        assert!(!TargetRule::Equilibrium { tolerance_cents: -1 }.problems(FIN, None).is_empty());
        assert!(!TargetRule::Milestone { text: " ".into() }.problems(SUP, None).is_empty());
        // Written back, each text parses to the same rule.
        for (rule, ctx, unit) in [
            (TargetRule::ReduceDeficit { percent: 55 }, FIN, "EUR"),
            (TargetRule::Equilibrium { tolerance_cents: 0 }, FIN, "EUR"),
            (TargetRule::Surplus, FIN, "EUR"),
            (TargetRule::Range { low: d22, high: d28 }, SUP, "PCT"),
            (TargetRule::Min { low: Dec { units: 50, scale: 0 } }, SUP, "PCT"),
            (TargetRule::None, SUP, "PCT"),
            (TargetRule::Blank, SUP, "PCT"),
        ] {
            assert_eq!(parse_target(&rule.text(unit), ctx), rule, "{}", rule.text(unit));
        }
        assert_eq!(TargetRule::Range { low: d22, high: d28 }.text("PCT"), "Entre 2,2% et 2,8%");
    }
    const COUNT: TargetContext = TargetContext { financial: false, count: true, lower_is_better: false };
    const LESS: TargetContext = TargetContext { financial: false, count: false, lower_is_better: true };

    fn dec(units: i64, scale: u32) -> Dec {
        Dec { units, scale }
    }

    #[test]
    fn printed_targets_are_typed() {
        let cases: &[(&str, TargetContext, TargetRule)] = &[
            ("-40%", FIN, TargetRule::ReduceDeficit { percent: 40 }),
            ("Equilibre", FIN, TargetRule::Equilibrium { tolerance_cents: 0 }),
            ("Excédent", FIN, TargetRule::Surplus),
            ("Entre 2,2% et 2,8%", SUP, TargetRule::Range { low: dec(22, 1), high: dec(28, 1) }),
            ("50%", SUP, TargetRule::Min { low: dec(50, 0) }),
            ("4 000", SUP, TargetRule::Min { low: dec(4000, 0) }),
            ("1", COUNT, TargetRule::Count { low: 1 }),
            ("95", LESS, TargetRule::Max { high: dec(95, 0) }),
            ("réalisation du diagnostic", SUP, TargetRule::Milestone { text: "réalisation du diagnostic".into() }),
            ("Réalisation", SUP, TargetRule::Milestone { text: "Réalisation".into() }),
            ("x", SUP, TargetRule::None),
            ("", SUP, TargetRule::Blank),
            ("  ", SUP, TargetRule::Blank),
            ("5%/91%", SUP, TargetRule::Text),
            ("-40%", SUP, TargetRule::Min { low: dec(-40, 0) }),
            ("-2,5%", FIN, TargetRule::Text),
        ];
        for (raw, ctx, want) in cases {
            assert_eq!(&parse_target(raw, *ctx), want, "{raw:?}");
        }
    }

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(Dec::parse("-2 805 515,12"), Some(dec(-280_551_512, 2)));
        assert_eq!(Dec::parse("21.5"), Some(dec(215, 1)));
        assert_eq!(Dec::parse("+0,540"), Some(dec(540, 3)));
        assert_eq!(Dec::parse("NC"), None);
        assert_eq!(Dec::parse(""), None);
        assert_eq!(Dec::parse("1.2.3"), None);
    }

    #[test]
    fn display_rounds_half_away_from_zero() {
        assert_eq!(Exact::new(117_366 * 100, 181_738).display(1), "64.6");
        assert_eq!(Exact::new(117_366 * 100, 181_738).display(2), "64.58");
        assert_eq!(Exact::new(5, 1000).display(2), "0.01");
        assert_eq!(Exact::new(-5, 1000).display(2), "-0.01");
        assert_eq!(Exact::new(-4, 1000).display(2), "0.00");
        assert_eq!(Exact::new(-168_330_907, 100).display(2), "-1683309.07");
        assert_eq!(Exact::new(7, 2).display(0), "4");
    }

    fn eur(cents: i128) -> Exact {
        Exact::new(cents, 100)
    }

    fn pct(units: i128, scale: u32) -> Exact {
        Exact::new(units, 10_i128.pow(scale))
    }

    /// The decision table: rule × value × base × final → status and qualifiers.
    #[test]
    fn decision_table() {
        use Qualifier::*;
        use Status::*;
        let freyming = Some(eur(-280_551_512));
        let reduce40 = TargetRule::ReduceDeficit { percent: 40 };
        let eq = TargetRule::Equilibrium { tolerance_cents: 0 };
        let eq_tol = TargetRule::Equilibrium { tolerance_cents: 100_000 };
        let range = TargetRule::Range { low: dec(22, 1), high: dec(28, 1) };
        let min50 = TargetRule::Min { low: dec(50, 0) };
        let max95 = TargetRule::Max { high: dec(95, 0) };
        let count1 = TargetRule::Count { low: 1 };
        let milestone = TargetRule::Milestone { text: "Réalisation".into() };
        let n = Observed::Number;
        #[allow(clippy::type_complexity)]
        let table: Vec<(&TargetRule, Observed, Option<Exact>, bool, bool, Status, Vec<Qualifier>)> = vec![
            // Freyming 2022: threshold −1,683,309.072 €, so −1,683,309.07 meets and −1,683,309.08 misses.
            (&reduce40, n(eur(-168_330_907)), freyming, true, false, Met, vec![]),
            (&reduce40, n(eur(-168_330_908)), freyming, true, false, NotMet, vec![BetterThanBase]),
            (&reduce40, n(eur(-300_000_000)), freyming, true, false, NotMet, vec![]),
            (&reduce40, n(eur(-100_000_000)), freyming, false, false, OnTrack, vec![]),
            (&reduce40, n(eur(-200_000_000)), freyming, false, false, AtRisk, vec![BetterThanBase]),
            (&reduce40, n(eur(-100_000_000)), None, true, false, NotEvaluable, vec![]),
            (&eq, n(eur(0)), None, true, false, Met, vec![]),
            (&eq, n(eur(-1)), None, true, false, NotMet, vec![]),
            (&eq_tol, n(eur(-50_000)), None, true, false, Met, vec![WithinTolerance]),
            (&eq_tol, n(eur(-100_001)), None, true, false, NotMet, vec![]),
            (&TargetRule::Surplus, n(eur(1)), None, true, false, Met, vec![]),
            (&TargetRule::Surplus, n(eur(0)), None, true, false, NotMet, vec![]),
            (&range, n(pct(22, 1)), None, true, false, Met, vec![]),
            (&range, n(pct(28, 1)), None, true, false, Met, vec![]),
            (&range, n(Exact::new(2_81, 100)), None, true, false, NotMet, vec![]),
            (&range, n(Exact::new(2_19, 100)), Some(pct(229, 2)), false, false, AtRisk, vec![]),
            (&min50, n(pct(50, 0)), None, true, false, Met, vec![]),
            (&min50, n(Exact::new(4_999, 100)), None, true, false, NotMet, vec![]),
            (&max95, n(pct(82, 0)), Some(pct(95, 0)), true, true, Met, vec![]),
            (&max95, n(pct(96, 0)), Some(pct(95, 0)), true, true, NotMet, vec![]),
            (&max95, n(pct(96, 0)), Some(pct(100, 0)), true, true, NotMet, vec![BetterThanBase]),
            (&count1, n(Exact::int(1)), None, true, false, Met, vec![]),
            (&count1, n(Exact::int(0)), None, false, false, AtRisk, vec![]),
            (&milestone, Observed::Milestone(true), None, true, false, Met, vec![]),
            (&milestone, Observed::Milestone(false), None, true, false, NotMet, vec![]),
            (&milestone, n(Exact::int(1)), None, false, false, OnTrack, vec![]),
            (&min50, Observed::NotANumber, None, true, false, NotEvaluable, vec![]),
            (&TargetRule::None, n(pct(64, 0)), None, true, false, NoTarget, vec![]),
            (&TargetRule::Blank, Observed::NotANumber, None, true, false, NoTarget, vec![]),
            (&TargetRule::Text, n(pct(91, 0)), None, true, false, NotEvaluable, vec![]),
        ];
        for (i, (rule, observed, base, final_value, lower, status, qualifiers)) in table.into_iter().enumerate() {
            assert_eq!(evaluate(rule, observed, base, final_value, lower), (status, qualifiers), "row {i}: {rule:?} {observed:?}");
        }
    }
}
