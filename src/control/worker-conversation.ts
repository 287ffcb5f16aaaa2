/**
 * The primary's side of the conversation with one data-plane worker, the same
 * for a cluster process (worker-pool.ts) and a thread (thread-pool.ts): the
 * start (hello → init → listening), a config applied and answered, metrics
 * asked for and gathered. A pool adapts its worker to `WorkerTalk` and keeps
 * what differs (forking, ports, restarts).
 */
import { ErrorCodes, UcgateError } from '../errors.js';
import type { ListenerAddress, PrimaryMessage, WorkerMessage } from '../wire/messages.js';

const WORKER_START_TIMEOUT_MS = 30_000;
const WORKER_CONFIG_TIMEOUT_MS = 30_000;
const METRICS_TIMEOUT_MS = 3_000;

/** A worker as the conversation needs it: send a message, hear its answers. */
export interface WorkerTalk {
  send(message: PrimaryMessage): void;
  on(type: 'message', listener: (message: WorkerMessage) => void): void;
  off(type: 'message', listener: (message: WorkerMessage) => void): void;
}

export interface StartHandlers {
  /** The message that brings the worker up to date (config, certificates, keys...). */
  readonly init: () => PrimaryMessage;
  readonly catchUp: () => PrimaryMessage[];
  /** Anything the worker reports that is not part of the start, a config or metrics. */
  readonly report: (message: WorkerMessage) => void;
}

/** Metrics asked of workers and not answered yet, by request id. */
export class MetricsRequests {
  readonly #pending = new Map<number, { worker: WorkerTalk; resolve: (metrics: unknown[]) => void }>();
  #nextId = 1;

  /** The worker's metrics, or undefined when it does not answer in time. */
  ask(worker: WorkerTalk): Promise<unknown[] | undefined> {
    return new Promise((resolve) => {
      const id = this.#nextId++;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve(undefined);
      }, METRICS_TIMEOUT_MS);
      this.#pending.set(id, {
        worker,
        resolve: (metrics) => {
          clearTimeout(timer);
          resolve(metrics);
        },
      });
      worker.send({ t: 'metrics-request', id });
    });
  }

  answer(worker: WorkerTalk, message: WorkerMessage & { t: 'metrics' }): void {
    const pending = this.#pending.get(message.id);
    if (pending?.worker !== worker) return;
    this.#pending.delete(message.id);
    pending.resolve(message.metrics);
  }
}

/**
 * Listens to `worker` for its whole life: resolves with its listeners once it
 * started, rejects if it fails to; `exited` must be called when it exits.
 */
export function converse(
  worker: WorkerTalk,
  handlers: StartHandlers,
  metrics: MetricsRequests,
): { started: Promise<ListenerAddress[]>; exited: (code: number | null, stopping: boolean) => void } {
  let exited!: (code: number | null, stopping: boolean) => void;
  const started = new Promise<ListenerAddress[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new UcgateError(ErrorCodes.WORKER_START, 'worker did not start listening in time')), WORKER_START_TIMEOUT_MS);
    worker.on('message', (message: WorkerMessage) => {
      switch (message.t) {
        case 'hello':
          worker.send(handlers.init());
          break;
        case 'listening':
          clearTimeout(timer);
          for (const update of handlers.catchUp()) worker.send(update);
          resolve([...message.listeners]);
          break;
        case 'start-failed':
          clearTimeout(timer);
          reject(new UcgateError(ErrorCodes.WORKER_START, message.message));
          break;
        case 'metrics':
          metrics.answer(worker, message);
          break;
        case 'config-applied':
        case 'config-failed':
          break;
        default:
          handlers.report(message);
      }
    });
    // While the pool stops, a worker that had not started yet just ends: nothing to report.
    exited = (code, stopping) => {
      clearTimeout(timer);
      if (!stopping) reject(new UcgateError(ErrorCodes.WORKER_START, `worker exited during start (code ${code})`));
    };
  });
  return { started, exited };
}

/** Sends a new config to one worker; resolves with its listeners once it applied it. */
export function applyConfigTo(worker: WorkerTalk, message: PrimaryMessage & { t: 'config' }): Promise<ListenerAddress[]> {
  return new Promise<ListenerAddress[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new UcgateError(ErrorCodes.WORKER_CONFIG, 'a worker did not apply the config in time')), WORKER_CONFIG_TIMEOUT_MS);
    const onMessage = (reply: WorkerMessage) => {
      if (reply.t !== 'config-applied' && reply.t !== 'config-failed') return;
      clearTimeout(timer);
      worker.off('message', onMessage);
      if (reply.t === 'config-applied') resolve([...reply.listeners]);
      else reject(new UcgateError(ErrorCodes.WORKER_CONFIG, reply.message));
    };
    worker.on('message', onMessage);
    worker.send(message);
  });
}
