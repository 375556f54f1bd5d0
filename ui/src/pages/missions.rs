//! Missions déléguées: the year's figures (GetMissionsMetrics: deliverables,
//! meetings held vs required, claims), the deliverables calendar with late
//! items, the overdue deliverables and the claims with their delays.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::Query;
use axum::response::Response;
use filieris_proto::missions as mi;
use filieris_proto::missions::missions_service_client::MissionsServiceClient;

use super::{param, short, year, year_options};
use crate::html::{self, esc};
use crate::nav::Page;
use crate::{Ctx, why};

const MONTHS: [&str; 12] =
    ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"];

fn partner(p: i32) -> String {
    mi::Partner::try_from(p).map(|p| short(p.as_str_name(), "PARTNER_")).unwrap_or_default()
}

fn body_label(b: i32) -> &'static str {
    match mi::SteeringBody::try_from(b).unwrap_or_default() {
        mi::SteeringBody::CofilManga => "COFIL MANGA (CNAM)",
        mi::SteeringBody::CanssmCdcQuarterly => "Comité trimestriel CANSSM–CDC",
        mi::SteeringBody::CanssmAngdm => "Comité CANSSM–ANGDM",
        mi::SteeringBody::Unspecified => "—",
    }
}

fn deliverable_status(s: i32) -> (&'static str, &'static str) {
    match mi::DeliverableStatus::try_from(s).unwrap_or_default() {
        mi::DeliverableStatus::Expected => ("attendu", "none"),
        mi::DeliverableStatus::OnTime => ("reçu à temps", "met"),
        mi::DeliverableStatus::Late => ("reçu en retard", "atrisk"),
        mi::DeliverableStatus::Missing => ("manquant", "notmet"),
        mi::DeliverableStatus::Unspecified => ("—", "none"),
    }
}

/// GET /ui/missions
pub async fn page(ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(denied) = ctx.guard(Page::Missions) {
        return denied;
    }
    let y = year(&q, 2023);
    let mut body = html::filter_form("/ui/missions", &html::select("annee", "Année", &year_options(), &y.to_string()));
    let mut client = MissionsServiceClient::new(ctx.channel("missions"));

    let _ = write!(body, "<section aria-labelledby=\"m-h\"><h2 id=\"m-h\">Chiffres {y}</h2>");
    match client.get_missions_metrics(ctx.req(mi::GetMissionsMetricsRequest { year: y, as_of: String::new() })).await {
        Err(status) => body.push_str(&html::unavailable("Indicateurs des missions", &why(&status))),
        Ok(r) => {
            let m = r.into_inner();
            if let Some(d) = &m.deliverables {
                let _ = write!(
                    body,
                    "<ul class=\"kpis\"><li><span class=\"k\">Livrables dus</span><span class=\"v\">{}</span></li>\
                     <li><span class=\"k\">À temps</span><span class=\"v\">{}</span></li><li><span class=\"k\">En retard</span><span class=\"v\">{}</span></li>\
                     <li><span class=\"k\">Manquants</span><span class=\"v\">{}</span></li><li><span class=\"k\">Attendus</span><span class=\"v\">{}</span></li>",
                    d.due, d.on_time, d.late, d.missing, d.expected
                );
                if let Some(c) = &m.claims {
                    let _ = write!(
                        body,
                        "<li><span class=\"k\">Réclamations reçues</span><span class=\"v\">{}</span></li><li><span class=\"k\">Répondues dans le délai</span><span class=\"v\">{} / {}</span></li>\
                         <li><span class=\"k\">Ouvertes hors délai</span><span class=\"v\">{}</span></li>",
                        c.received, c.answered_within_target, c.answered, c.open_overdue
                    );
                }
                body.push_str("</ul>");
            }
            body.push_str("<table><caption>Réunions de gouvernance tenues / requises</caption><thead><tr><th scope=\"col\">Instance</th><th scope=\"col\">Tenues</th><th scope=\"col\">Requises</th><th scope=\"col\">Conformité</th></tr></thead><tbody>");
            for meeting in &m.meetings {
                let _ = write!(
                    body,
                    "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                    body_label(meeting.body),
                    meeting.held_meetings,
                    meeting.required_meetings,
                    if meeting.compliant { "conforme" } else { "<strong>non conforme</strong>" }
                );
            }
            body.push_str("</tbody></table>");
        }
    }
    body.push_str("</section>");

    body.push_str("<section aria-labelledby=\"o-h\"><h2 id=\"o-h\">Livrables en retard</h2>");
    match client
        .list_overdue_deliverables(ctx.req(mi::ListOverdueDeliverablesRequest {
            as_of: String::new(),
            page_size: 50,
            page_token: String::new(),
        }))
        .await
    {
        Err(status) => body.push_str(&html::unavailable("Livrables en retard", &why(&status))),
        Ok(r) => {
            let list = r.into_inner().deliverables;
            if list.is_empty() {
                body.push_str("<p>Aucun livrable en retard.</p>");
            } else {
                body.push_str("<table><thead><tr><th scope=\"col\">Partenaire</th><th scope=\"col\">Livrable</th><th scope=\"col\">Période</th><th scope=\"col\">Échéance</th><th scope=\"col\">Jours de retard</th></tr></thead><tbody>");
                for d in list {
                    let _ = write!(
                        body,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                        esc(&partner(d.partner)),
                        esc(&d.label),
                        esc(&d.period),
                        esc(&d.due_date),
                        d.days_late
                    );
                }
                body.push_str("</tbody></table>");
            }
        }
    }
    body.push_str("</section>");

    let _ = write!(body, "<section aria-labelledby=\"c-h\"><h2 id=\"c-h\">Calendrier des livrables {y}</h2>");
    let page = param(&q, "page");
    match client
        .list_deliverables(ctx.req(mi::ListDeliverablesRequest {
            mandate: String::new(),
            as_of: String::new(),
            due_year: y,
            page_size: 100,
            page_token: page.to_owned(),
        }))
        .await
    {
        Err(status) => body.push_str(&html::unavailable("Calendrier", &why(&status))),
        Ok(r) => {
            let r = r.into_inner();
            let mut by_month: Vec<Vec<&mi::Deliverable>> = vec![Vec::new(); 12];
            for d in &r.deliverables {
                let month = d.due_date.get(5..7).and_then(|m| m.parse::<usize>().ok()).filter(|m| (1..=12).contains(m)).unwrap_or(12);
                by_month[month - 1].push(d);
            }
            body.push_str("<div class=\"calendar\">");
            for (i, items) in by_month.iter().enumerate() {
                let _ = write!(body, "<section class=\"month\"><h3>{}</h3>", MONTHS[i]);
                if items.is_empty() {
                    body.push_str("<p class=\"hint\">—</p>");
                } else {
                    body.push_str("<ul>");
                    for d in items {
                        let (text, class) = deliverable_status(d.status);
                        let _ = write!(
                            body,
                            "<li class=\"s-{class}\"><span class=\"date\">{}</span> {} — {} <span class=\"badge s-{class}\">{text}</span></li>",
                            esc(d.due_date.get(8..10).unwrap_or("")),
                            esc(&partner(d.partner)),
                            esc(&d.label)
                        );
                    }
                    body.push_str("</ul>");
                }
                body.push_str("</section>");
            }
            body.push_str("</div>");
            body.push_str(&html::pager("/ui/missions", &[("annee", &y.to_string()), ("page", page)], &r.next_page_token));
        }
    }
    body.push_str("</section>");

    body.push_str("<section aria-labelledby=\"r-h\"><h2 id=\"r-h\">Réclamations et délais de réponse</h2>");
    match client.list_claims(ctx.req(mi::ListClaimsRequest { as_of: String::new(), page_size: 50, page_token: String::new() })).await {
        Err(status) => body.push_str(&html::unavailable("Réclamations", &why(&status))),
        Ok(r) => {
            let claims = r.into_inner().claims;
            if claims.is_empty() {
                body.push_str("<p>Aucune réclamation.</p>");
            } else {
                body.push_str("<table><thead><tr><th scope=\"col\">Partenaire</th><th scope=\"col\">Reçue le</th><th scope=\"col\">Catégorie</th><th scope=\"col\">Répondue le</th><th scope=\"col\">Délai (j)</th><th scope=\"col\">Cible (j)</th><th scope=\"col\">Dans le délai</th></tr></thead><tbody>");
                for c in claims {
                    let category =
                        mi::ClaimCategory::try_from(c.category).map(|x| short(x.as_str_name(), "CLAIM_CATEGORY_")).unwrap_or_default();
                    let _ = write!(
                        body,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                        esc(&partner(c.partner)),
                        esc(&c.received_date),
                        esc(&category),
                        esc(if c.answered_date.is_empty() { "en attente" } else { &c.answered_date }),
                        c.delay_days,
                        c.target_days,
                        if c.within_target { "oui" } else { "<strong>non</strong>" }
                    );
                }
                body.push_str("</tbody></table>");
            }
        }
    }
    body.push_str("</section>");
    ctx.page("Missions déléguées", Page::Missions, &body)
}
