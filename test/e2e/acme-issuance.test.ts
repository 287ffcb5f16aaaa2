/**
 * First start with an empty store against a real pebble: the gateway listens
 * at once (placeholder, not ready), orders through each challenge type, and
 * serves a chain that verifies against pebble's root. pebble-challtestsrv is
 * pebble's DNS: every name is 127.0.0.1, and dns-01 TXT records go in
 * through the gateway's dnsHook (a script POSTing to its management API).
 */
import t, { type Test } from 'tap';
import { writeFileSync, readFileSync, statSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest, waitFor } from '../helpers/net.js';
import { startGatewayProcess, clusterConfig, TEST_ROUTES, FQDN, type LogLine } from '../helpers/gateway.js';
import { startPebble, startChallTestSrv, freePort, acmeGatewayConfig } from '../helpers/pebble.js';

// Three gateways and three pebbles, one after another: about 45 s on an idle machine, far more on a busy one.
t.setTimeout(300_000);

/** How long after the dnsHook's `present` the test's DNS starts serving the record. */
const TXT_DELAY_MS = 1_500;

const renewed = (line: LogLine) => line.event === 'cert_renewed' && line.outcome === 'renewed';

t.test('ACME issuance on first start, one test per challenge type', async (t) => {
  const cucm = await startCucmCluster({ nodes: 1 });
  t.teardown(() => cucm.close());
  const dns = await startChallTestSrv(t);

  async function issueWith(t: Test, challenge: 'http-01' | 'tls-alpn-01' | 'dns-01', prepare: (dir: string) => Record<string, unknown> = () => ({})) {
    const dir = t.testdir();
    const extra = prepare(dir);
    const caFile = join(dir, 'cucm-ca.pem');
    writeFileSync(caFile, cucm.caPem);
    const httpsPort = await freePort();
    const httpPort = await freePort();
    const pebble = await startPebble(t, dir, { httpPort, tlsPort: httpsPort, dnsServer: dns.dnsServer });
    const started = Date.now();
    const config = {
      workers: challenge === 'dns-01' ? 1 : 2,
      gateway: { fqdn: FQDN },
      ...acmeGatewayConfig({
        httpsPort,
        ...(challenge === 'http-01' && { httpPort }),
        acme: { directoryUrl: pebble.directoryUrl, caFile: pebble.tlsCaFile, challenge, email: 'pki@example.test', ...extra },
      }),
      clusters: [clusterConfig(cucm, caFile)],
      routes: TEST_ROUTES,
    };
    const gw = await startGatewayProcess(t, dir, config);
    t.ok(gw.logs.some((line) => line.event === 'certificate_placeholder'), 'listening on a placeholder while the CA works');
    await gw.waitForLog(renewed, 60_000).catch((err: Error) => {
      t.comment(gw.logs.filter((line) => /cert|acme/.test(String(line.event))).map((line) => JSON.stringify(line)).join('\n'));
      throw err;
    });
    const issuedMs = Date.now() - started;
    const root = await pebble.root();
    const res = await waitFor(
      async () => {
        const r = await httpsRequest({ host: '127.0.0.1', port: httpsPort, path: '/cucm-uds/version', ca: root, servername: FQDN });
        return r.socket.authorized ? r : undefined;
      },
      { timeoutMs: 10_000, message: 'the ACME certificate served by every worker' },
    );
    t.equal(res.status, 200, 'proxied through the gateway');
    t.ok(res.socket.authorized, 'chain verifies against pebble\'s root');
    t.match(res.socket.peerCertificate.subjectAltName, `DNS:${FQDN}`);
    t.comment(`${challenge}: empty store → ACME certificate served in ${issuedMs} ms (gateway start included)`);
    return { dir, gw, httpsPort, root, pebble, restart: () => startGatewayProcess(t, dir, config) };
  }

  t.test('http-01 on the plain-HTTP listener', async (t) => {
    const { dir, gw, restart, httpsPort, root } = await issueWith(t, 'http-01');
    const accounts = join(dir, 'certs', 'acme', 'accounts');
    const [folder] = readdirSync(accounts);
    const keyFile = join(accounts, folder!, 'account-key.pem');
    t.equal(statSync(keyFile).mode & 0o777, 0o600, 'account key kept in the store, mode 0600');
    const history = readFileSync(join(dir, 'certs', 'history', 'renewals.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    t.match(history.at(-1), { result: 'success', keyType: 'rsa-2048', issuer: 'acme' }, 'issuance recorded in the history');
    t.notOk(existsSync(join(dir, 'certs', 'acme', 'challenges', 'http-01')) && readdirSync(join(dir, 'certs', 'acme', 'challenges', 'http-01')).length > 0, 'challenge responses withdrawn');
    const served = (await httpsRequest({ host: '127.0.0.1', port: httpsPort, path: '/cucm-uds/version', ca: root, servername: FQDN })).socket.peerCertificate.serialNumber;
    t.equal((await gw.stop()).code, 0);
    // A restart with the certificate in the store serves it straight away: no placeholder, no new order.
    const again = await restart();
    t.notOk(again.logs.some((line) => line.event === 'certificate_placeholder' || line.event === 'cert_renewing'), 'no placeholder and no order after a restart');
    const res = await httpsRequest({ host: '127.0.0.1', port: httpsPort, path: '/cucm-uds/version', ca: root, servername: FQDN });
    t.equal(res.socket.peerCertificate.serialNumber, served, 'the stored certificate is served from the first handshake');
    await again.stop();
  });

  t.test('tls-alpn-01 on the HTTPS listener', async (t) => {
    const { gw, httpsPort, root } = await issueWith(t, 'tls-alpn-01');
    // A normal client (no acme-tls/1) gets the real certificate, never a challenge one.
    const res = await httpsRequest({ host: '127.0.0.1', port: httpsPort, path: '/cucm-uds/version', ca: root, servername: FQDN, ALPNProtocols: ['http/1.1'] });
    t.ok(res.socket.authorized);
    await gw.stop();
  });

  t.test('dns-01 through the dnsHook, waiting until the record is served', async (t) => {
    const { gw } = await issueWith(t, 'dns-01', (dir) => {
      const hook = join(dir, 'dns-hook.mjs');
      // Like a DNS provider's API: `present` returns at once, and the record is served a while later.
      writeFileSync(
        hook,
        `// ucgate dnsHook for tests: present|cleanup NAME VALUE -> pebble-challtestsrv's TXT API
import { spawn } from 'node:child_process';
const [action, name, value] = process.argv.slice(2);
const body = JSON.stringify({ host: name + '.', value });
if (action === 'present') {
  const later = "setTimeout(() => fetch('${dns.managementUrl}/set-txt', { method: 'POST', body: process.argv[1] }), ${TXT_DELAY_MS})";
  spawn(process.execPath, ['-e', later, body], { detached: true, stdio: 'ignore' }).unref();
} else {
  const res = await fetch('${dns.managementUrl}/clear-txt', { method: 'POST', body });
  if (!res.ok) { console.error('challtestsrv said ' + res.status); process.exit(1); }
}
`,
      );
      return { dnsHook: `"${process.execPath}" "${hook}"`, dnsPropagation: { nameservers: [dns.dnsServer], intervalMs: 100, timeoutMs: 30_000 } };
    });
    const propagated = gw.logs.find((line) => line.event === 'acme_dns_propagated');
    t.ok(propagated, 'the gateway saw the TXT record served before asking the CA');
    t.ok(Number(propagated?.ms) >= TXT_DELAY_MS / 2, `and waited for it (${String(propagated?.ms)} ms; the record appeared after ${TXT_DELAY_MS} ms)`);
    await gw.stop();
  });
});
