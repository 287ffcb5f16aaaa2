/**
 * Nodes from DNS SRV records, as Jabber itself finds UDS
 * (`_cisco-uds._tcp.<domain>`): priority and weight per RFC 2782 become the
 * nodes' priority tiers and weights. Re-resolved every `refreshSeconds`; a
 * failed lookup keeps the last good answer, so a DNS outage never empties a
 * cluster. A target that is the gateway itself (one of its names, or an
 * address and port it listens on: see net/self-target.ts) is dropped with a
 * warning: the same `_cisco-uds._tcp` record often points Jabber at the
 * gateway, and adopting it as a node would make the gateway proxy to itself.
 */
import { EventEmitter } from 'node:events';
import { Resolver } from 'node:dns/promises';
import type { ClusterConfig, NodeConfig, SrvConfig } from '../config/types.js';
import type { Clock, ClockTimer } from '../clock.js';
import type { Logger } from '../log.js';
import { selfTargetReason, type GatewaySelf } from '../net/self-target.js';

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
  readonly #self: (() => GatewaySelf) | undefined;
  readonly #current = new Map<string, NodeConfig[]>();
  /** Per cluster, the self targets last warned about: a warning per change, not per refresh. */
  readonly #dropped = new Map<string, string>();
  readonly #timers = new Map<string, ClockTimer>();
  #running = false;

  /**
   * `self`: who the gateway is, asked at every lookup (the primary knows its
   * bound listeners only once they run); without it no target is dropped.
   */
  constructor(options: {
    clusters: readonly ClusterConfig[];
    clock: Clock;
    log: Logger;
    resolve?: (srv: SrvConfig) => Promise<NodeConfig[]>;
    self?: () => GatewaySelf;
  }) {
    super();
    this.#clusters = options.clusters.filter((cluster) => cluster.srv);
    this.#clock = options.clock;
    this.#log = options.log;
    this.#resolve = options.resolve ?? resolveSrvNodes;
    this.#self = options.self;
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

  /** `nodes` without the targets that are the gateway itself; each drop logged once per change of the set. */
  #withoutSelf(cluster: ClusterConfig, nodes: readonly NodeConfig[]): NodeConfig[] {
    const self = this.#self?.();
    if (self === undefined) return [...nodes];
    const kept: NodeConfig[] = [];
    const dropped: { target: string; port: number; reason: string }[] = [];
    for (const node of nodes) {
      const url = new URL(node.url);
      const port = url.port === '' ? 443 : Number(url.port);
      const reason = selfTargetReason(self, url.hostname, port, node.address);
      if (reason === undefined) kept.push(node);
      else dropped.push({ target: url.hostname, port, reason });
    }
    const key = JSON.stringify(dropped);
    if (key !== (this.#dropped.get(cluster.name) ?? '[]')) {
      this.#dropped.set(cluster.name, key);
      for (const drop of dropped) {
        this.#log.warn(
          { event: 'srv_self_target', cluster: cluster.name, srv: cluster.srv!.name, ...drop },
          `${cluster.name}: SRV target ${drop.target}:${drop.port} of ${cluster.srv!.name} is the gateway itself (${drop.reason}); not used as a node`,
        );
      }
    }
    return kept;
  }

  async #refresh(cluster: ClusterConfig): Promise<void> {
    const srv = cluster.srv!;
    try {
      const answer = await this.#resolve(srv);
      if (answer.length === 0) throw new Error('no SRV records');
      const nodes = this.#withoutSelf(cluster, answer);
      if (nodes.length === 0) throw new Error('every SRV target is the gateway itself');
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
