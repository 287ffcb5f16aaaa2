/** Helpers for the config while it is still untyped data (before and around the schema). */
import { quoteValue as quote } from './schema-check.js';

export type Obj = Record<string, unknown>;
/** Records a problem at a key path (`clusters[0].nodes[1].url`). */
export type Add = (at: string, message: string) => void;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function objects(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

/** File paths stay readable unless they hold control characters. */
export function showText(s: string): string {
  return /[\u0000-\u001f\u007f]/.test(s) ? quote(s) : s;
}

export function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]?.trim() || 'invalid YAML';
}

export function describeIoError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied',
    EISDIR: 'is a directory',
    ENOTDIR: 'a parent is not a directory',
  };
  if (code === undefined) return firstLine(err);
  return why[code] === undefined ? code : `${code} (${why[code]})`;
}
