import type { ReactNode } from "react";

import type { EffectiveEntitlements, EntitleClient, EntitleError } from "./index.js";

export interface EntitlementsProviderProps {
  /** A client from createClient(); make it once (not on every render). */
  client: EntitleClient;
  tenantKey?: string | null;
  userKey?: string | null;
  /** Entitlements fetched beforehand (e.g. on the server): the first render uses them instead of loading. */
  initialEntitlements?: EffectiveEntitlements | null;
  /** Values by feature key used when the entitlements cannot be loaded (otherwise: refused). */
  fallback?: Record<string, unknown>;
  children?: ReactNode;
}

export declare function EntitlementsProvider(props: EntitlementsProviderProps): ReactNode;

export interface EntitlementsState {
  effective: EffectiveEntitlements | null;
  loading: boolean;
  /** The last error (e.g. `code: "UNAVAILABLE"` while the service cannot be reached), null once loaded again. */
  error: EntitleError | null;
  /** Revision of the last `entitlementsChanged` event applied, null before the first event. */
  revision: string | null;
}

export declare function useEntitlements(): EntitlementsState;

export interface UseEntitlementOptions {
  /** Units about to be used: entitled only when that many fit in `remaining`. */
  usage?: number;
  /** Value used when the entitlements cannot be loaded (overrides the provider's `fallback`). */
  fallback?: unknown;
}

export interface Entitlement {
  isEntitled: boolean;
  value: unknown;
  limit: number | null;
  unlimited: boolean;
  used: number | null;
  remaining: number | null;
  expiresAt: string | null;
  loading: boolean;
  /** True when the entitlements could not be loaded: the answer is the fallback, or a refusal. */
  isFallback: boolean;
}

export declare function useEntitlement(featureKey: string, options?: UseEntitlementOptions): Entitlement;

export interface FeatureGateProps {
  feature: string;
  usage?: number;
  /** Rendered when not entitled (default: nothing). */
  fallback?: ReactNode;
  /** Rendered while loading (default: nothing). */
  loading?: ReactNode;
  children?: ReactNode | ((entitlement: Entitlement) => ReactNode);
}

export declare function FeatureGate(props: FeatureGateProps): ReactNode;
