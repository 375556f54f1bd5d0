//! Calendar dates at the boundary: strictly `YYYY-MM-DD` (ISO 8601 extended,
//! the form of proto `string` date fields), nothing guessed.

use chrono::NaiveDate;
use thiserror::Error;

/// Why a date string was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DateError {
    #[error("date must be written YYYY-MM-DD, e.g. 2024-03-15")]
    Format,
    #[error("{year:04}-{month:02}-{day:02} is not a calendar date")]
    NoSuchDay { year: i32, month: u32, day: u32 },
}

/// Parses a strict `YYYY-MM-DD` date: 4-digit year, 2-digit month and day,
/// hyphens, no spaces, no time part; the day must exist (2023-02-29 fails).
pub fn parse_date(input: &str) -> Result<NaiveDate, DateError> {
    let b = input.as_bytes();
    let shape_ok =
        b.len() == 10 && b[4] == b'-' && b[7] == b'-' && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape_ok {
        return Err(DateError::Format);
    }
    // All parts are ASCII digits of fixed width, so these parses succeed.
    let num = |range: std::ops::Range<usize>| input.get(range).and_then(|s| s.parse::<u32>().ok()).ok_or(DateError::Format);
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let year = i32::try_from(year).map_err(|_| DateError::Format)?;
    NaiveDate::from_ymd_opt(year, month, day).ok_or(DateError::NoSuchDay { year, month, day })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_dates() {
        assert_eq!(parse_date("2024-03-15").unwrap(), NaiveDate::from_ymd_opt(2024, 3, 15).unwrap());
        assert_eq!(parse_date("2024-02-29").unwrap(), NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
        assert_eq!(parse_date("1900-01-01").unwrap(), NaiveDate::from_ymd_opt(1900, 1, 1).unwrap());
    }

    #[test]
    fn rejects_other_shapes() {
        for input in [
            "",
            "2024-3-15",
            "2024/03/15",
            "15-03-2024",
            "20240315",
            " 2024-03-15",
            "2024-03-15 ",
            "2024-03-15T00:00:00",
            "+024-03-15",
            "2024-0a-15",
            "２０２４-03-15",
        ] {
            assert_eq!(parse_date(input), Err(DateError::Format), "{input:?}");
        }
    }

    #[test]
    fn rejects_days_that_do_not_exist() {
        for input in ["2023-02-29", "2024-13-01", "2024-00-10", "2024-04-31", "2024-01-00"] {
            let err = parse_date(input).unwrap_err();
            assert!(matches!(err, DateError::NoSuchDay { .. }), "{input}");
            assert_eq!(err.to_string(), format!("{input} is not a calendar date"));
        }
        assert_eq!(DateError::Format.to_string(), "date must be written YYYY-MM-DD, e.g. 2024-03-15");
    }
}
