/**
 * Everything a certificate brought by a security team must pass before the
 * gateway serves it: a strong key that matches, names that cover the gateway,
 * dates that hold, a TLS-server usage, and a chain that builds to a root the
 * admin gave or the system trusts. Pure: no store, no files; the first
 * failure throws a UcgateError (exit 2) whose one-line message names it.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { isIP } from 'node:net';
import type { KeyType } from '../config/types.js';
import { keyWeakness, describeKey, slotForKey } from '../pki/key-strength.js';
import { describeCertificate, type CertificateInfo } from '../pki/certificate-info.js';
import { UcgateError, ErrorCodes, type ErrorCode } from '../errors.js';

const DAY_MS = 86_400_000;
/** Below this many days left an import succeeds with a warning. */
export const NEAR_EXPIRY_DAYS = 30;
const MAX_CHAIN_DEPTH = 8;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const ANY_EKU = '2.5.29.37.0';

export interface ImportCandidate {
  readonly leaf: X509Certificate;
  /** Everything else that came with it (chain file, PKCS#12 extras), in any order. */
  readonly others: readonly X509Certificate[];
  /** Secret: never log. */
  readonly key: KeyObject;
}

export interface ValidationContext {
  readonly fqdn: string;
  readonly altNames: readonly string[];
  readonly keyTypes: readonly KeyType[];
  readonly nowMs: number;
  /** Roots trusted besides those given; default node's bundled store (`tls.rootCertificates`). */
  readonly systemRoots?: readonly X509Certificate[];
}

export interface ValidatedImport {
  /** The store slot it fills. */
  readonly keyType: KeyType;
  readonly leafPem: string;
  /** Intermediates in path order, without the root: what the listener sends after the leaf. */
  readonly chainPem: string;
  /** PKCS#8 PEM. Secret: never log. */
  readonly keyPem: string;
  /** The root the path ends at. */
  readonly trustAnchorPem: string;
  readonly anchor: 'given' | 'system' | 'self-signed';
  readonly info: CertificateInfo;
  /** Problems that do not block the import, one line each. */
  readonly warnings: readonly string[];
}

function reject(code: ErrorCode, message: string): UcgateError {
  return new UcgateError(code, message, { exitCode: 2 });
}

function name(cert: X509Certificate): string {
  return cert.subject.replace(/\n/g, ', ');
}

function isoDay(text: string): string {
  return new Date(text).toISOString().slice(0, 10);
}

/** Whether `issuer` issued and signed `cert`; verify throws for unusable key pairs, which is a no. */
function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function checkDates(cert: X509Certificate, nowMs: number, what: string): void {
  if (Date.parse(cert.validFrom) > nowMs) throw reject(ErrorCodes.CERT_NOT_YET_VALID, `${what} is not valid yet (valid from ${cert.validFrom})`);
  if (Date.parse(cert.validTo) <= nowMs) throw reject(ErrorCodes.CERT_EXPIRED, `${what} expired on ${cert.validTo}`);
}

function covers(cert: X509Certificate, host: string): boolean {
  // SANs only (RFC 6125): a CN that is not also a SAN does not count, as browsers and Jabber agree.
  return Boolean(isIP(host) ? cert.checkIP(host) : cert.checkHost(host, { subject: 'never' }));
}

let systemRootsCache: X509Certificate[] | undefined;
function systemRoots(): X509Certificate[] {
  systemRootsCache ??= rootCertificates.map((pem) => new X509Certificate(pem));
  return systemRootsCache;
}

interface Path {
  readonly intermediates: X509Certificate[];
  readonly anchor: X509Certificate;
  readonly source: ValidatedImport['anchor'];
  readonly unused: number;
}

/** Builds leaf → intermediates → root from what was given, then the system roots. */
function buildPath(candidate: ImportCandidate, ctx: ValidationContext): Path {
  // Duplicates (a root in the chain file and again in the bundle) count once.
  const others = candidate.others.filter((cert) => cert.fingerprint256 !== candidate.leaf.fingerprint256);
  const pool = [...new Map(others.map((cert) => [cert.fingerprint256, cert])).values()];
  const roots = ctx.systemRoots ?? systemRoots();
  const intermediates: X509Certificate[] = [];
  let current = candidate.leaf;
  for (let depth = 0; depth <= MAX_CHAIN_DEPTH; depth++) {
    if (issuedBy(current, current)) {
      const used = intermediates.length + (current === candidate.leaf ? 0 : 1);
      return { intermediates, anchor: current, source: current === candidate.leaf ? 'self-signed' : 'given', unused: pool.length - used };
    }
    const given = pool.find((cert) => !intermediates.includes(cert) && issuedBy(current, cert));
    if (given) {
      checkDates(given, ctx.nowMs, `chain certificate "${name(given)}"`);
      if (!given.ca) throw reject(ErrorCodes.CERT_CHAIN, `chain certificate "${name(given)}" is not a CA certificate`);
      if (!issuedBy(given, given)) intermediates.push(given);
      current = given;
      continue;
    }
    const root = roots.find((cert) => issuedBy(current, cert));
    if (root) {
      checkDates(root, ctx.nowMs, `root certificate "${name(root)}"`);
      return { intermediates, anchor: root, source: 'system', unused: pool.length - intermediates.length };
    }
    throw reject(
      ErrorCodes.CERT_CHAIN,
      `chain does not build: no certificate for issuer "${current.issuer.replace(/\n/g, ', ')}" in the chain given or the system trust store`,
    );
  }
  throw reject(ErrorCodes.CERT_CHAIN, `chain does not build: longer than ${MAX_CHAIN_DEPTH} certificates`);
}

/**
 * Validates an import candidate against the gateway's configuration and the
 * clock. Returns what to store, or throws on the first problem found, in this
 * order: key type has no slot, weak key, key mismatch, dates, names, usage, chain.
 */
export function validateImport(candidate: ImportCandidate, ctx: ValidationContext): ValidatedImport {
  const { leaf, key } = candidate;
  const weakness = keyWeakness(leaf.publicKey);
  if (weakness) throw reject(ErrorCodes.CERT_KEY_WEAK, weakness);
  const keyType = slotForKey(leaf.publicKey, ctx.keyTypes);
  if (!keyType) {
    throw reject(ErrorCodes.CERT_INVALID, `certificate has an ${describeKey(leaf.publicKey)} key, but certificates.keyTypes (${ctx.keyTypes.join(', ')}) has no slot for it`);
  }
  let matches = false;
  try {
    matches = leaf.checkPrivateKey(key);
  } catch {
    // Node throws when the key and certificate algorithms differ: that is a mismatch too.
  }
  if (!matches) throw reject(ErrorCodes.CERT_KEY_MISMATCH, `private key does not match the certificate (certificate key: ${describeKey(leaf.publicKey)}, private key: ${describeKey(key)})`);
  checkDates(leaf, ctx.nowMs, 'certificate');
  if (!covers(leaf, ctx.fqdn)) {
    throw reject(ErrorCodes.CERT_NAME_MISMATCH, `certificate SANs do not cover gateway.fqdn ${ctx.fqdn} (SANs: ${leaf.subjectAltName ?? 'none'})`);
  }
  const usages = leaf.keyUsage;
  if (usages && usages.length > 0 && !usages.includes(SERVER_AUTH) && !usages.includes(ANY_EKU)) {
    throw reject(ErrorCodes.CERT_USAGE, 'certificate is not for TLS servers (its extended key usage lacks serverAuth)');
  }
  const path = buildPath(candidate, ctx);

  const warnings: string[] = [];
  const missing = ctx.altNames.filter((alt) => !covers(leaf, alt));
  if (missing.length > 0) warnings.push(`certificate does not cover gateway.altNames ${missing.join(', ')}: clients using those names will fail`);
  const daysLeft = Math.floor((Date.parse(leaf.validTo) - ctx.nowMs) / DAY_MS);
  if (daysLeft < NEAR_EXPIRY_DAYS) warnings.push(`certificate expires in ${daysLeft} day(s), on ${isoDay(leaf.validTo)}`);
  if (path.source === 'self-signed') warnings.push('certificate is self-signed: clients must trust this exact certificate');
  if (path.unused > 0) warnings.push(`${path.unused} certificate(s) given with the chain are not on its path and were left out`);

  return {
    keyType,
    leafPem: leaf.toString(),
    chainPem: path.intermediates.map((cert) => cert.toString()).join(''),
    keyPem: key.export({ format: 'pem', type: 'pkcs8' }).toString(),
    trustAnchorPem: path.anchor.toString(),
    anchor: path.source,
    info: describeCertificate(leaf),
    warnings,
  };
}
