export interface Subject {
  tenantKey?: string | null;
  userKey?: string | null;
}

export interface CheckOptions extends Subject {
  permissionKey?: string | null;
  route?: { method: string; path: string } | null;
  usage?: number | null;
  minRevision?: string | null;
}

export interface Decision {
  isEntitled: boolean;
  justification: string | null;
  value: unknown;
  limit: number | null;
  unlimited: boolean;
  used: number | null;
  remaining: number | null;
  resetsAt: string | null;
  warning: string | null;
  expiresAt: string | null;
  /** A sentence to show the end user as is; null when entitled. */
  message: string | null;
  /** Keys of the plans that would entitle this request. */
  upgradeOptions: string[];
  /** True when the service could not be reached: the answer comes from `fallback`, or is a refusal. */
  isFallback: boolean;
}

export interface EffectiveFeature {
  key: string;
  value: unknown;
  limit: number | null;
  unlimited: boolean;
  used: number | null;
  remaining: number | null;
  expiresAt: string | null;
}

export interface EffectiveEntitlements {
  features: Record<string, EffectiveFeature>;
  permissions: string[];
}

export interface ClientOptions {
  url: string;
  token: string;
  /** Answers when the service cannot be reached, by feature key (otherwise: refused). */
  fallback?: Record<string, unknown>;
  /** Network-error retries (default 3, backoff 100/200/400 ms). */
  retries?: number;
  fetch?: typeof fetch;
  WebSocket?: unknown;
}

export interface SubscribeOptions {
  onError?: (error: EntitleError) => void;
  /** Called once the subscription was sent. */
  onReady?: () => void;
}

export declare class EntitleError extends Error {
  /** `extensions.code` of the GraphQL error, or `UNAVAILABLE`. */
  code: string;
  errors: unknown[];
}

export interface EntitleClient {
  /** `extensions.revision` of the last write: pass it as `minRevision` to read your own writes. */
  lastRevision: string | null;
  isEntitled(featureKey: string | null, options?: CheckOptions): Promise<Decision>;
  effectiveEntitlements(options?: Subject & { minRevision?: string | null }): Promise<EffectiveEntitlements>;
  reportUsage(
    featureKey: string,
    amount?: number,
    options?: Subject & { idempotencyKey?: string },
  ): Promise<Decision>;
  subscribe(
    subject: Subject,
    onChange: (effective: EffectiveEntitlements, revision: string) => void,
    options?: SubscribeOptions,
  ): () => void;
}

export declare function createClient(options: ClientOptions): EntitleClient;
