/**
 * The lease lock that decides which instance orders or renews (certmagic's
 * Locker, on Redis). A grant is `SET NX PX` plus an `INCR` of the lock's
 * fencing counter, in one script: the token is the lease's number, strictly
 * larger than any earlier holder's. While held, the lease is extended every
 * third of its length; a holder that dies (SIGKILL, power, partition) stops
 * extending it, and another instance gets it once it runs out.
 *
 * A holder that merely stalls (GC pause, frozen VM) past its lease could wake
 * up and write over its successor's work. So writes that matter — the ones
 * under `certificates/<keyType>/`, the local CA, the ACME account — are
 * fenced: RedisStorage runs them in a script that first checks this lease is
 * still the current one (see `fenceCheckLua`) and refuses them otherwise.
 * https://martin.kleppmann.com/2016/02/08/how-to-do-distributed-locking.html
 */
import { randomBytes } from 'node:crypto';
import type { Locker } from './storage.js';
import type { Logger } from '../log.js';
import type { Clock, ClockTimer } from '../clock.js';
import { systemClock } from '../clock.js';
import type { RedisConnection, RedisKeyspace } from './redis-client.js';
import { UcgateError, ErrorCodes } from '../errors.js';

/** A lease this process holds. */
export interface Lease {
  readonly name: string;
  /** The fencing token: larger for every later grant of the same lock. */
  readonly token: number;
  /** The lock key's value while this lease holds it. */
  readonly owner: string;
  /** Set once Redis says the lease is someone else's: fenced writes under it are refused. */
  lost: boolean;
}

/** Where locks live and how long a lease lasts. */
export interface RedisLockerOptions {
  readonly connection: RedisConnection;
  readonly keyspace: RedisKeyspace;
  /** Names this process in lock values, for people reading Redis. */
  readonly instanceId: string;
  readonly leaseMs: number;
  /** How long lock() waits for a lock someone else holds. Default 10 minutes (an ACME order with DNS propagation). */
  readonly waitMs?: number;
  readonly log?: Logger;
  /** Schedules the extensions; a test stops a holder's clock to play a holder that died. */
  readonly clock?: Clock;
}

/**
 * Shared by extend and by fenced writes (KEYS[1] lock, KEYS[2] fence counter;
 * ARGV[1] owner, ARGV[2] token, ARGV[3] lease ms). True while the lease is
 * ours; a lease that ran out with nobody taking it since (the counter still
 * shows our token) is taken back, so a slow holder with no rival carries on.
 */
export const fenceCheckLua = `
local function holds(lockKey, fenceKey, owner, token, leaseMs)
  local current = redis.call('GET', lockKey)
  if current == owner then
    redis.call('PEXPIRE', lockKey, leaseMs)
    return true
  end
  if not current and tonumber(redis.call('GET', fenceKey)) == tonumber(token) then
    redis.call('SET', lockKey, owner, 'PX', leaseMs)
    return true
  end
  return false
end
`;

const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ':' .. ARGV[1], 'PX', ARGV[2])
return token
`;

const EXTEND = `${fenceCheckLua}
if holds(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]) then return 1 end
return 0
`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

type Eval = (script: string, numKeys: number, ...args: (string | number | Buffer)[]) => Promise<unknown>;

/** EVAL through the connection. Scripts are tiny, so no EVALSHA bookkeeping (and nothing to reload after a Redis restart). */
export function evalScript(connection: RedisConnection, script: string, keys: readonly string[], args: readonly (string | number | Buffer)[]): Promise<unknown> {
  return connection.run((client) => (client.eval as unknown as Eval)(script, keys.length, ...keys, ...args));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Lease locks with fencing tokens; remembers the leases this process holds, for fenced writes. */
export class RedisLocker implements Locker {
  readonly #options: RedisLockerOptions;
  readonly #held = new Map<string, Lease>();

  constructor(options: RedisLockerOptions) {
    this.#options = options;
  }

  /** The lease this process holds on `name`, if any (lost or not). */
  lease(name: string): Lease | undefined {
    return this.#held.get(name);
  }

  get leaseMs(): number {
    return this.#options.leaseMs;
  }

  /**
   * Waits for `name` (polling every ~200 ms), then keeps the lease alive until
   * the returned function is called. Throws STORE_UNAVAILABLE at once when
   * Redis cannot be reached — no lock, no renewal — and STORE_LOCK_TIMEOUT
   * after `waitMs`.
   */
  async lock(name: string): Promise<() => Promise<void>> {
    const { connection, keyspace, instanceId, leaseMs, log } = this.#options;
    const started = Date.now();
    const deadline = started + (this.#options.waitMs ?? 600_000);
    // Unique per grant, so two waiters in one process never mistake each other's lease for their own.
    const holder = `${instanceId}:${randomBytes(4).toString('hex')}`;
    let waitingLogged = false;
    for (;;) {
      const token = Number(await evalScript(connection, ACQUIRE, [keyspace.lock(name), keyspace.fence(name)], [holder, leaseMs]));
      if (token > 0) {
        const lease: Lease = { name, token, owner: `${token}:${holder}`, lost: false };
        // Another caller in this process may still be unwinding its own lease of the same name.
        while (this.#held.has(name)) await sleep(10);
        this.#held.set(name, lease);
        const keepAlive = this.#keepAlive(lease);
        log?.info({ event: 'lock_acquired', lock: name, fencingToken: token, waitedMs: Date.now() - started }, `lock ${name} acquired`);
        return async () => {
          keepAlive.stop();
          if (this.#held.get(name) === lease) this.#held.delete(name);
          // If Redis is down the lease simply runs out.
          await evalScript(connection, RELEASE, [keyspace.lock(name)], [lease.owner]).catch(() => undefined);
          log?.info({ event: 'lock_released', lock: name, fencingToken: token, heldMs: Date.now() - started }, `lock ${name} released`);
        };
      }
      if (!waitingLogged) {
        waitingLogged = true;
        const current = await connection.run((client) => client.get(keyspace.lock(name))).catch(() => null);
        log?.info({ event: 'lock_waiting', lock: name, holder: current }, `waiting for lock ${name}: another instance holds it`);
      }
      if (Date.now() > deadline) {
        throw new UcgateError(ErrorCodes.STORE_LOCK_TIMEOUT, `timed out after ${Date.now() - started} ms waiting for lock ${name}`);
      }
      await sleep(150 + Math.floor(Math.random() * 100));
    }
  }

  #keepAlive(lease: Lease): { stop(): void } {
    const { connection, keyspace, leaseMs, log } = this.#options;
    const clock = this.#options.clock ?? systemClock;
    let timer: ClockTimer | undefined;
    let stopped = false;
    const extend = () => {
      evalScript(connection, EXTEND, [keyspace.lock(lease.name), keyspace.fence(lease.name)], [lease.owner, lease.token, leaseMs]).then(
        (held) => {
          if (Number(held) === 1 || lease.lost) return schedule();
          lease.lost = true;
          log?.error(
            { event: 'lock_lost', lock: lease.name, fencingToken: lease.token },
            `lost the lease on ${lease.name}: another instance holds it now; writes under it will be refused`,
          );
        },
        // Redis down: keep trying; if it stays down past the lease, the next holder's fence protects the store.
        () => schedule(),
      );
    };
    const schedule = () => {
      if (stopped) return;
      timer = clock.setTimeout(extend, Math.max(Math.floor(leaseMs / 3), 100));
      // A CLI command must not be kept alive by the extension of a lock it forgot.
      timer.unref?.();
    };
    schedule();
    return {
      stop: () => {
        stopped = true;
        if (timer) clock.clearTimeout(timer);
      },
    };
  }
}
