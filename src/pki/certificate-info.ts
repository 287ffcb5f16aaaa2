/**
 * What an administrator needs to know about a certificate, read with node's
 * own X509Certificate: subject, SANs, issuer, validity, key type, fingerprint.
 */
import { X509Certificate } from 'node:crypto';
import type { KeyType } from '../config/types.js';

export interface CertificateInfo {
  readonly subject: string;
  readonly commonName: string;
  readonly subjectAltNames: readonly string[];
  readonly issuer: string;
  readonly serialNumber: string;
  readonly keyType: KeyType | 'other';
  readonly notBefore: string;
  readonly notAfter: string;
  readonly fingerprintSha256: string;
}

const DAY_MS = 86_400_000;

/** Splits a PEM bundle into the PEM blocks of its certificates, in order. */
export function splitPemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((block) => block + '\n') ?? [];
}

function keyTypeOfCertificate(cert: X509Certificate): KeyType | 'other' {
  const key = cert.publicKey;
  if (key.asymmetricKeyType === 'ec') return key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'ecdsa-p256' : 'other';
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits === 2048) return 'rsa-2048';
    if (bits === 3072) return 'rsa-3072';
  }
  return 'other';
}

function parseSubjectAltNames(cert: X509Certificate): string[] {
  const raw = cert.subjectAltName;
  if (!raw) return [];
  return raw
    .split(/,\s*/)
    .map((entry) => entry.replace(/^(DNS|IP Address):/, ''))
    .filter((entry) => entry.length > 0);
}

export function describeCertificate(pemOrCert: string | X509Certificate): CertificateInfo {
  const cert = typeof pemOrCert === 'string' ? new X509Certificate(pemOrCert) : pemOrCert;
  const commonName = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? '';
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    commonName,
    subjectAltNames: parseSubjectAltNames(cert),
    issuer: cert.issuer.replace(/\n/g, ', '),
    serialNumber: cert.serialNumber.toLowerCase(),
    keyType: keyTypeOfCertificate(cert),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    fingerprintSha256: cert.fingerprint256,
  };
}

/** Whole days until expiry; negative once expired. */
export function daysLeft(info: Pick<CertificateInfo, 'notAfter'>, nowMs: number): number {
  return Math.floor((Date.parse(info.notAfter) - nowMs) / DAY_MS);
}
