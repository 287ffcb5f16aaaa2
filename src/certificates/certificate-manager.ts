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
import { loadActiveCertificate, type StoredCertificate, type ActivationGate } from './certificate-store.js';
import { UcgateError, ErrorCodes } from '../errors.js';
import { needsDataPlane, createPlaceholder } from '../lifecycle/placeholder.js';
import { obtainCertificate } from '../lifecycle/obtain.js';
import { isStoreUnavailable } from '../store/storage.js';
import { requiredNames } from './required-names.js';
import { EXPIRY_WARNING_DAYS, expiryMark, hasExpired, isDue, unfitReason } from './renewal-policy.js';

export { requiredNames, EXPIRY_WARNING_DAYS };

const DAY_MS = 86_400_000;

/** A served certificate getting close to its end. */
export interface ExpiryWarning {
  readonly keyType: KeyType;
  readonly serial: string;
  readonly source: string;
  readonly notAfter: string;
  /** Whole days left; negative once expired. */
  readonly daysLeft: number;
  /** The smallest mark reached (30, 14, 7, 1), 0 once expired: log once per mark to avoid repeats. */
  readonly threshold: number;
  readonly message: string;
}

export interface CertificateManagerOptions {
  readonly config: UcgateConfig;
  readonly storage: Storage & Locker;
  readonly issuer: Issuer;
  readonly clock: Clock;
  readonly log: Logger;
  /** CUCM trust publishing, when configured: a new leaf reaches CUCM before it is served. */
  readonly gate?: ActivationGate;
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

  /**
   * Why a stored certificate should not simply be served at start, or
   * undefined when it can: unfit (names, expiry) or due for renewal, by the
   * one rule of renewal-policy.ts (the loop's: a third of the lifetime left,
   * or renewBeforeDays capped at half the lifetime, whichever is earlier).
   */
  unusableReason(cert: StoredCertificate): string | undefined {
    const { config, clock, issuer } = this.#options;
    const names = requiredNames(config);
    const unfit = unfitReason(cert, names, clock.now());
    if (unfit) return unfit;
    if (cert.source !== 'manual' && isDue(cert, { issuerType: issuer.type, renewBeforeDays: config.certificates.renewBeforeDays, names, now: clock.now() })) return 'due for renewal';
    return undefined;
  }

  /**
   * Warnings for served certificates at or below 30, 14, 7 and 1 days left
   * (renewal-policy.ts expiryMark): an imported certificate gets all four
   * marks, only a person can renew it; what ucgate renews gets only the
   * marks inside its renewal window, where reaching one means renewal has
   * been failing. Logging them periodically is the caller's job.
   */
  expiryWarnings(nowMs: number = this.#options.clock.now()): ExpiryWarning[] {
    const warnings: ExpiryWarning[] = [];
    const { config } = this.#options;
    for (const cert of this.#served) {
      const notAfterMs = Date.parse(cert.info.notAfter);
      const daysLeft = Math.floor((notAfterMs - nowMs) / DAY_MS);
      // Every mark for an import (the marks ask a person to import again); a certificate of ours gets the marks past its due time.
      const threshold = expiryMark(cert, cert.source === 'manual', config.certificates.renewBeforeDays, nowMs);
      if (threshold === undefined) continue;
      const what = `${cert.keyType} certificate ${cert.info.commonName} (serial ${cert.info.serialNumber}, ${cert.source})`;
      const message =
        threshold === 0
          ? `${what} expired on ${cert.info.notAfter}`
          : `${what} expires in ${Math.max(daysLeft, 0)} day(s), on ${cert.info.notAfter}` +
            (cert.source === 'manual' ? ': import a new one with `ucgate cert import`' : ': automatic renewal has not succeeded');
      warnings.push({ keyType: cert.keyType, serial: cert.info.serialNumber, source: cert.source, notAfter: cert.info.notAfter, daysLeft, threshold, message });
    }
    return warnings;
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
    // An imported certificate is the operator's: served while it has not expired, whatever the issuer (certificate-source.ts).
    if (stored?.source === 'manual' && !hasExpired(stored, this.#options.clock.now())) {
      log.warn(
        { event: 'certificate_unsuitable', keyType, reason, source: 'manual', issuer: issuer.type },
        issuer.type === 'manual'
          ? 'serving the imported certificate anyway'
          : `serving the imported certificate anyway: the ${issuer.type} issuer replaces it only when asked (ucgate cert renew --force --issuer ${issuer.type})`,
      );
      return stored;
    }
    if (stored?.source === 'manual' && issuer.type !== 'manual') {
      log.error(
        { event: 'certificate_import_expired', keyType, serial: stored.info.serialNumber, notAfter: stored.info.notAfter, issuer: issuer.type },
        `the imported ${keyType} certificate expired on ${stored.info.notAfter}: the ${issuer.type} issuer replaces it`,
      );
    }
    // ACME challenges need the listeners: serve what is stored (or a placeholder) now; the renewal loop orders.
    if (needsDataPlane(issuer)) return this.#serveWhileObtaining(keyType, stored, reason);
    if (issuer.type === 'manual') {
      if (stored && !hasExpired(stored, this.#options.clock.now())) {
        log.warn({ event: 'certificate_unsuitable', keyType, reason }, 'serving the imported certificate anyway');
        return stored;
      }
      // ManualIssuer.issue always refuses, naming `ucgate cert import`.
      await issuer.issue({ commonName: config.gateway.fqdn, subjectAltNames: requiredNames(config), keyType });
    }
    const now = this.#options.clock.now();
    // The one obtain flow (lifecycle/obtain.ts). An expired import is the documented exception to "never replaced".
    const expiredImport = stored?.source === 'manual' && hasExpired(stored, now);
    try {
      const result = await obtainCertificate({
        config,
        storage,
        issuer,
        clock: this.#options.clock,
        keyType,
        current: stored,
        trigger: 'start',
        log,
        ...(reason && { reason }),
        ...(expiredImport && { replaceSource: issuer.type }),
        ...(this.#options.gate && { gate: this.#options.gate }),
      });
      return result.certificate;
    } catch (err) {
      // No lock without the store: the caller decides (the primary serves its local copy, certificates_from_local_copy).
      if (isStoreUnavailable(err)) throw err;
      // A failing issuer never replaces a certificate that is still valid.
      const again = await loadActiveCertificate(storage, keyType).catch(() => undefined);
      if (again && !hasExpired(again, this.#options.clock.now())) return again;
      throw new UcgateError(ErrorCodes.CERT_MISSING, `no usable ${keyType} certificate: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Serves `cert` for its key type from now on (a renewal, or a certificate
   * another process stored) and emits 'change'. Only ever called with a
   * certificate that is already stored and active: a failure never gets here.
   */
  replaceServed(cert: StoredCertificate): void {
    const others = new Map(this.#served.map((served) => [served.keyType, served]));
    others.set(cert.keyType, cert);
    this.#served = this.#options.config.certificates.keyTypes.flatMap((keyType) => others.get(keyType) ?? []);
    this.emit('change', this.#served);
  }

  /** For an issuer that needs the data plane: the stored certificate while it is valid for our names, else a placeholder. */
  async #serveWhileObtaining(keyType: KeyType, stored: StoredCertificate | undefined, reason: string | undefined): Promise<StoredCertificate> {
    const { config, clock, log } = this.#options;
    const names = requiredNames(config);
    if (stored && !unfitReason(stored, names, clock.now())) {
      log.info({ event: 'certificate_renewal_pending', keyType, reason, serial: stored.info.serialNumber }, 'serving the stored certificate until the renewal loop replaces it');
      return stored;
    }
    log.warn({ event: 'certificate_placeholder', keyType, reason }, 'serving a temporary self-signed certificate until the CA issues one');
    return createPlaceholder(keyType, names, clock.now());
  }
}
