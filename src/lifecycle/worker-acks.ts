/**
 * Waiting for every data-plane worker to say it applied a message: ACME
 * challenges (the CA may only validate once all can answer) and certificate
 * swaps (so a renewal can report when the new certificate is served
 * everywhere). A worker that dies never answers, so every wait ends at a
 * time-out at the latest and reports how many answered.
 */

export interface AckReport {
  readonly expected: number;
  readonly acked: number;
  readonly timedOut: boolean;
  /** From the send to the last acknowledgement (or the time-out). */
  readonly ms: number;
}

interface Pending {
  readonly expected: number;
  readonly acked: Set<number>;
  readonly startedAt: number;
  readonly timer: NodeJS.Timeout;
  readonly resolve: (report: AckReport) => void;
}

export class WorkerAcks {
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  constructor(options: { readonly timeoutMs: number }) {
    this.#timeoutMs = options.timeoutMs;
  }

  /**
   * A fresh id to put on the message, and a promise of the report once
   * `expected` distinct workers acknowledged it. With none expected it
   * resolves at once.
   */
  expect(expected: number): { id: number; done: Promise<AckReport> } {
    const id = this.#nextId++;
    const startedAt = performance.now();
    if (expected <= 0) return { id, done: Promise.resolve({ expected: 0, acked: 0, timedOut: false, ms: 0 }) };
    const done = new Promise<AckReport>((resolve) => {
      const timer = setTimeout(() => this.#settle(id, true), this.#timeoutMs);
      timer.unref();
      this.#pending.set(id, { expected, acked: new Set(), startedAt, timer, resolve });
    });
    return { id, done };
  }

  /** Worker `worker` applied message `id`. Unknown or settled ids are ignored. */
  ack(id: number, worker: number): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    pending.acked.add(worker);
    if (pending.acked.size >= pending.expected) this.#settle(id, false);
  }

  #settle(id: number, timedOut: boolean): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    pending.resolve({ expected: pending.expected, acked: pending.acked.size, timedOut, ms: Math.round((performance.now() - pending.startedAt) * 10) / 10 });
  }
}
