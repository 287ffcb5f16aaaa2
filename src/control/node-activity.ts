/**
 * What the dashboard shows of each node beyond its health (HAProxy's stats
 * page: current sessions, rates, "down since", last transitions):
 *
 * - NodeActivity: requests and errors per second and requests in flight, from
 *   the gateway's own Prometheus text (the workers' counters summed), sampled
 *   when a status is asked for; a rate spans the samples of the last WINDOW_MS.
 * - NodeTransitions: the last changes of node state, as the health manager
 *   announces them (up, down, busy, drained, undrained).
 */
import type { EventEmitter } from 'node:events';
import type { NodeHealthUpdate } from '../wire/messages.js';
import type { NodeState, NodeTransition } from '../admin/status-types.js';

/** Per node, as the status reports it. */
export interface NodeActivityView {
  readonly inFlight?: number;
  readonly requestsPerSecond?: number;
  readonly errorsPerSecond?: number;
}

const WINDOW_MS = 10_000;
const MAX_TRANSITIONS = 50;

interface Sample {
  readonly at: number;
  readonly requests: ReadonlyMap<string, number>;
  readonly errors: ReadonlyMap<string, number>;
}

/** `name{a="x",b="y"} 12` → labels and value; undefined for other lines. */
function parseLine(line: string, name: string): { labels: Record<string, string>; value: number } | undefined {
  if (!line.startsWith(`${name}{`)) return undefined;
  const close = line.lastIndexOf('}');
  if (close < 0) return undefined;
  const labels: Record<string, string> = {};
  for (const match of line.slice(name.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[match[1]!] = match[2]!.replace(/\\(.)/g, '$1');
  const value = Number(line.slice(close + 1).trim().split(' ')[0]);
  return Number.isFinite(value) ? { labels, value } : undefined;
}

function add(map: Map<string, number>, key: string, value: number): void {
  map.set(key, (map.get(key) ?? 0) + value);
}

export class NodeActivity {
  #samples: Sample[] = [];

  /** Takes a sample from Prometheus text and answers the views by `cluster/node`. */
  observe(metricsText: string, now: number): Map<string, NodeActivityView> {
    const requests = new Map<string, number>();
    const errors = new Map<string, number>();
    const inFlight = new Map<string, number>();
    for (const line of metricsText.split('\n')) {
      const answered = parseLine(line, 'ucgate_upstream_requests_total');
      if (answered) {
        const id = `${answered.labels.cluster}/${answered.labels.node}`;
        add(requests, id, answered.value);
        if ((answered.labels.code ?? '').startsWith('5')) add(errors, id, answered.value);
        continue;
      }
      const failed = parseLine(line, 'ucgate_upstream_failures_total');
      if (failed) {
        add(errors, `${failed.labels.cluster}/${failed.labels.node}`, failed.value);
        continue;
      }
      const flight = parseLine(line, 'ucgate_upstream_in_flight');
      if (flight) add(inFlight, `${flight.labels.cluster}/${flight.labels.node}`, flight.value);
    }
    const sample: Sample = { at: now, requests, errors };
    this.#samples = [...this.#samples.filter((s) => now - s.at <= WINDOW_MS * 3 && s.at < now), sample];
    // The oldest sample within the window (at least one second back), else none: no rate yet.
    const base = this.#samples.find((s) => now - s.at <= WINDOW_MS && now - s.at >= 1000) ?? this.#samples.find((s) => now - s.at >= 1000);
    const views = new Map<string, NodeActivityView>();
    const ids = new Set([...requests.keys(), ...errors.keys(), ...inFlight.keys()]);
    for (const id of ids) {
      const rate = (now_: ReadonlyMap<string, number>, then: ReadonlyMap<string, number> | undefined) =>
        base && then ? Math.max(0, ((now_.get(id) ?? 0) - (then.get(id) ?? 0)) / ((now - base.at) / 1000)) : undefined;
      const round = (value: number | undefined) => (value === undefined ? undefined : Math.round(value * 100) / 100);
      const rps = round(rate(requests, base?.requests));
      const eps = round(rate(errors, base?.errors));
      views.set(id, {
        ...(inFlight.has(id) && { inFlight: inFlight.get(id)! }),
        ...(rps !== undefined && { requestsPerSecond: rps }),
        ...(eps !== undefined && { errorsPerSecond: eps }),
      });
    }
    return views;
  }
}

function stateOf(update: NodeHealthUpdate | undefined): NodeState | undefined {
  if (!update) return undefined;
  if (update.draining) return update.healthy ? 'drained' : 'drained-down';
  return update.healthy ? 'up' : 'down';
}

/** The last MAX_TRANSITIONS changes of node state, from a HealthManager's `change` events. */
export class NodeTransitions {
  readonly #last = new Map<string, NodeState>();
  #list: NodeTransition[] = [];

  watch(health: EventEmitter & { effective(): NodeHealthUpdate[] }, now: () => number): this {
    for (const update of health.effective()) this.#last.set(`${update.cluster}/${update.node}`, stateOf(update)!);
    health.on('change', (updates: NodeHealthUpdate[]) => {
      for (const update of updates) {
        const id = `${update.cluster}/${update.node}`;
        const to = stateOf(update)!;
        const from = this.#last.get(id);
        this.#last.set(id, to);
        if (from === undefined || from === to) continue;
        this.#list = [{ at: new Date(now()).toISOString(), cluster: update.cluster, node: update.node, from, to }, ...this.#list].slice(0, MAX_TRANSITIONS);
      }
    });
    return this;
  }

  /** Newest first. */
  list(): readonly NodeTransition[] {
    return this.#list;
  }
}
