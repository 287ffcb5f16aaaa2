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
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import type { UcgateConfig, KeyType } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import { loadCliConfig } from './config-path.js';
import { printProblems } from './output.js';
import { openStorage } from '../store/create-storage.js';
import { createIssuer } from '../issuers/create-issuer.js';
import { loadActiveCertificate, loadVersion } from '../certificates/certificate-store.js';
import { requiredNames } from '../certificates/certificate-manager.js';
import { systemClock } from '../clock.js';
import { UcgateError, ErrorCodes, isUcgateError } from '../errors.js';
import { AcmeError } from '../acme/acme-errors.js';
import { ChallengeTable } from '../acme/challenge-table.js';
import { storeChallenge, deleteChallenge } from '../acme/challenge-store.js';
import { startStandaloneResponders } from '../acme/standalone-responder.js';
import { hasRenewalInfo } from '../acme/renewal-info.js';
import { renewCertificate } from '../lifecycle/renew.js';
import { cliTrustGate } from './trust-gate.js';
import { lifetimeRenewalTime } from '../lifecycle/renewal-timing.js';
import type { AttemptOutcome } from '../lifecycle/maintenance.js';
import type { Issuer } from '../issuers/issuer.js';

export interface CertRenewOptions {
  readonly config?: string;
  readonly force?: boolean;
  readonly json?: boolean;
}

/** Fingerprints of every certificate version in the store: what the admin listener may present. */
async function knownFingerprints(config: UcgateConfig, storage: Storage): Promise<Set<string>> {
  const prints = new Set<string>();
  for (const keyType of config.certificates.keyTypes) {
    for (const version of await storage.list(`certificates/${keyType}/versions`)) {
      const cert = await loadVersion(storage, keyType, version.split('/').pop()!).catch(() => undefined);
      if (cert) prints.add(new X509Certificate(cert.certPem).fingerprint256);
    }
  }
  return prints;
}

/** One admin API call; undefined when no gateway answers or its certificate is not one of ours. */
async function adminCall(config: UcgateConfig, storage: Storage, method: 'GET' | 'POST', path: string): Promise<unknown> {
  const admin = config.listen.admin;
  // Port 0 (a test's "any port") cannot be found from the config.
  if (!admin?.tokenFile || admin.port === 0) return undefined;
  const token = (await readFile(admin.tokenFile, 'utf8')).trim();
  const host = admin.host === '0.0.0.0' ? '127.0.0.1' : admin.host === '::' ? '::1' : admin.host;
  let socket: TLSSocket | undefined;
  if (admin.tls) {
    const prints = await knownFingerprints(config, storage);
    // Verified by pinning before a byte of the request (and its token) is written.
    socket = await new Promise<TLSSocket | undefined>((resolve) => {
      const s = tlsConnect({ host, port: admin.port, rejectUnauthorized: false, servername: config.gateway.fqdn }, () => {
        const peer = s.getPeerCertificate();
        if (peer && prints.has(peer.fingerprint256)) resolve(s);
        else {
          s.destroy();
          resolve(undefined);
        }
      });
      s.once('error', () => resolve(undefined));
    });
    if (!socket) return undefined;
  }
  return new Promise((resolve) => {
    const req = httpRequest(
      {
        host,
        port: admin.port,
        method,
        path,
        headers: { authorization: `Bearer ${token}`, ...(method === 'POST' && { 'content-type': 'application/json' }) },
        ...(socket && { createConnection: () => socket }),
        timeout: 600_000,
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          try {
            resolve(res.statusCode === 200 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined);
          } catch {
            resolve(undefined);
          }
        });
      },
    );
    req.on('error', () => resolve(undefined));
    req.end(method === 'POST' ? '{}' : undefined);
  });
}

/** Whether the stored certificate of `keyType` should be renewed now (without --force). */
async function dueNow(config: UcgateConfig, storage: Storage, issuer: Issuer, keyType: KeyType): Promise<{ due: boolean; at?: number }> {
  const cert = await loadActiveCertificate(storage, keyType);
  if (!cert || cert.source !== issuer.type) return { due: true };
  const now = Date.now();
  const sans = new Set(cert.info.subjectAltNames.map((name) => name.toLowerCase()));
  if (!requiredNames(config).every((name) => sans.has(name)) || Date.parse(cert.info.notAfter) <= now) return { due: true };
  if (hasRenewalInfo(issuer)) {
    const info = await issuer.renewalInfo(cert.certPem).catch(() => undefined);
    if (info) return { due: now >= info.start, at: info.start };
  }
  const at = lifetimeRenewalTime(Date.parse(cert.info.notBefore), Date.parse(cert.info.notAfter), config.certificates.renewBeforeDays);
  return { due: now >= at, at };
}

/** Renews in this process, against the store. */
async function renewHere(config: UcgateConfig, storage: Storage & Locker, force: boolean, say: (line: string) => void): Promise<AttemptOutcome[]> {
  const gate = cliTrustGate(config, storage);
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
      if (!force) {
        const due = await dueNow(config, storage, issuer, keyType);
        if (!due.due) {
          outcomes.push({ keyType, trigger: 'cli', ok: true, outcome: 'not-due', durationMs: 0, ...(due.at !== undefined && { dueAt: new Date(due.at).toISOString() }) });
          continue;
        }
      }
      const current = await loadActiveCertificate(storage, keyType);
      try {
        const result = await renewCertificate({ config, storage, issuer, clock: systemClock, keyType, current, trigger: 'cli', force, ...(gate && { gate }) });
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
  }
}

export async function certRenewCommand(options: CertRenewOptions): Promise<number> {
  try {
    const config = await loadCliConfig(options.config);
    if (config.certificates.issuer.type === 'manual') {
      throw new UcgateError(ErrorCodes.USAGE, 'certificates.issuer.type is manual: bring a new certificate with `ucgate cert import`', { exitCode: 2 });
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
        const answer = (await adminCall(config, storage, 'POST', '/api/v1/certificates/renew')) as { results?: AttemptOutcome[] } | undefined;
        outcomes = answer?.results;
      } else {
        outcomes = (status.renewal ?? []).map((key) => ({ ...(key as { keyType: KeyType }), trigger: 'cli' as const, ok: true, outcome: 'not-due' as const, durationMs: 0 }));
      }
      if (outcomes) via = 'gateway';
    }
    outcomes ??= await renewHere(config, storage, force, say);
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
