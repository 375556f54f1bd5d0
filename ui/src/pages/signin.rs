//! Connexion: a development staff user (dev issuer) or a pasted API key; sign-out.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, StatusCode, Uri};

use crate::html::{esc, layout};
use crate::nav::Page;
use crate::session::{self, CSRF_COOKIE, SESSION_COOKIE};
use crate::{Ui, html_response};

fn render(ui: &Ui, csrf: &str, error: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(e) = error {
        let _ = write!(body, "<p class=\"notice error\" role=\"alert\">{}</p>", esc(e));
    }
    if let Some(dev) = &ui.dev_sign_in {
        let _ = write!(
            body,
            "<section aria-labelledby=\"dev-h\"><h2 id=\"dev-h\">Comptes de développement</h2>\
             <form method=\"post\" action=\"/ui/connexion\" class=\"stack\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <fieldset><legend>Se connecter en tant que</legend>",
            esc(csrf)
        );
        for (i, (id, label)) in dev.users.iter().enumerate() {
            let checked = if i == 0 { " checked" } else { "" };
            let _ = write!(
                body,
                "<div><input type=\"radio\" id=\"u-{i}\" name=\"utilisateur\" value=\"{}\"{checked}><label for=\"u-{i}\">{}</label></div>",
                esc(id),
                esc(label)
            );
        }
        body.push_str("</fieldset><button type=\"submit\">Se connecter</button></form></section>");
    }
    let _ = write!(
        body,
        "<section aria-labelledby=\"key-h\"><h2 id=\"key-h\">Clé d'accès</h2>\
         <form method=\"post\" action=\"/ui/connexion\" class=\"stack\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label for=\"f-cle\">Clé d'API ou jeton</label><input id=\"f-cle\" name=\"cle\" type=\"password\" autocomplete=\"off\" required>\
         <button type=\"submit\">Se connecter</button></form>\
         <p class=\"hint\">La même identité que l'API : vous ne voyez que ce que vos rôles et votre périmètre permettent.</p></section>",
        esc(csrf)
    );
    layout("Connexion", Page::SignIn, None, &body)
}

fn with_cookies(mut response: Response, cookies: &[(&str, Option<&str>)], secure: bool) -> Response {
    for (name, value) in cookies {
        if let Some(v) = session::set_cookie(name, *value, secure) {
            response.headers_mut().append(http::header::SET_COOKIE, v);
        }
    }
    response
}

/// GET /ui/connexion — sets a pre-session CSRF token so the form itself is protected.
pub async fn form(State(ui): State<Arc<Ui>>, headers: HeaderMap, uri: Uri) -> Response {
    let secure = session::is_https(&headers, &uri);
    let existing = session::cookie(&headers, CSRF_COOKIE);
    let csrf = existing.clone().unwrap_or_else(session::new_csrf);
    let response = html_response(StatusCode::OK, render(&ui, &csrf, None));
    if existing.is_some() { response } else { with_cookies(response, &[(CSRF_COOKIE, Some(&csrf))], secure) }
}

/// POST /ui/connexion — checks the credential with the gateway's authentication, then opens the session.
pub async fn submit(State(ui): State<Arc<Ui>>, headers: HeaderMap, uri: Uri, body: String) -> Response {
    let secure = session::is_https(&headers, &uri);
    let fields = crate::form(&body);
    let cookie_csrf = session::cookie(&headers, CSRF_COOKIE).unwrap_or_default();
    let fresh = session::new_csrf();
    let fail = |status: StatusCode, message: &str| {
        with_cookies(html_response(status, render(&ui, &fresh, Some(message))), &[(CSRF_COOKIE, Some(&fresh))], secure)
    };
    match fields.get("csrf") {
        Some(t) if !cookie_csrf.is_empty() && session::same_token(t, &cookie_csrf) => {}
        _ => return fail(StatusCode::FORBIDDEN, "Le formulaire a expiré : recommencez."),
    }
    let token = if let (Some(user), Some(dev)) = (fields.get("utilisateur"), &ui.dev_sign_in) {
        match (dev.token)(user) {
            Some(t) => t,
            None => return fail(StatusCode::UNAUTHORIZED, "Utilisateur de développement inconnu."),
        }
    } else {
        fields.get("cle").cloned().unwrap_or_default()
    };
    let Some(token) = session::acceptable_token(&token) else {
        return fail(StatusCode::UNAUTHORIZED, "Saisissez une clé d'accès valide.");
    };
    if let Err(e) = (ui.authenticate)(session::bearer_headers(token)).await {
        tracing::info!(reason = %e.reason, "UI sign-in refused");
        return fail(StatusCode::UNAUTHORIZED, "Clé ou jeton refusé.");
    }
    // A new CSRF token with the new session (no fixation of the pre-session one).
    with_cookies(Redirect::to("/ui/").into_response(), &[(SESSION_COOKIE, Some(token)), (CSRF_COOKIE, Some(&fresh))], secure)
}

/// POST /ui/deconnexion — clears both cookies (CSRF-checked, so no forced sign-out).
pub async fn sign_out(headers: HeaderMap, uri: Uri, body: String) -> Response {
    let secure = session::is_https(&headers, &uri);
    let fields = crate::form(&body);
    let cookie_csrf = session::cookie(&headers, CSRF_COOKIE).unwrap_or_default();
    if !fields.get("csrf").is_some_and(|t| !cookie_csrf.is_empty() && session::same_token(t, &cookie_csrf)) {
        return Redirect::to("/ui/").into_response();
    }
    with_cookies(Redirect::to("/ui/connexion").into_response(), &[(SESSION_COOKIE, None), (CSRF_COOKIE, None)], secure)
}
