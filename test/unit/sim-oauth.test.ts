/**
 * The simulated node's OAuth ("OAuth with Refresh Login Flow"): authorize →
 * Unified CM login page (or the IdP) → code → token, with the sign-in state
 * and the codes node-local and the tokens cluster-wide; refresh, revoke, and
 * `Authorization: Bearer` on any node.
 */
import t from 'tap';
import type { IncomingMessage } from 'node:http';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import type { CucmNode } from '../../src/sim/cucm-node.js';
import { SIM_JABBER_CLIENT } from '../../src/sim/oauth-store.js';
import { bearerUser } from '../../src/sim/oauth-endpoints.js';
import { fakeIdpAnswer } from '../../src/sim/oauth-saml.js';
import { httpsRequest, type HttpsRequestOptions, type HttpsResponse } from '../helpers/net.js';

const cluster = await startCucmCluster({ actionDelayMs: 0, users: { jdoe: 'secret', asmith: 'pw2' } });
t.teardown(() => cluster.close());
const pub = cluster.node('pub');
const sub = cluster.node('sub1');
const oauth = cluster.database.oauth;
const REDIRECT = SIM_JABBER_CLIENT.redirectUris[0]!;
const CLIENT_BASIC = `Basic ${Buffer.from(`${SIM_JABBER_CLIENT.clientId}:${SIM_JABBER_CLIENT.clientSecret}`).toString('base64')}`;
const FORM = 'application/x-www-form-urlencoded';

function request(node: CucmNode, path: string, options: Omit<HttpsRequestOptions, 'url' | 'path'> = {}): Promise<HttpsResponse> {
  return httpsRequest({ url: node.url, path, ca: cluster.caPem, servername: node.hostname, ...options });
}

function authorizePath(params: Record<string, string> = {}): string {
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: SIM_JABBER_CLIENT.clientId,
    redirect_uri: REDIRECT,
    scope: 'UnifiedCommunications:readwrite',
    state: 'st-1',
    ...params,
  });
  return `/ssosp/oauth/authorize?${query}`;
}

/** `name=value` of the first Set-Cookie naming `name`, and its whole header. */
function cookie(res: HttpsResponse, name: string): { readonly pair: string; readonly header: string } | undefined {
  const header = (res.headers['set-cookie'] ?? []).find((line) => line.startsWith(`${name}=`));
  return header ? { pair: header.split(';')[0]!, header } : undefined;
}

/** authorize → login page → credentials, all on `node`; resolves with the final answer and the session cookie. */
async function signIn(node: CucmNode, user = 'jdoe', password = 'secret', state = 'st-1') {
  const start = await request(node, authorizePath({ state }));
  const session = cookie(start, 'JSESSIONID')!.pair;
  const login = new URL(start.headers.location!);
  const done = await request(node, login.pathname, {
    method: 'POST',
    headers: { cookie: session, 'content-type': FORM },
    body: new URLSearchParams({ j_username: user, j_password: password }).toString(),
  });
  return { start, done, session };
}

function codeOf(res: HttpsResponse): string {
  return new URL(res.headers.location!).searchParams.get('code')!;
}

/** A token request; `authorization` '' sends none. */
function exchange(node: CucmNode, form: Record<string, string>, authorization = CLIENT_BASIC) {
  return request(node, '/ssosp/oauth/token', {
    method: 'POST',
    headers: { 'content-type': FORM, ...(authorization && { authorization }) },
    body: new URLSearchParams(form).toString(),
  });
}

const asRequest = (authorization: string): IncomingMessage => ({ headers: { authorization } }) as IncomingMessage;
const decode = (part: string): Record<string, unknown> => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;

t.test('a non-SSO sign-in: authorize, the login page, a code on the redirect URI, tokens', async (t) => {
  pub.clearActions();
  const start = await request(pub, authorizePath());
  t.equal(start.status, 302);
  t.equal(start.headers.location, 'https://cucm-pub.example.test:8443/ssosp/oauth/login', 'absolute, naming the node');
  const session = cookie(start, 'JSESSIONID');
  t.match(session?.header, /^JSESSIONID=[0-9A-F]{32}; Path=\/ssosp; Secure; HttpOnly$/);

  const page = await request(pub, '/ssosp/oauth/login', { headers: { cookie: session!.pair } });
  t.equal(page.status, 200);
  t.match(page.text, '<form method="POST" action="/ssosp/oauth/login">');
  t.match(page.text, 'name="j_username"');

  const wrong = await request(pub, '/ssosp/oauth/login', {
    method: 'POST',
    headers: { cookie: session!.pair, 'content-type': FORM },
    body: 'j_username=jdoe&j_password=nope',
  });
  t.equal(wrong.status, 200, 'the page again');
  t.match(wrong.text, 'Invalid username or password.');
  t.notMatch(wrong.text, 'nope');

  const done = await request(pub, '/ssosp/oauth/login', {
    method: 'POST',
    headers: { cookie: session!.pair, 'content-type': FORM },
    body: 'j_username=jdoe&j_password=secret',
  });
  t.equal(done.status, 302);
  const back = new URL(done.headers.location!);
  t.equal(`${back.protocol}//${back.host}${back.pathname}`, REDIRECT, 'the client redirect URI, untouched');
  t.equal(back.searchParams.get('state'), 'st-1');
  const code = back.searchParams.get('code')!;
  t.match(code, /^[0-9a-f]{40}$/);

  const tokens = await exchange(pub, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
  t.equal(tokens.status, 200);
  t.equal(tokens.headers['cache-control'], 'no-store');
  t.match(tokens.headers['content-type'], /^application\/json/);
  const answer = JSON.parse(tokens.text) as Record<string, unknown>;
  t.same(Object.keys(answer), ['access_token', 'token_type', 'expires_in', 'refresh_token']);
  t.equal(answer.token_type, 'Bearer');
  t.equal(answer.expires_in, 3600, 'OAuth Access Token Expiry Timer default: 60 minutes');
  const access = String(answer.access_token).split('.');
  t.equal(access.length, 3);
  t.match(decode(access[0]!), { alg: 'RS256', typ: 'JWT', kid: new RegExp(`^${oauth.clusterId}:[0-9a-f]{64}$`) });
  const inner = String(decode(access[1]!).private).split('.');
  t.equal(inner.length, 5, 'the claims travel encrypted (JWE)');
  t.match(decode(inner[0]!), { alg: 'dir', enc: 'A128CBC-HS256' });
  t.notMatch(Buffer.from(access[1]!, 'base64url').toString(), 'jdoe', 'the user id is not readable in the token');
  t.match(decode(String(answer.refresh_token).split('.')[1]!), { iss: oauth.clusterId, typ: 'user', ctyp: 'refresh', ccid: SIM_JABBER_CLIENT.clientId });

  t.equal(bearerUser(asRequest(`Bearer ${String(answer.access_token)}`), { db: cluster.database, users: { jdoe: 'secret' } }), 'jdoe');
  t.match(pub.actions, [
    { kind: 'oauth-authorize', user: 'jdoe', result: 'failed', detail: 'bad credentials' },
    { kind: 'oauth-authorize', user: 'jdoe', result: 'ok' },
    { kind: 'oauth-token', user: 'jdoe', result: 'ok', detail: 'authorization_code' },
  ]);

  const again = await exchange(pub, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
  t.equal(again.status, 400, 'a code is used once');
  t.match(JSON.parse(again.text), { error: 'invalid_grant' });
});

t.test('the sign-in state and the code are the node’s own; the tokens are the cluster’s', async (t) => {
  pub.clearActions();
  sub.clearActions();
  const { start, done, session } = await signIn(pub);
  t.equal(done.status, 302);

  const elsewhere = await request(sub, '/ssosp/oauth/login', { headers: { cookie: session } });
  t.equal(elsewhere.status, 400, 'the other node holds no such session');
  t.ok(cookie(elsewhere, 'JSESSIONID'), 'and starts one of its own');
  t.equal(new URL(start.headers.location!).host, 'cucm-pub.example.test:8443');

  const code = codeOf(done);
  const onSub = await exchange(sub, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
  t.equal(onSub.status, 400);
  t.match(JSON.parse(onSub.text), { error: 'invalid_grant' });
  t.match(sub.actions, [{ kind: 'oauth-token', user: undefined, result: 'failed' }], 'refused on the node it reached');

  const onPub = await exchange(pub, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
  t.equal(onPub.status, 200, 'the node that issued it still takes it: the failed try did not spend it');
  const { refresh_token: refresh, access_token: access } = JSON.parse(onPub.text) as Record<string, string>;
  t.equal(pub.actions.filter((a) => a.kind === 'oauth-token' && a.result === 'ok').length, 1, 'one exchange, on pub');

  const refreshed = await exchange(sub, { grant_type: 'refresh_token', refresh_token: refresh! });
  t.equal(refreshed.status, 200, 'a refresh works on any node');
  const fresh = JSON.parse(refreshed.text) as Record<string, unknown>;
  t.same(Object.keys(fresh), ['access_token', 'token_type', 'expires_in'], 'no new refresh token before CUCM 15');
  t.not(fresh.access_token, access);
  for (const token of [access!, String(fresh.access_token)]) {
    t.equal(bearerUser(asRequest(`Bearer ${token}`), { db: sub.database, users: { jdoe: 'secret' } }), 'jdoe', 'old and new both valid');
  }
  t.equal(bearerUser(asRequest(`Bearer ${access!}`), { db: sub.database, users: {} }), undefined, 'not once the user is gone');
  t.equal(bearerUser(asRequest(`Bearer ${access!.slice(0, -4)}AAAA`), { db: sub.database, users: { jdoe: 'secret' } }), undefined);
  t.equal(bearerUser(asRequest(`Basic ${access!}`), { db: sub.database, users: { jdoe: 'secret' } }), undefined);
});

t.test('authorize refuses what CUCM refuses, with its INVALID_REQUEST answer', async (t) => {
  const refused: Record<string, string>[] = [
    { redirect_uri: 'https://evil.example/' },
    { client_id: 'C00' },
    { response_type: 'token' },
  ];
  for (const params of refused) {
    const res = await request(pub, authorizePath(params));
    t.equal(res.status, 400, JSON.stringify(params));
    t.match(res.text, /^\{"error":INVALID_REQUEST,"error_description":"The request is missing a required parameter/);
    t.equal(res.headers.location, undefined);
  }
  const twice = await request(pub, `${authorizePath()}&state=again`);
  t.equal(twice.status, 400, 'a parameter given twice');
  t.equal((await request(pub, authorizePath(), { method: 'POST' })).status, 405);
});

t.test('token: client authentication and grant types', async (t) => {
  const { done } = await signIn(pub);
  const code = codeOf(done);
  const wrongSecret = `Basic ${Buffer.from(`${SIM_JABBER_CLIENT.clientId}:x`).toString('base64')}`;
  const bad = await exchange(pub, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT }, wrongSecret);
  t.equal(bad.status, 401);
  t.equal(bad.headers['www-authenticate'], 'Basic realm="ssosp"');
  t.match(JSON.parse(bad.text), { error: 'invalid_client' });
  const both = await exchange(pub, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_secret: SIM_JABBER_CLIENT.clientSecret });
  t.match(JSON.parse(both.text), { error: 'invalid_request' });
  const wrongRedirect = await exchange(pub, { grant_type: 'authorization_code', code, redirect_uri: 'ucgate-sim-jabber://other' });
  t.match(JSON.parse(wrongRedirect.text), { error: 'invalid_grant' });
  t.match(JSON.parse((await exchange(pub, { grant_type: 'password' })).text), { error: 'unsupported_grant_type' });
  t.equal((await request(pub, '/ssosp/oauth/token')).status, 405);

  const inBody = await exchange(
    pub,
    { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: SIM_JABBER_CLIENT.clientId, client_secret: SIM_JABBER_CLIENT.clientSecret },
    '',
  );
  t.equal(inBody.status, 200, 'client credentials in the body work too');
});

t.test('revoke: administrators only; revoked refresh tokens stop, issued access tokens run out', async (t) => {
  const tokensFor = async (user: string, password: string) => {
    const { done } = await signIn(pub, user, password);
    const res = await exchange(pub, { grant_type: 'authorization_code', code: codeOf(done), redirect_uri: REDIRECT });
    return JSON.parse(res.text) as Record<string, string>;
  };
  const jdoe = await tokensFor('jdoe', 'secret');
  const asmith = await tokensFor('asmith', 'pw2');

  t.equal((await request(sub, '/ssosp/token/revoke?user_id=jdoe')).status, 401);
  const asUser = `Basic ${Buffer.from('jdoe:secret').toString('base64')}`;
  t.equal((await request(sub, '/ssosp/token/revoke?user_id=jdoe', { headers: { authorization: asUser } })).status, 401, 'an end user may not');
  const admin = `Basic ${Buffer.from('admin:admin').toString('base64')}`;
  const revoked = await request(sub, '/ssosp/token/revoke?user_id=jdoe', { headers: { authorization: admin } });
  t.equal(revoked.status, 200);
  const body = JSON.parse(revoked.text) as { revoked_tokens: { status: string; user_id: string; clientID_tokens: { client_id: string; refresh_token: string }[] } };
  t.match(body.revoked_tokens, { status: 'success', user_id: 'jdoe' });
  t.ok(body.revoked_tokens.clientID_tokens.length >= 1);
  t.ok(body.revoked_tokens.clientID_tokens.every((entry) => entry.client_id === SIM_JABBER_CLIENT.clientId && /^[0-9a-f]{64}$/.test(entry.refresh_token)));
  t.match(sub.actions.at(-1), { kind: 'oauth-revoke', user: 'jdoe', result: 'ok' });

  t.match(JSON.parse((await exchange(pub, { grant_type: 'refresh_token', refresh_token: jdoe.refresh_token! })).text), { error: 'invalid_grant' });
  t.equal(bearerUser(asRequest(`Bearer ${jdoe.access_token!}`), { db: cluster.database, users: { jdoe: 'x' } }), 'jdoe', 'until it expires');
  t.equal((await exchange(pub, { grant_type: 'refresh_token', refresh_token: asmith.refresh_token! })).status, 200, 'other users keep theirs');

  oauth.refreshTokenExpiryDays = 30;
  t.teardown(() => void (oauth.refreshTokenExpiryDays = 60));
  t.equal((await exchange(pub, { grant_type: 'refresh_token', refresh_token: asmith.refresh_token! })).status, 400, 'changing the expiry timer revokes every refresh token');
});

t.test('with SAML SSO, authorize sends the browser to the IdP; only the issuing node takes the answer', async (t) => {
  oauth.samlIdpUrl = 'https://idp.example.test/adfs/ls/';
  t.teardown(() => void (oauth.samlIdpUrl = undefined));
  pub.clearActions();
  const start = await request(pub, authorizePath({ state: 'sso' }));
  t.equal(start.status, 302);
  const location = new URL(start.headers.location!);
  t.equal(`${location.origin}${location.pathname}`, 'https://idp.example.test/adfs/ls/', 'to the IdP');
  t.same([...location.searchParams.keys()], ['SAMLRequest', 'RelayState', 'SigAlg', 'Signature'], 'a signed HTTP-Redirect request');

  const idp = fakeIdpAnswer(start.headers.location!, 'jdoe');
  t.equal(idp.acsUrl, 'https://cucm-pub.example.test:8443/ssosp/saml/SSO/alias/cucm-pub.example.test', 'the ACS URL inside names the node');
  const post = (node: CucmNode, path: string) =>
    request(node, path, { method: 'POST', headers: { 'content-type': FORM }, body: new URLSearchParams(idp.form).toString() });

  t.equal((await post(sub, new URL(idp.acsUrl).pathname)).status, 404, 'another node has no such ACS');
  t.equal((await post(sub, '/ssosp/saml/SSO/alias/cucm-sub1.example.test')).status, 400, 'nor the request');
  const done = await post(pub, new URL(idp.acsUrl).pathname);
  t.equal(done.status, 302);
  t.equal(new URL(done.headers.location!).searchParams.get('state'), 'sso');
  t.match(pub.actions, [{ kind: 'oauth-authorize', user: 'jdoe', result: 'ok', detail: /^saml:/ }]);
  t.equal((await exchange(pub, { grant_type: 'authorization_code', code: codeOf(done), redirect_uri: REDIRECT })).status, 200);
  t.equal((await post(pub, new URL(idp.acsUrl).pathname)).status, 400, 'an assertion is taken once');
});

t.test('with URL session ids, the login Location carries ;jsessionid=', async (t) => {
  const cluster2 = await startCucmCluster({ nodes: 1, actionDelayMs: 0, urlSessionIds: true, domain: 'url.test' });
  t.teardown(() => cluster2.close());
  const node = cluster2.publisher;
  const start = await httpsRequest({ url: node.url, path: authorizePath(), ca: cluster2.caPem, servername: node.hostname });
  const id = cookie(start, 'JSESSIONID')!.pair.split('=')[1];
  t.equal(start.headers.location, `https://cucm-pub.url.test:8443/ssosp/oauth/login;jsessionid=${id}`);
  const page = await httpsRequest({ url: node.url, path: new URL(start.headers.location!).pathname, ca: cluster2.caPem, servername: node.hostname });
  t.equal(page.status, 200, 'the session is found from the path parameter alone');
  t.match(page.text, `action="/ssosp/oauth/login;jsessionid=${id}"`);
});

t.test('a sign-in takes the node’s action delay and runs once', async (t) => {
  const cluster3 = await startCucmCluster({ nodes: 1, actionDelayMs: 300, domain: 'slow.test' });
  t.teardown(() => cluster3.close());
  const node = cluster3.publisher;
  const req = (path: string, options: Omit<HttpsRequestOptions, 'url' | 'path'> = {}) =>
    httpsRequest({ url: node.url, path, ca: cluster3.caPem, servername: node.hostname, ...options });
  const start = await req(authorizePath());
  const session = cookie(start, 'JSESSIONID')!.pair;
  const post = () =>
    req('/ssosp/oauth/login', { method: 'POST', headers: { cookie: session, 'content-type': FORM }, body: 'j_username=jdoe&j_password=secret' });
  const begin = Date.now();
  const [first, second] = await Promise.all([post(), post()]);
  t.ok(Date.now() - begin >= 280, 'answered after the delay');
  t.same([first.status, second.status].sort(), [302, 400], 'one form posted twice signs in once');
  t.equal(node.actions.filter((a) => a.kind === 'oauth-authorize' && a.result === 'ok').length, 1);
});
