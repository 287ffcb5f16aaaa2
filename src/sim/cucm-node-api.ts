/** What a simulated CUCM node (cucm-node.ts) offers the tests and `ucgate demo`: its options, its failure modes, what it records. */
import type { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';

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
  /**
   * Also run CUCM's TFTP-over-HTTP service (see tftp-endpoints.ts): over TLS
   * on `tftpPort` (CUCM's 6972) and plain on `tftpHttpPort` (6970). Both
   * default to 0 (any free port, kept across `stop()`/`restart()`).
   */
  readonly tftp?: boolean | { readonly port?: number; readonly httpPort?: number };
}

/** Which of the node's services a request reached. */
export type NodeService = 'uds' | 'tftp';

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
  /** `uds`: the HTTPS port (UDS, phone services, test endpoints); `tftp`: a TFTP port. */
  readonly service: NodeService;
}

export interface CucmNode {
  readonly name: string;
  readonly hostname: string;
  /** `https://<host>:<port>`; `host` is the listening address, not the FQDN. */
  readonly url: string;
  readonly port: number;
  /** The TFTP-over-HTTPS port (CUCM's 6972), when the node runs TFTP. */
  readonly tftpPort: number | undefined;
  /** The plain TFTP-over-HTTP port (CUCM's 6970), when the node runs TFTP. */
  readonly tftpHttpPort: number | undefined;
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
