/**
 * Builds the JSON of `GET /api/v1/status`: what an administrator (or the
 * dashboard) needs at a glance. The document's shape is admin/'s
 * (src/admin/status-types.ts), so the admin API and dashboard rely on it
 * without reaching into the primary.
 */
import type { Primary } from './primary.js';
import { VERSION } from '../version.js';
import { daysLeft, describeCertificate, type CertificateInfo } from '../pki/certificate-info.js';
import type { X509Certificate } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { CheckStatus } from '../upstream/health-manager.js';
import { MAX_LEARNED_PER_CLUSTER } from '../tftp/learned-files.js';
import type { NodeActivityView } from './node-activity.js';
import type { CheckStatusView, GatewayStatus, NodeTransition } from '../admin/status-types.js';
import { isUnmanaged, renewedBy } from '../certificates/certificate-source.js';
import { certificateAlarm } from '../certificates/renewal-policy.js';

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
