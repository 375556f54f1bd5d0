//! Period codes, dates and euro amounts on arbitrary text: no panic; an
//! accepted period is its own normal form and covers a non-empty date range.
#![no_main]

use filieris_kernel::{Cents, Period, parse_date};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(p) = Period::parse(text) {
        assert_eq!(p.to_string(), text);
        assert!(p.start() <= p.end());
    }
    let _ = parse_date(text);
    let _ = Cents::from_euros_str(text);
});
