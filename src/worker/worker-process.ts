/**
 * A data-plane worker, a process under node:cluster or a thread of the
 * primary's process: asks the primary for `init`, listens, and from then on
 * applies what the primary broadcasts. Upstream outcomes go back to the
 * primary, which owns health.
 */
import { systemClock } from '../clock.js';
import { HeapRelease, v8HeapReleaseProbe } from '../heap-release.js';
import type { Logger } from '../log.js';
import type { PrimaryMessage, WorkerMessage } from '../wire/messages.js';
import { isPrimaryMessage } from '../wire/messages.js';
import { DataPlane } from './data-plane.js';
import { applyToDataPlane, observerReporting } from './primary-messages.js';

export interface WorkerProcess {
  /** Resolves when the worker has drained and may exit. */
  readonly finished: Promise<void>;
  shutdown(graceMs: number): void;
}

/** How a worker reaches its primary: IPC for a process, the parent port for a thread. */
export interface PrimaryChannel {
  send(message: WorkerMessage): void;
  onMessage(handler: (message: unknown) => void): void;
  /** The primary went away (a process worker's IPC closed); a thread ends with its process. */
  onGone(handler: () => void): void;
  /** Threads: every worker binds the ports itself (SO_REUSEPORT). */
  readonly reusePort: boolean;
}

/** A worker process under node:cluster. */
export const clusterChannel: PrimaryChannel = {
  send: (message) => void process.send?.(message),
  onMessage: (handler) => void process.on('message', handler),
  onGone: (handler) => void process.on('disconnect', handler),
  reusePort: false,
};

export function runWorker(log: Logger, channel: PrimaryChannel = clusterChannel): WorkerProcess {
  const { send } = channel;
  const plane = new DataPlane({
    log,
    observer: observerReporting(send),
    reportTftpFile: (cluster, name) => send({ t: 'tftp-files', cluster, names: [name] }),
    processMetrics: true,
    reusePort: channel.reusePort,
  });
  // Each worker is an isolate of its own, with its own young generation to give back when quiet.
  const heapRelease = new HeapRelease({ clock: systemClock, log, probe: v8HeapReleaseProbe() });
  heapRelease.start();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  let shuttingDown = false;
  const shutdown = (graceMs: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    heapRelease.stop();
    log.info({ event: 'worker_draining', inFlight: plane.inFlight }, 'draining');
    void plane.drain(graceMs).then(finish, finish);
  };

  channel.onMessage((message: unknown) => {
    if (!isPrimaryMessage(message)) return;
    const m = message as PrimaryMessage;
    if (applyToDataPlane(plane, m, { ack: (id) => send({ t: 'ack', id }), log })) return;
    switch (m.t) {
      case 'init':
        plane
          .start({ config: m.config, certificates: m.certificates, ticketKeys: Buffer.from(m.ticketKeys, 'base64'), ...(m.ports && { ports: m.ports }) })
          .then((listeners) => {
            send({ t: 'listening', listeners });
            void heapRelease.releaseNow('started');
          })
          .catch((err: Error) => {
            log.error({ event: 'worker_start_failed', err: err.message }, 'worker could not start');
            send({ t: 'start-failed', message: err.message });
          });
        break;
      case 'config':
        plane.applyConfig(m.config, m.ports).then(
          (listeners) => send({ t: 'config-applied', listeners }),
          (err: Error) => {
            log.error({ event: 'reload_failed', err: err.message }, `could not apply the new config: ${err.message}`);
            send({ t: 'config-failed', message: err.message });
          },
        );
        break;
      case 'metrics-request':
        void plane.metrics.registry.getMetricsAsJSON().then((metrics) => send({ t: 'metrics', id: m.id, metrics }));
        break;
      case 'shutdown':
        shutdown(m.graceMs);
        break;
      default:
        break;
    }
  });
  send({ t: 'hello' });
  // The primary going away (crash, kill -9) must not leave orphaned workers serving.
  channel.onGone(() => shutdown(1000));
  return { finished, shutdown };
}
