/**
 * How ucgate talks HTTPS to an ACME server. The CA's own TLS may be signed by
 * a private CA (`acme.caFile`): that trust goes into an https.Agent used for
 * that server's origins only — never NODE_EXTRA_CA_CERTS, which would widen
 * trust for every connection the process makes. acme-client uses one shared
 * axios instance, so a request interceptor picks the agent by origin.
 *
 * acme-client's own retry loop (up to 5 tries, 5-25 s apart, per request)
 * is turned off: the renewal loop owns retries, with its backoff table and
 * the CA's Retry-After, and an attempt must fail fast when the CA is down.
 */
import https from 'node:https';
import acme from 'acme-client';

/** Per-request limit: a CA that accepts the connection and then says nothing must not stall renewal. */
export const ACME_REQUEST_TIMEOUT_MS = 30_000;

const agents = new Map<string, https.Agent>();
let installed = false;

function originOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  const defaults = acme.axios.defaults as unknown as { acmeSettings?: { retryMaxAttempts: number } };
  if (defaults.acmeSettings) defaults.acmeSettings.retryMaxAttempts = 0;
  // acme-client 5.4's error interceptor, once out of retries, reads `response.config` of an error that has no
  // response (ECONNREFUSED, timeouts) and throws a TypeError that hides the network code. Hand such errors
  // straight back (retries are ours anyway), so they can be classified as ca-unreachable.
  const handlers = (acme.axios.interceptors.response as unknown as { handlers?: ({ rejected?: (error: unknown) => unknown } | null)[] }).handlers;
  for (const handler of handlers ?? []) {
    const rejected = handler?.rejected;
    if (!handler || !rejected) continue;
    handler.rejected = (error: unknown) => ((error as { response?: unknown })?.response ? rejected(error) : Promise.reject(error));
  }
  acme.axios.interceptors.request.use((config) => {
    const agent = agents.get(originOf(config.url) ?? '');
    if (agent) config.httpsAgent = agent;
    if (!config.timeout) config.timeout = ACME_REQUEST_TIMEOUT_MS;
    return config;
  });
}

export interface JsonResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: unknown;
}

/** The connection to one ACME server: its trust, and plain GETs for what acme-client lacks (ARI). */
export class AcmeTransport {
  readonly directoryUrl: string;
  readonly #agent: https.Agent | undefined;

  /** `caPem`: trust for the server's own TLS; absent means the system's roots. */
  constructor(directoryUrl: string, caPem?: string) {
    install();
    this.directoryUrl = directoryUrl;
    // No keep-alive: a CA restarted between attempts must not leave a dead pooled socket behind.
    this.#agent = caPem ? new https.Agent({ ca: caPem, keepAlive: false }) : undefined;
    this.trustOrigin(directoryUrl);
  }

  /** Applies this server's trust to another origin it sends us to (directory entries may live elsewhere). */
  trustOrigin(url: string): void {
    const origin = originOf(url);
    if (origin && this.#agent) agents.set(origin, this.#agent);
  }

  /** GET `url` and parse JSON (an empty or non-JSON body gives `body: undefined`). */
  getJson(url: string, timeoutMs = ACME_REQUEST_TIMEOUT_MS): Promise<JsonResponse> {
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method: 'GET', agent: this.#agent ?? https.globalAgent, headers: { accept: 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      });
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`GET ${url} timed out`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end();
    });
  }
}
