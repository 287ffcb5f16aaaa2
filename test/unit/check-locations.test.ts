/**
 * Issue 18: `ucgate check` like `nginx -t` — each problem with the file, line
 * and column of its key (the key itself for an unknown or bad key, the mapping
 * that should hold it for a missing one); `start` refuses with the same lines;
 * the warnings start would log (legacy TLS, a certificate near expiry or
 * lacking a configured name) on stderr with exit 0; `check --print` shows the
 * effective configuration with defaults filled in and secrets masked.
 * The CLI cases run the built CLI (dist/).
 */
import t from 'tap';
import { writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfigFile, parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { pathSegments } from '../../src/config/locate.js';
import { effectiveConfig, isSecretKey, maskUrlPassword, MASK } from '../../src/config/print-config.js';
import { certificateWarnings } from '../../src/control/startup-warnings.js';
import { FileStorage } from '../../src/store/file-storage.js';
import { activateCertificate } from '../../src/certificates/certificate-store.js';
import { createCa, issueLeaf } from '../../src/pki/x509.js';
import { runCli } from '../helpers/gateway.js';

// Problems at known places: line 9 col 9 (url), line 10 col 9 (unknown key),
// line 11 col 5 (the second cluster, which lacks `name`), line 16 col 29 (an unknown key inside a flow map)
// and col 5 (that flow map, which lacks `cluster`).
const BAD = `gateway:
  fqdn: ucgw.example.test
listen:
  https: { host: 127.0.0.1, port: 8443 }
clusters:
  - name: cucm
    nodes:
      - name: pub
        url: http://cucm-pub.example.test:8443
        wieght: 2
  - nodes:
      - { name: x, url: "https://x.example.test:8443" }
routes:
  - pathPrefix: /cucm-uds/
    cluster: cucm
  - { pathPrefix: /ccmcip/, clustr: cucm }
`;

const EXPECTED = [
  'ucgate.yaml:9:9 clusters[0].nodes[0].url: must be an https:// URL',
  'ucgate.yaml:10:9 clusters[0].nodes[0].wieght: unknown key (did you mean "weight"?)',
  'ucgate.yaml:11:5 clusters[1].name: is required',
  'ucgate.yaml:16:29 routes[1].clustr: unknown key (did you mean "cluster"?)',
  'ucgate.yaml:16:5 routes[1].cluster: is required',
];

function located(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.located].sort();
    throw err;
  }
  throw new Error('no ConfigError');
}

t.test('path segments', async (t) => {
  t.same(pathSegments('clusters[0].nodes[1].url'), ['clusters', 0, 'nodes', 1, 'url']);
  t.same(pathSegments(''), []);
  t.equal(pathSegments('clusters[x]'), undefined);
});

t.test('each problem names the line and column of its key', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'ucgate.yaml');
  const lines = located(() => parseConfigText(BAD, { baseDir: dir, configFile: file }));
  // The display path is relative to the working directory when under it, else absolute.
  const shown = lines.map((line) => line.replace(/^\S*ucgate\.yaml:/, 'ucgate.yaml:'));
  t.same(shown, [...EXPECTED].sort());
  // The problems themselves stay `path.to.key: message` (reload answers, the admin API).
  try {
    parseConfigText(BAD, { baseDir: dir, configFile: file });
  } catch (err) {
    t.ok((err as ConfigError).problems.every((p) => /^[a-z]/.test(p)), 'problems keep their contract form');
  }
});

t.test('a missing required key points at the mapping that should hold it; a YAML error at itself', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'ucgate.yaml');
  const missing = located(() => parseConfigText('gateway:\n  altNames: [a.example.test]\nclusters:\n  - name: c\n    nodes: { name: n, url: "https://n.example.test" }\n', { baseDir: dir, configFile: file }));
  // The mapping that should hold it, as the key that opens it (`gateway:`, line 1).
  t.same(missing.map((l) => l.replace(/^\S*ucgate\.yaml:/, 'F:')), ['F:1:1 gateway.fqdn: is required']);
  const syntax = located(() => parseConfigText('gateway:\n  fqdn: [a\n', { baseDir: dir, configFile: file }));
  t.match(syntax[0]!.replace(/^\S*ucgate\.yaml:/, 'F:'), /^F:3:1 config: YAML error at line 3, column 1: /);
  // In-memory text (no file): the lines are the problems alone.
  t.same(located(() => parseConfigText('gateway: {}\nclusters: []\n', { baseDir: dir, configFile: '' })), ['clusters: must not be empty', 'gateway.fqdn: is required']);
});

t.test('ucgate check and ucgate start print the same located lines, exit 2', async (t) => {
  const dir = t.testdir();
  writeFileSync(join(dir, 'ucgate.yaml'), BAD);
  const check = await runCli(['check', '--config', 'ucgate.yaml'], { cwd: dir });
  t.equal(check.code, 2);
  t.same(check.stderr.trimEnd().split('\n').sort(), [...EXPECTED].sort());
  const start = await runCli(['start', '--config', 'ucgate.yaml'], { cwd: dir });
  t.equal(start.code, 2);
  t.equal(start.stderr, check.stderr, 'start refuses with the same lines');
});

const GOOD = (dir: string) => `gateway: { fqdn: ucgw.example.test }
listen:
  https:
    - { host: 127.0.0.1, port: 8443 }
    - { host: 127.0.0.1, port: 8444, profile: legacy }
certificates:
  dir: ${join(dir, 'certs')}
  issuer: { type: manual }
  store: { type: file }
clusters:
  - name: cucm
    publicName: cl1.example.test
    nodes: [{ name: pub, url: "https://cucm-pub.example.test:8443" }]
`;

t.test('check --print: defaults filled in, secrets masked, loads again', async (t) => {
  const dir = t.testdir();
  const keyFile = join(dir, 'store.key');
  writeFileSync(keyFile, `${Buffer.alloc(32, 7).toString('base64')}\n`);
  chmodSync(keyFile, 0o600);
  const text = GOOD(dir).replace('store: { type: file }', `store: { type: redis, url: "redis://:hunter2@127.0.0.1:6379", keyFile: ${keyFile} }`);
  writeFileSync(join(dir, 'ucgate.yaml'), text);
  const result = await runCli(['check', '--print', '--config', join(dir, 'ucgate.yaml')]);
  t.equal(result.code, 0, result.stderr);
  t.notMatch(result.stdout, /hunter2/, 'a URL password never shows');
  const printed = parse(result.stdout) as Record<string, any>;
  t.equal(printed.certificates.store.url, `redis://:${MASK}@127.0.0.1:6379`);
  t.equal(printed.certificates.store.keyFile, keyFile, 'a file that holds a secret is named, never read');
  t.match(printed, {
    tls: { profile: 'modern' },
    log: { level: 'info', access: true },
    certificates: { keyTypes: ['rsa-2048'], renewBeforeDays: 30 },
    clusters: [{ healthCheck: { path: '/cucm-uds/version', fall: 2, rise: 2 }, retries: 2 }],
    shutdown: { graceMs: 10000 },
  }, 'defaults filled in');
  t.ok(Array.isArray(printed.routes) && printed.routes.length > 0, 'the built-in routes spelled out');
  t.equal(printed.configFile, undefined, 'no loader bookkeeping');
  // What it prints is a configuration the gateway takes as it is.
  const again = join(dir, 'printed.yaml');
  writeFileSync(again, result.stdout);
  t.doesNotThrow(() => parseConfigText(result.stdout, { baseDir: dir, configFile: again }), 'the printed config loads');
});

t.test('masking: secret-looking keys, never the files that hold them', async (t) => {
  for (const key of ['password', 'secret', 'token', 'hmacKey', 'privateKey', 'apiKey', 'key', 'passphrase', 'clientSecret']) t.ok(isSecretKey(key), key);
  for (const key of ['tokenFile', 'keyFile', 'passwordFile', 'hmacKeyFile', 'keyTypes', 'keyType', 'ticketKeyRotationMs', 'cookie', 'credentialsFile']) t.notOk(isSecretKey(key), key);
  t.equal(maskUrlPassword('redis://:pw@127.0.0.1:6379'), `redis://:${MASK}@127.0.0.1:6379`);
  t.equal(maskUrlPassword('https://host:8443/a@b'), 'https://host:8443/a@b', 'an @ in the path is not a password');
  const masked = effectiveConfig({ configFile: '/x', routesBuiltIn: true, store: { token: 's', tokenFile: '/t', nested: [{ password: 'p' }] } } as never);
  t.same(masked, { store: { token: MASK, tokenFile: '/t', nested: [{ password: MASK }] } });
});

t.test('check warns as start would: legacy TLS, a certificate near expiry, a publicName it lacks', async (t) => {
  const dir = t.testdir();
  const certsDir = join(dir, 'certs');
  mkdirSync(certsDir, { recursive: true });
  chmodSync(certsDir, 0o700);
  const storage = await new FileStorage(certsDir).open();
  const ca = await createCa({ commonName: 'Test CA', keyType: 'ecdsa-p256' });
  const now = Date.now();
  const leaf = await issueLeaf({
    issuer: ca,
    commonName: 'ucgw.example.test',
    subjectAltNames: ['ucgw.example.test'],
    keyType: 'rsa-2048',
    notBefore: new Date(now - 80 * 86_400_000),
    notAfter: new Date(now + 10 * 86_400_000),
  });
  await activateCertificate(storage, { certPem: leaf.certPem, chainPem: '', keyPem: leaf.keyPem, keyType: 'rsa-2048', source: 'manual' });
  writeFileSync(join(dir, 'ucgate.yaml'), GOOD(dir));
  const result = await runCli(['check', '--config', join(dir, 'ucgate.yaml')]);
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /: ok — /);
  const lines = result.stderr.trimEnd().split('\n');
  t.match(lines, [
    /^warning: listen\.https\[1\]\.profile: the listener on port 8444 accepts TLS 1\.0\/1\.1/,
    /^warning: clusters\[0\]\.publicName: the rsa-2048 certificate in the store \(serial \w+, manual\) does not cover cl1\.example\.test: start serves it anyway/,
    /^warning: certificates: rsa-2048 certificate ucgw\.example\.test .*expires in 9 day\(s\).*ucgate cert import/,
  ]);
  t.equal(lines.length, 3);
  // The same rule as a function: nothing stored, nothing to say.
  const config = await loadConfigFile(join(dir, 'ucgate.yaml'));
  t.same(await certificateWarnings(config, new FileStorage(join(dir, 'empty'))), []);
});
