/**
 * The data-plane challenge responders on real sockets: http-01 answers only
 * its path and only known tokens; tls-alpn-01's TLS hooks give acme-tls/1
 * handshakes the challenge certificate and every other client the server's
 * own, and the store is the fallback for challenges the process was not told
 * about.
 */
import t from 'tap';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { connect, type TLSSocket } from 'node:tls';
import { connect as netConnect, type AddressInfo } from 'node:net';
import acme from 'acme-client';
import { X509Certificate } from 'node:crypto';
import { createCa, issueLeaf } from '../../src/pki/x509.js';
import { FileStorage } from '../../src/store/file-storage.js';
import { ChallengeTable, identifierFromServerName } from '../../src/challenges/challenge-table.js';
import { storeChallenge } from '../../src/challenges/challenge-store.js';
import { answerHttp01 } from '../../src/challenges/http01-responder.js';
import { acmeTlsAlpnOptions, closeValidations, standaloneAlpnServer } from '../../src/challenges/tls-alpn01-responder.js';

const NAME = 'ucgw.example.test';

async function alpnChallenge(identifier: string) {
  const authz = { identifier: { type: 'dns', value: identifier } } as Parameters<typeof acme.crypto.createAlpnCertificate>[0];
  const [keyPem, certPem] = await acme.crypto.createAlpnCertificate(authz, 'token.thumbprint', await acme.crypto.createPrivateEcdsaKey());
  return { type: 'tls-alpn-01' as const, identifier, certPem: certPem.toString(), keyPem: keyPem.toString() };
}

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

t.test('http-01: known tokens from memory or the store, 404 otherwise, other paths untouched', async (t) => {
  const store = await new FileStorage(t.testdir()).open();
  const table = new ChallengeTable(store);
  table.apply('add', { type: 'http-01', token: 'tok-memory_1', keyAuthorization: 'tok-memory_1.thumb' });
  await storeChallenge(store, { type: 'http-01', token: 'tok-store', keyAuthorization: 'tok-store.thumb' });
  const passedOn: string[] = [];
  const server = createHttpServer((req, res) => {
    if (answerHttp01(req, res, table)) return;
    passedOn.push(req.url!);
    res.end('proxied');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const { port } = server.address() as AddressInfo;
  t.same(await get(port, '/.well-known/acme-challenge/tok-memory_1'), { status: 200, body: 'tok-memory_1.thumb' });
  t.same(await get(port, '/.well-known/acme-challenge/tok-store'), { status: 200, body: 'tok-store.thumb' }, 'from the store');
  t.equal((await get(port, '/.well-known/acme-challenge/unknown')).status, 404);
  t.equal((await get(port, '/.well-known/acme-challenge/..%2f..%2fcertificates')).status, 404, 'a non-token never reaches a storage key');
  t.equal((await get(port, '/.well-known/acme-challenge/tok-memory_1', 'POST')).status, 405);
  t.same(await get(port, '/cucm-uds/version'), { status: 200, body: 'proxied' });
  t.same(passedOn, ['/cucm-uds/version'], 'only non-challenge paths reach the proxy');
  table.apply('remove', { type: 'http-01', token: 'tok-memory_1', keyAuthorization: '' });
  t.equal((await get(port, '/.well-known/acme-challenge/tok-memory_1')).status, 404, 'withdrawn');
});

t.test('tls-alpn-01: acme-tls/1 gets the challenge certificate, every other client the real one', async (t) => {
  const ca = await createCa({ commonName: 'test CA' });
  const leaf = await issueLeaf({ issuer: ca, commonName: NAME, subjectAltNames: [NAME] });
  const store = await new FileStorage(t.testdir()).open();
  const table = new ChallengeTable(store);
  const memory = await alpnChallenge(NAME);
  table.apply('add', memory);
  const stored = await alpnChallenge('other.example.test');
  await storeChallenge(store, stored);
  const requests: string[] = [];
  const server = createHttpsServer({ key: leaf.keyPem, cert: leaf.certPem, ...acmeTlsAlpnOptions(table) }, (req, res) => {
    requests.push(req.url!);
    res.end('normal');
  });
  closeValidations(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const { port } = server.address() as AddressInfo;

  const handshake = (servername: string, ALPNProtocols: string[], dribble = false, maxVersion?: 'TLSv1.2') =>
    new Promise<{ cert: string; alpn: string | false } | { error: string }>((resolve) => {
      const options = { servername, ALPNProtocols, rejectUnauthorized: false, ...(maxVersion && { maxVersion }) };
      let socket: TLSSocket;
      if (dribble) {
        // A TCP socket that writes the ClientHello one byte every millisecond.
        const raw = netConnect({ host: '127.0.0.1', port });
        const write = raw.write.bind(raw);
        raw.write = ((chunk: Buffer, ...rest: unknown[]) => {
          const bytes = Buffer.from(chunk);
          (async () => {
            for (const byte of bytes) {
              write(Buffer.from([byte]));
              await new Promise((r) => setTimeout(r, 1));
            }
            const cb = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
            cb?.();
          })();
          return true;
        }) as typeof raw.write;
        socket = connect({ ...options, socket: raw });
      } else socket = connect({ host: '127.0.0.1', port, ...options });
      socket.once('secureConnect', () => {
        const cert = socket.getPeerCertificate().fingerprint256;
        resolve({ cert, alpn: socket.alpnProtocol ?? false });
        socket.destroy();
      });
      socket.once('error', (err) => resolve({ error: err.message }));
    });
  const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

  t.same(await handshake(NAME, ['acme-tls/1']), { cert: fingerprint(memory.certPem), alpn: 'acme-tls/1' }, 'validator: the challenge certificate');
  t.same(await handshake('other.example.test', ['acme-tls/1']), { cert: fingerprint(stored.certPem), alpn: 'acme-tls/1' }, 'from the store');
  t.match(await handshake('unknown.example.test', ['acme-tls/1']), { error: /./ }, 'unknown name: handshake refused');
  t.match(await handshake(NAME, ['acme-tls/1'], false, 'TLSv1.2'), { error: /no application protocol/ }, 'TLS 1.2 (certificate chosen before ALPN): refused, never the wrong certificate');
  t.same(await handshake(NAME, ['http/1.1']), { cert: fingerprint(leaf.certPem), alpn: 'http/1.1' }, 'a normal client: the real certificate');
  t.same(await handshake(NAME, ['h2', 'http/1.1']), { cert: fingerprint(leaf.certPem), alpn: 'http/1.1' }, 'a browser: http/1.1, as node:https selects');
  t.same(await handshake(NAME, ['http/1.1'], false, 'TLSv1.2'), { cert: fingerprint(leaf.certPem), alpn: 'http/1.1' }, 'TLS 1.2 normal client');
  t.same(await handshake(NAME, []), { cert: fingerprint(leaf.certPem), alpn: false }, 'no ALPN at all: the real certificate');
  t.match(await handshake(NAME, ['h2']), { error: /no application protocol/ }, 'no protocol in common: the alert node:https sends');
  t.same(await handshake(NAME, ['acme-tls/1', 'http/1.1']), { cert: fingerprint(memory.certPem), alpn: 'acme-tls/1' }, 'acme-tls/1 among others still validates');
  t.same(await handshake(NAME, ['acme-tls/1'], true), { cert: fingerprint(memory.certPem), alpn: 'acme-tls/1' }, 'a hello dribbled byte by byte');
  t.same(await handshake(NAME, ['h2', 'http/1.1'], true), { cert: fingerprint(leaf.certPem), alpn: 'http/1.1' }, 'and a normal one');
  const res = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: NAME, ca: ca.certPem }, () => socket.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    let body = '';
    socket.on('data', (chunk) => (body += chunk));
    socket.on('end', () => resolve(body));
    socket.on('error', reject);
  });
  t.match(res, /200 OK[\s\S]*normal$/, 'HTTP on a normal connection works');
  // A validator that sends a request anyway: the connection closes after the handshake, nothing reaches the handler.
  const after = await new Promise<string>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername: NAME, ALPNProtocols: ['acme-tls/1'], rejectUnauthorized: false }, () =>
      socket.write('GET /after-validation HTTP/1.1\r\nHost: x\r\n\r\n'),
    );
    let body = '';
    socket.on('data', (chunk) => (body += chunk));
    socket.on('close', () => resolve(body));
    socket.on('error', () => undefined);
  });
  t.equal(after, '', 'no answer on a validation connection');
  t.same(requests, ['/'], 'only the normal request reached the handler');
});

t.test('acme-tls/1 SNI for IP identifiers (RFC 8738) maps back to the address', async (t) => {
  t.equal(identifierFromServerName('4.3.2.1.in-addr.arpa'), '1.2.3.4');
  t.equal(identifierFromServerName('UCGW.Example.Test.'), 'ucgw.example.test');
  const v6 = '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa';
  t.equal(identifierFromServerName(v6), '2001:db8::1');
});

t.test('tls-alpn-01 standalone (`ucgate cert renew` without a gateway): challenge certificates only', async (t) => {
  const table = new ChallengeTable();
  const memory = await alpnChallenge(NAME);
  table.apply('add', memory);
  const server = standaloneAlpnServer(table);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const { port } = server.address() as AddressInfo;
  const handshake = (servername: string, ALPNProtocols: string[]) =>
    new Promise<{ cert: string; alpn: string | false } | { error: string }>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, servername, ALPNProtocols, rejectUnauthorized: false }, () => {
        resolve({ cert: socket.getPeerCertificate().fingerprint256, alpn: socket.alpnProtocol ?? false });
        socket.destroy();
      });
      socket.once('error', (err) => resolve({ error: err.message }));
    });
  t.same(await handshake(NAME, ['acme-tls/1']), { cert: new X509Certificate(memory.certPem).fingerprint256, alpn: 'acme-tls/1' }, 'the validator');
  t.match(await handshake('unknown.example.test', ['acme-tls/1']), { error: /./ }, 'an unknown name');
  t.match(await handshake(NAME, ['http/1.1']), { error: /./ }, 'anyone else: nothing to serve');
});
