/**
 * Answers the gateway gives itself rather than a node's: refusals, routing
 * errors, timeouts (in a form a Cisco IP phone can show, to phones). And the
 * access-log line every request gets, proxied or not.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { isCiscoIpPhone, phoneTextBody } from './phone-answer.js';

const PLAIN_CONTENT_TYPE = 'text/plain; charset=utf-8';
const PHONE_CONTENT_TYPE = 'text/xml; charset=utf-8';

export interface ListenerInfo {
  readonly name: string;
  readonly protocol: 'https' | 'http';
  readonly port: number;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  413: 'Content Too Large',
  414: 'URI Too Long',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/**
 * A short answer of the gateway's own; once a node's head has gone out, the
 * connection is cut instead. Plain text, except to a Cisco IP phone, which
 * gets a `CiscoIPPhoneText` it can show (phone-answer.ts), with the same
 * status and headers already set (Retry-After, Allow) kept. The client is
 * read from `res.req`, so the many call sites need not pass the request.
 * `reason`: one line for a phone's screen, naming no node; only phones see it.
 */
export function respondStatus(res: ServerResponse, status: number, reason?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // res.req is unset only for a ServerResponse built by hand; such a caller gets plain text.
  const phone = (res.req as IncomingMessage | undefined) !== undefined && isCiscoIpPhone(res.req.headers);
  const body = phone ? phoneTextBody(status, reason, res.getHeader('retry-after')) : `${status} ${STATUS_TEXT[status] ?? ''}\n`;
  res.writeHead(status, { 'content-type': phone ? PHONE_CONTENT_TYPE : PLAIN_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export interface AccessEntry {
  readonly startNs: bigint;
  readonly cluster?: string | undefined;
  readonly node?: string | undefined;
  readonly bytes: number;
  /** The target as it may be logged (see loggable-target.ts), or `[limit]` for a refused head. */
  readonly path: string;
  readonly tries: number;
}

export function accessLog(log: Logger, req: IncomingMessage, res: ServerResponse, listener: ListenerInfo, entry: AccessEntry): void {
  // Fields are named one by one: headers (Authorization, Cookie) are never copied into a log line.
  log.info({
    event: 'access',
    listener: listener.name,
    client: req.socket.remoteAddress,
    method: req.method,
    path: entry.path,
    status: res.writableFinished ? res.statusCode : 0,
    cluster: entry.cluster,
    node: entry.node,
    tries: entry.tries,
    durationMs: Number(process.hrtime.bigint() - entry.startNs) / 1e6,
    bytes: entry.bytes,
  });
}
