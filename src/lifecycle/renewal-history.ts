/**
 * The renewal record, kept in the store so every process (the gateway, the
 * CLI, other instances) writes to and reads from the same place:
 *
 *   history/renewals.jsonl   one JSON line per issuance attempt, success or failure
 *   renewal/state.json       the loop's current view per key type (next attempt,
 *                            consecutive failures, last error, ARI window)
 *
 * `ucgate cert status` shows both. No key or PEM ever goes in.
 */
import type { KeyType } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import { canAppend, loadText } from '../store/storage.js';
import type { FailureReason } from '../acme/acme-errors.js';

export const RENEWAL_HISTORY_KEY = 'history/renewals.jsonl';
export const RENEWAL_STATE_KEY = 'renewal/state.json';

/** What started an attempt. */
export type RenewalTrigger = 'scheduled' | 'manual' | 'cli';

export interface RenewalRecord {
  /** ISO 8601. */
  readonly time: string;
  readonly keyType: KeyType;
  readonly trigger: RenewalTrigger;
  readonly result: 'success' | 'failure';
  readonly issuer: string;
  /** The new certificate (success). */
  readonly serial?: string;
  readonly notAfter?: string;
  /** What was served before. */
  readonly previousSerial?: string;
  readonly reason?: FailureReason;
  readonly code?: string;
  readonly error?: string;
  readonly durationMs: number;
}

/** Appends one line: O_APPEND where the store can, else read-modify-write under the lock `renewal-history`. */
export async function appendRenewalRecord(storage: Storage & Partial<Locker>, record: RenewalRecord): Promise<void> {
  const line = JSON.stringify(record) + '\n';
  if (canAppend(storage)) return storage.append(RENEWAL_HISTORY_KEY, line);
  const release = storage.lock ? await storage.lock('renewal-history') : async () => undefined;
  try {
    const before = (await loadText(storage, RENEWAL_HISTORY_KEY)) ?? '';
    await storage.store(RENEWAL_HISTORY_KEY, before + line);
  } finally {
    await release();
  }
}

/** The last `limit` records, oldest first; a torn last line (a crash mid-append) is skipped. */
export async function readRenewalHistory(storage: Storage, limit = 20): Promise<RenewalRecord[]> {
  const text = (await loadText(storage, RENEWAL_HISTORY_KEY)) ?? '';
  const records: RenewalRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const parsed = JSON.parse(line) as RenewalRecord;
      if (typeof parsed.time === 'string' && typeof parsed.result === 'string') records.push(parsed);
    } catch {
      // An interrupted append: the lines around it are still good.
    }
  }
  return records.slice(Math.max(0, records.length - limit));
}

/** The maintenance loop's view of one key type, as status shows it. Times are ISO 8601. */
export interface KeyRenewalStatus {
  readonly keyType: KeyType;
  readonly serial: string | undefined;
  readonly notAfter: string | undefined;
  /** When renewal is (or was) due, and what decided it. */
  readonly dueAt: string | undefined;
  readonly dueBy: 'ari' | 'lifetime' | 'now' | 'never' | undefined;
  readonly dueReason?: string;
  /** The earliest next attempt (backoff or Retry-After), if later than dueAt. */
  readonly retryAt: string | undefined;
  readonly consecutiveFailures: number;
  readonly lastError: { readonly at: string; readonly reason: FailureReason; readonly code: string; readonly message: string } | undefined;
  readonly lastSuccessAt: string | undefined;
  readonly ari:
    | { readonly start: string; readonly end: string; readonly chosen: string; readonly explanationUrl?: string; readonly nextFetchAt: string }
    | undefined;
  readonly renewing: boolean;
}

export interface RenewalState {
  readonly updatedAt: string;
  readonly keyTypes: readonly KeyRenewalStatus[];
}

export async function saveRenewalState(storage: Storage, state: RenewalState): Promise<void> {
  await storage.store(RENEWAL_STATE_KEY, JSON.stringify(state, null, 2) + '\n');
}

export async function loadRenewalState(storage: Storage): Promise<RenewalState | undefined> {
  const text = await loadText(storage, RENEWAL_STATE_KEY);
  if (!text) return undefined;
  try {
    return JSON.parse(text) as RenewalState;
  } catch {
    return undefined;
  }
}

/** Human lines for `ucgate cert status`: the loop's view, then the latest attempts. */
export function formatRenewals(state: RenewalState | undefined, history: readonly RenewalRecord[]): string {
  let out = '';
  if (state) {
    out += `renewal (as of ${state.updatedAt})\n`;
    for (const key of state.keyTypes) {
      const due = key.dueBy === 'never' ? 'not renewed automatically' : `${key.dueAt ?? '-'} (${key.dueBy ?? '-'}${key.dueReason ? `: ${key.dueReason}` : ''})`;
      out += `  ${key.keyType}  due ${due}`;
      if (key.retryAt) out += `, next attempt ${key.retryAt}`;
      out += '\n';
      if (key.ari) out += `    ARI window ${key.ari.start} → ${key.ari.end}, chosen ${key.ari.chosen}\n`;
      if (key.lastError) {
        out += `    failing: ${key.consecutiveFailures} consecutive, last ${key.lastError.at} ${key.lastError.reason} (${key.lastError.code}): ${key.lastError.message}\n`;
      }
    }
  }
  if (history.length > 0) {
    out += 'renewal history (latest last)\n';
    for (const record of history) {
      const what =
        record.result === 'success'
          ? `serial ${record.serial} until ${record.notAfter}`
          : `${record.reason ?? 'failed'}: ${record.error ?? ''}`;
      out += `  ${record.time}  ${record.keyType}  ${record.trigger}  ${record.result}  ${what}\n`;
    }
  }
  return out;
}
