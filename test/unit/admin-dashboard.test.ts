/**
 * The dashboard's markup: every value escaped (hostile node names and
 * certificate subjects stay text), node states as badges, certificate
 * timelines, history sections that say when they are unavailable; plus the
 * small pieces it is built from (escaping, formatting, the throttle).
 */
import t from 'tap';
import { fakeAdmin, fakeBackend, fakeStatus, ADMIN_TOKEN, HOSTILE } from '../helpers/admin-fake.js';
import { escapeHtml, html } from '../../src/admin/html.js';
import { formatAgo, formatDuration, formatUtc } from '../../src/admin/dashboard-format.js';
import { renderSections } from '../../src/admin/dashboard-sections.js';
import { LoginThrottle } from '../../src/admin/login-throttle.js';
import type { NodeStatusView } from '../../src/admin/status-types.js';

const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };

t.test('html escapes every interpolated value, and only those', async (t) => {
  t.equal(escapeHtml(`<a href="x" onclick='y'>&\``), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;');
  const inner = html`<b>${'<i>'}</b>`;
  t.equal(html`<p title="${'"><script>'}">${inner}${['<', html`<br>`]}${null}${undefined}${false}${0}</p>`.toString(), '<p title="&quot;&gt;&lt;script&gt;"><b>&lt;i&gt;</b>&lt;<br>0</p>');
});

t.test('a hostile node name, cluster, FQDN, subject, issuer and SAN never become markup', async (t) => {
  const { server } = await fakeAdmin(t, fakeBackend({ status: () => fakeStatus({ hostile: true, pubDown: true }) }));
  for (const url of ['/', '/dashboard/sections']) {
    const res = await server.app.inject({ url, headers: bearer });
    t.equal(res.statusCode, 200, url);
    t.notOk(res.body.includes('<img src=x'), `${url}: no injected img`);
    t.notOk(res.body.includes("<script>document.title='pwned'"), `${url}: no injected script`);
    t.ok(res.body.includes('&lt;img src=x onerror=&quot;document.title=&#39;pwned&#39;&quot;&gt;'), `${url}: the payload is shown as text`);
    t.match(res.body, /data-node="cucm&lt;img src=x onerror=&quot;[^"]*\/pub&lt;img/, `${url}: attribute values are escaped too`);
  }
  const page = await server.app.inject({ url: '/', headers: bearer });
  t.equal((page.body.match(/<script/g) ?? []).length, 1, 'exactly one script element: our own');
  t.ok(HOSTILE.includes('<script>'));
});

t.test('node state: a coloured badge with text, the failing layer and reason, when it was checked', async (t) => {
  const now = Date.UTC(2030, 0, 1, 12);
  const sections = renderSections({ status: fakeStatus({ pubDown: true, now }), renewals: 'absent', audit: 'absent' }).toString();
  const pub = /<tr data-node="cucm\/pub" data-state="down">([\s\S]*?)<\/tr>/.exec(sections)?.[1] ?? '';
  t.match(pub, /<span class="badge" data-state="down">.*Down<\/span>/, 'a red Down badge');
  t.match(pub, /<span class="chip"[^>]*>connect<\/span> <span class="reason">ECONNREFUSED/, 'the layer and the reason');
  t.match(pub, /<time datetime="2030-01-01T11:59:58.500Z" title="2030-01-01 11:59:58 UTC">1 s ago<\/time>/, 'the last check, relative to the status time');
  t.match(sections, /<tr data-node="cucm\/sub1" data-state="up">[\s\S]*?data-state="up">.*Up<\/span>/, 'sub1 up');
  t.match(sections, /1 of 2 healthy/);
  t.match(sections, /<span class="value">1 \/ 2<\/span>/, 'the summary counts healthy nodes');
});

t.test('service checks: one badge per service under the main verdict, values escaped', async (t) => {
  const now = Date.UTC(2030, 0, 1, 12);
  const status = fakeStatus({ now });
  const [pub, sub1] = status.clusters[0]!.nodes as [NodeStatusView, NodeStatusView];
  const service = (name: string, down: boolean) => ({
    name,
    path: '/emapp/EMAppServlet',
    healthy: !down,
    up: !down,
    coolingUntil: null,
    lastCheck: null,
    lastError: down ? { layer: 'status', reason: 'status 500, expected 200', at: new Date(now).toISOString(), source: 'check' } : null,
  });
  const nodes = [{ ...pub, services: [service('tomcat', true), service(`x${HOSTILE}`, false)] }, sub1];
  const sections = renderSections({ status: { ...status, clusters: [{ ...status.clusters[0]!, nodes }] }, renewals: 'absent', audit: 'absent' }).toString();
  const row = /<tr data-node="cucm\/pub" data-state="up">([\s\S]*?)<\/tr>/.exec(sections)?.[1] ?? '';
  t.match(row, /<li data-service="tomcat" data-state="down" title="tomcat check: \/emapp\/EMAppServlet · last error: status status 500, expected 200">/);
  t.match(row, /<span class="badge" data-state="down">.*tomcat: Down<\/span>/, 'the service verdict as a badge');
  t.notOk(row.includes('<img src=x'), 'a hostile service name stays text');
  t.notOk(/data-service/.test(/<tr data-node="cucm\/sub1"[\s\S]*?<\/tr>/.exec(sections)?.[0] ?? ''), 'no service list without service checks');
});

t.test('certificates: days left on a 90-day bar with the renewal mark; levels change colour', async (t) => {
  const status = fakeStatus();
  const render = (daysLeft: number) =>
    renderSections({ status: { ...status, certificates: [{ ...status.certificates[0]!, daysLeft }] }, renewals: 'absent', audit: 'absent' }).toString();
  const ok = render(62);
  t.match(ok, /<div class="timeline" data-level="ok">/);
  t.match(ok, /<rect class="fill" x="0" y="0" width="68.89"/, '62 of 90 days');
  t.match(ok, /<line class="mark" x1="33.33"/, 'renewal starts at 30 days');
  t.match(ok, /62 days left/);
  t.match(render(20), /data-level="warn"/);
  t.match(render(3), /data-level="crit"/);
  t.match(render(400), /width="100.00"/, 'a long-lived certificate fills the bar');
  const expired = render(-2);
  t.match(expired, /data-level="expired"/);
  t.match(expired, /expired 2 days ago/);
  t.match(expired, /width="0.00"/);
  const upstream = renderSections({
    status: { ...status, certificates: [...status.certificates, { ...status.certificates[0]!, name: 'cucm/pub', source: 'upstream', cluster: 'cucm', node: 'pub' }] },
    renewals: 'absent',
    audit: 'absent',
  }).toString();
  t.match(upstream, /<tr data-cert="cucm\/pub">[\s\S]*?<span class="chip">upstream<\/span>/, 'upstream node certificates are listed too');
});

t.test('under an own certificate: when it renews, or why renewal keeps failing', async (t) => {
  const status = fakeStatus({ now: Date.UTC(2030, 0, 1) });
  const render = (renewal: NonNullable<typeof status.renewal>) => renderSections({ status: { ...status, renewal }, renewals: 'absent', audit: 'absent' }).toString();
  t.match(render([{ keyType: 'rsa-2048', dueAt: '2030-02-01T00:00:00.000Z', dueBy: 'ari', consecutiveFailures: 0 }]), /renews 2030-02-01 \(ari\)/);
  const failing = render([
    { keyType: 'rsa-2048', dueAt: '2029-12-01T00:00:00.000Z', dueBy: 'lifetime', consecutiveFailures: 3, retryAt: '2030-01-01T00:10:00.000Z', lastError: { at: '2029-12-31T23:00:00.000Z', reason: 'rate-limited', message: '<b>too many</b>' } },
  ]);
  t.match(failing, /3 failed attempts, retry <time[^>]*>in 10 min<\/time>: rate-limited: &lt;b&gt;too many&lt;\/b&gt;/, 'failures, next retry and the escaped reason');
  t.match(render([{ keyType: 'rsa-2048', renewing: true }]), /renewing now/);
  t.notMatch(render([{ keyType: 'ecdsa-p256', dueAt: '2030-02-01T00:00:00.000Z' }]), /renews/, 'only the matching key type');
});

t.test('renewal history and audit tail: rows newest first, or why they are missing', async (t) => {
  const status = fakeStatus();
  const absent = renderSections({ status, renewals: 'absent', audit: new Error('EACCES: permission denied') }).toString();
  t.match(absent, /Not available: this gateway does not provide renewal history yet/);
  t.match(absent, /Could not read the audit log: EACCES: permission denied/);
  const full = renderSections({
    status,
    renewals: [
      { time: '2030-01-01T10:00:00.000Z', result: 'failure', keyType: 'rsa-2048', error: 'ACME order failed: rateLimited' },
      { time: '2030-01-01T11:00:00.000Z', result: 'success', keyType: 'rsa-2048', action: 'renewed', actor: 'acme', serial: 'abcdef0123456789abcdef', notAfter: '2030-04-01T11:00:00.000Z' },
    ],
    audit: [
      { time: '2030-01-01T09:00:00.000Z', action: 'issued', actor: 'self-signed', keyType: 'rsa-2048', subject: 'CN=first' },
      { time: '2030-01-01T11:00:00.000Z', action: 'renewed', actor: 'acme', keyType: 'rsa-2048', subject: 'CN=second', serial: 'ab' },
    ],
  }).toString();
  t.ok(full.indexOf('data-result="success"') < full.indexOf('data-result="failure"'), 'the newest renewal first');
  t.match(full, /ACME order failed: rateLimited/);
  t.match(full, /abcdef0123456789…/, 'long serials shortened');
  t.ok(full.indexOf('CN=second') < full.indexOf('CN=first'), 'the newest audit entry first');
  t.match(renderSections({ status, renewals: [], audit: [] }).toString(), /No entries yet/);
});

t.test('the dashboard shows the readiness reasons when the gateway is not ready', async (t) => {
  const status = { ...fakeStatus(), ready: { ready: false, reasons: ['cluster cucm: no healthy node'] } };
  const sections = renderSections({ status, renewals: 'absent', audit: 'absent' }).toString();
  t.match(sections, /data-state="down">.*Not ready/);
  t.match(sections, /<li>cluster cucm: no healthy node<\/li>/);
});

t.test('formatting', async (t) => {
  const now = Date.UTC(2030, 0, 1);
  t.equal(formatAgo(new Date(now - 4_200).toISOString(), now), '4 s ago');
  t.equal(formatAgo(new Date(now - 3 * 3_600_000).toISOString(), now), '3 h ago');
  t.equal(formatAgo(new Date(now + 90_000).toISOString(), now), 'in 1 min');
  t.equal(formatAgo(null, now), 'never');
  t.equal(formatDuration(3725_000), '1 h 2 min');
  t.equal(formatDuration(3 * 86_400_000 + 7_200_000), '3 d 2 h');
  t.equal(formatUtc('2030-01-01T12:03:04.567Z'), '2030-01-01 12:03:04 UTC');
  t.equal(formatUtc('garbage'), '—');
});

t.test('the throttle: a sliding window of the last ten failures per client', async (t) => {
  let now = 0;
  const throttle = new LoginThrottle({ clock: { now: () => now, setTimeout, clearTimeout } as never, maxFailures: 3, windowMs: 60_000, maxClients: 2 });
  t.equal(throttle.fail('a'), 0);
  now = 10_000;
  t.equal(throttle.fail('a'), 0);
  now = 20_000;
  t.equal(throttle.fail('a'), 40, 'the third failure in a minute blocks until the first leaves the window');
  now = 59_000;
  t.equal(throttle.retryAfterSeconds('a'), 1);
  now = 60_000;
  t.equal(throttle.retryAfterSeconds('a'), 0, 'the window slid past the first failure');
  throttle.succeed('a');
  t.equal(throttle.fail('a'), 0, 'a success forgets earlier failures');
  throttle.fail('b');
  throttle.fail('c');
  t.equal(throttle.retryAfterSeconds('a'), 0);
  for (let i = 0; i < 3; i++) throttle.fail('c');
  t.ok(throttle.retryAfterSeconds('c') > 0, 'memory is bounded, yet the newest offender stays blocked');
});
