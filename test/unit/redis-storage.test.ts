/**
 * The Redis store against a real redis-server: the Storage contract (same
 * answers as the file store), APPEND for the audit log, activation
 * announcements, the lease lock (one holder, expiry of a dead holder,
 * fencing of a holder that lost its lease), and the CLI mode that lets a
 * process exit without closing its store.
 */
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { openRedisStore, type SharedStore } from '../../src/store/shared-store.js';
import { RedisConnection, RedisKeyspace } from '../../src/store/redis-client.js';
import { RedisLocker } from '../../src/store/redis-locker.js';
import { RedisStorage, fenceLockFor } from '../../src/store/redis-storage.js';
import { loadText } from '../../src/store/storage.js';
import { openStoreReader } from '../../src/store/create-storage.js';
import { ErrorCodes } from '../../src/errors.js';
import type { UcgateConfig } from '../../src/config/types.js';
import type { Clock } from '../../src/clock.js';
import { FakeClock } from '../helpers/fake-clock.js';

const STORE_KEY = randomBytes(32).toString('base64');

function configFor(dir: string, redis: RedisServer, extra: Record<string, unknown> = {}): UcgateConfig {
  const keyFile = join(dir, 'store.key');
  writeFileSync(keyFile, STORE_KEY + '\n');
  chmodSync(keyFile, 0o600);
  return {
    configFile: join(dir, 'ucgate.yaml'),
    certificates: { dir: join(dir, 'certs'), store: { type: 'redis', url: redis.url, prefix: 'test:', keyFile, lockLeaseMs: 1_000, ...extra } },
  } as unknown as UcgateConfig;
}

/** A bare RedisStorage + locker (no cache, no encryption), as a second "instance". */
async function rawStore(t: Test, redis: RedisServer, instanceId: string, options: { leaseMs?: number; clock?: Clock } = {}) {
  const connection = new RedisConnection({ url: redis.url, mode: 'gateway' });
  t.teardown(() => connection.close());
  await connection.waitUntilUp(3_000);
  const keyspace = new RedisKeyspace('test:');
  const locker = new RedisLocker({ connection, keyspace, instanceId, leaseMs: options.leaseMs ?? 1_000, ...(options.clock && { clock: options.clock }) });
  return { connection, locker, storage: new RedisStorage({ connection, keyspace, locker, instanceId }) };
}

t.test('redis store', async (t) => {
  const dir = t.testdir();
  const redis = await startRedis(t, join(dir, 'redis'));
  const config = configFor(dir, redis);
  const store: SharedStore = await openRedisStore(config, { mode: 'gateway' });
  t.teardown(() => store.close());

  await t.test('the Storage contract', async (t) => {
    t.equal(await store.exists('a/b/value.txt'), false);
    await t.rejects(store.load('a/b/value.txt'), { code: 'ENOENT' });
    t.equal(await loadText(store, 'a/b/value.txt'), undefined);
    await store.store('a/b/value.txt', 'hello');
    await store.store('a/bin', Buffer.from([0, 1, 2, 255]));
    await store.store('top', 'x');
    t.equal((await store.load('a/b/value.txt')).toString(), 'hello');
    t.same([...(await store.load('a/bin'))], [0, 1, 2, 255], 'binary values survive');
    t.equal(await store.exists('a/b/value.txt'), true);
    t.same(await store.list('a'), ['a/b', 'a/bin'], 'direct children, sorted, non-recursive');
    t.same(await store.list('a/b'), ['a/b/value.txt']);
    t.same(await store.list('nothing/here'), []);
    await store.delete('a/b/value.txt');
    await store.delete('a/b/value.txt');
    t.equal(await store.exists('a/b/value.txt'), false);
    t.same(await store.list('a/b'), []);
    await t.rejects(store.store('a/../escape', 'x'), { code: ErrorCodes.STORE_IO });
  });

  await t.test('append is atomic across writers', async (t) => {
    const other = await rawStore(t, redis, 'other');
    await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? store : other.storage).append('audit/audit.log', `line ${i}\n`)));
    const lines = (await loadText(store, 'audit/audit.log'))!.trim().split('\n');
    t.equal(lines.length, 50);
    t.equal(new Set(lines).size, 50);
  });

  await t.test('secrets are sealed in Redis; plain values stay readable', async (t) => {
    await store.store('certificates/rsa-2048/versions/01/private-key.pem', '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n', { secret: true });
    await store.store('certificates/rsa-2048/versions/01/certificate.pem', '-----BEGIN CERTIFICATE-----\n');
    const raw = await redis.cli('GET', '{test}:v:certificates/rsa-2048/versions/01/private-key.pem');
    t.match(raw, /^ucgate:enc:v1:[0-9a-f]{8}:/);
    t.notMatch(raw, /PRIVATE KEY/);
    t.match(await redis.cli('GET', '{test}:v:certificates/rsa-2048/versions/01/certificate.pem'), /BEGIN CERTIFICATE/);
    t.match((await store.load('certificates/rsa-2048/versions/01/private-key.pem')).toString(), /BEGIN PRIVATE KEY/);
    // The same ciphertext under another key does not open (the storage key is the GCM additional data).
    await redis.cli('SET', '{test}:v:certificates/rsa-2048/versions/02/private-key.pem', raw);
    await t.rejects(store.load('certificates/rsa-2048/versions/02/private-key.pem'), { code: ErrorCodes.STORE_DECRYPT });
  });

  await t.test('writing an active pointer announces it', async (t) => {
    const subscriber = new Redis({ port: redis.port, host: '127.0.0.1' });
    t.teardown(() => subscriber.disconnect());
    await subscriber.subscribe('{test}:certificates');
    const received = new Promise<string>((resolve) => subscriber.once('message', (_channel: string, text: string) => resolve(text)));
    await store.store('certificates/rsa-2048/active', '0abc\n');
    const message = JSON.parse(await received) as { keyType: string; serial: string; origin: string };
    t.equal(message.keyType, 'rsa-2048');
    t.equal(message.serial, '0abc');
    t.equal(message.origin, store.instanceId);
  });

  await t.test('the lease lock: one holder at a time, fencing tokens grow', async (t) => {
    const a = await rawStore(t, redis, 'a');
    const b = await rawStore(t, redis, 'b');
    const releaseA = await a.locker.lock('issue-test');
    const tokenA = a.locker.lease('issue-test')!.token;
    let bGot = false;
    const bLock = b.locker.lock('issue-test').then((release) => ((bGot = true), release));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    t.equal(bGot, false, 'held past its lease while the holder extends it');
    await releaseA();
    const releaseB = await bLock;
    t.ok(b.locker.lease('issue-test')!.token > tokenA, 'the next grant has a larger fencing token');
    await releaseB();
  });

  await t.test('a holder that dies loses the lease after its length; its late writes are refused', async (t) => {
    // A clock that never moves: the holder never extends its lease, as if it had died (or froze) right after the grant.
    const dead = await rawStore(t, redis, 'dead', { clock: new FakeClock() });
    const alive = await rawStore(t, redis, 'alive');
    await dead.locker.lock('issue-rsa-2048');
    const started = Date.now();
    const release = await alive.locker.lock('issue-rsa-2048');
    t.ok(Date.now() - started < 2_000, 'taken over once the lease ran out');
    await alive.storage.store('certificates/rsa-2048/active', 'new\n');
    // The frozen holder wakes up and writes under its old lease: refused by the fence; the successor's value stays.
    await t.rejects(dead.storage.store('certificates/rsa-2048/active', 'old\n'), { code: ErrorCodes.STORE_LOCK_LOST });
    t.equal((await alive.storage.load('certificates/rsa-2048/active')).toString(), 'new\n');
    await release();
  });

  await t.test('a worker\'s read-only handle sees what another process stored, secrets opened', async (t) => {
    await store.store('acme/challenges/tls-alpn-01/ucgw.example.test.json', '{"keyPem":"k"}', { secret: true });
    const reader = openStoreReader(config);
    t.equal((await reader.load('acme/challenges/tls-alpn-01/ucgw.example.test.json')).toString(), '{"keyPem":"k"}');
    await t.rejects(reader.load('acme/challenges/http-01/none'), { code: 'ENOENT' });
    await t.rejects(reader.store('x', 'y'));
  });

  await t.test('fence scopes', async (t) => {
    t.equal(fenceLockFor('certificates/rsa-2048/active'), 'issue-rsa-2048');
    t.equal(fenceLockFor('ca/self-signed/ca-key.pem'), 'self-signed-ca');
    t.equal(fenceLockFor('acme/accounts/x/account-key.pem'), 'acme-account');
    t.equal(fenceLockFor('audit/audit.log'), undefined);
    t.equal(fenceLockFor('acme/challenges/http-01/abc'), undefined);
  });

  await t.test('a redis store refuses to open without a store key', async (t) => {
    const noKey = { ...config, certificates: { ...config.certificates, store: { ...config.certificates.store, keyFile: undefined } } } as UcgateConfig;
    await t.rejects(openRedisStore(noKey, { mode: 'cli', env: {} }), { code: ErrorCodes.STORE_KEY });
    const open = join(dir, 'open.key');
    writeFileSync(open, STORE_KEY);
    chmodSync(open, 0o644);
    const tooOpen = { ...config, certificates: { ...config.certificates, store: { ...config.certificates.store, keyFile: open } } } as UcgateConfig;
    await t.rejects(openRedisStore(tooOpen, { mode: 'cli' }), { code: ErrorCodes.STORE_KEY, message: /chmod 600/ });
    const fromEnv = await openRedisStore(noKey, { mode: 'cli', env: { UCGATE_STORE_KEY: STORE_KEY } });
    t.match((await fromEnv.load('certificates/rsa-2048/versions/01/private-key.pem')).toString(), /BEGIN PRIVATE KEY/, 'the env key opens what the file key sealed');
    await fromEnv.close();
  });
});
