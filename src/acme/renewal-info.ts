/**
 * The ARI capability an Issuer may have (RFC 9773), apart from how it is
 * computed (ari.ts): the renewal loop and the CLI ask for it without loading
 * the X.509 and ACME libraries behind it.
 */

/** What the CA said about one certificate. */
export interface RenewalInfo {
  readonly certId: string;
  /** Suggested window, ms since the epoch; start < end. */
  readonly start: number;
  readonly end: number;
  readonly explanationUrl: string | undefined;
  /** When to ask again (Retry-After), ms from the response. */
  readonly retryAfterMs: number | undefined;
}

/** Optional Issuer capability (certmagic's style): renewal information from the CA. */
export interface RenewalInfoSource {
  /** The CA's window for `certPem`, or undefined when the CA offers no ARI. Throws when the CA could not be asked. */
  renewalInfo(certPem: string): Promise<RenewalInfo | undefined>;
}

export function hasRenewalInfo(issuer: object): issuer is RenewalInfoSource {
  return typeof (issuer as Partial<RenewalInfoSource>).renewalInfo === 'function';
}
