/**
 * `ucgate cert status [--json]`: every certificate the gateway holds, with days left.
 *
 * Beside a running gateway that answers on listen.admin (admin-client.ts, its
 * certificate pinned against the store), the certificates are what it serves
 * and watches, from `GET /api/v1/status`: its own, and each upstream CUCM
 * node's as its health checks saw it. Alone, what the store holds. Either
 * way each own certificate says what renews it (an imported one: nothing).
 */
import { loadCliConfig } from './config-path.js';
import { printProblems } from './output.js';
import { openStorage } from '../store/create-storage.js';
import { createIssuer } from '../issuers/create-issuer.js';
import { loadActiveCertificate } from '../certificates/certificate-store.js';
import { describeCertificate, daysLeft, type CertificateInfo } from '../pki/certificate-info.js';
import { loadRenewalState, readRenewalHistory, formatRenewals } from '../lifecycle/renewal-history.js';
import { loadLedger, type PublishedLeaf } from '../cucm-trust/trust-ledger.js';
import { callAdmin } from './admin-client.js';
import { isUnmanaged, renewedBy } from '../certificates/certificate-source.js';
import { alarmLevel, windowBeforeEndMs } from '../certificates/renewal-policy.js';
import type { GatewayStatus } from '../admin/status-types.js';

export interface CertificateStatusEntry extends CertificateInfo {
  readonly name: string;
  readonly source: string;
  readonly daysLeft: number;
  /** Own certificates: nothing renews it (imported). */
  readonly unmanaged?: boolean;
  readonly renewedBy?: string;
  /** Upstream node certificates (from a running gateway): whose it is. */
  readonly cluster?: string;
  readonly node?: string;
}

export async function certStatusCommand(options: { config?: string; json?: boolean }): Promise<number> {
  try {
    const config = await loadCliConfig(options.config);
    const storage = await openStorage(config);
    const entries: CertificateStatusEntry[] = [];
    const missing: string[] = [];
    const now = Date.now();
    const issuerType = config.certificates.issuer.type;
    // A running gateway's view first: what it serves and what its health checks see upstream.
    const answer = await callAdmin(config, storage, { method: 'GET', path: '/api/v1/status', timeoutMs: 10_000 }).catch(() => undefined);
    const gateway = answer?.status === 200 ? (answer.body as GatewayStatus | undefined) : undefined;
    const via = gateway?.certificates ? 'gateway' : 'store';
    if (gateway?.certificates) {
      for (const cert of gateway.certificates) entries.push({ ...cert } as CertificateStatusEntry);
      for (const keyType of config.certificates.keyTypes) if (!gateway.certificates.some((cert) => cert.name === `gateway-${keyType}`)) missing.push(keyType);
    } else {
      for (const keyType of config.certificates.keyTypes) {
        const cert = await loadActiveCertificate(storage, keyType);
        if (!cert) missing.push(keyType);
        else entries.push({ name: `gateway-${keyType}`, source: cert.source, daysLeft: daysLeft(cert.info, now), unmanaged: isUnmanaged(cert, issuerType), renewedBy: renewedBy(cert, issuerType), ...cert.info });
      }
    }
    const anchor = await (await createIssuer(config, storage)).trustAnchorPem();
    if (anchor) {
      const info = describeCertificate(anchor);
      entries.push({ name: 'local-ca', source: 'self-signed', daysLeft: daysLeft(info, now), ...info });
    }
    // Renewal: the running gateway's last view (next attempt, failures, last error) and every attempt made.
    const [renewal, renewals] = await Promise.all([loadRenewalState(storage), readRenewalHistory(storage, 20)]);
    // The leaves in CUCM's trust stores (certificates.cucmTrust), without the PEMs.
    const cucmTrust = config.certificates.cucmTrust ? (await loadLedger(storage)).map(({ leafPem: _pem, ...leaf }) => leaf) : undefined;
    if (options.json) {
      process.stdout.write(JSON.stringify({ via, certificates: entries, missing, renewal: gateway?.renewal ?? renewal, renewals, ...(cucmTrust && { cucmTrust }) }, null, 2) + '\n');
      return 0;
    }
    process.stdout.write(
      via === 'gateway'
        ? `as served and watched by the running gateway (listen.admin port ${config.listen.admin?.port})\n`
        : 'from the store (no running gateway answered on listen.admin)\n',
    );
    for (const entry of entries) {
      process.stdout.write(
        `${entry.name}\n  subject   ${entry.subject}\n  SANs      ${entry.subjectAltNames.join(', ') || '-'}\n` +
          `  issuer    ${entry.issuer}\n  key       ${entry.keyType}\n  valid     ${entry.notBefore} → ${entry.notAfter} (${entry.daysLeft} days left)\n` +
          `  source    ${entry.source}\n  serial    ${entry.serialNumber}\n  sha256    ${entry.fingerprintSha256}\n` +
          (entry.renewedBy ? `  renewed   ${entry.unmanaged && alarmLevel(entry.daysLeft, windowBeforeEndMs(entry, true, config.certificates.renewBeforeDays), true) !== 'ok' ? 'WARNING: ' : ''}by ${entry.renewedBy}\n` : ''),
      );
    }
    for (const keyType of missing) process.stdout.write(`gateway-${keyType}\n  none stored yet (issued on first start)\n`);
    process.stdout.write(formatRenewals(renewal, renewals));
    if (cucmTrust) process.stdout.write(formatPublished(cucmTrust));
    return 0;
  } catch (err) {
    return printProblems(err);
  }
}

const when = (ms: number | undefined) => (ms === undefined ? '-' : new Date(ms).toISOString());

function formatPublished(leaves: readonly Omit<PublishedLeaf, 'leafPem'>[]): string {
  if (leaves.length === 0) return 'CUCM trust stores\n  nothing published yet\n';
  const lines = leaves.map((leaf) => {
    const state =
      leaf.removedAt !== undefined
        ? `removed ${when(leaf.removedAt)}`
        : leaf.removeAt !== undefined
          ? `replaced, removal due ${when(leaf.removeAt)}`
          : 'current';
    const where = leaf.targets.map((t) => `${t.cluster} ${t.stores.join('+')} since ${when(t.publishedAt)}`).join('; ');
    return `  ${leaf.keyType} serial ${leaf.serial}: ${state}\n    ${where}\n`;
  });
  return 'CUCM trust stores\n' + lines.join('');
}
