// @entitle/client/react: React bindings over a client from createClient() (React >= 18, a peer dependency).
// No JSX and no build step: plain ESM with createElement, types in react.d.ts.
import { createContext, createElement, useContext, useEffect, useState } from "react";

const EntitlementsContext = createContext(null);

const RECONNECT_BASE_MS = 200; // as the Python client's cache: 0.2 s doubling up to 10 s
const RECONNECT_MAX_MS = 10_000;

/**
 * <EntitlementsProvider client tenantKey userKey initialEntitlements? fallback?>
 * Loads the subject's effective entitlements once its `entitlementsChanged` subscription is up, and replaces them
 * on each event, so every useEntitlement/FeatureGate below updates live. `initialEntitlements` (fetched on the
 * server) makes the first render, and server-side rendering, final instead of loading.
 */
export function EntitlementsProvider({
  client,
  tenantKey = null,
  userKey = null,
  initialEntitlements = null,
  fallback = {},
  children,
}) {
  // The state names its subject: after tenantKey/userKey change, the previous subject's entitlements are not used.
  const subjectKey = JSON.stringify([tenantKey, userKey]);
  const [state, setState] = useState(() => ({
    subjectKey,
    effective: initialEntitlements,
    loading: initialEntitlements == null,
    error: null,
    revision: null,
  }));

  useEffect(() => {
    if (tenantKey == null && userKey == null) {
      setState({ subjectKey, effective: null, loading: false, error: null, revision: null });
      return undefined;
    }
    const failed = (error) =>
      setState((previous) =>
        previous.subjectKey === subjectKey
          ? { ...previous, loading: false, error }
          : { subjectKey, effective: null, loading: false, error, revision: null },
      );
    const subject = { tenantKey, userKey };
    let active = true;
    let unsubscribe = () => {};
    let retryTimer = null;
    let attempt = 0;
    // Bumped by every event: a fetch started before an event may predate that event's change, so it is dropped.
    let generation = 0;

    const load = () => {
      const started = ++generation;
      client.effectiveEntitlements(subject).then(
        (effective) => {
          if (active && started === generation) {
            setState({ subjectKey, effective, loading: false, error: null, revision: null });
          }
        },
        (error) => {
          if (active && started === generation) failed(error);
        },
      );
    };

    const connect = () => {
      unsubscribe = client.subscribe(
        subject,
        (effective, revision) => {
          if (!active) return;
          generation++;
          setState({ subjectKey, effective, loading: false, error: null, revision });
        },
        {
          // Subscribed first, then fetched: a change after the fetch arrives as an event.
          onReady: () => {
            attempt = 0;
            if (active) load();
          },
          onError: (error) => {
            if (!active) return;
            failed(error);
            if (error.code === "UNAVAILABLE") {
              // The socket was lost (or never opened): subscribe again with backoff; onReady reloads.
              unsubscribe();
              retryTimer = setTimeout(connect, Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** attempt++));
            }
          },
        },
      );
    };

    connect();
    return () => {
      active = false;
      clearTimeout(retryTimer);
      unsubscribe();
    };
  }, [client, tenantKey, userKey, subjectKey]);

  const current =
    state.subjectKey === subjectKey
      ? state
      : { subjectKey, effective: null, loading: true, error: null, revision: null };
  return createElement(EntitlementsContext.Provider, { value: { ...current, fallback } }, children);
}

function useEntitlementsContext(hook) {
  const context = useContext(EntitlementsContext);
  if (context == null) throw new Error(`${hook} must be used inside <EntitlementsProvider>`);
  return context;
}

/** The provider's state: { effective, loading, error, revision }. */
export function useEntitlements() {
  const { effective, loading, error, revision } = useEntitlementsContext("useEntitlements");
  return { effective, loading, error, revision };
}

const NOTHING = {
  isEntitled: false,
  value: null,
  limit: null,
  unlimited: false,
  used: null,
  remaining: null,
  expiresAt: null,
  loading: false,
  isFallback: false,
};

/**
 * useEntitlement(featureKey, { usage?, fallback? }) → { isEntitled, value, limit, unlimited, used, remaining,
 * expiresAt, loading, isFallback }.
 * Entitled when the feature is in the subject's effective entitlements (and, with `usage`, that many units fit in
 * `remaining`). While loading: not entitled, `loading: true`. When the entitlements could not be loaded (service
 * unreachable): the `fallback` of the options or of the provider for this feature, else refused (fail closed), with
 * `isFallback: true`. After a lost connection the last loaded entitlements stay in use until it is back.
 */
export function useEntitlement(featureKey, options = {}) {
  const context = useEntitlementsContext("useEntitlement");
  const { effective, loading } = context;
  if (effective == null) {
    if (loading) return { ...NOTHING, loading: true };
    let value = null;
    if (options.fallback !== undefined) value = options.fallback;
    else if (Object.hasOwn(context.fallback, featureKey)) value = context.fallback[featureKey];
    return { ...NOTHING, isEntitled: Boolean(value), value, isFallback: true };
  }
  const feature = effective.features[featureKey];
  if (feature == null) return NOTHING;
  const usage = options.usage;
  const fits = usage == null || feature.unlimited || feature.remaining == null || feature.remaining >= usage;
  return {
    isEntitled: fits,
    value: feature.value,
    limit: feature.limit,
    unlimited: feature.unlimited,
    used: feature.used,
    remaining: feature.remaining,
    expiresAt: feature.expiresAt,
    loading: false,
    isFallback: false,
  };
}

/**
 * <FeatureGate feature="sso" usage? fallback={<Upgrade/>} loading={<Spinner/>}>children</FeatureGate>
 * Renders `children` when entitled (a function child gets the entitlement), `loading` while loading (default
 * nothing), `fallback` otherwise (default nothing).
 */
export function FeatureGate({ feature, usage, fallback = null, loading = null, children = null }) {
  const entitlement = useEntitlement(feature, usage == null ? {} : { usage });
  if (entitlement.loading) return loading;
  if (!entitlement.isEntitled) return fallback;
  return typeof children === "function" ? children(entitlement) : children;
}
