//! One module per page.

pub mod actions;
pub mod activity;
pub mod assets;
pub mod budgets;
pub mod dashboard;
pub mod hr;
pub mod missions;
#[cfg_attr(not(feature = "report"), path = "reports_off.rs")]
pub mod reports;
pub mod signin;
pub mod structures;

use std::collections::HashMap;

/// A query parameter, empty when absent.
pub(crate) fn param<'a>(q: &'a HashMap<String, String>, name: &str) -> &'a str {
    q.get(name).map(|s| s.trim()).unwrap_or("")
}

/// The year asked for, within the COG years, else `default`.
pub(crate) fn year(q: &HashMap<String, String>, default: i32) -> i32 {
    param(q, "annee").parse::<i32>().ok().filter(|y| (2018..=2030).contains(y)).unwrap_or(default)
}

/// The year options of the COG 2022–2024 (and the 2018 reference year).
pub(crate) fn year_options() -> Vec<(String, String)> {
    [2022, 2023, 2024, 2018].iter().map(|y| (y.to_string(), y.to_string())).collect()
}

/// Region options for filters.
pub(crate) fn region_options(all: &str) -> Vec<(String, String)> {
    vec![("".into(), all.into()), ("NORD".into(), "Nord".into()), ("EST".into(), "Est".into()), ("SUD".into(), "Sud".into())]
}

/// An enum value's name without its prefix, for display of codes.
pub(crate) fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_owned()
}
