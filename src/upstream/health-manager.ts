/**
 * Health of every upstream node, owned by the primary: one check session per
 * node and check (never one per worker), passive reports from the workers'
 * real requests, and "busy" cool-downs when a node answers 503 with Retry-After.
 *
 * A node has its cluster's main check (`healthCheck`) and one session per
 * service check (`serviceChecks`): CUCM 14 runs UDS in "Cisco UDS Tomcat" and
 * EM in "Cisco Tomcat", and a node can serve one and not the other, so each
 * check decides only for the routes naming its service. Real requests say
 * nothing about which Tomcat failed (a refused connection fails them all):
 * their failures and their 503 + Retry-After count against every session.
 *
 * Emits `change` with the effective state of every node whenever one moves,
 * `check` (cluster, node, result, service?) per finished check, and
 * `certificate` with what each node presented, for the inventory.
 */
import { EventEmitter } from 'node:events';
import type { X509Certificate } from 'node:crypto';
import type { ClusterConfig, HealthCheckConfig, NodeConfig } from '../config/types.js';
import type { Clock, ClockTimer } from '../clock.js';
import type { Logger } from '../log.js';
import type { NodeHealthUpdate } from '../wire/messages.js';
import { NodeHealth, type HealthObservation, type NodeHealthSnapshot } from './node-health.js';
import { probeNode, type ProbeTarget } from './health-probe.js';
import { dscpToMark } from '../net/dscp.js';

const JITTER = 0.1;
const MAX_COOL_DOWN_MS = 300_000;
/** The session key of the cluster's main check; service names are never empty. */
const MAIN = '';

/** One check's verdict: up (rise/fall) and not cooling down. */
export interface CheckStatus extends NodeHealthSnapshot {
  /** up, and not cooling down after a 503 + Retry-After. */
  readonly healthy: boolean;
  readonly coolingUntil: number | undefined;
}

/** A service check of one node (clusters[].serviceChecks). */
export interface ServiceStatus extends CheckStatus {
  readonly service: string;
  readonly path: string;
}

export interface NodeStatus extends CheckStatus {
  readonly cluster: string;
  readonly name: string;
  readonly url: string;
  readonly priority: number;
  readonly weight: number;
  /** Drained by an operator (node maintenance): no new requests, sticky sessions still reach it. */
  readonly draining: boolean;
  /** One per service check, when the cluster has any. The rest of this status is the main check's. */
  readonly services?: readonly ServiceStatus[];
}

interface Cooling {
  until: number | undefined;
  timer: ClockTimer | undefined;
}

/** One node: where its checks go, and its check sessions. */
interface Entry {
  /** Replaced on reload: check settings apply from the next check. */
  cluster: ClusterConfig;
  /** Replaced when an SRV answer changes priority or weight; health and timers carry on. */
  node: NodeConfig;
  readonly target: ProbeTarget;
  /** From real requests (503 + Retry-After): keeps every route's traffic away. */
  readonly cooling: Cooling;
  /** MAIN first, then one per service check. */
  readonly sessions: Map<string, Session>;
}

interface Session {
  readonly entry: Entry;
  /** undefined: the cluster's main check. */
  readonly service: string | undefined;
  readonly health: NodeHealth;
  /** From this check's own 503 + Retry-After: only its routes keep away. */
  readonly cooling: Cooling;
  timer: ClockTimer | undefined;
  probing: boolean;
  /** The node left, its target changed, or the check was removed: a result in flight is dropped. */
  retired: boolean;
}

export interface HealthManagerOptions {
  readonly clock: Clock;
  readonly log: Logger;
  readonly caFor: (cluster: ClusterConfig) => string | undefined;
  readonly random?: () => number;
}

const key = (cluster: string, node: string) => `${cluster}\u0000${node}`;

export class HealthManager extends EventEmitter {
  readonly #options: HealthManagerOptions;
  readonly #entries = new Map<string, Entry>();
  /** Drained nodes by key(cluster, node): kept across reloads and SRV changes, whether or not the node is known now. */
  readonly #draining = new Set<string>();
  #running = false;

  constructor(options: HealthManagerOptions) {
    super();
    this.#options = options;
  }

  /**
   * Adds sessions for new nodes and new service checks, and ends those of nodes that left and
   * checks that were removed; unchanged ones keep their state.
   */
  setNodes(cluster: ClusterConfig, nodes: readonly NodeConfig[]): void {
    const wanted = new Set(nodes.map((node) => key(cluster.name, node.name)));
    for (const [id, entry] of this.#entries) {
      if (entry.cluster.name === cluster.name && !wanted.has(id)) {
        this.#retire(entry);
        this.#entries.delete(id);
      }
    }
    for (const node of nodes) {
      const id = key(cluster.name, node.name);
      const existing = this.#entries.get(id);
      if (existing && existing.node.url === node.url && existing.node.address === node.address && existing.cluster.tls === cluster.tls) {
        existing.node = node;
        existing.cluster = cluster;
        this.#reconcile(existing, undefined);
        continue;
      }
      if (existing) this.#retire(existing);
      const url = new URL(node.url);
      const codePoint = dscpToMark(cluster.dscp);
      const entry: Entry = {
        cluster,
        node,
        target: {
          host: node.address ?? url.hostname,
          port: url.port ? Number(url.port) : 443,
          hostHeader: url.host,
          servername: cluster.tls.servername ?? url.hostname.replace(/^\[|\]$/g, ''),
          ca: this.#options.caFor(cluster),
          verify: cluster.tls.verify,
          ...(cluster.tls.keyType && { keyType: cluster.tls.keyType }),
          ...(codePoint !== undefined && { codePoint }),
        },
        cooling: { until: undefined, timer: undefined },
        sessions: new Map(),
      };
      this.#entries.set(id, entry);
      this.#reconcile(entry, existing);
    }
    this.emit('change', this.effective());
  }

  /** Ends every session of a cluster that no longer exists (reload). */
  removeCluster(name: string): void {
    for (const [id, entry] of this.#entries) {
      if (entry.cluster.name !== name) continue;
      this.#retire(entry);
      this.#entries.delete(id);
    }
    this.emit('change', this.effective());
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    for (const entry of this.#entries.values()) for (const session of entry.sessions.values()) this.#schedule(session, 0);
  }

  stop(): void {
    this.#running = false;
    for (const entry of this.#entries.values()) this.#stopTimers(entry);
  }

  /** A worker's real request to this node failed (or succeeded with a 5xx): counts against every check of the node. */
  observe(cluster: string, node: string, observation: HealthObservation): void {
    const entry = this.#entries.get(key(cluster, node));
    if (entry) this.#announcing(entry, () => entry.sessions.forEach((session) => this.#record(session, observation)));
  }

  /**
   * The node said it is busy (503 + Retry-After) to a real request: keep all
   * traffic away for that long without counting it as a failure, then let it back.
   */
  coolDown(cluster: string, node: string, ms: number): void {
    const entry = this.#entries.get(key(cluster, node));
    if (entry) this.#coolDown(entry, entry.cooling, undefined, ms);
  }

  /** Drains (or undrains) a node; emits `change` when that changed anything. Returns whether it did. */
  setDraining(cluster: string, node: string, draining: boolean): boolean {
    const id = key(cluster, node);
    if (this.#draining.has(id) === draining) return false;
    if (draining) this.#draining.add(id);
    else this.#draining.delete(id);
    this.emit('change', this.effective());
    return true;
  }

  isDraining(cluster: string, node: string): boolean {
    return this.#draining.has(key(cluster, node));
  }

  /** The main check's verdict per node, and each service check's in `services` where the cluster has any. */
  effective(): NodeHealthUpdate[] {
    return [...this.#entries.values()].map((entry) => {
      const drained = this.#draining.has(key(entry.cluster.name, entry.node.name));
      const update = { cluster: entry.cluster.name, node: entry.node.name, healthy: this.#healthy(this.#main(entry)), ...(drained && { draining: true }) };
      const services = this.#services(entry);
      return services.length === 0 ? update : { ...update, services: Object.fromEntries(services.map((s) => [s.service, this.#healthy(s)])) };
    });
  }

  status(): NodeStatus[] {
    return [...this.#entries.values()].map((entry) => {
      const services = this.#services(entry);
      return {
        cluster: entry.cluster.name,
        name: entry.node.name,
        url: entry.node.url,
        priority: entry.node.priority,
        weight: entry.node.weight,
        draining: this.#draining.has(key(entry.cluster.name, entry.node.name)),
        ...this.#checkStatus(this.#main(entry)),
        ...(services.length === 0
          ? {}
          : { services: services.map((s) => ({ service: s.service!, path: this.#checkOf(s)?.path ?? '', ...this.#checkStatus(s) })) }),
      };
    });
  }

  #main(entry: Entry): Session {
    return entry.sessions.get(MAIN)!;
  }

  #services(entry: Entry): Session[] {
    return [...entry.sessions.values()].filter((session) => session.service !== undefined);
  }

  #checkOf(session: Session): HealthCheckConfig | undefined {
    const { cluster } = session.entry;
    return session.service === undefined ? cluster.healthCheck : cluster.serviceChecks?.[session.service];
  }

  #checkStatus(session: Session): CheckStatus {
    const now = this.#options.clock.now();
    const until = [session.cooling.until, session.entry.cooling.until].filter((t): t is number => t !== undefined && t > now);
    return { healthy: this.#healthy(session), coolingUntil: until.length === 0 ? undefined : Math.max(...until), ...session.health.snapshot() };
  }

  #healthy(session: Session): boolean {
    const now = this.#options.clock.now();
    const cooling = (c: Cooling) => c.until !== undefined && c.until > now;
    return session.health.up && !cooling(session.cooling) && !cooling(session.entry.cooling);
  }

  /** Sessions for the cluster's checks as configured now: new ones start (health from `previous` if it had one), removed ones end. */
  #reconcile(entry: Entry, previous: Entry | undefined): void {
    const wanted = [MAIN, ...Object.keys(entry.cluster.serviceChecks ?? {})];
    for (const [name, session] of entry.sessions) {
      if (wanted.includes(name)) continue;
      this.#stopSession(session);
      session.retired = true;
      entry.sessions.delete(name);
    }
    for (const name of wanted) {
      if (entry.sessions.has(name)) continue;
      const check = name === MAIN ? entry.cluster.healthCheck : entry.cluster.serviceChecks![name]!;
      const session: Session = {
        entry,
        service: name === MAIN ? undefined : name,
        health: previous?.sessions.get(name)?.health ?? new NodeHealth(check.rise, check.fall),
        cooling: { until: undefined, timer: undefined },
        timer: undefined,
        probing: false,
        retired: false,
      };
      entry.sessions.set(name, session);
      if (this.#running) this.#schedule(session, 0);
    }
  }

  #schedule(session: Session, delayMs: number): void {
    const { clock, random = Math.random } = this.#options;
    const interval = this.#checkOf(session)?.intervalMs ?? 1000;
    // Jitter spreads the checks of many nodes (and of several gateways) so they do not beat in step.
    const wait = delayMs > 0 ? delayMs : Math.round(interval * JITTER * random());
    session.timer = clock.setTimeout(() => void this.#check(session), wait);
    session.timer.unref?.();
  }

  async #check(session: Session): Promise<void> {
    const check = this.#checkOf(session);
    if (!this.#running || session.probing || session.retired || !check) return;
    session.probing = true;
    const { entry } = session;
    const result = await probeNode(entry.target, check);
    session.probing = false;
    if (session.retired) return;
    const { cluster, node } = { cluster: entry.cluster.name, node: entry.node.name };
    // Every check of a node meets the same TLS endpoint: the main check's certificate is enough.
    if (result.peerCertificate && session.service === undefined) this.emit('certificate', cluster, node, result.peerCertificate as X509Certificate);
    this.emit('check', cluster, node, result, session.service);
    // UDS says "busy, come back in N seconds": a cool-down of this check's routes, not a strike towards `fall`.
    if (result.busyMs !== undefined) this.#coolDown(entry, session.cooling, session.service, result.busyMs);
    else {
      const observation: HealthObservation = {
        ok: result.ok,
        source: 'check',
        ...(result.layer ? { layer: result.layer } : {}),
        ...(result.reason ? { reason: result.reason } : {}),
      };
      this.#announcing(entry, () => this.#record(session, observation));
    }
    if (!this.#running) return;
    // stop() then start() during this probe already scheduled a check: one timer per session, always.
    if (session.timer) this.#options.clock.clearTimeout(session.timer);
    const interval = (this.#checkOf(session) ?? check).intervalMs;
    const { random = Math.random } = this.#options;
    this.#schedule(session, Math.max(1, Math.round(interval * (1 - JITTER + 2 * JITTER * random()))));
  }

  /** Runs `change`; if any verdict of the node moved, runs `moved` and emits `change` once. */
  #announcing(entry: Entry, change: () => void, moved?: () => void): void {
    const verdicts = () => [...entry.sessions.values()].map((session) => this.#healthy(session)).join();
    const before = verdicts();
    change();
    if (verdicts() === before) return;
    moved?.();
    this.emit('change', this.effective());
  }

  #record(session: Session, observation: HealthObservation): void {
    const changed = session.health.observe(observation, this.#options.clock.now());
    if (changed === undefined) return;
    const { cluster, node } = { cluster: session.entry.cluster.name, node: session.entry.node.name };
    const service = session.service;
    const who = service === undefined ? `${cluster}/${node}` : `${cluster}/${node} (service ${service})`;
    const fields = { cluster, node, ...(service === undefined ? {} : { service }) };
    if (changed) this.#options.log.info({ event: 'upstream_up', ...fields }, `${who} is up`);
    else {
      this.#options.log.warn(
        { event: 'upstream_down', ...fields, layer: observation.layer, reason: observation.reason, source: observation.source },
        `${who} is down: ${observation.layer} ${observation.reason ?? ''}`,
      );
    }
  }

  /** Keeps traffic away for `ms` (capped): the whole node's (`entry.cooling`) or one check's routes'. */
  #coolDown(entry: Entry, cooling: Cooling, service: string | undefined, ms: number): void {
    const { clock, log } = this.#options;
    const until = clock.now() + Math.min(Math.max(ms, 0), MAX_COOL_DOWN_MS);
    if (cooling.until !== undefined && cooling.until >= until) return;
    const { cluster, node } = { cluster: entry.cluster.name, node: entry.node.name };
    const fields = { cluster, node, ...(service === undefined ? {} : { service }) };
    const who = service === undefined ? `${cluster}/${node}` : `${cluster}/${node} (service ${service})`;
    this.#announcing(entry, () => {
      cooling.until = until;
      if (cooling.timer) clock.clearTimeout(cooling.timer);
      cooling.timer = clock.setTimeout(() => {
        cooling.until = undefined;
        cooling.timer = undefined;
        log.info({ event: 'upstream_cool_down_over', ...fields }, `${who} takes traffic again`);
        this.emit('change', this.effective());
      }, until - clock.now());
      cooling.timer.unref?.();
    }, () => log.warn({ event: 'upstream_busy', ...fields, retryAfterMs: until - clock.now() }, `${who} is busy: traffic moved away`));
  }

  #retire(entry: Entry): void {
    this.#stopTimers(entry);
    for (const session of entry.sessions.values()) session.retired = true;
  }

  #stopTimers(entry: Entry): void {
    const { clock } = this.#options;
    if (entry.cooling.timer) clock.clearTimeout(entry.cooling.timer);
    entry.cooling.timer = undefined;
    for (const session of entry.sessions.values()) this.#stopSession(session);
  }

  #stopSession(session: Session): void {
    const { clock } = this.#options;
    if (session.timer) clock.clearTimeout(session.timer);
    if (session.cooling.timer) clock.clearTimeout(session.cooling.timer);
    session.timer = undefined;
    session.cooling.timer = undefined;
  }
}
