/**
 * The layout of certificates in a Storage. Each issued certificate lands in
 * its own version folder; a one-line `active` pointer names the one served.
 * Switching that pointer is a single atomic write, so activation is atomic
 * and the previous version stays on hand for rollback.
 *
 *   certificates/<keyType>/versions/<serial>/certificate.pem  leaf + chain
 *   certificates/<keyType>/versions/<serial>/private-key.pem  0600
 *   certificates/<keyType>/versions/<serial>/meta.json        source, time
 *   certificates/<keyType>/versions/<serial>/trust-anchor.pem the root it chains to (imports)
 *   certificates/<keyType>/active                             "<serial>"
 *   certificates/<keyType>/previous                           "<serial>"
 *   certificates/<keyType>/pending/private-key.pem            0600, from `cert csr`
 *   certificates/<keyType>/pending/request.csr                the CSR sent to the CA
 */
import type { KeyType } from '../config/types.js';
import type { Storage } from '../store/storage.js';
import { loadText } from '../store/storage.js';
import type { CertificateSource, IssuedCertificate } from '../issuers/issuer.js';
import { describeCertificate, type CertificateInfo } from '../pki/certificate-info.js';

export interface StoredCertificate {
  readonly keyType: KeyType;
  /** Leaf followed by its chain: what the listener sends. */
  readonly certPem: string;
  /** Secret: never log. */
  readonly keyPem: string;
  readonly source: CertificateSource;
  readonly info: CertificateInfo;
}

interface Meta {
  readonly source: CertificateSource;
  readonly storedAt: string;
}

const base = (keyType: KeyType) => `certificates/${keyType}`;

export async function loadActiveCertificate(storage: Storage, keyType: KeyType): Promise<StoredCertificate | undefined> {
  const serial = (await loadText(storage, `${base(keyType)}/active`))?.trim();
  if (!serial) return undefined;
  return loadVersion(storage, keyType, serial);
}

export async function loadVersion(storage: Storage, keyType: KeyType, serial: string): Promise<StoredCertificate | undefined> {
  const dir = `${base(keyType)}/versions/${serial}`;
  const [certPem, keyPem, metaText] = await Promise.all([
    loadText(storage, `${dir}/certificate.pem`),
    loadText(storage, `${dir}/private-key.pem`),
    loadText(storage, `${dir}/meta.json`),
  ]);
  if (!certPem || !keyPem) return undefined;
  const meta = metaText ? (JSON.parse(metaText) as Meta) : { source: 'manual' as const };
  return { keyType, certPem, keyPem, source: meta.source, info: describeCertificate(certPem) };
}

/** A leaf about to be served, as an ActivationGate sees it. */
export interface LeafToServe {
  readonly keyType: KeyType;
  /** The leaf alone, without its chain. */
  readonly leafPem: string;
  readonly info: CertificateInfo;
}

/**
 * Steps around a switch of the `active` pointer: CUCM trust publishing
 * (publish and wait before, schedule the old leaf's removal after).
 * `beforeActivate` throwing leaves the pointers untouched.
 */
export interface ActivationGate {
  beforeActivate(next: LeafToServe): Promise<void>;
  /** Never throws: what was activated stays activated. */
  afterActivate(next: LeafToServe, replaced: CertificateInfo | undefined): Promise<void>;
}

export interface ActivateOptions {
  /** Kept beside the version for `cert export-trust --ca`. */
  readonly trustAnchorPem?: string;
  readonly gate?: ActivationGate;
}

/** The first PEM block of `pem`: the leaf of a leaf-plus-chain. */
export function leafOf(pem: string): string {
  const end = pem.indexOf('-----END CERTIFICATE-----');
  return end < 0 ? pem : pem.slice(0, end + '-----END CERTIFICATE-----'.length) + '\n';
}

/**
 * Stores a new version, then points `active` at it (keeping the old pointer as `previous`).
 * With a gate, nothing is written until its `beforeActivate` has passed.
 */
export async function activateCertificate(storage: Storage, issued: IssuedCertificate, options: ActivateOptions = {}): Promise<StoredCertificate> {
  const certPem = issued.certPem.trimEnd() + '\n' + (issued.chainPem ? issued.chainPem.trimEnd() + '\n' : '');
  const info = describeCertificate(issued.certPem);
  const next: LeafToServe = { keyType: issued.keyType, leafPem: leafOf(issued.certPem), info };
  await options.gate?.beforeActivate(next);
  const dir = `${base(issued.keyType)}/versions/${info.serialNumber}`;
  await storage.store(`${dir}/private-key.pem`, issued.keyPem, { secret: true });
  await storage.store(`${dir}/certificate.pem`, certPem);
  const meta: Meta = { source: issued.source, storedAt: new Date().toISOString() };
  await storage.store(`${dir}/meta.json`, JSON.stringify(meta) + '\n');
  if (options.trustAnchorPem) await storage.store(`${dir}/trust-anchor.pem`, options.trustAnchorPem.trimEnd() + '\n');
  const current = (await loadText(storage, `${base(issued.keyType)}/active`))?.trim();
  const replaced = options.gate && current && current !== info.serialNumber ? await loadVersion(storage, issued.keyType, current) : undefined;
  if (current && current !== info.serialNumber) await storage.store(`${base(issued.keyType)}/previous`, current + '\n');
  await storage.store(`${base(issued.keyType)}/active`, info.serialNumber + '\n');
  await options.gate?.afterActivate(next, replaced?.info);
  return { keyType: issued.keyType, certPem, keyPem: issued.keyPem, source: issued.source, info };
}

/** The serial the `previous` pointer names, if any. */
export async function loadPreviousSerial(storage: Storage, keyType: KeyType): Promise<string | undefined> {
  return (await loadText(storage, `${base(keyType)}/previous`))?.trim() || undefined;
}

/**
 * Points `active` at a version already stored, and `previous` at what was
 * active: rollback, and undoing a rollback by running it again. The version
 * must exist (check with loadVersion first).
 */
export async function activateVersion(storage: Storage, keyType: KeyType, serial: string, gate?: ActivationGate): Promise<void> {
  const version = gate ? await loadVersion(storage, keyType, serial) : undefined;
  const next: LeafToServe | undefined = version && { keyType, leafPem: leafOf(version.certPem), info: version.info };
  if (next) await gate!.beforeActivate(next);
  const current = (await loadText(storage, `${base(keyType)}/active`))?.trim();
  const replaced = next && current && current !== serial ? await loadVersion(storage, keyType, current) : undefined;
  if (current && current !== serial) await storage.store(`${base(keyType)}/previous`, current + '\n');
  await storage.store(`${base(keyType)}/active`, serial + '\n');
  if (next) await gate!.afterActivate(next, replaced?.info);
}

/** The root the active certificate was validated against on import, if one was kept. */
export async function loadTrustAnchor(storage: Storage, keyType: KeyType): Promise<string | undefined> {
  const serial = (await loadText(storage, `${base(keyType)}/active`))?.trim();
  return serial ? loadText(storage, `${base(keyType)}/versions/${serial}/trust-anchor.pem`) : undefined;
}

/** A key made by `ucgate cert csr`, waiting for the CA's certificate. */
export interface PendingKey {
  readonly keyType: KeyType;
  /** Secret: never log. */
  readonly keyPem: string;
  readonly csrPem: string | undefined;
}

const pendingKey = (keyType: KeyType) => `${base(keyType)}/pending/private-key.pem`;
const pendingCsr = (keyType: KeyType) => `${base(keyType)}/pending/request.csr`;

/** Replaces the pending key and CSR of a key type; resolves true when one was there before. */
export async function storePendingKey(storage: Storage, keyType: KeyType, keyPem: string, csrPem: string): Promise<boolean> {
  const replaced = await storage.exists(pendingKey(keyType));
  await storage.store(pendingKey(keyType), keyPem, { secret: true });
  await storage.store(pendingCsr(keyType), csrPem);
  return replaced;
}

export async function loadPendingKey(storage: Storage, keyType: KeyType): Promise<PendingKey | undefined> {
  const keyPem = await loadText(storage, pendingKey(keyType));
  if (!keyPem) return undefined;
  return { keyType, keyPem, csrPem: await loadText(storage, pendingCsr(keyType)) };
}

/** Forgets the pending key once its certificate is active (the key lives on in the version folder). */
export async function deletePendingKey(storage: Storage, keyType: KeyType): Promise<void> {
  await storage.delete(pendingCsr(keyType));
  await storage.delete(pendingKey(keyType));
}
