//! Money as integer cents (ARCHITECTURE.md §4): no floats anywhere between
//! the partner's text and the stored value.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// An amount in euro cents. Serialises as a plain integer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cents(pub i64);

/// Why an amount string was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CentsError {
    #[error(
        "amount must be written in euros like 1234.56: optional '-', digits, optional dot and 1 or 2 decimals; no spaces, '+', commas or exponent"
    )]
    Format,
    #[error("amount has more than 2 decimals; amounts are exact to the cent")]
    TooManyDecimals,
    #[error("amount is too large")]
    Overflow,
}

impl Cents {
    pub const ZERO: Cents = Cents(0);

    pub fn checked_add(self, other: Cents) -> Option<Cents> {
        self.0.checked_add(other.0).map(Cents)
    }

    pub fn checked_sub(self, other: Cents) -> Option<Cents> {
        self.0.checked_sub(other.0).map(Cents)
    }

    /// Parses a euro amount such as "1234.56", "-0.05", "12.5" or "12".
    pub fn from_euros_str(input: &str) -> Result<Cents, CentsError> {
        let (negative, unsigned) = match input.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, input),
        };
        let (units, decimals) = match unsigned.split_once('.') {
            Some((units, decimals)) => (units, Some(decimals)),
            None => (unsigned, None),
        };
        let is_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !is_digits(units) || decimals.is_some_and(|d| !is_digits(d)) {
            return Err(CentsError::Format);
        }
        let decimals = decimals.unwrap_or("");
        if decimals.len() > 2 {
            return Err(CentsError::TooManyDecimals);
        }

        // Magnitude in cents, accumulated with overflow checks: units then the
        // decimals padded to 2 digits.
        let padded = decimals.bytes().chain(std::iter::repeat(b'0')).take(2);
        let magnitude = units
            .bytes()
            .chain(padded)
            .try_fold(0u64, |acc, b| acc.checked_mul(10)?.checked_add(u64::from(b - b'0')))
            .ok_or(CentsError::Overflow)?;
        let signed = if negative { -i128::from(magnitude) } else { i128::from(magnitude) };
        i64::try_from(signed).map(Cents).map_err(|_| CentsError::Overflow)
    }
}

impl fmt::Display for Cents {
    /// Euros with two decimals and a dot: "1234.56", "-0.05", "0.00".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl FromStr for Cents {
    type Err = CentsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_euros_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_amounts() {
        let cases = [
            ("1234.56", 123_456),
            ("1234.5", 123_450),
            ("1234", 123_400),
            ("0.05", 5),
            ("-0.05", -5),
            ("-0", 0),
            ("0.00", 0),
            ("007.10", 710),
            ("-1234.56", -123_456),
            ("92233720368547758.07", i64::MAX),
            ("-92233720368547758.08", i64::MIN),
        ];
        for (input, cents) in cases {
            assert_eq!(Cents::from_euros_str(input), Ok(Cents(cents)), "{input}");
        }
    }

    #[test]
    fn rejects_bad_amounts() {
        for input in
            ["", "-", ".", "-.5", ".5", "12.", "+12", "1 234.56", "1,5", "1234,56", "1e3", "12.-5", "--1", "1.2.3", " 1", "NaN", "١٢"]
        {
            assert_eq!(Cents::from_euros_str(input), Err(CentsError::Format), "{input:?}");
        }
        assert_eq!(Cents::from_euros_str("1.234"), Err(CentsError::TooManyDecimals));
        assert_eq!(Cents::from_euros_str("0.001"), Err(CentsError::TooManyDecimals));
        assert_eq!(Cents::from_euros_str("92233720368547758.08"), Err(CentsError::Overflow));
        assert_eq!(Cents::from_euros_str("-92233720368547758.09"), Err(CentsError::Overflow));
        assert_eq!(Cents::from_euros_str(&"9".repeat(40)), Err(CentsError::Overflow));
    }

    #[test]
    fn formats_amounts() {
        assert_eq!(Cents(123_456).to_string(), "1234.56");
        assert_eq!(Cents(-5).to_string(), "-0.05");
        assert_eq!(Cents(0).to_string(), "0.00");
        assert_eq!(Cents(100).to_string(), "1.00");
        assert_eq!(Cents(-100_010).to_string(), "-1000.10");
        assert_eq!(Cents(i64::MIN).to_string(), "-92233720368547758.08");
        for c in [0, 1, -1, 99, -99, 12_345, i64::MAX, i64::MIN] {
            assert_eq!(Cents::from_euros_str(&Cents(c).to_string()), Ok(Cents(c)));
        }
    }

    #[test]
    fn checked_arithmetic() {
        assert_eq!(Cents(150).checked_add(Cents(-200)), Some(Cents(-50)));
        assert_eq!(Cents(150).checked_sub(Cents(200)), Some(Cents(-50)));
        assert_eq!(Cents(i64::MAX).checked_add(Cents(1)), None);
        assert_eq!(Cents(i64::MIN).checked_sub(Cents(1)), None);
        assert_eq!(Cents::ZERO.checked_sub(Cents(i64::MIN)), None);
    }

    #[test]
    fn serde_as_integer() {
        assert_eq!(serde_json::to_string(&Cents(-5)).unwrap(), "-5");
        assert_eq!(serde_json::from_str::<Cents>("123456").unwrap(), Cents(123_456));
        assert!(serde_json::from_str::<Cents>("\"12.34\"").is_err());
    }
}
