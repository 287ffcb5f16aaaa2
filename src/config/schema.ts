/**
 * The configuration's JSON Schema (ajv, draft-07). Every default lives here and
 * nowhere else: ajv's `useDefaults` fills them in while validating
 * (schema-check.ts). Two annotation keywords carry the wording of failures:
 * `mustBe` ("must be <mustBe>") for format and pattern failures,
 * `requiredWhen` for a conditional `required`; the formats are in formats.ts.
 *
 * There is no `oneOf`/`anyOf` here on purpose: their failures cascade into
 * errors that do not name the real key. Conditions use `if`/`then`; rules
 * that span keys (nodes xor srv, admin tls on loopback) live in the loader.
 */
import { availableParallelism } from 'node:os';
import type { SchemaObject } from 'ajv';
import { DEFAULT_CHECK_INTERVAL_MS, DEFAULT_RETRY_BACKOFF_MS } from '../lifecycle/renewal-timing.js';

/** An object that rejects unknown keys. */
function obj(properties: Record<string, SchemaObject>, required: string[] = [], extra: SchemaObject = {}): SchemaObject {
  return { type: 'object', additionalProperties: false, properties, required, ...extra };
}

function int(minimum: number, maximum: number, extra: SchemaObject = {}): SchemaObject {
  return { type: 'integer', minimum, maximum, ...extra };
}

function list(items: SchemaObject, extra: SchemaObject = {}): SchemaObject {
  return { type: 'array', items, ...extra };
}

const str: SchemaObject = { type: 'string', minLength: 1 };
const filePath: SchemaObject = { type: 'string', minLength: 1 };
const port = int(0, 65535);
const dnsName: SchemaObject = { type: 'string', format: 'dns-name', mustBe: 'a DNS name such as ucgw.example.test' };
const host: SchemaObject = { type: 'string', format: 'host', mustBe: 'a DNS name or an IP address' };
// Names end up in metric labels, log fields and route references.
const name: SchemaObject = {
  type: 'string',
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
  mustBe: 'a name of letters, digits, ".", "_" or "-" (at most 64)',
};
const profile: SchemaObject = { type: 'string', enum: ['modern', 'compatible', 'legacy'] };
/** DSCP for QoS marking: a PHB name or the 6-bit code point (Cisco marks phone-services HTTP as CS3 or AF21). */
const dscp: SchemaObject = {
  type: ['integer', 'string'],
  pattern: '^(CS[0-7]|AF[1-4][1-3]|EF|VA|[0-9]|[1-5][0-9]|6[0-3])$',
  minimum: 0,
  maximum: 63,
  mustBe: 'a DSCP name (CS0-CS7, AF11-AF43, EF, VA) or a number from 0 to 63',
};
const methods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];

const listen = obj(
  {
    https: list(obj({ host: { ...host, default: '0.0.0.0' }, port, profile, dscp }, ['port']), {
      minItems: 1,
      default: [{ host: '0.0.0.0', port: 8443 }],
    }),
    http: list(obj({ host: { ...host, default: '0.0.0.0' }, port, dscp }, ['port']), { default: [] }),
    admin: obj({
      host: { ...host, default: '127.0.0.1' },
      port: { ...port, default: 9000 },
      tokenFile: filePath,
      tls: { type: 'boolean', default: true },
    }),
  },
  [],
  { default: {} },
);

const dnsServer: SchemaObject = { type: 'string', format: 'dns-server', mustBe: 'a DNS server as an IP address, IPv4:port or [IPv6]:port' };

const acme = obj(
  {
    directoryUrl: { type: 'string', format: 'https-url', mustBe: 'an https:// URL (RFC 8555 requires TLS)' },
    email: { type: 'string', pattern: '^[^@\\s]+@[^@\\s]+$', mustBe: 'an email address' },
    challenge: { type: 'string', enum: ['http-01', 'tls-alpn-01', 'dns-01'], default: 'http-01' },
    caFile: filePath,
    eab: obj({ kid: str, hmacKeyFile: filePath }, ['kid', 'hmacKeyFile']),
    dnsHook: str,
    // After the hook's `present`: wait until the TXT record is served (see src/acme/dns-propagation.ts).
    dnsPropagation: obj(
      {
        timeoutMs: int(0, 3_600_000, { default: 120_000 }),
        intervalMs: int(100, 60_000, { default: 2_000 }),
        // Empty: the zone's authoritative servers, found through NS records.
        nameservers: list(dnsServer, { default: [] }),
      },
      [],
      { default: {} },
    ),
    // Renewal tuning (the renewal loop reads these for every issuer type; they sit here because ACME is what needs them).
    checkIntervalMs: int(1_000, 86_400_000, { default: DEFAULT_CHECK_INTERVAL_MS }),
    retryBackoffMs: list(int(100, 86_400_000), { minItems: 1, maxItems: 20, default: [...DEFAULT_RETRY_BACKOFF_MS] }),
  },
  ['directoryUrl'],
  {
    if: { properties: { challenge: { const: 'dns-01' } }, required: ['challenge'] },
    then: { required: ['dnsHook'], requiredWhen: 'when challenge is dns-01' },
  },
);

/**
 * Publishing each new leaf to CUCM's trust stores before serving it: phones
 * ask CUCM's Trust Verification Service, which knows only exact leaves.
 */
const cucmTrust = obj(
  {
    // "username:password" of a CUCM platform (OS) administrator: a 0600 file, never the config.
    credentialsFile: filePath,
    stores: list(
      { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9-]{0,40}-trust$', mustBe: 'a CUCM trust store name such as Phone-trust or tomcat-trust' },
      { minItems: 1, uniqueItems: true, default: ['Phone-trust', 'tomcat-trust'] },
    ),
    // Long enough for CUCM to replicate the trust store and TVS to learn the leaf before a phone meets it.
    // At most 9 minutes: the wait holds the store's issue lock, which other processes take over after 10.
    switchDelayMs: int(0, 540_000, { default: 300_000 }),
    // Phones that cached the old leaf keep working through this grace period.
    removeAfterMs: int(0, 365 * 86_400_000, { default: 7 * 86_400_000 }),
    timeoutMs: int(100, 600_000, { default: 15_000 }),
    clusters: list(
      obj(
        {
          cluster: name,
          url: { type: 'string', format: 'https-url', mustBe: 'an https:// URL of the cluster publisher' },
          address: host,
        },
        ['cluster'],
      ),
      { minItems: 1 },
    ),
  },
  ['credentialsFile'],
);

const certificates = obj(
  {
    dir: { ...filePath, default: 'certs' },
    store: obj(
      {
        type: { type: 'string', enum: ['file', 'redis'], default: 'file' },
        url: { type: 'string', format: 'redis-url', mustBe: 'a redis://, rediss://, redis+sentinel://h:p,h:p/master or redis+cluster://h:p,h:p URL' },
        prefix: { type: 'string', pattern: '^[^\\s]*$', mustBe: 'a key prefix without spaces' },
        keyFile: filePath,
        passwordFile: filePath,
        caFile: filePath,
        // One orders, all serve: a holder that dies frees the lock after this; it extends it every third of it.
        lockLeaseMs: int(1_000, 600_000, { default: 15_000 }),
        // The safety net under pub/sub: how often every instance compares its served serials with the store.
        checkIntervalMs: int(1_000, 3_600_000, { default: 30_000 }),
      },
      [],
      {
        default: {},
        if: { properties: { type: { const: 'redis' } }, required: ['type'] },
        then: { required: ['url'], requiredWhen: 'when store type is redis' },
      },
    ),
    keyTypes: list(
      { type: 'string', enum: ['rsa-2048', 'rsa-3072', 'ecdsa-p256'] },
      { minItems: 1, maxItems: 2, uniqueItems: true, default: ['rsa-2048'] },
    ),
    renewBeforeDays: int(1, 365, { default: 30 }),
    cucmTrust,
    issuer: obj(
      { type: { type: 'string', enum: ['self-signed', 'acme', 'manual'], default: 'self-signed' }, acme },
      [],
      {
        default: {},
        if: { properties: { type: { const: 'acme' } }, required: ['type'] },
        then: { required: ['acme'], requiredWhen: 'when issuer type is acme' },
      },
    ),
  },
  [],
  { default: {} },
);

const node = obj(
  {
    name,
    url: { type: 'string', format: 'https-url', mustBe: 'an https:// URL' },
    priority: int(0, 65535, { default: 1 }),
    weight: int(0, 256, { default: 1 }),
    aliases: list(host, { uniqueItems: true, default: [] }),
    address: host,
  },
  ['name', 'url'],
);

// ---- TFTP over HTTP (issue 9): Jabber's configuration files through the gateway.

/** What Jabber and the softphones fetch over TFTP-over-HTTP; `*` is letters, digits, "-" and "_". */
export const DEFAULT_TFTP_ALLOW = [
  'jabber-config.xml',
  'jabber-*.xml',
  'SP*.cnf.xml',
  'CSF*.cnf.xml',
  'BOT*.cnf.xml',
  'TCT*.cnf.xml',
  'TAB*.cnf.xml',
  'AppDialRules.xml',
  'DirLookupDialRules.xml',
];

// Only XML names: what goes through here is rewritten, and a signed (.sgn) or binary (.tlv) file would be corrupted.
const tftpFilePattern: SchemaObject = {
  type: 'string',
  pattern: '^(?!.*\\.\\.)[A-Za-z0-9_*-][A-Za-z0-9_.*-]*\\.[Xx][Mm][Ll]$',
  mustBe: 'a file name pattern ending in .xml, of letters, digits, ".", "_", "-" and "*" (e.g. CSF*.cnf.xml)',
};

const tftp = obj(
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
    allow: list(tftpFilePattern, { minItems: 1, uniqueItems: true, default: DEFAULT_TFTP_ALLOW }),
    // CUCM serves TFTP over HTTPS on 6972 (over plain HTTP on 6970; the gateway's leg to CUCM stays TLS).
    nodePort: int(1, 65535, { default: 6972 }),
  },
  [],
);

const clusterTftp = obj({
  // Overrides tftp.nodePort for this cluster's nodes.
  port: int(1, 65535),
  // The servers running the TFTP service, when not every node does (or dedicated TFTP servers).
  nodes: list(node, { minItems: 1 }),
});

/** One active health check; `defaults` only for the cluster's own (a service check inherits from it). */
function healthCheck(defaults: boolean): SchemaObject {
  const d = (value: unknown): SchemaObject => (defaults ? { default: value } : {});
  return obj(
    {
      path: { type: 'string', pattern: '^/', mustBe: 'a path starting with "/"', ...d('/cucm-uds/version') },
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

const cluster = obj(
  {
    name,
    publicName: dnsName,
    nodes: list(node, { minItems: 1 }),
    srv: obj(
      {
        name: { type: 'string', format: 'srv-name', mustBe: 'an SRV name such as _cisco-uds._tcp.example.test' },
        // Empty: ask the system's resolvers.
        servers: list(dnsServer, { default: [] }),
        refreshSeconds: int(1, 86400, { default: 60 }),
      },
      ['name'],
    ),
    tls: obj(
      { caFile: filePath, verify: { type: 'boolean', default: true }, servername: host },
      [],
      { default: {} },
    ),
    healthCheck: healthCheck(true),
    // Checks of one service each, by the name routes give in `service`: CUCM 14 runs UDS, CCMCIP and
    // CCMPD in "Cisco UDS Tomcat" and EM in "Cisco Tomcat", and a node can serve one and not the
    // other. No defaults here: a key left out takes the cluster's healthCheck value (in the loader).
    serviceChecks: { type: 'object', propertyNames: name, additionalProperties: healthCheck(false) },
    timeouts: obj(
      {
        connectMs: int(1, 600_000, { default: 1000 }),
        firstByteMs: int(1, 3_600_000, { default: 5000 }),
        // Idempotent requests without a body: a second node is asked after this long without a response head; 0 = never.
        hedgeMs: int(0, 3_600_000, { default: 400 }),
        // Every try together, until the response head; 0 = only the per-try timeouts bound a request.
        totalMs: int(0, 3_600_000, { default: 0 }),
      },
      [],
      { default: {} },
    ),
    sticky: obj({ cookie: { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", mustBe: 'a cookie name' } }, [
      'cookie',
    ]),
    retries: int(0, 10, { default: 2 }),
    dscp,
    tftp: clusterTftp,
  },
  ['name'],
);

const route = obj(
  {
    pathPrefix: { type: 'string', pattern: '^/', mustBe: 'a path starting with "/"' },
    maxBodyBytes: int(0, 1_073_741_824),
    cluster: name,
    methods: list({ type: 'string', enum: methods }, { minItems: 1, uniqueItems: true }),
    host,
    // What may be sent again (see proxy/replay-policy.ts). Phones change state with GET, so the
    // method says nothing: the safe default replays only what no node has received a byte of.
    replay: { type: 'string', enum: ['hedge', 'before-send', 'never'], default: 'before-send' },
    // The upstream session cookie that keeps a client on its node; `none` turns affinity off.
    // Unset: the cluster's sticky.cookie, else JSESSIONID (CUCM's Tomcat sessions are node-local).
    affinity: { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", mustBe: 'a cookie name or none' },
    // A ceiling on this route's requests in flight to the cluster (all workers together); the
    // excess waits in a queue (maxQueued, queueTimeoutMs), then gets 503 with Retry-After.
    maxConcurrent: int(1, 100_000),
    maxQueued: int(0, 1_000_000, { default: 1000 }),
    queueTimeoutMs: int(1, 600_000, { default: 10_000 }),
    // The health-check group whose verdict decides which nodes serve this route (clusters[].serviceChecks).
    service: name,
  },
  ['pathPrefix', 'cluster'],
);

/** The whole configuration file. Compile with `useDefaults: true`. */
export const configSchema: SchemaObject = obj(
  {
    gateway: obj({ fqdn: dnsName, altNames: list(host, { uniqueItems: true, default: [] }) }, ['fqdn']),
    listen,
    tls: obj(
      {
        profile: { ...profile, default: 'modern' },
        // A week at most: older ticket keys undo forward secrecy (RFC 8446 §4.6.1).
        ticketKeyRotationMs: int(1000, 604_800_000, { default: 43_200_000 }),
      },
      [],
      { default: {} },
    ),
    certificates,
    clusters: list(cluster, { minItems: 1 }),
    routes: list(route, { minItems: 1 }),
    tftp,
    // The only machine-dependent default: one data-plane process per core.
    workers: int(0, 64, { default: Math.min(64, availableParallelism()) }),
    log: obj(
      {
        level: {
          type: 'string',
          enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
          default: 'info',
        },
        access: { type: 'boolean', default: true },
      },
      [],
      { default: {} },
    ),
    shutdown: obj({ graceMs: int(0, 3_600_000, { default: 10_000 }) }, [], { default: {} }),
    limits: obj(
      {
        // Every limit answers with its own status (400, 413, 414, 429, 431, 503) and a metric, never a crash.
        http: obj(
          {
            maxHeaderBytes: int(1_024, 1_048_576, { default: 16_384 }),
            maxHeaders: int(8, 1_000, { default: 100 }),
            maxUrlBytes: int(256, 1_048_576, { default: 8_192 }),
            maxBodyBytes: int(0, 1_073_741_824, { default: 10_485_760 }),
            maxConnections: int(1, 1_000_000, { default: 20_000 }),
            maxConnectionsPerClient: int(1, 1_000_000, { default: 500 }),
            maxRequestsPerConnection: int(0, 1_000_000, { default: 10_000 }),
            idleTimeoutMs: int(1_000, 3_600_000, { default: 30_000 }),
            headersTimeoutMs: int(1_000, 600_000, { default: 10_000 }),
            requestTimeoutMs: int(1_000, 3_600_000, { default: 120_000 }),
            upstreamMaxHeaderBytes: int(1_024, 1_048_576, { default: 65_536 }),
          },
          [],
          { default: {} },
        ),
        // Extension Mobility logins and UDS Basic-auth failures: password spraying and PIN guessing
        // lock AD accounts and load CUCM; answered with 429 before CUCM sees them.
        loginAttempts: obj(
          {
            windowMs: int(1_000, 86_400_000, { default: 60_000 }),
            perClient: int(1, 100_000, { default: 30 }),
            perUser: int(1, 100_000, { default: 10 }),
          },
          [],
          { default: {} },
        ),
      },
      [],
      { default: {} },
    ),
  },
  ['gateway', 'clusters'],
);
