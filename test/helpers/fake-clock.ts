/**
 * A Clock (src/clock.ts) that moves only when a test says so. `advance(ms)`
 * fires every timer due by the new time in due order (ties in the order they
 * were scheduled), with `now()` set to each timer's due time while it runs;
 * timers that a fired timer schedules fire in the same call if they fall due
 * before the target time. Nothing here touches the real timers.
 */
import type { Clock, ClockTimer } from '../../src/clock.js';

export interface FakeTimer extends ClockTimer {
  readonly at: number;
  unref(): FakeTimer;
}

interface Scheduled {
  readonly timer: FakeTimer;
  readonly seq: number;
  readonly fn: () => void;
}

export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #pending = new Map<FakeTimer, Scheduled>();

  /** Starts at `start` (default: a fixed instant, 2030-01-01T00:00:00Z). */
  constructor(start = Date.UTC(2030, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): FakeTimer {
    // As node does: a negative, NaN or missing delay means "as soon as possible".
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const timer: FakeTimer = { at: this.#now + delay, unref: () => timer };
    this.#pending.set(timer, { timer, seq: this.#seq++, fn });
    return timer;
  }

  clearTimeout(timer: ClockTimer): void {
    this.#pending.delete(timer as FakeTimer);
  }

  /** Timers scheduled and not yet fired or cleared. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Due times of the pending timers, soonest first. */
  dueTimes(): number[] {
    return [...this.#pending.values()].map((s) => s.timer.at).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing what falls due on the way; returns how many timers fired. */
  advance(ms: number): number {
    if (!(ms >= 0)) throw new RangeError(`cannot advance a clock by ${ms} ms`);
    const target = this.#now + ms;
    let fired = 0;
    for (;;) {
      const next = this.#next();
      if (!next || next.timer.at > target) break;
      this.#pending.delete(next.timer);
      this.#now = Math.max(this.#now, next.timer.at);
      fired++;
      next.fn();
    }
    this.#now = target;
    return fired;
  }

  /** Jumps to the next pending timer and fires it (and any due at the same instant); returns false if none. */
  next(): boolean {
    const next = this.#next();
    if (!next) return false;
    this.advance(Math.max(0, next.timer.at - this.#now));
    return true;
  }

  #next(): Scheduled | undefined {
    let best: Scheduled | undefined;
    for (const s of this.#pending.values()) {
      if (!best || s.timer.at < best.timer.at || (s.timer.at === best.timer.at && s.seq < best.seq)) best = s;
    }
    return best;
  }
}
