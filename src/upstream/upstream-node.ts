/**
 * One CUCM node as the data plane sees it: where to connect, the names to
 * present (Host and SNI are the node's own, which CUCM 14SU1+ insists on),
 * and a keep-alive connection pool whose TLS verifies the node against the
 * cluster CA.
 *
 * The pool is undici's, not node:https's Agent: per keep-alive request it
 * costs a worker about a third less CPU (no ClientRequest/IncomingMessage
 * stream pair, no agent bookkeeping per request), see the README's
 * performance section for the figures.
 */
import { isIPv6 } from 'node:net';
import { createSecureContext } from 'node:tls';
import { tlsNameOptions } from '../net/tls-name.js';
import { setFlagsFromString } from 'node:v8';
import { Client, Pool, buildConnector, type Dispatcher } from 'undici';
import { connectMarked, dscpToMark } from '../net/dscp.js';
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { upstreamTlsOptions, offerRefused, offerMemory, offerKey } from './tls-offer.js';

// The offer and the CA file live apart (the primary reads them without loading undici); named here too for the pool's importers.
export { upstreamTlsOptions, offerRefused, offerMemory, offerKey, type UpstreamTlsOptions } from './tls-offer.js';
export { readClusterCa } from './cluster-ca.js';
import { ErrorCodes, errorDefinition } from '../errors.js';

// Below Tomcat's default keep-alive timeout (20 s), so we close idle sockets
// before the node does and never write into one it is closing.
const FREE_SOCKET_TIMEOUT_MS = 15_000;
const MAX_CONNECTIONS_PER_NODE = 256;

// undici parses answers with llhttp compiled to WebAssembly. Once it is hot, V8 compiles it again
// with its optimising tier, which leaves ~10 MB more resident in every worker (measured: 17 against
// 7 MB over 5,000 requests). The baseline tier's code is plenty for a parser that is a few per cent
// of a worker's CPU. Set before any pool connects, which is when undici compiles the module.
setFlagsFromString('--liftoff-only');

/**
 * A dispatch handler the pool knows the connection of: the try tells that
 * connection when its request no longer needs it (see NodeClient).
 */
export interface PooledHandler {
  client?: NodeClient;
}

/**
 * One keep-alive connection of a node's pool, counting the requests it still
 * has to serve. undici 7 (issue nodejs/undici#5845, fixed in an unreleased PR)
 * opens a new connection after a request is aborted mid-flight, for that
 * aborted request alone, and leaves it idle in the pool: a hedge lost to a hung
 * node would open a fresh connection to it each time. The connector refuses
 * to connect for a connection with no live request, which drops the aborted one.
 */
class NodeClient extends Client {
  live = 0;

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.live++;
    (handler as PooledHandler).client = this;
    return super.dispatch(options, handler);
  }
}

/** The request behind `handler` has its verdict (answered, failed or aborted): its connection need not stay for it. */
export function releaseConnection(handler: PooledHandler): void {
  if (handler.client) {
    handler.client.live--;
    handler.client = undefined;
  }
}

class NoLiveRequestError extends Error {
  readonly code = ErrorCodes.NO_LIVE_REQUEST;
}

const NO_SERVICES: ReadonlyMap<string, boolean> = new Map();

export interface UpstreamTarget {
  readonly protocol: 'https:';
  readonly host: string;
  readonly port: number;
}

export class UpstreamNode {
  readonly cluster: string;
  readonly name: string;
  readonly url: string;
  readonly priority: number;
  readonly weight: number;
  /** The Host header sent upstream: the URL's authority. */
  readonly hostHeader: string;
  readonly servername: string;
  readonly target: UpstreamTarget;
  /** Keep-alive connections to the node, shared by every request this worker sends there. */
  readonly pool: Pool;
  /** Set from the primary's health state (the cluster's main check); every node starts healthy. */
  healthy = true;
  /**
   * Drained by an operator (node maintenance, from the primary): the balancer gives it no new
   * request, but a request whose sticky session lives here still goes here while it is available.
   */
  draining = false;
  /** The service checks' verdicts (clusters[].serviceChecks); a service not here follows `healthy`. */
  #services: ReadonlyMap<string, boolean> = NO_SERVICES;
  /**
   * Until when this worker keeps away from the node on its own: after a failed
   * try (until the primary's next verdict) or a 503 + Retry-After.
   */
  #avoidUntil = 0;

  constructor(cluster: ClusterConfig, node: NodeConfig, caPem: string | undefined, maxHeaderSize: number) {
    const url = new URL(node.url);
    this.cluster = cluster.name;
    this.name = node.name;
    this.url = node.url;
    this.priority = node.priority;
    this.weight = node.weight;
    this.hostHeader = url.host;
    this.servername = cluster.tls.servername ?? url.hostname.replace(/^\[|\]$/g, '');
    this.target = { protocol: 'https:', host: node.address ?? url.hostname, port: url.port ? Number(url.port) : 443 };
    // Two connectors: the first offer asks for the cluster's key type only; the fallback, for a node
    // that refused it (it has no such certificate), asks for the other type first. The cipher and
    // signature-algorithm lists live in the contexts (tls.connect ignores them beside one); one context
    // per node and offer, made once: tls.connect would otherwise parse the CA PEM again per connection.
    const keyType = cluster.tls.keyType;
    const connectorFor = (fallback: boolean) =>
      buildConnector({
        ...tlsNameOptions(this.servername),
        rejectUnauthorized: cluster.tls.verify,
        secureContext: createSecureContext({ ...upstreamTlsOptions(keyType, fallback), ...(caPem ? { ca: caPem } : {}) }),
        timeout: cluster.timeouts.connectMs,
      });
    const preferred = connectorFor(false);
    const fallback = connectorFor(true);
    const memoryKey = offerKey(this.target.host, this.target.port, this.servername, keyType);
    const codePoint = dscpToMark(cluster.dscp);
    const dial = (connector: buildConnector.connector, connectOptions: buildConnector.Options, callback: buildConnector.Callback): void => {
      if (codePoint === undefined) return void connector(connectOptions, callback);
      connector({ ...connectOptions, httpSocket: connectMarked(connectOptions.hostname, Number(connectOptions.port), codePoint) }, callback);
    };
    const connect = (connectOptions: buildConnector.Options, callback: buildConnector.Callback): void => {
      if (offerMemory.fallbackFirst(memoryKey)) return dial(fallback, connectOptions, callback);
      dial(preferred, connectOptions, (...result) => {
        if (!offerRefused(result[0])) return callback(...result);
        offerMemory.refused(memoryKey);
        dial(fallback, connectOptions, callback);
      });
    };
    const host = this.target.host;
    this.pool = new Pool(`https://${isIPv6(host) ? `[${host}]` : host}:${this.target.port}`, {
      connections: MAX_CONNECTIONS_PER_NODE,
      pipelining: 1,
      allowH2: false,
      keepAliveTimeout: FREE_SOCKET_TIMEOUT_MS,
      keepAliveMaxTimeout: FREE_SOCKET_TIMEOUT_MS,
      // The request handler keeps its own clocks (connect, first byte, total); a slow body is the client's to wait for.
      headersTimeout: 0,
      bodyTimeout: 0,
      maxHeaderSize,
      factory: (origin, options) => {
        const client: NodeClient = new NodeClient(origin, {
          ...options,
          connect: (connectOptions, callback) => {
            if (client.live === 0) return callback(new NoLiveRequestError(errorDefinition(ErrorCodes.NO_LIVE_REQUEST).message), null);
            return connect(connectOptions, callback);
          },
        });
        return client;
      },
    });
  }

  /**
   * Whether this worker should send new requests here now: for a route of `service`, by that
   * service's check if the cluster has one, else by the main check. The worker's own
   * avoidance (a failed try, a 503 + Retry-After) keeps every service away.
   */
  available(now: number, service?: string): boolean {
    const healthy = service === undefined ? this.healthy : (this.#services.get(service) ?? this.healthy);
    return healthy && now >= this.#avoidUntil;
  }

  /** The service checks' verdicts as last set, for a new node object to start from (reload). */
  get serviceHealth(): Readonly<Record<string, boolean>> | undefined {
    return this.#services.size === 0 ? undefined : Object.fromEntries(this.#services);
  }

  /** A request just failed here: keep away for about one check interval, unless the primary says otherwise sooner. */
  eject(ms: number): void {
    this.#avoidUntil = Math.max(this.#avoidUntil, Date.now() + ms);
  }

  coolDown(ms: number): void {
    this.eject(ms);
  }

  /** The primary's verdict replaces this worker's own guess; `services` replaces every service verdict. */
  setHealthy(healthy: boolean, services?: Readonly<Record<string, boolean>>, draining = false): void {
    this.healthy = healthy;
    this.draining = draining;
    this.#services = services === undefined ? NO_SERVICES : new Map(Object.entries(services));
    this.#avoidUntil = 0;
  }

  /** Closes the pool once the requests already on it are answered. */
  destroy(): void {
    this.pool.close().catch(() => undefined);
  }
}

