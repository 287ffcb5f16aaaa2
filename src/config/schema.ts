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
import { DEFAULT_CHECK_INTERVAL_MS, DEFAULT_RETRY_BACKOFF_MS } from './renewal-defaults.js';
import { obj, int, list, text, oneOf, bool, str, filePath, port, dnsName, host, name, profile, dscp, dnsServer } from './schema-parts.js';
import { tftp, cluster, route } from './schema-cluster.js';

export { DEFAULT_TFTP_ALLOW } from './schema-cluster.js';
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
      /** false: plain HTTP, accepted only on a loopback host. */
      tls: bool({ default: true }),
    }),
  },
  [],
  { default: {} },
);


const acme = obj(
  {
    directoryUrl: text({ format: 'https-url', mustBe: 'an https:// URL (RFC 8555 requires TLS)' }),
    email: text({ pattern: '^[^@\\s]+@[^@\\s]+$', mustBe: 'an email address' }),
    challenge: oneOf(['http-01', 'tls-alpn-01', 'dns-01'], { default: 'http-01' }),
    caFile: filePath,
    eab: obj({ kid: str, hmacKeyFile: filePath }, ['kid', 'hmacKeyFile']),
    /** Run as `<dnsHook> present|cleanup <record name> <value>` for dns-01 (see src/acme/dns-hook.ts). */
    dnsHook: str,
    /** After the hook's `present`: wait until the TXT record is served (see src/acme/dns-propagation.ts). */
    dnsPropagation: obj(
      {
        /** 0: trust the hook to return only once the record is served. */
        timeoutMs: int(0, 3_600_000, { default: 120_000 }),
        intervalMs: int(100, 60_000, { default: 2_000 }),
        /** Servers to ask instead of the zone's authoritative ones (split-horizon DNS). Empty: the zone's authoritative servers, found through NS records. */
        nameservers: list(dnsServer, { default: [] }),
      },
      [],
      { default: {} },
    ),
    /**
     * The renewal loop looks at the certificates at least this often (±10 % jitter). This and retryBackoffMs
     * tune renewal for every issuer type; they sit here because ACME is what needs them.
     */
    checkIntervalMs: int(1_000, 86_400_000, { default: DEFAULT_CHECK_INTERVAL_MS }),
    /** Delays after 1, 2, 3... consecutive renewal failures; the last one repeats. */
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
    /** "username:password" of a CUCM platform (OS) administrator: a 0600 file, never the config. */
    credentialsFile: filePath,
    /** As CUCM's OS Administration names them: Phone-trust, tomcat-trust, CallManager-trust... */
    stores: list(
      text({ pattern: '^[A-Za-z][A-Za-z0-9-]{0,40}-trust$', mustBe: 'a CUCM trust store name such as Phone-trust or tomcat-trust' }),
      { minItems: 1, uniqueItems: true, default: ['Phone-trust', 'tomcat-trust'] },
    ),
    /**
     * Long enough for CUCM to replicate the trust store and TVS to learn the leaf before a phone meets it.
     * At most 9 minutes: the wait holds the store's issue lock, which other processes take over after 10.
     */
    switchDelayMs: int(0, 540_000, { default: 300_000 }),
    /** Phones that cached the old leaf keep working through this grace period. */
    removeAfterMs: int(0, 365 * 86_400_000, { default: 7 * 86_400_000 }),
    timeoutMs: int(100, 600_000, { default: 15_000 }),
    /** Default: every cluster, through its first node. */
    clusters: list(
      obj(
        {
          cluster: name,
          /** The publisher's platform API, where it is not the first node's URL (or not a node at all). */
          url: text({ format: 'https-url', mustBe: 'an https:// URL of the cluster publisher' }),
          address: host,
          /**
           * Every server whose trust stores get the leaf (Cisco's certificate API is per server).
           * Default: each of the cluster's nodes, at its own URL, plus the publisher at `url`.
           */
          nodes: list(
            obj(
              {
                name,
                url: text({ format: 'https-url', mustBe: "an https:// URL of the server's platform API" }),
                address: host,
              },
              ['url'],
            ),
            { minItems: 1 },
          ),
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
        type: oneOf(['file', 'redis'], { default: 'file' }),
        /** redis://, rediss://, redis+sentinel://h:p,h:p/master, redis+cluster://h:p,h:p (see store/redis-url.ts). */
        url: text({ format: 'redis-url', mustBe: 'a redis://, rediss://, redis+sentinel://h:p,h:p/master or redis+cluster://h:p,h:p URL' }),
        /** Key prefix in Redis (`ucgate:` when unset, store/redis-client.ts), so several gateway groups can share one Redis. */
        prefix: text({ pattern: '^[^\\s]*$', mustBe: 'a key prefix without spaces' }),
        /** Store key (base64, 32 bytes, mode 0600) sealing secrets at rest; or env UCGATE_STORE_KEY. */
        keyFile: filePath,
        /** Redis password, kept out of the URL (relative to the config file's folder). */
        passwordFile: filePath,
        /** CA certificate for rediss:// with a private CA (relative to the config file's folder). */
        caFile: filePath,
        /** Lease of the issue lock: how soon another instance takes over from a holder that died (one orders, all serve; the holder extends it every third of it). */
        lockLeaseMs: int(1_000, 600_000, { default: 15_000 }),
        /** The safety net under pub/sub: how often every instance compares its served serials with the store. */
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
      oneOf(['rsa-2048', 'rsa-3072', 'ecdsa-p256']),
      { minItems: 1, maxItems: 2, uniqueItems: true, default: ['rsa-2048'] },
    ),
    renewBeforeDays: int(1, 365, { default: 30 }),
    cucmTrust,
    issuer: obj(
      { type: oneOf(['self-signed', 'acme', 'manual'], { default: 'self-signed' }), acme },
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

export const configSchema = obj(
  {
    gateway: obj(
      {
        fqdn: dnsName,
        altNames: list(host, { uniqueItems: true, default: [] }),
        /** Every gateway instance's own name (on the certificate): Jabber fails over between them (cross-checks.ts). */
        instances: list(host, { uniqueItems: true, maxItems: 16, default: [] }),
      },
      ['fqdn'],
    ),
    listen,
    tls: obj(
      {
        profile: { ...profile, default: 'modern' },
        /** How often the primary replaces the session-ticket keys shared by the workers. A week at most: older ticket keys undo forward secrecy (RFC 8446 §4.6.1). */
        ticketKeyRotationMs: int(1000, 604_800_000, { default: 43_200_000 }),
      },
      [],
      { default: {} },
    ),
    certificates,
    clusters: list(cluster, { minItems: 1 }),
    routes: list(route, { minItems: 1 }),
    /** Absent: no TFTP listeners. */
    tftp,
    /** Data-plane processes; 0 runs the data plane inside the primary. The only machine-dependent default: one data-plane process per core. */
    workers: int(0, 64, { default: Math.min(64, availableParallelism()) }),
    /**
     * How workers run: `thread` (threads of the gateway's one process, each accepting on the ports itself;
     * Node.js 22.12+ on Linux), `process` (one process each, node:cluster), or `auto`: threads where they can run.
     */
    workerMode: oneOf(['auto', 'thread', 'process'], { default: 'auto' }),
    log: obj(
      {
        level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
        /** One access line per proxied request. */
        access: bool({ default: true }),
        /** No default: unset means pretty on a terminal, json elsewhere (log.ts). */
        format: oneOf(['json', 'pretty']),
      },
      [],
      { default: {} },
    ),
    /** `graceMs`: how long in-flight requests may take to finish after SIGTERM. */
    shutdown: obj({ graceMs: int(0, 3_600_000, { default: 10_000 }) }, [], { default: {} }),
    limits: obj(
      {
        /** Every limit answers with its own status (400, 413, 414, 429, 431, 503) and a metric, never a crash. */
        http: obj(
          {
            maxHeaderBytes: int(1_024, 1_048_576, { default: 16_384 }),
            maxHeaders: int(8, 1_000, { default: 100 }),
            maxUrlBytes: int(256, 1_048_576, { default: 8_192 }),
            /** Request body, unless the route sets its own. */
            maxBodyBytes: int(0, 1_073_741_824, { default: 10_485_760 }),
            maxConnections: int(1, 1_000_000, { default: 20_000 }),
            maxConnectionsPerClient: int(1, 1_000_000, { default: 500 }),
            /** 0: no limit. */
            maxRequestsPerConnection: int(0, 1_000_000, { default: 10_000 }),
            idleTimeoutMs: int(1_000, 3_600_000, { default: 30_000 }),
            headersTimeoutMs: int(1_000, 600_000, { default: 10_000 }),
            requestTimeoutMs: int(1_000, 3_600_000, { default: 120_000 }),
            upstreamMaxHeaderBytes: int(1_024, 1_048_576, { default: 65_536 }),
            /** Bodies up to this size are read whole before a node is chosen (phones post a few hundred bytes). */
            bufferBodyBytes: int(0, 16_777_216, { default: 65_536 }),
            /**
             * A whole-read body must be complete this long after its head; a streamed one must then average
             * minBodyBytesPerSecond. A trickling upload must not hold a CUCM connection.
             */
            bodyTimeoutMs: int(100, 600_000, { default: 10_000 }),
            minBodyBytesPerSecond: int(0, 1_073_741_824, { default: 1_024 }),
          },
          [],
          { default: {} },
        ),
        /**
         * Extension Mobility logins and UDS Basic-auth failures: password spraying and PIN guessing
         * lock AD accounts and load CUCM; answered with 429 before CUCM sees them.
         */
        loginAttempts: obj(
          {
            windowMs: int(1_000, 86_400_000, { default: 60_000 }),
            /** Attempts (EM logins) or failures (UDS Basic auth) per client address per window. */
            perClient: int(1, 100_000, { default: 30 }),
            /** The same per user id. */
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
