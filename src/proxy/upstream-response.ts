/**
 * A node's answer as the response writer reads it: status, the raw header
 * list (names as the node cased them, repeats kept), a lower-case header map,
 * and the body as a readable stream with backpressure back to the node's
 * connection. The shape is the part of node:http's IncomingMessage the writer
 * uses, so a rewriter or `pipe` sees an ordinary stream.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';


export class UpstreamResponse extends Readable {
  readonly statusCode: number;
  readonly statusMessage: string;
  readonly rawHeaders: string[];
  /** Whether the whole body arrived (the node's framing said it ended). */
  complete = false;
  #headers: IncomingHttpHeaders | undefined;
  readonly #resume: () => void;

  constructor(statusCode: number, statusMessage: string, rawHeaders: string[], resume: () => void) {
    super();
    this.statusCode = statusCode;
    this.statusMessage = statusMessage;
    this.rawHeaders = rawHeaders;
    this.#resume = resume;
  }

  /** Built on first use, as node:http does: most answers only need two or three names. */
  get headers(): IncomingHttpHeaders {
    if (this.#headers) return this.#headers;
    const map: Record<string, string | string[]> = {};
    const raw = this.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      const value = raw[i + 1]!;
      const seen = map[name];
      if (name === 'set-cookie') {
        if (seen === undefined) map[name] = [value];
        else (seen as string[]).push(value);
      } else map[name] = seen === undefined ? value : `${seen as string}, ${value}`;
    }
    return (this.#headers = map as IncomingHttpHeaders);
  }

  /** As node:http's IncomingMessage: a cut body nobody listens for (a drained 503) is not an uncaught error. */
  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    callback(this.listenerCount('error') > 0 ? err : null);
  }

  override _read(): void {
    this.#resume();
  }

  /** A body chunk from the node: false asks the node's connection to pause until the reader wants more. */
  deliver(chunk: Buffer): boolean {
    return this.push(chunk);
  }

  finish(): void {
    this.complete = true;
    this.push(null);
  }
}

/** undici hands raw header lines over as buffers; header bytes are latin1 on the wire. */
export function rawHeaderStrings(raw: readonly Buffer[]): string[] {
  const out = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw[i]!.toString('latin1');
  return out;
}
