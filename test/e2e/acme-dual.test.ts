/**
 * Dual certificates from ACME: keyTypes [rsa-2048, ecdsa-p256] gives two
 * orders and two certificates served together on one listener. A client
 * that can only do RSA and one that can only do ECDSA each complete a
 * handshake and get the matching certificate, in TLS 1.2 (by cipher suite)
 * and TLS 1.3 (by signature algorithm). Then `ucgate cert renew --force`
 * goes through the running gateway's admin API (TLS, pinned to our own
 * certificates) and both are swapped in every worker.
 */
import t from 'tap';
import { connect, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { startGatewayProcess, clusterConfig, runCli, TEST_ROUTES, FQDN, TEST_ADMIN_TOKEN } from '../helpers/gateway.js';
import { startPebble, startChallTestSrv, freePort, acmeGatewayConfig } from '../helpers/pebble.js';

t.setTimeout(180_000);

function handshake(port: number, ca: string, options: ConnectionOptions): Promise<{ authorized: boolean; cert: PeerCertificate; protocol: string | null }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: FQDN, ca, ...options }, () => {
      const result = { authorized: socket.authorized, cert: socket.getPeerCertificate(), protocol: socket.getProtocol() };
      socket.end();
      resolve(result);
    });
    socket.once('error', reject);
  });
}

const RSA_ONLY_12 = { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384' } as const;
const ECDSA_ONLY_12 = { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384' } as const;
const RSA_ONLY_13 = { minVersion: 'TLSv1.3', sigalgs: 'rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pkcs1_sha256' } as const;
const ECDSA_ONLY_13 = { minVersion: 'TLSv1.3', sigalgs: 'ecdsa_secp256r1_sha256' } as const;

t.test('RSA and ECDSA certificates from ACME, each to the client that can use it', async (t) => {
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
  // A fixed admin port: the CLI finds the running gateway from the config.
  const adminPort = await freePort();
  const pebble = await startPebble(t, dir, { httpPort, tlsPort: httpsPort, dnsServer: dns.dnsServer });
  const base = acmeGatewayConfig({
    httpsPort,
    httpPort,
    keyTypes: ['rsa-2048', 'ecdsa-p256'],
    acme: { directoryUrl: pebble.directoryUrl, caFile: pebble.tlsCaFile, challenge: 'http-01' },
  });
  const gw = await startGatewayProcess(t, dir, {
    ...base,
    workers: 2,
    listen: { ...(base.listen as object), admin: { host: '127.0.0.1', port: adminPort, tokenFile } },
    gateway: { fqdn: FQDN },
    clusters: [clusterConfig(cucm, caFile)],
    routes: TEST_ROUTES,
  });
  const obtained = (keyType: string) => gw.waitForLog((line) => line.event === 'cert_renewed' && line.keyType === keyType, 60_000);
  const [rsa, ecdsa] = [await obtained('rsa-2048'), await obtained('ecdsa-p256')];
  const root = await pebble.root();

  t.test('each client gets the certificate it can verify', async (t) => {
    for (const [name, options, expected] of [
      ['RSA-only TLS 1.2', RSA_ONLY_12, rsa],
      ['ECDSA-only TLS 1.2', ECDSA_ONLY_12, ecdsa],
      ['RSA-only TLS 1.3', RSA_ONLY_13, rsa],
      ['ECDSA-only TLS 1.3', ECDSA_ONLY_13, ecdsa],
    ] as const) {
      const result = await handshake(httpsPort, root, options);
      t.ok(result.authorized, `${name}: verified against pebble's root`);
      t.equal(result.cert.serialNumber.toLowerCase(), expected.serial, `${name}: got the ${expected.keyType} certificate (${result.protocol})`);
      if (expected.keyType === 'ecdsa-p256') t.equal(result.cert.asn1Curve, 'prime256v1');
      else t.equal(result.cert.bits, 2048);
    }
  });

  t.test('`ucgate cert renew --force` through the admin API renews both, in every worker', async (t) => {
    const result = await runCli(['cert', 'renew', '--force', '--json', '--config', gw.configFile], { timeoutMs: 60_000 });
    t.equal(result.code, 0, result.stderr);
    const answer = JSON.parse(result.stdout) as { via: string; results: { keyType: string; outcome: string; serial: string; workers: number; servedInMs: number }[] };
    t.equal(answer.via, 'gateway', 'the running gateway did the work (its admin certificate pinned against the store)');
    t.match(answer.results, [
      { keyType: 'rsa-2048', outcome: 'renewed', workers: 2 },
      { keyType: 'ecdsa-p256', outcome: 'renewed', workers: 2 },
    ]);
    for (let i = 0; i < 6; i++) {
      // Several new connections, so both workers are asked.
      t.equal((await handshake(httpsPort, root, RSA_ONLY_12)).cert.serialNumber.toLowerCase(), answer.results[0]!.serial);
      t.equal((await handshake(httpsPort, root, ECDSA_ONLY_13)).cert.serialNumber.toLowerCase(), answer.results[1]!.serial);
    }
    const status = await runCli(['cert', 'status', '--config', gw.configFile]);
    t.match(status.stdout, /gateway-rsa-2048[\s\S]*source\s+acme[\s\S]*gateway-ecdsa-p256[\s\S]*source\s+acme/);
    t.match(status.stdout, /ecdsa-p256\s+manual\s+success/, 'the API renewal is in the history');
  });

  t.test('without the admin API: the CLI orders itself, the gateway answers its challenges from the store, SIGHUP swaps', async (t) => {
    const { listen, ...rest } = parse(readFileSync(gw.configFile, 'utf8')) as { listen: Record<string, unknown> };
    const { admin: _admin, ...listeners } = listen;
    const file = join(dir, 'no-admin.yaml');
    writeFileSync(file, stringify({ ...rest, listen: listeners }));
    const result = await runCli(['cert', 'renew', '--force', '--config', file], { timeoutMs: 60_000 });
    t.equal(result.code, 0, result.stdout + result.stderr);
    // A step of the work: on stderr, with the elapsed time (issue 18).
    t.match(result.stderr, /challenge listeners in use \(127\.0\.0\.1:\d+\): the running gateway answers from the store/);
    const serials = [...result.stdout.matchAll(/(rsa-2048|ecdsa-p256): renewed, serial ([0-9a-f]+)/g)].map((m) => m[2]);
    t.equal(serials.length, 2, 'both renewed by the CLI');
    const mark = gw.logs.length;
    gw.proc.kill('SIGHUP');
    await gw.waitForLog((line) => line.event === 'certificates_applied' && gw.logs.indexOf(line) >= mark, 10_000);
    t.equal((await handshake(httpsPort, root, RSA_ONLY_12)).cert.serialNumber.toLowerCase(), serials[0], 'SIGHUP: the new RSA certificate is served');
    t.equal((await handshake(httpsPort, root, ECDSA_ONLY_13)).cert.serialNumber.toLowerCase(), serials[1], 'and the new ECDSA one');
  });
});
