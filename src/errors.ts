/**
 * Every error ucgate raises on purpose, in one table (fastify's
 * lib/errors.js is the model): each with its stable code, the HTTP status a
 * client gets when the error answers a request, a message template, and what
 * it means (docs/reference.md is generated from this table). Code branches on
 * `err.code`, never on message text (undici's discipline).
 * test/unit/error-table.test.ts checks that every code here is used in src/
 * and that no `UCGATE_ERR_` code is defined anywhere else.
 */
import { format } from 'node:util';

export interface ErrorDefinition {
  /** `UCGATE_ERR_<AREA>_<WHAT>`: what scripts, logs and callers branch on. Never renamed. */
  readonly code: `UCGATE_ERR_${string}`;
  /**
   * The message as {@link createError} builds it (util.format: `%s`, `%d`). Raisers with more to
   * say give the whole message to the UcgateError constructor instead; the template is its shape.
   */
  readonly message: string;
  /** What it means and what to do, for docs/reference.md. */
  readonly meaning: string;
  /** The HTTP status a client is answered with when this failure ends its request; absent when no request sees it. */
  readonly status?: number;
}

export const ErrorTable = {
  // ---- configuration
  CONFIG_INVALID: {
    code: 'UCGATE_ERR_CONFIG_INVALID',
    message: '%s',
    meaning: 'The configuration fails validation: one `path.to.key: problem` line per problem (`ucgate check` lists them). Exit 2.',
  },
  USAGE: {
    code: 'UCGATE_ERR_USAGE',
    message: '%s',
    meaning: 'A command line that is wrong (unknown flag, missing or conflicting arguments). Exit 2.',
  },

  // ---- the certificate store
  STORE_IO: {
    code: 'UCGATE_ERR_STORE_IO',
    message: 'certificate store %s: %s',
    meaning: 'Reading or writing the certificate store (files under certificates.dir, or Redis) failed.',
  },
  STORE_UNAVAILABLE: {
    code: 'UCGATE_ERR_STORE_UNAVAILABLE',
    message: 'certificate store %s unreachable: %s',
    meaning: 'The shared store (Redis) cannot be reached: serve from the local cache, retry with backoff.',
  },
  STORE_KEY: {
    code: 'UCGATE_ERR_STORE_KEY',
    message: 'certificates.store.keyFile: %s',
    meaning: 'No store key (certificates.store.keyFile / UCGATE_STORE_KEY), or one that is malformed or too open.',
  },
  STORE_DECRYPT: {
    code: 'UCGATE_ERR_STORE_DECRYPT',
    message: '%s: cannot decrypt: %s',
    meaning: 'An encrypted value that this store key cannot open (wrong key, or tampered with).',
  },
  STORE_LOCK_TIMEOUT: {
    code: 'UCGATE_ERR_STORE_LOCK_TIMEOUT',
    message: 'timed out after %d ms waiting for lock %s',
    meaning: 'A lock was not granted in time.',
  },
  STORE_LOCK_LOST: {
    code: 'UCGATE_ERR_STORE_LOCK_LOST',
    message: "refused to write %s: the lease on %s (fencing token %s) is no longer this instance's",
    meaning: 'A write under a lock whose lease (fencing token) this process no longer holds: refused.',
  },

  // ---- certificates (import, rollback, serving)
  CERT_INVALID: {
    code: 'UCGATE_ERR_CERT_INVALID',
    message: '%s',
    meaning: 'A certificate or key that cannot be parsed or used.',
  },
  CERT_MISSING: {
    code: 'UCGATE_ERR_CERT_MISSING',
    message: 'no usable %s certificate: %s',
    meaning: 'No certificate where one is needed (nothing served or imported yet, nothing to export).',
  },
  CERT_INPUT: {
    code: 'UCGATE_ERR_CERT_INPUT',
    message: '%s %s: %s',
    meaning: 'An import input that is unreadable, empty, or not a certificate/key/PKCS#12 at all.',
  },
  CERT_PKCS12_PASSPHRASE: {
    code: 'UCGATE_ERR_CERT_PKCS12_PASSPHRASE',
    message: 'wrong passphrase for the PKCS#12 bundle (its MAC does not verify)',
    meaning: 'A PKCS#12 file whose passphrase is missing or wrong.',
  },
  CERT_KEY_MISMATCH: {
    code: 'UCGATE_ERR_CERT_KEY_MISMATCH',
    message: 'private key does not match the certificate (certificate key: %s, private key: %s)',
    meaning: 'The private key does not belong to the certificate.',
  },
  CERT_KEY_WEAK: {
    code: 'UCGATE_ERR_CERT_KEY_WEAK',
    message: '%s',
    meaning: "The certificate's key is too weak to serve.",
  },
  CERT_NAME_MISMATCH: {
    code: 'UCGATE_ERR_CERT_NAME_MISMATCH',
    message: 'certificate SANs do not cover gateway.fqdn %s (SANs: %s)',
    meaning: 'The certificate does not cover the names the gateway must answer for (gateway.fqdn and the configured names).',
  },
  CERT_EXPIRED: {
    code: 'UCGATE_ERR_CERT_EXPIRED',
    message: '%s expired on %s',
    meaning: 'The certificate has expired.',
  },
  CERT_NOT_YET_VALID: {
    code: 'UCGATE_ERR_CERT_NOT_YET_VALID',
    message: '%s is not valid yet (valid from %s)',
    meaning: 'The certificate is not valid yet (notBefore in the future; check the clock).',
  },
  CERT_CHAIN: {
    code: 'UCGATE_ERR_CERT_CHAIN',
    message: 'chain does not build: %s',
    meaning: 'The chain does not lead from the leaf to its issuer (an intermediate missing or out of order).',
  },
  CERT_USAGE: {
    code: 'UCGATE_ERR_CERT_USAGE',
    message: 'certificate is not for TLS servers (its extended key usage lacks serverAuth)',
    meaning: 'Key usage or extended key usage does not allow a TLS server certificate.',
  },
  CERT_NO_PREVIOUS: {
    code: 'UCGATE_ERR_CERT_NO_PREVIOUS',
    message: '%s',
    meaning: '`cert rollback` with no previous certificate to go back to.',
  },
  CERT_IMPORTED_KEPT: {
    code: 'UCGATE_ERR_CERT_IMPORTED_KEPT',
    message: '%s',
    meaning: "A renewal would replace an imported certificate with another issuer's, and the operator did not ask for exactly that.",
  },

  // ---- ACME
  ACME_RATE_LIMITED: {
    code: 'UCGATE_ERR_ACME_RATE_LIMITED',
    message: '%s: rate limited by the CA: %s',
    meaning: 'The ACME CA answered 429 or `rateLimited`: retry after its Retry-After.',
  },
  ACME_REJECTED: {
    code: 'UCGATE_ERR_ACME_REJECTED',
    message: '%s: the CA rejected the request (%s): %s',
    meaning: 'The ACME CA refused the request (account, EAB, identifiers, CSR): retrying as is will not help.',
  },
  ACME_CA_UNREACHABLE: {
    code: 'UCGATE_ERR_ACME_CA_UNREACHABLE',
    message: '%s: ACME server unreachable: %s',
    meaning: 'No answer, a TLS failure or a 5xx from the ACME server.',
  },
  ACME_CHALLENGE_FAILED: {
    code: 'UCGATE_ERR_ACME_CHALLENGE_FAILED',
    message: '%s challenge for %s failed: %s',
    meaning: 'The CA could not validate a challenge, or ucgate could not present it (DNS hook, workers).',
  },
  ACME_FAILED: {
    code: 'UCGATE_ERR_ACME_FAILED',
    message: '%s: %s',
    meaning: 'Anything else that went wrong while ordering.',
  },

  // ---- CUCM trust stores
  CUCM_TRUST: {
    code: 'UCGATE_ERR_CUCM_TRUST',
    message: '%s: %s',
    meaning: 'A CUCM publisher refused or did not take a leaf for its trust stores.',
  },

  // ---- the data plane's workers
  WORKER_START: {
    code: 'UCGATE_ERR_WORKER_START',
    message: '%s',
    meaning: 'A data-plane worker process did not start listening (a port in use, a listener that cannot be opened, a crash, or no answer in time).',
  },
  WORKER_CONFIG: {
    code: 'UCGATE_ERR_WORKER_CONFIG',
    message: '%s',
    meaning: 'A data-plane worker did not apply a new configuration (a reload): it refused it or did not answer in time.',
  },

  // ---- upstream (CUCM nodes): the `code` of `upstream_error` log lines
  UPSTREAM_CONNECT_TIMEOUT: {
    code: 'UCGATE_ERR_UPSTREAM_CONNECT_TIMEOUT',
    message: 'no TLS connection within %d ms',
    meaning: 'The TCP/TLS connection to a node did not complete within clusters[].timeouts.connectMs (504 when no other node answers).',
    status: 504,
  },
  UPSTREAM_FIRST_BYTE_TIMEOUT: {
    code: 'UCGATE_ERR_UPSTREAM_FIRST_BYTE_TIMEOUT',
    message: 'no response head within %d ms',
    meaning: 'A node accepted the request but sent no response head within clusters[].timeouts.firstByteMs (504).',
    status: 504,
  },
  UPSTREAM_SLOW: {
    code: 'UCGATE_ERR_UPSTREAM_SLOW',
    message: 'no response head within %d ms; %s answered first',
    meaning: "A try that had no response head after `hedgeMs` while another node's answer came first (a hedge it lost); the client got that answer.",
  },
  UPSTREAM_FRAMING: {
    code: 'UCGATE_ERR_UPSTREAM_FRAMING',
    message: `Transfer-Encoding "%s" does not end in chunked: the body would run to the connection's close`,
    meaning: "A response framed so that its end is the connection's close (Transfer-Encoding not ending in chunked): refused (502).",
    status: 502,
  },
  NO_LIVE_REQUEST: {
    code: 'UCGATE_ERR_NO_LIVE_REQUEST',
    message: 'no request is waiting for this connection',
    meaning: 'Internal: a connection to a node was about to open with no request waiting for it, so it is not opened.',
  },
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorKey = keyof typeof ErrorTable;

/** The codes by key, as code branches on them: `err.code === ErrorCodes.STORE_UNAVAILABLE`. */
export const ErrorCodes = Object.freeze(Object.fromEntries(Object.entries(ErrorTable).map(([key, entry]) => [key, entry.code]))) as {
  readonly [K in ErrorKey]: (typeof ErrorTable)[K]['code'];
};

export type ErrorCode = (typeof ErrorCodes)[ErrorKey];

const byCode: ReadonlyMap<string, ErrorDefinition> = new Map(Object.values(ErrorTable).map((entry) => [entry.code, entry]));

/** The table's entry for a code. */
export function errorDefinition(code: ErrorCode): ErrorDefinition {
  return byCode.get(code)!;
}

export interface UcgateErrorOptions {
  readonly cause?: unknown;
  /** For CLI commands: the process exit code (2 = bad input). Default 1. */
  readonly exitCode?: number;
}

export class UcgateError extends Error {
  readonly code: ErrorCode;
  /** For CLI commands: the process exit code this error maps to (2 = bad input). */
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, options: UcgateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UcgateError';
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
  }

  /**
   * The HTTP status the table gives this code, when it is one a client can be answered with.
   * Not `status`/`statusCode`: fastify would answer an admin request with it.
   */
  get httpStatus(): number | undefined {
    return errorDefinition(this.code).status;
  }
}

/** A UcgateError whose message is the code's template filled with `args` (fastify's createError). */
export function createError(code: ErrorCode, args: readonly unknown[] = [], options: UcgateErrorOptions = {}): UcgateError {
  return new UcgateError(code, format(errorDefinition(code).message, ...args), options);
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
