/**
 * Issue 17: forwarding headers are the gateway's. Whatever a client sends as
 * `Forwarded`, `X-Forwarded-*`, `X-Real-IP`, `True-Client-IP`,
 * `X-Original-URL` and the rest of the table never reaches a node; the
 * gateway sets `X-Forwarded-For/-Proto/-Host/-Port` from the connection.
 */
import t from 'tap';
import type { IncomingMessage } from 'node:http';
import { clientAddress, FORWARDING_HEADERS, isForwardingHeader, upstreamHeaders } from '../../src/proxy/upstream-headers.js';

function request(raw: [string, string][], options: { method?: string; remoteAddress?: string; localPort?: number } = {}): IncomingMessage {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of raw) {
    const lower = name.toLowerCase();
    const seen = headers[lower];
    headers[lower] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : `${seen}, ${value}`;
  }
  return {
    method: options.method ?? 'GET',
    rawHeaders: raw.flat(),
    headers,
    socket: { remoteAddress: options.remoteAddress ?? '10.1.2.3', localPort: options.localPort ?? 8443 },
  } as unknown as IncomingMessage;
}

const pairs = (flat: readonly string[]): [string, string][] => {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
};

/** What a client sends to claim another address, scheme, host, URL, method or certificate. */
const SPOOFED: readonly [string, string][] = [
  ['Forwarded', 'for=1.2.3.4;proto=https;host=evil.example'],
  ['X-Forwarded-For', '1.2.3.4'],
  ['x-forwarded-for', '5.6.7.8'],
  ['X-Forwarded-Proto', 'http'],
  ['X-Forwarded-Host', 'evil.example'],
  ['X-Forwarded-Port', '80'],
  ['X-Forwarded-Server', 'evil.example'],
  ['X-Forwarded-Prefix', '/ccmadmin'],
  ['X-Forwarded-Ssl', 'on'],
  ['X-Forwarded-Scheme', 'http'],
  ['X-Forwarded-Uri', '/ccmadmin/'],
  ['X-Forwarded-Client-Cert', 'Hash=abc'],
  ['X-Forwarded', 'for=1.2.3.4'],
  ['X-Real-IP', '1.2.3.4'],
  ['True-Client-IP', '1.2.3.4'],
  ['X-Client-IP', '1.2.3.4'],
  ['Client-IP', '1.2.3.4'],
  ['X-Cluster-Client-IP', '1.2.3.4'],
  ['X-ProxyUser-Ip', '1.2.3.4'],
  ['CF-Connecting-IP', '1.2.3.4'],
  ['Fastly-Client-IP', '1.2.3.4'],
  ['X-Originating-IP', '1.2.3.4'],
  ['Proxy-Client-IP', '1.2.3.4'],
  ['WL-Proxy-Client-IP', '1.2.3.4'],
  ['X-Original-URL', '/ccmadmin/'],
  ['X-Rewrite-URL', '/ccmadmin/'],
  ['X-Original-Host', 'evil.example'],
  ['X-Host', 'evil.example'],
  ['X-HTTP-Method-Override', 'DELETE'],
  ['X-Method-Override', 'DELETE'],
  ['Front-End-Https', 'on'],
  ['ssl_client_cert', '-----BEGIN CERTIFICATE-----'],
  ['X-SSL-Client-Cert', '-----BEGIN CERTIFICATE-----'],
];

t.test('every client-sent forwarding header is removed; the gateway sets its own', async (t) => {
  const out = pairs(
    upstreamHeaders(
      request([['Host', 'ucgw.example.test:8443'], ['Accept', 'text/xml'], ...SPOOFED, ['Authorization', 'Basic eA==']], { remoteAddress: '10.9.8.7', localPort: 8443 }),
      'https',
    ),
  );
  t.same(out, [
    ['Accept', 'text/xml'],
    ['Authorization', 'Basic eA=='],
    ['X-Forwarded-For', '10.9.8.7'],
    ['X-Forwarded-Proto', 'https'],
    ['X-Forwarded-Host', 'ucgw.example.test:8443'],
    ['X-Forwarded-Port', '8443'],
  ]);
});

t.test('X-Forwarded-Port is the listener port; an explicit one wins', async (t) => {
  const req = request([['Host', 'ucgw.example.test']], { localPort: 9443 });
  t.match(pairs(upstreamHeaders(req, 'https')), [[], [], [], ['X-Forwarded-Port', '9443']]);
  t.match(pairs(upstreamHeaders(req, 'http', 8080)), [['X-Forwarded-For', '10.1.2.3'], ['X-Forwarded-Proto', 'http'], [], ['X-Forwarded-Port', '8080']]);
  const noHost = pairs(upstreamHeaders(request([]), 'https'));
  t.same(noHost.map(([n]) => n), ['X-Forwarded-For', 'X-Forwarded-Proto', 'X-Forwarded-Port'], 'no Host, no X-Forwarded-Host');
});

t.test('an IPv4 client on a dual-stack listener is named by its IPv4 address', async (t) => {
  t.equal(clientAddress('::ffff:192.0.2.7'), '192.0.2.7');
  t.equal(clientAddress('::FFFF:192.0.2.7'), '192.0.2.7');
  t.equal(clientAddress('2001:db8::1'), '2001:db8::1');
  t.equal(clientAddress('::ffff:c000:207'), '::ffff:c000:207', 'only the dotted form is unmapped');
  t.equal(clientAddress(undefined), '');
  t.match(pairs(upstreamHeaders(request([], { remoteAddress: '::ffff:10.0.0.5' }), 'https')), [['X-Forwarded-For', '10.0.0.5']]);
});

t.test('the table', async (t) => {
  for (const name of FORWARDING_HEADERS) t.equal(name, name.toLowerCase(), `${name} is lower case`);
  for (const name of ['x-forwarded-anything', 'x-forwarded', 'forwarded', 'x-real-ip', 'x-original-url', 'x-rewrite-url', 'true-client-ip']) t.ok(isForwardingHeader(name), name);
  // What must keep flowing: credentials, sessions, content negotiation, and Via (see upstream-headers.ts).
  for (const name of ['authorization', 'cookie', 'accept', 'user-agent', 'content-type', 'content-length', 'via', 'x-requested-with', 'referer', 'origin']) {
    t.notOk(isForwardingHeader(name), name);
  }
});

t.test('hop-by-hop, Connection-named, framing and admin-cookie rules still hold', async (t) => {
  const out = pairs(
    upstreamHeaders(
      request(
        [
          ['Host', 'ucgw.example.test'],
          ['Connection', 'keep-alive, X-Secret'],
          ['X-Secret', '1'],
          ['Keep-Alive', 'timeout=5'],
          ['TE', 'trailers'],
          ['Upgrade', 'h2c'],
          ['Expect', '100-continue'],
          ['Cookie', 'JSESSIONID=A; ucgate_session=s3cret'],
        ],
        { method: 'DELETE' },
      ),
      'https',
    ),
  );
  t.same(out.slice(0, 2), [
    ['Cookie', 'JSESSIONID=A'],
    ['Content-Length', '0'],
  ]);
});
