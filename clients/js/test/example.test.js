// examples/react-page: the server-rendered page shows the upgrade offer, then the gated section after a grant.
import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";

import { createPageServer } from "../examples/react-page/server.js";
import { grant, newTenant, token, url } from "./helpers.js";

test("the React example page gates SSO settings by the tenant's entitlements", async () => {
  const tenantKey = await newTenant();
  const server = createPageServer({ url, token }).listen(0, "127.0.0.1");
  await once(server, "listening");
  const page = async () => (await fetch(`http://127.0.0.1:${server.address().port}/?tenant=${tenantKey}`)).text();
  try {
    const before = await page();
    assert.match(before, /Upgrade to Pro for single sign-on/);
    assert.doesNotMatch(before, /Single sign-on settings|API calls left/);
    await grant(tenantKey, "sso");
    await grant(tenantKey, "api-calls", 100);
    const after = await page();
    assert.match(after, /<section id="sso">Single sign-on settings<\/section>/);
    assert.match(after, /100 API calls left/);
    assert.doesNotMatch(after, /Upgrade to Pro/);
  } finally {
    server.close();
  }
});
