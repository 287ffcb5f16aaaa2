/**
 * What the primary does with each health event: node state (and each service
 * check's) into metrics and out to every worker; each node's presented certificate into the expiry
 * metric, with a warning when a node's leaf changes (both fingerprints, so a
 * security team can tell a planned renewal from something else); failed
 * checks counted by the layer that failed.
 */
import type { X509Certificate } from 'node:crypto';
import type { Logger } from '../log.js';
import type { HealthManager } from '../upstream/health-manager.js';
import type { ControlPlaneMetrics } from '../metrics/control-plane-metrics.js';
import type { NodeHealthUpdate } from '../wire/messages.js';
import { describeCertificate } from '../pki/certificate-info.js';

export function watchHealth(health: HealthManager, metrics: ControlPlaneMetrics, log: Logger, broadcast: (updates: NodeHealthUpdate[]) => void): void {
  const fingerprints = new Map<string, string>();
  // Service series that exist, so one whose check (or node) went away is removed rather than left at its last value.
  let serviceSeries = new Map<string, { cluster: string; node: string; service: string }>();
  health.on('change', (updates: NodeHealthUpdate[]) => {
    const seen = new Map<string, { cluster: string; node: string; service: string }>();
    for (const update of updates) {
      metrics.nodeUp.set({ cluster: update.cluster, node: update.node }, update.healthy ? 1 : 0);
      metrics.primeNode(update.cluster, update.node);
      metrics.nodeDraining.set({ cluster: update.cluster, node: update.node }, update.draining ? 1 : 0);
      for (const [service, healthy] of Object.entries(update.services ?? {})) {
        const labels = { cluster: update.cluster, node: update.node, service };
        metrics.serviceUp.set(labels, healthy ? 1 : 0);
        seen.set(JSON.stringify(labels), labels);
      }
    }
    for (const [id, labels] of serviceSeries) if (!seen.has(id)) metrics.serviceUp.remove(labels);
    serviceSeries = seen;
    broadcast(updates);
  });
  health.on('certificate', (cluster: string, node: string, cert: X509Certificate) => {
    const info = describeCertificate(cert);
    metrics.certificateExpiry.set({ name: `${cluster}/${node}`, key_type: info.keyType, source: `upstream:${node}` }, Math.floor(Date.parse(info.notAfter) / 1000));
    const key = `${cluster}/${node}`;
    const previous = fingerprints.get(key);
    fingerprints.set(key, info.fingerprintSha256);
    if (previous && previous !== info.fingerprintSha256) {
      log.warn(
        { event: 'upstream_certificate_changed', cluster, node, oldFingerprint: previous, newFingerprint: info.fingerprintSha256, subject: info.subject, notAfter: info.notAfter },
        `${cluster}/${node} presents a new certificate`,
      );
    }
  });
  // The main check only, as ucgate_upstream_node_up: a service check's failures show in ucgate_upstream_service_up and the logs.
  health.on('check', (cluster: string, node: string, result: { ok: boolean; layer?: string }, service?: string) => {
    if (!result.ok && service === undefined) metrics.checkFailures.inc({ cluster, node, layer: result.layer ?? 'unknown' });
  });
}
