/**
 * A ceiling on one route's requests in flight to a cluster, with a short
 * queue for the excess. CUCM refuses rather than queues: Extension Mobility
 * runs at most "Maximum Concurrent Requests" logins at once (default 5, CUCM
 * Feature Configuration Guide, Extension Mobility) and answers the rest with
 * an error the user sees; a CGI/Execute paging push makes every phone call
 * authenticate.jsp in the same second. Waiting a moment at the gateway turns
 * both into a short delay instead of a failure or a flattened node.
 *
 * Per process: each worker gets its share of the ceiling (rounded down, at
 * least one), so all workers together never exceed it.
 */
import type { Clock, ClockTimer } from '../clock.js';

export interface GateWaiter {
  /** A place is free: send the request. */
  admitted(): void;
  /** No place: `full` (the queue is full) or `timeout` (waited queueTimeoutMs). */
  refused(why: 'full' | 'timeout'): void;
}

export interface GateTicket {
  /** The request is done (or its client left): frees its place, or its spot in the queue. */
  leave(): void;
}

interface Queued {
  readonly waiter: GateWaiter;
  timer: ClockTimer | undefined;
  state: 'queued' | 'in' | 'gone';
}

export interface GateLimits {
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  readonly queueTimeoutMs: number;
}

export class ConcurrencyGate {
  readonly #max: number;
  readonly #maxQueued: number;
  readonly #timeoutMs: number;
  readonly #clock: Clock;
  readonly #queue: Queued[] = [];
  #active = 0;

  /** `limits` are for all processes together; `processes` is how many share them. */
  constructor(limits: GateLimits, processes: number, clock: Clock) {
    const share = Math.max(1, processes);
    this.#max = Math.max(1, Math.floor(limits.maxConcurrent / share));
    this.#maxQueued = Math.ceil(limits.maxQueued / share);
    this.#timeoutMs = limits.queueTimeoutMs;
    this.#clock = clock;
  }

  get active(): number {
    return this.#active;
  }
  get queued(): number {
    return this.#queue.length;
  }

  enter(waiter: GateWaiter): GateTicket {
    const entry: Queued = { waiter, timer: undefined, state: 'queued' };
    const ticket: GateTicket = { leave: () => this.#leave(entry) };
    if (this.#active < this.#max) {
      this.#admit(entry);
      return ticket;
    }
    if (this.#queue.length >= this.#maxQueued) {
      entry.state = 'gone';
      waiter.refused('full');
      return ticket;
    }
    entry.timer = this.#clock.setTimeout(() => this.#expire(entry), this.#timeoutMs);
    this.#queue.push(entry);
    return ticket;
  }

  #admit(entry: Queued): void {
    entry.state = 'in';
    this.#active++;
    entry.waiter.admitted();
  }

  #expire(entry: Queued): void {
    entry.timer = undefined;
    if (entry.state !== 'queued') return;
    this.#remove(entry);
    entry.state = 'gone';
    entry.waiter.refused('timeout');
  }

  #leave(entry: Queued): void {
    if (entry.state === 'gone') return;
    if (entry.state === 'queued') {
      this.#remove(entry);
      if (entry.timer !== undefined) this.#clock.clearTimeout(entry.timer);
      entry.state = 'gone';
      return;
    }
    entry.state = 'gone';
    this.#active--;
    const next = this.#queue.shift();
    if (next === undefined) return;
    if (next.timer !== undefined) this.#clock.clearTimeout(next.timer);
    next.timer = undefined;
    this.#admit(next);
  }

  #remove(entry: Queued): void {
    const i = this.#queue.indexOf(entry);
    if (i >= 0) this.#queue.splice(i, 1);
  }
}
