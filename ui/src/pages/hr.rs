//! RH: headcount and FTE (QueryWorkforce), the HR indicators of the year
//! (training share of payroll…), and the GEPP view (vacancies, foreseen departures).

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::Query;
use axum::response::Response;
use filieris_proto::hr;
use filieris_proto::hr::hr_service_client::HrServiceClient;

use super::{param, year, year_options};
use crate::html::{self, esc};
use crate::nav::Page;
use crate::pages::structures::region_label;
use crate::{Ctx, svg, why};

/// GET /ui/rh
pub async fn page(ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(denied) = ctx.guard(Page::Hr) {
        return denied;
    }
    let y = year(&q, 2023);
    let mut body = html::filter_form("/ui/rh", &html::select("annee", "Année", &year_options(), &y.to_string()));
    let mut client = HrServiceClient::new(ctx.channel("hr"));

    // A user limited to structures sees the rows of their structures only.
    let own = crate::nav::structure_scopes(&ctx.identity);
    let dimensions: Vec<(hr::WorkforceDimension, &str)> = if own.is_empty() {
        vec![(hr::WorkforceDimension::Region, "Effectifs par région"), (hr::WorkforceDimension::Status, "Effectifs par statut")]
    } else {
        vec![(hr::WorkforceDimension::Structure, "Effectifs de votre structure")]
    };
    body.push_str("<div class=\"cols\">");
    for (dimension, title) in dimensions {
        let _ = write!(body, "<section><h2>{title}</h2>");
        match client.query_workforce(ctx.req(hr::QueryWorkforceRequest { as_of_date: String::new(), dimension: dimension as i32 })).await {
            Err(status) => body.push_str(&html::unavailable(title, &why(&status))),
            Ok(r) => {
                let mut r = r.into_inner();
                if !own.is_empty() {
                    r.rows.retain(|row| own.contains(&row.key));
                }
                let label = |row: &hr::WorkforceRow| {
                    if dimension == hr::WorkforceDimension::Region { region_label(row.region).to_owned() } else { row.key.clone() }
                };
                let bars: Vec<(String, f64, String)> = r
                    .rows
                    .iter()
                    .map(|row| (label(row), row.fte_hundredths as f64, format!("{} ETP", html::hundredths(row.fte_hundredths))))
                    .collect();
                body.push_str(&svg::hbars(&format!("{title} (ETP)"), &bars));
                let _ = write!(
                    body,
                    "<table><caption>Au {}</caption><thead><tr><th scope=\"col\">Clé</th><th scope=\"col\">Effectif</th><th scope=\"col\">ETP</th></tr></thead><tbody>",
                    esc(&r.as_of_date)
                );
                for row in &r.rows {
                    let _ = write!(
                        body,
                        "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                        esc(&label(row)),
                        html::int(row.headcount),
                        html::hundredths(row.fte_hundredths)
                    );
                }
                body.push_str("</tbody></table>");
            }
        }
        body.push_str("</section>");
    }
    body.push_str("</div>");

    let _ = write!(body, "<section aria-labelledby=\"i-h\"><h2 id=\"i-h\">Indicateurs RH {y}</h2>");
    let indicators =
        if own.is_empty() { Some(client.get_hr_indicators(ctx.req(hr::GetHrIndicatorsRequest { year: y })).await) } else { None };
    match indicators {
        None => body.push_str("<p>Les indicateurs RH de la COG sont nationaux : ils ne sont pas ouverts à un périmètre de structure.</p>"),
        Some(Err(status)) => body.push_str(&html::unavailable("Indicateurs RH", &why(&status))),
        Some(Ok(r)) => {
            body.push_str("<table><thead><tr><th scope=\"col\">Code</th><th scope=\"col\">Indicateur</th><th scope=\"col\">Valeur</th><th scope=\"col\">Détail</th></tr></thead><tbody>");
            for i in r.into_inner().indicators {
                let (value, detail) = match (&i.value, hr::IndicatorKind::try_from(i.kind).unwrap_or_default()) {
                    (_, hr::IndicatorKind::Milestone) => {
                        (if i.milestone_reached { "atteint".to_owned() } else { "non atteint".to_owned() }, i.milestone_date.clone())
                    }
                    (Some(v), hr::IndicatorKind::Rate) => (
                        format!("{} %", v.percent.replace('.', ",")),
                        format!("{} / {} {}", html::int(v.numerator), html::int(v.denominator), v.unit),
                    ),
                    (Some(v), _) => (html::int(v.numerator), v.unit.clone()),
                    (None, _) => ("—".into(), String::new()),
                };
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                    esc(&i.code),
                    esc(&i.label),
                    esc(&value),
                    esc(&detail)
                );
            }
            body.push_str("</tbody></table>");
        }
    }
    body.push_str("</section>");

    body.push_str("<section aria-labelledby=\"g-h\"><h2 id=\"g-h\">GEPP : postes vacants et départs prévus</h2>");
    let page = param(&q, "page");
    // A structure manager's GEPP view is their structure's (the first of their scope).
    let finess = crate::nav::structure_scopes(&ctx.identity).into_iter().next().unwrap_or_default();
    let req = hr::GetGeppViewRequest { finess, page_size: 30, page_token: page.to_owned(), ..Default::default() };
    match client.get_gepp_view(ctx.req(req)).await {
        Err(status) => body.push_str(&html::unavailable("Vue GEPP", &why(&status))),
        Ok(r) => {
            let r = r.into_inner();
            let _ = write!(
                body,
                "<p class=\"hint\">Au {}, horizon {} (départs en retraite à {} ans).</p>\
                 <table><thead><tr><th scope=\"col\">FINESS</th><th scope=\"col\">Emploi</th><th scope=\"col\">ETP autorisés</th><th scope=\"col\">ETP pourvus</th>\
                 <th scope=\"col\">ETP vacants</th><th scope=\"col\">Offres ouvertes</th><th scope=\"col\">Départs prévus (ETP)</th><th scope=\"col\">À recruter (ETP)</th></tr></thead><tbody>",
                esc(&r.as_of_date),
                esc(&r.horizon_end_date),
                r.retirement_age
            );
            for g in &r.rows {
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                    esc(&g.finess),
                    esc(&g.job),
                    html::hundredths(g.authorised_fte_hundredths.into()),
                    html::hundredths(g.filled_fte_hundredths.into()),
                    html::hundredths(g.vacant_fte_hundredths.into()),
                    g.open_vacancies,
                    html::hundredths(g.departing_fte_hundredths.into()),
                    html::hundredths(g.to_recruit_fte_hundredths.into())
                );
            }
            body.push_str("</tbody></table>");
            body.push_str(&html::pager("/ui/rh", &[("annee", &y.to_string()), ("page", page)], &r.next_page_token));
        }
    }
    body.push_str("</section>");
    ctx.page("Ressources humaines", Page::Hr, &body)
}
