//! Scopes of metrics and results, the same in every service: the nation, a
//! regional directorate, a structure (FINESS) or a registry structure group.

use filieris_kernel::Finess;
use filieris_proto::types::Region;

/// A regional directorate by its short name (`NORD`, `est`…).
pub fn region_from_name(name: &str) -> Option<Region> {
    Region::from_str_name(&format!("REGION_{}", name.trim().to_ascii_uppercase())).filter(|r| *r != Region::Unspecified)
}

/// Where a metric is computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every structure.
    National,
    /// One regional directorate.
    Region(Region),
    /// One structure by FINESS.
    Structure(Finess),
    /// A registry structure group, resolved over the period.
    Group(String),
}

impl Scope {
    /// Parses `""`/`national`, `regions/NORD`, `structures/{finess}`, `structureGroups/{code}`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.is_empty() || t.eq_ignore_ascii_case("national") {
            return Ok(Self::National);
        }
        if let Some(r) = t.strip_prefix("regions/") {
            return region_from_name(r).map(Self::Region).ok_or_else(|| format!("{r:?} is not a region: NORD, EST or SUD"));
        }
        if let Some(f) = t.strip_prefix("structures/") {
            return Finess::parse(f).map(Self::Structure).map_err(|e| e.to_string());
        }
        if let Some(code) = t.strip_prefix("structureGroups/") {
            if !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
                return Ok(Self::Group(code.to_owned()));
            }
            return Err(format!("{code:?} is not a structure group code"));
        }
        Err("scope must be national, regions/{NORD|EST|SUD}, structures/{finess} or structureGroups/{code}".into())
    }

    /// Canonical text.
    pub fn name(&self) -> String {
        match self {
            Self::National => "national".into(),
            Self::Region(r) => format!("regions/{}", r.as_str_name().trim_start_matches("REGION_")),
            Self::Structure(f) => format!("structures/{}", f.as_str()),
            Self::Group(c) => format!("structureGroups/{c}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_print() {
        assert_eq!(Scope::parse("").unwrap(), Scope::National);
        assert_eq!(Scope::parse("regions/nord").unwrap(), Scope::Region(Region::Nord));
        assert_eq!(Scope::parse("regions/NORD").unwrap().name(), "regions/NORD");
        assert!(matches!(Scope::parse("structures/750712184").unwrap(), Scope::Structure(_)));
        assert_eq!(Scope::parse("structureGroups/centres-de-sante").unwrap(), Scope::Group("centres-de-sante".into()));
        assert!(Scope::parse("structures/750712185").is_err());
        assert!(Scope::parse("regions/OUEST").is_err());
        assert!(Scope::parse("planet/earth").is_err());
    }
}
