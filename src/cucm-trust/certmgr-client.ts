/**
 * The calls ucgate makes to a CUCM publisher's certificate REST API (CUCM
 * 14+, `/platformcom/api/v1/certmgr/`): add a leaf to trust stores, and
 * remove it again. HTTP Basic with a platform administrator's credentials;
 * the publisher's Tomcat certificate is verified like any node's.
 *
 * The API names a trust store by its service: OS Administration's
 * `tomcat-trust` is service `tomcat`, `Phone-trust` is `Phone`.
 */
import https from 'node:https';
import { UcgateError, ErrorCodes } from '../errors.js';

export interface PlatformCredentials {
  readonly username: string;
  /** Secret: never log. */
  readonly password: string;
}

/** One cluster's publisher, as ucgate reaches it. */
export interface CertmgrTarget {
  readonly cluster: string;
  readonly url: string;
  /** Connect here instead of resolving the URL's host; Host and SNI keep the URL's host. */
  readonly address?: string;
  readonly caPem?: string;
  readonly verify: boolean;
}

const TRUST_PATH = '/platformcom/api/v1/certmgr/config/trust';
/** What of an error answer is worth quoting in a log line. */
const QUOTE_BYTES = 200;

/** `Phone-trust` → `Phone`, `tomcat-trust` → `tomcat`. */
export function trustService(store: string): string {
  return store.replace(/-trust$/, '');
}

export class CertmgrClient {
  readonly #credentials: PlatformCredentials;
  readonly #timeoutMs: number;

  constructor(credentials: PlatformCredentials, timeoutMs: number) {
    this.#credentials = credentials;
    this.#timeoutMs = timeoutMs;
  }

  /** Adds `leafPem` to every store in `stores` (one call). */
  async addTrust(target: CertmgrTarget, stores: readonly string[], leafPem: string, description: string): Promise<void> {
    const body = JSON.stringify({ service: stores.map(trustService), certificates: [leafPem.trim() + '\n'], description });
    await this.#call(target, 'POST', `${TRUST_PATH}/certificates`, body);
  }

  /** Removes the certificate with `serial` from `store`; one that is already gone counts as removed. */
  async removeTrust(target: CertmgrTarget, store: string, serial: string): Promise<void> {
    const query = new URLSearchParams({ service: trustService(store), serialNumber: serial });
    await this.#call(target, 'DELETE', `${TRUST_PATH}/certificate?${query}`, undefined, [404]);
  }

  #call(target: CertmgrTarget, method: string, path: string, body: string | undefined, alsoFine: readonly number[] = []): Promise<void> {
    const url = new URL(target.url);
    const where = `cluster ${target.cluster} (${url.host})`;
    const auth = Buffer.from(`${this.#credentials.username}:${this.#credentials.password}`, 'utf8').toString('base64');
    return new Promise<void>((resolve, reject) => {
      const fail = (message: string, cause?: unknown) =>
        reject(new UcgateError(ErrorCodes.CUCM_TRUST, `${where}: ${message}`, cause === undefined ? {} : { cause }));
      const req = https.request(
        {
          host: target.address ?? url.hostname,
          port: url.port || 443,
          servername: url.hostname,
          method,
          path,
          ca: target.caPem,
          rejectUnauthorized: target.verify,
          agent: false,
          timeout: this.#timeoutMs,
          headers: {
            host: url.host,
            authorization: `Basic ${auth}`,
            accept: 'application/json',
            ...(body !== undefined && { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            if (size < QUOTE_BYTES) chunks.push(chunk);
            size += chunk.length;
          });
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if ((status >= 200 && status < 300) || alsoFine.includes(status)) return resolve();
            const quoted = Buffer.concat(chunks).toString('utf8').slice(0, QUOTE_BYTES).replace(/\s+/g, ' ').trim();
            if (status === 401 || status === 403) return fail(`refused the platform credentials (HTTP ${status}): check certificates.cucmTrust.credentialsFile`);
            fail(`${method} ${path.split('?')[0]} answered HTTP ${status}${quoted ? `: ${quoted}` : ''}`);
          });
          res.on('error', (err) => fail(err.message, err));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)));
      req.on('error', (err) => fail(err.message, err));
      req.end(body);
    });
  }
}
