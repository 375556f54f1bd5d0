//! Reporting periods written as DHIS2-style codes: `2024` (year), `2024S1`
//! (semester), `2024Q1` (quarter), `202403` (month), `2024W10` (ISO week),
//! `20240315` (day). Parsing computes the covered dates once, so the
//! accessors cannot fail.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, Weekday};
use thiserror::Error;

/// The length of a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeriodKind {
    Year,
    Semester,
    Quarter,
    Month,
    Week,
    Day,
}

impl PeriodKind {
    /// Upper-case name, stable for storage and APIs ("YEAR", "WEEK"…).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Year => "YEAR",
            Self::Semester => "SEMESTER",
            Self::Quarter => "QUARTER",
            Self::Month => "MONTH",
            Self::Week => "WEEK",
            Self::Day => "DAY",
        }
    }
}

impl fmt::Display for PeriodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a period code was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PeriodError {
    #[error(
        "period must be a year (2024), semester (2024S1), quarter (2024Q1), month (202403), ISO week on two digits (2024W10) or day (20240315)"
    )]
    Format,
    #[error("{period} is not a period: semesters are S1 and S2")]
    Semester { period: String },
    #[error("{period} is not a period: quarters are Q1 to Q4")]
    Quarter { period: String },
    #[error("{period} is not a period: months are 01 to 12")]
    Month { period: String },
    #[error("{period} is not a period: ISO year {year:04} has no week {week:02}")]
    Week { period: String, year: i32, week: u32 },
    #[error("{period} is not a period: no such day in the calendar")]
    Day { period: String },
}

/// A validated period. Equality is on the code: 2024Q1 and 202401-202403
/// are different periods.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    kind: PeriodKind,
    /// Calendar year, or ISO week-year for weeks.
    year: i32,
    /// Semester, quarter, month or week number; 0 for years, day of month for days.
    number: u32,
    start: NaiveDate,
    end: NaiveDate,
}

fn ymd(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day)
}

/// First and last day of the months `first..=last` of `year`.
fn month_span(year: i32, first: u32, last: u32) -> Option<(NaiveDate, NaiveDate)> {
    let start = ymd(year, first, 1)?;
    let end = if last == 12 { ymd(year, 12, 31)? } else { ymd(year, last + 1, 1)?.pred_opt()? };
    Some((start, end))
}

fn two_digits(a: u8, b: u8) -> Option<u32> {
    (a.is_ascii_digit() && b.is_ascii_digit()).then(|| u32::from(a - b'0') * 10 + u32::from(b - b'0'))
}

impl Period {
    /// Parses a period code. Codes are upper-case and unpadded by anything
    /// but the fixed widths shown in the module documentation.
    pub fn parse(input: &str) -> Result<Self, PeriodError> {
        let bytes = input.as_bytes();
        let (year_part, rest) = match bytes.split_at_checked(4) {
            Some((y, rest)) if y.iter().all(u8::is_ascii_digit) => (y, rest),
            _ => return Err(PeriodError::Format),
        };
        let year = year_part.iter().fold(0i32, |acc, b| acc * 10 + i32::from(b - b'0'));
        let period = || input.to_owned();

        let (kind, number, span) = match *rest {
            [] => (PeriodKind::Year, 0, month_span(year, 1, 12)),
            [b'S', n @ b'1'..=b'2'] => {
                let s = u32::from(n - b'0');
                (PeriodKind::Semester, s, month_span(year, 6 * s - 5, 6 * s))
            }
            [b'S', n] if n.is_ascii_digit() => {
                return Err(PeriodError::Semester { period: period() });
            }
            [b'Q', n @ b'1'..=b'4'] => {
                let q = u32::from(n - b'0');
                (PeriodKind::Quarter, q, month_span(year, 3 * q - 2, 3 * q))
            }
            [b'Q', n] if n.is_ascii_digit() => {
                return Err(PeriodError::Quarter { period: period() });
            }
            [b'W', a, b] => {
                let week = two_digits(a, b).ok_or(PeriodError::Format)?;
                let start = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon);
                let end = NaiveDate::from_isoywd_opt(year, week, Weekday::Sun);
                match start.zip(end) {
                    Some(span) => (PeriodKind::Week, week, Some(span)),
                    None => {
                        return Err(PeriodError::Week { period: period(), year, week });
                    }
                }
            }
            [a, b] => {
                let month = two_digits(a, b).ok_or(PeriodError::Format)?;
                if !(1..=12).contains(&month) {
                    return Err(PeriodError::Month { period: period() });
                }
                (PeriodKind::Month, month, month_span(year, month, month))
            }
            [a, b, c, d] => {
                let (month, day) = two_digits(a, b).zip(two_digits(c, d)).ok_or(PeriodError::Format)?;
                let date = ymd(year, month, day).ok_or_else(|| PeriodError::Day { period: period() })?;
                (PeriodKind::Day, day, Some((date, date)))
            }
            _ => return Err(PeriodError::Format),
        };
        // Every 4-digit year is within chrono's range, so spans always exist.
        let (start, end) = span.ok_or(PeriodError::Format)?;
        Ok(Self { kind, year, number, start, end })
    }

    pub fn kind(&self) -> PeriodKind {
        self.kind
    }

    /// Calendar year; for weeks, the ISO week-year (2020W01 starts in 2019).
    pub fn year(&self) -> i32 {
        self.year
    }

    /// First day of the period.
    pub fn start(&self) -> NaiveDate {
        self.start
    }

    /// Last day of the period, inclusive.
    pub fn end(&self) -> NaiveDate {
        self.end
    }

    /// True when `date` falls within the period, both ends included.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start <= date && date <= self.end
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, n) = (self.year, self.number);
        match self.kind {
            PeriodKind::Year => write!(f, "{y:04}"),
            PeriodKind::Semester => write!(f, "{y:04}S{n}"),
            PeriodKind::Quarter => write!(f, "{y:04}Q{n}"),
            PeriodKind::Month => write!(f, "{y:04}{n:02}"),
            PeriodKind::Week => write!(f, "{y:04}W{n:02}"),
            PeriodKind::Day => write!(f, "{y:04}{:02}{:02}", self.start.month(), self.start.day()),
        }
    }
}

impl fmt::Debug for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Period({self})")
    }
}

impl FromStr for Period {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <String as serde::Deserialize>::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        crate::date::parse_date(s).unwrap()
    }

    /// Code, kind, first day, last day.
    const TABLE: &[(&str, PeriodKind, &str, &str)] = &[
        ("2024", PeriodKind::Year, "2024-01-01", "2024-12-31"),
        ("2024S1", PeriodKind::Semester, "2024-01-01", "2024-06-30"),
        ("2024S2", PeriodKind::Semester, "2024-07-01", "2024-12-31"),
        ("2024Q1", PeriodKind::Quarter, "2024-01-01", "2024-03-31"),
        ("2024Q2", PeriodKind::Quarter, "2024-04-01", "2024-06-30"),
        ("2024Q3", PeriodKind::Quarter, "2024-07-01", "2024-09-30"),
        ("2024Q4", PeriodKind::Quarter, "2024-10-01", "2024-12-31"),
        ("202401", PeriodKind::Month, "2024-01-01", "2024-01-31"),
        ("202402", PeriodKind::Month, "2024-02-01", "2024-02-29"),
        ("202302", PeriodKind::Month, "2023-02-01", "2023-02-28"),
        ("202403", PeriodKind::Month, "2024-03-01", "2024-03-31"),
        ("202412", PeriodKind::Month, "2024-12-01", "2024-12-31"),
        ("2024W01", PeriodKind::Week, "2024-01-01", "2024-01-07"),
        ("2024W10", PeriodKind::Week, "2024-03-04", "2024-03-10"),
        ("2020W01", PeriodKind::Week, "2019-12-30", "2020-01-05"),
        ("2020W53", PeriodKind::Week, "2020-12-28", "2021-01-03"),
        ("2024W52", PeriodKind::Week, "2024-12-23", "2024-12-29"),
        ("20240315", PeriodKind::Day, "2024-03-15", "2024-03-15"),
        ("20240229", PeriodKind::Day, "2024-02-29", "2024-02-29"),
        ("9999", PeriodKind::Year, "9999-01-01", "9999-12-31"),
    ];

    #[test]
    fn parses_and_round_trips() {
        for &(code, kind, start, end) in TABLE {
            let p = Period::parse(code).unwrap();
            assert_eq!(p.kind(), kind, "{code}");
            assert_eq!(p.start(), d(start), "{code}");
            assert_eq!(p.end(), d(end), "{code}");
            assert_eq!(p.to_string(), code);
            assert_eq!(code.parse::<Period>().unwrap(), p);
        }
    }

    #[test]
    fn week_year_is_iso() {
        let p = Period::parse("2020W01").unwrap();
        assert_eq!(p.year(), 2020);
        assert_eq!(p.start().year(), 2019);
    }

    #[test]
    fn contains_is_inclusive() {
        let q1 = Period::parse("2024Q1").unwrap();
        assert!(q1.contains(d("2024-01-01")));
        assert!(q1.contains(d("2024-03-31")));
        assert!(!q1.contains(d("2023-12-31")));
        assert!(!q1.contains(d("2024-04-01")));
        let day = Period::parse("20240315").unwrap();
        assert!(day.contains(d("2024-03-15")));
        assert!(!day.contains(d("2024-03-16")));
    }

    #[test]
    fn rejects_invalid_codes() {
        use PeriodError as E;
        let p = |s: &str| s.to_owned();
        let cases = [
            ("2021W53", E::Week { period: p("2021W53"), year: 2021, week: 53 }),
            ("2024W00", E::Week { period: p("2024W00"), year: 2024, week: 0 }),
            ("2024W54", E::Week { period: p("2024W54"), year: 2024, week: 54 }),
            ("20230229", E::Day { period: p("20230229") }),
            ("20240431", E::Day { period: p("20240431") }),
            ("20241301", E::Day { period: p("20241301") }),
            ("202413", E::Month { period: p("202413") }),
            ("202400", E::Month { period: p("202400") }),
            ("2024Q5", E::Quarter { period: p("2024Q5") }),
            ("2024Q0", E::Quarter { period: p("2024Q0") }),
            ("2024S3", E::Semester { period: p("2024S3") }),
            ("2024S0", E::Semester { period: p("2024S0") }),
        ];
        for (code, want) in cases {
            assert_eq!(Period::parse(code), Err(want), "{code}");
        }
        for code in [
            "",
            "24",
            "202",
            "2024W1",
            "2024w01",
            "2024q1",
            "2024-03",
            "2024-03-15",
            "2024M03",
            "2024SX",
            "2024Q",
            "2024W",
            "2024WAB",
            "20243",
            "2024031",
            "202403150",
            " 2024",
            "2024 ",
            "abcd",
            "2024é",
        ] {
            assert_eq!(Period::parse(code), Err(PeriodError::Format), "{code:?}");
        }
    }

    #[test]
    fn messages() {
        let e = Period::parse("2021W53").unwrap_err();
        assert_eq!(e.to_string(), "2021W53 is not a period: ISO year 2021 has no week 53");
        assert!(Period::parse("x").unwrap_err().to_string().contains("2024W10"));
    }

    #[test]
    fn serde_as_string() {
        let p = Period::parse("2024W10").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"2024W10\"");
        assert_eq!(serde_json::from_str::<Period>("\"2024W10\"").unwrap(), p);
        assert!(serde_json::from_str::<Period>("\"2021W53\"").is_err());
        assert_eq!(format!("{p:?}"), "Period(2024W10)");
    }
}
