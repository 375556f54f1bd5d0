//! Normalisation applied before every identifier check (registry.md §2.1):
//! partners paste numbers as printed ("75 071 218-4", "1.89.12..."), so
//! separators are dropped and letters upper-cased before any rule runs.

/// Removes whitespace (including no-break spaces), dots and hyphens, and
/// upper-cases letters.
pub(crate) fn clean(input: &str) -> String {
    input.chars().filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-' | '\u{2010}' | '\u{2011}')).flat_map(char::to_uppercase).collect()
}

/// True when every byte is an ASCII digit (and the slice is non-empty).
pub(crate) fn all_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_separators_and_uppercases() {
        assert_eq!(clean(" 75 071 218-4 "), "750712184");
        assert_eq!(clean("2a.000.001-4"), "2A0000014");
        assert_eq!(clean("75\u{a0}071\t218\n4"), "750712184");
        assert_eq!(clean(""), "");
    }
}
