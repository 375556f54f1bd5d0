//! Lifecycle status, derived from the dates so it is always right "as of" any
//! read date: PROJECT before opening, CLOSED (or TEMPORARILY_CLOSED) from the
//! closing date, OPEN in between.

use chrono::NaiveDate;
use filieris_proto::registry::{ClosureType, StructureStatus};

/// The status of a structure on `as_of`.
pub fn status(open: NaiveDate, close: Option<NaiveDate>, closure: ClosureType, as_of: NaiveDate) -> StructureStatus {
    if as_of < open {
        return StructureStatus::Project;
    }
    match close {
        Some(c) if as_of >= c => {
            if closure == ClosureType::Temporary {
                StructureStatus::TemporarilyClosed
            } else {
                StructureStatus::Closed
            }
        }
        _ => StructureStatus::Open,
    }
}

/// The SQL expression of [`status`] over the columns of `structure_revision`
/// (qualified by `prefix`, e.g. `"cur."`), for the date expression `as_of`.
pub fn status_sql(as_of: &str, prefix: &str) -> String {
    format!(
        "(CASE WHEN {as_of} < {prefix}open_date THEN 'PROJECT' \
          WHEN {prefix}close_date IS NOT NULL AND {as_of} >= {prefix}close_date THEN \
            (CASE WHEN {prefix}closure_type = 'TEMPORARY' THEN 'TEMPORARILY_CLOSED' ELSE 'CLOSED' END) \
          ELSE 'OPEN' END)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn status_follows_the_dates() {
        let open = d("2018-02-20");
        let close = Some(d("2021-06-30"));
        let cases = [
            ("2018-02-19", None, ClosureType::Unspecified, StructureStatus::Project),
            ("2018-02-20", None, ClosureType::Unspecified, StructureStatus::Open),
            ("2021-06-29", close, ClosureType::Definitive, StructureStatus::Open),
            ("2021-06-30", close, ClosureType::Definitive, StructureStatus::Closed),
            ("2022-01-01", close, ClosureType::Temporary, StructureStatus::TemporarilyClosed),
        ];
        for (as_of, close, kind, expected) in cases {
            assert_eq!(status(open, close, kind, d(as_of)), expected, "as of {as_of}");
        }
    }
}
