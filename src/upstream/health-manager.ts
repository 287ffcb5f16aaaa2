/**
 * Health of every upstream node, owned by the primary: one check session per
 * node (never one per worker), passive reports from the workers' real
 * requests, and "busy" cool-downs when a node answers 503 with Retry-After.
 * Emits `change` with the effective state of every node whenever one moves,
 * and `certificate` with what each node presented, for the inventory.
 */
import { EventEmitter } from 'node:events';
import type { X509Certificate } from 'node:crypto';
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import type { Clock, ClockTimer } from '../clock.js';
import type { Logger } from '../log.js';
import type { NodeHealthUpdate } from '../control/messages.js';
import { NodeHealth, type HealthObservation, type NodeHealthSnapshot } from './node-health.js';
import { probeNode, type ProbeTarget } from './health-probe.js';

const JITTER = 0.1;
const MAX_COOL_DOWN_MS = 300_000;

export interface NodeStatus extends NodeHealthSnapshot {
  readonly cluster: string;
  readonly name: string;
  readonly url: string;
  readonly priority: number;
  readonly weight: number;
  /** up, and not cooling down after a 503 + Retry-After. */
  readonly healthy: boolean;
  readonly coolingUntil: number | undefined;
}

interface Session {
  /** Replaced on reload: check settings apply from the next check. */
  cluster: ClusterConfig;
  /** Replaced when an SRV answer changes priority or weight; health and timers carry on. */
  node: NodeConfig;
  readonly target: ProbeTarget;
  readonly health: NodeHealth;
  timer: ClockTimer | undefined;
  coolingUntil: number | undefined;
  coolTimer: ClockTimer | undefined;
  probing: boolean;
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
  readonly #sessions = new Map<string, Session>();
  #running = false;

  constructor(options: HealthManagerOptions) {
    super();
    this.#options = options;
  }

  /** Adds sessions for new nodes and ends those of nodes that left; unchanged nodes keep their state. */
  setNodes(cluster: ClusterConfig, nodes: readonly NodeConfig[]): void {
    const wanted = new Set(nodes.map((node) => key(cluster.name, node.name)));
    for (const [id, session] of this.#sessions) {
      if (session.cluster.name === cluster.name && !wanted.has(id)) {
        this.#stopSession(session);
        this.#sessions.delete(id);
      }
    }
    for (const node of nodes) {
      const id = key(cluster.name, node.name);
      const existing = this.#sessions.get(id);
      if (existing && existing.node.url === node.url && existing.node.address === node.address && existing.cluster.tls === cluster.tls) {
        existing.node = node;
        existing.cluster = cluster;
        continue;
      }
      if (existing) this.#stopSession(existing);
      const url = new URL(node.url);
      const session: Session = {
        cluster,
        node,
        target: {
          host: node.address ?? url.hostname,
          port: url.port ? Number(url.port) : 443,
          hostHeader: url.host,
          servername: cluster.tls.servername ?? url.hostname.replace(/^\[|\]$/g, ''),
          ca: this.#options.caFor(cluster),
          verify: cluster.tls.verify,
        },
        health: existing?.health ?? new NodeHealth(cluster.healthCheck.rise, cluster.healthCheck.fall),
        timer: undefined,
        coolingUntil: undefined,
        coolTimer: undefined,
        probing: false,
      };
      this.#sessions.set(id, session);
      if (this.#running) this.#schedule(session, 0);
    }
    this.emit('change', this.effective());
  }

  /** Ends every session of a cluster that no longer exists (reload). */
  removeCluster(name: string): void {
    for (const [id, session] of this.#sessions) {
      if (session.cluster.name !== name) continue;
      this.#stopSession(session);
      this.#sessions.delete(id);
    }
    this.emit('change', this.effective());
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    for (const session of this.#sessions.values()) this.#schedule(session, 0);
  }

  stop(): void {
    this.#running = false;
    for (const session of this.#sessions.values()) this.#stopSession(session);
  }

  /** A worker's real request to this node failed (or succeeded with a 5xx). */
  observe(cluster: string, node: string, observation: HealthObservation): void {
    const session = this.#sessions.get(key(cluster, node));
    if (session) this.#record(session, observation);
  }

  /**
   * The node said it is busy (503 + Retry-After): keep traffic away for that
   * long without counting it as a failure, then let it back.
   */
  coolDown(cluster: string, node: string, ms: number): void {
    const session = this.#sessions.get(key(cluster, node));
    if (!session) return;
    const { clock } = this.#options;
    const until = clock.now() + Math.min(Math.max(ms, 0), MAX_COOL_DOWN_MS);
    if (session.coolingUntil !== undefined && session.coolingUntil >= until) return;
    const wasHealthy = this.#healthy(session);
    session.coolingUntil = until;
    if (session.coolTimer) clock.clearTimeout(session.coolTimer);
    session.coolTimer = clock.setTimeout(() => {
      session.coolingUntil = undefined;
      session.coolTimer = undefined;
      this.#options.log.info({ event: 'upstream_cool_down_over', cluster, node }, `${cluster}/${node} takes traffic again`);
      this.emit('change', this.effective());
    }, until - clock.now());
    session.coolTimer.unref?.();
    if (wasHealthy) {
      this.#options.log.warn({ event: 'upstream_busy', cluster, node, retryAfterMs: until - clock.now() }, `${cluster}/${node} is busy: traffic moved away`);
      this.emit('change', this.effective());
    }
  }

  #healthy(session: Session): boolean {
    return session.health.up && (session.coolingUntil === undefined || session.coolingUntil <= this.#options.clock.now());
  }

  effective(): NodeHealthUpdate[] {
    return [...this.#sessions.values()].map((session) => ({ cluster: session.cluster.name, node: session.node.name, healthy: this.#healthy(session) }));
  }

  status(): NodeStatus[] {
    return [...this.#sessions.values()].map((session) => ({
      cluster: session.cluster.name,
      name: session.node.name,
      url: session.node.url,
      priority: session.node.priority,
      weight: session.node.weight,
      healthy: this.#healthy(session),
      coolingUntil: session.coolingUntil,
      ...session.health.snapshot(),
    }));
  }

  #schedule(session: Session, delayMs: number): void {
    const { clock, random = Math.random } = this.#options;
    const interval = session.cluster.healthCheck.intervalMs;
    // Jitter spreads the checks of many nodes (and of several gateways) so they do not beat in step.
    const wait = delayMs > 0 ? delayMs : Math.round(interval * JITTER * random());
    session.timer = clock.setTimeout(() => void this.#check(session), wait);
    session.timer.unref?.();
  }

  async #check(session: Session): Promise<void> {
    if (!this.#running || session.probing) return;
    session.probing = true;
    const result = await probeNode(session.target, session.cluster.healthCheck);
    session.probing = false;
    if (this.#sessions.get(key(session.cluster.name, session.node.name)) !== session) return;
    if (result.peerCertificate) this.emit('certificate', session.cluster.name, session.node.name, result.peerCertificate as X509Certificate);
    this.emit('check', session.cluster.name, session.node.name, result);
    // UDS says "busy, come back in N seconds": a cool-down, not a strike towards `fall`.
    if (result.busyMs !== undefined) this.coolDown(session.cluster.name, session.node.name, result.busyMs);
    else this.#record(session, {
      ok: result.ok,
      source: 'check',
      ...(result.layer ? { layer: result.layer } : {}),
      ...(result.reason ? { reason: result.reason } : {}),
    });
    if (!this.#running) return;
    // stop() then start() during this probe already scheduled a check: one timer per node, always.
    if (session.timer) this.#options.clock.clearTimeout(session.timer);
    const interval = session.cluster.healthCheck.intervalMs;
    const { random = Math.random } = this.#options;
    this.#schedule(session, Math.max(1, Math.round(interval * (1 - JITTER + 2 * JITTER * random()))));
  }

  #record(session: Session, observation: HealthObservation): void {
    const now = this.#options.clock.now();
    const wasHealthy = this.#healthy(session);
    const changed = session.health.observe(observation, now);
    if (changed === undefined) return;
    const { cluster, node } = { cluster: session.cluster.name, node: session.node.name };
    if (changed) this.#options.log.info({ event: 'upstream_up', cluster, node }, `${cluster}/${node} is up`);
    else {
      this.#options.log.warn(
        { event: 'upstream_down', cluster, node, layer: observation.layer, reason: observation.reason, source: observation.source },
        `${cluster}/${node} is down: ${observation.layer} ${observation.reason ?? ''}`,
      );
    }
    if (wasHealthy !== this.#healthy(session)) this.emit('change', this.effective());
  }

  #stopSession(session: Session): void {
    if (session.timer) this.#options.clock.clearTimeout(session.timer);
    if (session.coolTimer) this.#options.clock.clearTimeout(session.coolTimer);
    session.timer = undefined;
    session.coolTimer = undefined;
  }
}
