/**
 * The validated, defaulted and frozen configuration. The shape follows
 * shared/CONTRACT.md; the defaults live in schema.ts and nowhere else.
 * Every relative path here has already been resolved against the config
 * file's folder by the loader.
 */

export type TlsProfileName = 'modern' | 'compatible' | 'legacy';
export type KeyType = 'rsa-2048' | 'rsa-3072' | 'ecdsa-p256';
export type IssuerType = 'self-signed' | 'acme' | 'manual';
export type AcmeChallenge = 'http-01' | 'tls-alpn-01' | 'dns-01';

export interface HttpsListenerConfig {
  readonly host: string;
  readonly port: number;
  /** Falls back to `tls.profile`. */
  readonly profile?: TlsProfileName;
  /** QoS marking of this listener's sockets (name such as CS3/AF21, or 0-63). */
  readonly dscp?: string | number;
}

export interface HttpListenerConfig {
  readonly host: string;
  readonly port: number;
  readonly dscp?: string | number;
}

export interface AdminListenerConfig {
  readonly host: string;
  readonly port: number;
  readonly tokenFile?: string;
  /** false: plain HTTP, accepted only on a loopback host. */
  readonly tls: boolean;
}

export interface ListenConfig {
  readonly https: readonly HttpsListenerConfig[];
  readonly http: readonly HttpListenerConfig[];
  readonly admin?: AdminListenerConfig;
}

export interface TlsConfig {
  readonly profile: TlsProfileName;
  /** How often the primary replaces the session-ticket keys shared by the workers. */
  readonly ticketKeyRotationMs: number;
}

export interface DnsPropagationConfig {
  /** 0: trust the hook to return only once the record is served. */
  readonly timeoutMs: number;
  readonly intervalMs: number;
  /** Servers to ask instead of the zone's authoritative ones (split-horizon DNS). */
  readonly nameservers: readonly string[];
}

export interface AcmeConfig {
  readonly directoryUrl: string;
  readonly email?: string;
  readonly challenge: AcmeChallenge;
  readonly caFile?: string;
  readonly eab?: { readonly kid: string; readonly hmacKeyFile: string };
  /** Run as `<dnsHook> present|cleanup <record name> <value>` for dns-01 (see src/acme/dns-hook.ts). */
  readonly dnsHook?: string;
  /** dns-01: how long to wait, after the hook's `present`, for the TXT record to be served (see src/acme/dns-propagation.ts). */
  readonly dnsPropagation: DnsPropagationConfig;
  /** The renewal loop looks at the certificates at least this often (±10 % jitter). */
  readonly checkIntervalMs: number;
  /** Delays after 1, 2, 3... consecutive renewal failures; the last one repeats. */
  readonly retryBackoffMs: readonly number[];
}

export interface IssuerConfig {
  readonly type: IssuerType;
  readonly acme?: AcmeConfig;
}

export interface StoreConfig {
  readonly type: 'file' | 'redis';
  /** redis://, rediss://, redis+sentinel://h:p,h:p/master, redis+cluster://h:p,h:p (see store/redis-url.ts). */
  readonly url?: string;
  /** Key prefix in Redis (default `ucgate:`), so several gateway groups can share one Redis. */
  readonly prefix?: string;
  /** Store key (base64, 32 bytes, mode 0600) sealing secrets at rest; or env UCGATE_STORE_KEY. */
  readonly keyFile?: string;
  /** Redis password, kept out of the URL (relative to the config file's folder). */
  readonly passwordFile?: string;
  /** CA certificate for rediss:// with a private CA (relative to the config file's folder). */
  readonly caFile?: string;
  /** Lease of the issue lock: how soon another instance takes over from a holder that died. Filled by the schema. */
  readonly lockLeaseMs?: number;
  /** How often instances compare served certificates with the store (the pub/sub safety net). Filled by the schema. */
  readonly checkIntervalMs?: number;
}

export interface CertificatesConfig {
  readonly dir: string;
  readonly store: StoreConfig;
  readonly keyTypes: readonly KeyType[];
  readonly renewBeforeDays: number;
  readonly issuer: IssuerConfig;
  readonly cucmTrust?: CucmTrustConfig;
}

/** Where one cluster's trust stores are reached: its publisher's platform API. */
export interface CucmTrustTarget {
  readonly cluster: string;
  /** The publisher's platform API; default: the cluster's first node. */
  readonly url?: string;
  readonly address?: string;
  /** Every server whose trust stores get the leaf; default: the cluster's nodes (and the publisher at `url`). */
  readonly nodes?: readonly CucmTrustNode[];
}

/** One CUCM server's platform API (certificates.cucmTrust.clusters[].nodes). */
export interface CucmTrustNode {
  /** Default: the URL's host name. */
  readonly name?: string;
  readonly url: string;
  readonly address?: string;
}

export interface CucmTrustConfig {
  readonly credentialsFile: string;
  /** As CUCM's OS Administration names them: Phone-trust, tomcat-trust, CallManager-trust... */
  readonly stores: readonly string[];
  readonly switchDelayMs: number;
  readonly removeAfterMs: number;
  readonly timeoutMs: number;
  /** Default: every cluster, through its first node. */
  readonly clusters?: readonly CucmTrustTarget[];
}

export interface NodeConfig {
  readonly name: string;
  readonly url: string;
  readonly priority: number;
  readonly weight: number;
  readonly aliases: readonly string[];
  /**
   * Connect here instead of resolving the URL's host (a pinned address, as a
   * hosts-file entry would give). Host header and SNI still carry the URL's host.
   */
  readonly address?: string;
}

export interface SrvConfig {
  readonly name: string;
  readonly servers: readonly string[];
  readonly refreshSeconds: number;
}

/** Which of a node's certificates the upstream leg asks for (clusters[].tls.keyType). */
export type UpstreamKeyType = 'rsa' | 'ecdsa';

export interface UpstreamTlsConfig {
  readonly caFile?: string;
  readonly verify: boolean;
  readonly servername?: string;
  /**
   * Offered first (signature algorithms, TLS 1.2 suites), so a node holding an RSA and an ECDSA
   * certificate (CUCM with ECDSA HTTPS ciphers on) presents this one. Absent: rsa.
   */
  readonly keyType?: UpstreamKeyType;
}

export interface HealthCheckConfig {
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly fall: number;
  readonly rise: number;
  readonly expectStatus: number;
  readonly expectBody?: string;
}

export interface TimeoutsConfig {
  readonly connectMs: number;
  readonly firstByteMs: number;
  /** After this long without a response head, an idempotent bodiless request also goes to the next node; 0 = off. */
  readonly hedgeMs: number;
  /** Bound on all tries together until a response head; 0 = none beyond the per-try timeouts. */
  readonly totalMs: number;
}

export interface ClusterConfig {
  readonly name: string;
  readonly publicName?: string;
  readonly nodes: readonly NodeConfig[];
  readonly srv?: SrvConfig;
  readonly tls: UpstreamTlsConfig;
  readonly healthCheck: HealthCheckConfig;
  /**
   * Checks by service (a route's `service`), each complete: keys left out in the file come from
   * `healthCheck`. A route whose service has none here follows `healthCheck`. Absent: none.
   */
  readonly serviceChecks?: Readonly<Record<string, HealthCheckConfig>>;
  readonly timeouts: TimeoutsConfig;
  readonly sticky?: { readonly cookie: string };
  readonly retries: number;
  /** QoS marking of the sockets to this cluster's nodes. */
  readonly dscp?: string | number;
  /** Where this cluster's TFTP files come from, when `tftp` is on (default: every node, at `tftp.nodePort`). */
  readonly tftp?: ClusterTftpConfig;
}

export interface ClusterTftpConfig {
  /** Overrides `tftp.nodePort` for the nodes derived from `nodes`. */
  readonly port?: number;
  /** The servers running CUCM's TFTP service, instead of every node. */
  readonly nodes?: readonly NodeConfig[];
}

/** Jabber's configuration files over HTTP (CUCM's ports 6970/6972), through the gateway. */
export interface TftpConfig {
  readonly listen: { readonly http: readonly HttpListenerConfig[]; readonly https: readonly HttpsListenerConfig[] };
  /** File-name patterns served (`*`: letters, digits, `-`, `_`); everything else is 404 and never reaches a node. */
  readonly allow: readonly string[];
  /** CUCM's TFTP-over-HTTPS port on the nodes. */
  readonly nodePort: number;
}

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'OPTIONS' | 'PATCH';

export interface RouteConfig {
  readonly pathPrefix: string;
  readonly cluster: string;
  readonly methods?: readonly HttpMethod[];
  readonly host?: string;
  /** Overrides limits.http.maxBodyBytes for this route. */
  readonly maxBodyBytes?: number;
  /** What may be sent again: hedged and retried, retried before a byte left, or never replayed (proxy/replay-policy.ts). */
  readonly replay: ReplayPolicy;
  /** Session cookie for node affinity; `none` = off; unset = the cluster's sticky cookie, else JSESSIONID. */
  readonly affinity?: string;
  /** `strict`: a session whose node is not available gets 503 instead of another node. */
  readonly affinityMode: 'prefer' | 'strict';
  /** A query or form parameter that names the session too, learned from redirect Locations (OAuth's `code`). */
  readonly affinityParam?: string;
  /** Requests of this route in flight to the cluster at once (all workers together); unset = no ceiling. */
  readonly maxConcurrent?: number;
  /** Requests waiting for a place under maxConcurrent (all workers together) before 503. */
  readonly maxQueued: number;
  /** How long a request waits for a place under maxConcurrent before 503. */
  readonly queueTimeoutMs: number;
  /** Health-check group (a key of the cluster's serviceChecks) whose verdict picks this route's nodes. */
  readonly service?: string;
}

/** `hedge`: hedged and retried after any failure before an answer; `before-send`: retried only while no node got a byte (or a node said 503 busy); `never`: sent again only after a failed connect. */
export type ReplayPolicy = 'hedge' | 'before-send' | 'never';

export interface GatewayIdentityConfig {
  readonly fqdn: string;
  readonly altNames: readonly string[];
  /**
   * The name of every gateway instance that serves the same clusters (each
   * one `fqdn` or an `altNames` entry), in the order Jabber should fail over
   * between them. UDS `/cucm-uds/servers` answers list the name the client
   * used first, then these. Empty (the default): only the name the client used.
   * Always set by the loader; optional for configurations built by hand.
   */
  readonly instances?: readonly string[];
}

export interface LogConfig {
  readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** One access line per proxied request. */
  readonly access: boolean;
  /**
   * `json`: one JSON object per line (pino), for log shippers. `pretty`: one
   * readable line per event, level colours on a terminal (none with NO_COLOR).
   * Not set: pretty when stdout is a terminal, json otherwise.
   */
  readonly format?: 'json' | 'pretty';
}

export interface ShutdownConfig {
  /** How long in-flight requests may take to finish after SIGTERM. */
  readonly graceMs: number;
}

export interface LoginAttemptLimits {
  readonly windowMs: number;
  /** Attempts (EM logins) or failures (UDS Basic auth) per client address per window. */
  readonly perClient: number;
  /** The same per user id. */
  readonly perUser: number;
}

/** Client-facing HTTP limits; sizes in bytes. */
export interface HttpLimits {
  readonly maxHeaderBytes: number;
  readonly maxHeaders: number;
  readonly maxUrlBytes: number;
  /** Request body, unless the route sets its own. */
  readonly maxBodyBytes: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
  /** 0: no limit. */
  readonly maxRequestsPerConnection: number;
  readonly idleTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly upstreamMaxHeaderBytes: number;
  /** Bodies up to this size are read whole before a node is chosen. */
  readonly bufferBodyBytes: number;
  /** Deadline of a whole-read body; after it, a streamed body must average minBodyBytesPerSecond. */
  readonly bodyTimeoutMs: number;
  readonly minBodyBytesPerSecond: number;
}

export interface LimitsConfig {
  readonly http: HttpLimits;
  readonly loginAttempts: LoginAttemptLimits;
}

export interface UcgateConfig {
  readonly gateway: GatewayIdentityConfig;
  readonly listen: ListenConfig;
  readonly tls: TlsConfig;
  readonly certificates: CertificatesConfig;
  readonly clusters: readonly ClusterConfig[];
  /** Absent in the file: the built-in UC allow-list, expanded by the loader. */
  readonly routes: readonly RouteConfig[];
  /** Whether `routes` came from the built-in allow-list. */
  readonly routesBuiltIn: boolean;
  /** Data-plane processes; 0 runs the data plane inside the primary. Default: one per core. */
  readonly workers: number;
  readonly log: LogConfig;
  readonly shutdown: ShutdownConfig;
  readonly limits: LimitsConfig;
  /** Absent: no TFTP listeners. */
  readonly tftp?: TftpConfig;
  /** Absolute path of the file this came from (empty for an in-memory config). */
  readonly configFile: string;
}
