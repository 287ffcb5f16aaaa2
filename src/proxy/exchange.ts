/**
 * One client request's exchange with a cluster: which node gets the next
 * try, when a second try is hedged, when a failed try is replayed, when the
 * whole exchange gives up. The route's replay policy (replay-policy.ts) rules
 * every one of those choices; the HTTP method plays no part.
 *
 * Time and tries are injected (undici's RetryHandler is the model): the
 * request handler passes a factory that starts a real try on a node's pool,
 * and tests pass fakes and a fake clock, so the policy is exercised without
 * sockets. The exchange only decides; what a failure means for the node
 * (logs, metrics, passive health) and what the client sees are the events'
 * business.
 */
import type { Clock, ClockTimer } from '../clock.js';
import { mayHedge, mayReplay, type ReplayPolicy } from './replay-policy.js';

/** A try as the exchange holds it. */
export interface ExchangeTry<N> {
  readonly node: N;
  readonly startedAt: number;
  /** Ends the try without a verdict on the node. Later hooks of an aborted try are not called. */
  abort(): void;
}

/** What a try tells the exchange. A factory must not call these synchronously from startTry. */
export interface TryHooks<R> {
  /** The node's connection is up and the request head is leaving. */
  connected(): void;
  /** A final response head (status 200 and up). */
  response(res: R, status: number, retryAfterMs: number | undefined): void;
  /** The try failed; `answered` when its head had come already (the body was cut). */
  failed(err: Error, answered: boolean): void;
}

export interface NodePicker<N> {
  /** The next node for a try, healthy first, skipping `exclude`; `preferred` first while it is available. */
  pick(exclude: ReadonlySet<N>, preferred?: N): N | undefined;
  /** A node believed healthy, for a hedge; never a panic choice. */
  pickAvailable(exclude: ReadonlySet<N>): N | undefined;
}

export interface ExchangeEvents<N, R> {
  /** `res` is the answer: the other tries are aborted. `failover`: it came from another node than the first. */
  answer(attempt: ExchangeTry<N>, res: R, hedged: boolean, failover: boolean): void;
  /** No answer will come: the client gets `status` (503 no node, 502/504 a failure, 504 the total timeout). */
  giveUp(status: number, why: 'no-node' | 'failed' | 'total-timeout'): void;
  /** A try failed: report it. With `answered`, the client's answer was cut mid-body. */
  tryFailed(attempt: ExchangeTry<N>, err: Error, answered: boolean): void;
  /** `node` lost a hedge race after waiting the whole hedge delay; `winner` answered. */
  slow(node: N, winner: N): void;
  /** A response that is not passed on (a busy answer replayed elsewhere, a late loser): drain it. */
  discard(res: R): void;
}

export interface ExchangeOptions<N, R> {
  readonly replay: ReplayPolicy;
  /** Hedge delay; used only where the policy allows hedging (0 = off). */
  readonly hedgeMs: number;
  /** Further nodes tried after the first. */
  readonly retries: number;
  /** Bound on all tries together until an answer; 0 = none. */
  readonly totalMs: number;
  readonly hasBody: boolean;
  /** The node holding the client's session (affinity). */
  readonly preferred?: N | undefined;
  readonly clock: Clock;
  readonly nodes: NodePicker<N>;
  /** Hedges the cluster can afford (hedge-budget.ts); none given = unbounded. */
  readonly budget?: { spend(): boolean } | undefined;
  readonly startTry: (node: N, hooks: TryHooks<R>) => ExchangeTry<N>;
  /** The status a failed try means for the client (upstream-failure.ts). */
  readonly statusOf: (err: Error) => number;
  readonly events: ExchangeEvents<N, R>;
}

export class Exchange<N, R> {
  readonly #o: ExchangeOptions<N, R>;
  readonly #tried = new Set<N>();
  readonly #hedging: boolean;
  #live: ExchangeTry<N>[] = [];
  #first: N | undefined;
  #last: N | undefined;
  #winner: ExchangeTry<N> | undefined;
  #sent = false;
  #bodyStarted = false;
  #hedged = false;
  #lastStatus: number | undefined;
  #done = false;
  #hedgeTimer: ClockTimer | undefined;
  #totalTimer: ClockTimer | undefined;

  constructor(options: ExchangeOptions<N, R>) {
    this.#o = options;
    this.#hedging = mayHedge(options.replay, options.hedgeMs, options.hasBody);
  }

  /** Nodes tried so far. */
  get tries(): number {
    return this.#tried.size;
  }
  /** The node of the answer, or of the last try. */
  get node(): N | undefined {
    return this.#winner?.node ?? this.#last;
  }
  get winner(): ExchangeTry<N> | undefined {
    return this.#winner;
  }
  /** Whether this exchange can hedge at all (for the hedge budget's earnings). */
  get hedging(): boolean {
    return this.#hedging;
  }

  start(): void {
    const { totalMs, clock } = this.#o;
    if (totalMs > 0) this.#totalTimer = clock.setTimeout(() => this.#expire(), totalMs);
    this.#next();
  }

  /** The client is gone: stop every try still waiting for a head, decide nothing more. */
  cancel(): void {
    if (this.#done) return;
    this.#done = true;
    this.#settle();
    const live = this.#live;
    this.#live = [];
    for (const attempt of live) attempt.abort();
  }

  #next(): void {
    const node = this.#o.nodes.pick(this.#tried, this.#o.preferred);
    if (node === undefined) {
      this.#finish();
      this.#o.events.giveUp(this.#lastStatus ?? 503, 'no-node');
      return;
    }
    this.#launch(node);
  }

  #launch(node: N): void {
    const { clock } = this.#o;
    this.#tried.add(node);
    this.#first ??= node;
    this.#last = node;
    let attempt: ExchangeTry<N> | undefined;
    const hooks: TryHooks<R> = {
      connected: () => this.#connected(),
      response: (res, status, retryAfterMs) => this.#response(attempt!, res, status, retryAfterMs),
      failed: (err, answered) => this.#failed(attempt!, err, answered),
    };
    attempt = this.#o.startTry(node, hooks);
    this.#live.push(attempt);
    if (this.#hedging) {
      if (this.#hedgeTimer !== undefined) clock.clearTimeout(this.#hedgeTimer);
      this.#hedgeTimer = clock.setTimeout(() => this.#hedge(), this.#o.hedgeMs);
    }
  }

  /** No head yet after the hedge delay: the same request to the next available node too; the first head wins. */
  #hedge(): void {
    this.#hedgeTimer = undefined;
    if (this.#done || this.#live.length === 0 || this.#tried.size > this.#o.retries) return;
    const node = this.#o.nodes.pickAvailable(this.#tried);
    if (node === undefined || (this.#o.budget !== undefined && !this.#o.budget.spend())) return;
    this.#hedged = true;
    this.#launch(node);
  }

  #connected(): void {
    this.#sent = true;
    if (this.#o.hasBody) this.#bodyStarted = true;
  }

  #response(attempt: ExchangeTry<N>, res: R, status: number, retryAfterMs: number | undefined): void {
    this.#drop(attempt);
    if (this.#done) {
      this.#o.events.discard(res);
      return;
    }
    if (status === 503) {
      const outcome = { sent: true, bodyStarted: this.#bodyStarted, busy: { retryAfter: retryAfterMs !== undefined } };
      if (mayReplay(this.#o.replay, outcome)) {
        // Busy, and the policy lets another node have it: this answer is the fallback only if none is left.
        const alternative = this.#live.length > 0 || this.#tried.size > this.#o.retries ? undefined : this.#o.nodes.pick(this.#tried);
        if (this.#live.length > 0 || alternative !== undefined) {
          this.#o.events.discard(res);
          this.#lastStatus = 503;
          if (alternative !== undefined) this.#launch(alternative);
          return;
        }
      }
    }
    this.#finish();
    this.#winner = attempt;
    const losers = this.#live;
    this.#live = [];
    const now = this.#o.clock.now();
    for (const loser of losers) {
      // Slow only if it had its head start and still lost: a hedge that merely answered later than the
      // first try tells nothing against its node (the request was slow everywhere).
      if (this.#hedging && loser.startedAt < attempt.startedAt && now - loser.startedAt >= this.#o.hedgeMs) this.#o.events.slow(loser.node, attempt.node);
      loser.abort();
    }
    this.#o.events.answer(attempt, res, this.#hedged, attempt.node !== this.#first);
  }

  #failed(attempt: ExchangeTry<N>, err: Error, answered: boolean): void {
    this.#drop(attempt);
    // The client left, or this is the answer's own body failing: report only.
    if (this.#done && !answered) return;
    this.#o.events.tryFailed(attempt, err, answered);
    if (answered || this.#done) return;
    this.#lastStatus = this.#o.statusOf(err);
    // A hedge still running may yet answer.
    if (this.#live.length > 0) return;
    if (mayReplay(this.#o.replay, { sent: this.#sent, bodyStarted: this.#bodyStarted }) && this.#tried.size <= this.#o.retries) {
      this.#next();
      return;
    }
    this.#finish();
    this.#o.events.giveUp(this.#lastStatus, 'failed');
  }

  /** `totalMs`: every try together has had its time. */
  #expire(): void {
    this.#totalTimer = undefined;
    if (this.#done) return;
    const live = this.#live;
    this.#live = [];
    for (const attempt of live) attempt.abort();
    this.#finish();
    this.#o.events.giveUp(504, 'total-timeout');
  }

  #drop(attempt: ExchangeTry<N>): void {
    const i = this.#live.indexOf(attempt);
    if (i >= 0) this.#live.splice(i, 1);
  }

  /** Decided: no more hedges, retries or deadlines. */
  #finish(): void {
    this.#done = true;
    this.#settle();
  }

  #settle(): void {
    const { clock } = this.#o;
    if (this.#hedgeTimer !== undefined) clock.clearTimeout(this.#hedgeTimer);
    if (this.#totalTimer !== undefined) clock.clearTimeout(this.#totalTimer);
    this.#hedgeTimer = undefined;
    this.#totalTimer = undefined;
  }
}
