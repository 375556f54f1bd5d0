//! Pure HR rules: identifiers, exact rates, the staffing-plan check, the
//! departures foreseen by the GEPP view and the COG 2022-2024 HR indicators.
//! No I/O: storage gathers the counts, these functions decide.

use chrono::{Datelike, NaiveDate, Weekday};

/// Default retirement age of the GEPP view. hr.md names "retirement age
/// reached" without an age; 64 is the legal minimum age of the general
/// pension scheme after the law of 14 April 2023 (reached progressively,
/// fully for people born in 1968 or later, who are most of the workforce to
/// plan for). A request may ask for another age (60 to 70).
pub const DEFAULT_RETIREMENT_AGE: i32 = 64;
/// Default horizon of the GEPP view, in years (issue 5: next three years).
pub const DEFAULT_HORIZON_YEARS: i32 = 3;
/// Training completions count for COG22.SUP.2–4 from the start of the COG
/// 2022-2024 (hr.md 4.2: "since 1/1/2022").
pub const COG_START_YEAR: i32 = 2022;
/// One full-time post in hundredths of FTE.
pub const FULL_TIME: i32 = 100;

/// A pseudonymous employee id: 1 to 64 ASCII letters, digits, `_` or `-`
/// (no room for a name with spaces or accents; a NIR is refused below).
pub fn check_employee_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err("must be 1 to 64 letters, digits, '_' or '-' (a pseudonymous id)".into());
    }
    // Thirteen or fifteen digits look like a NIR: personal data the service must not hold.
    if (id.len() == 13 || id.len() == 15) && id.bytes().all(|b| b.is_ascii_digit()) {
        return Err("looks like a NIR: use the pseudonymous employee id".into());
    }
    Ok(())
}

/// A job code: 2 to 32 upper-case letters, digits, `_` or `-`.
pub fn check_job_code(code: &str) -> Result<(), String> {
    if (2..=32).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-') {
        Ok(())
    } else {
        Err("must be 2 to 32 upper-case letters, digits, '_' or '-'".into())
    }
}

/// `numerator × 100 ÷ denominator` rounded half up (away from zero) to two
/// decimals, from exact integers; empty when the denominator is 0.
pub fn percent(numerator: i64, denominator: i64) -> String {
    if denominator == 0 {
        return String::new();
    }
    let (n, d) = (i128::from(numerator) * 10_000, i128::from(denominator));
    let negative = (n < 0) != (d < 0) && n != 0;
    let (n, d) = (n.abs(), d.abs());
    let hundredths = (2 * n + d) / (2 * d);
    format!("{}{}.{:02}", if negative { "-" } else { "" }, hundredths / 100, hundredths % 100)
}

/// Free FTE of a structure and job: authorised − filled − open vacancies.
pub fn free_fte(authorised: i64, filled: i64, open_vacancies: i64) -> i64 {
    authorised - filled - open_vacancies
}

/// Why a departure is foreseen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// The contract's end date falls within the horizon.
    ContractEnd,
    /// The retirement age is reached within the horizon.
    Retirement,
}

/// The departure foreseen for a person active on `as_of`, if any, with its
/// year. A known contract end within `(as_of, horizon_end]` wins when it comes
/// first. Only the birth year is stored, so the age is taken as reached
/// during the year `birth_year + retirement_age`: counted when that year is
/// no later than the horizon end's year (a person already past the age is
/// due now).
pub fn foreseen_departure(
    birth_year: i32,
    end_date: Option<NaiveDate>,
    as_of: NaiveDate,
    horizon_end: NaiveDate,
    retirement_age: i32,
) -> Option<(Departure, i32)> {
    let retirement_year = birth_year + retirement_age;
    let retirement = (retirement_year <= horizon_end.year()).then(|| retirement_year.max(as_of.year()));
    let contract_end = end_date.filter(|e| *e > as_of && *e <= horizon_end).map(|e| e.year());
    match (contract_end, retirement) {
        (Some(c), Some(r)) if r < c => Some((Departure::Retirement, r)),
        (Some(c), _) => Some((Departure::ContractEnd, c)),
        (None, Some(r)) => Some((Departure::Retirement, r)),
        (None, None) => None,
    }
}

/// Weekdays (Monday to Friday) from `start` to `end` inclusive; 0 when empty.
/// Public holidays are not removed: the same calendar applies to every person,
/// so the rate's comparison across structures is unaffected.
pub fn weekdays(start: NaiveDate, end: NaiveDate) -> i64 {
    if end < start {
        return 0;
    }
    let days = (end - start).num_days() + 1;
    let full_weeks = days / 7;
    let mut count = full_weeks * 5;
    let mut d = start + chrono::Duration::days(full_weeks * 7);
    while d <= end {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            count += 1;
        }
        d += chrono::Duration::days(1);
    }
    count
}

/// Lower median of day counts; 0 when empty.
pub fn lower_median(mut values: Vec<i32>) -> i32 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    values[(values.len() - 1) / 2]
}

/// The counts the eleven indicators of a year are computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndicatorInputs {
    pub year: i32,
    /// Training spend of the year, cents.
    pub training_cost_cents: i64,
    /// Gross payroll of the year, cents.
    pub payroll_gross_cents: i64,
    /// Managers in post on 31 December.
    pub managers: i64,
    /// Of which trained in change management since 2022.
    pub managers_change: i64,
    /// Of which trained in management by objectives since 2022.
    pub managers_mbo: i64,
    /// Distinct managers and HR-team members in post on 31 December.
    pub career_population: i64,
    /// Of which trained in career-path management since 2022.
    pub career_trained: i64,
    /// Disability diagnostic date.
    pub diagnostic_date: Option<NaiveDate>,
    /// Disability plan actions in force, and done.
    pub disability_actions: i64,
    pub disability_done: i64,
    /// Agreements signed in the year by type.
    pub harmonisation_signed: i64,
    pub overhaul_signed: i64,
    /// Company agreements signed in the year, and of which with a didactic
    /// support published by 31 December.
    pub agreements_signed: i64,
    pub agreements_with_support: i64,
    /// Labour-litigation hub creation date.
    pub litigation_hub_date: Option<NaiveDate>,
    /// Signature events on eligible types, and electronic ones.
    pub signature_events: i64,
    pub electronic_signatures: i64,
    /// Remote meetings with votes, and with every vote by e-voting.
    pub remote_meetings: i64,
    pub remote_meetings_evoting: i64,
}

/// Kind of an indicator value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rate,
    Count,
    Milestone,
}

/// One computed indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    pub code: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    pub numerator: i64,
    pub denominator: i64,
    pub unit: &'static str,
    /// Milestone reached by 31 December (milestone rows and SUP.5).
    pub milestone: Option<(bool, Option<NaiveDate>)>,
    pub definition: &'static str,
}

/// COG22.SUP.1 to COG22.SUP.11 for a year (hr.md 4.2).
pub fn indicators(i: &IndicatorInputs) -> Vec<Indicator> {
    let year_end = NaiveDate::from_ymd_opt(i.year, 12, 31);
    let by_year_end = |d: Option<NaiveDate>| (d.is_some_and(|d| year_end.is_some_and(|e| d <= e)), d);
    let rate = |code, label, numerator, denominator, unit, definition| Indicator {
        code,
        label,
        kind: Kind::Rate,
        numerator,
        denominator,
        unit,
        milestone: None,
        definition,
    };
    let count = |code, label, numerator, definition| Indicator {
        code,
        label,
        kind: Kind::Count,
        numerator,
        denominator: 0,
        unit: "agreements",
        milestone: None,
        definition,
    };
    let mut disability = rate(
        "COG22.SUP.5",
        "Deployment rate of the disability action plan",
        i.disability_done,
        i.disability_actions,
        "plan actions",
        "Plan actions done on 31/12 ÷ plan actions in force on 31/12; the 2022 milestone is the diagnostic dated on or before 31/12",
    );
    disability.milestone = Some(by_year_end(i.diagnostic_date));
    vec![
        rate(
            "COG22.SUP.1",
            "Share of payroll devoted to vocational training",
            i.training_cost_cents,
            i.payroll_gross_cents,
            "cents",
            "Training spend of the year (actions dated in the year) ÷ gross payroll of the year",
        ),
        rate(
            "COG22.SUP.2",
            "Managers trained in change management",
            i.managers_change,
            i.managers,
            "managers",
            "Managers in post on 31/12 who completed a change-management action since 1/1/2022 ÷ managers in post on 31/12",
        ),
        rate(
            "COG22.SUP.3",
            "Managers trained in management by objectives and results",
            i.managers_mbo,
            i.managers,
            "managers",
            "Managers in post on 31/12 who completed a management-by-objectives action since 1/1/2022 ÷ managers in post on 31/12",
        ),
        rate(
            "COG22.SUP.4",
            "Managers and HR teams trained in career-path management",
            i.career_trained,
            i.career_population,
            "people",
            "Distinct managers or HR-team members in post on 31/12 who completed a career-path action since 1/1/2022 ÷ distinct managers or HR-team members in post on 31/12",
        ),
        disability,
        count(
            "COG22.SUP.6",
            "Harmonisation agreements for the single company (3 expected)",
            i.harmonisation_signed,
            "Agreements of type HARMONISATION signed in the year",
        ),
        Indicator {
            code: "COG22.SUP.7",
            label: "Labour-litigation expertise hub created within the DNRH",
            kind: Kind::Milestone,
            numerator: 0,
            denominator: 0,
            unit: "",
            milestone: Some(by_year_end(i.litigation_hub_date)),
            definition: "Hub creation date on or before 31/12",
        },
        rate(
            "COG22.SUP.8",
            "Didactic supports for legal documents",
            i.agreements_with_support,
            i.agreements_signed,
            "agreements",
            "Company agreements signed in the year with a didactic support published by 31/12 ÷ company agreements signed in the year",
        ),
        rate(
            "COG22.SUP.9",
            "Electronic signatures used within the company",
            i.electronic_signatures,
            i.signature_events,
            "signature events",
            "Electronic signature events of the year ÷ signature events of the year on eligible document types",
        ),
        rate(
            "COG22.SUP.10",
            "Videoconferences with in-meeting electronic voting",
            i.remote_meetings_evoting,
            i.remote_meetings,
            "meetings",
            "Remote or hybrid staff-body meetings of the year where every vote used e-voting ÷ such meetings with at least one vote",
        ),
        count("COG22.SUP.11", "Overhaul agreements (4 expected)", i.overhaul_signed, "Agreements of type OVERHAUL signed in the year"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn percent_rounds_half_up_from_exact_integers() {
        for (n, den, want) in [
            (229, 10_000, "2.29"),
            (115_000_000, 5_000_000_000, "2.30"),
            (145_000_000, 5_000_000_000, "2.90"),
            (104, 200, "52.00"),
            (205, 210, "97.62"),
            (11, 12, "91.67"),
            (2, 3, "66.67"),
            (1, 8, "12.50"),
            (1, 800, "0.13"),
            (-1, 800, "-0.13"),
            (0, 5, "0.00"),
            (3, 0, ""),
        ] {
            assert_eq!(percent(n, den), want, "{n}/{den}");
        }
    }

    #[test]
    fn identifiers() {
        assert!(check_employee_id("EMP-000123").is_ok());
        assert!(check_employee_id("").is_err());
        assert!(check_employee_id("Jean Dupont").is_err());
        assert!(check_employee_id("185057800608436").is_err());
        assert!(check_job_code("MED_GP").is_ok());
        assert!(check_job_code("m").is_err());
    }

    #[test]
    fn free_fte_subtracts_filled_and_open_vacancies() {
        // hr.md H12: 3.0 authorised, 2.5 filled: 0.5 free.
        assert_eq!(free_fte(300, 250, 0), 50);
        assert_eq!(free_fte(300, 250, 50), 0);
        assert_eq!(free_fte(100, 120, 0), -20);
    }

    #[test]
    fn departures_within_the_horizon() {
        let as_of = d("2026-06-30");
        let end = d("2029-06-30");
        let cases = [
            // (birth year, end date, expected)
            (1963, None, Some((Departure::Retirement, 2027))),
            (1965, None, Some((Departure::Retirement, 2029))),
            (1966, None, None),
            (1958, None, Some((Departure::Retirement, 2026))),
            (1990, Some(d("2027-03-31")), Some((Departure::ContractEnd, 2027))),
            (1990, Some(d("2029-07-01")), None),
            (1990, Some(d("2026-06-30")), None),
            (1962, Some(d("2028-12-31")), Some((Departure::Retirement, 2026))),
            (1964, Some(d("2027-01-31")), Some((Departure::ContractEnd, 2027))),
        ];
        for (birth, end_date, want) in cases {
            assert_eq!(foreseen_departure(birth, end_date, as_of, end, 64), want, "{birth} {end_date:?}");
        }
        assert_eq!(foreseen_departure(1966, None, as_of, end, 62), Some((Departure::Retirement, 2028)));
    }

    #[test]
    fn weekdays_count_monday_to_friday() {
        assert_eq!(weekdays(d("2022-01-01"), d("2022-12-31")), 260);
        assert_eq!(weekdays(d("2024-01-01"), d("2024-12-31")), 262);
        assert_eq!(weekdays(d("2022-01-03"), d("2022-01-09")), 5);
        assert_eq!(weekdays(d("2022-01-08"), d("2022-01-09")), 0);
        assert_eq!(weekdays(d("2022-01-10"), d("2022-01-09")), 0);
    }

    #[test]
    fn lower_median_of_days() {
        assert_eq!(lower_median(vec![]), 0);
        assert_eq!(lower_median(vec![30, 10, 20]), 20);
        assert_eq!(lower_median(vec![40, 10, 20, 30]), 20);
    }

    #[test]
    fn indicators_take_numerator_and_denominator_from_the_counts() {
        let inputs = IndicatorInputs {
            year: 2022,
            training_cost_cents: 115_000_000,
            payroll_gross_cents: 5_000_000_000,
            managers: 200,
            managers_change: 104,
            managers_mbo: 60,
            career_population: 180,
            career_trained: 180,
            diagnostic_date: Some(d("2022-10-15")),
            disability_actions: 12,
            disability_done: 0,
            harmonisation_signed: 1,
            overhaul_signed: 2,
            agreements_signed: 3,
            agreements_with_support: 2,
            litigation_hub_date: Some(d("2023-03-01")),
            signature_events: 1000,
            electronic_signatures: 520,
            remote_meetings: 12,
            remote_meetings_evoting: 11,
        };
        let all = indicators(&inputs);
        assert_eq!(all.len(), 11);
        let get = |code: &str| all.iter().find(|i| i.code == code).unwrap().clone();
        assert_eq!(percent(get("COG22.SUP.1").numerator, get("COG22.SUP.1").denominator), "2.30");
        assert_eq!(percent(get("COG22.SUP.2").numerator, get("COG22.SUP.2").denominator), "52.00");
        assert_eq!(percent(get("COG22.SUP.4").numerator, get("COG22.SUP.4").denominator), "100.00");
        assert_eq!(get("COG22.SUP.5").milestone, Some((true, Some(d("2022-10-15")))));
        assert_eq!(get("COG22.SUP.6").numerator, 1);
        assert_eq!(get("COG22.SUP.7").milestone, Some((false, Some(d("2023-03-01")))));
        assert_eq!(percent(get("COG22.SUP.8").numerator, get("COG22.SUP.8").denominator), "66.67");
        assert_eq!(percent(get("COG22.SUP.9").numerator, get("COG22.SUP.9").denominator), "52.00");
        assert_eq!(percent(get("COG22.SUP.10").numerator, get("COG22.SUP.10").denominator), "91.67");
        assert_eq!(get("COG22.SUP.11").kind, Kind::Count);
    }
}
