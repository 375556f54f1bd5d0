//! The internal web UI (issue #9): server-rendered French pages under `/ui/`,
//! mounted by the gateway on its own port.
//!
//! A request is authenticated by the gateway's own function ([`Authenticate`],
//! given by the gateway at mount time, so API and UI accept the same
//! credentials) from the session cookie turned into `Authorization: Bearer …`.
//! Every datum is then read from the services over gRPC WITH THE USER'S
//! IDENTITY, signed with the internal key: the services' role checks and row
//! scoping decide what the user sees, never the UI. A section whose service
//! does not answer says so ("indisponible") and the rest of the page renders.
//!
//! Charts are inline SVG built here ([`svg`]); the only script
//! (`assets/app.js`) submits filter forms when a select changes. No asset
//! comes from the internet.

pub mod html;
pub mod nav;
mod pages;
pub mod session;
pub mod svg;
mod upstream;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use filieris_runtime::config::InternalKey;
use filieris_runtime::error::ApiError;
use filieris_runtime::identity::Identity;
use http::{HeaderMap, HeaderValue, StatusCode};
use tonic::transport::{Channel, Endpoint};

/// What the gateway's authentication returns for a set of request headers.
pub type AuthFuture = Pin<Box<dyn Future<Output = Result<Identity, ApiError>> + Send>>;
/// The gateway's authentication function (the same one the API uses).
pub type Authenticate = Arc<dyn Fn(HeaderMap) -> AuthFuture + Send + Sync>;

/// Why the gateway's policy refuses a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Stable reason, e.g. `POLICY_DENIED`.
    pub reason: String,
    /// Readable explanation.
    pub message: String,
}

/// The gateway's policy: for a user and an RPC (`package.Service/Method`),
/// the identity to forward (with the service roles it grants) or a refusal.
pub type Authorize = Arc<dyn Fn(&Identity, &str) -> Result<Identity, Refusal> + Send + Sync>;

/// Issues a bearer token for a development user id (the dev issuer's signer).
pub type DevToken = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A development user offered on the sign-in page, and how to get their token.
#[derive(Clone)]
pub struct DevSignIn {
    /// (user id given to `token`, label shown).
    pub users: Vec<(String, String)>,
    /// Issues a bearer token for a development user id.
    pub token: DevToken,
}

/// What the gateway gives the UI.
#[derive(Clone)]
pub struct UiConfig {
    /// Service name (`registry`, `activity`, `finance`, `hr`, `missions`, `steering`) → gRPC URL.
    pub services: Vec<(String, http::Uri)>,
    /// The internal key that signs the forwarded identity.
    pub internal_key: InternalKey,
    /// Deadline of every service call.
    pub timeout: Duration,
    /// The gateway's authentication.
    pub authenticate: Authenticate,
    /// The gateway's authorisation policy.
    pub authorize: Authorize,
    /// Development sign-in (dev issuer), when the gateway runs one.
    pub dev_sign_in: Option<DevSignIn>,
}

/// Shared state of the UI.
pub(crate) struct Ui {
    key: InternalKey,
    timeout: Duration,
    authenticate: Authenticate,
    authorize: Authorize,
    dev_sign_in: Option<DevSignIn>,
    channels: HashMap<String, Channel>,
    /// Service URLs, for the report job's own client.
    #[cfg_attr(not(feature = "report"), allow(dead_code))]
    urls: HashMap<String, String>,
}

impl Ui {
    fn new(config: UiConfig) -> Self {
        let mut channels = HashMap::new();
        let mut urls = HashMap::new();
        for (name, uri) in config.services {
            let channel = Endpoint::from(uri.clone()).connect_timeout(Duration::from_secs(2)).connect_lazy();
            channels.insert(name.clone(), channel);
            urls.insert(name, uri.to_string().trim_end_matches('/').to_owned());
        }
        Self {
            key: config.internal_key,
            timeout: config.timeout,
            authenticate: config.authenticate,
            authorize: config.authorize,
            dev_sign_in: config.dev_sign_in,
            channels,
            urls,
        }
    }

    /// The channel to a service; a service the gateway was not configured
    /// with gets a channel that fails (its sections show "indisponible").
    pub(crate) fn channel(&self, service: &str) -> Channel {
        self.channels
            .get(service)
            .cloned()
            .unwrap_or_else(|| Endpoint::from_static("http://127.0.0.1:1").connect_timeout(Duration::from_millis(100)).connect_lazy())
    }
}

/// A signed-in request: who, and the CSRF token of the session.
pub(crate) struct Ctx {
    pub identity: Identity,
    pub csrf: String,
    pub ui: Arc<Ui>,
}

impl Ctx {
    /// A request with the deadline (the identity is signed on by [`upstream::Upstream`]).
    pub fn req<T>(&self, message: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(message);
        req.set_timeout(self.ui.timeout);
        req
    }

    /// The channel to a service, acting for this user through the gateway's policy.
    pub fn channel(&self, service: &str) -> upstream::Upstream {
        upstream::Upstream {
            inner: self.ui.channel(service),
            identity: self.identity.clone(),
            key: self.ui.key.clone(),
            authorize: self.ui.authorize.clone(),
        }
    }

    /// A 403 page when the user's roles do not open `page` (the menu hides it too).
    pub fn guard(&self, page: nav::Page) -> Option<Response> {
        if nav::allowed(&self.identity, page, &self.ui.authorize) {
            return None;
        }
        let body = "<p class=\"notice error\" role=\"alert\">Votre rôle ne donne pas accès à cette page.</p>";
        Some(html_response(StatusCode::FORBIDDEN, html::layout(page.label(), page, Some((&self.identity, &self.csrf, &self.menu())), body)))
    }

    /// The pages of the user's menu.
    pub fn menu(&self) -> Vec<nav::Page> {
        nav::PAGES.iter().copied().filter(|p| nav::allowed(&self.identity, *p, &self.ui.authorize)).collect()
    }

    /// The page layout for this user.
    pub fn page(&self, title: &str, current: nav::Page, body: &str) -> Response {
        html_response(StatusCode::OK, html::layout(title, current, Some((&self.identity, &self.csrf, &self.menu())), body))
    }

    /// Checks a POST form's CSRF token against the session's.
    pub fn check_csrf(&self, form: &HashMap<String, String>) -> Result<(), Response> {
        match form.get("csrf") {
            Some(t) if session::same_token(t, &self.csrf) => Ok(()),
            _ => Err(html_response(
                StatusCode::FORBIDDEN,
                html::layout(
                    "Requête refusée",
                    nav::Page::SignIn,
                    Some((&self.identity, &self.csrf, &self.menu())),
                    "<p class=\"notice error\" role=\"alert\">Le formulaire a expiré ou ne vient pas de Filieris. Rechargez la page et recommencez.</p>",
                ),
            )),
        }
    }
}

impl FromRequestParts<Arc<Ui>> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut http::request::Parts, ui: &Arc<Ui>) -> Result<Self, Self::Rejection> {
        let to_sign_in = || Redirect::to("/ui/connexion").into_response();
        let token = session::cookie(&parts.headers, session::SESSION_COOKIE).ok_or_else(to_sign_in)?;
        let csrf = session::cookie(&parts.headers, session::CSRF_COOKIE).ok_or_else(to_sign_in)?;
        match (ui.authenticate)(session::bearer_headers(&token)).await {
            Ok(identity) => Ok(Ctx { identity, csrf, ui: ui.clone() }),
            Err(err) => {
                tracing::info!(reason = %err.reason, "UI session refused");
                Err(to_sign_in())
            }
        }
    }
}

/// An HTML response that is never cached and never framed.
pub(crate) fn html_response(status: StatusCode, body: String) -> Response {
    (status, [(http::header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], body).into_response()
}

/// Security headers of every UI response.
async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(http::header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(http::header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !h.contains_key(http::header::CACHE_CONTROL) {
        h.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A service error in French, for the section that could not be shown.
pub(crate) fn why(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    let reason = status.get_details_error_info().map(|i| i.reason).unwrap_or_default();
    let detail = if reason.is_empty() { status.message().to_owned() } else { format!("{} ({reason})", status.message()) };
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => "service indisponible".to_owned(),
        tonic::Code::PermissionDenied => format!("accès refusé — {detail}"),
        tonic::Code::Unauthenticated => "session refusée par le service".to_owned(),
        tonic::Code::NotFound => format!("introuvable — {detail}"),
        _ => detail,
    }
}

/// Parses a urlencoded form body (last value of a repeated name wins).
pub(crate) fn form(body: &str) -> HashMap<String, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(body).unwrap_or_default().into_iter().collect()
}

/// The UI routes (`/`, `/ui`, `/ui/…`), for any state type of the router they join.
pub fn router<S: Clone + Send + Sync + 'static>(config: UiConfig) -> Router<S> {
    let ui = Arc::new(Ui::new(config));
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/assets/app.css", get(pages::assets::css))
        .route("/ui/assets/app.js", get(pages::assets::js))
        .route("/ui/connexion", get(pages::signin::form).post(pages::signin::submit))
        .route("/ui/deconnexion", post(pages::signin::sign_out))
        .route("/ui/", get(pages::dashboard::page))
        .route("/ui/indicateurs/{key}", get(pages::dashboard::indicator))
        .route("/ui/structures", get(pages::structures::list))
        .route("/ui/structures/{id}", get(pages::structures::detail))
        .route("/ui/activite", get(pages::activity::page))
        .route("/ui/budgets", get(pages::budgets::page))
        .route("/ui/budgets/virements", post(pages::budgets::transfer))
        .route("/ui/rh", get(pages::hr::page))
        .route("/ui/missions", get(pages::missions::page))
        .route("/ui/actions", get(pages::actions::page))
        .route("/ui/actions/{code}", post(pages::actions::update))
        .route("/ui/rapports", get(pages::reports::page))
        .route("/ui/rapports/telecharger", get(pages::reports::download))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(ui)
}
