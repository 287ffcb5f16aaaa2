/**
 * Issuer `manual`: the security team brings the certificate (`ucgate cert
 * import`); ucgate never issues one itself.
 */
import type { Issuer, IssuedCertificate } from './issuer.js';
import { UcgateError, ErrorCodes } from '../errors.js';

export class ManualIssuer implements Issuer {
  readonly type = 'manual' as const;

  async issue(): Promise<IssuedCertificate> {
    throw new UcgateError(
      ErrorCodes.CERT_MISSING,
      'issuer is manual and no usable certificate is stored: import one with `ucgate cert import`',
      { exitCode: 2 },
    );
  }

  async trustAnchorPem(): Promise<string | undefined> {
    return undefined;
  }
}
