/**
 * Reads HTTP/1.1 responses off a connection's bytes the way a client must:
 * status line and headers, then a body framed by Content-Length, by chunked
 * transfer-coding, or by the end of the connection (neither header). Why not
 * just read to the close, as conn-client does: a login asks three questions
 * on one keep-alive connection, so each answer must end where its framing
 * says. And the framing differs by contestant: peers pass the node's
 * Content-Length through, while ucgate rewrites node names in XML bodies and
 * may answer chunked or with a recomputed length.
 *
 * One response at a time (the login client does not pipeline). Malformed
 * input throws.
 */

export interface HttpResponse {
  readonly status: number;
  readonly body: Buffer;
}

const CRLF = '\r\n';
const HEAD_END = '\r\n\r\n';
/** A head longer than this is not a server's answer. */
const MAX_HEAD_BYTES = 64 * 1024;

interface Head {
  readonly status: number;
  readonly bodyStart: number;
  readonly length: number | undefined;
  readonly chunked: boolean;
}

function parseHead(buffer: Buffer): Head | undefined {
  const headEnd = buffer.indexOf(HEAD_END);
  if (headEnd < 0) {
    if (buffer.length > MAX_HEAD_BYTES) throw new Error('response head too long');
    return undefined;
  }
  const lines = buffer.toString('latin1', 0, headEnd).split(CRLF);
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!)?.[1];
  if (status === undefined) throw new Error('bad status line');
  let length: number | undefined;
  let chunked = false;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') length = Number(value);
    else if (name === 'transfer-encoding') chunked = /(^|,)\s*chunked$/i.test(value);
  }
  if (length !== undefined && !(Number.isInteger(length) && length >= 0)) throw new Error('bad content-length');
  const code = Number(status);
  // No body, whatever the headers say (RFC 9112 section 6.3).
  if (code < 200 || code === 204 || code === 304) length = 0;
  return { status: code, bodyStart: headEnd + HEAD_END.length, length, chunked };
}

/** The decoded body and where the chunked framing ends, once all of it is in `buffer`. */
function dechunk(buffer: Buffer, from: number): { body: Buffer; end: number } | undefined {
  const parts: Buffer[] = [];
  let pos = from;
  for (;;) {
    const lineEnd = buffer.indexOf(CRLF, pos);
    if (lineEnd < 0) return undefined;
    const size = parseInt(buffer.toString('latin1', pos, lineEnd).split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size) || size < 0) throw new Error('bad chunk size');
    if (size === 0) {
      // The last-chunk line's CRLF, trailer fields (usually none), the empty line: the first CRLFCRLF from here.
      const end = buffer.indexOf(HEAD_END, lineEnd);
      return end < 0 ? undefined : { body: Buffer.concat(parts), end: end + HEAD_END.length };
    }
    const dataEnd = lineEnd + CRLF.length + size;
    if (buffer.length < dataEnd + CRLF.length) return undefined;
    parts.push(buffer.subarray(lineEnd + CRLF.length, dataEnd));
    pos = dataEnd + CRLF.length;
  }
}

export class ResponseReader {
  #buffer: Buffer = Buffer.alloc(0);

  /** Takes the next bytes; returns the response they complete, if any. */
  push(chunk: Buffer): HttpResponse | undefined {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    return this.#take(false);
  }

  /** The connection ended: completes a response delimited by the close, if one is pending. */
  end(): HttpResponse | undefined {
    return this.#take(true);
  }

  #take(atEnd: boolean): HttpResponse | undefined {
    const buffer = this.#buffer;
    const head = parseHead(buffer);
    if (!head) return undefined;
    let framed: { body: Buffer; end: number } | undefined;
    if (head.chunked) framed = dechunk(buffer, head.bodyStart);
    else if (head.length !== undefined) {
      const end = head.bodyStart + head.length;
      if (buffer.length >= end) framed = { body: buffer.subarray(head.bodyStart, end), end };
    } else if (atEnd) framed = { body: buffer.subarray(head.bodyStart), end: buffer.length };
    if (!framed) return undefined;
    this.#buffer = buffer.subarray(framed.end);
    return { status: head.status, body: framed.body };
  }
}
