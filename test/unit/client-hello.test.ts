/**
 * The ClientHello peek parser against real ClientHellos (captured from
 * node's TLS client), re-fragmented into many records and cut at every
 * byte, and against garbage: it must never throw, and must say `incomplete`
 * for every strict prefix of a good hello.
 */
import t from 'tap';
import { createServer, type AddressInfo } from 'node:net';
import { connect, type ConnectionOptions } from 'node:tls';
import fc from 'fast-check';
import { parseClientHello } from '../../src/tls/client-hello.js';

/** The bytes a real TLS client sends first. */
async function captureHello(options: ConnectionOptions): Promise<Buffer> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const captured = new Promise<Buffer>((resolve) => {
    server.once('connection', (socket) => {
      let bytes = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        bytes = Buffer.concat([bytes, chunk]);
        if (parseClientHello(bytes).status !== 'incomplete') {
          resolve(bytes);
          socket.destroy();
        }
      });
    });
  });
  const client = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
  client.on('error', () => undefined);
  const bytes = await captured;
  client.destroy();
  server.close();
  return bytes;
}

/** The same handshake bytes re-framed into records of at most `size` bytes. */
function reframe(hello: Buffer, size: number): Buffer {
  const handshake = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const records: Buffer[] = [];
  for (let at = 0; at < handshake.length; at += size) {
    const fragment = handshake.subarray(at, at + size);
    const header = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
    header.writeUInt16BE(fragment.length, 3);
    records.push(header, fragment);
  }
  return Buffer.concat(records);
}

t.test('real ClientHellos: SNI and ALPN', async (t) => {
  const acme = await captureHello({ servername: 'ucgw.example.test', ALPNProtocols: ['acme-tls/1'] });
  t.same(parseClientHello(acme), { status: 'complete', serverName: 'ucgw.example.test', alpnProtocols: ['acme-tls/1'] });

  const browser = await captureHello({ servername: 'UCGW.Example.Test', ALPNProtocols: ['h2', 'http/1.1'] });
  t.same(parseClientHello(browser), { status: 'complete', serverName: 'UCGW.Example.Test', alpnProtocols: ['h2', 'http/1.1'] });

  // A phone-like client: TLS 1.2 only, no ALPN, and (connecting by IP) no SNI.
  const phone = await captureHello({ maxVersion: 'TLSv1.2' });
  t.same(parseClientHello(phone), { status: 'complete', serverName: undefined, alpnProtocols: [] });
});

t.test('fragmentation: records of any size, and bytes arriving one at a time', async (t) => {
  const hello = await captureHello({ servername: 'ucgw.example.test', ALPNProtocols: ['acme-tls/1'] });
  const expected = parseClientHello(hello);
  for (const size of [1, 2, 3, 4, 5, 17, 100, 511]) {
    t.same(parseClientHello(reframe(hello, size)), expected, `records of ${size} byte(s)`);
  }
  const oneByteRecords = reframe(hello, 1);
  let allIncomplete = true;
  for (let end = 0; end < oneByteRecords.length; end += 13) {
    if (parseClientHello(oneByteRecords.subarray(0, end)).status !== 'incomplete') allIncomplete = false;
  }
  t.ok(allIncomplete, 'every prefix of a 1-byte-record hello is incomplete');
  for (let end = 0; end < hello.length; end++) {
    const status = parseClientHello(hello.subarray(0, end)).status;
    if (status !== 'incomplete') {
      t.fail(`prefix of ${end} bytes gave ${status}`);
      break;
    }
  }
  t.same(parseClientHello(Buffer.concat([hello, Buffer.from('trailing application bytes')])), expected, 'bytes after the hello are ignored');
});

t.test('not TLS, or not a ClientHello', async (t) => {
  t.same(parseClientHello(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), { status: 'not-tls' }, 'plain HTTP');
  t.same(parseClientHello(Buffer.from('G')), { status: 'not-tls' }, 'judged from the first byte');
  t.same(parseClientHello(Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01])), { status: 'not-tls' }, 'an SSLv2-framed hello');
  t.same(parseClientHello(Buffer.alloc(0)), { status: 'incomplete' });
  t.same(parseClientHello(Buffer.from([0x16, 0x03])), { status: 'incomplete' });
  t.match(parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00])), { status: 'invalid' }, 'a ServerHello');
  t.match(parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00])), { status: 'invalid' }, 'an empty record');
  t.match(parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x48, 0x01])), { status: 'invalid' }, 'a record longer than 2^14');
  const hello = await captureHello({ servername: 'ucgw.example.test', ALPNProtocols: ['acme-tls/1'] });
  const alert = Buffer.concat([reframe(hello, 50).subarray(0, 55), Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])]);
  t.match(parseClientHello(alert), { status: 'invalid' }, 'an alert record in the middle of the hello');
});

t.test('lengths that overrun their container are invalid, not a crash', async (t) => {
  const hello = await captureHello({ servername: 'ucgw.example.test', ALPNProtocols: ['acme-tls/1'] });
  // Point the extensions length past the end of the hello.
  const body = 5 + 4 + 2 + 32;
  const sessionLength = hello[body]!;
  const suitesAt = body + 1 + sessionLength;
  const compressionAt = suitesAt + 2 + hello.readUInt16BE(suitesAt);
  const extensionsAt = compressionAt + 1 + hello[compressionAt]!;
  const broken = Buffer.from(hello);
  broken.writeUInt16BE(0xfff0, extensionsAt);
  t.match(parseClientHello(broken), { status: 'invalid' });
  const oddSuites = Buffer.from(hello);
  oddSuites.writeUInt16BE(hello.readUInt16BE(suitesAt) + 1, suitesAt);
  t.match(parseClientHello(oddSuites), { status: 'invalid' });
});

t.test('never throws: random bytes and mutated hellos', async (t) => {
  const hello = await captureHello({ servername: 'ucgw.example.test', ALPNProtocols: ['acme-tls/1', 'h2'] });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const result = parseClientHello(Buffer.from(bytes));
      return ['incomplete', 'not-tls', 'invalid', 'complete'].includes(result.status);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(hello.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
      const mutated = Buffer.from(hello);
      for (const [at, value] of edits) mutated[at] = value;
      const result = parseClientHello(mutated);
      return ['incomplete', 'not-tls', 'invalid', 'complete'].includes(result.status);
    }),
    { numRuns: 3000 },
  );
  // Prefix-extended with a huge declared handshake: refused once the cap is passed, without buffering forever.
  const huge = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x0f, 0xff, 0xff]);
  t.match(parseClientHello(huge), { status: 'invalid' });
});
