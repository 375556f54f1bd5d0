//! CSV and NDJSON uploads of acts: bytes arrive in chunks cut anywhere; lines
//! are reassembled and parsed into [`ActInput`] rows. A line that cannot be
//! parsed becomes a row error with its row number, like an invalid row.
//!
//! CSV: a header line names the columns (any order): `act_date`, `finess`,
//! `line`, `nomenclature`, `code`, `mode`, `scheme`, `amount_cents`,
//! `source_ref`, and the patient as `patient_nir` or `patient_partner` +
//! `patient_partner_id`. Fields may be quoted with `"` (a doubled `""` inside
//! is a quote); a quoted field cannot span lines. Enum values are the short or
//! full proto names (`GENERAL_MEDICINE`, `ACTIVITY_LINE_GENERAL_MEDICINE`).
//! NDJSON: one JSON object per line with the same fields (snake_case or
//! lowerCamelCase), the patient as `"patient": {"nir": …}` or
//! `"patient": {"partner": {"partner": …, "id": …}}`.

use filieris_kernel::csv::split_csv_line;
use filieris_proto::activity as pb;

use super::rows::RowProblem;

/// Longest line accepted (a row is far smaller; this bounds memory).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// One row of an import: parsed, or already known to be broken.
#[derive(Debug, Clone, PartialEq)]
pub enum RowInput {
    /// A row to validate.
    Act(pb::ActInput),
    /// A line that could not be parsed.
    Unparsable(Vec<RowProblem>),
}

/// Upload formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header.
    Csv,
    /// JSON lines.
    Ndjson,
}

/// Turns chunks of bytes into rows.
#[derive(Debug)]
pub struct UploadParser {
    format: Format,
    pending: Vec<u8>,
    header: Option<Vec<String>>,
}

fn problem(field: &'static str, reason: impl Into<String>) -> RowInput {
    RowInput::Unparsable(vec![RowProblem { field, reason: reason.into() }])
}

impl UploadParser {
    /// A parser for one upload.
    pub fn new(format: Format) -> Self {
        Self { format, pending: Vec::new(), header: None }
    }

    /// Parses the complete lines of `chunk` (and of what was pending).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<RowInput> {
        self.pending.extend_from_slice(chunk);
        let mut rows = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.line(&line[..line.len() - 1], &mut rows);
        }
        if self.pending.len() > MAX_LINE_BYTES {
            self.pending.clear();
            rows.push(problem("line", format!("a line is longer than {MAX_LINE_BYTES} bytes")));
        }
        rows
    }

    /// Parses the last line (without a final newline).
    pub fn finish(&mut self) -> Vec<RowInput> {
        let rest = std::mem::take(&mut self.pending);
        let mut rows = Vec::new();
        self.line(&rest, &mut rows);
        if self.format == Format::Csv && self.header.is_none() {
            rows.push(problem("header", "the CSV upload is empty: a header line naming the columns is required"));
        }
        rows
    }

    fn line(&mut self, raw: &[u8], rows: &mut Vec<RowInput>) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Ok(text) = std::str::from_utf8(raw) else {
            rows.push(problem("line", "is not UTF-8"));
            return;
        };
        if text.trim().is_empty() {
            return;
        }
        match self.format {
            Format::Ndjson => rows.push(parse_json(text)),
            Format::Csv => match &self.header {
                None => match split_csv_line(text) {
                    Ok(cols) => self.header = Some(cols.into_iter().map(|c| c.trim().to_ascii_lowercase()).collect()),
                    Err(e) => rows.push(problem("header", e)),
                },
                Some(header) => rows.push(match split_csv_line(text) {
                    Err(e) => problem("line", e),
                    Ok(values) if values.len() != header.len() => {
                        problem("line", format!("{} fields where the header names {}", values.len(), header.len()))
                    }
                    Ok(values) => {
                        let pairs = header.iter().map(String::as_str).zip(values.iter().map(String::as_str));
                        from_fields(pairs)
                    }
                }),
            },
        }
    }
}

fn enum_value<T>(text: &str, prefix: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
    let upper = text.trim().to_ascii_uppercase();
    parse(&upper).or_else(|| parse(&format!("{prefix}{upper}")))
}

/// Builds a row from (column, value) pairs; unknown columns are errors.
fn from_fields<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> RowInput {
    let mut act = pb::ActInput::default();
    let mut nir = None;
    let mut partner = None;
    let mut partner_id = None;
    let mut problems = Vec::new();
    for (key, value) in pairs {
        let v = value.trim();
        let bad = |field: &'static str| RowProblem { field, reason: format!("{v:?} is not a valid value") };
        match key {
            "act_date" | "actdate" => act.act_date = v.to_owned(),
            "finess" => act.finess = v.to_owned(),
            "line" => match enum_value(v, "ACTIVITY_LINE_", pb::ActivityLine::from_str_name) {
                Some(l) => act.line = l as i32,
                None => problems.push(bad("line")),
            },
            "nomenclature" => match enum_value(v, "NOMENCLATURE_", pb::Nomenclature::from_str_name) {
                Some(n) => act.nomenclature = n as i32,
                None => problems.push(bad("nomenclature")),
            },
            "code" => act.code = v.to_owned(),
            "mode" if v.is_empty() => {}
            "mode" => match enum_value(v, "ACT_MODE_", pb::ActMode::from_str_name) {
                Some(m) => act.mode = m as i32,
                None => problems.push(bad("mode")),
            },
            "scheme" => match enum_value(v, "SCHEME_", pb::Scheme::from_str_name) {
                Some(s) => act.scheme = s as i32,
                None => problems.push(bad("scheme")),
            },
            "amount_cents" | "amountcents" if v.is_empty() => {}
            "amount_cents" | "amountcents" => match v.parse::<i64>() {
                Ok(n) => act.amount_cents = n,
                Err(_) => problems.push(RowProblem { field: "amount_cents", reason: "must be a whole number of cents".into() }),
            },
            "source_ref" | "sourceref" => act.source_ref = v.to_owned(),
            "patient_nir" | "patientnir" if !v.is_empty() => nir = Some(v.to_owned()),
            "patient_partner" | "patientpartner" if !v.is_empty() => partner = Some(v.to_owned()),
            "patient_partner_id" | "patientpartnerid" if !v.is_empty() => partner_id = Some(v.to_owned()),
            "patient_nir" | "patientnir" | "patient_partner" | "patientpartner" | "patient_partner_id" | "patientpartnerid" => {}
            other => problems.push(RowProblem { field: "line", reason: format!("unknown column {other:?}") }),
        }
    }
    act.patient = match (nir, partner, partner_id) {
        (Some(n), None, None) => Some(pb::PatientRef { identity: Some(pb::patient_ref::Identity::Nir(n)) }),
        (None, Some(p), Some(id)) => {
            Some(pb::PatientRef { identity: Some(pb::patient_ref::Identity::Partner(pb::PartnerPseudonym { partner: p, id })) })
        }
        (None, None, None) => None,
        _ => {
            problems.push(RowProblem {
                field: "patient",
                reason: "give either patient_nir, or patient_partner with patient_partner_id".into(),
            });
            None
        }
    };
    if problems.is_empty() { RowInput::Act(act) } else { RowInput::Unparsable(problems) }
}

fn parse_json(line: &str) -> RowInput {
    let value: serde_json::Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return problem("line", format!("not a JSON object: {e}")),
    };
    let Some(obj) = value.as_object() else { return problem("line", "not a JSON object") };
    let mut flat: Vec<(String, String)> = Vec::new();
    for (k, v) in obj {
        let key = k.to_ascii_lowercase().replace('_', "");
        if key == "patient" {
            match v {
                serde_json::Value::Object(p) => {
                    if let Some(n) = p.get("nir").and_then(|n| n.as_str()) {
                        flat.push(("patient_nir".into(), n.to_owned()));
                    }
                    if let Some(pp) = p.get("partner").and_then(|x| x.as_object()) {
                        flat.push(("patient_partner".into(), pp.get("partner").and_then(|x| x.as_str()).unwrap_or_default().to_owned()));
                        flat.push(("patient_partner_id".into(), pp.get("id").and_then(|x| x.as_str()).unwrap_or_default().to_owned()));
                    }
                }
                _ => return problem("patient", "must be an object: {\"nir\": …} or {\"partner\": {\"partner\": …, \"id\": …}}"),
            }
            continue;
        }
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        let canonical = match key.as_str() {
            "actdate" => "act_date",
            "amountcents" => "amount_cents",
            "sourceref" => "source_ref",
            _ => key.as_str(),
        };
        flat.push((canonical.to_owned(), text));
    }
    from_fields(flat.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acts(rows: &[RowInput]) -> Vec<&pb::ActInput> {
        rows.iter()
            .filter_map(|r| match r {
                RowInput::Act(a) => Some(a),
                RowInput::Unparsable(_) => None,
            })
            .collect()
    }

    #[test]
    fn csv_lines_split_across_chunks() {
        let text = "act_date,finess,line,nomenclature,code,scheme,amount_cents,patient_nir\n\
                    2018-03-01,590000014,GENERAL_MEDICINE,NGAP,C,OTHER,2500,189127512501282\n\
                    2018-03-02,590000014,ACTIVITY_LINE_NURSING,NGAP,\"AMI 1,5\",MINING,,255081416802538";
        let mut p = UploadParser::new(Format::Csv);
        let mut rows = Vec::new();
        for chunk in text.as_bytes().chunks(7) {
            rows.extend(p.push(chunk));
        }
        rows.extend(p.finish());
        let a = acts(&rows);
        assert_eq!(a.len(), 2, "{rows:?}");
        assert_eq!(a[1].code, "AMI 1,5");
        assert_eq!(a[1].line, pb::ActivityLine::Nursing as i32);
        assert!(matches!(a[0].patient.as_ref().and_then(|p| p.identity.as_ref()), Some(pb::patient_ref::Identity::Nir(_))));
    }

    #[test]
    fn broken_csv_lines_become_row_errors() {
        let mut p = UploadParser::new(Format::Csv);
        let mut rows = p.push(b"act_date,finess,line,colour\n2018-01-01,590000014,GENERAL_MEDICINE,blue\n2018-01-01,1\n\"open\n");
        rows.extend(p.finish());
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|r| matches!(r, RowInput::Unparsable(_))), "{rows:?}");
    }

    #[test]
    fn ndjson_rows_with_camel_or_snake_case() {
        let mut p = UploadParser::new(Format::Ndjson);
        let text = r#"{"actDate":"2018-01-02","finess":"590000014","line":"GENERAL_MEDICINE","nomenclature":"NGAP","code":"C","scheme":"OTHER","amountCents":2500,"patient":{"partner":{"partner":"mlm","id":"42"}}}
{"act_date":"2018-01-03","finess":"590000014","line":"DENTAL","nomenclature":"CCAM","code":"HBLD038","scheme":"MINING","patient":{"nir":"189127512501282"}}
not json
"#;
        let rows = p.push(text.as_bytes());
        assert_eq!(rows.len(), 3);
        let a = acts(&rows);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].amount_cents, 2500);
        assert_eq!(a[1].nomenclature, pb::Nomenclature::Ccam as i32);
        assert!(matches!(rows[2], RowInput::Unparsable(_)));
    }

    #[test]
    fn empty_csv_needs_a_header() {
        let mut p = UploadParser::new(Format::Csv);
        let rows = p.finish();
        assert!(matches!(&rows[0], RowInput::Unparsable(v) if v[0].field == "header"));
    }
}
