/**
 * Wires the maintenance loop into the primary: renewals go through the store
 * lock (obtain.ts, the one obtain flow), a new certificate is handed to `serve` (which swaps it
 * into every worker and waits for their acknowledgements), another process's
 * renewal is picked up from the store, and every attempt shows in metrics,
 * in the persisted renewal state, and in the logs.
 *
 * Metrics added beside ucgate_certificate_renewals_total{result}:
 *   ucgate_certificate_renewal_failures_total{reason}
 *   ucgate_certificate_renewal_consecutive_failures{key_type}
 *   ucgate_certificate_renewal_due_timestamp_seconds{key_type}
 *   ucgate_certificate_unmanaged{name,key_type}: 1 while nothing renews the
 *     served certificate (an imported one), else 0
 *
 * Served certificates are compared with the configured issuer at start and
 * at every change (SIGHUP, a CLI import, a renewal): an imported certificate
 * nothing renews is logged (certificate_unmanaged), and its expiry warnings
 * at 30, 14, 7 and 1 days left are logged once per mark.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { UcgateConfig, KeyType } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { CertificateManager } from '../certificates/certificate-manager.js';
import { requiredNames } from '../certificates/required-names.js';
import { loadActiveCertificate, type StoredCertificate, type ActivationGate } from '../certificates/certificate-store.js';
import { hasRenewalInfo } from '../acme/renewal-info.js';
import type { AckReport } from './worker-acks.js';
import { RenewalMaintenance } from './maintenance.js';
import { obtainCertificate } from './obtain.js';
import { isPlaceholder } from './placeholder.js';
import { saveRenewalState } from './renewal-history.js';
import { isUnmanaged, keepReason, sourceMismatch } from '../certificates/certificate-source.js';
import { renewalDue, renewedOnSchedule, unfitReason, type PolicyContext } from '../certificates/renewal-policy.js';

export interface RenewalServiceOptions {
  readonly config: UcgateConfig;
  readonly storage: Storage & Locker;
  readonly manager: CertificateManager;
  readonly clock: Clock;
  readonly log: Logger;
  /** The primary's registry, and its ucgate_certificate_renewals_total. */
  readonly registry: Registry;
  readonly renewals: Counter<'result'>;
  /** Swaps `cert` in for its key type and resolves once every worker serves it. */
  readonly serve: (cert: StoredCertificate) => Promise<AckReport>;
  /** CUCM trust publishing, when configured. */
  readonly gate?: ActivationGate;
  readonly random?: () => number;
}

/** Builds the loop (not started) for the primary's certificates. */
export function createRenewalService(options: RenewalServiceOptions): RenewalMaintenance {
  const { config, storage, manager, clock, log } = options;
  const issuer = manager.issuer;
  const acme = config.certificates.issuer.acme;
  const failures = new Counter({
    name: 'ucgate_certificate_renewal_failures_total',
    help: 'Failed certificate renewal attempts by reason (rate-limited, rejected, ca-unreachable, challenge-failed, other)',
    labelNames: ['reason'] as const,
    registers: [options.registry],
  });
  for (const reason of ['rate-limited', 'rejected', 'ca-unreachable', 'challenge-failed', 'other']) failures.inc({ reason }, 0);
  const consecutive = new Gauge({
    name: 'ucgate_certificate_renewal_consecutive_failures',
    help: 'Renewal attempts failed in a row, per key type (0 after a success)',
    labelNames: ['key_type'] as const,
    registers: [options.registry],
  });
  // 0 from the start for each configured key type (the loop's status then sets the real count).
  for (const keyType of config.certificates.keyTypes) consecutive.set({ key_type: keyType }, 0);
  const dueGauge = new Gauge({
    name: 'ucgate_certificate_renewal_due_timestamp_seconds',
    help: 'When the served certificate is due for renewal (Unix time), per key type',
    labelNames: ['key_type'] as const,
    registers: [options.registry],
  });
  const unmanaged = new Gauge({
    name: 'ucgate_certificate_unmanaged',
    help: 'Whether nothing renews the served certificate (1: imported, import again before it expires), per key type',
    labelNames: ['name', 'key_type'] as const,
    registers: [options.registry],
  });
  const served = (keyType: KeyType) => manager.served.find((cert) => cert.keyType === keyType);
  const names = requiredNames(config);
  const policy = (): PolicyContext => ({ issuerType: issuer.type, renewBeforeDays: config.certificates.renewBeforeDays, names, now: clock.now() });
  const warned = new Map<KeyType, string>();
  const compare = (certs: readonly StoredCertificate[]) => {
    for (const cert of certs) {
      const placeholder = isPlaceholder(cert);
      unmanaged.set({ name: `gateway-${cert.keyType}`, key_type: cert.keyType }, !placeholder && isUnmanaged(cert, issuer.type) ? 1 : 0);
      const mismatch = placeholder ? undefined : sourceMismatch(cert, issuer.type);
      if (mismatch) log.warn({ event: 'certificate_unmanaged', keyType: cert.keyType, source: cert.source, issuer: issuer.type, serial: cert.info.serialNumber, notAfter: cert.info.notAfter }, mismatch);
    }
    warnExpiry();
  };
  // Each mark (30, 14, 7, 1 days, expired) once per certificate, at the level it deserves.
  const warnExpiry = () => {
    for (const warning of manager.expiryWarnings()) {
      const key = `${warning.serial}:${warning.threshold}`;
      if (warned.get(warning.keyType) === key) continue;
      warned.set(warning.keyType, key);
      const fields = { event: 'certificate_expiring', keyType: warning.keyType, serial: warning.serial, source: warning.source, notAfter: warning.notAfter, daysLeft: warning.daysLeft, unmanaged: isUnmanaged(warning, issuer.type) };
      if (warning.threshold <= 7) log.error(fields, warning.message);
      else log.warn(fields, warning.message);
    }
  };
  compare(manager.served);
  manager.on('change', compare);

  return new RenewalMaintenance({
    keyTypes: config.certificates.keyTypes,
    clock,
    log,
    ...(options.random && { random: options.random }),
    ...(acme?.checkIntervalMs !== undefined && { checkIntervalMs: acme.checkIntervalMs }),
    ...(acme?.retryBackoffMs !== undefined && { retryBackoffMs: acme.retryBackoffMs }),
    renewBeforeDays: config.certificates.renewBeforeDays,
    served,
    // The one rule (certificates/renewal-policy.ts); the loop adds the CA's window and its own memory.
    replaceNow: (_keyType, cert) => {
      const due = renewalDue(cert, policy(), { placeholder: cert !== undefined && isPlaceholder(cert) });
      return due.by === 'now' ? due.reason : undefined;
    },
    renewable: (cert) => renewedOnSchedule(cert, issuer.type),
    keep: (_keyType, cert, replaceSource) => (cert && !isPlaceholder(cert) ? keepReason(cert, issuer.type, replaceSource) : undefined),
    ...(hasRenewalInfo(issuer) && {
      renewalInfo: (cert: StoredCertificate) => (cert.source === 'acme' ? issuer.renewalInfo(cert.certPem) : Promise.resolve(undefined)),
    }),
    renew: async (keyType, trigger, force, replaceSource) => {
      const current = served(keyType);
      const result = await obtainCertificate({
        config,
        storage,
        issuer,
        clock,
        keyType,
        current: current && !isPlaceholder(current) ? current : undefined,
        trigger,
        force,
        ...(replaceSource !== undefined && { replaceSource }),
        ...(options.gate && { gate: options.gate }),
      });
      const report = await options.serve(result.certificate);
      if (report.timedOut) log.warn({ event: 'certificate_swap_unacknowledged', keyType, ...report }, 'not every worker acknowledged the new certificate');
      return { outcome: result.outcome, certificate: result.certificate, servedInMs: report.ms, workers: report.acked };
    },
    sync: async () => {
      const swapped: { keyType: KeyType; serial: string; source: string; servedInMs: number; workers: number }[] = [];
      for (const keyType of config.certificates.keyTypes) {
        const stored = await loadActiveCertificate(storage, keyType);
        const current = served(keyType);
        if (!stored || stored.info.serialNumber === current?.info.serialNumber || unfitReason(stored, names, clock.now())) continue;
        log.info({ event: 'certificate_reloaded', keyType, serial: stored.info.serialNumber, previousSerial: current?.info.serialNumber }, 'serving the certificate now active in the store');
        const report = await options.serve(stored);
        swapped.push({ keyType, serial: stored.info.serialNumber, source: stored.source, servedInMs: report.ms, workers: report.acked });
      }
      return swapped;
    },
    onAttempt: (outcome) => {
      if (outcome.outcome === 'renewed') options.renewals.inc({ result: 'success' });
      if (!outcome.ok) {
        options.renewals.inc({ result: 'failure' });
        failures.inc({ reason: outcome.reason ?? 'other' });
      }
    },
    onStatus: (status) => {
      warnExpiry();
      for (const key of status) {
        consecutive.set({ key_type: key.keyType }, key.consecutiveFailures);
        if (key.dueAt) dueGauge.set({ key_type: key.keyType }, Math.floor(Date.parse(key.dueAt) / 1000));
      }
      saveRenewalState(storage, { updatedAt: new Date(clock.now()).toISOString(), keyTypes: status }).catch((err: Error) =>
        log.warn({ event: 'renewal_state_save_failed', err: err.message }, 'could not save the renewal state'),
      );
    },
  });
}
