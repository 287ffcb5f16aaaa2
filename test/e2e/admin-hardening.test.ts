/**
 * Issue 17, the admin listener hardened, end to end on the built gateway:
 * `ucgate check` and `start` refuse a weak token (never printing it); the
 * admin HTTPS listener speaks only the `modern` profile (OpenSSL's s_client,
 * as an auditor would check); a Host that is none of the gateway's names
 * gets 421, its names get their answers.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest } from '../helpers/net.js';
import { startGatewayProcess, clusterConfig, runCli, writeConfig, adminPortOf, TEST_ROUTES, FQDN } from '../helpers/gateway.js';

const ALT = 'ucgw-dr.example.test';

/** `openssl s_client` to the admin port; resolves with the negotiated cipher, or NONE. */
function sClient(port: number, flags: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', FQDN, ...flags], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk));
    child.stdin.end('Q\n');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.on('close', () => {
      clearTimeout(timer);
      const cipher = /Cipher is (\S+)/.exec(out)?.[1] ?? 'NONE';
      resolve(cipher === '(NONE)' ? 'NONE' : cipher);
    });
  });
}

t.test('check and start refuse a weak admin token, naming the key, never the token', async (t) => {
  const dir = t.testdir();
  const weak = 'letmein-ucgw';
  writeFileSync(join(dir, 'admin.token'), `${weak}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'ca.pem'), 'x');
  const configFile = writeConfig(dir, {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }], admin: { host: '127.0.0.1', port: 0, tokenFile: 'admin.token' } },
    clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://pub.example.test:8443' }], tls: { caFile: 'ca.pem' } }],
  });
  // `check` prefixes each problem with the file, line and column of its key (ucgate.yaml:10:5 listen.admin...).
  const expected = /^(?:\S+:\d+:\d+ )?listen\.admin\.tokenFile: the token is 12 characters \(72 bits\); at least 128 bits are needed \(32 hex or 22\+ base64 characters\): make one with `umask 077; openssl rand -hex 32 > \S+admin\.token`$/m;

  const check = await runCli(['check', '--config', configFile]);
  t.equal(check.code, 2, 'check: exit 2');
  t.match(check.stdout + check.stderr, expected, 'check: one line naming the key and how to make a good token');
  t.notOk((check.stdout + check.stderr).includes(weak), 'check: the token is not printed');

  const start = await runCli(['start', '--config', configFile], { cwd: dir });
  t.equal(start.code, 2, 'start: exit 2');
  t.match(start.stdout + start.stderr, /listen\.admin\.tokenFile: the token is 12 characters/, 'start: the same line');
  t.notOk((start.stdout + start.stderr).includes(weak), 'start: the token is not printed');

  writeFileSync(join(dir, 'admin.token'), `${randomBytes(32).toString('hex')}\n`);
  const fixed = await runCli(['check', '--config', configFile]);
  t.equal(fixed.code, 0, `check passes with \`openssl rand -hex 32\`'s kind of token: ${fixed.stdout}${fixed.stderr}`);
});

t.test('the admin HTTPS listener: modern TLS, and 421 for a Host that is not the gateway', async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster({ nodes: 1 });
  t.teardown(() => cucm.close());
  writeFileSync(join(dir, 'cucm-ca.pem'), cucm.caPem);
  const token = randomBytes(32).toString('hex');
  writeFileSync(join(dir, 'admin.token'), `${token}\n`, { mode: 0o600 });
  const gw = await startGatewayProcess(t, dir, {
    gateway: { fqdn: FQDN, altNames: [ALT] },
    listen: { https: [{ host: '127.0.0.1', port: 0 }], admin: { host: '127.0.0.1', port: 0, tokenFile: 'admin.token' } },
    clusters: [clusterConfig(cucm, join(dir, 'cucm-ca.pem'))],
    routes: TEST_ROUTES,
  });
  const port = adminPortOf(gw);
  const ca = await gw.trustPem();

  t.equal(await sClient(port, ['-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0']), 'NONE', 'TLS 1.1 is refused');
  t.equal(await sClient(port, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-SHA256']), 'NONE', 'TLS 1.2 with a CBC suite (in Node\'s defaults) is refused');
  t.equal(await sClient(port, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-SHA']), 'NONE', 'TLS 1.2 ECDHE with SHA-1 CBC is refused');
  t.equal(await sClient(port, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256']), 'ECDHE-RSA-AES128-GCM-SHA256', 'TLS 1.2 ECDHE + AEAD works');
  t.match(await sClient(port, ['-tls1_3']), /^TLS_/, 'TLS 1.3 works');

  const get = (path: string, host: string, auth = true) =>
    httpsRequest({ host: '127.0.0.1', port, path, ca, servername: FQDN, headers: { host, ...(auth ? { authorization: `Bearer ${token}` } : {}) } });

  for (const host of [FQDN, `${FQDN}:${port}`, ALT, `localhost:${port}`, `127.0.0.1:${port}`]) {
    t.equal((await get('/api/v1/status', host)).status, 200, `the status API answers Host ${host}`);
  }
  for (const path of ['/api/v1/status', '/', '/healthz', '/readyz', '/metrics']) {
    const res = await get(path, `rebind.evil.example:${port}`);
    t.equal(res.status, 421, `${path} with a foreign name: 421`);
  }
  t.equal((await get('/healthz', `198.51.100.7:${port}`, false)).status, 200, 'a probe through another address (a VIP, a port mapping) still gets /healthz');
  t.equal((await get('/api/v1/status', `198.51.100.7:${port}`)).status, 421, 'but not the API');
  const warning = await gw.waitForLog((line) => line.event === 'admin_misdirected');
  t.equal(warning.level, 'warn');
  t.notOk(gw.stdout().includes(token), 'the token never reaches the log');
});
