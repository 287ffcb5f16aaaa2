/**
 * Slow is not dead (issue 17): requests that CUCM answers slowly — slower than
 * the first-byte timeout, on every node they are sent to — take no node out:
 * both nodes stay up, `/readyz` stays 200, and the next quick request is
 * answered at once. Before, each such request counted a failure on every node
 * it was hedged to, and eight of them took the whole cluster down.
 */
import t from 'tap';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest } from '../helpers/net.js';
import { startClusterGateway, adminPortOf, scrapeMetric, FQDN } from '../helpers/gateway.js';

t.test('eight slow requests leave both nodes up and the gateway ready', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const { gw, ca } = await startClusterGateway(t, cucm, {
    // Checks frequent enough that passive failures, if they counted, would be acted on within the test.
    healthCheck: { path: '/cucm-uds/version', intervalMs: 500, timeoutMs: 1000, fall: 2, rise: 2, expectStatus: 200, expectBody: '<versionInformation' },
    timeouts: { connectMs: 1000, firstByteMs: 1000, hedgeMs: 300 },
  });
  const get = (path: string) => httpsRequest({ host: '127.0.0.1', port: gw.port, path, ca, servername: FQDN, timeoutMs: 20_000 });
  // A hedged read route (TEST_ROUTES): each slow request goes to both nodes and times out on both.
  const slow = await Promise.all(Array.from({ length: 8 }, () => get('/ucgate-test/slow?ms=3000')));
  t.same(new Set(slow.map((r) => r.status)), new Set([504]), 'each slow request timed out (504)');
  const admin = adminPortOf(gw);
  const readyz = await fetch(`http://127.0.0.1:${admin}/readyz`);
  t.equal(readyz.status, 200, '/readyz still 200');
  t.equal(await scrapeMetric(gw, 'ucgate_upstream_node_up', 'node="pub"'), 1, 'pub still up');
  t.equal(await scrapeMetric(gw, 'ucgate_upstream_node_up', 'node="sub1"'), 1, 'sub1 still up');
  const quick = await get('/cucm-uds/version');
  t.equal(quick.status, 200);
  t.equal(quick.headers['x-cucm-node'], 'pub', 'the publisher still takes the traffic');
  t.notOk(
    gw.logs.some((line) => line.event === 'upstream_down'),
    'no node was taken down',
  );
});
