//! Activité: acts, patients and opening rates by region and quarter for an
//! activity line (activity GetOpeningRate), and the recent import batches
//! with their rejected rows (ListActBatches).

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::Query;
use axum::response::Response;
use filieris_proto::activity as act;
use filieris_proto::activity::activity_service_client::ActivityServiceClient;

use super::{param, year, year_options};
use crate::html::{self, esc};
use crate::nav::Page;
use crate::{Ctx, svg, why};

const LINES: &[(act::ActivityLine, &str, &str)] = &[
    (act::ActivityLine::GeneralMedicine, "GENERAL_MEDICINE", "Médecine générale"),
    (act::ActivityLine::Nursing, "NURSING", "Soins infirmiers"),
    (act::ActivityLine::Dental, "DENTAL", "Dentaire"),
    (act::ActivityLine::Specialist, "SPECIALIST", "Spécialistes"),
];

fn pct(r: &Option<act::Ratio>) -> String {
    r.as_ref().map(|r| html::percent(r.numerator, r.denominator)).unwrap_or_else(|| "—".into())
}

fn total(r: &Option<act::Ratio>) -> String {
    r.as_ref().map(|r| html::int(r.denominator)).unwrap_or_else(|| "—".into())
}

/// GET /ui/activite
pub async fn page(ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Response {
    let y = year(&q, 2022);
    let line_code = param(&q, "ligne");
    let (line, _, line_label) = LINES.iter().find(|(_, code, _)| *code == line_code).copied().unwrap_or(LINES[0]);
    let line_options: Vec<(String, String)> = LINES.iter().map(|(_, c, l)| ((*c).to_owned(), (*l).to_owned())).collect();
    let fields = format!(
        "{}{}",
        html::select("annee", "Année", &year_options(), &y.to_string()),
        html::select("ligne", "Ligne d'activité", &line_options, line_code)
    );
    let mut body = html::filter_form("/ui/activite", &fields);
    let mut client = ActivityServiceClient::new(ctx.channel("activity"));

    let _ = write!(
        body,
        "<section aria-labelledby=\"reg-h\"><h2 id=\"reg-h\">Taux d'ouverture {y} par région — {}</h2>\
         <p class=\"hint\">Part des patients et des actes relevant du régime minier. Un patient vu dans deux régions compte une fois dans chacune.</p>",
        esc(line_label)
    );
    // A scoped user sees their structures or regions, others the nation and the three regions.
    let own = crate::nav::structure_scopes(&ctx.identity);
    let own_regions = crate::nav::region_scopes(&ctx.identity);
    let scopes: Vec<(String, String)> = if !own.is_empty() {
        own.iter().map(|f| (format!("structures/{f}"), format!("FINESS {f}"))).collect()
    } else if !own_regions.is_empty() {
        own_regions.iter().map(|r| (format!("regions/{r}"), r.clone())).collect()
    } else {
        [("", "National"), ("regions/NORD", "Nord"), ("regions/EST", "Est"), ("regions/SUD", "Sud")]
            .iter()
            .map(|(s, l)| ((*s).to_owned(), (*l).to_owned()))
            .collect()
    };
    let national = own.is_empty() && own_regions.is_empty();
    let mut rows = Vec::new();
    for (scope, label) in &scopes {
        let req = act::GetOpeningRateRequest { period: y.to_string(), line: line as i32, scope: scope.clone() };
        rows.push((label.as_str(), client.get_opening_rate(ctx.req(req)).await));
    }
    let bars: Vec<(String, f64, String)> = rows
        .iter()
        .filter_map(|(label, r)| {
            let r = r.as_ref().ok()?.get_ref();
            let p = r.patients.as_ref()?;
            Some((label.to_string(), p.percent, html::percent(p.numerator, p.denominator)))
        })
        .collect();
    if !bars.is_empty() {
        body.push_str(&svg::hbars(&format!("Taux d'ouverture patients {y} par région"), &bars));
    }
    body.push_str(
        "<table id=\"opening-rates\"><thead><tr><th scope=\"col\">Périmètre</th><th scope=\"col\">Patients</th><th scope=\"col\">Taux (patients)</th>\
         <th scope=\"col\">Actes</th><th scope=\"col\">Taux (actes)</th></tr></thead><tbody>",
    );
    for (label, r) in &rows {
        match r {
            Ok(r) => {
                let r = r.get_ref();
                let _ = write!(
                    body,
                    "<tr><th scope=\"row\">{label}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                    total(&r.patients),
                    pct(&r.patients),
                    total(&r.acts),
                    pct(&r.acts)
                );
            }
            Err(status) => {
                let _ = write!(body, "<tr><th scope=\"row\">{label}</th><td colspan=\"4\">{}</td></tr>", esc(&why(status)));
            }
        }
    }
    body.push_str("</tbody></table></section>");

    // Quarters of the year, in the user's first scope.
    let (quarter_scope, quarter_label) = if national { (String::new(), "national".to_owned()) } else { scopes[0].clone() };
    let _ = write!(body, "<section aria-labelledby=\"q-h\"><h2 id=\"q-h\">Actes par trimestre {y} ({})</h2>", esc(&quarter_label));
    let mut points = Vec::new();
    let mut quarter_rows = String::new();
    for quarter in 1..=4 {
        let period = format!("{y}Q{quarter}");
        let req = act::GetOpeningRateRequest { period: period.clone(), line: line as i32, scope: quarter_scope.clone() };
        match client.get_opening_rate(ctx.req(req)).await {
            Ok(r) => {
                let r = r.into_inner();
                let acts = r.acts.as_ref().map(|a| a.denominator);
                points.push((format!("T{quarter}"), acts.map(|a| a as f64)));
                let _ = write!(
                    quarter_rows,
                    "<tr><th scope=\"row\">T{quarter}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                    total(&r.acts),
                    total(&r.patients),
                    pct(&r.patients)
                );
            }
            Err(status) => {
                points.push((format!("T{quarter}"), None));
                let _ = write!(quarter_rows, "<tr><th scope=\"row\">T{quarter}</th><td colspan=\"3\">{}</td></tr>", esc(&why(&status)));
            }
        }
    }
    body.push_str(&svg::line(&format!("Actes par trimestre {y}"), &points, 420, 120));
    let _ = write!(
        body,
        "<table><thead><tr><th scope=\"col\">Trimestre</th><th scope=\"col\">Actes</th><th scope=\"col\">Patients</th><th scope=\"col\">Taux (patients)</th></tr></thead><tbody>{quarter_rows}</tbody></table></section>"
    );

    body.push_str("<section aria-labelledby=\"b-h\"><h2 id=\"b-h\">Derniers imports de lots d'actes</h2>");
    match client.list_act_batches(ctx.req(act::ListActBatchesRequest { page_size: 20, page_token: param(&q, "page").to_owned() })).await {
        Err(status) => body.push_str(&html::unavailable("Imports", &why(&status))),
        Ok(r) => {
            let r = r.into_inner();
            if r.batches.is_empty() {
                body.push_str("<p>Aucun import visible.</p>");
            } else {
                body.push_str(
                    "<table><thead><tr><th scope=\"col\">Lot</th><th scope=\"col\">Source</th><th scope=\"col\">Lignes</th><th scope=\"col\">Acceptées</th>\
                     <th scope=\"col\">Rejetées</th><th scope=\"col\">Premiers rejets</th></tr></thead><tbody>",
                );
                for b in &r.batches {
                    let errors: Vec<String> =
                        b.errors.iter().take(5).map(|e| format!("ligne {} : {} — {}", e.row, e.field, e.reason)).collect();
                    let _ = write!(
                        body,
                        "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                        esc(b.name.rsplit('/').next().unwrap_or(&b.name)),
                        esc(&b.source_system),
                        html::int(b.total_rows),
                        html::int(b.accepted_rows),
                        html::int(b.rejected_rows),
                        esc(&errors.join(" ; "))
                    );
                }
                body.push_str("</tbody></table>");
                body.push_str(&html::pager(
                    "/ui/activite",
                    &[("annee", &y.to_string()), ("ligne", line_code), ("page", param(&q, "page"))],
                    &r.next_page_token,
                ));
            }
        }
    }
    body.push_str("</section>");
    ctx.page("Activité", Page::Activity, &body)
}
