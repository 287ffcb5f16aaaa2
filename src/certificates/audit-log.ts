/**
 * The certificate audit log: one JSON line per change to what the gateway
 * serves (issued, imported, renewed, rolled back, published) or may serve
 * (a CSR's new key), kept in the store so every instance sharing the store
 * writes to the same log. It names certificates by serial and SHA-256
 * fingerprint only: no key, no passphrase, no PEM ever goes in.
 */
import type { KeyType } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import { canAppend, loadText } from '../store/storage.js';
import { UcgateError, ErrorCodes } from '../errors.js';

/** Where the log lives in the store. */
export const AUDIT_KEY = 'audit/audit.log';

/** `published`/`unpublished`: a leaf added to, or removed from, CUCM trust stores (certificates.cucmTrust). */
/** `node-drained`/`node-undrained`: node maintenance (src/control/node-drains.ts); `subject` names the node `cluster/node`. */
export type AuditAction = 'issued' | 'imported' | 'renewed' | 'rolled-back' | 'published' | 'unpublished' | 'csr-created' | 'node-drained' | 'node-undrained';

/** Who caused the change: a person at the CLI or the admin API, or an issuer acting on its own. */
/** `gateway`: the running gateway on its own account (a replaced leaf removed from CUCM after its grace period). */
/** `dashboard`: a person signed in to the admin dashboard. */
export type AuditActor = 'cli' | 'api' | 'acme' | 'self-signed' | 'gateway' | 'dashboard';

export interface AuditEntry {
  /** ISO 8601. */
  readonly time: string;
  readonly action: AuditAction;
  readonly actor: AuditActor;
  /** Absent on entries about a node (node-drained, node-undrained). */
  readonly keyType?: KeyType;
  /** Subject DN of the certificate (or of the CSR); `cluster/node` for a node. */
  readonly subject: string;
  /** Lowercase hex; absent for a CSR, which has none yet. */
  readonly serial?: string;
  /** SHA-256 fingerprint (colon hex, as node prints it) of what was served before. */
  readonly oldFingerprint?: string;
  readonly newFingerprint?: string;
  /** Free text that is safe to keep: a CSR's public-key hash, a publishing target. */
  readonly detail?: string;
}

// Defence in depth: whatever a caller passes, no PEM block (key or otherwise) reaches the log.
const FORBIDDEN = /PRIVATE KEY|-----BEGIN /;
const FIELDS: readonly (keyof AuditEntry)[] = ['time', 'action', 'actor', 'keyType', 'subject', 'serial', 'oldFingerprint', 'newFingerprint', 'detail'];

/** The line written for `entry`: known fields only, in a fixed order, newline-terminated. */
export function formatAuditLine(entry: AuditEntry): string {
  const picked: Record<string, string> = {};
  for (const field of FIELDS) {
    const value = entry[field];
    if (value !== undefined) picked[field] = String(value);
  }
  const line = JSON.stringify(picked);
  if (FORBIDDEN.test(line)) throw new UcgateError(ErrorCodes.STORE_IO, 'refusing to write secret-looking material to the audit log');
  return line + '\n';
}

/**
 * Appends one line. Uses the store's append capability when it has one
 * (O_APPEND + fsync on files); otherwise read-modify-write under the lock
 * `audit`, through the store's atomic write.
 */
export async function appendAudit(storage: Storage & Partial<Locker>, entry: AuditEntry): Promise<void> {
  const line = formatAuditLine(entry);
  if (canAppend(storage)) return storage.append(AUDIT_KEY, line);
  if (!storage.lock) throw new UcgateError(ErrorCodes.STORE_IO, 'the store can neither append nor lock: cannot keep an audit log');
  const release = await storage.lock('audit');
  try {
    const before = (await loadText(storage, AUDIT_KEY)) ?? '';
    await storage.store(AUDIT_KEY, before + line);
  } finally {
    await release();
  }
}

/**
 * The last `limit` entries, oldest first. What a crash tore is skipped; the
 * entries written after it are still read.
 */
export async function readAudit(storage: Storage, limit = 100): Promise<AuditEntry[]> {
  const text = (await loadText(storage, AUDIT_KEY)) ?? '';
  const entries: AuditEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    // An interrupted append leaves a partial line with no newline, and the next entry lands on the
    // same line: every line starts with `{"time":`, so the last such start is the good entry.
    const parsed = parseEntry(line) ?? parseEntry(line.slice(line.lastIndexOf('{"time":')));
    if (parsed) entries.push(parsed);
  }
  return limit >= entries.length ? entries : entries.slice(entries.length - limit);
}

function parseEntry(text: string): AuditEntry | undefined {
  try {
    const parsed = JSON.parse(text) as AuditEntry;
    return typeof parsed.action === 'string' && typeof parsed.time === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Now, as the audit log writes it. */
export function auditTime(nowMs: number): string {
  return new Date(nowMs).toISOString();
}
