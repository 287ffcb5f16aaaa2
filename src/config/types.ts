/**
 * The validated, defaulted and frozen configuration. Its type is derived from
 * the schema (schema.ts, schema-cluster.ts; see schema-parts.ts for how), so
 * the two cannot drift and the defaults live in the schema and nowhere else:
 * a key with a default is never undefined here. The shape follows
 * shared/CONTRACT.md. Every relative path here has already been resolved
 * against the config file's folder by the loader.
 *
 * What the loader adds or completes after the schema (built-in routes,
 * `routesBuiltIn`, `configFile`, the nodes of an SRV cluster, complete
 * service checks) is written out below as explicit additions.
 */
import type { Static } from './schema-parts.js';
import type { configSchema } from './schema.js';

/** Exactly what the schema guarantees once ajv has filled in the defaults. */
type SchemaConfig = Static<typeof configSchema>;
type SchemaCluster = SchemaConfig['clusters'][number];
type Certificates = SchemaConfig['certificates'];

export type ListenConfig = SchemaConfig['listen'];
export type HttpsListenerConfig = ListenConfig['https'][number];
export type HttpListenerConfig = ListenConfig['http'][number];
/** `tls: false`: plain HTTP, accepted only on a loopback host. */
export type AdminListenerConfig = NonNullable<ListenConfig['admin']>;
export type TlsConfig = SchemaConfig['tls'];
export type TlsProfileName = TlsConfig['profile'];

export type CertificatesConfig = Certificates;
export type StoreConfig = Certificates['store'];
export type KeyType = Certificates['keyTypes'][number];
export type IssuerConfig = Certificates['issuer'];
export type IssuerType = IssuerConfig['type'];
export type AcmeConfig = NonNullable<IssuerConfig['acme']>;
export type AcmeChallenge = AcmeConfig['challenge'];
/** dns-01: how long to wait, after the hook's `present`, for the TXT record to be served (src/acme/dns-propagation.ts). */
export type DnsPropagationConfig = AcmeConfig['dnsPropagation'];
export type CucmTrustConfig = NonNullable<Certificates['cucmTrust']>;
/** Where one cluster's trust stores are reached: its publisher's platform API. */
export type CucmTrustTarget = NonNullable<CucmTrustConfig['clusters']>[number];
/** One CUCM server's platform API (certificates.cucmTrust.clusters[].nodes). */
export type CucmTrustNode = NonNullable<CucmTrustTarget['nodes']>[number];

export type NodeConfig = SchemaCluster['nodes'] extends readonly (infer N)[] | undefined ? N : never;
export type SrvConfig = NonNullable<SchemaCluster['srv']>;
export type UpstreamTlsConfig = SchemaCluster['tls'];
/** Which of a node's certificates the upstream leg asks for (clusters[].tls.keyType); absent: rsa. */
export type UpstreamKeyType = NonNullable<UpstreamTlsConfig['keyType']>;
export type HealthCheckConfig = SchemaCluster['healthCheck'];
export type TimeoutsConfig = SchemaCluster['timeouts'];
export type ClusterTftpConfig = NonNullable<SchemaCluster['tftp']>;

export interface ClusterConfig extends Omit<SchemaCluster, 'nodes' | 'serviceChecks'> {
  /** Always set by the loader: empty for a cluster whose nodes come from `srv`. */
  readonly nodes: readonly NodeConfig[];
  /**
   * Checks by service (a route's `service`), each complete: keys left out in the file come from
   * `healthCheck` (the loader). A route whose service has none here follows `healthCheck`. Absent: none.
   */
  readonly serviceChecks?: Readonly<Record<string, HealthCheckConfig>>;
}

/** Jabber's configuration files over HTTP (CUCM's ports 6970/6972), through the gateway. */
export type TftpConfig = NonNullable<SchemaConfig['tftp']>;

export type RouteConfig = NonNullable<SchemaConfig['routes']>[number];
export type HttpMethod = NonNullable<RouteConfig['methods']>[number];
/** `hedge`: hedged and retried after any failure before an answer; `before-send`: retried only while no node got a byte (or a node said 503 busy); `never`: sent again only after a failed connect. */
export type ReplayPolicy = RouteConfig['replay'];

export type GatewayIdentityConfig = SchemaConfig['gateway'];
/** `format` not set: pretty when stdout is a terminal, json otherwise. */
export type LogConfig = SchemaConfig['log'];
export type ShutdownConfig = SchemaConfig['shutdown'];
export type LimitsConfig = SchemaConfig['limits'];
/** Client-facing HTTP limits; sizes in bytes. */
export type HttpLimits = LimitsConfig['http'];
export type LoginAttemptLimits = LimitsConfig['loginAttempts'];

export interface UcgateConfig extends Omit<SchemaConfig, 'clusters' | 'routes'> {
  readonly clusters: readonly ClusterConfig[];
  /** Absent in the file: the built-in UC allow-list, expanded by the loader. */
  readonly routes: readonly RouteConfig[];
  /** Whether `routes` came from the built-in allow-list. */
  readonly routesBuiltIn: boolean;
  /** Absolute path of the file this came from (empty for an in-memory config). */
  readonly configFile: string;
}
