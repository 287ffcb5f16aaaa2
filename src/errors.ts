/**
 * Every error ucgate raises on purpose, with a stable code. Code branches on
 * `err.code`, never on message text (undici's discipline).
 */

export const ErrorCodes = {
  CONFIG_INVALID: 'UCGATE_ERR_CONFIG_INVALID',
  CONFIG_READ: 'UCGATE_ERR_CONFIG_READ',
  STORE_IO: 'UCGATE_ERR_STORE_IO',
  /** The shared store (Redis) cannot be reached: serve from the local cache, retry with backoff. */
  STORE_UNAVAILABLE: 'UCGATE_ERR_STORE_UNAVAILABLE',
  /** No store key (certificates.store.keyFile / UCGATE_STORE_KEY), or one that is malformed or too open. */
  STORE_KEY: 'UCGATE_ERR_STORE_KEY',
  /** An encrypted value that this store key cannot open (wrong key, or tampered with). */
  STORE_DECRYPT: 'UCGATE_ERR_STORE_DECRYPT',
  /** A lock was not granted in time. */
  STORE_LOCK_TIMEOUT: 'UCGATE_ERR_STORE_LOCK_TIMEOUT',
  /** A write under a lock whose lease (fencing token) this process no longer holds: refused. */
  STORE_LOCK_LOST: 'UCGATE_ERR_STORE_LOCK_LOST',
  CERT_INVALID: 'UCGATE_ERR_CERT_INVALID',
  CERT_MISSING: 'UCGATE_ERR_CERT_MISSING',
  /** An import input that is unreadable, empty, or not a certificate/key/PKCS#12 at all. */
  CERT_INPUT: 'UCGATE_ERR_CERT_INPUT',
  CERT_PKCS12_PASSPHRASE: 'UCGATE_ERR_CERT_PKCS12_PASSPHRASE',
  CERT_KEY_MISMATCH: 'UCGATE_ERR_CERT_KEY_MISMATCH',
  CERT_KEY_WEAK: 'UCGATE_ERR_CERT_KEY_WEAK',
  CERT_NAME_MISMATCH: 'UCGATE_ERR_CERT_NAME_MISMATCH',
  CERT_EXPIRED: 'UCGATE_ERR_CERT_EXPIRED',
  CERT_NOT_YET_VALID: 'UCGATE_ERR_CERT_NOT_YET_VALID',
  CERT_CHAIN: 'UCGATE_ERR_CERT_CHAIN',
  CERT_USAGE: 'UCGATE_ERR_CERT_USAGE',
  CERT_NO_PREVIOUS: 'UCGATE_ERR_CERT_NO_PREVIOUS',
  ISSUER_UNSUPPORTED: 'UCGATE_ERR_ISSUER_UNSUPPORTED',
  /** A renewal would replace an imported certificate with another issuer's, and the operator did not ask for exactly that. */
  CERT_IMPORTED_KEPT: 'UCGATE_ERR_CERT_IMPORTED_KEPT',
  /** The ACME CA answered 429 or `rateLimited`: retry after its Retry-After. */
  ACME_RATE_LIMITED: 'UCGATE_ERR_ACME_RATE_LIMITED',
  /** The ACME CA refused the request (account, EAB, identifiers, CSR): retrying as is will not help. */
  ACME_REJECTED: 'UCGATE_ERR_ACME_REJECTED',
  /** No answer, a TLS failure or a 5xx from the ACME server. */
  ACME_CA_UNREACHABLE: 'UCGATE_ERR_ACME_CA_UNREACHABLE',
  /** The CA could not validate a challenge, or ucgate could not present it (DNS hook, workers). */
  ACME_CHALLENGE_FAILED: 'UCGATE_ERR_ACME_CHALLENGE_FAILED',
  /** Anything else that went wrong while ordering. */
  ACME_FAILED: 'UCGATE_ERR_ACME_FAILED',
  ROUTE_NOT_FOUND: 'UCGATE_ERR_ROUTE_NOT_FOUND',
  ROUTE_METHOD: 'UCGATE_ERR_ROUTE_METHOD',
  ROUTE_DENIED: 'UCGATE_ERR_ROUTE_DENIED',
  ROUTE_BAD_PATH: 'UCGATE_ERR_ROUTE_BAD_PATH',
  UPSTREAM_NO_NODE: 'UCGATE_ERR_UPSTREAM_NO_NODE',
  UPSTREAM_CONNECT: 'UCGATE_ERR_UPSTREAM_CONNECT',
  UPSTREAM_TLS: 'UCGATE_ERR_UPSTREAM_TLS',
  UPSTREAM_TIMEOUT: 'UCGATE_ERR_UPSTREAM_TIMEOUT',
  UPSTREAM_RESET: 'UCGATE_ERR_UPSTREAM_RESET',
  /** A CUCM publisher refused or did not take a leaf for its trust stores. */
  CUCM_TRUST: 'UCGATE_ERR_CUCM_TRUST',
  USAGE: 'UCGATE_ERR_USAGE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class UcgateError extends Error {
  readonly code: ErrorCode;
  /** For CLI commands: the process exit code this error maps to (2 = bad input). */
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UcgateError';
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** A config that failed validation: one `path.to.key: message` line per problem. */
export class ConfigError extends UcgateError {
  readonly problems: readonly string[];
  /**
   * The same problems as `ucgate check` and `start` print them: each prefixed
   * with where its key is in the file (`ucgate.yaml:12:7 clusters[0].nodes[1].url: ...`)
   * when the config came from a file, else the problems themselves.
   */
  readonly located: readonly string[];

  constructor(problems: readonly string[], located?: readonly string[]) {
    super(ErrorCodes.CONFIG_INVALID, problems.join('\n'), { exitCode: 2 });
    this.name = 'ConfigError';
    this.problems = problems;
    this.located = located !== undefined && located.length === problems.length ? located : problems;
  }
}

export function isUcgateError(err: unknown): err is UcgateError {
  return err instanceof UcgateError;
}
