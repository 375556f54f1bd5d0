//! Pure rules of the delegated missions (missions.md): who a caller acts for,
//! deliverable due dates and statuses, governance compliance, claim targets,
//! file-exchange routing and record validation. No I/O.

use chrono::{Datelike, NaiveDate};
use filieris_kernel::date::parse_date;
use filieris_kernel::nir::Nir;
use filieris_kernel::period::Period;
use filieris_proto::missions as pb;
use filieris_runtime::identity::{CallerKind, Identity};

/// Roles that let an internal caller read everything.
pub const READ_ROLES: &[&str] = &["missions", "missions-reader", "reader", "steering", "admin"];
/// Roles that let an internal caller write.
pub const WRITE_ROLES: &[&str] = &["missions", "admin"];

/// Short code of a partner (`CNAM`…), or `None` for UNSPECIFIED/unknown.
pub fn partner_code(p: i32) -> Option<&'static str> {
    match pb::Partner::try_from(p).ok()? {
        pb::Partner::Cnam => Some("CNAM"),
        pb::Partner::Cpam62 => Some("CPAM62"),
        pb::Partner::Cpam57 => Some("CPAM57"),
        pb::Partner::Cdc => Some("CDC"),
        pb::Partner::Angdm => Some("ANGDM"),
        pb::Partner::Unspecified => None,
    }
}

/// The enum value of a partner code (UNSPECIFIED when unknown).
pub fn partner_enum(code: &str) -> i32 {
    (match code {
        "CNAM" => pb::Partner::Cnam,
        "CPAM62" => pb::Partner::Cpam62,
        "CPAM57" => pb::Partner::Cpam57,
        "CDC" => pb::Partner::Cdc,
        "ANGDM" => pb::Partner::Angdm,
        _ => pb::Partner::Unspecified,
    }) as i32
}

/// The partner holding the mandate a partner works under: the CPAMs act
/// within the CNAM mandate.
pub fn mandate_partner(code: &str) -> &str {
    match code {
        "CPAM62" | "CPAM57" => "CNAM",
        other => other,
    }
}

/// What a caller may see and do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Internal staff, job or service: sees everything; `write` with a writer role.
    Internal { write: bool },
    /// A partner system acting for one partner code.
    Partner(String),
}

/// Why a caller is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied(pub String);

impl Access {
    /// The access of an identity. A partner is read from a scope
    /// `partner:<CODE>` first, else from its caller id `partner:<code>`; a
    /// partner caller naming no known partner is refused, as is an internal
    /// caller with no missions role.
    pub fn of(identity: &Identity) -> Result<Self, Denied> {
        match identity.kind {
            CallerKind::Partner => {
                let from_scope = identity.scopes.iter().find_map(|s| s.strip_prefix("partner:"));
                let from_caller = identity.caller.strip_prefix("partner:");
                let code = from_scope.or(from_caller).map(|c| c.trim().to_ascii_uppercase()).unwrap_or_default();
                if partner_enum(&code) == pb::Partner::Unspecified as i32 {
                    return Err(Denied(format!(
                        "{} is a partner credential without a known partner (scope partner:CNAM|CPAM62|CPAM57|CDC|ANGDM)",
                        identity.caller
                    )));
                }
                Ok(Self::Partner(code))
            }
            CallerKind::Staff | CallerKind::Job | CallerKind::Service => {
                if WRITE_ROLES.iter().any(|r| identity.has_role(r)) {
                    Ok(Self::Internal { write: true })
                } else if READ_ROLES.iter().any(|r| identity.has_role(r)) {
                    Ok(Self::Internal { write: false })
                } else {
                    Err(Denied(format!("{} has no missions role (roles: {})", identity.caller, READ_ROLES.join(", "))))
                }
            }
        }
    }

    /// Partner codes whose records the caller sees (`None`: all). CNAM sees
    /// its CPAMs' records too; a CPAM sees only its own.
    pub fn visible(&self) -> Option<Vec<String>> {
        match self {
            Self::Internal { .. } => None,
            Self::Partner(code) if code == "CNAM" => Some(vec!["CNAM".into(), "CPAM62".into(), "CPAM57".into()]),
            Self::Partner(code) => Some(vec![code.clone()]),
        }
    }

    /// Mandate-holder codes whose mandates the caller sees (`None`: all).
    pub fn visible_mandates(&self) -> Option<Vec<String>> {
        match self {
            Self::Internal { .. } => None,
            Self::Partner(code) => Some(vec![mandate_partner(code).to_owned()]),
        }
    }

    /// May the caller see a record of `partner`?
    pub fn sees(&self, partner: &str) -> bool {
        self.visible().is_none_or(|v| v.iter().any(|p| p == partner))
    }

    /// May the caller see what belongs to the mandate held by `holder`?
    pub fn sees_mandate(&self, holder: &str) -> bool {
        self.visible_mandates().is_none_or(|v| v.iter().any(|p| p == holder))
    }

    /// Is it an internal writer?
    pub fn internal_writer(&self) -> bool {
        matches!(self, Self::Internal { write: true })
    }
}

/// Default due date of a period: annual documents of year N on `MM-DD` of
/// N+1 (default 30 June); quarterly and monthly returns on day `DD` of the
/// month after the period (default the 20th); a one-off deliverable on
/// `MM-DD` of its year + 1 like an annual one.
pub fn due_date(recurrence: pb::Recurrence, period: &Period, rule: &str) -> Result<NaiveDate, String> {
    match recurrence {
        pb::Recurrence::Annual | pb::Recurrence::Once => {
            let rule = if rule.is_empty() { "06-30" } else { rule };
            parse_date(&format!("{}-{rule}", period.year() + 1)).map_err(|_| format!("due rule {rule:?} must be MM-DD"))
        }
        pb::Recurrence::Quarterly | pb::Recurrence::Monthly => {
            let day: u32 =
                if rule.is_empty() { 20 } else { rule.parse().map_err(|_| format!("due rule {rule:?} must be a day (1-28)"))? };
            if !(1..=28).contains(&day) {
                return Err(format!("due rule {rule:?} must be a day (1-28)"));
            }
            let next = period.end().succ_opt().ok_or("period at the end of time")?;
            NaiveDate::from_ymd_opt(next.year(), next.month(), day).ok_or_else(|| "invalid due day".to_owned())
        }
        pb::Recurrence::Unspecified => Err("recurrence is required".into()),
    }
}

/// Period codes of a recurrence over years (`2022`, `2022Q1`, `202201`).
pub fn periods(recurrence: pb::Recurrence, from: i32, to: i32) -> Vec<String> {
    let mut out = Vec::new();
    for y in from..=to {
        match recurrence {
            pb::Recurrence::Quarterly => out.extend((1..=4).map(|q| format!("{y}Q{q}"))),
            pb::Recurrence::Monthly => out.extend((1..=12).map(|m| format!("{y}{m:02}"))),
            pb::Recurrence::Once => {
                out.push(format!("{y}"));
                break;
            }
            _ => out.push(format!("{y}")),
        }
    }
    out
}

/// Status of a deliverable at `as_of` (a receipt after `as_of` is not yet
/// known then), with its days late.
pub fn deliverable_status(due: NaiveDate, received: Option<NaiveDate>, as_of: NaiveDate) -> (pb::DeliverableStatus, i32) {
    match received.filter(|r| *r <= as_of) {
        Some(r) if r <= due => (pb::DeliverableStatus::OnTime, 0),
        Some(r) => (pb::DeliverableStatus::Late, (r - due).num_days() as i32),
        None if as_of > due => (pb::DeliverableStatus::Missing, (as_of - due).num_days() as i32),
        None => (pb::DeliverableStatus::Expected, 0),
    }
}

/// Default requirement of a mandate holder's body when none is set for the
/// year: COFIL MANGA twice a year (CNAM), one CANSSM-CDC meeting a quarter,
/// and one CANSSM-ANGDM meeting a year (a parameter of the convention; the
/// sources give none).
pub fn default_requirement(holder: &str) -> Option<(pb::SteeringBody, i32, bool)> {
    match holder {
        "CNAM" => Some((pb::SteeringBody::CofilManga, 2, false)),
        "CDC" => Some((pb::SteeringBody::CanssmCdcQuarterly, 4, true)),
        "ANGDM" => Some((pb::SteeringBody::CanssmAngdm, 1, false)),
        _ => None,
    }
}

/// The mandate holder whose steering body it is.
pub fn body_holder(body: pb::SteeringBody) -> Option<&'static str> {
    match body {
        pb::SteeringBody::CofilManga => Some("CNAM"),
        pb::SteeringBody::CanssmCdcQuarterly => Some("CDC"),
        pb::SteeringBody::CanssmAngdm => Some("ANGDM"),
        pb::SteeringBody::Unspecified => None,
    }
}

/// Compliance of a body in a year from the dates of its meetings held with
/// minutes.
pub fn body_compliance(body: pb::SteeringBody, minimum: i32, each_quarter: bool, held: &[NaiveDate]) -> pb::BodyCompliance {
    let mut covered = [false; 4];
    for d in held {
        covered[(d.month0() / 3) as usize] = true;
    }
    let missed: Vec<i32> = (1..=4).filter(|q| !covered[(*q - 1) as usize]).collect();
    let count = held.len() as i32;
    let compliant = count >= minimum && (!each_quarter || missed.is_empty());
    pb::BodyCompliance {
        body: body as i32,
        required_meetings: minimum,
        held_meetings: count,
        quarters_covered: 4 - missed.len() as i32,
        quarters_missed: if each_quarter { missed } else { Vec::new() },
        compliant,
    }
}

/// Response target of a claim category, in calendar days (missions.md §3:
/// a parameter per category, default 30; information and quality-of-service
/// claims 15).
pub fn claim_target_days(category: pb::ClaimCategory) -> i32 {
    match category {
        pb::ClaimCategory::Information | pb::ClaimCategory::QualityOfService => 15,
        _ => 30,
    }
}

/// Delay and target check of a claim at `as_of`.
pub fn claim_delay(received: NaiveDate, answered: Option<NaiveDate>, as_of: NaiveDate, target: i32) -> (i32, bool) {
    let end = answered.unwrap_or(as_of.max(received));
    let delay = (end - received).num_days() as i32;
    (delay, delay <= target)
}

/// The partner a file is routed to: the CNAM ↔ CDC exchanges of the A239
/// specification go to the other side; ANGDM files stay with CANSSM.
pub fn route(sender: &str) -> Option<&'static str> {
    match mandate_partner(sender) {
        "CDC" => Some("CNAM"),
        "CNAM" => Some("CDC"),
        _ => None,
    }
}

/// ISO 3166-1 alpha-2 codes.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD \
CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF \
GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN \
KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA \
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI \
SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI \
VN VU WF WS YE YT ZA ZM ZW";

/// Is `code` an ISO 3166-1 alpha-2 country code?
pub fn is_country(code: &str) -> bool {
    code.len() == 2 && COUNTRIES.split(' ').any(|c| c == code)
}

/// A record that passed validation. The NIR stays here only until it is
/// pseudonymised; it is never stored.
#[derive(Debug)]
pub struct ValidRecord {
    /// 1-based line.
    pub line: i32,
    /// The NIR.
    pub nir: Nir,
    /// Event date.
    pub event_date: NaiveDate,
    /// Country code.
    pub country: String,
    /// Record type.
    pub record_type: String,
}

/// Validates one line of an exchange file against its period; errors name
/// the field and never echo the value.
pub fn validate_record(
    line: i32,
    r: &pb::ExchangeRecordInput,
    period: &Period,
    default_type: &str,
) -> Result<ValidRecord, pb::RejectedLine> {
    let reject = |field: &str, reason: String| pb::RejectedLine { line, field: field.into(), reason };
    let nir = Nir::parse(&r.nir).map_err(|e| reject("nir", e.to_string()))?;
    let event_date = parse_date(&r.event_date).map_err(|e| reject("event_date", e.to_string()))?;
    if !period.contains(event_date) {
        return Err(reject("event_date", format!("must be within the period {}", period_code(period))));
    }
    let country = if r.country_code.trim().is_empty() { "FR".to_owned() } else { r.country_code.trim().to_ascii_uppercase() };
    if !is_country(&country) {
        return Err(reject("country_code", "must be an ISO 3166-1 alpha-2 country code".into()));
    }
    let record_type = if r.record_type.trim().is_empty() { default_type.to_owned() } else { r.record_type.trim().to_ascii_uppercase() };
    if !is_code(&record_type) || holds_nir(&record_type) {
        return Err(reject("record_type", "must be an upper-case code of letters, digits and _ (at most 64), never an identifier".into()));
    }
    Ok(ValidRecord { line, nir, event_date, country, record_type })
}

fn period_code(p: &Period) -> String {
    format!("{} to {}", p.start(), p.end())
}

/// An upper-case code: letters, digits and `_`, 1 to 64 characters.
pub fn is_code(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// One current statistic value, for the consistency checks.
#[derive(Debug, Clone)]
pub struct SeriesPoint {
    /// Period code.
    pub period: String,
    /// Dimension (`""` for the total, `key:value` for a component).
    pub dimension: String,
    /// Value, `None` when typed missing (ND/NC).
    pub value: Option<i64>,
}

/// Data-quality warnings of one partner's series (missions.md §3, statistics
/// intake): a total that differs from the sum of its components of one
/// dimension key, or a yearly value that differs from the sum of its twelve
/// months. Inconsistent values are kept; the caller is told.
pub fn consistency_warnings(partner: &str, series: &str, points: &[SeriesPoint]) -> Vec<String> {
    use std::collections::BTreeMap;
    let mut out = Vec::new();
    let value =
        |period: &str, dimension: &str| points.iter().find(|p| p.period == period && p.dimension == dimension).and_then(|p| p.value);
    // Components: per (period, dimension key), the sum of `key:*` values.
    let mut groups: BTreeMap<(String, String), (i64, bool)> = BTreeMap::new();
    for p in points.iter().filter(|p| !p.dimension.is_empty()) {
        let Some((key, _)) = p.dimension.split_once(':') else { continue };
        let e = groups.entry((p.period.clone(), key.to_owned())).or_insert((0, true));
        match p.value {
            Some(v) => e.0 += v,
            None => e.1 = false,
        }
    }
    for ((period, key), (sum, complete)) in groups {
        if let (true, Some(total)) = (complete, value(&period, ""))
            && sum != total
        {
            out.push(format!("{partner} {series} {period}: the {key}:* components sum to {sum}, the total is {total}"));
        }
    }
    // Months: a year whose twelve months are all given.
    let years: std::collections::BTreeSet<(&str, &str)> =
        points.iter().filter(|p| p.period.len() == 4).map(|p| (p.period.as_str(), p.dimension.as_str())).collect();
    for (year, dimension) in years {
        let months: Option<Vec<i64>> = (1..=12).map(|m| value(&format!("{year}{m:02}"), dimension)).collect();
        if let (Some(months), Some(total)) = (months, value(year, dimension)) {
            let sum: i64 = months.iter().sum();
            if sum != total {
                let dim = if dimension.is_empty() { String::new() } else { format!(" {dimension}") };
                out.push(format!("{partner} {series}{dim} {year}: the months sum to {sum}, the year is {total}"));
            }
        }
    }
    out
}

/// The finance line of an ANGDM BNASS section for a year.
pub fn section_line(section: pb::BnassSection, year: i32) -> Option<String> {
    let code = match section {
        pb::BnassSection::Pa => "PA",
        pb::BnassSection::Mal => "MAL",
        pb::BnassSection::Atmp => "ATMP",
        pb::BnassSection::Unspecified => return None,
    };
    Some(format!("funds/BNASS/years/{year}/lines/BNASS-{code}-IND"))
}

/// Does free text hold something shaped like a NIR with a valid key (15
/// characters once spaces are removed)? Such text is refused unstored.
pub fn holds_nir(text: &str) -> bool {
    let compact: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    compact.windows(15).any(|w| Nir::parse(&w.iter().collect::<String>()).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    fn who(kind: CallerKind, caller: &str, roles: &[&str], scopes: &[&str]) -> Identity {
        Identity {
            caller: caller.into(),
            kind,
            roles: roles.iter().map(|s| (*s).into()).collect(),
            scopes: scopes.iter().map(|s| (*s).into()).collect(),
        }
    }

    #[test]
    fn access_is_derived_from_the_identity() {
        let cases = [
            (who(CallerKind::Partner, "partner:cdc", &["partner"], &["*"]), Some(Access::Partner("CDC".into()))),
            (who(CallerKind::Partner, "partner:x", &[], &["partner:cnam"]), Some(Access::Partner("CNAM".into()))),
            (who(CallerKind::Partner, "partner:unknown", &[], &["*"]), None),
            (who(CallerKind::Staff, "staff:a", &["missions"], &["*"]), Some(Access::Internal { write: true })),
            (who(CallerKind::Staff, "staff:b", &["reader"], &["*"]), Some(Access::Internal { write: false })),
            (who(CallerKind::Service, "service:steering", &["steering"], &["*"]), Some(Access::Internal { write: false })),
            (who(CallerKind::Staff, "staff:c", &["hr"], &["*"]), None),
        ];
        for (identity, expected) in cases {
            assert_eq!(Access::of(&identity).ok(), expected, "{}", identity.caller);
        }
    }

    #[test]
    fn partners_see_their_own_records_and_mandate() {
        let cnam = Access::Partner("CNAM".into());
        let cpam = Access::Partner("CPAM62".into());
        let cdc = Access::Partner("CDC".into());
        assert!(cnam.sees("CPAM57") && cnam.sees("CNAM") && !cnam.sees("CDC"));
        assert!(cpam.sees("CPAM62") && !cpam.sees("CPAM57") && cpam.sees_mandate("CNAM"));
        assert!(!cdc.sees_mandate("ANGDM") && !cdc.sees("CNAM"));
        assert!(Access::Internal { write: false }.sees("ANGDM"));
    }

    #[test]
    fn due_dates_follow_the_recurrence() {
        let cases = [
            (pb::Recurrence::Annual, "2022", "", "2023-06-30"),
            (pb::Recurrence::Annual, "2022", "03-31", "2023-03-31"),
            (pb::Recurrence::Quarterly, "2023Q4", "", "2024-01-20"),
            (pb::Recurrence::Monthly, "202302", "15", "2023-03-15"),
        ];
        for (r, p, rule, expected) in cases {
            assert_eq!(due_date(r, &Period::parse(p).unwrap(), rule).unwrap(), d(expected), "{p}");
        }
        assert!(due_date(pb::Recurrence::Monthly, &Period::parse("202302").unwrap(), "31").is_err());
        assert_eq!(periods(pb::Recurrence::Quarterly, 2022, 2023).len(), 8);
        assert_eq!(periods(pb::Recurrence::Once, 2022, 2024), vec!["2022"]);
    }

    #[test]
    fn deliverable_status_at_a_date() {
        use pb::DeliverableStatus::*;
        let due = d("2023-06-30");
        let cases = [
            (Some("2023-07-02"), "2023-08-01", Late, 2),
            (Some("2023-06-30"), "2023-08-01", OnTime, 0),
            (None, "2023-07-01", Missing, 1),
            (None, "2023-06-30", Expected, 0),
            // M4: from 1 July until its receipt on 15 July it was missing.
            (Some("2023-07-15"), "2023-07-10", Missing, 10),
            (Some("2023-07-15"), "2023-07-15", Late, 15),
        ];
        for (received, as_of, status, days) in cases {
            assert_eq!(deliverable_status(due, received.map(d), d(as_of)), (status, days), "{received:?} {as_of}");
        }
    }

    #[test]
    fn governance_compliance() {
        let cofil = |dates: &[&str]| {
            let held: Vec<NaiveDate> = dates.iter().map(|s| d(s)).collect();
            body_compliance(pb::SteeringBody::CofilManga, 2, false, &held).compliant
        };
        assert!(!cofil(&["2023-06-20"]));
        assert!(cofil(&["2022-03-15", "2022-10-04"]));
        // M3: CDC 2023 held 10/02, 12/05, 20/11: 3 quarters of 4, Q3 missed.
        let held = [d("2023-02-10"), d("2023-05-12"), d("2023-11-20")];
        let c = body_compliance(pb::SteeringBody::CanssmCdcQuarterly, 4, true, &held);
        assert_eq!((c.quarters_covered, c.quarters_missed.clone(), c.compliant), (3, vec![3], false));
    }

    #[test]
    fn claim_delays_against_targets() {
        // M19: received 01/03/2023, answered 15/04/2023, target 30 days: 45 days, overdue.
        assert_eq!(claim_delay(d("2023-03-01"), Some(d("2023-04-15")), d("2023-12-31"), 30), (45, false));
        assert_eq!(claim_delay(d("2023-03-01"), None, d("2023-03-10"), 15), (9, true));
        assert_eq!(claim_target_days(pb::ClaimCategory::Information), 15);
        assert_eq!(claim_target_days(pb::ClaimCategory::PensionPayment), 30);
    }

    #[test]
    fn routing_between_cnam_and_cdc() {
        assert_eq!(route("CDC"), Some("CNAM"));
        assert_eq!(route("CPAM57"), Some("CDC"));
        assert_eq!(route("ANGDM"), None);
    }

    #[test]
    fn records_are_validated_field_by_field() {
        let good = Nir::from_body("1840175123456").unwrap();
        let period = Period::parse("202305").unwrap();
        let rec = |nir: &str, date: &str, country: &str| pb::ExchangeRecordInput {
            nir: nir.into(),
            event_date: date.into(),
            country_code: country.into(),
            record_type: String::new(),
        };
        let ok = validate_record(1, &rec(good.as_str(), "2023-05-03", "dz"), &period, "DEATH").unwrap();
        assert_eq!((ok.country.as_str(), ok.record_type.as_str()), ("DZ", "DEATH"));
        let mut bad_key = good.as_str().to_owned();
        bad_key.replace_range(13..15, if &good.as_str()[13..] == "01" { "02" } else { "01" });
        let e = validate_record(2, &rec(&bad_key, "2023-05-03", ""), &period, "DEATH").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "nir"));
        assert!(!e.reason.contains(&bad_key));
        assert_eq!(validate_record(3, &rec(good.as_str(), "2023-06-01", ""), &period, "D").unwrap_err().field, "event_date");
        assert_eq!(validate_record(4, &rec(good.as_str(), "2023-05-01", "XX"), &period, "D").unwrap_err().field, "country_code");
        assert!(is_country("FR") && !is_country("UK"));
        let hidden = pb::ExchangeRecordInput { record_type: good.as_str().into(), ..rec(good.as_str(), "2023-05-03", "") };
        assert_eq!(validate_record(5, &hidden, &period, "D").unwrap_err().field, "record_type");
    }

    #[test]
    fn inconsistent_totals_are_warned() {
        let pt =
            |period: &str, dimension: &str, value: Option<i64>| SeriesPoint { period: period.into(), dimension: dimension.into(), value };
        // M9: 90,436 + 20,703 = 111,139 is consistent; 111,239 is not.
        let ok = [pt("2018", "", Some(111_139)), pt("2018", "type:PRIMARY", Some(90_436)), pt("2018", "type:DEPENDANTS", Some(20_703))];
        assert!(consistency_warnings("CNAM", "BENEFICIARIES", &ok).is_empty());
        let off = [pt("2018", "", Some(111_239)), pt("2018", "type:PRIMARY", Some(90_436)), pt("2018", "type:DEPENDANTS", Some(20_703))];
        assert_eq!(
            consistency_warnings("CNAM", "BENEFICIARIES", &off),
            ["CNAM BENEFICIARIES 2018: the type:* components sum to 111139, the total is 111239"]
        );
        // A component typed missing leaves nothing to compare.
        let nd = [pt("2018", "", Some(5)), pt("2018", "type:A", Some(1)), pt("2018", "type:B", None)];
        assert!(consistency_warnings("CNAM", "X", &nd).is_empty());
        // M6: twelve months summing to 10,793 against a declared 10,761.
        let mut months: Vec<SeriesPoint> =
            (1..=12).map(|m| pt(&format!("2018{m:02}"), "", Some(if m == 1 { 10_793 - 11 * 900 } else { 900 }))).collect();
        months.push(pt("2018", "", Some(10_761)));
        assert_eq!(consistency_warnings("CPAM", "VISITS", &months), ["CPAM VISITS 2018: the months sum to 10793, the year is 10761"]);
        months.pop();
        months.pop();
        months.push(pt("2018", "", Some(1)));
        assert!(consistency_warnings("CPAM", "VISITS", &months).is_empty(), "eleven months: nothing to compare");
    }

    #[test]
    fn sections_map_to_their_bnass_lines() {
        assert_eq!(section_line(pb::BnassSection::Pa, 2022).unwrap(), "funds/BNASS/years/2022/lines/BNASS-PA-IND");
        assert_eq!(section_line(pb::BnassSection::Atmp, 2024).unwrap(), "funds/BNASS/years/2024/lines/BNASS-ATMP-IND");
        assert!(section_line(pb::BnassSection::Unspecified, 2024).is_none());
    }

    #[test]
    fn free_text_with_a_nir_is_detected() {
        let nir = Nir::from_body("2690599350010").unwrap();
        assert!(holds_nir(&format!("assuré {} réclame", nir.as_str())));
        assert!(!holds_nir("dossier 12345 du 3 mars"));
    }
}
