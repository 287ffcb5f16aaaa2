/**
 * How the primary reaches its data plane: workers as threads of this process
 * or as processes of their own (node:cluster, messages over IPC; which one:
 * worker-mode.ts), or with `workers: 0` the data plane in the primary's own
 * process, to which the same messages are applied directly
 * (src/worker/primary-messages.ts, as a worker applies them). The primary
 * talks to any of them through this one interface and never asks which it has.
 */
import type { Logger } from '../log.js';
import type { UcgateConfig } from '../config/types.js';
import type { ListenerAddress, PrimaryMessage, WireCertificate, WorkerMessage } from '../wire/messages.js';
import { WorkerPool } from './worker-pool.js';
import { ThreadPool } from './thread-pool.js';
import { resolveWorkerMode } from './worker-mode.js';

/** Which worker a report came from: only ever handed back to `relay`. */
export type WorkerRef = object;

export interface DataPlaneLink {
  /** How the data plane runs: worker threads, worker processes, or in this process (`workers: 0`). */
  readonly mode: 'thread' | 'process' | 'in-process';
  /** Opens the listeners; resolves with their addresses (every worker binds the same ones). */
  start(): Promise<ListenerAddress[]>;
  /** A message for the data plane: to every worker, or applied in this process. */
  send(message: PrimaryMessage): void;
  /** Passes a worker's report on to every other worker (in process there is no other: nothing to do). */
  relay(message: PrimaryMessage, except?: WorkerRef): void;
  /** How many acknowledgements a message that asks for them gets (in process: none, it is applied before send returns). */
  readonly ackers: number;
  /** A new config (reload); resolves with the listeners once applied everywhere. */
  applyConfig(config: UcgateConfig): Promise<ListenerAddress[]>;
  /** Every data plane's metrics as prom-client JSON. */
  metrics(): Promise<unknown[][]>;
  /** Stops accepting and drains within `graceMs`. */
  stop(graceMs: number): Promise<void>;
}

export interface DataPlaneLinkOptions {
  /** The running config (a reload replaces it). */
  readonly config: () => UcgateConfig;
  readonly log: Logger;
  /** What a data plane starts with beyond the config: the served certificates and the ticket keys. */
  readonly init: () => { readonly certificates: WireCertificate[]; readonly ticketKeys: Buffer };
  /** Messages a data plane that just started needs (node sets from SRV, health, challenges...). */
  readonly catchUp: () => PrimaryMessage[];
  /** A report from a worker (`from`), or from the data plane in this process. */
  readonly onReport: (message: WorkerMessage, from?: WorkerRef) => void;
}

/**
 * The link `config.workers` asks for. The in-process one is loaded only when
 * asked for: with workers, the data plane (the proxy, undici) runs in them and
 * the primary need not carry it (about 27 MB of resident memory for undici alone).
 */
export async function createDataPlaneLink(options: DataPlaneLinkOptions): Promise<DataPlaneLink> {
  if (options.config().workers > 0) return new WorkerPoolLink(options, resolveWorkerMode(options.config().workerMode));
  const { InProcessLink } = await import('./in-process-link.js');
  return new InProcessLink(options);
}

class WorkerPoolLink implements DataPlaneLink {
  readonly #pool: WorkerPool | ThreadPool;
  readonly mode: 'thread' | 'process';

  constructor(options: DataPlaneLinkOptions, mode: 'thread' | 'process') {
    this.mode = mode;
    const config = options.config();
    const poolOptions = {
      count: config.workers,
      log: options.log,
      logLevel: config.log.level,
      ...(config.log.format && { logFormat: config.log.format }),
      config: options.config,
      initMessage: () => {
        const { certificates, ticketKeys } = options.init();
        return { t: 'init', config: options.config(), certificates, ticketKeys: ticketKeys.toString('base64') } as const;
      },
      catchUp: options.catchUp,
    };
    this.#pool = mode === 'thread' ? new ThreadPool(poolOptions) : new WorkerPool(poolOptions);
    this.#pool.on('report', (message: WorkerMessage, worker: WorkerRef) => options.onReport(message, worker));
  }

  get ackers(): number {
    return this.#pool.size;
  }

  start(): Promise<ListenerAddress[]> {
    return this.#pool.start();
  }

  send(message: PrimaryMessage): void {
    this.#pool.broadcast(message);
  }

  relay(message: PrimaryMessage, except?: WorkerRef): void {
    this.#pool.broadcast(message, except);
  }

  applyConfig(config: UcgateConfig): Promise<ListenerAddress[]> {
    return this.#pool.applyConfig({ t: 'config', config });
  }

  metrics(): Promise<unknown[][]> {
    return this.#pool.metrics();
  }

  stop(graceMs: number): Promise<void> {
    return this.#pool.stop(graceMs);
  }
}
