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
import { loadActiveCertificate, activateCertificate, type StoredCertificate, type ActivationGate } from './certificate-store.js';
import { UcgateError, ErrorCodes } from '../errors.js';
import { appendAudit, auditTime, type AuditActor } from './audit-log.js';
import { needsDataPlane, createPlaceholder } from '../lifecycle/placeholder.js';

const DAY_MS = 86_400_000;

/** Days-left marks at which an expiring certificate is worth a log line (issue 5). */
export const EXPIRY_WARNING_DAYS = [30, 14, 7, 1] as const;

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

/** Names the gateway's certificate must carry: the FQDN first, then altNames, then each cluster's publicName. */
export function requiredNames(config: Pick<UcgateConfig, 'gateway'> & { readonly clusters?: readonly { readonly publicName?: string }[] }): string[] {
  const publicNames = (config.clusters ?? []).flatMap((cluster) => (cluster.publicName ? [cluster.publicName] : []));
  return [...new Set([config.gateway.fqdn, ...config.gateway.altNames, ...publicNames].map((name) => name.toLowerCase()))];
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

  /**
   * Warnings for served certificates at or below 30, 14, 7 and 1 days left.
   * Manual (imported) certificates get all four marks: only a person can
   * renew them. Certificates ucgate renews itself get only the marks below
   * `renewBeforeDays`, where reaching one means renewal has been failing.
   * Logging them periodically is the caller's job.
   */
  expiryWarnings(nowMs: number = this.#options.clock.now()): ExpiryWarning[] {
    const warnings: ExpiryWarning[] = [];
    const renewBefore = this.#options.config.certificates.renewBeforeDays;
    for (const cert of this.#served) {
      const notAfterMs = Date.parse(cert.info.notAfter);
      const daysLeft = Math.floor((notAfterMs - nowMs) / DAY_MS);
      const marks = cert.source === 'manual' ? EXPIRY_WARNING_DAYS : EXPIRY_WARNING_DAYS.filter((days) => days < renewBefore);
      let threshold: number | undefined;
      if (notAfterMs <= nowMs) threshold = 0;
      else for (const mark of marks) if (notAfterMs - nowMs <= mark * DAY_MS) threshold = mark;
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
    if (stored?.source === 'manual' && Date.parse(stored.info.notAfter) > this.#options.clock.now()) {
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
        const gate = this.#options.gate;
        const active = await activateCertificate(storage, issued, { ...(gate && { gate }) });
        await this.#audit(again ?? stored, active);
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
    const covers = (cert: StoredCertificate) => names.every((name) => cert.info.subjectAltNames.some((san) => san.toLowerCase() === name));
    if (stored && Date.parse(stored.info.notAfter) > clock.now() && covers(stored)) {
      log.info({ event: 'certificate_renewal_pending', keyType, reason, serial: stored.info.serialNumber }, 'serving the stored certificate until the renewal loop replaces it');
      return stored;
    }
    log.warn({ event: 'certificate_placeholder', keyType, reason }, 'serving a temporary self-signed certificate until the CA issues one');
    return createPlaceholder(keyType, names, clock.now());
  }

  /** One audit line per issuance; a failing audit write is logged, never fails the issuance. */
  async #audit(before: StoredCertificate | undefined, after: StoredCertificate): Promise<void> {
    const { storage, issuer, clock, log } = this.#options;
    const actor: AuditActor = issuer.type === 'manual' ? 'cli' : issuer.type;
    try {
      await appendAudit(storage, {
        time: auditTime(clock.now()),
        action: before ? 'renewed' : 'issued',
        actor,
        keyType: after.keyType,
        subject: after.info.subject,
        serial: after.info.serialNumber,
        ...(before && { oldFingerprint: before.info.fingerprintSha256 }),
        newFingerprint: after.info.fingerprintSha256,
      });
    } catch (err) {
      log.error({ event: 'audit_failed', keyType: after.keyType, err: (err as Error).message }, 'could not write the audit log');
    }
  }
}
