//! Tableau de bord: the COG indicator tiles (steering GetDashboard) and an
//! indicator's detail (numerator, denominator, provenance, history by year).

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use filieris_proto::steering as pb;
use filieris_proto::steering::steering_service_client::SteeringServiceClient;

use filieris_proto::activity as act;
use filieris_proto::activity::activity_service_client::ActivityServiceClient;
use filieris_proto::registry as reg;
use filieris_proto::registry::registry_service_client::RegistryServiceClient;

use super::{param, region_options, year, year_options};
use crate::html::{self, esc};
use crate::nav::Page;
use crate::{Ctx, svg, why};

/// The COG years shown as history.
const COG_YEARS: [i32; 3] = [2022, 2023, 2024];

pub(crate) fn status_label(status: i32) -> (&'static str, &'static str) {
    match pb::Status::try_from(status).unwrap_or_default() {
        pb::Status::Met => ("Atteint", "met"),
        pb::Status::NotMet => ("Non atteint", "notmet"),
        pb::Status::OnTrack => ("En bonne voie", "ontrack"),
        pb::Status::AtRisk => ("À risque", "atrisk"),
        pb::Status::NotEvaluable => ("Non évaluable", "none"),
        pb::Status::NoTarget => ("Sans cible", "none"),
        pb::Status::Unspecified => ("—", "none"),
    }
}

fn provenance_label(p: i32) -> &'static str {
    match pb::Provenance::try_from(p).unwrap_or_default() {
        pb::Provenance::Final => "définitive",
        pb::Provenance::Provisional => "provisoire",
        pb::Provenance::NotAvailable => "non disponible",
        pb::Provenance::Manual => "saisie manuelle",
        pb::Provenance::Unspecified => "—",
    }
}

fn kind_display(kind: i32, display: &str) -> String {
    match pb::ValueKind::try_from(kind).unwrap_or_default() {
        pb::ValueKind::Value | pb::ValueKind::Text => display.to_owned(),
        pb::ValueKind::Nc => "NC".into(),
        pb::ValueKind::Nd => "ND".into(),
        pb::ValueKind::Blank | pb::ValueKind::Unspecified => "—".into(),
    }
}

fn trend_label(t: i32) -> &'static str {
    match pb::Trend::try_from(t).unwrap_or_default() {
        pb::Trend::Up => "↑ en hausse",
        pb::Trend::Down => "↓ en baisse",
        pb::Trend::Flat => "→ stable",
        pb::Trend::Unspecified => "",
    }
}

fn key_of(indicator: &str) -> &str {
    indicator.strip_prefix("indicators/").unwrap_or(indicator)
}

/// The scope asked by the filters: a structure group wins over a region.
fn scope_of(q: &HashMap<String, String>, own_region: Option<&str>) -> String {
    let plain = |v: &str| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    let region = match param(q, "region") {
        "" => own_region.unwrap_or(""),
        r => r,
    };
    let group = param(q, "groupe");
    if plain(group) {
        format!("structureGroups/{group}")
    } else if matches!(region, "NORD" | "EST" | "SUD") {
        format!("regions/{region}")
    } else {
        String::new()
    }
}

/// GET /ui/ — the tiles of the chosen year and scope, filtered by theme.
pub async fn page(ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Response {
    let y = year(&q, 2022);
    let own = crate::nav::structure_scopes(&ctx.identity);
    // The home page: a user the policy keeps from the dashboard lands on their first page.
    if own.is_empty() && ctx.guard(Page::Dashboard).is_some() {
        return match ctx.menu().first() {
            Some(first) => axum::response::Redirect::to(first.path()).into_response(),
            None => ctx.page("Tableau de bord", Page::Dashboard, "<p class=\"notice\">Aucune page n'est ouverte à votre rôle.</p>"),
        };
    }
    if !own.is_empty() {
        return structure_dashboard(&ctx, &own, y).await;
    }
    let theme = param(&q, "theme");
    // A regional controller's dashboard opens on their region.
    let own_region = crate::nav::region_scopes(&ctx.identity).into_iter().next();
    let scope = scope_of(&q, own_region.as_deref());
    let mut client = SteeringServiceClient::new(ctx.channel("steering"));
    let answer = client
        .get_dashboard(ctx.req(pb::GetDashboardRequest { cog: String::new(), as_of_time: None, scope: scope.clone(), year: 0 }))
        .await;
    let mut registry = RegistryServiceClient::new(ctx.channel("registry"));
    let groups = registry
        .list_structure_groups(ctx.req(reg::ListStructureGroupsRequest { page_size: 200, page_token: String::new() }))
        .await
        .map(|r| r.into_inner().structure_groups)
        .unwrap_or_default();
    let mut group_options = vec![(String::new(), "Aucun groupe".to_owned())];
    group_options.extend(groups.iter().map(|g| (g.code.clone(), g.display_name.clone())));
    let mut body = String::new();
    match answer {
        Err(status) => body.push_str(&html::unavailable("Indicateurs", &why(&status))),
        Ok(r) => {
            let r = r.into_inner();
            let tiles = r.tiles;
            let mut themes: Vec<String> = tiles.iter().map(|t| t.theme.clone()).filter(|t| !t.is_empty()).collect();
            themes.sort();
            themes.dedup();
            let mut theme_options = vec![(String::new(), "Tous les thèmes".to_owned())];
            theme_options.extend(themes.iter().map(|t| (t.clone(), t.clone())));
            let fields = format!(
                "{}{}{}{}",
                html::select("annee", "Année", &year_options(), &y.to_string()),
                html::select("region", "Région", &region_options("National"), param(&q, "region")),
                html::select("groupe", "Groupe de structures", &group_options, param(&q, "groupe")),
                html::select("theme", "Thème", &theme_options, theme)
            );
            body.push_str(&html::filter_form("/ui/", &fields));
            let scope_text = if r.scope.is_empty() || r.scope == "national" { "national".to_owned() } else { r.scope.clone() };
            let _ = write!(
                body,
                "<p class=\"hint\">Périmètre : <strong data-scope>{}</strong>. Cliquez sur un indicateur pour voir \
                 son numérateur, son dénominateur, sa provenance et son historique.</p>",
                esc(&scope_text)
            );
            let shown: Vec<&pb::DashboardTile> = tiles.iter().filter(|t| theme.is_empty() || t.theme == theme).collect();
            let counts = count_statuses(&shown, y);
            body.push_str(&counts);
            body.push_str("<ul class=\"tiles\">");
            for tile in shown {
                body.push_str(&tile_html(tile, y, &scope));
            }
            body.push_str("</ul>");
        }
    }
    ctx.page("Tableau de bord", Page::Dashboard, &body)
}

/// The dashboard of a user limited to some structures: the COG tiles are
/// national (and some name other establishments), so they see their own
/// structures' opening rates instead.
async fn structure_dashboard(ctx: &Ctx, own: &[String], y: i32) -> Response {
    let mut body = html::filter_form("/ui/", &html::select("annee", "Année", &year_options(), &y.to_string()));
    body.push_str(
        "<p class=\"hint\">Votre périmètre est limité à votre structure : les indicateurs de la COG, nationaux, \
         ne sont pas affichés. Voici les taux d'ouverture de votre structure.</p>",
    );
    let mut activity = ActivityServiceClient::new(ctx.channel("activity"));
    let lines = [
        (act::ActivityLine::GeneralMedicine, "Médecine générale"),
        (act::ActivityLine::Nursing, "Soins infirmiers"),
        (act::ActivityLine::Dental, "Dentaire"),
    ];
    for finess in own {
        let _ = write!(
            body,
            "<section aria-labelledby=\"s-{f}\"><h2 id=\"s-{f}\" data-own-structure>FINESS {f}</h2><ul class=\"tiles\">",
            f = esc(finess)
        );
        for (line, label) in lines {
            let req = act::GetOpeningRateRequest { period: y.to_string(), line: line as i32, scope: format!("structures/{finess}") };
            let (value, detail) = match activity.get_opening_rate(ctx.req(req)).await {
                Ok(r) => match r.into_inner().patients {
                    Some(p) if p.denominator > 0 => (
                        html::percent(p.numerator, p.denominator),
                        format!("{} patients sur {}", html::int(p.numerator), html::int(p.denominator)),
                    ),
                    _ => ("—".to_owned(), "aucun patient".to_owned()),
                },
                Err(status) => ("—".to_owned(), why(&status)),
            };
            let _ = write!(
                body,
                "<li class=\"tile s-none\"><a href=\"/ui/activite?annee={y}\"><span class=\"label\">Taux d'ouverture {y} — {label}</span>\
                 <span class=\"value\">{}</span><span class=\"target\">{}</span></a></li>",
                esc(&value),
                esc(&detail)
            );
        }
        body.push_str("</ul></section>");
    }
    ctx.page("Tableau de bord", Page::Dashboard, &body)
}

fn count_statuses(tiles: &[&pb::DashboardTile], y: i32) -> String {
    let mut counts: Vec<(&str, &str, usize)> = Vec::new();
    for t in tiles {
        let status = t.points.iter().find(|p| p.year == y).map(|p| p.status).unwrap_or(0);
        let (label, class) = status_label(status);
        match counts.iter_mut().find(|c| c.0 == label) {
            Some(c) => c.2 += 1,
            None => counts.push((label, class, 1)),
        }
    }
    let mut s = format!("<p class=\"summary\">{} indicateurs en {y} : ", tiles.len());
    let parts: Vec<String> =
        counts.iter().map(|(label, class, n)| format!("<span class=\"badge s-{class}\">{} {n}</span>", esc(label))).collect();
    s.push_str(&parts.join(" "));
    s.push_str("</p>");
    s
}

fn tile_html(tile: &pb::DashboardTile, y: i32, scope: &str) -> String {
    let point = tile.points.iter().find(|p| p.year == y);
    let (value, target, status, reason) = match point {
        Some(p) => (kind_display(p.kind, &p.display), p.target_raw.clone(), p.status, p.reason.clone()),
        None => ("—".to_owned(), String::new(), 0, String::new()),
    };
    let (status_text, class) = status_label(status);
    let points: Vec<(String, Option<f64>)> = tile
        .points
        .iter()
        .map(|p| (p.year.to_string(), if p.kind == pb::ValueKind::Value as i32 { svg::number(&p.display) } else { None }))
        .collect();
    let chart = if points.iter().filter(|p| p.1.is_some()).count() >= 2 {
        svg::line(&format!("Évolution de {}", tile.label_fr), &points, 220, 60)
    } else {
        String::new()
    };
    let key = key_of(&tile.indicator);
    format!(
        "<li class=\"tile s-{class}\"><a href=\"/ui/indicateurs/{k}?annee={y}&amp;perimetre={sc}\" data-indicator=\"{ind}\">\
         <span class=\"code\">{kd}</span><span class=\"label\">{label}</span>\
         <span class=\"value\" data-value>{value}</span><span class=\"unit\">{unit}</span>\
         <span class=\"target\">Cible {y} : {target}</span>\
         <span class=\"status\">{status_text} <span class=\"trend\">{trend}</span></span>{note}{chart}</a></li>",
        sc = html::url(scope),
        note = if reason.is_empty() { String::new() } else { format!("<span class=\"target\">{}</span>", esc(&reason)) },
        k = html::url(key),
        ind = esc(&tile.indicator),
        kd = esc(key),
        label = esc(&tile.label_fr),
        value = esc(&value),
        unit = esc(&tile.unit),
        target = if target.is_empty() { "—".to_owned() } else { esc(&target) },
        trend = trend_label(tile.trend),
    )
}

/// GET /ui/indicateurs/{key} — definition, the chosen year's value and the COG years.
pub async fn indicator(ctx: Ctx, Path(key): Path<String>, Query(q): Query<HashMap<String, String>>) -> Response {
    if !crate::nav::structure_scopes(&ctx.identity).is_empty() {
        return ctx.page("Indicateur", Page::Dashboard, "<p class=\"notice\" role=\"status\">Les indicateurs de la COG sont nationaux : ils ne sont pas ouverts à un périmètre de structure.</p>");
    }
    let y = year(&q, 2022);
    let scope = {
        let s = param(&q, "perimetre");
        let ok = s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/'));
        if ok { s.to_owned() } else { String::new() }
    };
    let name = format!("indicators/{key}");
    let mut client = SteeringServiceClient::new(ctx.channel("steering"));
    let mut body = String::new();
    let mut title = key.clone();
    match client.get_indicator_definition(ctx.req(pb::GetIndicatorDefinitionRequest { name: name.clone(), version: 0 })).await {
        Ok(r) => {
            if let Some(d) = r.into_inner().definition {
                title = format!("{} — {}", d.key, d.label_fr);
                let source = d.source.as_ref().map(|s| s.reference.clone()).unwrap_or_default();
                let _ = write!(
                    body,
                    "<section aria-labelledby=\"d-h\"><h2 id=\"d-h\">Définition</h2><dl class=\"facts\"><dt>Thème</dt><dd>{}</dd><dt>Unité</dt><dd>{}</dd><dt>Périmètre</dt><dd>{}</dd>\
                     <dt>Source</dt><dd>{}</dd><dt>Sens</dt><dd>{}</dd><dt>Version de la définition</dt><dd>{}</dd></dl></section>",
                    esc(&d.theme),
                    esc(&d.unit),
                    esc(&d.scope),
                    esc(&source),
                    if d.lower_is_better { "plus bas est mieux" } else { "plus haut est mieux" },
                    d.version
                );
            }
        }
        Err(status) => body.push_str(&html::unavailable("Définition", &why(&status))),
    }
    let mut years: Vec<i32> = COG_YEARS.to_vec();
    if !years.contains(&y) {
        years.insert(0, y);
    }
    let mut rows = Vec::new();
    for year in years {
        let answer = client
            .list_indicator_values(ctx.req(pb::ListIndicatorValuesRequest {
                year,
                as_of_time: None,
                cog: String::new(),
                scope: scope.clone(),
            }))
            .await;
        rows.push((year, answer.map(|r| r.into_inner().values.into_iter().find(|v| v.indicator == name))));
    }
    if let Some((_, Ok(Some(v)))) = rows.iter().find(|(yr, _)| *yr == y) {
        let (status_text, class) = status_label(v.status);
        let _ = write!(
            body,
            "<section aria-labelledby=\"v-h\"><h2 id=\"v-h\">Valeur {y}</h2><p class=\"big s-{class}\" data-value>{}</p>\
             <dl class=\"facts\"><dt>Numérateur</dt><dd>{}</dd><dt>Dénominateur</dt><dd>{}</dd><dt>Cible</dt><dd>{}</dd>\
             <dt>Statut</dt><dd>{}</dd><dt>Provenance</dt><dd>{}</dd><dt>Motif</dt><dd>{}</dd><dt>Calcul</dt><dd>{}</dd>\
             <dt>Enregistré par</dt><dd>{}</dd><dt>Séquence</dt><dd>{}</dd></dl></section>",
            esc(&kind_display(v.kind, &v.display)),
            html::int(v.numerator),
            v.denominator.map(html::int).unwrap_or_else(|| "—".into()),
            esc(if v.target_raw.is_empty() { "—" } else { &v.target_raw }),
            status_text,
            provenance_label(v.provenance),
            esc(if v.reason.is_empty() { "—" } else { &v.reason }),
            esc(&v.source),
            esc(&v.recorded_by),
            v.sequence
        );
    } else {
        let _ = write!(body, "<p class=\"notice\">Aucune valeur calculée pour {y}.</p>");
    }
    let _ = write!(
        body,
        "<section aria-labelledby=\"h-h\"><h2 id=\"h-h\">Historique par année — périmètre {}</h2>",
        esc(if scope.is_empty() { "national" } else { &scope })
    );
    let points: Vec<(String, Option<f64>)> = rows
        .iter()
        .filter(|(yr, _)| COG_YEARS.contains(yr))
        .map(|(yr, r)| {
            let v = match r {
                Ok(Some(v)) if v.kind == pb::ValueKind::Value as i32 => svg::number(&v.display),
                _ => None,
            };
            (yr.to_string(), v)
        })
        .collect();
    body.push_str(&svg::line(&format!("Évolution de {key}"), &points, 420, 120));
    body.push_str(
        "<table><caption>Valeurs par année</caption><thead><tr><th scope=\"col\">Année</th><th scope=\"col\">Valeur</th>\
         <th scope=\"col\">Numérateur</th><th scope=\"col\">Dénominateur</th><th scope=\"col\">Cible</th><th scope=\"col\">Statut</th>\
         <th scope=\"col\">Provenance</th></tr></thead><tbody>",
    );
    for (yr, r) in &rows {
        match r {
            Ok(Some(v)) => {
                let _ = write!(
                    body,
                    "<tr><th scope=\"row\">{yr}</th><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&kind_display(v.kind, &v.display)),
                    html::int(v.numerator),
                    v.denominator.map(html::int).unwrap_or_else(|| "—".into()),
                    esc(&v.target_raw),
                    status_label(v.status).0,
                    provenance_label(v.provenance)
                );
            }
            Ok(None) => {
                let _ = write!(body, "<tr><th scope=\"row\">{yr}</th><td colspan=\"6\">non calculé</td></tr>");
            }
            Err(status) => {
                let _ = write!(body, "<tr><th scope=\"row\">{yr}</th><td colspan=\"6\">{}</td></tr>", esc(&why(status)));
            }
        }
    }
    body.push_str("</tbody></table></section><p><a href=\"/ui/\">← Retour au tableau de bord</a></p>");
    ctx.page(&title, Page::Dashboard, &body)
}
