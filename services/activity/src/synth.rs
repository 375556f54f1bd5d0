//! Deterministic synthetic activity: a year of acts for a list of health
//! centres, with the published 2017/2018 national and regional volumes and
//! opening rates (`shared/domain/activity.md` §2.2–§2.3, §3.1).
//!
//! Rows come out of an iterator ([`Acts`]), so a full national year (about
//! 3 million acts) is never held in memory. The same options and centres
//! always give the same rows, in the same order.
//!
//! How a year is built:
//! - cells of (line, region, scheme) with the published distinct patients;
//!   general-medicine and nursing acts are the national counts per scheme,
//!   apportioned to the regions by their patients (no regional act split is
//!   published); dental acts use a plausible number of acts per patient;
//! - each patient belongs to one centre of their region (so regional patient
//!   counts add up to the national one, as in the sources), picked with a
//!   weight per centre (size × days open in the year), and has between about
//!   half and twice the cell's mean number of acts, at least one;
//! - the patient with index `i` of a (region, scheme) is the same person in
//!   every line, so nursing and dental patients are also general-medicine
//!   patients; about 2 % are sent by NIR (with a computed key), the others as
//!   partner pseudonyms;
//! - general medicine: 232 teleconsultations in 2018 (from 15 September, when
//!   they were first reimbursed), home visits "V" at 18.4 % of C + V (regional
//!   rates Nord 26.2 %, Est 12.7 %, Sud 12.2 %), the remaining ~1.5 % technical
//!   acts, office consultations "C" for the rest;
//! - amounts: NGAP/CCAM base values plus supplements so that the national
//!   average act value is the published one (general medicine 27.99 €,
//!   nursing 8.01 € in 2018), regions keeping their published ordering;
//! - dates: over the days the centre is open in the year, fewer in summer
//!   and on Saturdays, none on Sundays except in nursing.
//!
//! Class counts (teleconsultations, V, supplements…) are exact: they are
//! spread over a cell's acts by an integer stride, not drawn at random.

use chrono::{Datelike, NaiveDate};
use filieris_kernel::Nir;
use filieris_proto::activity as pb;
use filieris_proto::types::Region;

/// Regions in the order of the reference tables.
pub const REGIONS: [Region; 3] = [Region::Nord, Region::Est, Region::Sud];

/// Seed of the demo data set.
pub const DEFAULT_SEED: u64 = 0x00F1_1E21_5D3E_2018;

/// Largest scale accepted (10 national years).
pub const MAX_SCALE: f64 = 10.0;

/// Partner code of the pseudonymised patient ids.
pub const PARTNER: &str = "mlm";

/// The lines a centre runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lines {
    /// General medicine.
    pub general_medicine: bool,
    /// Nursing.
    pub nursing: bool,
    /// Dental.
    pub dental: bool,
}

impl Lines {
    /// A polyvalent centre: general medicine and nursing.
    pub const POLYVALENT: Lines = Lines { general_medicine: true, nursing: true, dental: false };
    /// A dental centre.
    pub const DENTAL: Lines = Lines { general_medicine: false, nursing: false, dental: true };
    /// A nursing centre.
    pub const NURSING: Lines = Lines { general_medicine: false, nursing: true, dental: false };
    /// Every generated line.
    pub const ALL: Lines = Lines { general_medicine: true, nursing: true, dental: true };

    fn has(self, line: pb::ActivityLine) -> bool {
        match line {
            pb::ActivityLine::GeneralMedicine => self.general_medicine,
            pb::ActivityLine::Nursing => self.nursing,
            pb::ActivityLine::Dental => self.dental,
            _ => false,
        }
    }
}

/// A health centre acts are generated for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Centre {
    /// FINESS ET.
    pub finess: String,
    /// Region.
    pub region: Region,
    /// Opening date.
    pub open_date: NaiveDate,
    /// Closing date (no act on or after it).
    pub close_date: Option<NaiveDate>,
    /// Lines it runs.
    pub lines: Lines,
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Calendar year of the acts. 2017 uses the 2017 figures, later years
    /// the 2018 ones (the latest published).
    pub year: i32,
    /// 1.0 = the national volume; counts are scaled and rounded.
    pub scale: f64,
    /// Seed of every draw.
    pub seed: u64,
}

impl Options {
    /// A year at a scale, with the default seed.
    pub fn new(year: i32, scale: f64) -> Self {
        Self { year, scale, seed: DEFAULT_SEED }
    }
}

/// Why a plan cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SynthError {
    /// Scale out of range.
    #[error("scale must be a number greater than 0 and at most {MAX_SCALE}, got {0}")]
    Scale(f64),
    /// Year out of range.
    #[error("year must be between 2000 and 2100, got {0}")]
    Year(i32),
}

// ---------------------------------------------------------------- reference

/// Published figures of one year. Patients are (miners, others) for Nord,
/// Est, Sud: the regional totals of §2.3 split by their 2-decimal opening
/// rates, the rounding chosen so that regions add up to the national count
/// and every regional rate rounds to the published one.
struct YearReference {
    gm_patients: [(u64, u64); 3],
    /// National (miners, others).
    gm_acts: (u64, u64),
    nursing_patients: [(u64, u64); 3],
    nursing_acts: (u64, u64),
    dental_patients: [(u64, u64); 3],
    /// National home visits and their share of C + V acts, per mille (§3.1).
    home_visits: u64,
    home_visit_share_permille: u64,
    /// E-health acts in the centres (COG 2018-2021 indicator 24).
    teleconsultations: u64,
    /// Average act value in cents: national, then Nord, Est, Sud (§3.1).
    gm_value: (u64, [u64; 3]),
    nursing_value: (u64, [u64; 3]),
}

const Y2017: YearReference = YearReference {
    gm_patients: [(29_401, 34_395), (30_215, 29_173), (11_635, 38_711)],
    gm_acts: (605_821, 425_104),
    nursing_patients: [(19_450, 5_407), (10_055, 2_841), (5_233, 3_766)],
    nursing_acts: (1_677_861, 307_887),
    dental_patients: [(2_783, 5_072), (4_933, 7_981), (476, 1_785)],
    home_visits: 204_076,
    home_visit_share_permille: 202,
    teleconsultations: 0,
    gm_value: (2731, [2815, 2624, 2726]),
    nursing_value: (773, [734, 750, 920]),
};

const Y2018: YearReference = YearReference {
    gm_patients: [(25_820, 39_830), (27_944, 30_897), (10_608, 46_639)],
    gm_acts: (545_991, 497_148),
    nursing_patients: [(17_978, 6_671), (9_095, 2_927), (4_674, 3_778)],
    nursing_acts: (1_635_762, 353_634),
    dental_patients: [(2_499, 5_650), (4_506, 7_645), (416, 1_849)],
    home_visits: 189_004,
    home_visit_share_permille: 184,
    teleconsultations: 232,
    gm_value: (2799, [2882, 2704, 2772]),
    nursing_value: (801, [770, 749, 951]),
};

fn reference(year: i32) -> &'static YearReference {
    if year <= 2017 { &Y2017 } else { &Y2018 }
}

/// Home-visit rate per region in 2018, per mille (weights of the V split).
const HOME_VISIT_RATE: [u128; 3] = [262, 127, 122];

/// Dental acts per patient, in tenths (no published figure; design choice).
const DENTAL_ACTS_PER_PATIENT: (u64, u64) = (34, 28);

/// Relative activity per month, Jan..Dec (fewer acts in summer), at most 1100.
const MONTH_WEIGHT: [u64; 12] = [1100, 1050, 1000, 950, 950, 950, 850, 750, 1000, 1050, 1050, 1100];
/// Relative activity per weekday, Monday..Sunday, at most 1000: about a
/// third of the centres open on Saturday morning; home nursing runs all week.
const OFFICE_WEEKDAYS: [u64; 7] = [1000, 1000, 1000, 1000, 1000, 300, 0];
const NURSING_WEEKDAYS: [u64; 7] = [1000, 1000, 1000, 1000, 1000, 800, 500];

/// An act code with its base value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Code {
    text: &'static str,
    nomenclature: pb::Nomenclature,
    mode: pb::ActMode,
    cents: i64,
}

const fn ngap(text: &'static str, cents: i64) -> Code {
    Code { text, nomenclature: pb::Nomenclature::Ngap, mode: pb::ActMode::InPerson, cents }
}

const fn ccam(text: &'static str, cents: i64) -> Code {
    Code { text, nomenclature: pb::Nomenclature::Ccam, mode: pb::ActMode::InPerson, cents }
}

const TELECONSULTATION: Code = Code { text: "TCG", nomenclature: pb::Nomenclature::Ngap, mode: pb::ActMode::Teleconsultation, cents: 2500 };
const HOME_VISIT: Code = ngap("V", 3500);
const TECHNICAL: Code = ccam("DEQP003", 1427);
const CONSULTATION: Code = ngap("C", 2500);
/// General-medicine supplement unit (a 5 € "majoration").
const GM_SUPPLEMENT: i64 = 500;

/// Nursing acts (AMI 3.15 €, AIS 2.65 € per coefficient) and their share, per mille.
const NURSING_MIX: [(Code, u128); 5] = [
    (ngap("AMI 1", 315), 300),
    (ngap("AMI 1.5", 473), 100),
    (ngap("AMI 2", 630), 250),
    (ngap("AIS 3", 795), 250),
    (ngap("AMI 4", 1260), 100),
];
/// Nursing supplement unit (travel allowance).
const NURSING_SUPPLEMENT: i64 = 250;

/// Dental acts (plausible values) and their share, per mille.
const DENTAL_MIX: [(Code, u128); 5] = [
    (ngap("C", 2300), 300),
    (ccam("HBJD001", 2892), 200),
    (ccam("HBQK002", 1995), 150),
    (ccam("HBMD049", 4500), 200),
    (ccam("HBGD035", 3344), 150),
];

const LINES: [pb::ActivityLine; 3] = [pb::ActivityLine::GeneralMedicine, pb::ActivityLine::Nursing, pb::ActivityLine::Dental];
const SCHEMES: [pb::Scheme; 2] = [pb::Scheme::Mining, pb::Scheme::Other];

// ---------------------------------------------------------------- draws

/// splitmix64: a tiny, well-mixed generator, enough for synthetic data.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        finalise(self.0)
    }

    /// Uniform in 0..n (0 when n is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

fn finalise(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A hash of a few integers.
fn mix(parts: &[u64]) -> u64 {
    parts.iter().fold(0x243F_6A88_85A3_08D3, |h, p| finalise(h ^ finalise(p.wrapping_add(0x9E37_79B9_7F4A_7C15))))
}

fn hash_text(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3))
}

/// Number of the `count` selected items among the first `index` of `total`,
/// when they are spread evenly.
fn selected_before(index: u64, count: u64, total: u64) -> u64 {
    if total == 0 { 0 } else { (u128::from(index) * u128::from(count) / u128::from(total)) as u64 }
}

/// Whether item `index` of `total` is one of `count` evenly spread ones.
fn selected(index: u64, count: u64, total: u64) -> bool {
    selected_before(index + 1, count, total) > selected_before(index, count, total)
}

/// Splits `total` in proportion to `weights` (largest remainders, ties to the
/// first): the parts always add up to `total` when a weight is positive.
fn apportion(total: u64, weights: &[u128]) -> Vec<u64> {
    let sum: u128 = weights.iter().sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let t = u128::from(total);
    let mut parts: Vec<u64> = weights.iter().map(|w| (t * w / sum) as u64).collect();
    let mut left = total - parts.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| (t * weights[b] % sum).cmp(&(t * weights[a] % sum)).then(a.cmp(&b)));
    for i in order {
        if left == 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    parts
}

fn scaled(n: u64, scale: f64) -> u64 {
    // Exact for scale 1.0; counts stay far below 2^53.
    (n as f64 * scale).round() as u64
}

fn day_number(d: NaiveDate) -> i32 {
    d.num_days_from_ce()
}

fn date_of(day: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day).unwrap_or_default()
}

// ---------------------------------------------------------------- plan

/// Expected content of one cell, for checks and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellTotals {
    /// Line.
    pub line: pb::ActivityLine,
    /// Region.
    pub region: Region,
    /// Scheme.
    pub scheme: pb::Scheme,
    /// Distinct patients.
    pub patients: u64,
    /// Acts.
    pub acts: u64,
    /// Billed amount, in cents.
    pub amount_cents: i64,
}

#[derive(Debug, Clone)]
struct Cell {
    line: pb::ActivityLine,
    region: usize,
    scheme: pb::Scheme,
    patients: u64,
    acts: u64,
    /// Codes and their exact counts (sum = acts).
    codes: Vec<(Code, u64)>,
    /// Supplement units spread over the acts (may exceed the acts).
    supplements: u64,
    supplement_cents: i64,
    /// Eligible centres and their cumulative weights.
    centres: Vec<usize>,
    cumulative: Vec<u64>,
}

impl Cell {
    fn amount(&self) -> i64 {
        let base: i64 = self.codes.iter().map(|(c, n)| c.cents * *n as i64).sum();
        base + self.supplements as i64 * self.supplement_cents
    }

    /// Extra acts (beyond one) of the first `i` patients: the cumulative of a
    /// density rising from 0.5 to 2 times the mean, so the sum is exact.
    fn extra_before(&self, i: u64) -> u64 {
        let p = u128::from(self.patients);
        if p == 0 {
            return 0;
        }
        let extra = u128::from(self.acts - self.patients);
        let i = u128::from(i);
        (extra * i * (p * p + i * i) / (2 * p * p * p)) as u64
    }

    fn acts_of(&self, i: u64) -> u64 {
        1 + self.extra_before(i + 1) - self.extra_before(i)
    }

    fn code_of(&self, act: u64) -> Code {
        let (mut index, mut total) = (act, self.acts);
        for (k, (code, count)) in self.codes.iter().enumerate() {
            if k + 1 == self.codes.len() || selected(index, *count, total) {
                return *code;
            }
            index -= selected_before(index, *count, total);
            total -= count;
        }
        CONSULTATION
    }
}

/// A year of acts ready to generate.
#[derive(Debug, Clone)]
pub struct Plan {
    options: Options,
    centres: Vec<Centre>,
    /// Open days of each centre in the year, as inclusive day numbers.
    windows: Vec<Option<(i32, i32)>>,
    cells: Vec<Cell>,
    /// First day of teleconsultations in the year.
    tele_start: i32,
}

impl Plan {
    /// Plans a year for these centres. A (line, region) without an open
    /// centre running the line gets no acts.
    pub fn new(options: Options, centres: &[Centre]) -> Result<Self, SynthError> {
        if !(options.scale > 0.0 && options.scale <= MAX_SCALE) {
            return Err(SynthError::Scale(options.scale));
        }
        if !(2000..=2100).contains(&options.year) {
            return Err(SynthError::Year(options.year));
        }
        let year = options.year;
        let first = NaiveDate::from_ymd_opt(year, 1, 1).ok_or(SynthError::Year(year))?;
        let last = NaiveDate::from_ymd_opt(year, 12, 31).ok_or(SynthError::Year(year))?;
        let tele_from = if year == 2018 { NaiveDate::from_ymd_opt(2018, 9, 15).unwrap_or(first) } else { first };
        let windows: Vec<Option<(i32, i32)>> = centres
            .iter()
            .map(|c| {
                let start = day_number(c.open_date.max(first));
                let end = c.close_date.map_or(day_number(last), |close| day_number(last).min(day_number(close) - 1));
                (start <= end).then_some((start, end))
            })
            .collect();
        let reference = reference(year);
        let scale = options.scale;
        let mut cells = Vec::new();
        for line in LINES {
            let (patients, acts, value) = match line {
                pb::ActivityLine::GeneralMedicine => (reference.gm_patients, Some(reference.gm_acts), Some(reference.gm_value)),
                pb::ActivityLine::Nursing => (reference.nursing_patients, Some(reference.nursing_acts), Some(reference.nursing_value)),
                _ => (reference.dental_patients, None, None),
            };
            // Every (region, scheme), present or not, so that the shares do
            // not depend on which regions have centres.
            let mut grid: Vec<Cell> = Vec::with_capacity(6);
            for (s, scheme) in SCHEMES.iter().enumerate() {
                let per_region: Vec<u64> = patients.iter().map(|p| scaled(if s == 0 { p.0 } else { p.1 }, scale)).collect();
                let region_acts = match acts {
                    Some(national) => {
                        let total = scaled(if s == 0 { national.0 } else { national.1 }, scale);
                        apportion(total, &per_region.iter().map(|p| u128::from(*p)).collect::<Vec<_>>())
                    }
                    None => {
                        let per = if s == 0 { DENTAL_ACTS_PER_PATIENT.0 } else { DENTAL_ACTS_PER_PATIENT.1 };
                        per_region.iter().map(|p| (p * per + 5) / 10).collect()
                    }
                };
                for r in 0..REGIONS.len() {
                    let acts = region_acts[r].max(per_region[r]);
                    grid.push(Cell {
                        line,
                        region: r,
                        scheme: *scheme,
                        patients: per_region[r],
                        acts,
                        codes: Vec::new(),
                        supplements: 0,
                        supplement_cents: 0,
                        centres: Vec::new(),
                        cumulative: Vec::new(),
                    });
                }
            }
            match line {
                pb::ActivityLine::GeneralMedicine => general_medicine_codes(&mut grid, reference, scale),
                pb::ActivityLine::Nursing => mix_codes(&mut grid, &NURSING_MIX),
                _ => mix_codes(&mut grid, &DENTAL_MIX),
            }
            if let Some((national, regional)) = value {
                let unit = if line == pb::ActivityLine::Nursing { NURSING_SUPPLEMENT } else { GM_SUPPLEMENT };
                supplements(&mut grid, national, regional, unit);
            }
            for mut cell in grid {
                let region = REGIONS[cell.region];
                let mut total = 0u64;
                for (i, c) in centres.iter().enumerate() {
                    let Some((start, end)) = windows[i] else { continue };
                    if c.region != region || !c.lines.has(line) {
                        continue;
                    }
                    // Centre size from its FINESS (40..160), times its open days.
                    let size = 40 + mix(&[options.seed, hash_text(&c.finess)]) % 121;
                    total += size * (end - start + 1) as u64;
                    cell.centres.push(i);
                    cell.cumulative.push(total);
                }
                if !cell.centres.is_empty() && cell.patients > 0 {
                    cells.push(cell);
                }
            }
        }
        Ok(Self { options, centres: centres.to_vec(), windows, cells, tele_start: day_number(tele_from) })
    }

    /// The options.
    pub fn options(&self) -> Options {
        self.options
    }

    /// What the rows will contain, per (line, region, scheme).
    pub fn expected(&self) -> Vec<CellTotals> {
        self.cells
            .iter()
            .map(|c| CellTotals {
                line: c.line,
                region: REGIONS[c.region],
                scheme: c.scheme,
                patients: c.patients,
                acts: c.acts,
                amount_cents: c.amount(),
            })
            .collect()
    }

    /// Number of rows.
    pub fn total_acts(&self) -> u64 {
        self.cells.iter().map(|c| c.acts).sum()
    }

    /// The rows, generated as they are read.
    pub fn acts(&self) -> Acts {
        Acts { plan: self.clone(), cell: 0, patient: 0, cell_act: 0, current: None, remaining: self.total_acts() }
    }
}

/// General medicine: teleconsultations, home visits, technical acts, then
/// office consultations for the rest.
fn general_medicine_codes(grid: &mut [Cell], reference: &YearReference, scale: f64) {
    let acts: Vec<u128> = grid.iter().map(|c| u128::from(c.acts)).collect();
    let national = reference.gm_acts.0 + reference.gm_acts.1;
    let c_and_v = (reference.home_visits * 1000 + reference.home_visit_share_permille / 2) / reference.home_visit_share_permille;
    let tele = apportion(scaled(reference.teleconsultations, scale), &acts);
    let visit_weights: Vec<u128> = grid.iter().map(|c| u128::from(c.acts) * HOME_VISIT_RATE[c.region]).collect();
    let visits = apportion(scaled(reference.home_visits, scale), &visit_weights);
    let technical = apportion(scaled(national.saturating_sub(c_and_v), scale), &acts);
    for (i, cell) in grid.iter_mut().enumerate() {
        let mut left = cell.acts;
        let mut take = |n: u64| {
            let n = n.min(left);
            left -= n;
            n
        };
        let counts = [take(tele[i]), take(visits[i]), take(technical[i])];
        cell.codes = vec![(TELECONSULTATION, counts[0]), (HOME_VISIT, counts[1]), (TECHNICAL, counts[2]), (CONSULTATION, left)];
    }
}

fn mix_codes(grid: &mut [Cell], mix: &[(Code, u128)]) {
    let weights: Vec<u128> = mix.iter().map(|(_, w)| *w).collect();
    for cell in grid {
        let counts = apportion(cell.acts, &weights);
        cell.codes = mix.iter().zip(counts).map(|((code, _), n)| (*code, n)).collect();
    }
}

/// Supplements so that the line's amount is acts × the national average,
/// shared between cells in proportion to acts × regional average.
fn supplements(grid: &mut [Cell], national: u64, regional: [u64; 3], unit: i64) {
    let acts: u64 = grid.iter().map(|c| c.acts).sum();
    let weights: Vec<u128> = grid.iter().map(|c| u128::from(c.acts) * u128::from(regional[c.region])).collect();
    let targets = apportion(acts * national, &weights);
    for (cell, target) in grid.iter_mut().zip(targets) {
        let base = cell.amount();
        let missing = (target as i64 - base).max(0);
        // More supplements than acts means some acts carry two or more.
        cell.supplements = ((missing + unit / 2) / unit) as u64;
        cell.supplement_cents = unit;
    }
}

// ---------------------------------------------------------------- rows

#[derive(Debug, Clone)]
struct PatientState {
    centre: usize,
    window: (i32, i32),
    days: Vec<i32>,
    next: usize,
    patient: pb::PatientRef,
    tag: String,
    rng: SplitMix64,
}

/// The rows of a [`Plan`], in (line, region, scheme, patient, date) order.
#[derive(Debug, Clone)]
pub struct Acts {
    plan: Plan,
    cell: usize,
    patient: u64,
    cell_act: u64,
    current: Option<PatientState>,
    remaining: u64,
}

impl Acts {
    /// Up to `n` next rows (empty at the end).
    pub fn next_chunk(&mut self, n: usize) -> Vec<pb::ActInput> {
        self.by_ref().take(n).collect()
    }

    fn start_patient(&self, cell: &Cell) -> PatientState {
        let seed = self.plan.options.seed;
        let (line, region, scheme, i) = (cell.line as u64, cell.region as u64, cell.scheme as u64, self.patient);
        // The centre depends on the person, not the line: same centre in every line.
        let pick = mix(&[seed, 1, region, scheme, i]) % cell.cumulative.last().copied().unwrap_or(1).max(1);
        let slot = cell.cumulative.partition_point(|c| *c <= pick).min(cell.centres.len() - 1);
        let centre = cell.centres[slot];
        let window = self.plan.windows[centre].unwrap_or_default();
        let mut rng = SplitMix64(mix(&[seed, 2, line, region, scheme, i]));
        let weekdays = if cell.line == pb::ActivityLine::Nursing { &NURSING_WEEKDAYS } else { &OFFICE_WEEKDAYS };
        let mut days: Vec<i32> = (0..cell.acts_of(i)).map(|_| draw_day(&mut rng, window, weekdays)).collect();
        days.sort_unstable();
        let region_letter = ["n", "e", "s"][cell.region];
        let scheme_letter = if cell.scheme == pb::Scheme::Mining { "m" } else { "o" };
        let line_letter = match cell.line {
            pb::ActivityLine::GeneralMedicine => "G",
            pb::ActivityLine::Nursing => "N",
            _ => "D",
        };
        PatientState {
            centre,
            window,
            days,
            next: 0,
            patient: patient_ref(seed, cell.region, cell.scheme, i, region_letter, scheme_letter),
            tag: format!("{line_letter}{region_letter}{scheme_letter}{i}"),
            rng,
        }
    }
}

/// The patient as the sender identifies them: a NIR for about 2 % (built
/// from the indexes, unique per region and scheme), a partner pseudonym otherwise.
fn patient_ref(seed: u64, region: usize, scheme: pb::Scheme, i: u64, region_letter: &str, scheme_letter: &str) -> pb::PatientRef {
    let h = mix(&[seed, 3, region as u64, scheme as u64, i]);
    let serial = i * 2 + u64::from(scheme == pb::Scheme::Other);
    if h % 100 < 2 && serial < 999_000 {
        let departments = [["59", "62"], ["57", "71"], ["30", "13"]][region];
        let body = format!(
            "{}{:02}{:02}{}{:03}{:03}",
            1 + (h >> 8) % 2,
            (h >> 16) % 100,
            1 + (h >> 24) % 12,
            departments[((h >> 32) % 2) as usize],
            serial / 1000 + 1,
            serial % 1000
        );
        if let Ok(nir) = Nir::from_body(&body) {
            return pb::PatientRef { identity: Some(pb::patient_ref::Identity::Nir(nir.as_str().to_owned())) };
        }
    }
    pb::PatientRef {
        identity: Some(pb::patient_ref::Identity::Partner(pb::PartnerPseudonym {
            partner: PARTNER.to_owned(),
            id: format!("{region_letter}{scheme_letter}{i:07}"),
        })),
    }
}

/// A day of the window: uniform, thinned by month and weekday; a Sunday
/// left after the draws moves to a neighbouring day when the line has none.
fn draw_day(rng: &mut SplitMix64, (start, end): (i32, i32), weekdays: &[u64; 7]) -> i32 {
    let span = (end - start + 1).max(1) as u64;
    let mut day = start;
    for _ in 0..8 {
        day = start + rng.below(span) as i32;
        let weight = MONTH_WEIGHT[date_of(day).month0() as usize] * weekdays[weekday(day)];
        if rng.below(1100 * 1000) < weight {
            break;
        }
    }
    if weekdays[6] == 0 && weekday(day) == 6 {
        if day < end {
            day += 1;
        } else if day > start {
            day -= 1;
        }
    }
    day
}

/// 0 = Monday … 6 = Sunday (day 1 of the common era was a Monday).
fn weekday(day: i32) -> usize {
    (day - 1).rem_euclid(7) as usize
}

impl Iterator for Acts {
    type Item = pb::ActInput;

    fn next(&mut self) -> Option<pb::ActInput> {
        loop {
            let cell = self.plan.cells.get(self.cell)?;
            if self.current.is_none() {
                if self.patient >= cell.patients {
                    self.cell += 1;
                    self.patient = 0;
                    self.cell_act = 0;
                    continue;
                }
                let state = self.start_patient(cell);
                self.current = Some(state);
            }
            let Some(state) = self.current.as_mut() else { continue };
            let Some(&day) = state.days.get(state.next) else {
                self.current = None;
                self.patient += 1;
                continue;
            };
            let cell = &self.plan.cells[self.cell];
            let code = cell.code_of(self.cell_act);
            let mut day = day;
            if code.mode == pb::ActMode::Teleconsultation {
                let from = state.window.0.max(self.plan.tele_start);
                if from <= state.window.1 {
                    day = draw_day(&mut state.rng, (from, state.window.1), &OFFICE_WEEKDAYS);
                }
            }
            let units = selected_before(self.cell_act + 1, cell.supplements, cell.acts)
                - selected_before(self.cell_act, cell.supplements, cell.acts);
            let supplement = cell.supplement_cents * units as i64;
            state.next += 1;
            let row = pb::ActInput {
                act_date: date_of(day).to_string(),
                finess: self.plan.centres[state.centre].finess.clone(),
                line: cell.line as i32,
                nomenclature: code.nomenclature as i32,
                code: code.text.to_owned(),
                mode: code.mode as i32,
                patient: Some(state.patient.clone()),
                scheme: cell.scheme as i32,
                amount_cents: code.cents + supplement,
                source_ref: format!("{}-{}", state.tag, state.next),
            };
            self.cell_act += 1;
            self.remaining = self.remaining.saturating_sub(1);
            return Some(row);
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use filieris_kernel::Finess;
    use filieris_kernel::pseudonym::PseudonymKey;
    use prost::Message;
    use sha2::{Digest, Sha256};
    use uuid::Uuid;

    use super::*;
    use crate::domain::rows::{CachedStructure, StructureIndex, validate_row};

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Four centres per region; one opens mid-2018, one closes in October.
    fn centres() -> Vec<Centre> {
        let mut out = Vec::new();
        for (r, region) in REGIONS.iter().enumerate() {
            let department = ["59", "57", "30"][r];
            for n in 0..4u32 {
                let finess = Finess::from_prefix(&format!("{department}0990{n:02}")).unwrap().as_str().to_owned();
                let (open_date, close_date) = match (r, n) {
                    (0, 1) => (date(2018, 7, 1), None),
                    (1, 2) => (date(1990, 1, 1), Some(date(2018, 10, 1))),
                    _ => (date(1960, 1, 1), None),
                };
                let lines = if n == 3 { Lines::DENTAL } else { Lines::POLYVALENT };
                out.push(Centre { finess, region: *region, open_date, close_date, lines });
            }
        }
        out
    }

    fn index(centres: &[Centre]) -> StructureIndex {
        centres
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let s = CachedStructure {
                    id: Uuid::from_u128(i as u128 + 1),
                    region: c.region as i16,
                    open_date: c.open_date,
                    close_date: c.close_date,
                };
                (c.finess.clone(), s)
            })
            .collect()
    }

    fn patient_key(p: &Option<pb::PatientRef>) -> String {
        match p.as_ref().and_then(|p| p.identity.as_ref()) {
            Some(pb::patient_ref::Identity::Nir(n)) => format!("nir:{n}"),
            Some(pb::patient_ref::Identity::Partner(p)) => format!("{}:{}", p.partner, p.id),
            None => String::new(),
        }
    }

    fn rate(other: u64, total: u64) -> String {
        format!("{:.2}", other as f64 * 100.0 / total as f64)
    }

    #[test]
    fn reference_tables_reproduce_the_published_figures() {
        // Regional totals and opening rates of §2.3, national figures of §2.2.
        type Regional = [(u64, &'static str); 3];
        type Published = (&'static YearReference, Regional, u64, Regional, u64, Regional);
        let published: [Published; 2] = [
            (
                &Y2017,
                [(63_796, "53.91"), (59_388, "49.12"), (50_346, "76.89")],
                102_279,
                [(24_857, "21.75"), (12_896, "22.03"), (8_999, "41.85")],
                12_014,
                [(7_855, "64.57"), (12_914, "61.80"), (2_261, "78.95")],
            ),
            (
                &Y2018,
                [(65_650, "60.67"), (58_841, "52.51"), (57_247, "81.47")],
                117_366,
                [(24_649, "27.06"), (12_022, "24.35"), (8_452, "44.70")],
                13_376,
                [(8_149, "69.33"), (12_151, "62.92"), (2_265, "81.63")],
            ),
        ];
        for (reference, gm, gm_other, nursing, nursing_other, dental) in published {
            for (table, regions, national_other) in [
                (reference.gm_patients, gm, Some(gm_other)),
                (reference.nursing_patients, nursing, Some(nursing_other)),
                (reference.dental_patients, dental, None),
            ] {
                for ((miners, others), (total, pct)) in table.iter().zip(regions) {
                    assert_eq!(miners + others, total);
                    assert_eq!(rate(*others, total), pct);
                }
                if let Some(n) = national_other {
                    assert_eq!(table.iter().map(|p| p.1).sum::<u64>(), n);
                }
            }
        }
        let gm: u64 = Y2018.gm_patients.iter().map(|p| p.0 + p.1).sum();
        assert_eq!((gm, rate(117_366, gm)), (181_738, "64.58".into()));
        assert_eq!(Y2018.nursing_patients.iter().map(|p| p.0).sum::<u64>(), 31_747);
    }

    #[test]
    fn apportion_keeps_the_total() {
        assert_eq!(apportion(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(apportion(7, &[0, 0]), vec![0, 0]);
        assert_eq!(apportion(1_043_139, &[3, 5, 11]).iter().sum::<u64>(), 1_043_139);
        let spread = (0..1000).filter(|&i| selected(i, 232, 1000)).count();
        assert_eq!(spread, 232);
    }

    #[test]
    fn the_same_options_give_the_same_rows() {
        let digest = |options: Options| {
            let mut h = Sha256::new();
            for row in Plan::new(options, &centres()).unwrap().acts() {
                h.update(row.encode_to_vec());
            }
            h.finalize()
        };
        let options = Options::new(2018, 0.01);
        assert_eq!(digest(options), digest(options));
        assert_ne!(digest(options), digest(Options { seed: 7, ..options }));
        assert_ne!(digest(options), digest(Options::new(2017, 0.01)));
    }

    #[test]
    fn a_full_year_has_the_published_counts() {
        let plan = Plan::new(Options::new(2018, 1.0), &centres()).unwrap();
        let mut acts: HashMap<(i32, i32), u64> = HashMap::new();
        let mut patients: HashMap<(i32, i32), HashSet<String>> = HashMap::new();
        let mut amounts: HashMap<i32, i64> = HashMap::new();
        let mut codes: HashMap<(i32, String), u64> = HashMap::new();
        let mut dental_by_finess: HashMap<String, HashSet<String>> = HashMap::new();
        let (mut rows, mut by_nir) = (0u64, HashSet::new());
        let mut acts_iter = plan.acts();
        assert_eq!(acts_iter.size_hint().0 as u64, plan.total_acts());
        for row in acts_iter.by_ref() {
            rows += 1;
            let who = patient_key(&row.patient);
            if who.starts_with("nir:") {
                by_nir.insert(who.clone());
            }
            *acts.entry((row.line, row.scheme)).or_default() += 1;
            *amounts.entry(row.line).or_default() += row.amount_cents;
            if row.line == pb::ActivityLine::GeneralMedicine as i32 {
                *codes.entry((row.mode, row.code.clone())).or_default() += 1;
            }
            if row.line == pb::ActivityLine::Dental as i32 {
                dental_by_finess.entry(row.finess.clone()).or_default().insert(who.clone());
            }
            patients.entry((row.line, row.scheme)).or_default().insert(who);
        }
        assert_eq!(acts_iter.size_hint().0, 0);
        assert_eq!(rows, plan.total_acts());
        let (gm, nursing, dental) =
            (pb::ActivityLine::GeneralMedicine as i32, pb::ActivityLine::Nursing as i32, pb::ActivityLine::Dental as i32);
        let (m, o) = (pb::Scheme::Mining as i32, pb::Scheme::Other as i32);
        let count = |line, scheme| (acts[&(line, scheme)], patients[&(line, scheme)].len() as u64);
        assert_eq!(count(gm, m), (545_991, 64_372));
        assert_eq!(count(gm, o), (497_148, 117_366));
        assert_eq!(count(nursing, m), (1_635_762, 31_747));
        assert_eq!(count(nursing, o), (353_634, 13_376));
        assert_eq!(acts[&(gm, m)] + acts[&(gm, o)] + acts[&(nursing, m)] + acts[&(nursing, o)], 3_032_535);
        assert_eq!(patients[&(dental, m)].len() + patients[&(dental, o)].len(), 22_565);
        // Regional dental patients: one dental centre per region in the fixture.
        let mut dental_regions: Vec<usize> = dental_by_finess.values().map(HashSet::len).collect();
        dental_regions.sort_unstable();
        assert_eq!(dental_regions, vec![2_265, 8_149, 12_151]);
        // E-health and home visits (§1.4, §3.1).
        assert_eq!(codes[&(pb::ActMode::Teleconsultation as i32, "TCG".into())], 232);
        assert_eq!(codes[&(pb::ActMode::InPerson as i32, "V".into())], 189_004);
        let c = codes[&(pb::ActMode::InPerson as i32, "C".into())];
        assert_eq!(format!("{:.1}", 189_004.0 * 100.0 / (189_004 + c) as f64), "18.4");
        // Average act values (§3.1).
        let average = |line: i32, n: u64| format!("{:.2}", amounts[&line] as f64 / n as f64 / 100.0);
        assert_eq!(average(gm, 1_043_139), "27.99");
        assert_eq!(average(nursing, 1_989_396), "8.01");
        // The plan announces what the rows hold.
        let expected: u64 = plan.expected().iter().filter(|c| c.line == pb::ActivityLine::GeneralMedicine).map(|c| c.patients).sum();
        assert_eq!(expected, 181_738);
        let share = by_nir.len() as f64 / patients[&(gm, m)].union(&patients[&(gm, o)]).count() as f64;
        assert!((0.01..0.03).contains(&share), "NIR share {share}");
    }

    #[test]
    fn every_row_is_valid_and_within_its_centre_dates() {
        let centres = centres();
        let idx = index(&centres);
        let key = PseudonymKey::from_hex(&"5a".repeat(32)).unwrap();
        let plan = Plan::new(Options::new(2018, 0.02), &centres).unwrap();
        let (mut nir, mut tele, mut rows) = (0, 0, 0);
        for (n, row) in plan.acts().enumerate() {
            rows += 1;
            let act = validate_row(n as i64 + 1, &row, &idx, &key).unwrap_or_else(|p| panic!("row {n}: {p:?} in {row:?}"));
            assert_eq!(act.act_date.year(), 2018);
            if act.identity_basis == 1 {
                nir += 1;
            }
            if act.mode == 2 {
                tele += 1;
                assert!(act.act_date >= date(2018, 9, 15), "teleconsultation on {}", act.act_date);
            }
            let opened_mid_year = &centres[1].finess;
            if &row.finess == opened_mid_year {
                assert!(act.act_date >= date(2018, 7, 1));
            }
        }
        assert_eq!(rows as u64, plan.total_acts());
        assert!(nir > 0, "some patients come with a NIR");
        assert_eq!(tele, 5); // 232 × 0.02
    }

    #[test]
    fn missing_centres_and_bad_options() {
        let only_nord: Vec<Centre> = centres().into_iter().filter(|c| c.region == Region::Nord).collect();
        let plan = Plan::new(Options::new(2018, 0.01), &only_nord).unwrap();
        assert!(plan.expected().iter().all(|c| c.region == Region::Nord));
        assert_eq!(plan.acts().count() as u64, plan.total_acts());
        assert!(Plan::new(Options::new(2018, 0.0), &only_nord).is_err());
        assert!(Plan::new(Options::new(2018, f64::NAN), &only_nord).is_err());
        assert!(Plan::new(Options::new(1850, 1.0), &only_nord).is_err());
        assert_eq!(Plan::new(Options::new(2018, 0.01), &[]).unwrap().total_acts(), 0);
        let mut chunks = plan.acts();
        let first = chunks.next_chunk(100);
        assert_eq!(first.len(), 100);
        assert_eq!(first, plan.acts().take(100).collect::<Vec<_>>());
    }
}
