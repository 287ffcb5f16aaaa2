/**
 * What the admin listener reads from and asks of the control plane. The
 * optional methods are capabilities the primary may not have wired yet: the
 * routes behind them answer 501 with a clear message until it does.
 */
import type { GatewayStatus, Readiness } from './status-types.js';

export type { Readiness };

/** One renewal attempt, newest last. Fields beyond `time` and `result` are shown when present. */
export interface RenewalRecord {
  /** ISO 8601. */
  readonly time: string;
  readonly result: 'success' | 'failure';
  readonly keyType?: string;
  /** What happened: issued, renewed, imported, rolled-back... */
  readonly action?: string;
  /** Who started it: cli, api, acme, self-signed, the maintenance loop... */
  readonly actor?: string;
  readonly serial?: string;
  readonly notAfter?: string;
  /** Why it failed (never a secret). */
  readonly error?: string;
}

/**
 * One audit-log line (see src/certificates/audit-log.ts's AuditEntry). Typed
 * loosely so any entry shape fits; the dashboard shows the fields it knows
 * (time, action, actor, keyType, subject, serial, detail).
 */
export type AuditRecord = object;

/** The outcome of `POST /api/v1/reload`: `ok: false` keeps the old config running, `problems` says why. */
export interface ReloadOutcome {
  readonly ok: boolean;
  readonly problems?: readonly string[];
}

/** `POST /api/v1/certificates/renew`'s body. */
export interface RenewRequest {
  /** Replace an imported certificate with this issuer's (it must be the configured issuer). */
  readonly replaceSource?: string;
}

/** `POST /api/v1/cucm-trust/confirm`: an administrator uploaded the pending leaf by hand (`ucgate cert confirm-trust`). */
export interface ConfirmTrustRequest {
  readonly serial?: string;
  readonly all?: boolean;
  readonly cluster?: string;
  readonly node?: string;
}

/** `ok: false`: nothing matched (nothing waits, or several leaves do and none was named); `message` says which. */
export interface ConfirmTrustOutcome {
  readonly ok: boolean;
  readonly message?: string;
  readonly confirmed?: readonly object[];
}

export interface AdminBackend {
  /** For `GET /readyz`. Synchronous: readiness probes must not wait on anything. */
  readiness(): Readiness;
  /** Prometheus text of the whole gateway (primary plus workers). */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** The `GET /api/v1/status` document; also what the dashboard draws. */
  status(): Promise<GatewayStatus>;
  /**
   * Renews now with the configured issuer; resolves with the outcome (shown to the caller as JSON).
   * An imported certificate is kept unless `replaceSource` names the configured issuer exactly.
   */
  renew?(request?: RenewRequest): Promise<unknown>;
  /** Serves at once what the store holds now (a CLI import or rollback beside the gateway); resolves with what changed. */
  reloadCertificates?(): Promise<unknown>;
  /** Re-reads and validates the config, then applies it; a bad config keeps the old one. */
  reload?(): Promise<ReloadOutcome>;
  /** The last `limit` audit-log entries, oldest first. */
  audit?(limit: number): Promise<readonly AuditRecord[]>;
  /** The last `limit` renewal attempts, oldest first. */
  renewals?(limit: number): Promise<readonly RenewalRecord[]>;
  /** certificates.cucmTrust: per server and per leaf, what is listed, confirmed or awaiting confirmation. */
  cucmTrust?(): Promise<object>;
  /** Records an administrator's upload by hand; an activation waiting for it goes on. */
  confirmTrust?(request: ConfirmTrustRequest): Promise<ConfirmTrustOutcome>;
  /** Node maintenance (src/admin/node-routes.ts): drains or undrains a node; undefined when the gateway has no such node. */
  drainNode?(request: NodeDrainRequest): Promise<NodeDrainOutcome | undefined>;
  /** Serves the previous certificate again (`ucgate cert rollback` through the gateway), audited under `actor`. */
  rollback?(request: RollbackRequest): Promise<RollbackOutcome>;
}

/** Who asked for an action: `dashboard` (a signed-in session), `cli` (`ucgate ...` with the token) or `api`. */
export type AdminActor = 'dashboard' | 'cli' | 'api';

/** `POST /api/v1/nodes/{cluster}/{node}/drain` and `/undrain`. */
export interface NodeDrainRequest {
  readonly cluster: string;
  readonly node: string;
  readonly draining: boolean;
  readonly actor: AdminActor;
  readonly reason?: string;
}

export interface NodeDrainOutcome {
  readonly cluster: string;
  readonly node: string;
  readonly draining: boolean;
  /** false: the node already was in that state. */
  readonly changed: boolean;
}

/** `POST /api/v1/certificates/rollback`. */
export interface RollbackRequest {
  readonly keyType?: string;
  readonly actor: AdminActor;
}

/** `ok: false` (409): nothing to roll back to; `message` says why. */
export interface RollbackOutcome {
  readonly ok: boolean;
  readonly message?: string;
  readonly keyType?: string;
  readonly serial?: string;
}
