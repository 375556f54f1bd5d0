//! RPPS number of a health professional (rules R1–R3).

use std::fmt;
use std::str::FromStr;

use crate::error::{IdError, IdWarning};
use crate::luhn;
use crate::normalize::{all_digits, clean};
use crate::serde_str::serde_as_validated_str;

/// A validated 11-digit RPPS number (10-digit sequence + Luhn key).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rpps(String);

/// System of the idNat_PS identifier ("8" + RPPS) in FR Core.
pub const ID_NAT_PS_SYSTEM: &str = "urn:oid:1.2.250.1.71.4.2.1";

/// Rules R1 and R3: the 11 digits of an RPPS, the idNat_PS prefix removed.
fn rpps_digits(input: &str) -> Result<String, IdError> {
    let mut value = clean(input);
    if value.len() == 12 && value.starts_with('8') {
        value.remove(0);
    }
    if value.len() != 11 || !all_digits(value.as_bytes()) {
        return Err(IdError::RppsFormat);
    }
    Ok(value)
}

impl Rpps {
    /// Parses and validates an RPPS (rules R1, R2), or an idNat_PS of 12
    /// digits starting with 8 (rule R3), which yields the RPPS it carries.
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let value = rpps_digits(input)?;
        if !luhn::is_valid(&value) {
            return Err(IdError::RppsKey);
        }
        Ok(Self(value))
    }

    /// As [`Rpps::parse`], but a wrong key is a warning rather than an error:
    /// R2 is WARN in test environments, where fixture numbers circulate.
    pub fn parse_lenient(input: &str) -> Result<(Self, Vec<IdWarning>), IdError> {
        let value = rpps_digits(input)?;
        let warnings = if luhn::is_valid(&value) { Vec::new() } else { vec![IdWarning::RppsKey] };
        Ok((Self(value), warnings))
    }

    /// Builds a valid RPPS from its 10-digit sequence by computing the key
    /// (test fixtures are computed, never copied from specifications).
    pub fn from_prefix(prefix10: &str) -> Result<Self, IdError> {
        let prefix = clean(prefix10);
        if prefix.len() != 10 {
            return Err(IdError::RppsFormat);
        }
        let key = luhn::check_digit(&prefix).ok_or(IdError::RppsFormat)?;
        Ok(Self(format!("{prefix}{key}")))
    }

    /// The normalised 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The idNat_PS form ("8" + RPPS), to be used with [`ID_NAT_PS_SYSTEM`].
    pub fn id_nat_ps(&self) -> String {
        format!("8{}", self.0)
    }
}

impl fmt::Display for Rpps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Rpps {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

serde_as_validated_str!(Rpps);

#[cfg(test)]
mod tests {
    use super::*;

    /// registry.md §2.5 worked examples: input, RPPS obtained or failing rule.
    const RPPS_TABLE: &[(&str, Result<&str, &str>)] = &[
        ("10002909371", Ok("10002909371")),
        ("10005678908", Ok("10005678908")),
        ("10100000008", Ok("10100000008")),
        ("10005678901", Err("R2")),
        ("10002909372", Err("R2")),
        ("1000290937", Err("R1")),
        ("810002909371", Ok("10002909371")),
    ];

    #[test]
    fn rpps_worked_examples() {
        for &(input, want) in RPPS_TABLE {
            match (Rpps::parse(input), want) {
                (Ok(r), Ok(rpps)) => assert_eq!(r.as_str(), rpps, "{input}"),
                (Err(e), Err(rule)) => assert_eq!(e.rule(), rule, "{input}: {e}"),
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn mos_example_has_key_8() {
        assert_eq!(Rpps::from_prefix("1000567890").unwrap().as_str(), "10005678908");
        assert_eq!(Rpps::from_prefix("100056789").unwrap_err().rule(), "R1");
    }

    #[test]
    fn id_nat_ps() {
        let r = Rpps::parse("8 1000 2909 371").unwrap();
        assert_eq!(r.id_nat_ps(), "810002909371");
        // 12 digits not starting with 8 are no idNat_PS.
        assert_eq!(Rpps::parse("910002909371").unwrap_err().rule(), "R1");
        // The prefix removed, R2 still applies.
        assert_eq!(Rpps::parse("810002909372").unwrap_err().rule(), "R2");
        assert_eq!(Rpps::parse("1000290937A").unwrap_err().rule(), "R1");
    }

    #[test]
    fn lenient_parse_downgrades_r2_only() {
        let (r, w) = Rpps::parse_lenient("10005678901").unwrap();
        assert_eq!(r.as_str(), "10005678901");
        assert_eq!(w.iter().map(IdWarning::rule).collect::<Vec<_>>(), ["R2"]);
        assert!(Rpps::parse_lenient("10002909371").unwrap().1.is_empty());
        assert_eq!(Rpps::parse_lenient("1000290937").unwrap_err().rule(), "R1");
    }

    #[test]
    fn serde_round_trip() {
        let r: Rpps = serde_json::from_str("\"810002909371\"").unwrap();
        assert_eq!(serde_json::to_string(&r).unwrap(), "\"10002909371\"");
    }
}
