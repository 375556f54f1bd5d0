//! The COG budget rules as pure decisions (no I/O): the funds and their
//! lines from the reference tables, the transfer rules of each fund (R03–R05,
//! R15), spending control by line nature (R02), the year-end close (R06),
//! revenue reuse (R07) and execution rates (R22). Rule numbers are those of
//! `../shared/domain/finance.md`.

use std::collections::{HashMap, HashSet};

use filieris_kernel::cents::Cents;
use filieris_kernel::csv::parse_csv_records;

/// Years of the COG 2022–2024.
pub const COG_YEARS: [i16; 3] = [2022, 2023, 2024];
/// Last year of the COG: nothing is carried out of it (R06).
pub const LAST_COG_YEAR: i16 = 2024;
/// Days after a transfer within which the CGEFi and the ministries are informed (R03).
pub const NOTIFICATION_DAYS: u64 = 15;
/// The BNGA line raised by revenue reuse unless the DG chooses another (R07 step 7).
pub const REUSE_TARGET_LINE: &str = "A-I-2.b";

/// A budget fund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fund {
    Bnga,
    Bnass,
    Bnpps,
    Fnmo,
}

impl Fund {
    pub const ALL: [Fund; 4] = [Fund::Bnga, Fund::Bnass, Fund::Bnpps, Fund::Fnmo];

    pub fn as_str(self) -> &'static str {
        match self {
            Fund::Bnga => "BNGA",
            Fund::Bnass => "BNASS",
            Fund::Bnpps => "BNPPS",
            Fund::Fnmo => "FNMO",
        }
    }

    pub fn parse(text: &str) -> Option<Fund> {
        Fund::ALL.into_iter().find(|f| f.as_str().eq_ignore_ascii_case(text))
    }
}

/// How a line is controlled (R02).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Nature {
    Limitative,
    Evaluative,
    Reserve,
    Subtotal,
}

impl Nature {
    pub fn as_str(self) -> &'static str {
        match self {
            Nature::Limitative => "LIMITATIVE",
            Nature::Evaluative => "EVALUATIVE",
            Nature::Reserve => "RESERVE",
            Nature::Subtotal => "SUBTOTAL",
        }
    }

    pub fn parse(text: &str) -> Option<Nature> {
        [Nature::Limitative, Nature::Evaluative, Nature::Reserve, Nature::Subtotal].into_iter().find(|n| n.as_str() == text)
    }
}

/// Fungibility group of a line (R03, R04).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    None,
    Personnel,
    Operating,
    Investment,
    CollectiveOperating,
    CollectiveInvestment,
}

impl Group {
    pub fn as_str(self) -> &'static str {
        match self {
            Group::None => "",
            Group::Personnel => "PERSONNEL",
            Group::Operating => "OPERATING",
            Group::Investment => "INVESTMENT",
            Group::CollectiveOperating => "COLLECTIVE_OPERATING",
            Group::CollectiveInvestment => "COLLECTIVE_INVESTMENT",
        }
    }

    pub fn parse(text: &str) -> Group {
        [Group::Personnel, Group::Operating, Group::Investment, Group::CollectiveOperating, Group::CollectiveInvestment]
            .into_iter()
            .find(|g| g.as_str() == text)
            .unwrap_or(Group::None)
    }
}

/// What the rules need to know of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInfo {
    pub fund: Fund,
    pub code: String,
    pub section: String,
    pub nature: Nature,
    pub group: Group,
}

/// A line of a COG table with its amounts for 2022, 2023 and 2024 (cents;
/// `None` on subtotals, which are computed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineDef {
    pub info: LineInfo,
    pub parent: String,
    pub ordinal: i32,
    pub label: String,
    pub label_en: String,
    pub amounts: [Option<i64>; 3],
}

const BNGA_CSV: &str = include_str!("../../data/budget_bnga_2022_2024.csv");
const BNASS_CSV: &str = include_str!("../../data/budget_bnass_2022_2024.csv");
const BNPPS_CSV: &str = include_str!("../../data/budget_bnpps_2022_2024.csv");
const REUSE_CSV: &str = include_str!("../../data/revenue_reuse_accounts.csv");

fn field<'a>(row: &'a HashMap<String, String>, name: &str) -> Result<&'a str, String> {
    row.get(name).map(|s| s.trim()).ok_or_else(|| format!("column {name} missing"))
}

/// Parses "37.33" (M€ as printed) into cents.
fn meur_cents(text: &str) -> Result<Option<i64>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let euros_hundredths = Cents::from_euros_str(text).map_err(|e| format!("{text:?}: {e}"))?.0;
    euros_hundredths.checked_mul(1_000_000).map(Some).ok_or_else(|| format!("{text:?} overflows"))
}

/// Parses "899200" (euros as printed) into cents.
fn euro_cents(text: &str) -> Result<Option<i64>, String> {
    if text.is_empty() { Ok(None) } else { Cents::from_euros_str(text).map(|c| Some(c.0)).map_err(|e| format!("{text:?}: {e}")) }
}

fn bnga_group(code: &str) -> Group {
    match code {
        "A-I-1" => Group::Personnel,
        "A-I-2.a" | "A-I-2.b" => Group::Operating,
        "A-I-3.a" | "A-I-3.b" => Group::Investment,
        _ => Group::None,
    }
}

fn bnga() -> Result<Vec<LineDef>, String> {
    let rows = parse_csv_records(BNGA_CSV)?;
    let parents: HashSet<String> = rows.iter().filter_map(|r| r.get("parent_line_id").cloned()).filter(|p| !p.is_empty()).collect();
    let mut section_of: HashMap<String, String> = HashMap::new();
    let mut lines = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let code = field(row, "line_id")?.to_owned();
        let parent = field(row, "parent_line_id")?.to_owned();
        let section = if parent.is_empty() { code.clone() } else { section_of.get(&parent).cloned().unwrap_or_default() };
        section_of.insert(code.clone(), section.clone());
        let nature = if parents.contains(&code) {
            Nature::Subtotal
        } else if code == "II.a" {
            Nature::Reserve
        } else if field(row, "nature")? == "limitative" {
            Nature::Limitative
        } else {
            Nature::Evaluative
        };
        let amounts =
            [meur_cents(field(row, "budget_2022")?)?, meur_cents(field(row, "budget_2023")?)?, meur_cents(field(row, "budget_2024")?)?];
        lines.push(LineDef {
            info: LineInfo { fund: Fund::Bnga, group: bnga_group(&code), code, section, nature },
            parent,
            ordinal: i32::try_from(i).unwrap_or(i32::MAX),
            label: field(row, "label_fr")?.to_owned(),
            label_en: field(row, "label_en")?.to_owned(),
            amounts: if nature == Nature::Subtotal { [None; 3] } else { amounts },
        });
    }
    Ok(lines)
}

/// BNASS and BNPPS: a subtotal per section, then its detail lines.
fn sectioned(fund: Fund, csv: &str, code_of: impl Fn(&str, &str, Nature) -> Option<(String, Group)>) -> Result<Vec<LineDef>, String> {
    let mut lines: Vec<LineDef> = Vec::new();
    for row in parse_csv_records(csv)? {
        let section_label = field(&row, "section")?;
        if field(&row, "line_type")? != "detail" || section_label.starts_with("TOTAL") {
            continue;
        }
        let section_code = match section_label {
            s if s.contains("PERSONNES AGEES") => "PA",
            s if s.contains("MALADIE") && !s.contains("PROFESSIONNELLES") => "MAL",
            _ => "ATMP",
        };
        let section = format!("{}-{section_code}", fund.as_str());
        let nature = if field(&row, "nature")? == "limitative" { Nature::Limitative } else { Nature::Evaluative };
        let label = field(&row, "label_fr")?;
        let Some((suffix, group)) = code_of(label, section_code, nature) else {
            return Err(format!("unknown {} line {label:?}", fund.as_str()));
        };
        if !lines.iter().any(|l| l.info.code == section) {
            lines.push(LineDef {
                info: LineInfo { fund, code: section.clone(), section: section.clone(), nature: Nature::Subtotal, group: Group::None },
                parent: String::new(),
                ordinal: i32::try_from(lines.len()).unwrap_or(i32::MAX),
                label: section_label.to_owned(),
                label_en: field(&row, "section_en")?.to_owned(),
                amounts: [None; 3],
            });
        }
        lines.push(LineDef {
            info: LineInfo { fund, code: format!("{section}-{suffix}"), section: section.clone(), nature, group },
            parent: section,
            ordinal: i32::try_from(lines.len()).unwrap_or(i32::MAX),
            label: label.to_owned(),
            label_en: field(&row, "label_en")?.to_owned(),
            amounts: [
                euro_cents(field(&row, "budget_2022")?)?,
                euro_cents(field(&row, "budget_2023")?)?,
                euro_cents(field(&row, "budget_2024")?)?,
            ],
        });
    }
    Ok(lines)
}

fn bnass() -> Result<Vec<LineDef>, String> {
    sectioned(Fund::Bnass, BNASS_CSV, |label, _, _| {
        if label.starts_with("Dépenses individuelles ANGDM") {
            Some(("IND".into(), Group::None))
        } else if label.starts_with("Dépenses collectives CANSSM") {
            Some(("COL".into(), Group::CollectiveOperating))
        } else if label.starts_with("Action immobilière") {
            Some(("CAP".into(), Group::CollectiveInvestment))
        } else {
            None
        }
    })
}

fn bnpps() -> Result<Vec<LineDef>, String> {
    sectioned(Fund::Bnpps, BNPPS_CSV, |_, _, nature| {
        Some((if nature == Nature::Limitative { "CANSSM".into() } else { "EVAL".into() }, Group::None))
    })
}

/// The FNMO has no table in the COG (its expenses follow approved plans and
/// its reserve, R16): its two uses as lines, at 0, changed by its BP and BRs.
fn fnmo() -> Vec<LineDef> {
    let line = |code: &str, label: &str, label_en: &str, ordinal: i32, nature: Nature, parent: &str| LineDef {
        info: LineInfo { fund: Fund::Fnmo, code: code.into(), section: "FNMO".into(), nature, group: Group::None },
        parent: parent.into(),
        ordinal,
        label: label.into(),
        label_en: label_en.into(),
        amounts: if nature == Nature::Subtotal { [None; 3] } else { [Some(0); 3] },
    };
    vec![
        line(
            "FNMO",
            "Fonds national de modernisation des œuvres",
            "National fund for the modernisation of the œuvres",
            0,
            Nature::Subtotal,
            "",
        ),
        line("FNMO-INV", "Investissement des œuvres ambulatoires", "Investment of the ambulatory œuvres", 1, Nature::Limitative, "FNMO"),
        line("FNMO-DEF", "Apurement des déficits des œuvres", "Clearing of the œuvres' deficits", 2, Nature::Limitative, "FNMO"),
    ]
}

/// Every line of the four funds, as the COG tables print them.
pub fn reference_lines() -> Result<Vec<LineDef>, String> {
    let mut all = bnga()?;
    all.extend(bnass()?);
    all.extend(bnpps()?);
    all.extend(fnmo());
    Ok(all)
}

/// An account of the BNGA revenue-reuse table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReuseAccount {
    pub account: String,
    pub label: String,
    /// Applied percentage: a blank in the table is 0 (finance.md R07, Q7).
    pub percent: i16,
}

/// The reuse table of COG Annex 3.
pub fn reuse_accounts() -> Result<Vec<ReuseAccount>, String> {
    parse_csv_records(REUSE_CSV)?
        .iter()
        .map(|row| {
            let pct = field(row, "reuse_pct")?;
            Ok(ReuseAccount {
                account: field(row, "account")?.to_owned(),
                label: field(row, "label_fr")?.to_owned(),
                percent: if pct.is_empty() {
                    0
                } else {
                    // "100" or "100.0": whole percentages only.
                    pct.split('.').next().unwrap_or_default().parse::<i16>().map_err(|e| format!("reuse_pct {pct:?}: {e}"))?
                },
            })
        })
        .collect()
}

/// The table account a revenue account falls under: the longest listed
/// prefix (755281 → 75528); `None` when no listed account matches (R07 step 2).
pub fn reuse_account_of<'a>(table: &'a [ReuseAccount], account: &str) -> Option<&'a ReuseAccount> {
    table.iter().filter(|a| account.starts_with(a.account.as_str())).max_by_key(|a| a.account.len())
}

/// Uplift of an excess at a percentage, rounded half up to the cent (R07 step 5).
pub fn reuse_uplift(excess_cents: i64, percent: i16) -> i64 {
    if excess_cents <= 0 || percent <= 0 {
        return 0;
    }
    let v = (i128::from(excess_cents) * i128::from(percent) * 2 + 100) / 200;
    i64::try_from(v).unwrap_or(i64::MAX)
}

// ------------------------------------------------------------ transfers

/// How a transfer may be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferRule {
    /// The director general decides; `notify`: the CGEFi and the ministries
    /// are informed within 15 days; `cross_section`: BNASS lines of two
    /// sections (allowed, listed apart, finance.md Q4).
    Director { notify: bool, cross_section: bool },
    /// Only an amending decision (DM) voted by the board and approved by the ministries.
    AmendingDecision,
    /// A use of the national reserve: the ministries' prior authorisation (R15).
    ReserveUse,
}

/// Why a transfer is refused whatever the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferRefusal {
    /// Same line, a subtotal, or into the reserve: not a transfer.
    NotATransfer(String),
    /// Evaluative lines change by amending budget (BR) only.
    EvaluativeByBudgetOnly(String),
    /// The FNMO changes only through its BP and BRs (R05).
    FnmoByBudgetOnly,
}

/// The rule of the fund for a transfer `from` → `to` (R03 BNGA, R04 BNASS,
/// R05 BNPPS and FNMO, R15 reserve), and the rule's identifier.
pub fn transfer_rule(from: &LineInfo, to: &LineInfo) -> Result<(TransferRule, &'static str), TransferRefusal> {
    use Group::*;
    if from.code == to.code {
        return Err(TransferRefusal::NotATransfer("a transfer needs two different lines".into()));
    }
    if from.fund != to.fund {
        return Err(TransferRefusal::NotATransfer("no rule allows a transfer between funds".into()));
    }
    for l in [from, to] {
        if l.nature == Nature::Subtotal {
            return Err(TransferRefusal::NotATransfer(format!("{} is a subtotal: transfers are between lines", l.code)));
        }
    }
    if to.nature == Nature::Reserve {
        return Err(TransferRefusal::NotATransfer(format!(
            "{} is the national reserve: it is endowed by an amending budget (R15)",
            to.code
        )));
    }
    if from.nature == Nature::Reserve {
        return Ok((TransferRule::ReserveUse, "R15"));
    }
    if from.fund == Fund::Fnmo {
        return Err(TransferRefusal::FnmoByBudgetOnly);
    }
    for l in [from, to] {
        if l.nature == Nature::Evaluative {
            return Err(TransferRefusal::EvaluativeByBudgetOnly(l.code.clone()));
        }
    }
    Ok(match from.fund {
        Fund::Bnga => match (from.group, to.group) {
            (Personnel, Personnel) | (Operating, Operating) | (Investment, Investment) => {
                (TransferRule::Director { notify: false, cross_section: false }, "R03")
            }
            (Personnel, Operating) | (Operating, Investment) => (TransferRule::Director { notify: true, cross_section: false }, "R03"),
            _ => (TransferRule::AmendingDecision, "R03"),
        },
        Fund::Bnass => match (from.group, to.group) {
            (CollectiveOperating, CollectiveOperating) | (CollectiveInvestment, CollectiveInvestment) => {
                (TransferRule::Director { notify: false, cross_section: from.section != to.section }, "R04")
            }
            _ => (TransferRule::AmendingDecision, "R04"),
        },
        Fund::Bnpps | Fund::Fnmo => (TransferRule::AmendingDecision, "R05"),
    })
}

// ------------------------------------------------------------- spending

/// Why spending is refused (R02).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpendRefusal {
    /// A limitative line cannot go beyond its available credits.
    LimitativeExceeded { shortfall_cents: i64 },
    /// The national reserve is never spent directly.
    ReserveNotConsumable,
    /// Subtotals are computed, not posted to.
    NotPostable,
}

/// Control of `consumes` cents of new spending on a line with `available`
/// cents: the evaluative overrun it causes (0 when within the credits).
pub fn check_spending(nature: Nature, available_cents: i64, consumes_cents: i64) -> Result<i64, SpendRefusal> {
    match nature {
        Nature::Subtotal => Err(SpendRefusal::NotPostable),
        Nature::Reserve => Err(SpendRefusal::ReserveNotConsumable),
        Nature::Limitative if consumes_cents > available_cents => {
            Err(SpendRefusal::LimitativeExceeded { shortfall_cents: consumes_cents - available_cents })
        }
        Nature::Limitative => Ok(0),
        Nature::Evaluative => Ok((consumes_cents - available_cents.max(0)).max(0)),
    }
}

// ------------------------------------------------------------ year close

/// What the close of a year does to one line (R06, R15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseDecision {
    pub carried_cents: i64,
    pub cancelled_cents: i64,
    /// Tag of the carried credits (`non_perennial`), if any.
    pub tag: Option<&'static str>,
    pub note: String,
}

/// The close decision of a leaf line of `year` with its authorised and executed amounts.
pub fn close_decision(line: &LineInfo, year: i16, authorised_cents: i64, executed_cents: i64) -> CloseDecision {
    let unspent = authorised_cents - executed_cents;
    let none = |note: &str| CloseDecision { carried_cents: 0, cancelled_cents: 0, tag: None, note: note.to_owned() };
    match line.nature {
        Nature::Subtotal => none("subtotal"),
        Nature::Evaluative => none("evaluative credits are never carried over (R06)"),
        Nature::Reserve if unspent > 0 => CloseDecision {
            carried_cents: 0,
            cancelled_cents: unspent,
            tag: None,
            note: "unused national reserve cancelled at year end (R15)".into(),
        },
        Nature::Reserve => none("national reserve fully used"),
        Nature::Limitative if line.fund == Fund::Fnmo => none("FNMO: the unspent amount stays in the FNMO reserve (R16), no carry-over"),
        Nature::Limitative if unspent <= 0 => none("nothing unspent"),
        Nature::Limitative if year >= LAST_COG_YEAR => CloseDecision {
            carried_cents: 0,
            cancelled_cents: unspent,
            tag: None,
            note: "last COG year: unspent credits are cancelled, not carried (R06)".into(),
        },
        Nature::Limitative => {
            // BNGA (except investment CP) and BNPPS carry-overs are for non-perennial
            // expenses; BNASS collective credits and BNGA CP are carried as such.
            let non_perennial = matches!(line.fund, Fund::Bnga | Fund::Bnpps) && line.group != Group::Investment;
            CloseDecision {
                carried_cents: unspent,
                cancelled_cents: 0,
                tag: non_perennial.then_some("non_perennial"),
                note: format!("unspent limitative credits carried to {} (R06)", year + 1),
            }
        }
    }
}

// ------------------------------------------------------ real-estate sales

/// The BNGA lines real-estate gains raise (R10 steps 5 and 6).
pub const SALE_INVESTMENT_LINE: &str = "A-I-3.b";
pub const SALE_RENT_LINE: &str = "A-I-2.b";

/// What a sale's gain raises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalePlan {
    pub gain: i64,
    pub investment: i64,
    pub rent: i64,
    /// (year, line, amount), investment first, then the ten rent tranches.
    pub uplifts: Vec<(i16, &'static str, i64)>,
}

/// A sale to another social-security body is made at the net book value (R10 step 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceNotNetBookValue;

/// R10: the gain over the net book value raises the next year's investment
/// authorisations by `investment_percent` of it (rounded half up) and the
/// rent envelope by the rest, a tenth a year over ten years (tranches 1–9
/// rounded down to the cent, the tenth takes the remainder so the total is
/// exact). A loss, or no gain, raises nothing.
pub fn plan_sale(
    year: i16,
    price: i64,
    net_book_value: i64,
    social_security_buyer: bool,
    investment_percent: i16,
) -> Result<SalePlan, PriceNotNetBookValue> {
    if social_security_buyer && price != net_book_value {
        return Err(PriceNotNetBookValue);
    }
    let gain = price - net_book_value;
    if gain <= 0 {
        return Ok(SalePlan { gain, investment: 0, rent: 0, uplifts: Vec::new() });
    }
    let investment = i64::try_from((i128::from(gain) * i128::from(investment_percent) * 2 + 100) / 200).unwrap_or(gain).min(gain);
    let rent = gain - investment;
    let mut uplifts = Vec::new();
    if investment > 0 {
        uplifts.push((year + 1, SALE_INVESTMENT_LINE, investment));
    }
    if rent > 0 {
        let tranche = rent / 10;
        for k in 1..=10i16 {
            let amount = if k == 10 { rent - 9 * tranche } else { tranche };
            uplifts.push((year + k, SALE_RENT_LINE, amount));
        }
    }
    Ok(SalePlan { gain, investment, rent, uplifts })
}

// ------------------------------------------------------------ indexation

/// First year indexed: the 2022 amounts of both tables are the base (R14, reading 2).
pub const FIRST_INDEXED_YEAR: i16 = 2023;

/// Whether a line follows inflation (R14 step 6): BNASS collective operating
/// lines and BNPPS limitative lines; never BNGA (R13), capital or evaluative lines.
pub fn is_indexed(line: &LineInfo) -> bool {
    match line.fund {
        Fund::Bnass => line.group == Group::CollectiveOperating,
        Fund::Bnpps => line.nature == Nature::Limitative,
        Fund::Bnga | Fund::Fnmo => false,
    }
}

/// Inflation of a year in basis points: forecast, and actual once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inflation {
    pub forecast_bp: i32,
    pub actual_bp: Option<i32>,
}

/// The corrected rates τ(k) = f(k) + (a(k−1) − f(k−1)) for k = 2023..=year, or
/// the year whose input is missing and which one.
pub fn corrected_rates(rates: &HashMap<i16, Inflation>, year: i16) -> Result<Vec<(i16, i32)>, (i16, &'static str)> {
    (FIRST_INDEXED_YEAR..=year)
        .map(|k| {
            let now = rates.get(&k).ok_or((k, "forecast"))?;
            let before = rates.get(&(k - 1)).ok_or((k - 1, "forecast"))?;
            let actual = before.actual_bp.ok_or((k - 1, "actual"))?;
            Ok((k, now.forecast_bp + actual - before.forecast_bp))
        })
        .collect()
}

/// `table × Π(1 + τ)` rounded half up once to the cent, and the cumulative
/// index as an exact decimal ("1.11456"); all in integers.
pub fn index_amount(table_cents: i64, rates_bp: &[i32]) -> (i64, String) {
    let mut numerator: i128 = 1;
    let mut denominator: i128 = 1;
    for r in rates_bp {
        numerator *= 10_000 + i128::from(*r);
        denominator *= 10_000;
    }
    let n = i128::from(table_cents) * numerator;
    let indexed = if n >= 0 { (2 * n + denominator) / (2 * denominator) } else { -((2 * -n + denominator) / (2 * denominator)) };
    let digits = 4 * rates_bp.len();
    let int = numerator / denominator;
    let frac = format!("{:0width$}", numerator % denominator, width = digits);
    let frac = frac.trim_end_matches('0');
    let index = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
    (i64::try_from(indexed).unwrap_or(i64::MAX), index)
}

// ------------------------------------------------------- execution rates

/// `numerator / denominator × 100` rounded half up to `decimals`, from exact
/// integers ("89.47"); `None` when the denominator is not positive.
pub fn percent(numerator: i64, denominator: i64, decimals: u32) -> Option<String> {
    if denominator <= 0 {
        return None;
    }
    let scale = 10i128.pow(decimals);
    let n = i128::from(numerator) * 100 * scale;
    let d = i128::from(denominator);
    let rounded = if n >= 0 { (2 * n + d) / (2 * d) } else { -((2 * -n + d) / (2 * d)) };
    let (int, frac) = (rounded / scale, (rounded % scale).abs());
    let sign = if rounded < 0 && int == 0 { "-" } else { "" };
    Some(if decimals == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{frac:0width$}", width = decimals as usize) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(fund: Fund, code: &str) -> LineInfo {
        reference_lines().unwrap().into_iter().find(|l| l.info.fund == fund && l.info.code == code).map(|l| l.info).unwrap()
    }

    #[test]
    fn the_tables_load_with_their_codes_and_natures() {
        let lines = reference_lines().unwrap();
        let find = |f: Fund, c: &str| lines.iter().find(|l| l.info.fund == f && l.info.code == c).unwrap();
        assert_eq!(find(Fund::Bnga, "A-I-1").amounts, [Some(3_733_000_000), Some(3_667_000_000), Some(3_601_000_000)]);
        assert_eq!(find(Fund::Bnga, "A-I-2").info.nature, Nature::Subtotal);
        assert_eq!(find(Fund::Bnga, "II.a").info.nature, Nature::Reserve);
        assert_eq!(find(Fund::Bnga, "B-II-2").info.section, "I");
        assert_eq!(find(Fund::Bnass, "BNASS-MAL-COL").amounts[0], Some(233_330_000));
        assert_eq!(find(Fund::Bnass, "BNASS-PA-IND").info.nature, Nature::Evaluative);
        assert_eq!(find(Fund::Bnpps, "BNPPS-MAL-EVAL").amounts[1], Some(45_000_000));
        assert_eq!(lines.iter().filter(|l| l.info.fund == Fund::Bnass && l.info.nature != Nature::Subtotal).count(), 8);
    }

    /// R03/R04/R05 decision tables (finance.md TS-04..TS-13).
    #[test]
    fn transfer_decision_tables() {
        use TransferRule::*;
        let bnga = |a: &str, b: &str| transfer_rule(&line(Fund::Bnga, a), &line(Fund::Bnga, b)).map(|r| r.0);
        assert_eq!(bnga("A-I-2.a", "A-I-2.b"), Ok(Director { notify: false, cross_section: false }));
        assert_eq!(bnga("A-I-1", "A-I-2.b"), Ok(Director { notify: true, cross_section: false }));
        assert_eq!(bnga("A-I-2.b", "A-I-3.b"), Ok(Director { notify: true, cross_section: false }));
        assert_eq!(bnga("A-I-3.b", "A-I-2.b"), Ok(AmendingDecision));
        assert_eq!(bnga("A-I-3.a", "A-I-1"), Ok(AmendingDecision));
        assert_eq!(bnga("A-I-1", "A-I-3.a"), Ok(AmendingDecision), "P → I is not one of the two permitted directions");
        assert_eq!(bnga("A-II-2", "A-II-1"), Ok(AmendingDecision));
        assert_eq!(bnga("B-I", "A-I-2.b"), Err(TransferRefusal::EvaluativeByBudgetOnly("B-I".into())));
        assert_eq!(bnga("II.a", "A-I-2.b"), Ok(ReserveUse));
        assert!(matches!(bnga("A-I-2.b", "II.a"), Err(TransferRefusal::NotATransfer(_))));
        assert!(matches!(bnga("A-I-2", "A-I-2.b"), Err(TransferRefusal::NotATransfer(_))));
        let bnass = |a: &str, b: &str| transfer_rule(&line(Fund::Bnass, a), &line(Fund::Bnass, b)).map(|r| r.0);
        assert_eq!(bnass("BNASS-PA-COL", "BNASS-MAL-COL"), Ok(Director { notify: false, cross_section: true }));
        assert_eq!(bnass("BNASS-MAL-CAP", "BNASS-PA-CAP"), Ok(Director { notify: false, cross_section: true }));
        assert_eq!(bnass("BNASS-MAL-COL", "BNASS-MAL-CAP"), Ok(AmendingDecision));
        assert!(matches!(bnass("BNASS-PA-IND", "BNASS-PA-COL"), Err(TransferRefusal::EvaluativeByBudgetOnly(_))));
        let bnpps = transfer_rule(&line(Fund::Bnpps, "BNPPS-MAL-CANSSM"), &line(Fund::Bnpps, "BNPPS-ATMP-CANSSM")).map(|r| r.0);
        assert_eq!(bnpps, Ok(AmendingDecision));
        let fnmo = transfer_rule(&line(Fund::Fnmo, "FNMO-INV"), &line(Fund::Fnmo, "FNMO-DEF"));
        assert_eq!(fnmo, Err(TransferRefusal::FnmoByBudgetOnly));
    }

    /// R02 decision table (TS-01..TS-03).
    #[test]
    fn spending_decision_table() {
        // TS-01: 4,700,000 authorised, 4,500,000 executed, 150,000 committed → 50,000 available.
        assert_eq!(
            check_spending(Nature::Limitative, 5_000_000, 6_000_000),
            Err(SpendRefusal::LimitativeExceeded { shortfall_cents: 1_000_000 })
        );
        assert_eq!(check_spending(Nature::Limitative, 5_000_000, 5_000_000), Ok(0));
        // TS-02: evaluative, 150,000 beyond.
        assert_eq!(check_spending(Nature::Evaluative, 0, 15_000_000), Ok(15_000_000));
        assert_eq!(check_spending(Nature::Evaluative, 100, 300), Ok(200));
        assert_eq!(check_spending(Nature::Evaluative, -500, 300), Ok(300), "already in overrun: all of it is overrun");
        assert_eq!(check_spending(Nature::Reserve, 1_000_000, 100_000), Err(SpendRefusal::ReserveNotConsumable));
        assert_eq!(check_spending(Nature::Subtotal, 1_000_000, 1), Err(SpendRefusal::NotPostable));
    }

    /// R06 decision table (TS-14, TS-15, TS-16, TS-18, TS-19).
    #[test]
    fn close_decision_table() {
        let d = close_decision(&line(Fund::Bnga, "A-I-2.b"), 2022, 787_000_000, 750_000_000);
        assert_eq!((d.carried_cents, d.tag), (37_000_000, Some("non_perennial")));
        let d = close_decision(&line(Fund::Bnga, "B-II-2"), 2022, 1_240_000_000, 1_210_000_000);
        assert_eq!((d.carried_cents, d.cancelled_cents), (0, 0));
        let d = close_decision(&line(Fund::Bnga, "A-I-3.a"), 2022, 72_000_000, 60_000_000);
        assert_eq!((d.carried_cents, d.tag), (12_000_000, None), "investment CP are carried as such");
        let d = close_decision(&line(Fund::Bnass, "BNASS-MAL-COL"), 2022, 233_330_000, 223_330_000);
        assert_eq!((d.carried_cents, d.tag), (10_000_000, None));
        let d = close_decision(&line(Fund::Bnass, "BNASS-MAL-IND"), 2023, 5_000_000, 0);
        assert_eq!(d.carried_cents, 0);
        let d = close_decision(&line(Fund::Bnga, "A-I-2.b"), 2024, 20_000_000, 0);
        assert_eq!((d.carried_cents, d.cancelled_cents), (0, 20_000_000));
        let d = close_decision(&line(Fund::Bnga, "II.a"), 2023, 40_000_000, 0);
        assert_eq!((d.carried_cents, d.cancelled_cents), (0, 40_000_000));
        let d = close_decision(&line(Fund::Bnga, "A-I-1"), 2022, 100, 150);
        assert_eq!((d.carried_cents, d.cancelled_cents), (0, 0));
    }

    #[test]
    fn revenue_reuse_accounts_and_rounding() {
        let table = reuse_accounts().unwrap();
        assert_eq!(table.len(), 35);
        assert_eq!(table.iter().filter(|a| a.percent == 100).count(), 16);
        assert_eq!(reuse_account_of(&table, "7083").map(|a| a.percent), Some(100));
        assert_eq!(reuse_account_of(&table, "755281").map(|a| a.account.as_str()), Some("75528"));
        assert_eq!(reuse_account_of(&table, "74110").map(|a| a.account.as_str()), Some("741"));
        assert_eq!(reuse_account_of(&table, "706").map(|a| a.percent), Some(0));
        assert_eq!(reuse_account_of(&table, "601"), None);
        assert_eq!(reuse_uplift(4_000_000, 100), 4_000_000);
        assert_eq!(reuse_uplift(3, 50), 2, "1.5 cents rounds half up");
        assert_eq!(reuse_uplift(-10, 100), 0);
    }

    /// R10 (TS-29..TS-33).
    #[test]
    fn real_estate_sales() {
        let p = plan_sale(2023, 90_000_000, 30_000_000, false, 100).unwrap();
        assert_eq!((p.gain, p.uplifts.clone()), (60_000_000, vec![(2024, "A-I-3.b", 60_000_000)]));
        let p = plan_sale(2023, 90_000_000, 30_000_000, false, 50).unwrap();
        assert_eq!(p.uplifts[0], (2024, "A-I-3.b", 30_000_000));
        assert_eq!(
            p.uplifts[1..].iter().map(|u| (u.0, u.2)).collect::<Vec<_>>(),
            (2024..=2033).map(|y| (y, 3_000_000)).collect::<Vec<_>>()
        );
        let p = plan_sale(2023, 10_000_005, 0, false, 0).unwrap();
        assert_eq!(p.uplifts.len(), 10);
        assert!(p.uplifts[..9].iter().all(|u| u.2 == 1_000_000));
        assert_eq!(p.uplifts[9], (2033, "A-I-2.b", 1_000_005));
        assert_eq!(p.uplifts.iter().map(|u| u.2).sum::<i64>(), 10_000_005);
        assert_eq!(plan_sale(2023, 90_000_000, 30_000_000, true, 100), Err(PriceNotNetBookValue));
        assert_eq!(plan_sale(2023, 30_000_000, 30_000_000, true, 100).unwrap().uplifts, vec![]);
        let loss = plan_sale(2024, 25_000_000, 30_000_000, false, 100).unwrap();
        assert_eq!((loss.gain, loss.uplifts.len()), (-5_000_000, 0));
        assert_eq!(plan_sale(2024, 50_000_000, 30_000_000, false, 100).unwrap().uplifts, vec![(2025, "A-I-3.b", 20_000_000)]);
    }

    /// R14 (TS-38, TS-39), with the hypothetical rates of the domain notes.
    #[test]
    fn indexation_follows_corrected_inflation() {
        let rates: HashMap<i16, Inflation> = [
            (2022, Inflation { forecast_bp: 150, actual_bp: Some(530) }),
            (2023, Inflation { forecast_bp: 420, actual_bp: Some(490) }),
            (2024, Inflation { forecast_bp: 250, actual_bp: None }),
        ]
        .into_iter()
        .collect();
        let taus = corrected_rates(&rates, 2024).unwrap();
        assert_eq!(taus, vec![(2023, 800), (2024, 320)]);
        assert_eq!(index_amount(224_480_000, &[800]), (242_438_400, "1.08".to_owned()));
        assert_eq!(index_amount(216_210_000, &[800, 320]), (240_979_018, "1.11456".to_owned()));
        assert_eq!(index_amount(214_800_000, &[800, 320]).0, 239_407_488, "BNPPS-MAL-CANSSM 2024 = 2,394,074.88");
        let missing: HashMap<i16, Inflation> = [(2022, Inflation { forecast_bp: 150, actual_bp: None })].into_iter().collect();
        assert_eq!(corrected_rates(&missing, 2023), Err((2023, "forecast")));
        let no_actual: HashMap<i16, Inflation> =
            [(2022, Inflation { forecast_bp: 150, actual_bp: None }), (2023, Inflation { forecast_bp: 420, actual_bp: None })]
                .into_iter()
                .collect();
        assert_eq!(corrected_rates(&no_actual, 2023), Err((2022, "actual")));
        assert!(is_indexed(&line(Fund::Bnass, "BNASS-MAL-COL")));
        assert!(!is_indexed(&line(Fund::Bnass, "BNASS-MAL-CAP")));
        assert!(!is_indexed(&line(Fund::Bnpps, "BNPPS-MAL-EVAL")));
        assert!(is_indexed(&line(Fund::Bnpps, "BNPPS-ATMP-CANSSM")));
        assert!(!is_indexed(&line(Fund::Bnga, "A-I-2.b")), "R13: no BNGA indexation");
    }

    /// R22 (TS-46, TS-47).
    #[test]
    fn execution_rates_are_exact_and_rounded_half_up() {
        assert_eq!(percent(261_719_900, 312_000_000, 2).as_deref(), Some("83.88"));
        assert_eq!(percent(261_719_900, 312_000_000, 1).as_deref(), Some("83.9"));
        assert_eq!(percent(790_000_000, 779_000_000, 2).as_deref(), Some("101.41"));
        assert_eq!(percent(790_000_000, 804_000_000, 2).as_deref(), Some("98.26"));
        assert_eq!(percent(1, 0, 2), None);
        assert_eq!(percent(1, 8, 0).as_deref(), Some("13"));
    }
}
