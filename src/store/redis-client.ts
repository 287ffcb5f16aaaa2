/**
 * One connection to the shared Redis store (standalone, Sentinel or Cluster,
 * through ioredis), with what the rest of the store needs on top:
 *
 * - a connection state (`up` / `down` events, down since when, last error)
 *   that status, metrics and /readyz report;
 * - fail fast while down: no offline queue, short command timeouts, so a read
 *   falls back to the local cache at once instead of hanging a renewal or a
 *   reload; reconnection runs in the background with capped, jittered backoff;
 * - the key names (`RedisKeyspace`), all under one hash tag so that the
 *   multi-key scripts work on Redis Cluster too.
 *
 * A CLI command (`ucgate cert import`, `cert status`) never closes its store,
 * so in `cli` mode the connection quits whenever it goes idle and reconnects on
 * the next command: the process exits by itself when its work is done.
 */
import { EventEmitter } from 'node:events';
import { Redis, Cluster, type RedisOptions, type ClusterOptions } from 'ioredis';
import type { Logger } from '../log.js';
import { UcgateError, ErrorCodes } from '../errors.js';
import { parseRedisUrl, isRedisTarget, redactRedisUrl, type RedisTarget } from '../config/redis-url.js';

export type RedisClient = Redis | Cluster;

export interface RedisConnectionOptions {
  readonly url: string;
  /** Overrides a password in the URL (from `certificates.store.passwordFile`). */
  readonly password?: string;
  /** Extra CA for rediss:// (a private CA), PEM. */
  readonly caPem?: string;
  /** `gateway`: reconnects for ever. `cli`: a few attempts, and quits when idle. */
  readonly mode: 'gateway' | 'cli';
  readonly commandTimeoutMs?: number;
  readonly log?: Logger;
}

/** Reply errors that mean "not now" rather than "never": treated like a lost connection. */
const TRANSIENT_REPLY = /^(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN|READONLY|NOAUTH|WRONGPASS|NOPERM|BUSY)/;

/**
 * Maps an ioredis failure to a UcgateError: STORE_UNAVAILABLE when Redis
 * cannot answer (the caller may fall back to its cache), STORE_IO otherwise.
 */
export function toStoreError(err: unknown, where = 'redis'): UcgateError {
  if (err instanceof UcgateError) return err;
  const e = err as { name?: string; message?: string };
  const message = e?.message ?? String(err);
  const permanent = e?.name === 'ReplyError' && !TRANSIENT_REPLY.test(message);
  return permanent
    ? new UcgateError(ErrorCodes.STORE_IO, `certificate store ${where}: ${message}`, { cause: err })
    : new UcgateError(ErrorCodes.STORE_UNAVAILABLE, `certificate store ${where} unreachable: ${message}`, { cause: err });
}


/** Reconnect delays: 250 ms doubling to 10 s, plus up to 250 ms of jitter so instances do not retry in step. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(250 * 2 ** Math.max(attempt - 1, 0), 10_000) + Math.floor(Math.random() * 250);
}

/**
 * Key names. Everything shares the hash tag `{<prefix>}`, so one Lua script
 * may touch a value, its folder index and a lock in any topology (Cluster
 * refuses multi-key commands across slots). A prefix that already holds a
 * `{tag}` is used as is.
 */
export class RedisKeyspace {
  readonly base: string;

  constructor(prefix = 'ucgate:') {
    const clean = prefix || 'ucgate:';
    this.base = /\{[^}]+\}/.test(clean) ? clean : `{${clean.replace(/:+$/, '') || 'ucgate'}}:`;
  }

  /** Where the value of storage key `key` lives. */
  value(key: string): string {
    return `${this.base}v:${key}`;
  }

  /** The set of child names of folder `path` ('' is the root), for `list`. */
  folder(path: string): string {
    return `${this.base}d:${path}`;
  }

  lock(name: string): string {
    return `${this.base}lock:${name}`;
  }

  /** The fencing-token counter of lock `name`: INCRed on every grant. */
  fence(name: string): string {
    return `${this.base}fence:${name}`;
  }

  /** A pub/sub channel (channels are not keys: no slot, seen by every node). */
  channel(name: string): string {
    return `${this.base}${name}`;
  }
}

function clientFor(target: RedisTarget, options: RedisConnectionOptions, subscriber = false): RedisClient {
  const gateway = options.mode === 'gateway';
  // A subscriber waits for the connection instead (its one command, SUBSCRIBE, is replayed on reconnect).
  const offlineQueue = !gateway || subscriber;
  const password = options.password ?? target.password;
  const tls = target.tls ? { ...(options.caPem && { ca: options.caPem }) } : undefined;
  // A CLI command never reconnects in the background (a retry timer would outlive its work): it connects per command.
  const retry = (times: number) => (gateway ? reconnectDelayMs(times) : null);
  const common = {
    ...(target.username && { username: target.username }),
    ...(password && { password }),
    ...(tls && { tls }),
    connectionName: 'ucgate',
    connectTimeout: 3_000,
    // A subscriber's SUBSCRIBE may wait in the offline queue for as long as Redis is away.
    // Bounds a read on a hung (not refused) connection before the local copy answers; generous for loaded hosts.
    ...(!subscriber && { commandTimeout: options.commandTimeoutMs ?? 5_000 }),
    // RESP2: works with every Redis a site may run (RESP3 needs 6+), and nothing here needs RESP3.
    protocol: 2 as const,
    // One resend at most after a reconnect, then the error reaches the caller (and its cache).
    maxRetriesPerRequest: subscriber ? null : 1,
  };
  if (target.topology === 'cluster') {
    const clusterOptions: ClusterOptions = {
      redisOptions: common,
      lazyConnect: !subscriber,
      enableOfflineQueue: offlineQueue,
      clusterRetryStrategy: retry,
      slotsRefreshTimeout: 3_000,
    };
    return new Cluster(
      target.endpoints.map((endpoint) => ({ host: endpoint.host, port: endpoint.port })),
      clusterOptions,
    );
  }
  const redisOptions: RedisOptions = {
    ...common,
    db: target.db,
    lazyConnect: !subscriber,
    enableOfflineQueue: offlineQueue,
    retryStrategy: retry,
    ...(target.topology === 'sentinel'
      ? {
          sentinels: target.endpoints.map((endpoint) => ({ host: endpoint.host, port: endpoint.port })),
          name: target.masterName!,
          // The URL's credentials are the data nodes'; sentinels are asked without (AUTH to a sentinel
          // without requirepass is an error, and most sites run them so).
          ...(tls && { enableTLSForSentinelMode: true, sentinelTLS: tls }),
          sentinelRetryStrategy: retry,
        }
      : { host: target.endpoints[0]!.host, port: target.endpoints[0]!.port }),
  };
  return new Redis(redisOptions);
}

/** Connection state, as status and metrics report it. */
export interface ConnectionState {
  readonly connected: boolean;
  /** Since when Redis has been unreachable (ms since the epoch); undefined while connected. */
  readonly downSince: number | undefined;
  readonly lastError: string | undefined;
}

/**
 * Emits `up` when Redis answers again and `down` (with the reason) when it
 * stops, once per transition.
 */
export class RedisConnection extends EventEmitter {
  readonly target: RedisTarget;
  readonly client: RedisClient;
  /** The URL with its password masked. */
  readonly description: string;
  readonly #options: RedisConnectionOptions;
  #up = false;
  #downSince: number | undefined = Date.now();
  #lastError: string | undefined;
  #inflight = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #connecting: Promise<void> | undefined;
  #quitting: Promise<void> | undefined;
  #closed = false;

  constructor(options: RedisConnectionOptions) {
    super();
    const target = parseRedisUrl(options.url);
    if (!isRedisTarget(target)) throw new UcgateError(ErrorCodes.CONFIG_INVALID, `certificates.store.url: ${target.error}`, { exitCode: 2 });
    this.target = target;
    this.description = redactRedisUrl(options.url);
    this.#options = options;
    this.client = clientFor(target, options);
    this.client.on('ready', () => this.#markUp());
    this.client.on('close', () => this.#markDown('connection closed'));
    this.client.on('end', () => this.#markDown('connection ended'));
    // Without a listener ioredis prints every failed reconnect to stderr; the state carries it instead.
    this.client.on('error', (err: Error) => {
      this.#lastError = err.message;
    });
    this.client.on('node error', (err: Error) => {
      this.#lastError = err.message;
    });
    if (options.mode === 'gateway') this.client.connect().catch(() => undefined);
  }

  state(): ConnectionState {
    return { connected: this.#up, downSince: this.#up ? undefined : this.#downSince, lastError: this.#lastError };
  }

  get up(): boolean {
    return this.#up;
  }

  /** Resolves true once connected, false when `timeoutMs` passes first. */
  waitUntilUp(timeoutMs: number): Promise<boolean> {
    if (this.#up) return Promise.resolve(true);
    return new Promise((resolve) => {
      // Not unref'd: a process with nothing else to do must wait here, not exit silently.
      const timer = setTimeout(() => {
        this.off('up', onUp);
        resolve(false);
      }, timeoutMs);
      const onUp = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.once('up', onUp);
    });
  }

  /** Runs commands on the client; failures come back as UcgateErrors (see toStoreError). */
  async run<T>(fn: (client: RedisClient) => Promise<T>): Promise<T> {
    if (this.#closed) throw new UcgateError(ErrorCodes.STORE_UNAVAILABLE, 'redis: the store is closed');
    this.#inflight++;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    try {
      if (this.#options.mode === 'cli') await this.#connectNow();
      return await fn(this.client);
    } catch (err) {
      throw toStoreError(err, this.description);
    } finally {
      this.#inflight--;
      if (this.#options.mode === 'cli' && this.#inflight === 0) this.#scheduleIdleQuit();
    }
  }

  /** A second connection with the same settings, for pub/sub (a subscribed connection runs no other commands). */
  duplicate(): RedisClient {
    const copy = clientFor(this.target, { ...this.#options, mode: 'gateway' }, true);
    copy.on('error', () => undefined);
    copy.on('node error', () => undefined);
    return copy;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.removeAllListeners();
    await this.#quitting;
    await Promise.race([this.client.quit().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
    this.client.disconnect();
  }

  async #connectNow(): Promise<void> {
    if (this.#quitting) await this.#quitting;
    const status = this.client.status;
    if (status === 'ready') return;
    if (!this.#connecting) {
      const connect =
        status === 'wait' || status === 'end' || status === 'close'
          ? this.client.connect()
          : this.waitUntilUp(3_000).then((up) => {
              if (!up) throw new Error(`not connected (${status})`);
            });
      this.#connecting = connect.then(() => undefined).finally(() => (this.#connecting = undefined));
    }
    await this.#connecting;
  }

  #scheduleIdleQuit(): void {
    // Unref'd: the timer alone never keeps a CLI process alive, the open socket does until it fires.
    this.#idleTimer = setTimeout(() => {
      if (this.#inflight > 0 || this.#closed || this.client.status !== 'ready') return;
      this.#quitting = this.client
        .quit()
        .then(
          () => undefined,
          () => undefined,
        )
        .finally(() => (this.#quitting = undefined));
    }, 20);
    this.#idleTimer.unref();
  }

  #markUp(): void {
    if (this.#up) return;
    const downMs = this.#downSince === undefined ? 0 : Date.now() - this.#downSince;
    this.#up = true;
    this.#downSince = undefined;
    if (this.#options.mode === 'gateway') this.#options.log?.info({ event: 'store_up', store: this.description, downMs }, 'certificate store connected');
    this.emit('up');
  }

  #markDown(reason: string): void {
    if (!this.#up || this.#closed) return;
    this.#up = false;
    this.#downSince = Date.now();
    if (this.#options.mode === 'gateway') {
      this.#options.log?.warn(
        { event: 'store_down', store: this.description, reason, err: this.#lastError },
        'certificate store unreachable: serving the last good certificates from the local cache, reconnecting',
      );
    }
    this.emit('down', reason);
  }
}
