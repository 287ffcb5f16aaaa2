/**
 * Counts login attempts per key, exactly, over a rolling window, and caps the
 * attempts in flight so that no burst gets past the limit.
 *
 * A key's places are taken by
 * - reservations: attempts admitted and not settled yet (on their way to
 *   CUCM, or waiting for its answer), and
 * - counted attempts: one timestamp each, a place taken until the timestamp
 *   is `windowMs` old.
 * An attempt is admitted only while places taken < limit. A reservation is
 * settled either as counted (its place is held for a further `windowMs` from
 * the settling time) or as released (an attempt that turned out not to be a
 * guess, such as a right password). A place is thus held without a gap from
 * the moment an attempt is admitted until `windowMs` after it was last sent
 * anywhere, so within any rolling window of `windowMs` at most `limit`
 * attempts reach CUCM: the ones sent within [T, T + windowMs) all hold a
 * place just before T + windowMs. The two-bucket weighted estimate this
 * replaces let a slow burst through (11 through a limit of 10 when each EM
 * login took 1.5 s).
 *
 * Memory is bounded: per key at most `limit` timestamps and `limit`
 * reservations (the limit is small), and at most `maxKeys` keys, least
 * recently used evicted first (never a key with a reservation in flight).
 * A reservation nobody settles (a caller that lost it) counts as an attempt
 * once it is `maxInFlightMs` old, so a leak costs a place for a while, never
 * forever and never a free guess.
 *
 * Each worker counts its own share: the primary spreads connections evenly,
 * so the caller divides the limit by the number of workers.
 */

/** One admitted attempt, possibly held under several keys (client, user ids). */
export class Reservation {
  constructor(readonly at: number) {}
}

interface KeyState {
  /** Counted attempts, oldest first; a place each until `windowMs` old. */
  readonly times: number[];
  /** Reservations in flight, oldest first. */
  readonly pending: Reservation[];
}

const MAX_KEYS = 100_000;

export interface AttemptLimiterOptions {
  readonly limit: number;
  readonly windowMs: number;
  /** A reservation older than this counts as an attempt made then. Default: the larger of `windowMs` and 60 s. */
  readonly maxInFlightMs?: number;
  /** Default 100,000. */
  readonly maxKeys?: number;
}

export class AttemptLimiter {
  readonly limit: number;
  readonly windowMs: number;
  readonly #maxInFlightMs: number;
  readonly #maxKeys: number;
  /** In use order: a key touched moves to the end. */
  readonly #keys = new Map<string, KeyState>();

  constructor(options: AttemptLimiterOptions) {
    this.limit = Math.max(1, Math.floor(options.limit));
    this.windowMs = options.windowMs;
    this.#maxInFlightMs = options.maxInFlightMs ?? Math.max(options.windowMs, 60_000);
    this.#maxKeys = options.maxKeys ?? MAX_KEYS;
  }

  /** Keys tracked now (for tests and metrics). */
  get size(): number {
    return this.#keys.size;
  }

  /** Drops expired timestamps; turns overdue reservations into counted attempts. */
  #prune(state: KeyState, now: number): void {
    const { times, pending } = state;
    while (pending.length > 0 && now - pending[0]!.at >= this.#maxInFlightMs) {
      const overdue = pending.shift()!;
      this.#count(times, overdue.at + this.#maxInFlightMs);
    }
    let expired = 0;
    while (expired < times.length && now - times[expired]! >= this.windowMs) expired++;
    if (expired > 0) times.splice(0, expired);
  }

  /** Adds a timestamp, keeping the list sorted and at most `limit` long (the newest ones: the longest-held places). */
  #count(times: number[], at: number): void {
    let i = times.length;
    while (i > 0 && times[i - 1]! > at) i--;
    times.splice(i, 0, at);
    if (times.length > this.limit) times.splice(0, times.length - this.limit);
  }

  #state(key: string, now: number, create: boolean): KeyState | undefined {
    let state = this.#keys.get(key);
    if (state) {
      this.#prune(state, now);
      // Least recently used first: a key under attack stays; idle ones go when the table is full.
      this.#keys.delete(key);
      this.#keys.set(key, state);
      return state;
    }
    if (!create) return undefined;
    if (this.#keys.size >= this.#maxKeys) this.#evict(now);
    state = { times: [], pending: [] };
    this.#keys.set(key, state);
    return state;
  }

  /** Places still free under `key` (0 when it is at its limit). */
  free(key: string, now: number): number {
    const state = this.#state(key, now, false);
    return state ? Math.max(0, this.limit - state.times.length - state.pending.length) : this.limit;
  }

  /**
   * How long until a place under `key` frees for certain, in ms: when enough
   * counted attempts have aged out. Reservations in flight may settle
   * sooner (released) or turn into counted attempts: counted as the latter.
   */
  retryAfterMs(key: string, now: number): number {
    const state = this.#state(key, now, false);
    if (!state) return 0;
    const needed = state.times.length + state.pending.length - this.limit + 1;
    if (needed <= 0) return 0;
    const times = state.times;
    if (needed > times.length) return this.windowMs;
    return Math.max(1, times[needed - 1]! + this.windowMs - now);
  }

  /** Takes a place under `key` for `reservation`; the caller checked `free` first (this never refuses). */
  reserve(key: string, reservation: Reservation, now: number): void {
    this.#state(key, now, true)!.pending.push(reservation);
  }

  /**
   * Ends `reservation` under `key`: `counted` keeps its place for `windowMs`
   * from `now`; otherwise the place is free at once. Settling twice, or a
   * reservation that already counted as overdue, changes nothing.
   */
  settle(key: string, reservation: Reservation, counted: boolean, now: number): void {
    const state = this.#state(key, now, false);
    if (!state) return;
    const i = state.pending.indexOf(reservation);
    if (i < 0) return;
    state.pending.splice(i, 1);
    if (counted) this.#count(state.times, now);
  }

  /** Counts an attempt that held no reservation (one admitted without taking a place, that failed). */
  hit(key: string, now: number): void {
    this.#count(this.#state(key, now, true)!.times, now);
  }

  #evict(now: number): void {
    for (const [key, state] of this.#keys) {
      this.#prune(state, now);
      if (state.times.length === 0 && state.pending.length === 0) this.#keys.delete(key);
    }
    // Still full of live keys (an attack from many addresses or on many user ids): drop the least
    // recently used half of those with nothing in flight, rather than grow.
    let drop = this.#keys.size - Math.floor(this.#maxKeys / 2);
    for (const [key, state] of this.#keys) {
      if (drop <= 0) break;
      if (state.pending.length > 0) continue;
      this.#keys.delete(key);
      drop--;
    }
  }
}
