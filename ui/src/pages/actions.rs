//! Plan d'actions: the action calendar with its status per axis (steering
//! ListActions, GetActionCounts); users with the steering role change an
//! action's status (UpdateActionStatus) from the same page.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query};
use axum::response::Response;
use filieris_proto::steering as pb;
use filieris_proto::steering::steering_service_client::SteeringServiceClient;

use super::{param, year, year_options};
use crate::html::{self, esc};
use crate::nav::{Page, may_edit_actions};
use crate::{Ctx, form, session, svg, why};

const STATUSES: &[(&str, pb::ActionStatus, &str)] = &[
    ("A_VENIR", pb::ActionStatus::ToCome, "À venir"),
    ("EN_COURS", pb::ActionStatus::InProgress, "En cours"),
    ("REALISEE", pb::ActionStatus::Done, "Réalisée"),
];

fn status_text(s: i32) -> &'static str {
    STATUSES.iter().find(|(_, v, _)| *v as i32 == s).map(|(_, _, l)| *l).unwrap_or("—")
}

/// GET /ui/actions
pub async fn page(ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(denied) = ctx.guard(Page::Actions) {
        return denied;
    }
    render(&ctx, &q, None).await
}

/// POST /ui/actions/{code} — a new status for one action.
pub async fn update(ctx: Ctx, Path(code): Path<String>, body: String) -> Response {
    if let Some(denied) = ctx.guard(Page::Actions) {
        return denied;
    }
    let f = form(&body);
    if let Err(r) = ctx.check_csrf(&f) {
        return r;
    }
    let get = |k: &str| f.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let status = STATUSES.iter().find(|(k, _, _)| *k == get("statut")).map(|(_, v, _)| *v as i32).unwrap_or(0);
    let req = pb::UpdateActionStatusRequest {
        name: format!("actions/{code}"),
        status,
        owner: get("responsable"),
        start_date: String::new(),
        end_date: String::new(),
        comment: get("commentaire"),
        request_id: format!("ui-{}", get("jeton")),
    };
    let mut client = SteeringServiceClient::new(ctx.channel("steering"));
    let notice = match client.update_action_status(ctx.req(req)).await {
        Ok(r) => {
            let a = r.into_inner().action.unwrap_or_default();
            format!("<p class=\"notice ok\" role=\"status\">Action {} : statut « {} » enregistré.</p>", esc(&a.code), status_text(a.status))
        }
        Err(s) => format!("<p class=\"notice error\" role=\"alert\">Mise à jour refusée : {}</p>", esc(&why(&s))),
    };
    let mut q = HashMap::new();
    q.insert("axe".to_owned(), get("axe"));
    render(&ctx, &q, Some(notice)).await
}

async fn render(ctx: &Ctx, q: &HashMap<String, String>, notice: Option<String>) -> Response {
    let y = year(q, 2023);
    let axis: i32 = param(q, "axe").parse().unwrap_or(0);
    let status_code = param(q, "statut");
    let status = STATUSES.iter().find(|(k, _, _)| *k == status_code).map(|(_, v, _)| *v as i32).unwrap_or(0);
    let mut body = notice.unwrap_or_default();
    let mut client = SteeringServiceClient::new(ctx.channel("steering"));

    let counts = client.get_action_counts(ctx.req(pb::GetActionCountsRequest { year: y })).await;
    let mut axis_options = vec![(String::new(), "Tous les axes".to_owned())];
    if let Ok(c) = &counts {
        axis_options.extend(c.get_ref().axes.iter().map(|a| (a.axis.to_string(), format!("Axe {} — {}", a.axis, a.axis_label))));
    }
    let mut status_options = vec![(String::new(), "Tous les statuts".to_owned())];
    status_options.extend(STATUSES.iter().map(|(k, _, l)| ((*k).to_owned(), (*l).to_owned())));
    body.push_str(&html::filter_form(
        "/ui/actions",
        &format!(
            "{}{}{}",
            html::select("annee", "Année (décompte)", &year_options(), &y.to_string()),
            html::select("axe", "Axe", &axis_options, &if axis == 0 { String::new() } else { axis.to_string() }),
            html::select("statut", "Statut", &status_options, status_code)
        ),
    ));
    let _ = write!(body, "<section aria-labelledby=\"n-h\"><h2 id=\"n-h\">Avancement {y} par axe</h2>");
    match counts {
        Err(s) => body.push_str(&html::unavailable("Décompte", &why(&s))),
        Ok(c) => {
            let c = c.into_inner();
            let bars: Vec<(String, Vec<i64>)> = c
                .axes
                .iter()
                .map(|a| (format!("Axe {} — {}", a.axis, a.axis_label), vec![a.to_come.into(), a.in_progress.into(), a.done.into()]))
                .collect();
            body.push_str(&svg::stacked("Actions par axe et statut", &bars));
            body.push_str(
                "<ul class=\"legend\"><li><span class=\"seg-0\"></span>À venir</li><li><span class=\"seg-1\"></span>En cours</li>\
                 <li><span class=\"seg-2\"></span>Réalisées</li></ul>",
            );
            body.push_str("<table><thead><tr><th scope=\"col\">Axe</th><th scope=\"col\">Total</th><th scope=\"col\">À venir</th><th scope=\"col\">En cours</th><th scope=\"col\">Réalisées</th></tr></thead><tbody>");
            for a in c.axes.iter().chain(c.total.as_ref()) {
                let label = if a.axis == 0 { "Total".to_owned() } else { format!("Axe {} — {}", a.axis, a.axis_label) };
                let _ = write!(
                    body,
                    "<tr><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                    esc(&label),
                    a.total,
                    a.to_come,
                    a.in_progress,
                    a.done
                );
            }
            body.push_str("</tbody></table>");
        }
    }
    body.push_str("</section><section aria-labelledby=\"a-h\"><h2 id=\"a-h\">Actions</h2>");
    let editable = may_edit_actions(&ctx.identity);
    match client.list_actions(ctx.req(pb::ListActionsRequest { axis, status })).await {
        Err(s) => body.push_str(&html::unavailable("Actions", &why(&s))),
        Ok(r) => {
            let actions = r.into_inner().actions;
            let _ = write!(body, "<p class=\"summary\">{} action(s)</p>", actions.len());
            body.push_str("<table class=\"actions\"><thead><tr><th scope=\"col\">Code</th><th scope=\"col\">Action</th><th scope=\"col\">Années</th><th scope=\"col\">Statut</th><th scope=\"col\">Responsable</th>");
            if editable {
                body.push_str("<th scope=\"col\">Changer le statut</th>");
            }
            body.push_str("</tr></thead><tbody>");
            for a in &actions {
                let years = if a.whole_period {
                    "2022–2024".to_owned()
                } else {
                    a.years.iter().map(|y| y.to_string()).collect::<Vec<_>>().join(", ")
                };
                let _ = write!(
                    body,
                    "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                    esc(&a.code),
                    esc(&a.label_fr),
                    esc(&years),
                    status_text(a.status),
                    esc(&a.owner)
                );
                if editable {
                    let id = html::url(&a.code);
                    let current = STATUSES.iter().find(|(_, v, _)| *v as i32 == a.status).map(|(k, _, _)| *k).unwrap_or("");
                    let opts: Vec<(String, String)> = STATUSES.iter().map(|(k, _, l)| ((*k).to_owned(), (*l).to_owned())).collect();
                    let sel = html::select("statut", &format!("Statut de {}", a.code), &opts, current)
                        .replace("id=\"f-statut\"", &format!("id=\"s-{id}\""))
                        .replace("for=\"f-statut\"", &format!("for=\"s-{id}\""));
                    let com = format!(
                        "<label for=\"c-{id}\">Commentaire</label><input id=\"c-{id}\" name=\"commentaire\" type=\"text\" required>"
                    );
                    let _ = write!(
                        body,
                        "<td><form method=\"post\" action=\"/ui/actions/{id}\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                         <input type=\"hidden\" name=\"jeton\" value=\"{}\"><input type=\"hidden\" name=\"axe\" value=\"{}\"><input type=\"hidden\" name=\"responsable\" value=\"{}\">{sel}{com}<button type=\"submit\">Enregistrer</button></form></td>",
                        esc(&ctx.csrf),
                        session::new_csrf(),
                        if axis == 0 { String::new() } else { axis.to_string() },
                        esc(&a.owner)
                    );
                }
                body.push_str("</tr>");
            }
            body.push_str("</tbody></table>");
        }
    }
    body.push_str("</section>");
    ctx.page("Plan d'actions", Page::Actions, &body)
}
