//! Demo data of the finance service (`filieris-finance seed-demo`): monthly
//! results of the structures of the offer of care and a budget execution of
//! the COG funds, so that a fresh platform shows evaluable targets, landing
//! forecasts and execution rates.
//!
//! The first part is pure and deterministic: no randomness, every "random"
//! spread is a fixed function of a structure's FINESS ([`mix`]) or of a
//! month's index, and every split of an amount is an exact integer split
//! (the parts add up to the cent). The second part ([`seed`]) sends the data
//! through the service's own APIs, in process (the same validation, role
//! checks, rules and stores as a gRPC client gets), with fixed request ids:
//! running it again replays the first answers and writes nothing.
//!
//! Choices, all synthetic (no real accounts are reproduced):
//!
//! - Results are booked for three years around `--year` Y (default 2022):
//!   Y−1 and Y in full, Y+1 for January to June (the landing forecast then has
//!   a previous year's seasonality and half a year of actuals to project).
//! - Magnitudes: each COG target perimeter gets the 2019 revenue of
//!   `cog_2022_2024_financial_targets.csv` (column `revenue_2019_meur_fiche12`)
//!   grown by a few per cent a year, and a yearly result chosen on a plausible
//!   trajectory from the 2019 base towards the target ([`BOOKS`]). In 2022
//!   eight targets are met (Freyming-Creutzwald 30.9 k€ above its −40 %
//!   threshold, the health centres at −12.86 M€ just above −12.93 M€) and four
//!   missed (Charleville-sous-Bois, Sainte-Barbe and the optical centres still
//!   better than their 2019 base; the home-help services below equilibrium,
//!   the avenant 43 caveat of the COG).
//! - Other structures: the pharmacies (2018 revenue 40.1 M€, result around
//!   −1 M€, finance.md 4.4), the laboratory and the prevention centres, which
//!   carry no target.
//! - A perimeter's revenue is spread over its members by a weight of 60 to
//!   140 per FINESS, and its charges with a further ±8 % per member (±25 %
//!   and a regional tilt for the health centres, Est dearer and Nord cheaper,
//!   as in the 2018 deficit bands), so members differ while the perimeter's total
//!   is exactly the chosen result. Months follow a mild seasonality (activity
//!   dips in August and at Christmas for the ambulatory lines; charges flatter,
//!   with December bonuses).
//! - Budget: the 2022 (and following) executions reproduce the 2018 execution
//!   rates (finance.md 4.6: BNGA 89.47 %, BNASS 86.74 %, BNPPS 83.9 %) with a
//!   rate per line of the initial credits ([`LINE_PLANS`]), phased by month;
//!   investment lines are committed in March and paid against the commitment;
//!   three director-general transfers a year (personnel → operating, which
//!   notifies the CGEFi and the ministries; within investment; BNASS across
//!   sections). Limitative lines stay within their credits at every step
//!   (tested below); the evaluative section 2 of the BNGA overruns as in 2018.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{Datelike, NaiveDate};
use filieris_kernel::csv::parse_csv_records;
use filieris_proto::finance as pb;
use filieris_proto::finance::budget_service_server::BudgetService;
use filieris_proto::finance::finance_results_service_server::FinanceResultsService;
use filieris_proto::types::Region;
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_runtime::registry_cache::RegistryCache;
use uuid::Uuid;

use crate::budget::BudgetApi;
use crate::budget::domain::{Fund, reference_lines};
use crate::results::ResultsApi;
use crate::results::domain::{MAX_IMPORT_ROWS, Perimeter, div_round, targets};
use crate::results::storage::ResultsStore;

/// Years `--year` may take: Y−1 .. Y+1 must lie within the planned results
/// (2021-2024) and Y, Y+1 within the COG budget years (2022-2024).
pub const SEED_YEARS: std::ops::RangeInclusive<i32> = 2022..=2023;
/// First and last year with planned results.
pub const FIRST_RESULT_YEAR: i32 = 2021;
/// Last year with planned results.
pub const LAST_RESULT_YEAR: i32 = 2024;
/// Months of the part year Y+1.
pub const PART_YEAR_MONTHS: u32 = 6;
/// Source system of the demo ledger batches.
pub const SOURCE_SYSTEM: &str = "DEMO";

// ------------------------------------------------------------------ helpers

/// FNV-1a of a text: the fixed "random" spread of a structure.
pub fn mix(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Splits `total` in proportion to `weights`, rounding the running total so
/// the parts add up to `total` exactly; all zeros when the weights are.
pub fn split(total: i64, weights: &[u128]) -> Vec<i64> {
    let sum: u128 = weights.iter().sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let (mut cum_w, mut prev) = (0u128, 0i128);
    weights
        .iter()
        .map(|w| {
            cum_w += w;
            let cum = div_round(i128::from(total) * cum_w as i128, sum as i128);
            let part = cum - prev;
            prev = cum;
            i64::try_from(part).unwrap_or(0)
        })
        .collect()
}

fn euros(e: i64) -> i64 {
    e * 100
}

// ------------------------------------------------------------------ results

/// What kind of structure a member is: it fixes its activity lines, its
/// accounts and its seasonality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// SSR, medicine: line SSR/HAD/médecine.
    Hospital,
    /// Local hospital: SSR/HAD/médecine and USLD.
    LocalHospital,
    /// EHPAD.
    Ehpad,
    /// Independent-living or temporary-accommodation residence.
    Residence,
    /// Polyvalent or nursing health centre.
    HealthCentre,
    /// Dental health centre.
    DentalCentre,
    /// SSIAD.
    Ssiad,
    /// SAAD, SPASAD.
    HomeHelp,
    /// Optical centre.
    Optical,
    /// Medical-equipment service.
    MedicalEquipment,
    /// Medical biology laboratory.
    Laboratory,
    /// Pharmacy.
    Pharmacy,
    /// Prevention centre.
    Prevention,
}

impl Kind {
    /// Activity lines and their shares (per mille).
    pub fn lines(self) -> &'static [(pb::ActivityLine, u128)] {
        use pb::ActivityLine as L;
        match self {
            Kind::Hospital => &[(L::SsrHadMedicine, 1000)],
            Kind::LocalHospital => &[(L::SsrHadMedicine, 700), (L::Usld, 300)],
            Kind::Ehpad => &[(L::Ehpad, 1000)],
            Kind::Residence => &[(L::Residences, 1000)],
            Kind::HealthCentre => &[(L::HealthCentrePolyvalent, 1000)],
            Kind::DentalCentre => &[(L::HealthCentreDental, 1000)],
            Kind::Ssiad => &[(L::Ssiad, 1000)],
            Kind::HomeHelp => &[(L::HomeHelp, 1000)],
            Kind::Optical => &[(L::Optical, 1000)],
            Kind::MedicalEquipment => &[(L::MedicalEquipment, 1000)],
            Kind::Laboratory => &[(L::Laboratory, 1000)],
            Kind::Pharmacy => &[(L::Pharmacy, 1000)],
            Kind::Prevention => &[(L::Prevention, 1000)],
        }
    }

    /// Class 7 accounts and their shares (per mille): tariffs for the
    /// establishments, acts and lump sums for the centres, sales for the shops.
    fn produits(self) -> &'static [(&'static str, u128)] {
        match self {
            Kind::Hospital | Kind::LocalHospital | Kind::Ehpad | Kind::Ssiad => &[("7311", 880), ("7088", 70), ("758", 50)],
            Kind::Residence | Kind::HomeHelp => &[("706", 760), ("7478", 200), ("758", 40)],
            Kind::HealthCentre | Kind::DentalCentre => &[("706", 800), ("7478", 160), ("758", 40)],
            Kind::Optical | Kind::Pharmacy | Kind::MedicalEquipment => &[("707", 960), ("706", 30), ("758", 10)],
            Kind::Laboratory => &[("706", 950), ("758", 50)],
            Kind::Prevention => &[("7478", 700), ("706", 300)],
        }
    }

    /// Class 6 accounts and their shares (per mille): mostly personnel for
    /// care, mostly goods bought for resale for the shops.
    fn charges(self) -> &'static [(&'static str, u128)] {
        match self {
            Kind::Optical | Kind::Pharmacy | Kind::MedicalEquipment => {
                &[("607", 700), ("6411", 150), ("645", 60), ("613", 40), ("628", 30), ("6811", 20)]
            }
            _ => &[("6411", 500), ("645", 200), ("602", 90), ("613", 60), ("628", 90), ("6811", 60)],
        }
    }

    /// Monthly weights of the produits: ambulatory activity dips in August
    /// and at Christmas; establishments' tariffs are flatter.
    fn produits_season(self) -> &'static [u128; 12] {
        match self {
            Kind::Hospital | Kind::LocalHospital | Kind::Ehpad | Kind::Residence | Kind::Ssiad => {
                &[100, 94, 101, 99, 101, 99, 102, 101, 98, 101, 99, 105]
            }
            _ => &[101, 98, 104, 100, 97, 99, 93, 76, 100, 105, 102, 95],
        }
    }
}

/// Monthly weights of the charges: flat, with December bonuses.
const CHARGES_SEASON: [u128; 12] = [99, 96, 100, 99, 100, 101, 104, 100, 98, 100, 99, 104];

/// Revenue growth on 2019 (per mille), 2021 to 2024.
const GROWTH: [i64; 4] = [1015, 1030, 1055, 1075];

/// What the demo books on a set of structures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    /// Stable key (`target-1`, `pharmacies`…).
    pub key: &'static str,
    /// The COG target whose perimeter it is, if any.
    pub target: Option<i32>,
    /// 2019 revenue in cents.
    pub revenue_2019_cents: i64,
    /// Yearly results in cents, 2021 to 2024.
    pub results_cents: [i64; 4],
}

impl Book {
    /// Revenue (Σ class 7) of a year.
    pub fn revenue(&self, year: i32) -> Option<i64> {
        let k = usize::try_from(year - FIRST_RESULT_YEAR).ok().filter(|k| *k < 4)?;
        i64::try_from(div_round(i128::from(self.revenue_2019_cents) * i128::from(GROWTH[k]), 1000)).ok()
    }

    /// Result (produits − charges) of a year.
    pub fn result(&self, year: i32) -> Option<i64> {
        let k = usize::try_from(year - FIRST_RESULT_YEAR).ok().filter(|k| *k < 4)?;
        Some(self.results_cents[k])
    }
}

/// Results (€) of the books, 2021 to 2024, by target number (1-12), then the
/// three books without a target. 2021 lies between the 2019 base and 2022;
/// 2023 and 2024 continue the trajectory, some on track, some at risk.
///
/// | # | 2022 threshold | 2022 result | status |
/// |---|---|---|---|
/// | 1 | −1,683,309.07 | −1,652,400 | met, 30.9 k€ to spare |
/// | 2 | −468,824.40 | −512,300 | missed, better than the base |
/// | 3 | −445,742.24 | −398,600 | met |
/// | 4 | 0 | +121,450 | met |
/// | 5 | 0 | −87,300 | missed, better than the base |
/// | 6 | −193,281.40 | −176,900 | met |
/// | 7 | 0 | +642,800 | met |
/// | 8 | −12,927,338.57 | −12,861,200 | met |
/// | 9 | 0 | −54,700 | missed |
/// | 10 | 0 | +38,200 | met |
/// | 11 | −229,140.20 | −263,500 | missed, better than the base |
/// | 12 | 0.01 | +1,712,400 | met |
const RESULTS_EUR: [(&str, Option<i32>, [i64; 4]); 15] = [
    ("target-1", Some(1), [-2_310_000, -1_652_400, -1_231_000, -905_000]),
    ("target-2", Some(2), [-530_000, -512_300, -402_000, -270_000]),
    ("target-3", Some(3), [-480_000, -398_600, -297_500, -195_000]),
    ("target-4", Some(4), [152_000, 121_450, 88_000, 64_000]),
    ("target-5", Some(5), [-210_000, -87_300, -35_000, 12_000]),
    ("target-6", Some(6), [-390_000, -176_900, -61_000, 8_000]),
    ("target-7", Some(7), [820_000, 642_800, 410_000, 350_000]),
    ("target-8", Some(8), [-13_420_000, -12_861_200, -11_240_000, -9_880_000]),
    ("target-9", Some(9), [95_000, -54_700, 12_000, 30_000]),
    ("target-10", Some(10), [71_000, 38_200, 21_000, 15_000]),
    ("target-11", Some(11), [-402_000, -263_500, -121_000, -48_000]),
    ("target-12", Some(12), [1_840_000, 1_712_400, 1_650_000, 1_600_000]),
    ("pharmacies", None, [-1_180_000, -1_050_000, -960_000, -900_000]),
    ("laboratory", None, [300_000, 260_000, 220_000, 200_000]),
    ("prevention", None, [-90_000, -80_000, -70_000, -60_000]),
];

/// 2019 revenue (€) of the books without a target (synthetic: the pharmacies
/// from their 2018 revenue, finance.md 4.4; the others invented).
const OTHER_REVENUE_2019_EUR: [(&str, i64); 3] = [("pharmacies", 40_000_000), ("laboratory", 4_200_000), ("prevention", 1_600_000)];

/// "26.633" (M€, up to 6 decimals) in cents.
fn meur_cents(text: &str) -> Option<i64> {
    let (int, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if frac.len() > 6 || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) || int.is_empty() {
        return None;
    }
    let euros = int.parse::<i64>().ok()?.checked_mul(1_000_000)? + format!("{frac:0<6}").parse::<i64>().ok()?;
    euros.checked_mul(100)
}

/// The books: the 12 target perimeters with their 2019 revenue from the
/// targets table, then the pharmacies, the laboratory and the prevention centres.
pub fn books() -> Result<Vec<Book>, String> {
    let table = parse_csv_records(include_str!("../data/cog_2022_2024_financial_targets.csv"))?;
    let mut revenue: HashMap<i32, i64> = HashMap::new();
    for row in &table {
        let get = |c: &str| row.get(c).map(String::as_str).ok_or_else(|| format!("targets table: no column {c}"));
        let number: i32 = get("number")?.parse().map_err(|_| "targets table: bad number".to_owned())?;
        revenue.insert(number, meur_cents(get("revenue_2019_meur_fiche12")?).ok_or_else(|| format!("target {number}: bad revenue"))?);
    }
    RESULTS_EUR
        .iter()
        .map(|(key, target, results)| {
            let revenue_2019_cents = match target {
                Some(n) => revenue.get(n).copied().ok_or_else(|| format!("target {n}: no 2019 revenue"))?,
                None => OTHER_REVENUE_2019_EUR.iter().find(|(k, _)| k == key).map(|(_, e)| euros(*e)).unwrap_or_default(),
            };
            Ok(Book { key, target: *target, revenue_2019_cents, results_cents: results.map(euros) })
        })
        .collect()
}

/// A structure the demo books amounts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// FINESS.
    pub finess: String,
    /// Region code.
    pub region: i16,
    /// Opening date.
    pub open_date: NaiveDate,
    /// Closing date.
    pub close_date: Option<NaiveDate>,
    /// Kind.
    pub kind: Kind,
}

impl Member {
    /// Open for at least part of a month (first day given): opened by its
    /// end and not closed before it starts.
    fn open_in(&self, first: NaiveDate) -> bool {
        let last = first.checked_add_months(chrono::Months::new(1)).and_then(|d| d.pred_opt()).unwrap_or(first);
        self.open_date <= last && self.close_date.is_none_or(|c| first < c)
    }

    /// Revenue weight, 60 to 140.
    fn weight(&self) -> u128 {
        60 + u128::from(mix(&self.finess) % 81)
    }

    /// Charges factor (per mille): ±8 % by FINESS, ±25 % for the health
    /// centres (whose 2018 results ranged from a surplus for a quarter of
    /// them to deficits beyond their revenue), Est +4 % and Nord −2 %.
    fn charges_factor(&self) -> u128 {
        let health_centre = matches!(self.kind, Kind::HealthCentre | Kind::DentalCentre);
        let amplitude: u64 = if health_centre { 250 } else { 80 };
        let spread = (mix(&format!("charges:{}", self.finess)) % (2 * amplitude + 1)) as i64 - amplitude as i64;
        let tilt = match (self.kind, Region::try_from(i32::from(self.region))) {
            (Kind::HealthCentre | Kind::DentalCentre, Ok(Region::Est)) => 40,
            (Kind::HealthCentre | Kind::DentalCentre, Ok(Region::Nord)) => -20,
            _ => 0,
        };
        u128::try_from(1000 + spread + tilt).unwrap_or(1000)
    }
}

fn month_text(year: i32, month: u32) -> String {
    format!("{year:04}{month:02}")
}

/// The ledger rows of a book for a whole year: its revenue and result of the
/// year spread over the members open each month, their lines and accounts.
/// The rows add up exactly to the book's revenue and result (when at least
/// one member is open during the year).
pub fn ledger_rows(book: &Book, year: i32, members: &[Member]) -> Vec<pb::LedgerEntryInput> {
    let (Some(revenue), Some(result)) = (book.revenue(year), book.result(year)) else {
        return Vec::new();
    };
    // Cells: (member, line, month) open that month.
    struct Cell<'a> {
        member: &'a Member,
        line: pb::ActivityLine,
        month: u32,
        produits_w: u128,
        charges_w: u128,
    }
    let mut cells = Vec::new();
    for m in members {
        for &(line, share) in m.kind.lines() {
            for month in 1..=12u32 {
                let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else { continue };
                if !m.open_in(first) {
                    continue;
                }
                let k = (month - 1) as usize;
                let base = m.weight() * share;
                cells.push(Cell {
                    member: m,
                    line,
                    month,
                    produits_w: base * m.kind.produits_season()[k],
                    charges_w: base * m.charges_factor() * CHARGES_SEASON[k],
                });
            }
        }
    }
    let produits = split(revenue, &cells.iter().map(|c| c.produits_w).collect::<Vec<_>>());
    let charges = split(revenue - result, &cells.iter().map(|c| c.charges_w).collect::<Vec<_>>());
    let mut rows = Vec::with_capacity(cells.len() * 9);
    for ((cell, p), c) in cells.iter().zip(produits).zip(charges) {
        for (accounts, amount) in [(cell.member.kind.produits(), p), (cell.member.kind.charges(), c)] {
            let parts = split(amount, &accounts.iter().map(|a| a.1).collect::<Vec<_>>());
            for ((account, _), cents) in accounts.iter().zip(parts) {
                if cents != 0 {
                    rows.push(pb::LedgerEntryInput {
                        finess: cell.member.finess.clone(),
                        account: (*account).to_owned(),
                        activity_line: cell.line as i32,
                        month: month_text(year, cell.month),
                        amount_cents: cents,
                    });
                }
            }
        }
    }
    rows
}

/// One import request of the demo: a fixed request id and its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerBatch {
    /// `demo-ledger-{year}-h{1|2}-{n}`.
    pub request_id: String,
    /// Rows, at most [`MAX_IMPORT_ROWS`].
    pub rows: Vec<pb::LedgerEntryInput>,
}

/// The rows of a year cut into batches by half-year, in the order given, so a
/// half-year's batches are the same whether the year is booked in full or in
/// part (a later `--year` replays them and adds the rest).
pub fn ledger_batches(year: i32, rows: &[pb::LedgerEntryInput], months: u32) -> Vec<LedgerBatch> {
    let mut out = Vec::new();
    for (half, range) in [(1, 1..=6u32), (2, 7..=12u32)] {
        // A half is booked whole or not at all.
        if *range.end() > months {
            continue;
        }
        let selected: Vec<pb::LedgerEntryInput> = rows
            .iter()
            .filter(|r| r.month.get(4..).and_then(|m| m.parse::<u32>().ok()).is_some_and(|m| range.contains(&m)))
            .cloned()
            .collect();
        for (n, chunk) in selected.chunks(MAX_IMPORT_ROWS).enumerate() {
            out.push(LedgerBatch { request_id: format!("demo-ledger-{year}-h{half}-{}", n + 1), rows: chunk.to_vec() });
        }
    }
    out
}

// ------------------------------------------------------------------- budget

/// Monthly phasing of a line's execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Twelve equal months, a December bonus (personnel).
    Payroll,
    /// Slow summer, December catch-up (running costs).
    Operating,
    /// Back-loaded, committed in March (investment).
    Investment,
    /// Paid once a quarter (grants).
    Quarterly,
    /// Twice a year (depreciation, provisions).
    HalfYearly,
    /// Twelve equal months (benefits).
    Monthly,
    /// Peak in the summer holidays (ANGDM individual social action, holidays policy).
    Summer,
}

impl Profile {
    fn weights(self) -> [u128; 12] {
        match self {
            Profile::Payroll => [100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 140],
            Profile::Operating => [80, 90, 100, 100, 100, 100, 95, 70, 100, 105, 110, 150],
            Profile::Investment => [0, 0, 0, 60, 80, 100, 80, 40, 100, 120, 150, 230],
            Profile::Quarterly => [0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1],
            Profile::HalfYearly => [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1],
            Profile::Monthly => [1; 12],
            Profile::Summer => [80, 80, 90, 100, 110, 130, 150, 140, 100, 90, 80, 90],
        }
    }
}

/// How a line is executed: a rate of its initial credits (per ten thousand)
/// and a phasing. The rates give, on 2022, BNGA 90.09 %, BNASS 86.64 %,
/// BNPPS 84.1 % (2018: 89.47 %, 86.74 %, 83.9 %); personnel below its credits (vacancies), the
/// non-IT operating line above its initial credits thanks to the personnel
/// transfer, investment at half, the evaluative section 2 above 100 %.
pub const LINE_PLANS: [(Fund, &str, i64, Profile); 30] = [
    (Fund::Bnga, "A-I-1", 8_700, Profile::Payroll),
    (Fund::Bnga, "A-I-2.a", 8_000, Profile::Operating),
    (Fund::Bnga, "A-I-2.b", 10_200, Profile::Operating),
    (Fund::Bnga, "A-I-3.a", 6_000, Profile::Investment),
    (Fund::Bnga, "A-I-3.b", 4_500, Profile::Investment),
    (Fund::Bnga, "A-II-1", 9_000, Profile::Quarterly),
    (Fund::Bnga, "A-II-2", 9_000, Profile::Operating),
    (Fund::Bnga, "B-I", 9_500, Profile::Quarterly),
    (Fund::Bnga, "B-II-1", 8_200, Profile::Monthly),
    (Fund::Bnga, "B-II-2", 9_200, Profile::Quarterly),
    (Fund::Bnga, "B-III-1.a", 7_000, Profile::HalfYearly),
    (Fund::Bnga, "B-III-1.b", 4_000, Profile::HalfYearly),
    (Fund::Bnga, "B-III-2", 10_000, Profile::HalfYearly),
    (Fund::Bnga, "II.b", 10_450, Profile::Monthly),
    (Fund::Bnga, "II.c", 10_400, Profile::Monthly),
    (Fund::Bnga, "II.d", 10_000, Profile::Quarterly),
    (Fund::Bnga, "III.a", 9_890, Profile::Monthly),
    // The ANGDM individual lines are executed by the missions service from
    // ANGDM's spending statements (finance.md 2.0); the demo executes them
    // itself so the BNASS rate is whole. A missions demo that books the same
    // years would execute them twice: one of the two must then leave them.
    (Fund::Bnass, "BNASS-PA-IND", 9_950, Profile::Summer),
    (Fund::Bnass, "BNASS-PA-COL", 9_400, Profile::Operating),
    (Fund::Bnass, "BNASS-PA-CAP", 8_000, Profile::Investment),
    (Fund::Bnass, "BNASS-MAL-IND", 9_910, Profile::Summer),
    (Fund::Bnass, "BNASS-MAL-COL", 9_500, Profile::Operating),
    (Fund::Bnass, "BNASS-MAL-CAP", 6_800, Profile::Investment),
    (Fund::Bnass, "BNASS-ATMP-IND", 4_500, Profile::Summer),
    (Fund::Bnass, "BNASS-ATMP-COL", 9_850, Profile::Operating),
    (Fund::Bnpps, "BNPPS-MAL-CANSSM", 8_400, Profile::Operating),
    (Fund::Bnpps, "BNPPS-MAL-EVAL", 9_200, Profile::Quarterly),
    (Fund::Bnpps, "BNPPS-ATMP-CANSSM", 5_000, Profile::Operating),
    // The FNMO is not executed by the demo (its uses follow approved plans, R16).
    (Fund::Fnmo, "FNMO-INV", 0, Profile::Investment),
    (Fund::Fnmo, "FNMO-DEF", 0, Profile::Investment),
];

/// Director-general transfers of every year: (fund, from, to, €, month, day, reason).
const TRANSFERS: [(Fund, &str, &str, i64, u32, u32, &str); 3] = [
    (Fund::Bnga, "A-I-1", "A-I-2.b", 450_000, 6, 15, "postes vacants : financement des charges de fonctionnement hors informatique"),
    (Fund::Bnga, "A-I-3.b", "A-I-3.a", 150_000, 9, 12, "renouvellement anticipé des serveurs"),
    (Fund::Bnass, "BNASS-PA-COL", "BNASS-MAL-COL", 40_000, 10, 3, "actions collectives maladie : complément d'ateliers de prévention"),
];

/// Commitments are 110 % of the year's execution: a tenth stays open at year end.
const COMMITMENT_PERMILLE: i64 = 1100;

/// A budget operation of the demo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetOp {
    /// A commitment or an execution; an execution may name the commitment
    /// (by the request id that created it) it consumes.
    Spend { fund: Fund, line: &'static str, kind: pb::SpendingKind, amount: i64, against: Option<String>, reason: String },
    /// A director-general transfer.
    Transfer { fund: Fund, from: &'static str, to: &'static str, amount: i64, reason: &'static str },
}

/// A dated operation with its fixed request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedOp {
    /// Request id, `demo-budget-{year}-…`.
    pub request_id: String,
    /// Date (within the year).
    pub date: NaiveDate,
    /// The operation.
    pub op: BudgetOp,
}

impl PlannedOp {
    /// Its fund.
    pub fn fund(&self) -> Fund {
        match &self.op {
            BudgetOp::Spend { fund, .. } | BudgetOp::Transfer { fund, .. } => *fund,
        }
    }
}

fn date(year: i32, month: u32, day: u32) -> Result<NaiveDate, String> {
    NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| format!("bad date {year}-{month}-{day}"))
}

/// The budget operations of a year, in date order (the same plan whatever
/// the number of months then booked).
pub fn budget_plan(year: i16) -> Result<Vec<PlannedOp>, String> {
    let k = COMMIT_YEARS.iter().position(|y| *y == year).ok_or_else(|| format!("{year} is not a COG budget year"))?;
    let lines = reference_lines()?;
    let y = i32::from(year);
    let mut ops = Vec::new();
    for (fund, code, rate, profile) in LINE_PLANS {
        let def = lines.iter().find(|l| l.info.fund == fund && l.info.code == code).ok_or_else(|| format!("no line {code}"))?;
        let initial = def.amounts[k].unwrap_or(0);
        let annual = i64::try_from(div_round(i128::from(initial) * i128::from(rate), 10_000)).unwrap_or(0);
        if annual <= 0 {
            continue;
        }
        let monthly = split(annual, &profile.weights());
        let commitment = (profile == Profile::Investment).then(|| format!("demo-budget-{year}-{}-{code}-commitment", fund.as_str()));
        if let Some(rid) = &commitment {
            let amount = i64::try_from(div_round(i128::from(annual) * i128::from(COMMITMENT_PERMILLE), 1000)).unwrap_or(0);
            ops.push(PlannedOp {
                request_id: rid.clone(),
                date: date(y, 3, 10)?,
                op: BudgetOp::Spend {
                    fund,
                    line: code,
                    kind: pb::SpendingKind::Commitment,
                    amount,
                    against: None,
                    reason: format!("engagement du programme {year} ({})", def.label),
                },
            });
        }
        for (m, amount) in monthly.into_iter().enumerate() {
            if amount <= 0 {
                continue;
            }
            let month = u32::try_from(m + 1).unwrap_or(12);
            ops.push(PlannedOp {
                request_id: format!("demo-budget-{year}-{}-{code}-execution-{month:02}", fund.as_str()),
                date: date(y, month, if month == 12 { 20 } else { 25 })?,
                op: BudgetOp::Spend {
                    fund,
                    line: code,
                    kind: pb::SpendingKind::Execution,
                    amount,
                    // Every payment of an investment line consumes its commitment (never fully, by construction).
                    against: commitment.clone(),
                    reason: format!("mandatement {month:02}/{year} ({})", def.label),
                },
            });
        }
    }
    for (n, (fund, from, to, eur, month, day, reason)) in TRANSFERS.into_iter().enumerate() {
        ops.push(PlannedOp {
            request_id: format!("demo-budget-{year}-transfer-{}", n + 1),
            date: date(y, month, day)?,
            op: BudgetOp::Transfer { fund, from, to, amount: euros(eur), reason },
        });
    }
    // Stable: same-day operations keep the order above.
    ops.sort_by_key(|o| o.date);
    Ok(ops)
}

const COMMIT_YEARS: [i16; 3] = crate::budget::domain::COG_YEARS;

// --------------------------------------------------------------------- seed

/// What a seed run did.
#[derive(Debug, Clone, Default)]
pub struct SeedReport {
    /// `--year`.
    pub year: i32,
    /// Ledger import answers (first answers, replayed on a second run).
    pub batches: Vec<pb::ImportLedgerEntriesResponse>,
    /// Rows sent.
    pub rows: usize,
    /// Structures booked in `year`, by book key, in book order.
    pub members: Vec<(String, usize)>,
    /// Budget operations sent.
    pub budget_ops: usize,
    /// Structures listed in two perimeters of one year (booked on the first).
    pub skipped: Vec<String>,
    /// Time taken.
    pub elapsed: Duration,
}

fn seeder() -> Identity {
    Identity { caller: "job:finance-demo-seed".into(), kind: CallerKind::Job, roles: vec!["admin".into()], scopes: vec!["*".into()] }
}

fn request<T>(body: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(body);
    r.extensions_mut().insert(seeder());
    r
}

fn status(what: &str, s: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{what}: {:?} {}", s.code(), s.message())
}

/// The registry ids of a perimeter in a year, as the evaluation resolves them.
async fn perimeter_ids(registry: &RegistryCache, perimeter: &Perimeter, year: i32) -> anyhow::Result<Vec<Uuid>> {
    let end = format!("{year}-12-31");
    match perimeter {
        Perimeter::Group(code) => registry.group_members(code, &year.to_string()).await,
        Perimeter::Search { search, filter } => registry.find_structures(filter, search, &end).await,
        Perimeter::Filter(filter) => registry.find_structures(filter, "", &end).await,
    }
    .map_err(|s| status(&format!("registry: {}", perimeter.describe()), s))
}

async fn ids_of(registry: &RegistryCache, filter: &str, year: i32) -> anyhow::Result<HashSet<Uuid>> {
    Ok(registry.find_structures(filter, "", &format!("{year}-12-31")).await.map_err(|s| status(filter, s))?.into_iter().collect())
}

/// The members of every book in a year, with their kinds from the registry.
async fn members_of_year(
    registry: &RegistryCache,
    store: &ResultsStore,
    books: &[Book],
    year: i32,
    skipped: &mut Vec<String>,
) -> anyhow::Result<Vec<Vec<Member>>> {
    let index = store.structure_index().await.map_err(|e| anyhow::anyhow!("registry cache: {}", filieris_runtime::ApiError::from(e)))?;
    let by_id: HashMap<Uuid, (&String, &filieris_runtime::registry_cache::CachedStructure)> =
        index.iter().map(|(f, s)| (s.id, (f, s))).collect();
    let dental = ids_of(registry, "category = HEALTH_CENTRE AND subtype = DENTAL", year).await?;
    let local = ids_of(registry, "category = HOSPITAL AND subtype = LOCAL_HOSPITAL", year).await?;
    let ehpad = ids_of(registry, "category = EHPAD", year).await?;
    let mut residences = ids_of(registry, "category = INDEPENDENT_LIVING_RESIDENCE", year).await?;
    residences.extend(ids_of(registry, "category = TEMPORARY_ACCOMMODATION_RESIDENCE", year).await?);
    let all_targets = targets().map_err(|e| anyhow::anyhow!("targets: {e}"))?;
    let mut seen: HashSet<Uuid> = HashSet::new();
    let mut out = Vec::with_capacity(books.len());
    for book in books {
        let (ids, default_kind) = match book.target {
            Some(n) => {
                let t = all_targets.get(usize::try_from(n - 1).unwrap_or(usize::MAX)).context("target")?;
                let kind = match n {
                    1..=5 | 7 => Kind::Hospital,
                    6 => Kind::Ehpad,
                    8 => Kind::HealthCentre,
                    9 => Kind::HomeHelp,
                    10 => Kind::Ssiad,
                    11 => Kind::Optical,
                    _ => Kind::MedicalEquipment,
                };
                (perimeter_ids(registry, &t.perimeter, year).await?, kind)
            }
            None => {
                let (filter, kind) = match book.key {
                    "pharmacies" => ("category = PHARMACY", Kind::Pharmacy),
                    "laboratory" => ("category = LABORATORY", Kind::Laboratory),
                    _ => ("category = PREVENTION_CENTRE", Kind::Prevention),
                };
                (registry.find_structures(filter, "", &format!("{year}-12-31")).await.map_err(|s| status(filter, s))?, kind)
            }
        };
        let mut members = Vec::new();
        for id in ids {
            // Antennas have no FINESS and no accounts of their own.
            let Some((finess, s)) = by_id.get(&id) else { continue };
            if !seen.insert(id) {
                skipped.push(format!("{year} {} {finess}", book.key));
                continue;
            }
            let kind = if dental.contains(&id) {
                Kind::DentalCentre
            } else if local.contains(&id) {
                Kind::LocalHospital
            } else if book.target.is_some_and(|n| n != 6) && ehpad.contains(&id) {
                Kind::Ehpad
            } else if residences.contains(&id) {
                Kind::Residence
            } else {
                default_kind
            };
            members.push(Member { finess: (*finess).clone(), region: s.region, open_date: s.open_date, close_date: s.close_date, kind });
        }
        members.sort_by(|a, b| a.finess.cmp(&b.finess));
        out.push(members);
    }
    Ok(out)
}

/// Seeds the demo data for `--year` `year`: results of year−1 and year, of
/// January-June of year+1; budget execution of year and of January-June of
/// year+1. The registry cache must be filled and the COG budget tables loaded.
pub async fn seed(
    budget: &BudgetApi,
    results: &ResultsApi,
    registry: &RegistryCache,
    store: &ResultsStore,
    year: i32,
) -> anyhow::Result<SeedReport> {
    anyhow::ensure!(SEED_YEARS.contains(&year), "--year must be {} or {}", SEED_YEARS.start(), SEED_YEARS.end());
    let started = Instant::now();
    let mut report = SeedReport { year, ..SeedReport::default() };
    let books = books().map_err(|e| anyhow::anyhow!("demo books: {e}"))?;

    // Results.
    for (booked_year, months) in [(year - 1, 12), (year, 12), (year + 1, PART_YEAR_MONTHS)] {
        let members = members_of_year(registry, store, &books, booked_year, &mut report.skipped).await?;
        let mut rows = Vec::new();
        for (book, members) in books.iter().zip(&members) {
            if booked_year == year {
                report.members.push((book.key.to_owned(), members.len()));
            }
            rows.extend(ledger_rows(book, booked_year, members));
        }
        for batch in ledger_batches(booked_year, &rows, months) {
            report.rows += batch.rows.len();
            let response = results
                .import_ledger_entries(request(pb::ImportLedgerEntriesRequest {
                    request_id: batch.request_id.clone(),
                    source_system: SOURCE_SYSTEM.into(),
                    entries: batch.rows,
                }))
                .await
                .map_err(|s| status(&format!("ledger import {}", batch.request_id), s))?
                .into_inner();
            report.batches.push(response);
        }
    }

    // Budget.
    for (budget_year, months) in [(year, 12), (year + 1, PART_YEAR_MONTHS)] {
        let fy = i16::try_from(budget_year).context("year")?;
        let mut commitments: HashMap<String, String> = HashMap::new();
        for op in budget_plan(fy).map_err(|e| anyhow::anyhow!("budget plan {budget_year}: {e}"))? {
            if op.date.month() > months {
                continue;
            }
            let parent = format!("funds/{}/years/{budget_year}", op.fund().as_str());
            let what = format!("budget {}", op.request_id);
            match &op.op {
                BudgetOp::Spend { line, kind, amount, against, reason, .. } => {
                    let commitment = match against {
                        Some(rid) => commitments.get(rid).cloned().with_context(|| format!("{what}: commitment {rid} not recorded"))?,
                        None => String::new(),
                    };
                    let response = budget
                        .record_spending(request(pb::RecordSpendingRequest {
                            line: format!("{parent}/lines/{line}"),
                            kind: *kind as i32,
                            amount_cents: *amount,
                            date: op.date.to_string(),
                            commitment,
                            reason: reason.clone(),
                            request_id: op.request_id.clone(),
                        }))
                        .await
                        .map_err(|s| status(&what, s))?
                        .into_inner();
                    if *kind == pb::SpendingKind::Commitment {
                        let name = response.movements.first().map(|m| m.name.clone()).context("commitment without its movement")?;
                        commitments.insert(op.request_id.clone(), name);
                    }
                }
                BudgetOp::Transfer { from, to, amount, reason, .. } => {
                    budget
                        .create_transfer(request(pb::CreateTransferRequest {
                            parent,
                            from_line: (*from).to_owned(),
                            to_line: (*to).to_owned(),
                            amount_cents: *amount,
                            transfer_date: op.date.to_string(),
                            reason: (*reason).to_owned(),
                            amending_decision: false,
                            ministries_authorisation: None,
                            request_id: op.request_id.clone(),
                        }))
                        .await
                        .map_err(|s| status(&what, s))?;
                }
            }
            report.budget_ops += 1;
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::domain::{Group, Nature, transfer_rule};

    fn member(finess: &str, kind: Kind, region: Region) -> Member {
        Member {
            finess: finess.into(),
            region: region as i16,
            open_date: NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(),
            close_date: None,
            kind,
        }
    }

    #[test]
    fn splits_are_exact() {
        assert_eq!(split(10, &[1, 1, 1]), [3, 4, 3]);
        assert_eq!(split(-10, &[1, 1, 1]).iter().sum::<i64>(), -10);
        assert_eq!(split(5, &[0, 0]), [0, 0]);
        let parts = split(123_456_789, &[7, 0, 13, 101, 3]);
        assert_eq!(parts.iter().sum::<i64>(), 123_456_789);
        assert_eq!(parts[1], 0);
    }

    #[test]
    fn meur_amounts_parse_exactly() {
        assert_eq!(meur_cents("26.633"), Some(2_663_300_000));
        assert_eq!(meur_cents("3"), Some(300_000_000));
        assert_eq!(meur_cents("1.2345678"), None);
        assert_eq!(meur_cents("-1"), None);
    }

    #[test]
    fn books_follow_the_targets_table() {
        let books = books().unwrap();
        assert_eq!(books.len(), 15);
        // Freyming: 26.633 M€ in 2019, grown 3 % in 2022.
        assert_eq!(books[0].revenue_2019_cents, 2_663_300_000);
        assert_eq!(books[0].revenue(2022), Some(2_743_199_000));
        assert_eq!(books[7].result(2022), Some(-1_286_120_000));
        assert_eq!(books[0].result(2025), None);
    }

    /// The 2022 results meet 8 targets and miss 4, as documented on [`RESULTS_EUR`].
    #[test]
    fn the_2022_results_meet_and_miss_the_documented_targets() {
        use crate::results::domain::{Status, decide};
        let books = books().unwrap();
        let mut met = Vec::new();
        for (book, target) in books.iter().zip(targets().unwrap()) {
            assert_eq!(book.target, Some(target.number));
            if decide(target.kind(2022).unwrap(), target.base_cents, book.result(2022).unwrap()) == Status::Met {
                met.push(target.number);
            }
        }
        assert_eq!(met, [1, 3, 4, 6, 7, 8, 10, 12]);
    }

    #[test]
    fn ledger_rows_add_up_to_the_book_and_vary_by_member() {
        let book = books().unwrap().remove(7);
        let mut members: Vec<Member> = (0..40)
            .map(|i| member(&format!("5799{i:05}"), Kind::HealthCentre, if i % 2 == 0 { Region::Est } else { Region::Nord }))
            .collect();
        members[3].kind = Kind::DentalCentre;
        // One opens in July, one closes on 1 April.
        members[5].open_date = NaiveDate::from_ymd_opt(2022, 7, 14).unwrap();
        members[6].close_date = NaiveDate::from_ymd_opt(2022, 4, 1);
        let rows = ledger_rows(&book, 2022, &members);
        let (mut p, mut c) = (0i64, 0i64);
        let mut by_member: HashMap<&str, i64> = HashMap::new();
        for r in &rows {
            let signed = if r.account.starts_with('7') { r.amount_cents } else { -r.amount_cents };
            if r.account.starts_with('7') {
                p += r.amount_cents
            } else {
                c += r.amount_cents
            }
            *by_member.entry(r.finess.as_str()).or_default() += signed;
            assert!(r.amount_cents > 0);
        }
        assert_eq!(p, book.revenue(2022).unwrap());
        assert_eq!(p - c, book.result(2022).unwrap());
        // Some centres in surplus, most in deficit.
        assert!(by_member.values().any(|r| *r > 0) && by_member.values().filter(|r| **r < 0).count() > 20);
        // Opening and closing months respected.
        assert!(!rows.iter().any(|r| r.finess == members[5].finess && r.month.as_str() < "202207"));
        assert!(!rows.iter().any(|r| r.finess == members[6].finess && r.month.as_str() >= "202204"));
        assert!(rows.iter().any(|r| r.activity_line == pb::ActivityLine::HealthCentreDental as i32));
        // Deterministic.
        assert_eq!(rows, ledger_rows(&book, 2022, &members));
        // Half-year batches: January-June only, or the whole year.
        let part = ledger_batches(2022, &rows, 6);
        let full = ledger_batches(2022, &rows, 12);
        assert!(part.iter().all(|b| b.rows.iter().all(|r| r.month.as_str() <= "202206")));
        assert_eq!(full[..part.len()], part[..]);
        assert_eq!(full.iter().map(|b| b.rows.len()).sum::<usize>(), rows.len());
    }

    /// Fund execution of a plan: (initial, executed) by fund.
    fn execution(year: i16) -> HashMap<Fund, (i64, i64)> {
        let k = COMMIT_YEARS.iter().position(|y| *y == year).unwrap();
        let mut out: HashMap<Fund, (i64, i64)> = HashMap::new();
        for l in reference_lines().unwrap() {
            out.entry(l.info.fund).or_default().0 += l.amounts[k].unwrap_or(0);
        }
        for op in budget_plan(year).unwrap() {
            if let BudgetOp::Spend { fund, kind: pb::SpendingKind::Execution, amount, .. } = op.op {
                out.entry(fund).or_default().1 += amount;
            }
        }
        out
    }

    #[test]
    fn execution_rates_are_close_to_2018() {
        // The BNASS of 2023 and 2024 holds less capital (the part executed
        // least) and more ANGDM individual aid (executed at ~99 %): its rate
        // rises to ~91 % and ~98 % with the same line rates.
        for year in [2022, 2023, 2024] {
            let e = execution(year);
            let rate = |f: Fund| e[&f].1 as f64 / e[&f].0 as f64 * 100.0;
            for (fund, rate_2018) in [(Fund::Bnga, 89.47), (Fund::Bnass, 86.74), (Fund::Bnpps, 83.9)] {
                let r = rate(fund);
                println!("{year} {}: {r:.2} %", fund.as_str());
                let tolerance = if fund == Fund::Bnass && year > 2022 { 12.0 } else { 1.5 };
                assert!((r - rate_2018).abs() <= tolerance, "{year} {}: {r:.2} % against {rate_2018} % in 2018", fund.as_str());
            }
        }
    }

    /// Replays a plan under the R02/R03/R04 rules: no limitative line ever
    /// goes below zero, transfers are the director general's, one notifies.
    #[test]
    fn the_plan_stays_within_limitative_credits() {
        let lines = reference_lines().unwrap();
        for year in [2022i16, 2023, 2024] {
            let k = COMMIT_YEARS.iter().position(|y| *y == year).unwrap();
            let info = |f: Fund, c: &str| lines.iter().find(|l| l.info.fund == f && l.info.code == c).unwrap();
            // (authorised, committed, executed) by line.
            let mut pos: HashMap<(Fund, &str), (i64, i64, i64)> = HashMap::new();
            for l in &lines {
                pos.insert((l.info.fund, l.info.code.as_str()), (l.amounts[k].unwrap_or(0), 0, 0));
            }
            let mut commitment_left: HashMap<String, i64> = HashMap::new();
            let mut notified = 0;
            for op in budget_plan(year).unwrap() {
                assert_eq!(op.date.year(), i32::from(year));
                match &op.op {
                    BudgetOp::Spend { fund, line, kind, amount, against, .. } => {
                        let nature = info(*fund, line).info.nature;
                        assert!(matches!(nature, Nature::Limitative | Nature::Evaluative), "{line}");
                        let p = pos.get_mut(&(*fund, *line)).unwrap();
                        match kind {
                            pb::SpendingKind::Commitment => {
                                p.1 += amount;
                                commitment_left.insert(op.request_id.clone(), *amount);
                            }
                            _ => {
                                let covered = against.as_ref().map(|rid| {
                                    let left = commitment_left.get_mut(rid).unwrap();
                                    let c = (*left).clamp(0, *amount);
                                    *left -= c;
                                    c
                                });
                                p.1 -= covered.unwrap_or(0);
                                p.2 += amount;
                            }
                        }
                        if nature == Nature::Limitative {
                            assert!(p.0 - p.1 - p.2 >= 0, "{year} {line} over its credits on {}", op.date);
                        }
                    }
                    BudgetOp::Transfer { fund, from, to, amount, .. } => {
                        let (rule, _) = transfer_rule(&info(*fund, from).info, &info(*fund, to).info).unwrap();
                        let crate::budget::domain::TransferRule::Director { notify, .. } = rule else {
                            panic!("{from} → {to}: {rule:?}")
                        };
                        notified += i32::from(notify);
                        assert!(!notify || info(*fund, from).info.group == Group::Personnel);
                        let p = pos.get_mut(&(*fund, *from)).unwrap();
                        assert!(p.0 - p.1 - p.2 >= *amount, "{year} transfer from {from}");
                        p.0 -= amount;
                        pos.get_mut(&(*fund, *to)).unwrap().0 += amount;
                    }
                }
            }
            assert_eq!(notified, 1);
            // Investment commitments are never fully consumed: part stays open at year end.
            assert!(commitment_left.values().all(|v| *v > 0));
        }
    }

    #[test]
    fn request_ids_are_unique_and_valid() {
        let mut seen = HashSet::new();
        for year in [2022, 2023, 2024] {
            for op in budget_plan(year).unwrap() {
                assert!(op.request_id.len() <= 128 && op.request_id.bytes().all(|b| b.is_ascii_graphic()));
                assert!(seen.insert(op.request_id));
            }
        }
    }

    #[test]
    fn members_split_lines_by_kind() {
        let m = member("570000001", Kind::LocalHospital, Region::Est);
        assert_eq!(m.kind.lines().len(), 2);
        assert_eq!(m.weight(), member("570000001", Kind::Hospital, Region::Sud).weight());
        assert!((60..=140).contains(&m.weight()));
        assert!((920..=1080).contains(&m.charges_factor()));
        let centre = member("570000001", Kind::HealthCentre, Region::Sud);
        assert!((750..=1250).contains(&centre.charges_factor()));
    }
}
