/**
 * The data-plane workers under node:cluster: forks them, hands each the
 * current state when it says hello, replaces one that dies, broadcasts, and
 * gathers their metrics. Reports from workers surface as `report` events.
 */
import cluster, { type Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import type { ListenerAddress, PrimaryMessage } from '../wire/messages.js';
import { applyConfigTo, converse, MetricsRequests, type WorkerTalk } from './worker-conversation.js';

const RESTART_DELAY_MS = 500;

/**
 * V8 flags for the workers. Node 24's V8 lets a busy worker's young generation grow to 128 MB
 * (two 64 MB semi-spaces; Node 20 stopped at 32 MB) and keeps the pages once it shrinks again:
 * +100 MB resident per worker under load, for garbage that lives one request. SEMI_SPACE_MB
 * caps each semi-space: 8 MB cost no CPU per keep-alive request against 16 MB and saved 34 MB
 * under load; 4 MB saved a little more but raised p99 (docs/performance.md has the run). An
 * operator's own --max-semi-space-size (in NODE_OPTIONS or on the command line) wins.
 */
export const SEMI_SPACE_MB = 8;

/** Whether the operator chose a semi-space size (in NODE_OPTIONS or on the command line). */
export function semiSpaceChosen(execArgv: readonly string[], nodeOptions = ''): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((arg) => /^--max[-_]semi[-_]space[-_]size\b/.test(arg));
}

export function workerExecArgv(execArgv: readonly string[], nodeOptions = ''): string[] {
  return semiSpaceChosen(execArgv, nodeOptions) ? [...execArgv] : [...execArgv, `--max-semi-space-size=${SEMI_SPACE_MB}`];
}

export interface WorkerPoolOptions {
  readonly count: number;
  readonly log: Logger;
  readonly logLevel: string;
  /** log.format when configured; unset, each worker decides as the primary did (pretty on a terminal: they share its stdout). */
  readonly logFormat?: string;
  /** The message that brings a new worker up to date (config, certificates, keys). */
  readonly initMessage: () => PrimaryMessage;
  /** Messages a (re)started worker needs after init: current health, node sets. */
  readonly catchUp: () => PrimaryMessage[];
}

export class WorkerPool extends EventEmitter {
  readonly #options: WorkerPoolOptions;
  readonly #workers = new Map<Worker, WorkerTalk>();
  readonly #metrics = new MetricsRequests();
  #stopping = false;

  constructor(options: WorkerPoolOptions) {
    super();
    this.#options = options;
  }

  get size(): number {
    return this.#workers.size;
  }

  /** Forks every worker; resolves with the listeners they bound (all share the same ports). */
  async start(): Promise<ListenerAddress[]> {
    // Workers run the same entry point as this process (main.ts under tsx in tests, main.js when built).
    const entry = new URL(import.meta.url.endsWith('.ts') ? '../main.ts' : '../main.js', import.meta.url);
    cluster.setupPrimary({ exec: fileURLToPath(entry), execArgv: workerExecArgv(process.execArgv, process.env.NODE_OPTIONS) });
    const started = await Promise.all(Array.from({ length: this.#options.count }, () => this.#fork()));
    return started[0] ?? [];
  }

  #fork(): Promise<ListenerAddress[]> {
    const worker = cluster.fork({ UCGATE_WORKER: '1', UCGATE_LOG_LEVEL: this.#options.logLevel, UCGATE_LOG_FORMAT: this.#options.logFormat ?? '' });
    const talk: WorkerTalk = {
      send: (message) => void worker.send(message),
      on: (event, listener) => void worker.on(event, listener),
      off: (event, listener) => void worker.off(event, listener),
    };
    this.#workers.set(worker, talk);
    const { started, exited } = converse(
      talk,
      { init: this.#options.initMessage, catchUp: this.#options.catchUp, report: (message) => this.emit('report', message, worker) },
      this.#metrics,
    );
    worker.once('exit', (code, signal) => {
      this.#workers.delete(worker);
      exited(code, this.#stopping);
      if (this.#stopping) return;
      this.#options.log.error({ event: 'worker_exit', code, signal }, 'worker died; starting a replacement');
      setTimeout(() => {
        if (!this.#stopping) this.#fork().catch((err: Error) => this.#options.log.error({ event: 'worker_restart_failed', err: err.message }));
      }, RESTART_DELAY_MS).unref();
    });
    return started;
  }

  broadcast(message: PrimaryMessage, except?: unknown): void {
    for (const [worker, talk] of this.#workers) if (worker !== except && worker.isConnected()) talk.send(message);
  }

  /** Sends a new config to every worker; resolves with the listeners once all have applied it. */
  async applyConfig(message: PrimaryMessage & { t: 'config' }): Promise<ListenerAddress[]> {
    const connected = [...this.#workers].filter(([worker]) => worker.isConnected());
    const applied = await Promise.all(connected.map(([, talk]) => applyConfigTo(talk, message)));
    return applied[0] ?? [];
  }

  /** Every live worker's metrics as prom-client JSON; a worker that does not answer in time is left out. */
  async metrics(): Promise<unknown[][]> {
    const connected = [...this.#workers].filter(([worker]) => worker.isConnected());
    const answers = await Promise.all(connected.map(([, talk]) => this.#metrics.ask(talk)));
    return answers.filter((metrics): metrics is unknown[] => metrics !== undefined);
  }

  /** Asks every worker to drain; SIGKILL for any still there after the grace period plus a margin. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      [...this.#workers.keys()].map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            const killTimer = setTimeout(() => worker.process.kill('SIGKILL'), graceMs + 5_000);
            worker.once('exit', () => {
              clearTimeout(killTimer);
              resolve();
            });
            if (worker.isConnected()) worker.send({ t: 'shutdown', graceMs } satisfies PrimaryMessage);
            else worker.process.kill('SIGTERM');
          }),
      ),
    );
  }
}
