import t from 'tap';
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { filterResponseHeaders, stripHopByHop, stripHopByHopRequest } from '../../src/proxy/hop-by-hop.js';

const pairs = (raw: readonly string[]): [string, string][] => {
  const out: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
};
const flat = (list: [string, string][]): string[] => list.flat();

t.test('filterResponseHeaders', async (t) => {
  const cases: { name: string; raw: [string, string][]; want: [string, string][] }[] = [
    {
      name: 'keeps casing, order and repeated Set-Cookie',
      raw: [
        ['Content-Type', 'text/xml'],
        ['Set-Cookie', 'JSESSIONID=A; Path=/'],
        ['X-CUCM-Node', 'pub'],
        ['set-cookie', 'b=2'],
        ['Set-Cookie', 'c=3'],
      ],
      want: [
        ['Content-Type', 'text/xml'],
        ['Set-Cookie', 'JSESSIONID=A; Path=/'],
        ['X-CUCM-Node', 'pub'],
        ['set-cookie', 'b=2'],
        ['Set-Cookie', 'c=3'],
      ],
    },
    {
      name: 'drops every hop-by-hop header whatever its case',
      raw: [
        ['Connection', 'keep-alive'],
        ['KEEP-ALIVE', 'timeout=20'],
        ['Proxy-Connection', 'close'],
        ['Proxy-Authenticate', 'Basic'],
        ['Proxy-Authorization', 'Basic eA=='],
        ['TE', 'trailers'],
        ['Trailer', 'X-Checksum'],
        ['Upgrade', 'h2c'],
        ['Transfer-Encoding', 'chunked'],
        ['Content-Length', '12'],
      ],
      want: [['Content-Length', '12']],
    },
    {
      name: 'drops headers the Connection header names (RFC 9110 §7.6.1)',
      raw: [
        ['Connection', 'close, X-Node-Private'],
        ['X-Node-Private', '1'],
        ['x-node-private', '2'],
        ['X-Public', '3'],
      ],
      want: [['X-Public', '3']],
    },
    {
      name: 'Connection tokens from repeated Connection lines, odd spacing and case',
      raw: [
        ['connection', ' X-A ,,'],
        ['X-A', 'a'],
        ['CONNECTION', 'x-b'],
        ['x-B', 'b'],
        ['X-C', 'c'],
      ],
      want: [['X-C', 'c']],
    },
    {
      name: 'a Connection header naming Set-Cookie drops it too',
      raw: [
        ['Connection', 'Set-Cookie'],
        ['Set-Cookie', 'a=1'],
        ['Date', 'x'],
      ],
      want: [['Date', 'x']],
    },
    { name: 'nothing in, nothing out', raw: [], want: [] },
  ];
  for (const c of cases) t.strictSame(pairs(filterResponseHeaders(flat(c.raw))), c.want, c.name);

  t.test('does not modify its input', async (t) => {
    const raw = flat([['Connection', 'close'], ['A', '1']]);
    const copy = [...raw];
    filterResponseHeaders(raw);
    t.strictSame(raw, copy);
  });
});

t.test('stripHopByHop (parsed headers, in place)', async (t) => {
  const headers: IncomingHttpHeaders = {
    connection: 'keep-alive, x-private',
    'keep-alive': 'timeout=5',
    'x-private': 'p',
    'transfer-encoding': 'chunked',
    upgrade: 'h2c',
    'set-cookie': ['a=1', 'b=2'],
    'content-type': 'text/xml',
  };
  stripHopByHop(headers);
  t.strictSame(headers, { 'set-cookie': ['a=1', 'b=2'], 'content-type': 'text/xml' });
});

t.test('stripHopByHopRequest keeps Transfer-Encoding (node re-frames the body)', async (t) => {
  const removed: string[] = [];
  const proxyReq = { removeHeader: (name: string) => removed.push(name) } as unknown as ClientRequest;
  const req = { headers: { connection: 'close, X-Client-Private, transfer-encoding' } } as unknown as IncomingMessage;
  stripHopByHopRequest(proxyReq, req);
  t.ok(removed.includes('x-client-private'), 'the named header');
  for (const name of ['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'upgrade']) t.ok(removed.includes(name), name);
  t.notOk(removed.includes('transfer-encoding'), 'not Transfer-Encoding, even when Connection names it');
});
