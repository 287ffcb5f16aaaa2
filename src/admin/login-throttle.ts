/**
 * Failed-login throttling per client address: a sliding window of the last
 * `maxFailures` failure times. Once that many fall within `windowMs`, the
 * client is refused (429 + Retry-After) without its credentials being
 * checked, until the oldest failure leaves the window. Only wrong tokens
 * count; a request with no credentials at all is not a guess.
 */
import type { Clock } from '../clock.js';

export interface LoginThrottleOptions {
  readonly clock: Clock;
  /** Default 10. */
  readonly maxFailures?: number;
  /** Default 60 000. */
  readonly windowMs?: number;
  /** Clients remembered at most; beyond it the stalest are forgotten. Default 10 000. */
  readonly maxClients?: number;
}

/** Wrong-token counting per client address (see the module comment for the rule). */
export class LoginThrottle {
  readonly #clock: Clock;
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxClients: number;
  /** Failure times per client, oldest first, at most `#max` each. */
  readonly #failures = new Map<string, number[]>();

  constructor(options: LoginThrottleOptions) {
    this.#clock = options.clock;
    this.#max = options.maxFailures ?? 10;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxClients = options.maxClients ?? 10_000;
  }

  /** Whole seconds until `client` may try again, or 0 when it may try now. */
  retryAfterSeconds(client: string): number {
    const times = this.#failures.get(client);
    if (!times || times.length < this.#max) return 0;
    const waitMs = times[0]! + this.#windowMs - this.#clock.now();
    return waitMs > 0 ? Math.ceil(waitMs / 1000) : 0;
  }

  /** Records a wrong token; returns the Retry-After seconds when this failure blocked the client, else 0. */
  fail(client: string): number {
    const now = this.#clock.now();
    const times = (this.#failures.get(client) ?? []).filter((at) => now - at < this.#windowMs);
    times.push(now);
    if (times.length > this.#max) times.shift();
    // Re-inserting moves the client to the end of the Map's order, which is what eviction relies on.
    this.#failures.delete(client);
    this.#failures.set(client, times);
    if (this.#failures.size > this.#maxClients) this.#evict(now);
    return this.retryAfterSeconds(client);
  }

  /** A correct token: the client's earlier mistakes no longer count. */
  succeed(client: string): void {
    this.#failures.delete(client);
  }

  /** Forgets clients whose failures all left the window; if still too many, the least recently failing. */
  #evict(now: number): void {
    for (const [client, times] of this.#failures) {
      if (now - times[times.length - 1]! >= this.#windowMs) this.#failures.delete(client);
    }
    for (const client of this.#failures.keys()) {
      if (this.#failures.size <= this.#maxClients) break;
      this.#failures.delete(client);
    }
  }
}
