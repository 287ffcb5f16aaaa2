/**
 * The data-plane workers as threads of this process (`workerMode: thread`):
 * starts them, hands each the current state when it says hello, replaces one
 * that dies, broadcasts, and gathers their metrics, as WorkerPool does for
 * processes. Reports from workers surface as `report` events.
 *
 * Each thread binds the listening ports itself with SO_REUSEPORT. For a
 * port-0 listener (tests) the first thread binds and the others are told the
 * port it got. For a configured port, the primary first checks the port is
 * free with an ordinary bind: with SO_REUSEPORT a second gateway would join
 * the first one's port instead of failing.
 */
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import type { UcgateConfig } from '../config/types.js';
import { ErrorCodes, UcgateError } from '../errors.js';
import { assertPortFree } from '../net/port-free.js';
import type { ListenerAddress, PrimaryMessage, SharedPorts } from '../wire/messages.js';
import { applyConfigTo, converse, MetricsRequests, type WorkerTalk } from './worker-conversation.js';
import type { WorkerThreadData } from '../worker/worker-thread.js';
import { SEMI_SPACE_MB, semiSpaceChosen } from './worker-pool.js';

const RESTART_DELAY_MS = 500;
/**
 * Process-wide figures every thread would report alike (CPU, resident memory, descriptors): the
 * primary's own `ucgate_process_*` already counts the whole process, so the workers' copies are
 * dropped rather than summed. Heap, event-loop and GC figures are each thread's own and stay.
 */
const PROCESS_WIDE_METRIC = /^ucgate_worker_process_/;

export interface ThreadPoolOptions {
  readonly count: number;
  readonly log: Logger;
  readonly logLevel: string;
  readonly logFormat?: string;
  readonly config: () => UcgateConfig;
  /** The message that brings a new worker up to date (config, certificates, keys); the pool adds the shared ports. */
  readonly initMessage: () => PrimaryMessage & { t: 'init' };
  readonly catchUp: () => PrimaryMessage[];
  /** The thread's entry point; default worker/worker-thread (tests give a worker of their own). */
  readonly entry?: URL;
}

/** Every listening address a config names (main and TFTP listeners). */
function listenAddresses(config: UcgateConfig): { host: string; port: number }[] {
  const tftp = config.tftp?.listen;
  return [...config.listen.https, ...config.listen.http, ...(tftp?.http ?? []), ...(tftp?.https ?? [])].map(({ host, port }) => ({ host, port }));
}

function sharedPorts(listeners: readonly ListenerAddress[]): SharedPorts {
  return Object.fromEntries(listeners.map((listener) => [listener.name, listener.port]));
}

export class ThreadPool extends EventEmitter {
  readonly #options: ThreadPoolOptions;
  /** In start order: the first binds port-0 listeners, the others join its ports. */
  readonly #workers: { readonly worker: Worker; readonly talk: WorkerTalk }[] = [];
  readonly #metrics = new MetricsRequests();
  #stopping = false;
  /** What the first thread bound: the ports later threads join, and the addresses a reload need not probe. */
  #listeners: readonly ListenerAddress[] = [];

  constructor(options: ThreadPoolOptions) {
    super();
    this.#options = options;
  }

  get size(): number {
    return this.#workers.length;
  }

  async start(): Promise<ListenerAddress[]> {
    await this.#assertFree(this.#options.config());
    const listeners = await this.#start();
    this.#listeners = listeners;
    await Promise.all(Array.from({ length: this.#options.count - 1 }, () => this.#start()));
    return listeners;
  }

  async #assertFree(config: UcgateConfig): Promise<void> {
    for (const { host, port } of listenAddresses(config)) {
      if (port === 0 || this.#listeners.some((listener) => listener.host === host && listener.port === port)) continue;
      try {
        await assertPortFree(host, port);
      } catch (err) {
        throw new UcgateError(ErrorCodes.WORKER_START, `cannot listen on ${host}:${port}: ${(err as Error).message}`);
      }
    }
  }

  #start(): Promise<ListenerAddress[]> {
    // The same build as this module: worker-thread.ts under tsx in tests, worker-thread.js when built.
    const entry = this.#options.entry ?? new URL(import.meta.url.endsWith('.ts') ? '../worker/worker-thread.ts' : '../worker/worker-thread.js', import.meta.url);
    const workerData: WorkerThreadData = { logLevel: this.#options.logLevel, ...(this.#options.logFormat && { logFormat: this.#options.logFormat }) };
    // The young generation per thread, as worker processes get --max-semi-space-size (worker-pool.ts):
    // V8's young generation is three semi-spaces (two, plus the new large-object space).
    const ownChoice = semiSpaceChosen(process.execArgv, process.env.NODE_OPTIONS);
    const worker = new Worker(entry, { workerData, ...(!ownChoice && { resourceLimits: { maxYoungGenerationSizeMb: 3 * SEMI_SPACE_MB } }) });
    const talk: WorkerTalk = {
      send: (message) => worker.postMessage(message),
      on: (event, listener) => void worker.on(event, listener),
      off: (event, listener) => void worker.off(event, listener),
    };
    this.#workers.push({ worker, talk });
    const { started, exited } = converse(
      talk,
      {
        init: () => ({ ...this.#options.initMessage(), ports: sharedPorts(this.#listeners) }),
        catchUp: this.#options.catchUp,
        report: (message) => this.emit('report', message, worker),
      },
      this.#metrics,
    );
    // An exception nothing caught ends the thread (and only it): say what it was; 'exit' replaces it.
    worker.on('error', (err: Error) => this.#options.log.error({ event: 'worker_error', threadId: worker.threadId, err: err.message, stack: err.stack }, 'worker thread failed'));
    worker.once('exit', (code) => {
      const at = this.#workers.findIndex((entry) => entry.worker === worker);
      if (at >= 0) this.#workers.splice(at, 1);
      exited(code, this.#stopping);
      if (this.#stopping) return;
      this.#options.log.error({ event: 'worker_exit', code }, 'worker died; starting a replacement');
      setTimeout(() => {
        if (!this.#stopping) this.#start().catch((err: Error) => this.#options.log.error({ event: 'worker_restart_failed', err: err.message }));
      }, RESTART_DELAY_MS).unref();
    });
    return started;
  }

  broadcast(message: PrimaryMessage, except?: unknown): void {
    for (const { worker, talk } of this.#workers) if (worker !== except) talk.send(message);
  }

  /** Sends a new config to every worker, the first before the others (it binds new port-0 listeners); resolves with the listeners. */
  async applyConfig(message: PrimaryMessage & { t: 'config' }): Promise<ListenerAddress[]> {
    await this.#assertFree(message.config);
    const [first, ...rest] = [...this.#workers];
    if (!first) return [];
    const listeners = await applyConfigTo(first.talk, { ...message, ports: sharedPorts(this.#listeners) });
    this.#listeners = listeners;
    await Promise.all(rest.map(({ talk }) => applyConfigTo(talk, { ...message, ports: sharedPorts(listeners) })));
    return listeners;
  }

  /** Every live worker's metrics as prom-client JSON, without the process-wide ones; a worker that does not answer in time is left out. */
  async metrics(): Promise<unknown[][]> {
    const answers = await Promise.all(this.#workers.map(({ talk }) => this.#metrics.ask(talk)));
    return answers
      .filter((metrics): metrics is unknown[] => metrics !== undefined)
      .map((metrics) => metrics.filter((metric) => !PROCESS_WIDE_METRIC.test((metric as { name?: string }).name ?? '')));
  }

  /** Asks every worker to drain; terminates any still there after the grace period plus a margin. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      this.#workers.map(
        ({ worker, talk }) =>
          new Promise<void>((resolve) => {
            const killTimer = setTimeout(() => void worker.terminate(), graceMs + 5_000);
            worker.once('exit', () => {
              clearTimeout(killTimer);
              resolve();
            });
            talk.send({ t: 'shutdown', graceMs });
          }),
      ),
    );
  }
}
