// @entitle/client/react in a live React tree (react-dom/client over happy-dom, see dom.js) against the real
// `entitle serve` of ENTITLE_URL. The tests wait on renders (events), never on sleeps, for what they assert.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { createElement as h } from "react";

import { createClient } from "../index.js";
import { EntitlementsProvider, FeatureGate } from "../react.js";
import { mount, Probe, setUpDom, tearDownDom } from "./dom.js";
import { grant, newTenant, sleep, token, url } from "./helpers.js";

before(setUpDom);
after(tearDownDom);

function page(client, tenantKey, extra = {}) {
  return (state) =>
    h(
      EntitlementsProvider,
      { client, tenantKey, ...extra },
      h(FeatureGate, { feature: "sso", fallback: "Upgrade for SSO", loading: "Loading" }, "SSO settings"),
      h(Probe, { feature: "api-calls", options: { usage: 5 }, state }),
    );
}

test("FeatureGate shows the fallback, then flips live when a grant is made through the API", async () => {
  const tenantKey = await newTenant();
  const client = createClient({ url, token });
  const view = mount(page(client, tenantKey));
  try {
    assert.match(view.container.textContent, /^Loading/);
    await view.next((text) => text.startsWith("Upgrade for SSO"), 5000, "not loaded within 5 s");
    assert.equal(view.state.entitlement.isEntitled, false);
    // The server registers a subscription on its first await after `subscribe` (no acknowledgement exists):
    // give it that moment, as the client tests do, then write.
    await sleep(200);
    await grant(tenantKey, "sso");
    const written = performance.now();
    await view.next((text) => text.startsWith("SSO settings"), 2000, "the gate did not flip within 2 s");
    console.log(`grant to re-render: ${(performance.now() - written).toFixed(1)} ms after the write's response`);
  } finally {
    view.unmount();
  }
});

test("useEntitlement answers value, remaining and usage, updated by a later grant", async () => {
  const tenantKey = await newTenant();
  await grant(tenantKey, "api-calls", 3);
  const client = createClient({ url, token });
  const view = mount(page(client, tenantKey));
  try {
    const loaded = (_text, e) => e && !e.loading;
    await view.next(loaded, 5000, "not loaded within 5 s");
    const first = view.state.entitlement;
    assert.deepEqual([first.isEntitled, first.limit, first.remaining, first.isFallback], [false, 3, 3, false]);
    await sleep(200); // the server's subscription registration, as above
    await grant(tenantKey, "api-calls", 10); // the most generous LIMIT wins: 10, so 5 more units fit
    await view.next((_text, e) => e?.isEntitled, 2000, "usage: 5 did not fit within 2 s");
    assert.deepEqual([view.state.entitlement.limit, view.state.entitlement.remaining], [10, 10]);
  } finally {
    view.unmount();
  }
});

test("another subject: its own entitlements, never the previous subject's", async () => {
  const [entitled, other] = [await newTenant(), await newTenant()];
  await grant(entitled, "sso");
  const client = createClient({ url, token });
  const view = mount(page(client, entitled));
  try {
    await view.next((text) => text.startsWith("SSO settings"), 5000, "not loaded within 5 s");
    view.rerender(page(client, other));
    assert.match(view.container.textContent, /^Loading/);
    await view.next((text) => text.startsWith("Upgrade for SSO"), 5000, "the other subject not loaded within 5 s");
  } finally {
    view.unmount();
  }
});

test("an unreachable service: the provider's fallback, else refused (fail closed)", async () => {
  const client = createClient({ url: process.env.ENTITLE_DOWN_URL, token, retries: 0 });
  const view = mount(page(client, "acme", { fallback: { sso: true } }));
  try {
    await view.next((_text, e) => e && !e.loading, 5000, "no answer within 5 s");
    assert.match(view.container.textContent, /^SSO settings/); // sso: the provider's fallback
    const calls = view.state.entitlement; // api-calls: no fallback, refused
    assert.deepEqual([calls.isEntitled, calls.isFallback], [false, true]);
  } finally {
    view.unmount();
  }
});
