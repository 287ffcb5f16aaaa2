/**
 * Rewriting gzip- and deflate-coded bodies. Two modes in one stream:
 *
 * - small bodies (the usual UC answer) are held, compressed, up to
 *   SMALL_COMPRESSED_BYTES and rewritten at the end with one-shot zlib: a
 *   fraction of the CPU of two zlib streams per response (measured in
 *   test/bench/rewrite-bench.ts), and when no name occurs the node's own
 *   compressed bytes go out unchanged;
 * - larger ones switch to decode → scan → encode streaming, with bounded
 *   memory and backpressure from the encoder to the decoder.
 */
import { Transform, type TransformCallback } from 'node:stream';
import * as zlib from 'node:zlib';
import { ChunkScanner, looksWide } from './chunk-scanner.js';
import type { CompiledNames, Replacer } from './matcher.js';

/** Level 1: these bodies are small text, and the gateway's CPU goes to TLS first. */
export const ZLIB_OPTIONS: zlib.ZlibOptions = { level: 1 };
/** Compressed bytes held before switching to streaming. */
export const SMALL_COMPRESSED_BYTES = 64 * 1024;
/** A held body inflating past this is streamed instead: it bounds the event-loop time of one-shot zlib. */
const SMALL_INFLATED_BYTES = 1024 * 1024;

export type CompressedCoding = 'gzip' | 'deflate';

/** What the stream needs from its target. */
export interface WholeRewriter extends Replacer {
  rewriteBytes(bytes: Buffer): Buffer;
}

/**
 * One-shot rewrite of a held compressed body (at most SMALL_COMPRESSED_BYTES):
 * `compressed` itself when nothing changed or it cannot be decoded (the
 * client then gets exactly what the node sent, as without us), the
 * re-encoded rewrite otherwise, or undefined when it inflates past
 * SMALL_INFLATED_BYTES and must be streamed instead. Synchronous zlib: for
 * bodies this small it costs less CPU than the thread pool's round trip.
 */
export function rewriteSmallCompressed(target: WholeRewriter, compressed: Buffer, coding: CompressedCoding): Buffer | undefined {
  let plain: Buffer;
  try {
    plain = coding === 'gzip'
      ? zlib.gunzipSync(compressed, { maxOutputLength: SMALL_INFLATED_BYTES })
      : zlib.inflateSync(compressed, { maxOutputLength: SMALL_INFLATED_BYTES });
  } catch (err) {
    return (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' ? undefined : compressed;
  }
  const rewritten = looksWide(plain) ? plain : target.rewriteBytes(plain);
  if (rewritten === plain) return compressed;
  return coding === 'gzip' ? zlib.gzipSync(rewritten, ZLIB_OPTIONS) : zlib.deflateSync(rewritten, ZLIB_OPTIONS);
}

export class CodedBodyRewriteStream extends Transform {
  readonly #coding: CompressedCoding;
  readonly #names: CompiledNames;
  readonly #target: WholeRewriter;
  /** Compressed input held while the body may still be small; undefined once streaming. */
  #held: Buffer[] | undefined = [];
  #heldBytes = 0;
  #decoder: zlib.Gunzip | zlib.Inflate | undefined;
  #encoder: zlib.Gzip | zlib.Deflate | undefined;

  constructor(names: CompiledNames, target: WholeRewriter, coding: CompressedCoding) {
    super();
    this.#names = names;
    this.#target = target;
    this.#coding = coding;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const held = this.#held;
    if (held !== undefined) {
      if (this.#heldBytes + chunk.length <= SMALL_COMPRESSED_BYTES) {
        held.push(chunk);
        this.#heldBytes += chunk.length;
        return callback();
      }
      const decoder = this.#startStreaming();
      for (const piece of held) decoder.write(piece);
    }
    // The callback waits until zlib consumed the chunk: backpressure upstream.
    this.#decoder!.write(chunk, () => callback());
  }

  override _flush(callback: TransformCallback): void {
    const held = this.#held;
    if (held === undefined) return this.#endStreaming(callback);
    const compressed = held.length === 1 ? held[0]! : Buffer.concat(held);
    const out = rewriteSmallCompressed(this.#target, compressed, this.#coding);
    if (out !== undefined) return callback(null, out);
    this.#startStreaming().write(compressed);
    this.#endStreaming(callback);
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.#decoder?.destroy();
    this.#encoder?.destroy();
    callback(error);
  }

  #startStreaming(): zlib.Gunzip | zlib.Inflate {
    this.#held = undefined;
    const decoder = this.#coding === 'gzip' ? zlib.createGunzip() : zlib.createInflate();
    const encoder = this.#coding === 'gzip' ? zlib.createGzip(ZLIB_OPTIONS) : zlib.createDeflate(ZLIB_OPTIONS);
    const scanner = new ChunkScanner(this.#names, this.#target);
    const fail = (err: Error): void => {
      this.destroy(err);
    };
    decoder.on('error', fail);
    encoder.on('error', fail);
    decoder.on('data', (plain: Buffer) => {
      const out = scanner.write(plain);
      if (out !== undefined && !encoder.write(out)) decoder.pause();
    });
    encoder.on('drain', () => decoder.resume());
    decoder.on('end', () => {
      const tail = scanner.end();
      if (tail !== undefined) encoder.write(tail);
      encoder.end();
    });
    encoder.on('data', (c: Buffer) => this.push(c));
    this.#decoder = decoder;
    this.#encoder = encoder;
    return decoder;
  }

  #endStreaming(callback: TransformCallback): void {
    this.#encoder!.once('end', () => callback());
    this.#decoder!.end();
  }
}
