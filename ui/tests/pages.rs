//! The UI router alone, with a stand-in for the gateway's authentication and
//! policy and no service running: sessions, CSRF, headers, and sections that
//! say "indisponible" instead of failing the page.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use filieris_runtime::config::InternalKey;
use filieris_runtime::error::{ApiError, ErrorCode};
use filieris_runtime::identity::{CallerKind, Identity};
use filieris_ui::{Refusal, UiConfig};
use http::{Request, StatusCode};
use tower::ServiceExt;

const TOKEN: &str = "fk_test_token";

fn admin() -> Identity {
    Identity { caller: "staff:test".into(), kind: CallerKind::Staff, roles: vec!["admin".into()], scopes: vec!["*".into()] }
}

/// A UI whose services all listen nowhere; the policy refuses the HR indicators and the missions.
fn app() -> axum::Router {
    let dead: http::Uri = "http://127.0.0.1:1".parse().expect("uri");
    let services =
        ["registry", "activity", "finance", "hr", "missions", "steering"].iter().map(|s| ((*s).to_owned(), dead.clone())).collect();
    filieris_ui::router(UiConfig {
        services,
        internal_key: InternalKey::from_hex(&"ab".repeat(32)).expect("key"),
        timeout: Duration::from_secs(2),
        authenticate: Arc::new(|headers| {
            let ok = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"));
            Box::pin(async move {
                if ok { Ok(admin()) } else { Err(ApiError::new(ErrorCode::Unauthenticated, "test", "UNAUTHENTICATED", "no")) }
            })
        }),
        authorize: Arc::new(|identity, rpc| {
            if rpc == "filieris.hr.v1.HrService/GetHrIndicators" || rpc.starts_with("filieris.missions.") {
                Err(Refusal { reason: "POLICY_DENIED".into(), message: format!("{} may not call {rpc}", identity.caller) })
            } else {
                Ok(identity.clone())
            }
        }),
        dev_sign_in: None,
    })
}

async fn send(req: Request<Body>) -> (StatusCode, http::HeaderMap, String) {
    let r = app().oneshot(req).await.expect("infallible");
    let (parts, body) = r.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 22).await.expect("body");
    (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
}

fn signed_in(path: &str) -> Request<Body> {
    Request::get(path).header("cookie", format!("filieris_session={TOKEN}; filieris_csrf=abc")).body(Body::empty()).expect("request")
}

#[tokio::test]
async fn without_a_valid_session_pages_send_to_the_sign_in_page() {
    let (status, headers, _) = send(Request::get("/ui/").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers.get("location").and_then(|v| v.to_str().ok()), Some("/ui/connexion"));
    let bad = Request::get("/ui/").header("cookie", "filieris_session=wrong; filieris_csrf=abc").body(Body::empty()).expect("request");
    assert_eq!(send(bad).await.0, StatusCode::SEE_OTHER);
    let (status, headers, html) = send(Request::get("/ui/connexion").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("lang=\"fr\"") && html.contains("<label for=\"f-cle\">"));
    let cookie = headers.get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(cookie.starts_with("filieris_csrf=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
}

#[tokio::test]
async fn a_service_that_does_not_answer_is_named_unavailable_and_the_page_renders() {
    for path in ["/ui/", "/ui/structures", "/ui/activite", "/ui/budgets", "/ui/actions"] {
        let (status, headers, html) = send(signed_in(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(html.contains("service indisponible"), "{path}: {html}");
        assert!(headers.get("content-security-policy").is_some_and(|v| v.to_str().is_ok_and(|v| v.contains("default-src 'self'"))));
        assert_eq!(headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    }
}

#[tokio::test]
async fn a_call_the_policy_refuses_never_leaves_and_is_shown_as_refused() {
    let (status, _, html) = send(signed_in("/ui/rh")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("accès refusé") && html.contains("POLICY_DENIED"), "{html}");
    // The menu follows the policy: no missions page, and its route answers 403.
    assert!(!html.contains("href=\"/ui/missions\"") && html.contains("href=\"/ui/rh\""), "{html}");
    assert_eq!(send(signed_in("/ui/missions")).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn posts_need_the_sessions_csrf_token() {
    let post = |csrf: &str| {
        Request::post("/ui/budgets/virements")
            .header("cookie", format!("filieris_session={TOKEN}; filieris_csrf=abc"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={csrf}&fonds=BNGA&annee=2023&de=A&vers=B&montant=10&date=2023-01-01&motif=x&jeton=1")))
            .expect("request")
    };
    assert_eq!(send(post("xyz")).await.0, StatusCode::FORBIDDEN);
    let (status, _, html) = send(post("abc")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Virement refusé") && html.contains("service indisponible"), "{html}");
}

#[tokio::test]
async fn assets_are_embedded() {
    let (status, headers, css) = send(Request::get("/ui/assets/app.css").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("content-type").is_some_and(|v| v.to_str().is_ok_and(|v| v.starts_with("text/css"))));
    assert!(css.contains(":focus-visible"));
    let (_, headers, _) = send(Request::get("/").body(Body::empty()).expect("request")).await;
    assert_eq!(headers.get("location").and_then(|v| v.to_str().ok()), Some("/ui/"));
}
