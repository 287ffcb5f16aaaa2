/**
 * The JSON of `GET /api/v1/status`: what an administrator (or the dashboard)
 * needs at a glance. The interfaces below are the document's shape, so the
 * admin API and dashboard can rely on it without reaching into the primary.
 */
import type { Primary } from './primary.js';
import type { ListenerAddress } from './messages.js';
import type { Readiness } from '../admin/admin-backend.js';
import { VERSION } from '../version.js';
import type { StoreStatus } from '../store/shared-store.js';
import { certificateAlarm, type AlarmLevel } from '../certificates/renewal-policy.js';
import { daysLeft, describeCertificate, type CertificateInfo } from '../pki/certificate-info.js';
import type { X509Certificate } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { CheckStatus } from '../upstream/health-manager.js';
import { MAX_LEARNED_PER_CLUSTER } from '../tftp/learned-files.js';
import type { DrainRecord } from './node-drains.js';
import type { NodeActivityView, NodeTransition } from './node-activity.js';
import { isUnmanaged, renewedBy } from '../certificates/certificate-source.js';

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

/** An upstream node's certificate as the health checks last saw it. */
export interface UpstreamCertificate {
  readonly cluster: string;
  readonly node: string;
  readonly info: CertificateInfo;
}

/** Optional data the primary can pass in; absent means "not known", not "none". */
export interface StatusExtras {
  readonly upstreamCertificates?: readonly UpstreamCertificate[];
  /** Traffic per node (src/control/node-activity.ts), by `cluster/node`. */
  readonly activity?: ReadonlyMap<string, NodeActivityView>;
  readonly transitions?: readonly NodeTransition[];
}

/**
 * Keeps the latest certificate each upstream node presented. Health checks
 * run every few hundred milliseconds, so the certificate is parsed only when
 * its fingerprint changes.
 */
export class UpstreamCertificateInventory {
  readonly #byNode = new Map<string, UpstreamCertificate>();

  record(cluster: string, node: string, cert: X509Certificate): void {
    const key = `${cluster}\u0000${node}`;
    if (this.#byNode.get(key)?.info.fingerprintSha256 === cert.fingerprint256) return;
    this.#byNode.set(key, { cluster, node, info: describeCertificate(cert) });
  }

  /** Follows a HealthManager's `certificate` events (cluster, node, X509Certificate). */
  watch(health: EventEmitter): this {
    health.on('certificate', (cluster: string, node: string, cert: X509Certificate) => this.record(cluster, node, cert));
    return this;
  }

  /** By cluster, then node name: a stable order, whichever check answered first. */
  list(): UpstreamCertificate[] {
    return [...this.#byNode.values()].sort((a, b) => a.cluster.localeCompare(b.cluster) || a.node.localeCompare(b.node));
  }
}

function checkView(check: CheckStatus): CheckStatusView {
  return {
    healthy: check.healthy,
    up: check.up,
    coolingUntil: check.coolingUntil === undefined ? null : new Date(check.coolingUntil).toISOString(),
    lastCheck: check.lastCheckAt === undefined ? null : { at: new Date(check.lastCheckAt).toISOString(), ok: check.lastCheckOk },
    lastError: check.lastError ? { ...check.lastError, at: new Date(check.lastError.at).toISOString() } : null,
    changedAt: check.lastChangeAt === undefined ? null : new Date(check.lastChangeAt).toISOString(),
  };
}

/** The status document now: health of every node, served and upstream certificates, readiness. */
export function buildStatus(primary: Primary, extras: StatusExtras = {}): GatewayStatus {
  const now = primary.clock.now();
  const nodes = primary.health.status();
  return {
    version: VERSION,
    fqdn: primary.config.gateway.fqdn,
    uptimeSeconds: Math.round((Date.now() - primary.startedAt) / 1000),
    generatedAt: new Date(now).toISOString(),
    ready: primary.readiness(),
    store: primary.storeStatus(),
    listeners: primary.listeners,
    renewBeforeDays: primary.config.certificates.renewBeforeDays,
    clusters: primary.config.clusters.map((cluster) => ({
      name: cluster.name,
      source: cluster.srv ? `srv:${cluster.srv.name}` : 'static',
      nodes: nodes
        .filter((node) => node.cluster === cluster.name)
        .map((node) => ({
          name: node.name,
          url: node.url,
          priority: node.priority,
          weight: node.weight,
          draining: node.draining,
          ...(node.draining && primary.drains?.record(cluster.name, node.name) && { drain: primary.drains.record(cluster.name, node.name)! }),
          ...extras.activity?.get(`${cluster.name}/${node.name}`),
          ...checkView(node),
          ...(node.services ? { services: node.services.map((service) => ({ name: service.service, path: service.path, ...checkView(service) })) } : {}),
        })),
      ...(primary.config.tftp ? { learnedTftpFiles: primary.tftpFiles.list(cluster.name), learnedTftpFilesLimit: MAX_LEARNED_PER_CLUSTER } : {}),
    })),
    certificates: [
      ...primary.certificates.served.map((cert) => ({
        name: `gateway-${cert.keyType}`,
        source: cert.source,
        daysLeft: daysLeft(cert.info, now),
        unmanaged: isUnmanaged(cert, primary.config.certificates.issuer.type),
        renewedBy: renewedBy(cert, primary.config.certificates.issuer.type),
        alarm: certificateAlarm(cert, primary.config.certificates.issuer.type, primary.config.certificates.renewBeforeDays, now),
        ...cert.info,
      })),
      ...(extras.upstreamCertificates ?? []).map((cert) => ({
        name: `${cert.cluster}/${cert.node}`,
        source: 'upstream',
        cluster: cert.cluster,
        node: cert.node,
        daysLeft: daysLeft(cert.info, now),
        ...cert.info,
      })),
    ],
    ...(extras.transitions && { transitions: extras.transitions }),
  };
}
