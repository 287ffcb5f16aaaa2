/**
 * Issue 16, through a real gateway in front of a simulated cluster: a UDS
 * server list Jabber can fail over on (each gateway name once; with
 * `gateway.instances`, every instance, the one the client used first), and
 * no self-loop: an SRV answer from a real dnsmasq that names the gateway
 * itself (by name, and by a name resolving to its listening address) never
 * makes the gateway proxy to itself.
 */
import t from 'tap';
import { createServer } from 'node:net';
import { startCucmCluster, type CucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest, waitFor } from '../helpers/net.js';
import { FQDN, TEST_ROUTES, isHealthCheck, startClusterGateway, startGatewayProcess } from '../helpers/gateway.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';

const SRV = '_cisco-uds._tcp.example.test';
const GW_A = 'ucgw-a.example.test';
const GW_B = 'ucgw-b.example.test';
const DR = 'ucgw-dr.example.test';

const servers = (xml: string): string[] => [...xml.matchAll(/<server>([^<]*)<\/server>/g)].map((m) => m[1]!.trim());

/** Every name and address a node of `cucm` goes by, as it could appear in an answer. */
function nodeNames(cucm: CucmCluster): RegExp {
  const names = cucm.nodes.flatMap((node) => [node.hostname, node.hostname.split('.')[0]!]);
  return new RegExp(names.map((n) => n.replace(/[.]/g, '\\.')).join('|'), 'i');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

t.test('/cucm-uds/servers lists each gateway name once, the one the client used', async (t) => {
  const cucm = await startCucmCluster({ nodes: 3 });
  t.teardown(() => cucm.close());
  const { gw, ca } = await startClusterGateway(t, cucm, {}, { gateway: { fqdn: FQDN, altNames: [DR] } });
  const get = (path: string, name: string) =>
    httpsRequest({ host: '127.0.0.1', port: gw.port, path, ca, servername: name, headers: { host: `${name}:${gw.port}` } });

  const list = await get('/cucm-uds/servers', FQDN);
  t.equal(list.status, 200);
  t.same(servers(list.text), [FQDN], 'three nodes, one entry: the gateway');
  t.notMatch(list.text, nodeNames(cucm), 'no node name anywhere in the answer');
  t.same(servers((await get('/cucm-uds/servers', DR)).text), [DR], 'a client that came by the other name gets that name');

  const user = await get('/cucm-uds/clusterUser?username=jdoe', FQDN);
  t.equal(user.status, 200);
  const serversUri = /serversUri="([^"]+)"/.exec(user.text)?.[1];
  t.equal(serversUri, `https://${FQDN}:${gw.port}/cucm-uds/servers`, 'homeCluster serversUri points at the gateway');
  t.match(user.text, new RegExp(`>${FQDN.replace(/\./g, '\\.')}</homeCluster>`), 'homeCluster names the gateway');
  const followed = await httpsRequest({ url: serversUri!, host: '127.0.0.1', ca, servername: FQDN, headers: { host: `${FQDN}:${gw.port}` } });
  t.same(servers(followed.text), [FQDN], 'following serversUri: the same single entry');
});

t.test('with two gateway instances: both, the one the client used first, then config order', async (t) => {
  const cucm = await startCucmCluster({ nodes: 2 });
  t.teardown(() => cucm.close());
  const { gw, ca } = await startClusterGateway(t, cucm, {}, { gateway: { fqdn: FQDN, altNames: [GW_A, GW_B], instances: [GW_A, GW_B] } });
  const list = async (name: string) => {
    const res = await httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/cucm-uds/servers', ca, servername: name, headers: { host: `${name}:${gw.port}` } });
    t.equal(res.status, 200);
    t.notMatch(res.text, nodeNames(cucm), `${name}: no node name`);
    return servers(res.text);
  };
  t.same(await list(GW_A), [GW_A, GW_B], 'came to instance a: a, then b');
  t.same(await list(GW_B), [GW_B, GW_A], 'came to instance b: b, then a');
  t.same(await list(FQDN), [FQDN, GW_A, GW_B], 'came by the shared name: that name, then every instance');
});

t.test('an SRV answer that includes the gateway itself never makes it proxy to itself', async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const pub = cucm.node('pub');
  const sub = cucm.node('sub1');
  const port = await freePort();
  const LB = 'ucgw-lb.example.test'; // not a gateway name, but it resolves to the gateway's listening address
  const dns = await startDnsmasq(
    t,
    dir,
    SRV,
    [
      // The gateway first, at the lowest priority number: adopted, it would take every request.
      { target: FQDN, port, priority: 1, weight: 50 },
      { target: LB, port, priority: 1, weight: 50 },
      { target: pub.hostname, port: pub.port, priority: 10, weight: 60 },
      { target: sub.hostname, port: sub.port, priority: 20, weight: 60 },
    ],
    { [FQDN]: '127.0.0.1', [LB]: '127.0.0.1', [pub.hostname]: '127.0.0.1', [sub.hostname]: '127.0.0.1' },
  );
  const gw = await startGatewayProcess(t, dir, {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port }] },
    clusters: [
      {
        name: 'cucm',
        srv: { name: SRV, servers: [`127.0.0.1:${dns.port}`], refreshSeconds: 1 },
        // Unverified upstream TLS (self-signed Tomcat certificates, as many clusters run): the gateway's own
        // certificate would pass too, so an adopted self target would be healthy and take the traffic.
        tls: { verify: false },
        healthCheck: { intervalMs: 200, timeoutMs: 600 },
        timeouts: { connectMs: 1000, firstByteMs: 3000 },
      },
    ],
    routes: TEST_ROUTES,
  });
  const ca = await gw.trustPem();

  const found = await gw.waitForLog((line) => line.event === 'srv_nodes');
  t.same((found.nodes as { name: string }[]).map((n) => n.name), [pub.hostname, sub.hostname], 'only the CUCM nodes are adopted');
  const dropped = (target: string) => gw.logs.find((line) => line.event === 'srv_self_target' && line.target === target);
  t.match(dropped(FQDN), { level: 'warn', cluster: 'cucm', srv: SRV, port, reason: `${FQDN} is gateway.fqdn` }, 'the gateway by name: dropped, with why');
  t.match(
    dropped(LB),
    { level: 'warn', cluster: 'cucm', srv: SRV, port, reason: `127.0.0.1:${port} is listen.https[0] (127.0.0.1:${port})` },
    'a name resolving to the gateway\'s listening address and port: dropped, with why',
  );

  const REQUESTS = 12;
  for (let i = 0; i < REQUESTS; i++) {
    const path = i % 2 === 0 ? '/cucm-uds/version' : '/cucm-uds/servers';
    const res = await httpsRequest({ host: '127.0.0.1', port, path, ca, servername: FQDN, headers: { host: `${FQDN}:${port}` }, timeoutMs: 5_000 });
    t.equal(res.status, 200, `${path}: answered`);
    t.equal(res.headers['x-cucm-node'], 'pub', `${path}: by the CUCM publisher`);
    if (path === '/cucm-uds/servers') t.same(servers(res.text), [FQDN], 'the server list names the gateway once');
  }
  // Let several health-check rounds and SRV refreshes pass: a self node would be probed through the gateway's own listener.
  const checksBefore = pub.requests.filter(isHealthCheck).length;
  await waitFor(() => pub.requests.filter(isHealthCheck).length >= checksBefore + 5, { timeoutMs: 10_000, message: 'five more health checks of pub' });
  await waitFor(() => gw.logs.filter((line) => line.event === 'srv_nodes' || line.event === 'srv_lookup_failed').length > 0, { timeoutMs: 5_000 });
  const access = gw.logs.filter((line) => line.event === 'access');
  t.equal(access.length, REQUESTS, 'the gateway\'s own listener received exactly the test\'s requests: none proxied from itself');
  t.ok(access.every((line) => line.node === pub.hostname), 'every one went to a CUCM node');
  t.equal(gw.logs.filter((line) => line.event === 'srv_self_target').length, 2, 'warned once per change, not on every refresh');
});
