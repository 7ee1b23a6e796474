// Browser test of the docs UIs against a RUNNING todo-api (this script starts no server).
//
//   cd e2e && npm ci && cd .. && BASE_URL=http://127.0.0.1:8099 node --test e2e/
//
// Swagger UI (/docs): register a user through the API, Authorize with the OAuth2 password
// flow, create a todo with "Try it out" (201), list todos (200, the new title in the body).
// ReDoc (/redoc): every operation's summary from /openapi.json is shown.
// Neither page may log a console error. Screenshots: target/e2e/*.png.
//
// Environment: BASE_URL (default http://127.0.0.1:8099), CHROMIUM (default
// /usr/bin/chromium: Debian's package; playwright-core never downloads a browser),
// E2E_NO_THIRD_PARTY=1 to also fail when a page requests another origin (poem-openapi's
// ReDoc page links Google Fonts; by default such requests are stubbed and listed).
// Start the server with AUTH_RATE_LIMIT_PER_MINUTE=0 (or >= 2): register + token.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const BASE_URL = (process.env.BASE_URL ?? "http://127.0.0.1:8099").replace(/\/+$/, "");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), "..", "target", "e2e");
const TIMEOUT = 20_000;
const NO_THIRD_PARTY = process.env.E2E_NO_THIRD_PARTY === "1";

// Flags for a closed network: without the background-networking ones Chromium keeps
// trying to reach Google's hosts.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const unique = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
const EMAIL = `e2e-${unique}@example.com`;
const PASSWORD = "E2e#Passw0rd!";
const TITLE = `e2e todo ${unique}`;

let browser;

/**
 * A fresh page that records console errors, uncaught exceptions and failed requests.
 * Requests to other origins (ReDoc's template links Google Fonts) are answered locally
 * with an empty body, so the test does not depend on, or wait for, the internet; they
 * are listed in `page.offOrigin` and printed.
 */
async function newPage(name) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.problems = [];
  page.offOrigin = [];
  page.exchanges = [];
  const origin = new URL(BASE_URL).origin;
  await page.route(
    (url) => url.origin !== origin && url.protocol.startsWith("http"),
    (route) => {
      page.offOrigin.push(route.request().url());
      const type = route.request().resourceType();
      route.fulfill({ status: 200, contentType: type === "stylesheet" ? "text/css" : "text/plain", body: "" });
    },
  );
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const where = msg.location()?.url ?? "";
    if (/favicon\.ico/.test(where) || /favicon\.ico/.test(msg.text())) return;
    page.problems.push(`console error: ${msg.text()} ${where}`.trim());
  });
  page.on("pageerror", (err) => page.problems.push(`uncaught: ${err.message}`));
  page.on("requestfailed", (req) => {
    if (/favicon\.ico/.test(req.url())) return;
    page.problems.push(`request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText ?? ""}`);
  });
  // The API calls the page makes (token, Try it out), for diagnosing a failure.
  // Secrets are masked: these end up in CI logs.
  page.on("response", async (res) => {
    const req = res.request();
    if (!new URL(req.url()).pathname.startsWith("/api/")) return;
    const headers = await req.allHeaders().catch(() => ({}));
    if (headers.authorization) headers.authorization = headers.authorization.replace(/^(\S+ \S{0,12})\S*/, "$1…");
    page.exchanges.push({
      method: req.method(),
      url: req.url(),
      requestHeaders: headers,
      postData: req.postData()?.replace(/password=[^&]*/, "password=***"),
      status: res.status(),
      body: (await res.text().catch(() => ""))
        .replace(/"(access_token|refresh_token)":"[^"]*"/g, '"$1":"***"')
        .slice(0, 500),
    });
  });
  // A screenshot of the viewport, or of one element (an operation block) when given.
  page.shot = (file, element) => {
    const path = join(SHOTS, `${name}-${file}.png`);
    return element ? element.screenshot({ path }) : page.screenshot({ path });
  };
  return page;
}

function diagnose(page) {
  return JSON.stringify({ problems: page.problems, api: page.exchanges }, null, 2);
}

/** Runs `body`; on failure saves a screenshot and adds the page's API traffic to the error. */
async function step(page, label, body) {
  try {
    return await body();
  } catch (err) {
    await page.shot(`FAILED-${label}`).catch(() => {});
    err.message = `${label}: ${err.message}\n${diagnose(page)}`;
    throw err;
  }
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  for (const f of readdirSync(SHOTS)) if (/^(docs|redoc)-.*\.png$/.test(f)) rmSync(join(SHOTS, f));
  const health = await fetch(`${BASE_URL}/health/live`).catch((e) => {
    throw new Error(`no todo-api at ${BASE_URL} (GET /health/live: ${e.message}); start one and set BASE_URL`);
  });
  assert.equal(health.status, 200, `GET ${BASE_URL}/health/live`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
});

describe("Swagger UI /docs", () => {
  test("Authorize (OAuth2 password flow), create_todo and list_todos via Try it out", async () => {
    // A user of our own, registered through the API.
    const reg = await fetch(`${BASE_URL}/api/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: EMAIL, password: PASSWORD, name: "E2E" }),
    });
    assert.equal(reg.status, 201, `register: ${reg.status} ${await reg.clone().text()}`);

    const page = await newPage("docs");
    await page.goto(`${BASE_URL}/docs`);
    await page.locator(".swagger-ui .info .title").waitFor();
    await page.locator("#operations-todos-create_todo").waitFor();

    await step(page, "authorize", async () => {
      await page.locator(".swagger-ui .auth-wrapper button.authorize").click();
      const dialog = page.locator(".swagger-ui .modal-ux");
      await dialog.waitFor();
      // The oauth2 scheme's form (the dialog also holds the bearerAuth one), found by its
      // heading "oauth2 (OAuth2, password)", which stays once the inputs are replaced.
      const oauth = dialog.locator(".auth-container").filter({ hasText: "(OAuth2, password)" });
      await oauth.locator("#oauth_username").fill(EMAIL);
      await oauth.locator("#oauth_password").fill(PASSWORD);
      // Tick the declared scope(s): the inputs are hidden behind styled labels.
      for (const box of await oauth.locator(".scopes input[type=checkbox]").all()) {
        if (await box.isChecked()) continue;
        await oauth.locator(`label[for="${await box.getAttribute("id")}"]`).click();
        assert.ok(await box.isChecked(), `scope ${await box.getAttribute("data-value")} not ticked`);
      }
      const token = page.waitForResponse((r) => r.url().endsWith("/api/v1/auth/token"));
      await oauth.locator("button.authorize").click();
      const res = await token;
      assert.equal(res.status(), 200, `POST /api/v1/auth/token answered ${res.status()}`);
      // Swagger UI swaps the form for "Authorized" + a Logout button.
      await oauth.getByText("Authorized", { exact: true }).waitFor();
      await oauth.locator("button", { hasText: "Logout" }).waitFor();
      assert.equal(await oauth.locator(".errors").count(), 0, "Swagger UI shows an auth error");
      await page.shot("1-authorized");
      await dialog.locator("button.btn-done, button.close-modal").first().click();
      await dialog.waitFor({ state: "detached" });
    });

    await step(page, "create_todo", async () => {
      const op = page.locator("#operations-todos-create_todo");
      await op.locator(".opblock-summary").first().click();
      await op.locator("button.try-out__btn").click();
      // One request media type, without a charset parameter to pick.
      const types = await op.locator(".opblock-section-request-body select option").allInnerTexts();
      assert.ok(types.every((t) => t.trim() === "application/json"), `request media types: ${types}`);
      const body = op.locator("textarea.body-param__text");
      await body.fill(JSON.stringify({ title: TITLE, description: "created from Swagger UI", priority: "high" }, null, 2));
      const sent = page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith("/api/v1/todos"));
      await op.locator("button.execute").click();
      const res = await sent;
      assert.match(
        (await res.request().allHeaders()).authorization ?? "",
        /^Bearer \S+$/,
        "Try it out sent no bearer token after Authorize",
      );
      const status = op.locator(".live-responses-table .response .response-col_status").first();
      await status.waitFor();
      assert.equal((await status.innerText()).trim(), "201", "rendered status of create_todo");
      const shown = await op.locator(".live-responses-table tr.response .response-col_description").first().innerText();
      assert.ok(shown.includes(TITLE), `rendered create_todo body lacks the title:\n${shown.slice(0, 500)}`);
      await page.shot("2-create-todo", liveResponse(op));
    });

    await step(page, "list_todos", async () => {
      const op = page.locator("#operations-todos-list_todos");
      await op.locator(".opblock-summary").first().click();
      await op.locator("button.try-out__btn").click();
      const sent = page.waitForResponse(
        (r) => r.request().method() === "GET" && new URL(r.url()).pathname === "/api/v1/todos",
      );
      await op.locator("button.execute").click();
      await sent;
      const status = op.locator(".live-responses-table .response .response-col_status").first();
      await status.waitFor();
      assert.equal((await status.innerText()).trim(), "200", "rendered status of list_todos");
      // The response body's code block (response headers follow in another one).
      const bodyShown = op.locator(".live-responses-table tr.response .response-col_description .highlight-code").first();
      await bodyShown.waitFor();
      const text = await bodyShown.innerText();
      assert.ok(text.includes(TITLE), `rendered list_todos body lacks "${TITLE}":\n${text.slice(0, 800)}`);
      await page.shot("3-list-todos", liveResponse(op));
    });

    if (page.offOrigin.length) console.log(`# /docs requested other origins (stubbed): ${page.offOrigin.join(", ")}`);
    if (NO_THIRD_PARTY) assert.deepEqual(page.offOrigin, [], "/docs requested other origins");
    assert.deepEqual(page.problems, [], `console errors on /docs:\n${diagnose(page)}`);
    await page.context().close();
  });
});

describe("Swagger UI /docs Schemas panel", () => {
  test("every schema opens and shows its example as JSON (no OrderedMap/List dumps)", async () => {
    const spec = await (await fetch(`${BASE_URL}/openapi.json`)).json();
    const names = Object.keys(spec.components?.schemas ?? {});
    assert.ok(names.length > 0, "the spec has no schemas");
    const page = await newPage("schemas");
    await page.goto(`${BASE_URL}/docs`);
    await page.locator(".swagger-ui section.models").waitFor();
    const dumps = [];
    await step(page, "schemas", async () => {
      for (const name of names) {
        const model = page.locator(`.swagger-ui section.models #model-${name}`);
        await model.scrollIntoViewIfNeeded();
        await model.locator("button.model-box-control").first().click();
        await model.locator(".model-box .model").first().waitFor();
        const text = await model.innerText();
        if (/OrderedMap|\bList \[/.test(text)) dumps.push(`${name}: ${text.replace(/\s+/g, " ").slice(0, 300)}`);
      }
      await page.shot("1-schemas");
    });
    assert.deepEqual(dumps, [], "schemas whose example Swagger UI shows as an Immutable.js dump");
    // The rule behind a pattern is also said in words next to it (TodoInput.title).
    const title = page
      .locator(".swagger-ui section.models #model-TodoInput tr.property-row")
      .filter({ hasText: "title" })
      .first();
    await title.locator("button.model-box-control").click();
    const shown = await title.innerText();
    assert.match(shown, /pattern: \^/, `TodoInput.title shows no pattern:\n${shown}`);
    assert.match(shown, /Not blank .*no NUL \(U\+0000\) characters/, `TodoInput.title does not say its pattern in words:\n${shown}`);
    assert.deepEqual(page.problems, [], `console errors on /docs:\n${diagnose(page)}`);
    await page.context().close();
  });
});

describe("ReDoc /redoc", () => {
  test("every operation summary from /openapi.json is shown", async () => {
    const spec = await (await fetch(`${BASE_URL}/openapi.json`)).json();
    const methods = new Set(["get", "put", "post", "delete", "patch", "head", "options", "trace"]);
    const summaries = [];
    for (const [path, item] of Object.entries(spec.paths ?? {})) {
      for (const [method, op] of Object.entries(item)) {
        if (!methods.has(method)) continue;
        assert.ok(op.summary, `${method.toUpperCase()} ${path} (${op.operationId}) has no summary`);
        summaries.push(op.summary);
      }
    }
    assert.ok(summaries.length > 0, "the spec has no operations");

    const page = await newPage("redoc");
    await page.goto(`${BASE_URL}/redoc`);
    await step(page, "redoc", async () => {
      // ReDoc renders each operation as a heading titled by its summary.
      await page.locator(".api-content").waitFor();
      const missing = [];
      for (const summary of summaries) {
        const heading = page.locator("h2").filter({ hasText: new RegExp(`^\\s*${escapeRegExp(summary)}\\s*$`) });
        try {
          await heading.first().waitFor({ state: "visible", timeout: 5_000 });
        } catch {
          missing.push(summary);
        }
      }
      await page.shot("1-redoc");
      assert.deepEqual(missing, [], "operation summaries not shown by ReDoc");
    });
    if (page.offOrigin.length) console.log(`# /redoc requested other origins (stubbed): ${page.offOrigin.join(", ")}`);
    if (NO_THIRD_PARTY) assert.deepEqual(page.offOrigin, [], "/redoc requested other origins");
    assert.deepEqual(page.problems, [], `console errors on /redoc:\n${diagnose(page)}`);
    await page.context().close();
  });
});

/** The executed request of an operation block: curl, request URL and server response. */
function liveResponse(op) {
  return op.locator(".responses-inner > div").filter({ has: op.page().locator(".live-responses-table") }).first();
}

function escapeRegExp(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
