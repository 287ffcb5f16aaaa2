/**
 * The one logger factory. JSON lines on stdout (pino). Secrets are kept out by
 * construction: request logging names its fields explicitly and never copies
 * headers; the redaction list below is a second line of defence.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'cookie',
  'password',
  'passphrase',
  'token',
  'key',
  'privateKey',
  'hmacKey',
];

export interface LoggerOptions {
  level?: string;
  /** Defaults to stdout; tests pass a stream to read what was logged. */
  destination?: DestinationStream;
  base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid, ...options.base },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
