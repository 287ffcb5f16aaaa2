/**
 * Counts attempts per key in a sliding window (two fixed buckets, weighted:
 * the approximation nginx's limit_req and Cloudflare use) in bounded memory.
 * Each worker counts its own share: the primary spreads connections evenly,
 * so the limit is divided by the number of workers.
 */

interface Window {
  start: number;
  current: number;
  previous: number;
}

const MAX_KEYS = 100_000;

export class AttemptLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #windows = new Map<string, Window>();

  constructor(limit: number, windowMs: number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  #window(key: string, now: number): Window {
    let window = this.#windows.get(key);
    if (!window) {
      window = { start: now - (now % this.#windowMs), current: 0, previous: 0 };
      if (this.#windows.size >= MAX_KEYS) this.#sweep(now);
      this.#windows.set(key, window);
    }
    const elapsed = now - window.start;
    if (elapsed >= this.#windowMs) {
      const steps = Math.floor(elapsed / this.#windowMs);
      window.previous = steps === 1 ? window.current : 0;
      window.current = 0;
      window.start += steps * this.#windowMs;
    }
    return window;
  }

  #estimate(window: Window, now: number): number {
    const weight = 1 - (now - window.start) / this.#windowMs;
    return window.previous * weight + window.current;
  }

  /** Whether `key` is already at its limit (without counting a new attempt). */
  exceeded(key: string, now: number): boolean {
    const window = this.#windows.get(key);
    return window !== undefined && this.#estimate(this.#window(key, now), now) >= this.#limit;
  }

  /** Counts one attempt. */
  hit(key: string, now: number): void {
    this.#window(key, now).current++;
  }

  #sweep(now: number): void {
    for (const [key, window] of this.#windows) {
      if (now - window.start >= 2 * this.#windowMs) this.#windows.delete(key);
    }
    // Still full of live keys (an attack from many addresses): drop the oldest half rather than grow.
    if (this.#windows.size >= MAX_KEYS) {
      let drop = this.#windows.size / 2;
      for (const key of this.#windows.keys()) {
        if (drop-- <= 0) break;
        this.#windows.delete(key);
      }
    }
  }
}
