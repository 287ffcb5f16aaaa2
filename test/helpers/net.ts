/**
 * Test utilities for talking to real sockets: one HTTPS request with
 * everything a test may want to assert about it, and bounded waiting
 * (`waitFor`, `once`) so no test ever sleeps for a guessed duration.
 */
import http from 'node:http';
import https from 'node:https';
import type { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';

export interface HttpsRequestOptions {
  /** Full URL; or give host/port/path. The URL's host is where to connect, not the SNI. */
  readonly url?: string | URL;
  readonly host?: string;
  readonly port?: number;
  /** The raw request target, sent as is. Default `/`. */
  readonly path?: string;
  readonly method?: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: string | Buffer;
  /** Trusted CA(s), PEM. */
  readonly ca?: string | readonly string[];
  /** SNI and the name the certificate is checked against. */
  readonly servername?: string;
  /** Default true. */
  readonly rejectUnauthorized?: boolean;
  /** Default false: a fresh connection per request. */
  readonly agent?: https.Agent | false;
  /** Fails with code `ETIMEDOUT` when no complete answer arrives in time. Default 10 000. */
  readonly timeoutMs?: number;
  /** A TLS session to resume (from an earlier response's `socket.session`). */
  readonly session?: Buffer;
  readonly minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  readonly maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  readonly ciphers?: string;
  readonly ALPNProtocols?: readonly string[];
}

export interface SocketInfo {
  readonly localPort: number | undefined;
  readonly remotePort: number | undefined;
  readonly authorized: boolean;
  readonly authorizationError: string | undefined;
  /** Negotiated TLS version, e.g. `TLSv1.3`. */
  readonly protocol: string | null;
  readonly cipher: string | undefined;
  readonly alpnProtocol: string | false | null;
  readonly sessionReused: boolean;
  /** The last session (ticket) the server sent, for resumption tests. */
  readonly session: Buffer | undefined;
  readonly peerCertificate: {
    readonly subjectCommonName: string | undefined;
    readonly subjectAltName: string | undefined;
    readonly fingerprint256: string | undefined;
    readonly serialNumber: string | undefined;
  };
}

export interface HttpsResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  /** The body as UTF-8. */
  readonly text: string;
  readonly socket: SocketInfo;
}

/** An error from the network with node's error code (`ECONNREFUSED`, `ECONNRESET`, `ETIMEDOUT`...). */
export type NetworkError = Error & { code?: string };

function describeSocket(socket: TLSSocket, session: Buffer | undefined): SocketInfo {
  const peer = socket.getPeerCertificate?.() ?? {};
  const hasPeer = Object.keys(peer).length > 0;
  const cn = hasPeer ? peer.subject?.CN : undefined;
  return {
    localPort: socket.localPort,
    remotePort: socket.remotePort,
    authorized: socket.authorized,
    authorizationError: socket.authorizationError ? String(socket.authorizationError) : undefined,
    protocol: socket.getProtocol?.() ?? null,
    cipher: socket.getCipher?.()?.name,
    alpnProtocol: socket.alpnProtocol,
    sessionReused: socket.isSessionReused?.() ?? false,
    session,
    peerCertificate: {
      subjectCommonName: Array.isArray(cn) ? cn[0] : cn,
      subjectAltName: hasPeer ? peer.subjectaltname : undefined,
      fingerprint256: hasPeer ? peer.fingerprint256 : undefined,
      serialNumber: hasPeer ? peer.serialNumber : undefined,
    },
  };
}

const sessionWatched = new WeakSet<object>();
const latestSession = new WeakMap<object, Buffer>();

/** One HTTPS request over node:https; resolves with the whole answer, rejects with a NetworkError. */
export function httpsRequest(options: HttpsRequestOptions): Promise<HttpsResponse> {
  const url = options.url === undefined ? undefined : new URL(options.url);
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: options.host ?? url?.hostname.replace(/^\[|\]$/g, '') ?? '127.0.0.1',
      port: options.port ?? (url?.port ? Number(url.port) : 443),
      path: options.path ?? (url ? url.pathname + url.search : '/'),
      method: options.method ?? 'GET',
      headers: options.headers,
      agent: options.agent ?? false,
      ...(options.ca !== undefined && { ca: typeof options.ca === 'string' ? options.ca : [...options.ca] }),
      ...(options.servername !== undefined && { servername: options.servername }),
      rejectUnauthorized: options.rejectUnauthorized ?? true,
      ...(options.session !== undefined && { session: options.session }),
      ...(options.minVersion !== undefined && { minVersion: options.minVersion }),
      ...(options.maxVersion !== undefined && { maxVersion: options.maxVersion }),
      ...(options.ciphers !== undefined && { ciphers: options.ciphers }),
      ...(options.ALPNProtocols !== undefined && { ALPNProtocols: [...options.ALPNProtocols] }),
    });
    const timer = setTimeout(() => {
      const err: NetworkError = new Error(`request to ${options.url ?? options.path ?? '/'} timed out after ${timeoutMs} ms`);
      err.code = 'ETIMEDOUT';
      req.destroy(err);
    }, timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    req.on('socket', (socket) => {
      // A keep-alive agent hands the same socket to many requests: listen once per socket.
      if (sessionWatched.has(socket)) return;
      sessionWatched.add(socket);
      socket.on('session', (ticket: Buffer) => latestSession.set(socket, ticket));
    });
    req.on('error', fail);
    req.on('response', (res) => {
      // Read the TLS details now: with agent false the socket is gone by 'end'.
      const info = describeSocket(res.socket as TLSSocket, undefined);
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body,
          text: body.toString('utf8'),
          socket: { ...info, session: latestSession.get(res.socket) },
        });
      });
    });
    req.end(options.body);
  });
}

export interface WaitForOptions {
  /** Default 5 000. */
  readonly timeoutMs?: number;
  /** Default 10. */
  readonly intervalMs?: number;
  /** Says what was awaited, for the timeout message. */
  readonly message?: string;
}

/**
 * Polls `predicate` until it returns a truthy value, and returns that value.
 * A throwing predicate counts as "not yet"; its last error is reported on timeout.
 */
export async function waitFor<T>(predicate: () => T | Promise<T>, options: WaitForOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const intervalMs = options.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const what = options.message ?? 'condition';
      const why = lastError === undefined ? '' : ` (last error: ${(lastError as Error).message ?? String(lastError)})`;
      throw new Error(`waitFor: ${what} not met within ${timeoutMs} ms${why}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * The arguments of the next `event` from `emitter`; rejects after
 * `timeoutMs` (default 5 000) or on an 'error' event.
 */
export function once<T extends unknown[] = unknown[]>(emitter: EventEmitter, event: string, timeoutMs = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      emitter.off(event, onEvent);
      if (event !== 'error') emitter.off('error', onError);
    };
    const onEvent = (...args: unknown[]): void => {
      cleanup();
      resolve(args as T);
    };
    const onError = (err: unknown): void => {
      cleanup();
      reject(err);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`once: no '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    emitter.on(event, onEvent);
    if (event !== 'error') emitter.on('error', onError);
  });
}

/** A plain-HTTP answer, body as text. */
export interface PlainAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

/**
 * A plain-HTTP request to 127.0.0.1 with the target sent exactly as given and
 * `Host` as given, on a fresh connection (so a gateway's workers take turns):
 * Jabber fetches its service profile this way, from port 6970.
 */
export function plainHttpGet(port: number, path: string, host: string, method = 'GET'): Promise<PlainAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers: { host }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
