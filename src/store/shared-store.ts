/**
 * The Redis store as the rest of ucgate sees it: one object that is a
 * Storage + Locker + Appender (secrets sealed → local copy → Redis), plus
 * what only a shared store has — a connection state for status, metrics and
 * /readyz, certificate announcements (`watch`), and `close`.
 *
 *   EncryptedStorage   seals { secret: true } values (AES-256-GCM, store key)
 *   └ CachedStorage    last good values on disk, answers while Redis is down
 *     └ RedisStorage   values, folder index, fenced writes, activation announcements
 *       └ RedisLocker  lease locks with fencing tokens
 */
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { UcgateConfig, KeyType } from '../config/types.js';
import type { Logger } from '../log.js';
import type { Clock } from '../clock.js';
import { SHARED_STORE_BRAND, type Appender, type Locker, type Storage, type StoreOptions } from './storage.js';
import { FileStorage } from './file-storage.js';
import { RedisConnection, RedisKeyspace } from './redis-client.js';
import { RedisLocker } from './redis-locker.js';
import { RedisStorage } from './redis-storage.js';
import { CachedStorage } from './cached-storage.js';
import { EncryptedStorage, loadStoreKey, STORE_KEY_ENV } from './encrypted-values.js';
import { StoreEvents } from './store-events.js';
import { UcgateError, ErrorCodes } from '../errors.js';

/** The store's health as `GET /api/v1/status` reports it. */
export interface StoreStatus {
  readonly type: 'file' | 'redis';
  /** Where it is (password masked); absent for the file store. */
  readonly target?: string;
  readonly connected: boolean;
  /** ISO 8601: since when the gateway has served from its local copy; null while connected. */
  readonly degradedSince: string | null;
  readonly lastError: string | null;
}

/** Where the local copy of the shared store lives, under `certificates.dir`. */
export const CACHE_FOLDER = 'store-cache';

/** The pieces openRedisStore assembles. */
export interface SharedStoreParts {
  readonly connection: RedisConnection;
  readonly keyspace: RedisKeyspace;
  readonly instanceId: string;
  readonly stack: Storage & Locker & Appender;
  /** Redis without the local copy: the periodic check reads pointers there, so the copy never holds a pointer ahead of its files. */
  readonly direct: Storage;
}

/** Emits `up` and `down` as the connection comes and goes. */
export class SharedStore extends EventEmitter implements Storage, Locker, Appender {
  readonly [SHARED_STORE_BRAND] = true;
  readonly connection: RedisConnection;
  readonly keyspace: RedisKeyspace;
  /** Names this process in lock values and announcements. */
  readonly instanceId: string;
  readonly #stack: Storage & Locker & Appender;
  readonly #direct: Storage;
  #events: StoreEvents | undefined;

  constructor(parts: SharedStoreParts) {
    super();
    this.connection = parts.connection;
    this.keyspace = parts.keyspace;
    this.instanceId = parts.instanceId;
    this.#stack = parts.stack;
    this.#direct = parts.direct;
    this.connection.on('up', () => this.emit('up'));
    this.connection.on('down', (reason: string) => this.emit('down', reason));
  }

  load(key: string): Promise<Buffer> {
    return this.#stack.load(key);
  }
  store(key: string, value: string | Buffer, options?: StoreOptions): Promise<void> {
    return this.#stack.store(key, value, options);
  }
  append(key: string, data: string | Buffer): Promise<void> {
    return this.#stack.append(key, data);
  }
  exists(key: string): Promise<boolean> {
    return this.#stack.exists(key);
  }
  delete(key: string): Promise<void> {
    return this.#stack.delete(key);
  }
  list(prefix: string): Promise<string[]> {
    return this.#stack.list(prefix);
  }
  lock(name: string): Promise<() => Promise<void>> {
    return this.#stack.lock(name);
  }

  status(): StoreStatus {
    const state = this.connection.state();
    return {
      type: 'redis',
      target: this.connection.description,
      connected: state.connected,
      degradedSince: state.downSince === undefined ? null : new Date(state.downSince).toISOString(),
      lastError: state.connected ? null : (state.lastError ?? null),
    };
  }

  /** Starts announcements and periodic checks; `change` events name what to reload. */
  watch(options: {
    readonly keyTypes: readonly KeyType[];
    readonly servedSerial: (keyType: KeyType) => string | undefined;
    readonly checkIntervalMs: number;
    readonly clock?: Clock;
    readonly log?: Logger;
  }): StoreEvents {
    this.#events?.stop();
    this.#events = new StoreEvents({ ...options, connection: this.connection, keyspace: this.keyspace, storage: this.#direct, instanceId: this.instanceId }).start();
    return this.#events;
  }

  async close(): Promise<void> {
    this.#events?.stop();
    await this.connection.close();
  }
}


export interface OpenRedisStoreOptions {
  /** `gateway`: long-lived, reconnects for ever. `cli`: one command's worth of work. */
  readonly mode: 'gateway' | 'cli';
  readonly log?: Logger;
  /** How long a gateway waits for Redis at start before going on from its local copy. */
  readonly connectWaitMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Opens `certificates.store` of type redis. Refuses (exit 2) without a store
 * key: private keys never go to Redis in the clear.
 */
export async function openRedisStore(config: UcgateConfig, options: OpenRedisStoreOptions): Promise<SharedStore> {
  const store = config.certificates.store;
  const storeKey = await loadStoreKey(store.keyFile, options.env);
  if (!storeKey) {
    throw new UcgateError(
      ErrorCodes.STORE_KEY,
      `certificates.store.keyFile: a redis store needs a store key to encrypt private keys (a 0600 file, or ${STORE_KEY_ENV}; make one with openssl rand -base64 32)`,
      { exitCode: 2 },
    );
  }
  // The loader resolves the paths it knows; these two newer ones follow the same rule here: the config file's folder.
  const path = (file: string) => (isAbsolute(file) || !config.configFile ? file : resolve(dirname(config.configFile), file));
  const password = store.passwordFile ? (await readFile(path(store.passwordFile), 'utf8')).trim() : undefined;
  const caPem = store.caFile ? await readFile(path(store.caFile), 'utf8') : undefined;
  const connection = new RedisConnection({
    url: store.url!,
    mode: options.mode,
    ...(password !== undefined && { password }),
    ...(caPem !== undefined && { caPem }),
    ...(options.log && { log: options.log }),
  });
  const keyspace = new RedisKeyspace(store.prefix);
  const instanceId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const locker = new RedisLocker({ connection, keyspace, instanceId, leaseMs: store.lockLeaseMs, ...(options.log && { log: options.log }) });
  const redis = new RedisStorage({ connection, keyspace, locker, instanceId });
  const local = new FileStorage(join(config.certificates.dir, CACHE_FOLDER));
  // Only the gateway sweeps the copy's leftover temp files; a CLI run beside it must not touch its writes in flight.
  if (options.mode === 'gateway') await local.open();
  const stack = new EncryptedStorage(new CachedStorage(redis, local), storeKey);
  const shared = new SharedStore({ connection, keyspace, instanceId, stack, direct: redis });
  if (options.mode === 'gateway' && !(await connection.waitUntilUp(options.connectWaitMs ?? 5_000))) {
    options.log?.warn(
      { event: 'store_degraded', store: connection.description, err: connection.state().lastError },
      'certificate store unreachable at start: going on with the local copy, reconnecting in the background',
    );
  }
  return shared;
}
