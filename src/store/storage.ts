/**
 * Where ucgate keeps what must survive a restart: keys, certificates, the
 * local CA, and later ACME accounts and the audit log. The shape follows
 * certmagic's Storage: opaque keys with `/` separators, whole values.
 *
 * Contract for every implementation:
 * - `store` is atomic: a reader sees the old value or the new one, never a mix;
 *   a failed write leaves the old value in place.
 * - values stored with `secret: true` are readable by the owner only.
 * - `load` of a missing key throws an error whose `code` is `ENOENT`.
 */
import { UcgateError, ErrorCodes } from '../errors.js';

export interface Storage {
  load(key: string): Promise<Buffer>;
  store(key: string, value: string | Buffer, options?: StoreOptions): Promise<void>;
  exists(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Keys directly under `prefix` (non-recursive), sorted. */
  list(prefix: string): Promise<string[]>;
}

export interface StoreOptions {
  /** Private keys, tokens: mode 0600 on disk. */
  readonly secret?: boolean;
}

/** Mutual exclusion across everything that shares one store (certmagic's Locker). */
export interface Locker {
  /** Resolves once `name` is held; the returned function releases it. */
  lock(name: string): Promise<() => Promise<void>>;
}

/**
 * Optional capability (certmagic's style: one method, checked with
 * `canAppend`): add bytes to the end of a value without rewriting it, for
 * logs. Appends are durable when the promise resolves, and a crash leaves at
 * worst a torn last line, never damage to what was there before.
 */
export interface Appender {
  append(key: string, data: string | Buffer): Promise<void>;
}

export function canAppend(storage: Storage): storage is Storage & Appender {
  return typeof (storage as Partial<Appender>).append === 'function';
}

/** Set on every SharedStore instance (shared-store-check.ts tells the shared store apart by it). */
export const SHARED_STORE_BRAND = Symbol.for('ucgate.shared-store');

/** Whether `err` means the shared store cannot answer now (so a cached value may stand in). */
export function isStoreUnavailable(err: unknown): boolean {
  return err instanceof UcgateError && err.code === ErrorCodes.STORE_UNAVAILABLE;
}

export function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOENT';
}

/** Reads a key as UTF-8 text, or undefined when it does not exist. */
export async function loadText(storage: Storage, key: string): Promise<string | undefined> {
  try {
    return (await storage.load(key)).toString('utf8');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
