/**
 * One table from an upstream failure to its class and to the status the client
 * gets (http-proxy-middleware's status-code.ts): reset, TLS or protocol → 502,
 * timeout → 504, no node → 503. A node that refused the connection (or could
 * not be reached) is no node either: nothing reached CUCM, so 503 tells the
 * client the service is unavailable and safe to try again, which 502 does not.
 * Branches on `err.code`, never on message text.
 */
import { format } from 'node:util';
import { ErrorCodes, errorDefinition } from '../errors.js';

export type FailureClass = 'connect' | 'tls' | 'timeout' | 'reset' | 'protocol';

export interface UpstreamFailure {
  readonly class: FailureClass;
  readonly code: string;
  readonly status: 502 | 503 | 504;
  readonly message: string;
}

export const CONNECT_TIMEOUT = ErrorCodes.UPSTREAM_CONNECT_TIMEOUT;
export const FIRST_BYTE_TIMEOUT = ErrorCodes.UPSTREAM_FIRST_BYTE_TIMEOUT;
/** A try that had no response head after `hedgeMs` while another node's answer came first (a hedge it lost). */
export const SLOW_NODE = ErrorCodes.UPSTREAM_SLOW;
/** A response framed so that its end is the connection's close (Transfer-Encoding not ending in chunked). */
export const BAD_FRAMING = ErrorCodes.UPSTREAM_FRAMING;

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);
// UND_ERR_SOCKET: the pool's word for a connection the node closed or reset under a request.
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
]);

export function classifyUpstreamError(err: unknown): UpstreamFailure {
  const code = String((err as { code?: unknown })?.code ?? 'UNKNOWN');
  const message = (err as Error)?.message ?? String(err);
  if (code === CONNECT_TIMEOUT || code === FIRST_BYTE_TIMEOUT || code === 'ETIMEDOUT') return { class: 'timeout', code, status: 504, message };
  if (CONNECT_CODES.has(code)) return { class: 'connect', code, status: 503, message };
  if (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return { class: 'tls', code, status: 502, message };
  if (RESET_CODES.has(code)) return { class: 'reset', code, status: 502, message };
  return { class: 'protocol', code, status: 502, message };
}

export class UpstreamFramingError extends Error {
  readonly code = BAD_FRAMING;
  constructor(transferEncoding: string) {
    super(format(errorDefinition(BAD_FRAMING).message, transferEncoding));
  }
}

export class UpstreamTimeoutError extends Error {
  readonly code: string;
  constructor(code: typeof CONNECT_TIMEOUT | typeof FIRST_BYTE_TIMEOUT, ms: number) {
    super(format(errorDefinition(code).message, ms));
    this.code = code;
  }
}
