/**
 * The one logger factory. JSON lines on stdout (pino), or with `log.format:
 * pretty` — the default when stdout is a terminal — one readable line per
 * event (log-pretty.ts). Secrets are kept out by construction: request
 * logging names its fields explicitly and never copies headers; the
 * redaction list below is a second line of defence.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { prettyStream } from './log-pretty.js';

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
  /**
   * `json` or `pretty`; unset: pretty when the output is stdout and a
   * terminal, else json (see {@link resolveLogFormat}).
   */
  format?: LogFormat | undefined;
  /** Colours in pretty lines; default: stdout is a terminal and NO_COLOR is not set. */
  color?: boolean;
}

export type LogFormat = 'json' | 'pretty';

/** `log.format` as configured (or the UCGATE_LOG_FORMAT a worker gets), else pretty on a terminal, json elsewhere. */
export function resolveLogFormat(configured: string | undefined, isTTY: boolean = process.stdout.isTTY === true): LogFormat {
  if (configured === 'json' || configured === 'pretty') return configured;
  return isTTY ? 'pretty' : 'json';
}

/** https://no-color.org: NO_COLOR set to anything but '' turns colours off; never colours when not on a terminal. */
export function useColor(env: NodeJS.ProcessEnv = process.env, isTTY: boolean = process.stdout.isTTY === true): boolean {
  return isTTY && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.destination !== undefined ? (options.format ?? 'json') : resolveLogFormat(options.format);
  const out = options.destination ?? pino.destination({ dest: 1, sync: true });
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid, ...options.base },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    format === 'pretty' ? prettyStream(out, { color: options.color ?? (options.destination === undefined && useColor()) }) : out,
  );
}
