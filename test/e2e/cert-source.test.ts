/**
 * Issue 18: the CLI and the running gateway agree, and a renewal never swaps
 * a certificate's source behind the operator's back. A real gateway process
 * with the default `self-signed` issuer and an admin listener (TLS, the
 * default), beside it the real CLI:
 *  - `cert import` of an enterprise-CA certificate is served within seconds,
 *    without a signal (the CLI asks the gateway through its admin API);
 *  - a renewal from the admin API (`cert renew --force`, and a bare
 *    `POST /api/v1/certificates/renew`) keeps the imported certificate served,
 *    and says so; the unmanaged metric and the status say nothing renews it;
 *  - `cert status` shows what the gateway serves and watches, the upstream
 *    CUCM node's certificate included;
 *  - `cert renew --force --issuer self-signed` replaces it on purpose;
 *  - `cert rollback` brings the import back at once.
 */
import t from 'tap';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest, waitFor } from '../helpers/net.js';
import { startGatewayProcess, clusterConfig, runCli, TEST_ROUTES, TEST_ADMIN_TOKEN, FQDN } from '../helpers/gateway.js';
import { createOpensslCa } from '../helpers/openssl-ca.js';
import { freePort } from '../helpers/pebble.js';

t.setTimeout(300_000);

t.test('imported certificates beside a running gateway with the default issuer', async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster({ nodes: 1 });
  t.teardown(() => cucm.close());
  const cucmCa = join(dir, 'cucm-ca.pem');
  writeFileSync(cucmCa, cucm.caPem);
  mkdirSync(join(dir, 'ca'));
  const ca = createOpensslCa(join(dir, 'ca'), 'Enterprise');
  const tokenFile = join(dir, 'admin.token');
  writeFileSync(tokenFile, TEST_ADMIN_TOKEN, { mode: 0o600 });
  // A fixed admin port: the CLI finds the running gateway from the config. TLS is the admin default.
  const adminPort = await freePort();
  const config = {
    workers: 2,
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }], admin: { host: '127.0.0.1', port: adminPort, tokenFile } },
    certificates: { dir: 'certs', keyTypes: ['rsa-2048'] },
    clusters: [clusterConfig(cucm, cucmCa)],
    routes: TEST_ROUTES,
  };
  const gw = await startGatewayProcess(t, dir, config);
  const cli = (...args: string[]) => runCli([...args, '--config', gw.configFile], { cwd: dir, timeoutMs: 60_000 });
  /** The leaf a fresh TLS client sees on the data plane. */
  const served = () =>
    new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: gw.port, servername: FQDN, rejectUnauthorized: false }, () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.end();
      });
      socket.on('error', reject);
    });
  const admin = (path: string, method = 'GET', body?: object) =>
    httpsRequest({
      host: '127.0.0.1',
      port: adminPort,
      path,
      method,
      rejectUnauthorized: false,
      servername: FQDN,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...(body && { 'content-type': 'application/json' }) },
      ...(body && { body: JSON.stringify(body) }),
      timeoutMs: 60_000,
    });
  const selfSigned = await served();

  const leaf = join(dir, 'enterprise.pem');
  const request = ca.request('enterprise', { cn: FQDN, sans: [FQDN] });
  ca.sign({ csrFile: request.csrFile, out: leaf });
  const imported = new X509Certificate(readFileSync(leaf)).fingerprint256;

  await t.test('a CLI import is served within seconds, without a signal', async (t) => {
    const started = Date.now();
    const res = await cli('cert', 'import', '--cert', leaf, '--key', request.keyFile, '--chain', ca.chainFile);
    t.equal(res.code, 0, res.stderr);
    t.match(res.stdout, /renewed by: nothing .*import a new one before \d{4}-\d\d-\d\d/, 'says what renews it: nothing, and by when to import again');
    t.match(res.stdout, /--issuer self-signed/, 'names how to hand it over on purpose');
    t.match(res.stdout, /the running gateway serves it now/);
    const fingerprint = await waitFor(async () => ((await served()) === imported ? imported : undefined), { timeoutMs: 5_000, message: 'the imported leaf served' });
    t.equal(fingerprint, imported, 'a TLS client sees the imported leaf');
    t.not(fingerprint, selfSigned);
    t.comment(`import to served: ${Date.now() - started} ms (CLI start-up included)`);
  });

  await t.test('an API renewal with the default issuer keeps the imported certificate served', async (t) => {
    const res = await cli('cert', 'renew', '--force', '--json');
    t.equal(res.code, 0, res.stderr);
    const answer = JSON.parse(res.stdout) as { via: string; results: { keyType: string; outcome: string; detail?: string }[] };
    t.equal(answer.via, 'gateway');
    t.match(answer.results, [{ keyType: 'rsa-2048', outcome: 'kept', detail: /imported .*--force --issuer self-signed/ }]);
    const direct = await admin('/api/v1/certificates/renew', 'POST', {});
    t.equal(direct.status, 200);
    t.match(JSON.parse(direct.body.toString()), { results: [{ outcome: 'kept' }] }, 'a bare API call keeps it too');
    const mismatch = await admin('/api/v1/certificates/renew', 'POST', { replaceSource: 'acme' });
    t.equal(mismatch.status, 409, 'replaceSource must be the configured issuer');
    t.equal(await served(), imported, 'still the imported leaf');
    const wrong = await cli('cert', 'renew', '--force', '--issuer', 'acme');
    t.equal(wrong.code, 2, 'cert renew --issuer names the configured issuer only');
    t.match(wrong.stderr, /not the configured issuer/);
    const noForce = await cli('cert', 'renew', '--issuer', 'self-signed');
    t.equal(noForce.code, 2, '--issuer needs --force');
  });

  await t.test('flagged: metric, status and log say nothing renews it', async (t) => {
    const metrics = (await admin('/metrics')).body.toString();
    t.match(metrics, /ucgate_certificate_unmanaged\{name="gateway-rsa-2048",key_type="rsa-2048"\} 1/);
    const status = JSON.parse((await admin('/api/v1/status')).body.toString()) as { certificates: { name: string; unmanaged?: boolean; renewedBy?: string }[] };
    t.match(status.certificates.find((cert) => cert.name === 'gateway-rsa-2048'), { unmanaged: true, renewedBy: /nothing/ });
    t.ok(gw.logs.some((line) => line.event === 'certificate_unmanaged'), 'certificate_unmanaged logged once it is served');
  });

  await t.test('cert status beside the running gateway lists what it serves and the upstream node certificate', async (t) => {
    // The health checks see the node's certificate within a check or two.
    const json = await waitFor(
      async () => {
        const res = await cli('cert', 'status', '--json');
        const parsed = JSON.parse(res.stdout) as { via: string; certificates: { name: string; source: string; node?: string; fingerprintSha256: string }[] };
        return parsed.certificates.some((cert) => cert.source === 'upstream') ? parsed : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 500, message: 'an upstream certificate in cert status' },
    );
    t.equal(json.via, 'gateway');
    const node = cucm.nodes[0]!;
    t.match(json.certificates, [{ name: 'gateway-rsa-2048', source: 'manual' }]);
    t.ok(json.certificates.some((cert) => cert.source === 'upstream' && cert.node === node.name), `upstream ${node.name} listed`);
    const text = await cli('cert', 'status');
    t.match(text.stdout, /as served and watched by the running gateway/);
    t.match(text.stdout, new RegExp(`cucm/${node.name}`));
    t.match(text.stdout, /renewed\s+by nothing/);
  });

  await t.test('cert renew --force --issuer self-signed replaces it on purpose, and rollback brings it back at once', async (t) => {
    const res = await cli('cert', 'renew', '--force', '--issuer', 'self-signed', '--json');
    t.equal(res.code, 0, res.stderr);
    const answer = JSON.parse(res.stdout) as { via: string; results: { outcome: string; workers: number }[] };
    t.match(answer, { via: 'gateway', results: [{ outcome: 'renewed', workers: 2 }] });
    const now = await served();
    t.not(now, imported, 'no longer the imported leaf');
    t.not(now, selfSigned, 'a new self-signed leaf');
    const back = await cli('cert', 'rollback', '--key-type', 'rsa-2048');
    t.equal(back.code, 0, back.stderr);
    t.match(back.stdout, /the running gateway serves it now/);
    t.equal(await served(), imported, 'the imported leaf again, without a signal');
  });

  await t.test('alone, cert status reads the store; a restart keeps serving the import', async (t) => {
    t.equal((await gw.stop()).code, 0);
    const res = await cli('cert', 'status', '--json');
    const parsed = JSON.parse(res.stdout) as { via: string; certificates: { source: string; unmanaged?: boolean }[] };
    t.equal(parsed.via, 'store');
    t.match(parsed.certificates, [{ source: 'manual', unmanaged: true }]);
    t.notOk(parsed.certificates.some((cert) => cert.source === 'upstream'));
    const again = await startGatewayProcess(t, dir, config);
    const handshake = await httpsRequest({ host: '127.0.0.1', port: again.port, path: '/cucm-uds/version', ca: ca.rootPem, servername: FQDN });
    t.equal(handshake.socket.peerCertificate.fingerprint256, imported, 'the self-signed issuer left the import in place at start');
    t.ok(again.logs.some((line) => line.event === 'certificate_unmanaged'), 'and said nothing renews it');
    await again.stop();
  });
});
