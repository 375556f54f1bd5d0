//! Property tests of the boundary parsers (issue #10, "bad input"): on any
//! input they return a value or an error, never panic; a valid value survives
//! format → parse unchanged; a valid check digit is accepted and changing any
//! one digit is rejected.
//!
//! Valid values are built with the crate's own constructors (`from_prefix`,
//! `from_body`, `from_parts`), which compute the keys; the unit tests of each
//! module pin those constructors to published examples.

// Generated fixtures are valid by construction; unwrapping states that.
#![allow(clippy::unwrap_used)]

use filieris_kernel::csv::{parse_csv_records, split_csv_line};
use filieris_kernel::{ActCode, CcamCode, Cents, Finess, Finess8, Nir, Nomenclature, Period, Rpps, Siren, Siret, luhn, parse_date};
use proptest::prelude::*;

/// Arbitrary text that looks like what partners send: digits, the letters and
/// separators the parsers care about, spaces, and any other character.
fn messy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9A-Za-z .,/\\-]{0,20}",
        "[0-9]{0,16}",
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![Just('2'), Just('A'), Just('B'), Just('W'), Just('S'), Just('Q'), Just('"'), any::<char>()],
            0..20
        )
        .prop_map(|cs| cs.into_iter().collect()),
    ]
}

/// Every copy of `digits` with exactly one ASCII digit replaced by another.
fn one_digit_changes(digits: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, b) in digits.bytes().enumerate() {
        if !b.is_ascii_digit() {
            continue;
        }
        for d in b'0'..=b'9' {
            if d != b {
                let mut bytes = digits.as_bytes().to_vec();
                bytes[i] = d;
                out.push(String::from_utf8(bytes).unwrap());
            }
        }
    }
    out
}

/// FINESS department codes (rule F2).
fn department() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u8..=19).prop_map(|d| format!("{d:02}")),
        (21u8..=95).prop_map(|d| format!("{d:02}")),
        Just("2A".to_owned()),
        Just("2B".to_owned()),
        Just("97".to_owned()),
        Just("98".to_owned()),
    ]
}

fn finess() -> impl Strategy<Value = Finess> {
    (department(), "[0-9]{6}").prop_map(|(dept, rest)| Finess::from_prefix(&format!("{dept}{rest}")).unwrap())
}

fn siret() -> impl Strategy<Value = Siret> {
    ("[0-9]{8}", "[0-9]{4}")
        // La Poste SIRETs follow a digit-sum rule (T2) that does not catch every
        // one-digit change; they have their own unit tests.
        .prop_filter("not La Poste", |(prefix, _)| prefix != "35600000")
        .prop_map(|(prefix, seq)| Siret::from_parts(&Siren::from_prefix(&prefix).unwrap(), &seq).unwrap())
}

fn nir_body() -> impl Strategy<Value = String> {
    let dept = prop_oneof![Just("2A".to_owned()), Just("2B".to_owned()), "[0-9]{2}"];
    ("[1-2]", "[0-9]{2}", "(0[1-9]|1[0-2])", dept, "[0-9]{6}").prop_map(|(s, y, m, d, rest)| format!("{s}{y}{m}{d}{rest}"))
}

fn ngap_key() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[A-Z]{1,6}", 1 => prop::sample::select(filieris_kernel::actcode::NGAP_DIGIT_KEYS).prop_map(str::to_owned)]
}

fn period_text() -> impl Strategy<Value = String> {
    let year = 0i32..=9999;
    prop_oneof![
        year.clone().prop_map(|y| format!("{y:04}")),
        (year.clone(), 1u32..=2).prop_map(|(y, s)| format!("{y:04}S{s}")),
        (year.clone(), 1u32..=4).prop_map(|(y, q)| format!("{y:04}Q{q}")),
        (year.clone(), 1u32..=12).prop_map(|(y, m)| format!("{y:04}{m:02}")),
        // Week 53 exists in some years only: filtered below by parsing.
        (year.clone(), 1u32..=52).prop_map(|(y, w)| format!("{y:04}W{w:02}")),
        (year, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| format!("{y:04}{m:02}{d:02}")),
    ]
}

/// A CSV field as a writer must encode it: always quoted, inner quotes doubled.
fn csv_quote(field: &str) -> String {
    format!("\"{}\"", field.replace('"', "\"\""))
}

/// Fields without line breaks (a record is one line).
fn csv_field() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9 ,\"]{0,12}", any::<String>().prop_map(|s| s.replace(['\n', '\r'], ""))]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    // --- never panic -------------------------------------------------------

    #[test]
    fn parsers_never_panic(input in messy()) {
        let _ = Finess::parse_with_warnings(&input);
        let _ = Finess8::parse(&input);
        let _ = Siren::parse(&input);
        let _ = Siret::parse(&input);
        let _ = Rpps::parse(&input);
        let _ = Rpps::parse_lenient(&input);
        let _ = Nir::parse_with_warnings(&input);
        let _ = Nir::from_body(&input);
        let _ = ActCode::parse(Nomenclature::Ngap, &input);
        let _ = ActCode::parse(Nomenclature::Ccam, &input);
        let _ = input.parse::<Nomenclature>();
        let _ = Period::parse(&input);
        let _ = parse_date(&input);
        let _ = Cents::from_euros_str(&input);
        let _ = luhn::is_valid(&input);
        let _ = luhn::check_digit(&input);
        let _ = split_csv_line(&input);
        let _ = parse_csv_records(&input);
    }

    #[test]
    fn multi_line_csv_never_panics(lines in proptest::collection::vec(messy(), 0..8)) {
        let _ = parse_csv_records(&lines.join("\n"));
        let _ = parse_csv_records(&format!("\u{feff}{}", lines.join("\r\n")));
    }

    // --- round trips and normalisation --------------------------------------

    #[test]
    fn finess_round_trips_and_keeps_its_prefix(f in finess()) {
        prop_assert_eq!(&Finess::parse(f.as_str()).unwrap(), &f);
        prop_assert_eq!(&f.finess8().to_finess(), &f);
        prop_assert_eq!(&Finess8::parse(f.finess8().as_str()).unwrap().to_finess(), &f);
        // As partners write it: lower case, spaces and dashes.
        let messy = format!(" {}-{} {} ", &f.as_str()[..3], &f.as_str()[3..6], &f.as_str()[6..]).to_lowercase();
        prop_assert_eq!(&Finess::parse(&messy).unwrap(), &f);
    }

    #[test]
    fn siret_round_trips_and_names_its_siren(s in siret()) {
        prop_assert_eq!(&Siret::parse(s.as_str()).unwrap(), &s);
        prop_assert_eq!(&Siren::parse(s.siren().as_str()).unwrap(), &s.siren());
        prop_assert!(s.check_siren(&s.siren()).is_ok());
    }

    #[test]
    fn rpps_round_trips_with_and_without_the_id_nat_ps_prefix(prefix in "[0-9]{10}") {
        let r = Rpps::from_prefix(&prefix).unwrap();
        prop_assert_eq!(&Rpps::parse(r.as_str()).unwrap(), &r);
        prop_assert_eq!(&Rpps::parse(&r.id_nat_ps()).unwrap(), &r);
    }

    #[test]
    fn nir_round_trips(body in nir_body()) {
        let n = Nir::from_body(&body).unwrap();
        prop_assert_eq!(&Nir::parse(n.as_str()).unwrap(), &n);
        prop_assert_eq!(&Nir::parse(&n.as_str().to_lowercase()).unwrap(), &n);
    }

    #[test]
    fn ngap_normal_form_round_trips(key in ngap_key(), hundredths in 1u32..=999_999) {
        // Build through the parser: the normal form of key + coefficient.
        let text = format!("{key} {}.{:02}", hundredths / 100, hundredths % 100);
        let code = ActCode::parse(Nomenclature::Ngap, &text).unwrap();
        let ngap = code.as_ngap().unwrap();
        prop_assert_eq!(ngap.key(), key.as_str());
        prop_assert_eq!(ngap.coefficient_hundredths(), hundredths);
        // Display is the normal form and parses back to the same code.
        prop_assert_eq!(&ActCode::parse(Nomenclature::Ngap, &code.to_string()).unwrap(), &code);
    }

    #[test]
    fn accepted_act_codes_are_stable_under_their_normal_form(input in messy(), ccam in any::<bool>()) {
        let nomenclature = if ccam { Nomenclature::Ccam } else { Nomenclature::Ngap };
        if let Ok(code) = ActCode::parse(nomenclature, &input) {
            prop_assert_eq!(&ActCode::parse(nomenclature, &code.to_string()).unwrap(), &code);
        }
    }

    #[test]
    fn ccam_round_trips(code in "[A-Z]{4}[0-9]{3}", activity in 1u8..=5, phase in 0u8..=3) {
        let c = CcamCode::from_parts(&code, activity, phase).unwrap();
        let parsed = ActCode::parse(Nomenclature::Ccam, &ActCode::Ccam(c.clone()).to_string()).unwrap();
        prop_assert_eq!(parsed.as_ccam().unwrap(), &c);
        let long = format!("{}/{activity}/{phase}", code.to_lowercase());
        let long = ActCode::parse(Nomenclature::Ccam, &long).unwrap();
        prop_assert_eq!(long.as_ccam().unwrap(), &c);
    }

    #[test]
    fn periods_round_trip_and_cover_their_dates(text in period_text()) {
        let p = Period::parse(&text).unwrap();
        prop_assert_eq!(p.to_string(), text);
        prop_assert!(p.start() <= p.end());
        prop_assert!(p.contains(p.start()) && p.contains(p.end()));
    }

    #[test]
    fn accepted_periods_are_their_own_normal_form(input in "[0-9]{4}([SQW]?[0-9]{1,2}|[0-9]{4})?") {
        if let Ok(p) = Period::parse(&input) {
            prop_assert_eq!(p.to_string(), input);
        }
    }

    #[test]
    fn csv_lines_round_trip(fields in proptest::collection::vec(csv_field(), 1..8)) {
        let line = fields.iter().map(|f| csv_quote(f)).collect::<Vec<_>>().join(",");
        prop_assert_eq!(split_csv_line(&line).unwrap(), fields);
    }

    #[test]
    fn csv_records_round_trip(width in 1usize..6, rows in proptest::collection::vec(proptest::collection::vec(csv_field(), 6), 0..6)) {
        let header: Vec<String> = (0..width).map(|i| format!("col{i}")).collect();
        let mut text = header.join(",");
        for row in &rows {
            text.push('\n');
            text.push_str(&row[..width].iter().map(|f| csv_quote(f)).collect::<Vec<_>>().join(","));
        }
        let records = parse_csv_records(&text).unwrap();
        prop_assert_eq!(records.len(), rows.len());
        for (record, row) in records.iter().zip(&rows) {
            for (name, value) in header.iter().zip(row) {
                prop_assert_eq!(&record[name], value);
            }
        }
    }

    // --- check digits: accepted when right, one changed digit rejected ------

    #[test]
    fn finess_rejects_every_one_digit_change(f in finess()) {
        for changed in one_digit_changes(f.as_str()) {
            prop_assert!(Finess::parse(&changed).is_err(), "{} accepted (from {})", changed, f);
        }
    }

    #[test]
    fn siren_and_siret_reject_every_one_digit_change(s in siret()) {
        for changed in one_digit_changes(s.siren().as_str()) {
            prop_assert!(Siren::parse(&changed).is_err(), "SIREN {} accepted", changed);
        }
        for changed in one_digit_changes(s.as_str()) {
            prop_assert!(Siret::parse(&changed).is_err(), "SIRET {} accepted (from {})", changed, s);
        }
    }

    #[test]
    fn rpps_rejects_every_one_digit_change(prefix in "[0-9]{10}") {
        let r = Rpps::from_prefix(&prefix).unwrap();
        for changed in one_digit_changes(r.as_str()) {
            prop_assert!(Rpps::parse(&changed).is_err(), "{} accepted (from {})", changed, r);
            // The lenient form keeps the number but flags the key.
            prop_assert!(!Rpps::parse_lenient(&changed).unwrap().1.is_empty());
        }
    }

    #[test]
    fn nir_rejects_every_one_digit_change(body in nir_body()) {
        let n = Nir::from_body(&body).unwrap();
        for changed in one_digit_changes(n.as_str()) {
            prop_assert!(Nir::parse(&changed).is_err(), "a one-digit change of a valid NIR was accepted");
        }
    }

    #[test]
    fn luhn_check_digit_is_the_only_accepted_key(body in "[0-9]{1,20}") {
        let key = luhn::check_digit(&body).unwrap();
        for k in 0..=9u8 {
            prop_assert_eq!(luhn::is_valid(&format!("{body}{k}")), k == key);
        }
    }
}
