/**
 * The simulated node's Extension Mobility and Change Credential: slow
 * actions that change the (cluster-wide) database, recorded as they start
 * and complete, refused as CUCM refuses them (Maximum Concurrent Requests,
 * Validate IP Address / Trusted List of IPs / Allow Proxy).
 */
import t, { type Test } from 'tap';
import https from 'node:https';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { startCucmNode, type CucmNode, type CucmNodeOptions, type NodeAction } from '../../src/sim/cucm-node.js';
import { issueLeaf } from '../../src/pki/x509.js';
import { httpsRequest, once, waitFor, type HttpsRequestOptions, type NetworkError } from '../helpers/net.js';

const cluster = await startCucmCluster({ actionDelayMs: 0 });
t.teardown(() => cluster.close());
const HOSTNAME = 'cucm-em.example.test';
const leaf = await issueLeaf({ issuer: cluster.ca, commonName: HOSTNAME, subjectAltNames: [HOSTNAME, '127.0.0.1'] });
const DEVICE = 'SEP001122334455';
const LOGIN = `/emapp/EMAppServlet?device=${DEVICE}&userid=jdoe&seq=12345`;
const LOGOUT = `/emapp/EMAppServlet?device=${DEVICE}&doLogout=true`;

function request(node: CucmNode, path: string, options: Omit<HttpsRequestOptions, 'url' | 'path'> = {}) {
  return httpsRequest({ url: node.url, path, ca: cluster.caPem, servername: node.hostname, ...options });
}

/** An agent whose connections come from another loopback address (Linux routes all of 127/8 to lo). */
function from(t: Test, address: string): https.Agent {
  const agent = new https.Agent({ localAddress: address });
  t.teardown(() => agent.destroy());
  return agent;
}

async function node(t: Test, options: Partial<CucmNodeOptions> = {}): Promise<CucmNode> {
  const started = await startCucmNode({ name: 'em', hostname: HOSTNAME, ...leaf, actionDelayMs: 0, ...options });
  t.teardown(() => started.close());
  return started;
}

t.test('an EM login takes 1.5 s by default and is recorded when it starts and when it completes', async (t) => {
  const em = await node(t, { actionDelayMs: undefined });
  const started = once<[NodeAction]>(em.events, 'action-started');
  const completed = once<[NodeAction]>(em.events, 'action', 5_000);
  const begin = Date.now();
  const answer = request(em, LOGIN);
  const [action] = await started;
  t.equal(action.kind, 'em-login');
  t.equal(action.completedAt, undefined, 'not yet completed');
  t.equal(em.database.emLogins.get(DEVICE), undefined, 'nothing written while it runs');
  const res = await answer;
  const elapsed = Date.now() - begin;
  t.ok(elapsed >= 1_400 && elapsed < 4_000, `answered after ${elapsed} ms`);
  t.equal((await completed)[0], action, "the 'action' event carries the same record");
  t.match(res.text, 'Login successful');
  t.notMatch(res.text, '12345', 'the PIN is never echoed');
  t.match(em.actions, [
    { kind: 'em-login', user: 'jdoe', device: DEVICE, source: '127.0.0.1', forwardedFor: undefined, viaProxy: false, result: 'ok', detail: 'Login successful' },
  ]);
  t.ok(action.completedAt! - action.startedAt >= 1_400);
  t.equal(em.database.emLogins.get(DEVICE), 'jdoe', 'the login is in the database');
});

t.test('login form, errors 207 and 202, logout and error 19', async (t) => {
  const em = await node(t);
  const form = await request(em, `/emapp/EMAppServlet?device=${DEVICE}`);
  t.match(form.text, /^<CiscoIPPhoneInput><Title>Extension Mobility<\/Title>/);
  t.match(form.text, '<QueryStringParam>userid</QueryStringParam>');
  t.match(form.text, '<QueryStringParam>seq</QueryStringParam>');
  t.match(form.text, `<URL>https://127.0.0.1:8443/emapp/EMAppServlet?device=${DEVICE}&#38;doLogin=true</URL>`);
  t.match((await request(em, '/emapp/EMAppServlet?userid=jdoe&seq=12345')).text, 'Login is unavailable(207)', 'no device name');
  t.match((await request(em, `/emapp/EMAppServlet?device=${DEVICE}&userid=jdoe&seq=`)).text, 'Please try to login again (202)', 'blank PIN');
  t.equal(em.actions.length, 0, 'none of these is an action');

  t.match((await request(em, LOGOUT)).text, 'Logout is unavailable(19)', 'nobody logged in');
  t.match(em.actions[0], { kind: 'em-logout', user: undefined, result: 'failed' });
  t.match((await request(em, `/emapp/EMAppServlet?device=${DEVICE}&userid=jdoe&seq=1`)).text, 'Please try to login again (201)');
  await request(em, LOGIN);
  const out = await request(em, LOGOUT);
  t.match(out.text, 'Logout successful');
  t.match(em.actions.at(-1), { kind: 'em-logout', user: 'jdoe', device: DEVICE, result: 'ok' });
  t.equal(em.database.emLogins.has(DEVICE), false);
  t.equal((await request(em, LOGIN, { method: 'DELETE' })).status, 405);
});

t.test('a node stopped mid-login leaves the action started, never completed, and the database untouched', async (t) => {
  const cucm = await startCucmCluster({ actionDelayMs: 10_000 });
  t.teardown(() => cucm.close());
  const [pub, sub1] = [cucm.node('pub'), cucm.node('sub1')];
  const started = once(pub.events, 'action-started');
  const answer = request(pub, LOGIN, { timeoutMs: 20_000, ca: cucm.caPem }).then(
    () => undefined,
    (err: NetworkError) => err,
  );
  await started;
  await pub.stop();
  t.match((await answer)?.code, /ECONNRESET|ECONNREFUSED/, 'the phone never got an answer');
  t.match(pub.actions, [{ kind: 'em-login', user: 'jdoe', completedAt: undefined, result: undefined }]);
  t.equal(cucm.database.emLogins.has(DEVICE), false, 'the half-done login changed nothing');
  t.equal(sub1.actions.length, 0, 'and nothing ran it elsewhere');
  await pub.restart();
  t.equal(pub.actions[0]!.completedAt, undefined, 'a restart does not finish it either');
});

t.test('an action goes on when its client gives up', async (t) => {
  const em = await node(t, { actionDelayMs: 300 });
  const err = await request(em, LOGIN, { timeoutMs: 100 }).then(
    () => undefined,
    (e: NetworkError) => e,
  );
  t.equal(err?.code, 'ETIMEDOUT');
  await waitFor(() => em.actions[0]?.completedAt, { message: 'the abandoned login completed' });
  t.equal(em.database.emLogins.get(DEVICE), 'jdoe', 'a servlet keeps running when its client disconnects');
});

t.test('Maximum Concurrent Requests: a login beyond it is refused with error 26', async (t) => {
  const em = await node(t, { actionDelayMs: 400 });
  const burst = await Promise.all(
    Array.from({ length: 6 }, (_, i) => request(em, `/emapp/EMAppServlet?device=SEP00000000000${i}&userid=jdoe&seq=12345`)),
  );
  const busy = burst.filter((res) => res.text.includes('Login is unavailable(26)'));
  t.equal(busy.length, 1, 'the default is 5 at once');
  t.equal(burst.filter((res) => res.text.includes('Login successful')).length, 5);
  t.equal(em.actions.length, 5, 'the refused one never started');
  t.match(em.refusedActions, [{ kind: 'em-login', user: 'jdoe', code: 26, source: '127.0.0.1' }]);

  const two = await node(t, { actionDelayMs: 400, em: { maximumConcurrentRequests: 2 } });
  const first = [request(two, LOGIN), request(two, `/emapp/EMAppServlet?device=SEPAAAAAAAAAAAA&userid=jdoe&seq=12345`)];
  await waitFor(() => two.actions.length === 2);
  t.match((await request(two, LOGOUT)).text, 'Logout is unavailable(26)', 'logouts count and are refused too');
  await Promise.all(first);
  t.match((await request(two, LOGOUT)).text, 'Logout successful', 'room again once they completed');
});

t.test('Validate IP Address with the Trusted List of IPs and registered devices: error 28', async (t) => {
  const em = await node(t, {
    em: { validateIpAddress: true, trustedListOfIps: '10.0.0.9; 127.0.0.2' },
    registeredDevices: { SEP00AA00AA00AA: '127.0.0.3' },
  });
  t.match((await request(em, LOGIN)).text, 'Login is unavailable(28)', '127.0.0.1 is neither trusted nor a registered phone');
  t.match((await request(em, LOGOUT)).text, 'Logout is unavailable(28)');
  t.match(em.refusedActions, [
    { kind: 'em-login', code: 28, source: '127.0.0.1' },
    { kind: 'em-logout', code: 28, source: '127.0.0.1' },
  ]);
  t.match((await request(em, LOGIN, { agent: from(t, '127.0.0.2') })).text, 'Login successful', 'trusted (semicolon list)');
  t.match((await request(em, LOGOUT, { agent: from(t, '127.0.0.3') })).text, 'Logout successful', 'a registered device');
  t.match(em.actions, [{ source: '127.0.0.2' }, { source: '127.0.0.3' }]);
  const spoof = await request(em, LOGIN, { headers: { 'x-forwarded-for': '127.0.0.2' } });
  t.match(spoof.text, 'Login is unavailable(28)', 'X-Forwarded-For does not make a request trusted');
});

t.test('Allow Proxy: a request with Via is refused with error 30 unless allowed, and only when validating', async (t) => {
  const proxyHeaders = { via: '1.1 ucgate', 'x-forwarded-for': '10.1.2.3' };
  const strict = await node(t, { em: { validateIpAddress: true, trustedListOfIps: ['127.0.0.1'] } });
  t.match((await request(strict, LOGIN, { headers: proxyHeaders })).text, 'Login is unavailable(30)', 'from a trusted address, but through a proxy');
  t.match(strict.refusedActions, [{ code: 30, forwardedFor: '10.1.2.3' }]);

  const proxied = await node(t, { em: { validateIpAddress: true, trustedListOfIps: ['127.0.0.1'], allowProxy: true } });
  t.match((await request(proxied, LOGIN, { headers: proxyHeaders })).text, 'Login successful', 'the proxy is trusted and allowed');
  t.match(proxied.actions, [{ source: '127.0.0.1', forwardedFor: '10.1.2.3', viaProxy: true, result: 'ok' }]);
  const untrusted = await request(proxied, LOGIN, { headers: proxyHeaders, agent: from(t, '127.0.0.4') });
  t.match(untrusted.text, 'Login is unavailable(28)', 'an allowed proxy must still be in the Trusted List of IPs');

  const open = await node(t, { em: { allowProxy: false } });
  t.match((await request(open, LOGIN, { headers: proxyHeaders })).text, 'Login successful', 'Allow Proxy takes effect only with Validate IP Address');
});

t.test('Change Credential: a slow PIN change that every node of the cluster sees', async (t) => {
  const cucm = await startCucmCluster({ actionDelayMs: 50, emPins: { asmith: '1111' } });
  t.teardown(() => cucm.close());
  const [pub, sub1] = [cucm.node('pub'), cucm.node('sub1')];
  const base = `/changecredential/ChangeCredentialServlet?device=${DEVICE}`;
  const ask = (target: CucmNode, path: string, options: Omit<HttpsRequestOptions, 'url' | 'path'> = {}) => request(target, path, { ca: cucm.caPem, ...options });
  const form = await ask(pub, base);
  t.match(form.text, /^<CiscoIPPhoneInput><Title>Change Credential<\/Title>/);
  for (const param of ['userid', 'oldpin', 'newpin', 'confirmnewpin']) t.match(form.text, `<QueryStringParam>${param}</QueryStringParam>`);
  t.match(form.text, `https://127.0.0.1:8443/changecredential/ChangeCredentialServlet?device=${DEVICE}&#38;changePin=true`);

  const change = (oldpin: string, newpin: string, confirm = newpin) =>
    ask(pub, `${base}&changePin=true&userid=asmith&oldpin=${oldpin}&newpin=${newpin}&confirmnewpin=${confirm}`);
  t.match((await change('1111', '2222', '3333')).text, '<Title>Change Credential</Title><Prompt>New PINs do not match</Prompt>');
  t.equal(pub.actions.length, 0, 'a mismatch is caught before anything is looked up');
  t.match((await change('9999', '2222')).text, '<Prompt>Invalid user ID or PIN</Prompt>');
  const done = await change('1111', '2222');
  t.match(done.text, 'PIN change is complete');
  t.notMatch(done.text, /1111|2222/, 'no PIN in the answer');
  t.match(pub.actions, [
    { kind: 'pin-change', user: 'asmith', device: DEVICE, result: 'failed' },
    { kind: 'pin-change', user: 'asmith', device: DEVICE, result: 'ok', detail: 'PIN change is complete' },
  ]);
  const emAs = (pin: string) => ask(sub1, `/emapp/EMAppServlet?device=${DEVICE}&userid=asmith&seq=${pin}`);
  t.match((await emAs('2222')).text, 'Login successful', 'the other node reads the same database');
  t.match((await emAs('1111')).text, 'Please try to login again (201)');
  const posted = await ask(pub, '/changecredential/ChangeCredentialServlet', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `device=${DEVICE}&changePin=true&userid=asmith&oldpin=2222&newpin=3333&confirmnewpin=3333`,
  });
  t.match(posted.text, 'PIN change is complete', 'a form POST works as getParameter would');
});
