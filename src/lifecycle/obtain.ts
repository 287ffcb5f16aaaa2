/**
 * The one obtain flow (certmagic's config.go): first issuance at start-up,
 * a scheduled or API renewal and `cert renew` all come here.
 *
 *   lock `issue-<keyType>` → look at the store again → order → publish to CUCM
 *   trust and wait (the activation gate) → activate → audit (+ renewal record)
 *
 * Looking again matters: another process may have obtained while we waited
 * for the lock; a certificate there that the policy finds fit and not due
 * is adopted instead of ordering again. On failure nothing in the store
 * changes except the record of the failure, so the certificate being served
 * stays as it is.
 */
import type { UcgateConfig, KeyType } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Issuer } from '../issuers/issuer.js';
import type { AcmeCertificateRequest } from '../issuers/acme-issuer.js';
import { loadActiveCertificate, activateCertificate, type StoredCertificate, type ActivationGate } from '../certificates/certificate-store.js';
import { requiredNames } from '../certificates/required-names.js';
import { appendAudit, auditTime, type AuditActor } from '../certificates/audit-log.js';
import { AcmeError, classifyAcmeError } from '../acme/acme-errors.js';
import { isUcgateError, UcgateError, ErrorCodes } from '../errors.js';
import { keepReason } from '../certificates/certificate-source.js';
import { isDue } from '../certificates/renewal-policy.js';
import { appendRenewalRecord, type RenewalTrigger } from './renewal-history.js';

/** `start`: the gateway's own start-up (ensure), which keeps no renewal record; the others are renewals. */
export type ObtainTrigger = RenewalTrigger | 'start';

export interface ObtainOptions {
  readonly config: UcgateConfig;
  readonly storage: Storage & Locker;
  readonly issuer: Issuer;
  readonly clock: Clock;
  readonly keyType: KeyType;
  /** What this process serves now (undefined or a placeholder: nothing real yet). */
  readonly current: StoredCertificate | undefined;
  readonly trigger: ObtainTrigger;
  /** Order even when the store already has a newer certificate than `current`. */
  readonly force?: boolean;
  /** CUCM trust publishing: the new leaf reaches CUCM before it is activated. */
  readonly gate?: ActivationGate;
  /**
   * The operator asked for exactly this issuer to replace an imported
   * certificate (`cert renew --force --issuer`, the API's `replaceSource`).
   * Without it an imported certificate still valid is never replaced.
   */
  readonly replaceSource?: string;
  /** Each step as it happens (issued, activated; the issuer's own steps), for the CLI. */
  readonly progress?: (line: string) => void;
  /** cert_obtaining / cert_obtained / cert_failed / audit_failed lines, when given. */
  readonly log?: Logger;
  /** Why it is obtained (for cert_obtaining). */
  readonly reason?: string;
}

export interface ObtainResult {
  /** `renewed`: ordered a new one; `adopted`: the store already had a fresh one (another process obtained it). */
  readonly outcome: 'renewed' | 'adopted';
  readonly certificate: StoredCertificate;
  /** The store's active certificate before, if any. */
  readonly previous: StoredCertificate | undefined;
  readonly durationMs: number;
}

/** A stored certificate this process may serve instead of ordering: not the one we serve, fit, not due (the policy's one rule). */
function adoptable(options: ObtainOptions, stored: StoredCertificate): boolean {
  const { config, clock, current, issuer } = options;
  if (current && stored.info.serialNumber === current.info.serialNumber) return false;
  if (stored.source !== issuer.type) return false;
  return !isDue(stored, { issuerType: issuer.type, renewBeforeDays: config.certificates.renewBeforeDays, names: requiredNames(config), now: clock.now() });
}

function actorOf(trigger: ObtainTrigger, issuer: Issuer): AuditActor {
  if (trigger === 'cli') return 'cli';
  if (trigger === 'manual') return 'api';
  return issuer.type === 'manual' ? 'cli' : issuer.type;
}

/** Obtains (or adopts); throws an AcmeError (or the issuer's UcgateError) when it could not. */
export async function obtainCertificate(options: ObtainOptions): Promise<ObtainResult> {
  const { config, storage, issuer, clock, keyType, trigger, log } = options;
  const startedAt = clock.now();
  const record = trigger !== 'start';
  const release = await storage.lock(`issue-${keyType}`);
  let previous: StoredCertificate | undefined;
  try {
    previous = await loadActiveCertificate(storage, keyType);
    // Last line of defence (the loop and the CLI check first): an imported certificate served stays unless asked for.
    const keep = keepReason(options.current, issuer.type, options.replaceSource);
    if (keep) throw new UcgateError(ErrorCodes.CERT_IMPORTED_KEPT, keep, { exitCode: 2 });
    if (!options.force && previous && adoptable(options, previous)) {
      return { outcome: 'adopted', certificate: previous, previous: options.current, durationMs: clock.now() - startedAt };
    }
    log?.info({ event: 'cert_obtaining', keyType, issuer: issuer.type, reason: options.reason, trigger }, 'obtaining certificate');
    // ARI's `replaces` names what we serve; fall back to the stored one (the CLI serves nothing).
    const replacing = options.current?.source === issuer.type ? options.current : previous?.source === issuer.type ? previous : undefined;
    const request: AcmeCertificateRequest = {
      commonName: config.gateway.fqdn,
      subjectAltNames: requiredNames(config),
      keyType,
      ...(replacing && { replacing: { certPem: replacing.certPem } }),
      ...(options.progress && { progress: options.progress }),
    };
    const issued = await issuer.issue(request);
    options.progress?.(`issued: ${keyType} certificate from the ${issuer.type} issuer`);
    const certificate = await activateCertificate(storage, issued, { ...(options.gate && { gate: options.gate }) });
    options.progress?.(`activated: ${keyType} serial ${certificate.info.serialNumber}, valid until ${certificate.info.notAfter}`);
    const durationMs = clock.now() - startedAt;
    await appendAudit(storage, {
      time: auditTime(clock.now()),
      action: previous ? 'renewed' : 'issued',
      actor: actorOf(trigger, issuer),
      keyType,
      subject: certificate.info.subject,
      serial: certificate.info.serialNumber,
      ...(previous && { oldFingerprint: previous.info.fingerprintSha256 }),
      newFingerprint: certificate.info.fingerprintSha256,
    }).catch((err: Error) => log?.error({ event: 'audit_failed', keyType, err: err.message }, 'could not write the audit log'));
    if (record) {
      await appendRenewalRecord(storage, {
        time: new Date(clock.now()).toISOString(),
        keyType,
        trigger,
        result: 'success',
        issuer: issuer.type,
        serial: certificate.info.serialNumber,
        notAfter: certificate.info.notAfter,
        ...(options.current && { previousSerial: options.current.info.serialNumber }),
        durationMs,
      }).catch(() => undefined);
    }
    log?.info({ event: 'cert_obtained', keyType, serial: certificate.info.serialNumber, notAfter: certificate.info.notAfter, source: certificate.source }, 'certificate obtained');
    return { outcome: 'renewed', certificate, previous, durationMs };
  } catch (err) {
    log?.error({ event: 'cert_failed', keyType, err: (err as Error)?.message ?? String(err) }, 'certificate issuance failed');
    // Start-up wraps what the issuer said in its own CERT_MISSING; a renewal is classified for the loop's backoff.
    if (!record) throw err;
    const failure = isUcgateError(err) ? err : classifyAcmeError(err, undefined, `renewing the ${keyType} certificate`);
    await appendRenewalRecord(storage, {
      time: new Date(clock.now()).toISOString(),
      keyType,
      trigger,
      result: 'failure',
      issuer: issuer.type,
      ...(options.current && { previousSerial: options.current.info.serialNumber }),
      ...(failure instanceof AcmeError && { reason: failure.reason }),
      code: failure.code,
      error: failure.message,
      durationMs: clock.now() - startedAt,
    }).catch(() => undefined);
    throw failure;
  } finally {
    await release();
  }
}
