/**
 * The Storage contract on Redis, so several gateways share keys,
 * certificates, the ACME account, challenge tokens and the audit log.
 *
 *   {<prefix>}:v:<key>      the value (a string; secrets arrive already sealed by EncryptedStorage)
 *   {<prefix>}:d:<folder>   set of child names, so `list` needs no SCAN (SCAN is per node on Cluster)
 *   {<prefix>}:lock:<name>  lease (RedisLocker), {<prefix>}:fence:<name> its fencing counter
 *
 * Every write is one Lua script: value, folder index and — for a write under
 * a lock this process holds — the fencing check happen atomically. Writing a
 * `certificates/<keyType>/active` pointer also publishes the new serial on
 * the `certificates` channel in the same script, so whoever activates (the
 * renewing gateway, `ucgate cert import` or `cert rollback` from any host)
 * tells every instance.
 */
import type { Appender, Locker, Storage, StoreOptions } from './storage.js';
import type { RedisConnection, RedisKeyspace } from './redis-client.js';
import { RedisLocker, evalScript, fenceCheckLua } from './redis-locker.js';
import { UcgateError, ErrorCodes } from '../errors.js';

/** The pub/sub channel (under the keyspace) that announces activations. */
export const CERTIFICATES_CHANNEL = 'certificates';

/** What an activation announces. */
export interface ActivationMessage {
  readonly keyType: string;
  readonly serial: string;
  /** The instance id of the writer: an instance ignores its own announcements. */
  readonly origin: string;
  readonly at: string;
}

const ACTIVE_POINTER = /^certificates\/([^/]+)\/active$/;

/**
 * The lock whose lease fences writes to `key`, when the writer holds it:
 * exactly the locks the writers of these keys take (certificate-manager,
 * import and rollback take `issue-<keyType>`; the self-signed issuer and the
 * ACME account their own).
 */
export function fenceLockFor(key: string): string | undefined {
  const certificate = /^certificates\/([^/]+)\//.exec(key);
  if (certificate) return `issue-${certificate[1]}`;
  if (key.startsWith('ca/self-signed/')) return 'self-signed-ca';
  if (key.startsWith('acme/accounts/')) return 'acme-account';
  return undefined;
}

/** Folders from the root down to the key's parent, each with the child name to index in it. */
function folderEntries(key: string): { folder: string; child: string }[] {
  const parts = key.split('/');
  return parts.map((child, i) => ({ folder: parts.slice(0, i).join('/'), child }));
}

// KEYS: 1 value, 2 lock, 3 fence, 4.. folders. ARGV: 1 value, 2 owner ('' = unfenced), 3 token, 4 lease ms,
// 5 mode ('set' | 'append'), 6 channel ('' = none), 7 message, 8.. child names.
const WRITE = `${fenceCheckLua}
if ARGV[2] ~= '' and not holds(KEYS[2], KEYS[3], ARGV[2], ARGV[3], ARGV[4]) then return -1 end
if ARGV[5] == 'append' then redis.call('APPEND', KEYS[1], ARGV[1]) else redis.call('SET', KEYS[1], ARGV[1]) end
for i = 4, #KEYS do redis.call('SADD', KEYS[i], ARGV[i + 4]) end
if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[6], ARGV[7]) end
return 1
`;

// KEYS: 1 value, 2 lock, 3 fence, 4 parent folder. ARGV: 1 owner, 2 token, 3 lease ms, 4 child name.
const DELETE = `${fenceCheckLua}
if ARGV[1] ~= '' and not holds(KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3]) then return -1 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[4], ARGV[4])
return 1
`;

/** What a RedisStorage works with; the locker's leases decide which writes are fenced. */
export interface RedisStorageOptions {
  readonly connection: RedisConnection;
  readonly keyspace: RedisKeyspace;
  readonly locker: RedisLocker;
  readonly instanceId: string;
}

function checkKey(key: string): void {
  // Same rule as the file store: no empty, `.` or `..` segments, so a key means the same thing in both.
  if (!key || key.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new UcgateError(ErrorCodes.STORE_IO, `bad storage key: ${key}`);
  }
}

function notFound(key: string): Error {
  return Object.assign(new Error(`not in the store: ${key}`), { code: 'ENOENT' });
}

/** Storage + Locker + Appender on one Redis deployment (standalone, Sentinel or Cluster). */
export class RedisStorage implements Storage, Locker, Appender {
  readonly #options: RedisStorageOptions;

  constructor(options: RedisStorageOptions) {
    this.#options = options;
  }

  async load(key: string): Promise<Buffer> {
    checkKey(key);
    const value = await this.#options.connection.run((client) => client.getBuffer(this.#options.keyspace.value(key)));
    if (value === null) throw notFound(key);
    return value;
  }

  async store(key: string, value: string | Buffer, _options: StoreOptions = {}): Promise<void> {
    // `secret` needs nothing here: values are sealed above this layer, and Redis has no per-key modes.
    await this.#write(key, value, 'set');
  }

  /** Redis APPEND: atomic, so concurrent appenders from every instance never overwrite each other's lines. */
  async append(key: string, data: string | Buffer): Promise<void> {
    await this.#write(key, data, 'append');
  }

  async exists(key: string): Promise<boolean> {
    checkKey(key);
    return (await this.#options.connection.run((client) => client.exists(this.#options.keyspace.value(key)))) === 1;
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    const { keyspace } = this.#options;
    const fence = this.#fence(key);
    const parent = folderEntries(key).at(-1)!;
    const result = await evalScript(
      this.#options.connection,
      DELETE,
      [keyspace.value(key), keyspace.lock(fence.lock), keyspace.fence(fence.lock), keyspace.folder(parent.folder)],
      [fence.owner, fence.token, this.#options.locker.leaseMs, parent.child],
    );
    if (Number(result) === -1) throw this.#lost(key, fence.lock);
  }

  async list(prefix: string): Promise<string[]> {
    const folder = prefix.replace(/\/+$/, '');
    const names = await this.#options.connection.run((client) => client.smembers(this.#options.keyspace.folder(folder)));
    return names.sort().map((name) => (folder ? `${folder}/${name}` : name));
  }

  lock(name: string): Promise<() => Promise<void>> {
    return this.#options.locker.lock(name);
  }

  async #write(key: string, value: string | Buffer, mode: 'set' | 'append'): Promise<void> {
    checkKey(key);
    const { keyspace, instanceId, locker } = this.#options;
    const fence = this.#fence(key);
    const entries = folderEntries(key);
    const active = ACTIVE_POINTER.exec(key);
    let channel = '';
    let message = '';
    if (active && mode === 'set') {
      channel = keyspace.channel(CERTIFICATES_CHANNEL);
      const announcement: ActivationMessage = { keyType: active[1]!, serial: value.toString().trim(), origin: instanceId, at: new Date().toISOString() };
      message = JSON.stringify(announcement);
    }
    const result = await evalScript(
      this.#options.connection,
      WRITE,
      [keyspace.value(key), keyspace.lock(fence.lock), keyspace.fence(fence.lock), ...entries.map((entry) => keyspace.folder(entry.folder))],
      [value, fence.owner, fence.token, locker.leaseMs, mode, channel, message, ...entries.map((entry) => entry.child)],
    );
    if (Number(result) === -1) throw this.#lost(key, fence.lock);
  }

  /** The fencing arguments for a write to `key`: empty owner when no lease of ours covers it. */
  #fence(key: string): { lock: string; owner: string; token: number } {
    const name = fenceLockFor(key);
    const lease = name === undefined ? undefined : this.#options.locker.lease(name);
    if (!lease) return { lock: name ?? '-', owner: '', token: 0 };
    if (lease.lost) throw this.#lost(key, lease.name);
    return { lock: lease.name, owner: lease.owner, token: lease.token };
  }

  #lost(key: string, lock: string): UcgateError {
    const lease = this.#options.locker.lease(lock);
    if (lease) lease.lost = true;
    return new UcgateError(
      ErrorCodes.STORE_LOCK_LOST,
      `refused to write ${key}: the lease on ${lock} (fencing token ${lease?.token ?? '?'}) is no longer this instance's`,
    );
  }
}
