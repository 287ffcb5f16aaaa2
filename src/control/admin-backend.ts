/**
 * What the admin API reads from and asks of the control plane: readiness,
 * metrics, status (with the upstream certificates the health checks saw and
 * the renewal loop's view), renewals on demand, reload, the audit log and the
 * renewal history.
 */
import type { AdminBackend } from '../admin/admin-server.js';
import type { Storage } from '../store/storage.js';
import type { RenewalMaintenance } from '../lifecycle/maintenance.js';
import type { Primary } from './primary.js';
import { buildStatus, UpstreamCertificateInventory } from './status.js';
import { FileStorage } from '../store/file-storage.js';
import { readAudit } from '../certificates/audit-log.js';
import { readRenewalHistory } from '../lifecycle/renewal-history.js';
import { isUcgateError } from '../errors.js';

export function createAdminBackend(primary: Primary, storage: Storage | undefined, renewals: () => RenewalMaintenance | undefined): AdminBackend {
  // What the health checks saw each node present, for the status and the dashboard.
  const upstream = new UpstreamCertificateInventory().watch(primary.health);
  // Read-only handle on the audit log: never open()ed, because open() sweeps temp files the manager may be writing.
  // A shared store is read through the primary's own handle (its reads never sweep anything).
  const store = primary.config.certificates.store.type === 'file' ? new FileStorage(primary.config.certificates.dir) : storage;
  const audit = async (limit: number) => (store ? readAudit(store, limit) : []);
  return {
    readiness: () => primary.readiness(),
    metrics: () => primary.collectMetrics(),
    // `renewal`: the maintenance loop's view per key type (due time, backoff, last error by class, ARI window).
    // `cucmTrust`: per leaf and per CUCM server, listed, confirmed by hand or awaiting confirmation (src/cucm-trust).
    status: async () =>
      Object.assign(buildStatus(primary, { upstreamCertificates: upstream.list() }), {
        renewal: renewals()?.status() ?? [],
        ...(primary.trustPublisher && { cucmTrust: await primary.trustPublisher.status() }),
      }),
    // An explicit request from an administrator: renew every key type now, and answer once the workers serve it.
    renew: async () => {
      const results = (await renewals()?.renewNow({ force: true, trigger: 'manual' })) ?? [];
      return { ok: results.every((result) => result.ok), results };
    },
    audit,
    reload: () => primary.reload(),
    ...(primary.trustPublisher && {
      cucmTrust: async () => {
        const publisher = primary.trustPublisher!;
        const pending = (await publisher.pending()).map(({ leafPem: _pem, ...leaf }) => leaf);
        return { ...(await publisher.status()), pending };
      },
      confirmTrust: async (request) => {
        try {
          return { ok: true, confirmed: await primary.trustPublisher!.confirm({ ...request, actor: 'api' }) };
        } catch (err) {
          // Nothing to confirm, or an ambiguous request: the caller's to fix, not a server failure.
          if (isUcgateError(err) && err.exitCode === 2) return { ok: false, message: err.message };
          throw err;
        }
      },
    }),
    // Every issuance attempt, failures included (src/lifecycle/renewal-history.ts).
    renewals: async (limit) =>
      (store ? await readRenewalHistory(store, limit) : []).map((record) => ({
        time: record.time,
        result: record.result,
        keyType: record.keyType,
        action: record.result === 'success' ? (record.previousSerial ? 'renewed' : 'issued') : 'failed',
        actor: record.trigger,
        ...(record.serial && { serial: record.serial }),
        ...(record.notAfter && { notAfter: record.notAfter }),
        ...(record.error && { error: `${record.reason ?? 'other'}: ${record.error}` }),
      })),
  };
}
