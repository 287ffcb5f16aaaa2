/**
 * Health per service (clusters[].serviceChecks) through a real gateway process: the publisher's
 * "Cisco Tomcat" check fails while its UDS check passes, so Extension Mobility goes to the
 * subscriber and UDS stays on the publisher; the status API, the metrics and the logs say so.
 *
 * The simulated node fails every path at once (setBehaviour), so the tomcat check here reads
 * an answer that differs per node: `/ucgate-test/headers` echoes the Host header, and the check
 * expects the subscriber's name in it. With a per-path failure mode in the simulator, this would
 * check `/emapp/EMAppServlet` and fail it on the publisher only.
 */
import t from 'tap';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest, waitFor } from '../helpers/net.js';
import { startClusterGateway, adminPortOf, scrapeMetric, FQDN, TEST_ADMIN_TOKEN } from '../helpers/gateway.js';

const TOKEN = TEST_ADMIN_TOKEN;
const FAST_HEALTH = { path: '/cucm-uds/version', intervalMs: 250, timeoutMs: 600, fall: 2, rise: 2, expectStatus: 200, expectBody: '<versionInformation' };
const ROUTES = [
  { pathPrefix: '/cucm-uds/', cluster: 'cucm', methods: ['GET', 'HEAD'], service: 'uds' },
  { pathPrefix: '/emapp/EMAppServlet', cluster: 'cucm', replay: 'never', service: 'tomcat' },
];

const cucm = await startCucmCluster();
t.teardown(() => cucm.close());
const { gw, ca } = await startClusterGateway(
  t,
  cucm,
  {
    healthCheck: FAST_HEALTH,
    // Another path: the main check's expectBody is not inherited; this one passes on sub1 only.
    serviceChecks: { tomcat: { path: '/ucgate-test/headers', expectBody: 'cucm-sub1.example.test' } },
  },
  { routes: ROUTES },
);
const down = await gw.waitForLog((line) => line.event === 'upstream_down' && line.node === 'pub' && line.service === 'tomcat');

t.test("the publisher's tomcat check fails, its main check does not", async (t) => {
  t.match(down, { cluster: 'cucm', layer: 'body', source: 'check' });
  t.notOk(gw.logs.some((line) => line.event === 'upstream_down' && line.service === undefined), 'no node is down for the main check');

  const res = await fetch(`http://127.0.0.1:${adminPortOf(gw)}/api/v1/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(res.status, 200);
  const status = (await res.json()) as { clusters: { nodes: Record<string, unknown>[] }[] };
  t.match(status.clusters[0]!.nodes, [
    { name: 'pub', healthy: true, up: true, services: [{ name: 'tomcat', path: '/ucgate-test/headers', healthy: false, up: false, lastError: { layer: 'body', source: 'check' } }] },
    { name: 'sub1', healthy: true, up: true, services: [{ name: 'tomcat', healthy: true, up: true, lastError: null }] },
  ]);

  t.equal(await scrapeMetric(gw, 'ucgate_upstream_service_up', 'node="pub",service="tomcat"'), 0, 'service gauge: pub down for tomcat');
  t.equal(await scrapeMetric(gw, 'ucgate_upstream_service_up', 'node="sub1",service="tomcat"'), 1, 'sub1 up for tomcat');
  t.equal(await scrapeMetric(gw, 'ucgate_upstream_node_up', 'node="pub"'), 1, 'node gauge keeps meaning the main check');

  const dashboard = await fetch(`http://127.0.0.1:${adminPortOf(gw)}/dashboard/sections`, { headers: { authorization: `Bearer ${TOKEN}` } });
  t.match(await dashboard.text(), /data-node="cucm\/pub" data-state="up">[\s\S]*?<li data-service="tomcat" data-state="down"/, 'the dashboard shows it');
});

// Needs the request path to pass the route's service to the balancer (balancer.pick(exclude, preferred, route.service)).
t.test('EM requests go to the subscriber, UDS requests stay on the publisher', async (t) => {
  const EM = '/emapp/EMAppServlet?device=SEP001122334455';
  /** `node:status` of one request through the gateway. */
  const get = async (path: string) => {
    const res = await httpsRequest({ host: '127.0.0.1', port: gw.port, path, ca, servername: FQDN, headers: { host: FQDN } });
    return `${String(res.headers['x-cucm-node'])}:${res.status}`;
  };
  // The primary's verdict reached the worker before this test started (the log line came after it); bounded anyway.
  await waitFor(async () => (await get(EM)) === 'sub1:200', { timeoutMs: 5000, message: 'EM answered by sub1' });
  const em: string[] = [];
  const uds: string[] = [];
  for (let i = 0; i < 10; i++) {
    em.push(await get(EM));
    uds.push(await get('/cucm-uds/version'));
  }
  t.strictSame(em, Array(10).fill('sub1:200'), 'Extension Mobility: the subscriber, whose tomcat check passes');
  t.strictSame(uds, Array(10).fill('pub:200'), 'UDS: still the publisher (priority 1), whose main check passes');
});
