/**
 * One worker's data plane: its listeners, the proxy state they consult, and
 * graceful drain. It never decides anything about certificates or health; it
 * applies what the primary sends (in a worker process), or what the primary
 * hands it directly (with `workers: 0`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { UcgateConfig, HttpsListenerConfig, HttpListenerConfig } from '../config/types.js';
import type { ListenerAddress, NodeHealthUpdate, SharedPorts, WireCertificate } from '../wire/messages.js';
import { disposeProxyState, type ProxyState } from '../proxy/proxy-state.js';
import type { NodeConfig } from '../config/types.js';
import { createRequestHandler, type ListenerInfo, type UpstreamObserver } from '../proxy/request-handler.js';
import { applyLimits, HttpsListener, HttpListener, type Listener, type ServerSetup } from './listeners.js';
import { ConnectionTracker } from './connection-tracker.js';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { isRefusedMethodPacket, REFUSED_METHOD_RESPONSE } from '../proxy/deny-list.js';
import { DataPlaneMetrics } from '../metrics/data-plane-metrics.js';
import type { WireChallenge } from '../wire/messages.js';
import { challengeTableFor, type ChallengeTable } from '../challenges/challenge-table.js';
import { answerHttp01 } from '../challenges/http01-responder.js';
import { TftpPlane } from '../tftp/tftp-plane.js';
import type { BoundListener } from '../tftp/port-map.js';
import { MainPlane } from './main-plane.js';
import type { Plane } from './plane.js';

export interface DataPlaneOptions {
  readonly log: Logger;
  readonly observer?: UpstreamObserver;
  /** Process and event-loop figures (in a worker process; the primary counts its own). */
  readonly processMetrics?: boolean;
  /** A Jabber group configuration file name this worker learned (the primary hands it to the others). */
  readonly reportTftpFile?: (cluster: string, name: string) => void;
  /** Worker threads: every thread binds the listening ports itself, sharing them through SO_REUSEPORT. */
  readonly reusePort?: boolean;
}

export interface DataPlaneInit {
  readonly config: UcgateConfig;
  readonly certificates: readonly WireCertificate[];
  readonly ticketKeys: Buffer;
  /** The ports port-0 listeners join (worker threads after the first; wire/messages.ts). */
  readonly ports?: SharedPorts;
}

interface ListenerEntry {
  /** `tftp`: Jabber's configuration files (issue 9), with a gate of their own. */
  readonly role: 'main' | 'tftp';
  readonly protocol: 'https' | 'http';
  readonly config: HttpsListenerConfig & HttpListenerConfig;
  readonly name: string;
}

type KeyedListener = Listener & { key: string; address: ListenerAddress; bound: BoundListener };

export class DataPlane {
  readonly #log: Logger;
  readonly #observer: UpstreamObserver | undefined;
  readonly #reportTftpFile: ((cluster: string, name: string) => void) | undefined;
  readonly #reusePort: boolean;
  readonly #main = new MainPlane();
  #tftp: TftpPlane | undefined;
  /** The main plane and the TFTP plane: each gets what the primary sends. */
  #planes: readonly Plane[] = [];
  #listeners: KeyedListener[] = [];
  #makeListener: ((entry: ListenerEntry, config: UcgateConfig) => Listener) | undefined;
  #certificates: readonly WireCertificate[] = [];
  #ticketKeys: Buffer = Buffer.alloc(0);
  /** Node sets from SRV, kept so a reload does not forget them until the next lookup. */
  readonly #srvNodes = new Map<string, readonly NodeConfig[]>();
  #draining = false;
  #inFlight = 0;
  /** ACME challenge responses (issuer acme only). */
  #acme: ChallengeTable | undefined;
  #connections: ConnectionTracker | undefined;
  readonly metrics: DataPlaneMetrics;

  constructor(options: DataPlaneOptions) {
    this.#log = options.log;
    this.#observer = options.observer;
    this.#reportTftpFile = options.reportTftpFile;
    this.#reusePort = options.reusePort === true;
    this.metrics = new DataPlaneMetrics({ processMetrics: options.processMetrics ?? false });
    this.metrics.countInFlight(() => [...(this.#main.state?.clusters.values() ?? [])].flatMap((cluster) => cluster.balancer.nodes));
  }

  get state(): ProxyState | undefined {
    return this.#main.state;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  async start(init: DataPlaneInit): Promise<ListenerAddress[]> {
    const { config } = init;
    this.#main.apply(config);
    this.metrics.prime(config.clusters);
    this.#acme = challengeTableFor(config);
    const acme = this.#acme;
    const alpnChallenges = acme && config.certificates.issuer.acme?.challenge === 'tls-alpn-01' ? acme : undefined;
    const connections = new ConnectionTracker(config.limits.http, config.workers);
    this.#connections = connections;
    const main = this.#main;
    const proxyRequest = createRequestHandler({
      state: () => main.state!,
      log: this.#log,
      metrics: this.metrics,
      connectionVerdict: (req) => connections.verdict(req),
      ...(this.#observer ? { observer: this.#observer } : {}),
    });
    const tftp = new TftpPlane({
      log: this.#log,
      metrics: this.metrics,
      mainState: () => main.state,
      connectionVerdict: (req) => connections.verdict(req),
      ...(this.#reportTftpFile ? { reportLearned: this.#reportTftpFile } : {}),
    });
    tftp.apply(config);
    this.#tftp = tftp;
    this.#planes = [main, tftp];
    const handler = (req: IncomingMessage, res: ServerResponse, listener: ListenerInfo) => {
      if (acme && listener.protocol === 'http' && answerHttp01(req, res, acme)) return;
      this.#serve(req, res, listener, proxyRequest);
    };
    const tftpHandler = (req: IncomingMessage, res: ServerResponse, listener: ListenerInfo) => this.#serve(req, res, listener, tftp.handle);
    const setupFor = (limits: UcgateConfig['limits']['http']): ServerSetup => ({
      limits,
      reusePort: this.#reusePort,
      prepare: (server) => {
        server.on('connection', (socket: Socket) => connections.track(socket));
        server.on('clientError', (err: Error & { code?: string }, socket: Socket) => this.#onClientError(err, socket));
        // `Expect: 100-continue` is answered by the request handler once the head passed the length and
        // route limits (Node's own would say 100 before anything was checked): a 413 never follows a 100.
        server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res));
        // CONNECT: a reverse proxy tunnels nowhere (Node hands it over here, bypassing the request handler).
        server.on('connect', (_req: IncomingMessage, socket: Duplex) => socket.end(REFUSED_METHOD_RESPONSE));
      },
    });
    this.#certificates = init.certificates;
    this.#ticketKeys = init.ticketKeys;
    this.#makeListener = (entry, cfg) => {
      const serve = entry.role === 'tftp' ? tftpHandler : handler;
      return entry.protocol === 'https'
        ? new HttpsListener(entry.config, entry.name, cfg.tls.profile, this.#certificates, this.#ticketKeys, serve, setupFor(cfg.limits.http), entry.role === 'main' ? alpnChallenges : undefined)
        : new HttpListener(entry.config, entry.name, serve, setupFor(cfg.limits.http));
    };
    return this.#openListeners(config, init.ports);
  }

  /** Counts a request in flight and, while draining, closes its connection after the answer. */
  #serve(req: IncomingMessage, res: ServerResponse, listener: ListenerInfo, next: (req: IncomingMessage, res: ServerResponse, listener: ListenerInfo) => void): void {
    this.#inFlight++;
    res.once('close', () => {
      this.#inFlight--;
      if (this.#draining) this.#closeIdle();
    });
    // While draining, answer what arrives on open connections, then close them.
    if (this.#draining) res.shouldKeepAlive = false;
    next(req, res, listener);
  }

  /**
   * Applies a new config (reload): routes, clusters and limits swap atomically
   * for new requests; listeners that stay are kept (their connections with
   * them), new ones open, removed ones stop accepting and drain. Requests in
   * flight finish on the state they started with.
   */
  async applyConfig(config: UcgateConfig, ports?: SharedPorts): Promise<ListenerAddress[]> {
    this.metrics.prime(config.clusters);
    for (const plane of this.#planes) {
      const old = plane.apply(config);
      for (const [cluster, nodes] of this.#srvNodes) plane.setNodes(cluster, nodes);
      if (old) setTimeout(() => disposeProxyState(old), config.shutdown.graceMs).unref();
    }
    this.#connections?.setLimits(config.limits.http, config.workers);
    return this.#openListeners(config, ports);
  }

  /**
   * Opens the listeners `config` names that are not open yet and closes those it no longer names.
   * A port-0 listener named in `ports` joins that port (worker threads after the first).
   */
  async #openListeners(config: UcgateConfig, ports: SharedPorts = {}): Promise<ListenerAddress[]> {
    const tftp = config.tftp?.listen;
    const wanted: ListenerEntry[] = [
      ...config.listen.https.map((entry, i) => ({ role: 'main' as const, protocol: 'https' as const, config: entry, name: `https#${i}:${entry.port}` })),
      ...config.listen.http.map((entry, i) => ({ role: 'main' as const, protocol: 'http' as const, config: entry, name: `http#${i}:${entry.port}` })),
      ...(tftp?.http ?? []).map((entry, i) => ({ role: 'tftp' as const, protocol: 'http' as const, config: entry, name: `tftp-http#${i}:${entry.port}` })),
      ...(tftp?.https ?? []).map((entry, i) => ({ role: 'tftp' as const, protocol: 'https' as const, config: entry, name: `tftp-https#${i}:${entry.port}` })),
    ];
    // Port 0 (tests) binds a new port each time: such listeners are matched by position.
    const keyOf = (protocol: string, entry: { host: string; port: number; profile?: string }, name: string) =>
      `${name.startsWith('tftp') ? 'tftp-' : ''}${protocol}|${entry.host}|${entry.port === 0 ? name : entry.port}|${entry.profile ?? ''}`;
    const current = new Map(this.#listeners.map((listener) => [listener.key, listener] as const));
    const next: KeyedListener[] = [];
    const addresses: ListenerAddress[] = [];
    for (const entry of wanted) {
      const key = keyOf(entry.protocol, entry.config, entry.name);
      const kept = current.get(key);
      if (kept) {
        applyLimits(kept.server, config.limits.http);
        current.delete(key);
        next.push(kept);
        addresses.push(kept.address);
        continue;
      }
      const shared = entry.config.port === 0 ? ports[entry.name] : undefined;
      const bind = shared === undefined ? entry : { ...entry, config: { ...entry.config, port: shared } };
      const listener = Object.assign(this.#makeListener!(bind, config), { key, address: undefined as unknown as ListenerAddress, bound: undefined as unknown as BoundListener });
      listener.address = await listener.listen();
      listener.bound = { role: entry.role, scheme: entry.protocol, configuredPort: entry.config.port, port: listener.address.port, legacy: listener.address.profile === 'legacy' };
      next.push(listener);
      addresses.push(listener.address);
    }
    for (const removed of current.values()) {
      removed.server.close();
      removed.server.closeIdleConnections();
    }
    this.#listeners = next;
    for (const plane of this.#planes) plane.setListeners(next.map((listener) => listener.bound), this.#main.state);
    return addresses;
  }

  setCertificates(certificates: readonly WireCertificate[]): void {
    this.#certificates = certificates;
    for (const listener of this.#listeners) if (listener instanceof HttpsListener) listener.setCertificates(certificates);
  }

  /** An ACME challenge to answer (add) or forget (remove); ignored unless the issuer is acme. */
  applyChallenge(op: 'add' | 'remove', challenge: WireChallenge): void {
    this.#acme?.apply(op, challenge);
  }

  setTicketKeys(ticketKeys: Buffer): void {
    this.#ticketKeys = ticketKeys;
    for (const listener of this.#listeners) if (listener instanceof HttpsListener) listener.setTicketKeys(ticketKeys);
  }

  setHealth(updates: readonly NodeHealthUpdate[]): void {
    for (const plane of this.#planes) plane.setHealth(updates);
  }

  /**
   * A cluster's node set changed (SRV). Removed nodes' pools close after the
   * grace period, so requests already on them finish.
   */
  setNodes(cluster: string, nodes: readonly NodeConfig[], health: readonly NodeHealthUpdate[]): void {
    this.#srvNodes.set(cluster, nodes);
    for (const node of nodes) this.metrics.primeNode(cluster, node.name);
    const grace = this.#main.state?.config.shutdown.graceMs;
    if (grace === undefined) return;
    for (const plane of this.#planes) {
      const removed = plane.setNodes(cluster, nodes);
      plane.setHealth(health);
      setTimeout(removed.destroy, grace).unref();
    }
  }

  /** Group configuration file names another worker learned: allow them here too. */
  learnTftpFiles(cluster: string, names: readonly string[]): void {
    this.#tftp?.learn(cluster, names);
  }

  /** Another worker saw this node issue a session: keep that client there too. */
  learnSession(cluster: string, sessionId: string, node: string): void {
    this.#main.learnSession(cluster, sessionId, node);
  }

  /**
   * Stops accepting, lets in-flight requests finish (closing each keep-alive
   * connection as its last response ends), and after `graceMs` cuts what is left.
   */
  async drain(graceMs: number): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    const closed = this.#listeners.map(
      (listener) => new Promise<void>((resolve) => listener.server.close(() => resolve())),
    );
    this.#closeIdle();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)));
    const outcome = await Promise.race([Promise.all(closed).then(() => 'drained' as const), deadline]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.#log.warn({ event: 'drain_timeout', inFlight: this.#inFlight, graceMs }, 'grace period over: closing remaining connections');
      for (const listener of this.#listeners) listener.server.closeAllConnections();
    }
    for (const plane of this.#planes) plane.dispose();
  }

  /**
   * A request Node's parser refused (smuggling attempts, bad framing, a head
   * too large, too slow). Answered and closed, counted, logged at debug only:
   * an attacker must not be able to flood the logs.
   */
  #onClientError(err: Error & { code?: string }, socket: Socket): void {
    const code = err.code ?? 'UNKNOWN';
    // TRACK is no method Node's parser knows: answer it 405 like TRACE, not 400.
    if (code === 'HPE_INVALID_METHOD' && socket.writable && isRefusedMethodPacket((err as { rawPacket?: Buffer }).rawPacket)) {
      socket.end(REFUSED_METHOD_RESPONSE);
      return;
    }
    const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    this.metrics.rejectedRequests.inc({ reason: code === 'HPE_HEADER_OVERFLOW' ? 'header-size' : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'timeout' : 'malformed' });
    this.#log.debug({ event: 'client_error', code, client: socket.remoteAddress }, 'refused a malformed request');
    // A TLS-level failure (a handshake that never finished, or failed) has no HTTP to answer in:
    // writing a 408 there would wait forever on a handshake that will not come, and hold the socket.
    if (code === 'ECONNRESET' || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || !socket.writable) {
      socket.destroy();
      return;
    }
    const text = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    socket.destroySoon?.();
  }

  #closeIdle(): void {
    for (const listener of this.#listeners) listener.server.closeIdleConnections();
  }
}
