/**
 * The shape of the `GET /api/v1/status` document (built by the primary,
 * src/control/status.ts): the admin API, the dashboard and the CLI read it,
 * so admin/ owns it and never has to reach into the control plane.
 */
import type { ListenerAddress } from '../wire/messages.js';
import type { StoreStatus } from '../store/shared-store.js';
import type { CertificateInfo } from '../pki/certificate-info.js';
import type { AuditActor } from '../certificates/audit-log.js';
import type { AlarmLevel } from '../certificates/renewal-policy.js';

export interface Readiness {
  readonly ready: boolean;
  readonly reasons: readonly string[];
}

/** Why a node is drained, for the status and the dashboard. */
export interface DrainRecord {
  /** ISO 8601. */
  readonly since: string;
  readonly actor: AuditActor;
  readonly reason?: string;
}

/** One change of a node's state; `at` is ISO 8601. */
export interface NodeTransition {
  readonly at: string;
  readonly cluster: string;
  readonly node: string;
  readonly from: NodeState;
  readonly to: NodeState;
}

export type NodeState = 'up' | 'down' | 'drained' | 'drained-down';

/** One health check's verdict; times are ISO 8601. */
export interface CheckStatusView {
  /** Takes traffic: up, and not cooling down after a 503 + Retry-After. */
  readonly healthy: boolean;
  /** The rise/fall verdict of the health checks, whatever the cool-down. */
  readonly up: boolean;
  readonly coolingUntil: string | null;
  readonly lastCheck: { readonly at: string; readonly ok?: boolean } | null;
  /** The most recent failure, with the layer that failed (connect, tls, timeout, status, body, reset). */
  readonly lastError: { readonly layer: string; readonly reason: string; readonly at: string; readonly source: string } | null;
  /** When the rise/fall verdict last moved (down since, or up since); null while it never has. */
  readonly changedAt?: string | null;
}

/** A service check of a node (clusters[].serviceChecks): it alone decides for the routes naming `name`. */
export interface ServiceStatusView extends CheckStatusView {
  readonly name: string;
  readonly path: string;
}

/** One upstream node as the status reports it: the main check's verdict, and each service check's. */
export interface NodeStatusView extends CheckStatusView {
  readonly name: string;
  readonly url: string;
  readonly priority: number;
  readonly weight: number;
  /** Drained for maintenance: no new requests or sessions; requests of its sticky sessions still go there. */
  readonly draining?: boolean;
  /** While draining: since when, who asked (cli, api, dashboard) and why. */
  readonly drain?: DrainRecord;
  /** Requests on their way to or from the node now, every worker together (absent when not known). */
  readonly inFlight?: number;
  /** Answers per second over the last few seconds, and failures (5xx answers and failed tries) per second. */
  readonly requestsPerSecond?: number;
  readonly errorsPerSecond?: number;
  /** Present when the cluster has service checks. */
  readonly services?: readonly ServiceStatusView[];
}

export interface ClusterStatusView {
  readonly name: string;
  /** `static`, or `srv:<name>` when the nodes come from DNS SRV. */
  readonly source: string;
  readonly nodes: readonly NodeStatusView[];
  /**
   * With `tftp` on: the Jabber group configuration files the TFTP listeners allow for this
   * cluster because a device file named them (`configurationFile=`), oldest first; at most
   * `learnedTftpFilesLimit`, the oldest forgotten first.
   */
  readonly learnedTftpFiles?: readonly string[];
  readonly learnedTftpFilesLimit?: number;
}

/** A certificate the gateway serves (source acme/manual/self-signed) or watches (source `upstream`). */
export interface CertificateStatusView extends CertificateInfo {
  readonly name: string;
  readonly source: string;
  /** Whole days until expiry; negative once expired. */
  readonly daysLeft: number;
  /** Own certificates: true when nothing renews it (imported): import again before it expires. */
  readonly unmanaged?: boolean;
  /** Own certificates: what renews it, in words. */
  readonly renewedBy?: string;
  /** Own certificates: the level the dashboard and the CLI show (certificates/renewal-policy.ts). */
  readonly alarm?: AlarmLevel;
  /** For upstream certificates: whose it is. */
  readonly cluster?: string;
  readonly node?: string;
}

/** The renewal loop's view of one own key type (src/lifecycle); times are ISO 8601. */
export interface RenewalStatusView {
  readonly keyType: string;
  readonly dueAt?: string;
  /** What set the due time: ari, lifetime, now, never. */
  readonly dueBy?: string;
  readonly retryAt?: string;
  readonly consecutiveFailures?: number;
  readonly lastError?: { readonly at: string; readonly reason: string; readonly message: string };
  readonly renewing?: boolean;
}

/** The whole `GET /api/v1/status` document. */
export interface GatewayStatus {
  readonly version: string;
  readonly fqdn: string;
  readonly uptimeSeconds: number;
  /** When this document was made (ISO 8601, the gateway's clock): ages on the dashboard count from it. */
  readonly generatedAt: string;
  readonly ready: Readiness;
  /** The certificate store: a shared (Redis) store says whether it is reachable, and since when it is not. */
  readonly store?: StoreStatus;
  readonly listeners: readonly ListenerAddress[];
  readonly renewBeforeDays: number;
  readonly clusters: readonly ClusterStatusView[];
  /** The gateway's own certificates first, then every upstream node certificate seen by the health checks. */
  readonly certificates: readonly CertificateStatusView[];
  /** Per own key type, when renewal is due and how it is going; absent when no renewal loop runs. */
  readonly renewal?: readonly RenewalStatusView[];
  /** The last changes of node state (up, down, busy, drained, undrained), newest first. */
  readonly transitions?: readonly NodeTransition[];
}
