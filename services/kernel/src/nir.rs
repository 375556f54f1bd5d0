//! NIR, the French social-security number (rules N1–N4). Personal data: it
//! is never printed (Debug shows `Nir(***)`, no Display, no Serialize) and
//! error messages never echo it; services hash it with a keyed pseudonym.

use std::fmt;
use std::str::FromStr;

use crate::error::{IdError, IdWarning};
use crate::normalize::clean;

/// A validated 15-character NIR (13-character body + 2-digit key),
/// normalised: no separators, Corsican department upper-case ("2A", "2B").
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Nir(String);

const DIGIT: &str = "a digit";
const DEPARTMENT: &str = "a department of birth (two digits, 2A or 2B)";

/// Rule N2 on a 15-character value; returns the 1-based faulty position.
fn check_positions(chars: &[char]) -> Result<(), IdError> {
    let fault = |position, expected| IdError::NirCharacter { position, expected };
    for (i, c) in chars.iter().enumerate() {
        let position = i + 1;
        match position {
            6 => {
                let pair = (chars[5], chars[6]);
                let ok = matches!(pair, ('2', 'A' | 'B')) || (pair.0.is_ascii_digit() && pair.1.is_ascii_digit());
                if !ok {
                    return Err(fault(6, DEPARTMENT));
                }
            }
            7 => {}
            _ if !c.is_ascii_digit() => return Err(fault(position, DIGIT)),
            _ => {}
        }
    }
    Ok(())
}

/// Rule N3: key = 97 − (body mod 97), Corsica read as 2A → 19, 2B → 18.
/// The body must have passed N2.
fn expected_key(body: &str) -> Option<u64> {
    let numeric = if body.get(5..7) == Some("2A") {
        format!("{}19{}", body.get(..5)?, body.get(7..)?)
    } else if body.get(5..7) == Some("2B") {
        format!("{}18{}", body.get(..5)?, body.get(7..)?)
    } else {
        body.to_owned()
    };
    // 13 digits fit in a u64.
    let n: u64 = numeric.parse().ok()?;
    Some(97 - n % 97)
}

impl Nir {
    /// Parses and validates a NIR (rules N1–N3), ignoring warnings.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        Self::parse_with_warnings(input).map(|(nir, _)| nir)
    }

    /// Parses and validates a NIR, also reporting WARN rule N4 (sex digit
    /// other than 1/2, birth month outside 01-12).
    pub fn parse_with_warnings(input: &str) -> Result<(Self, Vec<IdWarning>), IdError> {
        let value = clean(input);
        let chars: Vec<char> = value.chars().collect();
        if chars.len() != 15 {
            return Err(IdError::NirLength { found: chars.len() });
        }
        check_positions(&chars)?;
        // All ASCII from here on.
        let (body, key) = value.split_at(13);
        let key: u64 = key.parse().map_err(|_| IdError::NirKey)?;
        if expected_key(body) != Some(key) {
            return Err(IdError::NirKey);
        }

        let mut warnings = Vec::new();
        if !matches!(chars[0], '1' | '2') {
            warnings.push(IdWarning::NirSex);
        }
        if !matches!(value.get(3..5).and_then(|m| m.parse::<u8>().ok()), Some(1..=12)) {
            warnings.push(IdWarning::NirMonth);
        }
        Ok((Self(value), warnings))
    }

    /// Builds a valid NIR from its 13-character body by computing the key
    /// (test fixtures only: real NIRs are never generated).
    pub fn from_body(body13: &str) -> Result<Self, IdError> {
        let body = clean(body13);
        let chars: Vec<char> = body.chars().chain("00".chars()).collect();
        if chars.len() != 15 {
            return Err(IdError::NirLength { found: chars.len() - 2 });
        }
        check_positions(&chars)?;
        let key = expected_key(&body).ok_or(IdError::NirKey)?;
        Ok(Self(format!("{body}{key:02}")))
    }

    /// The normalised 15 characters, for the pseudonymisation code that
    /// hashes them. Do not log or store the result.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Nir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Nir(***)")
    }
}

impl FromStr for Nir {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

// Deserialize only: a NIR may arrive in a request, but is never written out.
impl<'de> serde::Deserialize<'de> for Nir {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <String as serde::Deserialize>::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// registry.md §2.6 worked examples: input, failing rule (None = valid).
    const NIR_TABLE: &[(&str, Option<&str>)] = &[
        ("1 89 12 75 125 012 82", None),
        ("2 55 08 14 168 025 38", None),
        ("2 95 10 99 126 111 93", None),
        ("2 53 07 2B 073 004 70", None),
        ("2 53 07 2A 073 004 43", None),
        ("1 89 12 75 125 012 83", Some("N3")),
        ("2 53 07 2B 073 004 43", Some("N3")),
        ("1 89 12 75 125 012 8", Some("N1")),
        ("2 53 07 2C 073 004 70", Some("N2")),
    ];

    #[test]
    fn nir_worked_examples() {
        for &(input, rule) in NIR_TABLE {
            match (Nir::parse_with_warnings(input), rule) {
                (Ok((nir, warnings)), None) => {
                    assert_eq!(nir.as_str(), input.replace(' ', ""));
                    assert!(warnings.is_empty(), "{input}: {warnings:?}");
                }
                (Err(e), Some(rule)) => assert_eq!(e.rule(), rule, "{input}: {e}"),
                (got, want) => panic!("{input}: got {got:?}, want rule {want:?}"),
            }
        }
    }

    #[test]
    fn nir_positions() {
        let err = |s: &str| Nir::parse(s).unwrap_err();
        assert_eq!(err("A89127512501282"), IdError::NirCharacter { position: 1, expected: DIGIT });
        assert_eq!(err("18912751250128X"), IdError::NirCharacter { position: 15, expected: DIGIT });
        assert_eq!(err("1891275A2501282").rule(), "N2");
        assert_eq!(err("189122C12501282"), IdError::NirCharacter { position: 6, expected: DEPARTMENT });
        assert_eq!(err("18912A212501282").rule(), "N2");
        // Lower-case Corsican letters are upper-cased first.
        assert!(Nir::parse("2530 72a0 7300 443").is_ok());
    }

    #[test]
    fn nir_warnings() {
        let rules = |body: &str| {
            let nir = Nir::from_body(body).unwrap();
            let (_, w) = Nir::parse_with_warnings(nir.as_str()).unwrap();
            w.iter().map(IdWarning::rule).collect::<Vec<_>>()
        };
        assert!(rules("1891275125012").is_empty());
        assert_eq!(rules("7891275125012"), ["N4"]);
        assert_eq!(rules("1893075125012"), ["N4"]);
        assert_eq!(rules("8890075125012"), ["N4", "N4"]);
    }

    #[test]
    fn from_body_computes_the_key() {
        assert_eq!(Nir::from_body("2 53 07 2B 073 004").unwrap().as_str(), "253072B07300470");
        assert_eq!(Nir::from_body("2 53 07 2A 073 004").unwrap().as_str(), "253072A07300443");
        assert_eq!(Nir::from_body("189127512501").unwrap_err().rule(), "N1");
        assert_eq!(Nir::from_body("253072C073004").unwrap_err().rule(), "N2");
        // Keys 01-97, always on two digits.
        for n in 0..300u64 {
            let nir = Nir::from_body(&format!("1890175{n:06}")).unwrap();
            let key: u64 = nir.as_str()[13..].parse().unwrap();
            assert!((1..=97).contains(&key));
            assert_eq!(Nir::parse(nir.as_str()).unwrap(), nir);
        }
    }

    #[test]
    fn nir_is_never_printed() {
        let nir = Nir::parse("189127512501282").unwrap();
        assert_eq!(format!("{nir:?}"), "Nir(***)");
        assert_eq!(format!("{:?}", Some(&nir)), "Some(Nir(***))");
        for input in ["189127512501283", "18912751250128", "253072C07300470"] {
            let e = Nir::parse(input).unwrap_err();
            assert!(!e.to_string().contains("1891275"), "{e}");
            assert!(!e.to_string().contains("2C"), "{e}");
        }
    }

    #[test]
    fn deserialize_validates() {
        let nir: Nir = serde_json::from_str("\"1 89 12 75 125 012 82\"").unwrap();
        assert_eq!(nir.as_str(), "189127512501282");
        assert!(serde_json::from_str::<Nir>("\"189127512501283\"").is_err());
    }
}
