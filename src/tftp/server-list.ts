/**
 * TFTP server lists (issue 16). Jabber fetches `jabber-config.xml` (and its
 * group file) from the TFTP servers its service profile lists — bare host
 * names, not URLs — and `jabber-config.xml` itself can name TFTP servers
 * (`TftpServer1`, `TftpServer2` in its Phone group, Cisco's Parameters
 * Reference Guide for Jabber). TFTP files are otherwise rewritten URL by URL
 * only (a bare name there is a SIP or CTI address Jabber must reach
 * directly), so these elements are the one place where a bare node name in
 * a TFTP file becomes the gateway's name: with the TFTP listeners on, the
 * files come through the gateway like everything else.
 *
 * Only the text of `TftpServerN` elements changes, and only where it names a
 * node — rewritten as the UDS `<server>` list is: FQDN, short name or IP,
 * with or without a port, to the name the client used (another cluster's
 * node to that cluster's public name). CTI, CCMCIP, voicemail and directory
 * server elements beside them keep their names.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { createBodyStream, planBody, rewriteBodyBuffer, type BodyHeaders } from '../rewrite/body.js';
import { ChunkScanner, looksWide } from '../rewrite/chunk-scanner.js';
import type { WholeRewriter } from '../rewrite/coded-body.js';
import type { LinkCheck, RewriteRules, RewriteTarget, TargetSpec } from '../rewrite/index.js';

/**
 * The elements whose text is a TFTP server: `TftpServer1`, `TftpServer2`…
 * (any case, any namespace prefix), as the service profile's TFTP server
 * list and jabber-config.xml's Phone group write them ("TftpServer1 —
 * Hostname, IP address, FQDN", Parameters Reference Guide for Cisco Jabber).
 */
const SERVER_ELEMENT = /(<([A-Za-z_][\w.-]{0,31}:)?(TftpServer[0-9]{0,2})(?:\s[^<>]{0,200})?>)([^<]{1,255})(<\/\2\3\s*>)/gi;
/** Longer than any match of SERVER_ELEMENT: what a stream holds back so a split element is found whole. */
const HOLD = 1024;

/** Rewrites the text of one server element: a node name becomes the gateway's. */
type TextRewrite = (text: string) => string;

/**
 * Rewrites the server elements that start before `limit` in `s` (latin1:
 * one char per byte). Returns the rewritten text up to `cut` — at least
 * `limit`, and past every element rewritten — and `cut`; `changed` is false
 * when the output is `s.slice(0, cut)` itself.
 */
function rewriteServerLists(s: string, limit: number, rewrite: TextRewrite): { out: string; cut: number; changed: boolean } {
  const edits: { start: number; end: number; text: string }[] = [];
  let end = 0;
  SERVER_ELEMENT.lastIndex = 0;
  for (let m = SERVER_ELEMENT.exec(s); m !== null && m.index < limit; m = SERVER_ELEMENT.exec(s)) {
    end = m.index + m[0].length;
    const text = rewrite(m[4]!);
    if (text !== m[4]) edits.push({ start: m.index + m[1]!.length, end: m.index + m[1]!.length + m[4]!.length, text });
  }
  const cut = Math.max(limit, end);
  const changed = edits.length > 0;
  if (!changed) return { out: s.slice(0, cut), cut, changed };
  let out = '';
  let at = 0;
  for (const e of edits) {
    out += s.slice(at, e.start) + e.text;
    at = e.end;
  }
  return { out: out + s.slice(at, cut), cut, changed };
}

/** A whole body (no content coding): the very same buffer when no server element names a node. */
export function rewriteServerListBytes(bytes: Buffer, rewrite: TextRewrite): Buffer {
  if (looksWide(bytes)) return bytes;
  const s = bytes.toString('latin1');
  const { out, changed } = rewriteServerLists(s, s.length, rewrite);
  return changed ? Buffer.from(out, 'latin1') : bytes;
}

/** The streaming form: holds back at most HOLD bytes so an element cut by a chunk boundary is found whole. */
export class ServerListScanner {
  readonly #rewrite: TextRewrite;
  #pending = '';
  #sniffed = false;
  #passthrough = false;

  constructor(rewrite: TextRewrite) {
    this.#rewrite = rewrite;
  }

  write(chunk: Buffer): Buffer | undefined {
    if (this.#passthrough) return chunk;
    if (!this.#sniffed && this.#pending.length + chunk.length >= 4) {
      this.#sniffed = true;
      const head = Buffer.concat([Buffer.from(this.#pending, 'latin1'), chunk.subarray(0, 4)]);
      if (looksWide(head)) {
        this.#passthrough = true;
        const held = Buffer.from(this.#pending, 'latin1');
        this.#pending = '';
        return Buffer.concat([held, chunk]);
      }
    }
    const s = this.#pending + chunk.toString('latin1');
    const limit = s.length - HOLD;
    if (limit <= 0) {
      this.#pending = s;
      return undefined;
    }
    const { out, cut } = rewriteServerLists(s, limit, this.#rewrite);
    this.#pending = s.slice(cut);
    return Buffer.from(out, 'latin1');
  }

  end(): Buffer | undefined {
    const s = this.#pending;
    this.#pending = '';
    if (s.length === 0) return undefined;
    if (this.#passthrough) return Buffer.from(s, 'latin1');
    return Buffer.from(rewriteServerLists(s, s.length, this.#rewrite).out, 'latin1');
  }
}

/** A plain body: node URLs (the ordinary scanner), then the server lists. */
class TftpBodyStream extends Transform {
  readonly #urls: ChunkScanner;
  readonly #lists: ServerListScanner;

  constructor(urls: ChunkScanner, lists: ServerListScanner) {
    super();
    this.#urls = urls;
    this.#lists = lists;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const urls = this.#urls.write(chunk);
    callback(null, urls === undefined ? undefined : this.#lists.write(urls));
  }

  override _flush(callback: TransformCallback): void {
    const tail = this.#urls.end();
    const a = tail === undefined ? undefined : this.#lists.write(tail);
    const b = this.#lists.end();
    callback(null, a === undefined ? b : b === undefined ? a : Buffer.concat([a, b]));
  }
}

/** Binds every method to the real object: the classes keep private fields a Proxy receiver cannot reach. */
function delegate<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(real, prop) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop)) return overrides[prop as keyof T];
      const value = Reflect.get(real, prop, real) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(real) : value;
    },
  });
}

/** The target towards one listener, with server lists rewritten in every body it handles. */
function serverListTarget(rules: RewriteRules, base: RewriteTarget, rewrite: TextRewrite): RewriteTarget {
  const whole: WholeRewriter = {
    checksLinks: base.checksLinks,
    replacement: (group, form, scheme, port) => base.replacement(group, form, scheme, port),
    follows: (group, scheme, port, path) => base.follows(group, scheme, port, path),
    rewriteBytes: (bytes) => rewriteServerListBytes(base.rewriteBytes(bytes), rewrite),
  };
  return delegate(base, {
    createBodyRewriter: (headers: BodyHeaders): Transform | undefined => {
      const plan = planBody(headers, rules.extraMediaTypes);
      if (plan === undefined || rules.names.size === 0) return undefined;
      // gzip/deflate: bodies held whole (the usual size) get both rewrites; a body past 64 KiB compressed streams, URLs only.
      if (plan !== 'identity') return createBodyStream(rules.names, whole, plan);
      return new TftpBodyStream(new ChunkScanner(rules.names, base), new ServerListScanner(rewrite));
    },
    rewriteBody: (body: Buffer, headers: BodyHeaders): Promise<Buffer> => {
      const plan = planBody(headers, rules.extraMediaTypes);
      if (plan === undefined || rules.names.size === 0) return Promise.resolve(body);
      return rewriteBodyBuffer(whole, body, plan);
    },
  });
}

const wrapped = new WeakMap<RewriteRules, RewriteRules>();

/**
 * `rules` (a TFTP file's: URLs only) whose targets also rewrite server
 * lists. The text of a server element is rewritten as UDS answers' bare
 * names are: the same names, towards the same listener, bare names and
 * `host:port` included. Cached per rules object.
 */
export function withServerLists(rules: RewriteRules): RewriteRules {
  let out = wrapped.get(rules);
  if (out !== undefined) return out;
  let bare: RewriteRules | undefined;
  const targets = new WeakMap<RewriteTarget, RewriteTarget>();
  const forTarget = (spec: TargetSpec, links?: LinkCheck): RewriteTarget => {
    const base = rules.forTarget(spec, links ?? rules.links);
    let target = targets.get(base);
    if (target === undefined) {
      bare ??= rules.withOptions({ urlsOnly: false });
      const names = bare.forTarget({ host: base.host, port: base.port, scheme: base.scheme }, links ?? rules.links);
      target = serverListTarget(rules, base, (text) => names.rewriteText(text));
      targets.set(base, target);
    }
    return target;
  };
  out = delegate(rules, { forTarget });
  wrapped.set(rules, out);
  return out;
}
