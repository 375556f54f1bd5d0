//! Pure rules of the results part: ledger rows, scopes, the 12 COG financial
//! targets (finance.md 4.1-4.3, FIN-T01..T09) and the landing forecast (5.4).
//! Integer cents throughout; products go through i128 so no intermediate
//! overflows, and nothing passes through floating point.

use std::sync::OnceLock;

use chrono::NaiveDate;
use filieris_kernel::cents::Cents;
use filieris_kernel::csv::parse_csv_records;
use filieris_kernel::period::PeriodKind;
use filieris_kernel::{Finess, Period};
use filieris_proto::finance as pb;
use filieris_runtime::registry_cache::StructureIndex;
use uuid::Uuid;

/// Most rows accepted in one import.
pub const MAX_IMPORT_ROWS: usize = 10_000;

/// Years the COG 2022-2024 targets cover.
pub const TARGET_YEARS: std::ops::RangeInclusive<i32> = 2022..=2024;

// ------------------------------------------------------------------ ledger

/// Storage code of an activity line (its proto number); `None` for
/// unspecified or unknown values.
pub fn line_code(wire: i32) -> Option<i16> {
    match pb::ActivityLine::try_from(wire) {
        Ok(pb::ActivityLine::Unspecified) | Err(_) => None,
        Ok(l) => i16::try_from(l as i32).ok(),
    }
}

/// Class of a PCUOSS account: 6 (charges) or 7 (produits).
pub fn account_class(account: &str) -> Result<i16, String> {
    if !(3..=12).contains(&account.len()) || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must be a PCUOSS account number of 3 to 12 digits".into());
    }
    match account.as_bytes()[0] {
        b'6' => Ok(6),
        b'7' => Ok(7),
        _ => Err("only class 6 (charges) and class 7 (produits) accounts carry results".into()),
    }
}

/// A `YYYYMM` month: its first day.
pub fn parse_month(text: &str) -> Result<NaiveDate, String> {
    let p = Period::parse(text).map_err(|e| e.to_string())?;
    if p.kind() != PeriodKind::Month {
        return Err("must be a month, YYYYMM".into());
    }
    Ok(p.start())
}

/// A ledger row ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidEntry {
    /// Row number, from 1.
    pub row: i32,
    /// Registry id of the structure.
    pub structure_id: Uuid,
    /// Region code of the structure.
    pub region: i16,
    /// Account number.
    pub account: String,
    /// 6 or 7.
    pub class: i16,
    /// Activity line code.
    pub line: i16,
    /// First day of the month.
    pub month: NaiveDate,
    /// Amount in cents.
    pub amount_cents: i64,
}

/// A problem of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// Row number, from 1.
    pub row: i64,
    /// Field.
    pub field: &'static str,
    /// Why.
    pub reason: String,
}

/// Validates one row against the registry cache; every broken field is reported.
pub fn validate_entry(row: i32, input: &pb::LedgerEntryInput, structures: &StructureIndex) -> Result<ValidEntry, Vec<RowProblem>> {
    let mut problems = Vec::new();
    let mut bad = |field: &'static str, reason: String| problems.push(RowProblem { row: i64::from(row), field, reason });
    let month = parse_month(&input.month).map_err(|e| bad("month", e)).ok();
    let structure = match Finess::parse(&input.finess) {
        Err(e) => {
            bad("finess", e.to_string());
            None
        }
        Ok(f) => match structures.get(f.as_str()) {
            None => {
                bad("finess", format!("{} is not a structure of the registry", f.as_str()));
                None
            }
            Some(s) => {
                // Late invoices after a closure are normal; amounts before the opening are not.
                if let Some(m) = month
                    && s.open_date > end_of_month(m)
                {
                    bad("finess", format!("{} opened on {}, after this month", f.as_str(), s.open_date));
                }
                Some(s.clone())
            }
        },
    };
    let class = account_class(&input.account).map_err(|e| bad("account", e)).ok();
    let line = line_code(input.activity_line);
    if line.is_none() {
        bad("activity_line", "is required: one of the ActivityLine values".into());
    }
    match (problems.is_empty(), structure, class, line, month) {
        (true, Some(s), Some(class), Some(line), Some(month)) => Ok(ValidEntry {
            row,
            structure_id: s.id,
            region: s.region,
            account: input.account.clone(),
            class,
            line,
            month,
            amount_cents: input.amount_cents,
        }),
        _ => Err(problems),
    }
}

fn end_of_month(first: NaiveDate) -> NaiveDate {
    first.checked_add_months(chrono::Months::new(1)).and_then(|d| d.pred_opt()).unwrap_or(first)
}

/// A period the monthly ledger can answer: year, semester, quarter or month.
pub fn parse_results_period(text: &str) -> Result<Period, String> {
    if text.trim().is_empty() {
        return Err("is required, e.g. 2022, 2022Q1, 202203".into());
    }
    let p = Period::parse(text.trim()).map_err(|e| e.to_string())?;
    match p.kind() {
        PeriodKind::Week | PeriodKind::Day => Err("the ledger is monthly: use a year, semester, quarter or month".into()),
        _ => Ok(p),
    }
}

// ------------------------------------------------------------------ scopes

pub use filieris_runtime::scope::Scope;

// ------------------------------------------------------------------ targets

/// The kind of a yearly target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// Reduce the 2019 deficit by X % (X = printed percentage without its sign).
    ReduceDeficit(i64),
    /// Result ≥ 0.
    Equilibrium,
    /// Result ≥ 0.01 €.
    Surplus,
}

/// How a target's perimeter is found in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perimeter {
    /// One establishment: a registry text search (names and aliases) within a filter.
    Search { search: &'static str, filter: &'static str },
    /// A registry structure group.
    Group(&'static str),
    /// Every structure matching a registry filter.
    Filter(&'static str),
}

impl Perimeter {
    /// How it is resolved, for the API.
    pub fn describe(&self) -> String {
        match self {
            Self::Search { search, filter } => format!("registry search {search:?} ({filter})"),
            Self::Group(code) => format!("structureGroups/{code}"),
            Self::Filter(filter) => format!("registry filter {filter}"),
        }
    }
}

/// The perimeters of indicators 1 to 12 (registry demo data: named
/// establishments by their management label, groups by code).
pub const PERIMETERS: [Perimeter; 12] = [
    Perimeter::Search { search: "Freyming-Creutzwald", filter: "category = HOSPITAL" },
    Perimeter::Search { search: "Charleville-sous-Bois", filter: "category = HOSPITAL" },
    Perimeter::Group("jardin-du-temple-bois-de-la-loge"),
    Perimeter::Search { search: "La Manaie", filter: "category = HOSPITAL" },
    Perimeter::Search { search: "Sainte-Barbe", filter: "category = HOSPITAL" },
    Perimeter::Search { search: "Pampelonne", filter: "category = EHPAD" },
    Perimeter::Group("autres-etablissements-sanitaires-et-medico-sociaux"),
    Perimeter::Group("centres-de-sante"),
    Perimeter::Group("services-d-aide-a-la-personne"),
    Perimeter::Group("ssiad"),
    Perimeter::Group("centres-d-optique"),
    Perimeter::Filter("category = MEDICAL_EQUIPMENT_SERVICE"),
];

/// One of the 12 targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// 1 to 12.
    pub number: i32,
    /// Label as printed.
    pub label_fr: String,
    /// English label.
    pub label_en: String,
    /// 2019 base in cents (Annex 1, FIN-T06).
    pub base_cents: i64,
    /// Targets of 2022, 2023, 2024.
    pub years: [TargetKind; 3],
    /// Perimeter.
    pub perimeter: Perimeter,
}

impl Target {
    /// The target of a year of the COG.
    pub fn kind(&self, year: i32) -> Option<TargetKind> {
        TARGET_YEARS.contains(&year).then(|| self.years[(year - 2022) as usize])
    }
}

/// Parses the reference table `cog_2022_2024_financial_targets.csv`.
pub fn parse_targets(text: &str) -> Result<Vec<Target>, String> {
    let records = parse_csv_records(text)?;
    let mut out = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let get = |c: &str| r.get(c).map(String::as_str).ok_or_else(|| format!("row {}: no column {c}", i + 1));
        let number: i32 = get("number")?.parse().map_err(|_| format!("row {}: bad number", i + 1))?;
        let perimeter = usize::try_from(number - 1)
            .ok()
            .and_then(|k| PERIMETERS.get(k).copied())
            .ok_or_else(|| format!("target {number}: no perimeter"))?;
        let base_cents = Cents::from_euros_str(get("base_2019_eur")?).map_err(|e| format!("target {number}: base: {e}"))?.0;
        let mut years = [TargetKind::Equilibrium; 3];
        for (k, year) in TARGET_YEARS.enumerate() {
            let kind = get(&format!("target_{year}_kind"))?;
            years[k] = match kind {
                "equilibrium" => TargetKind::Equilibrium,
                "surplus" => TargetKind::Surplus,
                "reduce_deficit_pct" => {
                    let pct: i64 = get(&format!("target_{year}_pct"))?.parse().map_err(|_| format!("target {number} {year}: bad pct"))?;
                    // FIN-T01: a reduction applies to a deficit; X is the printed percentage without its sign.
                    if base_cents >= 0 || !(-100..=0).contains(&pct) {
                        return Err(format!(
                            "target {number} {year}: a deficit reduction needs a negative base and a percentage in -100..0"
                        ));
                    }
                    TargetKind::ReduceDeficit(-pct)
                }
                other => return Err(format!("target {number} {year}: unknown kind {other:?}")),
            };
        }
        out.push(Target {
            number,
            label_fr: get("label_fr")?.to_owned(),
            label_en: get("label_en")?.to_owned(),
            base_cents,
            years,
            perimeter,
        });
    }
    if out.len() != 12 || out.iter().enumerate().any(|(i, t)| t.number != i as i32 + 1) {
        return Err("the table must hold targets 1 to 12 in order".into());
    }
    Ok(out)
}

/// The 12 targets of the COG, parsed once from the embedded reference table.
pub fn targets() -> Result<&'static [Target], String> {
    static TARGETS: OnceLock<Result<Vec<Target>, String>> = OnceLock::new();
    TARGETS.get_or_init(|| parse_targets(include_str!("../../data/cog_2022_2024_financial_targets.csv"))).as_deref().map_err(Clone::clone)
}

/// Status of a target on a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Reached.
    Met,
    /// Missed; `better_than_base` when the result still beats the 2019 base.
    NotMet { better_than_base: bool },
}

/// The exact threshold in units of 1/100 cent: base × (100 − X) for a
/// reduction, 0 for equilibrium, 100 (one cent) for a surplus.
pub fn threshold_centi_cents(kind: TargetKind, base_cents: i64) -> i128 {
    match kind {
        TargetKind::ReduceDeficit(x) => i128::from(base_cents) * i128::from(100 - x),
        TargetKind::Equilibrium => 0,
        TargetKind::Surplus => 100,
    }
}

/// FIN-T07: MET ⇔ result_cents × 100 ≥ exact threshold (in 1/100 cent).
pub fn decide(kind: TargetKind, base_cents: i64, result_cents: i64) -> Status {
    if i128::from(result_cents) * 100 >= threshold_centi_cents(kind, base_cents) {
        Status::Met
    } else {
        Status::NotMet { better_than_base: result_cents > base_cents }
    }
}

/// The exact threshold rounded toward +∞ to the cent (the value shown).
pub fn effective_threshold_cents(kind: TargetKind, base_cents: i64) -> i64 {
    let t = threshold_centi_cents(kind, base_cents);
    // Ceiling division by 100 for either sign; |t| ≤ 100 × |i64| so the result fits.
    let q = t.div_euclid(100) + i128::from(t.rem_euclid(100) != 0);
    i64::try_from(q).unwrap_or(if q < 0 { i64::MIN } else { i64::MAX })
}

/// The exact threshold in euros as a decimal, trailing zeros trimmed to at
/// least two decimals (e.g. `-1683309.072`, `0.00`).
pub fn exact_threshold_text(kind: TargetKind, base_cents: i64) -> String {
    let t = threshold_centi_cents(kind, base_cents);
    let sign = if t < 0 { "-" } else { "" };
    let a = t.unsigned_abs();
    let mut frac = format!("{:04}", a % 10_000);
    while frac.len() > 2 && frac.ends_with('0') {
        frac.pop();
    }
    format!("{sign}{}.{frac}", a / 10_000)
}

/// FIN-T04: indicator 8's headline, a deficit below 10 M€, checked in 2024.
pub const HEADLINE_FLOOR_CENTS: i64 = -1_000_000_000;

/// Whether a target/year carries the headline check.
pub fn has_headline(number: i32, year: i32) -> bool {
    number == 8 && year == 2024
}

// ------------------------------------------------------------------ landing

/// Division rounded half away from zero; `den` must not be 0.
pub fn div_round(num: i128, den: i128) -> i128 {
    let (num, den) = if den < 0 { (-num, -den) } else { (num, den) };
    let q = num.div_euclid(den);
    let r = num.rem_euclid(den);
    // num = q·den + r with 0 ≤ r < den: compare 2r with den, ties away from zero.
    match (2 * r).cmp(&den) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Equal => {
            if num >= 0 {
                q + 1
            } else {
                q
            }
        }
    }
}

/// How one side (produits or charges) of a cell was forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Previous year's seasonality.
    Seasonal,
    /// Year-to-date monthly average.
    RunRate,
    /// A monthly budget phasing (BUDGET_REMAINING); not fed by the API yet.
    Budget,
}

/// Forecast of the remaining months of one side of a cell after month `m`
/// (1..=12): months `m..12` (0-based) filled, earlier ones 0. `previous` is
/// the same side's actuals of year N−1; `budget` a monthly phasing, used only
/// when given (BUDGET_REMAINING).
pub fn forecast_side(current: &[i64; 12], previous: &[i64; 12], budget: Option<&[i64; 12]>, m: usize) -> ([i64; 12], Method) {
    let mut out = [0i64; 12];
    let m = m.clamp(1, 12);
    if let Some(b) = budget {
        out[m..].copy_from_slice(&b[m..]);
        return (out, Method::Budget);
    }
    let a: i128 = current[..m].iter().map(|&v| i128::from(v)).sum();
    let s_ytd: i128 = previous[..m].iter().map(|&v| i128::from(v)).sum();
    let (method, weights, den): (Method, Vec<i128>, i128) = if s_ytd != 0 {
        (Method::Seasonal, previous[m..].iter().map(|&v| i128::from(v)).collect(), s_ytd)
    } else {
        (Method::RunRate, vec![1; 12 - m], m as i128)
    };
    // Round the running total, so the months add up to the once-rounded forecast.
    let (mut cum_w, mut prev) = (0i128, 0i128);
    for (k, w) in weights.iter().enumerate() {
        cum_w += w;
        let cum = div_round(a * cum_w, den);
        out[m + k] = i64::try_from(cum - prev).unwrap_or(0);
        prev = cum;
    }
    (out, method)
}

/// Gap of a landing result to a target's effective threshold, and whether it is on track.
pub fn landing_gap(landing_result_cents: i64, threshold_cents: i64) -> (i64, bool) {
    let gap = landing_result_cents.saturating_sub(threshold_cents);
    (gap, gap >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(n: i32) -> &'static Target {
        &targets().expect("targets")[(n - 1) as usize]
    }

    #[test]
    fn the_twelve_targets_load_with_their_bases() {
        let all = targets().expect("targets");
        assert_eq!(all.len(), 12);
        assert_eq!(t(1).base_cents, -280_551_512);
        assert_eq!(t(1).years, [TargetKind::ReduceDeficit(40), TargetKind::ReduceDeficit(55), TargetKind::ReduceDeficit(70)]);
        assert_eq!(t(6).years, [TargetKind::ReduceDeficit(60), TargetKind::Equilibrium, TargetKind::Equilibrium]);
        assert_eq!(t(12).years, [TargetKind::Surplus; 3]);
        // Derived (4.1): the twelve bases sum to −15,246,426.58 €.
        assert_eq!(all.iter().map(|t| t.base_cents).sum::<i64>(), -1_524_642_658);
    }

    #[test]
    fn a_reduction_on_a_positive_base_is_a_configuration_error() {
        let text =
            include_str!("../../data/cog_2022_2024_financial_targets.csv").replacen("\"-2 805 515,12\",-2805515.12", "\"1,00\",1.00", 1);
        assert!(parse_targets(&text).is_err());
    }

    #[test]
    fn thresholds_match_table_4_3() {
        // (indicator, year, exact, effective cents) from finance.md 4.3.
        let cases: &[(i32, i32, &str, i64)] = &[
            (1, 2022, "-1683309.072", -168_330_907),
            (1, 2023, "-1262481.804", -126_248_180),
            (1, 2024, "-841654.536", -84_165_453),
            (2, 2022, "-468824.409", -46_882_440),
            (2, 2023, "-364641.207", -36_464_120),
            (2, 2024, "-260458.005", -26_045_800),
            (3, 2022, "-445742.244", -44_574_224),
            (3, 2023, "-314641.584", -31_464_158),
            (3, 2024, "-209761.056", -20_976_105),
            (4, 2022, "0.00", 0),
            (6, 2022, "-193281.408", -19_328_140),
            (6, 2023, "0.00", 0),
            (8, 2022, "-12927338.579", -1_292_733_857),
            (8, 2023, "-10886179.856", -1_088_617_985),
            (8, 2024, "-9525407.374", -952_540_737),
            (11, 2022, "-229140.205", -22_914_020),
            (11, 2023, "-137484.123", -13_748_412),
            (11, 2024, "0.00", 0),
            (12, 2022, "0.01", 1),
        ];
        for &(n, year, exact, effective) in cases {
            let target = t(n);
            let kind = target.kind(year).expect("year");
            assert_eq!(exact_threshold_text(kind, target.base_cents), exact, "{n} {year}");
            assert_eq!(effective_threshold_cents(kind, target.base_cents), effective, "{n} {year}");
        }
    }

    #[test]
    fn fin_t07_decision_table() {
        use Status::*;
        // TS-49..TS-54 and must-show 6: (indicator, year, result cents, expected status, headline met).
        type Case = (&'static str, i32, i32, i64, Status, Option<bool>);
        let cases: &[Case] = &[
            ("TS-49 a", 1, 2024, -84_165_453, Met, None),
            ("TS-49 b", 1, 2024, -84_165_454, NotMet { better_than_base: true }, None),
            ("TS-50 a", 11, 2022, -22_914_020, Met, None),
            ("TS-50 b", 11, 2022, -22_914_021, NotMet { better_than_base: true }, None),
            ("TS-51 a", 4, 2022, 0, Met, None),
            ("TS-51 b", 4, 2022, -1, NotMet { better_than_base: false }, None),
            ("TS-52 a", 12, 2022, 0, NotMet { better_than_base: false }, None),
            ("TS-52 b", 12, 2022, 1, Met, None),
            ("TS-53 a", 8, 2024, -960_000_000, NotMet { better_than_base: true }, Some(true)),
            ("TS-53 b", 8, 2024, -952_540_737, Met, Some(true)),
            ("TS-54 a", 6, 2023, -100, NotMet { better_than_base: true }, None),
            ("TS-54 b", 4, 2023, -100, NotMet { better_than_base: false }, None),
            ("must-show 6 a", 1, 2022, -160_000_000, Met, None),
            ("must-show 6 b", 1, 2022, -170_000_000, NotMet { better_than_base: true }, None),
        ];
        for &(name, n, year, result, expected, headline) in cases {
            let target = t(n);
            let kind = target.kind(year).expect("year");
            assert_eq!(decide(kind, target.base_cents, result), expected, "{name}");
            // The effective threshold gives the same decision (FIN-T07).
            assert_eq!(result >= effective_threshold_cents(kind, target.base_cents), expected == Met, "{name}");
            assert_eq!(has_headline(n, year).then_some(result > HEADLINE_FLOOR_CENTS), headline, "{name}");
        }
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(div_round(5, 2), 3);
        assert_eq!(div_round(-5, 2), -3);
        assert_eq!(div_round(4, 3), 1);
        assert_eq!(div_round(-4, 3), -1);
        assert_eq!(div_round(5, -2), -3);
        assert_eq!(div_round(0, 7), 0);
    }

    #[test]
    fn ts_58_budget_remaining() {
        // Indicator 2 perimeter 2023: budget −30,000.00 a month, actual January-May −175,000.00.
        let budget = [-3_000_000i64; 12];
        let current = [-3_500_000i64, -3_500_000, -3_500_000, -3_500_000, -3_500_000, 0, 0, 0, 0, 0, 0, 0];
        let (f, method) = forecast_side(&current, &[0; 12], Some(&budget), 5);
        assert_eq!(method, Method::Budget);
        let landing = current.iter().sum::<i64>() + f.iter().sum::<i64>();
        assert_eq!(landing, -38_500_000);
        let threshold = effective_threshold_cents(t(2).kind(2023).expect("2023"), t(2).base_cents);
        assert_eq!(threshold, -36_464_120);
        assert_eq!(landing_gap(landing, threshold), (-2_035_880, false));
    }

    #[test]
    fn ts_59_seasonal() {
        // 2022 produits and charges identical every month; January-May 2023 actual produits 2,500,000.00, charges 2,675,000.00.
        let prev_p = [40_000_000i64; 12];
        let prev_c = [41_000_000i64; 12];
        let mut cur_p = [0i64; 12];
        let mut cur_c = [0i64; 12];
        cur_p[..5].copy_from_slice(&[50_000_000; 5]);
        cur_c[..5].copy_from_slice(&[53_500_000; 5]);
        let (fp, mp) = forecast_side(&cur_p, &prev_p, None, 5);
        let (fc, mc) = forecast_side(&cur_c, &prev_c, None, 5);
        assert_eq!((mp, mc), (Method::Seasonal, Method::Seasonal));
        let produits = cur_p.iter().sum::<i64>() + fp.iter().sum::<i64>();
        let charges = cur_c.iter().sum::<i64>() + fc.iter().sum::<i64>();
        assert_eq!((produits, charges), (600_000_000, 642_000_000));
        let threshold = effective_threshold_cents(t(2).kind(2023).expect("2023"), t(2).base_cents);
        assert_eq!(landing_gap(produits - charges, threshold), (-5_535_880, false));
    }

    #[test]
    fn run_rate_without_previous_year_and_exact_cumulative_rounding() {
        let mut cur = [0i64; 12];
        cur[..3].copy_from_slice(&[100, 100, 101]);
        let (f, m) = forecast_side(&cur, &[0; 12], None, 3);
        assert_eq!(m, Method::RunRate);
        // 301 × 9 / 3 = 903 exactly, spread as 100/101/100/100/101/… with no cent lost.
        assert_eq!(f[3..].iter().sum::<i64>(), 903);
        assert!(f[3..].iter().all(|&v| v == 100 || v == 101));
        // Seasonal with an uneven ratio: the months add up to the once-rounded total.
        let prev = [1, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89];
        let (f, m) = forecast_side(&[10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], &prev, None, 1);
        assert_eq!(m, Method::Seasonal);
        assert_eq!(f.iter().sum::<i64>(), 10 * 232);
        // December: nothing left to forecast.
        let (f, _) = forecast_side(&[5; 12], &[1; 12], None, 12);
        assert_eq!(f, [0; 12]);
    }

    #[test]
    fn rows_are_checked_field_by_field() {
        let mut index = StructureIndex::new();
        let finess = "750712184";
        let id = Uuid::nil();
        index.insert(
            finess.into(),
            filieris_runtime::registry_cache::CachedStructure {
                id,
                region: 2,
                open_date: NaiveDate::from_ymd_opt(1957, 10, 1).expect("date"),
                close_date: None,
            },
        );
        let ok = pb::LedgerEntryInput {
            finess: finess.into(),
            account: "6411".into(),
            activity_line: pb::ActivityLine::SsrHadMedicine as i32,
            month: "202203".into(),
            amount_cents: 12_345,
        };
        let v = validate_entry(1, &ok, &index).expect("valid");
        assert_eq!((v.class, v.line, v.month), (6, 9, NaiveDate::from_ymd_opt(2022, 3, 1).expect("date")));
        let bad = pb::LedgerEntryInput { account: "512".into(), activity_line: 0, month: "2022-03".into(), ..ok.clone() };
        let problems = validate_entry(7, &bad, &index).expect_err("invalid");
        let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["month", "account", "activity_line"]);
        assert!(problems.iter().all(|p| p.row == 7));
        let unknown = pb::LedgerEntryInput { finess: "130786049".into(), ..ok };
        assert_eq!(validate_entry(2, &unknown, &index).expect_err("unknown").len(), 1);
    }

    #[test]
    fn scopes_and_periods_parse() {
        assert_eq!(Scope::parse("").expect("national"), Scope::National);
        assert_eq!(Scope::parse("regions/nord").expect("nord").name(), "regions/NORD");
        assert!(Scope::parse("regions/OUEST").is_err());
        assert_eq!(Scope::parse("structureGroups/ssiad").expect("group"), Scope::Group("ssiad".into()));
        assert!(parse_results_period("2022Q1").is_ok());
        assert!(parse_results_period("2022W10").is_err());
        assert!(parse_results_period("").is_err());
        assert!(account_class("7083").is_ok());
        assert!(account_class("4011").is_err());
        assert!(account_class("6a1").is_err());
    }
}
