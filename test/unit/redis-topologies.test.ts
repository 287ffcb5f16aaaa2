/**
 * The URL forms (standalone, TLS, Sentinel, Cluster) and the store on the
 * real thing: a 3-master Redis Cluster (every key under one hash tag, so the
 * scripts work) and a master behind a Sentinel. Also the store key: a wrong
 * key or an altered value is refused with a reason, never returned garbled.
 */
import t from 'tap';
import { join } from 'node:path';
import { writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { startRedis, startRedisCluster, startSentinel } from '../helpers/redis.js';
import { waitFor } from '../helpers/net.js';
import { parseRedisUrl, redactRedisUrl } from '../../src/config/redis-url.js';
import { RedisKeyspace } from '../../src/store/redis-client.js';
import { StoreKey, isSealed } from '../../src/store/encrypted-values.js';
import { openRedisStore } from '../../src/store/shared-store.js';
import { ErrorCodes } from '../../src/errors.js';
import { configFormats } from '../../src/config/formats.js';
import type { UcgateConfig } from '../../src/config/types.js';
import type { StoreChange } from '../../src/store/store-events.js';

t.test('URL forms', async (t) => {
  t.match(parseRedisUrl('redis://127.0.0.1:6390'), { topology: 'standalone', tls: false, endpoints: [{ host: '127.0.0.1', port: 6390 }], db: 0 });
  t.match(parseRedisUrl('rediss://user:p%40ss@redis.example.test/2'), { tls: true, username: 'user', password: 'p@ss', endpoints: [{ port: 6379 }], db: 2 });
  t.match(parseRedisUrl('redis+sentinel://:pw@s1:26379,s2,[::1]:26380/mymaster'), {
    topology: 'sentinel',
    password: 'pw',
    masterName: 'mymaster',
    endpoints: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }, { host: '::1', port: 26380 }],
  });
  t.match(parseRedisUrl('rediss+cluster://n1:7000,n2:7001'), { topology: 'cluster', tls: true, endpoints: [{ port: 7000 }, { port: 7001 }] });
  for (const bad of ['http://x', 'redis://a:1,b:2', 'redis+sentinel://s1:26379', 'redis+cluster://n1:7000/3', 'redis://host:99999', 'redis://host/x']) {
    t.ok('error' in parseRedisUrl(bad), `${bad} refused`);
    t.equal(configFormats['redis-url']!(bad), false, `${bad} refused by the config checker`);
  }
  t.equal(redactRedisUrl('redis://user:secret@h:1'), 'redis://user:***@h:1');
  t.equal(redactRedisUrl('redis+sentinel://:secret@h:1,h:2/m'), 'redis+sentinel://:***@h:1,h:2/m');
  t.equal(new RedisKeyspace('ucgate:').value('a/b'), '{ucgate}:v:a/b');
  t.equal(new RedisKeyspace('site-{x}:').lock('l'), 'site-{x}:lock:l', 'a prefix with its own hash tag is kept');
});

t.test('store key: sealed values open only with the right key, for the right storage key', async (t) => {
  const key = new StoreKey(randomBytes(32), 'test');
  const other = new StoreKey(randomBytes(32), 'other');
  const sealed = key.seal('a/private-key.pem', Buffer.from('secret'));
  t.ok(isSealed(sealed));
  t.equal(key.open('a/private-key.pem', Buffer.from(sealed)).toString(), 'secret');
  t.throws(() => other.open('a/private-key.pem', Buffer.from(sealed)), { code: ErrorCodes.STORE_DECRYPT, message: new RegExp(`sealed with store key ${key.id}`) });
  t.throws(() => key.open('b/private-key.pem', Buffer.from(sealed)), { code: ErrorCodes.STORE_DECRYPT });
  const altered = sealed.slice(0, -4) + (sealed.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  t.throws(() => key.open('a/private-key.pem', Buffer.from(altered)), { code: ErrorCodes.STORE_DECRYPT });
  t.throws(() => StoreKey.fromBase64(randomBytes(16).toString('base64'), 'short'), { code: ErrorCodes.STORE_KEY });
  t.throws(() => StoreKey.fromBase64('not base64!', 'junk'), { code: ErrorCodes.STORE_KEY });
});

function configFor(dir: string, url: string, name: string): UcgateConfig {
  const keyFile = join(dir, 'store.key');
  writeFileSync(keyFile, randomBytes(32).toString('base64'));
  chmodSync(keyFile, 0o600);
  return {
    configFile: join(dir, 'ucgate.yaml'),
    certificates: { dir: join(dir, name), store: { type: 'redis', url, keyFile, lockLeaseMs: 1_000 } },
  } as unknown as UcgateConfig;
}

t.test('Redis Cluster: values, folders, locks, fencing and announcements across 3 masters', async (t) => {
  const dir = t.testdir();
  const cluster = await startRedisCluster(t, join(dir, 'cluster'));
  const config = configFor(dir, cluster.url, 'a');
  const a = await openRedisStore(config, { mode: 'gateway', connectWaitMs: 10_000 });
  const b = await openRedisStore({ ...config, certificates: { ...config.certificates, dir: join(dir, 'b') } }, { mode: 'gateway', connectWaitMs: 10_000 });
  t.teardown(() => Promise.all([a.close(), b.close()]));
  t.equal(a.status().connected, true);
  const seen: StoreChange[] = [];
  b.watch({ keyTypes: ['rsa-2048'], servedSerial: () => undefined, checkIntervalMs: 60_000 }).on('change', (c: StoreChange) => seen.push(c));
  // Cluster pub/sub is per node (messages cross the bus): count subscribers on every master.
  const subscribers = async () =>
    (await Promise.all(cluster.ports.map((port) => cluster.cliAt(port, 'PUBSUB', 'NUMSUB', '{ucgate}:certificates')))).reduce((sum, out) => sum + Number(out.split('\n')[1]), 0);
  await waitFor(async () => (await subscribers()) === 1, { timeoutMs: 10_000, message: 'b subscribed' });

  const release = await a.lock('issue-rsa-2048');
  await a.store('certificates/rsa-2048/versions/0a/private-key.pem', 'KEY', { secret: true });
  await a.store('certificates/rsa-2048/active', '0a\n');
  await a.append('audit/audit.log', 'one\n');
  await release();
  t.equal((await b.load('certificates/rsa-2048/versions/0a/private-key.pem')).toString(), 'KEY');
  t.same(await b.list('certificates/rsa-2048'), ['certificates/rsa-2048/active', 'certificates/rsa-2048/versions']);
  t.equal((await b.load('audit/audit.log')).toString(), 'one\n');
  await waitFor(() => seen.some((c) => c.serial === '0a' && c.via === 'message'), { timeoutMs: 5_000, message: 'announcement across the cluster' });
  const slots = new Set((await cluster.cli('--no-raw', 'CLUSTER', 'KEYSLOT', '{ucgate}:v:anything')).split('\n'));
  t.equal(slots.size, 1, 'every key of the store maps to one slot (hash tag)');
});

t.test('Sentinel: the store finds the master through the sentinel', async (t) => {
  const dir = t.testdir();
  const master = await startRedis(t, join(dir, 'master'));
  const sentinel = await startSentinel(t, join(dir, 'sentinel'), master);
  const store = await openRedisStore(configFor(dir, sentinel.url, 's'), { mode: 'gateway', connectWaitMs: 10_000 });
  t.teardown(() => store.close());
  t.equal(store.status().connected, true, `connected through ${sentinel.url}`);
  await store.store('certificates/rsa-2048/active', '0b\n');
  t.equal(await master.cli('GET', '{ucgate}:v:certificates/rsa-2048/active'), '0b', 'the value is on the master the sentinel names');
  const release = await store.lock('issue-rsa-2048');
  await release();
});
