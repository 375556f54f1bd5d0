//! FINESS establishment numbers: 9 characters with a Luhn key (rules F1–F7)
//! and the 8-character keyless form found in SNDS data (rules E1–E4).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::error::{IdError, IdWarning};
use crate::luhn;
use crate::normalize::clean;
use crate::serde_str::serde_as_validated_str;

/// A validated 9-character FINESS number (EJ or ET), normalised
/// (no separators, upper case), e.g. `750712184` or `2B0000020`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Finess(String);

/// A validated 8-character FINESS without its key (SNDS `ETB_PRE_FIN`…),
/// kept apart from [`Finess`] so the two are never stored in the same field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Finess8 {
    prefix: String,
    // Rebuilt at parse time (rule E4) so `to_finess` cannot fail.
    full: Finess,
}

/// Why the first characters of a FINESS-like value are wrong; mapped to the
/// F or E rule depending on the form being parsed.
enum PrefixFault {
    Department(String),
    NotDigit(usize),
}

/// Rules F2/E2 and F3/E3 on a value already known to have the right length.
fn check_prefix(chars: &[char]) -> Result<(), PrefixFault> {
    let dept: String = chars.iter().take(2).collect();
    if !is_department(&dept) {
        return Err(PrefixFault::Department(dept));
    }
    match chars.iter().skip(2).position(|c| !c.is_ascii_digit()) {
        Some(i) => Err(PrefixFault::NotDigit(i + 3)),
        None => Ok(()),
    }
}

/// FINESS department codes (rule F2): 01-19, 21-95, 2A, 2B, 97, 98.
fn is_department(code: &str) -> bool {
    match code {
        "2A" | "2B" => true,
        _ => code.len() == 2 && code.bytes().all(|b| b.is_ascii_digit()) && matches!(code.parse::<u8>(), Ok(1..=19 | 21..=95 | 97 | 98)),
    }
}

/// Digits the Luhn check runs on: Corsican letters read as their rank in the
/// alphabet, 2A → 21 and 2B → 22 (rule F7).
fn luhn_form(value: &str) -> Cow<'_, str> {
    if let Some(rest) = value.strip_prefix("2A") {
        Cow::Owned(format!("21{rest}"))
    } else if let Some(rest) = value.strip_prefix("2B") {
        Cow::Owned(format!("22{rest}"))
    } else {
        Cow::Borrowed(value)
    }
}

fn is_corsican(value: &str) -> bool {
    value.starts_with("2A") || value.starts_with("2B")
}

impl Finess {
    /// Parses and validates a FINESS (rules F1–F3, F6, F7), ignoring warnings.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        Self::parse_with_warnings(input).map(|(finess, _)| finess)
    }

    /// Parses and validates a FINESS, also reporting WARN rules F4 and F5.
    pub fn parse_with_warnings(input: &str) -> Result<(Self, Vec<IdWarning>), IdError> {
        let value = clean(input);
        let chars: Vec<char> = value.chars().collect();
        if chars.len() != 9 {
            return Err(IdError::FinessLength { found: chars.len() });
        }
        check_prefix(&chars).map_err(|fault| match fault {
            PrefixFault::Department(found) => IdError::FinessDepartment { found },
            PrefixFault::NotDigit(position) => IdError::FinessNotDigit { position },
        })?;
        if !luhn::is_valid(&luhn_form(&value)) {
            return Err(if is_corsican(&value) { IdError::FinessCorsicanKey } else { IdError::FinessKey });
        }

        let mut warnings = Vec::new();
        if chars[2] != '0' {
            warnings.push(IdWarning::FinessThirdCharacter { found: chars[2] });
        }
        if value.starts_with("97") && !('1'..='5').contains(&chars[3]) {
            warnings.push(IdWarning::FinessOverseasCharacter { found: chars[3] });
        }
        Ok((Self(value), warnings))
    }

    /// Builds a valid FINESS from its first 8 characters by computing the key
    /// (rule E4); used to rebuild SNDS numbers and to generate demo data.
    pub fn from_prefix(prefix8: &str) -> Result<Self, IdError> {
        Finess8::parse(prefix8).map(|f8| f8.full)
    }

    /// The normalised 9 characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The FINESS department code: characters 1-2 ("75", "2A", "97", "98").
    pub fn department(&self) -> &str {
        self.0.get(..2).unwrap_or_default()
    }

    /// The INSEE department code: as [`Finess::department`], except overseas
    /// numbers "97" + "0" + digit give 971-975 (rule F5) and "98" gives 976
    /// (Mayotte). A "97" number breaking F5 stays "97".
    pub fn insee_department(&self) -> &str {
        match (self.department(), self.0.as_bytes().get(3)) {
            ("97", Some(b'1')) => "971",
            ("97", Some(b'2')) => "972",
            ("97", Some(b'3')) => "973",
            ("97", Some(b'4')) => "974",
            ("97", Some(b'5')) => "975",
            ("98", _) => "976",
            (dept, _) => dept,
        }
    }

    /// The keyless 8-character form used to join with SNDS data (rule E4).
    pub fn finess8(&self) -> Finess8 {
        Finess8 { prefix: self.0.get(..8).unwrap_or_default().to_owned(), full: self.clone() }
    }
}

impl Finess8 {
    /// Parses and validates an 8-character FINESS without key (rules E1–E3).
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let prefix = clean(input);
        let chars: Vec<char> = prefix.chars().collect();
        if chars.len() != 8 {
            return Err(IdError::Finess8Length { found: chars.len() });
        }
        check_prefix(&chars).map_err(|fault| match fault {
            PrefixFault::Department(found) => IdError::Finess8Department { found },
            PrefixFault::NotDigit(position) => IdError::Finess8NotDigit { position },
        })?;
        // Characters are digits after the F2 substitution, so a key always exists.
        let key = luhn::check_digit(&luhn_form(&prefix)).ok_or(IdError::Finess8NotDigit { position: 1 })?;
        let full = Finess(format!("{prefix}{key}"));
        Ok(Self { prefix, full })
    }

    /// The normalised 8 characters.
    pub fn as_str(&self) -> &str {
        &self.prefix
    }

    /// The full FINESS, with its Luhn key rebuilt (rule E4, F7 for Corsica).
    /// The number still has to be confirmed by lookup in the registry.
    pub fn to_finess(&self) -> Finess {
        self.full.clone()
    }
}

impl fmt::Display for Finess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Finess8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.prefix)
    }
}

impl FromStr for Finess {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl FromStr for Finess8 {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

serde_as_validated_str!(Finess);
serde_as_validated_str!(Finess8);

#[cfg(test)]
mod tests {
    use super::*;

    /// registry.md §2.2 worked examples: input, expected rule on failure
    /// (None = valid), expected warning rules.
    const FINESS_TABLE: &[(&str, Option<&str>, &[&str])] = &[
        ("750712184", None, &[]),
        ("130786049", None, &[]),
        ("350005179", None, &[]),
        ("970100228", None, &[]),
        ("970408589", None, &[]),
        ("750712185", Some("F6"), &[]),
        ("200012342", Some("F2"), &[]),
        ("75071218A", Some("F3"), &[]),
        ("0100038200", Some("F1"), &[]),
        ("754567860", Some("F6"), &[]),
        ("751712183", None, &["F4"]),
        ("2B0000020", None, &[]),
        ("2A0000014", None, &[]),
        ("2A0000015", Some("F7"), &[]),
        ("2B0000021", Some("F7"), &[]),
    ];

    #[test]
    fn finess_worked_examples() {
        for &(input, rule, warnings) in FINESS_TABLE {
            match (Finess::parse_with_warnings(input), rule) {
                (Ok((finess, got)), None) => {
                    assert_eq!(finess.as_str(), input);
                    let got: Vec<_> = got.iter().map(IdWarning::rule).collect();
                    assert_eq!(got, warnings, "{input}");
                }
                (Err(e), Some(rule)) => assert_eq!(e.rule(), rule, "{input}: {e}"),
                (got, want) => panic!("{input}: got {got:?}, want rule {want:?}"),
            }
        }
    }

    #[test]
    fn finess_normalises_before_checking() {
        let f = Finess::parse(" 75 071 218-4 ").unwrap();
        assert_eq!(f.as_str(), "750712184");
        assert_eq!(Finess::parse("2b.000.002.0").unwrap().as_str(), "2B0000020");
        assert_eq!(Finess::parse("75.0712184").unwrap(), f);
    }

    #[test]
    fn finess_other_failures() {
        let rule = |s: &str| Finess::parse(s).unwrap_err().rule();
        assert_eq!(rule(""), "F1");
        assert_eq!(rule("75071218"), "F1");
        assert_eq!(rule("2C0000020"), "F2");
        assert_eq!(rule("000000000"), "F2");
        assert_eq!(rule("960000000"), "F2");
        assert_eq!(rule("990000000"), "F2");
        assert_eq!(rule("75/071218"), "F3");
        assert_eq!(rule("7507é1218"), "F3");
        assert_eq!(rule("2A00000A4"), "F3");
    }

    #[test]
    fn finess_overseas_warning() {
        // Prefix 97-0-9 is no overseas department: accepted with F5.
        let f = Finess::from_prefix("97090000").unwrap();
        let (_, warnings) = Finess::parse_with_warnings(f.as_str()).unwrap();
        assert_eq!(warnings.iter().map(IdWarning::rule).collect::<Vec<_>>(), ["F5"]);
        assert_eq!(f.insee_department(), "97");
    }

    #[test]
    fn finess_departments() {
        let d = |s: &str| Finess::parse(s).unwrap();
        assert_eq!(d("750712184").department(), "75");
        assert_eq!(d("750712184").insee_department(), "75");
        assert_eq!(d("2A0000014").department(), "2A");
        assert_eq!(d("970100228").department(), "97");
        assert_eq!(d("970100228").insee_department(), "971");
        assert_eq!(d("970408589").insee_department(), "974");
        assert_eq!(Finess::from_prefix("98000001").unwrap().insee_department(), "976");
    }

    #[test]
    fn finess_messages_name_the_rule() {
        let e = Finess::parse("750712185").unwrap_err();
        assert_eq!(e.to_string(), "FINESS check digit is wrong (Luhn key, rule F6)");
        let e = Finess::parse("200012342").unwrap_err();
        assert!(e.to_string().contains("\"20\""), "{e}");
        assert!(e.to_string().ends_with("(rule F2)"), "{e}");
    }

    #[test]
    fn finess_traits() {
        let f: Finess = "750712184".parse().unwrap();
        assert_eq!(f.to_string(), "750712184");
        assert_eq!(serde_json::to_string(&f).unwrap(), "\"750712184\"");
        let back: Finess = serde_json::from_str("\"75 071 218 4\"").unwrap();
        assert_eq!(back, f);
        let err = serde_json::from_str::<Finess>("\"750712185\"").unwrap_err();
        assert!(err.to_string().contains("rule F6"), "{err}");
        assert!(Finess::parse("130786049").unwrap() < f);
    }

    /// registry.md §2.3 worked examples: input, rebuilt FINESS or failing rule.
    const FINESS8_TABLE: &[(&str, Result<&str, &str>)] = &[
        ("75071218", Ok("750712184")),
        ("13078604", Ok("130786049")),
        ("35000517", Ok("350005179")),
        ("7507121", Err("E1")),
        ("7507121A", Err("E3")),
        ("20071234", Err("E2")),
    ];

    #[test]
    fn finess8_worked_examples() {
        for &(input, want) in FINESS8_TABLE {
            match (Finess8::parse(input), want) {
                (Ok(f8), Ok(full)) => {
                    assert_eq!(f8.as_str(), input);
                    assert_eq!(f8.to_finess().as_str(), full);
                    assert_eq!(f8.to_finess().finess8(), f8);
                }
                (Err(e), Err(rule)) => assert_eq!(e.rule(), rule, "{input}: {e}"),
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn from_prefix_rebuilds_corsican_keys() {
        assert_eq!(Finess::from_prefix("2A000001").unwrap().as_str(), "2A0000014");
        assert_eq!(Finess::from_prefix("2b000002").unwrap().as_str(), "2B0000020");
        assert_eq!(Finess::from_prefix("2C000002").unwrap_err().rule(), "E2");
        assert_eq!(Finess::from_prefix("750712184").unwrap_err().rule(), "E1");
        // Every generated number parses back.
        for n in 0..200u32 {
            let f = Finess::from_prefix(&format!("59{n:06}")).unwrap();
            assert_eq!(Finess::parse(f.as_str()).unwrap(), f);
        }
    }
}
