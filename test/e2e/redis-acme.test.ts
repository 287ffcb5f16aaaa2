/**
 * One orders, all serve — against a real ACME CA (pebble) and a real Redis,
 * with three gateway processes on one store:
 *
 * - started together on an empty store: exactly one ACME order; all three
 *   serve the certificate, which verifies against pebble's root;
 * - the certificates are short-lived (90 s), so all three fall due for
 *   renewal at the same moment: the instance that takes the lock and creates
 *   the order is killed (SIGKILL) right then, and another completes the
 *   renewal once the dead holder's lease runs out — one new certificate,
 *   served by both survivors.
 *
 * dns-01 (the TXT records go to pebble-challtestsrv through the dnsHook), so
 * the validator never depends on which instance ordered. For http-01 and
 * tls-alpn-01 any instance must answer from the shared store; see
 * src/challenges/challenge-store.ts `challengeStoreFor`.
 */
import t from 'tap';
import tls from 'node:tls';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { waitFor } from '../helpers/net.js';
import { startGatewayProcess, clusterConfig, TEST_ROUTES, FQDN, type GatewayProcess, type LogLine } from '../helpers/gateway.js';
import { startPebble, startChallTestSrv, freePort } from '../helpers/pebble.js';
import { startRedis } from '../helpers/redis.js';

t.setTimeout(240_000);

const LEASE_MS = 5_000;

/** Serial (lowercase hex) of what `port` serves, and whether it verifies against `root`. */
function served(port: number, root: string): Promise<{ serial: string; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: FQDN, ca: root, rejectUnauthorized: false }, () => {
      const serial = socket.getPeerCertificate().serialNumber.toLowerCase().replace(/^0+/, '');
      socket.end();
      resolve({ serial, authorized: socket.authorized });
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error('handshake timed out')));
    socket.on('error', reject);
  });
}

const orders = (gws: readonly GatewayProcess[]) => gws.flatMap((gw) => gw.logs.filter((line) => line.event === 'acme_order_created'));
/** Certificates these instances obtained themselves (not adopted from the store). */
const issued = (gws: readonly GatewayProcess[]) => gws.flatMap((gw) => gw.logs.filter((line: LogLine) => line.event === 'cert_renewed' && line.outcome === 'renewed')).length;

t.test('three gateways, one Redis store, one ACME CA', async (t) => {
  const dir = t.testdir();
  const redis = await startRedis(t, join(dir, 'redis'));
  const cucm = await startCucmCluster({ nodes: 1 });
  t.teardown(() => cucm.close());
  const dns = await startChallTestSrv(t);
  const pebble = await startPebble(t, dir, { httpPort: await freePort(), tlsPort: await freePort(), dnsServer: dns.dnsServer, validitySeconds: 90 });
  const cucmCa = join(dir, 'cucm-ca.pem');
  writeFileSync(cucmCa, cucm.caPem);
  const keyFile = join(dir, 'store.key');
  writeFileSync(keyFile, randomBytes(32).toString('base64'));
  chmodSync(keyFile, 0o600);
  const hook = join(dir, 'dns-hook.mjs');
  writeFileSync(
    hook,
    `// dnsHook: present|cleanup NAME VALUE -> pebble-challtestsrv's TXT API
const [action, name, value] = process.argv.slice(2);
const res = await fetch('${dns.managementUrl}' + (action === 'present' ? '/set-txt' : '/clear-txt'), { method: 'POST', body: JSON.stringify({ host: name + '.', value }) });
if (!res.ok) process.exit(1);
`,
  );

  const start = (name: string) => {
    mkdirSync(join(dir, name), { recursive: true });
    return startGatewayProcess(t, join(dir, name), {
      workers: name === 'a' ? 1 : 0,
      gateway: { fqdn: FQDN },
      listen: { https: [{ host: '127.0.0.1', port: 0 }] },
      certificates: {
        dir: join(dir, name, 'certs'),
        store: { type: 'redis', url: redis.url, keyFile, lockLeaseMs: LEASE_MS, checkIntervalMs: 2_000 },
        issuer: {
          type: 'acme',
          acme: { directoryUrl: pebble.directoryUrl, caFile: pebble.tlsCaFile, email: 'pki@example.test', challenge: 'dns-01', dnsHook: `"${process.execPath}" "${hook}"`, dnsPropagation: { nameservers: [dns.dnsServer], intervalMs: 100 } },
        },
      },
      clusters: [clusterConfig(cucm, cucmCa)],
      routes: TEST_ROUTES,
    });
  };

  let gws = await Promise.all(['a', 'b', 'c'].map(start));
  const root = await pebble.root();
  const all = () => Promise.all(gws.map((gw) => served(gw.port, root)));

  let first = '';
  await t.test('started together: exactly one ACME order, served by all three', async (t) => {
    await waitFor(
      async () => {
        const now = await all();
        return now.every((s) => s.authorized && s.serial === now[0]!.serial) ? now : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, message: 'all three serve one ACME certificate' },
    );
    first = (await all())[0]!.serial;
    t.equal(orders(gws).length, 1, 'one order among the three');
    t.equal(issued(gws), 1, 'one issuance');
  });

  await t.test('the holder killed mid-renewal: another completes it after the lease', async (t) => {
    const before = orders(gws).length;
    const issuedBefore = issued(gws);
    let victim: GatewayProcess | undefined;
    // All three fall due together (a third of 90 s left); kill whoever creates the order, the moment it does.
    const watch = (gw: GatewayProcess) => (chunk: Buffer) => {
      if (!victim && chunk.toString().includes('"acme_order_created"')) {
        victim = gw;
        gw.proc.kill('SIGKILL');
      }
    };
    for (const gw of gws) gw.proc.stdout!.on('data', watch(gw));
    await waitFor(() => victim, { timeoutMs: 90_000, intervalMs: 50, message: 'an instance starts the renewal order' });
    const killedAt = Date.now();
    const pttl = Number(await redis.cli('PTTL', '{ucgate}:lock:issue-rsa-2048'));
    t.ok(pttl > 0, `killed while holding the lease (${pttl} ms left)`);
    const survivors = gws.filter((gw) => gw !== victim);
    gws = survivors;
    const renewed = await waitFor(
      async () => {
        const now = await all();
        return now.every((s) => s.authorized && s.serial !== first && s.serial === now[0]!.serial) ? now[0]!.serial : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, message: 'both survivors serve a renewed certificate' },
    );
    t.ok(Date.now() - killedAt >= pttl - 500, `completed after the dead holder's lease ran out (${Date.now() - killedAt} ms)`);
    t.equal(issued([...survivors, victim!]) - issuedBefore, 1, `one survivor renewed (${renewed}), the other adopted or reloaded it`);
    t.equal(orders([...survivors, victim!]).length - before, 2, 'the killed order plus exactly one completing order');
  });
});
