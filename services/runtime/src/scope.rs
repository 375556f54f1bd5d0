//! Scopes of metrics and results, the same in every service: the nation, a
//! regional directorate, a structure (FINESS) or a registry structure group;
//! and the [`Visibility`] of a caller, the rows its identity's scopes let it
//! read (row-level scoping is applied by each service on its own queries).

use filieris_kernel::Finess;
use filieris_proto::types::Region;

use crate::error::{ApiError, ErrorCode};
use crate::identity::Identity;

/// `ErrorInfo.reason` of a scope outside the caller's visibility.
pub const SCOPE_NOT_VISIBLE: &str = "SCOPE_NOT_VISIBLE";

/// The rows a caller may read, from its identity's scopes: `*` is
/// everything; otherwise the union of its `region:<R>` and
/// `structure:<FINESS>` scopes (a structure's antennas included). Other
/// scopes (`partner:CDC`) do not widen it, and a caller with none of these
/// sees nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Every row.
    All,
    /// Rows of these regions and structures.
    Limited {
        /// Regional directorates.
        regions: Vec<Region>,
        /// Structures by FINESS.
        structures: Vec<Finess>,
    },
}

impl Visibility {
    /// The visibility of an identity.
    pub fn of(identity: &Identity) -> Self {
        if identity.scopes.iter().any(|s| s == "*") {
            return Self::All;
        }
        let mut regions = Vec::new();
        let mut structures = Vec::new();
        for scope in &identity.scopes {
            if let Some(r) = scope.strip_prefix("region:").and_then(region_from_name) {
                if !regions.contains(&r) {
                    regions.push(r);
                }
            } else if let Some(f) = scope.strip_prefix("structure:").and_then(|f| Finess::parse(f).ok())
                && !structures.contains(&f)
            {
                structures.push(f);
            }
        }
        Self::Limited { regions, structures }
    }

    /// True for [`Visibility::All`].
    pub fn is_all(&self) -> bool {
        matches!(self, Self::All)
    }

    /// Regions seen whole (empty for `All`: check [`Visibility::is_all`] first).
    pub fn regions(&self) -> &[Region] {
        match self {
            Self::All => &[],
            Self::Limited { regions, .. } => regions,
        }
    }

    /// Structures seen (empty for `All`).
    pub fn structures(&self) -> &[Finess] {
        match self {
            Self::All => &[],
            Self::Limited { structures, .. } => structures,
        }
    }

    /// FINESS numbers seen, as text.
    pub fn finess(&self) -> Vec<String> {
        self.structures().iter().map(|f| f.as_str().to_owned()).collect()
    }

    /// The one region a caller sees when that is all it sees.
    pub fn single_region(&self) -> Option<Region> {
        match self {
            Self::Limited { regions, structures } if regions.len() == 1 && structures.is_empty() => Some(regions[0]),
            _ => None,
        }
    }

    /// May the caller read the whole of `region`?
    pub fn covers_region(&self, region: Region) -> bool {
        self.is_all() || self.regions().contains(&region)
    }

    /// May the caller read structure `finess` of `region` (its parent's FINESS when an antenna)?
    pub fn covers_structure(&self, finess: &str, parent: Option<&str>, region: Region) -> bool {
        self.is_all()
            || self.regions().contains(&region)
            || self.structures().iter().any(|f| f.as_str() == finess || parent == Some(f.as_str()))
    }

    /// What the caller sees, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::All => "everything".into(),
            Self::Limited { regions, structures } if regions.is_empty() && structures.is_empty() => "no structure".into(),
            Self::Limited { regions, structures } => regions
                .iter()
                .map(|r| Scope::Region(*r).name())
                .chain(structures.iter().map(|f| format!("structures/{}", f.as_str())))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// PERMISSION_DENIED for a scope the caller may not read.
    pub fn denied(&self, domain: &str, identity: &Identity, asked: &str) -> ApiError {
        ApiError::new(
            ErrorCode::PermissionDenied,
            domain,
            SCOPE_NOT_VISIBLE,
            format!("{} sees {}; {asked} is outside it", identity.caller, self.describe()),
        )
        .with_metadata("scope", asked)
    }
}

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
    use crate::identity::CallerKind;

    fn who(scopes: &[&str]) -> Identity {
        Identity {
            caller: "staff:t".into(),
            kind: CallerKind::Staff,
            roles: vec![],
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn visibility_from_scopes() {
        assert!(Visibility::of(&who(&["*", "region:NORD"])).is_all());
        let nord = Visibility::of(&who(&["region:nord", "partner:CDC"]));
        assert_eq!(nord.single_region(), Some(Region::Nord));
        assert!(nord.covers_region(Region::Nord) && !nord.covers_region(Region::Sud));
        assert!(nord.covers_structure("590000017", None, Region::Nord));
        let centre = Visibility::of(&who(&["structure:750712184", "structure:bad"]));
        assert_eq!(centre.finess(), vec!["750712184"]);
        assert_eq!(centre.single_region(), None);
        assert!(centre.covers_structure("750712184", None, Region::Sud));
        assert!(centre.covers_structure("750000000", Some("750712184"), Region::Sud), "its antennas");
        assert!(!centre.covers_structure("590000017", None, Region::Nord));
        assert_eq!(centre.describe(), "structures/750712184");
        let nothing = Visibility::of(&who(&["partner:CDC"]));
        assert!(!nothing.is_all() && nothing.regions().is_empty() && nothing.structures().is_empty());
        assert_eq!(nothing.denied("d", &who(&[]), "national").reason, SCOPE_NOT_VISIBLE);
    }

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
