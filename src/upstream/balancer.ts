/**
 * Node selection for one cluster: the lowest priority number with a healthy
 * node wins (as SRV records order targets); inside that tier, smooth weighted
 * round robin (nginx's algorithm: even spread, no bursts). When no node is
 * healthy anywhere, every node is tried rather than refusing everyone (panic).
 * With `service` (a route's service), "healthy" is that service's check's
 * verdict (clusters[].serviceChecks), so panic is per service too: a node whose
 * EM Tomcat is down still serves UDS, and EM in panic tries every node.
 *
 * A drained node (node maintenance, UpstreamNode.draining) gets no new request while
 * another node of the cluster is available; a request whose sticky session it holds
 * (`preferred`) still goes there. Only when no undrained node is available does a
 * drained one that is take new requests, before the panic choice of a node called down.
 */
import type { UpstreamNode } from './upstream-node.js';

interface Tier {
  readonly priority: number;
  readonly nodes: readonly UpstreamNode[];
  readonly current: number[];
}

export class Balancer {
  readonly nodes: readonly UpstreamNode[];
  readonly #tiers: readonly Tier[];

  constructor(nodes: readonly UpstreamNode[]) {
    this.nodes = nodes;
    const byPriority = new Map<number, UpstreamNode[]>();
    for (const node of nodes) {
      const tier = byPriority.get(node.priority) ?? [];
      tier.push(node);
      byPriority.set(node.priority, tier);
    }
    this.#tiers = [...byPriority.entries()]
      .sort(([a], [b]) => a - b)
      .map(([priority, tierNodes]) => ({ priority, nodes: tierNodes, current: tierNodes.map(() => 0) }));
  }

  /**
   * The next node for a request, skipping those in `exclude` (already tried
   * by this request). Healthy nodes (for `service`) first; in panic, any node not yet tried.
   */
  pick(exclude?: ReadonlySet<UpstreamNode>, preferred?: UpstreamNode, service?: string): UpstreamNode | undefined {
    const now = Date.now();
    // Sticky: the node that issued the client's session, while it is available.
    if (preferred && !exclude?.has(preferred) && preferred.available(now, service)) return preferred;
    return this.#pick(exclude, 'healthy', now, service) ?? this.#pick(exclude, 'drained', now, service) ?? this.#pick(exclude, 'panic', now, service);
  }

  /** The next available node not in `exclude`, never a panic choice: a hedge is only worth sending to a node believed healthy. */
  pickAvailable(exclude: ReadonlySet<UpstreamNode>, service?: string): UpstreamNode | undefined {
    return this.#pick(exclude, 'healthy', Date.now(), service);
  }

  /** `healthy`: available, undrained, weight > 0; `drained`: available drained nodes; `panic`: any node. */
  #pick(exclude: ReadonlySet<UpstreamNode> | undefined, pass: 'healthy' | 'drained' | 'panic', now: number, service: string | undefined): UpstreamNode | undefined {
    for (const tier of this.#tiers) {
      let total = 0;
      let best = -1;
      for (let i = 0; i < tier.nodes.length; i++) {
        const node = tier.nodes[i]!;
        if (exclude?.has(node)) continue;
        if (pass === 'healthy' && (!node.available(now, service) || node.weight <= 0 || node.draining)) continue;
        if (pass === 'drained' && (!node.draining || !node.available(now, service))) continue;
        // In panic a weight-0 (drained) node still counts: anything beats refusing the request.
        const weight = Math.max(node.weight, 1);
        tier.current[i]! += weight;
        total += weight;
        if (best < 0 || tier.current[i]! > tier.current[best]!) best = i;
      }
      if (best >= 0) {
        tier.current[best]! -= total;
        return tier.nodes[best];
      }
    }
    return undefined;
  }
}
