/**
 * Request-target normalisation: one pass turns the raw `req.url` into the
 * canonical path the router and deny list match on, and the path we send
 * upstream. Both come from the same segment list, so what we checked and what
 * CUCM's Tomcat resolves are structurally the same path: no dot segments, no
 * encoded slashes, no empty segments survive into the forwarded path.
 *
 * Strings here are byte strings, as Node's HTTP parser delivers the target
 * (latin1: one char per byte), which is why decoded bytes are never run
 * through UTF-8 and why the lowercasing is ASCII-only.
 *
 * Hot path: tables and regexes are module constants. A path that is already
 * canonical (what phones and Jabber send) costs one scan and no allocation
 * beyond the result; only odd paths build a segment stack.
 */

/** A target the router can use. */
export interface NormalisedTarget {
  readonly ok: true;
  /**
   * For routing and deny checks: percent-decoded once, `\` as `/`, dot
   * segments resolved (never above root), empty segments dropped, `;params`
   * stripped (a decoded `;`, `?` or `#` also ends a segment's name), ASCII
   * lowercased. Keeps a trailing slash. Never contains `//`.
   */
  readonly matchPath: string;
  /**
   * What goes upstream: the same segments as `matchPath`, case kept, `;params`
   * kept (Tomcat's `;jsessionid=`), percent-encoded where RFC 3986 requires,
   * followed by `query` exactly as received.
   */
  readonly forwardPath: string;
  /** `''`, or `?` and everything after it, exactly as received. */
  readonly query: string;
  /** Lowercased host without port when the target was absolute-form, else undefined. */
  readonly host: string | undefined;
  /**
   * The `matchPath` of each further decoding round (for `%252e`-style
   * multiple encoding), innermost last; empty when the path decodes once.
   * A deny check must consider every entry as well as `matchPath`.
   */
  readonly decodedMatchPaths: readonly string[];
}

/** A target to answer with 400. `reason` is safe to log (it never echoes the target). */
export interface BadTarget {
  readonly ok: false;
  readonly reason: string;
}

// Further decoding rounds checked beyond the first; deeper nesting is refused
// rather than left unchecked.
const MAX_EXTRA_DECODES = 4;

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const PERCENT = 0x25;
const SEMICOLON = 0x3b;
const QUESTION = 0x3f;
const HASH = 0x23;
const SPACE = 0x20;
const DEL = 0x7f;
const DOT = 0x2e;

const NO_PATHS: readonly string[] = Object.freeze([]);

const ALPHA_DIGIT = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
// RFC 3986 §2.3 unreserved: an escape of one of these is decoded in the forwarded path.
const UNRESERVED_CHARS = ALPHA_DIGIT + '-._~';
// RFC 3986 §3.3 pchar minus ';' (our parameter delimiter) and '%': sent as-is when raw.
const PLAIN_CHARS = UNRESERVED_CHARS + "!$&'()*+,=:@";

function charTable(chars: string): Uint8Array {
  const t = new Uint8Array(256);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}

const UNRESERVED = charTable(UNRESERVED_CHARS);
const PLAIN = charTable(PLAIN_CHARS);

const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUE[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_VALUE[0x41 + i] = 10 + i;
  HEX_VALUE[0x61 + i] = 10 + i;
}

/** Byte → `%XX` (uppercase hex, RFC 3986 §2.1). */
const ESCAPED: readonly string[] = Array.from({ length: 256 }, (_, b) => '%' + b.toString(16).toUpperCase().padStart(2, '0'));
/** Decoded byte → its forwarded form: unreserved literal, anything else escaped. */
const FORWARD_DECODED: readonly string[] = ESCAPED.map((e, b) => (UNRESERVED[b] === 1 ? String.fromCharCode(b) : e));
/** Raw byte → its forwarded form: pchar literal, anything else escaped. */
const FORWARD_RAW: readonly string[] = ESCAPED.map((e, b) => (PLAIN[b] === 1 || b === SEMICOLON ? String.fromCharCode(b) : e));
/** Byte → its matchPath form (ASCII lowercase). */
const MATCH_CHAR: readonly string[] = ESCAPED.map((_, b) => String.fromCharCode(b >= 0x41 && b <= 0x5a ? b + 0x20 : b));

// Raw space and controls are invalid in a request line; above 0xff cannot come from the wire.
const BAD_QUERY_CHAR = /[\x00-\x20\x7f\u0100-\uffff]/;
const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)/i;
// A DNS name, IPv4 address or bracketed IPv6 literal, with an optional port;
// userinfo (`user@host`) is refused, it has no business in a request line.
const AUTHORITY = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::[0-9]{0,5})?$/i;

function bad(reason: string): BadTarget {
  return { ok: false, reason };
}

function hexAt(s: string, i: number, end: number): number {
  if (i + 2 >= end) return -1;
  const hi = s.charCodeAt(i + 1);
  const lo = s.charCodeAt(i + 2);
  if (hi > 127 || lo > 127) return -1;
  const h = HEX_VALUE[hi]!;
  const l = HEX_VALUE[lo]!;
  return h < 0 || l < 0 ? -1 : (h << 4) | l;
}

/** The segment stack of one decoding round, resolved as segments complete. */
class Segments {
  readonly match: string[] = [];
  readonly forward: string[] = [];
  trailingSlash = false;
  trailingParams = '';
  /** A decoded byte was `%`: another decoding round would see an escape. */
  nested = false;

  // `name` is the matchable (decoded, lowercased, params stripped) name. Dot
  // segments are recognised on it, so `..;x` and `%2e%2E` resolve too, as
  // Tomcat's own `..;/` handling would.
  end(name: string, forward: string, params: string): void {
    if (name === '..') {
      if (this.match.length > 0) {
        this.match.pop();
        this.forward.pop();
      }
      this.trailingSlash = true;
      this.trailingParams = '';
    } else if (name === '.') {
      this.trailingSlash = true;
      this.trailingParams = '';
    } else if (name === '') {
      // Empty segments collapse, whatever their raw text (`;x`, `%3bx`); only
      // raw params on the last one survive, for Tomcat's `/dir/;jsessionid=`.
      this.trailingSlash = true;
      this.trailingParams = params;
    } else {
      this.match.push(name);
      this.forward.push(forward + params);
      this.trailingSlash = false;
      this.trailingParams = '';
    }
  }

  matchPath(): string {
    if (this.match.length === 0) return '/';
    const p = '/' + this.match.join('/');
    return this.trailingSlash ? p + '/' : p;
  }

  forwardPath(): string {
    if (this.forward.length === 0) return '/' + this.trailingParams;
    const p = '/' + this.forward.join('/');
    return this.trailingSlash ? p + '/' + this.trailingParams : p;
  }
}

/**
 * Slow path for one raw segment `[from, to)` holding escapes, `;`, or bytes
 * that need encoding. An escaped `/` or `\` splits it, so `..%2f` cannot hide
 * a dot segment. Returns a reason string on a bad byte, else undefined.
 */
function scanSegment(src: string, from: number, to: number, strict: boolean, segs: Segments): string | undefined {
  let name = '';
  let forward = '';
  let params = '';
  let inParams = false;
  let cut = false;
  for (let i = from; i < to; i++) {
    const c = src.charCodeAt(i);
    if (c === PERCENT) {
      const b = hexAt(src, i, to);
      if (b >= 0) {
        i += 2;
        if (b === SLASH || b === BACKSLASH) {
          segs.end(name, forward, params);
          name = forward = params = '';
          inParams = cut = false;
          continue;
        }
        if (b < SPACE || b === DEL) return 'control character in path';
        if (b === PERCENT) segs.nested = true;
        if (!inParams && !cut) {
          // A decoded delimiter is literal to Tomcat but not to every
          // component that might decode again; match on the part before it.
          if (b === SEMICOLON || b === QUESTION || b === HASH) cut = true;
          else name += MATCH_CHAR[b];
        }
        if (inParams) params += FORWARD_DECODED[b];
        else forward += FORWARD_DECODED[b];
        continue;
      }
      if (strict) return 'invalid percent-encoding';
      // Later rounds: a `%` that is not an escape is just a byte.
    } else if (c > 0xff) {
      return 'non-byte character in target';
    } else if (c < SPACE || c === DEL) {
      return 'control character in path';
    } else if (c === SPACE && strict) {
      return 'space in target';
    } else if (c === SEMICOLON) {
      inParams = true;
      params += ';';
      continue;
    } else if (c === QUESTION || c === HASH) {
      // Only reachable in later rounds, where they came from `%3f`/`%23`.
      cut = true;
    }
    if (!inParams && !cut) name += MATCH_CHAR[c];
    if (inParams) params += FORWARD_RAW[c];
    else forward += FORWARD_RAW[c];
  }
  segs.end(name, forward, params);
  return undefined;
}

/**
 * One decoding round over the path `src[from, to)`, which starts with `/`.
 * Plain segments (the common case) are sliced, not rebuilt char by char.
 */
function scanPath(src: string, from: number, to: number, strict: boolean): Segments | string {
  const segs = new Segments();
  let start = from + 1;
  while (true) {
    let plain = true;
    let upper = false;
    let i = start;
    for (; i < to; i++) {
      const c = src.charCodeAt(i);
      if (c === SLASH || c === BACKSLASH) break;
      if (c < 128 && PLAIN[c] === 1) {
        if (c >= 0x41 && c <= 0x5a) upper = true;
      } else {
        plain = false;
      }
    }
    if (plain) {
      const seg = src.slice(start, i);
      segs.end(upper ? seg.toLowerCase() : seg, seg, '');
    } else {
      const reason = scanSegment(src, start, i, strict, segs);
      if (reason !== undefined) return reason;
    }
    if (i >= to) return segs;
    start = i + 1;
  }
}

/**
 * The fast path, for what phones and Jabber actually send: a path that is
 * already canonical (only plain pchars, no empty or dot segments, `;params`
 * at most in the last segment) is forwarded as received and only needs
 * lowercasing and its params cut off to be matched. Anything else returns
 * undefined and takes the segment-by-segment path.
 */
function canonicalMatchPath(src: string, from: number, to: number): string | undefined {
  let upper = false;
  let semi = -1;
  let segStart = from + 1;
  let allDots = true;
  for (let i = from + 1; i < to; i++) {
    const c = src.charCodeAt(i);
    if (c === SLASH || c === SEMICOLON) {
      if (semi >= 0) {
        if (c === SLASH) return undefined;
        continue;
      }
      const len = i - segStart;
      if (len === 0 || (allDots && len <= 2)) return undefined;
      if (c === SEMICOLON) semi = i;
      segStart = i + 1;
      allDots = true;
      continue;
    }
    if (c >= 128 || PLAIN[c] !== 1) return undefined;
    if (c !== DOT) {
      allDots = false;
      if (semi < 0 && c >= 0x41 && c <= 0x5a) upper = true;
    }
  }
  if (semi < 0 && allDots && to - segStart > 0 && to - segStart <= 2) return undefined;
  const m = semi >= 0 ? src.slice(from, semi) : from === 0 && to === src.length ? src : src.slice(from, to);
  return upper ? m.toLowerCase() : m;
}

/** Decodes every valid escape once; anything else is kept as it is. */
function decodeOnce(s: string): string {
  let out = '';
  let last = 0;
  for (let i = s.indexOf('%'); i >= 0; i = s.indexOf('%', i + 1)) {
    const b = hexAt(s, i, s.length);
    if (b < 0) continue;
    out += s.slice(last, i) + String.fromCharCode(b);
    last = i + 3;
    i += 2;
  }
  return last === 0 ? s : out + s.slice(last);
}

/**
 * Normalises a raw request-target (`req.url`): origin-form `/a/b?q`, or
 * absolute-form `https://host/a?q` whose host is returned for the caller to
 * check. Asterisk-form (`*`), fragments, control characters (raw or
 * decoded), raw spaces and invalid percent-encoding give a BadTarget (400).
 * Never throws.
 */
export function normaliseTarget(rawTarget: string): NormalisedTarget | BadTarget {
  const len = rawTarget.length;
  if (len === 0) return bad('empty request-target');
  let pathStart = 0;
  let host: string | undefined;
  let src = rawTarget;
  const first = rawTarget.charCodeAt(0);
  if (first !== SLASH) {
    if (rawTarget === '*') return bad('asterisk-form request-target');
    const m = ABSOLUTE_FORM.exec(rawTarget);
    if (m === null) return bad('request-target is neither origin-form nor absolute-form');
    const authority = m[1]!;
    if (!AUTHORITY.test(authority)) return bad('invalid authority in absolute-form target');
    const colon = authority.charCodeAt(0) === 0x5b ? authority.indexOf(']') + 1 : authority.indexOf(':');
    host = (colon > 0 ? authority.slice(0, colon) : authority).toLowerCase();
    pathStart = m[0].length;
    if (pathStart === len || rawTarget.charCodeAt(pathStart) === QUESTION) {
      // RFC 3986 §6.2.3: an empty path with an authority is `/`.
      src = '/' + rawTarget.slice(pathStart);
      pathStart = 0;
    }
  }
  if (src.indexOf('#', pathStart) >= 0) return bad('fragment in request-target');
  const q = src.indexOf('?', pathStart);
  const pathEnd = q < 0 ? src.length : q;
  const query = q < 0 ? '' : src.slice(q);
  if (query !== '' && BAD_QUERY_CHAR.test(query)) return bad('invalid character in query');

  const canonical = canonicalMatchPath(src, pathStart, pathEnd);
  if (canonical !== undefined) {
    const forwardPath = pathStart === 0 ? src : src.slice(pathStart);
    return { ok: true, matchPath: canonical, forwardPath, query, host, decodedMatchPaths: NO_PATHS };
  }

  const segs = scanPath(src, pathStart, pathEnd, true);
  if (typeof segs === 'string') return bad(segs);
  const matchPath = segs.matchPath();
  const forwardPath = segs.forwardPath() + query;

  let decodedMatchPaths = NO_PATHS;
  if (segs.nested) {
    const paths: string[] = [];
    let layer = src.slice(pathStart, pathEnd);
    let nested = true;
    for (let round = 0; nested && round < MAX_EXTRA_DECODES; round++) {
      layer = decodeOnce(layer);
      const deeper = scanPath(layer, 0, layer.length, false);
      if (typeof deeper === 'string') return bad(deeper);
      paths.push(deeper.matchPath());
      nested = deeper.nested;
    }
    if (nested) return bad('percent-encoding nested too deeply');
    decodedMatchPaths = paths;
  }
  return { ok: true, matchPath, forwardPath, query, host, decodedMatchPaths };
}
