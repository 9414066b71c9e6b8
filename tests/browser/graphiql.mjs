// Opens Entitle's GraphiQL page in Debian's headless Chromium (never a downloaded browser) and uses it as a
// person would: checks the pre-filled Authorization example, sets the header, runs `{ viewer { kind } }`
// and reads the result from the page. Every request the page makes must stay on the server's host.
//
//   node graphiql.mjs <base url, e.g. http://127.0.0.1:8000> <api key> [screenshot.png]
//
// Prints one JSON line {ok, result, requests, offHost, errors}; exits 1 when anything is wrong.
import { chromium } from "playwright-core";

const [base, apiKey, screenshot] = process.argv.slice(2);
if (!base || !apiKey) {
  console.error("usage: node graphiql.mjs BASE_URL API_KEY [SCREENSHOT]");
  process.exit(2);
}
const origin = new URL(base).origin;
const report = { ok: false, result: null, prefilledHeaders: null, requests: [], offHost: [], errors: [] };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const context = await browser.newContext();
  // Anything not addressed to the server is recorded and refused (as it would fail with no internet).
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("data:") || new URL(url).origin === origin) {
      return route.continue();
    }
    report.offHost.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.on("request", (request) => report.requests.push(`${request.method()} ${request.url()}`));
  page.on("pageerror", (error) => report.errors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    // The schema request made with the placeholder token is refused with 401 until the user sets a key.
    if (message.type() === "error" && !/status of 401/.test(message.text())) {
      report.errors.push(`console: ${message.text()}`);
    }
  });

  await page.goto(`${base}/graphql`, { waitUntil: "load" });
  await page.waitForSelector(".graphiql-query-editor .CodeMirror", { timeout: 30_000 });
  // Polled from node with page.evaluate: waitForFunction would need 'unsafe-eval', which the page's CSP refuses.
  const until = async (fn, arg, what, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await page.evaluate(fn, arg);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const editor = (selector) => until((sel) => Boolean(document.querySelector(sel)?.CodeMirror), selector, selector);
  const headersSelector = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror";
  await editor(headersSelector);
  report.prefilledHeaders = await page.evaluate(
    (sel) => document.querySelector(sel).CodeMirror.getValue(),
    headersSelector,
  );

  // Set the header and the query as a person would edit them (through the editors), then run it.
  await page.evaluate(
    ([sel, key]) =>
      document.querySelector(sel).CodeMirror.setValue(JSON.stringify({ Authorization: `Bearer ${key}` })),
    [headersSelector, apiKey],
  );
  await page.evaluate(() =>
    document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue("{ viewer { kind } }"),
  );
  await page.click(".graphiql-execute-button");
  const text = await until(
    () => {
      const value = document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror.getValue() ?? "";
      return /"(data|errors)"/.test(value) ? value : null;
    },
    null,
    "the result pane",
  );
  report.result = JSON.parse(text);
  if (screenshot) {
    await page.screenshot({ path: screenshot });
  }
  report.ok = report.offHost.length === 0 && report.errors.length === 0;
} catch (error) {
  report.errors.push(`failed: ${error.message}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
process.exit(report.ok ? 0 : 1);
