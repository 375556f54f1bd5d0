//! Demo data set of the registry: the shape of the Filieris offer of care as
//! inventoried by the COG 2022-2024 (situation at 1 January / 1 March 2021).
//!
//! Every identifier is SYNTHETIC: a FINESS number is the department code, then
//! "0", then a running number in the 99xxx range, then a computed Luhn key
//! (rules F6/F7), so it is valid but names no real establishment; SIREN and
//! SIRET numbers are synthetic with a computed Luhn key. Every record carries
//! `demo = true`. Names, towns, counts, dates and aliases follow the domain
//! reference (`shared/domain/registry.md` §1.3-§1.5, §3.3); addresses, street
//! numbers, capacities other than those quoted in the sources and opening
//! dates other than those quoted are plausible inventions.
//!
//! The data set is deterministic: no randomness, only the order of the tables
//! below and arithmetic on running indexes.

use std::collections::{BTreeMap, BTreeSet};

use filieris_kernel::{Finess, luhn};
use filieris_proto::registry::{
    Address, Alias, AliasKind, Authorisation, Capacity, CapacityModality, CapacityUnit, Category, Certification, CertificationScheme,
    GroupMode, LegalEntity, Membership, MembershipKind, PharmacyAccessRule, Structure, StructureGroup, StructureLevel, Subtype,
};
use filieris_proto::types::Region;

/// The whole demo data set, in load order: legal entities, then structures
/// (a principal centre always comes before its antennas, a sanitary
/// establishment before the EHPAD integrated in it), then groups.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoDataset {
    /// Legal entities (FINESS EJ). CANSSM holds every structure.
    pub legal_entities: Vec<LegalEntity>,
    /// Structures with their stable keys.
    pub structures: Vec<DemoStructure>,
    /// Indicator groups (COG 2022-2024 financial lines and regions).
    pub groups: Vec<DemoGroup>,
}

/// One structure and the keys the loader turns into resource names.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoStructure {
    /// Stable key: the FINESS for an establishment, `antenna:<principal
    /// finess>:<n>` for an antenna.
    pub key: String,
    /// Antennas: key of the principal health centre.
    pub parent_key: Option<String>,
    /// FINESS EJ of the legal entity holding the structure.
    pub legal_entity_key: Option<String>,
    /// Integrated EHPAD: key of the sanitary establishment it is integrated in.
    pub integrated_in_key: Option<String>,
    /// The structure; `name`, `etag`, `status`, `parent`, `legal_entity` and
    /// `integrated_in` are left empty for the loader to fill.
    pub structure: Structure,
}

/// One indicator group; EXPLICIT groups list their members by key.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoGroup {
    /// The group (name and etag left empty).
    pub group: StructureGroup,
    /// EXPLICIT groups: keys of the member structures (empty for RULE groups).
    pub member_keys: Vec<String>,
}

/// Display name of the national legal entity.
pub const CANSSM_NAME: &str = "Caisse autonome nationale de la sécurité sociale dans les mines";

// ---------------------------------------------------------------------------
// Identifier helpers
// ---------------------------------------------------------------------------

/// Appends the Luhn key (computed by the kernel) to a string of digits. A
/// body that is not all digits cannot occur with the tables below; it would
/// be returned without a key and rejected by the validity tests.
fn with_luhn_key(body: &str) -> String {
    match luhn::check_digit(body) {
        Some(key) => format!("{body}{key}"),
        None => body.to_owned(),
    }
}

/// Regional directorate of a department (the directorate is not the ARS
/// region: Bourgogne-Franche-Comté belongs to the Est directorate).
fn region_of(dept: &str) -> Region {
    match dept {
        "59" | "62" => Region::Nord,
        "57" | "54" | "71" | "70" | "58" => Region::Est,
        _ => Region::Sud,
    }
}

/// INSEE code and label of the ARS region of a department.
fn ars_of(dept: &str) -> (&'static str, &'static str) {
    match dept {
        "59" | "62" => ("32", "ARS Hauts-de-France"),
        "57" | "54" => ("44", "ARS Grand Est"),
        "71" | "70" | "58" => ("27", "ARS Bourgogne-Franche-Comté"),
        "81" | "30" | "34" | "12" | "11" => ("76", "ARS Occitanie"),
        "13" => ("93", "ARS Provence-Alpes-Côte d'Azur"),
        _ => ("84", "ARS Auvergne-Rhône-Alpes"),
    }
}

/// Departmental council of a department (medico-social authorisations).
fn council_of(dept: &str) -> String {
    let name = match dept {
        "59" => "Nord",
        "62" => "Pas-de-Calais",
        "57" => "Moselle",
        "54" => "Meurthe-et-Moselle",
        "71" => "Saône-et-Loire",
        "81" => "Tarn",
        "30" => "Gard",
        "42" => "Loire",
        _ => dept,
    };
    format!("CD {name}")
}

/// Towns of the Lorraine iron basin in Moselle (the rest of Moselle in this
/// data set is the coal basin).
const MOSELLE_IRON_TOWNS: &[&str] =
    &["Hayange", "Fameck", "Algrange", "Florange", "Rombas", "Moyeuvre-Grande", "Audun-le-Tiche", "Ottange", "Knutange"];

/// Mining basin (territory label) of a town.
fn territory_of(dept: &str, city: &str) -> &'static str {
    match dept {
        "59" | "62" => "Bassin minier du Nord-Pas-de-Calais",
        "57" if MOSELLE_IRON_TOWNS.contains(&city) => "Bassin ferrifère lorrain",
        "57" => "Bassin houiller lorrain",
        "54" => "Bassin ferrifère lorrain",
        "71" => "Bassin minier de Blanzy-Montceau",
        "70" => "Bassin houiller de Ronchamp",
        "81" => "Bassin houiller de Carmaux",
        "30" => "Bassin houiller des Cévennes",
        "34" => "Bassin houiller de Graissessac",
        "12" => "Bassin houiller de Decazeville",
        "42" => "Bassin houiller de la Loire",
        "38" => "Bassin anthracifère de La Mure",
        "13" => "Bassin minier de Provence",
        "63" => "Bassin houiller de Saint-Éloy",
        "07" => "Ardèche méridionale",
        _ => "Hors bassin minier",
    }
}

// ---------------------------------------------------------------------------
// Place tables
// ---------------------------------------------------------------------------

/// A place: the label used in the display name (town, or town + quarter when
/// a town has several centres), the city, its department and postal code.
#[derive(Debug, Clone, Copy)]
struct Place {
    label: &'static str,
    city: &'static str,
    dept: &'static str,
    postal: &'static str,
}

const fn t(city: &'static str, dept: &'static str, postal: &'static str) -> Place {
    Place { label: city, city, dept, postal }
}

const fn q(label: &'static str, city: &'static str, dept: &'static str, postal: &'static str) -> Place {
    Place { label, city, dept, postal }
}

/// Polyvalent health centres of the Nord directorate (58): the 118 centres of
/// 2018 split Nord 51 / Est 43 / Sud 24, scaled to 135.
const POLYVALENT_NORD: [Place; 58] = [
    q("Lens Centre", "Lens", "62", "62300"),
    q("Lens Grande Résidence", "Lens", "62", "62300"),
    q("Liévin Centre", "Liévin", "62", "62800"),
    q("Liévin Calonne", "Liévin", "62", "62800"),
    t("Hénin-Beaumont", "62", "62110"),
    t("Carvin", "62", "62220"),
    t("Auby", "59", "59950"),
    q("Bully-les-Mines Centre", "Bully-les-Mines", "62", "62160"),
    q("Bully-les-Mines Les Brebis", "Bully-les-Mines", "62", "62160"),
    t("Libercourt", "62", "62820"),
    t("Roost-Warendin", "59", "59286"),
    t("Vieux-Condé", "59", "59690"),
    t("Méricourt", "62", "62680"),
    t("Rouvroy", "62", "62320"),
    t("Avion", "62", "62210"),
    t("Billy-Montigny", "62", "62420"),
    t("Sallaumines", "62", "62430"),
    t("Noyelles-sous-Lens", "62", "62221"),
    t("Harnes", "62", "62440"),
    t("Courrières", "62", "62710"),
    t("Oignies", "62", "62590"),
    t("Montigny-en-Gohelle", "62", "62640"),
    t("Grenay", "62", "62160"),
    t("Mazingarbe", "62", "62670"),
    t("Sains-en-Gohelle", "62", "62114"),
    t("Noeux-les-Mines", "62", "62290"),
    t("Bruay-la-Buissière", "62", "62700"),
    t("Auchel", "62", "62260"),
    t("Divion", "62", "62460"),
    t("Barlin", "62", "62620"),
    t("Houdain", "62", "62150"),
    t("Marles-les-Mines", "62", "62540"),
    t("Calonne-Ricouart", "62", "62470"),
    t("Douai", "59", "59500"),
    t("Sin-le-Noble", "59", "59450"),
    t("Waziers", "59", "59119"),
    t("Lallaing", "59", "59167"),
    t("Somain", "59", "59490"),
    t("Aniche", "59", "59580"),
    t("Auberchicourt", "59", "59165"),
    t("Escaudain", "59", "59124"),
    t("Denain", "59", "59220"),
    t("Lourches", "59", "59156"),
    t("Douchy-les-Mines", "59", "59282"),
    t("Raismes", "59", "59590"),
    t("Anzin", "59", "59410"),
    t("Fresnes-sur-Escaut", "59", "59970"),
    t("Condé-sur-l'Escaut", "59", "59163"),
    t("Onnaing", "59", "59264"),
    t("Wallers", "59", "59135"),
    t("Dechy", "59", "59187"),
    t("Flers-en-Escrebieux", "59", "59128"),
    t("Évin-Malmaison", "62", "62141"),
    t("Dourges", "62", "62119"),
    t("Wingles", "62", "62410"),
    t("Loos-en-Gohelle", "62", "62750"),
    t("Haillicourt", "62", "62940"),
    t("Pecquencourt", "59", "59146"),
];

/// Polyvalent health centres of the Est directorate (49).
const POLYVALENT_EST: [Place; 49] = [
    t("Freyming-Merlebach", "57", "57800"),
    q("Forbach Centre", "Forbach", "57", "57600"),
    q("Forbach Le Wiesberg", "Forbach", "57", "57600"),
    t("Creutzwald", "57", "57150"),
    t("Carling", "57", "57490"),
    t("Petite-Rosselle", "57", "57540"),
    t("Stiring-Wendel", "57", "57350"),
    t("Behren-lès-Forbach", "57", "57460"),
    t("Farébersviller", "57", "57450"),
    t("Hombourg-Haut", "57", "57470"),
    t("Saint-Avold", "57", "57500"),
    t("Spicheren", "57", "57350"),
    t("Cocheren", "57", "57800"),
    t("Folschviller", "57", "57730"),
    t("Faulquemont", "57", "57380"),
    t("Longeville-lès-Saint-Avold", "57", "57740"),
    t("Porcelette", "57", "57890"),
    t("Ham-sous-Varsberg", "57", "57880"),
    t("Falck", "57", "57550"),
    t("Boulay-Moselle", "57", "57220"),
    t("Schoeneck", "57", "57350"),
    t("Morsbach", "57", "57600"),
    t("Théding", "57", "57450"),
    t("Hayange", "57", "57700"),
    t("Fameck", "57", "57290"),
    t("Algrange", "57", "57440"),
    t("Florange", "57", "57190"),
    t("Rombas", "57", "57120"),
    t("Moyeuvre-Grande", "57", "57250"),
    t("Audun-le-Tiche", "57", "57390"),
    t("Ottange", "57", "57840"),
    t("Villerupt", "54", "54190"),
    t("Jœuf", "54", "54240"),
    t("Homécourt", "54", "54310"),
    t("Briey", "54", "54150"),
    t("Piennes", "54", "54490"),
    t("Longwy", "54", "54400"),
    t("Mont-Saint-Martin", "54", "54350"),
    t("Tucquegnieux", "54", "54640"),
    t("Auboué", "54", "54580"),
    t("Hussigny-Godbrange", "54", "54590"),
    q("Montceau-les-Mines Centre", "Montceau-les-Mines", "71", "71300"),
    q("Montceau-les-Mines Les Équipages", "Montceau-les-Mines", "71", "71300"),
    t("Blanzy", "71", "71450"),
    t("Sanvignes-les-Mines", "71", "71410"),
    t("Saint-Vallier", "71", "71230"),
    t("Montchanin", "71", "71210"),
    t("Le Creusot", "71", "71200"),
    t("Ronchamp", "70", "70250"),
];

/// Polyvalent health centres of the Sud directorate (28).
const POLYVALENT_SUD: [Place; 28] = [
    t("Carmaux", "81", "81400"),
    t("Blaye-les-Mines", "81", "81400"),
    t("Saint-Benoît-de-Carmaux", "81", "81400"),
    t("Cagnac-les-Mines", "81", "81130"),
    t("Albi", "81", "81000"),
    q("Alès Centre", "Alès", "30", "30100"),
    q("Alès Rochebelle", "Alès", "30", "30100"),
    t("Salindres", "30", "30340"),
    t("La Grand-Combe", "30", "30110"),
    t("Bessèges", "30", "30160"),
    t("Saint-Ambroix", "30", "30500"),
    t("Saint-Martin-de-Valgalgues", "30", "30520"),
    t("Le Martinet", "30", "30960"),
    t("Molières-sur-Cèze", "30", "30410"),
    t("Graissessac", "34", "34260"),
    t("Bédarieux", "34", "34600"),
    t("Decazeville", "12", "12300"),
    t("Aubin", "12", "12110"),
    t("Cransac", "12", "12110"),
    q("Saint-Étienne Tarentaize", "Saint-Étienne", "42", "42000"),
    q("Saint-Étienne Montreynaud", "Saint-Étienne", "42", "42000"),
    t("La Ricamarie", "42", "42150"),
    t("Firminy", "42", "42700"),
    t("Roche-la-Molière", "42", "42230"),
    t("Le Chambon-Feugerolles", "42", "42500"),
    t("La Mure", "38", "38350"),
    t("Gardanne", "13", "13120"),
    t("Saint-Éloy-les-Mines", "63", "63700"),
];

/// Dental health centres (13).
const DENTAL: [Place; 13] = [
    t("Lens", "62", "62300"),
    t("Liévin", "62", "62800"),
    t("Hénin-Beaumont", "62", "62110"),
    t("Bruay-la-Buissière", "62", "62700"),
    t("Douai", "59", "59500"),
    t("Denain", "59", "59220"),
    t("Freyming-Merlebach", "57", "57800"),
    t("Forbach", "57", "57600"),
    t("Hayange", "57", "57700"),
    t("Montceau-les-Mines", "71", "71300"),
    t("Alès", "30", "30100"),
    t("Carmaux", "81", "81400"),
    t("Saint-Étienne", "42", "42000"),
];

/// The nursing health centre (1).
const NURSING: Place = t("Saint-Avold", "57", "57500");

/// Antennas (14): (principal centre label, antenna town, weekly opening
/// hours, ARS waiver). Waivers of the 20-hour limit were obtained notably in
/// the Nord.
const ANTENNAS: [(&str, Place, i32, bool); 14] = [
    ("Noeux-les-Mines", t("Hersin-Coupigny", "62", "62530"), 24, true),
    ("Montigny-en-Gohelle", t("Fouquières-lès-Lens", "62", "62740"), 18, false),
    ("Évin-Malmaison", t("Leforest", "62", "62790"), 28, true),
    ("Noyelles-sous-Lens", t("Courcelles-lès-Lens", "62", "62970"), 16, false),
    ("Escaudain", t("Abscon", "59", "59215"), 30, true),
    ("Vieux-Condé", t("Hergnies", "59", "59199"), 12, false),
    ("Farébersviller", t("Seingbouse", "57", "57455"), 15, false),
    ("Forbach Centre", t("Rosbruck", "57", "57800"), 10, false),
    ("Hayange", t("Knutange", "57", "57240"), 20, false),
    ("Longwy", t("Herserange", "54", "54440"), 14, false),
    ("Montceau-les-Mines Centre", t("Ciry-le-Noble", "71", "71420"), 12, false),
    ("Alès Centre", t("Cendras", "30", "30480"), 16, false),
    ("Decazeville", t("Firmi", "12", "12300"), 10, false),
    ("Graissessac", t("Le Bousquet-d'Orb", "34", "34260"), 8, false),
];

/// Health centres certified AFNOR "Engagement de service – Quali'santé" in
/// 2018 (Carmaux, 5 October 2018, and a group of 9 in Hauts-de-France).
const AFNOR_HDF: [&str; 9] = [
    "Auby",
    "Bully-les-Mines Centre",
    "Bully-les-Mines Les Brebis",
    "Hénin-Beaumont",
    "Libercourt",
    "Roost-Warendin",
    "Vieux-Condé",
    "Méricourt",
    "Rouvroy",
];

/// Seven centres at level 3 of the ANCS quality plan in 2018 (the source
/// gives the number, not the names: this choice is illustrative).
const PAQ_LEVEL_3: [&str; 7] = [
    "Lens Centre",
    "Liévin Centre",
    "Forbach Centre",
    "Freyming-Merlebach",
    "Alès Centre",
    "Montceau-les-Mines Centre",
    "Saint-Étienne Tarentaize",
];

/// Gard centres founding members of the CPTS "entre Cèze et Gardon en
/// Cévennes" (ECEGEC), created on 27 March 2019 and chaired by Filieris.
const ECEGEC: [&str; 9] = [
    "Alès Centre",
    "Alès Rochebelle",
    "Salindres",
    "La Grand-Combe",
    "Bessèges",
    "Saint-Ambroix",
    "Saint-Martin-de-Valgalgues",
    "Le Martinet",
    "Molières-sur-Cèze",
];

/// Opening dates quoted in the sources (all others are invented).
fn quoted_open_date(label: &str) -> Option<&'static str> {
    match label {
        // Opened on 20 February 2018 (inaugurated on 20 April 2018, an event).
        "Salindres" => Some("2018-02-20"),
        // New centre grouping the L'Hôpital and Carling sites, July 2018.
        "Carling" => Some("2018-07-02"),
        // Two addresses grouped in one renovated site on 1 December 2018.
        "Petite-Rosselle" => Some("2018-12-01"),
        _ => None,
    }
}

/// SSIAD (16): (town, installed places). The places add up to the 1,638 of
/// the COG 2022-2024 inventory.
const SSIAD: [(Place, i32); 16] = [
    (t("Lens", "62", "62300"), 160),
    (t("Liévin", "62", "62800"), 120),
    (t("Hénin-Beaumont", "62", "62110"), 110),
    (t("Bruay-la-Buissière", "62", "62700"), 95),
    (t("Douai", "59", "59500"), 130),
    (t("Denain", "59", "59220"), 100),
    (t("Anzin", "59", "59410"), 85),
    (t("Freyming-Merlebach", "57", "57800"), 120),
    (t("Forbach", "57", "57600"), 110),
    (t("Creutzwald", "57", "57150"), 70),
    (t("Saint-Avold", "57", "57500"), 80),
    (t("Hayange", "57", "57700"), 75),
    (t("Montceau-les-Mines", "71", "71300"), 85),
    (t("Alès", "30", "30100"), 120),
    (t("Carmaux", "81", "81400"), 98),
    (t("Saint-Étienne", "42", "42000"), 80),
];

/// Total SSIAD places of the COG 2022-2024 inventory.
pub const SSIAD_PLACES: i32 = 1638;

/// Pharmacies (25): (label, place, access rule).
const PHARMACIES: [(&str, Place, PharmacyAccessRule); 25] = [
    ("Lens", t("Lens", "62", "62300"), PharmacyAccessRule::AffiliatesOnly),
    ("Liévin", t("Liévin", "62", "62800"), PharmacyAccessRule::AffiliatesOnly),
    ("Hénin-Beaumont", t("Hénin-Beaumont", "62", "62110"), PharmacyAccessRule::AffiliatesOnly),
    ("Carvin", t("Carvin", "62", "62220"), PharmacyAccessRule::AffiliatesOnly),
    ("Bruay-la-Buissière", t("Bruay-la-Buissière", "62", "62700"), PharmacyAccessRule::AffiliatesOnly),
    ("Noeux-les-Mines", t("Noeux-les-Mines", "62", "62290"), PharmacyAccessRule::AffiliatesOnly),
    ("Harnes", t("Harnes", "62", "62440"), PharmacyAccessRule::AffiliatesOnly),
    ("Billy-Montigny", t("Billy-Montigny", "62", "62420"), PharmacyAccessRule::AffiliatesOnly),
    ("Oignies", t("Oignies", "62", "62590"), PharmacyAccessRule::AffiliatesOnly),
    ("Douai", t("Douai", "59", "59500"), PharmacyAccessRule::AffiliatesOnly),
    ("Sin-le-Noble", t("Sin-le-Noble", "59", "59450"), PharmacyAccessRule::AffiliatesOnly),
    ("Somain", t("Somain", "59", "59490"), PharmacyAccessRule::AffiliatesOnly),
    ("Denain", t("Denain", "59", "59220"), PharmacyAccessRule::AffiliatesOnly),
    ("Escaudain", t("Escaudain", "59", "59124"), PharmacyAccessRule::AffiliatesOnly),
    ("Anzin", t("Anzin", "59", "59410"), PharmacyAccessRule::AffiliatesOnly),
    // Bourgogne-Franche-Comté: the Claude Gauthier and Les Gautherets
    // pharmacies were grouped in the building of the Équipages health centre.
    ("Les Équipages – Montceau-les-Mines", t("Montceau-les-Mines", "71", "71300"), PharmacyAccessRule::AffiliatesOnly),
    // Open to the whole population since their origin.
    ("Graissessac", t("Graissessac", "34", "34260"), PharmacyAccessRule::OpenToAll),
    ("La Vernarède", t("La Vernarède", "30", "30530"), PharmacyAccessRule::OpenToAll),
    ("Carmaux", t("Carmaux", "81", "81400"), PharmacyAccessRule::AffiliatesOnly),
    ("Alès", t("Alès", "30", "30100"), PharmacyAccessRule::AffiliatesOnly),
    ("La Grand-Combe", t("La Grand-Combe", "30", "30110"), PharmacyAccessRule::AffiliatesOnly),
    ("Gardanne", t("Gardanne", "13", "13120"), PharmacyAccessRule::AffiliatesOnly),
    // Reasoned opening: any scheme if prescribed by a Filieris centre.
    ("La Tarentaize – Saint-Étienne", t("Saint-Étienne", "42", "42000"), PharmacyAccessRule::ReasonedOpening),
    ("La Ricamarie", t("La Ricamarie", "42", "42150"), PharmacyAccessRule::ReasonedOpening),
    ("La Mure", t("La Mure", "38", "38350"), PharmacyAccessRule::AffiliatesOnly),
];

/// Street names for the invented addresses.
const STREETS: [&str; 12] = [
    "rue Jean Jaurès",
    "rue de la Fosse",
    "avenue de la République",
    "rue Émile Zola",
    "place de la Mairie",
    "rue du 8 Mai 1945",
    "rue Pasteur",
    "rue Victor Hugo",
    "rue des Écoles",
    "rue Salvador Allende",
    "rue de la Gare",
    "boulevard des Mineurs",
];

// ---------------------------------------------------------------------------
// Small constructors
// ---------------------------------------------------------------------------

fn alias(text: &str, kind: AliasKind) -> Alias {
    Alias { text: text.to_owned(), kind: kind as i32 }
}

fn capacity(unit: CapacityUnit, modality: CapacityModality, discipline: &str, authorised: i32, installed: i32, from: &str) -> Capacity {
    Capacity {
        unit: unit as i32,
        modality: modality as i32,
        discipline: discipline.to_owned(),
        authorised,
        installed,
        valid_from: from.to_owned(),
        ..Default::default()
    }
}

fn membership(kind: MembershipKind, grouping: &str, role: &str, from: &str) -> Membership {
    Membership {
        kind: kind as i32,
        grouping: grouping.to_owned(),
        role: role.to_owned(),
        valid_from: from.to_owned(),
        ..Default::default()
    }
}

fn certification(scheme: CertificationScheme, version: &str, level: &str, decision: &str, valid_to: &str) -> Certification {
    Certification {
        scheme: scheme as i32,
        scheme_version: version.to_owned(),
        level: level.to_owned(),
        decision_date: decision.to_owned(),
        valid_to: valid_to.to_owned(),
    }
}

/// The later of two ISO dates (lexical order is chronological order).
fn later(a: &str, b: &str) -> String {
    if a >= b { a.to_owned() } else { b.to_owned() }
}

/// An invented historical opening date between 1947 and 1991, spread by index.
fn historic_date(n: u32) -> String {
    let y = 1947 + (n * 13) % 45;
    let m = 1 + (n * 5) % 12;
    let d = 1 + (n * 11) % 28;
    format!("{y:04}-{m:02}-{d:02}")
}

// ---------------------------------------------------------------------------
// Builder
// ---------------------------------------------------------------------------

struct Builder {
    /// Running FINESS number per department.
    finess_seq: BTreeMap<String, u32>,
    /// Running SIRET sequence (NIC without key) under the CANSSM SIREN.
    nic_seq: u32,
    /// Running ARHGOS sequence.
    arhgos_seq: u32,
    /// Running ROR sequence.
    ror_seq: u32,
    /// Running index of structures (varies addresses and dates).
    n: u32,
    canssm_finess: String,
    canssm_siren: String,
    out: Vec<DemoStructure>,
}

impl Builder {
    fn new() -> Self {
        let mut b = Builder {
            finess_seq: BTreeMap::new(),
            nic_seq: 0,
            arhgos_seq: 0,
            ror_seq: 0,
            n: 0,
            canssm_finess: String::new(),
            canssm_siren: with_luhn_key("18007599"),
            out: Vec::new(),
        };
        b.canssm_finess = b.finess("75");
        b
    }

    /// Next synthetic FINESS of a department: department + "0" + running
    /// number in the 99xxx range, plus the Luhn key.
    fn finess(&mut self, dept: &str) -> String {
        let seq = self.finess_seq.entry(dept.to_owned()).or_insert(0);
        *seq += 1;
        let prefix = format!("{dept}0{:05}", 99_000 + *seq);
        // The kernel computes the key (rules F6/F7, E4). A department code
        // it refuses would leave the 8-character prefix, which the validity
        // tests and the registry's own validation reject.
        Finess::from_prefix(&prefix).map_or(prefix, |f| f.as_str().to_owned())
    }

    /// Next SIRET under the CANSSM SIREN: SIREN + 4-digit sequence + key.
    fn siret(&mut self) -> String {
        self.nic_seq += 1;
        with_luhn_key(&format!("{}{:04}", self.canssm_siren, self.nic_seq))
    }

    /// Next opaque ARHGOS number, prefixed with the INSEE region code.
    fn arhgos(&mut self, dept: &str, year: &str) -> String {
        self.arhgos_seq += 1;
        format!("{}-{year}-{:05}", ars_of(dept).0, self.arhgos_seq)
    }

    /// ROR membership with an identifier "INSEE region/number".
    fn ror(&mut self, dept: &str, from: &str) -> Membership {
        self.ror_seq += 1;
        let mut m = membership(MembershipKind::Ror, "ROR", "registered", from);
        m.ror_identifier = format!("{}/{}", ars_of(dept).0, 10_000 + self.ror_seq);
        m
    }

    fn address(&self, place: &Place) -> Address {
        let street = STREETS[(self.n as usize * 7) % STREETS.len()];
        let number = 1 + (self.n * 17) % 97;
        Address {
            line: format!("{number} {street}"),
            postal_code: place.postal.to_owned(),
            city: place.city.to_owned(),
            insee_code: String::new(),
        }
    }

    /// A structure with the attributes every record has. `open` defaults to
    /// an invented historical date.
    fn base(
        &mut self,
        level: StructureLevel,
        category: Category,
        subtype: Subtype,
        name: String,
        place: &Place,
        open: Option<&str>,
    ) -> Structure {
        self.n += 1;
        let finess = if level == StructureLevel::Establishment { self.finess(place.dept) } else { String::new() };
        let siret = if level == StructureLevel::Establishment { self.siret() } else { String::new() };
        Structure {
            finess,
            siret,
            level: level as i32,
            category: category as i32,
            subtype: subtype as i32,
            display_name: name,
            region: region_of(place.dept) as i32,
            department: place.dept.to_owned(),
            territory: territory_of(place.dept, place.city).to_owned(),
            address: Some(self.address(place)),
            open_date: open.map_or_else(|| historic_date(self.n), str::to_owned),
            demo: true,
            ..Default::default()
        }
    }

    /// Adds an establishment held by CANSSM; returns its key (its FINESS).
    fn push(&mut self, structure: Structure, integrated_in_key: Option<String>) -> String {
        let key = structure.finess.clone();
        self.out.push(DemoStructure {
            key: key.clone(),
            parent_key: None,
            legal_entity_key: Some(self.canssm_finess.clone()),
            integrated_in_key,
            structure,
        });
        key
    }

    fn establishment(&mut self, category: Category, subtype: Subtype, name: String, place: &Place, open: Option<&str>) -> Structure {
        self.base(StructureLevel::Establishment, category, subtype, name, place, open)
    }
}

// ---------------------------------------------------------------------------
// Categories
// ---------------------------------------------------------------------------

/// Health centres (149) and their antennas (14).
fn health_centres(b: &mut Builder) {
    let mut polyvalent_keys = BTreeMap::new();
    let all_polyvalent = POLYVALENT_NORD.iter().chain(POLYVALENT_EST.iter()).chain(POLYVALENT_SUD.iter());
    for (i, place) in all_polyvalent.enumerate() {
        let open = quoted_open_date(place.label);
        let mut s =
            b.establishment(Category::HealthCentre, Subtype::Polyvalent, format!("Centre de santé Filieris {}", place.label), place, open);
        // A third of the polyvalent centres have a dental activity (1-3 chairs).
        if i % 3 == 0 {
            let chairs = 1 + (i % 3 + i / 3) as i32 % 3;
            let from = s.open_date.clone();
            s.capacities.push(capacity(CapacityUnit::Chair, CapacityModality::Consultation, "Soins dentaires", chairs, chairs, &from));
        }
        centre_quality_and_networks(b, &mut s, place);
        let key = b.push(s, None);
        polyvalent_keys.insert(place.label, key);
    }

    let nursing = b.establishment(
        Category::HealthCentre,
        Subtype::Nursing,
        format!("Centre de santé infirmier Filieris {}", NURSING.label),
        &NURSING,
        None,
    );
    b.push(nursing, None);

    for (i, place) in DENTAL.iter().enumerate() {
        let mut s = b.establishment(
            Category::HealthCentre,
            Subtype::Dental,
            format!("Centre de santé dentaire Filieris {}", place.label),
            place,
            None,
        );
        let chairs = 4 + (i % 5) as i32;
        // Chairs are being grouped: some authorised chairs are not installed.
        let installed = if i % 4 == 1 { chairs - 1 } else { chairs };
        let from = s.open_date.clone();
        s.capacities.push(capacity(CapacityUnit::Chair, CapacityModality::Consultation, "Soins dentaires", chairs, installed, &from));
        b.push(s, None);
    }

    // Antennas come after every principal centre so a loader resolves parents
    // in one pass.
    let mut per_principal: BTreeMap<String, u32> = BTreeMap::new();
    for (i, (principal, place, hours, waiver)) in ANTENNAS.iter().enumerate() {
        // A principal label missing from the tables would drop the antenna;
        // the count tests catch it.
        let Some(parent_key) = polyvalent_keys.get(principal).cloned() else {
            continue;
        };
        let opened = format!("2018-{:02}-01", 3 + i % 10);
        let mut s = b.base(
            StructureLevel::Antenna,
            Category::HealthCentre,
            Subtype::Unspecified,
            format!("Antenne Filieris {}", place.label),
            place,
            Some(&opened),
        );
        s.weekly_opening_hours = *hours;
        s.ars_waiver = *waiver;
        s.aliases.push(alias(&format!("Antenne du centre de santé Filieris {principal}"), AliasKind::UsageName));
        let n = per_principal.entry(parent_key.clone()).or_insert(0);
        *n += 1;
        b.out.push(DemoStructure {
            key: format!("antenna:{parent_key}:{n}"),
            parent_key: Some(parent_key),
            legal_entity_key: Some(b.canssm_finess.clone()),
            integrated_in_key: None,
            structure: s,
        });
    }
}

/// Certifications, CPTS, SAS and ROR of a polyvalent centre.
fn centre_quality_and_networks(b: &mut Builder, s: &mut Structure, place: &Place) {
    let idx = b.n;
    let open = s.open_date.clone();
    if AFNOR_HDF.contains(&place.label) {
        s.certifications.push(certification(
            CertificationScheme::AfnorQualisante,
            "Engagement de service Quali'santé",
            "certified",
            "2018-06-29",
            "2021-06-28",
        ));
    }
    if place.label == "Carmaux" {
        s.certifications.push(certification(
            CertificationScheme::AfnorQualisante,
            "Engagement de service Quali'santé",
            "certified",
            "2018-10-05",
            "2021-10-04",
        ));
    }
    // ANCS quality plan: the 10 certified centres are at level 4 (certification).
    if AFNOR_HDF.contains(&place.label) || place.label == "Carmaux" {
        s.certifications.push(certification(CertificationScheme::AncsPaq, "2018", "4", "2018-12-31", ""));
    } else if PAQ_LEVEL_3.contains(&place.label) {
        s.certifications.push(certification(CertificationScheme::AncsPaq, "2018", "3", "2018-12-31", ""));
    }

    let ecegec = ECEGEC.contains(&place.label);
    if ecegec {
        let role = if place.label == "Alès Centre" { "chair" } else { "founder" };
        s.memberships.push(membership(MembershipKind::Cpts, "CPTS ECEGEC", role, &later("2019-03-27", &open)));
    }
    match place.city {
        "Lens" | "Avion" | "Harnes" | "Sallaumines" | "Noyelles-sous-Lens" | "Loos-en-Gohelle" | "Méricourt" => {
            s.memberships.push(membership(MembershipKind::Cpts, "CPTS Lens-La Gohelle", "member", "2019-09-01"));
        }
        "Liévin" | "Grenay" | "Bully-les-Mines" | "Mazingarbe" => {
            s.memberships.push(membership(MembershipKind::Cpts, "CPTS Liévin-Pays d'Artois", "member", "2019-11-01"));
        }
        _ => {}
    }
    // About a quarter of the centres registered with the SAS, through the
    // CPTS where they belong to one.
    if idx.is_multiple_of(4) || ecegec {
        let mut m = membership(MembershipKind::Sas, "SAS", "member", "2022-01-03");
        m.sas_mode = if ecegec { "CPTS" } else { "DIRECT" }.to_owned();
        m.agenda_sharing = idx.is_multiple_of(2);
        s.memberships.push(m);
    }
    // ROR: the Occitanie ambulatory offer was included from the convention
    // of 20 April 2018; the others are being integrated.
    let (region_code, _) = ars_of(place.dept);
    let ror_from = if region_code == "76" { "2018-04-20" } else { "2021-06-01" };
    let ror = b.ror(place.dept, &later(ror_from, &open));
    s.memberships.push(ror);
}

/// Keys of the establishments of the financial lines 1-6 of the COG.
struct NamedEstablishments {
    freyming: String,
    charleville: String,
    jardin_du_temple: String,
    bois_de_la_loge: String,
    la_manaie: String,
    sainte_barbe: String,
    lallaing: String,
}

/// SMR authorisations renewed in 2022 (full-time and day hospitalisation).
fn smr_authorisations(b: &mut Builder, dept: &str, activities: &[&str]) -> Vec<Authorisation> {
    let authority = ars_of(dept).1;
    let mut out = Vec::new();
    for (i, activity) in activities.iter().enumerate() {
        for modality in ["hospitalisation complète", "hospitalisation de jour"] {
            // Day hospitalisation only for the main activity.
            if i > 0 && modality == "hospitalisation de jour" {
                continue;
            }
            out.push(Authorisation {
                arhgos_number: b.arhgos(dept, "2022"),
                activity: (*activity).to_owned(),
                modality: modality.to_owned(),
                authority: authority.to_owned(),
                decision_date: "2022-05-17".to_owned(),
                valid_from: "2022-06-01".to_owned(),
                valid_to: "2029-05-31".to_owned(),
            });
        }
    }
    out
}

fn has_a(decision: &str, valid_to: &str) -> Certification {
    certification(CertificationScheme::Has, "V2020", "A", decision, valid_to)
}

/// The 11 sanitary establishments.
fn hospitals(b: &mut Builder) -> NamedEstablishments {
    use AliasKind as K;

    // 1. Freyming-Merlebach / Creutzwald, multi-site establishment of Moselle-Est.
    let place = t("Freyming-Merlebach", "57", "57800");
    let mut s = b.establishment(
        Category::Hospital,
        Subtype::Ssr,
        "Établissement de santé Filieris Freyming-Merlebach – Creutzwald".to_owned(),
        &place,
        Some("1957-10-01"),
    );
    s.aliases = vec![
        alias("établissement de santé de Moselle-Est site de Freyding-Merlebach", K::Misspelling),
        alias("Freyding-Merlebach", K::Misspelling),
        alias("Freyming-Creutzwald", K::ManagementLabel),
        alias("Freyming-Merlebach Creutzwald", K::UsageName),
        alias("Freyming-Merlebach - Creutzwald", K::UsageName),
        alias("HOPITAL DE FREYMING", K::ManagementLabel),
        alias("établissement de santé de Freyming-Merlebach", K::UsageName),
    ];
    s.authorisations = smr_authorisations(b, "57", &["SMR polyvalent", "SMR gériatrique", "SMR pneumologique"]);
    s.capacities = vec![
        capacity(CapacityUnit::Bed, CapacityModality::FullTime, "SMR polyvalent", 120, 112, "2022-06-01"),
        capacity(CapacityUnit::Bed, CapacityModality::FullTime, "SMR gériatrique", 40, 40, "2022-06-01"),
        capacity(CapacityUnit::Place, CapacityModality::Day, "SMR polyvalent", 20, 18, "2022-06-01"),
    ];
    s.certifications.push(has_a("2022-11-15", "2026-11-14"));
    s.memberships = vec![membership(MembershipKind::Ght, "GHT Moselle-Est (GHT 9)", "associated", "2016-07-01"), b.ror("57", "2019-06-01")];
    let freyming = b.push(s, None);

    // 2. Charleville-sous-Bois (Moselle).
    let place = t("Charleville-sous-Bois", "57", "57220");
    let mut s = b.establishment(
        Category::Hospital,
        Subtype::Ssr,
        "Établissement de santé Filieris Charleville-sous-Bois".to_owned(),
        &place,
        Some("1962-04-02"),
    );
    s.aliases = vec![
        alias("ETABLISSEMENT CHARLEVILLE S/ B", K::ManagementLabel),
        alias("établissement de santé de Charleville-sous-Bois", K::UsageName),
    ];
    s.authorisations = smr_authorisations(b, "57", &["SMR polyvalent", "SMR neurologique"]);
    s.capacities = vec![
        capacity(CapacityUnit::Bed, CapacityModality::FullTime, "SMR polyvalent", 60, 60, "2022-06-01"),
        capacity(CapacityUnit::Place, CapacityModality::Day, "SMR polyvalent", 10, 8, "2022-06-01"),
    ];
    s.certifications.push(has_a("2023-01-24", "2027-01-23"));
    s.memberships.push(b.ror("57", "2019-06-01"));
    let charleville = b.push(s, None);

    // 3. Le Jardin du Temple, Fresnes-sur-Escaut.
    let place = t("Fresnes-sur-Escaut", "59", "59970");
    let mut s = b.establishment(
        Category::Hospital,
        Subtype::Ssr,
        "Le Jardin du Temple – Fresnes-sur-Escaut".to_owned(),
        &place,
        Some("1968-09-16"),
    );
    s.aliases = vec![alias("Etablissement Le Jardin du Temple - Fresnes sur Escaut", K::ManagementLabel)];
    s.authorisations = smr_authorisations(b, "59", &["SMR polyvalent", "SMR gériatrique"]);
    s.capacities = vec![capacity(CapacityUnit::Bed, CapacityModality::FullTime, "SMR polyvalent", 50, 50, "2022-06-01")];
    s.certifications.push(has_a("2022-09-20", "2026-09-19"));
    s.memberships.push(b.ror("59", "2020-03-01"));
    let jardin_du_temple = b.push(s, None);

    // 4. Le Bois de la Loge, Escaudain.
    let place = t("Escaudain", "59", "59124");
    let mut s = b.establishment(Category::Hospital, Subtype::Ssr, "Le Bois de la Loge – Escaudain".to_owned(), &place, Some("1971-03-01"));
    s.aliases = vec![alias("Etablissement Le Bois de la Loge - Escaudain", K::ManagementLabel)];
    s.authorisations = smr_authorisations(b, "59", &["SMR polyvalent", "SMR neurologique"]);
    s.capacities = vec![capacity(CapacityUnit::Bed, CapacityModality::FullTime, "SMR polyvalent", 45, 42, "2022-06-01")];
    s.memberships.push(b.ror("59", "2020-03-01"));
    let bois_de_la_loge = b.push(s, None);

    // 5. La Manaie, Auchel (sanitary establishment with an integrated EHPAD).
    let place = t("Auchel", "62", "62260");
    let mut s = b.establishment(Category::Hospital, Subtype::Ssr, "La Manaie – Auchel".to_owned(), &place, Some("1965-06-14"));
    s.aliases = vec![alias("établissement de La Manaie - Auchel", K::UsageName)];
    s.authorisations = smr_authorisations(b, "62", &["SMR polyvalent", "SMR pneumologique"]);
    s.capacities = vec![
        capacity(CapacityUnit::Bed, CapacityModality::FullTime, "SMR polyvalent", 70, 70, "2022-06-01"),
        capacity(CapacityUnit::Place, CapacityModality::Day, "SMR polyvalent", 10, 10, "2022-06-01"),
    ];
    s.certifications.push(has_a("2023-02-07", "2027-02-06"));
    s.memberships = vec![
        // Partnership signed by the Nord directorate on 26 June 2018.
        membership(MembershipKind::Ght, "GHT de l'Artois", "partner", "2018-06-26"),
        b.ror("62", "2020-03-01"),
    ];
    let la_manaie = b.push(s, None);

    // 6. Polyclinique Sainte-Barbe, Carmaux (medicine).
    let place = t("Carmaux", "81", "81400");
    let mut s = b.establishment(
        Category::Hospital,
        Subtype::Medicine,
        "Polyclinique Sainte-Barbe – Carmaux".to_owned(),
        &place,
        Some("1953-01-05"),
    );
    s.aliases = vec![
        alias("Polyclinique Sainte-Barbe - Carmaux", K::ManagementLabel),
        alias("Polyclinique Sainte Barbe de Carmaux", K::UsageName),
        alias("Polyclinique Saint-Barbe de Carmaux", K::Misspelling),
    ];
    s.authorisations = smr_authorisations(b, "81", &["Médecine"]);
    s.capacities = vec![
        capacity(CapacityUnit::Bed, CapacityModality::FullTime, "Médecine", 50, 48, "2022-06-01"),
        capacity(CapacityUnit::Place, CapacityModality::Day, "Médecine", 10, 10, "2022-06-01"),
    ];
    s.memberships.push(b.ror("81", "2018-04-20"));
    let sainte_barbe = b.push(s, None);

    // 7. La Pomarède (Aude): 40 renovated beds opened at the end of June 2019.
    let place = t("La Pomarède", "11", "11400");
    let mut s = b.establishment(
        Category::Hospital,
        Subtype::Ssr,
        "Établissement de santé Filieris La Pomarède".to_owned(),
        &place,
        Some("1959-05-04"),
    );
    s.aliases = vec![alias("établissement de santé La Pomarède", K::UsageName)];
    s.authorisations = smr_authorisations(b, "11", &["SMR polyvalent", "SMR gériatrique"]);
    s.capacities = vec![capacity(CapacityUnit::Bed, CapacityModality::FullTime, "SMR polyvalent", 40, 40, "2019-06-28")];
    s.certifications.push(has_a("2022-06-14", "2026-06-13"));
    s.memberships.push(b.ror("11", "2018-04-20"));
    b.push(s, None);

    // 8. Folcheran (Ardèche), covered by GCS HELPAM for its quality software.
    let place = t("Lalevade-d'Ardèche", "07", "07380");
    let mut s = b.establishment(
        Category::Hospital,
        Subtype::Ssr,
        "Centre de réadaptation fonctionnelle Filieris de Folcheran".to_owned(),
        &place,
        Some("1964-02-03"),
    );
    s.aliases = vec![alias("Folcheran", K::UsageName), alias("centre de réadaptation fonctionnelle de Folcheran", K::RegisteredName)];
    s.authorisations = smr_authorisations(b, "07", &["SMR polyvalent", "SMR pédiatrique"]);
    s.capacities = vec![capacity(CapacityUnit::Bed, CapacityModality::FullTime, "SMR polyvalent", 60, 55, "2022-06-01")];
    s.memberships = vec![membership(MembershipKind::Gcs, "GCS HELPAM", "member", "2016-01-01"), b.ror("07", "2020-01-15")];
    b.push(s, None);

    // 9-11. The remaining sanitary establishments (names are illustrative).
    let place = t("Lallaing", "59", "59167");
    let mut s = b.establishment(
        Category::Hospital,
        Subtype::Ssr,
        "Établissement de santé Filieris Lallaing".to_owned(),
        &place,
        Some("1970-11-02"),
    );
    s.authorisations = smr_authorisations(b, "59", &["SMR polyvalent"]);
    s.capacities = vec![capacity(CapacityUnit::Bed, CapacityModality::FullTime, "SMR polyvalent", 40, 40, "2022-06-01")];
    s.certifications.push(has_a("2023-03-21", "2027-03-20"));
    s.memberships.push(b.ror("59", "2020-03-01"));
    let lallaing = b.push(s, None);

    let place = t("Hayange", "57", "57700");
    let mut s =
        b.establishment(Category::Hospital, Subtype::Ssr, "Établissement de santé Filieris Hayange".to_owned(), &place, Some("1966-09-05"));
    s.authorisations = smr_authorisations(b, "57", &["SMR polyvalent", "SMR gériatrique"]);
    s.capacities = vec![capacity(CapacityUnit::Bed, CapacityModality::FullTime, "SMR polyvalent", 45, 45, "2022-06-01")];
    s.certifications.push(has_a("2022-12-06", "2026-12-05"));
    s.memberships.push(b.ror("57", "2019-06-01"));
    b.push(s, None);

    // The one "hôpital de proximité" of the inventory.
    let place = t("La Grand-Combe", "30", "30110");
    let mut s = b.establishment(
        Category::Hospital,
        Subtype::LocalHospital,
        "Hôpital de proximité Filieris La Grand-Combe".to_owned(),
        &place,
        Some("1951-07-02"),
    );
    s.authorisations = smr_authorisations(b, "30", &["Médecine", "SMR polyvalent"]);
    s.capacities = vec![
        capacity(CapacityUnit::Bed, CapacityModality::FullTime, "Médecine", 30, 30, "2022-06-01"),
        capacity(CapacityUnit::Bed, CapacityModality::FullTime, "SMR polyvalent", 15, 15, "2022-06-01"),
    ];
    s.certifications.push(has_a("2022-10-11", "2026-10-10"));
    s.memberships.push(b.ror("30", "2018-04-20"));
    b.push(s, None);

    NamedEstablishments { freyming, charleville, jardin_du_temple, bois_de_la_loge, la_manaie, sainte_barbe, lallaing }
}

/// EHPAD authorisation (joint ARS / departmental council decision).
fn ehpad_authorisation(dept: &str, from: &str) -> Authorisation {
    Authorisation {
        arhgos_number: String::new(),
        activity: "Hébergement permanent pour personnes âgées dépendantes".to_owned(),
        modality: "hébergement complet internat".to_owned(),
        authority: format!("{} / {}", ars_of(dept).1, council_of(dept)),
        decision_date: from.to_owned(),
        valid_from: from.to_owned(),
        valid_to: String::new(),
    }
}

/// The 6 EHPAD, 3 of them integrated in a sanitary establishment. Returns
/// the key of the EHPAD de Pampelonne (financial line 6).
fn ehpad(b: &mut Builder, named: &NamedEstablishments) -> String {
    use AliasKind as K;

    let place = t("Pampelonne", "81", "81190");
    let mut s = b.establishment(Category::Ehpad, Subtype::Unspecified, "EHPAD de Pampelonne".to_owned(), &place, Some("1988-03-07"));
    s.authorisations.push(ehpad_authorisation("81", "2003-01-01"));
    s.capacities = vec![
        capacity(CapacityUnit::Bed, CapacityModality::Permanent, "Hébergement permanent", 68, 68, "2003-01-01"),
        capacity(CapacityUnit::Bed, CapacityModality::Temporary, "Hébergement temporaire", 2, 2, "2003-01-01"),
    ];
    s.memberships.push(b.ror("81", "2018-04-20"));
    let pampelonne = b.push(s, None);

    let place = t("Creutzwald", "57", "57150");
    let mut s = b.establishment(Category::Ehpad, Subtype::Unspecified, "EHPAD de Creutzwald".to_owned(), &place, Some("1992-10-05"));
    s.authorisations.push(ehpad_authorisation("57", "2004-01-01"));
    s.capacities = vec![
        capacity(CapacityUnit::Bed, CapacityModality::Permanent, "Hébergement permanent", 60, 60, "2004-01-01"),
        capacity(CapacityUnit::Bed, CapacityModality::DisorientedUnit, "Unité pour résidents désorientés", 12, 12, "2004-01-01"),
    ];
    // SSIAD, EHPAD and SAAD of the Est are in the ROR since end of July 2018.
    s.memberships.push(b.ror("57", "2018-07-31"));
    b.push(s, Some(named.freyming.clone()));

    // Conversion of the foyer-logement; "ouvert depuis le 26 février 2018"
    // (another passage says June 2019): 80 beds with an Alzheimer unit.
    let place = t("Bully-les-Mines", "62", "62160");
    let mut s = b.establishment(Category::Ehpad, Subtype::Unspecified, "EHPAD Joseph Porebski".to_owned(), &place, Some("2018-02-26"));
    s.aliases = vec![alias("Ehpad Joseph-Porebski", K::UsageName), alias("foyer logement Joseph Porebski", K::FormerName)];
    s.authorisations.push(ehpad_authorisation("62", "2018-02-26"));
    s.capacities = vec![
        capacity(CapacityUnit::Bed, CapacityModality::Permanent, "Hébergement permanent", 66, 66, "2018-02-26"),
        capacity(CapacityUnit::Bed, CapacityModality::DisorientedUnit, "Unité Alzheimer", 14, 14, "2018-02-26"),
    ];
    s.memberships.push(b.ror("62", "2020-03-01"));
    b.push(s, None);

    let place = t("Auchel", "62", "62260");
    let mut s = b.establishment(Category::Ehpad, Subtype::Unspecified, "EHPAD de La Manaie".to_owned(), &place, Some("1995-01-02"));
    s.aliases = vec![alias("Ehpad de la Manaie", K::UsageName)];
    s.authorisations.push(ehpad_authorisation("62", "2005-01-01"));
    s.capacities = vec![
        capacity(CapacityUnit::Bed, CapacityModality::Permanent, "Hébergement permanent", 50, 50, "2005-01-01"),
        capacity(CapacityUnit::Bed, CapacityModality::DisorientedUnit, "Unité pour résidents désorientés", 12, 12, "2005-01-01"),
    ];
    s.memberships.push(b.ror("62", "2020-03-01"));
    b.push(s, Some(named.la_manaie.clone()));

    let place = t("Lallaing", "59", "59167");
    let mut s = b.establishment(Category::Ehpad, Subtype::Unspecified, "EHPAD de Lallaing".to_owned(), &place, Some("1990-09-03"));
    s.authorisations.push(ehpad_authorisation("59", "2004-07-01"));
    s.capacities = vec![
        capacity(CapacityUnit::Bed, CapacityModality::Permanent, "Hébergement permanent", 45, 45, "2004-07-01"),
        capacity(CapacityUnit::Bed, CapacityModality::Temporary, "Hébergement temporaire", 2, 2, "2004-07-01"),
    ];
    s.memberships.push(b.ror("59", "2020-03-01"));
    b.push(s, Some(named.lallaing.clone()));

    // Montceau-les-Mines; CPOM 2019-2023 signed on 14 February 2019.
    let place = t("Montceau-les-Mines", "71", "71300");
    let mut s = b.establishment(Category::Ehpad, Subtype::Unspecified, "EHPAD Germaine Tillion".to_owned(), &place, Some("2009-04-06"));
    s.authorisations.push(ehpad_authorisation("71", "2009-04-06"));
    s.capacities = vec![
        capacity(CapacityUnit::Bed, CapacityModality::Permanent, "Hébergement permanent", 72, 72, "2009-04-06"),
        capacity(CapacityUnit::Bed, CapacityModality::DisorientedUnit, "Unité pour résidents désorientés", 10, 10, "2009-04-06"),
        capacity(CapacityUnit::Bed, CapacityModality::Temporary, "Hébergement temporaire", 2, 2, "2009-04-06"),
    ];
    s.memberships.push(b.ror("71", "2018-07-31"));
    b.push(s, None);

    pampelonne
}

/// Independent-living residences (4, one shared CPOM 2017-2021) and the
/// temporary-accommodation residence (1).
fn residences(b: &mut Builder) {
    let list: [(&str, Place, i32); 4] = [
        ("Jean Moulin", t("Liévin", "62", "62800"), 58),
        ("Louis Voisin", t("Sallaumines", "62", "62430"), 45),
        ("Ambroise Croizat", t("Avion", "62", "62210"), 42),
        ("Guy Mollet", t("Hénin-Beaumont", "62", "62110"), 50),
    ];
    for (name, place, places) in list {
        let mut s = b.establishment(
            Category::IndependentLivingResidence,
            Subtype::Unspecified,
            format!("Résidence autonomie {name}"),
            &place,
            None,
        );
        s.aliases.push(alias(&format!("foyer-logement {name}"), AliasKind::FormerName));
        s.authorisations.push(Authorisation {
            activity: "Résidence autonomie pour personnes âgées".to_owned(),
            modality: "hébergement permanent".to_owned(),
            authority: council_of("62"),
            decision_date: "2016-12-22".to_owned(),
            valid_from: "2017-01-01".to_owned(),
            valid_to: "2031-12-31".to_owned(),
            ..Default::default()
        });
        s.capacities.push(capacity(CapacityUnit::Place, CapacityModality::Permanent, "Logements foyers", places, places, "2017-01-01"));
        b.push(s, None);
    }

    let place = t("Stiring-Wendel", "57", "57350");
    let mut s = b.establishment(
        Category::TemporaryAccommodationResidence,
        Subtype::Unspecified,
        "Résidence d'hébergement temporaire Filieris Stiring-Wendel".to_owned(),
        &place,
        Some("2012-09-03"),
    );
    s.authorisations.push(Authorisation {
        activity: "Hébergement temporaire pour personnes âgées".to_owned(),
        modality: "hébergement temporaire".to_owned(),
        authority: council_of("57"),
        decision_date: "2012-09-01".to_owned(),
        valid_from: "2012-09-01".to_owned(),
        ..Default::default()
    });
    s.capacities.push(capacity(CapacityUnit::Place, CapacityModality::Temporary, "Hébergement temporaire", 24, 24, "2012-09-03"));
    b.push(s, None);
}

/// The 16 home-nursing services (1,638 places).
fn ssiad(b: &mut Builder) {
    for (place, places) in SSIAD {
        // SSIAD exist since the decree of 8 May 1981.
        let opened = format!("{}-01-04", 1982 + (b.n * 7) % 20);
        let mut s =
            b.establishment(Category::Ssiad, Subtype::Unspecified, format!("SSIAD Filieris {}", place.label), &place, Some(&opened));
        let from = later("2009-01-01", &s.open_date);
        s.authorisations.push(Authorisation {
            arhgos_number: b.arhgos(place.dept, "2009"),
            activity: "Soins infirmiers à domicile pour personnes âgées".to_owned(),
            modality: "intervention à domicile".to_owned(),
            authority: ars_of(place.dept).1.to_owned(),
            decision_date: from.clone(),
            valid_from: from.clone(),
            valid_to: "2024-12-31".to_owned(),
        });
        s.capacities.push(capacity(CapacityUnit::Place, CapacityModality::Home, "Soins infirmiers à domicile", places, places, &from));
        if region_of(place.dept) == Region::Est {
            s.memberships.push(b.ror(place.dept, "2018-07-31"));
        }
        b.push(s, None);
    }
}

/// The two home-help services: SPASAD Nord and SAAD Est.
fn home_help(b: &mut Builder) {
    use AliasKind as K;

    // Nord-Pas-de-Calais coal basin; took over part of the SIVOM of
    // Bruay-la-Buissière on 1 November 2018.
    let place = t("Bruay-la-Buissière", "62", "62700");
    let mut s = b.establishment(Category::Spasad, Subtype::Unspecified, "SPASAD Nord".to_owned(), &place, Some("1983-01-03"));
    s.aliases = vec![alias("SPASAD du Nord", K::UsageName), alias("SPASAD NORD", K::ManagementLabel), alias("SAAD du Nord", K::FormerName)];
    s.authorisations.push(Authorisation {
        activity: "Service polyvalent d'aide et de soins à domicile".to_owned(),
        modality: "intervention à domicile".to_owned(),
        authority: format!("{} / {}", ars_of("62").1, council_of("62")),
        decision_date: "2018-10-01".to_owned(),
        valid_from: "2018-10-01".to_owned(),
        valid_to: "2022-12-31".to_owned(),
        ..Default::default()
    });
    s.certifications.push(certification(
        CertificationScheme::Afnor,
        "NF Service – Services aux personnes à domicile",
        "certified",
        "2018-08-08",
        "2021-08-07",
    ));
    b.push(s, None);

    // Lorraine iron basin; CPOM 2017-2020 with the Meurthe-et-Moselle council.
    let place = t("Briey", "54", "54150");
    let mut s = b.establishment(Category::Saad, Subtype::Unspecified, "SAAD Est".to_owned(), &place, Some("1985-04-01"));
    s.aliases = vec![
        alias("SAAD de l'Est", K::UsageName),
        alias("SAAD EST", K::ManagementLabel),
        alias("service d'aide et d'accompagnement à domicile de l'Est", K::RegisteredName),
    ];
    s.authorisations.push(Authorisation {
        activity: "Service d'aide et d'accompagnement à domicile".to_owned(),
        modality: "intervention à domicile".to_owned(),
        authority: council_of("54"),
        decision_date: "2017-01-01".to_owned(),
        valid_from: "2017-01-01".to_owned(),
        valid_to: "2031-12-31".to_owned(),
        ..Default::default()
    });
    s.memberships.push(b.ror("54", "2018-07-31"));
    b.push(s, None);
}

/// The 25 mining pharmacies.
fn pharmacies(b: &mut Builder) {
    for (label, place, rule) in PHARMACIES {
        let mut s = b.establishment(Category::Pharmacy, Subtype::Unspecified, format!("Pharmacie Filieris {label}"), &place, None);
        s.pharmacy_access_rule = rule as i32;
        if label.starts_with("La Tarentaize") {
            s.aliases.push(alias("Pharmacie de la Tarentaize", AliasKind::UsageName));
        }
        b.push(s, None);
    }
}

/// Optical centres, laboratory, medical-equipment service and prevention.
fn other_services(b: &mut Builder) {
    for place in [
        t("Lens", "62", "62300"),
        t("Hénin-Beaumont", "62", "62110"),
        t("Bruay-la-Buissière", "62", "62700"),
        t("Freyming-Merlebach", "57", "57800"),
    ] {
        let s = b.establishment(
            Category::OpticalCentre,
            Subtype::Unspecified,
            format!("Centre d'optique Filieris {}", place.label),
            &place,
            None,
        );
        b.push(s, None);
    }

    // Multi-site laboratory (central platform in Hénin-Beaumont), run by the
    // GCS S.H.A.B. from 1 January 2022.
    let place = t("Hénin-Beaumont", "62", "62110");
    let mut s = b.establishment(
        Category::Laboratory,
        Subtype::Unspecified,
        "Laboratoire de biologie médicale Filieris Hénin-Beaumont".to_owned(),
        &place,
        Some("1974-05-06"),
    );
    s.certifications.push(certification(CertificationScheme::Cofrac, "NF EN ISO 15189", "accredited", "2019-03-12", "2024-03-11"));
    s.memberships.push(membership(MembershipKind::Gcs, "GCS S.H.A.B.", "member", "2022-01-01"));
    b.push(s, None);

    let place = t("Liévin", "62", "62800");
    let s = b.establishment(
        Category::MedicalEquipmentService,
        Subtype::Unspecified,
        "Service de vente et de location de matériel médical Filieris".to_owned(),
        &place,
        None,
    );
    b.push(s, None);

    // CeGIDD exist since 1 January 2016 (merger of the CDAG and CIDDIST).
    let prevention: [(Subtype, &str, Place, &str); 4] = [
        (Subtype::Vaccination, "Centre de vaccination Filieris Lens", t("Lens", "62", "62300"), "1998-09-01"),
        (
            Subtype::HealthExamination,
            "Centre d'examens de santé Filieris Freyming-Merlebach",
            t("Freyming-Merlebach", "57", "57800"),
            "1976-01-05",
        ),
        (Subtype::Cegidd, "CeGIDD Filieris Alès", t("Alès", "30", "30100"), "2016-01-01"),
        (Subtype::CarersHouse, "Maison des aidants Filieris Carmaux", t("Carmaux", "81", "81400"), "2015-10-01"),
    ];
    for (subtype, name, place, opened) in prevention {
        let s = b.establishment(Category::PreventionCentre, subtype, name.to_owned(), &place, Some(opened));
        b.push(s, None);
    }
}

// ---------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------

fn rule_group(code: &str, label: &str, categories: &[Category], regions: &[Region], levels: &[StructureLevel]) -> DemoGroup {
    DemoGroup {
        group: StructureGroup {
            code: code.to_owned(),
            display_name: label.to_owned(),
            mode: GroupMode::Rule as i32,
            rule_categories: categories.iter().map(|c| *c as i32).collect(),
            rule_regions: regions.iter().map(|r| *r as i32).collect(),
            rule_levels: levels.iter().map(|l| *l as i32).collect(),
            ..Default::default()
        },
        member_keys: Vec::new(),
    }
}

fn explicit_group(code: &str, label: &str, member_keys: Vec<String>) -> DemoGroup {
    DemoGroup {
        group: StructureGroup {
            code: code.to_owned(),
            display_name: label.to_owned(),
            mode: GroupMode::Explicit as i32,
            ..Default::default()
        },
        member_keys,
    }
}

/// Groups of §1.5: category and region RULE groups, the explicit pair of
/// line 3 and the complement of line 7.
fn groups(structures: &[DemoStructure], named: &NamedEstablishments, pampelonne: &str) -> Vec<DemoGroup> {
    // Line 7 is "every sanitary or medico-social establishment not in lines
    // 1-6". SSIAD and home-help services are services with their own lines
    // (9 and 10), so they are not part of it; an EHPAD integrated in an
    // establishment of lines 1-6 is accounted with that establishment.
    let lines_1_to_6: BTreeSet<&str> = [
        named.freyming.as_str(),
        named.charleville.as_str(),
        named.jardin_du_temple.as_str(),
        named.bois_de_la_loge.as_str(),
        named.la_manaie.as_str(),
        named.sainte_barbe.as_str(),
        pampelonne,
    ]
    .into_iter()
    .collect();
    let establishment_categories = [
        Category::Hospital as i32,
        Category::Ehpad as i32,
        Category::IndependentLivingResidence as i32,
        Category::TemporaryAccommodationResidence as i32,
    ];
    let others: Vec<String> = structures
        .iter()
        .filter(|d| establishment_categories.contains(&d.structure.category))
        .filter(|d| !lines_1_to_6.contains(d.key.as_str()))
        .filter(|d| d.integrated_in_key.as_deref().is_none_or(|k| !lines_1_to_6.contains(k)))
        .map(|d| d.key.clone())
        .collect();

    vec![
        // Centres with their own FINESS: antennas have no accounts of their own.
        rule_group("centres-de-sante", "Centres de santé", &[Category::HealthCentre], &[], &[StructureLevel::Establishment]),
        rule_group("ssiad", "SSIAD", &[Category::Ssiad], &[], &[]),
        rule_group("centres-d-optique", "Centres d'optique", &[Category::OpticalCentre], &[], &[]),
        rule_group("services-d-aide-a-la-personne", "Services d'aide à la personne", &[Category::Saad, Category::Spasad], &[], &[]),
        rule_group("etablissements-sanitaires", "Établissements sanitaires", &[Category::Hospital], &[], &[]),
        rule_group("region-nord", "Région Nord", &[], &[Region::Nord], &[]),
        rule_group("region-est", "Région Est", &[], &[Region::Est], &[]),
        rule_group("region-sud", "Région Sud", &[], &[Region::Sud], &[]),
        explicit_group(
            "jardin-du-temple-bois-de-la-loge",
            "Le Jardin du Temple (Fresnes-sur-Escaut) et Le Bois de la Loge (Escaudain)",
            vec![named.jardin_du_temple.clone(), named.bois_de_la_loge.clone()],
        ),
        explicit_group("autres-etablissements-sanitaires-et-medico-sociaux", "Autres établissements sanitaires et médico-sociaux", others),
    ]
}

// ---------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------

/// Builds the demo data set. Pure and deterministic: two calls return equal
/// values.
pub fn dataset() -> DemoDataset {
    let mut b = Builder::new();
    let canssm = LegalEntity {
        finess: b.canssm_finess.clone(),
        siren: b.canssm_siren.clone(),
        display_name: CANSSM_NAME.to_owned(),
        legal_status: "Organisme de sécurité sociale".to_owned(),
        demo: true,
        ..Default::default()
    };
    // The laboratory GCS (6 members, CANSSM among them) is a legal person of
    // its own; it holds no structure in this data set.
    let shab = LegalEntity {
        finess: b.finess("59"),
        siren: with_luhn_key("19590099"),
        display_name: "Groupement de coopération sanitaire S.H.A.B.".to_owned(),
        legal_status: "Groupement de coopération sanitaire de moyens".to_owned(),
        demo: true,
        ..Default::default()
    };

    health_centres(&mut b);
    let named = hospitals(&mut b);
    let pampelonne = ehpad(&mut b, &named);
    residences(&mut b);
    ssiad(&mut b);
    home_help(&mut b);
    pharmacies(&mut b);
    other_services(&mut b);

    let groups = groups(&b.out, &named, &pampelonne);
    DemoDataset { legal_entities: vec![canssm, shab], structures: b.out, groups }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(d: &DemoStructure) -> Category {
        Category::try_from(d.structure.category).unwrap_or(Category::Unspecified)
    }

    fn count(ds: &DemoDataset, f: impl Fn(&DemoStructure) -> bool) -> usize {
        ds.structures.iter().filter(|d| f(d)).count()
    }

    fn is(d: &DemoStructure, level: StructureLevel, category: Category, subtype: Option<Subtype>) -> bool {
        d.structure.level == level as i32
            && d.structure.category == category as i32
            && subtype.is_none_or(|s| d.structure.subtype == s as i32)
    }

    fn by_name<'a>(ds: &'a DemoDataset, name: &str) -> &'a DemoStructure {
        ds.structures.iter().find(|d| d.structure.display_name == name).unwrap_or_else(|| panic!("{name} is missing"))
    }

    const EST: StructureLevel = StructureLevel::Establishment;

    #[test]
    fn keys_are_computed_as_in_the_worked_examples() {
        // Examples of the domain reference (§2.2-§2.4).
        assert_eq!(with_luhn_key("75071218"), "750712184");
        assert_eq!(with_luhn_key("73282932"), "732829320");
        assert_eq!(with_luhn_key("7328293200007"), "73282932000074");
    }

    #[test]
    fn health_centre_counts_match_the_cog_inventory() {
        let ds = dataset();
        let hc = |sub| count(&ds, |d| is(d, EST, Category::HealthCentre, Some(sub)));
        assert_eq!(hc(Subtype::Polyvalent), 135);
        assert_eq!(hc(Subtype::Nursing), 1);
        assert_eq!(hc(Subtype::Dental), 13);
        assert_eq!(count(&ds, |d| is(d, EST, Category::HealthCentre, None)), 149);
        assert_eq!(count(&ds, |d| is(d, StructureLevel::Antenna, Category::HealthCentre, None)), 14);
        assert_eq!(count(&ds, |d| d.structure.level == StructureLevel::Antenna as i32), 14);
        // Consultation sites: centres plus antennas.
        assert_eq!(count(&ds, |d| cat(d) == Category::HealthCentre), 163);
        // Polyvalent centres by directorate, scaled from Nord 51 / Est 43 / Sud 24.
        let pv =
            |r: Region| count(&ds, |d| is(d, EST, Category::HealthCentre, Some(Subtype::Polyvalent)) && d.structure.region == r as i32);
        assert_eq!((pv(Region::Nord), pv(Region::Est), pv(Region::Sud)), (58, 49, 28));
    }

    #[test]
    fn other_category_counts_match_the_cog_inventory() {
        let ds = dataset();
        let c = |category: Category| count(&ds, |d| cat(d) == category);
        assert_eq!(c(Category::Hospital), 11);
        assert_eq!(count(&ds, |d| is(d, EST, Category::Hospital, Some(Subtype::LocalHospital))), 1);
        assert_eq!(count(&ds, |d| is(d, EST, Category::Hospital, Some(Subtype::Medicine))), 1);
        assert_eq!(count(&ds, |d| is(d, EST, Category::Hospital, Some(Subtype::Ssr))), 9);
        assert_eq!(c(Category::Ehpad), 6);
        assert_eq!(c(Category::IndependentLivingResidence), 4);
        assert_eq!(c(Category::TemporaryAccommodationResidence), 1);
        assert_eq!(c(Category::Ssiad), 16);
        assert_eq!(c(Category::Saad), 1);
        assert_eq!(c(Category::Spasad), 1);
        assert_eq!(c(Category::Pharmacy), 25);
        assert_eq!(c(Category::OpticalCentre), 4);
        assert_eq!(c(Category::Laboratory), 1);
        assert_eq!(c(Category::MedicalEquipmentService), 1);
        assert_eq!(c(Category::PreventionCentre), 4);
        let prevention: BTreeSet<i32> =
            ds.structures.iter().filter(|d| cat(d) == Category::PreventionCentre).map(|d| d.structure.subtype).collect();
        assert_eq!(prevention.len(), 4, "one centre per prevention subtype");
        assert_eq!(ds.structures.len(), 163 + 11 + 6 + 4 + 1 + 16 + 2 + 25 + 4 + 1 + 1 + 4);
    }

    #[test]
    fn ssiad_places_total_1638() {
        let ds = dataset();
        let places: i32 = ds
            .structures
            .iter()
            .filter(|d| cat(d) == Category::Ssiad)
            .flat_map(|d| d.structure.capacities.iter())
            .filter(|c| c.unit == CapacityUnit::Place as i32 && c.modality == CapacityModality::Home as i32)
            .map(|c| c.installed)
            .sum();
        assert_eq!(places, SSIAD_PLACES);
        assert!(ds.structures.iter().filter(|d| cat(d) == Category::Ssiad).all(|d| d.structure.capacities.len() == 1));
    }

    #[test]
    fn pharmacies_are_spread_and_ruled_as_in_the_cog() {
        let ds = dataset();
        let pharmacies: Vec<&DemoStructure> = ds.structures.iter().filter(|d| cat(d) == Category::Pharmacy).collect();
        let in_depts = |depts: &[&str]| pharmacies.iter().filter(|d| depts.contains(&d.structure.department.as_str())).count();
        assert_eq!(in_depts(&["59", "62"]), 15);
        assert_eq!(in_depts(&["21", "25", "39", "58", "70", "71", "89", "90"]), 1);
        assert_eq!(in_depts(&["81", "30", "34", "13"]), 6);
        assert_eq!(in_depts(&["38", "42"]), 3);
        let rule_of = |city: &str| {
            let found: Vec<i32> =
                pharmacies.iter().filter(|d| d.structure.display_name.contains(city)).map(|d| d.structure.pharmacy_access_rule).collect();
            assert_eq!(found.len(), 1, "{city}");
            found[0]
        };
        assert_eq!(rule_of("Graissessac"), PharmacyAccessRule::OpenToAll as i32);
        assert_eq!(rule_of("La Vernarède"), PharmacyAccessRule::OpenToAll as i32);
        assert_eq!(rule_of("La Tarentaize"), PharmacyAccessRule::ReasonedOpening as i32);
        assert_eq!(rule_of("La Ricamarie"), PharmacyAccessRule::ReasonedOpening as i32);
        let affiliates =
            pharmacies.iter().filter(|d| d.structure.pharmacy_access_rule == PharmacyAccessRule::AffiliatesOnly as i32).count();
        assert_eq!(affiliates, 21);
        // The access rule is set on pharmacies only.
        assert!(ds.structures.iter().filter(|d| cat(d) != Category::Pharmacy).all(|d| d.structure.pharmacy_access_rule == 0));
    }

    #[test]
    fn optical_centres_are_three_nord_one_est() {
        let ds = dataset();
        let optical = |r: Region| count(&ds, |d| cat(d) == Category::OpticalCentre && d.structure.region == r as i32);
        assert_eq!((optical(Region::Nord), optical(Region::Est), optical(Region::Sud)), (3, 1, 0));
    }

    #[test]
    fn finess_numbers_are_valid_synthetic_and_unique() {
        let ds = dataset();
        let mut seen = BTreeSet::new();
        for le in &ds.legal_entities {
            assert!(Finess::parse(&le.finess).is_ok(), "{}", le.finess);
            assert!(filieris_kernel::Siren::parse(&le.siren).is_ok(), "{}", le.siren);
            assert!(le.demo);
            assert!(seen.insert(le.finess.clone()), "duplicate {}", le.finess);
        }
        for d in &ds.structures {
            let s = &d.structure;
            if s.level == StructureLevel::Antenna as i32 {
                assert!(s.finess.is_empty() && s.siret.is_empty(), "antenna {} has an identifier", s.display_name);
                continue;
            }
            assert_eq!(s.finess.len(), 9, "{}", s.display_name);
            assert!(luhn::is_valid(&s.finess), "{} {}", s.display_name, s.finess);
            assert!(Finess::parse(&s.finess).is_ok(), "{}", s.finess);
            assert!(s.finess.starts_with(&format!("{}099", s.department)), "FINESS {} follows the synthetic pattern", s.finess);
            assert_eq!(d.key, s.finess);
            assert!(seen.insert(s.finess.clone()), "duplicate {}", s.finess);
        }
    }

    #[test]
    fn sirets_pass_luhn_under_the_canssm_siren() {
        let ds = dataset();
        let siren = &ds.legal_entities[0].siren;
        let mut seen = BTreeSet::new();
        for d in ds.structures.iter().filter(|d| !d.structure.siret.is_empty()) {
            let siret = &d.structure.siret;
            assert_eq!(siret.len(), 14);
            assert!(filieris_kernel::Siret::parse(siret).is_ok(), "{siret}");
            assert!(siret.starts_with(siren.as_str()), "{siret}");
            assert!(seen.insert(siret.clone()));
        }
        assert_eq!(seen.len(), ds.structures.len() - 14);
    }

    #[test]
    fn keys_are_unique_and_references_resolve() {
        let ds = dataset();
        let mut keys = BTreeSet::new();
        for (i, d) in ds.structures.iter().enumerate() {
            assert!(keys.insert(d.key.as_str()), "duplicate key {}", d.key);
            // Parents and integrating establishments come earlier in load order.
            for k in d.parent_key.iter().chain(d.integrated_in_key.iter()) {
                assert!(ds.structures[..i].iter().any(|p| &p.key == k), "{} refers to {k} before it exists", d.key);
            }
        }
        let ejs: BTreeSet<&str> = ds.legal_entities.iter().map(|l| l.finess.as_str()).collect();
        for d in &ds.structures {
            let ej = d.legal_entity_key.as_deref().unwrap_or_default();
            assert!(ejs.contains(ej), "{} has no legal entity", d.key);
            assert_eq!(ej, ds.legal_entities[0].finess, "CANSSM holds every structure");
            let s = &d.structure;
            assert!(s.name.is_empty() && s.etag.is_empty() && s.status == 0 && s.parent.is_empty());
            assert!(s.legal_entity.is_empty() && s.integrated_in.is_empty());
        }
    }

    #[test]
    fn antennas_hang_off_polyvalent_centres_and_respect_the_20_hours() {
        let ds = dataset();
        let mut waivers = 0;
        for d in ds.structures.iter().filter(|d| d.structure.level == StructureLevel::Antenna as i32) {
            let s = &d.structure;
            let parent_key = d.parent_key.as_deref().unwrap_or_else(|| panic!("{} has no parent", s.display_name));
            assert!(d.key.starts_with(&format!("antenna:{parent_key}:")));
            let parent = ds.structures.iter().find(|p| p.key == parent_key).unwrap_or_else(|| panic!("{parent_key} missing"));
            assert!(is(parent, EST, Category::HealthCentre, Some(Subtype::Polyvalent)), "{} parent is not polyvalent", s.display_name);
            assert_eq!(parent.structure.region, s.region, "antenna within 30 minutes: same directorate");
            assert!(parent.structure.open_date <= s.open_date);
            assert!(s.weekly_opening_hours > 0);
            if s.ars_waiver {
                waivers += 1;
                assert_eq!(s.region, Region::Nord as i32, "waivers were obtained in the Nord");
            } else {
                assert!(s.weekly_opening_hours <= 20, "{} opens {} h", s.display_name, s.weekly_opening_hours);
            }
        }
        assert!(waivers >= 2);
        assert!(
            ds.structures
                .iter()
                .filter(|d| d.structure.level != StructureLevel::Antenna as i32)
                .all(|d| d.parent_key.is_none() && d.structure.weekly_opening_hours == 0 && !d.structure.ars_waiver)
        );
    }

    #[test]
    fn every_structure_is_located_dated_and_flagged_demo() {
        let ds = dataset();
        for d in &ds.structures {
            let s = &d.structure;
            assert!(s.demo);
            assert_ne!(s.region, Region::Unspecified as i32, "{}", s.display_name);
            assert_eq!(s.region, region_of(&s.department) as i32);
            assert!(!s.territory.is_empty());
            assert!(chrono::NaiveDate::parse_from_str(&s.open_date, "%Y-%m-%d").is_ok(), "{}", s.open_date);
            let addr = s.address.as_ref().unwrap_or_else(|| panic!("{} has no address", s.display_name));
            assert!(addr.postal_code.len() == 5 && addr.postal_code.starts_with(&s.department), "{} {}", s.display_name, addr.postal_code);
            assert!(!addr.city.is_empty() && !addr.line.is_empty());
            assert_ne!(s.level, 0);
            assert_ne!(s.category, 0);
            // Subtypes exist for health centres, hospitals and prevention only;
            // antennas may leave theirs unspecified.
            let allowed: &[Subtype] = match cat(d) {
                Category::HealthCentre if s.level == StructureLevel::Antenna as i32 => &[Subtype::Unspecified],
                Category::HealthCentre => &[Subtype::Polyvalent, Subtype::Nursing, Subtype::Dental],
                Category::Hospital => &[Subtype::Ssr, Subtype::LocalHospital, Subtype::Medicine],
                Category::PreventionCentre => &[Subtype::Vaccination, Subtype::HealthExamination, Subtype::Cegidd, Subtype::CarersHouse],
                _ => &[Subtype::Unspecified],
            };
            assert!(allowed.iter().any(|a| *a as i32 == s.subtype), "{} has subtype {}", s.display_name, s.subtype);
        }
    }

    #[test]
    fn dated_lines_are_consistent() {
        let ds = dataset();
        let date = |v: &str| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").unwrap_or_else(|_| panic!("bad date {v:?}"));
        for d in &ds.structures {
            let s = &d.structure;
            let open = date(&s.open_date);
            for c in &s.capacities {
                assert!(c.unit != 0 && c.installed <= c.authorised && c.installed >= 0);
                assert!(date(&c.valid_from) >= open, "{}: capacity before opening", s.display_name);
            }
            for a in &s.authorisations {
                assert!(!a.activity.is_empty());
                let from = date(&a.valid_from);
                if !a.valid_to.is_empty() {
                    assert!(date(&a.valid_to) >= from);
                }
            }
            for c in &s.certifications {
                assert!(date(&c.decision_date) >= open, "{}: certified before opening", s.display_name);
                if !c.valid_to.is_empty() {
                    assert!(date(&c.valid_to) > date(&c.decision_date));
                }
            }
            for m in &s.memberships {
                assert!(date(&m.valid_from) >= open, "{}: member of {} before opening", s.display_name, m.grouping);
                assert_eq!(m.ror_identifier.is_empty(), m.kind != MembershipKind::Ror as i32);
                assert_eq!(m.sas_mode.is_empty(), m.kind != MembershipKind::Sas as i32);
            }
        }
    }

    #[test]
    fn named_establishments_exist_with_their_aliases() {
        let ds = dataset();
        let freyming = by_name(&ds, "Établissement de santé Filieris Freyming-Merlebach – Creutzwald");
        assert_eq!(freyming.structure.department, "57");
        assert_eq!(freyming.structure.region, Region::Est as i32);
        let misspelt: Vec<&str> =
            freyming.structure.aliases.iter().filter(|a| a.kind == AliasKind::Misspelling as i32).map(|a| a.text.as_str()).collect();
        assert!(misspelt.contains(&"Freyding-Merlebach"));
        assert!(freyming.structure.aliases.iter().any(|a| a.text == "HOPITAL DE FREYMING"));
        assert!(freyming.structure.aliases.iter().any(|a| a.text == "Freyming-Creutzwald"));
        assert!(
            freyming
                .structure
                .memberships
                .iter()
                .any(|m| m.kind == MembershipKind::Ght as i32 && m.grouping.starts_with("GHT Moselle-Est"))
        );

        let charleville = by_name(&ds, "Établissement de santé Filieris Charleville-sous-Bois");
        assert_eq!((charleville.structure.department.as_str(), charleville.structure.region), ("57", Region::Est as i32));
        for (name, dept) in
            [("Le Jardin du Temple – Fresnes-sur-Escaut", "59"), ("Le Bois de la Loge – Escaudain", "59"), ("La Manaie – Auchel", "62")]
        {
            let d = by_name(&ds, name);
            assert_eq!((d.structure.department.as_str(), d.structure.region), (dept, Region::Nord as i32));
        }
        let sainte_barbe = by_name(&ds, "Polyclinique Sainte-Barbe – Carmaux");
        assert_eq!(sainte_barbe.structure.subtype, Subtype::Medicine as i32);
        assert!(by_name(&ds, "Établissement de santé Filieris La Pomarède").structure.capacities.iter().any(|c| c.authorised == 40));
        by_name(&ds, "Centre de réadaptation fonctionnelle Filieris de Folcheran");

        let pampelonne = by_name(&ds, "EHPAD de Pampelonne");
        assert_eq!((pampelonne.structure.department.as_str(), pampelonne.structure.region), ("81", Region::Sud as i32));
        for name in ["EHPAD de Creutzwald", "EHPAD Joseph Porebski", "EHPAD de La Manaie", "EHPAD de Lallaing", "EHPAD Germaine Tillion"] {
            by_name(&ds, name);
        }
        assert_eq!(by_name(&ds, "EHPAD Joseph Porebski").structure.open_date, "2018-02-26");
        for name in ["Jean Moulin", "Louis Voisin", "Ambroise Croizat", "Guy Mollet"] {
            by_name(&ds, &format!("Résidence autonomie {name}"));
        }
        let spasad = by_name(&ds, "SPASAD Nord");
        assert!(spasad.structure.aliases.iter().any(|a| a.text == "SPASAD du Nord"));
        let saad = by_name(&ds, "SAAD Est");
        assert!(saad.structure.aliases.iter().any(|a| a.text == "SAAD EST"));
        assert_eq!(saad.structure.region, Region::Est as i32);

        let lab = by_name(&ds, "Laboratoire de biologie médicale Filieris Hénin-Beaumont");
        assert!(lab.structure.memberships.iter().any(|m| m.kind == MembershipKind::Gcs as i32 && m.grouping == "GCS S.H.A.B."));
        assert_eq!(by_name(&ds, "Centre de santé Filieris Salindres").structure.open_date, "2018-02-20");
    }

    #[test]
    fn integrated_ehpad_point_to_sanitary_establishments() {
        let ds = dataset();
        let integrated: Vec<&DemoStructure> = ds.structures.iter().filter(|d| d.integrated_in_key.is_some()).collect();
        assert_eq!(integrated.len(), 3);
        for d in integrated {
            assert_eq!(cat(d), Category::Ehpad);
            let host =
                ds.structures.iter().find(|h| Some(&h.key) == d.integrated_in_key.as_ref()).unwrap_or_else(|| panic!("missing host"));
            assert_eq!(cat(host), Category::Hospital);
        }
    }

    #[test]
    fn certifications_and_networks_follow_the_sources() {
        let ds = dataset();
        let has_scheme = |d: &DemoStructure, s: CertificationScheme| d.structure.certifications.iter().any(|c| c.scheme == s as i32);
        let afnor: Vec<&str> = ds
            .structures
            .iter()
            .filter(|d| has_scheme(d, CertificationScheme::AfnorQualisante))
            .map(|d| d.structure.display_name.as_str())
            .collect();
        assert_eq!(afnor.len(), 10);
        assert!(afnor.contains(&"Centre de santé Filieris Carmaux"));
        assert_eq!(afnor.iter().filter(|n| n.contains("Bully-les-Mines")).count(), 2);
        let has_a = ds
            .structures
            .iter()
            .filter(|d| {
                d.structure
                    .certifications
                    .iter()
                    .any(|c| c.scheme == CertificationScheme::Has as i32 && c.scheme_version == "V2020" && c.level == "A")
            })
            .collect::<Vec<_>>();
        assert_eq!(has_a.len(), 8);
        assert!(has_a.iter().all(|d| cat(d) == Category::Hospital));
        let member_of =
            |grouping: &str| ds.structures.iter().filter(|d| d.structure.memberships.iter().any(|m| m.grouping == grouping)).count();
        assert_eq!(member_of("CPTS ECEGEC"), 9);
        assert!(member_of("SAS") > 20);
        assert!(member_of("ROR") > 50);
    }

    #[test]
    fn groups_follow_the_cog_lines() {
        let ds = dataset();
        let codes: Vec<&str> = ds.groups.iter().map(|g| g.group.code.as_str()).collect();
        for code in [
            "centres-de-sante",
            "ssiad",
            "centres-d-optique",
            "services-d-aide-a-la-personne",
            "etablissements-sanitaires",
            "region-nord",
            "region-est",
            "region-sud",
            "jardin-du-temple-bois-de-la-loge",
            "autres-etablissements-sanitaires-et-medico-sociaux",
        ] {
            assert!(codes.contains(&code), "{code}");
        }
        let keys: BTreeSet<&str> = ds.structures.iter().map(|d| d.key.as_str()).collect();
        for g in &ds.groups {
            let code = g.group.code.as_str();
            assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            if g.group.mode == GroupMode::Rule as i32 {
                assert!(g.member_keys.is_empty());
                assert!(!g.group.rule_categories.is_empty() || !g.group.rule_regions.is_empty());
            } else {
                assert_eq!(g.group.mode, GroupMode::Explicit as i32);
                assert!(!g.member_keys.is_empty());
                assert!(g.member_keys.iter().all(|k| keys.contains(k.as_str())), "{code}");
            }
        }
        let group = |code: &str| ds.groups.iter().find(|g| g.group.code == code).unwrap_or_else(|| panic!("{code}"));
        let names = |code: &str| -> Vec<String> {
            group(code)
                .member_keys
                .iter()
                .filter_map(|k| ds.structures.iter().find(|d| &d.key == k))
                .map(|d| d.structure.display_name.clone())
                .collect()
        };
        assert_eq!(
            names("jardin-du-temple-bois-de-la-loge"),
            ["Le Jardin du Temple – Fresnes-sur-Escaut", "Le Bois de la Loge – Escaudain"]
        );

        let others = names("autres-etablissements-sanitaires-et-medico-sociaux");
        for excluded in [
            "Établissement de santé Filieris Freyming-Merlebach – Creutzwald",
            "Établissement de santé Filieris Charleville-sous-Bois",
            "Le Jardin du Temple – Fresnes-sur-Escaut",
            "Le Bois de la Loge – Escaudain",
            "La Manaie – Auchel",
            "Polyclinique Sainte-Barbe – Carmaux",
            "EHPAD de Pampelonne",
            "EHPAD de Creutzwald",
            "EHPAD de La Manaie",
        ] {
            assert!(!others.iter().any(|n| n == excluded), "{excluded} is in lines 1-6");
        }
        for included in [
            "Établissement de santé Filieris La Pomarède",
            "Centre de réadaptation fonctionnelle Filieris de Folcheran",
            "EHPAD Joseph Porebski",
            "EHPAD Germaine Tillion",
            "Résidence autonomie Ambroise Croizat",
        ] {
            assert!(others.iter().any(|n| n == included), "{included} belongs to line 7");
        }
        assert_eq!(others.len(), 5 + 3 + 4 + 1);
        let rule = group("services-d-aide-a-la-personne");
        assert_eq!(rule.group.rule_categories, vec![Category::Saad as i32, Category::Spasad as i32]);
        assert_eq!(group("region-est").group.rule_regions, vec![Region::Est as i32]);
    }

    #[test]
    fn regions_add_up_to_the_national_total() {
        let ds = dataset();
        let by_region = |r: Region| count(&ds, |d| d.structure.region == r as i32);
        assert_eq!(by_region(Region::Nord) + by_region(Region::Est) + by_region(Region::Sud), ds.structures.len());
    }

    #[test]
    fn the_data_set_is_deterministic() {
        assert_eq!(dataset(), dataset());
    }
}
