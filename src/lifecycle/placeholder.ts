/**
 * The certificate a listener holds while the real one is being obtained. An
 * ACME order needs the listeners to answer its challenges, so on a first
 * start (empty store) the gateway cannot wait for the CA before listening:
 * it listens with a short-lived self-signed certificate made in memory (never
 * stored), reports not-ready, and the renewal loop replaces it as soon as the
 * CA has issued — without a restart and without dropping a connection.
 */
import type { KeyType } from '../config/types.js';
import type { StoredCertificate } from '../certificates/certificate-store.js';
import { describeCertificate } from '../pki/certificate-info.js';

const PLACEHOLDERS = new WeakSet<StoredCertificate>();
const PLACEHOLDER_LIFETIME_MS = 7 * 86_400_000;

/** Optional Issuer capability: issuing needs the data plane running (ACME challenges on the listeners). */
export interface NeedsDataPlane {
  readonly needsDataPlane: true;
}

export function needsDataPlane(issuer: object): issuer is NeedsDataPlane {
  return (issuer as Partial<NeedsDataPlane>).needsDataPlane === true;
}

/** A fresh in-memory placeholder for `names` (the first becomes the common name). */
export async function createPlaceholder(keyType: KeyType, names: readonly string[], nowMs: number): Promise<StoredCertificate> {
  // Only a first ACME start needs one: the X.509 library loads then, not in every primary.
  const { createCa, issueLeaf } = await import('../pki/x509.js');
  const ca = await createCa({ commonName: 'ucgate placeholder (certificate being obtained)', keyType: 'ecdsa-p256' });
  const leaf = await issueLeaf({
    issuer: ca,
    commonName: names[0] ?? 'localhost',
    subjectAltNames: names,
    keyType,
    notBefore: new Date(nowMs - 60_000),
    notAfter: new Date(nowMs + PLACEHOLDER_LIFETIME_MS),
  });
  const cert: StoredCertificate = { keyType, certPem: leaf.certPem, keyPem: leaf.keyPem, source: 'self-signed', info: describeCertificate(leaf.certPem) };
  PLACEHOLDERS.add(cert);
  return cert;
}

/** True for a certificate made by createPlaceholder in this process. */
export function isPlaceholder(cert: StoredCertificate): boolean {
  return PLACEHOLDERS.has(cert);
}
