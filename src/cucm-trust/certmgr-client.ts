/**
 * The calls ucgate makes to a CUCM server's certificate REST API (CUCM 14+,
 * `/platformcom/api/v1/certmgr/`): add a leaf to trust stores, list a trust
 * store, and remove a leaf again. Cisco documents the API per server, so
 * every call names one node. HTTP Basic with a platform administrator's
 * credentials; the node's Tomcat certificate is verified like any node's.
 *
 * The API names a trust store by its service: OS Administration's
 * `tomcat-trust` is service `tomcat`, `Phone-trust` is `Phone`. A server
 * without the API (CUCM 12.5 and older) answers 404: `addTrust` says so
 * instead of failing, and the caller waits for an administrator.
 */
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import { UcgateError, ErrorCodes } from '../errors.js';
import { tlsNameOptions } from '../net/tls-name.js';

export interface PlatformCredentials {
  readonly username: string;
  /** Secret: never log. */
  readonly password: string;
}

/** One CUCM server whose trust stores get the leaf, as ucgate reaches it. */
export interface CertmgrTarget {
  readonly cluster: string;
  /** The server's name in status, logs and metric labels (the cluster node's name by default). */
  readonly node: string;
  /** The origin of its platform API. */
  readonly url: string;
  /** Connect here instead of resolving the URL's host; Host and SNI keep the URL's host. */
  readonly address?: string;
  readonly caPem?: string;
  readonly verify: boolean;
}

/** One certificate as a trust-store listing names it; what a field was missing from is undefined. */
export interface ListedCertificate {
  /** Normalised: lowercase hex, no colons, no leading zeros. */
  readonly serial?: string;
  /** SHA-256, colon hex (as node prints it), from the PEM when the listing carries one. */
  readonly fingerprint?: string;
}

const TRUST_PATH = '/platformcom/api/v1/certmgr/config/trust';
/** What of an error answer is worth quoting in a log line. */
const QUOTE_BYTES = 200;
/** A trust store listing holds every CA the cluster trusts (PEMs included): a few hundred kB at most. */
const MAX_LISTING_BYTES = 8 * 1024 * 1024;

/** `Phone-trust` → `Phone`, `tomcat-trust` → `tomcat`. */
export function trustService(store: string): string {
  return store.replace(/-trust$/, '');
}

/** A serial as ucgate compares them: lowercase hex, no separators, no leading zeros. */
export function normaliseSerial(serial: string): string {
  return serial.toLowerCase().replace(/[^0-9a-f]/g, '').replace(/^0+(?=.)/, '');
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const PEM_KEYS = ['certificate', 'certificateData', 'pem', 'certPem'] as const;
const SERIAL_KEYS = ['serialNumber', 'serial', 'serialnumber'] as const;
const LIST_KEYS = ['certificates', 'certificate', 'trustCertificates', 'data', 'items'] as const;

/** Whether `value` is one certificate object (a PEM or a serial number field), not a wrapper of some. */
function isCertificateObject(value: Record<string, unknown>): boolean {
  return PEM_KEYS.some((key) => typeof value[key] === 'string') || SERIAL_KEYS.some((key) => typeof value[key] === 'string' || typeof value[key] === 'number');
}

/**
 * The certificates a `GET …/trust/certificate?service=` answer lists, in the
 * shapes public clients of the API handle (sieteunoseis/netSSL's VOS
 * provider: `Array.isArray(response) ? response : response.certificates`):
 * an array of certificate objects, or an object holding them (an array under
 * `certificates`, or a single certificate object), or one certificate object
 * on its own. Each object gives its PEM (`certificate` or `certificateData`)
 * and/or its `serialNumber`; anything else is ignored.
 */
export function parseTrustListing(doc: unknown): ListedCertificate[] {
  let items: unknown[] = [];
  if (Array.isArray(doc)) items = doc;
  else if (isObject(doc)) {
    const holder = LIST_KEYS.map((key) => doc[key]).find((value) => Array.isArray(value) || isObject(value));
    if (Array.isArray(holder)) items = holder;
    else if (isObject(holder)) items = [holder];
    else if (isCertificateObject(doc)) items = [doc];
  }
  return items.filter(isObject).flatMap((item) => {
    const pem = PEM_KEYS.map((key) => item[key]).find((value): value is string => typeof value === 'string' && value.includes('BEGIN CERTIFICATE'));
    const rawSerial = SERIAL_KEYS.map((key) => item[key]).find((value) => typeof value === 'string' || typeof value === 'number');
    let fingerprint: string | undefined;
    if (pem) {
      try {
        fingerprint = new X509Certificate(pem).fingerprint256;
      } catch {
        // An unparsable PEM names nothing; its serial field may still.
      }
    }
    const serial = rawSerial === undefined ? undefined : normaliseSerial(String(rawSerial));
    if (!fingerprint && !serial) return [];
    return [{ ...(serial && { serial }), ...(fingerprint && { fingerprint }) }];
  });
}

/** Whether `listed` names the leaf: by its PEM's fingerprint when it carries one, else by serial. */
export function listsLeaf(listed: readonly ListedCertificate[], leaf: { readonly fingerprint: string; readonly serial: string }): boolean {
  const serial = normaliseSerial(leaf.serial);
  return listed.some((entry) => (entry.fingerprint !== undefined ? entry.fingerprint === leaf.fingerprint : entry.serial === serial));
}

/** `added`: the server took it; `no-api`: the server has no certificate API (404: CUCM before 14). */
export type AddOutcome = 'added' | 'no-api';

interface Answer {
  readonly status: number;
  readonly body: Buffer;
}

export class CertmgrClient {
  readonly #credentials: PlatformCredentials;
  readonly #timeoutMs: number;

  constructor(credentials: PlatformCredentials, timeoutMs: number) {
    this.#credentials = credentials;
    this.#timeoutMs = timeoutMs;
  }

  /** Adds `leafPem` to every store in `stores` of one server (one call). */
  async addTrust(target: CertmgrTarget, stores: readonly string[], leafPem: string, description: string): Promise<AddOutcome> {
    const body = JSON.stringify({ service: stores.map(trustService), certificates: [leafPem.trim() + '\n'], description });
    const path = `${TRUST_PATH}/certificates`;
    const answer = await this.#call(target, 'POST', path, body, QUOTE_BYTES);
    if (answer.status === 404) return 'no-api';
    this.#check(target, 'POST', path, answer);
    return 'added';
  }

  /** What one trust store of one server lists. */
  async listTrust(target: CertmgrTarget, store: string): Promise<ListedCertificate[]> {
    const query = new URLSearchParams({ service: trustService(store) });
    const path = `${TRUST_PATH}/certificate?${query}`;
    const answer = await this.#call(target, 'GET', path, undefined, MAX_LISTING_BYTES);
    this.#check(target, 'GET', path, answer);
    let doc: unknown;
    try {
      doc = JSON.parse(answer.body.toString('utf8'));
    } catch {
      throw this.#error(target, `GET ${path.split('?')[0]} (service ${trustService(store)}) answered something that is not JSON`);
    }
    return parseTrustListing(doc);
  }

  /** Removes the certificate with `serial` from `store` of one server; one that is already gone counts as removed. */
  async removeTrust(target: CertmgrTarget, store: string, serial: string): Promise<void> {
    const query = new URLSearchParams({ service: trustService(store), serialNumber: serial });
    const path = `${TRUST_PATH}/certificate?${query}`;
    const answer = await this.#call(target, 'DELETE', path, undefined, QUOTE_BYTES);
    if (answer.status !== 404) this.#check(target, 'DELETE', path, answer);
  }

  #error(target: CertmgrTarget, message: string, cause?: unknown): UcgateError {
    const where = `cluster ${target.cluster} node ${target.node} (${new URL(target.url).host})`;
    return new UcgateError(ErrorCodes.CUCM_TRUST, `${where}: ${message}`, cause === undefined ? {} : { cause });
  }

  #check(target: CertmgrTarget, method: string, path: string, answer: Answer): void {
    const { status } = answer;
    if (status >= 200 && status < 300) return;
    if (status === 401 || status === 403) throw this.#error(target, `refused the platform credentials (HTTP ${status}): check certificates.cucmTrust.credentialsFile`);
    const quoted = answer.body.subarray(0, QUOTE_BYTES).toString('utf8').replace(/\s+/g, ' ').trim();
    throw this.#error(target, `${method} ${path.split('?')[0]} answered HTTP ${status}${quoted ? `: ${quoted}` : ''}`);
  }

  #call(target: CertmgrTarget, method: string, path: string, body: string | undefined, keepBytes: number): Promise<Answer> {
    const url = new URL(target.url);
    const auth = Buffer.from(`${this.#credentials.username}:${this.#credentials.password}`, 'utf8').toString('base64');
    return new Promise<Answer>((resolve, reject) => {
      const fail = (message: string, cause?: unknown) => reject(this.#error(target, message, cause));
      const req = https.request(
        {
          host: target.address ?? url.hostname,
          port: url.port || 443,
          ...tlsNameOptions(url.hostname),
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
            if (size < keepBytes) chunks.push(chunk);
            size += chunk.length;
            if (size > MAX_LISTING_BYTES) req.destroy(new Error(`answer larger than ${MAX_LISTING_BYTES} bytes`));
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on('error', (err) => fail(err.message, err));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)));
      req.on('error', (err) => fail(err.message, err));
      req.end(body);
    });
  }
}
