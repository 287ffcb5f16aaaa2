/**
 * An Issuer turns a request for names into a certificate (certmagic's Issuer).
 * self-signed is the embedded default; acme and manual plug in here.
 */
import type { IssuerType, KeyType } from '../config/types.js';

export type CertificateSource = 'self-signed' | 'acme' | 'manual';

export interface CertificateRequest {
  readonly commonName: string;
  /** DNS names and IP addresses, the common name first. */
  readonly subjectAltNames: readonly string[];
  readonly keyType: KeyType;
  /** Each step as it happens (account, order, challenge published, CA validating, finalizing), for the CLI. */
  readonly progress?: (line: string) => void;
}

export interface IssuedCertificate {
  /** The leaf alone. */
  readonly certPem: string;
  /** Intermediates the server sends after the leaf (may be empty). */
  readonly chainPem: string;
  /** Secret: never log. */
  readonly keyPem: string;
  readonly keyType: KeyType;
  readonly source: CertificateSource;
}

export interface Issuer {
  readonly type: IssuerType;
  issue(request: CertificateRequest): Promise<IssuedCertificate>;
  /** The CA certificate clients should trust for what this issuer signs, when it has one. */
  trustAnchorPem(): Promise<string | undefined>;
}
