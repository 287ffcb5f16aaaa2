/**
 * `ucgate cert confirm-trust [--serial S | --all] [--cluster C] [--node N]`
 * and `ucgate cert confirm-trust --list [--out FILE] [--json]`.
 *
 * On a CUCM server without the certificate API (CUCM 12.5 and older: it
 * answers 404), ucgate cannot put its new leaf into Phone-trust and
 * tomcat-trust itself: the activation gate waits, serving the current leaf,
 * until an administrator has uploaded the new one (OS Administration >
 * Security > Certificate Management > Upload Certificate) and says so here.
 * `--list` shows what waits where, and `--out` writes the PEM to upload.
 *
 * The confirmation goes through a running gateway's admin API when
 * `listen.admin` is configured and a gateway answers there (its listener
 * certificate pinned against the store, as `cert renew` does): the gateway
 * records it and its waiting activation goes on at once. Otherwise it is
 * written to the store, where any waiting process (a gateway, a `cert
 * import`) finds it within seconds.
 */
import { writeFile } from 'node:fs/promises';
import type { Storage } from '../store/storage.js';
import { loadCliConfig } from './config-path.js';
import { printProblems } from './output.js';
import { callAdmin } from './admin-client.js';
import { openStorage } from '../store/create-storage.js';
import { systemClock } from '../clock.js';
import { createLogger } from '../log.js';
import { UcgateError, ErrorCodes } from '../errors.js';
import { TrustPublisher, type ConfirmedLeaf, type PendingLeaf } from '../cucm-trust/trust-publisher.js';
import { normaliseSerial } from '../cucm-trust/certmgr-client.js';

export interface CertConfirmTrustOptions {
  readonly config?: string;
  readonly serial?: string;
  readonly all?: boolean;
  readonly cluster?: string;
  readonly node?: string;
  readonly list?: boolean;
  readonly out?: string;
  readonly json?: boolean;
}

function describePending(leaf: PendingLeaf): string {
  const nodes = leaf.awaiting.map((a) => `${a.cluster}/${a.node} (${new URL(a.url).host}, since ${a.since})`).join(', ');
  return `${leaf.keyType} serial ${leaf.serial}, ${leaf.subject}\n  fingerprint ${leaf.fingerprint}\n  upload to ${leaf.stores.join(' and ')} on: ${nodes}\n`;
}

function describeConfirmed(leaf: ConfirmedLeaf, via: string): string {
  const rest = leaf.stillAwaiting.length > 0 ? `; still waiting: ${leaf.stillAwaiting.join(', ')}` : '; every server holds it: it is served once the switch delay has passed';
  return `confirmed ${leaf.keyType} serial ${leaf.serial} on ${leaf.confirmed.join(', ')} (${via})${rest}`;
}

async function closeStorage(storage: Storage): Promise<void> {
  const closable = storage as Storage & { close?: () => Promise<void> };
  if (typeof closable.close === 'function') await closable.close().catch(() => undefined);
}

export async function certConfirmTrustCommand(options: CertConfirmTrustOptions): Promise<number> {
  try {
    if (options.all && options.serial) throw new UcgateError(ErrorCodes.USAGE, 'confirm-trust takes --serial or --all, not both', { exitCode: 2 });
    if (options.out && !options.list) throw new UcgateError(ErrorCodes.USAGE, '--out goes with --list (it writes the PEM to upload)', { exitCode: 2 });
    if (options.serial !== undefined && !/^[0-9A-Fa-f:]{1,128}$/.test(options.serial)) throw new UcgateError(ErrorCodes.USAGE, `--serial ${options.serial}: must be the hex serial number`, { exitCode: 2 });
    const config = await loadCliConfig(options.config);
    if (!config.certificates.cucmTrust) {
      throw new UcgateError(ErrorCodes.USAGE, 'certificates.cucmTrust is not configured: ucgate does not publish its leaf to CUCM, so there is nothing to confirm', { exitCode: 2 });
    }
    const storage = await openStorage(config);
    try {
      const publisher = new TrustPublisher({ config, storage, clock: systemClock, log: createLogger({ level: 'silent' }), actor: 'cli' });

      if (options.list) {
        let pending = await publisher.pending();
        if (options.serial !== undefined) pending = pending.filter((leaf) => normaliseSerial(leaf.serial) === normaliseSerial(options.serial!));
        if (options.out) {
          if (pending.length === 0) throw new UcgateError(ErrorCodes.USAGE, 'no leaf waits for confirmation: nothing to write', { exitCode: 2 });
          await writeFile(options.out, pending.map((leaf) => leaf.leafPem.trimEnd() + '\n').join(''), { mode: 0o644 });
        }
        if (options.json) process.stdout.write(JSON.stringify({ pending: pending.map(({ leafPem: _pem, ...leaf }) => leaf) }, null, 2) + '\n');
        else if (pending.length === 0) process.stdout.write('no leaf waits for confirmation\n');
        else {
          process.stdout.write(pending.map(describePending).join(''));
          if (options.out) process.stdout.write(`PEM written to ${options.out}: upload it in OS Administration > Security > Certificate Management on each server listed, then run \`ucgate cert confirm-trust\`\n`);
        }
        return 0;
      }

      const request = {
        ...(options.serial !== undefined && { serial: options.serial }),
        ...(options.all && { all: true }),
        ...(options.cluster !== undefined && { cluster: options.cluster }),
        ...(options.node !== undefined && { node: options.node }),
      };
      const answer = await callAdmin(config, storage, { method: 'POST', path: '/api/v1/cucm-trust/confirm', body: request, timeoutMs: 60_000 });
      let confirmed: readonly ConfirmedLeaf[];
      let via: string;
      if (answer && answer.status === 200) {
        confirmed = ((answer.body as { confirmed?: ConfirmedLeaf[] }).confirmed ?? []);
        via = 'through the running gateway';
      } else if (answer && answer.status === 409) {
        throw new UcgateError(ErrorCodes.USAGE, (answer.body as { message?: string })?.message ?? 'nothing to confirm', { exitCode: 2 });
      } else {
        // No gateway there (or one without this API): the store is where every waiting process looks.
        confirmed = await publisher.confirm({ ...request, actor: 'cli' });
        via = 'in the certificate store';
      }
      if (options.json) process.stdout.write(JSON.stringify({ via: via.startsWith('through') ? 'gateway' : 'store', confirmed }, null, 2) + '\n');
      else for (const leaf of confirmed) process.stdout.write(describeConfirmed(leaf, via) + '\n');
      return 0;
    } finally {
      await closeStorage(storage);
    }
  } catch (err) {
    return printProblems(err);
  }
}
