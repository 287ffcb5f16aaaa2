/**
 * Owns the gateway's own certificates in the primary: loads the active one per
 * key type, issues when none is usable, and tells listeners when they change.
 * A failing issuer never replaces a certificate that is still valid.
 */
import { EventEmitter } from 'node:events';
import type { UcgateConfig, KeyType } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import type { Issuer } from '../issuers/issuer.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { loadActiveCertificate, activateCertificate, type StoredCertificate } from './certificate-store.js';
import { UcgateError, ErrorCodes } from '../errors.js';

const DAY_MS = 86_400_000;

export interface CertificateManagerOptions {
  readonly config: UcgateConfig;
  readonly storage: Storage & Locker;
  readonly issuer: Issuer;
  readonly clock: Clock;
  readonly log: Logger;
}

/** Names the gateway's certificate must carry: the FQDN first, then altNames. */
export function requiredNames(config: UcgateConfig): string[] {
  return [...new Set([config.gateway.fqdn, ...config.gateway.altNames].map((name) => name.toLowerCase()))];
}

export class CertificateManager extends EventEmitter {
  readonly #options: CertificateManagerOptions;
  #served: readonly StoredCertificate[] = [];

  constructor(options: CertificateManagerOptions) {
    super();
    this.#options = options;
  }

  get served(): readonly StoredCertificate[] {
    return this.#served;
  }

  get issuer(): Issuer {
    return this.#options.issuer;
  }

  /** Why a stored certificate cannot be served as it is, or undefined when it can. */
  unusableReason(cert: StoredCertificate): string | undefined {
    const { config, clock } = this.#options;
    const sans = new Set(cert.info.subjectAltNames.map((name) => name.toLowerCase()));
    const missing = requiredNames(config).filter((name) => !sans.has(name));
    if (missing.length > 0) return `does not cover ${missing.join(', ')}`;
    const notAfter = Date.parse(cert.info.notAfter);
    if (notAfter <= clock.now()) return 'expired';
    if (cert.source !== 'manual' && notAfter - clock.now() < config.certificates.renewBeforeDays * DAY_MS) return 'due for renewal';
    return undefined;
  }

  /** Loads or issues a certificate for every configured key type. */
  async ensure(): Promise<readonly StoredCertificate[]> {
    const served: StoredCertificate[] = [];
    for (const keyType of this.#options.config.certificates.keyTypes) served.push(await this.#ensureOne(keyType));
    this.#served = served;
    this.emit('change', served);
    return served;
  }

  async #ensureOne(keyType: KeyType): Promise<StoredCertificate> {
    const { storage, issuer, log, config } = this.#options;
    const stored = await loadActiveCertificate(storage, keyType);
    const reason = stored ? this.unusableReason(stored) : 'none stored';
    if (stored && !reason) return stored;
    if (issuer.type === 'manual') {
      if (stored && Date.parse(stored.info.notAfter) > this.#options.clock.now()) {
        log.warn({ event: 'certificate_unsuitable', keyType, reason }, 'serving the imported certificate anyway');
        return stored;
      }
      // ManualIssuer.issue always refuses, naming `ucgate cert import`.
      await issuer.issue({ commonName: config.gateway.fqdn, subjectAltNames: requiredNames(config), keyType });
    }
    const release = await storage.lock(`issue-${keyType}`);
    try {
      // Another process may have issued while we waited for the lock.
      const again = await loadActiveCertificate(storage, keyType);
      if (again && !this.unusableReason(again)) return again;
      log.info({ event: 'cert_obtaining', keyType, issuer: issuer.type, reason }, 'obtaining certificate');
      try {
        const issued = await issuer.issue({ commonName: config.gateway.fqdn, subjectAltNames: requiredNames(config), keyType });
        const active = await activateCertificate(storage, issued);
        log.info(
          { event: 'cert_obtained', keyType, serial: active.info.serialNumber, notAfter: active.info.notAfter, source: active.source },
          'certificate obtained',
        );
        return active;
      } catch (err) {
        log.error({ event: 'cert_failed', keyType, err: (err as Error).message }, 'certificate issuance failed');
        if (again && Date.parse(again.info.notAfter) > this.#options.clock.now()) return again;
        throw new UcgateError(ErrorCodes.CERT_MISSING, `no usable ${keyType} certificate: ${(err as Error).message}`, { cause: err });
      }
    } finally {
      await release();
    }
  }
}
