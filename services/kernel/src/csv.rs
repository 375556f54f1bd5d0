//! CSV lines as the reference tables and partner uploads write them: comma
//! separated, `"` quoting with `""` for a quote inside a field.

/// Splits one CSV line, honouring `"` quoting.
pub fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '"') if at_start => {
                quoted = true;
                at_start = false;
            }
            (true, '"') => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            }
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
            }
            (_, c) => {
                field.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err("unterminated quoted field (a field cannot span lines)".into());
    }
    fields.push(field);
    Ok(fields)
}

/// Parses a whole CSV text with a header line into records keyed by column
/// name; blank lines are skipped.
pub fn parse_csv_records(text: &str) -> Result<Vec<std::collections::HashMap<String, String>>, String> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let header = match lines.next() {
        Some((_, h)) => split_csv_line(h.trim_start_matches('\u{feff}'))?,
        None => return Ok(Vec::new()),
    };
    lines
        .map(|(n, line)| {
            let fields = split_csv_line(line).map_err(|e| format!("line {}: {e}", n + 1))?;
            if fields.len() != header.len() {
                return Err(format!("line {}: {} fields, the header has {}", n + 1, fields.len(), header.len()));
            }
            Ok(header.iter().cloned().zip(fields).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_keep_commas_and_quotes() {
        assert_eq!(split_csv_line(r#"a,"b,c","d""e""#).unwrap(), vec!["a", "b,c", "d\"e"]);
        assert!(split_csv_line(r#"a,"b"#).is_err());
    }

    #[test]
    fn records_are_keyed_by_header_and_checked_for_width() {
        let rows = parse_csv_records("x,y\n1,\"2,5\"\n\n3,4\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["y"], "2,5");
        assert!(parse_csv_records("x,y\n1\n").is_err());
    }
}
