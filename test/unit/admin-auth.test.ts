/**
 * The admin listener's authentication, driven with app.inject(): public
 * paths, bearer tokens, the per-address throttle, the login form and its
 * session cookie, and the CSRF rule for cookie-authenticated changes.
 */
import t from 'tap';
import { ADMIN_TOKEN, fakeAdmin, fakeBackend } from '../helpers/admin-fake.js';
import { AdminAuth } from '../../src/admin/admin-auth.js';
import { createLogger } from '../../src/log.js';

const bearer = (token = ADMIN_TOKEN) => ({ authorization: `Bearer ${token}` });
const HOST = '127.0.0.1:9000';

/** Signs in through the form; returns the `name=value` cookie pair. */
async function signIn(app: Awaited<ReturnType<typeof fakeAdmin>>['server']['app'], token = ADMIN_TOKEN): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded', host: HOST, origin: `http://${HOST}` }, payload: `token=${encodeURIComponent(token)}` });
  if (res.statusCode !== 303) throw new Error(`login answered ${res.statusCode}: ${res.body}`);
  return String(res.headers['set-cookie']).split(';')[0]!;
}

t.test('without a token only /healthz, /readyz and /metrics answer', async (t) => {
  const { server } = await fakeAdmin(t);
  const app = server.app;
  for (const url of ['/healthz', '/readyz', '/metrics']) t.equal((await app.inject({ url })).statusCode, 200, `${url} is public`);
  t.match((await app.inject({ url: '/metrics' })).body, /ucgate_upstream_node_up/);
  for (const [method, url] of [['GET', '/api/v1/status'], ['POST', '/api/v1/certificates/renew'], ['POST', '/api/v1/reload'], ['GET', '/api/v1/audit'], ['GET', '/dashboard/sections'], ['GET', '/no/such/path'], ['GET', '/healthz/../api/v1/status']] as const) {
    const res = await app.inject({ method, url });
    t.equal(res.statusCode, 401, `${method} ${url} needs a token`);
    t.equal(res.headers['www-authenticate'], 'Bearer realm="ucgate"');
  }
  const page = await app.inject({ url: '/' });
  t.equal(page.statusCode, 401, 'GET / without a session: 401...');
  t.match(page.headers['content-type'], /text\/html/);
  t.match(page.body, /<form method="post" action="\/login"/, '...with the login form');
  t.notMatch(page.body, /data-node=/, 'and nothing of the dashboard');
});

t.test('a wrong token is refused and logged without the token; the right one is let in', async (t) => {
  const { server, logs } = await fakeAdmin(t);
  const app = server.app;
  const wrong = await app.inject({ url: '/api/v1/status', headers: bearer('guess-number-one') });
  t.equal(wrong.statusCode, 401);
  t.match(wrong.headers['www-authenticate'], /error="invalid_token"/);
  const right = await app.inject({ url: '/api/v1/status', headers: bearer() });
  t.equal(right.statusCode, 200);
  t.equal(right.json().clusters[0].nodes.length, 2, 'the status document');
  t.equal((await app.inject({ url: '/api/v1/status', headers: { authorization: `bearer ${ADMIN_TOKEN}` } })).statusCode, 200, 'the scheme is case-insensitive (RFC 7235)');
  t.equal((await app.inject({ url: '/api/v1/status', headers: { authorization: `Basic ${ADMIN_TOKEN}` } })).statusCode, 401, 'another scheme is not a bearer token');
  t.equal((await app.inject({ url: '/no/such/path', headers: bearer() })).statusCode, 404, 'authenticated: unknown paths are 404');
  const failed = logs.map((line) => JSON.parse(line)).filter((line) => line.event === 'admin_auth_failed');
  t.equal(failed.length, 1, 'the failure is logged once');
  t.match(failed[0], { level: 'warn', client: '127.0.0.1', path: '/api/v1/status', via: 'bearer' });
  const all = logs.join('\n');
  t.notOk(all.includes('guess-number-one') || all.includes(ADMIN_TOKEN), 'neither the wrong nor the right token is in the log');
});

t.test('ten wrong tokens a minute from one address: 429 with Retry-After, others unaffected, then it lifts', async (t) => {
  const { server, clock, logs } = await fakeAdmin(t);
  const app = server.app;
  const attacker = { remoteAddress: '192.0.2.7' };
  for (let i = 0; i < 10; i++) {
    const res = await app.inject({ url: '/api/v1/status', headers: bearer(`guess-${i}`), ...attacker });
    t.equal(res.statusCode, 401, `guess ${i + 1}: 401`);
    clock.advance(1000);
  }
  const blocked = await app.inject({ url: '/api/v1/status', headers: bearer(), ...attacker });
  t.equal(blocked.statusCode, 429, 'then even the right token gets 429: it is not checked');
  const retryAfter = Number(blocked.headers['retry-after']);
  t.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${retryAfter} s`);
  const form = await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `token=${ADMIN_TOKEN}`, ...attacker });
  t.equal(form.statusCode, 429, 'the login form shares the throttle');
  t.match(form.body, /Too many wrong tokens/);
  t.ok(form.headers['retry-after']);
  t.equal((await app.inject({ url: '/api/v1/status', headers: bearer(), remoteAddress: '192.0.2.8' })).statusCode, 200, 'another address is not affected');
  t.equal((await app.inject({ url: '/healthz', ...attacker })).statusCode, 200, 'public paths still answer');
  clock.advance(retryAfter * 1000);
  t.equal((await app.inject({ url: '/api/v1/status', headers: bearer(), ...attacker })).statusCode, 200, 'after Retry-After the right token works again');
  const events = logs.map((line) => JSON.parse(line).event);
  t.equal(events.filter((e) => e === 'admin_auth_throttled').length, 1, 'the block is logged once, not per refused request');
  t.equal(events.filter((e) => e === 'admin_auth_failed').length, 10);
});

t.test('the login form starts a cookie session that never carries the token', async (t) => {
  const { server, clock } = await fakeAdmin(t);
  const app = server.app;
  const form = { 'content-type': 'application/x-www-form-urlencoded', host: HOST, origin: `http://${HOST}` };
  const wrong = await app.inject({ method: 'POST', url: '/login', headers: form, payload: 'token=nope' });
  t.equal(wrong.statusCode, 401);
  t.match(wrong.body, /That token is not right/);
  t.notOk(wrong.body.includes('nope'), 'the form does not echo what was typed');
  t.notOk(wrong.headers['set-cookie'], 'no cookie');

  const ok = await app.inject({ method: 'POST', url: '/login', headers: form, payload: `token=${ADMIN_TOKEN}` });
  t.equal(ok.statusCode, 303);
  t.equal(ok.headers.location, '/');
  const setCookie = String(ok.headers['set-cookie']);
  t.match(setCookie, /^ucgate_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict$/, 'opaque id, HttpOnly, SameSite=Strict, 12 h; no Secure on plain HTTP');
  t.notOk(setCookie.includes(ADMIN_TOKEN), 'the cookie is not the token');
  const cookie = setCookie.split(';')[0]!;

  const page = await app.inject({ url: '/', headers: { cookie } });
  t.equal(page.statusCode, 200);
  t.match(page.body, /data-node="cucm\/pub"/, 'the dashboard');
  t.match(page.body, /action="\/logout"/, 'with a sign-out button');
  t.equal((await app.inject({ url: '/api/v1/status', headers: { cookie } })).statusCode, 200, 'the API accepts the session too (the page polls it)');
  t.equal((await app.inject({ url: '/', headers: { cookie: 'ucgate_session=' + 'A'.repeat(43) } })).statusCode, 401, 'a made-up session id is nobody');

  clock.advance(12 * 3_600_000);
  t.equal((await app.inject({ url: '/api/v1/status', headers: { cookie } })).statusCode, 401, 'the session ends after 12 h');
});

t.test('a JSON login works for scripts, and a login posted from another site is refused', async (t) => {
  const { server } = await fakeAdmin(t);
  const json = await server.app.inject({ method: 'POST', url: '/login', payload: { token: ADMIN_TOKEN } });
  t.equal(json.statusCode, 303);
  const cross = await server.app.inject({
    method: 'POST',
    url: '/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded', host: HOST, origin: 'http://evil.example' },
    payload: `token=${ADMIN_TOKEN}`,
  });
  t.equal(cross.statusCode, 403, 'login CSRF: another origin cannot sign a browser in');
  t.notOk(cross.headers['set-cookie']);
});

t.test('cookie-authenticated POSTs need the same origin or the CSRF header; bearer POSTs do not', async (t) => {
  let reloads = 0;
  const backend = fakeBackend({ extra: { reload: async () => (reloads++, { ok: true }) } });
  const { server, logs } = await fakeAdmin(t, backend);
  const app = server.app;
  const cookie = await signIn(app);
  const post = (headers: Record<string, string>) => app.inject({ method: 'POST', url: '/api/v1/reload', headers: { host: HOST, ...headers } });

  t.equal((await post({ cookie })).statusCode, 403, 'no Origin, no Referer, no CSRF header: refused');
  t.equal((await post({ cookie, origin: 'http://evil.example' })).statusCode, 403, 'another origin: refused');
  t.equal((await post({ cookie, origin: `https://${HOST}` })).statusCode, 403, 'same host, other scheme: refused');
  t.equal((await post({ cookie, origin: 'null' })).statusCode, 403, 'Origin: null: refused');
  t.equal((await post({ cookie, referer: 'http://evil.example/page' })).statusCode, 403, 'a foreign Referer: refused');
  t.equal(reloads, 0, 'nothing happened');
  t.equal((await post({ cookie, origin: `http://${HOST}` })).statusCode, 200, 'same origin: accepted');
  t.equal((await post({ cookie, referer: `http://${HOST}/` })).statusCode, 200, 'same-origin Referer: accepted');
  const page = await app.inject({ url: '/', headers: { cookie } });
  const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page.body)![1]!;
  t.equal((await post({ cookie, 'x-csrf-token': csrf })).statusCode, 200, 'the session CSRF token: accepted');
  t.equal((await post({ cookie, 'x-csrf-token': 'wrong' })).statusCode, 403, 'a wrong CSRF token: refused');
  t.equal((await post(bearer())).statusCode, 200, 'bearer: no origin needed');
  t.equal(reloads, 4);
  t.ok(logs.some((line) => JSON.parse(line).event === 'admin_csrf_rejected'), 'refusals are logged');
});

t.test('sign out ends the session', async (t) => {
  const { server } = await fakeAdmin(t);
  const app = server.app;
  const cookie = await signIn(app);
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: { cookie, host: HOST, origin: 'http://evil.example' } })).statusCode, 403, 'not from another site');
  const out = await app.inject({ method: 'POST', url: '/logout', headers: { cookie, host: HOST, origin: `http://${HOST}` } });
  t.equal(out.statusCode, 303);
  t.match(String(out.headers['set-cookie']), /Max-Age=0/);
  t.equal((await app.inject({ url: '/api/v1/status', headers: { cookie } })).statusCode, 401);
});

t.test('API capabilities the backend lacks answer 501; present ones answer', async (t) => {
  const bare = await fakeAdmin(t);
  for (const [method, url] of [['POST', '/api/v1/certificates/renew'], ['POST', '/api/v1/reload'], ['GET', '/api/v1/audit'], ['GET', '/api/v1/certificates/renewals']] as const) {
    const res = await bare.server.app.inject({ method, url, headers: bearer() });
    t.equal(res.statusCode, 501, `${method} ${url}: 501`);
    t.match(res.json(), { error: 'not_implemented', message: /does not support/ });
  }
  const full = await fakeAdmin(
    t,
    fakeBackend({
      extra: {
        renew: async () => ({ renewed: ['rsa-2048'] }),
        reload: async () => ({ ok: false, problems: ['clusters[0].nodes[1].url: must be an https:// URL'] }),
        audit: async (limit) => Array.from({ length: Math.min(limit, 3) }, (_, i) => ({ time: new Date().toISOString(), action: 'issued', i })),
        renewals: async () => [{ time: new Date().toISOString(), result: 'success' }],
      },
    }),
  );
  const app = full.server.app;
  t.same((await app.inject({ method: 'POST', url: '/api/v1/certificates/renew', headers: bearer() })).json(), { renewed: ['rsa-2048'] });
  const reload = await app.inject({ method: 'POST', url: '/api/v1/reload', headers: bearer() });
  t.equal(reload.statusCode, 422, 'a bad config: 422, the old one keeps running');
  t.same(reload.json(), { ok: false, problems: ['clusters[0].nodes[1].url: must be an https:// URL'] });
  t.equal((await app.inject({ url: '/api/v1/audit?limit=2', headers: bearer() })).json().entries.length, 2);
  t.equal((await app.inject({ url: '/api/v1/audit?limit=0', headers: bearer() })).statusCode, 400, 'limit is validated');
  t.equal((await app.inject({ url: '/api/v1/certificates/renewals', headers: bearer() })).json().renewals.length, 1);
  t.ok(full.logs.some((line) => JSON.parse(line).event === 'admin_action'), 'actions are logged with who asked');
});

t.test('security headers: CSP with a nonce and nothing inline allowed otherwise, no framing, no caching', async (t) => {
  const { server } = await fakeAdmin(t);
  const page = await server.app.inject({ url: '/', headers: bearer() });
  const csp = String(page.headers['content-security-policy']);
  const nonce = /script-src 'nonce-([^']+)'/.exec(csp)![1]!;
  t.match(page.body, new RegExp(`<script nonce="${nonce.replace(/[+/=]/g, '\\$&')}">`), 'the inline script carries the nonce');
  t.match(page.body, new RegExp(`<style nonce="${nonce.replace(/[+/=]/g, '\\$&')}">`), 'and so does the stylesheet');
  t.notMatch(csp, /unsafe-inline|unsafe-eval|\*/, 'no unsafe-inline, no wildcards');
  t.match(csp, /default-src 'none'/);
  t.match(csp, /frame-ancestors 'none'/);
  t.notMatch(page.body, / style="/, 'no style attributes (CSP would block them)');
  const again = await server.app.inject({ url: '/', headers: bearer() });
  t.not(String(again.headers['content-security-policy']), csp, 'a fresh nonce per response');
  for (const res of [page, await server.app.inject({ url: '/healthz' }), await server.app.inject({ url: '/api/v1/status' })]) {
    t.equal(res.headers['x-content-type-options'], 'nosniff');
    t.equal(res.headers['x-frame-options'], 'DENY');
    t.equal(res.headers['cache-control'], 'no-store');
  }
});

t.test('with no token configured, nothing behind authentication answers and the form says why', async (t) => {
  const { server } = await fakeAdmin(t, fakeBackend(), { token: null });
  t.equal((await server.app.inject({ url: '/healthz' })).statusCode, 200);
  t.equal((await server.app.inject({ url: '/api/v1/status', headers: bearer('') })).statusCode, 401);
  t.equal((await server.app.inject({ url: '/api/v1/status', headers: bearer('anything') })).statusCode, 401);
  const page = await server.app.inject({ url: '/' });
  t.match(page.body, /No admin token is configured/);
});

t.test('over HTTPS the cookie is Secure and __Host- prefixed; a changed token ends sessions', async (t) => {
  const log = createLogger({ destination: { write: () => undefined } });
  const clock = { now: () => 0, setTimeout, clearTimeout } as never;
  const auth = new AdminAuth({ token: 'one', tls: true, clock, log });
  const { id } = auth.sessions.create();
  t.match(auth.sessionCookie(id), /^__Host-ucgate_session=[^;]+; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict; Secure$/);
  auth.setToken('one\n');
  t.ok(auth.sessions.get(id), 'the same token (file re-read with a newline) keeps sessions');
  auth.setToken('two');
  t.notOk(auth.sessions.get(id), 'a new token ends them');
});
