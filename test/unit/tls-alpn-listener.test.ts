/**
 * tls-alpn-01 on the real HTTPS listener (HttpsListener, its TLS profiles and
 * the RSA + ECDSA pair): with the challenge configured, ordinary clients
 * (h2/http1.1, http/1.1, no ALPN, a TLS 1.2 phone) get exactly what they get
 * without it, and `openssl s_client -alpn acme-tls/1` gets the RFC 8737
 * challenge certificate only while a challenge for its SNI name is pending.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { connect, type ConnectionOptions } from 'node:tls';
import acme from 'acme-client';
import { createCa, issueLeaf } from '../../src/pki/x509.js';
import { ChallengeTable } from '../../src/challenges/challenge-table.js';
import { HttpsListener } from '../../src/worker/listeners.js';
import type { HttpLimits, TlsProfileName } from '../../src/config/types.js';
import type { WireCertificate } from '../../src/wire/messages.js';

const NAME = 'ucgw.example.test';
/** The RFC 8737 acmeIdentifier extension. */
const ACME_IDENTIFIER_OID = '1.3.6.1.5.5.7.1.31';

const LIMITS: HttpLimits = {
  maxHeaderBytes: 16_384,
  maxHeaders: 100,
  maxUrlBytes: 8_192,
  maxBodyBytes: 1_048_576,
  maxConnections: 1_000,
  maxConnectionsPerClient: 100,
  maxRequestsPerConnection: 0,
  idleTimeoutMs: 5_000,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  upstreamMaxHeaderBytes: 16_384,
  bufferBodyBytes: 65_536,
  bodyTimeoutMs: 10_000,
  minBodyBytesPerSecond: 1_000,
};

async function alpnChallenge(identifier: string) {
  const authz = { identifier: { type: 'dns', value: identifier } } as Parameters<typeof acme.crypto.createAlpnCertificate>[0];
  const [keyPem, certPem] = await acme.crypto.createAlpnCertificate(authz, 'token.thumbprint', await acme.crypto.createPrivateEcdsaKey());
  return { type: 'tls-alpn-01' as const, identifier, certPem: certPem.toString(), keyPem: keyPem.toString() };
}

async function listener(t: Test, profile: TlsProfileName, certificates: readonly WireCertificate[], table?: ChallengeTable) {
  const https = new HttpsListener(
    { host: '127.0.0.1', port: 0, profile },
    'main',
    'modern',
    certificates,
    randomBytes(48),
    (_req, res) => res.end('served'),
    { limits: LIMITS, prepare: () => undefined },
    table,
  );
  const { port } = await https.listen();
  t.teardown(() => new Promise<void>((resolve) => https.server.close(() => resolve())));
  return port;
}

type Outcome = { cert: string; alpn: string | false; body: string } | { error: string };

/** A TLS client that asks for `/` and reports the certificate, ALPN and answer (or why it failed). */
function client(port: number, options: ConnectionOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () =>
      socket.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
    );
    let body = '';
    let outcome: Outcome | undefined;
    socket.on('secureConnect', () => (outcome = { cert: socket.getPeerCertificate().fingerprint256, alpn: socket.alpnProtocol ?? false, body: '' }));
    socket.on('data', (chunk: Buffer) => (body += chunk.toString()));
    socket.on('error', (err) => (outcome ??= { error: err.message }));
    socket.on('close', () => resolve(outcome && 'cert' in outcome ? { ...outcome, body: body.split('\r\n\r\n')[1] ?? '' } : (outcome ?? { error: 'closed' })));
  });
}

/** What `openssl s_client -alpn acme-tls/1 -servername NAME` sees: the leaf, the ALPN line, every certificate sent. */
function sClient(port: number, alpn: string | undefined, servername = NAME): Promise<{ leaf?: X509Certificate; alpn: string; certs: number; output: string }> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', servername, '-showcerts', ...(alpn ? ['-alpn', alpn] : [])];
  return new Promise((resolve) => {
    const child = execFile('openssl', args, { timeout: 10_000 }, (_err, stdout, stderr) => {
      const output = stdout + stderr;
      const pems = output.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
      const alpnLine = /ALPN protocol: (\S+)|No ALPN negotiated/.exec(output);
      resolve({ ...(pems[0] && { leaf: new X509Certificate(pems[0]) }), alpn: alpnLine?.[1] ?? 'none', certs: pems.length, output });
    });
    child.stdin?.end();
  });
}

const hasAcmeIdentifier = (cert: X509Certificate | undefined) => Boolean(cert && cert.raw.includes(Buffer.from([0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f])));

t.test('ordinary clients get what they get without tls-alpn-01: profiles, RSA + ECDSA pair', async (t) => {
  const ca = await createCa({ commonName: 'test CA' });
  const rsa = await issueLeaf({ issuer: ca, commonName: NAME, subjectAltNames: [NAME], keyType: 'rsa-2048' });
  const ecdsa = await issueLeaf({ issuer: ca, commonName: NAME, subjectAltNames: [NAME], keyType: 'ecdsa-p256' });
  const clients: Record<string, ConnectionOptions> = {
    'browser (h2, http/1.1)': { servername: NAME, ALPNProtocols: ['h2', 'http/1.1'] },
    'Jabber (http/1.1)': { servername: NAME, ALPNProtocols: ['http/1.1'] },
    'no ALPN, no SNI': {},
    'no ALPN, SNI': { servername: NAME },
    'phone: TLS 1.2, RSA key exchange, no SNI': { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA:@SECLEVEL=0' },
    'TLS 1.2, ECDHE-RSA only': { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256', servername: NAME, ALPNProtocols: ['http/1.1'] },
    'h2 only': { servername: NAME, ALPNProtocols: ['h2'] },
  };
  const setups: [string, TlsProfileName, WireCertificate[]][] = [
    ['modern, RSA', 'modern', [rsa]],
    ['compatible, RSA + ECDSA', 'compatible', [rsa, ecdsa]],
    ['legacy, RSA + ECDSA', 'legacy', [rsa, ecdsa]],
  ];
  for (const [label, profile, certificates] of setups) {
    const table = new ChallengeTable();
    table.apply('add', await alpnChallenge(NAME));
    const plain = await listener(t, profile, certificates);
    const withAlpn = await listener(t, profile, certificates, table);
    for (const [who, options] of Object.entries(clients)) {
      const expected = await client(plain, options);
      const got = await client(withAlpn, options);
      if ('error' in expected) t.match(got, { error: /./ }, `${label}, ${who}: refused as without it (${expected.error.slice(0, 60)})`);
      else t.same(got, expected, `${label}, ${who}: ${expected.alpn || 'no ALPN'}, ${certificates.find((c) => new X509Certificate(c.certPem).fingerprint256 === expected.cert)?.keyType}`);
    }
  }
  const dual = await listener(t, 'legacy', [rsa, ecdsa], new ChallengeTable());
  const browser = await client(dual, clients['browser (h2, http/1.1)']!);
  const phone = await client(dual, clients['phone: TLS 1.2, RSA key exchange, no SNI']!);
  t.match(browser, { cert: new X509Certificate(ecdsa.certPem).fingerprint256, body: 'served' }, 'a client that offers ECDSA gets the ECDSA leaf');
  t.match(phone, { cert: new X509Certificate(rsa.certPem).fingerprint256, body: 'served' }, 'a phone gets the RSA leaf');
});

t.test('openssl s_client -alpn acme-tls/1: the challenge certificate only while a challenge is pending', async (t) => {
  const ca = await createCa({ commonName: 'test CA' });
  const rsa = await issueLeaf({ issuer: ca, commonName: NAME, subjectAltNames: [NAME], keyType: 'rsa-2048' });
  const ecdsa = await issueLeaf({ issuer: ca, commonName: NAME, subjectAltNames: [NAME], keyType: 'ecdsa-p256' });
  const challenge = await alpnChallenge(NAME);
  const challengeFingerprint = new X509Certificate(challenge.certPem).fingerprint256;
  for (const [label, profile, certificates] of [
    ['RSA', 'modern', [rsa]],
    ['RSA + ECDSA, legacy profile', 'legacy', [rsa, ecdsa]],
    ['no certificate yet (first issuance)', 'modern', []],
  ] as [string, TlsProfileName, WireCertificate[]][]) {
    const table = new ChallengeTable();
    const port = await listener(t, profile, certificates, table);

    const before = await sClient(port, 'acme-tls/1');
    t.equal(before.leaf, undefined, `${label}: no challenge pending, no certificate`);
    // The certificate callback fails the handshake: the connection closes before any certificate.
    t.match(before.output, /unexpected eof|no application protocol|handshake failure/, `${label}: refused`);

    table.apply('add', challenge);
    const pending = await sClient(port, 'acme-tls/1');
    t.equal(pending.alpn, 'acme-tls/1', `${label}: acme-tls/1 negotiated`);
    t.equal(pending.leaf?.fingerprint256, challengeFingerprint, `${label}: the challenge certificate`);
    t.ok(hasAcmeIdentifier(pending.leaf), `${label}: it carries acmeIdentifier (${ACME_IDENTIFIER_OID})`);
    t.equal(pending.leaf?.subjectAltName, `DNS:${NAME}`, `${label}: for the SNI name`);
    const otherName = await sClient(port, 'acme-tls/1', 'other.example.test');
    t.equal(otherName.leaf, undefined, `${label}: another SNI name gets nothing`);
    if (certificates.length > 0) {
      const normal = await sClient(port, 'h2,http/1.1');
      t.equal(normal.alpn, 'http/1.1', `${label}: meanwhile a normal client negotiates http/1.1`);
      t.not(normal.leaf?.fingerprint256, challengeFingerprint, `${label}: and gets the served certificate`);
      t.ok(certificates.some((c) => new X509Certificate(c.certPem).fingerprint256 === normal.leaf?.fingerprint256), `${label}: one of the listener's`);
      const noAlpn = await sClient(port, undefined);
      t.ok(certificates.some((c) => new X509Certificate(c.certPem).fingerprint256 === noAlpn.leaf?.fingerprint256), `${label}: no ALPN: the served certificate`);
    }

    table.apply('remove', challenge);
    const after = await sClient(port, 'acme-tls/1');
    t.equal(after.leaf, undefined, `${label}: withdrawn: no certificate again`);
  }
});
