/**
 * Response bodies: which ones are rewritten, and the two ways to do it: a
 * bounded-memory stream (any size, sent chunked) and a whole-buffer pass
 * (bodies the caller buffered: exact new length, the very same bytes when
 * nothing matched).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { ChunkScanner, looksWide } from './chunk-scanner.js';
import { CodedBodyRewriteStream, rewriteSmallCompressed, SMALL_COMPRESSED_BYTES, ZLIB_OPTIONS, type WholeRewriter } from './coded-body.js';
import type { CompiledNames, Replacer } from './matcher.js';

/** The response headers that decide whether and how a body is rewritten. */
export interface BodyHeaders {
  readonly contentType?: string | undefined;
  readonly contentEncoding?: string | undefined;
}

/** The content codings the rewriter can undo and redo. */
export type BodyCoding = 'identity' | 'gzip' | 'deflate';

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;
// Charsets in which ASCII is not one byte per char: matching raw bytes
// would miss names or, worse, corrupt text. Such bodies pass untouched.
const WIDE_CHARSET = /^(?:utf-?(?:16|32)|ucs-?[24]|unicode)/i;
/** A buffered body that inflates past this is left alone rather than held in memory. */
const MAX_INFLATED_BYTES = 32 * 1024 * 1024;

/**
 * Decides whether a response body is rewritten, and through which coding.
 * Rewritten: `text/xml`, `application/xml` and any `+xml` type (UDS answers
 * and IP Phone XML objects are all XML), plus `extraMediaTypes` (e.g.
 * `text/html` for the opt-in user portals). HTML is not in the default set:
 * the contract names XML, HTML pages are larger and carry scripts whose
 * strings we would rather not touch, and CUCM phone services answer XML.
 * Not rewritten: no content type, a UTF-16/32 charset, and any coding other
 * than none/identity, gzip/x-gzip or (zlib) deflate, including stacked ones.
 */
export function planBody(headers: BodyHeaders, extraMediaTypes: ReadonlySet<string>): BodyCoding | undefined {
  const contentType = headers.contentType;
  if (contentType === undefined) return undefined;
  const semi = contentType.indexOf(';');
  const mediaType = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  const xml = mediaType === 'text/xml' || mediaType === 'application/xml' || mediaType.endsWith('+xml');
  if (!xml && !extraMediaTypes.has(mediaType)) return undefined;
  const charset = semi < 0 ? undefined : CHARSET.exec(contentType)?.[1];
  if (charset !== undefined && WIDE_CHARSET.test(charset)) return undefined;
  const coding = (headers.contentEncoding ?? '').trim().toLowerCase();
  if (coding === '' || coding === 'identity') return 'identity';
  if (coding === 'gzip' || coding === 'x-gzip') return 'gzip';
  if (coding === 'deflate') return 'deflate';
  return undefined;
}

/** Streams a plain (identity-coded) body through the scanner. */
class BodyRewriteStream extends Transform {
  readonly #scanner: ChunkScanner;

  constructor(names: CompiledNames, replacer: Replacer) {
    super();
    this.#scanner = new ChunkScanner(names, replacer);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    callback(null, this.#scanner.write(chunk));
  }

  override _flush(callback: TransformCallback): void {
    callback(null, this.#scanner.end());
  }
}

/** See `RewriteTarget.createBodyRewriter`. */
export function createBodyStream(names: CompiledNames, target: WholeRewriter, coding: BodyCoding): Transform {
  return coding === 'identity' ? new BodyRewriteStream(names, target) : new CodedBodyRewriteStream(names, target, coding);
}

const decode = { gzip: promisify(zlib.gunzip), deflate: promisify(zlib.inflate) } as const;
const encode = { gzip: promisify(zlib.gzip), deflate: promisify(zlib.deflate) } as const;

/** See `RewriteTarget.rewriteBody`. */
export async function rewriteBodyBuffer(target: WholeRewriter, body: Buffer, coding: BodyCoding): Promise<Buffer> {
  if (coding === 'identity') return looksWide(body) ? body : target.rewriteBytes(body);
  if (body.length <= SMALL_COMPRESSED_BYTES) {
    const out = rewriteSmallCompressed(target, body, coding);
    if (out !== undefined) return out;
  }
  // Large: the thread pool keeps the event loop free while zlib works.
  let plain: Buffer;
  try {
    plain = await decode[coding](body, { maxOutputLength: MAX_INFLATED_BYTES });
  } catch {
    return body; // corrupt or too large: what the node sent is the best we have
  }
  if (looksWide(plain)) return body;
  const rewritten = target.rewriteBytes(plain);
  return rewritten === plain ? body : encode[coding](rewritten, ZLIB_OPTIONS);
}
