/**
 * Jabber's OAuth sign-in (OAuth with Refresh Login Flow, CUCM 12.5+) through
 * the gateway with the built-in routes (issue 16): authorize, the login page
 * it redirects through, the code in the redirect, the token request — each
 * sign-in stays on the node that started it, also when two equal-priority
 * nodes share the load, and one whose node dies between authorize and token
 * fails cleanly at the gateway instead of being sent to the other node.
 */
import t, { type Test } from 'tap';
import { startCucmCluster, type CucmCluster } from '../../src/sim/cucm-cluster.js';
import { SIM_JABBER_CLIENT } from '../../src/sim/oauth-store.js';
import { httpsRequest, type HttpsResponse } from '../helpers/net.js';
import { startClusterGateway, FQDN } from '../helpers/gateway.js';

const CLIENT = SIM_JABBER_CLIENT;
const REDIRECT = CLIENT.redirectUris[0]!;

async function rig(t: Test): Promise<{ cucm: CucmCluster; request: (path: string, opts?: { method?: string; body?: string; headers?: Record<string, string> }) => Promise<HttpsResponse> }> {
  const cucm = await startCucmCluster({ actionDelayMs: 20 });
  t.teardown(() => cucm.close());
  const nodes = cucm.nodes.map((node) => ({ name: node.name, url: `https://${node.hostname}:${node.port}`, address: '127.0.0.1', priority: 1 }));
  const { gw, ca } = await startClusterGateway(t, cucm, { nodes }, { routes: undefined });
  const request = (path: string, opts: { method?: string; body?: string; headers?: Record<string, string> } = {}) =>
    httpsRequest({ host: '127.0.0.1', port: gw.port, path, ca, servername: FQDN, method: opts.method ?? 'GET', body: opts.body, headers: opts.headers ?? {}, timeoutMs: 20_000 });
  return { cucm, request };
}

const cookieOf = (res: HttpsResponse) => /^(JSESSIONID=[^;]+)/.exec(([] as string[]).concat(res.headers['set-cookie'] ?? [])[0] ?? '')?.[1];
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** authorize → login page → credentials → the code in the redirect. */
async function authorize(request: Awaited<ReturnType<typeof rig>>['request'], state: string): Promise<{ code: string; node: string }> {
  const query = form({ response_type: 'code', client_id: CLIENT.clientId, redirect_uri: REDIRECT, scope: 'UnifiedCommunications:readwrite', state });
  const start = await request(`/ssosp/oauth/authorize?${query}`);
  if (start.status !== 302) throw new Error(`authorize answered ${start.status}`);
  const login = new URL(String(start.headers.location));
  if (login.hostname !== FQDN) throw new Error(`the login page is not on the gateway: ${login.hostname}`);
  const cookie = cookieOf(start)!;
  const page = await request(login.pathname + login.search, { headers: { cookie } });
  if (page.status !== 200) throw new Error(`login page answered ${page.status}`);
  const done = await request('/ssosp/oauth/login', { method: 'POST', body: form({ j_username: 'jdoe', j_password: 'secret' }), headers: { ...FORM, cookie } });
  const back = String(done.headers.location ?? '');
  if (done.status !== 302 || !back.startsWith(REDIRECT)) throw new Error(`login answered ${done.status} ${back}`);
  return { code: new URL(back).searchParams.get('code')!, node: String(start.headers['x-cucm-node']) };
}

function token(request: Awaited<ReturnType<typeof rig>>['request'], code: string): Promise<HttpsResponse> {
  const basic = Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString('base64');
  return request('/ssosp/oauth/token', { method: 'POST', body: form({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT }), headers: { ...FORM, authorization: `Basic ${basic}` } });
}

t.test('six sign-ins over two equal nodes all succeed: each stays on the node that started it', async (t) => {
  const { cucm, request } = await rig(t);
  const started = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const { code, node } = await authorize(request, `s${i}`);
    started.add(node);
    const res = await token(request, code);
    t.equal(res.status, 200, `sign-in ${i} gets its tokens`);
    t.equal(res.headers['x-cucm-node'], node, `from ${node}, which issued the code`);
    const body = JSON.parse(res.body.toString()) as { access_token?: string; refresh_token?: string };
    t.ok(body.access_token && body.refresh_token, 'access and refresh tokens');
  }
  t.same([...started].sort(), ['pub', 'sub1'], 'sign-ins were spread over both nodes');
  const tokens = cucm.nodes.flatMap((n) => n.actions.filter((a) => a.kind === 'oauth-token'));
  t.equal(tokens.length, 6, 'one token exchange per sign-in, none replayed');
  t.ok(tokens.every((a) => a.result === 'ok'), 'none refused as invalid_grant');
});

t.test('the node dies between authorize and token: a clean 503, never the other node', async (t) => {
  const { cucm, request } = await rig(t);
  const { code, node } = await authorize(request, 'dies');
  const holder = cucm.nodes.find((n) => n.name === node)!;
  const other = cucm.nodes.find((n) => n.name !== node)!;
  await holder.stop();
  const res = await token(request, code);
  t.equal(res.status, 503, 'the gateway answers: the sign-in cannot be finished elsewhere');
  t.equal(other.requests.filter((r) => r.url.startsWith('/ssosp/oauth/token')).length, 0, 'the other node never saw the token request');
});
