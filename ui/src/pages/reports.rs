//! Rapports: the COG execution report of a year (HTML, PDF, CSV), generated
//! on demand by the steering crate exactly as the report job does
//! (`filieris_steering::report`: same client, same renderer, same bytes).
//!
//! The job reads with its own identity (national data), so the page offers
//! the report only to users whose scope is national (`*`) and whose role
//! opens the page: a structure manager or a regional controller never
//! downloads national figures through it.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use filieris_steering::report::{self, Period, ReportClient, ReportData, ReportUrls, data};
use http::{HeaderValue, StatusCode};

use super::{param, year};
use crate::Ctx;
use crate::html::{self, esc};
use crate::nav::{Page, scoped};

/// (format code, label, file suffix, content type).
const FORMATS: &[(&str, &str, &str, &str)] = &[
    ("html", "Rapport HTML", "_report.html", "text/html; charset=utf-8"),
    ("pdf", "Rapport PDF", "_report.pdf", "application/pdf"),
    ("annexe", "Annexe des indicateurs (CSV)", "_indicator_annex.csv", "text/csv; charset=utf-8"),
    ("actions", "Décompte des actions (CSV)", "_action_counts.csv", "text/csv; charset=utf-8"),
    ("budget", "Exécution budgétaire (CSV)", "_budget_execution.csv", "text/csv; charset=utf-8"),
];

const SCOPED: &str = "<p class=\"notice\" role=\"status\">Le rapport d'exécution porte sur des données nationales : \
    il est réservé aux comptes de périmètre national.</p>";

/// GET /ui/rapports
pub async fn page(ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(denied) = ctx.guard(Page::Reports) {
        return denied;
    }
    let y = year(&q, 2022);
    let years: Vec<(String, String)> = [2022, 2023, 2024].iter().map(|y| (y.to_string(), y.to_string())).collect();
    if scoped(&ctx.identity) {
        return ctx.page("Rapports", Page::Reports, SCOPED);
    }
    let mut body = String::from(
        "<p>Le rapport d'exécution de la COG est produit à la demande, comme par la commande <code>filieris-steering report</code> : \
         indicateurs calculés, plan d'actions, exécution budgétaire, missions déléguées et taux d'ouverture (données nationales).",
    );
    let mut formats = String::from("<fieldset><legend>Format</legend>");
    for (i, (code, label, _, _)) in FORMATS.iter().enumerate() {
        let checked = if i == 0 { " checked" } else { "" };
        let _ = write!(
            formats,
            "<div><input type=\"radio\" id=\"fmt-{code}\" name=\"format\" value=\"{code}\"{checked}><label for=\"fmt-{code}\">{}</label></div>",
            esc(label)
        );
    }
    formats.push_str("</fieldset>");
    let _ = write!(
        body,
        "<form method=\"get\" action=\"/ui/rapports/telecharger\" class=\"stack\" id=\"report-form\">{}{formats}<button type=\"submit\">Télécharger</button></form>",
        html::select("annee", "Année", &years, &y.to_string())
    );
    ctx.page("Rapports", Page::Reports, &body)
}

async fn generate(ctx: &Ctx, y: i32) -> anyhow::Result<report::Rendered> {
    let url = |name: &str| ctx.ui.urls.get(name).cloned().unwrap_or_default();
    let urls = ReportUrls { steering: url("steering"), finance: url("finance"), activity: url("activity"), missions: url("missions") };
    let client = ReportClient::new(&urls, ctx.ui.key.clone())?;
    let period = Period::Year(y);
    let as_of = chrono::Utc::now();
    let (definitions, values) = client.indicators(y, as_of).await?;
    let counts = client.action_counts(y).await?;
    let budget = client.budget(y).await;
    let missions = client.missions(y, data::missions_day(period, as_of)).await;
    let (monthly_asks, region_asks) = data::opening_rate_asks(period);
    let monthly = client.opening_rates(&monthly_asks).await;
    let regions = client.opening_rates(&region_asks).await;
    let data = ReportData { period, as_of, definitions, values, counts, budget, missions, monthly, regions };
    Ok(report::render(&data))
}

/// GET /ui/rapports/telecharger?annee=2022&format=html
pub async fn download(ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(denied) = ctx.guard(Page::Reports) {
        return denied;
    }
    if scoped(&ctx.identity) {
        return ctx.page("Rapports", Page::Reports, SCOPED);
    }
    let y = year(&q, 2022);
    let Some((_, _, suffix, content_type)) = FORMATS.iter().find(|(c, ..)| *c == param(&q, "format")).copied() else {
        return ctx.page("Rapports", Page::Reports, "<p class=\"notice error\" role=\"alert\">Format inconnu.</p>");
    };
    let rendered = match generate(&ctx, y).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "UI report generation failed");
            let body = format!(
                "{}<p><a href=\"/ui/rapports\">← Rapports</a></p>",
                html::unavailable("Rapport", "service de pilotage indisponible")
            );
            let mut r = ctx.page("Rapports", Page::Reports, &body);
            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            return r;
        }
    };
    let Some((name, content)) = rendered.files.into_iter().find(|(n, _)| n.ends_with(suffix)) else {
        return ctx.page("Rapports", Page::Reports, "<p class=\"notice error\" role=\"alert\">Ce format n'est pas produit.</p>");
    };
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).unwrap_or(HeaderValue::from_static("attachment"));
    ([(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type)), (http::header::CONTENT_DISPOSITION, disposition)], content)
        .into_response()
}
