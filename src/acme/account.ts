/**
 * The ACME account: its key is made once per CA directory and kept in the
 * store (mode 0600), so every restart, every CLI run and every instance
 * sharing the store acts as the same account (rate limits, EAB binding and
 * the CA's records all hang on it). The account URL is not trusted across
 * runs: registering again with the same key is idempotent (RFC 8555 §7.3.1
 * answers 200 with the existing account), and it recovers by itself from a
 * CA that forgot the account.
 *
 *   acme/accounts/<host>-<hash>/account-key.pem   ECDSA P-256, secret
 *   acme/accounts/<host>-<hash>/account.json      url, directory, registered (informational)
 */
import { createHash } from 'node:crypto';
import acme from 'acme-client';
import type { Storage, Locker } from '../store/storage.js';
import { loadText } from '../store/storage.js';

/** Where a directory's account lives in the store. */
export function accountFolder(directoryUrl: string): string {
  const url = new URL(directoryUrl);
  const host = `${url.hostname}${url.port ? `_${url.port}` : ''}`.replace(/[^A-Za-z0-9._-]/g, '_');
  const hash = createHash('sha256').update(directoryUrl).digest('hex').slice(0, 12);
  return `acme/accounts/${host}-${hash}`;
}

/** The account key for `directoryUrl`, made (under the lock `acme-account`) on first use. */
export async function loadOrCreateAccountKey(storage: Storage & Locker, directoryUrl: string): Promise<string> {
  const key = `${accountFolder(directoryUrl)}/account-key.pem`;
  const existing = await loadText(storage, key);
  if (existing) return existing;
  const release = await storage.lock('acme-account');
  try {
    // Another process may have made it while we waited.
    const again = await loadText(storage, key);
    if (again) return again;
    const pem = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString('utf8');
    await storage.store(key, pem, { secret: true });
    return pem;
  } finally {
    await release();
  }
}

export interface AccountRecord {
  readonly url: string;
  readonly directoryUrl: string;
  readonly registeredAt: string;
  readonly eabKid?: string;
}

/** Notes the account URL beside its key, for `cert status` and for people; rewritten only when it changes. */
export async function recordAccount(storage: Storage, record: AccountRecord): Promise<void> {
  const key = `${accountFolder(record.directoryUrl)}/account.json`;
  const before = await loadText(storage, key);
  if (before && (JSON.parse(before) as AccountRecord).url === record.url) return;
  await storage.store(key, JSON.stringify(record, null, 2) + '\n');
}
