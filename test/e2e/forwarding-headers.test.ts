/**
 * Issue 17, end to end: forwarding headers belong to the gateway. A client
 * that sends `Forwarded`, `X-Forwarded-*`, `X-Real-IP`, `True-Client-IP`,
 * `X-Original-URL`, `X-Rewrite-URL` and the rest (in any case, repeated)
 * gets none of them to a simulated node; the node sees exactly one each of
 * `X-Forwarded-For` (the client's address), `-Proto` (the listener's scheme),
 * `-Host` (the Host the client used) and `-Port` (the listener's port), on
 * an HTTPS and a plain HTTP listener alike.
 */
import t from 'tap';
import http from 'node:http';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import type { RecordedRequest } from '../../src/sim/cucm-node-api.js';
import { httpsRequest } from '../helpers/net.js';
import { startClusterGateway, isHealthCheck, FQDN } from '../helpers/gateway.js';

/** What a client sends to claim another address, scheme, host, URL, method or certificate. */
const SPOOFED: readonly [string, string][] = [
  ['Forwarded', 'for=203.0.113.9;proto=http;host=evil.example'],
  ['X-Forwarded-For', '203.0.113.9'],
  ['x-forwarded-for', '198.51.100.1, 10.0.0.1'],
  ['X-FORWARDED-PROTO', 'http'],
  ['X-Forwarded-Host', 'evil.example'],
  ['X-Forwarded-Port', '80'],
  ['X-Forwarded-Server', 'evil.example'],
  ['X-Forwarded-Prefix', '/ccmadmin'],
  ['X-Forwarded-Ssl', 'off'],
  ['X-Forwarded-Client-Cert', 'By=spiffe://evil;Hash=00'],
  ['X-Real-IP', '203.0.113.9'],
  ['True-Client-IP', '203.0.113.9'],
  ['X-Client-IP', '203.0.113.9'],
  ['Client-IP', '203.0.113.9'],
  ['X-Cluster-Client-IP', '203.0.113.9'],
  ['X-ProxyUser-Ip', '203.0.113.9'],
  ['CF-Connecting-IP', '203.0.113.9'],
  ['Fastly-Client-IP', '203.0.113.9'],
  ['X-Originating-IP', '203.0.113.9'],
  ['Proxy-Client-IP', '203.0.113.9'],
  ['WL-Proxy-Client-IP', '203.0.113.9'],
  ['X-Original-URL', '/ccmadmin/showHome.do'],
  ['X-Rewrite-URL', '/ccmadmin/showHome.do'],
  ['X-Original-Host', 'evil.example'],
  ['X-Host', 'evil.example'],
  ['X-HTTP-Method-Override', 'DELETE'],
  ['Front-End-Https', 'off'],
  ['X-SSL-Client-Cert', 'MIIB'],
];

const GATEWAYS_OWN = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port'];

/** Header names (lower case) of the spoofed list the node must not see. */
const SPOOFED_NAMES = [...new Set(SPOOFED.map(([n]) => n.toLowerCase()))].filter((n) => !GATEWAYS_OWN.includes(n));

/** The raw header lines, with their values, whose name is `lower`. */
const lines = (r: RecordedRequest, lower: string) => {
  const out: string[] = [];
  for (let i = 0; i < r.rawHeaders.length; i += 2) if (r.rawHeaders[i]!.toLowerCase() === lower) out.push(r.rawHeaders[i + 1]!);
  return out;
};

t.test('client forwarding headers never reach a node; the gateway sets its own', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const { gw, ca } = await startClusterGateway(
    t,
    cucm,
    {},
    { listen: { https: [{ host: '127.0.0.1', port: 0 }], http: [{ host: '127.0.0.1', port: 0 }] } },
  );
  const [httpsPort, httpPort] = gw.ports as [number, number];
  const received = () => cucm.nodes.flatMap((node) => node.requests.filter((r) => !isHealthCheck(r)));

  const rawSpoofed = SPOOFED.flat();
  const viaHttps = (path: string, method = 'GET', body?: string) =>
    httpsRequest({ host: '127.0.0.1', port: httpsPort, path, method, ca, servername: FQDN, headers: [`Host`, `${FQDN}:${httpsPort}`, 'Accept', 'text/xml', ...rawSpoofed] as unknown as Record<string, string>, ...(body !== undefined && { body }) });
  const viaHttp = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: httpPort, path, headers: ['Host', `${FQDN}:${httpPort}`, ...rawSpoofed] as unknown as Record<string, string> }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });

  t.test('control: sent straight to a node, the same request carries every one of them', async (t) => {
    const pub = cucm.publisher;
    const before = pub.requests.length;
    const res = await httpsRequest({
      host: '127.0.0.1',
      port: pub.port,
      path: '/cucm-uds/version',
      ca: cucm.caPem,
      servername: pub.hostname,
      headers: ['Host', `${pub.hostname}:${pub.port}`, ...rawSpoofed] as unknown as Record<string, string>,
    });
    t.equal(res.status, 200);
    const r = pub.requests.slice(before).find((x) => !isHealthCheck(x))!;
    t.same(SPOOFED_NAMES.filter((name) => r.headers[name] === undefined), [], 'the client really sends them');
    t.equal(lines(r, 'x-forwarded-for').length, 2, 'both of its X-Forwarded-For lines');
  });

  const cases: { name: string; send: () => Promise<number>; proto: string; port: number; method: string }[] = [
    { name: 'GET over HTTPS', send: async () => (await viaHttps('/cucm-uds/version')).status, proto: 'https', port: httpsPort, method: 'GET' },
    { name: 'POST over HTTPS', send: async () => (await viaHttps('/ucgate-test/echo', 'POST', 'x=1')).status, proto: 'https', port: httpsPort, method: 'POST' },
    { name: 'GET over plain HTTP', send: () => viaHttp('/ccmcip/xmldirectory.jsp'), proto: 'http', port: httpPort, method: 'GET' },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      const before = received().length;
      const status = await c.send();
      t.ok(status > 0 && status < 500, `answered by a node (${status})`);
      const seen = received().slice(before);
      t.equal(seen.length, 1, 'one request reached a node');
      const r = seen[0]!;
      t.equal(r.method, c.method);
      t.same(
        SPOOFED_NAMES.filter((name) => r.headers[name] !== undefined),
        [],
        'no client-sent forwarding header arrived',
      );
      t.same(
        Object.keys(r.headers).filter((name) => name.startsWith('x-forwarded') && !GATEWAYS_OWN.includes(name)),
        [],
        'no X-Forwarded-* but the gateway’s own',
      );
      t.same(lines(r, 'x-forwarded-for'), ['127.0.0.1'], 'X-Forwarded-For: the client’s address, once');
      t.same(lines(r, 'x-forwarded-proto'), [c.proto], 'X-Forwarded-Proto: the listener’s scheme');
      t.same(lines(r, 'x-forwarded-host'), [`${FQDN}:${c.port}`], 'X-Forwarded-Host: the Host the client used');
      t.same(lines(r, 'x-forwarded-port'), [String(c.port)], 'X-Forwarded-Port: the listener’s port');
      t.equal(r.headers.forwarded, undefined, 'no Forwarded');
      t.match(r.url, /^\/(cucm-uds|ucgate-test|ccmcip)\//, 'the path the client asked for, not X-Original-URL');
    });
  }
});
