/**
 * What each worker counts. Every worker has its own registry; the primary
 * gathers them over IPC and sums them (prom-client's aggregation) with its
 * own, so a scrape sees one gateway.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** A node as the in-flight gauge reads it: its name and its pool's count of queued and running requests. */
export interface InFlightNode {
  readonly cluster: string;
  readonly name: string;
  readonly pool: { readonly stats: { readonly size: number } };
}

/**
 * Status codes every node's `ucgate_upstream_requests_total` shows from the start: success and the
 * server errors an alert's ratio looks at. Other codes appear when they first happen.
 */
export const PRIMED_UPSTREAM_CODES = [200, 500, 502, 503, 504] as const;
/** `ucgate_upstream_failures_total{layer}`: every class classifyFailure gives, `timeout` included (http/upstream-failure.ts). */
export const UPSTREAM_FAILURE_LAYERS = ['connect', 'tls', 'timeout', 'reset', 'protocol'] as const;
export const HEDGE_WINNERS = ['first', 'hedge'] as const;

export class DataPlaneMetrics {
  readonly registry = new Registry();
  readonly upstreamRequests = new Counter({
    name: 'ucgate_upstream_requests_total',
    help: 'Requests answered by an upstream node, by status code',
    labelNames: ['cluster', 'node', 'code'] as const,
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'ucgate_request_duration_seconds',
    help: 'Time from request to the end of the response, per cluster',
    labelNames: ['cluster'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly failovers = new Counter({
    name: 'ucgate_failovers_total',
    help: 'Requests served by another node after a failure',
    labelNames: ['cluster'] as const,
    registers: [this.registry],
  });
  readonly requests = new Counter({
    name: 'ucgate_requests_total',
    help: 'Client requests by listener and status (including refused ones)',
    labelNames: ['listener', 'code'] as const,
    registers: [this.registry],
  });
  readonly upstreamFailures = new Counter({
    name: 'ucgate_upstream_failures_total',
    help: 'Failed tries against upstream nodes, by layer',
    labelNames: ['cluster', 'node', 'layer'] as const,
    registers: [this.registry],
  });

  readonly loginAttemptsLimited = new Counter({
    name: 'ucgate_login_attempts_limited_total',
    help: 'Credential attempts refused with 429 (kind: em-login, uds-auth; scope: client, user)',
    labelNames: ['kind', 'scope'] as const,
    registers: [this.registry],
  });

  readonly rejectedRequests = new Counter({
    name: 'ucgate_rejected_requests_total',
    help: 'Requests refused by a limit or as malformed, by reason (url, headers, header-size, body, duplicate-host, connections, malformed, timeout...)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly hedgedRequests = new Counter({
    name: 'ucgate_hedged_requests_total',
    help: 'Idempotent requests sent to a second node because the first had not answered within timeouts.hedgeMs, by which try answered (hedge: the second, first: the original)',
    labelNames: ['cluster', 'winner'] as const,
    registers: [this.registry],
  });

  readonly unroutedLinks = new Counter({
    name: 'ucgate_unrouted_links_total',
    help: 'Links naming a node left pointing at the node because the gateway would not route their path, by answering cluster and normalised path without query (at most 100 paths per worker, then other)',
    labelNames: ['cluster', 'path'] as const,
    registers: [this.registry],
  });

  /** Read at scrape time from the nodes' pools (see `countInFlight`): what a drained node still has to finish. */
  #inFlightNodes: () => Iterable<InFlightNode> = () => [];
  readonly upstreamInFlight = new Gauge({
    name: 'ucgate_upstream_in_flight',
    help: 'Requests sent to the node and not yet answered in full (queued for a connection included)',
    labelNames: ['cluster', 'node'] as const,
    registers: [this.registry],
    collect: () => {
      this.upstreamInFlight.reset();
      for (const node of this.#inFlightNodes()) this.upstreamInFlight.set({ cluster: node.cluster, node: node.name }, node.pool.stats.size);
    },
  });

  /** Where the in-flight gauge finds the nodes: the current proxy state's. */
  countInFlight(nodes: () => Iterable<InFlightNode>): void {
    this.#inFlightNodes = nodes;
  }

  readonly #requestsByLabels = new Map<string, Map<number, { inc(): void }>>();
  readonly #upstreamByNode = new WeakMap<object, Map<number, { inc(): void }>>();
  readonly #durationByCluster = new Map<string, { observe(value: number): void }>();

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'ucgate_worker_' });
  }

  /**
   * Series at 0 for every cluster and node the config (or an SRV lookup) names, so a fresh
   * gateway exposes them before anything moves them and an alert's `rate()`/`increase()` sees the
   * first event: failovers and request durations per cluster, hedges per cluster and winner,
   * upstream requests per node for PRIMED_UPSTREAM_CODES, upstream failures per node and layer.
   * Every worker primes the same series; the primary's sum of them is 0 as well. Idempotent.
   */
  prime(clusters: readonly { readonly name: string; readonly nodes: readonly { readonly name: string }[] }[]): void {
    for (const cluster of clusters) {
      this.failovers.inc({ cluster: cluster.name }, 0);
      this.requestDuration.zero({ cluster: cluster.name });
      for (const winner of HEDGE_WINNERS) this.hedgedRequests.inc({ cluster: cluster.name, winner }, 0);
      for (const node of cluster.nodes) this.primeNode(cluster.name, node.name);
    }
  }

  /** A node's per-node series at 0 (one an SRV lookup found); see prime. */
  primeNode(cluster: string, node: string): void {
    for (const code of PRIMED_UPSTREAM_CODES) this.upstreamRequests.inc({ cluster, node, code }, 0);
    for (const layer of UPSTREAM_FAILURE_LAYERS) this.upstreamFailures.inc({ cluster, node, layer }, 0);
  }

  /**
   * `requests` for one listener and status, the child kept: prom-client hashes
   * the label object on every inc(), a cost paid per request otherwise.
   */
  countRequest(listener: string, code: number): void {
    let byCode = this.#requestsByLabels.get(listener);
    if (!byCode) this.#requestsByLabels.set(listener, (byCode = new Map()));
    let child = byCode.get(code);
    if (!child) byCode.set(code, (child = this.requests.labels({ listener, code })));
    child.inc();
  }

  /** `upstreamRequests` by node and status; children kept per node object (a reload makes new ones). */
  countUpstream(node: { readonly cluster: string; readonly name: string }, code: number): void {
    let byCode = this.#upstreamByNode.get(node);
    if (!byCode) this.#upstreamByNode.set(node, (byCode = new Map()));
    let child = byCode.get(code);
    if (!child) byCode.set(code, (child = this.upstreamRequests.labels({ cluster: node.cluster, node: node.name, code })));
    child.inc();
  }

  observeDuration(cluster: string, seconds: number): void {
    let child = this.#durationByCluster.get(cluster);
    if (!child) this.#durationByCluster.set(cluster, (child = this.requestDuration.labels({ cluster })));
    child.observe(seconds);
  }
}
