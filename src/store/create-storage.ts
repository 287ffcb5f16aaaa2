/**
 * Opens the configured certificate store: the file store under
 * `certificates.dir`, or the shared Redis store (see shared-store.ts).
 */
import type { UcgateConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { ErrorCodes, UcgateError } from '../errors.js';
import type { Storage, Locker } from './storage.js';
import { FileStorage } from './file-storage.js';

/** ioredis and the shared store load only where a Redis store is configured (workers of a file store never need them). */
const loadRedisStore = () => import('./shared-store.js');

export interface OpenStorageOptions {
  /**
   * `cli` (the default): a command's worth of work; a Redis connection quits
   * when idle so the process can exit. `gateway`: the running primary, which
   * reconnects for ever and serves from the local copy while Redis is down.
   */
  readonly mode?: 'gateway' | 'cli';
  readonly log?: Logger;
}

/** The store; for redis a SharedStore (check with isSharedStore, shared-store-check.ts) that the caller should close when done. */
export async function openStorage(config: UcgateConfig, options: OpenStorageOptions = {}): Promise<Storage & Locker> {
  if (config.certificates.store.type === 'redis') {
    const { openRedisStore } = await loadRedisStore();
    return openRedisStore(config, { mode: options.mode ?? 'cli', ...(options.log && { log: options.log }) });
  }
  return new FileStorage(config.certificates.dir).open();
}

/**
 * A read-only handle for a data-plane worker (ACME challenge answers another
 * process stored): never sweeps, never caches. For redis the connection opens
 * on first use, so a worker that never needs it never connects.
 */
export function openStoreReader(config: UcgateConfig): Storage {
  if (config.certificates.store.type !== 'redis') return new FileStorage(config.certificates.dir);
  let opened: Promise<Storage> | undefined;
  const store = () => (opened ??= loadRedisStore().then(({ openRedisStore }) => openRedisStore(config, { mode: 'cli' })));
  return {
    load: async (key) => (await store()).load(key),
    exists: async (key) => (await store()).exists(key),
    list: async (prefix) => (await store()).list(prefix),
    store: async () => {
      throw new UcgateError(ErrorCodes.STORE_IO, 'read-only store handle');
    },
    delete: async () => {
      throw new UcgateError(ErrorCodes.STORE_IO, 'read-only store handle');
    },
  };
}
