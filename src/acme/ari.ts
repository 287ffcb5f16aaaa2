/**
 * ACME Renewal Information (ARI, RFC 9773). A CA that offers `renewalInfo`
 * in its directory tells each client when to renew each certificate — a
 * suggested window, moved earlier when it must revoke — and the client names
 * the certificate it replaces on the new order. acme-client has none of it.
 *
 * CertID (§4.1): base64url(AKI keyIdentifier) "." base64url(serial), the
 * serial as the DER INTEGER's content octets (a leading 0x00 when the top
 * bit is set).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { parseRetryAfter } from './acme-errors.js';
import type { RenewalInfo } from './renewal-info.js';

function hexToBase64Url(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64url');
}

/** The serial's DER content octets as hex: even length, minimal, with a 00 before a set top bit. */
export function serialDerHex(serialHex: string): string {
  let hex = serialHex.toLowerCase().replace(/^0+/, '');
  if (hex.length % 2 === 1) hex = '0' + hex;
  if (hex === '') return '00';
  return parseInt(hex.slice(0, 2), 16) >= 0x80 ? '00' + hex : hex;
}

/** The ARI CertID of a certificate (the leaf: the first PEM block); throws when it has no AKI keyIdentifier. */
export function ariCertId(certPem: string): string {
  const cert = new x509.X509Certificate(certPem);
  const keyId = cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
  if (!keyId) throw new Error('certificate has no authority key identifier: no ARI CertID');
  return `${hexToBase64Url(keyId)}.${hexToBase64Url(serialDerHex(cert.serialNumber))}`;
}

/** The URL to GET for a CertID, under the directory's `renewalInfo` (§4.2). */
export function renewalInfoUrl(base: string, certId: string): string {
  return `${base.replace(/\/+$/, '')}/${certId}`;
}

/**
 * Reads a renewalInfo response (§4.2). Undefined when the body is not a
 * usable window (missing, unparsable, end not after start): the caller then
 * falls back to its own schedule.
 */
export function parseRenewalInfo(certId: string, body: unknown, retryAfter: string | string[] | undefined, nowMs: number): RenewalInfo | undefined {
  const window = (body as { suggestedWindow?: { start?: unknown; end?: unknown } } | undefined)?.suggestedWindow;
  if (typeof window?.start !== 'string' || typeof window.end !== 'string') return undefined;
  const start = Date.parse(window.start);
  const end = Date.parse(window.end);
  if (Number.isNaN(start) || Number.isNaN(end) || end <= start) return undefined;
  const explanation = (body as { explanationURL?: unknown }).explanationURL;
  return { certId, start, end, explanationUrl: typeof explanation === 'string' ? explanation : undefined, retryAfterMs: parseRetryAfter(retryAfter, nowMs) };
}
