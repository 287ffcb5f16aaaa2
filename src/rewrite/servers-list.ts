/**
 * UDS `/cucm-uds/servers` through the gateway (issue 16). CUCM lists every
 * node of the cluster (`<servers><server>cucm-pub…</server><server>cucm-sub1…
 * </server>…</servers>`), and Jabber spreads its UDS requests over that list
 * and fails over along it. Rewritten name by name, every entry would become
 * the same gateway name, once per node: a list with nowhere to fail over to.
 * So the whole list is replaced by the gateway's own names, each once, in the
 * order given (the caller's: the name the client used first, then the other
 * gateway instances; proxy/cluster-rewrite.ts). Failover between the nodes
 * stays the gateway's job; failover between gateways becomes Jabber's again.
 *
 * The answer is small, so it is rewritten whole: a buffered body as is, a
 * streamed one held up to MAX_SERVERS_LIST_BYTES (beyond that it streams
 * through the ordinary name rewriter, which is still correct, only not
 * deduplicated). Everything else in the answer (the root's `uri`, other
 * elements) is rewritten as in any other answer.
 */
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import { planBody, type BodyHeaders } from './body.js';
import { looksWide } from './chunk-scanner.js';
import type { LinkCheck } from './links.js';
import { RewriteTarget, type TargetContext, type TargetSpec } from './target.js';

/** A streamed (chunked) `/servers` answer is held up to this many bytes to be rewritten whole. */
export const MAX_SERVERS_LIST_BYTES = 64 * 1024;

/** One `<server>` element: with or without attributes, empty or with text (no child elements in UDS). */
const SERVER_ELEMENT = /<server(?:\s[^>]*?)?(?:\/>|>[^<]*<\/server\s*>)/g;
const BLANK = /^\s*$/;

function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * `xml` with its `<server>` elements replaced by one `<server>name</server>`
 * per entry of `names` (in that order), where the first element stood; the
 * other elements go, with the blank text before each (a pretty-printed answer
 * keeps the separator it used between its first two entries). Returns `xml`
 * itself when it has no `<server>` element (an error answer, say), when
 * `names` is empty, or when nothing changes.
 */
export function replaceServerList(xml: string, names: readonly string[]): string {
  if (names.length === 0) return xml;
  const matches = [...xml.matchAll(SERVER_ELEMENT)];
  const first = matches[0];
  if (first === undefined) return xml;
  let separator = '';
  const second = matches[1];
  if (second !== undefined) {
    const between = xml.slice(first.index + first[0].length, second.index);
    if (BLANK.test(between)) separator = between;
  }
  let out = xml.slice(0, first.index) + names.map((name) => `<server>${escapeText(name)}</server>`).join(separator);
  let at = first.index + first[0].length;
  for (const match of matches.slice(1)) {
    const gap = xml.slice(at, match.index);
    if (!BLANK.test(gap)) out += gap;
    at = match.index + match[0].length;
  }
  out += xml.slice(at);
  return out === xml ? xml : out;
}

/**
 * Holds a plain body up to `limit` bytes and emits `whole(body)` at the end;
 * a longer one switches to `fallback()` (fed what was held) and streams.
 */
class HeldBodyStream extends Transform {
  readonly #limit: number;
  readonly #whole: (body: Buffer) => Buffer;
  readonly #fallback: () => Transform;
  #held: Buffer[] | undefined = [];
  #heldBytes = 0;
  #inner: Transform | undefined;

  constructor(limit: number, whole: (body: Buffer) => Buffer, fallback: () => Transform) {
    super();
    this.#limit = limit;
    this.#whole = whole;
    this.#fallback = fallback;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const held = this.#held;
    if (held !== undefined) {
      if (this.#heldBytes + chunk.length <= this.#limit) {
        held.push(chunk);
        this.#heldBytes += chunk.length;
        return callback();
      }
      const inner = this.#fallback();
      inner.on('data', (out: Buffer) => this.push(out));
      inner.on('error', (err: Error) => this.destroy(err));
      for (const piece of held) inner.write(piece);
      this.#held = undefined;
      this.#inner = inner;
    }
    this.#inner!.write(chunk, () => callback());
  }

  override _flush(callback: TransformCallback): void {
    const held = this.#held;
    if (held !== undefined) {
      const out = this.#whole(held.length === 1 ? held[0]! : Buffer.concat(held));
      return out.length > 0 ? callback(null, out) : callback();
    }
    this.#inner!.once('end', () => callback());
    this.#inner!.end();
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.#inner?.destroy();
    callback(error);
  }
}

/**
 * The rewriter for one `/cucm-uds/servers` answer: node names as any
 * RewriteTarget rewrites them, then the server list replaced by `servers`.
 * Built (and cached) by `RewriteRules.forServersList`.
 */
export class ServersListTarget extends RewriteTarget {
  /** The gateway names the answer lists, in order. */
  readonly servers: readonly string[];
  readonly #extraMediaTypes: ReadonlySet<string>;

  constructor(ctx: TargetContext, spec: TargetSpec, links: LinkCheck | undefined, servers: readonly string[]) {
    super(ctx, spec, links);
    this.servers = servers;
    this.#extraMediaTypes = ctx.extraMediaTypes;
  }

  /** A whole plain body: names rewritten, then the list replaced. `bytes` itself when nothing changed. */
  override rewriteBytes(bytes: Buffer): Buffer {
    const named = super.rewriteBytes(bytes);
    const text = named.toString('latin1');
    const listed = replaceServerList(text, this.servers);
    return listed === text ? named : Buffer.from(listed, 'latin1');
  }

  /**
   * Plain bodies are held (up to MAX_SERVERS_LIST_BYTES) and rewritten whole;
   * gzip/deflate ones already are when small (coded-body.ts, through
   * `rewriteBytes`), and stream name by name when large.
   */
  override createBodyRewriter(headers: BodyHeaders): Transform | undefined {
    const plan = planBody(headers, this.#extraMediaTypes);
    if (plan !== 'identity') return super.createBodyRewriter(headers);
    return new HeldBodyStream(
      MAX_SERVERS_LIST_BYTES,
      (body) => (looksWide(body) ? body : this.rewriteBytes(body)),
      () => super.createBodyRewriter(headers) ?? new PassThrough(),
    );
  }
}
