/**
 * What went wrong with an ACME order, in the four classes an administrator
 * acts on differently: the CA is rate limiting us (wait), the CA rejects the
 * request (fix the config or the account), the CA cannot be reached (network,
 * TLS trust, CA outage), or a challenge failed (listeners, DNS hook,
 * firewall). acme-client throws plain strings, so the classification works
 * from the last HTTP response it saw (RFC 8555 §6.7 problem documents) and
 * from network error codes, and the result is wrapped with `cause`.
 */
import { UcgateError, ErrorCodes, type ErrorCode } from '../errors.js';
import { retryAfterMs } from '../http/retry-after.js';

/** Why a renewal attempt failed; label values of ucgate_certificate_renewal_failures_total. */
export type FailureReason = 'rate-limited' | 'rejected' | 'ca-unreachable' | 'challenge-failed' | 'other';

const CODE_BY_REASON: Record<FailureReason, ErrorCode> = {
  'rate-limited': ErrorCodes.ACME_RATE_LIMITED,
  rejected: ErrorCodes.ACME_REJECTED,
  'ca-unreachable': ErrorCodes.ACME_CA_UNREACHABLE,
  'challenge-failed': ErrorCodes.ACME_CHALLENGE_FAILED,
  other: ErrorCodes.ACME_FAILED,
};

/** An ACME failure with its class and, when the CA said so, how long to wait. */
export class AcmeError extends UcgateError {
  readonly reason: FailureReason;
  /** From the CA's Retry-After header. */
  readonly retryAfterMs: number | undefined;
  /** The RFC 8555 problem type (`urn:ietf:params:acme:error:...`), when there was one. */
  readonly problemType: string | undefined;

  constructor(reason: FailureReason, message: string, options: { cause?: unknown; retryAfterMs?: number; problemType?: string } = {}) {
    super(CODE_BY_REASON[reason], message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'AcmeError';
    this.reason = reason;
    this.retryAfterMs = options.retryAfterMs;
    this.problemType = options.problemType;
  }
}

/** The last error response the ACME client received. */
export interface ProblemResponse {
  readonly status: number;
  readonly url: string;
  readonly type: string | undefined;
  readonly detail: string | undefined;
  readonly retryAfterMs: number | undefined;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

/** True for errors from node's TLS layer when the server's certificate is not trusted. */
function isTlsTrustCode(code: string): boolean {
  return /^(CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_TLS_|ERR_SSL_)/.test(code);
}

// Problem types that mean "the CA looked and said no" at validation time (RFC 8555 §6.7).
const CHALLENGE_PROBLEMS = new Set(['connection', 'dns', 'incorrectResponse', 'tls', 'caa', 'unauthorized']);

/** `urn:ietf:params:acme:error:rateLimited` → `rateLimited`. */
export function shortProblemType(type: string | undefined): string | undefined {
  return type?.startsWith('urn:ietf:params:acme:error:') ? type.slice('urn:ietf:params:acme:error:'.length) : type;
}

/**
 * Retry-After in ms from `nowMs` (the shared parser, src/http/retry-after.ts); undefined when
 * absent or unreadable. A header node gives as a list is read by its first value.
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  return retryAfterMs(Array.isArray(value) ? value[0] : value, nowMs);
}

/**
 * Turns whatever an ACME exchange threw into an AcmeError. `problem` is the
 * last error response seen (acme-client's own message keeps only its detail).
 */
export function classifyAcmeError(err: unknown, problem: ProblemResponse | undefined, context: string): AcmeError {
  if (err instanceof AcmeError) return err;
  const code = (err as { code?: unknown })?.code;
  const message = (err as Error)?.message ?? String(err);
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || isTlsTrustCode(code))) {
    const hint = isTlsTrustCode(code) ? ' (is certificates.issuer.acme.caFile the CA of the ACME server\'s own TLS?)' : '';
    return new AcmeError('ca-unreachable', `${context}: ACME server unreachable: ${code} ${message}${hint}`, { cause: err });
  }
  if (problem) {
    const type = shortProblemType(problem.type);
    const detail = problem.detail ?? message;
    const options = { cause: err, ...(problem.type && { problemType: problem.type }), ...(problem.retryAfterMs !== undefined && { retryAfterMs: problem.retryAfterMs }) };
    if (problem.status === 429 || type === 'rateLimited') return new AcmeError('rate-limited', `${context}: rate limited by the CA: ${detail}`, options);
    if (problem.status >= 500) return new AcmeError('ca-unreachable', `${context}: the ACME server failed (HTTP ${problem.status}): ${detail}`, options);
    return new AcmeError('rejected', `${context}: the CA rejected the request (${type ?? `HTTP ${problem.status}`}): ${detail}`, options);
  }
  return new AcmeError('other', `${context}: ${message}`, { cause: err });
}

/** A failed challenge, from the `error` the CA put on it (or on its authorization). */
export function challengeError(identifier: string, challengeType: string, error: { type?: string; detail?: string } | undefined): AcmeError {
  const type = shortProblemType(error?.type);
  const detail = error?.detail ?? 'the CA marked the authorization invalid';
  const reason = type === undefined || CHALLENGE_PROBLEMS.has(type) ? 'challenge-failed' : 'rejected';
  return new AcmeError(reason, `${challengeType} challenge for ${identifier} failed${type ? ` (${type})` : ''}: ${detail}`, {
    ...(error?.type && { problemType: error.type }),
  });
}
