/**
 * Every error ucgate raises on purpose, with a stable code. Code branches on
 * `err.code`, never on message text (undici's discipline).
 */

export const ErrorCodes = {
  CONFIG_INVALID: 'UCGATE_ERR_CONFIG_INVALID',
  CONFIG_READ: 'UCGATE_ERR_CONFIG_READ',
  STORE_IO: 'UCGATE_ERR_STORE_IO',
  CERT_INVALID: 'UCGATE_ERR_CERT_INVALID',
  CERT_MISSING: 'UCGATE_ERR_CERT_MISSING',
  ISSUER_UNSUPPORTED: 'UCGATE_ERR_ISSUER_UNSUPPORTED',
  ROUTE_NOT_FOUND: 'UCGATE_ERR_ROUTE_NOT_FOUND',
  ROUTE_METHOD: 'UCGATE_ERR_ROUTE_METHOD',
  ROUTE_DENIED: 'UCGATE_ERR_ROUTE_DENIED',
  ROUTE_BAD_PATH: 'UCGATE_ERR_ROUTE_BAD_PATH',
  UPSTREAM_NO_NODE: 'UCGATE_ERR_UPSTREAM_NO_NODE',
  UPSTREAM_CONNECT: 'UCGATE_ERR_UPSTREAM_CONNECT',
  UPSTREAM_TLS: 'UCGATE_ERR_UPSTREAM_TLS',
  UPSTREAM_TIMEOUT: 'UCGATE_ERR_UPSTREAM_TIMEOUT',
  UPSTREAM_RESET: 'UCGATE_ERR_UPSTREAM_RESET',
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

  constructor(problems: readonly string[]) {
    super(ErrorCodes.CONFIG_INVALID, problems.join('\n'), { exitCode: 2 });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function isUcgateError(err: unknown): err is UcgateError {
  return err instanceof UcgateError;
}
