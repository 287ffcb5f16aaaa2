/**
 * The configured Issuer, from `certificates.issuer`. Each issuer's module is
 * loaded only when configured: the ACME client and the X.509 libraries
 * behind it cost the primary over ten megabytes of memory that a gateway
 * with a manual certificate never uses.
 */
import type { UcgateConfig } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import type { Logger } from '../log.js';
import type { Clock } from '../clock.js';
import type { Issuer } from './issuer.js';
import { dirname } from 'node:path';
import { ManualIssuer } from './manual-issuer.js';
import { StoreChallengePublisher, type ChallengePublisher } from '../challenges/challenge-store.js';
import { createLogger } from '../log.js';
import { UcgateError, ErrorCodes } from '../errors.js';

export interface CreateIssuerOptions {
  /** Where ACME challenge responses go; default: the store only (for the CLI). */
  readonly challenges?: ChallengePublisher;
  readonly log?: Logger;
  /** The clock certificates are judged by (self-signed dates its leaves from it). */
  readonly clock?: Clock;
}

export async function createIssuer(config: UcgateConfig, storage: Storage & Locker, options: CreateIssuerOptions = {}): Promise<Issuer> {
  switch (config.certificates.issuer.type) {
    case 'self-signed': {
      const { SelfSignedIssuer } = await import('./self-signed-issuer.js');
      return new SelfSignedIssuer(storage, config.gateway.fqdn, options.clock);
    }
    case 'manual':
      return new ManualIssuer();
    case 'acme': {
      const acme = config.certificates.issuer.acme!;
      // The validator must reach a listener of ours for these two; a config without one cannot succeed.
      if (acme.challenge === 'http-01' && config.listen.http.length === 0) {
        throw new UcgateError(ErrorCodes.CONFIG_INVALID, 'certificates.issuer.acme.challenge: http-01 needs a listen.http listener (port 80 as the CA sees it)', {
          exitCode: 2,
        });
      }
      const { AcmeIssuer } = await import('./acme-issuer.js');
      return new AcmeIssuer({
        acme,
        storage,
        challenges: options.challenges ?? new StoreChallengePublisher(storage),
        log: options.log ?? createLogger({ level: 'silent' }),
        configDir: configDirOf(config.configFile),
      });
    }
  }
}

/** The folder relative hook commands resolve against. */
export function configDirOf(configFile: string): string {
  return configFile ? dirname(configFile) : process.cwd();
}
