/**
 * What the primary knows and counts: node health, certificate expiry,
 * renewals, its own process figures. A scrape merges these with every
 * worker's counters (prom-client's aggregation: counters and histograms summed).
 */
import { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from 'prom-client';

export class ControlPlaneMetrics {
  readonly registry = new Registry();
  readonly nodeUp = new Gauge({
    name: 'ucgate_upstream_node_up',
    help: 'Whether the node takes traffic (1) or not (0)',
    labelNames: ['cluster', 'node'] as const,
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

  /** Prometheus text for the whole gateway: this registry plus the workers' JSON snapshots. */
  async render(workerSnapshots: readonly MetricObjectWithValues<MetricValue<string>>[][]): Promise<{ contentType: string; body: string }> {
    const own = await this.registry.getMetricsAsJSON();
    const merged = AggregatorRegistry.aggregate([own, ...workerSnapshots] as Parameters<typeof AggregatorRegistry.aggregate>[0]);
    return { contentType: this.registry.contentType, body: await merged.metrics() };
  }
}
