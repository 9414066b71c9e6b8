// The page: SSO settings only for tenants entitled to "sso", an upgrade offer otherwise, and the API calls left.
import { createElement as h } from "react";

import { FeatureGate, useEntitlement } from "@entitle/client/react";

function ApiCallsLeft() {
  const calls = useEntitlement("api-calls");
  if (!calls.isEntitled) return null;
  return h("p", { className: "quota" }, calls.unlimited ? "Unlimited API calls" : `${calls.remaining} API calls left`);
}

export function App({ tenantKey }) {
  return h(
    "main",
    null,
    h("h1", null, `Settings of ${tenantKey}`),
    h(
      FeatureGate,
      { feature: "sso", fallback: h("a", { href: "/upgrade?plan=pro" }, "Upgrade to Pro for single sign-on") },
      h("section", { id: "sso" }, "Single sign-on settings"),
    ),
    h(ApiCallsLeft),
  );
}
