/**
 * Phone flows as real phones run them (issue 15), through a real gateway with
 * the built-in routes and default timeouts (hedge 400 ms) in front of a
 * simulated cluster whose state-changing GETs take 1.5 s, as on CUCM: an
 * Extension Mobility login, a PIN change and a Personal Directory edit are
 * each executed exactly once by CUCM — also when the publisher dies in the
 * middle of one — while a UDS discovery read past a hung publisher is still
 * answered after about the hedge delay. A burst of EM logins reaches CUCM at
 * most "Maximum Concurrent Requests" at a time, none refused.
 */
import t, { type Test } from 'tap';
import { startCucmCluster, type CucmCluster } from '../../src/sim/cucm-cluster.js';
import type { CucmNode, NodeAction } from '../../src/sim/cucm-node.js';
import { httpsRequest, waitFor, once, type HttpsResponse } from '../helpers/net.js';
import { startClusterGateway, FQDN, type GatewayProcess } from '../helpers/gateway.js';

const ACTION_MS = 1500;
const PHONE = { 'x-CiscoIPPhoneModelName': 'CP-8845', 'x-CiscoIPPhoneDisplay': '800,480,24,C' };
const USERS = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`user${i}`, `${1000 + i}`]));

interface Rig {
  readonly cucm: CucmCluster;
  readonly gw: GatewayProcess;
  get(path: string, headers?: Record<string, string>): Promise<HttpsResponse>;
}

async function rig(t: Test): Promise<Rig> {
  const cucm = await startCucmCluster({ actionDelayMs: ACTION_MS, emPins: { jdoe: '12345', ...USERS } });
  t.teardown(() => cucm.close());
  // Checks far apart: what keeps a request on one node here must be the route's policy, not a health verdict.
  const { gw, ca } = await startClusterGateway(
    t,
    cucm,
    { healthCheck: { path: '/cucm-uds/version', intervalMs: 30_000, timeoutMs: 1000, fall: 2, rise: 2, expectStatus: 200, expectBody: '<versionInformation' }, timeouts: { connectMs: 1000, firstByteMs: 5000 } },
    { routes: undefined },
  );
  const get = (path: string, headers: Record<string, string> = {}) =>
    httpsRequest({ host: '127.0.0.1', port: gw.port, path, ca, servername: FQDN, headers: { ...PHONE, ...headers }, timeoutMs: 20_000 });
  return { cucm, gw, get };
}

/** Every action of `kind` any node started. */
const started = (cucm: CucmCluster, kind: NodeAction['kind']) => cucm.nodes.flatMap((node) => node.actions.filter((a) => a.kind === kind).map((a) => ({ node: node.name, ...a })));

function jsessionid(res: HttpsResponse): string | undefined {
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  for (const cookie of cookies) {
    const m = /^JSESSIONID=([^;]+)/.exec(cookie);
    if (m) return m[1];
  }
  return undefined;
}

t.test('one EM login, one PIN change and one PD edit are each executed exactly once', async (t) => {
  const { cucm, get } = await rig(t);

  const login = await get('/emapp/EMAppServlet?device=SEP000000000001&userid=jdoe&seq=12345');
  t.equal(login.status, 200);
  t.same(
    started(cucm, 'em-login').map((a) => [a.node, a.user, a.result]),
    [['pub', 'jdoe', 'ok']],
    'the login took 1.5 s, was not hedged, and ran once',
  );

  const change = await get('/changecredential/ChangeCredentialServlet?device=SEP000000000001&changePin=true&userid=jdoe&oldpin=12345&newpin=54321&confirmnewpin=54321');
  t.equal(change.status, 200);
  t.same(started(cucm, 'pin-change').map((a) => [a.node, a.user, a.result]), [['pub', 'jdoe', 'ok']], 'the PIN change ran once');
  t.equal(cucm.publisher.database.pins.get('jdoe'), '54321');

  const first = await get('/ccmpd/pdCheckLogin.do?name=SEP000000000001');
  const session = jsessionid(first);
  t.ok(session, 'Personal Directory starts a Tomcat session');
  const cookie = { cookie: `JSESSIONID=${session}` };
  const signedIn = await get('/ccmpd/login.do?name=SEP000000000001&userid=jdoe&pin=54321', cookie);
  t.equal(signedIn.status, 200);
  const added = await get('/ccmpd/pabNewPhones.do?name=SEP000000000001&n=Alice&homeNumber=1001', cookie);
  t.equal(added.status, 200);
  t.same(started(cucm, 'pd-edit').map((a) => [a.node, a.user, a.result]), [['pub', 'jdoe', 'ok']], 'the PD edit ran once');
  const book = [...(cucm.publisher.database.pab.get('jdoe')?.values() ?? [])].map((e) => e.nickname);
  t.equal(book.filter((n) => n === 'Alice').length, 1, 'one entry added');
});

t.test('the publisher dies mid-login: the phone gets an answer it can show, the login never runs on another node', async (t) => {
  const { cucm, get } = await rig(t);
  const [pub, sub] = cucm.nodes as [CucmNode, CucmNode];
  const startedOnPub = once(pub.events, 'action-started', 10_000);
  const pending = get('/emapp/EMAppServlet?device=SEP000000000002&userid=jdoe&seq=12345');
  await startedOnPub;
  await pub.stop();
  const res = await pending;
  t.ok(res.status >= 500, `the gateway answered ${res.status}`);
  t.match(String(res.headers['content-type']), /^text\/xml/, 'as XML');
  t.match(res.body.toString(), /<CiscoIPPhoneText>/, 'a CiscoIPPhoneText the phone displays');
  t.same(sub.actions, [], 'the subscriber never saw the login');
  t.equal(started(cucm, 'em-login').length, 1, 'one login started in all');
});

t.test('a UDS discovery read past a hung publisher is answered after about the hedge delay', async (t) => {
  const { cucm, get } = await rig(t);
  cucm.publisher.setBehaviour('hang');
  const t0 = Date.now();
  const res = await get('/cucm-uds/version', {});
  const waited = Date.now() - t0;
  t.equal(res.status, 200);
  t.equal(res.headers['x-cucm-node'], 'sub1', 'the hedge answered');
  // The first-byte timeout is 5 s: anything well inside it was the hedge (400 ms), whatever the machine's load.
  t.ok(waited < 3000, `answered in ${waited} ms`);
});

t.test('a burst of EM logins reaches CUCM at most 5 at a time, none refused', async (t) => {
  const { cucm, get } = await rig(t);
  let inFlight = 0;
  let most = 0;
  for (const node of cucm.nodes) {
    node.events.on('action-started', () => (most = Math.max(most, ++inFlight)));
    node.events.on('action', () => inFlight--);
  }
  const answers = await Promise.all(Object.entries(USERS).map(([user, pin], i) => get(`/emapp/EMAppServlet?device=SEP0000000001${String(i).padStart(2, '0')}&userid=${user}&seq=${pin}`)));
  t.same(new Set(answers.map((a) => a.status)), new Set([200]));
  const logins = started(cucm, 'em-login');
  t.equal(logins.length, 12, 'every login ran');
  t.same(new Set(logins.map((a) => a.result)), new Set(['ok']), 'and succeeded');
  t.ok(most <= 5, `at most 5 at once at CUCM (saw ${most})`);
  t.same(cucm.nodes.flatMap((n) => n.refusedActions), [], 'EM refused none as busy');
  await waitFor(() => inFlight === 0, { timeoutMs: 5000, message: 'every action completed' });
});

t.test('affinity without configuration: a Personal Directory session stays on the node that issued it', async (t) => {
  const cucm = await startCucmCluster({ actionDelayMs: 50 });
  t.teardown(() => cucm.close());
  // Two equal nodes, no `sticky` key, the built-in routes: only the default affinity can keep a session together.
  const nodes = cucm.nodes.map((node) => ({ name: node.name, url: `https://${node.hostname}:${node.port}`, address: '127.0.0.1', priority: 1 }));
  const { gw, ca } = await startClusterGateway(t, cucm, { nodes }, { routes: undefined });
  const get = (path: string, headers: Record<string, string> = {}) =>
    httpsRequest({ host: '127.0.0.1', port: gw.port, path, ca, servername: FQDN, headers: { ...PHONE, ...headers }, timeoutMs: 20_000 });
  const issuers = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const device = `SEP0000000002${i}0`;
    const first = await get(`/ccmpd/pdCheckLogin.do?name=${device}`);
    const session = jsessionid(first)!;
    const node = String(first.headers['x-cucm-node']);
    issuers.add(node);
    // Once as a cookie, once as Tomcat's URL-rewriting path parameter: both name the session.
    const byCookie = await get(`/ccmpd/login.do?name=${device}&userid=jdoe&pin=12345`, { cookie: `JSESSIONID=${session}` });
    const byPath = await get(`/ccmpd/pabSearch.do;jsessionid=${session}?name=${device}&nn=`);
    t.same([byCookie.headers['x-cucm-node'], byPath.headers['x-cucm-node']], [node, node], `session ${i} stays on ${node}`);
    t.equal(jsessionid(byCookie), undefined, 'no new session: the node knew it');
  }
  t.same([...issuers].sort(), ['pub', 'sub1'], 'new sessions still spread over both nodes');
});
