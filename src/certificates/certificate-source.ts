/**
 * Which issuer may replace the certificate being served (issue 18).
 *
 * An imported (`manual`) certificate is the security team's: ucgate renews
 * nothing it did not issue itself, and no issuer replaces an imported
 * certificate unless the operator asks for exactly that issuer
 * (`ucgate cert renew --force --issuer <type>`, or
 * `POST /api/v1/certificates/renew` with `{ "replaceSource": "<type>" }`).
 * The maintenance loop never asks. The one exception is a start with an
 * imported certificate that has already expired (nothing servable is left):
 * the configured issuer then issues at start, logged as an error
 * (certificate_import_expired).
 *
 * What renews an imported certificate: nothing, whatever the issuer. It is
 * flagged as `unmanaged` (status, dashboard, the metric
 * `ucgate_certificate_unmanaged{name,key_type}`) and the expiry warnings at
 * 30, 14, 7 and 1 days say to import again.
 */
import type { IssuerType } from '../config/types.js';
import type { StoredCertificate } from './certificate-store.js';

/** The certificate sources an operator may name to replace an imported certificate. */
export const REPLACEABLE_BY = ['self-signed', 'acme'] as const;
export type ReplaceSource = (typeof REPLACEABLE_BY)[number];

export function isReplaceSource(value: unknown): value is ReplaceSource {
  return typeof value === 'string' && (REPLACEABLE_BY as readonly string[]).includes(value);
}

/** True when nothing will renew `cert`: it was imported (the loop renews only what its issuer made). */
export function isUnmanaged(cert: { readonly source: string }, issuerType: IssuerType): boolean {
  if (cert.source === 'manual' || issuerType === 'manual') return true;
  // The acme issuer replaces a self-signed certificate (a placeholder, or the default's) at once.
  if (issuerType === 'acme' && cert.source === 'self-signed') return false;
  return cert.source !== issuerType;
}

/** What will renew `cert`, in words, for `cert import`, `cert status` and the status document. */
export function renewedBy(cert: { readonly source: string }, issuerType: IssuerType): string {
  if (cert.source === 'manual') return 'nothing (imported): import a new one with `ucgate cert import`';
  if (issuerType === 'manual') return 'nothing (certificates.issuer.type is manual)';
  if (issuerType === 'acme' && cert.source === 'self-signed') return 'the acme issuer, which replaces this self-signed certificate at once';
  if (cert.source !== issuerType) return `nothing (a ${cert.source} certificate while certificates.issuer.type is ${issuerType})`;
  return `the ${issuerType} issuer`;
}

/**
 * Why the configured issuer must leave `cert` (the certificate being served)
 * as it is, or undefined when it may replace it: `cert` is an imported
 * certificate and the operator did not ask for exactly this issuer.
 */
export function keepReason(cert: StoredCertificate | undefined, issuerType: IssuerType, replaceSource?: string): string | undefined {
  if (!cert || cert.source !== 'manual' || issuerType === 'manual') return undefined;
  if (replaceSource === issuerType) return undefined;
  return (
    `kept the imported ${cert.keyType} certificate (serial ${cert.info.serialNumber}, issued by ${cert.info.issuer}, valid until ${cert.info.notAfter}): ` +
    `the ${issuerType} issuer never replaces an imported certificate unless asked exactly ` +
    `(\`ucgate cert renew --force --issuer ${issuerType}\`, or POST /api/v1/certificates/renew {"replaceSource":"${issuerType}"})`
  );
}

/** The start / reload line about a served certificate's source and the configured issuer, when they differ. */
export function sourceMismatch(cert: StoredCertificate, issuerType: IssuerType): string | undefined {
  if (cert.source === issuerType) return undefined;
  if (cert.source === 'manual') {
    return (
      `serving an imported ${cert.keyType} certificate (serial ${cert.info.serialNumber}, valid until ${cert.info.notAfter}) while certificates.issuer.type is ${issuerType}: ` +
      `nothing renews it; import a new one before it expires, or replace it on purpose with \`ucgate cert renew --force --issuer ${issuerType}\``
    );
  }
  if (issuerType === 'manual') {
    return `serving a ${cert.source} ${cert.keyType} certificate (serial ${cert.info.serialNumber}) while certificates.issuer.type is manual: nothing renews it; import one with \`ucgate cert import\``;
  }
  return undefined;
}
