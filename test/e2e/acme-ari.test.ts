/**
 * ARI (RFC 9773) end to end: the gateway orders from pebble through a small
 * stand-in that adds `renewalInfo` to the directory. Pebble's certificates
 * live five years, so without ARI nothing would renew for years; the
 * stand-in suggests a window a few seconds out for the first certificate,
 * and the gateway renews inside it, naming the certificate it replaces.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { ariCertId } from '../../src/acme/ari.js';
import { httpsRequest, waitFor } from '../helpers/net.js';
import { startGatewayProcess, clusterConfig, TEST_ROUTES, FQDN, TEST_ADMIN_TOKEN } from '../helpers/gateway.js';
import { startPebble, startChallTestSrv, freePort, acmeGatewayConfig, startAriStandIn } from '../helpers/pebble.js';

t.setTimeout(180_000);

t.test('the ARI window from the CA drives renewal, and the new order names what it replaces', async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster({ nodes: 1 });
  t.teardown(() => cucm.close());
  const caFile = join(dir, 'cucm-ca.pem');
  writeFileSync(caFile, cucm.caPem);
  const tokenFile = join(dir, 'admin.token');
  writeFileSync(tokenFile, TEST_ADMIN_TOKEN, { mode: 0o600 });
  const dns = await startChallTestSrv(t);
  const httpsPort = await freePort();
  const httpPort = await freePort();
  const pebble = await startPebble(t, dir, { httpPort, tlsPort: httpsPort, dnsServer: dns.dnsServer });
  // First certificate: a window 4-6 s after it is asked about. Any later one: the usual far-off window.
  let firstCertId: string | undefined;
  const window = { start: new Date(0), end: new Date(0) };
  const standIn = await startAriStandIn(t, pebble, (certId) => {
    if (firstCertId === undefined) {
      firstCertId = certId;
      window.start = new Date(Date.now() + 4_000);
      window.end = new Date(Date.now() + 6_000);
    }
    if (certId === firstCertId) return { ...window, retryAfterSeconds: 3_600 };
    return { start: new Date(Date.now() + 60 * 86_400_000), end: new Date(Date.now() + 61 * 86_400_000) };
  });
  const base = acmeGatewayConfig({ httpsPort, httpPort, acme: { directoryUrl: standIn.directoryUrl, caFile: pebble.tlsCaFile, challenge: 'http-01' } });
  const gw = await startGatewayProcess(t, dir, {
    ...base,
    listen: { ...(base.listen as object), admin: { host: '127.0.0.1', port: 0, tls: false, tokenFile } },
    gateway: { fqdn: FQDN },
    clusters: [clusterConfig(cucm, caFile)],
    routes: TEST_ROUTES,
  });
  const first = await gw.waitForLog((line) => line.event === 'cert_renewed' && line.outcome === 'renewed', 60_000);
  const ari = await gw.waitForLog((line) => line.event === 'ari_window' && line.serial === first.serial, 10_000);
  t.equal(ari.start, window.start.toISOString(), 'the loop read the window the CA gave');
  const chosen = Date.parse(String(ari.chosen));
  t.ok(chosen >= window.start.getTime() && chosen < window.end.getTime(), 'and picked a time inside it');

  const second = await gw
    .waitForLog((line) => line.event === 'cert_renewed' && line.outcome === 'renewed' && line.serial !== first.serial, 30_000)
    .catch((err: Error) => {
      t.comment(gw.logs.filter((line) => /cert|ari|acme/.test(String(line.event))).map((line) => JSON.stringify(line)).join('\n'));
      throw err;
    });
  const renewedAt = Date.parse(String(second.time));
  t.equal(second.trigger, 'scheduled');
  t.ok(renewedAt >= chosen, `renewed at the chosen time, not before (${renewedAt - chosen} ms after it)`);
  t.ok(renewedAt < window.end.getTime() + 5_000, 'within the window (plus the order itself)');
  t.comment(`5-year certificate renewed ${Math.round((Date.parse(String(second.notAfter)) - renewedAt) / 86_400_000)} days before expiry, as ARI said`);

  const firstPem = readFileSync(join(dir, 'certs', 'certificates', 'rsa-2048', 'versions', String(first.serial), 'certificate.pem'), 'utf8');
  t.equal(standIn.renewalInfoRequests[0], ariCertId(firstPem), 'renewalInfo was asked with the RFC 9773 CertID of the first certificate');
  t.equal(standIn.newOrders.length, 2);
  t.notOk('replaces' in standIn.newOrders[0]!, 'the first order replaced nothing (a placeholder was served)');
  t.equal(standIn.newOrders[1]!.replaces, ariCertId(firstPem), 'the renewal order says which certificate it replaces');

  const adminPort = (gw.logs.find((l) => l.event === 'gateway_ready') as { admin: { port: number } }).admin.port;
  const getStatus = () =>
    new Promise<{ renewal: Record<string, unknown>[] }>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port: adminPort, path: '/api/v1/status', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve(JSON.parse(body)));
      })
        .on('error', reject)
        .end();
    });
  // The loop asks the CA about the new certificate right after swapping it in.
  const status = await waitFor(async () => {
    const current = await getStatus();
    return current.renewal[0]?.renewing === false && current.renewal[0]?.serial === second.serial ? current : undefined;
  });
  t.match(status.renewal[0], { dueBy: 'ari', serial: second.serial }, 'the new certificate is scheduled by its own ARI window');
  const dueInDays = (Date.parse(String(status.renewal[0]!.dueAt)) - Date.now()) / 86_400_000;
  t.ok(dueInDays > 59 && dueInDays < 62, `due in ${dueInDays.toFixed(1)} days, inside the window the CA gave it`);
  const res = await httpsRequest({ host: '127.0.0.1', port: httpsPort, path: '/cucm-uds/version', ca: await pebble.root(), servername: FQDN });
  t.equal(res.socket.peerCertificate.serialNumber?.toLowerCase(), second.serial, 'serving the renewed certificate');
});
