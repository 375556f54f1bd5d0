//! NGAP and CCAM act codes on arbitrary text: no panic, and an accepted code's
//! normal form (Display) parses back to the same code.
#![no_main]

use filieris_kernel::{ActCode, Nomenclature};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for nomenclature in [Nomenclature::Ngap, Nomenclature::Ccam] {
        if let Ok(code) = ActCode::parse(nomenclature, text) {
            let normal = code.to_string();
            assert_eq!(ActCode::parse(nomenclature, &normal).as_ref(), Ok(&code), "{normal:?}");
        }
    }
    let _ = text.parse::<Nomenclature>();
});
