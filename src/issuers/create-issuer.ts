import type { UcgateConfig } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import type { Issuer } from './issuer.js';
import { SelfSignedIssuer } from './self-signed-issuer.js';
import { ManualIssuer } from './manual-issuer.js';
import { UcgateError, ErrorCodes } from '../errors.js';

export function createIssuer(config: UcgateConfig, storage: Storage & Locker): Issuer {
  switch (config.certificates.issuer.type) {
    case 'self-signed':
      return new SelfSignedIssuer(storage, config.gateway.fqdn);
    case 'manual':
      return new ManualIssuer();
    case 'acme':
      throw new UcgateError(ErrorCodes.ISSUER_UNSUPPORTED, 'certificates.issuer.type: acme is not available in this build yet', {
        exitCode: 2,
      });
  }
}
