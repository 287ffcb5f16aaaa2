/**
 * The shared store when Redis goes away and comes back: reads answer from
 * the local copy (never a false "not found"), writes and locks fail at once
 * (no renewal without the lock), the state says since when; announcements
 * reach the other instances, the periodic check catches what pub/sub missed,
 * and a CLI process that never closes its store still exits.
 */
import t from 'tap';
import { join } from 'node:path';
import { writeFileSync, chmodSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/net.js';
import { openRedisStore, CACHE_FOLDER, type SharedStore } from '../../src/store/shared-store.js';
import { ErrorCodes } from '../../src/errors.js';
import type { UcgateConfig } from '../../src/config/types.js';
import type { StoreChange } from '../../src/store/store-events.js';

const STORE_KEY = randomBytes(32).toString('base64');

function configFor(dir: string, redis: RedisServer, name: string): UcgateConfig {
  const keyFile = join(dir, 'store.key');
  writeFileSync(keyFile, STORE_KEY);
  chmodSync(keyFile, 0o600);
  return {
    configFile: join(dir, 'ucgate.yaml'),
    certificates: { dir: join(dir, name), store: { type: 'redis', url: redis.url, keyFile, lockLeaseMs: 1_000 } },
  } as unknown as UcgateConfig;
}

t.test('Redis down and back', async (t) => {
  const dir = t.testdir();
  const redis = await startRedis(t, join(dir, 'redis'), { persist: true });
  const store: SharedStore = await openRedisStore(configFor(dir, redis, 'a'), { mode: 'gateway', connectWaitMs: 3_000 });
  t.teardown(() => store.close());
  await store.store('certificates/rsa-2048/active', '01\n');
  await store.store('certificates/rsa-2048/versions/01/private-key.pem', 'KEY', { secret: true });
  await store.store('acme/challenges/http-01/tok', 'auth');
  t.match(store.status(), { type: 'redis', connected: true, degradedSince: null });

  const downs: string[] = [];
  store.on('down', (reason: string) => downs.push(reason));
  await redis.stop();
  await waitFor(() => !store.status().connected, { timeoutMs: 5_000, message: 'seen down' });
  t.equal(downs.length, 1, 'one down event');
  t.match(store.status(), { connected: false, degradedSince: /^\d{4}-\d\d-\d\dT/ });

  await t.test('reads answer from the local copy; secrets there are still sealed', async (t) => {
    t.equal((await store.load('certificates/rsa-2048/active')).toString(), '01\n');
    t.equal((await store.load('certificates/rsa-2048/versions/01/private-key.pem')).toString(), 'KEY');
    t.equal(await store.exists('certificates/rsa-2048/active'), true);
    t.same(await store.list('certificates/rsa-2048'), ['certificates/rsa-2048/active', 'certificates/rsa-2048/versions']);
    const { readFileSync } = await import('node:fs');
    t.match(readFileSync(join(dir, 'a', CACHE_FOLDER, 'certificates/rsa-2048/versions/01/private-key.pem'), 'utf8'), /^ucgate:enc:v1:/);
  });

  await t.test('what the copy does not hold is "unavailable", never "not found"', async (t) => {
    await t.rejects(store.load('certificates/ecdsa-p256/active'), { code: ErrorCodes.STORE_UNAVAILABLE });
    await t.rejects(store.exists('certificates/ecdsa-p256/active'), { code: ErrorCodes.STORE_UNAVAILABLE });
    await t.rejects(store.load('acme/challenges/http-01/tok'), { code: ErrorCodes.STORE_UNAVAILABLE }, 'challenges are not copied');
  });

  await t.test('writes, appends and locks fail at once', async (t) => {
    const started = Date.now();
    await t.rejects(store.store('certificates/rsa-2048/active', '02\n'), { code: ErrorCodes.STORE_UNAVAILABLE });
    await t.rejects(store.append('audit/audit.log', 'x\n'), { code: ErrorCodes.STORE_UNAVAILABLE });
    await t.rejects(store.lock('issue-rsa-2048'), { code: ErrorCodes.STORE_UNAVAILABLE });
    t.ok(Date.now() - started < 2_000, 'no waiting on a store that is down');
  });

  await t.test('back: connected again, and Redis is the truth again', async (t) => {
    await redis.start();
    await waitFor(() => store.status().connected, { timeoutMs: 15_000, message: 'reconnected' });
    t.match(store.status(), { connected: true, degradedSince: null });
    await store.store('certificates/rsa-2048/active', '02\n');
    t.equal((await store.load('certificates/rsa-2048/active')).toString(), '02\n');
    const release = await store.lock('issue-rsa-2048');
    await release();
  });
});

t.test('announcements and the periodic check', async (t) => {
  const dir = t.testdir();
  const redis = await startRedis(t, join(dir, 'redis'));
  const a = await openRedisStore(configFor(dir, redis, 'a'), { mode: 'gateway' });
  const b = await openRedisStore(configFor(dir, redis, 'b'), { mode: 'gateway' });
  t.teardown(() => Promise.all([a.close(), b.close()]));
  let servedA = '01';
  let servedB = '01';
  const seenA: StoreChange[] = [];
  const seenB: StoreChange[] = [];
  a.watch({ keyTypes: ['rsa-2048'], servedSerial: () => servedA, checkIntervalMs: 60_000 }).on('change', (c: StoreChange) => seenA.push(c));
  const eventsB = b.watch({ keyTypes: ['rsa-2048'], servedSerial: () => servedB, checkIntervalMs: 500 }).on('change', (c: StoreChange) => seenB.push(c));
  // The subscription is made in the background; an announcement before it would be lost (the check would catch it).
  await waitFor(async () => Number((await redis.cli('PUBSUB', 'NUMSUB', '{ucgate}:certificates')).split('\n')[1]) === 2, { timeoutMs: 5_000, message: 'both subscribed' });

  await a.store('certificates/rsa-2048/active', '02\n');
  servedA = '02';
  await waitFor(() => seenB.some((c) => c.via === 'message' && c.serial === '02'), { timeoutMs: 3_000, message: 'b hears of 02' });
  servedB = '02';
  t.same(seenA, [], 'an instance ignores its own announcement');

  // Behind pub/sub's back: the periodic check notices within its interval.
  await redis.cli('SET', '{ucgate}:v:certificates/rsa-2048/active', '03\n');
  await waitFor(() => seenB.some((c) => c.via === 'check' && c.serial === '03'), { timeoutMs: 3_000, message: 'b notices 03' });
  t.same(await eventsB.check(), [{ keyType: 'rsa-2048', serial: '03', via: 'check' }], 'still differs until b serves it');
  servedB = '03';
  t.same(await eventsB.check(), []);
});

t.test('a CLI process that never closes its store still exits', async (t) => {
  const dir = t.testdir();
  const redis = await startRedis(t, join(dir, 'redis'));
  const config = configFor(dir, redis, 'cli');
  const script = join(dir, 'cli.mts');
  const shared = fileURLToPath(new URL('../../src/store/shared-store.ts', import.meta.url));
  writeFileSync(
    script,
    `import { openRedisStore } from ${JSON.stringify(shared)};
const store = await openRedisStore(${JSON.stringify(config)}, { mode: 'cli' });
await store.store('certificates/rsa-2048/pending/request.csr', 'csr');
await new Promise((resolve) => setTimeout(resolve, 100));
const release = await store.lock('issue-rsa-2048');
console.log((await store.load('certificates/rsa-2048/pending/request.csr')).toString());
await release();
`,
  );
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (exitCode) => (clearTimeout(timer), resolve(exitCode)));
  });
  t.equal(code, 0, 'exited by itself');
  t.equal(out.trim(), 'csr');
  t.ok(Date.now() - started < 20_000, `in ${Date.now() - started} ms`);
});
