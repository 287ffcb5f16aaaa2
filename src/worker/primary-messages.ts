/**
 * The messages between the primary and a data plane, from the data plane's
 * side, the same wherever it runs: in a worker process (worker-process.ts)
 * or inside the primary with `workers: 0` (control/data-plane-link.ts).
 * The messages about the process itself (init, config, metrics-request,
 * shutdown) are each side's own.
 */
import type { Logger } from '../log.js';
import type { PrimaryMessage, WorkerMessage } from '../wire/messages.js';
import type { UpstreamObserver } from '../proxy/request-handler.js';
import type { DataPlane } from './data-plane.js';

export interface AppliedReplies {
  /** Answers a message that asked for an acknowledgement, once applied. */
  readonly ack: (id: number) => void;
  /** Where `certificates_applied` goes (a worker's log; the primary logs its own swaps). */
  readonly log?: Logger;
}

/**
 * Applies a primary's message that changes the data plane's state. Returns
 * false for the messages it leaves to the caller (init, config,
 * metrics-request, shutdown).
 */
export function applyToDataPlane(plane: DataPlane, message: PrimaryMessage, replies: AppliedReplies): boolean {
  switch (message.t) {
    case 'certificates':
      plane.setCertificates(message.certificates);
      replies.log?.info({ event: 'certificates_applied', count: message.certificates.length }, 'certificates applied');
      if (message.ackId !== undefined) replies.ack(message.ackId);
      return true;
    case 'acme-challenge':
      plane.applyChallenge(message.op, message.challenge);
      replies.ack(message.id);
      return true;
    case 'ticket-keys':
      plane.setTicketKeys(Buffer.from(message.ticketKeys, 'base64'));
      return true;
    case 'health':
      plane.setHealth(message.updates);
      return true;
    case 'nodes':
      plane.setNodes(message.cluster, message.nodes, message.health);
      return true;
    case 'sticky':
      plane.learnSession(message.cluster, message.sessionId, message.node);
      return true;
    case 'tftp-files':
      plane.learnTftpFiles(message.cluster, message.names);
      return true;
    default:
      return false;
  }
}

/**
 * Upstream outcomes as control-plane messages. Workers send them over IPC;
 * with `workers: 0` the primary hands its own report handler in.
 */
export function observerReporting(send: (message: WorkerMessage) => void): UpstreamObserver {
  return {
    failure: (node, failure) =>
      send({ t: 'upstream-failure', cluster: node.cluster, node: node.name, class: failure.class, code: failure.code, message: failure.message }),
    serverError: (node, status, retryAfterMs) =>
      send({ t: 'upstream-status', cluster: node.cluster, node: node.name, status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) }),
    session: (cluster, sessionId, node) => send({ t: 'sticky', cluster, sessionId, node }),
  };
}
