/**
 * The schema of the upstream side: clusters (nodes, health checks, timeouts,
 * TFTP servers), the TFTP listeners and the routes. Defaults live here, as in
 * schema.ts.
 */
import { obj, int, list, text, oneOf, bool, record, str, filePath, port, dnsName, host, name, profile, dscp, methods, dnsServer, type Schema, type Static } from './schema-parts.js';
const node = obj(
  {
    name,
    url: text({ format: 'https-url', mustBe: 'an https:// URL' }),
    priority: int(0, 65535, { default: 1 }),
    weight: int(0, 256, { default: 1 }),
    aliases: list(host, { uniqueItems: true, default: [] }),
    /** Connect here instead of resolving the URL's host (a pinned address, as a hosts-file entry would give). Host header and SNI still carry the URL's host. */
    address: host,
  },
  ['name', 'url'],
);

// ---- TFTP over HTTP (issue 9): Jabber's configuration files through the gateway.

/**
 * What Jabber and the softphones fetch over TFTP-over-HTTP; `*` is letters, digits, "-" and "_".
 * Group configuration files (any name) need no entry: the gateway learns them from the
 * `configurationFile=` of the device files it passes (src/tftp/learned-files.ts).
 */
export const DEFAULT_TFTP_ALLOW = [
  'jabber-config.xml',
  'jabber-*.xml',
  'SP*.cnf.xml',
  // UDS 12.5+ `jabberProfile` (https://node:6972/JAB_<id>.cnf.xml).
  'JAB_*.cnf.xml',
  'CSF*.cnf.xml',
  'BOT*.cnf.xml',
  'TCT*.cnf.xml',
  'TAB*.cnf.xml',
  'AppDialRules.xml',
  'DirLookupDialRules.xml',
];

// Only XML names: what goes through here is rewritten, and a signed (.sgn) or binary (.tlv) file would be corrupted.
const tftpFilePattern = text({
  pattern: '^(?!.*\\.\\.)[A-Za-z0-9_*-][A-Za-z0-9_.*-]*\\.[Xx][Mm][Ll]$',
  mustBe: 'a file name pattern ending in .xml, of letters, digits, ".", "_", "-" and "*" (e.g. CSF*.cnf.xml)',
});

export const tftp = obj(
  {
    listen: obj(
      {
        http: list(obj({ host: { ...host, default: '0.0.0.0' }, port, dscp }, ['port']), { default: [{ host: '0.0.0.0', port: 6970 }] }),
        https: list(obj({ host: { ...host, default: '0.0.0.0' }, port, profile, dscp }, ['port']), {
          default: [{ host: '0.0.0.0', port: 6972 }],
        }),
      },
      [],
      { default: {} },
    ),
    /** File-name patterns served (`*`: letters, digits, `-`, `_`); everything else is 404 and never reaches a node. */
    allow: list(tftpFilePattern, { minItems: 1, uniqueItems: true, default: DEFAULT_TFTP_ALLOW }),
    /** CUCM serves TFTP over HTTPS on 6972 (over plain HTTP on 6970; the gateway's leg to CUCM stays TLS). */
    nodePort: int(1, 65535, { default: 6972 }),
  },
  [],
);

const clusterTftp = obj({
  /** Overrides tftp.nodePort for this cluster's nodes. */
  port: int(1, 65535),
  /** The servers running the TFTP service, when not every node does (or dedicated TFTP servers). */
  nodes: list(node, { minItems: 1 }),
});

/** One active health check; `defaults` only for the cluster's own (a service check inherits from it). */
function healthCheckSchema(defaults: boolean) {
  const d = (value: unknown): { default?: unknown } => (defaults ? { default: value } : {});
  return obj(
    {
      path: text({ pattern: '^/', mustBe: 'a path starting with "/"', ...d('/cucm-uds/version') }),
      intervalMs: int(1, 3_600_000, d(2000)),
      timeoutMs: int(1, 600_000, d(1000)),
      fall: int(1, 100, d(2)),
      rise: int(1, 100, d(2)),
      expectStatus: int(100, 599, d(200)),
      expectBody: str,
    },
    [],
    d({}),
  );
}
type HealthCheck = Static<ReturnType<typeof healthCheckSchema>>;
/** The cluster's own check: every key but expectBody defaulted. */
const healthCheck = healthCheckSchema(true) as Schema<Required<Omit<HealthCheck, 'expectBody'>> & Pick<HealthCheck, 'expectBody'>> & {
  readonly default: object;
};
/** A service's check: keys left out come from the cluster's healthCheck (the loader fills them in). */
const serviceCheck = healthCheckSchema(false);

export const cluster = obj(
  {
    name,
    publicName: dnsName,
    nodes: list(node, { minItems: 1 }),
    srv: obj(
      {
        name: text({ format: 'srv-name', mustBe: 'an SRV name such as _cisco-uds._tcp.example.test' }),
        /** Empty: ask the system's resolvers. */
        servers: list(dnsServer, { default: [] }),
        refreshSeconds: int(1, 86400, { default: 60 }),
      },
      ['name'],
    ),
    tls: obj(
      {
        caFile: filePath,
        verify: bool({ default: true }),
        servername: host,
        /**
         * The node certificate asked for first (no default in the file: absent means rsa). CUCM with
         * ECDSA HTTPS ciphers enabled may otherwise present its often self-signed tomcat-ECDSA one.
         */
        keyType: oneOf(['rsa', 'ecdsa']),
      },
      [],
      { default: {} },
    ),
    healthCheck,
    /**
     * Checks of one service each, by the name routes give in `service`: CUCM 14 runs UDS, CCMCIP and
     * CCMPD in "Cisco UDS Tomcat" and EM in "Cisco Tomcat", and a node can serve one and not the
     * other. No defaults here: a key left out takes the cluster's healthCheck value (in the loader).
     */
    serviceChecks: record(name, serviceCheck),
    timeouts: obj(
      {
        connectMs: int(1, 600_000, { default: 1000 }),
        firstByteMs: int(1, 3_600_000, { default: 5000 }),
        /** Idempotent requests without a body: a second node is asked after this long without a response head; 0 = never. */
        hedgeMs: int(0, 3_600_000, { default: 400 }),
        /** Every try together, until the response head; 0 = only the per-try timeouts bound a request. */
        totalMs: int(0, 3_600_000, { default: 0 }),
      },
      [],
      { default: {} },
    ),
    sticky: obj({ cookie: text({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", mustBe: 'a cookie name' }) }, [
      'cookie',
    ]),
    retries: int(0, 10, { default: 2 }),
    /** QoS marking of the sockets to this cluster's nodes. */
    dscp,
    /** Where this cluster's TFTP files come from, when `tftp` is on (default: every node, at `tftp.nodePort`). */
    tftp: clusterTftp,
  },
  ['name'],
);

export const route = obj(
  {
    pathPrefix: text({ pattern: '^/', mustBe: 'a path starting with "/"' }),
    /** Overrides limits.http.maxBodyBytes for this route. */
    maxBodyBytes: int(0, 1_073_741_824),
    cluster: name,
    methods: list(oneOf(methods), { minItems: 1, uniqueItems: true }),
    host,
    /**
     * What may be sent again (see proxy/replay-policy.ts). Phones change state with GET, so the
     * method says nothing: the safe default replays only what no node has received a byte of.
     */
    replay: oneOf(['hedge', 'before-send', 'never'], { default: 'before-send' }),
    /**
     * The upstream session cookie that keeps a client on its node; `none` turns affinity off.
     * Unset: the cluster's sticky.cookie, else JSESSIONID (CUCM's Tomcat sessions are node-local).
     */
    affinity: text({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", mustBe: 'a cookie name or none' }),
    /**
     * strict: a request whose session lives on a node that is not available is refused (503), never sent
     * to another node, where it could only fail (CUCM's OAuth authorization state is node-local).
     */
    affinityMode: oneOf(['prefer', 'strict'], { default: 'prefer' }),
    /**
     * A query or form parameter that also names the session, learned from the redirects that hand it out
     * (OAuth's `code`, carried from the authorize answer's Location to the token request's form body).
     */
    affinityParam: text({ pattern: '^[A-Za-z0-9_.-]{1,64}$', mustBe: 'a parameter name' }),
    /**
     * A ceiling on this route's requests in flight to the cluster (all workers together); the
     * excess waits in a queue (maxQueued, queueTimeoutMs), then gets 503 with Retry-After.
     */
    maxConcurrent: int(1, 100_000),
    /** Requests waiting for a place under maxConcurrent (all workers together) before 503. */
    maxQueued: int(0, 1_000_000, { default: 1000 }),
    /** How long a request waits for a place under maxConcurrent before 503. */
    queueTimeoutMs: int(1, 600_000, { default: 10_000 }),
    /** The health-check group whose verdict decides which nodes serve this route (clusters[].serviceChecks). */
    service: name,
  },
  ['pathPrefix', 'cluster'],
);

/** The whole configuration file. Compile with `useDefaults: true`. */
