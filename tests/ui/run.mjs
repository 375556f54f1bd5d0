// Browser test of the Filieris web UI (issue #9) in headless Chromium.
//
//   node tests/ui/run.mjs <gateway-url> <admin-api-key> <manager-api-key> <manager-finess> [--screenshots DIR]
//
// Signs in with the API key, checks that a dashboard tile shows the value the
// API gives for the same credential, filters structures by region, opens a
// structure, submits a transfer request that the fund's rule refuses and reads
// the refusal, downloads a report; then signs in as a structure manager and
// checks that only their structure is listed, and that the development
// issuer's sign-in works.
// With --screenshots, saves one 1366×768 PNG per page into DIR.
// Exit code 0 when every check passes; the first failure is printed.

import { chromium } from "playwright-core";
import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";

const [base, adminKey, managerKey, managerFiness, ...rest] = process.argv.slice(2);
if (!base || !adminKey || !managerKey || !managerFiness) {
  console.error("usage: node tests/ui/run.mjs <gateway-url> <admin-api-key> <manager-api-key> <manager-finess> [--screenshots DIR]");
  process.exit(2);
}
const shotsAt = rest.indexOf("--screenshots");
const shots = shotsAt >= 0 ? rest[shotsAt + 1] : null;
if (shots) mkdirSync(shots, { recursive: true });
const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const YEAR = 2022;
// The structure manager of the development issuer (gateway/src/auth/dev_issuer.rs).
const DEV_MANAGER = "manager-lens";

function check(condition, message) {
  if (!condition) throw new Error(message);
  console.log(`ok - ${message}`);
}

async function shot(page, name) {
  if (!shots) return;
  await page.screenshot({ path: join(shots, `${name}.png`) });
}

async function go(page, path) {
  const response = await page.goto(base + path);
  check(response && response.status() < 500, `GET ${path} answers ${response && response.status()}`);
  return response;
}

const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
try {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: "fr-FR", acceptDownloads: true });
  const page = await context.newPage();

  // Sign in with the API key.
  await page.goto(base + "/ui/");
  check(page.url().endsWith("/ui/connexion"), "an anonymous visit is sent to the sign-in page");
  await shot(page, "connexion");
  await page.fill("#f-cle", adminKey);
  await page.locator("#key-h + form button[type=submit]").click();
  await page.waitForURL(base + "/ui/");
  check((await page.textContent("h1")) === "Tableau de bord", "signed in, the dashboard opens");

  // A tile shows what the API says for the same credential.
  const api = await page.request.get(`${base}/v1/dashboard`, { headers: { authorization: `Bearer ${adminKey}` } });
  check(api.ok(), "the API answers GET /v1/dashboard");
  const tiles = (await api.json()).tiles || [];
  const tile = tiles.find((t) => (t.points || []).some((p) => p.year === YEAR && p.kind === "VALUE_KIND_VALUE"));
  check(tile, `the API has a tile with a ${YEAR} value`);
  const expected = tile.points.find((p) => p.year === YEAR).display;
  const shown = (await page.locator(`a[data-indicator="${tile.indicator}"] [data-value]`).textContent()).trim();
  check(shown === expected, `tile ${tile.indicator} shows ${JSON.stringify(shown)}, the API ${JSON.stringify(expected)}`);
  await shot(page, "tableau-de-bord");
  await page.locator(`a[data-indicator="${tile.indicator}"]`).click();
  await page.waitForLoadState();
  check((await page.content()).includes("Numérateur"), "the indicator page shows its numerator");
  await shot(page, "indicateur");

  // Structures filtered by region, then one structure's page.
  await go(page, "/ui/structures");
  await Promise.all([page.waitForURL(/region=NORD/), page.selectOption("#f-region", "NORD")]);
  const regions = await page.locator("#structures tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.region));
  check(regions.length > 0 && regions.every((r) => r === "Nord"), `filtered by region: ${regions.length} rows, all in Nord`);
  await shot(page, "offre-de-soins");
  // A health centre with its own FINESS (its page has activity figures).
  const first = page
    .locator("#structures tbody tr", { has: page.locator("td:nth-of-type(1):not(:empty)") })
    .filter({ has: page.locator("td:nth-of-type(2)", { hasText: "Centre de santé" }) })
    .locator("th a")
    .first();
  const name = (await first.textContent()).trim();
  await first.click();
  await page.waitForLoadState();
  check((await page.textContent("h1")).trim() === name, `the structure page of ${name} opens`);
  check((await page.textContent("[data-region]")).trim() === "Nord", "the structure is in Nord");
  await shot(page, "structure");

  // A transfer request the fund's rule refuses (BNGA R03: investment → personnel).
  await go(page, `/ui/budgets?fonds=BNGA&annee=2023`);
  await page.selectOption("#f-de", "A-I-3.a");
  await page.selectOption("#f-vers", "A-I-1");
  await page.fill("#f-montant", "1 000,00");
  await page.fill("#f-motif", "Test navigateur");
  await Promise.all([page.waitForURL(/virements/), page.locator("#transfer-form button[type=submit]").click()]);
  const answer = (await page.textContent("#transfer-answer")) || "";
  check(answer.includes("Virement refusé") && answer.includes("TRANSFER_FORBIDDEN"), `the rule's refusal is shown: ${answer.trim().slice(0, 120)}`);
  await shot(page, "budgets");

  for (const [path, file] of [["/ui/activite", "activite"], ["/ui/rh", "rh"], ["/ui/missions", "missions"], ["/ui/actions", "plan-d-actions"]]) {
    await go(page, path);
    await shot(page, file);
  }

  // Download a report.
  await go(page, `/ui/rapports`);
  await shot(page, "rapports");
  const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#report-form button[type=submit]").click()]);
  const saved = await download.path();
  check(download.suggestedFilename().endsWith("_report.html") && statSync(saved).size > 1000, `report downloaded: ${download.suggestedFilename()}`);

  // Sign out.
  await page.locator(".who button").click();
  await page.waitForURL(base + "/ui/connexion");
  check(true, "signed out");

  // The development issuer's sign-in.
  const dev = await (await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: "fr-FR" })).newPage();
  await dev.goto(base + "/ui/connexion");
  const option = dev.locator(`input[name=utilisateur][value="${DEV_MANAGER}"]`);
  check((await option.count()) === 1, "the development sign-in offers the structure manager");
  await option.check();
  await dev.locator("#dev-h + form button[type=submit]").click();
  await dev.waitForURL(base + "/ui/");
  check((await dev.textContent(".who")).includes(`staff:${DEV_MANAGER}`), "signed in through the development issuer");

  // A structure manager sees only their structure.
  const manager = await (await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: "fr-FR" })).newPage();
  await manager.goto(base + "/ui/connexion");
  await manager.fill("#f-cle", managerKey);
  await manager.locator("#key-h + form button[type=submit]").click();
  await manager.waitForURL(base + "/ui/");
  check((await manager.locator("[data-indicator]").count()) === 0, "the manager's dashboard shows no national COG tile");
  check((await manager.textContent("[data-own-structure]")).includes(managerFiness), "the manager's dashboard is their structure's");
  const menu = await manager.locator("header nav a").allTextContents();
  check(!menu.includes("Budgets") && !menu.includes("Missions déléguées"), `the manager's menu: ${menu.join(", ")}`);
  await manager.goto(base + "/ui/structures");
  const rows = await manager.locator("#structures tbody tr td:nth-of-type(1)").allTextContents();
  check(rows.length === 1 && rows[0].trim() === managerFiness, `the manager lists only their structure: ${rows.join(", ")}`);
  await shot(manager, "responsable-de-structure");
  await manager.goto(base + "/ui/structures?region=SUD&categorie=HOSPITAL");
  check((await manager.locator("#structures tbody tr").count()) === 0, "asking for another region's hospitals shows none");
  await manager.goto(base + "/ui/activite");
  const activity = await manager.content();
  check(!activity.includes(">National<") && activity.includes(`FINESS ${managerFiness}`), "the manager's activity page is their structure's");
  const budgets = await manager.goto(base + "/ui/budgets");
  check(budgets.status() === 403, "the budget page is refused to the manager");
  console.log("all UI checks passed");
} catch (e) {
  console.error(`not ok - ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
