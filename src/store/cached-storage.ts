/**
 * A local copy of the last good values, so a gateway keeps serving — and
 * even restarts — with its certificate while the shared store is down.
 *
 * Reads go to the shared store first; each value read or written there is
 * copied to files under `<certificates.dir>/store-cache/` (0600, atomic
 * writes; secrets are copied still sealed). Only when the shared store is
 * unreachable (STORE_UNAVAILABLE) do reads answer from that copy. Writes,
 * appends and locks never fall back: nothing is issued or activated without
 * the shared store and its lock, or instances would drift apart.
 *
 * Challenge tokens and the audit log are not copied: they are worth nothing
 * without the shared store.
 */
import type { Appender, Locker, Storage, StoreOptions } from './storage.js';
import { isNotFound, isStoreUnavailable } from './storage.js';
import type { FileStorage } from './file-storage.js';

const NOT_CACHED = [/^acme\/challenges\//, /^audit\//];

/** Whether values under `key` belong in the local copy. */
export function isCacheable(key: string): boolean {
  return !NOT_CACHED.some((pattern) => pattern.test(key));
}

/** A remote store with a local read-through copy that answers while the remote is unreachable. */
export class CachedStorage implements Storage, Locker, Appender {
  readonly #remote: Storage & Locker & Appender;
  readonly #local: FileStorage;
  /** Serves a read from the copy: for the status page ("degraded since"). */
  onFallback: ((key: string) => void) | undefined;

  constructor(remote: Storage & Locker & Appender, local: FileStorage) {
    this.#remote = remote;
    this.#local = local;
  }

  async load(key: string): Promise<Buffer> {
    let value: Buffer;
    try {
      value = await this.#remote.load(key);
    } catch (err) {
      if (isNotFound(err)) {
        // The shared store is the truth: a value gone there must not come back from the copy later.
        if (isCacheable(key)) await this.#local.delete(key).catch(() => undefined);
        throw err;
      }
      return this.#fallback(err, key, () => this.#local.load(key));
    }
    if (isCacheable(key)) await this.#remember(key, value);
    return value;
  }

  async store(key: string, value: string | Buffer, options: StoreOptions = {}): Promise<void> {
    await this.#remote.store(key, value, options);
    if (isCacheable(key)) await this.#remember(key, Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'));
  }

  append(key: string, data: string | Buffer): Promise<void> {
    return this.#remote.append(key, data);
  }

  async exists(key: string): Promise<boolean> {
    try {
      return await this.#remote.exists(key);
    } catch (err) {
      // Only a positive answer from the copy means anything; "not cached" is not "not stored".
      return this.#fallback(err, key, async () => {
        if (await this.#local.exists(key)) return true;
        throw err;
      });
    }
  }

  async delete(key: string): Promise<void> {
    await this.#remote.delete(key);
    await this.#local.delete(key).catch(() => undefined);
  }

  async list(prefix: string): Promise<string[]> {
    try {
      return await this.#remote.list(prefix);
    } catch (err) {
      return this.#fallback(err, prefix, () => this.#local.list(prefix));
    }
  }

  lock(name: string): Promise<() => Promise<void>> {
    return this.#remote.lock(name);
  }

  async #fallback<T>(err: unknown, key: string, read: () => Promise<T>): Promise<T> {
    if (!isStoreUnavailable(err) || !isCacheable(key)) throw err;
    let value: T;
    try {
      value = await read();
    } catch {
      // Not in the copy either: the caller must learn the store is down, not that the key is missing.
      throw err;
    }
    this.onFallback?.(key);
    return value;
  }

  /** Writes the copy only when it differs, so steady-state reads cost no disk writes. */
  async #remember(key: string, value: Buffer): Promise<void> {
    try {
      const cached = await this.#local.load(key).catch(() => undefined);
      if (cached && cached.equals(value)) return;
      await this.#local.store(key, value, { secret: true });
    } catch {
      // A full or read-only disk must not fail a read that succeeded; the copy is a convenience.
    }
  }
}
