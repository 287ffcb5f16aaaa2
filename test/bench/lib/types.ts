/**
 * The two seams of the harness. A Contestant is something clients can be
 * pointed at (the upstream itself, ucgate, a peer proxy); a Workload drives
 * load at one contestant and returns numbers. New scenarios (a login storm,
 * 1 MiB bodies, a certificate swap under load) are new Workload modules; new
 * proxies are new Contestant modules. run.ts only combines them.
 */
import type { BenchPki, NodeName } from './pki.js';

/** Where clients connect, and how they verify what answers. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** SNI and the name the certificate is checked against. */
  readonly servername: string;
  readonly caFile: string;
  /** `https://host:port` */
  readonly url: string;
}

export interface UpstreamNodeRef {
  readonly name: NodeName;
  readonly hostname: string;
  readonly port: number;
}

/** The two CUCM nodes every contestant proxies to (publisher first). */
export interface UpstreamSet {
  readonly kind: 'nginx-static' | 'sim';
  readonly nodes: readonly UpstreamNodeRef[];
  /** CA to verify the nodes with. */
  readonly caFile: string;
  pids(): number[];
  stop(): Promise<void>;
}

/** An upstream whose nodes are separate processes we can kill and freeze. */
export interface ControllableUpstream extends UpstreamSet {
  readonly kind: 'sim';
  pidOf(name: NodeName): number;
  /** SIGKILL: the port refuses connections until revive(). */
  kill(name: NodeName): void;
  /** SIGSTOP: the kernel still accepts TCP, nothing ever answers. */
  freeze(name: NodeName): void;
  /** SIGCONT. */
  thaw(name: NodeName): void;
  /** Makes sure the node runs, answers, and is on its original port. */
  revive(name: NodeName): Promise<void>;
}

export interface Contestant {
  readonly name: string;
  /** false for the direct baseline: not a proxy, no CPU or failover figures. */
  readonly isProxy: boolean;
  start(upstream: UpstreamSet, pki: BenchPki, workDir: string): Promise<void>;
  stop(): Promise<void>;
  /** Valid after start(). */
  readonly endpoint: Endpoint;
  /** Root PIDs of the proxy (descendants are found from /proc), for CPU and memory. */
  pids(): number[];
  /** Facts worth printing once (versions, negotiated protocols). */
  notes(): string[];
  /** The proxy's own account of trouble (its warning/error log lines), shown when clients saw errors. */
  complaints?(): string[];
}

export type Metrics = Record<string, number>;

export interface WorkloadResult {
  readonly metrics: Metrics;
  /** Short facts for the notes under the table (error kinds, TLS versions seen). */
  readonly notes?: readonly string[];
}

export interface Settings {
  readonly short: boolean;
  /** Seconds of measured load for throughput workloads. */
  readonly durationS: number;
  readonly warmupS: number;
  /** Longest warm-up after a proxy starts, until its rate is steady (see warmUntilSteady). */
  readonly maxWarmupS: number;
  /** Fewest 1 s warm-up runs of a freshly started proxy, however steady it looks. */
  readonly minWarmupS: number;
  readonly pki: BenchPki;
  readonly workDir: string;
  readonly repo: string;
  /** ALPN the Node handshake and login clients offer (`--client-alpn`); none by default, as phones. */
  readonly clientAlpn?: readonly string[];
}

export interface WorkloadContext {
  readonly contestant: Contestant;
  readonly upstream: UpstreamSet;
  readonly settings: Settings;
  log(message: string): void;
  /** CPU seconds used so far by the contestant's process tree; undefined when it is not a proxy. */
  proxyCpuSeconds(): number | undefined;
  /** Resident memory of the contestant's process tree now, MB; undefined when it is not a proxy. */
  proxyRssMb(): number | undefined;
}

export interface Column {
  readonly key: string;
  readonly label: string;
  readonly format: (value: number | undefined) => string;
}

export interface Workload {
  readonly id: string;
  readonly title: string;
  /** Which upstream it needs: the fast static one, or killable simulated nodes. */
  readonly needs: 'throughput' | 'failover';
  readonly includeDirect: boolean;
  /** Start the contestant afresh for this workload (failover: no health state carried over). */
  readonly freshContestant: boolean;
  /** Metric whose ratio to direct / best peer is reported (higher is better), if any. */
  readonly ratioKey?: string;
  readonly columns: readonly Column[];
  run(ctx: WorkloadContext): Promise<WorkloadResult>;
}
