/** The JSON of `GET /api/v1/status`: what an administrator (or the dashboard) needs at a glance. */
import type { Primary } from './primary.js';
import { VERSION } from '../version.js';
import { daysLeft } from '../pki/certificate-info.js';

export function buildStatus(primary: Primary) {
  const now = primary.clock.now();
  const nodes = primary.health.status();
  return {
    version: VERSION,
    uptimeSeconds: Math.round((Date.now() - primary.startedAt) / 1000),
    ready: primary.readiness(),
    listeners: primary.listeners,
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
          healthy: node.healthy,
          up: node.up,
          coolingUntil: node.coolingUntil === undefined ? null : new Date(node.coolingUntil).toISOString(),
          lastCheck: node.lastCheckAt === undefined ? null : { at: new Date(node.lastCheckAt).toISOString(), ok: node.lastCheckOk },
          lastError: node.lastError ? { ...node.lastError, at: new Date(node.lastError.at).toISOString() } : null,
        })),
    })),
    certificates: primary.certificates.served.map((cert) => ({
      name: `gateway-${cert.keyType}`,
      source: cert.source,
      daysLeft: daysLeft(cert.info, now),
      ...cert.info,
    })),
  };
}
