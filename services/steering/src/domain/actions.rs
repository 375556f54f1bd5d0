//! The action calendar of Annex 2 (A001 …) and the counts per axis and
//! status of the execution report.

use serde::{Deserialize, Serialize};

const ACTIONS_CSV: &str = include_str!("../../data/cog_2022_2024_actions.csv");

/// Status of an action ("à venir" / "à lancer", "en cours", "réalisée").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionStatus {
    ToCome,
    InProgress,
    Done,
}

impl ActionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::ToCome => "TO_COME",
            ActionStatus::InProgress => "IN_PROGRESS",
            ActionStatus::Done => "DONE",
        }
    }

    pub fn parse(s: &str) -> Option<ActionStatus> {
        [ActionStatus::ToCome, ActionStatus::InProgress, ActionStatus::Done].into_iter().find(|x| x.as_str() == s)
    }
}

/// An action as printed in the calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarAction {
    pub code: String,
    /// 1-5 in annex order.
    pub axis: i32,
    pub axis_label: String,
    pub fiche: i32,
    pub fiche_label: String,
    pub engagement: String,
    pub label_fr: String,
    pub label_en: String,
    pub whole_period: bool,
    pub years: Vec<i32>,
    pub calendar_ambiguous: bool,
    pub source_line: i32,
}

impl CalendarAction {
    /// Scheduled in `year` (whole-period actions are scheduled every year).
    pub fn scheduled_in(&self, year: i32) -> bool {
        self.whole_period || self.years.contains(&year)
    }
}

/// The 242 actions of Annex 2, in annex order.
pub fn reference_calendar() -> Result<Vec<CalendarAction>, String> {
    let rows = filieris_kernel::csv::parse_csv_records(ACTIONS_CSV)?;
    let mut axes: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let get = |name: &str| row.get(name).cloned().ok_or_else(|| format!("column {name} missing"));
        let flag = |name: &str| get(name).map(|v| v == "true");
        let axis_label = get("axis")?;
        let axis = match axes.iter().position(|a| *a == axis_label) {
            Some(i) => i,
            None => {
                axes.push(axis_label.clone());
                axes.len() - 1
            }
        };
        let mut years = Vec::new();
        for y in [2022, 2023, 2024] {
            if flag(&format!("y{y}"))? {
                years.push(y);
            }
        }
        out.push(CalendarAction {
            code: get("action_code")?,
            axis: i32::try_from(axis + 1).map_err(|e| e.to_string())?,
            axis_label,
            fiche: get("fiche")?.parse().map_err(|_| "bad fiche".to_owned())?,
            fiche_label: get("fiche_label_fr")?,
            engagement: get("engagement_code")?,
            label_fr: get("action_label_fr")?,
            label_en: get("action_label_en")?,
            whole_period: flag("whole_period")?,
            years,
            calendar_ambiguous: flag("calendar_ambiguous")?,
            source_line: get("source_line")?.parse().map_err(|_| "bad source_line".to_owned())?,
        });
    }
    Ok(out)
}

/// Counts of one axis.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AxisCounts {
    pub axis: i32,
    pub axis_label: String,
    pub total: i32,
    pub to_come: i32,
    pub in_progress: i32,
    pub done: i32,
}

impl AxisCounts {
    fn add(&mut self, status: ActionStatus) {
        self.total += 1;
        match status {
            ActionStatus::ToCome => self.to_come += 1,
            ActionStatus::InProgress => self.in_progress += 1,
            ActionStatus::Done => self.done += 1,
        }
    }
}

/// Counts per axis (in axis order) and the total, over `(axis, label, status)`.
pub fn count_by_axis<'a>(items: impl IntoIterator<Item = (i32, &'a str, ActionStatus)>) -> (Vec<AxisCounts>, AxisCounts) {
    let mut axes: Vec<AxisCounts> = Vec::new();
    let mut total = AxisCounts { axis: 0, axis_label: "Total".into(), ..AxisCounts::default() };
    for (axis, label, status) in items {
        let i = match axes.iter().position(|a| a.axis == axis) {
            Some(i) => i,
            None => {
                axes.push(AxisCounts { axis, axis_label: label.to_owned(), ..AxisCounts::default() });
                axes.len() - 1
            }
        };
        axes[i].add(status);
        total.add(status);
    }
    axes.sort_by_key(|a| a.axis);
    (axes, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calendar_has_the_annex_actions_per_axis() {
        let cal = reference_calendar().expect("calendar");
        assert_eq!(cal.len(), 242);
        let (axes, total) = count_by_axis(cal.iter().map(|a| (a.axis, a.axis_label.as_str(), ActionStatus::ToCome)));
        let per_axis: Vec<i32> = axes.iter().map(|a| a.total).collect();
        // indicators.md §4.2: 58, 56, 70, 35, 23.
        assert_eq!(per_axis, [58, 56, 70, 35, 23]);
        assert_eq!((total.total, total.to_come), (242, 242));
        let a193 = cal.iter().find(|a| a.code == "A193").expect("A193");
        assert_eq!(a193.years, [2022, 2023]);
        assert!(cal.iter().any(|a| a.code == "A005bis"));
    }

    #[test]
    fn counts_follow_the_statuses() {
        use ActionStatus::*;
        let items = [(2, "b", Done), (1, "a", ToCome), (1, "a", InProgress), (1, "a", InProgress), (2, "b", ToCome)];
        let (axes, total) = count_by_axis(items);
        assert_eq!(
            axes,
            [
                AxisCounts { axis: 1, axis_label: "a".into(), total: 3, to_come: 1, in_progress: 2, done: 0 },
                AxisCounts { axis: 2, axis_label: "b".into(), total: 2, to_come: 1, in_progress: 0, done: 1 },
            ]
        );
        assert_eq!((total.total, total.to_come, total.in_progress, total.done), (5, 2, 2, 1));
    }
}
