//! The `filter` of ListStructures: a subset of AIP-160.
//!
//! ```text
//! filter  := clause ("AND" clause)*
//! clause  := cmp | "(" cmp ("OR" cmp)* ")"
//! cmp     := field ("=" | "!=") value
//! value   := bare-word | "quoted string"
//! ```
//! Fields: category, subtype, level, region, department, status, group,
//! parent, legal_entity, finess, demo. Values are checked here, so storage
//! receives only typed terms.

use filieris_kernel::Finess;
use filieris_proto::registry as pb;
use filieris_proto::types::Region;

use super::codes::Coded;
use super::validate::{group_code, valid_department};
use super::{GROUPS, LEGAL_ENTITIES, Ref, STRUCTURES, parse_ref};

/// A filter term value, typed per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// category = code
    Category(pb::Category),
    /// subtype = code
    Subtype(pb::Subtype),
    /// level = code
    Level(pb::StructureLevel),
    /// region = code
    Region(Region),
    /// department = code
    Department(String),
    /// status = code (derived as of the read date)
    Status(pb::StructureStatus),
    /// group = code
    Group(String),
    /// parent = structure ref
    Parent(Ref),
    /// legal_entity = ref
    LegalEntity(Ref),
    /// finess = FINESS
    Finess(Finess),
    /// demo = bool
    Demo(bool),
}

/// One comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmp {
    /// The typed term.
    pub term: Term,
    /// `!=` instead of `=`.
    pub negated: bool,
}

/// A parsed filter: clauses joined by AND, each a disjunction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// AND of ORs.
    pub clauses: Vec<Vec<Cmp>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Quoted(String),
    Eq,
    Ne,
    LParen,
    RParen,
}

fn lex(input: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::LParen);
            }
            ')' => {
                chars.next();
                out.push(Tok::RParen);
            }
            '=' => {
                chars.next();
                out.push(Tok::Eq);
            }
            '!' => {
                chars.next();
                if chars.next() != Some('=') {
                    return Err("expected '=' after '!'".into());
                }
                out.push(Tok::Ne);
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated quoted string".into()),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e) => s.push(e),
                            None => return Err("unterminated quoted string".into()),
                        },
                        Some(ch) => s.push(ch),
                    }
                }
                out.push(Tok::Quoted(s));
            }
            _ => {
                let mut s = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() || matches!(ch, '(' | ')' | '=' | '!' | '"') {
                        break;
                    }
                    s.push(ch);
                    chars.next();
                }
                out.push(Tok::Word(s));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w == kw)
    }
    fn cmp(&mut self) -> Result<Cmp, String> {
        let field = match self.next() {
            Some(Tok::Word(w)) => w,
            other => return Err(format!("expected a field name, found {}", describe(other.as_ref()))),
        };
        let negated = match self.next() {
            Some(Tok::Eq) => false,
            Some(Tok::Ne) => true,
            other => return Err(format!("expected '=' or '!=' after {field}, found {}", describe(other.as_ref()))),
        };
        let value = match self.next() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => w,
            other => return Err(format!("expected a value for {field}, found {}", describe(other.as_ref()))),
        };
        Ok(Cmp { term: term(&field, &value)?, negated })
    }
}

fn describe(t: Option<&Tok>) -> String {
    match t {
        None => "end of filter".into(),
        Some(Tok::Word(w)) => format!("{w:?}"),
        Some(Tok::Quoted(w)) => format!("\"{w}\""),
        Some(Tok::Eq) => "'='".into(),
        Some(Tok::Ne) => "'!='".into(),
        Some(Tok::LParen) => "'('".into(),
        Some(Tok::RParen) => "')'".into(),
    }
}

fn coded<T: Coded>(field: &str, value: &str) -> Result<T, String> {
    T::parse_code(value).ok_or_else(|| format!("{value:?} is not a valid {field}"))
}

fn term(field: &str, value: &str) -> Result<Term, String> {
    Ok(match field {
        "category" => Term::Category(coded(field, value)?),
        "subtype" => Term::Subtype(coded(field, value)?),
        "level" => Term::Level(coded(field, value)?),
        "region" => Term::Region(coded(field, value)?),
        "status" => Term::Status(coded(field, value)?),
        "department" => {
            let d = value.to_ascii_uppercase();
            if !valid_department(&d) {
                return Err(format!("{value:?} is not a department code"));
            }
            Term::Department(d)
        }
        "group" => {
            let code = value.strip_prefix(GROUPS).map(|_| group_code(value)).unwrap_or(Some(value));
            match code {
                Some(c) if super::validate::valid_group_code(c) => Term::Group(c.to_owned()),
                _ => return Err(format!("{value:?} is not a structure group code")),
            }
        }
        "parent" => Term::Parent(
            parse_ref(STRUCTURES, value)
                .or_else(|| parse_ref(STRUCTURES, &format!("{STRUCTURES}{value}")))
                .ok_or_else(|| format!("{value:?} is not a structure name"))?,
        ),
        "legal_entity" | "legalEntity" => Term::LegalEntity(
            parse_ref(LEGAL_ENTITIES, value)
                .or_else(|| parse_ref(LEGAL_ENTITIES, &format!("{LEGAL_ENTITIES}{value}")))
                .ok_or_else(|| format!("{value:?} is not a legal entity name"))?,
        ),
        "finess" => Term::Finess(Finess::parse(value).map_err(|e| e.to_string())?),
        "demo" => Term::Demo(match value {
            "true" => true,
            "false" => false,
            _ => return Err(format!("demo takes true or false, not {value:?}")),
        }),
        other => {
            return Err(format!(
                "unknown filter field {other:?}; known: category, subtype, level, region, department, status, group, parent, legal_entity, finess, demo"
            ));
        }
    })
}

/// Parses a filter string; the error is a message for the `filter` field.
pub fn parse(input: &str) -> Result<Filter, String> {
    let toks = lex(input)?;
    let mut p = Parser { toks, pos: 0 };
    let mut clauses = Vec::new();
    if p.peek().is_none() {
        return Ok(Filter::default());
    }
    loop {
        if p.peek() == Some(&Tok::LParen) {
            p.next();
            let mut alternatives = vec![p.cmp()?];
            while p.keyword("OR") {
                p.next();
                alternatives.push(p.cmp()?);
            }
            match p.next() {
                Some(Tok::RParen) => {}
                other => return Err(format!("expected ')' or OR, found {}", describe(other.as_ref()))),
            }
            clauses.push(alternatives);
        } else {
            clauses.push(vec![p.cmp()?]);
        }
        match p.next() {
            None => break,
            Some(Tok::Word(w)) if w == "AND" => continue,
            Some(Tok::Word(w)) if w == "OR" => return Err("OR is only allowed inside parentheses: (a = x OR a = y)".into()),
            other => return Err(format!("expected AND, found {}", describe(other.as_ref()))),
        }
    }
    Ok(Filter { clauses })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_conjunctions_and_alternatives() {
        let f = parse(r#"category = HEALTH_CENTRE AND (region = NORD OR region = "EST") AND status != CLOSED"#).unwrap();
        assert_eq!(f.clauses.len(), 3);
        assert_eq!(f.clauses[0][0].term, Term::Category(pb::Category::HealthCentre));
        assert_eq!(f.clauses[1].len(), 2);
        assert_eq!(f.clauses[1][1].term, Term::Region(Region::Est));
        assert!(f.clauses[2][0].negated);
    }

    #[test]
    fn empty_filter_matches_all() {
        assert_eq!(parse("   ").unwrap(), Filter::default());
    }

    #[test]
    fn errors_are_explained() {
        let cases = [
            ("category = SPACESHIP", "not a valid category"),
            ("colour = red", "unknown filter field"),
            ("region = NORD OR region = SUD", "only allowed inside parentheses"),
            ("region NORD", "expected '='"),
            ("(region = NORD", "expected ')'"),
            ("department = 20", "not a department"),
            ("finess = 750712185", "F6"),
            ("name = \"unterminated", "unterminated"),
        ];
        for (input, needle) in cases {
            let err = parse(input).expect_err(input);
            assert!(err.contains(needle), "{input}: {err}");
        }
    }
}
