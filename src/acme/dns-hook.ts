/**
 * dns-01 (RFC 8555 §8.4) through an administrator's command, since every
 * site publishes DNS differently (nsupdate/RFC 2136, a provider's API, an
 * IPAM). The command from `certificates.issuer.acme.dnsHook` runs as
 *
 *   <dnsHook> present <record name> <value>     before the CA is asked to validate
 *   <dnsHook> cleanup <record name> <value>     afterwards, whatever the outcome
 *
 * through /bin/sh (so the setting may carry arguments of its own), with the
 * three values passed as positional parameters — never pasted into the
 * command line — and also as UCGATE_ACME_ACTION, UCGATE_ACME_RECORD,
 * UCGATE_ACME_VALUE and UCGATE_ACME_IDENTIFIER. The record name has no
 * trailing dot. Exit status 0 means success; the gateway then waits until
 * the record is served (dns-propagation.ts) before asking the CA.
 *
 * UCGATE_ACME_TARGET is where the record must really go: the end of the
 * CNAME chain when `_acme-challenge.<name>` is delegated to a validation zone
 * (the acme-dns pattern, dns-cname.ts), else the record name itself. The
 * positional record name stays `_acme-challenge.<name>` either way, so a hook
 * written before delegation behaves as it did.
 */
import { execFile } from 'node:child_process';
import { AcmeError } from './acme-errors.js';

/** A hook that has not finished by then is killed and the challenge fails. */
export const DNS_HOOK_TIMEOUT_MS = 120_000;

export type DnsHookAction = 'present' | 'cleanup';

export interface DnsHookOptions {
  readonly command: string;
  /** Working directory: the config file's folder, so relative commands work as in the config. */
  readonly cwd: string;
  readonly timeoutMs?: number;
}

/** `_acme-challenge.<name>`, for a DNS identifier (a wildcard's `*.` dropped). */
export function dnsRecordName(identifier: string): string {
  return `_acme-challenge.${identifier.replace(/^\*\./, '').replace(/\.$/, '')}`;
}

/** Runs the hook; rejects with a challenge-failed AcmeError naming the exit status and the end of stderr. */
export function runDnsHook(options: DnsHookOptions, action: DnsHookAction, identifier: string, value: string, target?: string): Promise<void> {
  const record = dnsRecordName(identifier);
  return new Promise((resolve, reject) => {
    execFile(
      '/bin/sh',
      ['-c', `${options.command} "$@"`, 'ucgate-dns-hook', action, record, value],
      {
        cwd: options.cwd,
        timeout: options.timeoutMs ?? DNS_HOOK_TIMEOUT_MS,
        env: { ...process.env, UCGATE_ACME_ACTION: action, UCGATE_ACME_RECORD: record, UCGATE_ACME_VALUE: value, UCGATE_ACME_IDENTIFIER: identifier, UCGATE_ACME_TARGET: target ?? record },
        maxBuffer: 1024 * 1024,
      },
      (err, _stdout, stderr) => {
        if (!err) return resolve();
        const how = err.killed ? `was killed after ${options.timeoutMs ?? DNS_HOOK_TIMEOUT_MS} ms` : `exited with ${err.code ?? err.signal}`;
        // The end of what it said, minus blank lines and node's version footer.
        const lines = String(stderr).split('\n').map((line) => line.trim()).filter((line) => line && !/^Node\.js v\d/.test(line));
        const tail = lines.slice(-4).join(' | ').slice(-500);
        reject(new AcmeError('challenge-failed', `dns hook \`${action} ${record}\` ${how}${tail ? `: ${tail}` : ''}`, { cause: err }));
      },
    );
  });
}
