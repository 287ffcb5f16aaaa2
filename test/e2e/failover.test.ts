/**
 * Failover that clients never notice: a real gateway process in front of
 * simulated CUCM nodes, under concurrent load, while nodes die, hang, say they
 * are busy, and come back.
 */
import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster, type CucmCluster } from '../../src/sim/cucm-cluster.js';
import { issueLeaf } from '../../src/pki/x509.js';
import { httpsRequest, waitFor } from '../helpers/net.js';
import { startClusterGateway, startGatewayProcess, writeConfig, clusterConfig, scrapeMetric, adminPortOf, TEST_ROUTES, FQDN } from '../helpers/gateway.js';
import { startLoad } from '../helpers/load.js';
import { startNodeProcess } from '../helpers/node-process.js';

const FAST_HEALTH = { path: '/cucm-uds/version', intervalMs: 250, timeoutMs: 600, fall: 2, rise: 2, expectStatus: 200, expectBody: '<versionInformation' };
// Generous enough for a shared, loaded CI machine; the assertions below are relative to these.
const TIMEOUTS = { connectMs: 1000, firstByteMs: 2000 };
const LOAD_CONCURRENCY = 12;

const gatewayFor = (t: Test, cucm: CucmCluster, extra: Record<string, unknown> = {}, clusterExtra: Record<string, unknown> = {}) =>
  startClusterGateway(t, cucm, { healthCheck: FAST_HEALTH, timeouts: TIMEOUTS, ...clusterExtra }, extra);

t.test('the publisher killed under load: no failed request, the failover counter moves, and traffic fails back', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const { gw, ca } = await gatewayFor(t, cucm);
  const load = startLoad({ port: gw.port, ca, servername: FQDN, concurrency: LOAD_CONCURRENCY });
  await waitFor(() => load.results.filter((r) => r.node === 'pub').length >= 100, { timeoutMs: 15_000, message: '100 answers from pub' });
  const killedAt = Date.now();
  await cucm.publisher.stop();
  await waitFor(() => load.results.filter((r) => r.startedAt > killedAt).length >= 300, { timeoutMs: 20_000, message: '300 answers after the kill' });
  await waitFor(async () => (await scrapeMetric(gw, 'ucgate_upstream_node_up', 'node="pub"')) === 0, { timeoutMs: 5_000, message: 'pub reported down' });
  t.equal((await scrapeMetric(gw, 'ucgate_upstream_node_up', 'node="sub1"')), 1, 'sub1 up');
  const readyz = await fetch(`http://127.0.0.1:${adminPortOf(gw)}/readyz`);
  t.equal(readyz.status, 200, 'still ready: the cluster has a healthy node');

  await cucm.publisher.restart();
  const restartedAt = Date.now();
  // Each worker learns of the rise from the primary on its own event loop: one answer from pub says
  // one worker knows, not both (under load the other can lag by more than any fixed margin). The
  // switch has settled once the latest answers, three per connection of the load, all came from pub.
  const settled = 3 * LOAD_CONCURRENCY;
  await waitFor(
    () => {
      const latest = load.results.filter((r) => r.startedAt > restartedAt).slice(-settled);
      return latest.length === settled && latest.every((r) => r.node === 'pub');
    },
    { timeoutMs: 20_000, message: `the latest ${settled} answers all from pub` },
  );
  const backAt = Date.now();
  await waitFor(() => load.results.filter((r) => r.startedAt > backAt + 100).length >= 50, { timeoutMs: 10_000, message: 'load after fail-back' });
  const results = await load.stop();
  t.same(load.failures().slice(0, 5), [], `no failed request among ${results.length}`);
  t.ok(results.some((r) => r.startedAt > killedAt && r.node === 'sub1'), 'the subscriber took over');
  t.ok((await scrapeMetric(gw, 'ucgate_failovers_total', 'cluster="cucm"'))! > 0, 'ucgate_failovers_total moved');
  const latest = results.filter((r) => r.startedAt > backAt + 100);
  t.ok(latest.length > 0 && latest.every((r) => r.node === 'pub'), 'after rise, new traffic is back on the publisher');
  const down = await gw.waitForLog((line) => line.event === 'upstream_down' && line.node === 'pub');
  t.match(String(down.layer), /connect|reset|timeout/, 'the down event names the layer that failed');
});

t.test('a publisher that accepts and never answers: only requests already on it wait, later ones go straight to the subscriber', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const { gw, ca } = await gatewayFor(t, cucm);
  const load = startLoad({ port: gw.port, ca, servername: FQDN, concurrency: 10 });
  await waitFor(() => load.results.filter((r) => r.node === 'pub').length >= 50, { timeoutMs: 15_000, message: '50 answers from pub' });
  const hungAt = Date.now();
  cucm.publisher.setBehaviour('hang');
  await waitFor(() => load.results.filter((r) => r.startedAt > hungAt + TIMEOUTS.firstByteMs + 1500).length >= 200, { timeoutMs: 20_000, message: 'load after the hang' });
  const results = await load.stop();
  t.same(load.failures().slice(0, 5), [], 'no request failed');
  const worst = Math.max(...results.filter((r) => r.startedAt > hungAt - 200).map((r) => r.durationMs));
  t.ok(worst <= TIMEOUTS.firstByteMs + 1500, `worst wait ${worst} ms is bounded by the first-byte timeout (${TIMEOUTS.firstByteMs} ms)`);
  const later = results.filter((r) => r.startedAt > hungAt + TIMEOUTS.firstByteMs + 1500);
  t.ok(later.every((r) => r.node === 'sub1'), 'later requests are answered by the subscriber');
  const slowLater = later.filter((r) => r.durationMs > 1000);
  t.same(slowLater.slice(0, 3), [], 'and none of them waits for the hung node');
  const down = await gw.waitForLog((line) => line.event === 'upstream_down' && line.node === 'pub');
  t.match(String(down.layer), /timeout/, 'classified as a timeout');
});

t.test('a publisher frozen by SIGSTOP: no request fails, later ones go straight to the subscriber', async (t) => {
  const cucm = await startCucmCluster({ nodes: [{ name: 'sub1', hostname: 'cucm-sub1.example.test' }] });
  t.teardown(() => cucm.close());
  const pubLeaf = await issueLeaf({ issuer: cucm.ca, commonName: 'cucm-pub.example.test', subjectAltNames: ['cucm-pub.example.test', '127.0.0.1'] });
  const pub = await startNodeProcess(t, { name: 'pub', hostname: 'cucm-pub.example.test', certPem: pubLeaf.certPem, keyPem: pubLeaf.keyPem });
  const fakeCluster = {
    ...cucm,
    nodes: [{ name: 'pub', hostname: 'cucm-pub.example.test', port: pub.port }, cucm.node('sub1')],
  } as unknown as CucmCluster;
  const { gw, ca } = await gatewayFor(t, fakeCluster);
  const load = startLoad({ port: gw.port, ca, servername: FQDN, concurrency: 10 });
  await waitFor(() => load.results.filter((r) => r.node === 'pub').length >= 50, { timeoutMs: 15_000, message: '50 answers from pub' });
  const stoppedAt = Date.now();
  pub.kill('SIGSTOP');
  await waitFor(() => load.results.filter((r) => r.startedAt > stoppedAt + TIMEOUTS.firstByteMs + 1500).length >= 200, { timeoutMs: 20_000, message: 'load after SIGSTOP' });
  const results = await load.stop();
  pub.kill('SIGCONT');
  t.same(load.failures().slice(0, 5), [], 'no request failed');
  const worst = Math.max(...results.filter((r) => r.startedAt > stoppedAt - 200).map((r) => r.durationMs));
  t.ok(worst <= TIMEOUTS.firstByteMs + 1500, `worst wait ${worst} ms is bounded by the first-byte timeout`);
  const later = results.filter((r) => r.startedAt > stoppedAt + TIMEOUTS.firstByteMs + 1500);
  t.ok(later.every((r) => r.node === 'sub1' && r.durationMs < 1000), 'later requests go straight to the subscriber');
});

t.test('503 with Retry-After moves traffic away for that long, then it comes back', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const { gw, ca } = await gatewayFor(t, cucm);
  const load = startLoad({ port: gw.port, ca, servername: FQDN, concurrency: 6 });
  await waitFor(() => load.results.filter((r) => r.node === 'pub').length >= 30, { timeoutMs: 15_000, message: 'answers from pub' });
  const busyAt = Date.now();
  cucm.publisher.setBehaviour({ status: 503, headers: { 'retry-after': '2' }, body: 'busy' });
  await waitFor(() => Date.now() > busyAt + 800, { timeoutMs: 2_000 });
  cucm.publisher.setBehaviour('normal');
  const recoveredAt = Date.now();
  await waitFor(() => load.results.some((r) => r.startedAt > recoveredAt && r.node === 'pub'), { timeoutMs: 10_000, message: 'traffic back on pub' });
  const results = await load.stop();
  t.same(load.failures().slice(0, 5), [], 'no client saw the 503');
  const during = results.filter((r) => r.startedAt > busyAt + 300 && r.startedAt < recoveredAt + 1500);
  t.ok(during.length > 0 && during.every((r) => r.node === 'sub1'), 'while the Retry-After runs, traffic stays on the subscriber');
  const back = results.find((r) => r.startedAt > recoveredAt && r.node === 'pub')!;
  t.ok(back.startedAt - recoveredAt >= 1500, `it returns after the Retry-After (${back.startedAt - recoveredAt} ms after the node recovered)`);
  t.ok(back.startedAt - recoveredAt <= 4000, 'and not much later: the node was never ejected for longer');
});

t.test('a sticky session stays on its node across workers, and moves once when that node dies', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const dir = t.testdir();
  const caFile = join(dir, 'cucm-ca.pem');
  writeFileSync(caFile, cucm.caPem);
  const cluster = clusterConfig(cucm, caFile, { healthCheck: FAST_HEALTH, timeouts: TIMEOUTS, sticky: { cookie: 'JSESSIONID' } }) as { nodes: { priority: number }[] };
  for (const node of cluster.nodes) node.priority = 1; // one tier: without stickiness, round robin would alternate
  const gatewayConfig = {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }] },
    clusters: [cluster],
    routes: TEST_ROUTES,
    workers: 2,
  };
  const gw = await startGatewayProcess(t, dir, gatewayConfig);
  const ca = await gw.trustPem();
  const get = (cookie?: string) =>
    httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/ccmcip/xmldirectorylist.jsp?l=smith', ca, servername: FQDN, headers: cookie ? { cookie } : {} });
  const unsticky = await Promise.all(Array.from({ length: 6 }, () => get()));
  t.same(new Set(unsticky.map((r) => r.headers['x-cucm-node'])), new Set(['pub', 'sub1']), 'without a session, both nodes share the load');
  const first = await get();
  const issuer = first.headers['x-cucm-node'] as string;
  const session = /JSESSIONID=([^;]+)/.exec(String(first.headers['set-cookie']))![1]!;
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    // A fresh connection each time, so the requests spread over both workers.
    const res = await get(`JSESSIONID=${session}`);
    seen.add(res.headers['x-cucm-node'] as string);
  }
  t.same([...seen], [issuer], `50 requests stayed on ${issuer}`);
  // A reload that changes something else keeps the sessions.
  writeConfig(dir, { ...gatewayConfig, shutdown: { graceMs: 1000 } });
  gw.proc.kill('SIGHUP');
  await gw.waitForLog((line) => line.event === 'reload_applied');
  const afterReload = new Set<string>();
  for (let i = 0; i < 20; i++) afterReload.add((await get(`JSESSIONID=${session}`)).headers['x-cucm-node'] as string);
  t.same([...afterReload], [issuer], `a config reload keeps the session on ${issuer}`);
  await cucm.node(issuer).stop();
  t.teardown(() => cucm.node(issuer).restart());
  const moved = await get(`JSESSIONID=${session}`);
  t.equal(moved.status, 200);
  const other = moved.headers['x-cucm-node'] as string;
  t.not(other, issuer, 'moved to the other node');
  const newSession = /JSESSIONID=([^;]+)/.exec(String(moved.headers['set-cookie']))![1]!;
  await cucm.node(issuer).restart();
  await waitFor(async () => (await get()).headers['x-cucm-node'] === issuer, { timeoutMs: 10_000, message: `${issuer} back in rotation` });
  const after = new Set<string>();
  for (let i = 0; i < 20; i++) after.add((await get(`JSESSIONID=${newSession}`)).headers['x-cucm-node'] as string);
  t.same([...after], [other], 'the moved session stays where it went, even after its first node returned');
});
