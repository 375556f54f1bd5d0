//! FHIR R4 export of a structure (domain reference §4.3) and a structural
//! validator of the bundles it produces.
//!
//! Mapping:
//! - establishment → `Organization` (FR Core organization profile, FINESS ET
//!   with type FINEG, SIRET, `partOf` the legal entity) + one `Location`
//!   managed by it + one `HealthcareService` per authorisation and, for
//!   medico-social structures, one per capacity line;
//! - legal entity → `Organization` (FINESS EJ with type FINEJ, SIREN);
//! - antenna → `Location` with `partOf` the principal centre's `Location` and
//!   `managingOrganization` the principal centre's `Organization`; the
//!   antenna has no FINESS;
//! - membership (CPTS, GHT, GCS, SAS, ROR) → `OrganizationAffiliation` between
//!   an `Organization` for the grouping and the establishment.
//!
//! Every entry has a deterministic `urn:uuid:` full URL (a name-based UUID of
//! version 8 computed from the structure's identity), and every reference
//! points at a full URL of the same bundle. Where no published profile
//! carries a value (authorisation details, capacity counts, pharmacy access
//! rule, antenna opening hours), the export uses the Filieris extensions
//! documented on the constants below.

use chrono::NaiveDate;
use filieris_proto::registry::{
    Address, AliasKind, Authorisation, Capacity, CapacityModality, CapacityUnit, Category, LegalEntity, Membership, MembershipKind,
    PharmacyAccessRule, Structure, StructureLevel, StructureStatus, Subtype,
};
use serde_json::{Map, Value, json};

/// FR Core organization profile (establishments and legal entities).
pub const PROFILE_FR_CORE_ORGANIZATION: &str = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-organization";
/// FR Core use-period extension (opening and closing dates).
pub const EXT_USE_PERIOD: &str = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-use-period";
/// FINESS identifier system (EJ and ET).
pub const SYSTEM_FINESS: &str = "https://finess.esante.gouv.fr";
/// SIREN / SIRET identifier system.
pub const SYSTEM_SIRENE: &str = "https://sirene.fr";
/// ARHGOS authorisation-number system (indicative in the ANS IG).
pub const SYSTEM_ARHGOS: &str = "https://arhgos.ars.sante.fr";
/// Identifier-type code system of FR Core (FINEG, FINEJ, SIRET, SIREN).
pub const SYSTEM_ID_TYPE: &str = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203";
/// HL7 organization-type code system.
pub const SYSTEM_ORG_TYPE: &str = "http://terminology.hl7.org/CodeSystem/organization-type";

/// Registry resource name of a structure or legal entity (`structures/{id}`).
pub const SYSTEM_REGISTRY_ID: &str = "https://filieris.example/fhir/sid/registry";
/// ROR identifiers ("INSEE region/number") recorded by the registry.
pub const SYSTEM_ROR_ID: &str = "https://filieris.example/fhir/sid/ror";
/// Filieris structure categories (the registry's `Category` codes).
pub const SYSTEM_CATEGORY: &str = "https://filieris.example/fhir/CodeSystem/structure-category";
/// Filieris structure subtypes (the registry's `Subtype` codes).
pub const SYSTEM_SUBTYPE: &str = "https://filieris.example/fhir/CodeSystem/structure-subtype";
/// Record tags: `demo` marks synthetic records.
pub const SYSTEM_TAG: &str = "https://filieris.example/fhir/CodeSystem/record-tag";
/// Kinds of cooperation grouping (the registry's `MembershipKind` codes).
pub const SYSTEM_MEMBERSHIP_KIND: &str = "https://filieris.example/fhir/CodeSystem/membership-kind";
/// Authorisation details: sub-extensions `authority` (valueString),
/// `decisionDate` (valueDate), `validity` (valuePeriod), `modality`
/// (valueString).
pub const EXT_AUTHORISATION: &str = "https://filieris.example/fhir/StructureDefinition/authorisation";
/// A capacity line: sub-extensions `unit` and `modality` (valueCode: the
/// registry's `CapacityUnit` / `CapacityModality` codes), `authorised` and
/// `installed` (valueInteger), `validity` (valuePeriod). On a medico-social
/// `HealthcareService` it carries authorised and installed places; on a
/// `Location` the beds, places or chairs of the site.
pub const EXT_CAPACITY: &str = "https://filieris.example/fhir/StructureDefinition/capacity";
/// Pharmacy access rule (valueCode: OPEN_TO_ALL, REASONED_OPENING,
/// AFFILIATES_ONLY).
pub const EXT_PHARMACY_ACCESS: &str = "https://filieris.example/fhir/StructureDefinition/pharmacy-access-rule";
/// Antenna weekly opening hours (valueInteger).
pub const EXT_WEEKLY_HOURS: &str = "https://filieris.example/fhir/StructureDefinition/weekly-opening-hours";
/// Antenna ARS waiver of the 20-hour limit (valueBoolean).
pub const EXT_ARS_WAIVER: &str = "https://filieris.example/fhir/StructureDefinition/ars-waiver";

// ---------------------------------------------------------------------------
// Deterministic identities
// ---------------------------------------------------------------------------

/// 64-bit FNV-1a with a caller-chosen offset basis.
fn fnv1a(data: &[u8], basis: u64) -> u64 {
    data.iter().fold(basis, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// A name-based UUID (version 8, RFC 9562 variant) derived from `seed`, so
/// that exporting the same structure twice yields the same full URLs.
fn uuid_for(seed: &str) -> String {
    let hi = fnv1a(seed.as_bytes(), 0xcbf2_9ce4_8422_2325);
    let lo = fnv1a(seed.as_bytes(), 0x8422_2325_cbf2_9ce4) ^ hi.rotate_left(29);
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&hi.to_be_bytes());
    b[8..].copy_from_slice(&lo.to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// Stable identity of a structure: its resource name, else its FINESS, else
/// its display name (antennas not yet stored).
fn identity(s: &Structure) -> String {
    if !s.name.is_empty() {
        s.name.clone()
    } else if !s.finess.is_empty() {
        format!("finess:{}", s.finess)
    } else {
        format!("display:{}", s.display_name)
    }
}

fn legal_identity(le: &LegalEntity) -> String {
    if le.name.is_empty() { format!("finej:{}", le.finess) } else { le.name.clone() }
}

/// A bundle entry under construction.
struct Entry {
    full_url: String,
    resource: Value,
}

fn entry(seed: &str, resource_type: &str, mut body: Map<String, Value>) -> Entry {
    let id = uuid_for(seed);
    let mut resource = Map::new();
    resource.insert("resourceType".into(), json!(resource_type));
    resource.insert("id".into(), json!(id));
    resource.append(&mut body);
    Entry { full_url: format!("urn:uuid:{id}"), resource: Value::Object(resource) }
}

fn reference(e: &Entry, display: &str) -> Value {
    if display.is_empty() { json!({ "reference": e.full_url }) } else { json!({ "reference": e.full_url, "display": display }) }
}

// ---------------------------------------------------------------------------
// Value helpers
// ---------------------------------------------------------------------------

/// An ISO date as a FHIR date, or `None` when it is empty or malformed (the
/// registry validates dates on write; a malformed one is left out rather
/// than exported).
fn fhir_date(value: &str) -> Option<String> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").ok().map(|d| d.format("%Y-%m-%d").to_string())
}

fn period(start: &str, end: &str) -> Option<Value> {
    let mut p = Map::new();
    if let Some(s) = fhir_date(start) {
        p.insert("start".into(), json!(s));
    }
    if let Some(e) = fhir_date(end) {
        p.insert("end".into(), json!(e));
    }
    if p.is_empty() { None } else { Some(Value::Object(p)) }
}

fn typed_identifier(system: &str, type_code: &str, type_display: &str, value: &str) -> Value {
    json!({
        "use": "official",
        "type": { "coding": [{ "system": SYSTEM_ID_TYPE, "code": type_code, "display": type_display }] },
        "system": system,
        "value": value,
    })
}

fn registry_identifier(name: &str) -> Value {
    json!({ "use": "secondary", "system": SYSTEM_REGISTRY_ID, "value": name })
}

fn address(a: &Address) -> Value {
    let mut m = Map::new();
    m.insert("use".into(), json!("work"));
    m.insert("type".into(), json!("physical"));
    if !a.line.is_empty() {
        m.insert("line".into(), json!([a.line]));
    }
    if !a.city.is_empty() {
        m.insert("city".into(), json!(a.city));
    }
    if !a.postal_code.is_empty() {
        m.insert("postalCode".into(), json!(a.postal_code));
    }
    m.insert("country".into(), json!("FR"));
    Value::Object(m)
}

fn category_code(c: i32) -> (&'static str, &'static str) {
    match Category::try_from(c).unwrap_or(Category::Unspecified) {
        Category::HealthCentre => ("HEALTH_CENTRE", "Centre de santé"),
        Category::Hospital => ("HOSPITAL", "Établissement sanitaire"),
        Category::Ehpad => ("EHPAD", "EHPAD"),
        Category::IndependentLivingResidence => ("INDEPENDENT_LIVING_RESIDENCE", "Résidence autonomie"),
        Category::TemporaryAccommodationResidence => ("TEMPORARY_ACCOMMODATION_RESIDENCE", "Résidence d'hébergement temporaire"),
        Category::Ssiad => ("SSIAD", "Service de soins infirmiers à domicile"),
        Category::Saad => ("SAAD", "Service d'aide et d'accompagnement à domicile"),
        Category::Spasad => ("SPASAD", "Service polyvalent d'aide et de soins à domicile"),
        Category::Pharmacy => ("PHARMACY", "Pharmacie minière"),
        Category::OpticalCentre => ("OPTICAL_CENTRE", "Centre d'optique"),
        Category::Laboratory => ("LABORATORY", "Laboratoire de biologie médicale"),
        Category::MedicalEquipmentService => ("MEDICAL_EQUIPMENT_SERVICE", "Service de matériel médical"),
        Category::PreventionCentre => ("PREVENTION_CENTRE", "Centre de prévention"),
        Category::Unspecified => ("UNSPECIFIED", "Non renseigné"),
    }
}

fn subtype_code(s: i32) -> Option<(&'static str, &'static str)> {
    match Subtype::try_from(s).unwrap_or(Subtype::Unspecified) {
        Subtype::Unspecified => None,
        Subtype::Polyvalent => Some(("POLYVALENT", "Centre de santé polyvalent")),
        Subtype::Nursing => Some(("NURSING", "Centre de santé infirmier")),
        Subtype::Dental => Some(("DENTAL", "Centre de santé dentaire")),
        Subtype::Ssr => Some(("SSR", "Soins médicaux et de réadaptation")),
        Subtype::LocalHospital => Some(("LOCAL_HOSPITAL", "Hôpital de proximité")),
        Subtype::Medicine => Some(("MEDICINE", "Médecine")),
        Subtype::Vaccination => Some(("VACCINATION", "Centre de vaccination")),
        Subtype::HealthExamination => Some(("HEALTH_EXAMINATION", "Centre d'examens de santé")),
        Subtype::Cegidd => Some(("CEGIDD", "CeGIDD")),
        Subtype::CarersHouse => Some(("CARERS_HOUSE", "Maison des aidants")),
    }
}

fn unit_code(u: i32) -> &'static str {
    match CapacityUnit::try_from(u).unwrap_or(CapacityUnit::Unspecified) {
        CapacityUnit::Bed => "BED",
        CapacityUnit::Place => "PLACE",
        CapacityUnit::Chair => "CHAIR",
        CapacityUnit::Unspecified => "UNSPECIFIED",
    }
}

fn modality_code(m: i32) -> &'static str {
    match CapacityModality::try_from(m).unwrap_or(CapacityModality::Unspecified) {
        CapacityModality::FullTime => "FULL_TIME",
        CapacityModality::Day => "DAY",
        CapacityModality::Permanent => "PERMANENT",
        CapacityModality::Temporary => "TEMPORARY",
        CapacityModality::DisorientedUnit => "DISORIENTED_UNIT",
        CapacityModality::Home => "HOME",
        CapacityModality::Consultation => "CONSULTATION",
        CapacityModality::Unspecified => "UNSPECIFIED",
    }
}

fn membership_kind_code(k: i32) -> &'static str {
    match MembershipKind::try_from(k).unwrap_or(MembershipKind::Unspecified) {
        MembershipKind::Cpts => "CPTS",
        MembershipKind::Ght => "GHT",
        MembershipKind::Gcs => "GCS",
        MembershipKind::Sas => "SAS",
        MembershipKind::Ror => "ROR",
        MembershipKind::Unspecified => "UNSPECIFIED",
    }
}

/// Medico-social structures: their capacity lines are exported as services.
fn is_medico_social(category: i32) -> bool {
    matches!(
        Category::try_from(category).unwrap_or(Category::Unspecified),
        Category::Ehpad
            | Category::IndependentLivingResidence
            | Category::TemporaryAccommodationResidence
            | Category::Ssiad
            | Category::Saad
            | Category::Spasad
    )
}

/// A structure is closed when its status says so, or, for a record whose
/// status was not computed, when it carries a closing date.
fn is_closed(s: &Structure) -> bool {
    match StructureStatus::try_from(s.status).unwrap_or(StructureStatus::Unspecified) {
        StructureStatus::Closed => true,
        StructureStatus::Unspecified => !s.close_date.is_empty(),
        _ => false,
    }
}

fn location_status(s: &Structure) -> &'static str {
    if is_closed(s) {
        "inactive"
    } else if s.status == StructureStatus::TemporarilyClosed as i32 {
        "suspended"
    } else {
        "active"
    }
}

fn meta(profile: Option<&str>, demo: bool) -> Option<Value> {
    let mut m = Map::new();
    if let Some(p) = profile {
        m.insert("profile".into(), json!([p]));
    }
    if demo {
        m.insert("tag".into(), json!([{ "system": SYSTEM_TAG, "code": "demo", "display": "Synthetic demo record" }]));
    }
    if m.is_empty() { None } else { Some(Value::Object(m)) }
}

fn use_period_extension(s: &Structure) -> Option<Value> {
    period(&s.open_date, &s.close_date).map(|p| json!({ "url": EXT_USE_PERIOD, "valuePeriod": p }))
}

fn capacity_extension(c: &Capacity) -> Value {
    let mut ext = vec![
        json!({ "url": "unit", "valueCode": unit_code(c.unit) }),
        json!({ "url": "modality", "valueCode": modality_code(c.modality) }),
        json!({ "url": "authorised", "valueInteger": c.authorised }),
        json!({ "url": "installed", "valueInteger": c.installed }),
    ];
    if let Some(p) = period(&c.valid_from, &c.valid_to) {
        ext.push(json!({ "url": "validity", "valuePeriod": p }));
    }
    json!({ "url": EXT_CAPACITY, "extension": ext })
}

fn authorisation_extension(a: &Authorisation) -> Value {
    let mut ext = Vec::new();
    if !a.authority.is_empty() {
        ext.push(json!({ "url": "authority", "valueString": a.authority }));
    }
    if !a.modality.is_empty() {
        ext.push(json!({ "url": "modality", "valueString": a.modality }));
    }
    if let Some(d) = fhir_date(&a.decision_date) {
        ext.push(json!({ "url": "decisionDate", "valueDate": d }));
    }
    if let Some(p) = period(&a.valid_from, &a.valid_to) {
        ext.push(json!({ "url": "validity", "valuePeriod": p }));
    }
    json!({ "url": EXT_AUTHORISATION, "extension": ext })
}

// ---------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------

fn legal_entity_organization(le: &LegalEntity) -> Entry {
    let mut m = Map::new();
    if let Some(meta) = meta(Some(PROFILE_FR_CORE_ORGANIZATION), le.demo) {
        m.insert("meta".into(), meta);
    }
    let mut ids = Vec::new();
    if !le.finess.is_empty() {
        ids.push(typed_identifier(SYSTEM_FINESS, "FINEJ", "FINESS d'entité juridique", &le.finess));
    }
    if !le.siren.is_empty() {
        ids.push(typed_identifier(SYSTEM_SIRENE, "SIREN", "Identification de l'organisation au SIREN", &le.siren));
    }
    if !le.name.is_empty() {
        ids.push(registry_identifier(&le.name));
    }
    m.insert("identifier".into(), Value::Array(ids));
    m.insert("active".into(), json!(true));
    let mut types = vec![json!({ "coding": [{ "system": SYSTEM_CATEGORY, "code": "LEGAL_ENTITY", "display": "Entité juridique" }] })];
    if !le.legal_status.is_empty() {
        types.push(json!({ "text": le.legal_status }));
    }
    m.insert("type".into(), Value::Array(types));
    m.insert("name".into(), json!(le.display_name));
    entry(&format!("org:{}", legal_identity(le)), "Organization", m)
}

/// The Organization of an establishment (or of an antenna's principal centre).
fn structure_organization(s: &Structure, legal: Option<&Entry>, legal_name: &str) -> Entry {
    let mut m = Map::new();
    if let Some(meta) = meta(Some(PROFILE_FR_CORE_ORGANIZATION), s.demo) {
        m.insert("meta".into(), meta);
    }
    let mut ext = Vec::new();
    if let Some(e) = use_period_extension(s) {
        ext.push(e);
    }
    if let Ok(rule) = PharmacyAccessRule::try_from(s.pharmacy_access_rule) {
        let code = match rule {
            PharmacyAccessRule::OpenToAll => Some("OPEN_TO_ALL"),
            PharmacyAccessRule::ReasonedOpening => Some("REASONED_OPENING"),
            PharmacyAccessRule::AffiliatesOnly => Some("AFFILIATES_ONLY"),
            PharmacyAccessRule::Unspecified => None,
        };
        if let Some(code) = code {
            ext.push(json!({ "url": EXT_PHARMACY_ACCESS, "valueCode": code }));
        }
    }
    if !ext.is_empty() {
        m.insert("extension".into(), Value::Array(ext));
    }

    let mut ids = Vec::new();
    if !s.finess.is_empty() {
        ids.push(typed_identifier(SYSTEM_FINESS, "FINEG", "FINESS d'entité géographique", &s.finess));
    }
    if !s.siret.is_empty() {
        ids.push(typed_identifier(SYSTEM_SIRENE, "SIRET", "Identification de l'organisation au SIRET", &s.siret));
    }
    if !s.name.is_empty() {
        ids.push(registry_identifier(&s.name));
    }
    for m in s.memberships.iter().filter(|m| m.kind == MembershipKind::Ror as i32 && !m.ror_identifier.is_empty()) {
        ids.push(json!({ "use": "secondary", "system": SYSTEM_ROR_ID, "value": m.ror_identifier }));
    }
    m.insert("identifier".into(), Value::Array(ids));
    m.insert("active".into(), json!(!is_closed(s)));

    let (code, display) = category_code(s.category);
    let mut coding = vec![json!({ "system": SYSTEM_CATEGORY, "code": code, "display": display })];
    if let Some((code, display)) = subtype_code(s.subtype) {
        coding.push(json!({ "system": SYSTEM_SUBTYPE, "code": code, "display": display }));
    }
    m.insert(
        "type".into(),
        json!([
            { "coding": [{ "system": SYSTEM_ORG_TYPE, "code": "prov", "display": "Healthcare Provider" }] },
            { "coding": coding },
        ]),
    );
    m.insert("name".into(), json!(s.display_name));

    // Misspellings are searchable in the registry, never published.
    let mut aliases: Vec<&str> = Vec::new();
    for a in &s.aliases {
        let text = a.text.trim();
        if a.kind != AliasKind::Misspelling as i32 && !text.is_empty() && text != s.display_name && !aliases.contains(&text) {
            aliases.push(text);
        }
    }
    if !aliases.is_empty() {
        m.insert("alias".into(), json!(aliases));
    }
    if let Some(a) = &s.address {
        m.insert("address".into(), json!([address(a)]));
    }
    if let Some(le) = legal {
        m.insert("partOf".into(), reference(le, legal_name));
    }
    entry(&format!("org:{}", identity(s)), "Organization", m)
}

/// The Location of a structure. An antenna's Location is part of its
/// principal's Location; both are managed by the principal's Organization.
fn structure_location(s: &Structure, managing: Option<(&Entry, &str)>, part_of: Option<(&Entry, &str)>) -> Entry {
    let mut m = Map::new();
    if let Some(meta) = meta(None, s.demo) {
        m.insert("meta".into(), meta);
    }
    let mut ext = Vec::new();
    if let Some(e) = use_period_extension(s) {
        ext.push(e);
    }
    if s.level == StructureLevel::Antenna as i32 {
        if s.weekly_opening_hours > 0 {
            ext.push(json!({ "url": EXT_WEEKLY_HOURS, "valueInteger": s.weekly_opening_hours }));
        }
        ext.push(json!({ "url": EXT_ARS_WAIVER, "valueBoolean": s.ars_waiver }));
    }
    // Capacities of non-medico-social structures (beds, day places, dental
    // chairs) describe the site, as the ROR does on its locations.
    if !is_medico_social(s.category) {
        ext.extend(s.capacities.iter().map(capacity_extension));
    }
    if !ext.is_empty() {
        m.insert("extension".into(), Value::Array(ext));
    }
    if !s.name.is_empty() {
        m.insert("identifier".into(), json!([registry_identifier(&s.name)]));
    }
    m.insert("status".into(), json!(location_status(s)));
    m.insert("name".into(), json!(s.display_name));
    m.insert("mode".into(), json!("instance"));
    if let Some(a) = &s.address {
        m.insert("address".into(), address(a));
    }
    if let Some((org, name)) = managing {
        m.insert("managingOrganization".into(), reference(org, name));
    }
    if let Some((loc, name)) = part_of {
        m.insert("partOf".into(), reference(loc, name));
    }
    entry(&format!("loc:{}", identity(s)), "Location", m)
}

fn service_base(s: &Structure, org: &Entry, loc: &Entry, name: &str, category_text: &str) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(meta) = meta(None, s.demo) {
        m.insert("meta".into(), meta);
    }
    m.insert("active".into(), json!(!is_closed(s)));
    m.insert("providedBy".into(), reference(org, &s.display_name));
    m.insert("category".into(), json!([{ "text": category_text }]));
    m.insert("type".into(), json!([{ "text": name }]));
    m.insert("location".into(), json!([reference(loc, &s.display_name)]));
    m.insert("name".into(), json!(name));
    m
}

fn authorisation_service(s: &Structure, org: &Entry, loc: &Entry, i: usize, a: &Authorisation) -> Entry {
    let category =
        if is_medico_social(s.category) { "Activité sociale ou médico-sociale autorisée" } else { "Activité sanitaire autorisée" };
    let mut m = service_base(s, org, loc, &a.activity, category);
    m.insert("extension".into(), json!([authorisation_extension(a)]));
    if !a.arhgos_number.is_empty() {
        m.insert("identifier".into(), json!([{ "use": "official", "system": SYSTEM_ARHGOS, "value": a.arhgos_number }]));
    }
    if !a.modality.is_empty() {
        m.insert("characteristic".into(), json!([{ "text": a.modality }]));
    }
    entry(&format!("hs:{}:authorisation:{i}", identity(s)), "HealthcareService", m)
}

fn capacity_service(s: &Structure, org: &Entry, loc: &Entry, i: usize, c: &Capacity) -> Entry {
    let name = if c.discipline.is_empty() { category_code(s.category).1.to_owned() } else { c.discipline.clone() };
    let mut m = service_base(s, org, loc, &name, "Équipement social ou médico-social");
    m.insert("extension".into(), json!([capacity_extension(c)]));
    entry(&format!("hs:{}:capacity:{i}", identity(s)), "HealthcareService", m)
}

/// A cooperation grouping and the affiliation of the establishment to it.
fn membership_entries(s: &Structure, org: &Entry, i: usize, m: &Membership) -> [Entry; 2] {
    let kind = membership_kind_code(m.kind);
    let mut g = Map::new();
    g.insert("active".into(), json!(true));
    g.insert("type".into(), json!([{ "coding": [{ "system": SYSTEM_MEMBERSHIP_KIND, "code": kind }] }]));
    g.insert("name".into(), json!(m.grouping));
    let grouping = entry(&format!("org:grouping:{kind}:{}", m.grouping), "Organization", g);

    let mut a = Map::new();
    let active_now = m.valid_to.is_empty() && !is_closed(s);
    a.insert("active".into(), json!(active_now));
    if let Some(p) = period(&m.valid_from, &m.valid_to) {
        a.insert("period".into(), p);
    }
    a.insert("organization".into(), reference(&grouping, &m.grouping));
    a.insert("participatingOrganization".into(), reference(org, &s.display_name));
    if !m.role.is_empty() {
        a.insert("code".into(), json!([{ "text": m.role }]));
    }
    let affiliation = entry(&format!("aff:{}:{i}:{kind}:{}", identity(s), m.grouping), "OrganizationAffiliation", a);
    [grouping, affiliation]
}

/// Exports a structure as a FHIR R4 `collection` Bundle.
///
/// `legal_entity` is the legal entity holding the structure (for an antenna,
/// the one holding its principal centre); it is included and referenced by
/// `Organization.partOf` when given. `parent` is the principal centre of an
/// antenna and is ignored for other levels; without it an antenna's Location
/// has no `partOf` nor `managingOrganization`.
pub fn structure_bundle(structure: &Structure, legal_entity: Option<&LegalEntity>, parent: Option<&Structure>) -> Value {
    let mut entries: Vec<Entry> = Vec::new();
    let legal = legal_entity.map(legal_entity_organization);
    let legal_name = legal_entity.map(|l| l.display_name.as_str()).unwrap_or_default();

    if structure.level == StructureLevel::Antenna as i32 {
        match parent {
            Some(p) => {
                let org = structure_organization(p, legal.as_ref(), legal_name);
                let principal_loc = structure_location(p, Some((&org, &p.display_name)), None);
                let antenna_loc = structure_location(structure, Some((&org, &p.display_name)), Some((&principal_loc, &p.display_name)));
                entries.push(antenna_loc);
                entries.push(org);
                entries.push(principal_loc);
            }
            None => entries.push(structure_location(structure, None, None)),
        }
    } else {
        let org = structure_organization(structure, legal.as_ref(), legal_name);
        let loc = structure_location(structure, Some((&org, &structure.display_name)), None);
        let mut services = Vec::new();
        for (i, a) in structure.authorisations.iter().enumerate() {
            services.push(authorisation_service(structure, &org, &loc, i, a));
        }
        if is_medico_social(structure.category) {
            for (i, c) in structure.capacities.iter().enumerate() {
                services.push(capacity_service(structure, &org, &loc, i, c));
            }
        }
        let mut affiliations = Vec::new();
        for (i, m) in structure.memberships.iter().enumerate() {
            let [grouping, affiliation] = membership_entries(structure, &org, i, m);
            // Several memberships of the same grouping share its Organization.
            if !affiliations.iter().any(|e: &Entry| e.full_url == grouping.full_url) {
                affiliations.push(grouping);
            }
            affiliations.push(affiliation);
        }
        entries.push(org);
        entries.push(loc);
        entries.extend(services);
        entries.extend(affiliations);
    }
    if let Some(le) = legal {
        entries.push(le);
    }

    let bundle_seed = format!("bundle:{}", identity(structure));
    json!({
        "resourceType": "Bundle",
        "id": uuid_for(&bundle_seed),
        "type": "collection",
        "entry": entries
            .into_iter()
            .map(|e| json!({ "fullUrl": e.full_url, "resource": e.resource }))
            .collect::<Vec<_>>(),
    })
}

// ---------------------------------------------------------------------------
// Structural validation
// ---------------------------------------------------------------------------

/// Resource types of FHIR R4 (4.0.1).
const R4_RESOURCE_TYPES: &[&str] = &[
    "Account",
    "ActivityDefinition",
    "AdverseEvent",
    "AllergyIntolerance",
    "Appointment",
    "AppointmentResponse",
    "AuditEvent",
    "Basic",
    "Binary",
    "BiologicallyDerivedProduct",
    "BodyStructure",
    "Bundle",
    "CapabilityStatement",
    "CarePlan",
    "CareTeam",
    "CatalogEntry",
    "ChargeItem",
    "ChargeItemDefinition",
    "Claim",
    "ClaimResponse",
    "ClinicalImpression",
    "CodeSystem",
    "Communication",
    "CommunicationRequest",
    "CompartmentDefinition",
    "Composition",
    "ConceptMap",
    "Condition",
    "Consent",
    "Contract",
    "Coverage",
    "CoverageEligibilityRequest",
    "CoverageEligibilityResponse",
    "DetectedIssue",
    "Device",
    "DeviceDefinition",
    "DeviceMetric",
    "DeviceRequest",
    "DeviceUseStatement",
    "DiagnosticReport",
    "DocumentManifest",
    "DocumentReference",
    "EffectEvidenceSynthesis",
    "Encounter",
    "Endpoint",
    "EnrollmentRequest",
    "EnrollmentResponse",
    "EpisodeOfCare",
    "EventDefinition",
    "Evidence",
    "EvidenceVariable",
    "ExampleScenario",
    "ExplanationOfBenefit",
    "FamilyMemberHistory",
    "Flag",
    "Goal",
    "GraphDefinition",
    "Group",
    "GuidanceResponse",
    "HealthcareService",
    "ImagingStudy",
    "Immunization",
    "ImmunizationEvaluation",
    "ImmunizationRecommendation",
    "ImplementationGuide",
    "InsurancePlan",
    "Invoice",
    "Library",
    "Linkage",
    "List",
    "Location",
    "Measure",
    "MeasureReport",
    "Media",
    "Medication",
    "MedicationAdministration",
    "MedicationDispense",
    "MedicationKnowledge",
    "MedicationRequest",
    "MedicationStatement",
    "MedicinalProduct",
    "MedicinalProductAuthorization",
    "MedicinalProductContraindication",
    "MedicinalProductIndication",
    "MedicinalProductIngredient",
    "MedicinalProductInteraction",
    "MedicinalProductManufactured",
    "MedicinalProductPackaged",
    "MedicinalProductPharmaceutical",
    "MedicinalProductUndesirableEffect",
    "MessageDefinition",
    "MessageHeader",
    "MolecularSequence",
    "NamingSystem",
    "NutritionOrder",
    "Observation",
    "ObservationDefinition",
    "OperationDefinition",
    "OperationOutcome",
    "Organization",
    "OrganizationAffiliation",
    "Parameters",
    "Patient",
    "PaymentNotice",
    "PaymentReconciliation",
    "Person",
    "PlanDefinition",
    "Practitioner",
    "PractitionerRole",
    "Procedure",
    "Provenance",
    "Questionnaire",
    "QuestionnaireResponse",
    "RelatedPerson",
    "RequestGroup",
    "ResearchDefinition",
    "ResearchElementDefinition",
    "ResearchStudy",
    "ResearchSubject",
    "RiskAssessment",
    "RiskEvidenceSynthesis",
    "Schedule",
    "SearchParameter",
    "ServiceRequest",
    "Slot",
    "Specimen",
    "SpecimenDefinition",
    "StructureDefinition",
    "StructureMap",
    "Subscription",
    "Substance",
    "SubstanceNucleicAcid",
    "SubstancePolymer",
    "SubstanceProtein",
    "SubstanceReferenceInformation",
    "SubstanceSourceMaterial",
    "SubstanceSpecification",
    "SupplyDelivery",
    "SupplyRequest",
    "Task",
    "TerminologyCapabilities",
    "TestReport",
    "TestScript",
    "ValueSet",
    "VerificationResult",
    "VisionPrescription",
];

/// Values of `Bundle.type` in R4.
const BUNDLE_TYPES: &[&str] =
    &["document", "message", "transaction", "transaction-response", "batch", "batch-response", "history", "searchset", "collection"];

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// FHIR `date`: YYYY, YYYY-MM or YYYY-MM-DD, with a real calendar date.
fn is_fhir_date(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    match parts.as_slice() {
        [y] => y.len() == 4 && all_digits(y),
        [y, m] => y.len() == 4 && all_digits(y) && m.len() == 2 && matches!(m.parse::<u32>(), Ok(1..=12)),
        [y, m, d] => y.len() == 4 && m.len() == 2 && d.len() == 2 && NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok(),
        _ => false,
    }
}

/// FHIR `dateTime`: a FHIR date, or a full date with hh:mm:ss, optional
/// fraction and a mandatory zone (Z or ±hh:mm).
fn is_fhir_date_time(v: &str) -> bool {
    let Some((date, time)) = v.split_once('T') else {
        return is_fhir_date(v);
    };
    if date.len() != 10 || !is_fhir_date(date) {
        return false;
    }
    let (clock, zone) = if let Some(c) = time.strip_suffix('Z') {
        (c, "Z")
    } else if let Some(pos) = time.rfind(['+', '-']) {
        (&time[..pos], &time[pos..])
    } else {
        return false;
    };
    let zone_ok = zone == "Z" || {
        let z = &zone[1..];
        z.len() == 5 && z.as_bytes()[2] == b':' && all_digits(&z[..2]) && all_digits(&z[3..]) && matches!(z[..2].parse::<u32>(), Ok(0..=14))
    };
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, "0"));
    let hms: Vec<&str> = hms.split(':').collect();
    let clock_ok = hms.len() == 3
        && hms.iter().all(|p| p.len() == 2 && all_digits(p))
        && matches!(hms[0].parse::<u32>(), Ok(0..=23))
        && matches!(hms[1].parse::<u32>(), Ok(0..=59))
        && matches!(hms[2].parse::<u32>(), Ok(0..=60))
        && all_digits(fraction);
    zone_ok && clock_ok
}

/// FHIR `id`: 1-64 characters among letters, digits, '-' and '.'.
fn is_fhir_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn is_urn_uuid(v: &str) -> bool {
    let Some(u) = v.strip_prefix("urn:uuid:") else {
        return false;
    };
    let groups: Vec<&str> = u.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
}

fn is_full_url(v: &str) -> bool {
    is_urn_uuid(v) || v.starts_with("urn:oid:") || v.starts_with("https://") || v.starts_with("http://")
}

/// Context of a walk over one resource.
struct Walk<'a> {
    full_urls: &'a [(String, String, String)],
    errors: &'a mut Vec<String>,
}

impl Walk<'_> {
    /// Does `reference` resolve to an entry: exactly a full URL, or a
    /// relative `Type/id` matching an entry's resource?
    fn resolves(&self, reference: &str) -> bool {
        if self.full_urls.iter().any(|(url, _, _)| url == reference) {
            return true;
        }
        match reference.split_once('/') {
            Some((ty, id)) if !id.contains('/') => self.full_urls.iter().any(|(_, t, i)| t == ty && i == id),
            _ => false,
        }
    }

    fn value(&mut self, path: &str, key: &str, v: &Value) {
        match v {
            Value::Object(obj) => self.object(path, key, obj),
            Value::Array(items) => {
                if items.is_empty() {
                    self.errors.push(format!("{path}: empty arrays are not allowed in FHIR JSON"));
                }
                for (i, item) in items.iter().enumerate() {
                    self.value(&format!("{path}[{i}]"), key, item);
                }
            }
            Value::String(s) => {
                if s.is_empty() {
                    self.errors.push(format!("{path}: empty strings are not allowed in FHIR JSON"));
                }
                match key {
                    "valueDate" | "birthDate" if !is_fhir_date(s) => {
                        self.errors.push(format!("{path}: {s:?} is not a FHIR date"));
                    }
                    "valueDateTime" | "start" | "end" | "lastUpdated" | "timestamp" if !is_fhir_date_time(s) => {
                        self.errors.push(format!("{path}: {s:?} is not a FHIR dateTime"));
                    }
                    _ => {}
                }
            }
            Value::Null => self.errors.push(format!("{path}: null is not allowed in FHIR JSON")),
            Value::Bool(_) | Value::Number(_) => {}
        }
    }

    fn object(&mut self, path: &str, key: &str, obj: &Map<String, Value>) {
        if obj.is_empty() {
            self.errors.push(format!("{path}: empty objects are not allowed in FHIR JSON"));
        }
        // A Reference: `reference` must point inside the bundle.
        if let Some(r) = obj.get("reference") {
            match r.as_str() {
                Some(target) if target.starts_with('#') => {}
                Some(target) if self.resolves(target) => {}
                Some(target) => self.errors.push(format!("{path}.reference: {target} does not resolve to an entry of the bundle")),
                None => self.errors.push(format!("{path}.reference: must be a string")),
            }
        }
        // An Identifier needs a system and a value.
        if key == "identifier" {
            for field in ["system", "value"] {
                if obj.get(field).and_then(Value::as_str).is_none_or(str::is_empty) {
                    self.errors.push(format!("{path}.{field}: an identifier needs a {field}"));
                }
            }
        }
        // An Extension needs a URL and either a value or sub-extensions.
        if key == "extension" || key == "modifierExtension" {
            if obj.get("url").and_then(Value::as_str).is_none_or(str::is_empty) {
                self.errors.push(format!("{path}.url: an extension needs a url"));
            }
            let has_value = obj.keys().any(|k| k.starts_with("value"));
            let has_children = obj.contains_key("extension");
            if has_value == has_children {
                self.errors.push(format!("{path}: an extension has either a value or extensions (ext-1)"));
            }
        }
        // Period: start not after end (compared on their common date part).
        if let (Some(Value::String(s)), Some(Value::String(e))) = (obj.get("start"), obj.get("end"))
            && is_fhir_date_time(s)
            && is_fhir_date_time(e)
        {
            let n = s.len().min(e.len()).min(10);
            if s[..n] > e[..n] {
                self.errors.push(format!("{path}: period starts after it ends ({s} > {e})"));
            }
        }
        for (k, v) in obj {
            self.value(&format!("{path}.{k}"), k, v);
        }
    }
}

fn check_resource(path: &str, resource: &Map<String, Value>, walk: &mut Walk<'_>) {
    let Some(ty) = resource.get("resourceType").and_then(Value::as_str) else {
        walk.errors.push(format!("{path}.resourceType: is required"));
        return;
    };
    if !R4_RESOURCE_TYPES.contains(&ty) {
        walk.errors.push(format!("{path}.resourceType: {ty:?} is not an R4 resource type"));
    }
    if let Some(id) = resource.get("id")
        && !id.as_str().is_some_and(is_fhir_id)
    {
        walk.errors.push(format!("{path}.id: {id} is not a FHIR id"));
    }
    for boolean in ["active"] {
        if let Some(v) = resource.get(boolean)
            && !v.is_boolean()
        {
            walk.errors.push(format!("{path}.{boolean}: must be a boolean"));
        }
    }
    if ty == "Location"
        && let Some(status) = resource.get("status")
        && !matches!(status.as_str(), Some("active" | "suspended" | "inactive"))
    {
        walk.errors.push(format!("{path}.status: {status} is not active, suspended or inactive"));
    }
    if ty == "Organization"
        && let Some(alias) = resource.get("alias")
        && !alias.as_array().is_some_and(|a| a.iter().all(Value::is_string))
    {
        walk.errors.push(format!("{path}.alias: must be an array of strings"));
    }
    if let Some(profiles) = resource.get("meta").and_then(|m| m.get("profile"))
        && !profiles.as_array().is_some_and(|a| a.iter().all(|p| p.as_str().is_some_and(|s| s.starts_with("http"))))
    {
        walk.errors.push(format!("{path}.meta.profile: must be an array of canonical URLs"));
    }
    for (k, v) in resource {
        if k != "resourceType" {
            walk.value(&format!("{path}.{k}"), k, v);
        }
    }
}

/// Structural check of an R4 Bundle, written for the registry's exports and
/// tests: the resource types are R4 types, `Bundle.type` is valid, every
/// entry has a full URL (unique) and a resource, every `Reference.reference`
/// resolves to an entry of the bundle, identifiers have a system and a value,
/// dates and date-times have the FHIR format, extensions are well formed,
/// `active` is a boolean and JSON has no empty values. It is not a profile
/// validator: cardinalities and terminologies of the profiles are not checked.
pub fn validate_bundle(v: &Value) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    let Some(bundle) = v.as_object() else {
        return Err(vec!["bundle: must be a JSON object".to_owned()]);
    };
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        errors.push("resourceType: must be \"Bundle\"".to_owned());
    }
    match bundle.get("type").and_then(Value::as_str) {
        Some(t) if BUNDLE_TYPES.contains(&t) => {}
        Some(t) => errors.push(format!("type: {t:?} is not a Bundle type")),
        None => errors.push("type: is required".to_owned()),
    }
    if let Some(id) = bundle.get("id")
        && !id.as_str().is_some_and(is_fhir_id)
    {
        errors.push(format!("id: {id} is not a FHIR id"));
    }
    let entries: &[Value] = match bundle.get("entry") {
        None => &[],
        Some(Value::Array(a)) => a,
        Some(_) => {
            errors.push("entry: must be an array".to_owned());
            &[]
        }
    };

    // (fullUrl, resourceType, id) of each entry, for reference resolution.
    let mut targets: Vec<(String, String, String)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        match e.get("fullUrl").and_then(Value::as_str) {
            Some(url) if is_full_url(url) => {
                if targets.iter().any(|(u, _, _)| u == url) {
                    errors.push(format!("entry[{i}].fullUrl: {url} appears twice"));
                }
                let ty = e.pointer("/resource/resourceType").and_then(Value::as_str).unwrap_or_default();
                let id = e.pointer("/resource/id").and_then(Value::as_str).unwrap_or_default();
                targets.push((url.to_owned(), ty.to_owned(), id.to_owned()));
            }
            Some(url) => errors.push(format!("entry[{i}].fullUrl: {url:?} is neither a urn:uuid, a urn:oid nor an absolute URL")),
            None => errors.push(format!("entry[{i}].fullUrl: is required")),
        }
        // A RESTful full URL ends with the resource's type and id.
        if let Some(url) = e.get("fullUrl").and_then(Value::as_str)
            && url.starts_with("http")
            && let (Some(ty), Some(id)) =
                (e.pointer("/resource/resourceType").and_then(Value::as_str), e.pointer("/resource/id").and_then(Value::as_str))
            && !url.ends_with(&format!("/{ty}/{id}"))
        {
            errors.push(format!("entry[{i}].fullUrl: {url} does not end with /{ty}/{id}"));
        }
    }
    let mut walk = Walk { full_urls: &targets, errors: &mut errors };
    for (i, e) in entries.iter().enumerate() {
        match e.get("resource") {
            Some(Value::Object(r)) => check_resource(&format!("entry[{i}].resource"), r, &mut walk),
            Some(_) => walk.errors.push(format!("entry[{i}].resource: must be an object")),
            None => walk.errors.push(format!("entry[{i}].resource: is required")),
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{DemoDataset, DemoStructure, dataset};

    fn find(ds: &DemoDataset, f: impl Fn(&DemoStructure) -> bool) -> &DemoStructure {
        ds.structures.iter().find(|d| f(d)).unwrap_or_else(|| panic!("no such demo structure"))
    }

    fn resources<'a>(bundle: &'a Value, ty: &str) -> Vec<&'a Value> {
        bundle["entry"]
            .as_array()
            .map(|a| a.iter().map(|e| &e["resource"]).filter(|r| r["resourceType"] == ty).collect())
            .unwrap_or_default()
    }

    fn full_url_of(bundle: &Value, resource: &Value) -> String {
        bundle["entry"]
            .as_array()
            .and_then(|a| a.iter().find(|e| &e["resource"] == resource))
            .and_then(|e| e["fullUrl"].as_str())
            .map(str::to_owned)
            .unwrap_or_default()
    }

    fn identifier<'a>(resource: &'a Value, type_code: &str) -> Option<&'a Value> {
        resource["identifier"].as_array()?.iter().find(|i| i["type"]["coding"][0]["code"] == type_code)
    }

    fn assert_valid(bundle: &Value) {
        if let Err(errors) = validate_bundle(bundle) {
            panic!("invalid bundle:\n{}\n{bundle:#}", errors.join("\n"));
        }
    }

    #[test]
    fn open_health_centre_exports_organization_location_and_legal_entity() {
        let ds = dataset();
        let le = &ds.legal_entities[0];
        let d = find(&ds, |d| d.structure.display_name == "Centre de santé Filieris Carmaux");
        let mut s = d.structure.clone();
        s.name = "structures/0190d6a0-0000-7000-8000-000000000001".into();
        s.status = StructureStatus::Open as i32;
        let b = structure_bundle(&s, Some(le), None);
        assert_valid(&b);
        assert_eq!(b["resourceType"], "Bundle");
        assert_eq!(b["type"], "collection");

        let orgs = resources(&b, "Organization");
        let org = orgs.iter().find(|o| o["name"] == s.display_name).unwrap_or_else(|| panic!("no establishment"));
        assert_eq!(org["meta"]["profile"][0], PROFILE_FR_CORE_ORGANIZATION);
        assert_eq!(org["active"], true);
        let finess = identifier(org, "FINEG").unwrap_or_else(|| panic!("no FINEG"));
        assert_eq!(finess["system"], SYSTEM_FINESS);
        assert_eq!(finess["value"], s.finess.as_str());
        assert_eq!(finess["type"]["coding"][0]["system"], SYSTEM_ID_TYPE);
        let siret = identifier(org, "SIRET").unwrap_or_else(|| panic!("no SIRET"));
        assert_eq!((siret["system"].as_str(), siret["value"].as_str()), (Some(SYSTEM_SIRENE), Some(s.siret.as_str())));
        assert_eq!(org["address"][0]["postalCode"], "81400");
        assert_eq!(org["extension"][0]["url"], EXT_USE_PERIOD);
        assert_eq!(org["extension"][0]["valuePeriod"]["start"], s.open_date.as_str());
        assert!(org["extension"][0]["valuePeriod"].get("end").is_none());

        // partOf → the legal entity, identified by its FINESS EJ.
        let ej = orgs.iter().find(|o| o["name"] == le.display_name).unwrap_or_else(|| panic!("no legal entity"));
        assert_eq!(org["partOf"]["reference"], full_url_of(&b, ej).as_str());
        let finej = identifier(ej, "FINEJ").unwrap_or_else(|| panic!("no FINEJ"));
        assert_eq!(finej["value"], le.finess.as_str());
        assert_eq!(identifier(ej, "SIREN").map(|i| &i["value"]), Some(&json!(le.siren)));

        let locs = resources(&b, "Location");
        assert_eq!(locs.len(), 1);
        assert_eq!(locs[0]["status"], "active");
        assert_eq!(locs[0]["managingOrganization"]["reference"], full_url_of(&b, org).as_str());
        assert_eq!(locs[0]["identifier"][0]["value"], s.name.as_str());

        // The ROR identifier is an identifier of the establishment.
        let ror = s.memberships.iter().find(|m| !m.ror_identifier.is_empty()).map(|m| m.ror_identifier.as_str());
        let ids = org["identifier"].as_array().cloned().unwrap_or_default();
        assert!(ids.iter().any(|i| i["system"] == SYSTEM_ROR_ID && i["value"].as_str() == ror));

        // The AFNOR certification is not exported; memberships are affiliations.
        let affiliations = resources(&b, "OrganizationAffiliation");
        assert_eq!(affiliations.len(), s.memberships.len());
        assert!(affiliations.iter().all(|a| a["participatingOrganization"]["reference"] == full_url_of(&b, org).as_str()));
        assert!(resources(&b, "HealthcareService").is_empty());
    }

    #[test]
    fn closed_pharmacy_is_inactive_with_an_end_of_use() {
        let ds = dataset();
        let d = find(&ds, |d| d.structure.display_name.contains("La Tarentaize"));
        let mut s = d.structure.clone();
        s.status = StructureStatus::Closed as i32;
        s.close_date = "2021-12-31".into();
        let b = structure_bundle(&s, Some(&ds.legal_entities[0]), None);
        assert_valid(&b);
        let org = resources(&b, "Organization").into_iter().find(|o| o["name"] == s.display_name).unwrap_or_else(|| panic!("no org"));
        assert_eq!(org["active"], false);
        let exts = org["extension"].as_array().cloned().unwrap_or_default();
        let period = exts.iter().find(|e| e["url"] == EXT_USE_PERIOD).unwrap_or_else(|| panic!("no use period"));
        assert_eq!(period["valuePeriod"]["end"], "2021-12-31");
        let access = exts.iter().find(|e| e["url"] == EXT_PHARMACY_ACCESS).unwrap_or_else(|| panic!("no access rule"));
        assert_eq!(access["valueCode"], "REASONED_OPENING");
        assert_eq!(resources(&b, "Location")[0]["status"], "inactive");
        assert!(org["alias"].as_array().is_some_and(|a| a.contains(&json!("Pharmacie de la Tarentaize"))));
    }

    #[test]
    fn antenna_is_a_location_inside_its_principal_centre() {
        let ds = dataset();
        let a = find(&ds, |d| d.structure.level == StructureLevel::Antenna as i32 && d.structure.ars_waiver);
        let principal = find(&ds, |d| Some(&d.key) == a.parent_key.as_ref());
        let b = structure_bundle(&a.structure, Some(&ds.legal_entities[0]), Some(&principal.structure));
        assert_valid(&b);

        let locs = resources(&b, "Location");
        assert_eq!(locs.len(), 2);
        let antenna = locs.iter().find(|l| l["name"] == a.structure.display_name).unwrap_or_else(|| panic!("no antenna"));
        let main = locs.iter().find(|l| l["name"] == principal.structure.display_name).unwrap_or_else(|| panic!("no principal"));
        let orgs = resources(&b, "Organization");
        let principal_org = orgs.iter().find(|o| o["name"] == principal.structure.display_name).unwrap_or_else(|| panic!("no org"));
        assert_eq!(antenna["partOf"]["reference"], full_url_of(&b, main).as_str());
        assert_eq!(antenna["managingOrganization"]["reference"], full_url_of(&b, principal_org).as_str());
        assert!(antenna.get("identifier").is_none(), "an antenna has no FINESS");
        let exts = antenna["extension"].as_array().cloned().unwrap_or_default();
        assert!(exts.iter().any(|e| e["url"] == EXT_WEEKLY_HOURS && e["valueInteger"] == a.structure.weekly_opening_hours));
        assert!(exts.iter().any(|e| e["url"] == EXT_ARS_WAIVER && e["valueBoolean"] == true));
        // The only FINESS in the bundle is the principal's (and the EJ's).
        let fineg: Vec<&Value> = orgs.iter().filter_map(|o| identifier(o, "FINEG")).collect();
        assert_eq!(fineg.len(), 1);
        assert_eq!(fineg[0]["value"], principal.structure.finess.as_str());
        // The antenna's own data never appears as an Organization.
        assert!(!orgs.iter().any(|o| o["name"] == a.structure.display_name));
    }

    #[test]
    fn antenna_without_its_principal_still_validates() {
        let ds = dataset();
        let a = find(&ds, |d| d.structure.level == StructureLevel::Antenna as i32);
        let b = structure_bundle(&a.structure, None, None);
        assert_valid(&b);
        assert_eq!(resources(&b, "Location").len(), 1);
        assert!(resources(&b, "Organization").is_empty());
    }

    #[test]
    fn ssiad_exports_its_authorisation_and_its_places() {
        let ds = dataset();
        let d = find(&ds, |d| d.structure.display_name == "SSIAD Filieris Lens");
        let b = structure_bundle(&d.structure, Some(&ds.legal_entities[0]), None);
        assert_valid(&b);
        let services = resources(&b, "HealthcareService");
        assert_eq!(services.len(), d.structure.authorisations.len() + d.structure.capacities.len());
        let org_url = full_url_of(&b, resources(&b, "Organization")[0]);
        assert!(services.iter().all(|s| s["providedBy"]["reference"] == org_url.as_str()));

        let auth = &d.structure.authorisations[0];
        let by_arhgos =
            services.iter().find(|s| s["identifier"][0]["system"] == SYSTEM_ARHGOS).unwrap_or_else(|| panic!("no ARHGOS identifier"));
        assert_eq!(by_arhgos["identifier"][0]["value"], auth.arhgos_number.as_str());
        assert_eq!(by_arhgos["name"], auth.activity.as_str());

        let places = services
            .iter()
            .filter_map(|s| s["extension"].as_array())
            .flatten()
            .find(|e| e["url"] == EXT_CAPACITY)
            .unwrap_or_else(|| panic!("no capacity extension"));
        let sub = |name: &str| places["extension"].as_array().and_then(|a| a.iter().find(|e| e["url"] == name)).cloned();
        assert_eq!(sub("installed").map(|e| e["valueInteger"].clone()), Some(json!(160)));
        assert_eq!(sub("unit").map(|e| e["valueCode"].clone()), Some(json!("PLACE")));
        assert_eq!(sub("modality").map(|e| e["valueCode"].clone()), Some(json!("HOME")));
    }

    #[test]
    fn hospital_exports_one_service_per_authorisation_and_hides_misspellings() {
        let ds = dataset();
        let d = find(&ds, |d| d.structure.display_name.contains("Freyming-Merlebach – Creutzwald"));
        let b = structure_bundle(&d.structure, Some(&ds.legal_entities[0]), None);
        assert_valid(&b);
        let services = resources(&b, "HealthcareService");
        assert_eq!(services.len(), d.structure.authorisations.len());
        assert!(services.iter().all(|s| s["identifier"][0]["system"] == SYSTEM_ARHGOS));
        let org =
            resources(&b, "Organization").into_iter().find(|o| o["name"] == d.structure.display_name).unwrap_or_else(|| panic!("no org"));
        let aliases: Vec<&str> = org["alias"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        assert!(aliases.contains(&"HOPITAL DE FREYMING"));
        assert!(!aliases.iter().any(|a| a.contains("Freyding")), "misspellings are never published");
        // Beds of a sanitary establishment sit on its Location.
        let loc = &resources(&b, "Location")[0];
        let capacity_count = loc["extension"].as_array().map(|a| a.iter().filter(|e| e["url"] == EXT_CAPACITY).count());
        assert_eq!(capacity_count, Some(d.structure.capacities.len()));
        // GHT membership as an affiliation to a grouping Organization.
        let ght = resources(&b, "Organization").into_iter().find(|o| o["name"].as_str().is_some_and(|n| n.starts_with("GHT Moselle-Est")));
        assert!(ght.is_some());
    }

    #[test]
    fn every_demo_structure_exports_a_valid_bundle() {
        let ds = dataset();
        for d in &ds.structures {
            let parent = d.parent_key.as_ref().and_then(|k| ds.structures.iter().find(|p| &p.key == k)).map(|p| &p.structure);
            let b = structure_bundle(&d.structure, Some(&ds.legal_entities[0]), parent);
            if let Err(errors) = validate_bundle(&b) {
                panic!("{}: {}", d.structure.display_name, errors.join("; "));
            }
        }
    }

    #[test]
    fn export_is_deterministic() {
        let ds = dataset();
        let d = &ds.structures[0];
        assert_eq!(structure_bundle(&d.structure, None, None), structure_bundle(&d.structure, None, None));
        let other = &ds.structures[1];
        assert_ne!(structure_bundle(&d.structure, None, None)["id"], structure_bundle(&other.structure, None, None)["id"]);
    }

    #[test]
    fn uuids_are_well_formed_version_8() {
        let u = uuid_for("org:structures/abc");
        assert!(is_urn_uuid(&format!("urn:uuid:{u}")), "{u}");
        assert_eq!(&u[14..15], "8");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(uuid_for("a"), uuid_for("b"));
    }

    fn minimal_bundle() -> Value {
        json!({
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                { "fullUrl": "urn:uuid:00000000-0000-8000-8000-000000000001",
                  "resource": { "resourceType": "Organization", "id": "00000000-0000-8000-8000-000000000001", "name": "A", "active": true,
                                "identifier": [{ "system": SYSTEM_FINESS, "value": "750712184" }] } },
                { "fullUrl": "urn:uuid:00000000-0000-8000-8000-000000000002",
                  "resource": { "resourceType": "Location", "name": "L", "status": "active",
                                "managingOrganization": { "reference": "urn:uuid:00000000-0000-8000-8000-000000000001" },
                                "extension": [{ "url": EXT_USE_PERIOD, "valuePeriod": { "start": "2018-02-20" } }] } },
                { "fullUrl": "https://example.org/fhir/Organization/x",
                  "resource": { "resourceType": "Organization", "id": "x", "name": "X" } },
                { "fullUrl": "urn:uuid:00000000-0000-8000-8000-000000000003",
                  "resource": { "resourceType": "HealthcareService", "name": "S", "providedBy": { "reference": "Organization/x" } } }
            ]
        })
    }

    #[test]
    fn validator_accepts_a_minimal_bundle() {
        assert_valid(&minimal_bundle());
        assert_valid(&json!({ "resourceType": "Bundle", "type": "searchset" }));
    }

    #[test]
    fn validator_reports_each_broken_rule() {
        type Case = (&'static str, fn(&mut Value), &'static str);
        let cases: &[Case] = &[
            ("not a bundle", |b| b["resourceType"] = json!("Organization"), "resourceType"),
            ("bad bundle type", |b| b["type"] = json!("bag"), "type"),
            (
                "missing fullUrl",
                |b| {
                    if let Some(e) = b["entry"][0].as_object_mut() {
                        e.remove("fullUrl");
                    }
                },
                "entry[0].fullUrl",
            ),
            ("relative fullUrl", |b| b["entry"][1]["fullUrl"] = json!("Location/2"), "entry[1].fullUrl"),
            ("duplicate fullUrl", |b| b["entry"][1]["fullUrl"] = b["entry"][0]["fullUrl"].clone(), "appears twice"),
            (
                "missing resource",
                |b| {
                    if let Some(e) = b["entry"][1].as_object_mut() {
                        e.remove("resource");
                    }
                },
                "entry[1].resource",
            ),
            ("unknown type", |b| b["entry"][1]["resource"]["resourceType"] = json!("Clinic"), "not an R4 resource type"),
            (
                "dangling reference",
                |b| b["entry"][1]["resource"]["managingOrganization"]["reference"] = json!("urn:uuid:00000000-0000-8000-8000-00000000dead"),
                "does not resolve",
            ),
            (
                "dangling relative reference",
                |b| b["entry"][3]["resource"]["providedBy"]["reference"] = json!("Organization/y"),
                "does not resolve",
            ),
            (
                "identifier without system",
                |b| {
                    if let Some(i) = b["entry"][0]["resource"]["identifier"][0].as_object_mut() {
                        i.remove("system");
                    }
                },
                "identifier[0].system",
            ),
            ("identifier without value", |b| b["entry"][0]["resource"]["identifier"][0]["value"] = json!(""), "identifier[0].value"),
            (
                "bad date",
                |b| b["entry"][1]["resource"]["extension"][0]["valuePeriod"]["start"] = json!("20/02/2018"),
                "not a FHIR dateTime",
            ),
            (
                "impossible date",
                |b| b["entry"][1]["resource"]["extension"][0]["valuePeriod"]["start"] = json!("2021-02-30"),
                "not a FHIR dateTime",
            ),
            (
                "reversed period",
                |b| b["entry"][1]["resource"]["extension"][0]["valuePeriod"]["end"] = json!("2017-01-01"),
                "starts after it ends",
            ),
            (
                "bad valueDate",
                |b| b["entry"][1]["resource"]["extension"][0] = json!({ "url": "https://x", "valueDate": "2018-2-20" }),
                "not a FHIR date",
            ),
            (
                "extension without url",
                |b| {
                    if let Some(e) = b["entry"][1]["resource"]["extension"][0].as_object_mut() {
                        e.remove("url");
                    }
                },
                "needs a url",
            ),
            ("active as string", |b| b["entry"][0]["resource"]["active"] = json!("true"), "must be a boolean"),
            ("bad location status", |b| b["entry"][1]["resource"]["status"] = json!("open"), "status"),
            (
                "RESTful fullUrl not matching the id",
                |b| b["entry"][2]["resource"]["id"] = json!("other"),
                "does not end with /Organization/other",
            ),
            ("null value", |b| b["entry"][0]["resource"]["name"] = Value::Null, "null"),
            ("empty array", |b| b["entry"][1]["resource"]["extension"] = json!([]), "empty arrays"),
        ];
        for (label, mutate, needle) in cases {
            let mut b = minimal_bundle();
            mutate(&mut b);
            match validate_bundle(&b) {
                Ok(()) => panic!("{label}: accepted"),
                Err(errors) => assert!(errors.iter().any(|e| e.contains(needle)), "{label}: {errors:?} lacks {needle:?}"),
            }
        }
        assert!(validate_bundle(&json!([])).is_err());
    }

    #[test]
    fn date_formats() {
        for ok in ["2018", "2018-02", "2018-02-20", "2024-02-29"] {
            assert!(is_fhir_date(ok), "{ok}");
        }
        for bad in ["18", "2018-2", "2018-13", "2018-02-30", "2018-02-20T10:00:00Z", "2023-02-29"] {
            assert!(!is_fhir_date(bad), "{bad}");
        }
        for ok in ["2018-02-20", "2018-02-20T10:00:00Z", "2018-02-20T10:00:00.123+01:00", "2018-02-20T23:59:60-05:30"] {
            assert!(is_fhir_date_time(ok), "{ok}");
        }
        for bad in ["2018-02-20T10:00Z", "2018-02-20T10:00:00", "2018-02-20T24:00:00Z", "2018-02-20T10:00:00+1:00"] {
            assert!(!is_fhir_date_time(bad), "{bad}");
        }
    }
}
