/**
 * `ucgate cert renew [--force] [--json]`: renew with the configured issuer.
 * Without --force only what is due (or failing) is renewed; --force renews
 * every key type now.
 *
 * When `listen.admin` is configured and a gateway answers there, the CLI asks
 * it (POST /api/v1/certificates/renew): the running gateway orders, its own
 * listeners answer the challenges, and the answer comes once every worker
 * serves the new certificate. The token only goes to a listener whose
 * certificate is one of ours (pinned against the store). Otherwise the CLI
 * renews itself against the store, under the store lock: it binds the
 * challenge listeners if they are free, else the running gateway answers the
 * challenges from the store, and picks the new certificate up at its next
 * check (certificates.issuer.acme.checkIntervalMs) or at once on SIGHUP.
 *
 * Each step is printed on stderr as it happens, with the time since the
 * command started (account, order, challenge published, CA validating,
 * finalizing, issued, published to CUCM trust per node, the switch delay,
 * activated); `--json` prints only the final JSON on stdout. Through a
 * running gateway the steps happen in the gateway (its log shows them): the
 * CLI prints that it asked, and the outcome.
 *
 * An imported certificate is never replaced by another issuer's unless the
 * operator asks exactly: `--force --issuer <the configured issuer>`
 * (src/certificates/certificate-source.ts). Otherwise the outcome is `kept`.
 */
import type { UcgateConfig, KeyType } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import { loadCliConfig } from './config-path.js';
import { printProblems } from './output.js';
import { callAdmin } from './admin-client.js';
import { openStorage } from '../store/create-storage.js';
import { createIssuer } from '../issuers/create-issuer.js';
import { loadActiveCertificate } from '../certificates/certificate-store.js';
import { requiredNames } from '../certificates/required-names.js';
import { systemClock } from '../clock.js';
import { UcgateError, ErrorCodes, isUcgateError } from '../errors.js';
import { AcmeError } from '../acme/acme-errors.js';
import { ChallengeTable } from '../challenges/challenge-table.js';
import { storeChallenge, deleteChallenge } from '../challenges/challenge-store.js';
import { startStandaloneResponders } from '../challenges/standalone-responder.js';
import { hasRenewalInfo } from '../acme/renewal-info.js';
import { obtainCertificate } from '../lifecycle/obtain.js';
import { cliTrustGate } from './trust-gate.js';
import { keepReason, isReplaceSource } from '../certificates/certificate-source.js';
import { renewalDue, renewedOnSchedule, timeInWindow, unfitReason, type AriWindow } from '../certificates/renewal-policy.js';
import type { AttemptOutcome } from '../lifecycle/maintenance.js';
import type { Issuer } from '../issuers/issuer.js';

export interface CertRenewOptions {
  readonly config?: string;
  readonly force?: boolean;
  readonly json?: boolean;
  /** With --force: replace an imported certificate with this issuer's (must be the configured one). */
  readonly issuer?: string;
}

/** `ucgate: [+1.2s] <line>` on stderr: one step of the work, as it happens. */
export function progressPrinter(started = Date.now()): (line: string) => void {
  return (line) => process.stderr.write(`ucgate: [+${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
}

/** What a running gateway answers with 200 (admin-client.ts); undefined when none answers, or it answers otherwise. */
async function adminCall(config: UcgateConfig, storage: Storage, method: 'GET' | 'POST', path: string): Promise<unknown> {
  // No idle timeout: the gateway answers a renewal once every worker serves the new certificate.
  const answer = await callAdmin(config, storage, { method, path });
  return answer?.status === 200 ? answer.body : undefined;
}

/**
 * Whether the stored certificate of `keyType` should be renewed now (without
 * --force): the loop's rule (renewal-policy.ts), the CA's ARI window included,
 * with a time picked at random in it as the loop does (RFC 9773 §4.2).
 */
async function dueNow(config: UcgateConfig, storage: Storage, issuer: Issuer, keyType: KeyType): Promise<{ due: boolean; at?: number }> {
  const cert = await loadActiveCertificate(storage, keyType);
  const now = Date.now();
  const context = { issuerType: issuer.type, renewBeforeDays: config.certificates.renewBeforeDays, names: requiredNames(config), now };
  let ari: AriWindow | undefined;
  if (cert && renewedOnSchedule(cert, issuer.type) && !unfitReason(cert, context.names, now) && hasRenewalInfo(issuer)) {
    const info = await issuer.renewalInfo(cert.certPem).catch(() => undefined);
    if (info) ari = { start: info.start, end: info.end, chosen: timeInWindow(info.start, info.end, Math.random()) };
  }
  const due = renewalDue(cert, context, { ...(ari && { ari }) });
  if (due.by === 'never') return { due: false };
  return { due: now >= due.at, at: due.at };
}

/** Renews in this process, against the store. */
async function renewHere(
  config: UcgateConfig,
  storage: Storage & Locker,
  force: boolean,
  progress: (line: string) => void,
  replaceSource: string | undefined,
): Promise<AttemptOutcome[]> {
  const say = progress;
  const gate = cliTrustGate(config, storage, progress);
  const table = new ChallengeTable();
  const issuer = await createIssuer(config, storage, {
    challenges: {
      publish: async (challenge) => {
        table.apply('add', challenge);
        await storeChallenge(storage, challenge);
      },
      withdraw: async (challenge) => {
        table.apply('remove', challenge);
        await deleteChallenge(storage, challenge).catch(() => undefined);
      },
    },
  });
  const responders = await startStandaloneResponders(config, table);
  if (responders.inUse.length > 0) say(`challenge listeners in use (${responders.inUse.join(', ')}): the running gateway answers from the store`);
  const outcomes: AttemptOutcome[] = [];
  try {
    for (const keyType of config.certificates.keyTypes) {
      const started = Date.now();
      const kept = keepReason(await loadActiveCertificate(storage, keyType), issuer.type, replaceSource);
      if (kept) {
        outcomes.push({ keyType, trigger: 'cli', ok: true, outcome: 'kept', durationMs: 0, detail: kept });
        continue;
      }
      if (!force) {
        const due = await dueNow(config, storage, issuer, keyType);
        if (!due.due) {
          outcomes.push({ keyType, trigger: 'cli', ok: true, outcome: 'not-due', durationMs: 0, ...(due.at !== undefined && { dueAt: new Date(due.at).toISOString() }) });
          continue;
        }
      }
      const current = await loadActiveCertificate(storage, keyType);
      progress(`${keyType}: ${current ? `renewing serial ${current.info.serialNumber} (${current.source})` : 'issuing the first certificate'} with the ${issuer.type} issuer`);
      try {
        const result = await obtainCertificate({
          config,
          storage,
          issuer,
          clock: systemClock,
          keyType,
          current,
          trigger: 'cli',
          force,
          progress,
          ...(replaceSource !== undefined && { replaceSource }),
          ...(gate && { gate }),
        });
        const { info } = result.certificate;
        outcomes.push({ keyType, trigger: 'cli', ok: true, outcome: result.outcome, serial: info.serialNumber, notAfter: info.notAfter, durationMs: Date.now() - started });
      } catch (err) {
        const error = isUcgateError(err) ? err : new UcgateError(ErrorCodes.ACME_FAILED, String((err as Error)?.message ?? err));
        outcomes.push({
          keyType,
          trigger: 'cli',
          ok: false,
          outcome: 'failed',
          durationMs: Date.now() - started,
          reason: error instanceof AcmeError ? error.reason : 'other',
          code: error.code,
          error: error.message,
        });
      }
    }
  } finally {
    await responders.close();
  }
  return outcomes;
}

function describe(outcome: AttemptOutcome): string {
  switch (outcome.outcome) {
    case 'renewed':
    case 'adopted':
      return `${outcome.keyType}: ${outcome.outcome}, serial ${outcome.serial}, valid until ${outcome.notAfter} (${outcome.durationMs} ms${
        outcome.servedInMs !== undefined ? `, served by ${outcome.workers} worker(s) ${outcome.servedInMs} ms later` : ''
      })`;
    case 'not-due':
      return `${outcome.keyType}: not due${outcome.dueAt ? ` until ${outcome.dueAt}` : ''} (--force renews now)`;
    case 'failed':
      return `${outcome.keyType}: FAILED (${outcome.reason}) ${outcome.code}: ${outcome.error}`;
    case 'kept':
      return `${outcome.keyType}: ${outcome.detail ?? 'kept the imported certificate'}`;
  }
}

export async function certRenewCommand(options: CertRenewOptions): Promise<number> {
  try {
    const progress = progressPrinter();
    const config = await loadCliConfig(options.config);
    const issuerType = config.certificates.issuer.type;
    if (issuerType === 'manual') {
      throw new UcgateError(ErrorCodes.USAGE, 'certificates.issuer.type is manual: bring a new certificate with `ucgate cert import`', { exitCode: 2 });
    }
    const replaceSource = options.issuer;
    if (replaceSource !== undefined) {
      if (!isReplaceSource(replaceSource)) throw new UcgateError(ErrorCodes.USAGE, `--issuer ${replaceSource}: expected self-signed or acme`, { exitCode: 2 });
      if (options.force !== true) throw new UcgateError(ErrorCodes.USAGE, '--issuer replaces an imported certificate: it needs --force', { exitCode: 2 });
      if (replaceSource !== issuerType) {
        throw new UcgateError(ErrorCodes.USAGE, `--issuer ${replaceSource} is not the configured issuer (certificates.issuer.type: ${issuerType}): configure it first`, { exitCode: 2 });
      }
    }
    const storage = await openStorage(config);
    const force = options.force === true;
    const say = (line: string) => {
      if (!options.json) process.stdout.write(line + '\n');
    };
    let via: 'gateway' | 'cli' = 'cli';
    let outcomes: AttemptOutcome[] | undefined;
    const status = (await adminCall(config, storage, 'GET', '/api/v1/status')) as { renewal?: { dueAt?: string; dueBy?: string }[] } | undefined;
    if (status) {
      const anyDue = (status.renewal ?? []).some((key) => key.dueBy !== 'never' && key.dueAt !== undefined && Date.parse(key.dueAt) <= Date.now());
      if (force || anyDue || !status.renewal) {
        // The gateway orders with its own listeners; its log shows each step. The API answers with the outcome.
        progress(`asking the running gateway (listen.admin port ${config.listen.admin!.port}) to renew; its log shows each step`);
        const answer = await callAdmin(config, storage, { method: 'POST', path: '/api/v1/certificates/renew', body: replaceSource ? { replaceSource } : {} });
        const body = answer?.body as { results?: AttemptOutcome[]; message?: string } | undefined;
        if (answer && answer.status !== 200) throw new UcgateError(ErrorCodes.USAGE, `the running gateway refused: ${body?.message ?? `HTTP ${answer.status}`}`, { exitCode: 2 });
        outcomes = body?.results;
        for (const outcome of outcomes ?? []) progress(`${outcome.keyType}: ${outcome.outcome} by the running gateway${outcome.servedInMs !== undefined ? `, served by ${outcome.workers} worker(s)` : ''}`);
      } else {
        outcomes = (status.renewal ?? []).map((key) => ({ ...(key as { keyType: KeyType }), trigger: 'cli' as const, ok: true, outcome: 'not-due' as const, durationMs: 0 }));
      }
      if (outcomes) via = 'gateway';
    }
    outcomes ??= await renewHere(config, storage, force, progress, replaceSource);
    if (options.json) process.stdout.write(JSON.stringify({ via, results: outcomes }, null, 2) + '\n');
    else {
      for (const outcome of outcomes) say(describe(outcome));
      if (via === 'cli' && outcomes.some((outcome) => outcome.outcome === 'renewed')) {
        say('a running gateway serves it at its next check, or at once on SIGHUP (systemctl reload ucgate)');
      }
    }
    return outcomes.every((outcome) => outcome.ok) ? 0 : 1;
  } catch (err) {
    return printProblems(err);
  }
}
