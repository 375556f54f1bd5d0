//! Text helpers of the report: French number formats, CSV and HTML
//! escaping, and the French wording of the API's enums.

use filieris_proto::steering as pb;

/// `v` with `decimals` decimals, French style: "1 234,5" (space between
/// thousands, comma before decimals); rounded half away from zero.
pub fn fr_number(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    let s = format!("{:.*}", decimals, v.abs() + 0.0);
    let rounded_zero = s.chars().all(|c| c == '0' || c == '.');
    let (int, frac) = s.split_once('.').map(|(i, f)| (i.to_owned(), Some(f.to_owned()))).unwrap_or((s.clone(), None));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    let sign = if v < 0.0 && !rounded_zero { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{grouped},{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A decimal string of the API ("-1234.5", "64.6") in French style, digits kept as given.
pub fn fr_decimal(s: &str) -> String {
    let (sign, digits) = s.strip_prefix('-').map(|d| ("-", d)).unwrap_or(("", s));
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() || !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return s.to_owned();
    }
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    if frac.is_empty() { format!("{sign}{grouped}") } else { format!("{sign}{grouped},{frac}") }
}

/// Cents as euros with two decimals, exactly ("-1234.05"), for the CSV files.
pub fn euros(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", (cents / 100).unsigned_abs(), (cents % 100).unsigned_abs())
}

/// Cents as whole euros, French style ("-1 234 €"), rounded half away from zero.
pub fn fr_euros(cents: i64) -> String {
    let euros = (cents.unsigned_abs() + 50) / 100;
    let sign = if cents < 0 && euros > 0 { "-" } else { "" };
    format!("{sign}{} €", fr_decimal(&euros.to_string()))
}

pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

pub fn csv_line<S: AsRef<str>>(fields: &[S]) -> String {
    let mut line = fields.iter().map(|f| csv_field(f.as_ref())).collect::<Vec<_>>().join(",");
    line.push('\n');
    line
}

/// A CSV file from a header and rows.
pub fn csv<S: AsRef<str>>(header: &[&str], rows: &[Vec<S>]) -> String {
    let mut out = csv_line(header);
    for r in rows {
        out.push_str(&csv_line(r));
    }
    out
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The enum's name without its prefix (`STATUS_MET` → `MET`), for the CSV files.
pub fn enum_name(name: Option<&str>, prefix: &str) -> String {
    name.map(|n| n.trim_start_matches(prefix).to_owned()).unwrap_or_default()
}

pub fn provenance_fr(p: i32) -> &'static str {
    match pb::Provenance::try_from(p) {
        Ok(pb::Provenance::Final) => "définitive",
        Ok(pb::Provenance::Provisional) => "provisoire",
        Ok(pb::Provenance::NotAvailable) => "non disponible",
        Ok(pb::Provenance::Manual) => "saisie manuelle",
        _ => "",
    }
}

/// The status in the report's words; "partiellement atteint" for a missed
/// target better than its base, as the 2018 report prints it.
pub fn status_fr(status: i32, qualifiers: &[i32]) -> String {
    let better = qualifiers.contains(&(pb::Qualifier::BetterThanBase as i32));
    let tolerance = qualifiers.contains(&(pb::Qualifier::WithinTolerance as i32));
    let s = match pb::Status::try_from(status) {
        Ok(pb::Status::Met) => "atteint",
        Ok(pb::Status::NotMet) if better => "partiellement atteint",
        Ok(pb::Status::NotMet) => "non atteint",
        Ok(pb::Status::OnTrack) => "en bonne voie",
        Ok(pb::Status::AtRisk) => "à risque",
        Ok(pb::Status::NotEvaluable) => "non évaluable",
        Ok(pb::Status::NoTarget) => "sans cible",
        _ => "",
    };
    if tolerance { format!("{s} (dans la tolérance)") } else { s.to_owned() }
}

/// A value as the annex prints it: the number with its unit in French
/// style, or the special value as such (NC, ND, blank, text).
pub fn value_fr(v: &pb::IndicatorValue, unit: &str) -> String {
    match pb::ValueKind::try_from(v.kind) {
        Ok(pb::ValueKind::Value) => with_unit(&v.display, unit),
        Ok(pb::ValueKind::Nc) => "NC".into(),
        Ok(pb::ValueKind::Nd) => "ND".into(),
        Ok(pb::ValueKind::Text) => v.display.clone(),
        // Blank stays blank, as printed.
        _ => String::new(),
    }
}

/// A displayed number with its unit ("64,6 %", "-1 234 567,89 €").
pub fn with_unit(display: &str, unit: &str) -> String {
    // A milestone or a text is shown as given, without a unit.
    if display.parse::<f64>().is_err() {
        return match display {
            "reached" => "réalisé".into(),
            "not reached" => "non réalisé".into(),
            other => other.to_owned(),
        };
    }
    let n = fr_decimal(display);
    match unit {
        "PCT" => format!("{n} %"),
        "EUR" => format!("{n} €"),
        "M2" => format!("{n} m²"),
        "TONNE" => format!("{n} t"),
        "PER_THOUSAND" => format!("{n} ‰"),
        _ => n,
    }
}

/// The month's French name.
pub fn month_fr(m: u32) -> &'static str {
    ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"]
        .get(m.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("")
}

/// The month's short French name, for chart axes.
pub fn month_short_fr(m: u32) -> &'static str {
    ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."]
        .get(m.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_numbers() {
        assert_eq!(fr_number(1234.56, 1), "1 234,6");
        assert_eq!(fr_number(-0.04, 1), "0,0");
        assert_eq!(fr_number(-1_000_000.0, 0), "-1 000 000");
        assert_eq!(fr_number(f64::NAN, 1), "—");
        assert_eq!(fr_decimal("-2805515.12"), "-2 805 515,12");
        assert_eq!(fr_decimal("64.6"), "64,6");
        assert_eq!(fr_decimal("texte"), "texte");
        assert_eq!(fr_euros(-123_456_789), "-1 234 568 €");
        assert_eq!(fr_euros(-49), "0 €");
        assert_eq!(euros(-5), "-0.05");
        assert_eq!(with_unit("72.7", "PCT"), "72,7 %");
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_line(&["a", "b,c", "d\"e", ""]), "a,\"b,c\",\"d\"\"e\",\n");
    }
}
