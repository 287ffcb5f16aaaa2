/**
 * The per-listener half of rewriting: where names go (host, port, scheme of
 * the listener the client used). Built once per (host, port, scheme) by
 * `RewriteRules.forTarget` and cached, so a request only looks it up.
 */
import { isIPv6 } from 'node:net';
import type { Transform } from 'node:stream';
import { applyEditsToBytes, applyEditsToText, type CompiledNames, type Edit, type MatchForm, type Replacer } from './matcher.js';
import { createBodyStream, planBody, rewriteBodyBuffer, type BodyHeaders } from './body.js';
import { rewriteHeaderValue } from './headers.js';
import type { LinkCheck } from './links.js';

export type Scheme = 'http' | 'https';

/** The listener a client used, which is where rewritten names send it back. */
export interface TargetSpec {
  /**
   * A name the gateway's certificate covers: the cluster's publicName or
   * gateway.fqdn, or the name or address the client used once checked
   * against those (proxy/cluster-rewrite.ts); never a Host header as sent.
   */
  readonly host: string;
  readonly port: number;
  readonly scheme: Scheme;
}

/**
 * Where an upstream port is sent instead of the client's listener; `null`:
 * leave such URLs alone. `plane` names the set of listeners that is (e.g.
 * `tftp`), for the LinkCheck: their paths are not the answer's listeners' paths.
 */
export type PortMapping = { readonly port: number; readonly scheme: Scheme; readonly plane?: string } | null;

const DEFAULT_PORT: Readonly<Record<Scheme, number>> = { http: 80, https: 443 };
const FORM_INDEX: Readonly<Record<MatchForm, number>> = { bare: 0, hostport: 1, relative: 2, url: 3 };
/** Distinct (group, form, scheme, port) shapes remembered per target; ports are few in practice. */
const MAX_MEMO = 1024;

/** What a target needs from its rules; kept narrow so the two modules stay decoupled. */
export interface TargetContext {
  readonly names: CompiledNames;
  /** Fixed public name per group; index 0 (the request's own cluster) is undefined. */
  readonly groupHosts: readonly (string | undefined)[];
  readonly portMap: ReadonlyMap<number, PortMapping>;
  readonly extraMediaTypes: ReadonlySet<string>;
  /** Only URL forms are rewritten (see RewriteRulesInput.urlsOnly). */
  readonly urlsOnly: boolean;
  /** Exact lower-cased names, for Set-Cookie Domain= checks. */
  isNodeName(name: string): boolean;
}

/**
 * Rewrites text, headers and bodies towards one listener. Every method is
 * synchronous and allocation-light except the body ones, which build streams.
 */
export class RewriteTarget implements Replacer {
  readonly host: string;
  readonly port: number;
  readonly scheme: Scheme;
  readonly #ctx: TargetContext;
  /** Per group: the host as bare text, and in an authority (IPv6 in brackets). */
  readonly #bare: readonly string[];
  readonly #authority: readonly string[];
  readonly #memo = new Map<number, string | undefined>();
  readonly #links: LinkCheck | undefined;
  /** @internal For the matcher: whether links are decided by `follows`. */
  readonly checksLinks: boolean;

  /** `links`: which links are rewritten (see LinkCheck); without it every one is. */
  constructor(ctx: TargetContext, spec: TargetSpec, links?: LinkCheck) {
    const host = spec.host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
    this.host = host;
    this.port = spec.port;
    this.scheme = spec.scheme;
    this.#ctx = ctx;
    this.#links = links;
    this.checksLinks = links !== undefined;
    this.#bare = ctx.groupHosts.map((h) => h ?? host);
    this.#authority = this.#bare.map((h) => (isIPv6(h) ? `[${h}]` : h));
  }

  /** @internal Called by the matcher for each match; memoised, as a body repeats the same few shapes. */
  replacement(group: number, form: MatchForm, scheme: Scheme | undefined, port: number | undefined): string | undefined {
    const key = ((group * 4 + FORM_INDEX[form]) * 3 + (scheme === undefined ? 0 : scheme === 'http' ? 1 : 2)) * 131072 + (port ?? 65536);
    const memo = this.#memo;
    let text = memo.get(key);
    if (text === undefined && !memo.has(key)) {
      if (memo.size >= MAX_MEMO) memo.clear();
      text = this.#compute(group, form, scheme, port);
      memo.set(key, text);
    }
    return text;
  }

  /** @internal Called by the matcher for each link whose replacement is defined. */
  follows(group: number, scheme: Scheme | undefined, port: number | undefined, path: string | undefined): boolean {
    // The same port policy as #compute: a mapped port goes to other listeners, whose paths differ.
    const mapped = this.#ctx.portMap.get(port ?? DEFAULT_PORT[scheme ?? this.scheme]);
    return this.#links!.follows(group, this.#authority[group]!, path, mapped?.plane);
  }

  #compute(group: number, form: MatchForm, scheme: Scheme | undefined, port: number | undefined): string | undefined {
    if (this.#ctx.urlsOnly && (form === 'bare' || form === 'hostport')) return undefined;
    if (form === 'bare') return this.#bare[group];
    const host = this.#authority[group]!;
    // Without a port, the upstream port is the scheme's default; a
    // scheme-relative `//node/` has the page's scheme, this listener's.
    const upstreamPort = port ?? DEFAULT_PORT[scheme ?? this.scheme];
    const mapped = this.#ctx.portMap.get(upstreamPort);
    if (mapped === null) return undefined;
    const outPort = mapped?.port ?? this.port;
    const outScheme = mapped?.scheme ?? this.scheme;
    // A URL names its port only when it is not the scheme's default; so does
    // `//host` (which cannot change scheme, so a mapped scheme is moot). A
    // bare `host:port` keeps its port: nothing says which default applies.
    if (form === 'url') return outPort === DEFAULT_PORT[outScheme] ? `${outScheme}://${host}` : `${outScheme}://${host}:${outPort}`;
    if (form === 'relative') return outPort === DEFAULT_PORT[this.scheme] ? host : `${host}:${outPort}`;
    return port === undefined ? host : `${host}:${outPort}`;
  }

  /** Rewrites every node name in a string (a header value, a short text). Returns `text` itself when nothing changed. */
  rewriteText(text: string): string {
    const edits: Edit[] = [];
    this.#ctx.names.scan(text, 0, true, this, edits);
    return applyEditsToText(text, edits);
  }

  /** Rewrites a complete byte body (no content coding). Returns `bytes` itself when nothing changed. */
  rewriteBytes(bytes: Buffer): Buffer {
    const edits: Edit[] = [];
    const s = bytes.toString('latin1');
    this.#ctx.names.scan(s, 0, true, this, edits);
    return edits.length === 0 ? bytes : applyEditsToBytes(bytes, s, 0, bytes.length, edits);
  }

  /**
   * Rewrites one response header. `Location`, `Content-Location` and
   * `Refresh` have node names replaced; `Set-Cookie` loses a `Domain=`
   * attribute that names a node (the cookie becomes host-only for the
   * gateway); other headers are returned as they are. Arrays (Node's
   * `set-cookie`) are handled element-wise; unchanged input is returned as is.
   */
  rewriteHeader<V extends string | readonly string[]>(name: string, value: V): V {
    return rewriteHeaderValue(this, this.#ctx, name, value);
  }

  /**
   * A streaming body rewriter for a response with these headers, or
   * undefined when the body must pass untouched (not XML-ish, an unknown or
   * stacked content coding, a UTF-16/32 charset, or no names to rewrite).
   *
   * The caller that pipes through it must drop `Content-Length` (and keep
   * `Content-Encoding`) and let the response go chunked (or close-delimited
   * for HTTP/1.0): the length changes. A body whose first bytes are a
   * UTF-16/32 BOM or NUL-interleaved ASCII passes through unchanged.
   * Memory: plain bodies hold back at most `RewriteRules.maxHeldBytes`.
   * gzip/deflate bodies up to 64 KiB compressed are held whole and rewritten
   * at the end (their original bytes go out when no name occurs, and an
   * undecodable one goes out as sent); larger ones stream through zlib and
   * error the stream if corrupt, and the caller then aborts the response.
   * Not for 206 partial content (offsets would shift). A rewritten body no
   * longer matches a strong `ETag` or `Content-MD5`: weaken or drop them.
   */
  createBodyRewriter(headers: BodyHeaders): Transform | undefined {
    const plan = planBody(headers, this.#ctx.extraMediaTypes);
    if (plan === undefined || this.#ctx.names.size === 0) return undefined;
    return createBodyStream(this.#ctx.names, this, plan);
  }

  /**
   * Rewrites a complete, buffered body (for content-length responses the
   * caller chose to buffer, so it can send an exact new `Content-Length`).
   * Resolves to `body` itself, byte for byte (compressed bytes included),
   * whenever nothing was rewritten, when the body is not rewritable, or when
   * it cannot be decoded; otherwise to the rewritten body, re-encoded with
   * the same content coding.
   */
  rewriteBody(body: Buffer, headers: BodyHeaders): Promise<Buffer> {
    const plan = planBody(headers, this.#ctx.extraMediaTypes);
    if (plan === undefined || this.#ctx.names.size === 0) return Promise.resolve(body);
    return rewriteBodyBuffer(this, body, plan);
  }
}
