// @entitle/client: a small client for the Entitle GraphQL API (ESM, no dependencies).
// Uses the global fetch and, for subscribe(), the global WebSocket (browsers, Node >= 22, or Node 20 with
// --experimental-websocket), or the implementation given as `WebSocket` in the options.

const DECISION = `isEntitled justification value limit unlimited used remaining resetsAt overage warning expiresAt
  message upgradeOptions { key }`;
const EFFECTIVE = `permissions features { feature { key } value limit unlimited used remaining expiresAt }`;

const IS_ENTITLED = `query EntitleJsCheck($t: String, $u: String, $f: String, $p: String, $r: RouteInput, $n: Int,
    $m: String) {
  isEntitledTo(tenantKey: $t, userKey: $u, featureKey: $f, permissionKey: $p, route: $r, usage: $n,
    minRevision: $m) { ${DECISION} }
}`;
const EFFECTIVE_QUERY = `query EntitleJsEffective($t: String, $u: String, $m: String) {
  effectiveEntitlements(tenantKey: $t, userKey: $u, minRevision: $m) { ${EFFECTIVE} }
}`;
const REPORT_USAGE = `mutation EntitleJsReport($input: ReportUsageInput!) { reportUsage(input: $input) { ${DECISION} } }`;
const CHANGED = `subscription EntitleJsChanges($t: String, $u: String) {
  entitlementsChanged(tenantKey: $t, userKey: $u) { revision effective { ${EFFECTIVE} } }
}`;

/** An error answered by the service (`code` is its `extensions.code`) or `UNAVAILABLE` when it cannot be reached. */
export class EntitleError extends Error {
  constructor(message, code, errors = []) {
    super(message);
    this.name = "EntitleError";
    this.code = code;
    this.errors = errors;
  }
}

function toDecision(data, isFallback = false) {
  return {
    isEntitled: Boolean(data.isEntitled),
    justification: data.justification ?? null,
    value: data.value ?? null,
    limit: data.limit ?? null,
    unlimited: Boolean(data.unlimited),
    used: data.used ?? null,
    remaining: data.remaining ?? null,
    resetsAt: data.resetsAt ?? null,
    warning: data.warning ?? null,
    expiresAt: data.expiresAt ?? null,
    message: data.message ?? null,
    upgradeOptions: (data.upgradeOptions ?? []).map((plan) => plan.key),
    isFallback,
  };
}

function toEffective(data) {
  const features = {};
  for (const item of data.features ?? []) {
    features[item.feature.key] = {
      key: item.feature.key,
      value: item.value ?? null,
      limit: item.limit ?? null,
      unlimited: Boolean(item.unlimited),
      used: item.used ?? null,
      remaining: item.remaining ?? null,
      expiresAt: item.expiresAt ?? null,
    };
  }
  return { features, permissions: data.permissions ?? [] };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * createClient({ url, token, fallback?, retries?, fetch?, WebSocket? })
 * `url` is the service (`http://host:8000`) or its `/graphql` endpoint.
 */
export function createClient(options) {
  const base = options.url.replace(/\/+$/, "");
  const url = base.endsWith("/graphql") ? base : `${base}/graphql`;
  const retries = options.retries ?? 3;
  const fallback = options.fallback ?? {};
  const doFetch = options.fetch ?? globalThis.fetch;
  const client = { lastRevision: null };

  async function execute(query, variables, field) {
    for (let attempt = 0; ; attempt++) {
      let response;
      try {
        response = await doFetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            accept: "application/json",
            authorization: `Bearer ${options.token}`,
          },
          body: JSON.stringify({ query, variables }),
        });
      } catch (error) {
        // a network error: retried with backoff (100, 200, 400 ms), then UNAVAILABLE
        if (attempt >= retries) {
          throw new EntitleError(`the Entitle service cannot be reached: ${error.message}`, "UNAVAILABLE");
        }
        await sleep(100 * 2 ** attempt);
        continue;
      }
      if (response.status >= 500) {
        throw new EntitleError(`the Entitle service answered HTTP ${response.status}`, "UNAVAILABLE");
      }
      const body = await response.json();
      if (body.errors?.length) {
        const first = body.errors[0];
        throw new EntitleError(first.message, first.extensions?.code ?? "INTERNAL", body.errors);
      }
      if (typeof body.extensions?.revision === "string") client.lastRevision = body.extensions.revision;
      return body.data[field];
    }
  }

  function fallbackDecision(featureKey) {
    if (featureKey != null && Object.hasOwn(fallback, featureKey)) {
      const value = fallback[featureKey];
      return { ...toDecision({ isEntitled: Boolean(value), value }), isFallback: true };
    }
    return toDecision({ isEntitled: false, message: "Access cannot be checked right now." }, true);
  }

  /** isEntitled(featureKey | null, { tenantKey, userKey, permissionKey, route: {method, path}, usage, minRevision }) */
  client.isEntitled = async (featureKey, subject = {}) => {
    const variables = {
      t: subject.tenantKey ?? null,
      u: subject.userKey ?? null,
      f: featureKey ?? null,
      p: subject.permissionKey ?? null,
      r: subject.route ?? null,
      n: subject.usage ?? null,
      m: subject.minRevision ?? null,
    };
    try {
      return toDecision(await execute(IS_ENTITLED, variables, "isEntitledTo"));
    } catch (error) {
      if (error instanceof EntitleError && error.code === "UNAVAILABLE") return fallbackDecision(featureKey);
      throw error;
    }
  };

  client.effectiveEntitlements = async (subject = {}) => {
    const variables = { t: subject.tenantKey ?? null, u: subject.userKey ?? null, m: subject.minRevision ?? null };
    return toEffective(await execute(EFFECTIVE_QUERY, variables, "effectiveEntitlements"));
  };

  /** reportUsage(featureKey, amount, { tenantKey, userKey, idempotencyKey }): the key (made when not given) is
   * the same on every retry, so a report whose answer was lost is counted once. */
  client.reportUsage = async (featureKey, amount = 1, subject = {}) => {
    const input = {
      featureKey,
      amount,
      tenantKey: subject.tenantKey ?? null,
      userKey: subject.userKey ?? null,
      idempotencyKey: subject.idempotencyKey ?? globalThis.crypto.randomUUID(),
    };
    return toDecision(await execute(REPORT_USAGE, { input }, "reportUsage"));
  };

  /** subscribe({ tenantKey, userKey }, onChange) → unsubscribe(). `onChange(effective, revision)` runs after each
   * change of the subject's entitlements (graphql-transport-ws); `options.onError` gets errors. */
  client.subscribe = (subject, onChange, subscribeOptions = {}) => {
    const WebSocketImpl = options.WebSocket ?? globalThis.WebSocket;
    if (!WebSocketImpl) {
      throw new EntitleError("no WebSocket implementation: pass createClient({ WebSocket })", "NO_WEBSOCKET");
    }
    const socket = new WebSocketImpl(url.replace(/^http/, "ws"), "graphql-transport-ws");
    socket.binaryType = "arraybuffer"; // some servers send the JSON messages as binary frames
    const decoder = new TextDecoder();
    const onError = subscribeOptions.onError ?? (() => {});
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "connection_init", payload: { Authorization: `Bearer ${options.token}` } }));
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(typeof event.data === "string" ? event.data : decoder.decode(event.data));
      if (message.type === "connection_ack") {
        const variables = { t: subject.tenantKey ?? null, u: subject.userKey ?? null };
        socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: CHANGED, variables } }));
        subscribeOptions.onReady?.();
      } else if (message.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      } else if (message.type === "next") {
        const { data, errors } = message.payload;
        if (errors?.length) onError(new EntitleError(errors[0].message, errors[0].extensions?.code, errors));
        else onChange(toEffective(data.entitlementsChanged.effective), data.entitlementsChanged.revision);
      } else if (message.type === "error") {
        const first = message.payload?.[0] ?? {};
        onError(new EntitleError(first.message ?? "subscription refused", first.extensions?.code, message.payload));
      }
    });
    // A lost socket is reported once: Node's WebSocket fires only "error" when it cannot connect, browsers fire
    // "error" then "close".
    let lost = false;
    let closedByUs = false;
    const reportLost = (reason) => {
      if (lost || closedByUs) return;
      lost = true;
      onError(new EntitleError(`the subscription's socket ${reason}`, "UNAVAILABLE"));
    };
    socket.addEventListener("error", () => reportLost("failed"));
    socket.addEventListener("close", (event) => {
      if (event.code !== 1000) reportLost(`closed (${event.code})`);
    });
    return () => {
      closedByUs = true;
      if (socket.readyState === 1) socket.send(JSON.stringify({ id: "1", type: "complete" }));
      socket.close(1000);
    };
  };

  return client;
}
