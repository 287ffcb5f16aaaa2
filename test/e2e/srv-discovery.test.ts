/**
 * Nodes from `_cisco-uds._tcp` SRV records served by a real dnsmasq: traffic
 * follows the records when they change, and the last good answer keeps
 * working when DNS goes away.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest, waitFor } from '../helpers/net.js';
import { startGatewayProcess, TEST_ROUTES, FQDN } from '../helpers/gateway.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';

const SRV = '_cisco-uds._tcp.example.test';

t.test('SRV discovery', async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const pub = cucm.node('pub');
  const sub = cucm.node('sub1');
  const hosts = { [pub.hostname]: '127.0.0.1', [sub.hostname]: '127.0.0.1' };
  const dns = await startDnsmasq(t, dir, SRV, [
    { target: pub.hostname, port: pub.port, priority: 10, weight: 60 },
    { target: sub.hostname, port: sub.port, priority: 20, weight: 60 },
  ], hosts);
  writeFileSync(join(dir, 'cucm-ca.pem'), cucm.caPem);
  const gw = await startGatewayProcess(t, dir, {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }] },
    clusters: [
      {
        name: 'cucm',
        srv: { name: SRV, servers: [`127.0.0.1:${dns.port}`], refreshSeconds: 1 },
        tls: { caFile: 'cucm-ca.pem' },
        healthCheck: { intervalMs: 300, timeoutMs: 600 },
      },
    ],
    routes: TEST_ROUTES,
  });
  const ca = await gw.trustPem();
  const answeredBy = async () => (await httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/cucm-uds/version', ca, servername: FQDN })).headers['x-cucm-node'];

  const found = await gw.waitForLog((line) => line.event === 'srv_nodes');
  t.same((found.nodes as { name: string }[]).map((n) => n.name), [pub.hostname, sub.hostname], 'both targets found, in priority order');
  t.equal(await answeredBy(), 'pub', 'the lowest SRV priority takes the traffic');

  await dns.setRecords([
    { target: pub.hostname, port: pub.port, priority: 20, weight: 60 },
    { target: sub.hostname, port: sub.port, priority: 10, weight: 60 },
  ]);
  const changedAt = Date.now();
  await waitFor(async () => (await answeredBy()) === 'sub1', { timeoutMs: 5_000, intervalMs: 100, message: 'traffic follows the swapped priorities' });
  t.ok(Date.now() - changedAt < 4_000, `traffic followed within ${Date.now() - changedAt} ms (refreshSeconds: 1)`);

  await dns.stop();
  await gw.waitForLog((line) => line.event === 'srv_lookup_failed', 10_000);
  for (let i = 0; i < 10; i++) t.equal(await answeredBy(), 'sub1', `DNS down: the last good answer keeps serving (${i + 1})`);
  const failures = gw.logs.filter((line) => line.event === 'srv_lookup_failed').length;
  await waitFor(() => gw.logs.filter((line) => line.event === 'srv_lookup_failed').length > failures, { timeoutMs: 5_000, message: 'another failed refresh' });
  t.equal(await answeredBy(), 'sub1', 'still serving after further failed refreshes');
});
