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
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { createUcEndpoints } from './uc-endpoints.js';
import { sendBody, TEST_ENDPOINTS, type Endpoint, type EndpointContext } from './test-endpoints.js';
import { createTftpEndpoints } from './tftp-endpoints.js';
import { ActionLog } from './phone-actions.js';
import { UdsWriteLog } from './uds-writes.js';
import { resolveUdsSettings } from './uds-options.js';
import { createSimDatabase, DEFAULT_PAB } from './sim-database.js';
import { flowConfig } from './flow-context.js';
import { stripPathParameters } from './tomcat-session.js';
import type { CucmBehaviour, CucmNode, CucmNodeOptions, NodeAction, NodeService } from './cucm-node-api.js';
import type { RecordedRequest, RefusedAction, SimDatabase, StatusAnswer, UdsWrite } from './cucm-node-api.js';

export type { CucmBehaviour, CucmNode, CucmNodeOptions, EmServiceParameters, NodeAction, NodeActionKind } from './cucm-node-api.js';
export type { NodeService, PabEntryInit, RecordedRequest, RefusedAction, SimDatabase, StatusAnswer, UdsWrite, UdsWriteKind } from './cucm-node-api.js';

/** How long a state-changing phone action takes unless told otherwise: seconds, as on a real node. */
const DEFAULT_ACTION_DELAY_MS = 1500;

/** Bodies beyond this are refused with 413: the echo buffers in memory. */
const MAX_BODY_BYTES = 256 * 1024 * 1024;
/** Tomcat's default connectionTimeout, which is also its keep-alive timeout. */
const KEEP_ALIVE_TIMEOUT_MS = 20_000;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type AnyServer = http.Server | https.Server;
interface OpenPort {
  readonly tcp: net.Server;
  readonly server: AnyServer;
}
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
  readonly #actions: ActionLog;
  readonly #udsWrites = new UdsWriteLog(this.events);
  readonly database: SimDatabase;
  readonly #options: CucmNodeOptions;
  readonly #host: string;
  readonly #origin: string;
  readonly #ucEndpoint: (pathname: string) => Endpoint | undefined;
  readonly #tftpEndpoint: ((pathname: string) => Endpoint | undefined) | undefined;
  #port: number;
  #tftpPort: number | undefined;
  #tftpHttpPort: number | undefined;
  #behaviour: ActiveBehaviour = { kind: 'normal' };
  #open: OpenPort[] = [];
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
    this.#actions = new ActionLog(this.events, options.actionDelayMs ?? DEFAULT_ACTION_DELAY_MS, (fn, ms) => this.#work(fn, ms));
    this.database =
      options.database ??
      createSimDatabase({ emPins: options.emPins ?? { jdoe: '12345' }, personalAddressBook: options.personalAddressBook ?? DEFAULT_PAB });
    const users = options.users ?? { jdoe: 'secret' };
    const flow = flowConfig(options, this.#host, users, this.database, this.#actions, this.#sessions);
    const uds = resolveUdsSettings(options, flow.names);
    this.#ucEndpoint = createUcEndpoints({
      hostname: options.hostname,
      version: options.version ?? '14.0.1.13900-155',
      clusterNodes: options.clusterNodes ?? [options.hostname],
      homeCluster: options.homeCluster ?? options.hostname,
      users,
      flow,
      uds,
      udsWrites: this.#udsWrites,
    });
    const tftp = options.tftp;
    if (tftp) {
      this.#tftpPort = typeof tftp === 'object' ? (tftp.port ?? 0) : 0;
      this.#tftpHttpPort = typeof tftp === 'object' ? (tftp.httpPort ?? 0) : 0;
      this.#tftpEndpoint = createTftpEndpoints({
        hostname: options.hostname,
        version: options.version ?? '14.0.1.13900-155',
        clusterNodes: options.clusterNodes ?? [options.hostname],
        userIds: Object.keys(users),
        uds,
      });
    }
    this.events.setMaxListeners(0);
  }

  get url(): string {
    return `https://${urlHost(this.#host)}:${this.#port}`;
  }
  get port(): number {
    return this.#port;
  }
  get tftpPort(): number | undefined {
    return this.#tftpPort;
  }
  get tftpHttpPort(): number | undefined {
    return this.#tftpHttpPort;
  }
  get listening(): boolean {
    return this.#open.length > 0;
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
  get actions(): readonly NodeAction[] {
    return this.#actions.actions;
  }
  get refusedActions(): readonly RefusedAction[] {
    return this.#actions.refused;
  }
  get udsWrites(): readonly UdsWrite[] {
    return this.#udsWrites.writes;
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

  clearActions(): void {
    this.#actions.clear();
    this.#udsWrites.clear();
  }

  async restart(): Promise<void> {
    if (this.#open.length > 0) return;
    const tls = { cert: this.#options.certPem, key: this.#options.keyPem };
    const open: OpenPort[] = [];
    try {
      const main = await this.#listen(https.createServer(tls, (req, res) => this.#onRequest(req, res, 'uds')), this.#port);
      open.push(main);
      this.#port = (main.tcp.address() as net.AddressInfo).port;
      if (this.#tftpPort !== undefined) {
        const secure = await this.#listen(https.createServer(tls, (req, res) => this.#onRequest(req, res, 'tftp')), this.#tftpPort);
        open.push(secure);
        this.#tftpPort = (secure.tcp.address() as net.AddressInfo).port;
      }
      if (this.#tftpHttpPort !== undefined) {
        const plain = await this.#listen(http.createServer((req, res) => this.#onRequest(req, res, 'tftp')), this.#tftpHttpPort);
        open.push(plain);
        this.#tftpHttpPort = (plain.tcp.address() as net.AddressInfo).port;
      }
    } catch (err) {
      await Promise.all(open.map(({ tcp }) => new Promise<void>((resolve) => tcp.close(() => resolve()))));
      throw err;
    }
    this.#open = open;
  }

  /** A TCP listener that hands each connection to `server` (which never listens itself). */
  async #listen(server: AnyServer, port: number): Promise<OpenPort> {
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    const tcp = net.createServer((socket) => this.#accept(socket, server));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ host: this.#host, port }, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    return { tcp, server };
  }

  async close(): Promise<void> {
    const open = this.#open;
    if (open.length === 0) return;
    this.#open = [];
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#actions.abortRunning();
    const closed = open.map(({ tcp }) => new Promise<void>((resolve) => tcp.close(() => resolve())));
    for (const { server } of open) {
      server.closeAllConnections();
      // Never listening itself, so close() only stops its connection-timeout interval.
      server.close(() => {});
    }
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all(closed);
  }

  stop(): Promise<void> {
    return this.close();
  }

  #accept(socket: net.Socket, httpsServer: AnyServer): void {
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

  #record(req: IncomingMessage, service: NodeService): Mutable<RecordedRequest> {
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
      service,
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

  #onRequest(req: IncomingMessage, res: ServerResponse, service: NodeService): void {
    const behaviour = this.#behaviour;
    const record = this.#record(req, service);
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
      this.#dispatch(req, res, Buffer.concat(chunks), service);
    });
  }

  #answerStatus(res: ServerResponse, answer: StatusAnswer): void {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(answer.headers ?? {})) headers[name.toLowerCase()] = value;
    const contentType = headers['content-type'] ?? 'text/plain; charset=utf-8';
    sendBody(res, answer.status, contentType, answer.body ?? '', headers);
  }

  #dispatch(req: IncomingMessage, res: ServerResponse, body: Buffer, service: NodeService): void {
    const url = parseTarget(req.url ?? '', this.#origin);
    if (!url) return sendBody(res, 400, 'text/plain; charset=utf-8', 'Bad request target\n');
    // Tomcat maps a request after dropping `;param=value` path parameters (the session id among them); TFTP is not Tomcat.
    const { pathname, jsessionid } = service === 'tftp' ? { pathname: url.pathname, jsessionid: undefined } : stripPathParameters(url.pathname);
    const endpoint = service === 'tftp' ? this.#tftpEndpoint?.(pathname) : (TEST_ENDPOINTS.get(pathname) ?? this.#ucEndpoint(pathname));
    if (!endpoint) return sendBody(res, 404, 'text/html; charset=utf-8', '<html><body><h1>HTTP Status 404 – Not Found</h1></body></html>');
    const context: EndpointContext = {
      hostname: this.hostname,
      url,
      pathSessionId: jsessionid,
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

  /**
   * Runs `fn` after `ms` whatever happens to the response: work a servlet
   * started goes on when its client disconnects. Only close() cancels it.
   */
  #work(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
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
