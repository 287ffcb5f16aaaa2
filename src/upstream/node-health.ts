/**
 * HAProxy's rise/fall hysteresis for one node, in one counter: while up,
 * `fall` consecutive failures take it down; while down, `rise` consecutive
 * successes bring it back. Active checks and real request failures feed the
 * same counter. A node starts up, as HAProxy's servers do, so a fresh gateway
 * serves at once; the first failed checks take it down within `fall` intervals.
 */

export type FailureLayer = 'connect' | 'tls' | 'timeout' | 'status' | 'body' | 'reset' | 'protocol';

export interface HealthObservation {
  readonly ok: boolean;
  readonly layer?: FailureLayer;
  readonly reason?: string;
  /** Where it came from: an active check, or a request a worker proxied. */
  readonly source: 'check' | 'request';
}

export interface NodeHealthSnapshot {
  readonly up: boolean;
  /** Consecutive results against the current state (failures while up, successes while down). */
  readonly streak: number;
  readonly lastCheckAt: number | undefined;
  readonly lastCheckOk: boolean | undefined;
  readonly lastError: { readonly layer: FailureLayer; readonly reason: string; readonly at: number; readonly source: string } | undefined;
  readonly lastChangeAt: number | undefined;
}

export class NodeHealth {
  readonly #rise: number;
  readonly #fall: number;
  #up = true;
  #streak = 0;
  #lastCheckAt: number | undefined;
  #lastCheckOk: boolean | undefined;
  #lastError: NodeHealthSnapshot['lastError'];
  #lastChangeAt: number | undefined;

  constructor(rise: number, fall: number) {
    this.#rise = Math.max(1, rise);
    this.#fall = Math.max(1, fall);
  }

  get up(): boolean {
    return this.#up;
  }

  /** Records one result; returns the new state when it changed, else undefined. */
  observe(observation: HealthObservation, now: number): boolean | undefined {
    if (observation.source === 'check') {
      this.#lastCheckAt = now;
      this.#lastCheckOk = observation.ok;
    }
    if (!observation.ok) {
      this.#lastError = { layer: observation.layer ?? 'protocol', reason: observation.reason ?? '', at: now, source: observation.source };
    }
    if (observation.ok === this.#up) {
      this.#streak = 0;
      return undefined;
    }
    // A passing request says little about a node that checks call down; only checks bring a node back.
    if (observation.ok && observation.source === 'request') return undefined;
    this.#streak++;
    if (this.#streak < (this.#up ? this.#fall : this.#rise)) return undefined;
    this.#up = !this.#up;
    this.#streak = 0;
    this.#lastChangeAt = now;
    return this.#up;
  }

  /** Takes a node down at once, whatever the streak (e.g. it answered with another CA's certificate). */
  forceDown(layer: FailureLayer, reason: string, now: number): boolean {
    this.#lastError = { layer, reason, at: now, source: 'check' };
    if (!this.#up) return false;
    this.#up = false;
    this.#streak = 0;
    this.#lastChangeAt = now;
    return true;
  }

  snapshot(): NodeHealthSnapshot {
    return {
      up: this.#up,
      streak: this.#streak,
      lastCheckAt: this.#lastCheckAt,
      lastCheckOk: this.#lastCheckOk,
      lastError: this.#lastError,
      lastChangeAt: this.#lastChangeAt,
    };
  }
}
