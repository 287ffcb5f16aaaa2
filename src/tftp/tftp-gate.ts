/**
 * The front of the TFTP listeners: only GET/HEAD of an allowed file name (on
 * `tftp.allow`, or a group configuration file the cluster has learned) get
 * past it, to the ordinary proxy path; everything else is answered here and
 * never reaches a node.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { DataPlaneMetrics } from '../metrics/data-plane-metrics.js';
import type { GatewayRequestHandler, ListenerInfo } from '../proxy/request-handler.js';
import type { TftpFileMatcher } from './file-names.js';

const ALLOW = 'GET, HEAD';

function answer(res: ServerResponse, status: 404 | 405): void {
  const body = status === 404 ? '404 Not Found\n' : '405 Method Not Allowed\n';
  if (status === 405) res.setHeader('allow', ALLOW);
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export interface TftpGateOptions {
  readonly matcher: () => TftpFileMatcher;
  /** A name off the allow-list that the request's cluster has learned (group configuration files): its `/name`, else undefined. */
  readonly learned?: (req: IncomingMessage, rawTarget: string) => string | undefined;
  /** An allowed file is about to be fetched: the caller may watch its answer go out. */
  readonly passing?: (req: IncomingMessage, res: ServerResponse, file: string) => void;
  /** False once a reload removed `tftp`: connections still open on the old listeners get 404. */
  readonly enabled: () => boolean;
  readonly proxy: GatewayRequestHandler;
  readonly metrics: DataPlaneMetrics;
  readonly log: Logger;
}

export function createTftpGate(options: TftpGateOptions): GatewayRequestHandler {
  const { proxy, metrics, log } = options;
  return (req: IncomingMessage, res: ServerResponse, listener: ListenerInfo) => {
    const method = req.method ?? 'GET';
    const open = (method === 'GET' || method === 'HEAD') && options.enabled();
    const file = open ? (options.matcher()(req.url ?? '') ?? options.learned?.(req, req.url ?? '')) : undefined;
    if (file === undefined) {
      const status = method === 'GET' || method === 'HEAD' ? 404 : 405;
      metrics.rejectedRequests.inc({ reason: status === 404 ? 'tftp-file' : 'tftp-method' });
      res.once('close', () => metrics.requests.inc({ listener: listener.name, code: res.statusCode }));
      // The target is not logged: it is whatever a scanner chose to send.
      log.debug({ event: 'tftp_refused', listener: listener.name, client: req.socket.remoteAddress, status }, 'TFTP request refused');
      answer(res, status);
      return;
    }
    req.url = file;
    options.passing?.(req, res, file);
    proxy(req, res, listener);
  };
}
