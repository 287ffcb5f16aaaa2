/**
 * Issue 17, the admin listener hardened: a token of at least 128 bits, the
 * `modern` TLS profile, and 421 for a Host that is not the gateway's (DNS
 * rebinding). Driven in process: the config loader, `app.inject()`, and a
 * real TLS listener on loopback for the handshakes.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { connect, type ConnectionOptions } from 'node:tls';
import path from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { createCa, issueLeaf } from '../../src/pki/x509.js';
import { buildAdminApp, startAdminServer } from '../../src/admin/admin-server.js';
import { tokenWeakness } from '../../src/config/token-strength.js';
import { hostOfHeader, type GatewayNamesView } from '../../src/admin/host-check.js';
import { fakeBackend } from '../helpers/admin-fake.js';

const FILE = '/etc/ucgate/admin.token';

t.test('token strength: at least 128 bits of hex or base64', async (t) => {
  const good: [string, string][] = [
    ['openssl rand -hex 32', randomBytes(32).toString('hex')],
    ['openssl rand -hex 16 (32 hex: exactly 128 bits)', randomBytes(16).toString('hex')],
    ['openssl rand -base64 16 (22 characters and ==)', randomBytes(16).toString('base64')],
    ['base64url of 16 bytes (22 characters)', randomBytes(16).toString('base64url')],
    ['upper-case hex with a final newline', `${randomBytes(20).toString('hex').toUpperCase()}\n`],
    ['openssl rand -base64 48 (64 characters)', randomBytes(48).toString('base64')],
  ];
  for (const [name, token] of good) t.equal(tokenWeakness(token, FILE), undefined, `accepted: ${name}`);

  const bad: [string, string, RegExp][] = [
    ['three characters (the issue)', 'abc', /^the token is 3 characters \(12 bits\); at least 128 bits are needed \(32 hex or 22\+ base64 characters\): make one with `umask 077; openssl rand -hex 32 > \/etc\/ucgate\/admin\.token`$/],
    ['31 hex characters', randomBytes(16).toString('hex').slice(1), /^the token is 31 characters \(124 bits\)/],
    ['21 base64 characters', 'Zq8xP2mW9rT4vB7nK1cY0', /^the token is 21 characters \(126 bits\)/],
    ['22 hex digits are read as hex, not base64', '0123456789abcdef012345', /^the token is 22 characters \(88 bits\)/],
    ['a pass phrase', 'correct horse battery staple', /not a hex or base64 secret/],
    ['two lines', `${randomBytes(16).toString('hex')}\n${randomBytes(16).toString('hex')}`, /not a hex or base64 secret/],
    ['empty', '\n', /^the token file is empty/],
    ['the Kubernetes example placeholder', 'REPLACE-WITH-openssl-rand-hex-32', /placeholder/],
    ['one character repeated', 'a'.repeat(40), /only 1 different ones: not a random secret/],
    ['changeme repeated', 'changemechangemechangeme', /placeholder|not a random secret/],
  ];
  for (const [name, token, expected] of bad) {
    const weakness = tokenWeakness(token, FILE);
    t.match(weakness, expected, `refused: ${name}`);
    if (token.trim().length > 3) t.notOk(weakness?.includes(token.trim()), `${name}: the message does not hold the token`);
  }
});

const minimal = (tokenFile: string) => ({
  gateway: { fqdn: 'ucgw.example.test' },
  listen: { admin: { port: 0, tokenFile } },
  clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://pub.example.test' }] }],
});

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

t.test('the config loader (check and start) refuses a weak token file, naming the key and never the token', async (t) => {
  const weak = 'hunter2-x';
  const dir = t.testdir({ 'weak.token': `${weak}\n`, 'good.token': `${randomBytes(32).toString('hex')}\n`, 'big.token': 'a'.repeat(5000) });
  for (const name of ['weak.token', 'good.token', 'big.token']) chmodSync(path.join(dir, name), 0o600);
  const at = { baseDir: dir, configFile: '' };

  const problems = problemsOf(() => parseConfig(minimal('weak.token'), at));
  t.strictSame(problems, [
    `listen.admin.tokenFile: the token is 9 characters (54 bits); at least 128 bits are needed (32 hex or 22+ base64 characters): make one with \`umask 077; openssl rand -hex 32 > ${path.join(dir, 'weak.token')}\``,
  ]);
  t.notOk(problems.join('\n').includes(weak), 'the token is not printed');
  t.strictSame(problemsOf(() => parseConfig(minimal('good.token'), at)), [], 'a 256-bit hex token passes');
  t.match(problemsOf(() => parseConfig(minimal('big.token'), at)), [/^listen\.admin\.tokenFile: .* is 5000 bytes, too big for a token file/]);
  t.strictSame(problemsOf(() => parseConfig(minimal('none.token'), at)), [`listen.admin.tokenFile: file not found: ${path.join(dir, 'none.token')}`], 'a missing file: one line, not two');
});

function capture() {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(line) } });
  return { log, lines };
}

t.test('a weak token at build is refused; a weak token on reload leaves the running one', async (t) => {
  const dir = t.testdir();
  const tokenFile = path.join(dir, 'admin.token');
  const { log, lines } = capture();
  writeFileSync(tokenFile, 'short\n', { mode: 0o600 });
  await t.rejects(buildAdminApp({ config: { host: '127.0.0.1', port: 0, tls: false, tokenFile }, certificates: [], backend: fakeBackend(), log }), ConfigError);

  const token = randomBytes(32).toString('hex');
  writeFileSync(tokenFile, `${token}\n`);
  const server = await buildAdminApp({ config: { host: '127.0.0.1', port: 0, tls: false, tokenFile }, certificates: [], backend: fakeBackend(), log });
  t.teardown(() => server.close());
  const status = (bearer: string) => server.app.inject({ url: '/api/v1/status', headers: { authorization: `Bearer ${bearer}` } });
  t.equal((await status(token)).statusCode, 200);

  writeFileSync(tokenFile, 'guessable-42\n');
  server.reloadToken();
  t.equal((await status(token)).statusCode, 200, 'the running token still works');
  t.equal((await status('guessable-42')).statusCode, 401, 'the weak one was not taken');
  const refused = lines.map((l) => JSON.parse(l) as { event?: string; problem?: string }).find((l) => l.event === 'admin_token_refused');
  t.match(refused?.problem, /^listen\.admin\.tokenFile: the token is 12 characters/);
  t.notOk(lines.join('\n').includes('guessable-42') || lines.join('\n').includes(token), 'neither token is logged');

  const next = randomBytes(24).toString('base64url');
  writeFileSync(tokenFile, `${next}\n`);
  server.reloadToken();
  t.equal((await status(next)).statusCode, 200, 'a strong new token is taken');
  t.equal((await status(token)).statusCode, 401);
});

t.test('Host header parsing', async (t) => {
  t.equal(hostOfHeader('UCGW.Example.Test.:9000'), 'ucgw.example.test');
  t.equal(hostOfHeader('[::1]:9000'), '::1');
  t.equal(hostOfHeader('[::ffff:127.0.0.1]'), '127.0.0.1');
  t.equal(hostOfHeader('10.0.0.5'), '10.0.0.5');
  for (const bad of ['evil.example/x', 'user@ucgw.example.test', 'ucgw.example.test:port', '::1', '[::1', '[evil]:80', 'a b']) {
    t.equal(hostOfHeader(bad), undefined, `not a Host: ${bad}`);
  }
});

t.test('a Host that is none of the gateway names gets 421 on every endpoint (DNS rebinding)', async (t) => {
  const dir = t.testdir();
  const tokenFile = path.join(dir, 'admin.token');
  const token = randomBytes(32).toString('hex');
  writeFileSync(tokenFile, token, { mode: 0o600 });
  const { log, lines } = capture();
  let names: GatewayNamesView = {
    gateway: { fqdn: 'ucgw.example.test', altNames: ['ucgw-dr.example.test', '192.0.2.10'], instances: [] },
    clusters: [{ publicName: 'cl2.ucgw.example.test' }, {}],
  };
  const server = await buildAdminApp({
    config: { host: '0.0.0.0', port: 0, tls: false, tokenFile },
    certificates: [],
    backend: fakeBackend(),
    log,
    gatewayNames: () => names,
  });
  t.teardown(() => server.close());
  const get = (url: string, host: string, auth = true) =>
    server.app.inject({ url, headers: { host, ...(auth ? { authorization: `Bearer ${token}` } : {}) } });

  const ours = ['ucgw.example.test', 'UCGW.example.test.:9000', 'ucgw-dr.example.test:9000', '192.0.2.10:9000', 'cl2.ucgw.example.test', 'localhost:9000', 'localhost', 'app.localhost', '127.0.0.1:9000', '127.0.0.53', '[::1]:9000'];
  for (const host of ours) {
    t.equal((await get('/api/v1/status', host)).statusCode, 200, `status answers Host ${host}`);
    t.equal((await get('/healthz', host, false)).statusCode, 200, `healthz answers Host ${host}`);
  }

  const foreign = ['evil.example', 'evil.example:9000', 'ucgw.example.test.evil.example', 'xucgw.example.test', 'localhost.evil.example', 'evil.example/x'];
  const endpoints: [string, string][] = [
    ['GET', '/api/v1/status'],
    ['POST', '/api/v1/certificates/renew'],
    ['GET', '/'],
    ['GET', '/login'],
    ['POST', '/login'],
    ['GET', '/healthz'],
    ['GET', '/readyz'],
    ['GET', '/metrics'],
    ['GET', '/no-such-path'],
  ];
  for (const host of foreign) {
    for (const [method, url] of endpoints) {
      const res = await server.app.inject({ method: method as 'GET', url, headers: { host, authorization: `Bearer ${token}` } });
      t.equal(res.statusCode, 421, `${method} ${url} with Host ${host}: 421`);
    }
  }
  const answer = await get('/api/v1/status', 'evil.example');
  t.match(answer.json(), { error: 'misdirected_request' });
  t.equal(answer.headers['x-content-type-options'], 'nosniff', 'the 421 carries the base headers');
  t.notOk(answer.body.includes('evil.example'), 'the foreign Host is not echoed');

  // An IP literal is no rebinding vector: probes through a VIP, NodePort or port mapping may use one.
  for (const url of ['/healthz', '/readyz', '/metrics']) t.not((await get(url, '203.0.113.7:9000', false)).statusCode, 421, `${url} answers a foreign IP-literal Host`);
  t.equal((await get('/api/v1/status', '203.0.113.7:9000')).statusCode, 421, 'the API does not');
  t.equal((await get('/', '[2001:db8::7]')).statusCode, 421, 'nor the dashboard');

  const warnings = lines.map((l) => JSON.parse(l) as { event?: string }).filter((l) => l.event === 'admin_misdirected');
  t.equal(warnings.length, 1, 'a burst of misdirected requests logs one warning (then one per 10 s)');
  t.notOk(lines.join('\n').includes(token), 'the token is not logged');

  names = { ...names, gateway: { ...names.gateway, altNames: ['ucgw-new.example.test'] } };
  t.equal((await get('/api/v1/status', 'ucgw-new.example.test')).statusCode, 200, 'a reloaded config brings its names');
  t.equal((await get('/api/v1/status', 'ucgw-dr.example.test')).statusCode, 421, 'and drops the old ones');
});

t.test('without the gateway names (the listener alone), loopback and localhost still answer', async (t) => {
  const server = await buildAdminApp({ config: { host: '127.0.0.1', port: 0, tls: false }, certificates: [], backend: fakeBackend(), log: capture().log });
  t.teardown(() => server.close());
  t.equal((await server.app.inject({ url: '/healthz' })).statusCode, 200, "inject's default Host (localhost:80)");
  t.equal((await server.app.inject({ url: '/healthz', headers: { host: '127.0.0.1:9000' } })).statusCode, 200);
  t.equal((await server.app.inject({ url: '/healthz', headers: { host: 'rebind.evil.example' } })).statusCode, 421);
});

// ---------------------------------------------------------------- TLS

interface Handshake {
  readonly ok: boolean;
  readonly protocol?: string | null;
  readonly cipher?: string;
  readonly error?: string;
}

function handshake(port: number, ca: string, options: Partial<ConnectionOptions>): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'ucgw.example.test', ca, ...options });
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
    socket.once('secureConnect', () => {
      const result = { ok: true, protocol: socket.getProtocol(), cipher: socket.getCipher().standardName };
      socket.end();
      resolve(result);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, error: err.code ?? err.message }));
  });
}

t.test('the admin TLS listener uses the modern profile', async (t) => {
  const root = await createCa({ commonName: 'admin test CA', keyType: 'rsa-2048' });
  const leaf = async () => issueLeaf({ issuer: root, commonName: 'ucgw.example.test', subjectAltNames: ['ucgw.example.test'], keyType: 'rsa-2048' });
  const first = await leaf();
  const server = await startAdminServer({
    config: { host: '127.0.0.1', port: 0, tls: true },
    certificates: [{ keyType: 'rsa-2048', certPem: first.certPem, keyPem: first.keyPem }],
    backend: fakeBackend(),
    log: capture().log,
  });
  t.teardown(() => server.close());
  const ca = root.certPem;

  const check = async (when: string) => {
    const tls11 = await handshake(server.port, ca, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' });
    t.notOk(tls11.ok, `${when}: TLS 1.1 is refused (${tls11.error})`);
    for (const cipher of ['ECDHE-RSA-AES128-SHA256', 'ECDHE-RSA-AES256-SHA384', 'ECDHE-RSA-AES128-SHA', 'AES128-GCM-SHA256', 'AES128-SHA256']) {
      const res = await handshake(server.port, ca, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: cipher });
      t.notOk(res.ok, `${when}: TLS 1.2 ${cipher} (CBC or static RSA) is refused`);
    }
    const aead = await handshake(server.port, ca, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' });
    t.match(aead, { ok: true, protocol: 'TLSv1.2', cipher: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256' }, `${when}: TLS 1.2 ECDHE + AEAD works`);
    const chacha = await handshake(server.port, ca, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-CHACHA20-POLY1305' });
    t.match(chacha, { ok: true, protocol: 'TLSv1.2' }, `${when}: TLS 1.2 ECDHE + ChaCha20-Poly1305 works`);
    t.match(await handshake(server.port, ca, { minVersion: 'TLSv1.3' }), { ok: true, protocol: 'TLSv1.3' }, `${when}: TLS 1.3 works`);
  };
  await check('at start');
  // A renewed certificate replaces the whole secure context: the profile must come with it.
  const renewed = await leaf();
  server.setCertificates([{ keyType: 'rsa-2048', certPem: renewed.certPem, keyPem: renewed.keyPem }]);
  await check('after a certificate change');
});
