//! The web UI end to end: the platform in-process with a small demo data set
//! and the steering indicators computed, then
//! - over plain HTTP: sign-in, CSRF, the pages of an admin and of a
//!   structure manager (runs everywhere);
//! - in headless Chromium (`tests/ui/run.mjs`, Playwright): the issue's
//!   browser scenario. Without Chromium (or node and `npm ci`) the browser
//!   test says why and returns, except in CI (`CI=true`) where it fails.
//!   `FILIERIS_UI_SCREENSHOTS=docs/ui` also writes the 1366×768 screenshots.

use std::path::{Path, PathBuf};
use std::process::Command;

use filieris_e2e::{ADMIN_KEY, Platform};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// The `Set-Cookie` values of a response, as `name=value` pairs.
fn cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect()
}

fn cookie_value(all: &[String], name: &str) -> String {
    all.iter().find_map(|c| c.strip_prefix(&format!("{name}="))).unwrap_or_default().to_owned()
}

/// Signs in through the form; returns the Cookie header of the session.
async fn sign_in(base: &str, field: &str, value: &str) -> String {
    let http = client();
    let form = http.get(format!("{base}/ui/connexion")).send().await.expect("sign-in page");
    assert_eq!(form.status(), 200);
    let pre = cookies(&form);
    let csrf = cookie_value(&pre, "filieris_csrf");
    assert_eq!(csrf.len(), 32, "a pre-session CSRF token is set");
    let body = format!("csrf={csrf}&{field}={value}");
    // Without the cookie the form is refused (double submit).
    let forged = http
        .post(format!("{base}/ui/connexion"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.clone())
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), 403);
    let r = http
        .post(format!("{base}/ui/connexion"))
        .header("cookie", format!("filieris_csrf={csrf}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 303, "signed in, redirected");
    let set = cookies(&r);
    let session = cookie_value(&set, "filieris_session");
    let new_csrf = cookie_value(&set, "filieris_csrf");
    assert!(!session.is_empty() && new_csrf != csrf, "a session and a fresh CSRF token");
    let raw: Vec<String> =
        r.headers().get_all(reqwest::header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
    assert!(raw.iter().all(|c| c.contains("HttpOnly") && c.contains("SameSite=Strict")), "{raw:?}");
    format!("filieris_session={session}; filieris_csrf={new_csrf}")
}

async fn get(base: &str, path: &str, cookie: &str) -> (u16, String) {
    let r = client().get(format!("{base}{path}")).header("cookie", cookie).send().await.expect("get");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_over_http_follow_the_users_roles_and_scope() {
    let platform = Platform::start().await.expect("platform");
    platform.seed_ui_demo().await.expect("demo data");
    let base = &platform.gateway_url;

    // Anonymous: sent to the sign-in page; a bad key is refused.
    let r = client().get(format!("{base}/ui/")).send().await.expect("get");
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers().get("location").and_then(|v| v.to_str().ok()), Some("/ui/connexion"));
    let r = client().get(format!("{base}/")).send().await.expect("get");
    assert_eq!(r.headers().get("location").and_then(|v| v.to_str().ok()), Some("/ui/"));

    let admin = sign_in(base, "cle", ADMIN_KEY).await;
    for (path, title) in [
        ("/ui/", "Tableau de bord"),
        ("/ui/structures", "Offre de soins"),
        ("/ui/activite", "Activité"),
        ("/ui/budgets", "Budgets"),
        ("/ui/rh", "Ressources humaines"),
        ("/ui/missions", "Missions déléguées"),
        ("/ui/actions", "Plan d&#39;actions"),
        ("/ui/rapports", "Rapports"),
    ] {
        let (status, html) = get(base, path, &admin).await;
        assert_eq!(status, 200, "{path}");
        assert!(html.contains("<html lang=\"fr\">"), "{path}");
        assert!(html.contains(&format!("<h1>{title}</h1>")), "{path}: {}", &html[..html.len().min(400)]);
        assert!(!html.contains("indisponible"), "{path} has an unavailable section: {html}");
    }
    let (_, dashboard) = get(base, "/ui/", &admin).await;
    assert!(dashboard.contains("data-indicator=\"indicators/"), "tiles are shown");
    // Region and structure-group filters ask the steering service for that scope.
    let (status, html) = get(base, "/ui/?annee=2022&region=NORD", &admin).await;
    assert_eq!(status, 200);
    assert!(html.contains("<strong data-scope>regions/NORD</strong>") && html.contains("data-indicator="), "{html}");
    let (status, html) = get(base, "/ui/?annee=2022&groupe=centres-de-sante", &admin).await;
    assert_eq!(status, 200);
    assert!(html.contains("<strong data-scope>structureGroups/centres-de-sante</strong>"), "{html}");

    // A POST without the session's CSRF token is refused.
    let r = client()
        .post(format!("{base}/ui/budgets/virements"))
        .header("cookie", &admin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=0000&fonds=BNGA&annee=2023&de=A-I-3.a&vers=A-I-1&montant=10&date=2023-06-15&motif=x&jeton=a")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);
    // With it, the fund's rule answers.
    let csrf = admin.rsplit("filieris_csrf=").next().unwrap_or_default().to_owned();
    let r = client()
        .post(format!("{base}/ui/budgets/virements"))
        .header("cookie", &admin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&fonds=BNGA&annee=2023&de=A-I-3.a&vers=A-I-1&montant=1000&date=2023-06-15&motif=essai&jeton=b"))
        .send()
        .await
        .expect("post");
    let html = r.text().await.unwrap_or_default();
    assert!(html.contains("Virement refusé") && html.contains("TRANSFER_FORBIDDEN"), "{html}");

    // An action's status changes from the action plan (admin holds the steering role).
    let (_, html) = get(base, "/ui/actions", &admin).await;
    let code = html.split("action=\"/ui/actions/").nth(1).and_then(|rest| rest.split('"').next()).expect("an editable action").to_owned();
    let r = client()
        .post(format!("{base}/ui/actions/{code}"))
        .header("cookie", &admin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&statut=EN_COURS&commentaire=lancement&responsable=&axe=&jeton=c"))
        .send()
        .await
        .expect("post");
    let html = r.text().await.unwrap_or_default();
    assert!(html.contains("statut « En cours » enregistré"), "{html}");

    // A report downloads.
    let r = client()
        .get(format!("{base}/ui/rapports/telecharger?annee=2022&format=annexe"))
        .header("cookie", &admin)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("content-disposition").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("indicator_annex.csv")));

    let r =
        client().get(format!("{base}/ui/rapports/telecharger?annee=2022&format=pdf")).header("cookie", &admin).send().await.expect("get");
    assert_eq!(r.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/pdf"));
    assert!(r.bytes().await.expect("pdf").starts_with(b"%PDF-"));

    // The development issuer's structure manager signs in through the UI.
    let dev_manager = sign_in(base, "utilisateur", "manager-lens").await;
    let (status, html) = get(base, "/ui/", &dev_manager).await;
    assert_eq!(status, 200);
    assert!(html.contains("staff:manager-lens") && html.contains("structure_manager"));

    // A structure manager of a demo centre: their structure only, no budget page.
    let (key, finess) = platform.structure_manager_key().await.expect("manager key");
    let manager = sign_in(base, "cle", &key).await;
    let (status, html) = get(base, "/ui/structures", &manager).await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("<tr data-region=").count(), 1, "{html}");
    assert!(html.contains(&format!("<td>{finess}</td>")));
    // Its page: identifiers, opening rates and financial results per year, read with the manager's identity.
    let href = html.split("href=\"/ui/structures/").nth(1).and_then(|rest| rest.split('"').next()).expect("a structure link").to_owned();
    let (status, html) = get(base, &format!("/ui/structures/{href}"), &manager).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("<dd data-finess>{finess}</dd>")), "{html}");
    assert!(html.contains("Résultats financiers") && html.contains("<tr><th scope=\"row\">2022</th><td class=\"num\">"), "{html}");
    assert!(!html.contains("indisponible"), "{html}");
    let (_, html) = get(base, "/ui/structures?region=SUD&categorie=HOSPITAL", &manager).await;
    assert_eq!(html.matches("<tr data-region=").count(), 0, "{html}");
    let (status, html) = get(base, "/ui/", &manager).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("data-own-structure>FINESS {finess}")) && !html.contains("data-indicator="), "{html}");
    // The policy gives a structure manager no HR call: no RH page.
    assert!(!html.contains("href=\"/ui/rh\""), "{html}");
    assert_eq!(get(base, "/ui/rh", &manager).await.0, 403);
    let (status, _) = get(base, "/ui/budgets", &manager).await;
    assert_eq!(status, 403);
    let (status, html) = get(base, "/ui/rapports/telecharger?annee=2022&format=html", &manager).await;
    assert_eq!(status, 403, "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn browser_scenario_in_headless_chromium() {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let root = repo_root();
    let missing = if !Path::new(&chromium).exists() {
        Some(format!("no Chromium at {chromium} (apt-get install -y chromium)"))
    } else if !root.join("node_modules/playwright-core").exists() {
        Some("playwright-core is not installed (npm ci)".to_owned())
    } else if Command::new("node").arg("--version").output().is_err() {
        Some("node is not installed".to_owned())
    } else {
        None
    };
    if let Some(why) = missing {
        assert!(!in_ci, "the browser test must run in CI: {why}");
        eprintln!("skipping the browser test: {why}");
        return;
    }
    let platform = Platform::start().await.expect("platform");
    platform.seed_ui_demo().await.expect("demo data");
    let mut cmd = Command::new("node");
    let (manager_key, manager_finess) = platform.structure_manager_key().await.expect("manager key");
    cmd.current_dir(&root)
        .arg("tests/ui/run.mjs")
        .arg(&platform.gateway_url)
        .arg(ADMIN_KEY)
        .arg(&manager_key)
        .arg(&manager_finess)
        .env("CHROMIUM_PATH", &chromium);
    if let Ok(dir) = std::env::var("FILIERIS_UI_SCREENSHOTS") {
        cmd.arg("--screenshots").arg(dir);
    }
    // The platform keeps serving on this runtime's threads while node runs.
    let output = tokio::task::spawn_blocking(move || cmd.output()).await.expect("join").expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(output.status.success(), "the browser scenario failed:\n{stdout}\n{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_development_user_opens_the_pages_of_their_menu() {
    let platform = Platform::start().await.expect("platform");
    let base = &platform.gateway_url;
    for user in ["head-office", "controller-nord", "manager-lens", "hr", "finance", "admin"] {
        let session = sign_in(base, "utilisateur", user).await;
        // A user the policy keeps from the dashboard is sent to their first page.
        let r = client().get(format!("{base}/ui/")).header("cookie", &session).send().await.expect("get");
        let home_path = match r.status().as_u16() {
            200 => "/ui/".to_owned(),
            303 => r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned(),
            other => panic!("{user}: /ui/ answered {other}"),
        };
        let (status, home) = get(base, &home_path, &session).await;
        assert_eq!(status, 200, "{user} {home_path}");
        let menu: Vec<String> = home.split("<li><a href=\"").skip(1).filter_map(|rest| rest.split('"').next()).map(str::to_owned).collect();
        assert!(!menu.is_empty(), "{user} has a menu");
        for path in &menu {
            let (status, html) = get(base, path, &session).await;
            assert_eq!(status, 200, "{user} {path}");
            assert!(!html.contains("indisponible"), "{user} {path}: {html}");
            let refused = html.matches("accès refusé").count();
            eprintln!("{user:16} {path:16} sections refused by the policy: {refused}");
        }
    }
}
