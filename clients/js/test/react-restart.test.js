// <EntitlementsProvider> across a restart of the service: it keeps the last loaded entitlements while the service is
// away (saying so in `error`), subscribes again with backoff, reloads (fresh: a grant made while it was away shows),
// and follows live changes again. This test starts and restarts its own `entitle serve` (SQLite in a temp dir)
// with the Python of ENTITLE_PYTHON (set by clients/python/tests/test_js_client.py); skipped without it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { createElement as h } from "react";

import { createClient } from "../index.js";
import { EntitlementsProvider, FeatureGate, useEntitlements } from "../react.js";
import { mount, Probe, setUpDom, tearDownDom } from "./dom.js";
import { sleep } from "./helpers.js";

const python = process.env.ENTITLE_PYTHON;
const KEY = "react-restart-admin-key-0123456789";

async function freePort() {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  await once(server, "close");
  return port;
}

/** `entitle serve` on `port` with the SQLite database in `dir`, ready (GET /readyz) within 30 s. */
async function serve(dir, port) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("ENTITLE_") && !k.startsWith("PYTEST_")),
  );
  Object.assign(env, {
    DATABASE_URL: `sqlite+aiosqlite:///${join(dir, "entitle.db")}`,
    ENTITLE_BOOTSTRAP_API_KEY: KEY,
    PYTHONUNBUFFERED: "1",
  });
  const stderr = join(dir, `serve-${Date.now()}.stderr`);
  const child = spawn(python, ["-m", "entitle", "serve", "--host", "127.0.0.1", "--port", String(port)], {
    cwd: dir,
    env,
    detached: true, // its own process group, stopped whole
    stdio: ["ignore", "ignore", openSync(stderr, "w")],
  });
  const exited = once(child, "exit");
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(-child.pid, "SIGTERM");
      await exited;
    }
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`entitle serve exited:\n${readFileSync(stderr, "utf8")}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) return stop;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`entitle serve not ready in 30 s:\n${readFileSync(stderr, "utf8")}`);
    }
    await sleep(100);
  }
}

async function admin(base, query, variables = {}) {
  const response = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

const grant = (base, featureKey, value = null) =>
  admin(base, "mutation($i: CreateEntitlementInput!) { createEntitlement(input: $i) { id } }", {
    i: { tenantKey: "acme", featureKey, value, startDate: "2020-01-01T00:00:00Z" },
  });

function ErrorCode() {
  const { error } = useEntitlements();
  return error ? ` error:${error.code}` : null;
}

before(setUpDom);
after(tearDownDom);

test("the provider reconnects after the service restarts, reloads fresh, then follows changes", {
  skip: python ? false : "ENTITLE_PYTHON is not set: no entitle serve to restart",
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "entitle-react-restart-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let stop = await serve(dir, port);
  let view;
  try {
    await admin(base, 'mutation { createFeature(input: {key: "sso", name: "SSO", type: BOOLEAN}) { key } }');
    await admin(
      base,
      'mutation { createFeature(input: {key: "api-calls", name: "API calls", type: LIMIT}) { key } }',
    );
    await admin(base, 'mutation { upsertTenants(input: [{key: "acme"}]) { errors { index } } }');
    const client = createClient({ url: base, token: KEY, retries: 0 });
    view = mount((state) =>
      h(
        EntitlementsProvider,
        { client, tenantKey: "acme" },
        h(FeatureGate, { feature: "sso", fallback: "Upgrade for SSO" }, "SSO settings"),
        h(Probe, { feature: "api-calls", options: { usage: 5 }, state }),
        h(ErrorCode),
      ),
    );
    await view.next((text) => text.startsWith("Upgrade for SSO"), 5000, "not loaded within 5 s");

    // when: the service goes away, the last loaded entitlements stay, and the provider says why
    await stop();
    await view.next((text) => text.includes("error:UNAVAILABLE"), 5000, "the lost socket was not reported");
    assert.match(view.container.textContent, /^Upgrade for SSO/);

    // when: it is back (same database) and a grant is made before the provider reconnects
    stop = await serve(dir, port);
    const back = performance.now();
    await grant(base, "sso");
    // then: the provider reconnects and reloads: fresh, without the error
    await view.next(
      (text) => text.startsWith("SSO settings") && !text.includes("error:"),
      15_000,
      "not reconnected and reloaded within 15 s",
    );
    console.log(`reconnected and reloaded ${(performance.now() - back).toFixed(0)} ms after the service was back`);
    // and live changes flow again
    await sleep(200); // the server registers a subscription on its first await (as in the other tests)
    await grant(base, "api-calls", 10);
    await view.next((_text, e) => e?.isEntitled, 2000, "a grant after the reconnect did not arrive within 2 s");
  } finally {
    view?.unmount();
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
