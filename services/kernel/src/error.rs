//! Errors and warnings raised by identifier parsing. Every variant maps to
//! exactly one rule code of registry.md §2 so that a partner can look the rule
//! up, and messages say what to fix. NIR messages never echo the value.

use thiserror::Error;

/// An identifier broke a REJECT rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    #[error("FINESS must have exactly 9 characters once spaces, dots and hyphens are removed; found {found} (rule F1)")]
    FinessLength { found: usize },
    #[error("FINESS starts with {found:?}, which is not a department code: expected 01-19, 21-95, 2A, 2B, 97 or 98 (rule F2)")]
    FinessDepartment { found: String },
    #[error("FINESS characters 3 to 9 must be digits; character {position} is not (rule F3)")]
    FinessNotDigit { position: usize },
    #[error("FINESS check digit is wrong (Luhn key, rule F6)")]
    FinessKey,
    #[error("FINESS check digit is wrong for a Corsican number (Luhn key with 2A read as 21 and 2B as 22, rule F7)")]
    FinessCorsicanKey,

    #[error("FINESS without key must have exactly 8 characters once spaces, dots and hyphens are removed; found {found} (rule E1)")]
    Finess8Length { found: usize },
    #[error("FINESS without key starts with {found:?}, which is not a department code: expected 01-19, 21-95, 2A, 2B, 97 or 98 (rule E2)")]
    Finess8Department { found: String },
    #[error("FINESS without key: characters 3 to 8 must be digits; character {position} is not (rule E3)")]
    Finess8NotDigit { position: usize },

    #[error("SIREN must be exactly 9 digits once spaces, dots and hyphens are removed (rule S1)")]
    SirenFormat,
    #[error("SIREN check digit is wrong (Luhn key, rule S2)")]
    SirenKey,

    #[error("SIRET must be exactly 14 digits once spaces, dots and hyphens are removed (rule T1)")]
    SiretFormat,
    #[error("SIRET of La Poste (starting 356000000) is wrong: the sum of its 14 digits must be a multiple of 5 (rule T2)")]
    SiretLaPosteSum,
    #[error("SIRET check digit is wrong (Luhn key, rule T3)")]
    SiretKey,
    #[error("SIRET starts with a SIREN (first 9 digits) whose check digit is wrong (Luhn key, rule S2)")]
    SiretSirenKey,
    #[error("SIRET {siret} does not belong to SIREN {siren}: its first 9 digits differ (rule T4)")]
    SiretSirenMismatch { siret: String, siren: String },

    #[error(
        "RPPS must be exactly 11 digits, or 12 digits starting with 8 for an idNat_PS, once spaces, dots and hyphens are removed (rule R1)"
    )]
    RppsFormat,
    #[error("RPPS check digit is wrong (Luhn key, rule R2)")]
    RppsKey,

    #[error(
        "NIR must have exactly 15 characters (13-character body and 2-digit key) once spaces, dots and hyphens are removed; found {found} (rule N1)"
    )]
    NirLength { found: usize },
    #[error("NIR character {position} is invalid: expected {expected} (rule N2)")]
    NirCharacter { position: usize, expected: &'static str },
    #[error("NIR key (last 2 digits) does not match the first 13 characters (rule N3)")]
    NirKey,
}

impl IdError {
    /// The registry.md rule code this error reports, e.g. "F6".
    pub fn rule(&self) -> &'static str {
        match self {
            Self::FinessLength { .. } => "F1",
            Self::FinessDepartment { .. } => "F2",
            Self::FinessNotDigit { .. } => "F3",
            Self::FinessKey => "F6",
            Self::FinessCorsicanKey => "F7",
            Self::Finess8Length { .. } => "E1",
            Self::Finess8Department { .. } => "E2",
            Self::Finess8NotDigit { .. } => "E3",
            Self::SirenFormat => "S1",
            Self::SirenKey | Self::SiretSirenKey => "S2",
            Self::SiretFormat => "T1",
            Self::SiretLaPosteSum => "T2",
            Self::SiretKey => "T3",
            Self::SiretSirenMismatch { .. } => "T4",
            Self::RppsFormat => "R1",
            Self::RppsKey => "R2",
            Self::NirLength { .. } => "N1",
            Self::NirCharacter { .. } => "N2",
            Self::NirKey => "N3",
        }
    }
}

/// An identifier is accepted but broke a WARN rule: worth showing to whoever
/// entered it, not worth rejecting.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdWarning {
    #[error("FINESS character 3 is {found:?} where \"0\" is expected; check the number (rule F4)")]
    FinessThirdCharacter { found: char },
    #[error(
        "FINESS of an overseas department (97) has {found:?} as character 4 where 1 to 5 is expected (Guadeloupe, Martinique, Guyane, Réunion, Saint-Pierre-et-Miquelon); check the number (rule F5)"
    )]
    FinessOverseasCharacter { found: char },
    #[error("NIR sex digit is neither 1 nor 2 (7 and 8 mark temporary numbers); check the number (rule N4)")]
    NirSex,
    #[error("NIR birth month is outside 01-12 (used for incomplete civil records); check the number (rule N4)")]
    NirMonth,
    #[error("RPPS check digit is wrong (Luhn key, rule R2); accepted only because test numbers are allowed")]
    RppsKey,
}

impl IdWarning {
    /// The registry.md rule code this warning reports, e.g. "F4".
    pub fn rule(&self) -> &'static str {
        match self {
            Self::FinessThirdCharacter { .. } => "F4",
            Self::FinessOverseasCharacter { .. } => "F5",
            Self::NirSex | Self::NirMonth => "N4",
            Self::RppsKey => "R2",
        }
    }
}
