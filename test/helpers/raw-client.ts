/**
 * A raw HTTP/1.1-over-TLS client for framing tests: it writes exactly the
 * bytes it is given (no header normalisation, no framing of its own) and
 * hands back exactly the bytes the server sent, the responses parsed from
 * them, and whether — and how — the server closed the connection.
 *
 * `node:https` cannot do this: it refuses to send most of the malformed
 * requests a smuggling test is made of, and hides how a connection ended.
 */
import tls from 'node:tls';

export interface RawConnectOptions {
  readonly port: number;
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Trusted CA(s), PEM. */
  readonly ca: string;
  /** SNI and the name the certificate is checked against. */
  readonly servername: string;
  /** Gives up on the TLS handshake after this long. Default 5 000. */
  readonly connectTimeoutMs?: number;
}

/** How a connection ended, as the client saw it. */
export type CloseKind = 'end' | 'reset' | 'error';

export interface RawClosed {
  readonly kind: CloseKind;
  /** Milliseconds from the end of the TLS handshake to the close. */
  readonly afterMs: number;
  /** The socket error's code when `kind` is `reset` or `error`. */
  readonly code: string | undefined;
}

/** One response parsed out of the bytes received. */
export interface RawResponse {
  readonly status: number;
  readonly reason: string;
  /** Header lines in order, names as sent. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
  /** False when the connection ended before the body its framing announced. */
  readonly complete: boolean;
}

/** A TLS connection that writes raw bytes and records everything it receives. */
export interface RawConnection {
  readonly socket: tls.TLSSocket;
  /** `Date.now()` when the TLS handshake completed. */
  readonly connectedAt: number;
  /** Every byte received so far. */
  received(): Buffer;
  /** Responses parsed from what has been received so far. */
  responses(): RawResponse[];
  /** Undefined while the connection is open. */
  readonly closed: RawClosed | undefined;
  /** Resolves when the server (or the network) ends the connection. */
  readonly whenClosed: Promise<RawClosed>;
  /** Writes bytes as they are; strings are sent as latin1 so every byte value can be expressed. */
  write(bytes: string | Buffer): Promise<void>;
  /** Resolves true once `predicate` holds on what was received, false if the connection closes or `timeoutMs` passes first. */
  waitFor(predicate: (received: Buffer) => boolean, timeoutMs: number): Promise<boolean>;
  /** Closes from our side; never throws. */
  destroy(): void;
}

function toBuffer(bytes: string | Buffer): Buffer {
  return typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
}

/** Opens a TLS connection (verifying the server against `ca` and `servername`). */
export function rawConnect(options: RawConnectOptions): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: options.host ?? '127.0.0.1',
      port: options.port,
      ca: options.ca,
      servername: options.servername,
      ALPNProtocols: ['http/1.1'],
    });
    const chunks: Buffer[] = [];
    const listeners = new Set<() => void>();
    let connectedAt = 0;
    let closed: RawClosed | undefined;
    let lastError: (Error & { code?: string }) | undefined;
    let resolveClosed!: (closed: RawClosed) => void;
    const whenClosed = new Promise<RawClosed>((r) => (resolveClosed = r));
    const connectTimer = setTimeout(() => socket.destroy(Object.assign(new Error('TLS handshake timed out'), { code: 'ETIMEDOUT' })), options.connectTimeoutMs ?? 5_000);

    const notify = () => {
      for (const listener of [...listeners]) listener();
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      notify();
    });
    socket.on('error', (err: Error & { code?: string }) => {
      lastError = err;
    });
    socket.on('close', () => {
      clearTimeout(connectTimer);
      const code = lastError?.code;
      const kind: CloseKind = lastError === undefined ? 'end' : code === 'ECONNRESET' ? 'reset' : 'error';
      closed = { kind, afterMs: connectedAt === 0 ? 0 : Date.now() - connectedAt, code };
      resolveClosed(closed);
      notify();
      if (connectedAt === 0) reject(lastError ?? new Error('connection closed during the TLS handshake'));
    });
    socket.once('secureConnect', () => {
      clearTimeout(connectTimer);
      connectedAt = Date.now();
      const received = () => Buffer.concat(chunks);
      resolve({
        socket,
        connectedAt,
        received,
        responses: () => parseResponses(received(), closed !== undefined),
        get closed() {
          return closed;
        },
        whenClosed,
        write: (bytes) =>
          new Promise<void>((resolveWrite) => {
            if (socket.destroyed || !socket.writable) return resolveWrite();
            // A write the server refuses (it already closed) is not the test's failure: the close is recorded.
            socket.write(toBuffer(bytes), () => resolveWrite());
          }),
        waitFor: (predicate, timeoutMs) =>
          new Promise<boolean>((resolveWait) => {
            const check = () => {
              if (predicate(received())) finish(true);
              else if (closed) finish(false);
            };
            const finish = (value: boolean) => {
              clearTimeout(timer);
              listeners.delete(check);
              resolveWait(value);
            };
            const timer = setTimeout(() => finish(false), timeoutMs);
            listeners.add(check);
            check();
          }),
        destroy: () => socket.destroy(),
      });
    });
  });
}

export interface RawExchange {
  /** Every byte the server sent. */
  readonly raw: Buffer;
  /** `raw` as latin1, for messages and regular expressions. */
  readonly text: string;
  readonly responses: readonly RawResponse[];
  /** Status of the first response, or undefined if none arrived. */
  readonly status: number | undefined;
  /** Undefined when the connection was still open when we stopped waiting. */
  readonly closed: RawClosed | undefined;
}

export interface RawExchangeOptions extends RawConnectOptions {
  /** The request bytes; an array is written piece by piece, in order. */
  readonly request: string | Buffer | readonly (string | Buffer)[];
  /**
   * After a complete response, how long the connection may stay open before
   * we stop waiting for the server to close it. Default 1 000.
   */
  readonly lingerMs?: number;
  /** The most we wait overall for a response and a close. Default 5 000. */
  readonly timeoutMs?: number;
  /** Pause between the pieces of an array `request`, so each lands in its own TLS record. Default 0. */
  readonly pauseMs?: number;
}

/**
 * Connects, writes the request bytes, and waits until the server closes the
 * connection, or a complete response has been followed by `lingerMs` of
 * silence, or `timeoutMs` passes. Then closes our side and reports.
 */
export async function rawExchange(options: RawExchangeOptions): Promise<RawExchange> {
  const conn = await rawConnect(options);
  try {
    const pieces = Array.isArray(options.request) ? options.request : [options.request as string | Buffer];
    for (const [i, piece] of pieces.entries()) {
      if (i > 0 && options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
      await conn.write(piece);
    }
    const deadline = Date.now() + (options.timeoutMs ?? 5_000);
    const lingerMs = options.lingerMs ?? 1_000;
    for (;;) {
      if (conn.closed) break;
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      const before = conn.received().length;
      const complete = conn.responses().some((r) => r.complete);
      // Wait for more bytes or the close; after a complete answer, only for the linger period.
      const more = await conn.waitFor((received) => received.length > before, Math.min(remaining, complete ? lingerMs : remaining));
      if (!more && complete) break;
    }
    const raw = conn.received();
    const responses = parseResponses(raw, conn.closed !== undefined);
    return { raw, text: raw.toString('latin1'), responses, status: responses[0]?.status, closed: conn.closed };
  } finally {
    conn.destroy();
  }
}

/**
 * Parses consecutive HTTP/1.x responses. A body is framed by chunked
 * encoding, Content-Length, or (neither) the close of the connection.
 * Parsing stops at the first response that is not complete yet.
 */
export function parseResponses(data: Buffer, connectionClosed: boolean): RawResponse[] {
  const out: RawResponse[] = [];
  let offset = 0;
  while (offset < data.length) {
    const headEnd = data.indexOf('\r\n\r\n', offset, 'latin1');
    if (headEnd < 0) break;
    const head = data.subarray(offset, headEnd).toString('latin1').split('\r\n');
    const statusLine = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(head[0] ?? '');
    if (!statusLine) break;
    const headers = head.slice(1).map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon), line.slice(colon + 1).trim()] as const;
    });
    const header = (name: string) => headers.find(([n]) => n.toLowerCase() === name)?.[1];
    const status = Number(statusLine[1]);
    const reason = statusLine[2] ?? '';
    let cursor = headEnd + 4;
    const noBody = status === 204 || status === 304 || (status >= 100 && status < 200);
    if (noBody) {
      out.push({ status, reason, headers, body: Buffer.alloc(0), complete: true });
      offset = cursor;
      continue;
    }
    if (/chunked/i.test(header('transfer-encoding') ?? '')) {
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const lineEnd = data.indexOf('\r\n', cursor, 'latin1');
        if (lineEnd < 0) break;
        const size = parseInt(data.subarray(cursor, lineEnd).toString('latin1').split(';')[0]!, 16);
        if (Number.isNaN(size)) break;
        if (size === 0) {
          const trailerEnd = data.indexOf('\r\n\r\n', lineEnd, 'latin1');
          if (trailerEnd >= 0) {
            cursor = trailerEnd + 4;
            complete = true;
          }
          break;
        }
        if (lineEnd + 2 + size + 2 > data.length) break;
        parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        cursor = lineEnd + 2 + size + 2;
      }
      out.push({ status, reason, headers, body: Buffer.concat(parts), complete });
      if (!complete) break;
      offset = cursor;
      continue;
    }
    const length = header('content-length');
    if (length !== undefined) {
      const n = Number(length);
      const body = data.subarray(cursor, cursor + n);
      const complete = body.length === n;
      out.push({ status, reason, headers, body, complete });
      if (!complete) break;
      offset = cursor + n;
      continue;
    }
    // Delimited by the close of the connection.
    out.push({ status, reason, headers, body: data.subarray(cursor), complete: connectionClosed });
    break;
  }
  return out;
}
