/**
 * What the upstream leg offers a node in its ClientHello, by the key type the
 * node's certificate should have, and which nodes refused that offer. Shared
 * by the pools (upstream-node.ts) and the primary's health checks, apart from
 * the pool so the primary does not load undici for it.
 */
import { DEFAULT_CIPHERS } from 'node:tls';
import type { UpstreamKeyType } from '../config/types.js';

// Signature algorithms by the key type they need. A TLS 1.3 server holding an RSA and an ECDSA
// certificate (CUCM with ECDSA HTTPS ciphers enabled: "tomcat" and "tomcat-ECDSA") picks one it can
// sign with for an algorithm the client offers, often by its own preference rather than the
// client's order (OpenSSL does): so the first offer names one key type only.
const RSA_SIGALGS = [
  'rsa_pss_rsae_sha256',
  'rsa_pss_rsae_sha384',
  'rsa_pss_rsae_sha512',
  'rsa_pss_pss_sha256',
  'rsa_pss_pss_sha384',
  'rsa_pss_pss_sha512',
  'rsa_pkcs1_sha256',
  'rsa_pkcs1_sha384',
  'rsa_pkcs1_sha512',
];
const ECDSA_SIGALGS = ['ecdsa_secp256r1_sha256', 'ecdsa_secp384r1_sha384', 'ecdsa_secp521r1_sha512'];
// TLS 1.2 suites by the certificate they authenticate with: there the suite decides the certificate.
const RSA_SUITES = ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305', 'ECDHE-RSA-AES128-SHA256', 'ECDHE-RSA-AES256-SHA384'];
const ECDSA_SUITES = ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA384'];
/** After this long, a node that refused the asked-for type is asked for it again (it may have one now). */
const FALLBACK_MEMORY_MS = 600_000;

/** What the upstream leg offers in a ClientHello: signature algorithms and cipher suites. */
export interface UpstreamTlsOptions {
  readonly sigalgs: string;
  readonly ciphers: string;
}

/**
 * The offer that asks a node for its certificate of `keyType` (absent: rsa).
 * First offer: that type's signature algorithms only (TLS 1.3) and suites
 * authenticated by it only (TLS 1.2), so a node holding both types has to
 * present it. Fallback offer, for a node that has no such certificate and
 * refused the first: the other type first, then this one. Node's TLS 1.3
 * suites and the rest of its default list (for older CUCM) are kept.
 */
export function upstreamTlsOptions(keyType: UpstreamKeyType | undefined, fallback = false): UpstreamTlsOptions {
  const ecdsa = keyType === 'ecdsa';
  const [mine, other] = ecdsa ? [ECDSA_SIGALGS, RSA_SIGALGS] : [RSA_SIGALGS, ECDSA_SIGALGS];
  const [mySuites, otherSuites] = ecdsa ? [ECDSA_SUITES, RSA_SUITES] : [RSA_SUITES, ECDSA_SUITES];
  const defaults = DEFAULT_CIPHERS.split(':');
  const tls13 = defaults.filter((suite) => suite.startsWith('TLS_'));
  const first = fallback ? [...otherSuites, ...mySuites] : mySuites;
  // In the first offer, no suite the other type authenticates (by name: ECDSA, or RSA without ECDSA).
  const others = (suite: string) => (ecdsa ? /RSA/.test(suite) && !/ECDSA/.test(suite) : /ECDSA/.test(suite));
  const rest = defaults.filter((suite) => !suite.startsWith('TLS_') && !first.includes(suite) && (fallback || !others(suite)));
  // `!aECDSA` / `!aRSA` keep out of the first offer the other type's suites that the defaults' HIGH adds.
  const exclude = fallback ? [] : [ecdsa ? '!aRSA' : '!aECDSA'];
  return {
    sigalgs: (fallback ? [...other, ...mine] : mine).join(':'),
    ciphers: [...tls13, ...first, ...rest, ...exclude].join(':'),
  };
}

/**
 * Whether a handshake failed because the node has no certificate for the offer (alert
 * handshake_failure). OpenSSL 3.0 (Node 20) names the alert "sslv3 alert ...", the OpenSSL 3.5 of
 * Node 22.20+ and 24 "ssl/tls alert ...": Node's error codes follow the name.
 */
const OFFER_REFUSED = new Set([
  'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
  'ERR_SSL_SSLV3_ALERT_INSUFFICIENT_SECURITY',
  'ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE',
  'ERR_SSL_SSL/TLS_ALERT_INSUFFICIENT_SECURITY',
]);
export function offerRefused(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && OFFER_REFUSED.has(code);
}

// Per node (address, port, name, key type): until when the fallback offer goes first.
const refusedUntil = new Map<string, number>();

/**
 * Which offer a node takes, shared by the pools and the health checks of one
 * process: a node that refused the first offer gets the fallback first for
 * the next ten minutes, then is asked for the configured type again.
 */
export const offerMemory = {
  fallbackFirst(key: string): boolean {
    const until = refusedUntil.get(key);
    if (until === undefined) return false;
    if (Date.now() < until) return true;
    refusedUntil.delete(key);
    return false;
  },
  refused(key: string): void {
    refusedUntil.set(key, Date.now() + FALLBACK_MEMORY_MS);
  },
};

/** The key offerMemory knows a node by. */
export function offerKey(host: string, port: number, servername: string, keyType: UpstreamKeyType | undefined): string {
  return `${host}|${port}|${servername}|${keyType ?? 'rsa'}`;
}
