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
import { rollbackCertificate } from '../certificates/rollback.js';
import type { Locker } from '../store/storage.js';
import type { KeyType } from '../config/types.js';
import { NodeActivity, NodeTransitions } from './node-activity.js';

export function createAdminBackend(primary: Primary, storage: Storage | undefined, renewals: () => RenewalMaintenance | undefined): AdminBackend {
  // What the health checks saw each node present, for the status and the dashboard.
  const upstream = new UpstreamCertificateInventory().watch(primary.health);
  // Read-only handle on the audit log: never open()ed, because open() sweeps temp files the manager may be writing.
  // A shared store is read through the primary's own handle (its reads never sweep anything).
  const store = primary.config.certificates.store.type === 'file' ? new FileStorage(primary.config.certificates.dir) : storage;
  const audit = async (limit: number) => (store ? readAudit(store, limit) : []);
  // Per node: rates and in flight from the gateway's own metrics, sampled per status; the last state changes.
  const activity = new NodeActivity();
  const transitions = new NodeTransitions().watch(primary.health, () => primary.clock.now());
  const sampleActivity = async () => activity.observe((await primary.collectMetrics().catch(() => ({ body: '' }))).body, primary.clock.now());
  return {
    readiness: () => primary.readiness(),
    metrics: () => primary.collectMetrics(),
    // `renewal`: the maintenance loop's view per key type (due time, backoff, last error by class, ARI window).
    // `cucmTrust`: per leaf and per CUCM server, listed, confirmed by hand or awaiting confirmation (src/cucm-trust).
    status: async () =>
      Object.assign(buildStatus(primary, { upstreamCertificates: upstream.list(), activity: await sampleActivity(), transitions: transitions.list() }), {
        renewal: renewals()?.status() ?? [],
        ...(primary.trustPublisher && { cucmTrust: await primary.trustPublisher.status() }),
      }),
    // An explicit request from an administrator: renew every key type now, and answer once the workers serve it.
    // An imported certificate is kept unless `replaceSource` names the configured issuer (src/certificates/certificate-source.ts).
    renew: async (request = {}) => {
      const issuerType = primary.config.certificates.issuer.type;
      if (request.replaceSource !== undefined && request.replaceSource !== issuerType) {
        return {
          ok: false,
          status: 409,
          error: 'issuer_mismatch',
          message: `replaceSource ${request.replaceSource} is not the configured issuer (certificates.issuer.type: ${issuerType}); nothing changed`,
        };
      }
      const results = (await renewals()?.renewNow({ force: true, trigger: 'manual', ...(request.replaceSource !== undefined && { replaceSource: request.replaceSource }) })) ?? [];
      return { ok: results.every((result) => result.ok), results };
    },
    // A CLI import or rollback beside this gateway: serve the store's active certificates now, once every worker has them.
    reloadCertificates: async () => {
      const loop = renewals();
      if (!loop) {
        await primary.reloadCertificates();
        return { ok: true, served: primary.certificates.served.map((cert) => ({ keyType: cert.keyType, serial: cert.info.serialNumber, source: cert.source })) };
      }
      const swapped = await loop.syncNow();
      return { ok: true, swapped, served: primary.certificates.served.map((cert) => ({ keyType: cert.keyType, serial: cert.info.serialNumber, source: cert.source })) };
    },
    audit,
    reload: () => primary.reload(),
    // Node maintenance: only nodes the gateway knows now (configured, or found through SRV).
    drainNode: async (request) => {
      const known = primary.health.status().some((node) => node.cluster === request.cluster && node.name === request.node);
      if (!known || !primary.drains) return undefined;
      return primary.drains.set(request);
    },
    // `cert rollback` through the gateway: swap the store's pointers, then serve what it holds now.
    ...(storage && {
      rollback: async (request) => {
        try {
          const result = await rollbackCertificate({
            storage: storage as Storage & Locker,
            keyTypes: primary.config.certificates.keyTypes,
            ...(request.keyType !== undefined && { keyType: request.keyType as KeyType }),
            actor: request.actor,
            ...(primary.trustPublisher && { gate: primary.trustPublisher }),
          });
          await primary.reloadCertificates();
          return { ok: true, keyType: result.keyType, serial: result.restored.info.serialNumber };
        } catch (err) {
          if (isUcgateError(err) && err.exitCode === 2) return { ok: false, message: err.message };
          throw err;
        }
      },
    }),
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
