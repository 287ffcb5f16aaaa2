/**
 * The compiled matcher: one regular expression over every node name, built
 * once per name set, and the scan that turns its matches into edits.
 *
 * Bodies are matched as latin1 strings of their raw bytes: every name is
 * ASCII, latin1 maps each byte to one UTF-16 code unit, so string indexes are
 * byte offsets and any ASCII-compatible charset (UTF-8, ISO-8859-x) passes
 * through unchanged without ever being decoded.
 */
import { escapeForPattern, type NormalisedName } from './names.js';
import { LINK_KEEP, linkPathEnd } from './links.js';

/** One replacement: input range [start, end) becomes `text`. */
export interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/**
 * How a match was written, which decides the replacement's shape: `bare`
 * host text (`<server>x</server>`, also `user@x`: an e-mail domain must not
 * grow a port), `hostport` (`x:8443`, or a bracketed IPv6 literal),
 * `relative` (`//x...`, a scheme-relative URL) or `url` (`http(s)://x...`).
 */
export type MatchForm = 'bare' | 'hostport' | 'relative' | 'url';

/** Computes the replacement for one match; undefined leaves the match as it is. */
export interface Replacer {
  replacement(group: number, form: MatchForm, scheme: 'http' | 'https' | undefined, port: number | undefined): string | undefined;
  /** Whether links (a name with a scheme or a path) are decided by `follows`; false: all are rewritten. */
  readonly checksLinks: boolean;
  /**
   * Only when `checksLinks`: whether the link with this path (see
   * LinkCheck.follows) is rewritten; false leaves the match as it is.
   */
  follows(group: number, scheme: 'http' | 'https' | undefined, port: number | undefined, path: string | undefined): boolean;
}

/**
 * Chars that must be available after a name before its match is final:
 * ':' + five port digits + one char to prove the port ended (the name's own
 * look-ahead needs two).
 */
const TRAIL = 8;
/** `https://` is the longest scheme prefix that is part of a match. */
const SCHEME_PREFIX = 8;
/** Left context kept from already-emitted input: `x` + `https://` before a name, for the look-backs. */
export const LEFT_CONTEXT = SCHEME_PREFIX + 1;

// The pattern is the names and their right boundaries only. The left
// boundary and a scheme before the name are checked in code: V8 scans much
// faster for a pattern that starts with the names themselves (an optional
// scheme group in front made it 10x slower, a look-behind 1.7x).
// Right boundary: no further label char, no '.label' (cucm-pub.example.test.evil.com),
// no '@' (the name is then a user part).
const RIGHT_DNS = String.raw`(?![\w@\-]|\.[\w\-])`;
const RIGHT_V6 = String.raw`(?![\w.:%\]\-])`;
/** An alternation that can never match, for an empty name list. */
const NEVER = '(?!)';

/** One node name set, compiled. Immutable; share it freely. */
export class CompiledNames {
  /** Lower-cased name form → index of its target group. */
  readonly #groupOf: ReadonlyMap<string, number>;
  readonly #pattern: RegExp;
  readonly #oneGroup: boolean;
  /** Bytes a streaming scan must hold back so a split name is still found (plus LINK_KEEP when links are checked). */
  readonly keep: number;
  readonly size: number;

  /** `names[i]` are matched and rewritten with group `groups[i]`. */
  constructor(names: readonly NormalisedName[], groups: readonly number[]) {
    const groupOf = new Map<string, number>();
    const dns: string[] = [];
    const v6: string[] = [];
    names.forEach((name, i) => {
      for (const form of name.forms) {
        if (groupOf.has(form)) continue; // first listed wins: the caller orders by priority
        groupOf.set(form, groups[i]!);
        (name.kind === 'dns' ? dns : v6).push(form);
      }
    });
    this.#groupOf = groupOf;
    this.#oneGroup = [...groupOf.values()].every((g) => g === 0);
    this.size = groupOf.size;
    // Longest first, so that among names a boundary would allow, the longest wins.
    const alternation = (list: string[]): string =>
      list.length === 0 ? NEVER : [...list].sort((a, b) => b.length - a.length || (a < b ? -1 : 1)).map(escapeForPattern).join('|');
    const dnsAlt = alternation(dns);
    // Without IPv6 names the IPv6 branches are left out, not made never-matching: a top-level
    // `(?!)` branch stops V8 from skipping ahead to a name's first character, and the scan of
    // a 1 MiB body became 7x slower (groups 3 and 4 are then simply never set).
    const v6Alt = alternation(v6);
    const v6Branches = v6.length === 0 ? '' : `|\\[(${v6Alt})\\]|(${v6Alt})${RIGHT_V6}`;
    this.#pattern = new RegExp(`(${dnsAlt})(\\.)?${RIGHT_DNS}${v6Branches}`, 'gi');
    const longest = Math.max(0, ...[...groupOf.keys()].map((k) => k.length));
    // + 2: brackets around IPv6, or a trailing dot; + 1: margin.
    this.keep = SCHEME_PREFIX + longest + 2 + TRAIL + 1;
  }

  /**
   * Finds the rewrites in `s` from `from` on and appends them to `edits`.
   * With `atEnd` false, `s` is a prefix of a stream: matches that could
   * still change with more input are left alone and the returned cut says
   * where the caller must stop emitting (the rest is held back). With
   * `atEnd` true the whole input is final and the cut is `s.length`.
   * Chars before `from` serve only as look-behind context.
   */
  scan(s: string, from: number, atEnd: boolean, replacer: Replacer, edits: Edit[]): number {
    // Deciding a link needs its whole path in view: hold back that much more.
    const links = replacer.checksLinks;
    const keep = links ? this.keep + LINK_KEEP : this.keep;
    if (this.size === 0) return atEnd ? s.length : Math.max(from, s.length - keep);
    const re = this.#pattern;
    const length = s.length;
    // A match that starts before `limit` is complete within `s` (see `keep`),
    // so its outcome is the same as in a scan of the whole body.
    const limit = atEnd ? length : length - keep;
    let pos = from;
    for (;;) {
      re.lastIndex = pos;
      const m = re.exec(s);
      if (m === null || m.index >= limit) break;
      const nameStart = m.index;
      const bracketed = m[3];
      const bareV6 = m[4];
      // `[fd00::1%eth0]`: the bracketed form failed on the zone id; the
      // address inside is not a host we can point elsewhere.
      if (!leftBoundary(s, nameStart) || (bareV6 !== undefined && s.charCodeAt(nameStart - 1) === 91 /* [ */)) {
        pos = nameStart + 1; // a shorter name may still start further on
        continue;
      }
      let end = nameStart + m[0].length;
      pos = end;
      let port: number | undefined;
      if (bareV6 === undefined && s.charCodeAt(end) === 58 /* : */) {
        const parsed = parsePort(s, end + 1);
        if (parsed !== undefined) {
          port = parsed.port;
          end = parsed.end;
        }
      }
      let start = nameStart;
      let scheme: 'http' | 'https' | undefined;
      const afterSlashes = s.charCodeAt(nameStart - 1) === 47 && s.charCodeAt(nameStart - 2) === 47;
      if (afterSlashes && s.charCodeAt(nameStart - 3) === 58 /* : */) {
        scheme = schemeBefore(s, nameStart - 3);
        // `ldap://node`, `xhttps://node`: another protocol. Pointing it at
        // an HTTP gateway would break it, so it keeps the node's name.
        if (scheme === undefined) continue;
        start = nameStart - 3 - scheme.length;
      }
      let form: MatchForm;
      if (scheme !== undefined) form = 'url';
      else if (afterSlashes) form = 'relative';
      else if (bracketed !== undefined || port !== undefined) form = 'hostport';
      else form = 'bare';
      // One group (a single cluster) is the common case: no lookup needed.
      const group = this.#oneGroup ? 0 : this.#groupOf.get((m[1] ?? bracketed ?? bareV6!).toLowerCase());
      if (group === undefined) continue; // unreachable: the pattern holds only known names
      const text = replacer.replacement(group, form, scheme, port);
      if (text === undefined) continue;
      // A link: a URL, or a name followed by a path. A bare name (`<server>`,
      // a SIP/CTI address, `host:port`) is not one and is decided as before.
      const slash = s.charCodeAt(end) === 47; /* / */
      if (links && (slash || form === 'url' || form === 'relative')) {
        let path: string | undefined = '';
        if (slash) {
          const pathEnd = linkPathEnd(s, end);
          path = pathEnd < 0 ? undefined : s.slice(end, pathEnd);
        }
        if (!replacer.follows(group, scheme, port, path)) continue;
      }
      // An absolute FQDN's trailing dot was matched (so `name.:port` and
      // `https://name./` work); as bare text it may be prose, so it stays.
      edits.push({ start, end, text: form === 'bare' && m[2] !== undefined ? `${text}.` : text });
      pos = end;
    }
    // Names starting at `limit` or later wait for more input, and so must
    // the `https://` that may precede them.
    return atEnd ? length : Math.max(pos, limit - SCHEME_PREFIX, from);
  }
}

/**
 * A name may start at `i` unless it continues a longer name (letter, digit,
 * '_', '-', '.'), follows ':' (`sip:node`, a mapped IPv6 address), or is a
 * path segment (a single '/'; '//' opens an authority and is fine).
 */
function leftBoundary(s: string, i: number): boolean {
  if (i === 0) return true;
  const c = s.charCodeAt(i - 1);
  if (c === 47 /* / */) return i === 1 || s.charCodeAt(i - 2) === 47;
  return !(isWordChar(c) || c === 45 /* - */ || c === 46 /* . */ || c === 58 /* : */);
}

/** RegExp `\w` without the u flag: ASCII letters, digits, '_'. */
function isWordChar(c: number): boolean {
  const lower = c | 0x20;
  return (lower >= 97 && lower <= 122) || (c >= 48 && c <= 57) || c === 95;
}

/** Parses `digits` at `at`: a port only if 1-5 digits, <= 65535, and not followed by a digit. */
function parsePort(s: string, at: number): { port: number; end: number } | undefined {
  let q = at;
  let value = 0;
  while (q < s.length && q - at < 6) {
    const c = s.charCodeAt(q);
    if (c < 48 || c > 57) break;
    value = value * 10 + (c - 48);
    q++;
  }
  const digits = q - at;
  if (digits === 0 || digits > 5 || value > 65535) return undefined;
  return { port: value, end: q };
}

/**
 * The scheme ending just before `colon` (the ':' of '://') when it is http or
 * https in any case and not the tail of a longer scheme (`xhttps`, `git+https`).
 * Char codes, not slices: this runs once per match.
 */
function schemeBefore(s: string, colon: number): 'http' | 'https' | undefined {
  let i = colon - 1;
  const secure = (s.charCodeAt(i) | 0x20) === 115; /* s */
  if (secure) i--;
  if ((s.charCodeAt(i) | 0x20) !== 112 || (s.charCodeAt(i - 1) | 0x20) !== 116 || (s.charCodeAt(i - 2) | 0x20) !== 116 || (s.charCodeAt(i - 3) | 0x20) !== 104) {
    return undefined; // not p, t, t, h
  }
  const before = s.charCodeAt(i - 4);
  if (isSchemeChar(before)) return undefined;
  return secure ? 'https' : 'http';
}

/** RFC 3986 scheme chars: ALPHA / DIGIT / "+" / "-" / "." (NaN, before the start, is none). */
function isSchemeChar(c: number): boolean {
  const lower = c | 0x20;
  return (lower >= 97 && lower <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46;
}

/**
 * Applies edits to `data[from, cut)`, whose latin1 text is `s[from, cut)`.
 * Without edits: a view of `data`, no copy. With edits the output is built
 * as one latin1 string and encoded once: cheaper than a Buffer per edit.
 */
export function applyEditsToBytes(data: Buffer, s: string, from: number, cut: number, edits: readonly Edit[]): Buffer {
  if (edits.length === 0) return data.subarray(from, cut);
  let out = '';
  let prev = from;
  for (const edit of edits) {
    out += s.slice(prev, edit.start) + edit.text;
    prev = edit.end;
  }
  return Buffer.from(out + s.slice(prev, cut), 'latin1');
}

/** Applies edits to a whole string. */
export function applyEditsToText(s: string, edits: readonly Edit[]): string {
  if (edits.length === 0) return s;
  let out = '';
  let prev = 0;
  for (const edit of edits) {
    out += s.slice(prev, edit.start) + edit.text;
    prev = edit.end;
  }
  return out + s.slice(prev);
}
