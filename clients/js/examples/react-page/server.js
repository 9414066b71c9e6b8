// A server-rendered React page gated by Entitle (no build step):
//   ENTITLE_URL=http://127.0.0.1:8000 ENTITLE_TOKEN=<key> node server.js   then open http://127.0.0.1:3000/?tenant=acme
// Each request fetches the tenant's effective entitlements and renders the page with them (initialEntitlements),
// so the HTML is final. In the browser, the same <EntitlementsProvider> tree (hydrated) updates live.
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";

import { createClient } from "@entitle/client";
import { EntitlementsProvider } from "@entitle/client/react";
import { createElement as h } from "react";
import { renderToString } from "react-dom/server";

import { App } from "./App.js";

export function createPageServer({ url, token }) {
  const entitle = createClient({ url, token });
  return createServer(async (request, response) => {
    const tenantKey = new URL(request.url, "http://page").searchParams.get("tenant");
    if (!tenantKey) {
      response.writeHead(400, { "content-type": "text/plain" }).end("?tenant= is required");
      return;
    }
    // Fail closed: when Entitle cannot be reached, the page renders with no entitlements.
    const initialEntitlements = await entitle
      .effectiveEntitlements({ tenantKey })
      .catch(() => ({ features: {}, permissions: [] }));
    const body = renderToString(
      h(EntitlementsProvider, { client: entitle, tenantKey, initialEntitlements }, h(App, { tenantKey })),
    );
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end(`<!doctype html><html><body><div id="root">${body}</div></body></html>`);
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.PORT ?? 3000);
  createPageServer({ url: process.env.ENTITLE_URL, token: process.env.ENTITLE_TOKEN }).listen(port, "127.0.0.1");
  console.log(`http://127.0.0.1:${port}/?tenant=acme`);
}
