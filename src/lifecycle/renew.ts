/**
 * One renewal of one key type, certmagic's obtain flow: take the store lock
 * `issue-<keyType>`, look at the store again (another process may have
 * renewed while we waited: then use its certificate instead of ordering
 * again), order, store and activate atomically, and write the audit line
 * and the renewal record. On failure nothing in the store changes except the
 * record of the failure, so the certificate being served stays as it is.
 */
import type { UcgateConfig, KeyType } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import type { Clock } from '../clock.js';
import type { Issuer } from '../issuers/issuer.js';
import type { AcmeCertificateRequest } from '../issuers/acme-issuer.js';
import { loadActiveCertificate, activateCertificate, type StoredCertificate, type ActivationGate } from '../certificates/certificate-store.js';
import { requiredNames } from '../certificates/certificate-manager.js';
import { appendAudit, auditTime, type AuditActor } from '../certificates/audit-log.js';
import { AcmeError, classifyAcmeError } from '../acme/acme-errors.js';
import { isUcgateError, UcgateError, ErrorCodes } from '../errors.js';
import { keepReason } from '../certificates/certificate-source.js';
import { appendRenewalRecord, type RenewalTrigger } from './renewal-history.js';
import { lifetimeRenewalTime } from './renewal-timing.js';

export interface RenewOptions {
  readonly config: UcgateConfig;
  readonly storage: Storage & Locker;
  readonly issuer: Issuer;
  readonly clock: Clock;
  readonly keyType: KeyType;
  /** What this process serves now (undefined or a placeholder: nothing real yet). */
  readonly current: StoredCertificate | undefined;
  readonly trigger: RenewalTrigger;
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
}

export interface RenewResult {
  /** `renewed`: ordered a new one; `adopted`: the store already had a newer one (another process renewed). */
  readonly outcome: 'renewed' | 'adopted';
  readonly certificate: StoredCertificate;
  readonly previous: StoredCertificate | undefined;
  readonly durationMs: number;
}

/** A stored certificate this process may serve instead of ordering: newer than ours, covering the names, not yet due. */
function freshEnough(options: RenewOptions, stored: StoredCertificate): boolean {
  const { config, clock, current } = options;
  if (current && stored.info.serialNumber === current.info.serialNumber) return false;
  if (stored.source !== options.issuer.type) return false;
  const sans = new Set(stored.info.subjectAltNames.map((name) => name.toLowerCase()));
  if (!requiredNames(config).every((name) => sans.has(name))) return false;
  const due = lifetimeRenewalTime(Date.parse(stored.info.notBefore), Date.parse(stored.info.notAfter), config.certificates.renewBeforeDays);
  return clock.now() < due;
}

/** Renews (or adopts); throws an AcmeError (or the issuer's UcgateError) when it could not. */
export async function renewCertificate(options: RenewOptions): Promise<RenewResult> {
  const { config, storage, issuer, clock, keyType, trigger } = options;
  const startedAt = clock.now();
  const release = await storage.lock(`issue-${keyType}`);
  let previous: StoredCertificate | undefined;
  let replacing: StoredCertificate | undefined;
  try {
    previous = await loadActiveCertificate(storage, keyType);
    // Last line of defence (the loop and the CLI check first): an imported certificate served stays unless asked for.
    const keep = keepReason(options.current, issuer.type, options.replaceSource);
    if (keep) throw new UcgateError(ErrorCodes.CERT_IMPORTED_KEPT, keep, { exitCode: 2 });
    if (!options.force && previous && freshEnough(options, previous)) {
      return { outcome: 'adopted', certificate: previous, previous: options.current, durationMs: clock.now() - startedAt };
    }
    // ARI's `replaces` names what we serve; fall back to the stored one (the CLI serves nothing).
    replacing = options.current?.source === issuer.type ? options.current : previous?.source === issuer.type ? previous : undefined;
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
      actor: (trigger === 'scheduled' ? issuer.type : trigger === 'cli' ? 'cli' : 'api') as AuditActor,
      keyType,
      subject: certificate.info.subject,
      serial: certificate.info.serialNumber,
      ...(previous && { oldFingerprint: previous.info.fingerprintSha256 }),
      newFingerprint: certificate.info.fingerprintSha256,
    }).catch(() => undefined);
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
    return { outcome: 'renewed', certificate, previous, durationMs };
  } catch (err) {
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
