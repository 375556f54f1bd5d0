//! Validation of the records at the boundary, their column codes and the
//! rules of their aggregates. No I/O here.
//!
//! Every broken field of a request is reported at once, under its path in
//! the request (`count.finess`, `stay.admission_date`…). A NIR met here is
//! either pseudonymised and dropped (stays) or refused (trainee and
//! supervisor references); error messages never repeat it.

use chrono::{Datelike, NaiveDate};
use filieris_kernel::date::parse_date;
use filieris_kernel::pseudonym::{IdentityBasis, PseudonymKey, pseudonymise_nir, pseudonymise_partner};
use filieris_kernel::{Finess, Nir, Period, PeriodKind};
use filieris_proto::activity as pb;
use filieris_runtime::error::Violations;
use uuid::Uuid;

use crate::domain::codes::scheme_code;
use crate::domain::rows::{CachedStructure, StructureIndex};

/// Longest free-text reference kept (letters, stays, declarations…).
pub const MAX_REF: usize = 128;
/// Longest provenance text.
pub const MAX_SOURCE: usize = 256;
/// Most items in one survey.
pub const MAX_SURVEY_ITEMS: usize = 200;
/// 100 % in hundredths.
pub const FULL_HUNDREDTHS: i32 = 10_000;
/// Years accepted in records.
pub const YEARS: std::ops::RangeInclusive<i32> = 1990..=2100;

// ------------------------------------------------------------------ codes

/// Status code stored (the proto number); `None` when unset.
pub fn status_code(status: i32) -> Option<i16> {
    match pb::RecordStatus::try_from(status) {
        Ok(pb::RecordStatus::Unspecified) | Err(_) => None,
        Ok(s) => Some(s as i16),
    }
}

/// How bad a status is: FINAL < PROVISIONAL < IMPUTED < DISPUTED. A value
/// carried from another year is less reliable than a provisional letter, and
/// a contested one least of all.
fn status_rank(status: pb::RecordStatus) -> u8 {
    match status {
        pb::RecordStatus::Unspecified => 0,
        pb::RecordStatus::Final => 1,
        pb::RecordStatus::Provisional => 2,
        pb::RecordStatus::Imputed => 3,
        pb::RecordStatus::Disputed => 4,
    }
}

/// The worst of stored status codes (UNSPECIFIED for none).
pub fn worst_status(codes: impl IntoIterator<Item = i16>) -> pb::RecordStatus {
    codes
        .into_iter()
        .map(|c| pb::RecordStatus::try_from(i32::from(c)).unwrap_or(pb::RecordStatus::Unspecified))
        .max_by_key(|s| status_rank(*s))
        .unwrap_or(pb::RecordStatus::Unspecified)
}

/// Code of a set enum value (its proto number), `None` for 0 or unknown.
fn enum_code<E: TryFrom<i32>>(value: i32) -> Option<i16> {
    (value != 0 && E::try_from(value).is_ok()).then(|| i16::try_from(value).ok()).flatten()
}

/// Full-time hospitalisation (HC), the mode occupancy is computed on.
pub const STAY_HC: i16 = pb::StayMode::Hc as i16;

// ------------------------------------------------------------- occupancy

/// `days ÷ capacity_days × 100`, unrounded and never capped: occupancy above
/// 100 % is real (RHT 2018: 101.08 %). 0 when there is no capacity.
pub fn occupancy(days: i64, capacity_days: i64) -> pb::OccupancyRate {
    let percent = if capacity_days <= 0 { 0.0 } else { days as f64 * 100.0 / capacity_days as f64 };
    pb::OccupancyRate { days, capacity_days, percent }
}

/// Days of the month starting on `first`.
pub fn days_in_month(first: NaiveDate) -> i64 {
    first.checked_add_months(chrono::Months::new(1)).map_or(30, |next| (next - first).num_days())
}

/// Nights of a stay within `[start, end]` (both included): the nights of
/// `admission..discharge`, clipped. An ongoing stay runs to `open_until`.
pub fn nights_within(admission: NaiveDate, discharge: Option<NaiveDate>, open_until: NaiveDate, start: NaiveDate, end: NaiveDate) -> i64 {
    let last_night = discharge.unwrap_or(open_until).pred_opt().unwrap_or(admission);
    let (from, to) = (admission.max(start), last_night.min(end));
    if to < from { 0 } else { (to - from).num_days() + 1 }
}

/// True when a period is made of whole months (year, semester, quarter, month).
pub fn whole_months(p: &Period) -> bool {
    p.start().day() == 1 && p.end().succ_opt().is_some_and(|d| d.day() == 1)
}

// ---------------------------------------------------- shared field checks

/// A structure a record refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructureAt {
    /// Registry id.
    pub id: Uuid,
    /// Normalised FINESS ET.
    pub finess: String,
}

/// Open on at least one day of `[start, end]`.
pub fn open_during(s: &CachedStructure, start: NaiveDate, end: NaiveDate) -> bool {
    let first = start.max(s.open_date);
    first <= end && s.open_on(first)
}

/// Checks a FINESS against the registry cache: a structure of the registry,
/// open on some day of `[start, end]` when the dates are known.
pub fn check_structure(
    v: &mut Violations,
    field: &str,
    finess: &str,
    index: &StructureIndex,
    span: Option<(NaiveDate, NaiveDate)>,
) -> Option<StructureAt> {
    let f = v.check(field, Finess::parse(finess))?;
    let Some(s) = index.get(f.as_str()) else {
        v.add(field, format!("FINESS {} is not a structure of the registry", f.as_str()));
        return None;
    };
    if let Some((start, end)) = span
        && !open_during(s, start, end)
    {
        let when = if start == end { format!("on {start}") } else { format!("between {start} and {end}") };
        let why = match s.close_date {
            Some(c) if c <= start => format!("it closed on {c}"),
            _ => format!("it opened on {}", s.open_date),
        };
        v.add(field, format!("the structure was not open {when}: {why}"));
        return None;
    }
    Some(StructureAt { id: s.id, finess: f.as_str().to_owned() })
}

fn date(v: &mut Violations, field: &str, text: &str) -> Option<NaiveDate> {
    if text.is_empty() {
        v.add(field, "is required (YYYY-MM-DD)");
        return None;
    }
    v.check(field, parse_date(text))
}

fn optional_date(v: &mut Violations, field: &str, text: &str) -> Option<Option<NaiveDate>> {
    if text.is_empty() { Some(None) } else { v.check(field, parse_date(text)).map(Some) }
}

fn year(v: &mut Violations, field: &str, y: i32) -> Option<i16> {
    if YEARS.contains(&y) {
        i16::try_from(y).ok()
    } else {
        v.add(field, format!("must be a year from {} to {}", YEARS.start(), YEARS.end()));
        None
    }
}

fn period(v: &mut Violations, field: &str, text: &str) -> Option<Period> {
    if text.is_empty() {
        v.add(field, "is required, e.g. 2018, 2018Q1, 201803");
        return None;
    }
    v.check(field, Period::parse(text))
}

/// A trimmed text of at most `max` bytes; required unless `optional`.
fn text(v: &mut Violations, field: &str, value: &str, max: usize, required: bool) -> String {
    let t = value.trim();
    if required && t.is_empty() {
        v.add(field, "is required");
    } else if t.len() > max {
        v.add(field, format!("is longer than {max} bytes"));
    }
    t.to_owned()
}

fn non_negative<T: Default + PartialOrd>(v: &mut Violations, field: &str, n: T) {
    if n < T::default() {
        v.add(field, "must not be negative");
    }
}

fn hours(v: &mut Violations, field: &str, h: f64) {
    if !h.is_finite() || h < 0.0 {
        v.add(field, "must be a finite number of hours, not negative");
    }
}

fn required<T>(v: &mut Violations, field: &str, value: Option<T>, expected: &str) -> Option<T> {
    if value.is_none() {
        v.add(field, format!("is required: {expected}"));
    }
    value
}

/// True for a value that is a NIR: with its key, or its 13-character body.
pub fn looks_like_nir(value: &str) -> bool {
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    Nir::parse(value).is_ok() || (compact.len() == 13 && Nir::from_body(&compact).is_ok())
}

fn finish<T>(v: Violations, value: Option<T>) -> Result<T, Violations> {
    match value {
        Some(t) if v.is_empty() => Ok(t),
        _ => Err(v),
    }
}

// ------------------------------------------------------------ GP of record

/// A GP-of-record count ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidGpCount {
    /// Structure.
    pub structure: StructureAt,
    /// Reference year.
    pub year: i16,
    /// Patients.
    pub patients: i64,
    /// Status code.
    pub status: i16,
    /// Letter reference.
    pub letter_reference: String,
    /// Date the letter was received.
    pub letter_date: Option<NaiveDate>,
    /// Year the value is carried from.
    pub imputed_from_year: Option<i16>,
    /// Dispute reference.
    pub dispute_reference: String,
    /// Provenance.
    pub source: String,
}

/// Validates a GP-of-record count. A value carried from another year is
/// flagged by `imputed_from_year` and has status IMPUTED (or DISPUTED, when
/// the carried value is contested); an IMPUTED value says where it comes from.
pub fn validate_gp_count(c: &pb::GpPatientCount, index: &StructureIndex) -> Result<ValidGpCount, Violations> {
    let mut v = Violations::new();
    let y = year(&mut v, "count.year", c.year);
    let span = y.and_then(|y| Some((NaiveDate::from_ymd_opt(y.into(), 1, 1)?, NaiveDate::from_ymd_opt(y.into(), 12, 31)?)));
    let structure = check_structure(&mut v, "count.finess", &c.finess, index, span);
    non_negative(&mut v, "count.patients", c.patients);
    let status = required(&mut v, "count.status", status_code(c.status), "PROVISIONAL, IMPUTED, DISPUTED or FINAL");
    let letter_reference = text(&mut v, "count.letter_reference", &c.letter_reference, MAX_REF, false);
    let letter_date = optional_date(&mut v, "count.letter_date", &c.letter_date);
    let dispute_reference = text(&mut v, "count.dispute_reference", &c.dispute_reference, MAX_REF, false);
    let source = text(&mut v, "count.source", &c.source, MAX_SOURCE, true);
    let imputed_from_year = match c.imputed_from_year {
        0 => None,
        from => {
            let f = year(&mut v, "count.imputed_from_year", from);
            if f.is_some() && from == c.year {
                v.add("count.imputed_from_year", "must be another year than the reference year");
            }
            f
        }
    };
    let imputed_status = pb::RecordStatus::Imputed as i16;
    match (status, imputed_from_year) {
        (Some(s), None) if s == imputed_status => {
            v.add("count.imputed_from_year", "is required for an IMPUTED value: the year the value is carried from");
        }
        (Some(s), Some(_)) if s != imputed_status && s != pb::RecordStatus::Disputed as i16 => {
            v.add("count.status", "a value carried from another year is IMPUTED (or DISPUTED)");
        }
        _ => {}
    }
    let valid = (|| {
        Some(ValidGpCount {
            structure: structure?,
            year: y?,
            patients: c.patients,
            status: status?,
            letter_reference,
            letter_date: letter_date?,
            imputed_from_year,
            dispute_reference,
            source,
        })
    })();
    finish(v, valid)
}

// --------------------------------------------------------------- stays

/// A stay ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidStay {
    /// Establishment.
    pub structure: StructureAt,
    /// Stay id in the source.
    pub stay_ref: String,
    /// Mode code.
    pub mode: i16,
    /// Unit.
    pub unit: String,
    /// Admission.
    pub admission: NaiveDate,
    /// Discharge, when over.
    pub discharge: Option<NaiveDate>,
    /// Keyed pseudonym of the patient.
    pub patient: [u8; 32],
    /// 1 own NIR, 3 partner pseudonym (as for acts).
    pub identity_basis: i16,
    /// Scheme code.
    pub scheme: i16,
}

/// Partner code under which a stay's idempotency hash carries the keyed
/// pseudonym instead of the NIR sent.
pub const PSEUDONYM_PARTNER: &str = "filieris-pseudonym";

/// Validates a stay; the patient becomes a keyed pseudonym here and the NIR
/// goes no further.
pub fn validate_stay(s: &pb::HospitalStay, index: &StructureIndex, key: &PseudonymKey) -> Result<ValidStay, Violations> {
    let mut v = Violations::new();
    let admission = date(&mut v, "stay.admission_date", &s.admission_date);
    let discharge = optional_date(&mut v, "stay.discharge_date", &s.discharge_date);
    if let (Some(a), Some(Some(d))) = (admission, discharge)
        && d < a
    {
        v.add("stay.discharge_date", format!("{d} is before the admission date {a}"));
    }
    let structure = check_structure(&mut v, "stay.finess", &s.finess, index, admission.map(|a| (a, a)));
    let stay_ref = text(&mut v, "stay.stay_ref", &s.stay_ref, MAX_REF, true);
    let unit = text(&mut v, "stay.unit", &s.unit, MAX_REF, false);
    let mode = required(&mut v, "stay.mode", enum_code::<pb::StayMode>(s.mode), "HC, HDJ or HAD");
    let scheme = required(&mut v, "stay.scheme", pb::Scheme::try_from(s.scheme).ok().and_then(scheme_code), "MINING, OTHER or UNKNOWN");
    let patient = match s.patient.as_ref().and_then(|p| p.identity.as_ref()) {
        None => {
            v.add("stay.patient", "is required: a NIR or a partner pseudonym");
            None
        }
        // The NIR error never repeats the NIR.
        Some(pb::patient_ref::Identity::Nir(t)) => {
            v.check("stay.patient.nir", Nir::parse(t)).map(|n| (pseudonymise_nir(key, &n), IdentityBasis::OwnNir))
        }
        Some(pb::patient_ref::Identity::Partner(p)) => {
            v.check("stay.patient.partner", pseudonymise_partner(key, &p.partner, &p.id)).map(|ps| (ps, IdentityBasis::PartnerPseudonym))
        }
    };
    let valid = (|| {
        let (pseudonym, basis) = patient?;
        Some(ValidStay {
            structure: structure?,
            stay_ref,
            mode: mode?,
            unit,
            admission: admission?,
            discharge: discharge?,
            patient: *pseudonym.as_bytes(),
            identity_basis: match basis {
                IdentityBasis::OwnNir => 1,
                IdentityBasis::InsuredNirWithBirth => 2,
                IdentityBasis::PartnerPseudonym => 3,
            },
            scheme: scheme?,
        })
    })();
    finish(v, valid)
}

/// The stay as the idempotency key hashes it: the patient replaced by the
/// keyed pseudonym, so no unkeyed hash of a NIR is ever stored.
pub fn stay_for_hash(s: &pb::HospitalStay, valid: &ValidStay) -> pb::HospitalStay {
    let hex: String = valid.patient.iter().map(|b| format!("{b:02x}")).collect();
    pb::HospitalStay {
        patient: Some(pb::PatientRef {
            identity: Some(pb::patient_ref::Identity::Partner(pb::PartnerPseudonym { partner: PSEUDONYM_PARTNER.into(), id: hex })),
        }),
        ..s.clone()
    }
}

// ------------------------------------------------ medico-social counts

/// A monthly medico-social count ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidMsCount {
    /// Structure.
    pub structure: StructureAt,
    /// First day of the month.
    pub month: NaiveDate,
    /// Service code.
    pub service: i16,
    /// Places.
    pub capacity: i32,
    /// Days realised.
    pub days_realised: i64,
    /// Hours delivered.
    pub hours_delivered: f64,
    /// Hours planned.
    pub hours_planned: f64,
    /// Distinct users.
    pub users_total: i32,
    /// Mining-scheme users.
    pub users_mining: i32,
    /// Other-scheme users.
    pub users_other: i32,
    /// Entries.
    pub entries: i32,
    /// Exits.
    pub exits: i32,
    /// Status code.
    pub status: i16,
    /// Source system.
    pub source: String,
}

/// Validates a monthly count. Days above capacity × days are accepted:
/// occupancy may exceed 100 %.
pub fn validate_ms_count(c: &pb::MedicoSocialCount, index: &StructureIndex) -> Result<ValidMsCount, Violations> {
    let mut v = Violations::new();
    let month = period(&mut v, "count.month", &c.month).and_then(|p| {
        if p.kind() == PeriodKind::Month {
            Some(p)
        } else {
            v.add("count.month", "must be a month code, e.g. 201803");
            None
        }
    });
    let structure = check_structure(&mut v, "count.finess", &c.finess, index, month.map(|m| (m.start(), m.end())));
    let service = required(
        &mut v,
        "count.service",
        enum_code::<pb::MedicoSocialService>(c.service),
        "EHPAD, INDEPENDENT_LIVING_RESIDENCE, TEMPORARY_ACCOMMODATION_RESIDENCE, SERVICE_RESIDENCE, SSIAD, SAAD or SPASAD",
    );
    for (field, n) in [
        ("count.capacity", c.capacity),
        ("count.users_total", c.users_total),
        ("count.users_mining", c.users_mining),
        ("count.users_other", c.users_other),
        ("count.entries", c.entries),
        ("count.exits", c.exits),
    ] {
        non_negative(&mut v, field, n);
    }
    non_negative(&mut v, "count.days_realised", c.days_realised);
    hours(&mut v, "count.hours_delivered", c.hours_delivered);
    hours(&mut v, "count.hours_planned", c.hours_planned);
    if i64::from(c.users_mining) + i64::from(c.users_other) > i64::from(c.users_total) {
        v.add("count.users_total", "must be at least users_mining + users_other");
    }
    let status = required(&mut v, "count.status", status_code(c.status), "PROVISIONAL, IMPUTED, DISPUTED or FINAL");
    let source = text(&mut v, "count.source", &c.source, MAX_REF, false);
    let valid = (|| {
        Some(ValidMsCount {
            structure: structure?,
            month: month?.start(),
            service: service?,
            capacity: c.capacity,
            days_realised: c.days_realised,
            hours_delivered: c.hours_delivered,
            hours_planned: c.hours_planned,
            users_total: c.users_total,
            users_mining: c.users_mining,
            users_other: c.users_other,
            entries: c.entries,
            exits: c.exits,
            status: status?,
            source,
        })
    })();
    finish(v, valid)
}

// ------------------------------------------------------------ trainees

/// A placement ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidPlacement {
    /// Host structure.
    pub structure: StructureAt,
    /// Category code.
    pub category: i16,
    /// Trainee reference.
    pub trainee_ref: String,
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
    /// Supervisor reference.
    pub supervisor_ref: String,
}

/// Validates a placement; a reference that is a NIR is refused.
pub fn validate_placement(p: &pb::TraineePlacement, index: &StructureIndex) -> Result<ValidPlacement, Violations> {
    let mut v = Violations::new();
    let start = date(&mut v, "placement.start_date", &p.start_date);
    let end = date(&mut v, "placement.end_date", &p.end_date);
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        v.add("placement.end_date", format!("{e} is before the start date {s}"));
    }
    let span = start.zip(end).filter(|(s, e)| s <= e);
    let structure = check_structure(&mut v, "placement.finess", &p.finess, index, span);
    let category = required(
        &mut v,
        "placement.category",
        enum_code::<pb::TraineeCategory>(p.category),
        "MEDICAL_INTERN, MEDICAL_STUDENT_2ND_CYCLE, NURSING_STUDENT or OTHER",
    );
    let trainee_ref = text(&mut v, "placement.trainee_ref", &p.trainee_ref, MAX_REF, true);
    let supervisor_ref = text(&mut v, "placement.supervisor_ref", &p.supervisor_ref, MAX_REF, false);
    for (field, value) in [("placement.trainee_ref", &trainee_ref), ("placement.supervisor_ref", &supervisor_ref)] {
        if looks_like_nir(value) {
            v.add(field, "must not be a NIR: use the reference of the school or of HR");
        }
    }
    let valid =
        (|| Some(ValidPlacement { structure: structure?, category: category?, trainee_ref, start: start?, end: end?, supervisor_ref }))();
    finish(v, valid)
}

// ------------------------------------------------------------- surveys

/// A survey ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidSurvey {
    /// Structure.
    pub structure: StructureAt,
    /// Period covered.
    pub period: Period,
    /// Population code.
    pub population: i16,
    /// Instrument.
    pub instrument: String,
    /// Respondents.
    pub respondents: i32,
    /// Overall result in hundredths.
    pub overall: i32,
    /// Items, as stored (JSON array).
    pub items: serde_json::Value,
    /// Action-plan reference.
    pub action_plan_ref: String,
}

fn hundredths(v: &mut Violations, field: &str, n: i32) {
    if !(0..=FULL_HUNDREDTHS).contains(&n) {
        v.add(field, "must be a percentage in hundredths, from 0 to 10000");
    }
}

/// Validates a survey.
pub fn validate_survey(s: &pb::SatisfactionSurvey, index: &StructureIndex) -> Result<ValidSurvey, Violations> {
    let mut v = Violations::new();
    let p = period(&mut v, "survey.period", &s.period);
    let structure = check_structure(&mut v, "survey.finess", &s.finess, index, p.map(|p| (p.start(), p.end())));
    let population =
        required(&mut v, "survey.population", enum_code::<pb::SurveyPopulation>(s.population), "PATIENTS, RESIDENTS, CARERS or PARTNERS");
    let instrument = text(&mut v, "survey.instrument", &s.instrument, MAX_REF, true);
    non_negative(&mut v, "survey.respondents", s.respondents);
    hundredths(&mut v, "survey.overall_result_hundredths", s.overall_result_hundredths);
    let action_plan_ref = text(&mut v, "survey.action_plan_ref", &s.action_plan_ref, MAX_REF, false);
    if s.items.len() > MAX_SURVEY_ITEMS {
        v.add("survey.items", format!("at most {MAX_SURVEY_ITEMS} items"));
    }
    let mut codes = std::collections::HashSet::new();
    let mut items = Vec::with_capacity(s.items.len());
    for (i, item) in s.items.iter().enumerate() {
        let code = text(&mut v, &format!("survey.items[{i}].code"), &item.code, MAX_REF, true);
        let label = text(&mut v, &format!("survey.items[{i}].label"), &item.label, MAX_SOURCE, false);
        hundredths(&mut v, &format!("survey.items[{i}].result_hundredths"), item.result_hundredths);
        non_negative(&mut v, &format!("survey.items[{i}].respondents"), item.respondents);
        if !code.is_empty() && !codes.insert(code.clone()) {
            v.add(format!("survey.items[{i}].code"), format!("item {code:?} is given twice"));
        }
        items.push(serde_json::json!({
            "code": code, "label": label, "result_hundredths": item.result_hundredths, "respondents": item.respondents
        }));
    }
    let valid = (|| {
        Some(ValidSurvey {
            structure: structure?,
            period: p?,
            population: population?,
            instrument,
            respondents: s.respondents,
            overall: s.overall_result_hundredths,
            items: serde_json::Value::Array(items),
            action_plan_ref,
        })
    })();
    finish(v, valid)
}

/// Survey items back from their stored JSON.
pub fn survey_items(stored: &serde_json::Value) -> Vec<pb::SurveyItemResult> {
    let int = |e: &serde_json::Value, k: &str| e[k].as_i64().and_then(|n| i32::try_from(n).ok()).unwrap_or_default();
    stored
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| pb::SurveyItemResult {
            code: e["code"].as_str().unwrap_or_default().to_owned(),
            label: e["label"].as_str().unwrap_or_default().to_owned(),
            result_hundredths: int(e, "result_hundredths"),
            respondents: int(e, "respondents"),
        })
        .collect()
}

// ------------------------------------------------------ adverse events

/// An adverse-event declaration ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidAdverseEvent {
    /// Establishment.
    pub structure: StructureAt,
    /// Declaration reference.
    pub declaration_ref: String,
    /// Event date.
    pub event_date: NaiveDate,
    /// Declaration date.
    pub declaration_date: NaiveDate,
    /// Severity code.
    pub severity: i16,
    /// Category, lower case (counted by it).
    pub category: String,
    /// Analysis status code.
    pub analysis_status: i16,
}

/// Validates a declaration; an unset analysis status is PENDING.
pub fn validate_adverse_event(e: &pb::AdverseEvent, index: &StructureIndex) -> Result<ValidAdverseEvent, Violations> {
    let mut v = Violations::new();
    let event_date = date(&mut v, "event.event_date", &e.event_date);
    let declaration_date = date(&mut v, "event.declaration_date", &e.declaration_date);
    if let (Some(ev), Some(d)) = (event_date, declaration_date)
        && d < ev
    {
        v.add("event.declaration_date", format!("{d} is before the event date {ev}"));
    }
    let structure = check_structure(&mut v, "event.finess", &e.finess, index, event_date.map(|d| (d, d)));
    let declaration_ref = text(&mut v, "event.declaration_ref", &e.declaration_ref, MAX_REF, true);
    let severity = required(&mut v, "event.severity", enum_code::<pb::AdverseEventSeverity>(e.severity), "EI or EIG");
    // Counts group by category, so "Chute" and "chute " are one category.
    let category = text(&mut v, "event.category", &e.category, 64, true).to_lowercase();
    let analysis_status = match e.analysis_status {
        0 => Some(pb::AdverseEventAnalysisStatus::Pending as i16),
        n => required(&mut v, "event.analysis_status", enum_code::<pb::AdverseEventAnalysisStatus>(n), "PENDING, IN_PROGRESS or COMPLETED"),
    };
    let valid = (|| {
        Some(ValidAdverseEvent {
            structure: structure?,
            declaration_ref,
            event_date: event_date?,
            declaration_date: declaration_date?,
            severity: severity?,
            category,
            analysis_status: analysis_status?,
        })
    })();
    finish(v, valid)
}

/// Validates a consolidation request: a known establishment open during a
/// year that is over on `today`.
pub fn validate_consolidation(finess: &str, y: i32, index: &StructureIndex, today: NaiveDate) -> Result<(StructureAt, i16), Violations> {
    let mut v = Violations::new();
    let year = year(&mut v, "year", y);
    if year.is_some() && y >= today.year() {
        v.add("year", format!("{y} is not over: a year is consolidated once it has ended"));
    }
    let span = year.and_then(|y| Some((NaiveDate::from_ymd_opt(y.into(), 1, 1)?, NaiveDate::from_ymd_opt(y.into(), 12, 31)?)));
    let structure = check_structure(&mut v, "finess", finess, index, span);
    finish(v, structure.zip(year))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn index() -> (StructureIndex, String) {
        let finess = Finess::from_prefix("59000001").expect("finess").as_str().to_owned();
        let mut m = StructureIndex::new();
        m.insert(finess.clone(), CachedStructure { id: Uuid::nil(), region: 1, open_date: d(2005, 7, 1), close_date: Some(d(2020, 1, 1)) });
        (m, finess)
    }

    #[test]
    fn nights_are_clipped_to_the_month() {
        let (start, end) = (d(2023, 3, 1), d(2023, 3, 31));
        let far = d(2030, 1, 1);
        assert_eq!(nights_within(d(2023, 3, 10), Some(d(2023, 3, 15)), far, start, end), 5);
        assert_eq!(nights_within(d(2023, 2, 20), Some(d(2023, 3, 3)), far, start, end), 2, "nights of 1 and 2 March");
        assert_eq!(nights_within(d(2023, 3, 30), Some(d(2023, 4, 5)), far, start, end), 2, "nights of 30 and 31 March");
        assert_eq!(nights_within(d(2023, 1, 1), None, far, start, end), 31, "ongoing all month");
        assert_eq!(nights_within(d(2023, 3, 5), Some(d(2023, 3, 5)), far, start, end), 0, "same-day stay");
        assert_eq!(nights_within(d(2023, 4, 1), None, far, start, end), 0);
    }

    #[test]
    fn occupancy_is_not_capped() {
        let o = occupancy(1410, 45 * 31);
        assert_eq!(format!("{:.2}", o.percent), "101.08");
        assert_eq!(occupancy(5, 0).percent, 0.0);
        assert_eq!(format!("{:.2}", occupancy(555_685, 1_615 * 365).percent), "94.27");
    }

    #[test]
    fn the_worst_status_wins() {
        let code = |s: pb::RecordStatus| s as i16;
        assert_eq!(worst_status([code(pb::RecordStatus::Final), code(pb::RecordStatus::Provisional)]), pb::RecordStatus::Provisional);
        assert_eq!(worst_status([code(pb::RecordStatus::Imputed), code(pb::RecordStatus::Provisional)]), pb::RecordStatus::Imputed);
        assert_eq!(worst_status([code(pb::RecordStatus::Imputed), code(pb::RecordStatus::Disputed)]), pb::RecordStatus::Disputed);
        assert_eq!(worst_status([]), pb::RecordStatus::Unspecified);
    }

    #[test]
    fn structures_must_be_open_during_the_span() {
        let (idx, f) = index();
        let s = &idx[&f];
        assert!(open_during(s, d(2019, 12, 1), d(2019, 12, 31)));
        assert!(open_during(s, d(2005, 1, 1), d(2005, 7, 1)));
        assert!(!open_during(s, d(2020, 1, 1), d(2020, 12, 31)));
        assert!(!open_during(s, d(2004, 1, 1), d(2005, 6, 30)));
        let mut v = Violations::new();
        assert!(check_structure(&mut v, "x.finess", &f, &idx, Some((d(2021, 1, 1), d(2021, 1, 1)))).is_none());
        assert!(!v.is_empty());
    }

    #[test]
    fn nirs_are_recognised_with_or_without_key() {
        assert!(looks_like_nir("189127512501282"));
        assert!(looks_like_nir("1 89 12 75 125 012 82"));
        assert!(looks_like_nir("1891275125012"));
        assert!(!looks_like_nir("189127512501283"), "wrong key: not a NIR");
        assert!(!looks_like_nir("FAC-LILLE-2018-0042"));
    }

    #[test]
    fn gp_imputation_rules() {
        let (idx, f) = index();
        let base = pb::GpPatientCount {
            finess: f.clone(),
            year: 2018,
            patients: 1200,
            status: pb::RecordStatus::Imputed as i32,
            source: "courrier CPAM".into(),
            ..Default::default()
        };
        let err = validate_gp_count(&base, &idx).expect_err("imputed without a year");
        assert!(format!("{err:?}").contains("count.imputed_from_year"));
        let ok = validate_gp_count(&pb::GpPatientCount { imputed_from_year: 2017, ..base.clone() }, &idx).expect("valid");
        assert_eq!(ok.imputed_from_year, Some(2017));
        let final_imputed = pb::GpPatientCount { imputed_from_year: 2017, status: pb::RecordStatus::Final as i32, ..base.clone() };
        assert!(format!("{:?}", validate_gp_count(&final_imputed, &idx).expect_err("final")).contains("count.status"));
        let same_year = pb::GpPatientCount { imputed_from_year: 2018, ..base };
        assert!(validate_gp_count(&same_year, &idx).is_err());
    }
}
