/**
 * Issuer `acme`: certificates from any RFC 8555 CA through acme-client, with
 * the account key kept in the store, external account binding, trust for the
 * CA's own TLS from `caFile`, the three challenge types, and ARI (RFC 9773)
 * for renewal timing and `replaces`. Failures come out as AcmeError with a
 * class (rate-limited, rejected, ca-unreachable, challenge-failed).
 *
 * Challenges need the listeners, so this issuer is used once the data plane
 * is up (`needsDataPlane`): at start the gateway serves what the store has, or
 * a placeholder, and the renewal loop orders right after.
 */
import { generateKeyPair } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import acme from 'acme-client';
import type { Client } from 'acme-client';
import type { AcmeConfig, KeyType } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import type { Logger } from '../log.js';
import type { Issuer, CertificateRequest, IssuedCertificate } from './issuer.js';
import { AcmeTransport } from '../acme/transport.js';
import { loadOrCreateAccountKey, recordAccount } from '../acme/account.js';
import { AcmeError, classifyAcmeError, parseRetryAfter, type ProblemResponse } from '../acme/acme-errors.js';
import { runOrder, type ChallengeSolver } from '../acme/order-flow.js';
import { runDnsHook, dnsRecordName } from '../acme/dns-hook.js';
import { waitForTxt } from '../acme/dns-propagation.js';
import { followCname } from '../acme/dns-cname.js';
import { ariCertId, parseRenewalInfo, renewalInfoUrl } from '../acme/ari.js';
import type { RenewalInfo, RenewalInfoSource } from '../acme/renewal-info.js';
import type { ChallengePublisher } from '../challenges/challenge-store.js';

const generate = promisify(generateKeyPair);
const DIRECTORY_TTL_MS = 3_600_000;

/** A request that may name the certificate it replaces (for ARI's `replaces`). */
export interface AcmeCertificateRequest extends CertificateRequest {
  readonly replacing?: { readonly certPem: string };
}

export interface AcmeIssuerOptions {
  readonly acme: AcmeConfig;
  readonly storage: Storage & Locker;
  /** Where http-01 and tls-alpn-01 responses go: the workers (primary) or the store (CLI). */
  readonly challenges: ChallengePublisher;
  readonly log: Logger;
  /** The config file's folder: the DNS hook runs there. */
  readonly configDir: string;
}

async function newPrivateKey(keyType: KeyType): Promise<string> {
  const pair =
    keyType === 'ecdsa-p256'
      ? await generate('ec', { namedCurve: 'prime256v1', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } })
      : await generate('rsa', {
          modulusLength: keyType === 'rsa-3072' ? 3072 : 2048,
          privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
          publicKeyEncoding: { type: 'spki', format: 'pem' },
        });
  return pair.privateKey;
}

export class AcmeIssuer implements Issuer, RenewalInfoSource {
  readonly type = 'acme' as const;
  /** Challenges are answered by the listeners: issue only once they run. */
  readonly needsDataPlane = true;
  readonly #options: AcmeIssuerOptions;
  readonly #transport: AcmeTransport;
  #directory: { value: Record<string, unknown>; at: number } | undefined;
  #client: Client | undefined;
  readonly #spareKeys = new Map<KeyType, Promise<string>>();
  /** The last error response the client saw (acme-client keeps only its text). */
  #lastProblem: ProblemResponse | undefined;

  constructor(options: AcmeIssuerOptions) {
    this.#options = options;
    const caPem = options.acme.caFile ? readFileSync(options.acme.caFile, 'utf8') : undefined;
    this.#transport = new AcmeTransport(options.acme.directoryUrl, caPem);
  }

  async trustAnchorPem(): Promise<string | undefined> {
    // A public or enterprise ACME CA's root is already in the clients' trust stores.
    return undefined;
  }

  async #directoryJson(): Promise<Record<string, unknown>> {
    if (this.#directory && Date.now() - this.#directory.at < DIRECTORY_TTL_MS) return this.#directory.value;
    const url = this.#options.acme.directoryUrl;
    let response;
    try {
      response = await this.#transport.getJson(url);
    } catch (err) {
      throw classifyAcmeError(err, undefined, 'reading the ACME directory');
    }
    if (response.status !== 200 || typeof response.body !== 'object' || response.body === null) {
      throw new AcmeError(response.status >= 500 || response.status === 0 ? 'ca-unreachable' : 'rejected', `reading the ACME directory ${url}: HTTP ${response.status}`);
    }
    const value = response.body as Record<string, unknown>;
    for (const entry of Object.values(value)) if (typeof entry === 'string' && entry.startsWith('https://')) this.#transport.trustOrigin(entry);
    this.#directory = { value, at: Date.now() };
    return value;
  }

  async renewalInfo(certPem: string): Promise<RenewalInfo | undefined> {
    const base = (await this.#directoryJson()).renewalInfo;
    if (typeof base !== 'string') return undefined;
    const certId = ariCertId(certPem);
    let response;
    try {
      response = await this.#transport.getJson(renewalInfoUrl(base, certId));
    } catch (err) {
      throw classifyAcmeError(err, undefined, 'fetching renewal information');
    }
    // 404: the CA does not know this certificate (another CA issued it): no window to follow.
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw new AcmeError(response.status >= 500 ? 'ca-unreachable' : 'rejected', `renewal information for ${certId}: HTTP ${response.status}`);
    return parseRenewalInfo(certId, response.body, response.headers['retry-after'], Date.now());
  }

  /** A client with a registered account, kept between orders (fewer round trips); dropped after any failure. */
  async #session(): Promise<Client> {
    if (this.#client) return this.#client;
    const { acme: config, storage } = this.#options;
    const accountKey = await loadOrCreateAccountKey(storage, config.directoryUrl);
    // Read at each new session, so a corrected key file takes effect without a restart.
    const eab = config.eab ? { kid: config.eab.kid, hmacKey: (await readFile(config.eab.hmacKeyFile, 'utf8')).trim() } : undefined;
    const client = new acme.Client({ directoryUrl: config.directoryUrl, accountKey, ...(eab && { externalAccountBinding: eab }) });
    trackProblems(client, (problem) => (this.#lastProblem = problem));
    await this.#register(client, () => this.#lastProblem);
    this.#client = client;
    return client;
  }

  async issue(request: AcmeCertificateRequest): Promise<IssuedCertificate> {
    const { acme: config, log } = this.#options;
    const context = `ordering a ${request.keyType} certificate from ${config.directoryUrl}`;
    this.#lastProblem = undefined;
    let orderedKey: string | undefined;
    try {
      // The new key is made (in the thread pool) while the account is looked up.
      const started = performance.now();
      const timed = <T>(promise: Promise<T>) => promise.then((value) => ({ value, ms: Math.round(performance.now() - started) }));
      const [session, key, replacing] = await Promise.all([timed(this.#session()), timed(this.#takeKey(request.keyType)), this.#replaces(request)]);
      const [client, keyPem, replaces] = [session.value, key.value, replacing];
      orderedKey = keyPem;
      log.debug({ event: 'acme_order_prepared', keyType: request.keyType, accountMs: session.ms, keyMs: key.ms }, 'account and key ready');
      request.progress?.(`account: ready at ${config.directoryUrl} (${session.ms} ms), ${request.keyType} key ready (${key.ms} ms)`);
      const [, csr] = await acme.crypto.createCsr({ commonName: request.commonName, altNames: [...request.subjectAltNames] }, keyPem);
      const chain = await runOrder({
        client,
        identifiers: request.subjectAltNames,
        challengeType: config.challenge,
        solver: this.#solver(),
        csrPem: csr,
        ...(replaces && { replaces }),
        lastProblem: () => this.#lastProblem,
        log,
        ...(request.progress && { progress: request.progress }),
      });
      const [leaf, ...intermediates] = acme.crypto.splitPemChain(chain);
      if (!leaf) throw new AcmeError('rejected', 'the CA returned no certificate');
      orderedKey = undefined;
      return { certPem: leaf.trimEnd() + '\n', chainPem: intermediates.map((pem) => pem.trimEnd() + '\n').join(''), keyPem, keyType: request.keyType, source: 'acme' };
    } catch (err) {
      // The CA may have forgotten the account (or lost its state): the next attempt starts afresh.
      this.#client = undefined;
      // A key that is in no certificate is as good as new: the next attempt uses it.
      if (orderedKey) this.#spareKeys.set(request.keyType, Promise.resolve(orderedKey));
      throw classifyAcmeError(err, this.#lastProblem, context);
    } finally {
      this.#prepareKey(request.keyType);
    }
  }

  /** The key made ahead of time for this type, else a new one. */
  #takeKey(keyType: KeyType): Promise<string> {
    const spare = this.#spareKeys.get(keyType);
    this.#spareKeys.delete(keyType);
    return spare ?? newPrivateKey(keyType);
  }

  /**
   * Makes the next order's key in the background (node's thread pool). RSA
   * key generation takes from 50 ms to over a second on a busy two-core
   * machine; doing it ahead keeps it out of the time from a renewal trigger
   * to the new certificate being served. The key lives in this process's
   * memory only until an order uses it.
   */
  #prepareKey(keyType: KeyType): void {
    if (this.#spareKeys.has(keyType)) return;
    const key = newPrivateKey(keyType);
    key.catch(() => this.#spareKeys.delete(keyType));
    this.#spareKeys.set(keyType, key);
  }

  async #register(client: Client, problem: () => ProblemResponse | undefined): Promise<void> {
    const { acme: config, storage } = this.#options;
    try {
      // Look the key's account up first: registering again with the same key makes acme-client send an
      // "empty update" that strict CAs (pebble) refuse. A fresh key gets accountDoesNotExist and registers.
      await client.createAccount({ onlyReturnExisting: true }).catch(async (err: unknown) => {
        if (!/accountDoesNotExist/.test(problem()?.type ?? '')) throw err;
        await client.createAccount({ termsOfServiceAgreed: true, ...(config.email && { contact: [`mailto:${config.email}`] }) });
      });
    } catch (err) {
      const last = problem();
      if (!last || last.status === 429 || last.status >= 500) throw err;
      const why = config.eab
        ? `the CA refused the account with external account binding (kid ${config.eab.kid}); check certificates.issuer.acme.eab`
        : /externalAccountRequired/.test(last.type ?? '')
          ? 'the CA requires external account binding: set certificates.issuer.acme.eab (kid and hmacKeyFile from the CA)'
          : 'the CA refused to register the account';
      throw new AcmeError('rejected', `${why}: ${last.detail ?? (err as Error).message}`, { cause: err, ...(last.type && { problemType: last.type }) });
    }
    await recordAccount(storage, {
      url: client.getAccountUrl(),
      directoryUrl: config.directoryUrl,
      registeredAt: new Date().toISOString(),
      ...(config.eab && { eabKid: config.eab.kid }),
    }).catch(() => undefined);
  }

  /** ARI `replaces`, when the CA offers ARI and the current certificate is one of its (RFC 9773 §5). */
  async #replaces(request: AcmeCertificateRequest): Promise<string | undefined> {
    if (!request.replacing) return undefined;
    try {
      if (typeof (await this.#directoryJson()).renewalInfo !== 'string') return undefined;
      return ariCertId(request.replacing.certPem);
    } catch {
      return undefined;
    }
  }

  #solver(): ChallengeSolver {
    const { acme: config, challenges, configDir, log } = this.#options;
    return {
      present: async (authz, challenge, keyAuthorization) => {
        const identifier = authz.identifier.value;
        // acme-client's types know http-01 and dns-01 only; tls-alpn-01 (RFC 8737) has the same shape.
        const type = challenge.type as string;
        switch (type) {
          case 'http-01': {
            const wire = { type: 'http-01', token: challenge.token, keyAuthorization } as const;
            await challenges.publish(wire);
            return () => challenges.withdraw(wire);
          }
          case 'tls-alpn-01': {
            const [keyPem, certPem] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization, await acme.crypto.createPrivateEcdsaKey());
            const wire = { type: 'tls-alpn-01', identifier, certPem: certPem.toString(), keyPem: keyPem.toString() } as const;
            await challenges.publish(wire);
            return () => challenges.withdraw(wire);
          }
          case 'dns-01': {
            if (!config.dnsHook) throw new AcmeError('rejected', 'dns-01 needs certificates.issuer.acme.dnsHook');
            const hook = { command: config.dnsHook, cwd: configDir };
            // A delegated _acme-challenge (CNAME to a validation zone): the hook is told where the record goes.
            const record = dnsRecordName(identifier);
            const { target } = await followCname(record, config.dnsPropagation.nameservers);
            await runDnsHook(hook, 'present', identifier, keyAuthorization, target);
            const cleanup = () => runDnsHook(hook, 'cleanup', identifier, keyAuthorization, target);
            await waitForTxt(record, keyAuthorization, { ...config.dnsPropagation, log, target }).catch(async (err: unknown) => {
              await cleanup().catch(() => undefined);
              throw err;
            });
            return cleanup;
          }
          default:
            throw new AcmeError('rejected', `unsupported challenge type ${type}`);
        }
      },
    };
  }
}

/**
 * Records every response with status ≥ 400 (and forgets it on the next good
 * one), by wrapping the client's HTTP layer: acme-client 5.4 reduces a
 * problem document to its detail text, and classifying needs its type,
 * status and Retry-After.
 */
function trackProblems(client: Client, onProblem: (problem: ProblemResponse | undefined) => void): void {
  type Response = { status: number; data?: { type?: string; detail?: string }; headers: Record<string, string | undefined> };
  const http = (client as unknown as { http?: { request: (url: string, method: string, opts?: object) => Promise<Response> } }).http;
  if (!http || typeof http.request !== 'function') return;
  const request = http.request.bind(http);
  http.request = async (url, method, opts) => {
    const response = await request(url, method, opts);
    onProblem(
      response.status >= 400
        ? {
            status: response.status,
            url,
            type: typeof response.data?.type === 'string' ? response.data.type : undefined,
            detail: typeof response.data?.detail === 'string' ? response.data.detail : undefined,
            retryAfterMs: parseRetryAfter(response.headers['retry-after'], Date.now()),
          }
        : undefined,
    );
    return response;
  };
}
