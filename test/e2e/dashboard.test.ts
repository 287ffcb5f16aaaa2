/**
 * The dashboard in a real browser: a real gateway process in front of a
 * simulated CUCM cluster, Debian's Chromium driven by playwright-core. Sign
 * in through the form, see both nodes and the certificate, kill the
 * publisher and watch its badge turn red, at desktop and phone widths, with
 * screenshots kept under test/artifacts/. Then a hostile status document
 * in the same browser, to prove no value becomes markup.
 */
import t, { type Test } from 'tap';
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startCucmCluster, type CucmCluster } from '../../src/sim/cucm-cluster.js';
import { startGatewayProcess, clusterConfig, TEST_ROUTES, FQDN, type GatewayProcess, TEST_ADMIN_TOKEN } from '../helpers/gateway.js';
import { launchBrowser } from '../helpers/browser.js';
import { fakeAdmin, fakeBackend, fakeStatus, ADMIN_TOKEN, HOSTILE } from '../helpers/admin-fake.js';

const TOKEN = TEST_ADMIN_TOKEN;
const FAST_HEALTH = { path: '/cucm-uds/version', intervalMs: 250, timeoutMs: 600, fall: 2, rise: 2, expectStatus: 200, expectBody: '<versionInformation' };
const TIMEOUTS = { connectMs: 600, firstByteMs: 1500 };

async function gatewayFor(t: Test, cucm: CucmCluster): Promise<GatewayProcess> {
  const dir = t.testdir();
  const caFile = join(dir, 'cucm-ca.pem');
  writeFileSync(caFile, cucm.caPem);
  const tokenFile = join(dir, 'admin.token');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  chmodSync(tokenFile, 0o600);
  return startGatewayProcess(t, dir, {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }], admin: { host: '127.0.0.1', port: 0, tls: false, tokenFile } },
    clusters: [clusterConfig(cucm, caFile, { healthCheck: FAST_HEALTH, timeouts: TIMEOUTS })],
    routes: TEST_ROUTES,
    log: { access: false },
  });
}

function adminPort(gw: GatewayProcess): number {
  const ready = gw.logs.find((line) => line.event === 'gateway_ready') as { admin?: { port: number } };
  return ready.admin!.port;
}

/** Loads `/`, gets the login form, signs in with `token`, and waits for the dashboard. */
async function signIn(page: Page, url: string, token: string): Promise<void> {
  const first = await page.goto(url);
  if (first?.status() !== 401) throw new Error(`GET / without a session answered ${first?.status()}, not the 401 login form`);
  await page.fill('#token', token);
  await Promise.all([page.waitForURL(url), page.click('button[type=submit]')]);
  await page.waitForSelector('[data-section="nodes"]', { timeout: 10_000 });
}

const badge = (node: string, state: string) => `tr[data-node="cucm/${node}"] .badge[data-state="${state}"]`;

t.test('sign in, see both nodes and the certificate, watch the publisher turn red and come back', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const gw = await gatewayFor(t, cucm);
  const url = `http://127.0.0.1:${adminPort(gw)}/`;
  const browser = await launchBrowser(t, { width: 1280, height: 800 });
  const { page, context } = browser;

  await page.goto(url);
  t.equal(await page.locator('form[action="/login"]').count(), 1, 'without a session: the login form');
  await browser.screenshot('login-1280x800.png');
  await page.fill('#token', 'not-the-token');
  await Promise.all([page.waitForLoadState(), page.click('button[type=submit]')]);
  t.match(await page.locator('.message').textContent(), /not right/, 'a wrong token is refused with a message');
  await signIn(page, url, TOKEN);
  browser.errors.length = 0; // Chromium logs the login form's 401s as console errors: expected, not a fault.
  const cookies = await context.cookies();
  const session = cookies.find((cookie) => cookie.name === 'ucgate_session');
  t.ok(session, 'a session cookie');
  t.ok(session!.httpOnly, 'HttpOnly');
  t.equal(session!.sameSite, 'Strict');
  t.not(session!.value, TOKEN, 'the cookie is not the token');

  await page.waitForSelector(badge('pub', 'up'), { timeout: 10_000 });
  await page.waitForSelector(badge('sub1', 'up'), { timeout: 10_000 });
  t.match(await page.locator('tr[data-node="cucm/pub"]').textContent(), /cucm-pub\.example\.test/, 'the publisher with its URL');
  const own = page.locator('tr[data-cert="gateway-rsa-2048"]');
  await own.waitFor({ timeout: 5_000 });
  t.match(await own.textContent(), new RegExp(`${FQDN.replace(/\./g, '\\.')}[\\s\\S]*days left`), 'the gateway certificate with its days left');
  await page.waitForSelector('tr[data-cert="cucm/pub"]', { timeout: 10_000 });
  t.pass('the upstream node certificates are listed as the health checks see them');
  await page.waitForSelector('#live-state[data-state="live"]:has-text("updated")', { timeout: 10_000 });

  const stoppedAt = Date.now();
  await cucm.publisher.stop();
  await page.waitForSelector(badge('pub', 'down'), { timeout: 10_000 });
  const redAfterMs = Date.now() - stoppedAt;
  t.ok(redAfterMs < 6_000, `the publisher turned red ${redAfterMs} ms after it was stopped`);
  const row = page.locator('tr[data-node="cucm/pub"]');
  t.match(await row.locator('.badge').textContent(), /Down/, 'the badge says so in words, not only colour');
  t.match(await row.textContent(), /connect|reset/, 'and names the layer that failed');
  t.equal(await page.locator(badge('sub1', 'up')).count(), 1, 'the subscriber stays green');
  await page.waitForSelector('[data-section="summary"] .value:has-text("1 / 2")', { timeout: 5_000 });
  const wide = await browser.screenshot('dashboard-1280x800.png');
  await browser.screenshot('dashboard-1280-full.png', { fullPage: true });

  await page.setViewportSize({ width: 390, height: 844 });
  t.equal(await page.locator('table.stack thead').first().isVisible(), false, 'at phone width the tables become stacked cards');
  const overflow = (await page.evaluate('document.documentElement.scrollWidth')) as number;
  t.ok(overflow <= 390, `no horizontal scrolling at 390 px (content width ${overflow})`);
  const narrow = await browser.screenshot('dashboard-390x844.png');
  await browser.screenshot('dashboard-390-full.png', { fullPage: true });
  t.comment(`screenshots: ${wide}, ${narrow}`);

  await cucm.publisher.restart();
  await page.waitForSelector(badge('pub', 'up'), { timeout: 10_000 });
  t.pass('after rise, the publisher is green again without a reload');
  t.same(browser.errors, [], 'no console errors and no CSP violations');
});

t.test('hostile names and subjects stay text in the browser, through the live refresh too', async (t) => {
  const when = new Date().toISOString();
  const backend = fakeBackend({
    status: () => fakeStatus({ hostile: true, pubDown: true }),
    extra: {
      renewals: async () => [{ time: when, result: 'failure', keyType: 'rsa-2048', error: `ACME said ${HOSTILE}` }],
      audit: async () => [{ time: when, action: 'imported', actor: 'cli', keyType: 'rsa-2048', subject: `CN=${HOSTILE}`, detail: HOSTILE }],
    },
  });
  const { server } = await fakeAdmin(t, backend);
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (server.app.server.address() as { port: number }).port;
  const browser = await launchBrowser(t, { width: 1280, height: 800 });
  const { page } = browser;
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  const url = `http://127.0.0.1:${port}/`;
  await signIn(page, url, ADMIN_TOKEN);
  browser.errors.length = 0;
  // Wait for a refresh to swap sections in: the DOMParser path must be as safe as the first render.
  await page.waitForSelector('#live-state[data-state="live"]:has-text("updated")', { timeout: 10_000 });
  t.not(await page.title(), 'pwned', 'no injected script ran');
  t.equal(await page.locator('img').count(), 0, 'no injected element exists');
  t.equal(await page.locator('script').count(), 1, 'only our own script element');
  t.match(await page.locator('tr[data-node] strong').first().textContent(), /^pub<img src=x onerror=/, 'the payload is shown as text');
  t.match(await page.locator('[data-section="certificates"]').textContent(), /CN=ucgw\.example\.test<img src=x/, 'in the subject too');
  t.match(await page.locator('[data-section="renewals"]').textContent(), /ACME said <img src=x/, 'in the renewal history');
  t.match(await page.locator('[data-section="audit"]').textContent(), /CN=<img src=x/, 'and in the audit log');
  await browser.screenshot('dashboard-hostile-1280.png', { fullPage: true });
  t.same(dialogs, []);
  t.same(browser.errors, [], 'no console errors and no CSP violations');
});

t.test('drain a node from the dashboard: confirmed, shown, audited; the audit log filters and reads at 390 px', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const gw = await gatewayFor(t, cucm);
  const url = `http://127.0.0.1:${adminPort(gw)}/`;
  const browser = await launchBrowser(t, { width: 1280, height: 800 });
  const { page } = browser;
  await signIn(page, url, TOKEN);
  browser.errors.length = 0;
  await page.waitForSelector(badge('pub', 'up'), { timeout: 10_000 });
  const status = async () =>
    (await (await fetch(`${url}api/v1/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { clusters: { nodes: { name: string; draining?: boolean }[] }[] };
  const draining = async (name: string) => (await status()).clusters[0]!.nodes.find((node) => node.name === name)!.draining;

  // Cancel changes nothing.
  await page.click('tr[data-node="cucm/sub1"] button[data-action="drain"]');
  await page.waitForSelector('dialog#confirm[open]');
  t.match(await page.locator('#confirm-text').textContent(), /Drain cucm\/sub1\? New requests and sessions go to the other nodes/, 'the dialog says what will happen');
  await page.click('#confirm-cancel');
  t.equal(await draining('sub1'), false, 'cancelled: sub1 is not drained');

  await page.click('tr[data-node="cucm/pub"] button[data-action="drain"]');
  await page.waitForSelector('dialog#confirm[open]');
  await page.fill('#confirm-reason', 'CUCM 15 SU2');
  await browser.screenshot('dashboard-drain-confirm-1280.png');
  await page.click('#confirm-ok');
  await page.waitForSelector('tr[data-node="cucm/pub"][data-draining="true"] .badge[data-state="draining"]', { timeout: 10_000 });
  t.pass('the publisher shows Draining without a reload');
  t.match(await page.locator('#action-result').textContent(), /Drain cucm\/pub: done/, 'the outcome in words');
  t.equal(await draining('pub'), true, 'the API agrees');
  t.match(await page.locator('tr[data-node="cucm/pub"]').textContent(), /drained .* by dashboard: CUCM 15 SU2/, 'who drained it and why');
  await page.waitForSelector('table.audit tr[data-action="node-drained"]', { timeout: 10_000 });
  t.match(await page.locator('table.audit tr[data-action="node-drained"]').first().textContent(), /dashboard[\s\S]*cucm\/pub[\s\S]*CUCM 15 SU2/, 'the audit log names it, who and why');
  await page.waitForSelector('[data-section="transitions"] tr[data-transition="cucm/pub"]', { timeout: 10_000 });
  t.pass('and the recent node changes list it');
  await page.waitForSelector('tr[data-node="cucm/pub"] [data-in-flight]', { timeout: 5_000 });
  await browser.screenshot('dashboard-drained-1280-full.png', { fullPage: true });

  // The audit filter: only matching rows, and it survives a refresh.
  await page.fill('#audit-filter', 'node-drained');
  const visible = await page.locator('table.audit tbody tr:visible').count();
  const all = await page.locator('table.audit tbody tr').count();
  t.ok(visible >= 1 && visible < all, `the filter leaves ${visible} of ${all} audit rows`);
  await page.waitForSelector('#live-state[data-state="live"]:has-text("updated")', { timeout: 10_000 });
  t.equal(await page.locator('#audit-filter').inputValue(), 'node-drained', 'the filter text stays across refreshes');

  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = (await page.evaluate('document.documentElement.scrollWidth')) as number;
  t.ok(overflow <= 390, `no horizontal scrolling at 390 px (content width ${overflow})`);
  // No audit column squeezed to a letter per line: every visible cell's value is wider than a few characters' worth.
  const narrowest = (await page.evaluate(
    "Math.min(...[...document.querySelectorAll('table.audit tbody tr:not([hidden]) td > .v')].filter((v) => v.textContent.trim().length > 3).map((v) => v.getBoundingClientRect().width))",
  )) as number;
  t.ok(narrowest >= 60, `the narrowest audit value is ${Math.round(narrowest)} px wide at 390 px`);
  await browser.screenshot('dashboard-drained-390-full.png', { fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.fill('#audit-filter', '');

  await page.click('tr[data-node="cucm/pub"] button[data-action="undrain"]');
  await page.waitForSelector('dialog#confirm[open]');
  await page.click('#confirm-ok');
  await page.waitForSelector('tr[data-node="cucm/pub"]:not([data-draining]) button[data-action="drain"]', { timeout: 10_000 });
  t.equal(await draining('pub'), false, 'undrained');
  await page.waitForSelector('table.audit tr[data-action="node-undrained"]', { timeout: 10_000 });
  t.pass('the undrain is audited too');
  t.same(browser.errors, [], 'no console errors and no CSP violations');

  // Renew now and roll back: confirmed the same way, the outcome in words.
  await page.click('button[data-action="renew"]');
  await page.waitForSelector('dialog#confirm[open]');
  t.match(await page.locator('#confirm-text').textContent(), /Renew every gateway certificate now/);
  await page.click('#confirm-ok');
  await page.waitForSelector('#action-result[data-ok="true"]:has-text("Renew now: done")', { timeout: 30_000 });
  await page.waitForSelector('table.audit tr[data-action="renewed"]', { timeout: 10_000 });
  t.pass('a renewal from the dashboard is served and audited');
  await page.click('button[data-action="rollback"]');
  await page.waitForSelector('dialog#confirm[open]');
  await page.click('#confirm-ok');
  await page.waitForSelector('#action-result:has-text("Roll back")', { timeout: 10_000 });
  await page.waitForSelector('#action-result:not(:has-text("working"))', { timeout: 10_000 });
  t.match(await page.locator('#action-result').textContent(), /Roll back: done/, 'rolled back to the certificate the renewal replaced');
  await page.waitForSelector('table.audit tr[data-action="rolled-back"]', { timeout: 10_000 });
  t.match(await page.locator('table.audit tr[data-action="rolled-back"]').first().textContent(), /dashboard/, 'audited as the dashboard\'s');
});
