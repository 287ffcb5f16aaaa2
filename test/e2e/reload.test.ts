/**
 * Hot reload under load: a route added and a node removed without a failed
 * request; a bad config refused with the reason while the old one keeps
 * serving.
 */
import t from 'tap';
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest, waitFor } from '../helpers/net.js';
import { startGatewayProcess, clusterConfig, writeConfig, TEST_ROUTES, FQDN, TEST_ADMIN_TOKEN } from '../helpers/gateway.js';
import { startLoad } from '../helpers/load.js';

t.test('reload', async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  writeFileSync(join(dir, 'cucm-ca.pem'), cucm.caPem);
  const tokenFile = join(dir, 'admin.token');
  writeFileSync(tokenFile, `${TEST_ADMIN_TOKEN}\n`);
  chmodSync(tokenFile, 0o600);
  const cluster = clusterConfig(cucm, join(dir, 'cucm-ca.pem'), { healthCheck: { intervalMs: 300 } }) as { nodes: unknown[] };
  const base = {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }], admin: { host: '127.0.0.1', port: 0, tls: false, tokenFile } },
    clusters: [cluster],
    routes: TEST_ROUTES,
    workers: 2,
    log: { access: false },
  };
  const gw = await startGatewayProcess(t, dir, base);
  const ca = await gw.trustPem();
  const admin = (gw.logs.find((l) => l.event === 'gateway_ready') as { admin: { port: number } }).admin.port;
  const get = (path: string) => httpsRequest({ host: '127.0.0.1', port: gw.port, path, ca, servername: FQDN });
  const routed = async () => (await get('/ccmpd/pdCheckLogin.do')).headers['x-cucm-node'] !== undefined;
  t.equal(await routed(), false, 'before: /ccmpd/ is not routed (the gateway answers 404 itself)');

  const load = startLoad({ port: gw.port, ca, servername: FQDN, concurrency: 10 });
  await waitFor(() => load.results.length >= 200, { timeoutMs: 15_000, message: 'load running' });
  writeConfig(dir, { ...base, clusters: [{ ...cluster, nodes: [cluster.nodes[1]] }], routes: [...TEST_ROUTES, { pathPrefix: '/ccmpd/', cluster: 'cucm' }] });
  gw.proc.kill('SIGHUP');
  const applied = await gw.waitForLog((line) => line.event === 'reload_applied');
  const reloadedAt = Date.now();
  await waitFor(() => load.results.filter((r) => r.startedAt > reloadedAt).length >= 200, { timeoutMs: 15_000, message: 'load after the reload' });
  const results = await load.stop();
  t.same(load.failures().slice(0, 5), [], `no request failed across the reload (${results.length} requests)`);
  t.ok(results.filter((r) => r.startedAt > reloadedAt + 100).every((r) => r.node === 'sub1'), 'the removed publisher gets no new traffic');
  t.equal(await routed(), true, 'the added route is live: a node answers');
  t.same(applied.restartNeeded, [], 'nothing needed a restart');

  writeConfig(dir, { ...base, clusters: [{ ...cluster, nodes: [{ name: 'pub', url: 'http://cucm-pub.example.test:8443' }] }] });
  const refused = await fetch(`http://127.0.0.1:${admin}/api/v1/reload`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  t.equal(refused.status, 422, 'a bad config is refused');
  const body = (await refused.json()) as { problems: string[] };
  t.match(body.problems.join('\n'), /clusters\[0\]\.nodes\[0\]\.url/, 'and the answer names the key');
  // Issue 18: the log line carries its reasons too, in the message a person reads and as fields.
  const rejected = await gw.waitForLog((line) => line.event === 'reload_rejected');
  t.match(rejected, { keys: ['clusters[0].nodes[0].url'], msg: /^reload refused, the running config stays: clusters\[0\]\.nodes\[0\]\.url: must be an https:\/\/ URL/ }, 'reload_rejected names the key and the problem');
  t.match((rejected.located as string[])[0], /ucgate\.yaml:\d+:\d+ clusters\[0\]\.nodes\[0\]\.url: /, 'and where it is in the file');
  t.equal(await routed(), true, 'the running config stays (the added route still works)');
  t.equal((await get('/cucm-uds/version')).headers['x-cucm-node'], 'sub1', 'and so do its nodes');
});
