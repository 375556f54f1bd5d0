//! Installed full-time beds of an establishment, read from the registry:
//! the registry owns capacities (effective-dated lines), the activity
//! service only counts patient-days against them.

use chrono::NaiveDate;
use filieris_kernel::date::parse_date;
use filieris_proto::registry as reg;
use filieris_proto::registry::registry_service_client::RegistryServiceClient;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::error::ActivityError;

/// Bed-days of the installed full-time (HC) beds over `[start, end]`: each
/// BED × FULL_TIME line counts its installed beds for the days it is valid
/// in the span, so a capacity that changes mid-month is weighted by days.
pub fn full_time_bed_days(capacities: &[reg::Capacity], start: NaiveDate, end: NaiveDate) -> i64 {
    capacities
        .iter()
        .filter(|c| c.unit == reg::CapacityUnit::Bed as i32 && c.modality == reg::CapacityModality::FullTime as i32)
        .filter_map(|c| {
            // An unreadable bound is the registry's bug; an absent one is open-ended.
            let from = if c.valid_from.is_empty() { start } else { parse_date(&c.valid_from).ok()?.max(start) };
            let to = if c.valid_to.is_empty() { end } else { parse_date(&c.valid_to).ok()?.min(end) };
            (from <= to).then(|| i64::from(c.installed.max(0)) * ((to - from).num_days() + 1))
        })
        .sum()
}

/// Asks the registry for the structure as it stood at `end` and returns its
/// installed full-time bed-days over `[start, end]`. A registry that does
/// not answer is `RegistryUnavailable` (UNAVAILABLE): occupancy is never
/// computed against a guessed capacity.
pub async fn installed_bed_days(
    client: &RegistryServiceClient<Channel>,
    request: impl FnOnce(reg::GetStructureRequest) -> tonic::Request<reg::GetStructureRequest>,
    structure: Uuid,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<i64, ActivityError> {
    let message = reg::GetStructureRequest { name: format!("structures/{structure}"), as_of_date: end.to_string() };
    let response = client.clone().get_structure(request(message)).await.map_err(|status| match status.code() {
        tonic::Code::NotFound => ActivityError::field("finess", format!("the registry has no state of this structure on {end}")),
        _ => ActivityError::RegistryUnavailable(format!("GetStructure structures/{structure}: {}", status.message())),
    })?;
    let s = response
        .into_inner()
        .structure
        .ok_or_else(|| ActivityError::RegistryUnavailable(format!("GetStructure structures/{structure} answered without a structure")))?;
    Ok(full_time_bed_days(&s.capacities, start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(unit: reg::CapacityUnit, modality: reg::CapacityModality, installed: i32, from: &str, to: &str) -> reg::Capacity {
        reg::Capacity {
            unit: unit as i32,
            modality: modality as i32,
            installed,
            authorised: installed + 5,
            valid_from: from.into(),
            valid_to: to.into(),
            ..Default::default()
        }
    }

    #[test]
    fn only_installed_full_time_beds_count_for_the_days_they_are_valid() {
        use reg::CapacityModality::{Day, FullTime};
        use reg::CapacityUnit::{Bed, Place};
        let start = NaiveDate::from_ymd_opt(2023, 3, 1).expect("date");
        let end = NaiveDate::from_ymd_opt(2023, 3, 31).expect("date");
        let lines = [
            line(Bed, FullTime, 30, "2022-06-01", ""),
            line(Bed, FullTime, 15, "2022-06-01", ""),
            line(Place, Day, 10, "2022-06-01", ""),
            // 20 beds until 10 March, then 25.
            line(Bed, FullTime, 20, "2020-01-01", "2023-03-10"),
            line(Bed, FullTime, 25, "2023-03-11", ""),
            line(Bed, FullTime, 99, "2023-04-01", ""),
        ];
        assert_eq!(full_time_bed_days(&lines, start, end), 45 * 31 + 20 * 10 + 25 * 21);
    }
}
