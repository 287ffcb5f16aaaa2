/**
 * Node maintenance: an operator drains a node before a CUCM upgrade (admin API,
 * dashboard, `ucgate node drain`). A drained node gets no new request and no
 * new session; requests carrying a sticky session it issued still go there
 * until the session ends or idles out, then the node is idle. HAProxy's
 * `set server ... state drain`, by name.
 *
 * The primary owns the state (HealthManager.setDraining), so the workers learn
 * it with the health broadcast. It survives a reload (the primary keeps it)
 * and a restart (kept in the store under NODE_DRAINS_KEY, read at start);
 * every change is written to the audit log with who asked and why.
 */
import type { Logger } from '../log.js';
import type { Clock } from '../clock.js';
import type { Storage, Locker } from '../store/storage.js';
import { loadText } from '../store/storage.js';
import type { HealthManager } from '../upstream/health-manager.js';
import { appendAudit, auditTime, type AuditActor } from '../certificates/audit-log.js';
import type { DrainRecord } from '../admin/status-types.js';

/** Where drained nodes are kept: JSON `{ "cluster/node": { since, actor, reason? } }`. */
export const NODE_DRAINS_KEY = 'nodes/draining.json';

export interface DrainRequest {
  readonly cluster: string;
  readonly node: string;
  readonly draining: boolean;
  readonly actor: AuditActor;
  /** Free text an operator gave (a change ticket, "CUCM 15 SU2"): shown and audited, never a secret. */
  readonly reason?: string;
}

export interface DrainOutcome {
  readonly cluster: string;
  readonly node: string;
  readonly draining: boolean;
  /** false: it already was in that state (nothing written). */
  readonly changed: boolean;
}

export interface NodeDrainsOptions {
  readonly health: HealthManager;
  readonly storage: (Storage & Partial<Locker>) | undefined;
  readonly clock: Clock;
  readonly log: Logger;
}

const id = (cluster: string, node: string) => `${cluster}/${node}`;

export class NodeDrains {
  readonly #options: NodeDrainsOptions;
  readonly #records = new Map<string, DrainRecord>();
  /** Writes to the store one after the other, in the order of the changes. */
  #writing: Promise<void> = Promise.resolve();

  constructor(options: NodeDrainsOptions) {
    this.#options = options;
  }

  /** Reads the drained nodes from the store (a restart keeps them); an unreadable file is logged and ignored. */
  async load(): Promise<void> {
    const { storage, health, log } = this.#options;
    if (!storage) return;
    try {
      const text = await loadText(storage, NODE_DRAINS_KEY);
      if (text === undefined) return;
      const saved = JSON.parse(text) as Record<string, DrainRecord>;
      for (const [name, record] of Object.entries(saved)) {
        const slash = name.indexOf('/');
        if (slash <= 0) continue;
        this.#records.set(name, record);
        health.setDraining(name.slice(0, slash), name.slice(slash + 1), true);
      }
      if (this.#records.size > 0) {
        log.info({ event: 'nodes_drained_at_start', nodes: [...this.#records.keys()] }, `nodes still drained for maintenance: ${[...this.#records.keys()].join(', ')}`);
      }
    } catch (err) {
      log.warn({ event: 'node_drains_unreadable', key: NODE_DRAINS_KEY, err: (err as Error).message }, 'could not read the drained nodes from the store: none drained');
    }
  }

  /** The record of a drained node, undefined when it takes traffic. */
  record(cluster: string, node: string): DrainRecord | undefined {
    return this.#records.get(id(cluster, node));
  }

  /** Drains or undrains; logs, audits and stores the change. */
  async set(request: DrainRequest): Promise<DrainOutcome> {
    const { health, clock, log, storage } = this.#options;
    const { cluster, node, draining, actor } = request;
    const reason = request.reason?.trim() || undefined;
    const changed = health.setDraining(cluster, node, draining);
    const name = id(cluster, node);
    if (!changed) return { cluster, node, draining, changed };
    const now = clock.now();
    if (draining) this.#records.set(name, { since: new Date(now).toISOString(), actor, ...(reason && { reason }) });
    else this.#records.delete(name);
    if (draining) log.info({ event: 'node_drained', cluster, node, actor, reason }, `${name} drained: new requests go to other nodes, its sticky sessions finish there`);
    else log.info({ event: 'node_undrained', cluster, node, actor, reason }, `${name} undrained: takes new requests again`);
    if (storage) {
      const snapshot = JSON.stringify(Object.fromEntries(this.#records), null, 2) + '\n';
      const write = this.#writing.then(async () => {
        await storage.store(NODE_DRAINS_KEY, snapshot);
        await appendAudit(storage, {
          time: auditTime(now),
          action: draining ? 'node-drained' : 'node-undrained',
          actor,
          subject: name,
          ...(reason && { detail: reason }),
        });
      });
      this.#writing = write.catch(() => undefined);
      try {
        await write;
      } catch (err) {
        // The drain itself holds (the workers have it); only its record is missing.
        log.error({ event: 'node_drain_not_stored', cluster, node, err: (err as Error).message }, `${name}: the drain applies but could not be stored or audited`);
      }
    }
    return { cluster, node, draining, changed };
  }
}
