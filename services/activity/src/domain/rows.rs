//! Validation of imported act rows.
//!
//! A row is parsed into a [`ValidAct`] or reported with every broken field.
//! The NIR is checked, turned into a keyed pseudonym and dropped here: it
//! never reaches storage, logs or error messages.

use chrono::NaiveDate;
use filieris_kernel::actcode::{ActCode, Nomenclature};
use filieris_kernel::pseudonym::{IdentityBasis, PseudonymKey, pseudonymise_nir, pseudonymise_partner};
use filieris_kernel::{Finess, Nir, date::parse_date};
use filieris_proto::activity as pb;
use uuid::Uuid;

use super::codes::{line_code, mode_code, scheme_code};

pub use filieris_runtime::registry_cache::{CachedStructure, StructureIndex};

/// An act ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidAct {
    /// Row number in the batch.
    pub row: i64,
    /// Date of the act.
    pub act_date: NaiveDate,
    /// Registry id of the structure.
    pub structure_id: Uuid,
    /// Region code.
    pub region: i16,
    /// Line code.
    pub line: i16,
    /// 1 NGAP, 2 CCAM.
    pub nomenclature: i16,
    /// Normalised code.
    pub code: String,
    /// Mode code.
    pub mode: i16,
    /// Scheme code.
    pub scheme: i16,
    /// Keyed pseudonym of the patient.
    pub patient: [u8; 32],
    /// 1 own NIR, 2 insured NIR with birth, 3 partner pseudonym.
    pub identity_basis: i16,
    /// Billed amount in cents.
    pub amount_cents: i64,
    /// Source reference.
    pub source_ref: String,
}

/// One broken field of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// Field name.
    pub field: &'static str,
    /// Why.
    pub reason: String,
}

/// Longest source reference kept.
pub const MAX_SOURCE_REF: usize = 128;

fn basis_code(b: IdentityBasis) -> i16 {
    match b {
        IdentityBasis::OwnNir => 1,
        IdentityBasis::InsuredNirWithBirth => 2,
        IdentityBasis::PartnerPseudonym => 3,
    }
}

/// Validates one row; every broken field is reported.
pub fn validate_row(row: i64, input: &pb::ActInput, structures: &StructureIndex, key: &PseudonymKey) -> Result<ValidAct, Vec<RowProblem>> {
    let mut problems = Vec::new();
    let mut bad = |field: &'static str, reason: String| problems.push(RowProblem { field, reason });

    let act_date = match parse_date(&input.act_date) {
        Ok(d) => Some(d),
        Err(e) => {
            bad("act_date", e.to_string());
            None
        }
    };
    let structure = match Finess::parse(&input.finess) {
        Err(e) => {
            bad("finess", e.to_string());
            None
        }
        Ok(f) => match structures.get(f.as_str()) {
            None => {
                bad("finess", format!("FINESS {} is not a structure of the registry", f.as_str()));
                None
            }
            Some(s) => Some(s),
        },
    };
    if let (Some(s), Some(d)) = (structure, act_date)
        && !s.open_on(d)
    {
        let why = match s.close_date {
            Some(c) if d >= c => format!("the structure closed on {c}, before the act date {d}"),
            _ => format!("the structure opened on {}, after the act date {d}", s.open_date),
        };
        bad("finess", why);
    }
    let line = pb::ActivityLine::try_from(input.line).ok().and_then(line_code);
    if line.is_none() {
        bad("line", "is required: GENERAL_MEDICINE, NURSING, DENTAL or SPECIALIST".into());
    }
    let nomenclature = match pb::Nomenclature::try_from(input.nomenclature) {
        Ok(pb::Nomenclature::Ngap) => Some(Nomenclature::Ngap),
        Ok(pb::Nomenclature::Ccam) => Some(Nomenclature::Ccam),
        _ => {
            bad("nomenclature", "is required: NGAP or CCAM".into());
            None
        }
    };
    let code = nomenclature.and_then(|n| match ActCode::parse(n, &input.code) {
        Ok(c) => Some(c.to_string()),
        Err(e) => {
            bad("code", e.to_string());
            None
        }
    });
    let mode = match pb::ActMode::try_from(input.mode) {
        Ok(m) => Some(mode_code(m)),
        Err(_) => {
            bad("mode", "unknown value".into());
            None
        }
    };
    let scheme = pb::Scheme::try_from(input.scheme).ok().and_then(scheme_code);
    if scheme.is_none() {
        bad("scheme", "is required: MINING, OTHER or UNKNOWN".into());
    }
    let patient = match input.patient.as_ref().and_then(|p| p.identity.as_ref()) {
        None => {
            bad("patient", "is required: a NIR or a partner pseudonym".into());
            None
        }
        Some(pb::patient_ref::Identity::Nir(text)) => match Nir::parse(text) {
            // The error never repeats the NIR.
            Err(e) => {
                bad("patient.nir", e.to_string());
                None
            }
            Ok(nir) => Some((pseudonymise_nir(key, &nir), IdentityBasis::OwnNir)),
        },
        Some(pb::patient_ref::Identity::Partner(p)) => match pseudonymise_partner(key, &p.partner, &p.id) {
            Err(e) => {
                bad("patient.partner", e.to_string());
                None
            }
            Ok(ps) => Some((ps, IdentityBasis::PartnerPseudonym)),
        },
    };
    if input.amount_cents < 0 {
        bad("amount_cents", "must not be negative".into());
    }
    if input.source_ref.len() > MAX_SOURCE_REF {
        bad("source_ref", format!("is longer than {MAX_SOURCE_REF} bytes"));
    }

    match (act_date, structure, line, nomenclature, code, mode, scheme, patient) {
        (Some(act_date), Some(s), Some(line), Some(n), Some(code), Some(mode), Some(scheme), Some((patient, basis)))
            if problems.is_empty() =>
        {
            Ok(ValidAct {
                row,
                act_date,
                structure_id: s.id,
                region: s.region,
                line,
                nomenclature: match n {
                    Nomenclature::Ngap => 1,
                    Nomenclature::Ccam => 2,
                },
                code,
                mode,
                scheme,
                patient: *patient.as_bytes(),
                identity_basis: basis_code(basis),
                amount_cents: input.amount_cents,
                source_ref: input.source_ref.clone(),
            })
        }
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PseudonymKey {
        PseudonymKey::from_hex(&"42".repeat(32)).expect("key")
    }

    fn index() -> (StructureIndex, String) {
        let finess = Finess::from_prefix("59000001").expect("finess").as_str().to_owned();
        let mut m = StructureIndex::new();
        m.insert(
            finess.clone(),
            CachedStructure {
                id: Uuid::nil(),
                region: 1,
                open_date: NaiveDate::from_ymd_opt(2005, 7, 1).expect("date"),
                close_date: NaiveDate::from_ymd_opt(2020, 1, 1),
            },
        );
        (m, finess)
    }

    fn row(finess: &str) -> pb::ActInput {
        pb::ActInput {
            act_date: "2018-03-15".into(),
            finess: finess.into(),
            line: pb::ActivityLine::GeneralMedicine as i32,
            nomenclature: pb::Nomenclature::Ngap as i32,
            code: "C".into(),
            mode: 0,
            patient: Some(pb::PatientRef { identity: Some(pb::patient_ref::Identity::Nir("189127512501282".into())) }),
            scheme: pb::Scheme::Other as i32,
            amount_cents: 2500,
            source_ref: String::new(),
        }
    }

    #[test]
    fn a_valid_row_is_pseudonymised() {
        let (idx, f) = index();
        let ok = validate_row(1, &row(&f), &idx, &key()).expect("valid");
        assert_eq!(ok.scheme, 2);
        assert_eq!(ok.identity_basis, 1);
        assert_ne!(ok.patient, [0u8; 32]);
    }

    #[test]
    fn broken_rows_name_their_fields() {
        let (idx, f) = index();
        type Case = (&'static str, fn(&mut pb::ActInput), &'static str);
        let cases: &[Case] = &[
            (
                "wrong NIR key",
                |r| r.patient = Some(pb::PatientRef { identity: Some(pb::patient_ref::Identity::Nir("189127512501283".into())) }),
                "patient.nir",
            ),
            ("unknown FINESS", |r| r.finess = "750712184".into(), "finess"),
            ("closed structure", |r| r.act_date = "2021-01-01".into(), "finess"),
            (
                "malformed CCAM",
                |r| {
                    r.nomenclature = pb::Nomenclature::Ccam as i32;
                    r.code = "HB38".into();
                },
                "code",
            ),
            ("no scheme", |r| r.scheme = 0, "scheme"),
            ("bad date", |r| r.act_date = "2018-02-30".into(), "act_date"),
            ("negative amount", |r| r.amount_cents = -1, "amount_cents"),
        ];
        for (label, mutate, field) in cases {
            let mut r = row(&f);
            mutate(&mut r);
            let problems = validate_row(7, &r, &idx, &key()).expect_err(label);
            assert!(problems.iter().any(|p| p.field == *field), "{label}: {problems:?}");
            assert!(problems.iter().all(|p| !p.reason.contains("189127512501")), "{label}: a NIR leaked into {problems:?}");
        }
    }
}
