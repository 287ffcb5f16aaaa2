/**
 * How the publication of the gateway's leaf to CUCM shows from outside: the
 * per-server Prometheus series (publications by result, waiting for an
 * administrator, listed) and `certificates.cucmTrust` in the status document,
 * which reads the ledger: per leaf still of interest, per server, whether the
 * server lists it, had it confirmed by hand, waits for an administrator,
 * misses it, or had it removed (by the API or, to do, by hand).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { CertmgrTarget } from './certmgr-client.js';
import { targetKey, type PublishedLeaf } from './trust-ledger.js';

/** One server's part in one leaf's publication, for the status document. */
export interface TrustNodeView {
  readonly cluster: string;
  readonly node: string;
  readonly url: string;
  /** listed: taken and shown by the API; confirmed: uploaded by hand; awaiting-confirmation; missing; removed; remove-by-hand. */
  readonly state: 'listed' | 'confirmed' | 'awaiting-confirmation' | 'missing' | 'removed' | 'remove-by-hand';
  readonly publishedAt?: string;
  readonly verifiedAt?: string;
  readonly awaitingSince?: string;
  readonly confirmedBy?: string;
}

export interface TrustLeafView {
  readonly keyType: string;
  readonly serial: string;
  readonly fingerprint: string;
  readonly subject: string;
  readonly state: 'current' | 'awaiting-confirmation' | 'replaced' | 'removed';
  readonly removeAt?: string;
  readonly removedAt?: string;
  readonly nodes: readonly TrustNodeView[];
}

/** `certificates.cucmTrust` in the status document. */
export interface TrustStatusView {
  readonly stores: readonly string[];
  readonly nodes: readonly { readonly cluster: string; readonly node: string; readonly url: string; readonly lastError: { readonly at: string; readonly message: string } | null }[];
  readonly leaves: readonly TrustLeafView[];
}

/** `ucgate_cucm_trust_publications_total{result}` values. */
export const PUBLICATION_RESULTS = ['listed', 'no_api', 'confirmed', 'failed'] as const;

type NodeLabels = 'cluster' | 'node';

/** A per-server gauge of `registry`: the one registered already, else a new one. */
function nodeGauge(registry: Registry, name: string, help: string): Gauge<NodeLabels> {
  return (registry.getSingleMetric(name) as Gauge<NodeLabels> | undefined) ?? new Gauge({ name, help, labelNames: ['cluster', 'node'] as const, registers: [registry] });
}

/** The per-node series, registered once per registry. */
export class TrustMetrics {
  readonly publications: Counter<NodeLabels | 'result'>;
  readonly awaiting: Gauge<NodeLabels>;
  readonly listed: Gauge<NodeLabels>;

  constructor(registry: Registry) {
    this.publications =
      (registry.getSingleMetric('ucgate_cucm_trust_publications_total') as Counter<NodeLabels | 'result'> | undefined) ??
      new Counter({
        name: 'ucgate_cucm_trust_publications_total',
        help: 'Leaves sent to a CUCM server\'s trust stores, by result: listed (taken and shown by its API), no_api (CUCM before 14: waits for confirm-trust), confirmed (uploaded by hand), failed',
        labelNames: ['cluster', 'node', 'result'] as const,
        registers: [registry],
      });
    this.awaiting = nodeGauge(
      registry,
      'ucgate_cucm_trust_awaiting_confirmation',
      'Whether a leaf waits for an administrator to upload it to this CUCM server and run `ucgate cert confirm-trust` (1) or not (0)',
    );
    this.listed = nodeGauge(
      registry,
      'ucgate_cucm_trust_node_listed',
      "Whether the last leaf published to this CUCM server is in its trust stores (listed by its API or confirmed by hand: 1) or its publication failed (0)",
    );
  }
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/**
 * `cucmTrust` of the status document, from the ledger's `leaves`, the
 * configured `targets` and the last failure per server (`cluster/node`).
 */
export function trustStatus(leaves: readonly PublishedLeaf[], targets: readonly CertmgrTarget[], stores: readonly string[], lastErrors: ReadonlyMap<string, { at: number; message: string }>): TrustStatusView {
  const view = (leaf: PublishedLeaf): TrustLeafView => {
    const removed = new Set(leaf.removedFrom ?? []);
    const byHand = new Set(leaf.removeByHand ?? []);
    const nodes: TrustNodeView[] = [];
    const seen = new Set<string>();
    for (const t of leaf.targets) {
      const key = targetKey(t);
      seen.add(key);
      nodes.push({
        cluster: t.cluster,
        node: t.node ?? 'publisher',
        url: t.url,
        state: byHand.has(key) ? 'remove-by-hand' : removed.has(key) ? 'removed' : t.manual ? 'confirmed' : 'listed',
        publishedAt: iso(t.publishedAt)!,
        ...(t.verifiedAt !== undefined && { verifiedAt: iso(t.verifiedAt)! }),
        ...(t.confirmedBy && { confirmedBy: t.confirmedBy }),
      });
    }
    for (const a of leaf.awaiting ?? []) {
      seen.add(targetKey(a));
      nodes.push({ cluster: a.cluster, node: a.node, url: a.url, state: 'awaiting-confirmation', awaitingSince: iso(a.since)! });
    }
    if (leaf.removeAt === undefined) {
      for (const t of targets) if (!seen.has(targetKey(t))) nodes.push({ cluster: t.cluster, node: t.node, url: t.url, state: 'missing' });
    }
    const state = leaf.removedAt !== undefined ? 'removed' : leaf.removeAt !== undefined ? 'replaced' : (leaf.awaiting?.length ?? 0) > 0 ? 'awaiting-confirmation' : 'current';
    return {
      keyType: leaf.keyType,
      serial: leaf.serial,
      fingerprint: leaf.fingerprint,
      subject: leaf.subject,
      state,
      ...(leaf.removeAt !== undefined && { removeAt: iso(leaf.removeAt)! }),
      ...(leaf.removedAt !== undefined && { removedAt: iso(leaf.removedAt)! }),
      nodes,
    };
  };
  return {
    stores,
    nodes: targets.map((t) => {
      const error = lastErrors.get(targetKey(t));
      return { cluster: t.cluster, node: t.node, url: t.url, lastError: error ? { at: iso(error.at)!, message: error.message } : null };
    }),
    leaves: leaves.filter((leaf) => leaf.removedAt === undefined).map(view),
  };
}
