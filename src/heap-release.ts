/**
 * Gives a quiet isolate's young generation back to the system.
 *
 * V8 grows an isolate's young generation under load (a data-plane worker's to
 * its cap, 16 MB committed) and shrinks it only at a collection that finds the
 * allocation rate low, or when its memory reducer runs, which it starts only
 * after a full (mark-compact) collection. A worker that served a burst with
 * scavenges alone and then went quiet allocates too little to collect again,
 * so it keeps its load-time young generation for as long as it stays quiet:
 * 15 MB per worker, 30 MB of a two-worker gateway holding its phones' idle
 * connections (docs/performance.md, "Memory on Node 24").
 *
 * So each isolate (the primary, each worker) checks itself every few seconds:
 * once its event loop has been nearly idle for two checks in a row and its
 * young generation is still large, it asks V8 for one memory-reducing
 * collection (`gc()` with the `last-resort` flavour: V8's
 * CollectAllAvailableGarbage, whose reduce-memory mode shrinks the young
 * generation). A quiet isolate has the time; it happens once per busy spell,
 * because the young generation must grow again before the next one. `gc()`
 * exists only with --expose-gc, which this module sets at run time (as Node's
 * own documentation of v8.setFlagsFromString shows) before any worker thread
 * starts, so their contexts get it too. Where V8 does not shrink on it (Node
 * 20's V8 ignores the flavour), the first release shows that and the checks stop.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Clock, ClockTimer } from './clock.js';
import type { Logger } from './log.js';

/** What the policy reads and does; V8's in production, scripted in tests. */
export interface HeapReleaseProbe {
  /** Bytes the young generation has committed (new space and new large-object space). */
  youngGenerationBytes(): number;
  /** Share of the time since the previous call that the event loop was busy, 0 to 1. */
  busySinceLastCall(): number;
  /** One memory-reducing collection. */
  release(): Promise<void>;
}

export interface HeapReleaseOptions {
  readonly clock: Clock;
  readonly log: Logger;
  readonly probe: HeapReleaseProbe;
  /** How often the isolate looks at itself. */
  readonly checkMs?: number;
}

const CHECK_MS = 5_000;
/** An event loop busy less than this share of a check is quiet (a few requests a second). */
const QUIET_BUSY = 0.02;
/** Quiet checks in a row before a release: a pause between bursts is not quiet yet. */
const QUIET_CHECKS = 2;
/** Below this the young generation is at or near V8's starting size: nothing worth a collection. */
const GROWN_BYTES = 4 * 1024 * 1024;
const MB = 1024 * 1024;

export class HeapRelease {
  readonly #options: HeapReleaseOptions;
  #timer: ClockTimer | undefined;
  #quiet = 0;
  #stopped = false;
  #unsupported = false;
  #releasing = false;

  constructor(options: HeapReleaseOptions) {
    this.#options = options;
  }

  start(): void {
    this.#options.probe.busySinceLastCall();
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#options.clock.setTimeout(() => void this.#check(), this.#options.checkMs ?? CHECK_MS);
    this.#timer.unref?.();
  }

  /**
   * A release now, whatever the load: for the end of a busy spell the caller
   * knows of, start-up (loading modules, the config, certificates and TLS
   * contexts leaves the primary 64 MB of young generation and each worker its
   * cap, none of it needed again).
   */
  async releaseNow(reason: string): Promise<void> {
    if (this.#unsupported || this.#releasing || this.#options.probe.youngGenerationBytes() < GROWN_BYTES) return;
    await this.#release(reason);
  }

  async #check(): Promise<void> {
    const { probe } = this.#options;
    this.#quiet = probe.busySinceLastCall() < QUIET_BUSY ? this.#quiet + 1 : 0;
    if (this.#quiet >= QUIET_CHECKS && !this.#releasing && probe.youngGenerationBytes() >= GROWN_BYTES) {
      this.#quiet = 0;
      await this.#release('quiet');
    }
    if (!this.#unsupported) this.#schedule();
  }

  async #release(reason: string): Promise<void> {
    const { probe, log, clock } = this.#options;
    const before = probe.youngGenerationBytes();
    const started = clock.now();
    this.#releasing = true;
    try {
      await probe.release();
    } catch (err) {
      // A runtime whose gc() refuses the request: memory stays as V8 sizes it, nothing else changes.
      this.#unsupported = true;
      log.debug({ event: 'heap_release_unsupported', err: (err as Error).message }, 'a memory-reducing collection cannot be asked for here: no more releases');
      return;
    } finally {
      this.#releasing = false;
    }
    const after = probe.youngGenerationBytes();
    // The collection's own time would count as busy at the next check; it is not load.
    probe.busySinceLastCall();
    if (after >= before) {
      this.#unsupported = true;
      log.debug({ event: 'heap_release_unsupported', youngMb: round(before / MB) }, 'this runtime keeps the young generation after a memory-reducing collection: no more releases');
      return;
    }
    log.debug(
      { event: 'heap_released', reason, youngBeforeMb: round(before / MB), youngAfterMb: round(after / MB), ms: clock.now() - started },
      `${reason}: gave the young generation back`,
    );
  }
}

function round(mb: number): number {
  return Math.round(mb * 10) / 10;
}

export type GcFunction = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async'; flavor?: 'regular' | 'last-resort' }) => Promise<void> | void;

/**
 * This isolate's gc(). The first call in a process (the primary's, before its
 * worker threads start) sets --expose-gc, which makes every context created
 * afterwards carry `gc`; this isolate's own context predates it, so its gc()
 * comes from a new context. (V8 defines the global read-only: it stays.)
 */
export function isolateGc(): GcFunction {
  const global = globalThis as { gc?: unknown };
  if (typeof global.gc === 'function') return global.gc as GcFunction;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as GcFunction;
}

/** The probe of the isolate this runs in. */
export function v8HeapReleaseProbe(): HeapReleaseProbe {
  const gc = isolateGc();
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return {
    youngGenerationBytes: () =>
      getHeapSpaceStatistics()
        .filter((space) => space.space_name === 'new_space' || space.space_name === 'new_large_object_space')
        .reduce((sum, space) => sum + space.space_size, 0),
    busySinceLastCall: () => {
      const now = performance.eventLoopUtilization();
      const since = performance.eventLoopUtilization(now, last);
      last = now;
      return since.utilization;
    },
    release: async () => {
      await gc({ type: 'major', execution: 'async', flavor: 'last-resort' });
    },
  };
}
