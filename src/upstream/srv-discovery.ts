/**
 * Nodes from DNS SRV records, as Jabber itself finds UDS
 * (`_cisco-uds._tcp.<domain>`): priority and weight per RFC 2782 become the
 * nodes' priority tiers and weights. Re-resolved every `refreshSeconds`; a
 * failed lookup keeps the last good answer, so a DNS outage never empties a
 * cluster.
 */
import { EventEmitter } from 'node:events';
import { Resolver } from 'node:dns/promises';
import type { ClusterConfig, NodeConfig, SrvConfig } from '../config/types.js';
import type { Clock, ClockTimer } from '../clock.js';
import type { Logger } from '../log.js';

const LOOKUP_TIMEOUT_MS = 2000;

function resolverFor(srv: SrvConfig): Resolver {
  const resolver = new Resolver({ timeout: LOOKUP_TIMEOUT_MS, tries: 2 });
  if (srv.servers.length > 0) resolver.setServers([...srv.servers]);
  return resolver;
}

/** One lookup: SRV records, then each target's address from the same DNS servers. */
export async function resolveSrvNodes(srv: SrvConfig): Promise<NodeConfig[]> {
  const resolver = resolverFor(srv);
  const records = await resolver.resolveSrv(srv.name);
  const targets = records.map((record) => record.name.replace(/\.$/, '').toLowerCase());
  const duplicateTarget = new Set(targets.filter((target, i) => targets.indexOf(target) !== i));
  const nodes = await Promise.all(
    records.map(async (record, i): Promise<NodeConfig> => {
      const target = targets[i]!;
      // The SRV's own DNS servers know the targets (a split-horizon zone often is the only place they exist).
      const address = await resolver.resolve4(target).then(
        (addresses) => addresses[0],
        () => undefined,
      );
      return {
        name: duplicateTarget.has(target) ? `${target}:${record.port}` : target,
        url: `https://${target}:${record.port}`,
        priority: record.priority,
        weight: record.weight,
        aliases: [],
        ...(address ? { address } : {}),
      };
    }),
  );
  // DNS answers come in random order; a stable order keeps reconciliation and logs calm.
  return nodes.sort((a, b) => a.priority - b.priority || a.name.localeCompare(b.name));
}

const sameNodes = (a: readonly NodeConfig[], b: readonly NodeConfig[]) => JSON.stringify(a) === JSON.stringify(b);

/** Keeps the node lists of every SRV cluster current; emits `nodes` (cluster name, nodes) on change. */
export class SrvDiscovery extends EventEmitter {
  readonly #clusters: readonly ClusterConfig[];
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #resolve: (srv: SrvConfig) => Promise<NodeConfig[]>;
  readonly #current = new Map<string, NodeConfig[]>();
  readonly #timers = new Map<string, ClockTimer>();
  #running = false;

  constructor(options: { clusters: readonly ClusterConfig[]; clock: Clock; log: Logger; resolve?: (srv: SrvConfig) => Promise<NodeConfig[]> }) {
    super();
    this.#clusters = options.clusters.filter((cluster) => cluster.srv);
    this.#clock = options.clock;
    this.#log = options.log;
    this.#resolve = options.resolve ?? resolveSrvNodes;
  }

  nodes(cluster: string): readonly NodeConfig[] {
    return this.#current.get(cluster) ?? [];
  }

  /** Resolves every SRV cluster once (failures logged, not thrown), then keeps refreshing. */
  async start(): Promise<void> {
    this.#running = true;
    await Promise.all(this.#clusters.map((cluster) => this.#refresh(cluster)));
  }

  stop(): void {
    this.#running = false;
    for (const timer of this.#timers.values()) this.#clock.clearTimeout(timer);
    this.#timers.clear();
  }

  async #refresh(cluster: ClusterConfig): Promise<void> {
    const srv = cluster.srv!;
    try {
      const nodes = await this.#resolve(srv);
      if (nodes.length === 0) throw new Error('no SRV records');
      if (!sameNodes(nodes, this.#current.get(cluster.name) ?? [])) {
        this.#current.set(cluster.name, nodes);
        this.#log.info(
          { event: 'srv_nodes', cluster: cluster.name, srv: srv.name, nodes: nodes.map((n) => ({ name: n.name, priority: n.priority, weight: n.weight })) },
          `${cluster.name}: ${nodes.length} node(s) from ${srv.name}`,
        );
        this.emit('nodes', cluster.name, nodes);
      }
    } catch (err) {
      const kept = this.#current.get(cluster.name)?.length ?? 0;
      this.#log.warn(
        { event: 'srv_lookup_failed', cluster: cluster.name, srv: srv.name, err: (err as Error).message, keptNodes: kept },
        `${cluster.name}: SRV lookup of ${srv.name} failed; keeping the last good answer (${kept} node(s))`,
      );
    }
    if (!this.#running) return;
    const timer = this.#clock.setTimeout(() => void this.#refresh(cluster), srv.refreshSeconds * 1000);
    timer.unref?.();
    this.#timers.set(cluster.name, timer);
  }
}
