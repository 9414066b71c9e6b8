// Run by clients/python/tests/test_js_client.py against a real `entitle serve` (ENTITLE_URL, ENTITLE_TOKEN):
//   node --experimental-websocket --test clients/js/test/
import assert from "node:assert/strict";
import { test } from "node:test";

import { createClient, EntitleError } from "../index.js";
import { grant, newTenant, timeout, token, url } from "./helpers.js";

test("isEntitled answers a grant and an actionable denial", async () => {
  const tenantKey = await newTenant();
  await grant(tenantKey, "reports");
  const client = createClient({ url, token });
  const allowed = await client.isEntitled("reports", { tenantKey });
  const denied = await client.isEntitled("sso", { tenantKey });
  assert.equal(allowed.isEntitled, true);
  assert.equal(allowed.isFallback, false);
  assert.equal(denied.isEntitled, false);
  assert.equal(denied.justification, "MISSING_FEATURE");
  assert.ok(denied.message);
  assert.deepEqual(denied.upgradeOptions, ["pro"]);
  const route = await client.isEntitled(null, { tenantKey, route: { method: "GET", path: "/reports/q1" } });
  assert.equal(route.isEntitled, true);
});

test("reportUsage consumes once per idempotency key and effectiveEntitlements shows it", async () => {
  const tenantKey = await newTenant();
  await grant(tenantKey, "api-calls", 5);
  const client = createClient({ url, token });
  const first = await client.reportUsage("api-calls", 2, { tenantKey, idempotencyKey: "same" });
  const repeated = await client.reportUsage("api-calls", 2, { tenantKey, idempotencyKey: "same" });
  const other = await client.reportUsage("api-calls", 2, { tenantKey });
  const refused = await client.reportUsage("api-calls", 2, { tenantKey });
  assert.equal(first.used, 2);
  assert.equal(repeated.used, 2);
  assert.equal(other.used, 4);
  assert.equal(refused.isEntitled, false);
  assert.equal(refused.justification, "LIMIT_EXCEEDED");
  const effective = await client.effectiveEntitlements({ tenantKey });
  assert.equal(effective.features["api-calls"].used, 4);
  assert.equal(effective.features["api-calls"].remaining, 1);
});

test("errors carry their code; an unreachable service falls back or fails closed", async () => {
  await assert.rejects(
    createClient({ url, token: "not-a-key" }).effectiveEntitlements({ tenantKey: "x" }),
    (error) => error instanceof EntitleError && error.code === "UNAUTHENTICATED",
  );
  const down = process.env.ENTITLE_DOWN_URL;
  const client = createClient({ url: down, token, retries: 1, fallback: { sso: true } });
  const allowed = await client.isEntitled("sso", { tenantKey: "acme" });
  const closed = await client.isEntitled("reports", { tenantKey: "acme" });
  assert.deepEqual([allowed.isEntitled, allowed.isFallback], [true, true]);
  assert.deepEqual([closed.isEntitled, closed.isFallback], [false, true]);
  await assert.rejects(client.reportUsage("api-calls", 1, { tenantKey: "acme" }), { code: "UNAVAILABLE" });
});

test("subscribe delivers a grant made through the API", async () => {
  const tenantKey = await newTenant();
  const client = createClient({ url, token });
  let ready;
  const isReady = new Promise((resolve) => (ready = resolve));
  let unsubscribe;
  const changed = new Promise((resolve, reject) => {
    unsubscribe = client.subscribe(
      { tenantKey },
      (effective, revision) => effective.features.sso && resolve({ effective, revision }),
      { onError: reject, onReady: ready },
    );
  });
  await Promise.race([isReady, changed, timeout(5000, "not subscribed within 5 s")]);
  await new Promise((resolve) => setTimeout(resolve, 200)); // the server registers it on its first await
  await grant(tenantKey, "sso");
  const { effective, revision } = await Promise.race([changed, timeout(1000, "no event within 1 s")]);
  unsubscribe();
  assert.ok(effective.features.sso);
  assert.equal(typeof revision, "string");
});

test("subscribe reports an unreachable service to onError as UNAVAILABLE", async () => {
  const client = createClient({ url: process.env.ENTITLE_DOWN_URL, token });
  let unsubscribe;
  const error = await Promise.race([
    new Promise((resolve) => (unsubscribe = client.subscribe({ tenantKey: "acme" }, () => {}, { onError: resolve }))),
    timeout(5000, "no error within 5 s"),
  ]);
  unsubscribe();
  assert.ok(error instanceof EntitleError);
  assert.equal(error.code, "UNAVAILABLE");
});
