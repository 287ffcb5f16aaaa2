/**
 * A simulated CUCM node: the upstream of every test and of `ucgate demo`.
 * It serves realistic UDS and phone-service answers over HTTPS with
 * keep-alive, records every request it receives, and can be made to fail the
 * ways real nodes fail (hang, answer 503, reset, swallow the TLS handshake,
 * die and come back on the same port).
 *
 * Connections are accepted by a plain TCP server and handed to the HTTPS
 * server by hand. That is what lets the node hold a connection without ever
 * starting TLS ('blackhole'), send a real TCP reset ('reset'), and destroy
 * every socket on close so a test never waits for a keep-alive timeout.
 */
import { EventEmitter } from 'node:events';
import https from 'node:https';
import net from 'node:net';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { createUcEndpoints } from './uc-endpoints.js';
import { sendBody, TEST_ENDPOINTS, type Endpoint, type EndpointContext } from './test-endpoints.js';

export interface CucmNodeOptions {
  /** Short name, sent back in `x-cucm-node` (e.g. `pub`, `sub1`). */
  readonly name: string;
  /** The node's FQDN; it appears in every URI the node writes into a body. */
  readonly hostname: string;
  /** FQDNs of every node of the cluster, for `/cucm-uds/servers`. Default: `[hostname]`. */
  readonly clusterNodes?: readonly string[];
  /** Publisher FQDN that `clusterUser` names as the home cluster. Default: `hostname`. */
  readonly homeCluster?: string;
  /** The node's Tomcat certificate (PEM; may carry the chain after the leaf). */
  readonly certPem: string;
  readonly keyPem: string;
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Default 0: any free port, kept across `stop()`/`restart()`. */
  readonly port?: number;
  /** Default `14.0.1.13900-155`. */
  readonly version?: string;
  /** UDS end users, user id → password. Default `{ jdoe: 'secret' }`. */
  readonly users?: Readonly<Record<string, string>>;
  /** Extension Mobility PINs, user id → PIN. Default `{ jdoe: '12345' }`. */
  readonly emPins?: Readonly<Record<string, string>>;
}

/** The fixed answer of the 'status' behaviour. */
export interface StatusAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
}

/**
 * - `normal`: answer.
 * - `hang`: complete TLS, read the request, never answer.
 * - `status`: answer every request with one fixed status (e.g. 503 + Retry-After).
 * - `reset`: read the request head, then reset the TCP connection (RST).
 * - `blackhole`: accept TCP, never start TLS (a connect that "succeeds" into nothing).
 *
 * A behaviour applies to requests (or, for `blackhole`, connections) that
 * arrive after it is set; a hung request stays hung.
 */
export type CucmBehaviour = 'normal' | 'hang' | 'reset' | 'blackhole' | ({ readonly kind?: 'status' } & StatusAnswer);

/** One request as it reached the node. */
export interface RecordedRequest {
  readonly method: string;
  /** The request target exactly as received (no normalisation). */
  readonly url: string;
  /** A copy of the parsed headers. */
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
  /** Bytes of request body received (complete by the time 'request' is emitted). */
  readonly bodyLength: number;
  /** `Date.now()` when the request head arrived. */
  readonly time: number;
  readonly remotePort: number | undefined;
  /** SNI the client sent, if any. */
  readonly servername: string | undefined;
  /** Status of the answer once it is sent; undefined while pending or if none was sent. */
  readonly status: number | undefined;
}

export interface CucmNode {
  readonly name: string;
  readonly hostname: string;
  /** `https://<host>:<port>`; `host` is the listening address, not the FQDN. */
  readonly url: string;
  readonly port: number;
  readonly listening: boolean;
  /** Every request received since start (or the last `clearRequests()`), in arrival order. */
  readonly requests: readonly RecordedRequest[];
  readonly requestCount: number;
  /** TCP connections accepted since start. */
  readonly connectionCount: number;
  /** JSESSIONIDs this node has issued. */
  readonly sessions: ReadonlySet<string>;
  readonly behaviour: CucmBehaviour;
  /**
   * 'connection' (remotePort) per accepted TCP connection; 'request'
   * (RecordedRequest) once a request's body is read, before any answer;
   * 'response' (RecordedRequest) once an answer is fully sent.
   */
  readonly events: EventEmitter;
  setBehaviour(behaviour: CucmBehaviour): void;
  setBehaviour(behaviour: 'status', answer: StatusAnswer): void;
  clearRequests(): void;
  /** Stops listening and destroys every open connection and pending timer. Never hangs. */
  close(): Promise<void>;
  /** Same as close(): the port refuses connections until restart(). */
  stop(): Promise<void>;
  /** Listens again on the same port; a no-op while listening. Keeps the behaviour. */
  restart(): Promise<void>;
}

/** Bodies beyond this are refused with 413: the echo buffers in memory. */
const MAX_BODY_BYTES = 256 * 1024 * 1024;
/** Tomcat's default connectionTimeout, which is also its keep-alive timeout. */
const KEEP_ALIVE_TIMEOUT_MS = 20_000;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type ActiveBehaviour = { kind: 'normal' | 'hang' | 'reset' | 'blackhole' } | ({ kind: 'status' } & StatusAnswer);

function peerKey(address: string | undefined, port: number | undefined): string {
  return `${address ?? ''}|${port ?? ''}`;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return net.isIPv6(host) ? `[${host}]` : host;
}

/** Parses a raw target without letting `//x/...` turn into a host name. */
function parseTarget(target: string, origin: string): URL | undefined {
  try {
    return target.startsWith('/') ? new URL(origin + target) : new URL(target);
  } catch {
    return undefined;
  }
}

class SimulatedCucmNode implements CucmNode {
  readonly name: string;
  readonly hostname: string;
  readonly events = new EventEmitter();
  readonly #requests: RecordedRequest[] = [];
  readonly #sessions = new Set<string>();
  readonly #options: CucmNodeOptions;
  readonly #host: string;
  readonly #origin: string;
  readonly #ucEndpoint: (pathname: string) => Endpoint | undefined;
  #port: number;
  #behaviour: ActiveBehaviour = { kind: 'normal' };
  #tcp: net.Server | undefined;
  #https: https.Server | undefined;
  readonly #sockets = new Set<net.Socket>();
  readonly #socketsByPeer = new Map<string, net.Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #connectionCount = 0;

  constructor(options: CucmNodeOptions) {
    this.#options = options;
    this.name = options.name;
    this.hostname = options.hostname;
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port ?? 0;
    this.#origin = `https://${options.hostname}:8443`;
    this.#ucEndpoint = createUcEndpoints({
      hostname: options.hostname,
      version: options.version ?? '14.0.1.13900-155',
      clusterNodes: options.clusterNodes ?? [options.hostname],
      homeCluster: options.homeCluster ?? options.hostname,
      users: options.users ?? { jdoe: 'secret' },
      emPins: options.emPins ?? { jdoe: '12345' },
      sessions: this.#sessions,
    });
    this.events.setMaxListeners(0);
  }

  get url(): string {
    return `https://${urlHost(this.#host)}:${this.#port}`;
  }
  get port(): number {
    return this.#port;
  }
  get listening(): boolean {
    return this.#tcp !== undefined;
  }
  get requests(): readonly RecordedRequest[] {
    return this.#requests;
  }
  get requestCount(): number {
    return this.#requests.length;
  }
  get connectionCount(): number {
    return this.#connectionCount;
  }
  get sessions(): ReadonlySet<string> {
    return this.#sessions;
  }
  get behaviour(): CucmBehaviour {
    const b = this.#behaviour;
    return b.kind === 'status' ? { ...b } : b.kind;
  }

  setBehaviour(behaviour: CucmBehaviour | 'status', answer?: StatusAnswer): void {
    if (behaviour === 'status') {
      if (!answer) throw new TypeError("setBehaviour('status') needs a { status } answer");
      this.#behaviour = { ...answer, kind: 'status' };
    } else if (typeof behaviour === 'string') {
      this.#behaviour = { kind: behaviour };
    } else {
      this.#behaviour = { ...behaviour, kind: 'status' };
    }
  }

  clearRequests(): void {
    this.#requests.length = 0;
  }

  async restart(): Promise<void> {
    if (this.#tcp) return;
    const httpsServer = https.createServer(
      { cert: this.#options.certPem, key: this.#options.keyPem },
      (req, res) => this.#onRequest(req, res),
    );
    httpsServer.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    const tcp = net.createServer((socket) => this.#accept(socket, httpsServer));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ host: this.#host, port: this.#port }, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    this.#port = (tcp.address() as net.AddressInfo).port;
    this.#tcp = tcp;
    this.#https = httpsServer;
  }

  async close(): Promise<void> {
    const tcp = this.#tcp;
    const httpsServer = this.#https;
    if (!tcp || !httpsServer) return;
    this.#tcp = undefined;
    this.#https = undefined;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
    httpsServer.closeAllConnections();
    // Never listening itself, so close() only stops its connection-timeout interval.
    httpsServer.close(() => {});
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  stop(): Promise<void> {
    return this.close();
  }

  #accept(socket: net.Socket, httpsServer: https.Server): void {
    this.#connectionCount++;
    const key = peerKey(socket.remoteAddress, socket.remotePort);
    this.#sockets.add(socket);
    this.#socketsByPeer.set(key, socket);
    // Errors of a socket the HTTPS layer owns surface there; this one keeps a blackholed socket from crashing us.
    socket.on('error', () => {});
    socket.once('close', () => {
      this.#sockets.delete(socket);
      if (this.#socketsByPeer.get(key) === socket) this.#socketsByPeer.delete(key);
    });
    this.events.emit('connection', socket.remotePort);
    if (this.#behaviour.kind === 'blackhole') {
      socket.pause();
      return;
    }
    httpsServer.emit('connection', socket);
  }

  #record(req: IncomingMessage): Mutable<RecordedRequest> {
    const tls = req.socket as TLSSocket;
    return {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: { ...req.headers },
      rawHeaders: [...req.rawHeaders],
      bodyLength: 0,
      time: Date.now(),
      remotePort: req.socket.remotePort,
      servername: typeof tls.servername === 'string' ? tls.servername : undefined,
      status: undefined,
    };
  }

  #publish(record: RecordedRequest): void {
    this.#requests.push(record);
    this.events.emit('request', record);
  }

  #reset(socket: net.Socket): void {
    // The TLS socket cannot send an RST itself; the raw TCP socket under it can.
    const raw = this.#socketsByPeer.get(peerKey(socket.remoteAddress, socket.remotePort));
    try {
      raw?.resetAndDestroy();
    } catch {
      // Not a TCP handle (never the case for our own listener): a plain close still fails the request.
    }
    socket.destroy();
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const behaviour = this.#behaviour;
    const record = this.#record(req);
    res.setHeader('x-cucm-node', this.name);
    res.once('finish', () => {
      record.status = res.statusCode;
      this.events.emit('response', record);
    });
    if (behaviour.kind === 'reset') {
      this.#publish(record);
      this.#reset(req.socket);
      return;
    }
    const chunks: Buffer[] = [];
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      record.bodyLength += chunk.length;
      if (record.bodyLength > MAX_BODY_BYTES) tooLarge = true;
      else if (behaviour.kind !== 'hang') chunks.push(chunk);
    });
    req.on('error', () => {});
    req.once('end', () => {
      this.#publish(record);
      if (behaviour.kind === 'hang') return;
      if (tooLarge) {
        res.shouldKeepAlive = false;
        return sendBody(res, 413, 'text/plain; charset=utf-8', 'Request body too large\n');
      }
      if (behaviour.kind === 'status') return this.#answerStatus(res, behaviour);
      this.#dispatch(req, res, Buffer.concat(chunks));
    });
  }

  #answerStatus(res: ServerResponse, answer: StatusAnswer): void {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(answer.headers ?? {})) headers[name.toLowerCase()] = value;
    const contentType = headers['content-type'] ?? 'text/plain; charset=utf-8';
    sendBody(res, answer.status, contentType, answer.body ?? '', headers);
  }

  #dispatch(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const url = parseTarget(req.url ?? '', this.#origin);
    if (!url) return sendBody(res, 400, 'text/plain; charset=utf-8', 'Bad request target\n');
    const endpoint = TEST_ENDPOINTS.get(url.pathname) ?? this.#ucEndpoint(url.pathname);
    if (!endpoint) return sendBody(res, 404, 'text/html; charset=utf-8', '<html><body><h1>HTTP Status 404 – Not Found</h1></body></html>');
    const context: EndpointContext = {
      hostname: this.hostname,
      url,
      body,
      later: (fn, ms) => this.#later(res, fn, ms),
    };
    try {
      endpoint(req, res, context);
    } catch (err) {
      if (!res.headersSent) sendBody(res, 500, 'text/plain; charset=utf-8', `${(err as Error).message}\n`);
      else res.destroy();
    }
  }

  #later(res: ServerResponse, fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      res.off('close', cancel);
      fn();
    }, ms);
    const cancel = (): void => {
      clearTimeout(timer);
      this.#timers.delete(timer);
    };
    this.#timers.add(timer);
    res.once('close', cancel);
  }
}

/** Starts a simulated CUCM node listening on `host:port` (default 127.0.0.1, any port). */
export async function startCucmNode(options: CucmNodeOptions): Promise<CucmNode> {
  const node = new SimulatedCucmNode(options);
  await node.restart();
  return node;
}
