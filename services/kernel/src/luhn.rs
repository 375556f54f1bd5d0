//! Luhn check (registry.md §2.1), shared by FINESS, SIREN, SIRET and RPPS.
//!
//! Works on ASCII digit strings; callers substitute letters (Corsican "2A"/"2B")
//! before calling.

/// Sum of the Luhn-weighted digits, doubling every second digit counting
/// from the right starting with `double_first` for the rightmost one.
/// `None` when a byte is not an ASCII digit.
fn weighted_sum(digits: &[u8], double_first: bool) -> Option<u32> {
    let mut sum = 0u32;
    for (i, b) in digits.iter().rev().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        let d = u32::from(b - b'0');
        let doubled = (i % 2 == 0) == double_first;
        sum += if doubled {
            let v = d * 2;
            if v > 9 { v - 9 } else { v }
        } else {
            d
        };
    }
    Some(sum)
}

/// True when `digits` (key included, rightmost) is a non-empty string of
/// ASCII digits that passes the Luhn check.
pub fn is_valid(digits: &str) -> bool {
    !digits.is_empty() && weighted_sum(digits.as_bytes(), false).is_some_and(|s| s % 10 == 0)
}

/// The Luhn key (0–9) to append to `body` so that the whole passes.
/// `None` when `body` is empty or holds a non-digit.
pub fn check_digit(body: &str) -> Option<u8> {
    if body.is_empty() {
        return None;
    }
    // Once the key is appended, the rightmost body digit sits in a doubled position.
    let sum = weighted_sum(body.as_bytes(), true)?;
    // sum % 10 < 10, so the cast cannot truncate.
    Some(((10 - sum % 10) % 10) as u8)
}

/// Sum of the digits, unweighted (La Poste SIRET rule T2). `None` on a non-digit.
pub(crate) fn digit_sum(digits: &str) -> Option<u32> {
    digits.bytes().try_fold(0u32, |acc, b| b.is_ascii_digit().then(|| acc + u32::from(b - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_known_numbers() {
        assert!(is_valid("750712184"));
        assert!(!is_valid("750712185"));
        assert!(is_valid("73282932000074"));
        assert!(is_valid("0"));
        assert!(!is_valid(""));
        assert!(!is_valid("75071218A"));
    }

    #[test]
    fn computes_keys_that_validate() {
        assert_eq!(check_digit("75071218"), Some(4));
        assert_eq!(check_digit("13078604"), Some(9));
        assert_eq!(check_digit("1000290937"), Some(1));
        assert_eq!(check_digit(""), None);
        assert_eq!(check_digit("12a"), None);
        for body in ["1", "12", "99999999", "21000001", "1234567890123"] {
            let key = check_digit(body).unwrap();
            assert!(is_valid(&format!("{body}{key}")), "{body}{key}");
        }
    }

    #[test]
    fn sums_digits() {
        assert_eq!(digit_sum("35600000049837"), Some(45));
        assert_eq!(digit_sum("12x"), None);
    }
}
