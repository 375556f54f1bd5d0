//! `google.api.http` path templates: parsing and matching.
//!
//! Grammar (from `google/api/http.proto`):
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! FieldPath = IDENT { "." IDENT } ;
//! Verb     = ":" LITERAL ;
//! ```
//!
//! A variable without `=` matches one segment. `**` matches the rest of the
//! path and may only come last.

use std::fmt;

/// One segment of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Must equal the request segment.
    Literal(String),
    /// `*`: exactly one segment.
    Single,
    /// `**`: zero or more segments, last only.
    Rest,
}

/// A variable binding segments `start..end` to a request field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// Field path in the request message, e.g. `["structure", "name"]`.
    pub field_path: Vec<String>,
    /// First segment bound.
    pub start: usize,
    /// One past the last segment bound.
    pub end: usize,
}

impl Variable {
    /// The dotted field path.
    pub fn dotted(&self) -> String {
        self.field_path.join(".")
    }
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    /// The template text as written in the proto.
    pub source: String,
    /// Segments, variables flattened into their sub-segments.
    pub segments: Vec<Segment>,
    /// Variables over `segments`.
    pub variables: Vec<Variable>,
    /// Custom verb after `:`.
    pub verb: Option<String>,
}

/// A template that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path template {template:?}: {reason}")]
pub struct TemplateError {
    /// The template.
    pub template: String,
    /// What is wrong.
    pub reason: String,
}

/// Values bound by a successful match: (field path, decoded value).
pub type Bindings = Vec<(Vec<String>, String)>;

impl PathTemplate {
    /// Parses a template.
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        let err = |reason: &str| TemplateError { template: template.to_owned(), reason: reason.to_owned() };
        let rest = template.strip_prefix('/').ok_or_else(|| err("must start with /"))?;
        // The verb is the text after the last ':' outside braces.
        let mut depth = 0i32;
        let mut verb_at = None;
        for (i, c) in rest.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ':' if depth == 0 => verb_at = Some(i),
                _ => {}
            }
        }
        let (body, verb) = match verb_at {
            Some(i) => {
                let verb = &rest[i + 1..];
                if verb.is_empty() || !verb.chars().all(is_literal_char) {
                    return Err(err("invalid verb"));
                }
                (&rest[..i], Some(verb.to_owned()))
            }
            None => (rest, None),
        };
        let mut segments = Vec::new();
        let mut variables = Vec::new();
        for raw in split_top_level(body).map_err(|r| err(&r))? {
            if let Some(inner) = raw.strip_prefix('{') {
                let inner = inner.strip_suffix('}').ok_or_else(|| err("unclosed variable"))?;
                let (path, sub) = match inner.split_once('=') {
                    Some((p, s)) => (p, Some(s)),
                    None => (inner, None),
                };
                let field_path: Vec<String> = path.split('.').map(str::to_owned).collect();
                if field_path.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')) {
                    return Err(err("invalid field path"));
                }
                if variables.iter().any(|v: &Variable| v.field_path == field_path) {
                    return Err(err("a field is bound twice"));
                }
                let start = segments.len();
                match sub {
                    None => segments.push(Segment::Single),
                    Some(sub) => {
                        if sub.is_empty() {
                            return Err(err("empty variable pattern"));
                        }
                        for s in sub.split('/') {
                            if s.contains('{') || s.contains('}') {
                                return Err(err("nested variables"));
                            }
                            segments.push(parse_plain(s).map_err(|r| err(&r))?);
                        }
                    }
                }
                variables.push(Variable { field_path, start, end: segments.len() });
            } else {
                segments.push(parse_plain(raw).map_err(|r| err(&r))?);
            }
        }
        if let Some(pos) = segments.iter().position(|s| *s == Segment::Rest)
            && pos + 1 != segments.len()
        {
            return Err(err("** must be the last segment"));
        }
        Ok(Self { source: template.to_owned(), segments, variables, verb })
    }

    /// Matches a request path (still percent-encoded); `None` when it does not match.
    pub fn matches(&self, path: &str) -> Option<Bindings> {
        let rest = path.strip_prefix('/')?;
        let body = match &self.verb {
            Some(verb) => rest.strip_suffix(verb.as_str())?.strip_suffix(':')?,
            None => rest,
        };
        let parts: Vec<&str> = if body.is_empty() { Vec::new() } else { body.split('/').collect() };
        // Where each template segment's match ends in `parts`.
        let mut ends = Vec::with_capacity(self.segments.len());
        let mut i = 0;
        for seg in &self.segments {
            match seg {
                Segment::Literal(lit) => {
                    if parts.get(i).is_none_or(|p| percent_decode(p).as_deref() != Some(lit.as_str())) {
                        return None;
                    }
                    i += 1;
                }
                Segment::Single => {
                    if parts.get(i).is_none_or(|p| p.is_empty()) {
                        return None;
                    }
                    i += 1;
                }
                Segment::Rest => i = parts.len(),
            }
            ends.push(i);
        }
        if i != parts.len() {
            return None;
        }
        let mut bindings = Vec::with_capacity(self.variables.len());
        for var in &self.variables {
            let from = if var.start == 0 { 0 } else { ends[var.start - 1] };
            let to = if var.end == 0 { 0 } else { ends[var.end - 1] };
            let single = var.end - var.start == 1 && self.segments[var.start] == Segment::Single;
            let value = if single {
                percent_decode(parts[from])?
            } else {
                // Multi-segment values keep '/' between segments: decode each, never "%2F" into '/'.
                let mut decoded = Vec::with_capacity(to - from);
                for p in &parts[from..to] {
                    decoded.push(percent_decode_keep_slash(p)?);
                }
                decoded.join("/")
            };
            bindings.push((var.field_path.clone(), value));
        }
        Some(bindings)
    }

    /// How specific the template is, to choose between several matching ones:
    /// a custom verb first, then more literal segments, then fewer `**`.
    pub fn specificity(&self) -> (bool, usize, usize) {
        let literals = self.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count();
        let rests = self.segments.iter().filter(|s| matches!(s, Segment::Rest)).count();
        (self.verb.is_some(), literals, usize::MAX - rests)
    }

    /// True when the field, or a message containing it, is bound by a variable.
    pub fn binds(&self, field_path: &[String]) -> bool {
        self.variables.iter().any(|v| field_path.starts_with(&v.field_path))
    }
}

impl fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn is_literal_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=@%".contains(c)
}

fn parse_plain(s: &str) -> Result<Segment, String> {
    match s {
        "*" => Ok(Segment::Single),
        "**" => Ok(Segment::Rest),
        "" => Err("empty segment".into()),
        lit if lit.chars().all(is_literal_char) && !lit.contains('*') => Ok(Segment::Literal(lit.to_owned())),
        other => Err(format!("invalid segment {other:?}")),
    }
}

/// Splits on '/' outside braces.
fn split_top_level(s: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => {
                depth += 1;
                if depth > 1 {
                    return Err("nested variables".into());
                }
            }
            '}' => {
                depth -= 1;
                if depth < 0 {
                    return Err("unbalanced }".into());
                }
            }
            '/' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unclosed variable".into());
    }
    out.push(&s[start..]);
    Ok(out)
}

/// Decodes `%XX` escapes; `None` on a bad escape or invalid UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    decode(s, false, false)
}

/// Decodes a query-string component (`+` is a space).
pub fn query_decode(s: &str) -> Option<String> {
    decode(s, true, false)
}

fn percent_decode_keep_slash(s: &str) -> Option<String> {
    decode(s, false, true)
}

fn decode(s: &str, plus_is_space: bool, keep_slash: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                let b = u8::from_str_radix(hex, 16).ok()?;
                if keep_slash && b == b'/' {
                    out.extend_from_slice(&bytes[i..i + 3]);
                } else {
                    out.push(b);
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_the_template_forms() {
        let t = PathTemplate::parse("/v1/{name=structures/*}:close").expect("parse");
        assert_eq!(t.segments, vec![Segment::Literal("v1".into()), Segment::Literal("structures".into()), Segment::Single]);
        assert_eq!(t.variables, vec![Variable { field_path: path(&["name"]), start: 1, end: 3 }]);
        assert_eq!(t.verb.as_deref(), Some("close"));

        let t = PathTemplate::parse("/v1/{structure.name=structures/*}").expect("parse");
        assert_eq!(t.variables[0].field_path, path(&["structure", "name"]));
        assert_eq!(t.verb, None);

        let t = PathTemplate::parse("/v1/{group}/members/**").expect("parse");
        assert_eq!(t.segments.last(), Some(&Segment::Rest));
        assert_eq!(t.variables[0], Variable { field_path: path(&["group"]), start: 1, end: 2 });
    }

    #[test]
    fn refuses_broken_templates() {
        for bad in [
            "v1/structures",
            "/v1/{name=structures/*",
            "/v1/{name={x}}",
            "/v1/**/x",
            "/v1//x",
            "/v1/{a}/{a}",
            "/v1/{a-b}",
            "/v1/x:",
            "/v1/{name=}",
        ] {
            assert!(PathTemplate::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn matching_table() {
        struct Case {
            template: &'static str,
            path: &'static str,
            expected: Option<Vec<(&'static str, &'static str)>>,
        }
        let cases = [
            Case { template: "/v1/structures", path: "/v1/structures", expected: Some(vec![]) },
            Case { template: "/v1/structures", path: "/v1/structures/x", expected: None },
            Case {
                template: "/v1/{name=structures/*}",
                path: "/v1/structures/590000017",
                expected: Some(vec![("name", "structures/590000017")]),
            },
            Case { template: "/v1/{name=structures/*}", path: "/v1/structures", expected: None },
            Case { template: "/v1/{name=structures/*}", path: "/v1/legalEntities/1", expected: None },
            Case { template: "/v1/{name=structures/*}", path: "/v1/structures/", expected: None },
            Case {
                template: "/v1/{name=structures/*}:close",
                path: "/v1/structures/42:close",
                expected: Some(vec![("name", "structures/42")]),
            },
            Case { template: "/v1/{name=structures/*}:close", path: "/v1/structures/42", expected: None },
            Case { template: "/v1/{name=structures/*}:close", path: "/v1/structures/42:open", expected: None },
            Case {
                template: "/v1/{structure.name=structures/*}",
                path: "/v1/structures/2A0000014",
                expected: Some(vec![("structure.name", "structures/2A0000014")]),
            },
            Case {
                template: "/v1/{group=structureGroups/*}/members",
                path: "/v1/structureGroups/centres-de-sante/members",
                expected: Some(vec![("group", "structureGroups/centres-de-sante")]),
            },
            Case { template: "/v1/{name=structures/*}", path: "/v1/structures/a%20b", expected: Some(vec![("name", "structures/a b")]) },
            Case { template: "/v1/{id}", path: "/v1/a%2Fb", expected: Some(vec![("id", "a/b")]) },
            Case { template: "/v1/{name=files/**}", path: "/v1/files/a/b%2Fc", expected: Some(vec![("name", "files/a/b%2Fc")]) },
            Case { template: "/v1/{name=files/**}", path: "/v1/files", expected: Some(vec![("name", "files")]) },
            Case { template: "/v1/{a}/x/{b.c}", path: "/v1/1/x/2", expected: Some(vec![("a", "1"), ("b.c", "2")]) },
            Case { template: "/v1/{id}", path: "/v1/%zz", expected: None },
        ];
        for case in cases {
            let t = PathTemplate::parse(case.template).expect(case.template);
            let got = t.matches(case.path).map(|b| b.into_iter().map(|(p, v)| (p.join("."), v)).collect::<Vec<_>>());
            let expected = case.expected.map(|e| e.into_iter().map(|(p, v)| (p.to_owned(), v.to_owned())).collect::<Vec<_>>());
            assert_eq!(got, expected, "{} against {}", case.template, case.path);
        }
    }

    #[test]
    fn custom_verbs_are_more_specific() {
        let get = PathTemplate::parse("/v1/{name=structures/*}").expect("parse");
        let fhir = PathTemplate::parse("/v1/{name=structures/*}:fhir").expect("parse");
        // Both match; the verb decides.
        assert!(get.matches("/v1/structures/1:fhir").is_some());
        assert!(fhir.matches("/v1/structures/1:fhir").is_some());
        assert!(fhir.specificity() > get.specificity());
    }

    #[test]
    fn binds_reports_the_variable_and_below() {
        let t = PathTemplate::parse("/v1/{structure.name=structures/*}").expect("parse");
        assert!(!t.binds(&path(&["structure"])));
        assert!(t.binds(&path(&["structure", "name"])));
        assert!(t.binds(&path(&["structure", "name", "x"])));
        assert!(!t.binds(&path(&["update_mask"])));
    }

    #[test]
    fn query_decoding() {
        assert_eq!(query_decode("a+b%2Cc").as_deref(), Some("a b,c"));
        assert_eq!(query_decode("%e9").as_deref(), None);
        assert_eq!(query_decode("%C3%A9").as_deref(), Some("é"));
    }
}
