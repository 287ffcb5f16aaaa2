/**
 * What the primary knows and counts: node health, certificate expiry,
 * renewals, its own process figures. A scrape merges these with every
 * worker's counters (prom-client's aggregation: counters and histograms summed).
 */
import type { StoredCertificate } from '../certificates/certificate-store.js';
import type { FailureLayer } from '../upstream/node-health.js';
import type { StoreChange } from '../store/store-events.js';
import { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from 'prom-client';

/** Every FailureLayer (upstream/node-health.ts) a failed check is counted by. */
export const CHECK_FAILURE_LAYERS = ['connect', 'tls', 'timeout', 'status', 'body', 'reset', 'protocol'] as const satisfies readonly FailureLayer[];
/** How an instance notices another's activation (StoreChange['via'], store/store-events.ts). */
export const STORE_RELOAD_VIAS = ['message', 'check', 'reconnect'] as const satisfies readonly StoreChange['via'][];

export class ControlPlaneMetrics {
  readonly registry = new Registry();
  readonly nodeUp = new Gauge({
    name: 'ucgate_upstream_node_up',
    help: "Whether the node takes traffic (1) or not (0), by the cluster's main health check",
    labelNames: ['cluster', 'node'] as const,
    registers: [this.registry],
  });
  readonly nodeDraining = new Gauge({
    name: 'ucgate_upstream_node_draining',
    help: 'Whether an operator drained the node for maintenance (1: no new requests or sessions, sticky sessions finish) or not (0)',
    labelNames: ['cluster', 'node'] as const,
    registers: [this.registry],
  });
  readonly serviceUp = new Gauge({
    name: 'ucgate_upstream_service_up',
    help: "Whether the node takes traffic (1) or not (0) for the routes of a service, by the cluster's serviceChecks",
    labelNames: ['cluster', 'node', 'service'] as const,
    registers: [this.registry],
  });
  readonly checkFailures = new Counter({
    name: 'ucgate_upstream_check_failures_total',
    help: 'Failed active health checks, by the layer that failed (connect, tls, timeout, status, body)',
    labelNames: ['cluster', 'node', 'layer'] as const,
    registers: [this.registry],
  });
  readonly certificateExpiry = new Gauge({
    name: 'ucgate_certificate_expiration_timestamp_seconds',
    help: 'Expiry (Unix time) of the gateway certificates and every upstream node certificate',
    labelNames: ['name', 'key_type', 'source'] as const,
    registers: [this.registry],
  });
  readonly renewals = new Counter({
    name: 'ucgate_certificate_renewals_total',
    help: 'Certificate issuance and renewal attempts by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly workers = new Gauge({ name: 'ucgate_workers', help: 'Data-plane workers running', registers: [this.registry] });
  readonly storeUp = new Gauge({
    name: 'ucgate_store_up',
    help: 'Whether the shared certificate store answers (1) or the gateway serves from its local copy (0)',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  readonly storeReloads = new Counter({
    name: 'ucgate_store_reloads_total',
    help: 'Certificates reloaded because another instance activated one, by how it was noticed (message, check, reconnect)',
    labelNames: ['via'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'ucgate_' });
    // Both series exist from the start, so a dashboard shows 0 rather than nothing.
    this.renewals.inc({ result: 'success' }, 0);
    this.renewals.inc({ result: 'failure' }, 0);
  }

  /** `ucgate_upstream_check_failures_total` at 0 for each layer of a node the health checks know (idempotent). */
  primeNode(cluster: string, node: string): void {
    for (const layer of CHECK_FAILURE_LAYERS) this.checkFailures.inc({ cluster, node, layer }, 0);
  }

  /** `ucgate_store_reloads_total` at 0 for each way a change is noticed (a shared store only). */
  primeStoreReloads(): void {
    for (const via of STORE_RELOAD_VIAS) this.storeReloads.inc({ via }, 0);
  }

  /** `ucgate_certificate_expiry_seconds` for the certificates the gateway serves. */
  recordGatewayCertificates(certs: readonly StoredCertificate[]): void {
    for (const cert of certs) {
      // One series per certificate: a placeholder (self-signed) replaced by an ACME one must not linger.
      for (const source of ['self-signed', 'acme', 'manual'] as const) {
        if (source !== cert.source) this.certificateExpiry.remove({ name: `gateway-${cert.keyType}`, key_type: cert.keyType, source });
      }
      this.certificateExpiry.set({ name: `gateway-${cert.keyType}`, key_type: cert.keyType, source: cert.source }, Math.floor(Date.parse(cert.info.notAfter) / 1000));
    }
  }

  /** Prometheus text for the whole gateway: this registry plus the workers' JSON snapshots. */
  async render(workerSnapshots: readonly MetricObjectWithValues<MetricValue<string>>[][]): Promise<{ contentType: string; body: string }> {
    const own = await this.registry.getMetricsAsJSON();
    const merged = AggregatorRegistry.aggregate([own, ...workerSnapshots] as Parameters<typeof AggregatorRegistry.aggregate>[0]);
    return { contentType: this.registry.contentType, body: await merged.metrics() };
  }
}
