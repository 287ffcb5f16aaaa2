/**
 * Checks every request passes before anything else looks at it: the limits
 * of `limits.http` that Node's parser does not enforce itself, and the
 * ambiguities that enable request smuggling (two Host headers: which one
 * did the node see?). Node's parser already refuses Content-Length with
 * Transfer-Encoding, bad chunk sizes, obsolete folding and bare CR/LF.
 */
import type { IncomingMessage } from 'node:http';
import type { HttpLimits } from '../config/types.js';

export interface LimitVerdict {
  readonly status: 400 | 408 | 413 | 414 | 429 | 431 | 503;
  readonly limit: string;
  /** Whether the connection must close after the answer (framing can no longer be trusted). */
  readonly close: boolean;
}

export const OVER_CLIENT_CONNECTIONS: LimitVerdict = { status: 429, limit: 'connections-per-client', close: true };
export const OVER_TOTAL_CONNECTIONS: LimitVerdict = { status: 503, limit: 'connections', close: true };
const URL_TOO_LONG: LimitVerdict = { status: 414, limit: 'url', close: false };
const TOO_MANY_HEADERS: LimitVerdict = { status: 431, limit: 'headers', close: true };
const DUPLICATE_HOST: LimitVerdict = { status: 400, limit: 'duplicate-host', close: true };
const BODY_TOO_LARGE: LimitVerdict = { status: 413, limit: 'body', close: true };
/** A body not complete by limits.http.bodyTimeoutMs, or streaming below minBodyBytesPerSecond. */
const BODY_TOO_SLOW: LimitVerdict = { status: 408, limit: 'body-timeout', close: true };

export function checkRequestHead(req: IncomingMessage, limits: HttpLimits): LimitVerdict | undefined {
  if ((req.url?.length ?? 0) > limits.maxUrlBytes) return URL_TOO_LONG;
  const raw = req.rawHeaders;
  if (raw.length / 2 > limits.maxHeaders) return TOO_MANY_HEADERS;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host' && ++hosts > 1) return DUPLICATE_HOST;
  }
  return undefined;
}

/** A declared body larger than allowed is refused before a byte of it is read. */
export function checkDeclaredBody(req: IncomingMessage, maxBodyBytes: number): LimitVerdict | undefined {
  const length = req.headers['content-length'];
  return length !== undefined && Number(length) > maxBodyBytes ? BODY_TOO_LARGE : undefined;
}

export { BODY_TOO_LARGE, BODY_TOO_SLOW };
