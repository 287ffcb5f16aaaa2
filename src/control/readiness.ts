/**
 * `/readyz`: whether this gateway can serve — a valid, non-placeholder
 * certificate, and a healthy node in every cluster — and, beside the verdict,
 * what is degraded without making it unready.
 */
import type { Readiness } from '../admin/admin-backend.js';
import type { StoredCertificate } from '../certificates/certificate-store.js';
import type { ClusterConfig } from '../config/types.js';
import type { StoreStatus } from '../store/shared-store.js';
import type { NodeHealthUpdate } from '../wire/messages.js';
import { isPlaceholder } from '../lifecycle/placeholder.js';
import { hasExpired } from '../certificates/renewal-policy.js';

export interface ReadinessInputs {
  readonly served: readonly StoredCertificate[];
  readonly clusters: readonly ClusterConfig[];
  readonly health: readonly NodeHealthUpdate[];
  readonly store: StoreStatus;
  readonly now: number;
}

export function gatewayReadiness({ served, clusters, health, store, now }: ReadinessInputs): Readiness {
  const reasons: string[] = [];
  if (served.length === 0) reasons.push('no certificate loaded');
  for (const cert of served) if (hasExpired(cert, now)) reasons.push(`certificate ${cert.keyType} expired`);
  for (const cert of served) if (isPlaceholder(cert)) reasons.push(`certificate ${cert.keyType}: placeholder served while the CA issues one`);
  for (const cluster of clusters) {
    const nodes = health.filter((update) => update.cluster === cluster.name);
    if (nodes.length === 0) reasons.push(`cluster ${cluster.name}: no nodes known`);
    else if (!nodes.some((update) => update.healthy)) reasons.push(`cluster ${cluster.name}: no healthy node`);
  }
  const ready = reasons.length === 0;
  // Serving from the local copy is degraded, not unready: the certificate is good and traffic flows (issue 8).
  if (!store.connected) reasons.push(`degraded: certificate store ${store.target ?? store.type} unreachable since ${store.degradedSince}, serving the last good certificates`);
  return { ready, reasons };
}
