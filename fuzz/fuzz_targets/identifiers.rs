//! FINESS, SIREN, SIRET, RPPS and NIR parsers on arbitrary text: no panic, and
//! whatever is accepted is already in normal form (parsing it again gives the
//! same value) and passes its own key check.
#![no_main]

use filieris_kernel::{Finess, Finess8, Nir, Rpps, Siren, Siret, luhn};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(f) = Finess::parse(text) {
        assert_eq!(Finess::parse(f.as_str()).as_ref(), Ok(&f));
        assert_eq!(f.finess8().to_finess(), f);
    }
    if let Ok(f8) = Finess8::parse(text) {
        assert_eq!(Finess::parse(f8.to_finess().as_str()).as_ref(), Ok(&f8.to_finess()));
    }
    if let Ok(s) = Siren::parse(text) {
        assert!(luhn::is_valid(s.as_str()));
    }
    if let Ok(s) = Siret::parse(text) {
        assert_eq!(Siret::parse(s.as_str()).as_ref(), Ok(&s));
        assert_eq!(Siren::parse(s.siren().as_str()).as_ref(), Ok(&s.siren()));
    }
    if let Ok(r) = Rpps::parse(text) {
        assert!(luhn::is_valid(r.as_str()));
        assert_eq!(Rpps::parse(&r.id_nat_ps()).as_ref(), Ok(&r));
    }
    let _ = Rpps::parse_lenient(text);
    if let Ok(n) = Nir::parse(text) {
        assert!(Nir::parse(n.as_str()).is_ok_and(|again| again == n));
    }
    let _ = Nir::from_body(text);
    let _ = luhn::check_digit(text);
});
