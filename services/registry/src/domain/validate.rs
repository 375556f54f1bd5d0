//! Validation of a structure at the boundary.
//!
//! Every broken rule is reported as a field violation, all at once, and the
//! result is a [`ValidStructure`] whose typed fields the storage layer uses
//! without checking again. Reference checks that need the database (parent,
//! legal entity, successor) happen in storage, inside the write transaction.

use chrono::NaiveDate;
use filieris_kernel::{Finess, Siret, date::parse_date, text::normalize};
use filieris_proto::registry as pb;
use filieris_proto::types::Region;
use filieris_runtime::error::Violations;

use super::codes::Coded;
use super::{GROUPS, LEGAL_ENTITIES, Ref, STRUCTURES, parse_ref};

/// Longest display name.
pub const MAX_NAME_LEN: usize = 200;
/// Weekly opening hours of an antenna without an ARS waiver.
pub const ANTENNA_MAX_WEEKLY_HOURS: i32 = 20;

/// A structure that passed every rule that needs no database.
#[derive(Debug, Clone)]
pub struct ValidStructure {
    /// Normalised state to store (output-only fields cleared).
    pub snapshot: pb::Structure,
    /// FINESS ET (establishments).
    pub finess: Option<Finess>,
    /// SIRET, if given.
    pub siret: Option<Siret>,
    /// Level.
    pub level: pb::StructureLevel,
    /// Category.
    pub category: pb::Category,
    /// Subtype (unspecified when the category has none).
    pub subtype: pb::Subtype,
    /// Region.
    pub region: Region,
    /// Opening date.
    pub open_date: NaiveDate,
    /// Principal centre of an antenna.
    pub parent: Option<Ref>,
    /// Legal entity.
    pub legal_entity: Option<Ref>,
    /// Sanitary establishment an EHPAD is integrated in.
    pub integrated_in: Option<Ref>,
    /// Ordering key (normalised name).
    pub sort_key: String,
    /// Normalised text searched by `search`.
    pub search_text: String,
}

fn date_field(v: &mut Violations, field: &str, value: &str, required: bool) -> Option<NaiveDate> {
    if value.is_empty() {
        if required {
            v.add(field, "is required (YYYY-MM-DD)");
        }
        return None;
    }
    v.check(field, parse_date(value))
}

fn end_not_before(v: &mut Violations, field: &str, from: Option<NaiveDate>, to: Option<NaiveDate>) {
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        v.add(field, format!("{t} is before the start {f}"));
    }
}

/// Valid department codes: 01–19, 21–95, 2A, 2B, 971–976.
pub fn valid_department(code: &str) -> bool {
    match code {
        "2A" | "2B" => true,
        c if c.len() == 2 && c.bytes().all(|b| b.is_ascii_digit()) => matches!(c.parse::<u8>(), Ok(n) if (1..=95).contains(&n) && n != 20),
        c if c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()) => matches!(c.parse::<u16>(), Ok(n) if (971..=976).contains(&n)),
        _ => false,
    }
}

fn postal_code_matches(department: &str, postal: &str) -> bool {
    match department {
        "2A" | "2B" => postal.starts_with("20"),
        d if d.len() == 3 => postal.starts_with(d),
        d => postal.starts_with(d),
    }
}

fn allowed_subtypes(category: pb::Category) -> &'static [pb::Subtype] {
    use pb::Subtype as S;
    match category {
        pb::Category::HealthCentre => &[S::Polyvalent, S::Nursing, S::Dental],
        pb::Category::Hospital => &[S::Ssr, S::LocalHospital, S::Medicine],
        pb::Category::PreventionCentre => &[S::Vaccination, S::HealthExamination, S::Cegidd, S::CarersHouse],
        _ => &[],
    }
}

fn reference(v: &mut Violations, field: &str, collection: &str, value: &str) -> Option<Ref> {
    if value.is_empty() {
        return None;
    }
    let r = parse_ref(collection, value);
    if r.is_none() {
        v.add(field, format!("must be {collection}{{id}} or {collection}{{finess}}"));
    }
    r
}

/// Validates a structure as sent by a client (create) or as merged from an
/// update. Output-only fields of `input` are ignored.
pub fn validate_structure(input: &pb::Structure, prefix: &str) -> Result<ValidStructure, Violations> {
    let mut v = Violations::new();
    let f = |name: &str| format!("{prefix}{name}");

    let level = pb::StructureLevel::from_wire(input.level).filter(|l| *l != pb::StructureLevel::Unspecified);
    if level.is_none() {
        v.add(f("level"), "is required: ESTABLISHMENT or ANTENNA");
    }
    let category = pb::Category::from_wire(input.category).filter(|c| *c != pb::Category::Unspecified);
    if category.is_none() {
        v.add(f("category"), "is required");
    }
    let subtype = pb::Subtype::from_wire(input.subtype);
    if subtype.is_none() {
        v.add(f("subtype"), "unknown value");
    }
    let region = Region::from_wire(input.region).filter(|r| *r != Region::Unspecified);
    if region.is_none() {
        v.add(f("region"), "is required: NORD, EST or SUD");
    }

    // FINESS: establishments have one, antennas never.
    let finess = match (level, input.finess.is_empty()) {
        (Some(pb::StructureLevel::Antenna), false) => {
            v.add(f("finess"), "an antenna has no FINESS of its own: it is attached to its principal centre (parent)");
            None
        }
        (Some(pb::StructureLevel::Antenna), true) | (None, true) => None,
        (_, true) => {
            v.add(f("finess"), "is required for an establishment (FINESS ET, 9 characters)");
            None
        }
        (_, false) => v.check(&f("finess"), Finess::parse(&input.finess)),
    };
    let siret = if input.siret.is_empty() { None } else { v.check(&f("siret"), Siret::parse(&input.siret)) };

    let name = input.display_name.trim();
    if name.is_empty() {
        v.add(f("display_name"), "is required");
    } else if name.chars().count() > MAX_NAME_LEN {
        v.add(f("display_name"), format!("is longer than {MAX_NAME_LEN} characters"));
    }
    for (i, alias) in input.aliases.iter().enumerate() {
        if alias.text.trim().is_empty() {
            v.add(f(&format!("aliases[{i}].text")), "is required");
        }
        if pb::AliasKind::try_from(alias.kind).is_err() {
            v.add(f(&format!("aliases[{i}].kind")), "unknown value");
        }
    }

    let department = input.department.trim().to_ascii_uppercase();
    if department.is_empty() {
        v.add(f("department"), "is required (e.g. 59, 2A, 974)");
    } else if !valid_department(&department) {
        v.add(f("department"), format!("{department:?} is not a French department code (01-19, 21-95, 2A, 2B, 971-976)"));
    }
    if let Some(addr) = &input.address {
        let pc = addr.postal_code.trim();
        if !pc.is_empty() {
            if pc.len() != 5 || !pc.bytes().all(|b| b.is_ascii_digit()) {
                v.add(f("address.postal_code"), "must be 5 digits");
            } else if valid_department(&department) && !postal_code_matches(&department, pc) {
                v.add(f("address.postal_code"), format!("{pc} is not in department {department}"));
            }
        }
        let insee = addr.insee_code.trim();
        if !insee.is_empty() && (insee.len() != 5 || !insee.bytes().all(|b| b.is_ascii_alphanumeric())) {
            v.add(f("address.insee_code"), "must be 5 characters");
        }
    }

    let open_date = date_field(&mut v, &f("open_date"), &input.open_date, true);

    // Category-specific rules.
    if let (Some(cat), Some(sub)) = (category, subtype) {
        let allowed = allowed_subtypes(cat);
        if allowed.is_empty() && sub != pb::Subtype::Unspecified {
            v.add(f("subtype"), format!("category {} has no subtype", cat.code()));
        } else if !allowed.is_empty() && !allowed.contains(&sub) {
            let names: Vec<&str> = allowed.iter().map(|s| s.code()).collect();
            let antenna_without = level == Some(pb::StructureLevel::Antenna) && sub == pb::Subtype::Unspecified;
            if !antenna_without {
                v.add(f("subtype"), format!("must be one of {} for category {}", names.join(", "), cat.code()));
            }
        }
        let rule = pb::PharmacyAccessRule::try_from(input.pharmacy_access_rule).unwrap_or(pb::PharmacyAccessRule::Unspecified);
        match (cat == pb::Category::Pharmacy, rule == pb::PharmacyAccessRule::Unspecified) {
            (true, true) => v.add(f("pharmacy_access_rule"), "is required for a pharmacy"),
            (false, false) => v.add(f("pharmacy_access_rule"), "applies to pharmacies only"),
            _ => {}
        }
    }

    let parent = reference(&mut v, &f("parent"), STRUCTURES, &input.parent);
    match level {
        Some(pb::StructureLevel::Antenna) => {
            if input.parent.is_empty() {
                v.add(f("parent"), "is required for an antenna: its principal health centre");
            }
            if category.is_some_and(|c| c != pb::Category::HealthCentre) {
                v.add(f("category"), "an antenna is a health-centre antenna: category HEALTH_CENTRE");
            }
            let hours = input.weekly_opening_hours;
            if hours <= 0 {
                v.add(f("weekly_opening_hours"), "is required for an antenna");
            } else if hours > ANTENNA_MAX_WEEKLY_HOURS && !input.ars_waiver {
                v.add(
                    f("weekly_opening_hours"),
                    format!(
                        "an antenna opens at most {ANTENNA_MAX_WEEKLY_HOURS} hours a week unless the ARS granted a waiver (ars_waiver)"
                    ),
                );
            } else if hours > 168 {
                v.add(f("weekly_opening_hours"), "a week has 168 hours");
            }
        }
        Some(_) => {
            if !input.parent.is_empty() {
                v.add(f("parent"), "only antennas have a parent structure");
            }
            if input.weekly_opening_hours != 0 || input.ars_waiver {
                v.add(f("weekly_opening_hours"), "applies to antennas only");
            }
        }
        None => {}
    }
    let legal_entity = reference(&mut v, &f("legal_entity"), LEGAL_ENTITIES, &input.legal_entity);
    let integrated_in = reference(&mut v, &f("integrated_in"), STRUCTURES, &input.integrated_in);
    if integrated_in.is_some() && category.is_some_and(|c| c != pb::Category::Ehpad) {
        v.add(f("integrated_in"), "only an EHPAD is integrated in a sanitary establishment");
    }

    for (i, c) in input.capacities.iter().enumerate() {
        let p = |n: &str| f(&format!("capacities[{i}].{n}"));
        if !matches!(pb::CapacityUnit::try_from(c.unit), Ok(u) if u != pb::CapacityUnit::Unspecified) {
            v.add(p("unit"), "is required: BED, PLACE or CHAIR");
        }
        if pb::CapacityModality::try_from(c.modality).is_err() {
            v.add(p("modality"), "unknown value");
        }
        if c.authorised < 0 {
            v.add(p("authorised"), "must not be negative");
        }
        if c.installed < 0 {
            v.add(p("installed"), "must not be negative");
        }
        if c.installed > c.authorised {
            v.add(p("installed"), format!("{} installed exceeds the {} authorised", c.installed, c.authorised));
        }
        let from = date_field(&mut v, &p("valid_from"), &c.valid_from, true);
        let to = date_field(&mut v, &p("valid_to"), &c.valid_to, false);
        end_not_before(&mut v, &p("valid_to"), from, to);
    }
    for (i, a) in input.authorisations.iter().enumerate() {
        let p = |n: &str| f(&format!("authorisations[{i}].{n}"));
        if a.activity.trim().is_empty() {
            v.add(p("activity"), "is required");
        }
        date_field(&mut v, &p("decision_date"), &a.decision_date, false);
        let from = date_field(&mut v, &p("valid_from"), &a.valid_from, true);
        let to = date_field(&mut v, &p("valid_to"), &a.valid_to, false);
        end_not_before(&mut v, &p("valid_to"), from, to);
    }
    for (i, c) in input.certifications.iter().enumerate() {
        let p = |n: &str| f(&format!("certifications[{i}].{n}"));
        if !matches!(pb::CertificationScheme::try_from(c.scheme), Ok(s) if s != pb::CertificationScheme::Unspecified) {
            v.add(p("scheme"), "is required");
        }
        let from = date_field(&mut v, &p("decision_date"), &c.decision_date, true);
        let to = date_field(&mut v, &p("valid_to"), &c.valid_to, false);
        end_not_before(&mut v, &p("valid_to"), from, to);
    }
    for (i, m) in input.memberships.iter().enumerate() {
        let p = |n: &str| f(&format!("memberships[{i}].{n}"));
        let kind = pb::MembershipKind::try_from(m.kind).ok().filter(|k| *k != pb::MembershipKind::Unspecified);
        if kind.is_none() {
            v.add(p("kind"), "is required: CPTS, GHT, GCS, SAS or ROR");
        }
        if m.grouping.trim().is_empty() {
            v.add(p("grouping"), "is required");
        }
        let from = date_field(&mut v, &p("valid_from"), &m.valid_from, true);
        let to = date_field(&mut v, &p("valid_to"), &m.valid_to, false);
        end_not_before(&mut v, &p("valid_to"), from, to);
        if !m.sas_mode.is_empty() && (kind != Some(pb::MembershipKind::Sas) || !matches!(m.sas_mode.as_str(), "DIRECT" | "CPTS")) {
            v.add(p("sas_mode"), "applies to SAS memberships only: DIRECT or CPTS");
        }
        if m.agenda_sharing && kind != Some(pb::MembershipKind::Sas) {
            v.add(p("agenda_sharing"), "applies to SAS memberships only");
        }
        if !m.ror_identifier.is_empty() && kind != Some(pb::MembershipKind::Ror) {
            v.add(p("ror_identifier"), "applies to ROR memberships only");
        }
    }

    let (Some(level), Some(category), Some(subtype), Some(region), Some(open_date)) = (level, category, subtype, region, open_date) else {
        return Err(v);
    };
    if !v.is_empty() {
        return Err(v);
    }

    let mut snapshot = input.clone();
    clear_output_fields(&mut snapshot);
    snapshot.display_name = name.to_owned();
    snapshot.department = department;
    snapshot.finess = finess.as_ref().map(|x| x.as_str().to_owned()).unwrap_or_default();
    snapshot.siret = siret.as_ref().map(|x| x.as_str().to_owned()).unwrap_or_default();

    let sort_key = normalize(name);
    let mut search = vec![sort_key.clone()];
    search.extend(snapshot.aliases.iter().map(|a| normalize(&a.text)));
    if let Some(addr) = &snapshot.address {
        search.push(normalize(&addr.city));
        search.push(addr.postal_code.clone());
    }
    if let Some(x) = &finess {
        search.push(x.as_str().to_ascii_lowercase());
    }
    Ok(ValidStructure {
        snapshot,
        finess,
        siret,
        level,
        category,
        subtype,
        region,
        open_date,
        parent,
        legal_entity,
        integrated_in,
        sort_key,
        search_text: search.join(" | "),
    })
}

/// Clears the fields the server owns.
pub fn clear_output_fields(s: &mut pb::Structure) {
    s.name.clear();
    s.status = 0;
    s.close_date.clear();
    s.closure_type = 0;
    s.closure_reason.clear();
    s.successor.clear();
    s.revision = 0;
    s.etag.clear();
    s.create_time = None;
    s.update_time = None;
}

/// Fields an update mask may name.
pub const UPDATABLE: &[&str] = &[
    "siret",
    "category",
    "subtype",
    "display_name",
    "aliases",
    "legal_entity",
    "parent",
    "integrated_in",
    "region",
    "department",
    "territory",
    "address",
    "operator",
    "property_owner",
    "capacities",
    "authorisations",
    "certifications",
    "memberships",
    "pharmacy_access_rule",
    "weekly_opening_hours",
    "ars_waiver",
    "demo",
];

/// Applies the masked fields of `patch` onto `current`. Unknown or immutable
/// paths are violations of `update_mask`.
pub fn apply_mask(current: &mut pb::Structure, patch: &pb::Structure, paths: &[String]) -> Result<Vec<String>, Violations> {
    let mut v = Violations::new();
    if paths.is_empty() {
        v.add("update_mask", "is required: name the fields to change");
        return Err(v);
    }
    let mut changed = Vec::new();
    for raw in paths {
        let path = raw.trim();
        let field = snake(path);
        match field.as_str() {
            "siret" => current.siret = patch.siret.clone(),
            "category" => current.category = patch.category,
            "subtype" => current.subtype = patch.subtype,
            "display_name" => current.display_name = patch.display_name.clone(),
            "aliases" => current.aliases = patch.aliases.clone(),
            "legal_entity" => current.legal_entity = patch.legal_entity.clone(),
            "parent" => current.parent = patch.parent.clone(),
            "integrated_in" => current.integrated_in = patch.integrated_in.clone(),
            "region" => current.region = patch.region,
            "department" => current.department = patch.department.clone(),
            "territory" => current.territory = patch.territory.clone(),
            "address" => current.address = patch.address.clone(),
            "operator" => current.operator = patch.operator.clone(),
            "property_owner" => current.property_owner = patch.property_owner.clone(),
            "capacities" => current.capacities = patch.capacities.clone(),
            "authorisations" => current.authorisations = patch.authorisations.clone(),
            "certifications" => current.certifications = patch.certifications.clone(),
            "memberships" => current.memberships = patch.memberships.clone(),
            "pharmacy_access_rule" => current.pharmacy_access_rule = patch.pharmacy_access_rule,
            "weekly_opening_hours" => current.weekly_opening_hours = patch.weekly_opening_hours,
            "ars_waiver" => current.ars_waiver = patch.ars_waiver,
            "demo" => current.demo = patch.demo,
            "finess" | "level" | "open_date" | "name" => {
                v.add("update_mask", format!("{path} cannot be changed: create a new structure (identifiers are never rewritten)"));
                continue;
            }
            "status" | "close_date" | "closure_type" | "closure_reason" | "successor" => {
                v.add("update_mask", format!("{path} is set by CloseStructure"));
                continue;
            }
            _ => {
                v.add("update_mask", format!("{path} is not an updatable field of Structure"));
                continue;
            }
        }
        if !changed.contains(&field) {
            changed.push(field);
        }
    }
    if v.is_empty() { Ok(changed) } else { Err(v) }
}

/// `displayName` → `display_name` (REST clients may send JSON names).
fn snake(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for ch in path.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// Validates a structure-group code: lower-case letters, digits, hyphens.
pub fn valid_group_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 63
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !code.starts_with('-')
}

/// `structureGroups/{code}` → code.
pub fn group_code(name: &str) -> Option<&str> {
    name.strip_prefix(GROUPS).filter(|c| valid_group_code(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn centre() -> pb::Structure {
        pb::Structure {
            finess: "590000014".into(),
            level: pb::StructureLevel::Establishment as i32,
            category: pb::Category::HealthCentre as i32,
            subtype: pb::Subtype::Polyvalent as i32,
            display_name: "Centre de santé Filieris Lens".into(),
            region: Region::Nord as i32,
            department: "62".into(),
            open_date: "2005-07-01".into(),
            address: Some(pb::Address {
                line: "1 rue".into(),
                postal_code: "62300".into(),
                city: "Lens".into(),
                insee_code: String::new(),
            }),
            ..Default::default()
        }
    }

    fn fields(v: Violations) -> Vec<String> {
        let err = v.into_result("t").unwrap_err();
        err.violations.into_iter().map(|x| x.field).collect()
    }

    #[test]
    fn a_valid_health_centre_passes() {
        let mut s = centre();
        s.finess = Finess::from_prefix("59000001").unwrap().as_str().to_owned();
        s.department = "59".into();
        s.address = Some(pb::Address { postal_code: "59000".into(), city: "Lille".into(), ..Default::default() });
        let ok = validate_structure(&s, "structure.").expect("valid");
        assert_eq!(ok.category, pb::Category::HealthCentre);
        assert!(ok.search_text.contains("lille"));
    }

    #[test]
    fn decision_table_of_violations() {
        type Case = (&'static str, fn(&mut pb::Structure), &'static str);
        let cases: &[Case] = &[
            ("wrong FINESS key", |s| s.finess = "750712185".into(), "structure.finess"),
            ("missing FINESS", |s| s.finess.clear(), "structure.finess"),
            (
                "antenna with FINESS",
                |s| {
                    s.level = pb::StructureLevel::Antenna as i32;
                    s.parent = "structures/750712184".into();
                    s.weekly_opening_hours = 10;
                },
                "structure.finess",
            ),
            (
                "antenna over 20 h",
                |s| {
                    s.finess.clear();
                    s.level = pb::StructureLevel::Antenna as i32;
                    s.parent = "structures/750712184".into();
                    s.weekly_opening_hours = 25;
                },
                "structure.weekly_opening_hours",
            ),
            (
                "antenna without parent",
                |s| {
                    s.finess.clear();
                    s.level = pb::StructureLevel::Antenna as i32;
                    s.weekly_opening_hours = 10;
                },
                "structure.parent",
            ),
            ("bad department", |s| s.department = "20".into(), "structure.department"),
            ("postal code elsewhere", |s| s.address.as_mut().unwrap().postal_code = "75001".into(), "structure.address.postal_code"),
            ("no open date", |s| s.open_date.clear(), "structure.open_date"),
            ("bad open date", |s| s.open_date = "2021-02-30".into(), "structure.open_date"),
            ("health centre without subtype", |s| s.subtype = 0, "structure.subtype"),
            ("EHPAD with subtype", |s| s.category = pb::Category::Ehpad as i32, "structure.subtype"),
            (
                "pharmacy without access rule",
                |s| {
                    s.category = pb::Category::Pharmacy as i32;
                    s.subtype = 0;
                },
                "structure.pharmacy_access_rule",
            ),
            (
                "access rule on a centre",
                |s| s.pharmacy_access_rule = pb::PharmacyAccessRule::OpenToAll as i32,
                "structure.pharmacy_access_rule",
            ),
            ("bad SIRET", |s| s.siret = "73282932000079".into(), "structure.siret"),
            (
                "installed above authorised",
                |s| {
                    s.capacities.push(pb::Capacity {
                        unit: pb::CapacityUnit::Chair as i32,
                        authorised: 2,
                        installed: 3,
                        valid_from: "2020-01-01".into(),
                        ..Default::default()
                    })
                },
                "structure.capacities[0].installed",
            ),
            (
                "capacity ends before it starts",
                |s| {
                    s.capacities.push(pb::Capacity {
                        unit: pb::CapacityUnit::Chair as i32,
                        valid_from: "2020-01-01".into(),
                        valid_to: "2019-01-01".into(),
                        ..Default::default()
                    })
                },
                "structure.capacities[0].valid_to",
            ),
            (
                "SAS mode on a CPTS",
                |s| {
                    s.memberships.push(pb::Membership {
                        kind: pb::MembershipKind::Cpts as i32,
                        grouping: "CPTS ECEGEC".into(),
                        valid_from: "2019-03-27".into(),
                        sas_mode: "DIRECT".into(),
                        ..Default::default()
                    })
                },
                "structure.memberships[0].sas_mode",
            ),
            ("integrated centre", |s| s.integrated_in = "structures/750712184".into(), "structure.integrated_in"),
            ("no name", |s| s.display_name = "  ".into(), "structure.display_name"),
        ];
        for (label, mutate, field) in cases {
            let mut s = centre();
            s.finess = "620000010".into();
            s.finess = Finess::from_prefix("62000001").unwrap().as_str().to_owned();
            mutate(&mut s);
            let err = validate_structure(&s, "structure.").expect_err(label);
            assert!(fields(err).iter().any(|f| f == field), "{label}: expected a violation on {field}");
        }
    }

    #[test]
    fn every_violation_is_reported_at_once() {
        let s = pb::Structure::default();
        let got = fields(validate_structure(&s, "structure.").unwrap_err());
        for f in [
            "structure.level",
            "structure.category",
            "structure.region",
            "structure.display_name",
            "structure.department",
            "structure.open_date",
        ] {
            assert!(got.iter().any(|g| g == f), "missing {f} in {got:?}");
        }
    }

    #[test]
    fn departments() {
        for ok in ["01", "19", "21", "59", "95", "2A", "2B", "971", "976"] {
            assert!(valid_department(ok), "{ok}");
        }
        for bad in ["00", "20", "96", "2C", "977", "5", "abc"] {
            assert!(!valid_department(bad), "{bad}");
        }
    }

    #[test]
    fn mask_refuses_identifiers_and_unknown_fields() {
        let mut cur = centre();
        let patch = pb::Structure { display_name: "X".into(), ..Default::default() };
        let changed = apply_mask(&mut cur, &patch, &["displayName".into()]).unwrap();
        assert_eq!(changed, vec!["display_name"]);
        assert_eq!(cur.display_name, "X");
        assert!(apply_mask(&mut cur, &patch, &["finess".into()]).is_err());
        assert!(apply_mask(&mut cur, &patch, &["nope".into()]).is_err());
        assert!(apply_mask(&mut cur, &patch, &[]).is_err());
    }
}
