/**
 * Issue 17, end to end: the deny-list entries added for the issue — `/car/`,
 * `/cucreports/`, `/emservice/`, `/ssosp/` outside Jabber's OAuth sign-in,
 * and the opt-in `/ma/`, `/cucm-uds/private/` and SAML assertion consumer —
 * are refused (403) by a real gateway whose only route is
 * `{ pathPrefix: '/', cluster: 'cucm' }`, in every case and encoding, and no
 * simulated node receives any of them. `/ssosp/oauth/` still goes through.
 * TRACE, TRACK and CONNECT reach no node either.
 */
import t from 'tap';
import https from 'node:https';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest } from '../helpers/net.js';
import { rawExchange } from '../helpers/raw-client.js';
import { startClusterGateway, isHealthCheck, FQDN } from '../helpers/gateway.js';

/** A real path under each new entry. */
const PATHS = [
  '/car/CarServlet',
  '/cucreports/index.do',
  '/emservice/EMServiceServlet',
  '/ssosp/local/login',
  '/ssosp/token/revoke?user_id=jdoe',
  '/ssosp/ws/config/metadata/sp',
  '/ssosp/saml/login',
  '/ssosp/saml/SSO/alias/cucm-pub.example.test',
  '/ma/servlet/MAService',
  '/cucm-uds/private/user/jdoe',
];

const encodeAll = (s: string, depth = 1) => [...s].map((c) => '%' + '25'.repeat(depth - 1) + c.charCodeAt(0).toString(16).toUpperCase()).join('');

/** The shapes each path is sent in: case, percent-encoding (1-3 rounds), encoded slashes, dot segments, `;params`. */
function variants(target: string): string[] {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q);
  const segs = path.slice(1).split('/');
  const [first, second] = segs;
  const rest = (from: number) => segs.slice(from).join('/');
  const tail = path.slice(1);
  const out = [
    path,
    path.toUpperCase(),
    `/${encodeAll(first!)}/${rest(1)}`,
    `/${encodeAll(first!.slice(0, 1))}${first!.slice(1)}/${rest(1)}`,
    `/${encodeAll(first!, 2)}/${rest(1)}`,
    `/${encodeAll(first!, 3)}/${rest(1)}`,
    `/${segs.join('%2F')}`,
    `/${segs.join('%252f')}`,
    `/${segs.join('\\')}`,
    `//${segs.join('//')}`,
    `/cucm-uds/../${tail}`,
    `/ccmcip/%2e%2e/${tail}`,
    `/ccmcip/%252E%252E/${tail}`,
    `/ccmcip/..;/${tail}`,
    `/ccmcip/..%2f${tail}`,
    `/${first};jsessionid=0123ABCD/${rest(1)}`,
    `/${first}%3bx=1/${rest(1)}`,
    `https://${FQDN}${path}`,
  ];
  if (second !== undefined) out.push(`/${first}/${encodeAll(second)}/${rest(2)}`, `/${first};a=1/${second};b=2/${rest(2)}`, `/${first}/x/%2e%2e/${rest(1)}`);
  return [...new Set(out)].map((p) => p + query);
}

t.test('every new deny entry is refused under wide routes, and no node sees it', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const { gw, ca } = await startClusterGateway(t, cucm, {}, { routes: [{ pathPrefix: '/', cluster: 'cucm' }] });
  const agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
  t.teardown(() => agent.destroy());
  const send = (method: string, path: string, body?: string) =>
    httpsRequest({ host: '127.0.0.1', port: gw.port, path, method, ca, servername: FQDN, agent, headers: { host: `${FQDN}:${gw.port}` }, ...(body !== undefined && { body }) });
  const clientRequests = () => cucm.nodes.flatMap((node) => node.requests.filter((r) => !isHealthCheck(r)).map((r) => `${node.name} ${r.method} ${r.url}`));

  // The wide route works: what is not denied reaches a node.
  const before = clientRequests().length;
  t.equal((await send('GET', '/cucm-uds/version')).status, 200, 'a routed path is proxied');
  t.equal((await send('POST', '/ssosp/oauth/token', 'grant_type=refresh_token&refresh_token=x')).headers['x-cucm-node'] !== undefined, true, "Jabber's token endpoint still reaches a node");
  const baseline = clientRequests().length;
  t.equal(baseline - before, 2, 'both reached a node');

  const refused: string[] = [];
  const through: string[] = [];
  for (const path of PATHS) {
    for (const target of variants(path)) {
      for (const method of ['GET', 'POST']) {
        const res = await send(method, target, method === 'POST' ? 'userid=jdoe&seq=12345' : undefined);
        (res.status === 403 ? refused : through).push(`${method} ${target} -> ${res.status}`);
      }
    }
  }
  t.same(through, [], `${refused.length} attempts, every one 403`);
  t.ok(refused.length >= PATHS.length * 2 * 18, `${refused.length} attempts`);
  t.same(clientRequests().slice(baseline), [], 'no node received any of them');
});

t.test('TRACE, TRACK and CONNECT are refused', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const { gw, ca } = await startClusterGateway(t, cucm, {}, { routes: [{ pathPrefix: '/', cluster: 'cucm' }] });
  const clientRequests = () => cucm.nodes.flatMap((node) => node.requests.filter((r) => !isHealthCheck(r)).map((r) => `${node.name} ${r.method} ${r.url}`));
  const exchange = (request: string) => rawExchange({ port: gw.port, ca, servername: FQDN, request, lingerMs: 300, timeoutMs: 3000 });
  const host = `Host: ${FQDN}:${gw.port}`;
  const baseline = clientRequests().length;

  const trace = await exchange(`TRACE /ccmcip/ HTTP/1.1\r\n${host}\r\nCookie: JSESSIONID=secret\r\nConnection: close\r\n\r\n`);
  const track = await exchange(`TRACK /ccmcip/ HTTP/1.1\r\n${host}\r\nConnection: close\r\n\r\n`);
  const connect = await exchange(`CONNECT cucm-pub.example.test:8443 HTTP/1.1\r\n${host}\r\n\r\n`);
  const connectPath = await exchange(`CONNECT /cucm-uds/version HTTP/1.1\r\n${host}\r\n\r\n`);
  // Anything forwarded has had the linger period to arrive.
  const received = clientRequests().slice(baseline);
  t.same(received.filter((r) => !r.includes(' TRACE ')), [], 'no node received TRACK or CONNECT');
  t.ok(track.status === undefined || track.status >= 400, `TRACK is refused (got ${track.status}; Node's parser knows no TRACK: 400)`);
  for (const [name, ex] of [
    ['CONNECT host:port', connect],
    ['CONNECT /path', connectPath],
  ] as const) {
    t.ok(ex.status === undefined || ex.status >= 400, `${name} is refused or its connection closed (got ${ex.status ?? 'no answer'})`);
  }

  // The gateway answers these itself: TRACE in admission.ts (isRefusedMethod), CONNECT on the server's
  // `connect` event and TRACK on `clientError` (REFUSED_METHOD_RESPONSE, isRefusedMethodPacket).
  t.test('TRACE reaches no node; all three get 405 with Allow', async (t) => {
    t.same(received, [], 'no node received TRACE');
    t.equal(trace.status, 405, 'TRACE');
    t.match(trace.responses[0]?.headers.find(([n]) => n.toLowerCase() === 'allow')?.[1], /GET/);
    t.equal(track.status, 405, 'TRACK');
    t.equal(connect.status, 405, 'CONNECT');
    t.equal(connectPath.status, 405, 'CONNECT with a path');
  });
});
