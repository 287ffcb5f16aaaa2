/**
 * The layout of certificates in a Storage. Each issued certificate lands in
 * its own version folder; a one-line `active` pointer names the one served.
 * Switching that pointer is a single atomic write, so activation is atomic
 * and the previous version stays on hand for rollback.
 *
 *   certificates/<keyType>/versions/<serial>/certificate.pem  leaf + chain
 *   certificates/<keyType>/versions/<serial>/private-key.pem  0600
 *   certificates/<keyType>/versions/<serial>/meta.json        source, time
 *   certificates/<keyType>/active                             "<serial>"
 *   certificates/<keyType>/previous                           "<serial>"
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

/** Stores a new version, then points `active` at it (keeping the old pointer as `previous`). */
export async function activateCertificate(storage: Storage, issued: IssuedCertificate): Promise<StoredCertificate> {
  const certPem = issued.certPem.trimEnd() + '\n' + (issued.chainPem ? issued.chainPem.trimEnd() + '\n' : '');
  const info = describeCertificate(issued.certPem);
  const dir = `${base(issued.keyType)}/versions/${info.serialNumber}`;
  await storage.store(`${dir}/private-key.pem`, issued.keyPem, { secret: true });
  await storage.store(`${dir}/certificate.pem`, certPem);
  const meta: Meta = { source: issued.source, storedAt: new Date().toISOString() };
  await storage.store(`${dir}/meta.json`, JSON.stringify(meta) + '\n');
  const current = (await loadText(storage, `${base(issued.keyType)}/active`))?.trim();
  if (current && current !== info.serialNumber) await storage.store(`${base(issued.keyType)}/previous`, current + '\n');
  await storage.store(`${base(issued.keyType)}/active`, info.serialNumber + '\n');
  return { keyType: issued.keyType, certPem, keyPem: issued.keyPem, source: issued.source, info };
}
