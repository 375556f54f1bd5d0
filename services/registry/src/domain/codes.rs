//! Short codes of the protobuf enums, as stored in columns and accepted in
//! filters: `CATEGORY_HEALTH_CENTRE` ↔ `HEALTH_CENTRE`.

use filieris_proto::registry as pb;
use filieris_proto::types::Region;

/// An enum the registry stores by short code.
pub trait Coded: Sized + Copy {
    /// The proto enum-value prefix, e.g. `CATEGORY_`.
    const PREFIX: &'static str;
    /// Proto name of the value.
    fn proto_name(self) -> &'static str;
    /// From a proto name.
    fn from_proto_name(name: &str) -> Option<Self>;
    /// From the wire value.
    fn from_wire(v: i32) -> Option<Self>;

    /// Short code, e.g. `HEALTH_CENTRE`; empty for the unspecified value.
    fn code(self) -> &'static str {
        let name = self.proto_name();
        let short = name.strip_prefix(Self::PREFIX).unwrap_or(name);
        if short == "UNSPECIFIED" { "" } else { short }
    }

    /// From a short code or a proto name, case-insensitive.
    fn parse_code(text: &str) -> Option<Self> {
        let upper = text.trim().to_ascii_uppercase();
        if upper.is_empty() || upper == "UNSPECIFIED" {
            return None;
        }
        Self::from_proto_name(&upper).or_else(|| Self::from_proto_name(&format!("{}{upper}", Self::PREFIX)))
    }

    /// Short code of a wire value (empty for unknown or unspecified).
    fn code_of(v: i32) -> &'static str {
        Self::from_wire(v).map(Self::code).unwrap_or("")
    }
}

macro_rules! coded {
    ($t:ty, $prefix:literal) => {
        impl Coded for $t {
            const PREFIX: &'static str = $prefix;
            fn proto_name(self) -> &'static str {
                self.as_str_name()
            }
            fn from_proto_name(name: &str) -> Option<Self> {
                <$t>::from_str_name(name)
            }
            fn from_wire(v: i32) -> Option<Self> {
                <$t>::try_from(v).ok()
            }
        }
    };
}

coded!(pb::Category, "CATEGORY_");
coded!(pb::Subtype, "SUBTYPE_");
coded!(pb::StructureLevel, "STRUCTURE_LEVEL_");
coded!(pb::StructureStatus, "STRUCTURE_STATUS_");
coded!(pb::ClosureType, "CLOSURE_TYPE_");
coded!(pb::GroupMode, "GROUP_MODE_");
coded!(Region, "REGION_");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_codes_round_trip() {
        assert_eq!(pb::Category::HealthCentre.code(), "HEALTH_CENTRE");
        assert_eq!(pb::Category::parse_code("health_centre"), Some(pb::Category::HealthCentre));
        assert_eq!(pb::Category::parse_code("CATEGORY_EHPAD"), Some(pb::Category::Ehpad));
        assert_eq!(pb::Category::parse_code("unspecified"), None);
        assert_eq!(Region::parse_code("nord"), Some(Region::Nord));
        assert_eq!(pb::Category::code_of(0), "");
        assert_eq!(pb::Category::code_of(999), "");
    }
}
