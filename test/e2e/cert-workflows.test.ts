/**
 * The security team's certificate workflow end to end, through the real CLI
 * and a real gateway process: `cert csr` → an OpenSSL CA signs → `cert import`
 * → served (RSA and ECDSA side by side); PKCS#12 imports; every bad import
 * refused in one line with the store byte-for-byte unchanged; a hot swap on
 * SIGHUP that keeps an open keep-alive connection working; rollback; and an
 * audit log with one line per action and nothing secret in it.
 */
import t from 'tap';
import https from 'node:https';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest, waitFor } from '../helpers/net.js';
import { startGatewayProcess, clusterConfig, writeConfig, runCli, TEST_ROUTES, FQDN, type GatewayProcess } from '../helpers/gateway.js';
import { createOpensslCa, snapshotTree } from '../helpers/openssl-ca.js';

const RSA_ONLY = 'rsa_pss_rsae_sha256:rsa_pkcs1_sha256';
const ECDSA_ONLY = 'ecdsa_secp256r1_sha256';
const PASSPHRASE = 'Tr0ub4dor&3-p12';

const fingerprintOf = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;

// About twenty CLI processes (each ~1 s of start-up CPU) plus OpenSSL key generation: on a busy
// two-core machine this file needs more than the suite's default 180 s.
t.setTimeout(420_000);

/** Runs `fn` over `items`, at most `limit` at a time, keeping the order of results. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

t.test('certificate workflows', async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster({ nodes: 1 });
  t.teardown(() => cucm.close());
  const cucmCa = join(dir, 'cucm-ca.pem');
  writeFileSync(cucmCa, cucm.caPem);
  mkdirSync(join(dir, 'ca'));
  const ca = createOpensslCa(join(dir, 'ca'), 'Enterprise');
  const config = {
    workers: 1,
    gateway: { fqdn: FQDN, altNames: ['ucgw-dr.example.test'] },
    listen: { https: [{ host: '127.0.0.1', port: 0 }] },
    certificates: { keyTypes: ['rsa-2048', 'ecdsa-p256'], issuer: { type: 'manual' } },
    clusters: [clusterConfig(cucm, cucmCa)],
    routes: TEST_ROUTES,
  };
  const configFile = writeConfig(dir, config);
  const store = join(dir, 'certs');
  const cli = (...args: string[]) => runCli([...args, '--config', configFile], { cwd: dir, timeoutMs: 120_000 });
  writeFileSync(join(dir, 'pass.txt'), `${PASSPHRASE}\n`);
  writeFileSync(join(dir, 'wrong.txt'), 'not-the-passphrase\n');
  const actions: string[] = [];

  /** The certificate a fresh connection is served, verified against the enterprise root and the FQDN. */
  const served = (sigalgs: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: gw.port, servername: FQDN, ca: ca.rootPem, sigalgs }, () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.end();
      });
      socket.on('error', reject);
    });
  const reload = async () => {
    const applied = () => gw.logs.filter((line) => line.event === 'certificates_applied').length;
    const before = applied();
    gw.proc.kill('SIGHUP');
    await waitFor(() => applied() > before, { timeoutMs: 10_000, message: 'certificates applied after SIGHUP' });
  };

  await t.test('issuer manual with an empty store refuses to start, naming cert import', async (t) => {
    const start = await cli('start');
    t.not(start.code, 0);
    t.match(start.stderr, /cert import/);
  });

  const rsaCert = join(dir, 'rsa.pem');
  const ecCert = join(dir, 'ec.pem');
  await t.test('cert csr: a key per key type in the store (0600), CSRs in --out', async (t) => {
    const first = await cli('cert', 'csr', '--out', 'csrs');
    t.equal(first.code, 0, first.stderr);
    t.notMatch(first.stderr, /replaced/);
    const res = await cli('cert', 'csr', '--out', 'csrs');
    t.equal(res.code, 0, res.stderr);
    t.match(res.stderr, /replaced the pending rsa-2048 key/, 'running it again says the pending key was replaced');
    const paths = res.stdout.trim().split('\n');
    t.same(paths, [join(dir, 'csrs', 'ucgate-rsa-2048.csr'), join(dir, 'csrs', 'ucgate-ecdsa-p256.csr')]);
    for (const keyType of ['rsa-2048', 'ecdsa-p256']) {
      t.equal(statSync(join(store, 'certificates', keyType, 'pending', 'private-key.pem')).mode & 0o777, 0o600, `${keyType} pending key is 0600`);
    }
    actions.push('csr-created', 'csr-created', 'csr-created', 'csr-created');
    ca.sign({ csrFile: paths[0]!, out: rsaCert });
    ca.sign({ csrFile: paths[1]!, out: ecCert });
  });

  await t.test('cert import: the CA-signed certificates with their pending keys', async (t) => {
    for (const file of [rsaCert, ecCert]) {
      const res = await cli('cert', 'import', '--cert', file, '--chain', ca.chainFile);
      t.equal(res.code, 0, res.stderr);
      t.match(res.stdout, /^imported (rsa-2048|ecdsa-p256) certificate CN=ucgw\.example\.test serial [0-9a-f]+ from CN=Enterprise Issuing CA/);
      t.match(res.stdout, /SIGHUP/);
      actions.push('imported');
    }
    for (const keyType of ['rsa-2048', 'ecdsa-p256']) {
      t.notOk(existsSync(join(store, 'certificates', keyType, 'pending', 'private-key.pem')), `${keyType} pending key gone once used`);
    }
    const status = await cli('cert', 'status', '--json');
    const entries = (JSON.parse(status.stdout) as { certificates: { keyType: string; source: string; issuer: string }[] }).certificates;
    t.same(entries.map((entry) => [entry.keyType, entry.source]), [['rsa-2048', 'manual'], ['ecdsa-p256', 'manual']]);
  });

  const gw: GatewayProcess = await startGatewayProcess(t, dir, config);

  await t.test('served: RSA to RSA-only clients, ECDSA to ECDSA clients, both verified against the enterprise root', async (t) => {
    t.equal(await served(RSA_ONLY), fingerprintOf(rsaCert));
    t.equal(await served(ECDSA_ONLY), fingerprintOf(ecCert));
    const res = await httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/cucm-uds/version', ca: ca.rootPem, servername: FQDN });
    t.equal(res.status, 200);
    t.ok(res.socket.authorized);
    const exported = await cli('cert', 'export-trust', '--ca');
    t.equal(new X509Certificate(exported.stdout).fingerprint256, new X509Certificate(ca.rootPem).fingerprint256, 'export-trust --ca: the enterprise root');
    const leaves = await cli('cert', 'export-trust', '--leaf');
    t.equal(leaves.stdout.match(/BEGIN CERTIFICATE/g)?.length, 2, 'export-trust --leaf: both leaves, for CUCM');
  });

  await t.test('every bad import: exit 2, one line naming the reason, store byte-for-byte unchanged, same certificate served', async (t) => {
    const good = ca.request('good', { cn: FQDN, sans: [FQDN] });
    ca.sign({ csrFile: good.csrFile, out: join(dir, 'good.pem') });
    const other = ca.request('other', { cn: FQDN, sans: [FQDN] });
    const noSan = ca.request('nosan', { cn: FQDN, sans: ['other.example.test'] });
    ca.sign({ csrFile: noSan.csrFile, out: join(dir, 'nosan.pem') });
    const old = ca.request('old', { cn: FQDN, sans: [FQDN] });
    ca.sign({ csrFile: old.csrFile, out: join(dir, 'expired.pem'), startdate: '20200101000000Z', enddate: '20210101000000Z' });
    const weak = ca.request('weak', { kind: 'rsa1024', cn: FQDN, sans: [FQDN] });
    ca.sign({ csrFile: weak.csrFile, out: join(dir, 'weak.pem') });
    writeFileSync(join(dir, 'garbage.pem'), 'Lorem ipsum dolor sit amet\n'.repeat(50));
    writeFileSync(join(dir, 'empty.pem'), '');
    const pfx = ca.pkcs12({ certFile: join(dir, 'good.pem'), keyFile: good.keyFile, out: join(dir, 'good.p12'), passphrase: PASSPHRASE });
    const cases: [string, string[], RegExp][] = [
      ['wrong key', ['--cert', 'good.pem', '--chain', ca.chainFile, '--key', other.keyFile], /private key does not match/],
      ['SANs miss the FQDN', ['--cert', 'nosan.pem', '--chain', ca.chainFile, '--key', noSan.keyFile], /do not cover gateway\.fqdn ucgw\.example\.test/],
      ['expired', ['--cert', 'expired.pem', '--chain', ca.chainFile, '--key', old.keyFile], /expired on .*2021/],
      ['broken chain', ['--cert', 'good.pem', '--chain', ca.rootFile, '--key', good.keyFile], /chain does not build/],
      ['weak key', ['--cert', 'weak.pem', '--chain', ca.chainFile, '--key', weak.keyFile], /weak key: RSA 1024 bits/],
      ['garbage file', ['--cert', 'garbage.pem', '--key', good.keyFile], /no certificate in it/],
      ['empty file', ['--cert', 'empty.pem', '--key', good.keyFile], /the file is empty/],
      ['PKCS#12, wrong passphrase', ['--pfx', pfx, '--passphrase-file', 'wrong.txt'], /wrong passphrase/],
      ['PKCS#12, garbage', ['--pfx', 'garbage.pem'], /not a PKCS#12 file/],
    ];
    // Run side by side (CLI start-up dominates): none may change the store, so one snapshot around
    // the lot proves it for each; test/unit/import.test.ts checks the same cases one by one.
    const before = snapshotTree(store);
    const results = await mapLimit(cases, 3, ([, args]) => cli('cert', 'import', ...args));
    t.same(snapshotTree(store), before, 'store unchanged, byte for byte');
    cases.forEach(([name, , reason], i) => {
      const res = results[i]!;
      t.equal(res.code, 2, `${name}: exit 2`);
      const lines = res.stderr.trimEnd().split('\n');
      t.equal(lines.length, 1, `${name}: one line (${res.stderr.trimEnd()})`);
      t.match(lines[0], /^ucgate: /);
      t.match(lines[0], reason, `${name}: names the reason`);
      t.equal(res.stdout, '', `${name}: nothing on stdout`);
    });
    await reload();
    t.equal(await served(RSA_ONLY), fingerprintOf(rsaCert), 'the RSA certificate served is still the imported one');
    t.equal(await served(ECDSA_ONLY), fingerprintOf(ecCert));
  });

  const swapped = join(dir, 'swap.pem');
  await t.test('hot swap on SIGHUP: an open keep-alive connection keeps working, new connections see the new certificate', async (t) => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, sigalgs: RSA_ONLY });
    t.teardown(() => agent.destroy());
    const viaAgent = () => httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/cucm-uds/version', ca: ca.rootPem, servername: FQDN, agent });
    const first = await viaAgent();
    t.equal(first.status, 200);
    t.equal(first.socket.peerCertificate.fingerprint256, fingerprintOf(rsaCert));

    const next = ca.request('swap', { cn: FQDN, sans: [FQDN, 'ucgw-dr.example.test'] });
    ca.sign({ csrFile: next.csrFile, out: swapped });
    const pfx = ca.pkcs12({ certFile: swapped, keyFile: next.keyFile, out: join(dir, 'swap.p12'), passphrase: PASSPHRASE });
    const res = await cli('cert', 'import', '--pfx', pfx, '--passphrase-file', 'pass.txt');
    t.equal(res.code, 0, res.stderr);
    t.match(res.stdout, /previous serial [0-9a-f]+ kept for `ucgate cert rollback`/);
    actions.push('imported');
    t.equal(await served(RSA_ONLY), fingerprintOf(rsaCert), 'imported but not yet reloaded: still the old one');
    await reload();
    t.equal(await served(RSA_ONLY), fingerprintOf(swapped), 'a new connection gets the new certificate');
    t.equal(await served(ECDSA_ONLY), fingerprintOf(ecCert), 'the ECDSA certificate is untouched');

    const second = await viaAgent();
    t.equal(second.status, 200, 'the old keep-alive connection still answers');
    t.equal(second.socket.localPort, first.socket.localPort, 'on the very same TCP connection');
    t.equal(second.socket.peerCertificate.fingerprint256, fingerprintOf(rsaCert), 'which keeps the certificate it was opened with');
  });

  await t.test('PKCS#12, legacy encoding (RC2-40), ECDSA', async (t) => {
    const leaf = ca.request('legacy-ec', { kind: 'ec', cn: FQDN, sans: [FQDN, 'ucgw-dr.example.test'] });
    const certFile = join(dir, 'legacy-ec.pem');
    ca.sign({ csrFile: leaf.csrFile, out: certFile });
    const pfx = ca.pkcs12({ certFile, keyFile: leaf.keyFile, out: join(dir, 'legacy-ec.p12'), passphrase: PASSPHRASE, legacy: true });
    const res = await cli('cert', 'import', '--pfx', pfx, '--passphrase-file', 'pass.txt');
    t.equal(res.code, 0, res.stderr);
    actions.push('imported');
    await reload();
    t.equal(await served(ECDSA_ONLY), fingerprintOf(certFile));
  });

  await t.test('rollback: the previous RSA certificate is served again after SIGHUP', async (t) => {
    const ambiguous = await cli('cert', 'rollback');
    t.equal(ambiguous.code, 2, 'two key types have a previous version: which one?');
    t.match(ambiguous.stderr, /^ucgate: .*--key-type\n$/);
    const res = await cli('cert', 'rollback', '--key-type', 'rsa-2048');
    t.equal(res.code, 0, res.stderr);
    actions.push('rolled-back');
    await reload();
    t.equal(await served(RSA_ONLY), fingerprintOf(rsaCert));
  });

  await t.test('audit log: one line per action, no key material, no passphrase', async (t) => {
    const text = readFileSync(join(store, 'audit', 'audit.log'), 'utf8');
    const entries = text.trimEnd().split('\n').map((line) => JSON.parse(line) as { action: string; actor: string; newFingerprint?: string });
    t.same(entries.map((entry) => entry.action), actions);
    t.ok(entries.every((entry) => entry.actor === 'cli'));
    t.equal(entries[actions.indexOf('imported') + 2]?.newFingerprint, fingerprintOf(swapped), 'the swap is recorded with its fingerprint');
    t.notOk(text.includes('PRIVATE KEY'), 'no private key');
    t.notOk(text.includes(PASSPHRASE), 'no passphrase');
    t.notOk((gw.stdout() + gw.stderr()).includes(PASSPHRASE), 'nor in the gateway logs');
  });
});
