//! Compact column codes of the enums (smallint in the tables).

use filieris_proto::activity as pb;
use filieris_proto::types::Region;

/// Line code stored in `act.line`.
pub fn line_code(line: pb::ActivityLine) -> Option<i16> {
    match line {
        pb::ActivityLine::Unspecified => None,
        pb::ActivityLine::GeneralMedicine => Some(1),
        pb::ActivityLine::Nursing => Some(2),
        pb::ActivityLine::Dental => Some(3),
        pb::ActivityLine::Specialist => Some(4),
    }
}

/// Scheme code stored in `act.scheme`.
pub const MINING: i16 = 1;
/// Other scheme.
pub const OTHER: i16 = 2;
/// Unknown scheme.
pub const UNKNOWN: i16 = 3;

/// Scheme code of the wire value.
pub fn scheme_code(scheme: pb::Scheme) -> Option<i16> {
    match scheme {
        pb::Scheme::Unspecified => None,
        pb::Scheme::Mining => Some(MINING),
        pb::Scheme::Other => Some(OTHER),
        pb::Scheme::Unknown => Some(UNKNOWN),
    }
}

/// Mode code; unspecified is in person.
pub fn mode_code(mode: pb::ActMode) -> i16 {
    match mode {
        pb::ActMode::Unspecified | pb::ActMode::InPerson => 1,
        pb::ActMode::Teleconsultation => 2,
        pb::ActMode::TeleexpertiseRequest => 3,
        pb::ActMode::TeleexpertiseOpinion => 4,
        pb::ActMode::Telesoin => 5,
        pb::ActMode::Telesurveillance => 6,
    }
}

/// Line of a stored code.
pub fn line_from_code(code: i16) -> pb::ActivityLine {
    match code {
        1 => pb::ActivityLine::GeneralMedicine,
        2 => pb::ActivityLine::Nursing,
        3 => pb::ActivityLine::Dental,
        4 => pb::ActivityLine::Specialist,
        _ => pb::ActivityLine::Unspecified,
    }
}

/// Scheme of a stored code.
pub fn scheme_from_code(code: i16) -> pb::Scheme {
    match code {
        MINING => pb::Scheme::Mining,
        OTHER => pb::Scheme::Other,
        UNKNOWN => pb::Scheme::Unknown,
        _ => pb::Scheme::Unspecified,
    }
}

/// Mode of a stored code.
pub fn mode_from_code(code: i16) -> pb::ActMode {
    match code {
        1 => pb::ActMode::InPerson,
        2 => pb::ActMode::Teleconsultation,
        3 => pb::ActMode::TeleexpertiseRequest,
        4 => pb::ActMode::TeleexpertiseOpinion,
        5 => pb::ActMode::Telesoin,
        6 => pb::ActMode::Telesurveillance,
        _ => pb::ActMode::Unspecified,
    }
}

/// Region code stored in the tables (the proto number).
pub fn region_code(region: Region) -> i16 {
    region as i16
}

pub use filieris_runtime::scope::region_from_name;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(line_code(pb::ActivityLine::GeneralMedicine), Some(1));
        assert_eq!(line_code(pb::ActivityLine::Unspecified), None);
        assert_eq!(scheme_code(pb::Scheme::Other), Some(OTHER));
        assert_eq!(mode_code(pb::ActMode::Unspecified), 1);
        assert_eq!(region_from_name("sud"), Some(Region::Sud));
        assert_eq!(region_from_name("ouest"), None);
        for l in [pb::ActivityLine::GeneralMedicine, pb::ActivityLine::Nursing, pb::ActivityLine::Dental, pb::ActivityLine::Specialist] {
            assert_eq!(line_code(l).map(line_from_code), Some(l));
        }
        for m in 1..=6 {
            assert_eq!(mode_code(mode_from_code(m)), m);
        }
        assert_eq!(scheme_from_code(OTHER), pb::Scheme::Other);
    }
}
