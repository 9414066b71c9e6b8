// @entitle/client/react rendered on the server (react-dom/server): the first render, with and without
// initialEntitlements, against the real `entitle serve` of ENTITLE_URL.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createElement as h } from "react";
import { renderToString } from "react-dom/server";

import { createClient } from "../index.js";
import { EntitlementsProvider, FeatureGate, useEntitlement } from "../react.js";
import { grant, newTenant, token, url } from "./helpers.js";

function Calls() {
  const calls = useEntitlement("api-calls", { usage: 2 });
  return h("i", null, `calls:${calls.isEntitled}:${calls.remaining}:${calls.loading}`);
}

function page(client, tenantKey, initialEntitlements) {
  return h(
    EntitlementsProvider,
    { client, tenantKey, initialEntitlements },
    h(FeatureGate, { feature: "sso", fallback: h("b", null, "upgrade"), loading: "…" }, h("b", null, "sso")),
    h(FeatureGate, { feature: "reports" }, (reports) => h("u", null, `reports:${reports.value}`)),
    h(Calls),
  );
}

test("server rendering with initialEntitlements renders the final page", async () => {
  const tenantKey = await newTenant();
  await grant(tenantKey, "reports");
  await grant(tenantKey, "api-calls", 1);
  const client = createClient({ url, token });
  const initial = await client.effectiveEntitlements({ tenantKey });
  assert.equal(
    renderToString(page(client, tenantKey, initial)),
    "<b>upgrade</b><u>reports:true</u><i>calls:false:1:false</i>",
  );
});

test("server rendering without initialEntitlements renders the loading state", () => {
  const client = createClient({ url, token });
  assert.equal(renderToString(page(client, "acme", null)), "…<i>calls:false:null:true</i>");
});

test("the hooks need a provider", () => {
  assert.throws(() => renderToString(h(Calls)), /useEntitlement must be used inside <EntitlementsProvider>/);
});
