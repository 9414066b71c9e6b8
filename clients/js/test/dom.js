// Shared by the React tests (not a test file itself): react-dom/client rendering into happy-dom (a DOM without a
// browser), and waiting for renders. Each render is reported by an effect, so tests wait on renders (events).
import { Window } from "happy-dom";
import { createElement as h, useEffect } from "react";

import { useEntitlement } from "../react.js";
import { timeout } from "./helpers.js";

let window;
let createRoot;
let flushSync;

/** Call in before(): the DOM globals, then react-dom (it decides at import whether it can use a DOM). */
export async function setUpDom() {
  window = new Window({ url: "http://localhost/" });
  globalThis.window = window;
  globalThis.document = window.document;
  globalThis.navigator ??= window.navigator; // Node 20 has none
  ({ createRoot } = await import("react-dom/client"));
  ({ flushSync } = await import("react-dom"));
}

export async function tearDownDom() {
  await window.happyDOM.close();
}

/** Renders `build(state)` into a new container; `next(predicate, ms)` resolves on the first commit after which
 * `predicate(text, entitlement)` holds (checked at once too), `entitlement` being what <Probe state> last saw. */
export function mount(build) {
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
    rerender(next) {
      flushSync(() => root.render(next(state)));
    },
    unmount() {
      root.unmount();
      container.remove();
    },
  };
}

/** Reports useEntitlement(feature) after each commit. */
export function Probe({ feature, options, state }) {
  const entitlement = useEntitlement(feature, options);
  useEffect(() => state.onCommit(entitlement));
  return h("span", null, `[${feature}:${entitlement.loading ? "loading" : entitlement.isEntitled}]`);
}
