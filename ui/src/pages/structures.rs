//! Offre de soins: structure search and filters (registry ListStructures),
//! and a structure's page (identifiers, capacities, authorisations,
//! certifications, memberships, history, opening rates over the years).

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query};
use axum::response::Response;
use filieris_proto::activity as act;
use filieris_proto::activity::activity_service_client::ActivityServiceClient;
use filieris_proto::finance as fin;
use filieris_proto::finance::finance_results_service_client::FinanceResultsServiceClient;
use filieris_proto::registry as reg;
use filieris_proto::registry::registry_service_client::RegistryServiceClient;
use filieris_proto::types::Region;

use super::{param, region_options, short};
use crate::html::{self, esc};
use crate::nav::Page;
use crate::{Ctx, svg, why};

const CATEGORIES: &[(&str, &str)] = &[
    ("", "Toutes les catégories"),
    ("HEALTH_CENTRE", "Centre de santé"),
    ("HOSPITAL", "Hôpital"),
    ("EHPAD", "EHPAD"),
    ("INDEPENDENT_LIVING_RESIDENCE", "Résidence autonomie"),
    ("TEMPORARY_ACCOMMODATION_RESIDENCE", "Hébergement temporaire"),
    ("SSIAD", "SSIAD"),
    ("SAAD", "SAAD"),
    ("SPASAD", "SPASAD"),
    ("PHARMACY", "Pharmacie"),
    ("OPTICAL_CENTRE", "Centre d'optique"),
    ("LABORATORY", "Laboratoire"),
    ("MEDICAL_EQUIPMENT_SERVICE", "Matériel médical"),
    ("PREVENTION_CENTRE", "Centre de prévention"),
];

const STATUSES: &[(&str, &str)] = &[
    ("", "Tous les statuts"),
    ("OPEN", "Ouverte"),
    ("PROJECT", "En projet"),
    ("TEMPORARILY_CLOSED", "Fermée temporairement"),
    ("CLOSED", "Fermée"),
];

/// Years of the structure's financial results.
const RESULT_YEARS: [&str; 3] = ["2022", "2023", "2024"];

/// Years of the structure's opening-rate chart.
const RATE_YEARS: [&str; 4] = ["2018", "2022", "2023", "2024"];

fn category_label(c: i32) -> String {
    let name = reg::Category::try_from(c).map(|c| c.as_str_name()).unwrap_or("");
    let code = short(name, "CATEGORY_");
    CATEGORIES.iter().find(|(k, _)| *k == code).map(|(_, l)| (*l).to_owned()).unwrap_or(code)
}

fn status_label(s: i32) -> String {
    let name = reg::StructureStatus::try_from(s).map(|c| c.as_str_name()).unwrap_or("");
    let code = short(name, "STRUCTURE_STATUS_");
    STATUSES.iter().find(|(k, _)| *k == code).map(|(_, l)| (*l).to_owned()).unwrap_or(code)
}

pub(crate) fn region_label(r: i32) -> &'static str {
    match Region::try_from(r).unwrap_or(Region::Unspecified) {
        Region::Nord => "Nord",
        Region::Est => "Est",
        Region::Sud => "Sud",
        Region::Unspecified => "—",
    }
}

/// A filter value is kept only when it is a plain code (no quote can end the term).
fn plain(v: &str) -> Option<&str> {
    (!v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))).then_some(v)
}

fn options(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// GET /ui/structures
pub async fn list(ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Response {
    let (category, region, department, group, status, search, page) = (
        param(&q, "categorie"),
        param(&q, "region"),
        param(&q, "departement"),
        param(&q, "groupe"),
        param(&q, "statut"),
        param(&q, "q"),
        param(&q, "page"),
    );
    let mut terms = Vec::new();
    for (field, value) in [("category", category), ("region", region), ("department", department), ("group", group), ("status", status)] {
        if let Some(v) = plain(value) {
            terms.push(format!("{field} = \"{v}\""));
        }
    }
    // A scoped user's list starts from their perimeter (the registry applies the same scope to the rows it returns).
    let own = crate::nav::structure_scopes(&ctx.identity);
    let own_regions = crate::nav::region_scopes(&ctx.identity);
    for (field, values) in [("finess", &own), ("region", &own_regions)] {
        if !values.is_empty() {
            let alternatives: Vec<String> = values.iter().map(|v| format!("{field} = \"{v}\"")).collect();
            terms.push(if alternatives.len() == 1 { alternatives.join("") } else { format!("({})", alternatives.join(" OR ")) });
        }
    }
    let mut client = RegistryServiceClient::new(ctx.channel("registry"));
    let groups = client
        .list_structure_groups(ctx.req(reg::ListStructureGroupsRequest { page_size: 200, page_token: String::new() }))
        .await
        .map(|r| r.into_inner().structure_groups)
        .unwrap_or_default();
    let mut group_options = vec![(String::new(), "Tous les groupes".to_owned())];
    group_options.extend(groups.iter().map(|g| (g.code.clone(), g.display_name.clone())));
    let fields = format!(
        "{}{}{}{}{}{}",
        html::input("q", "Recherche (nom, ville, FINESS)", "search", search, ""),
        html::select("categorie", "Catégorie", &options(CATEGORIES), category),
        html::select("region", "Région", &region_options("Toutes les régions"), region),
        html::input("departement", "Département", "text", department, "size=\"4\" inputmode=\"text\""),
        html::select("groupe", "Groupe", &group_options, group),
        html::select("statut", "Statut", &options(STATUSES), status),
    );
    let mut body = html::filter_form("/ui/structures", &fields);
    let req = reg::ListStructuresRequest {
        page_size: 50,
        page_token: page.to_owned(),
        filter: terms.join(" AND "),
        search: search.to_owned(),
        as_of_date: String::new(),
    };
    match client.list_structures(ctx.req(req)).await {
        Err(status) => body.push_str(&html::unavailable("Structures", &why(&status))),
        Ok(r) => {
            let r = r.into_inner();
            let _ = write!(body, "<p class=\"summary\" data-total=\"{t}\">{} structure(s)</p>", html::int(r.total_size), t = r.total_size);
            body.push_str(
                "<table class=\"list\" id=\"structures\"><caption>Structures</caption><thead><tr><th scope=\"col\">Nom</th><th scope=\"col\">FINESS</th>\
                 <th scope=\"col\">Catégorie</th><th scope=\"col\">Région</th><th scope=\"col\">Dépt</th><th scope=\"col\">Ville</th>\
                 <th scope=\"col\">Statut</th></tr></thead><tbody>",
            );
            for s in &r.structures {
                let id = s.name.strip_prefix("structures/").unwrap_or(&s.name);
                let _ = write!(
                    body,
                    "<tr data-region=\"{rg}\"><th scope=\"row\"><a href=\"/ui/structures/{}\">{}</a></th><td>{}</td><td>{}</td><td>{rg}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    html::url(id),
                    esc(&s.display_name),
                    esc(&s.finess),
                    esc(&category_label(s.category)),
                    esc(&s.department),
                    esc(s.address.as_ref().map(|a| a.city.as_str()).unwrap_or("")),
                    esc(&status_label(s.status)),
                    rg = region_label(s.region),
                );
            }
            body.push_str("</tbody></table>");
            let params = [
                ("q", search),
                ("categorie", category),
                ("region", region),
                ("departement", department),
                ("groupe", group),
                ("statut", status),
                ("page", page),
            ];
            body.push_str(&html::pager("/ui/structures", &params, &r.next_page_token));
        }
    }
    ctx.page("Offre de soins", Page::Structures, &body)
}

/// GET /ui/structures/{id}
pub async fn detail(ctx: Ctx, Path(id): Path<String>) -> Response {
    let name = format!("structures/{id}");
    let mut client = RegistryServiceClient::new(ctx.channel("registry"));
    let structure = match client.get_structure(ctx.req(reg::GetStructureRequest { name: name.clone(), as_of_date: String::new() })).await {
        Ok(r) => match r.into_inner().structure {
            Some(s) => s,
            None => return ctx.page("Structure", Page::Structures, "<p>Structure introuvable.</p>"),
        },
        Err(status) => {
            let body =
                format!("{}<p><a href=\"/ui/structures\">← Retour à la liste</a></p>", html::unavailable("Structure", &why(&status)));
            return ctx.page("Structure", Page::Structures, &body);
        }
    };
    let s = &structure;
    let mut body = String::new();
    let address = s.address.as_ref().map(|a| format!("{}, {} {}", a.line, a.postal_code, a.city)).unwrap_or_default();
    let _ = write!(
        body,
        "<section aria-labelledby=\"id-h\"><h2 id=\"id-h\">Identification</h2><dl class=\"facts\">\
         <dt>FINESS</dt><dd data-finess>{}</dd><dt>SIRET</dt><dd>{}</dd><dt>Catégorie</dt><dd>{}</dd><dt>Région</dt><dd data-region>{}</dd>\
         <dt>Département</dt><dd>{}</dd><dt>Adresse</dt><dd>{}</dd><dt>Statut</dt><dd>{}</dd><dt>Ouverture</dt><dd>{}</dd>\
         <dt>Fermeture</dt><dd>{}</dd><dt>Entité juridique</dt><dd>{}</dd><dt>Révision</dt><dd>{}</dd></dl></section>",
        esc(if s.finess.is_empty() { "— (antenne)" } else { &s.finess }),
        esc(if s.siret.is_empty() { "—" } else { &s.siret }),
        esc(&category_label(s.category)),
        region_label(s.region),
        esc(&s.department),
        esc(&address),
        esc(&status_label(s.status)),
        esc(&s.open_date),
        esc(if s.close_date.is_empty() { "—" } else { &s.close_date }),
        esc(&s.legal_entity),
        s.revision
    );
    body.push_str("<div class=\"cols\">");
    body.push_str("<section aria-labelledby=\"cap-h\"><h2 id=\"cap-h\">Capacités</h2>");
    if s.capacities.is_empty() {
        body.push_str("<p>Aucune capacité enregistrée.</p>");
    } else {
        body.push_str("<table><thead><tr><th scope=\"col\">Discipline</th><th scope=\"col\">Unité</th><th scope=\"col\">Autorisées</th><th scope=\"col\">Installées</th></tr></thead><tbody>");
        for c in &s.capacities {
            let unit = reg::CapacityUnit::try_from(c.unit).map(|u| short(u.as_str_name(), "CAPACITY_UNIT_")).unwrap_or_default();
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&c.discipline),
                esc(&unit),
                c.authorised,
                c.installed
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section><section aria-labelledby=\"aut-h\"><h2 id=\"aut-h\">Autorisations et certifications</h2>");
    if s.authorisations.is_empty() && s.certifications.is_empty() {
        body.push_str("<p>Aucune autorisation ni certification enregistrée.</p>");
    }
    body.push_str("<ul>");
    for a in &s.authorisations {
        let _ = write!(
            body,
            "<li>{} — {} ({}), du {} au {}</li>",
            esc(&a.activity),
            esc(&a.authority),
            esc(&a.arhgos_number),
            esc(&a.valid_from),
            esc(&a.valid_to)
        );
    }
    for c in &s.certifications {
        let scheme =
            reg::CertificationScheme::try_from(c.scheme).map(|x| short(x.as_str_name(), "CERTIFICATION_SCHEME_")).unwrap_or_default();
        let _ = write!(
            body,
            "<li>Certification {} {} niveau {} (décision {})</li>",
            esc(&scheme),
            esc(&c.scheme_version),
            esc(&c.level),
            esc(&c.decision_date)
        );
    }
    body.push_str("</ul></section><section aria-labelledby=\"mem-h\"><h2 id=\"mem-h\">Appartenances</h2>");
    if s.memberships.is_empty() {
        body.push_str("<p>Aucune appartenance.</p>");
    } else {
        body.push_str("<ul>");
        for m in &s.memberships {
            let kind = reg::MembershipKind::try_from(m.kind).map(|x| short(x.as_str_name(), "MEMBERSHIP_KIND_")).unwrap_or_default();
            let _ = write!(body, "<li>{} : {} ({}) depuis {}</li>", esc(&kind), esc(&m.grouping), esc(&m.role), esc(&m.valid_from));
        }
        body.push_str("</ul>");
    }
    body.push_str("</section></div>");

    // Activity over the years (health centres with their own FINESS).
    body.push_str("<section aria-labelledby=\"act-h\"><h2 id=\"act-h\">Activité : taux d'ouverture (médecine générale)</h2>");
    if s.finess.is_empty() || s.category != reg::Category::HealthCentre as i32 {
        body.push_str("<p>Le taux d'ouverture concerne les centres de santé identifiés par un FINESS.</p>");
    } else {
        let mut activity = ActivityServiceClient::new(ctx.channel("activity"));
        let mut rows = Vec::new();
        for period in RATE_YEARS {
            let req = act::GetOpeningRateRequest {
                period: period.to_owned(),
                line: act::ActivityLine::GeneralMedicine as i32,
                scope: format!("structures/{}", s.finess),
            };
            rows.push((period, activity.get_opening_rate(ctx.req(req)).await));
        }
        let bars: Vec<(String, f64, String)> = rows
            .iter()
            .filter_map(|(p, r)| {
                r.as_ref()
                    .ok()
                    .and_then(|r| r.get_ref().patients.as_ref())
                    .map(|ratio| (p.to_string(), ratio.percent, format!("{:.1} %", ratio.percent).replace('.', ",")))
            })
            .collect();
        if !bars.is_empty() {
            body.push_str(&svg::hbars("Taux d'ouverture (patients) par année", &bars));
        }
        body.push_str("<table><thead><tr><th scope=\"col\">Année</th><th scope=\"col\">Patients (régime minier / total)</th><th scope=\"col\">Actes (régime minier / total)</th></tr></thead><tbody>");
        for (p, r) in &rows {
            match r {
                Ok(r) => {
                    let r = r.get_ref();
                    let cell = |x: &Option<act::Ratio>| {
                        x.as_ref()
                            .map(|x| {
                                format!(
                                    "{} / {} ({})",
                                    html::int(x.numerator),
                                    html::int(x.denominator),
                                    html::percent(x.numerator, x.denominator)
                                )
                            })
                            .unwrap_or_default()
                    };
                    let _ = write!(
                        body,
                        "<tr><th scope=\"row\">{p}</th><td>{}</td><td>{}</td></tr>",
                        esc(&cell(&r.patients)),
                        esc(&cell(&r.acts))
                    );
                }
                Err(status) => {
                    let _ = write!(body, "<tr><th scope=\"row\">{p}</th><td colspan=\"2\">{}</td></tr>", esc(&why(status)));
                }
            }
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");

    // Financial results over the COG years (finance QueryResults for this structure).
    if !s.finess.is_empty() {
        body.push_str("<section aria-labelledby=\"res-h\"><h2 id=\"res-h\">Résultats financiers</h2>");
        let mut results = FinanceResultsServiceClient::new(ctx.channel("finance"));
        let mut rows = String::new();
        let mut points = Vec::new();
        for year in RESULT_YEARS {
            let req = fin::QueryResultsRequest { period: year.to_owned(), scope: format!("structures/{}", s.finess), ..Default::default() };
            match results.query_results(ctx.req(req)).await {
                Ok(r) => {
                    let total = r.into_inner().total.unwrap_or_default();
                    points.push((year.to_owned(), Some(total.result_cents as f64 / 100.0)));
                    let _ = write!(
                        rows,
                        "<tr><th scope=\"row\">{year}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                        esc(&html::euros(total.produits_cents)),
                        esc(&html::euros(total.charges_cents)),
                        esc(&html::euros(total.result_cents))
                    );
                }
                Err(status) => {
                    points.push((year.to_owned(), None));
                    let _ = write!(rows, "<tr><th scope=\"row\">{year}</th><td colspan=\"3\">{}</td></tr>", esc(&why(&status)));
                }
            }
        }
        body.push_str(&svg::line("Résultat par année (euros)", &points, 420, 120));
        let _ = write!(
            body,
            "<table><thead><tr><th scope=\"col\">Année</th><th scope=\"col\">Produits</th><th scope=\"col\">Charges</th><th scope=\"col\">Résultat</th></tr></thead><tbody>{rows}</tbody></table></section>"
        );
    }

    body.push_str("<section aria-labelledby=\"rev-h\"><h2 id=\"rev-h\">Historique</h2>");
    match client
        .list_structure_revisions(ctx.req(reg::ListStructureRevisionsRequest { name, page_size: 20, page_token: String::new() }))
        .await
    {
        Ok(r) => {
            body.push_str("<table><thead><tr><th scope=\"col\">Révision</th><th scope=\"col\">Changement</th><th scope=\"col\">Effet</th><th scope=\"col\">Champs</th><th scope=\"col\">Motif</th></tr></thead><tbody>");
            for rev in r.into_inner().revisions {
                let _ = write!(
                    body,
                    "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    rev.revision,
                    esc(&rev.change_type),
                    esc(&rev.effective_date),
                    esc(&rev.changed_fields.join(", ")),
                    esc(&rev.reason)
                );
            }
            body.push_str("</tbody></table>");
        }
        Err(status) => body.push_str(&html::unavailable("Historique", &why(&status))),
    }
    body.push_str("</section><p><a href=\"/ui/structures\">← Retour à la liste</a></p>");
    ctx.page(&s.display_name, Page::Structures, &body)
}
