/**
 * What a data plane's reports do to the control plane, report by report: an
 * upstream failure or a failing status feeds node health (a Retry-After
 * cools the node down), a sticky session and a learned Jabber group
 * configuration file are passed on to the other workers (a file name only
 * once the primary has checked it again), and an ack settles a broadcast
 * waiting for every worker. The reports come from workers over IPC, or
 * straight from the data plane in the primary's own process (`workers: 0`).
 * The primary (primary.ts) owns the state; this module only says where each
 * report goes. The other direction is src/worker/primary-messages.ts.
 */
import type { Logger } from '../log.js';
import type { UcgateConfig } from '../config/types.js';
import type { PrimaryMessage, WorkerMessage } from '../wire/messages.js';
import type { WorkerRef } from './data-plane-link.js';
import type { HealthManager } from '../upstream/health-manager.js';
import type { FailureLayer } from '../upstream/node-health.js';
import type { LearnedFiles } from '../tftp/learned-files.js';
import type { WorkerAcks } from '../lifecycle/worker-acks.js';

/** What a worker's report may change: the primary's state, read at the time of each report. */
export interface ReportTargets {
  /** The running config (a reload replaces it). */
  readonly config: () => UcgateConfig;
  readonly health: HealthManager;
  readonly tftpFiles: LearnedFiles;
  readonly acks: WorkerAcks;
  readonly log: Logger;
  /** Passes a message on to every worker but `except` (nothing to do when the data plane runs in process). */
  readonly relay: (message: PrimaryMessage, except?: WorkerRef) => void;
}

/** A report from a worker (`from`), or from the in-process data plane (no worker). */
export function onWorkerReport(targets: ReportTargets, message: WorkerMessage, from?: WorkerRef): void {
  const { health } = targets;
  switch (message.t) {
    case 'upstream-failure':
      health.observe(message.cluster, message.node, {
        ok: false,
        source: 'request',
        layer: message.class === 'protocol' ? 'connect' : (message.class as FailureLayer),
        reason: `${message.code}: ${message.message}`,
      });
      break;
    case 'upstream-status':
      if (message.retryAfterMs !== undefined) health.coolDown(message.cluster, message.node, message.retryAfterMs);
      else if (message.status === 502 || message.status === 503 || message.status === 504) {
        health.observe(message.cluster, message.node, { ok: false, source: 'request', layer: 'status', reason: `status ${message.status}` });
      }
      break;
    case 'sticky':
      targets.relay(message, from);
      break;
    case 'tftp-files': {
      if (!targets.config().clusters.some((cluster) => cluster.name === message.cluster)) break;
      // learn() refuses anything but a plain .xml file name: a worker's word is checked again here.
      const fresh = message.names.filter((name) => targets.tftpFiles.learn(message.cluster, name));
      if (fresh.length === 0) break;
      targets.log.info({ event: 'tftp_file_learned', cluster: message.cluster, names: fresh }, `cluster ${message.cluster}: Jabber group configuration file ${fresh.join(', ')} allowed on the TFTP listeners`);
      targets.relay({ t: 'tftp-files', cluster: message.cluster, names: fresh }, from);
      break;
    }
    case 'ack':
      targets.acks.ack(message.id, from === undefined ? 0 : workerNumber(from));
      break;
  }
}

/** A number per worker, for counting each one's acknowledgement once (cluster workers and threads alike). */
const workerNumbers = new WeakMap<WorkerRef, number>();
let lastWorkerNumber = 0;

function workerNumber(worker: WorkerRef): number {
  let number = workerNumbers.get(worker);
  if (number === undefined) {
    number = ++lastWorkerNumber;
    workerNumbers.set(worker, number);
  }
  return number;
}
