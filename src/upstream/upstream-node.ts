/**
 * One CUCM node as the data plane sees it: where to connect, the names to
 * present (Host and SNI are the node's own, which CUCM 14SU1+ insists on),
 * and a keep-alive agent whose TLS verifies the node against the cluster CA.
 */
import { Agent } from 'node:https';
import { readFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { createSecureContext, type ConnectionOptions } from 'node:tls';
import { dscpCodePoint, dscpSupported, markSocket } from '../net/dscp.js';
import type { ClusterConfig, NodeConfig } from '../config/types.js';

// Below Tomcat's default keep-alive timeout (20 s), so we close idle sockets
// before the node does and never write into one it is closing.
const FREE_SOCKET_TIMEOUT_MS = 15_000;

/**
 * One agent per node, so one pool: its key can be a constant. https.Agent
 * otherwise rebuilds the key from some twenty options on every request (and
 * again when the socket is freed), a long string hashed on each pool lookup:
 * 2 % of a worker's CPU under keep-alive load in the profile.
 */
class NodeAgent extends Agent {
  override getName(): string {
    return 'node';
  }
}

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
  readonly agent: Agent;
  /** Set from the primary's health state; every node starts healthy. */
  healthy = true;
  /**
   * Until when this worker keeps away from the node on its own: after a failed
   * try (until the primary's next verdict) or a 503 + Retry-After.
   */
  #avoidUntil = 0;

  constructor(cluster: ClusterConfig, node: NodeConfig, caPem: string | undefined) {
    const url = new URL(node.url);
    this.cluster = cluster.name;
    this.name = node.name;
    this.url = node.url;
    this.priority = node.priority;
    this.weight = node.weight;
    this.hostHeader = url.host;
    this.servername = cluster.tls.servername ?? url.hostname.replace(/^\[|\]$/g, '');
    this.target = { protocol: 'https:', host: node.address ?? url.hostname, port: url.port ? Number(url.port) : 443 };
    this.agent = new NodeAgent({
      keepAlive: true,
      maxSockets: 256,
      maxFreeSockets: 64,
      scheduling: 'lifo',
      timeout: FREE_SOCKET_TIMEOUT_MS,
      servername: this.servername,
      rejectUnauthorized: cluster.tls.verify,
      // A context, not `ca`: https.Agent makes its pool key from the options, `ca` included, on every
      // request (a 1-2 KB string built and hashed per request), and tls.connect parses a `ca` again per connection.
      secureContext: createSecureContext(caPem ? { ca: caPem } : {}),
    });
    if (cluster.dscp !== undefined && dscpSupported) markUpstreamSockets(this.agent, dscpCodePoint(cluster.dscp));
  }

  /** Whether this worker should send new requests here now. */
  available(now: number): boolean {
    return this.healthy && now >= this.#avoidUntil;
  }

  /** A request just failed here: keep away for about one check interval, unless the primary says otherwise sooner. */
  eject(ms: number): void {
    this.#avoidUntil = Math.max(this.#avoidUntil, Date.now() + ms);
  }

  coolDown(ms: number): void {
    this.eject(ms);
  }

  /** The primary's verdict replaces this worker's own guess. */
  setHealthy(healthy: boolean): void {
    this.healthy = healthy;
    this.#avoidUntil = 0;
  }

  destroy(): void {
    this.agent.destroy();
  }
}

/** Reads a cluster's CA file once per config, not once per node or request. */
export function readClusterCa(cluster: ClusterConfig): string | undefined {
  return cluster.tls.caFile ? readFileSync(cluster.tls.caFile, 'utf8') : undefined;
}

/**
 * The agent gets a raw TCP socket marked as soon as it connects, before the
 * TLS ClientHello; https.Agent still does the TLS (and its session cache).
 */
function markUpstreamSockets(agent: Agent, codePoint: number): void {
  type CreateConnection = (options: ConnectionOptions, callback?: (err: Error | null, socket: unknown) => void) => unknown;
  const target = agent as unknown as { createConnection: CreateConnection };
  const base = target.createConnection.bind(agent);
  target.createConnection = (options, callback) => {
    const raw = connectTcp({ host: options.host ?? 'localhost', port: Number(options.port) });
    raw.once('connect', () => markSocket(raw, codePoint));
    return base({ ...options, socket: raw }, callback);
  };
}
