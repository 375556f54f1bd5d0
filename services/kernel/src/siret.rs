//! SIREN (legal unit, rules S1–S3) and SIRET (establishment, rules T1–T4).

use std::fmt;
use std::str::FromStr;

use crate::error::IdError;
use crate::luhn;
use crate::normalize::{all_digits, clean};
use crate::serde_str::serde_as_validated_str;

/// La Poste establishments share this SIREN and follow rule T2, not Luhn.
const LA_POSTE_SIREN: &str = "356000000";
/// La Poste head office: the one La Poste SIRET that follows Luhn (T3).
const LA_POSTE_HEAD_OFFICE: &str = "35600000000048";

/// A validated 9-digit SIREN.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Siren(String);

/// A validated 14-digit SIRET (SIREN + 4-digit sequence + key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Siret(String);

impl Siren {
    /// Parses and validates a SIREN (rules S1, S2).
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let value = clean(input);
        if value.len() != 9 || !all_digits(value.as_bytes()) {
            return Err(IdError::SirenFormat);
        }
        if !luhn::is_valid(&value) {
            return Err(IdError::SirenKey);
        }
        Ok(Self(value))
    }

    /// Builds a valid SIREN from its first 8 digits by computing the key
    /// (fixtures and demo data).
    pub fn from_prefix(prefix8: &str) -> Result<Self, IdError> {
        let prefix = clean(prefix8);
        if prefix.len() != 8 {
            return Err(IdError::SirenFormat);
        }
        let key = luhn::check_digit(&prefix).ok_or(IdError::SirenFormat)?;
        Ok(Self(format!("{prefix}{key}")))
    }

    /// The normalised 9 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Rule S3 (information only): SIRENs of public bodies start with 1 or 2.
    pub fn is_public_body(&self) -> bool {
        self.0.starts_with(['1', '2'])
    }
}

impl Siret {
    /// Parses and validates a SIRET (rules T1–T3). The leading SIREN must
    /// also pass its own check (S2), so that [`Siret::siren`] is always valid.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let value = clean(input);
        if value.len() != 14 || !all_digits(value.as_bytes()) {
            return Err(IdError::SiretFormat);
        }
        if value.starts_with(LA_POSTE_SIREN) && value != LA_POSTE_HEAD_OFFICE {
            if luhn::digit_sum(&value).is_none_or(|sum| sum % 5 != 0) {
                return Err(IdError::SiretLaPosteSum);
            }
        } else if !luhn::is_valid(&value) {
            return Err(IdError::SiretKey);
        }
        if !luhn::is_valid(value.get(..9).unwrap_or_default()) {
            return Err(IdError::SiretSirenKey);
        }
        Ok(Self(value))
    }

    /// Builds a valid SIRET from a SIREN and a 4-digit sequence (NIC without
    /// key) by computing the key, following the La Poste rule when it applies.
    pub fn from_parts(siren: &Siren, sequence4: &str) -> Result<Self, IdError> {
        let sequence = clean(sequence4);
        if sequence.len() != 4 || !all_digits(sequence.as_bytes()) {
            return Err(IdError::SiretFormat);
        }
        let body = format!("{}{sequence}", siren.0);
        let luhn_key = luhn::check_digit(&body).ok_or(IdError::SiretFormat)?;
        let luhn_candidate = format!("{body}{luhn_key}");
        if siren.0 != LA_POSTE_SIREN || luhn_candidate == LA_POSTE_HEAD_OFFICE {
            return Ok(Self(luhn_candidate));
        }
        let sum = luhn::digit_sum(&body).ok_or(IdError::SiretFormat)?;
        Ok(Self(format!("{body}{}", (5 - sum % 5) % 5)))
    }

    /// The normalised 14 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SIREN of the legal unit: the first 9 digits.
    pub fn siren(&self) -> Siren {
        Siren(self.0.get(..9).unwrap_or_default().to_owned())
    }

    /// Rule T4: the SIRET belongs to the legal entity with this SIREN.
    pub fn check_siren(&self, siren: &Siren) -> Result<(), IdError> {
        if self.0.starts_with(siren.as_str()) {
            Ok(())
        } else {
            Err(IdError::SiretSirenMismatch { siret: self.0.clone(), siren: siren.0.clone() })
        }
    }
}

impl fmt::Display for Siren {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Siret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Siren {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl FromStr for Siret {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

serde_as_validated_str!(Siren);
serde_as_validated_str!(Siret);

#[cfg(test)]
mod tests {
    use super::*;

    /// registry.md §2.4 worked examples for SIREN: input, failing rule.
    const SIREN_TABLE: &[(&str, Option<&str>)] = &[
        ("732829320", None),
        ("404833048", None),
        ("552081317", None),
        ("356000000", None),
        ("404833047", Some("S2")),
        ("732829321", Some("S2")),
        ("73282932", Some("S1")),
    ];

    /// registry.md §2.4 worked examples for SIRET: input, failing rule.
    const SIRET_TABLE: &[(&str, Option<&str>)] = &[
        ("73282932000074", None),
        ("26011021800047", None),
        ("35600000000048", None),
        ("35600000049837", None),
        ("73282932000079", Some("T3")),
        ("35600000049838", Some("T2")),
        ("7328293200007", Some("T1")),
    ];

    #[test]
    fn siren_worked_examples() {
        for &(input, rule) in SIREN_TABLE {
            match (Siren::parse(input), rule) {
                (Ok(s), None) => assert_eq!(s.as_str(), input),
                (Err(e), Some(rule)) => assert_eq!(e.rule(), rule, "{input}: {e}"),
                (got, want) => panic!("{input}: got {got:?}, want rule {want:?}"),
            }
        }
    }

    #[test]
    fn siret_worked_examples() {
        for &(input, rule) in SIRET_TABLE {
            match (Siret::parse(input), rule) {
                (Ok(s), None) => assert_eq!(s.as_str(), input),
                (Err(e), Some(rule)) => assert_eq!(e.rule(), rule, "{input}: {e}"),
                (got, want) => panic!("{input}: got {got:?}, want rule {want:?}"),
            }
        }
    }

    #[test]
    fn la_poste_siret_would_fail_luhn() {
        // The T2 example is only valid through the La Poste exception.
        assert!(!luhn::is_valid("35600000049837"));
    }

    #[test]
    fn siret_other_failures() {
        let rule = |s: &str| Siret::parse(s).unwrap_err().rule();
        assert_eq!(rule(""), "T1");
        assert_eq!(rule("7328293200007A"), "T1");
        assert_eq!(rule("732829320000745"), "T1");
        // Passes Luhn over 14 digits but its SIREN 000000001 does not.
        assert!(luhn::is_valid("00000000100008"));
        assert_eq!(rule("00000000100008"), "S2");
        assert_eq!(Siren::parse("73282932A").unwrap_err().rule(), "S1");
    }

    #[test]
    fn siret_siren_and_t4() {
        let siret = Siret::parse("732 829 320 00074").unwrap();
        let siren = siret.siren();
        assert_eq!(siren.as_str(), "732829320");
        assert_eq!(Siren::parse(siren.as_str()).unwrap(), siren);
        assert!(siret.check_siren(&siren).is_ok());
        let other = Siren::parse("404833048").unwrap();
        let e = siret.check_siren(&other).unwrap_err();
        assert_eq!(e.rule(), "T4");
        assert!(e.to_string().contains("404833048"), "{e}");
        assert_eq!(Siret::parse("35600000049837").unwrap().siren().as_str(), "356000000");
    }

    #[test]
    fn public_body_information() {
        assert!(Siren::parse("260110218").unwrap().is_public_body());
        assert!(!Siren::parse("732829320").unwrap().is_public_body());
    }

    #[test]
    fn generated_numbers_parse_back() {
        let siren = Siren::from_prefix("73282932").unwrap();
        assert_eq!(siren.as_str(), "732829320");
        assert_eq!(Siren::from_prefix("7328293").unwrap_err().rule(), "S1");
        let la_poste = Siren::parse("356000000").unwrap();
        assert_eq!(Siret::from_parts(&la_poste, "0004").unwrap().as_str(), "35600000000048");
        // Two keys satisfy T2 (digit sums 40 and 45); the smaller is chosen.
        assert_eq!(Siret::from_parts(&la_poste, "4983").unwrap().as_str(), "35600000049832");
        for n in 0..200u32 {
            for siren in [&siren, &la_poste] {
                let siret = Siret::from_parts(siren, &format!("{n:04}")).unwrap();
                assert_eq!(Siret::parse(siret.as_str()).unwrap(), siret);
            }
        }
        assert_eq!(Siret::from_parts(&siren, "12").unwrap_err().rule(), "T1");
    }

    #[test]
    fn serde_round_trip() {
        let s = Siret::parse("26011021800047").unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"26011021800047\"");
        assert_eq!(serde_json::from_str::<Siret>(&json).unwrap(), s);
        assert!(serde_json::from_str::<Siren>("\"404833047\"").is_err());
    }
}
