/**
 * Request parameters as CUCM's Tomcat reads them for `getParameter`
 * (org.apache.tomcat.util.http.Parameters): the query string, then a form
 * body; pairs split on `&` only (`;` is part of a value); the name up to the
 * first `=` (no `=`: an empty value); name and value percent-decoded with `+`
 * as a space; a pair with an empty name skipped; repeated names kept in order
 * (`getParameter` returns the first). Tomcat reads a body's parameters when
 * its media type is `application/x-www-form-urlencoded` (or, for servlets
 * configured for it, `multipart/form-data`), decoded in the charset the
 * Content-Type names.
 *
 * Where Tomcat would ignore a pair (a malformed `%` escape), the pair is kept
 * here as sent: the login-attempt guard counts what it cannot rule out.
 * Names are matched case-insensitively (ASCII), wider than Tomcat's exact
 * match. Values stay bytes: which charset a user id was meant in is the
 * guard's question (credential-guard.ts).
 *
 * Strings in and out of here are byte strings (latin1: one char per byte),
 * as Node's HTTP parser delivers the request target.
 */
import type { IncomingMessage } from 'node:http';

export interface RequestParam {
  /** Percent-decoded, `+` as a space, ASCII-lowercased (latin1 for other bytes). */
  readonly name: string;
  /** Percent-decoded, `+` as a space, as bytes. */
  readonly value: Buffer;
}

const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX[0x41 + i] = HEX[0x61 + i] = 10 + i;

/** Percent-decodes a byte string, `+` as a space; a malformed escape is kept as sent. */
export function formDecode(encoded: string): Buffer {
  const out = Buffer.allocUnsafe(encoded.length);
  let n = 0;
  for (let i = 0; i < encoded.length; i++) {
    const c = encoded.charCodeAt(i) & 0xff;
    if (c === 0x2b) {
      out[n++] = 0x20;
    } else if (c === 0x25 && i + 2 < encoded.length && HEX[encoded.charCodeAt(i + 1) & 0xff]! >= 0 && HEX[encoded.charCodeAt(i + 2) & 0xff]! >= 0) {
      out[n++] = (HEX[encoded.charCodeAt(i + 1) & 0xff]! << 4) | HEX[encoded.charCodeAt(i + 2) & 0xff]!;
      i += 2;
    } else {
      out[n++] = c;
    }
  }
  return out.subarray(0, n);
}

/** Appends the parameters of `encoded` (a query string without `?`, or a form body as latin1) to `into`. */
export function parseParams(encoded: string, into: RequestParam[] = []): RequestParam[] {
  let start = 0;
  while (start < encoded.length) {
    let end = encoded.indexOf('&', start);
    if (end < 0) end = encoded.length;
    if (end > start) {
      const eq = encoded.indexOf('=', start);
      const nameEnd = eq >= 0 && eq < end ? eq : end;
      if (nameEnd > start) {
        const name = formDecode(encoded.slice(start, nameEnd)).toString('latin1').toLowerCase();
        const value = nameEnd < end ? formDecode(encoded.slice(nameEnd + 1, end)) : Buffer.alloc(0);
        into.push({ name, value });
      }
    }
    start = end + 1;
  }
  return into;
}

/** The query string of a request target (everything after the first `?`), or ''. */
export function queryOf(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? '' : target.slice(q + 1);
}

/**
 * What a request's body is to Tomcat's parameter parsing:
 * - `none`: no body, or one Tomcat does not read parameters from;
 * - `form`: urlencoded, in a charset whose `&`, `=`, `%` and ASCII letters are single ASCII bytes;
 * - `multipart`: `multipart/form-data`, parsed by servlets configured for it;
 * - `charset`: urlencoded in another charset (UTF-16 or the like: `u\0s\0e\0r\0i\0d\0` is `userid` to Tomcat).
 * Media types are compared case-insensitively (Tomcat: exactly), whatever the method (Tomcat: POST).
 */
export type FormBodyKind = 'none' | 'form' | 'multipart' | 'charset';

const ASCII_CHARSETS = new Set(['utf-8', 'utf8', 'iso-8859-1', 'iso8859-1', 'iso_8859-1', 'latin1', 'us-ascii', 'ascii']);

export function formBodyKind(req: IncomingMessage): FormBodyKind {
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return 'none';
  const type = req.headers['content-type'];
  if (type === undefined) return 'none';
  const semicolon = type.indexOf(';');
  const media = (semicolon < 0 ? type : type.slice(0, semicolon)).trim().toLowerCase();
  if (media === 'multipart/form-data') return 'multipart';
  if (media !== 'application/x-www-form-urlencoded') return 'none';
  if (semicolon < 0) return 'form';
  for (const part of type.slice(semicolon + 1).split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const charset = part
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (!ASCII_CHARSETS.has(charset)) return 'charset';
  }
  return 'form';
}
