/**
 * `log.format: pretty` (the default on a terminal): pino's JSON lines turned
 * into one line a person reads, as a destination stream pino writes to —
 * no pino-pretty, no worker thread. Level colours on a terminal (none with
 * NO_COLOR or when not a TTY); node up/down, certificate and reload events
 * carry a tag that stands out:
 *
 *   2026-12-07 02:46:42.123Z WARN  ▼ NODE DOWN cucm/pub is down: connect ECONNREFUSED  layer=connect source=check
 *   2026-12-07 02:46:43.001Z INFO  ◆ CERT      certificate renewed  keyType=rsa-2048 serial=0A1B
 *   2026-12-07 02:46:44.500Z WARN  ↻ RELOAD    reload refused (the running config stays): clusters[0].nodes[1].url: must be an https:// URL
 *
 * Whatever pino wrote that is not a JSON object passes through unchanged.
 */
import type { DestinationStream } from 'pino';

export interface PrettyOptions {
  /** ANSI colours: only for a terminal, never with NO_COLOR. */
  readonly color: boolean;
}

const ESC = '\u001b[';
const paint = (on: boolean, code: string, text: string) => (on ? `${ESC}${code}m${text}${ESC}0m` : text);

const LEVEL_COLOURS: Record<string, string> = {
  fatal: '1;37;41',
  error: '1;31',
  warn: '1;33',
  info: '32',
  debug: '34',
  trace: '90',
};

/** pino's numeric levels, in case a line carries the number rather than the label. */
const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

interface Tag {
  readonly text: string;
  readonly colour: string;
}

const TAG_WIDTH = 11;

/** The events an operator scans for: a node going up or down, certificates, reloads. */
export function eventTag(event: string): Tag | undefined {
  if (event === 'upstream_up' || event === 'upstream_cool_down_over') return { text: '▲ NODE UP', colour: '1;32' };
  if (event === 'upstream_down') return { text: '▼ NODE DOWN', colour: '1;31' };
  if (event === 'upstream_busy') return { text: '▼ NODE BUSY', colour: '1;33' };
  if (/^(cert_|certificate|certificates_|upstream_certificate|cucm_trust_|acme_|ari_)/.test(event)) return { text: '◆ CERT', colour: '1;35' };
  if (event.startsWith('reload_')) return { text: '↻ RELOAD', colour: '1;36' };
  return undefined;
}

/** Fields shown in the line's head (or not at all), never again as key=value. */
const HEAD_FIELDS = new Set(['time', 'level', 'msg', 'event', 'pid', 'hostname', 'role', 'worker']);

function fieldValue(value: unknown): string {
  if (typeof value === 'string') return value !== '' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  // An error pino serialised: its message is what a person needs on this line.
  const message = typeof value === 'object' && value !== null ? (value as { message?: unknown; stack?: unknown }) : undefined;
  if (typeof message?.message === 'string' && message.stack !== undefined) return JSON.stringify(message.message);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function when(time: unknown): string {
  if (typeof time === 'string') return time.replace('T', ' ');
  if (typeof time === 'number') return new Date(time).toISOString().replace('T', ' ');
  return '';
}

/** One JSON log line (as pino writes it) → one readable line, without the newline. */
export function formatLogLine(line: string, options: PrettyOptions): string {
  let entry: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return line;
    entry = parsed as Record<string, unknown>;
  } catch {
    return line;
  }
  const { color } = options;
  const level = typeof entry.level === 'number' ? (LEVEL_NAMES[entry.level] ?? String(entry.level)) : String(entry.level ?? 'info');
  const parts: string[] = [];
  const time = when(entry.time);
  if (time !== '') parts.push(paint(color, '2', time));
  parts.push(paint(color, LEVEL_COLOURS[level] ?? '0', level.toUpperCase().padEnd(5)));
  if (entry.role === 'worker') parts.push(paint(color, '2', `w${entry.worker === undefined ? '' : String(entry.worker)}`));
  const event = typeof entry.event === 'string' ? entry.event : undefined;
  const tag = event === undefined ? undefined : eventTag(event);
  const msg = typeof entry.msg === 'string' ? entry.msg : undefined;
  if (tag) parts.push(paint(color, tag.colour, tag.text.padEnd(TAG_WIDTH)));
  // The message says what happened; the event name stays for grep when there is no tag, or no message.
  if (event !== undefined && (tag === undefined || msg === undefined)) parts.push(paint(color, '2', event));
  if (msg !== undefined) parts.push(level === 'error' || level === 'fatal' ? paint(color, '1', msg) : msg);
  const fields = Object.entries(entry)
    .filter(([key, value]) => !HEAD_FIELDS.has(key) && value !== undefined)
    .map(([key, value]) => `${paint(color, '2', `${key}=`)}${fieldValue(value)}`);
  return fields.length > 0 ? `${parts.join(' ')}  ${fields.join(' ')}` : parts.join(' ');
}

/** The stream pino writes to for `pretty`: each JSON line formatted, then written to `out`. */
export function prettyStream(out: { write(text: string): unknown }, options: PrettyOptions): DestinationStream {
  return {
    write(chunk: string): void {
      let text = '';
      for (const line of chunk.split('\n')) if (line !== '') text += `${formatLogLine(line, options)}\n`;
      if (text !== '') out.write(text);
    },
  };
}
