/**
 * The TLS audit of issue 10: testssl.sh and sslscan (Debian packages) against
 * a running gateway's modern listener, asserted on their JSON and XML — their
 * exit codes say nothing (testssl exits 0 with CRITICAL findings, sslscan
 * exits 0 when it cannot even connect).
 *
 * Allowed: only findings a private test CA always causes, each named below.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBrokenUpstream } from '../helpers/broken-upstream.js';
import { startGatewayProcess, TEST_ROUTES, FQDN } from '../helpers/gateway.js';

// testssl takes ~35 s on an idle 2-core machine, but 117 s was measured with the load average at 22
// (parallel test files and other work); sslscan <1 s, the gateway ~2 s. Tells the runner too.
t.setTimeout(300_000);

/**
 * Ids a test CA raises whatever the server does (see TOOLS.md):
 * - cert_expirationStatus / cert_notAfter: testssl rates a validity it cannot
 *   match against public CA policy, or a short-lived test certificate, HIGH.
 * - cert_revocation: a test CA publishes neither CRL nor OCSP.
 */
const TEST_CA_IDS = new Set(['cert_expirationStatus', 'cert_notAfter', 'cert_revocation']);
const SERIOUS = new Set(['MEDIUM', 'HIGH', 'CRITICAL']);

interface Finding {
  readonly id: string;
  readonly severity: string;
  readonly finding: string;
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

t.test('TLS audit of the modern listener', async (t) => {
  const dir = t.testdir();
  const upstream = await startBrokenUpstream({ name: 'pub', hostname: 'cucm-pub.example.test' });
  t.teardown(() => upstream.close());
  const caFile = join(dir, 'upstream-ca.pem');
  writeFileSync(caFile, upstream.caPem);
  const gw = await startGatewayProcess(t, dir, {
    // 127.0.0.1 as a SAN: the auditors connect by address, and a name mismatch is not what this test is about.
    gateway: { fqdn: FQDN, altNames: ['127.0.0.1'] },
    listen: { https: [{ host: '127.0.0.1', port: 0 }] },
    tls: { profile: 'modern' },
    clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: upstream.url, address: '127.0.0.1' }], tls: { caFile } }],
    routes: TEST_ROUTES,
    log: { access: false },
  });
  const trustFile = join(dir, 'gateway-trust.pem');
  writeFileSync(trustFile, await gw.trustPem());
  const target = `127.0.0.1:${gw.port}`;

  t.test('testssl.sh: nothing MEDIUM or above beyond the test-CA ids; no renegotiation; no compression', async (t) => {
    const jsonFile = join(dir, 'testssl.json');
    const result = await run(
      'testssl',
      ['--quiet', '--color', '0', '--warnings', 'off', '--nodns', 'none', '--jsonfile', jsonFile, '-p', '-s', '-f', '-P', '-S', '-U', '--add-ca', trustFile, target],
      dir,
      240_000,
    );
    const wrote = existsSync(jsonFile);
    t.ok(wrote, wrote ? 'testssl wrote its JSON' : `testssl wrote no JSON (exit ${result.code})\n${result.output.slice(-2000)}`);
    if (!wrote) return;
    const findings = JSON.parse(readFileSync(jsonFile, 'utf8')) as Finding[];
    const byId = new Map(findings.map((f) => [f.id, f]));
    t.ok(findings.length > 50, `a full report (${findings.length} findings), not a failed scan`);
    t.notOk(
      findings.some((f) => f.id === 'scanProblem' || (f.severity === 'FATAL')),
      `no scan problem: ${JSON.stringify(findings.filter((f) => f.id === 'scanProblem' || f.severity === 'FATAL'))}`,
    );
    const serious = findings.filter((f) => SERIOUS.has(f.severity));
    const unexpected = serious.filter((f) => !TEST_CA_IDS.has(f.id));
    t.same(
      unexpected.map((f) => `${f.id} ${f.severity}: ${f.finding}`),
      [],
      'no finding of MEDIUM or above except the test-CA ids',
    );
    t.comment(`allow-listed test-CA findings seen: ${serious.filter((f) => TEST_CA_IDS.has(f.id)).map((f) => `${f.id} ${f.severity}`).join(', ') || 'none'}`);

    // Renegotiation: secure_renego is the server's RFC 5746 support (not supported = cannot be abused),
    // secure_client_renego is whether a client may start one (must be refused).
    t.match(byId.get('secure_client_renego')?.finding, /not vulnerable/i, `client-initiated renegotiation refused (${byId.get('secure_client_renego')?.finding})`);
    t.equal(byId.get('secure_client_renego')?.severity, 'OK');
    t.ok(['OK', 'INFO'].includes(byId.get('secure_renego')?.severity ?? ''), `secure_renego is OK/INFO (${JSON.stringify(byId.get('secure_renego'))})`);
    // CRIME (TLS compression).
    t.match(byId.get('CRIME_TLS')?.finding, /not vulnerable/i, `no TLS compression (${byId.get('CRIME_TLS')?.finding})`);
    t.equal(byId.get('CRIME_TLS')?.severity, 'OK');
    // Protocols, as testssl saw them.
    for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1']) t.match(byId.get(id)?.finding, /not offered/i, `${id} not offered`);
    t.match(byId.get('TLS1_2')?.finding, /^offered/i, 'TLS 1.2 offered');
    t.match(byId.get('TLS1_3')?.finding, /^offered/i, 'TLS 1.3 offered');
    t.comment(`testssl: ${findings.length} findings, ${serious.length} MEDIUM+ (${serious.map((f) => f.id).join(', ')})`);
  });

  t.test('sslscan: no legacy protocol, no weak cipher, TLS 1.3, no compression, no insecure renegotiation', async (t) => {
    const xmlFile = join(dir, 'sslscan.xml');
    const result = await run('sslscan', ['--no-colour', `--xml=${xmlFile}`, target], dir, 60_000);
    t.match(result.output, /Connected to 127\.0\.0\.1/, 'sslscan connected');
    t.ok(existsSync(xmlFile), `sslscan wrote its XML (exit ${result.code})`);
    if (!existsSync(xmlFile)) return;
    const xml = readFileSync(xmlFile, 'utf8');
    t.notMatch(xml, /<error>/, 'no error in the XML');
    const protocol = (type: string, version: string) =>
      new RegExp(`<protocol type="${type}" version="${version.replace('.', '\\.')}" enabled="(\\d)"`).exec(xml)?.[1];
    t.equal(protocol('ssl', '2'), '0', 'SSLv2 disabled');
    t.equal(protocol('ssl', '3'), '0', 'SSLv3 disabled');
    t.equal(protocol('tls', '1.0'), '0', 'TLSv1.0 disabled');
    t.equal(protocol('tls', '1.1'), '0', 'TLSv1.1 disabled');
    t.equal(protocol('tls', '1.2'), '1', 'TLSv1.2 enabled');
    t.equal(protocol('tls', '1.3'), '1', 'TLSv1.3 enabled');

    const ciphers = [...xml.matchAll(/<cipher status="(\w+)" sslversion="([^"]+)" bits="\d+" cipher="([^"]+)"/g)].map((m) => ({
      status: m[1]!,
      version: m[2]!,
      name: m[3]!,
    }));
    t.ok(ciphers.length > 0, `accepted ciphers listed: ${ciphers.map((c) => `${c.version} ${c.name}`).join(', ')}`);
    // OpenSSL names most CBC suites without "CBC" (ECDHE-RSA-AES128-SHA256 is CBC): list what is allowed
    // instead — under TLS 1.2 only ECDHE with an AEAD; TLS 1.3 suites are all AEAD.
    const modernTls12 = /^ECDHE-(RSA|ECDSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/;
    const weak = ciphers.filter((c) => (c.version === 'TLSv1.3' ? !/^TLS_(AES_(128|256)_GCM|CHACHA20_POLY1305)_SHA(256|384)$/.test(c.name) : !modernTls12.test(c.name)));
    t.same(weak.map((c) => `${c.version} ${c.name}`), [], 'no CBC, RC4, 3DES, NULL or static-RSA cipher accepted: ECDHE + AEAD only');
    t.ok(ciphers.every((c) => c.version === 'TLSv1.2' || c.version === 'TLSv1.3'), 'ciphers only under TLS 1.2 and 1.3');

    // Debian's sslscan is built without zlib: it prints "OpenSSL version does not support compression"
    // and writes no <compression> element. Then testssl's CRIME_TLS (above) is the compression check.
    if (/<compression /.test(xml)) t.match(xml, /<compression supported="0"/, 'no TLS compression');
    else {
      t.match(result.output, /does not support compression/, 'this sslscan build cannot test compression (testssl CRIME_TLS covers it)');
      t.comment('sslscan: compression not testable with this build (no zlib); see testssl CRIME_TLS');
    }
    const renegotiation = /<renegotiation supported="(\d)" secure="(\d)"/.exec(xml);
    t.ok(renegotiation, 'sslscan reported on renegotiation');
    if (renegotiation) {
      const [, supported, secure] = renegotiation;
      t.ok(supported === '0' || secure === '1', `renegotiation not supported, or only the secure kind (supported=${supported} secure=${secure})`);
    }
    t.notMatch(xml, /<heartbleed [^>]*vulnerable="1"/, 'not vulnerable to heartbleed');
  });
});
