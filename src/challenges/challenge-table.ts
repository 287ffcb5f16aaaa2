/**
 * The challenge responses one data-plane process can give: what the primary
 * pushed (the fast path: a map lookup), else what the store holds (a
 * challenge ordered by another process). Lookups of unknown tokens are
 * cheap and answer nothing: the table never creates anything on demand.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { isIP } from 'node:net';
import type { WireChallenge } from '../wire/messages.js';
import type { Storage } from '../store/storage.js';
import type { UcgateConfig } from '../config/types.js';
import { challengeStoreFor, loadHttp01, loadTlsAlpn01, TOKEN_PATTERN } from './challenge-store.js';

/**
 * The identifier an acme-tls/1 SNI names. RFC 8738 §6: for an IP identifier
 * the validator sends the reverse-DNS name (`4.3.2.1.in-addr.arpa`).
 */
export function identifierFromServerName(servername: string): string {
  const name = servername.toLowerCase().replace(/\.$/, '');
  const v4 = /^((?:\d{1,3}\.){3}\d{1,3})\.in-addr\.arpa$/.exec(name);
  if (v4) return v4[1]!.split('.').reverse().join('.');
  const v6 = /^((?:[0-9a-f]\.){32})ip6\.arpa$/.exec(name);
  if (v6) {
    const nibbles = v6[1]!.replace(/\./g, '').split('').reverse().join('');
    const groups = nibbles.match(/.{4}/g)!.map((group) => group.replace(/^0+(?=.)/, ''));
    const address = groups.join(':');
    // Compress to the canonical form acme-client and CAs use for the identifier value.
    return isIP(address) ? new URL(`http://[${address}]/`).hostname.replace(/^\[|\]$/g, '') : address;
  }
  return name;
}

export class ChallengeTable {
  readonly #http01 = new Map<string, string>();
  readonly #tlsAlpn01 = new Map<string, SecureContext>();
  readonly #store: Storage | undefined;

  /** `store`: where to look for challenges this process was not told about. */
  constructor(store?: Storage) {
    this.#store = store;
  }

  apply(op: 'add' | 'remove', challenge: WireChallenge): void {
    if (challenge.type === 'http-01') {
      if (op === 'add') this.#http01.set(challenge.token, challenge.keyAuthorization);
      else this.#http01.delete(challenge.token);
      return;
    }
    const identifier = challenge.identifier.toLowerCase();
    if (op === 'add') this.#tlsAlpn01.set(identifier, createSecureContext({ cert: challenge.certPem, key: challenge.keyPem }));
    else this.#tlsAlpn01.delete(identifier);
  }

  /** The key authorization for an http-01 token, or undefined. */
  async keyAuthorization(token: string): Promise<string | undefined> {
    if (!TOKEN_PATTERN.test(token)) return undefined;
    const known = this.#http01.get(token);
    if (known !== undefined || !this.#store) return known;
    return loadHttp01(this.#store, token).catch(() => undefined);
  }

  /** The acme-tls/1 context for the SNI a validator sent, or undefined. */
  async alpnContext(servername: string): Promise<SecureContext | undefined> {
    const identifier = identifierFromServerName(servername);
    const known = this.#tlsAlpn01.get(identifier);
    if (known || !this.#store) return known;
    const stored = await loadTlsAlpn01(this.#store, identifier).catch(() => undefined);
    return stored ? createSecureContext({ cert: stored.certPem, key: stored.keyPem }) : undefined;
  }

  get size(): number {
    return this.#http01.size + this.#tlsAlpn01.size;
  }
}

/** The table a data plane needs: one when the issuer is acme (reading the store as fallback), else none. */
export function challengeTableFor(config: UcgateConfig): ChallengeTable | undefined {
  return config.certificates.issuer.type === 'acme' ? new ChallengeTable(challengeStoreFor(config)) : undefined;
}
