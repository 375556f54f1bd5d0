//! Budgets: the lines of a fund and year with authorised, consumed and
//! available credits (finance ListBudgetLines), the transfer requests waiting
//! on their approval path (ListTransfers), and a transfer request form whose
//! answer — done, requested, or the fund rule's refusal — is shown as given.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::Query;
use axum::response::Response;
use filieris_proto::finance as fin;
use filieris_proto::finance::budget_service_client::BudgetServiceClient;
use tonic_types::StatusExt;

use super::{param, year};
use crate::html::{self, esc};
use crate::nav::Page;
use crate::{Ctx, form, session, svg, why};

const FUNDS: &[(&str, &str)] =
    &[("BNGA", "BNGA — gestion administrative"), ("BNASS", "BNASS — action sanitaire et sociale"), ("BNPPS", "BNPPS — prévention")];

/// Most lines read for a fund-year (pages of 200).
const MAX_PAGES: usize = 5;

/// The answer shown above the page after a transfer request.
enum Answer {
    Done(Box<fin::Transfer>),
    Refused { reason: String, message: String },
}

/// A French explanation of a fund rule's refusal.
fn rule_text(reason: &str) -> &'static str {
    match reason {
        "TRANSFER_FORBIDDEN" => {
            "La règle de fongibilité du fonds interdit ce virement : il faut une décision modificative (case « décision modificative »)."
        }
        "EVALUATIVE_LINE_NOT_TRANSFERABLE" => {
            "Une ligne évaluative ne fait pas l'objet de virement : seul un budget rectificatif la modifie."
        }
        "RESERVE_USE_NOT_AUTHORISED" => {
            "L'utilisation de la réserve nationale exige une autorisation des ministères datée au plus tard du virement."
        }
        "LIMITATIVE_CREDIT_EXCEEDED" => "Les crédits disponibles de la ligne d'origine sont insuffisants.",
        "YEAR_CLOSED" => "L'exercice est clôturé.",
        "FINANCE_WRITE_DENIED" => "Votre rôle ne permet pas de demander un virement.",
        "LINE_NOT_POSTABLE" => "Cette ligne est un sous-total : choisissez une ligne de détail.",
        "" => "La demande n'a pas abouti.",
        _ => "Le service des budgets a refusé la demande.",
    }
}

fn state_label(s: i32) -> &'static str {
    match fin::TransferState::try_from(s).unwrap_or_default() {
        fin::TransferState::Done => "effectué",
        fin::TransferState::Requested => "demandé (en attente du vote du conseil)",
        fin::TransferState::Voted => "voté (en attente de l'approbation des ministères)",
        fin::TransferState::Approved => "approuvé",
        fin::TransferState::Rejected => "rejeté",
        fin::TransferState::Unspecified => "—",
    }
}

/// The approval path of a transfer with its current step marked.
fn approval_path(state: i32) -> String {
    let steps = [
        ("Demande", fin::TransferState::Requested),
        ("Vote du conseil", fin::TransferState::Voted),
        ("Approbation des ministères", fin::TransferState::Approved),
    ];
    let mut s = String::from("<ol class=\"path\">");
    for (label, step) in steps {
        let current = if state == step as i32 { " aria-current=\"step\" class=\"current\"" } else { "" };
        let _ = write!(s, "<li{current}>{label}</li>");
    }
    s.push_str("</ol>");
    s
}

/// Euros typed by a user ("1 234,50", "1234.5") as cents.
pub(crate) fn parse_euros(text: &str) -> Option<i64> {
    let t: String = text.chars().filter(|c| !c.is_whitespace() && *c != '\u{202f}' && *c != '€').collect();
    let t = t.replace(',', ".");
    let (units, frac) = t.split_once('.').unwrap_or((&t, ""));
    if units.is_empty() || !units.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let units: i64 = units.parse().ok()?;
    let frac: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().ok()? };
    units.checked_mul(100)?.checked_add(frac)
}

fn fund_of(code: &str) -> &'static str {
    FUNDS.iter().find(|(c, _)| *c == code).map(|(c, _)| *c).unwrap_or("BNGA")
}

/// GET /ui/budgets
pub async fn page(ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(denied) = ctx.guard(Page::Budgets) {
        return denied;
    }
    render(&ctx, fund_of(param(&q, "fonds")), year(&q, 2023), None, &HashMap::new()).await
}

/// POST /ui/budgets/virements — a transfer request; the rule's answer is shown on the page.
pub async fn transfer(ctx: Ctx, body: String) -> Response {
    if let Some(denied) = ctx.guard(Page::Budgets) {
        return denied;
    }
    let f = form(&body);
    if let Err(r) = ctx.check_csrf(&f) {
        return r;
    }
    let get = |k: &str| f.get(k).map(|s| s.trim().to_owned()).unwrap_or_default();
    let fund = fund_of(&get("fonds"));
    let y = year(&f, 2023);
    let answer = match parse_euros(&get("montant")) {
        None | Some(0) => {
            Answer::Refused { reason: "AMOUNT".into(), message: "Saisissez un montant positif en euros (par exemple 1 000,00).".into() }
        }
        Some(amount_cents) => {
            let req = fin::CreateTransferRequest {
                parent: format!("funds/{fund}/years/{y}"),
                from_line: get("de"),
                to_line: get("vers"),
                amount_cents,
                transfer_date: get("date"),
                reason: get("motif"),
                amending_decision: f.contains_key("modificative"),
                ministries_authorisation: None,
                // One submission, one request: a double click replays instead of transferring twice.
                request_id: format!("ui-{}", get("jeton")),
            };
            let mut client = BudgetServiceClient::new(ctx.channel("finance"));
            match client.create_transfer(ctx.req(req)).await {
                Ok(r) => match r.into_inner().transfer {
                    Some(t) => Answer::Done(Box::new(t)),
                    None => Answer::Refused { reason: String::new(), message: "réponse vide du service".into() },
                },
                Err(status) => {
                    let reason = status.get_details_error_info().map(|i| i.reason).unwrap_or_default();
                    // The rule's own words when it answered; otherwise why the call failed.
                    let mut message = if reason.is_empty() { why(&status) } else { status.message().to_owned() };
                    if let Some(bad) = status.get_details_bad_request() {
                        for v in bad.field_violations {
                            let _ = write!(message, " ; {} : {}", v.field, v.description);
                        }
                    }
                    Answer::Refused { reason, message }
                }
            }
        }
    };
    render(&ctx, fund, y, Some(answer), &f).await
}

async fn render(ctx: &Ctx, fund: &str, y: i32, answer: Option<Answer>, previous: &HashMap<String, String>) -> Response {
    let mut body = String::new();
    match &answer {
        Some(Answer::Done(t)) => {
            let _ = write!(
                body,
                "<div class=\"notice ok\" role=\"status\" id=\"transfer-answer\"><p><strong>Virement {}</strong> : {} de {} vers {} (règle {}).</p>{}</div>",
                esc(state_label(t.state)),
                esc(&html::euros(t.amount_cents)),
                esc(&t.from_line),
                esc(&t.to_line),
                esc(if t.rule.is_empty() { "—" } else { &t.rule }),
                if t.state == fin::TransferState::Requested as i32 { approval_path(t.state) } else { String::new() }
            );
        }
        Some(Answer::Refused { reason, message }) => {
            let _ = write!(
                body,
                "<div class=\"notice error\" role=\"alert\" id=\"transfer-answer\"><p><strong>Virement refusé</strong> : {}</p>\
                 <p class=\"detail\">Réponse du service : {} <code>{}</code></p></div>",
                esc(rule_text(reason)),
                esc(message),
                esc(reason)
            );
        }
        None => {}
    }
    let fund_options: Vec<(String, String)> = FUNDS.iter().map(|(c, l)| ((*c).to_owned(), (*l).to_owned())).collect();
    let years: Vec<(String, String)> = [2022, 2023, 2024].iter().map(|y| (y.to_string(), y.to_string())).collect();
    body.push_str(&html::filter_form(
        "/ui/budgets",
        &format!("{}{}", html::select("fonds", "Fonds", &fund_options, fund), html::select("annee", "Exercice", &years, &y.to_string())),
    ));
    let parent = format!("funds/{fund}/years/{y}");
    let mut client = BudgetServiceClient::new(ctx.channel("finance"));
    let mut lines = Vec::new();
    let mut token = String::new();
    let mut failure = None;
    for _ in 0..MAX_PAGES {
        match client
            .list_budget_lines(ctx.req(fin::ListBudgetLinesRequest { parent: parent.clone(), page_size: 200, page_token: token.clone() }))
            .await
        {
            Ok(r) => {
                let r = r.into_inner();
                lines.extend(r.lines);
                token = r.next_page_token;
                if token.is_empty() {
                    break;
                }
            }
            Err(status) => {
                failure = Some(why(&status));
                break;
            }
        }
    }
    // The request form: detail lines only (a subtotal is not postable).
    let postable: Vec<(String, String)> = lines
        .iter()
        .filter(|l| l.nature != fin::LineNature::Subtotal as i32)
        .map(|l| (l.code.clone(), format!("{} — {}", l.code, l.label)))
        .collect();
    if failure.is_none() && !postable.is_empty() {
        let prev = |k: &str| previous.get(k).cloned().unwrap_or_default();
        let from = if prev("de").is_empty() { postable[0].0.clone() } else { prev("de") };
        let to = if prev("vers").is_empty() { postable.get(1).map(|p| p.0.clone()).unwrap_or_default() } else { prev("vers") };
        let date = if prev("date").is_empty() { format!("{y}-06-15") } else { prev("date") };
        let _ = write!(
            body,
            "<section aria-labelledby=\"f-h\"><h2 id=\"f-h\">Demander un virement</h2>\
             <form method=\"post\" action=\"/ui/budgets/virements\" class=\"grid\" id=\"transfer-form\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"jeton\" value=\"{jeton}\">\
             <input type=\"hidden\" name=\"fonds\" value=\"{fund}\"><input type=\"hidden\" name=\"annee\" value=\"{y}\">\
             <div>{from}</div><div>{to}</div><div>{amount}</div><div>{date}</div><div class=\"wide\">{reason}</div>\
             <div class=\"check\"><input type=\"checkbox\" id=\"f-modificative\" name=\"modificative\" value=\"1\"><label for=\"f-modificative\">Décision modificative (vote du conseil puis approbation des ministères)</label></div>\
             <div><button type=\"submit\">Envoyer la demande</button></div></form>\
             <p class=\"hint\">La règle du fonds répond aussitôt : virement effectué, demande enregistrée pour approbation, ou refus motivé.</p></section>",
            csrf = esc(&ctx.csrf),
            jeton = session::new_csrf(),
            from = html::select("de", "Ligne d'origine", &postable, &from),
            to = html::select("vers", "Ligne de destination", &postable, &to),
            amount = html::input("montant", "Montant (€)", "text", &prev("montant"), "inputmode=\"decimal\" required"),
            date = html::input("date", "Date du virement", "date", &date, "required"),
            reason = html::input("motif", "Motif", "text", &prev("motif"), "required"),
        );
    }
    let _ = write!(body, "<section aria-labelledby=\"l-h\"><h2 id=\"l-h\">Lignes {fund} {y}</h2>");
    if let Some(f) = &failure {
        body.push_str(&html::unavailable("Lignes budgétaires", f));
    } else {
        body.push_str(
            "<table id=\"budget-lines\"><thead><tr><th scope=\"col\">Ligne</th><th scope=\"col\">Libellé</th><th scope=\"col\">Nature</th>\
             <th scope=\"col\">Autorisé</th><th scope=\"col\">Consommé</th><th scope=\"col\">Disponible</th><th scope=\"col\">Consommation</th></tr></thead><tbody>",
        );
        for l in &lines {
            let p = l.position.unwrap_or_default();
            let consumed = p.executed_cents + p.committed_cents;
            let nature = match fin::LineNature::try_from(l.nature).unwrap_or_default() {
                fin::LineNature::Limitative => "limitative",
                fin::LineNature::Evaluative => "évaluative",
                fin::LineNature::Reserve => "réserve",
                fin::LineNature::Subtotal => "sous-total",
                fin::LineNature::Unspecified => "—",
            };
            let class = if l.nature == fin::LineNature::Subtotal as i32 { " class=\"subtotal\"" } else { "" };
            let _ = write!(
                body,
                "<tr{class}><th scope=\"row\">{}</th><td>{}</td><td class=\"nowrap\">{nature}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"nowrap\">{} {}</td></tr>",
                esc(&l.code),
                esc(&l.label),
                esc(&html::euros(p.authorised_cents)),
                esc(&html::euros(consumed)),
                esc(&html::euros(p.available_cents)),
                svg::budget_bar(
                    &format!("{} : {} consommés sur {}", l.code, html::euros(consumed), html::euros(p.authorised_cents)),
                    p.authorised_cents,
                    consumed
                ),
                html::percent(consumed, p.authorised_cents)
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");

    body.push_str("<section aria-labelledby=\"t-h\"><h2 id=\"t-h\">Demandes de virement en attente</h2>");
    match client
        .list_transfers(ctx.req(fin::ListTransfersRequest { parent: parent.clone(), page_size: 200, page_token: String::new() }))
        .await
    {
        Err(status) => body.push_str(&html::unavailable("Virements", &why(&status))),
        Ok(r) => {
            let pending: Vec<fin::Transfer> = r
                .into_inner()
                .transfers
                .into_iter()
                .filter(|t| t.state == fin::TransferState::Requested as i32 || t.state == fin::TransferState::Voted as i32)
                .collect();
            if pending.is_empty() {
                body.push_str("<p>Aucune demande en attente.</p>");
            } else {
                body.push_str("<table><thead><tr><th scope=\"col\">Date</th><th scope=\"col\">De</th><th scope=\"col\">Vers</th><th scope=\"col\">Montant</th><th scope=\"col\">Motif</th><th scope=\"col\">Circuit d'approbation</th></tr></thead><tbody>");
                for t in pending {
                    let _ = write!(
                        body,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                        esc(&t.transfer_date),
                        esc(&t.from_line),
                        esc(&t.to_line),
                        esc(&html::euros(t.amount_cents)),
                        esc(&t.reason),
                        approval_path(t.state)
                    );
                }
                body.push_str("</tbody></table>");
            }
        }
    }
    body.push_str("</section>");

    ctx.page("Budgets", Page::Budgets, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euros_typed_by_users() {
        assert_eq!(parse_euros("1 234,50"), Some(123_450));
        assert_eq!(parse_euros("1234.5"), Some(123_450));
        assert_eq!(parse_euros("10 €"), Some(1000));
        assert_eq!(parse_euros("1,234"), None);
        assert_eq!(parse_euros("-5"), None);
        assert_eq!(parse_euros(""), None);
        assert_eq!(parse_euros("abc"), None);
    }
}
