// @entitle/client/react in a live React tree: react-dom/client rendering into happy-dom (a DOM without a browser)
// against the real `entitle serve` of ENTITLE_URL. Each render is reported by an effect, so the tests wait on
// renders (events), never on sleeps, for what they assert.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Window } from "happy-dom";
import { createElement as h, useEffect } from "react";

import { createClient } from "../index.js";
import { EntitlementsProvider, FeatureGate, useEntitlement } from "../react.js";
import { grant, newTenant, sleep, timeout, token, url } from "./helpers.js";

let window;
let createRoot;
let flushSync;

before(async () => {
  window = new Window({ url: "http://localhost/" });
  globalThis.window = window;
  globalThis.document = window.document;
  globalThis.navigator ??= window.navigator; // Node 20 has none
  // react-dom decides at import whether it can use a DOM: import it once the globals are there.
  ({ createRoot } = await import("react-dom/client"));
  ({ flushSync } = await import("react-dom"));
});

after(async () => {
  await window.happyDOM.close();
});

/** Renders `build(state)` into a new container; `next(predicate, ms)` resolves on the first commit after which
 * `predicate(text, entitlement)` holds (checked at once too), `entitlement` being what <Probe state> last saw. */
function mount(build) {
  const container = document.createElement("div");
  document.body.appendChild(container);
  const root = createRoot(container);
  const waiters = new Set();
  const state = { entitlement: null };
  const check = () => {
    for (const waiter of waiters) {
      if (waiter.predicate(container.textContent, state.entitlement)) {
        waiters.delete(waiter);
        waiter.resolve(container.textContent);
      }
    }
  };
  state.onCommit = (entitlement) => {
    state.entitlement = entitlement;
    queueMicrotask(check);
  };
  flushSync(() => root.render(build(state)));
  return {
    container,
    state,
    next(predicate, ms, message) {
      const arrived = new Promise((resolve) => {
        waiters.add({ predicate, resolve });
        check();
      });
      return Promise.race([arrived, timeout(ms, `${message}; rendered: ${JSON.stringify(container.textContent)}`)]);
    },
    unmount() {
      root.unmount();
      container.remove();
    },
  };
}

/** Reports useEntitlement(feature) after each commit. */
function Probe({ feature, options, state }) {
  const entitlement = useEntitlement(feature, options);
  useEffect(() => state.onCommit(entitlement));
  return h("span", null, `[${feature}:${entitlement.loading ? "loading" : entitlement.isEntitled}]`);
}

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
