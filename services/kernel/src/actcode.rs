//! Act codes of the two French nomenclatures (activity.md §4.2–4.3), parsed
//! once at the boundary into one normal form.
//!
//! This module checks the *shape* of a code only. Whether a key or a CCAM code
//! exists on the act date is a question for the effective-dated reference
//! tables of the activity service.
//!
//! # NGAP
//!
//! A key followed by an optional coefficient: `KEY`, `KEY COEFF` or
//! `KEYCOEFF`.
//!
//! - The key is 1 to 6 letters A-Z (`C`, `VG`, `AMI`, `CNPSY`), upper-cased on
//!   input. A few keys end in a digit (`C2`, `TE1`, `TE2`, see
//!   [`NGAP_DIGIT_KEYS`]); they are the only keys that contain one.
//! - The coefficient is a number greater than 0 with at most 4 digits before
//!   the decimal separator and at most 2 after it. The separator is `.` or `,`.
//!   When the coefficient is left out it is 1.
//! - When letters run straight into digits, the digits are the coefficient
//!   (`AMI1,5` is `AMI 1.5`, `V2` is `V 2`). There is one exception: if the
//!   letters and the first digit spell a digit-suffixed key, that key is
//!   meant (`C2` is key `C2` with coefficient 1, and `C 2` is key `C` with
//!   coefficient 2). A digit-suffixed key that runs straight into more
//!   digits (`C25`, `C2,5`, `TE12`) is refused as ambiguous. The partner
//!   writes `C2 5` or `C 25`.
//! - Text with the shape of a CCAM code (`HHFA002`) is refused, so that a
//!   code sent under the wrong nomenclature is not read as key `HHFA` with
//!   coefficient 2.
//!
//! Normal form (Display): the key, then a space and the coefficient without
//! trailing zeros when it is not 1: `C`, `C2`, `AMI 1.5`, `SF 12`.
//!
//! # CCAM
//!
//! `CODE`, `CODE/ACTIVITY` or `CODE/ACTIVITY/PHASE`. A `-` may separate the
//! parts instead of `/`.
//!
//! - CODE is four letters then three digits (`HHFA002`), upper-cased on input.
//! - ACTIVITY is one digit from 1 to 5 (1 = main performer,
//!   4 = anaesthesia). It defaults to 1.
//! - PHASE is one digit from 0 to 3. It defaults to 0.
//!
//! Modifiers are not part of the code. Normal form (Display): trailing
//! default parts are dropped: `HBLD038` (activity 1, phase 0), `HBLD038/4`
//! (activity 4, phase 0), `HBLD038/1/2`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// NGAP keys that end in a digit, so that `C2` reads as this key and not as
/// `C` with coefficient 2.
pub const NGAP_DIGIT_KEYS: &[&str] = &["C2", "TE1", "TE2"];

/// Most letters in an NGAP key (the longest in use, `CNPSY`, has 5).
const NGAP_MAX_KEY_LETTERS: usize = 6;
/// Most digits before the decimal separator of an NGAP coefficient.
const NGAP_MAX_UNIT_DIGITS: usize = 4;
/// Longest input echoed back in an error message.
const ECHO_MAX_CHARS: usize = 40;

/// The nomenclature an act code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Nomenclature {
    /// Nomenclature générale des actes professionnels (current acts).
    Ngap,
    /// Classification commune des actes médicaux (technical acts).
    Ccam,
}

impl Nomenclature {
    /// Upper-case name, stable for storage and APIs: "NGAP" or "CCAM".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ngap => "NGAP",
            Self::Ccam => "CCAM",
        }
    }
}

impl fmt::Display for Nomenclature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Nomenclature {
    type Err = ActCodeError;
    /// "NGAP" or "CCAM", in any case, surrounding spaces ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "NGAP" => Ok(Self::Ngap),
            "CCAM" => Ok(Self::Ccam),
            _ => Err(ActCodeError::Nomenclature { found: echo(s) }),
        }
    }
}

/// Why an act code was refused. Messages quote the offending text (act codes
/// are not personal data), cut to 40 characters.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ActCodeError {
    #[error("nomenclature must be NGAP or CCAM, got {found:?}")]
    Nomenclature { found: String },
    #[error("act code is empty: expected an NGAP key such as C, V or AMI 1.5, or a CCAM code such as HHFA002")]
    Empty,

    #[error("NGAP key must be 1 to 6 letters A-Z (e.g. C, VG, AMI), optionally followed by a coefficient (e.g. AMI 1.5), got {found:?}")]
    NgapKey { found: String },
    #[error(
        "NGAP code {found:?} is ambiguous because {key} is itself a key: write \"{letters} {digits}\" for key {letters} with coefficient {digits}, or put a space between {key} and its coefficient for key {key}"
    )]
    NgapAmbiguous { found: String, key: String, letters: String, digits: String },
    #[error(
        "NGAP code {found:?} has the shape of a CCAM code (4 letters then 3 digits): send it with nomenclature CCAM, or write the NGAP coefficient after a space"
    )]
    NgapLooksLikeCcam { found: String },
    #[error(
        "NGAP coefficient must be a number such as 2, 1.5 or 1,5 (digits, then optionally one '.' or ',' and 1 or 2 digits), got {found:?}"
    )]
    NgapCoefficient { found: String },
    #[error("NGAP coefficient has more than 2 decimals, got {found:?}")]
    NgapCoefficientDecimals { found: String },
    #[error("NGAP coefficient must be at most 9999.99, got {found:?}")]
    NgapCoefficientTooLarge { found: String },
    #[error("NGAP coefficient must be greater than 0, got {found:?}; leave it out for coefficient 1")]
    NgapCoefficientZero { found: String },

    #[error("CCAM code must be 4 letters then 3 digits (e.g. HHFA002), got {found:?}")]
    CcamCode { found: String },
    #[error("CCAM activity must be one digit from 1 to 5 (1 = main performer, 4 = anaesthesia), got {found:?}")]
    CcamActivity { found: String },
    #[error("CCAM phase must be one digit from 0 to 3 (0 when the act has no phases), got {found:?}")]
    CcamPhase { found: String },
    #[error("CCAM code must be written CODE, CODE/ACTIVITY or CODE/ACTIVITY/PHASE (e.g. HBLD038/1/0), got {found:?}")]
    CcamParts { found: String },
}

/// The input as quoted in an error: trimmed and cut to a readable length.
fn echo(input: &str) -> String {
    let trimmed = input.trim();
    if trimmed.chars().count() <= ECHO_MAX_CHARS {
        trimmed.to_owned()
    } else {
        let mut cut: String = trimmed.chars().take(ECHO_MAX_CHARS).collect();
        cut.push('…');
        cut
    }
}

/// An NGAP act line: key and coefficient.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NgapCode {
    key: String,
    hundredths: u32,
}

impl NgapCode {
    /// The key, upper case: "C", "C2", "AMI".
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The coefficient in hundredths: 100 for 1, 150 for 1.5.
    pub fn coefficient_hundredths(&self) -> u32 {
        self.hundredths
    }

    /// The coefficient as a decimal without trailing zeros: "1", "1.5", "0.25".
    pub fn coefficient(&self) -> String {
        let units = self.hundredths / 100;
        match self.hundredths % 100 {
            0 => units.to_string(),
            cents if cents % 10 == 0 => format!("{units}.{}", cents / 10),
            cents => format!("{units}.{cents:02}"),
        }
    }

    fn parse(input: &str) -> Result<Self, ActCodeError> {
        let text = input.trim().to_ascii_uppercase();
        if text.is_empty() {
            return Err(ActCodeError::Empty);
        }
        // "HHFA002" would otherwise read as key HHFA with coefficient 2.
        if parse_ccam_code(&text).is_ok() {
            return Err(ActCodeError::NgapLooksLikeCcam { found: echo(input) });
        }
        let key_error = || ActCodeError::NgapKey { found: echo(input) };
        let letters_len = text.bytes().take_while(u8::is_ascii_alphabetic).count();
        if letters_len == 0 || letters_len > NGAP_MAX_KEY_LETTERS {
            return Err(key_error());
        }
        // ASCII letters end on a char boundary.
        let (letters, rest) = text.split_at(letters_len);

        let (key, coefficient) = match rest.chars().next() {
            None => (letters.to_owned(), None),
            Some(c) if c.is_whitespace() => (letters.to_owned(), Some(rest)),
            Some(c) if c.is_ascii_digit() => {
                let digit_key = format!("{letters}{c}");
                if NGAP_DIGIT_KEYS.contains(&digit_key.as_str()) {
                    // The digit is one byte.
                    let after = &rest[1..];
                    match after.chars().next() {
                        None => (digit_key, None),
                        Some(c) if c.is_whitespace() => (digit_key, Some(after)),
                        // Either reading could be meant: refuse, unless the
                        // text is no coefficient at all.
                        Some(_) => {
                            parse_coefficient(rest)?;
                            return Err(ActCodeError::NgapAmbiguous {
                                found: echo(input),
                                key: digit_key,
                                letters: letters.to_owned(),
                                digits: echo(rest),
                            });
                        }
                    }
                } else {
                    (letters.to_owned(), Some(rest))
                }
            }
            Some(_) => return Err(key_error()),
        };
        let hundredths = match coefficient {
            None => 100,
            Some(text) => parse_coefficient(text.trim())?,
        };
        Ok(Self { key, hundredths })
    }
}

/// A strictly positive decimal with at most 4 + 2 digits, in hundredths.
fn parse_coefficient(text: &str) -> Result<u32, ActCodeError> {
    let found = || echo(text);
    let (units, decimals) = match text.split_once(['.', ',']) {
        Some((units, decimals)) => (units, Some(decimals)),
        None => (text, None),
    };
    let is_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !is_digits(units) || decimals.is_some_and(|d| !is_digits(d)) {
        return Err(ActCodeError::NgapCoefficient { found: found() });
    }
    let decimals = decimals.unwrap_or("");
    if decimals.len() > 2 {
        return Err(ActCodeError::NgapCoefficientDecimals { found: found() });
    }
    let units = units.trim_start_matches('0');
    if units.len() > NGAP_MAX_UNIT_DIGITS {
        return Err(ActCodeError::NgapCoefficientTooLarge { found: found() });
    }
    // At most 6 digits: fits a u32.
    let hundredths =
        units.bytes().chain(decimals.bytes().chain(std::iter::repeat(b'0')).take(2)).fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    if hundredths == 0 {
        return Err(ActCodeError::NgapCoefficientZero { found: found() });
    }
    Ok(hundredths)
}

impl fmt::Display for NgapCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.hundredths == 100 { f.write_str(&self.key) } else { write!(f, "{} {}", self.key, self.coefficient()) }
    }
}

/// A CCAM act line: code, activity and phase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CcamCode {
    code: String,
    activity: u8,
    phase: u8,
}

impl CcamCode {
    /// Builds a CCAM act line from separate fields, as billing files send
    /// them. The code is trimmed and upper-cased.
    pub fn from_parts(code: &str, activity: u8, phase: u8) -> Result<Self, ActCodeError> {
        let code = parse_ccam_code(code)?;
        if !(1..=5).contains(&activity) {
            return Err(ActCodeError::CcamActivity { found: activity.to_string() });
        }
        if phase > 3 {
            return Err(ActCodeError::CcamPhase { found: phase.to_string() });
        }
        Ok(Self { code, activity, phase })
    }

    /// The seven-character code, upper case: "HHFA002".
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Activity code, 1 to 5.
    pub fn activity(&self) -> u8 {
        self.activity
    }

    /// Phase code, 0 to 3.
    pub fn phase(&self) -> u8 {
        self.phase
    }

    fn parse(input: &str) -> Result<Self, ActCodeError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(ActCodeError::Empty);
        }
        let mut parts = text.split(['/', '-']);
        let code = parse_ccam_code(parts.next().unwrap_or_default())?;
        let digit = |part: Option<&str>, default: u8, range: std::ops::RangeInclusive<u8>, error: fn(String) -> ActCodeError| match part {
            None => Ok(default),
            Some(p) => {
                let p = p.trim();
                match p.parse::<u8>() {
                    Ok(d) if p.len() == 1 && range.contains(&d) => Ok(d),
                    _ => Err(error(echo(p))),
                }
            }
        };
        let activity = digit(parts.next(), 1, 1..=5, |found| ActCodeError::CcamActivity { found })?;
        let phase = digit(parts.next(), 0, 0..=3, |found| ActCodeError::CcamPhase { found })?;
        if parts.next().is_some() {
            return Err(ActCodeError::CcamParts { found: echo(input) });
        }
        Ok(Self { code, activity, phase })
    }
}

/// Four letters then three digits, trimmed and upper-cased.
fn parse_ccam_code(text: &str) -> Result<String, ActCodeError> {
    let code = text.trim().to_ascii_uppercase();
    let b = code.as_bytes();
    if b.len() == 7 && b[..4].iter().all(u8::is_ascii_uppercase) && b[4..].iter().all(u8::is_ascii_digit) {
        Ok(code)
    } else {
        Err(ActCodeError::CcamCode { found: echo(text) })
    }
}

impl fmt::Display for CcamCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.activity, self.phase) {
            (1, 0) => f.write_str(&self.code),
            (activity, 0) => write!(f, "{}/{activity}", self.code),
            (activity, phase) => write!(f, "{}/{activity}/{phase}", self.code),
        }
    }
}

/// One billed act line: an NGAP key with its coefficient, or a CCAM code
/// with its activity and phase (the counting unit of activity.md §4.2).
///
/// Serialises as `{"nomenclature": "NGAP", "code": "AMI 1.5"}`; deserialising
/// runs the full parse.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActCode {
    Ngap(NgapCode),
    Ccam(CcamCode),
}

impl ActCode {
    /// Parses `text` as a code of `nomenclature` (rules in the module doc).
    pub fn parse(nomenclature: Nomenclature, text: &str) -> Result<Self, ActCodeError> {
        match nomenclature {
            Nomenclature::Ngap => NgapCode::parse(text).map(Self::Ngap),
            Nomenclature::Ccam => CcamCode::parse(text).map(Self::Ccam),
        }
    }

    /// The nomenclature of this code.
    pub fn nomenclature(&self) -> Nomenclature {
        match self {
            Self::Ngap(_) => Nomenclature::Ngap,
            Self::Ccam(_) => Nomenclature::Ccam,
        }
    }

    /// The NGAP part, if this is an NGAP code.
    pub fn as_ngap(&self) -> Option<&NgapCode> {
        match self {
            Self::Ngap(c) => Some(c),
            Self::Ccam(_) => None,
        }
    }

    /// The CCAM part, if this is a CCAM code.
    pub fn as_ccam(&self) -> Option<&CcamCode> {
        match self {
            Self::Ccam(c) => Some(c),
            Self::Ngap(_) => None,
        }
    }
}

impl fmt::Display for ActCode {
    /// The normal form, without the nomenclature: "AMI 1.5", "HBLD038/4".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ngap(c) => c.fmt(f),
            Self::Ccam(c) => c.fmt(f),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct ActCodeWire {
    nomenclature: Nomenclature,
    code: String,
}

impl Serialize for ActCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ActCodeWire { nomenclature: self.nomenclature(), code: self.to_string() }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ActCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = ActCodeWire::deserialize(deserializer)?;
        Self::parse(wire.nomenclature, &wire.code).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NGAP: Nomenclature = Nomenclature::Ngap;
    const CCAM: Nomenclature = Nomenclature::Ccam;

    /// Valid NGAP inputs: input, key, coefficient in hundredths, normal form.
    const NGAP_VALID: &[(&str, &str, u32, &str)] = &[
        ("C", "C", 100, "C"),
        ("V", "V", 100, "V"),
        ("G", "G", 100, "G"),
        ("VG", "VG", 100, "VG"),
        ("CNPSY", "CNPSY", 100, "CNPSY"),
        ("AMI 1.5", "AMI", 150, "AMI 1.5"),
        ("AMI1,5", "AMI", 150, "AMI 1.5"),
        ("ami 1,50", "AMI", 150, "AMI 1.5"),
        ("  ami\t2  ", "AMI", 200, "AMI 2"),
        ("AIS 3", "AIS", 300, "AIS 3"),
        ("SF 12", "SF", 1200, "SF 12"),
        ("AMI 0.25", "AMI", 25, "AMI 0.25"),
        ("AMI 1.05", "AMI", 105, "AMI 1.05"),
        ("AMI 01.5", "AMI", 150, "AMI 1.5"),
        ("SPR 9999.99", "SPR", 999_999, "SPR 9999.99"),
        ("C 1", "C", 100, "C"),
        ("C1", "C", 100, "C"),
        ("V2", "V", 200, "V 2"),
        ("AMI\u{a0}1.5", "AMI", 150, "AMI 1.5"),
        // Digit-suffixed keys.
        ("C2", "C2", 100, "C2"),
        ("c2", "C2", 100, "C2"),
        ("C 2", "C", 200, "C 2"),
        ("C2 1.5", "C2", 150, "C2 1.5"),
        ("TE1", "TE1", 100, "TE1"),
        ("te2 2", "TE2", 200, "TE2 2"),
        ("TE 12", "TE", 1200, "TE 12"),
        // A CCAM-shaped code needs the space to be read as NGAP.
        ("HHFA 2", "HHFA", 200, "HHFA 2"),
    ];

    /// Invalid NGAP inputs and the error variant expected.
    const NGAP_INVALID: &[(&str, &str)] = &[
        ("", "Empty"),
        ("   ", "Empty"),
        ("1.5", "NgapKey"),
        ("ABCDEFG", "NgapKey"),
        ("AMI-1.5", "NgapKey"),
        ("AMI*2", "NgapKey"),
        ("ÉCG", "NgapKey"),
        ("C25", "NgapAmbiguous"),
        ("C2,5", "NgapAmbiguous"),
        ("TE12", "NgapAmbiguous"),
        ("C2X", "NgapCoefficient"),
        ("HHFA002", "NgapLooksLikeCcam"),
        ("hbld038", "NgapLooksLikeCcam"),
        ("C2.", "NgapCoefficient"),
        ("AMI 1.5.2", "NgapCoefficient"),
        ("AMI 1 5", "NgapCoefficient"),
        ("AMI .5", "NgapCoefficient"),
        ("AMI 1.", "NgapCoefficient"),
        ("AMI x2", "NgapCoefficient"),
        ("AMI -1", "NgapCoefficient"),
        ("AMI 1.234", "NgapCoefficientDecimals"),
        ("AMI 10000", "NgapCoefficientTooLarge"),
        ("AMI 0", "NgapCoefficientZero"),
        ("AMI 0,00", "NgapCoefficientZero"),
    ];

    /// Valid CCAM inputs: input, code, activity, phase, normal form.
    const CCAM_VALID: &[(&str, &str, u8, u8, &str)] = &[
        ("HHFA002", "HHFA002", 1, 0, "HHFA002"),
        (" hbld038 ", "HBLD038", 1, 0, "HBLD038"),
        ("HBLD038/1/0", "HBLD038", 1, 0, "HBLD038"),
        ("HBLD038/1", "HBLD038", 1, 0, "HBLD038"),
        ("HBLD038/4", "HBLD038", 4, 0, "HBLD038/4"),
        ("HBLD038/4/0", "HBLD038", 4, 0, "HBLD038/4"),
        ("HBLD038-1-2", "HBLD038", 1, 2, "HBLD038/1/2"),
        ("hbld038 / 5 / 3", "HBLD038", 5, 3, "HBLD038/5/3"),
    ];

    /// Invalid CCAM inputs and the error variant expected.
    const CCAM_INVALID: &[(&str, &str)] = &[
        ("", "Empty"),
        ("HB38", "CcamCode"),
        ("HHFA02", "CcamCode"),
        ("HHFA0022", "CcamCode"),
        ("HHF1002", "CcamCode"),
        ("HHFAA02", "CcamCode"),
        ("HH FA002", "CcamCode"),
        ("/1/0", "CcamCode"),
        ("HHFA002/0", "CcamActivity"),
        ("HHFA002/6", "CcamActivity"),
        ("HHFA002/11", "CcamActivity"),
        ("HHFA002/", "CcamActivity"),
        ("HHFA002/A", "CcamActivity"),
        ("HHFA002/1/4", "CcamPhase"),
        ("HHFA002/1/", "CcamPhase"),
        ("HHFA002/1/+0", "CcamPhase"),
        ("HHFA002/1/0/F", "CcamParts"),
    ];

    fn variant(e: &ActCodeError) -> &'static str {
        match e {
            ActCodeError::Nomenclature { .. } => "Nomenclature",
            ActCodeError::Empty => "Empty",
            ActCodeError::NgapKey { .. } => "NgapKey",
            ActCodeError::NgapAmbiguous { .. } => "NgapAmbiguous",
            ActCodeError::NgapLooksLikeCcam { .. } => "NgapLooksLikeCcam",
            ActCodeError::NgapCoefficient { .. } => "NgapCoefficient",
            ActCodeError::NgapCoefficientDecimals { .. } => "NgapCoefficientDecimals",
            ActCodeError::NgapCoefficientTooLarge { .. } => "NgapCoefficientTooLarge",
            ActCodeError::NgapCoefficientZero { .. } => "NgapCoefficientZero",
            ActCodeError::CcamCode { .. } => "CcamCode",
            ActCodeError::CcamActivity { .. } => "CcamActivity",
            ActCodeError::CcamPhase { .. } => "CcamPhase",
            ActCodeError::CcamParts { .. } => "CcamParts",
        }
    }

    #[test]
    fn ngap_valid_codes_normalise() {
        for &(input, key, hundredths, normal) in NGAP_VALID {
            let code = ActCode::parse(NGAP, input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            let ngap = code.as_ngap().unwrap();
            assert_eq!((ngap.key(), ngap.coefficient_hundredths()), (key, hundredths), "{input:?}");
            assert_eq!(code.to_string(), normal, "{input:?}");
            assert_eq!(code.nomenclature(), NGAP);
            assert!(code.as_ccam().is_none());
            // The normal form parses back to the same code.
            assert_eq!(ActCode::parse(NGAP, normal).unwrap(), code, "{input:?}");
        }
    }

    #[test]
    fn ngap_invalid_codes_are_refused() {
        for &(input, want) in NGAP_INVALID {
            match ActCode::parse(NGAP, input) {
                Ok(code) => panic!("{input:?} accepted as {code}"),
                Err(e) => assert_eq!(variant(&e), want, "{input:?}: {e}"),
            }
        }
    }

    #[test]
    fn ngap_coefficient_text() {
        let coefficient = |s| ActCode::parse(NGAP, s).unwrap().as_ngap().unwrap().coefficient();
        assert_eq!(coefficient("C"), "1");
        assert_eq!(coefficient("AMI 1,5"), "1.5");
        assert_eq!(coefficient("AMI 1.50"), "1.5");
        assert_eq!(coefficient("AMI 0.05"), "0.05");
        assert_eq!(coefficient("AMI 3.00"), "3");
    }

    #[test]
    fn ngap_errors_tell_how_to_fix() {
        let msg = |s| ActCode::parse(NGAP, s).unwrap_err().to_string();
        assert_eq!(
            msg("C25"),
            "NGAP code \"C25\" is ambiguous because C2 is itself a key: write \"C 25\" for key C with coefficient 25, or put a space between C2 and its coefficient for key C2"
        );
        assert!(msg("AMI 1.234").contains("more than 2 decimals"));
        assert!(msg("AMI 0").contains("greater than 0"));
        assert!(msg("ABCDEFG").contains("1 to 6 letters"));
        // Long junk is cut in the message.
        let long = format!("AMI {}", "9".repeat(200));
        assert!(msg(&long).len() < 200);
    }

    #[test]
    fn ccam_valid_codes_normalise() {
        for &(input, code_text, activity, phase, normal) in CCAM_VALID {
            let code = ActCode::parse(CCAM, input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            let ccam = code.as_ccam().unwrap();
            assert_eq!((ccam.code(), ccam.activity(), ccam.phase()), (code_text, activity, phase), "{input:?}");
            assert_eq!(code.to_string(), normal, "{input:?}");
            assert_eq!(code.nomenclature(), CCAM);
            assert!(code.as_ngap().is_none());
            assert_eq!(ActCode::parse(CCAM, normal).unwrap(), code, "{input:?}");
        }
    }

    #[test]
    fn ccam_invalid_codes_are_refused() {
        for &(input, want) in CCAM_INVALID {
            match ActCode::parse(CCAM, input) {
                Ok(code) => panic!("{input:?} accepted as {code}"),
                Err(e) => assert_eq!(variant(&e), want, "{input:?}: {e}"),
            }
        }
        assert_eq!(
            ActCode::parse(CCAM, "HB38").unwrap_err().to_string(),
            "CCAM code must be 4 letters then 3 digits (e.g. HHFA002), got \"HB38\""
        );
    }

    #[test]
    fn ccam_from_parts() {
        let code = CcamCode::from_parts(" hbld038", 4, 0).unwrap();
        assert_eq!(code.to_string(), "HBLD038/4");
        assert_eq!(ActCode::Ccam(code), ActCode::parse(CCAM, "HBLD038/4/0").unwrap());
        assert_eq!(variant(&CcamCode::from_parts("HBLD038", 0, 0).unwrap_err()), "CcamActivity");
        assert_eq!(variant(&CcamCode::from_parts("HBLD038", 1, 4).unwrap_err()), "CcamPhase");
        assert_eq!(variant(&CcamCode::from_parts("HBLD38", 1, 0).unwrap_err()), "CcamCode");
    }

    #[test]
    fn the_nomenclature_decides_the_grammar() {
        assert!(ActCode::parse(CCAM, "AMI 1.5").is_err());
        assert!(ActCode::parse(NGAP, "HHFA002").is_err());
    }

    #[test]
    fn nomenclature_names() {
        assert_eq!("ngap".parse::<Nomenclature>().unwrap(), NGAP);
        assert_eq!(" CCAM ".parse::<Nomenclature>().unwrap(), CCAM);
        assert_eq!(variant(&"LPP".parse::<Nomenclature>().unwrap_err()), "Nomenclature");
        assert_eq!(NGAP.to_string(), "NGAP");
        assert_eq!(serde_json::to_string(&CCAM).unwrap(), "\"CCAM\"");
    }

    #[test]
    fn serde_round_trip_validates() {
        let code = ActCode::parse(NGAP, "ami1,5").unwrap();
        let json = serde_json::to_string(&code).unwrap();
        assert_eq!(json, r#"{"nomenclature":"NGAP","code":"AMI 1.5"}"#);
        assert_eq!(serde_json::from_str::<ActCode>(&json).unwrap(), code);
        let ccam: ActCode = serde_json::from_str(r#"{"nomenclature":"CCAM","code":"hbld038-4-0"}"#).unwrap();
        assert_eq!(ccam.to_string(), "HBLD038/4");
        assert!(serde_json::from_str::<ActCode>(r#"{"nomenclature":"CCAM","code":"HB38"}"#).is_err());
    }
}
