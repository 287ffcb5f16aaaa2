/**
 * Body rewriting as streams and as whole buffers: chunk boundaries at every
 * offset, gzip and deflate round trips, bounded memory, charsets that must be
 * left alone, and errors.
 */
import t from 'tap';
import { Readable, type Duplex } from 'node:stream';
import { deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { compileRewriteRules, type BodyHeaders } from '../../src/rewrite/index.js';
import { clusterUserBody, serversBody } from '../../src/sim/uds-bodies.js';
import { userBody } from '../../src/sim/uds-user-bodies.js';
import { directoryListBody, directoryMenuBody, DIRECTORY } from '../../src/sim/phone-xml-bodies.js';

const PUB = 'cucm-pub.example.test';
const GW = 'ucgw.example.test';
const rules = compileRewriteRules({ names: [PUB, 'cucm-pub', 'cucm-sub1.example.test', 'cucm-sub1', '10.0.0.12', 'fd00::12'] });
const target = rules.forTarget({ host: GW, port: 8443, scheme: 'https' });
const XML = { contentType: 'text/xml; charset=UTF-8' };
const ctx = { hostname: PUB, version: '14.0.1.13900-155' };

/** Writes `chunks` into `stream` and collects what comes out. */
async function run(stream: Duplex, chunks: readonly Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const c of stream) out.push(c as Buffer);
  })();
  Readable.from(chunks, { objectMode: false }).pipe(stream);
  await done;
  return Buffer.concat(out);
}

function rewriter(headers: BodyHeaders = XML): Duplex {
  const stream = target.createBodyRewriter(headers);
  if (stream === undefined) throw new Error('expected a rewriter');
  return stream;
}

const SAMPLES: Record<string, Buffer> = {
  clusterUser: Buffer.from(clusterUserBody(ctx, 'alice', true, PUB)),
  user: Buffer.from(userBody(ctx, 'alice', '1001')),
  servers: Buffer.from(serversBody(ctx, [PUB, 'cucm-sub1', '10.0.0.12'])),
  menu: Buffer.from(directoryMenuBody('CUCM-PUB')),
  // Names at the very edges, a trailing dot, IPv6, UTF-8 text around them.
  edges: Buffer.from(`${PUB}<a>Zoë → http://[fd00::12]:8080/x ${PUB}.</a>https://cucm-pub:8443`),
};

t.test('a split at every offset gives the one-chunk result', async (t) => {
  for (const [name, body] of Object.entries(SAMPLES)) {
    const expected = target.rewriteBytes(body);
    t.not(expected.equals(body), true, `${name} has names`);
    t.same(await run(rewriter(), [body]), expected, `${name}: one chunk`);
    let failures = 0;
    for (let i = 0; i <= body.length; i++) {
      const got = await run(rewriter(), [body.subarray(0, i), body.subarray(i)]);
      if (!got.equals(expected)) failures++;
      if (failures === 1 && !got.equals(expected)) t.equal(got.toString(), expected.toString(), `${name}: split at ${i}`);
    }
    t.equal(failures, 0, `${name}: all ${body.length + 1} splits`);
    const bytes = [...body].map((b) => Buffer.from([b]));
    t.same(await run(rewriter(), bytes), expected, `${name}: one byte at a time`);
  }
});

t.test('gzip and deflate: decoded, rewritten, encoded again', async (t) => {
  const body = SAMPLES.user!;
  const expected = target.rewriteBytes(body);
  const gz = gzipSync(body);
  const out = await run(rewriter({ ...XML, contentEncoding: 'gzip' }), [gz.subarray(0, 7), gz.subarray(7)]);
  t.same(gunzipSync(out), expected, 'gzip');
  const df = deflateSync(body);
  t.same(inflateSync(await run(rewriter({ ...XML, contentEncoding: 'deflate' }), [df])), expected, 'deflate');
  const plain = gzipSync(Buffer.from(directoryListBody(GW, DIRECTORY)), { level: 9 });
  t.same(await run(rewriter({ ...XML, contentEncoding: 'gzip' }), [plain]), plain, 'no names: the node\'s own compressed bytes');
  const corrupt = Buffer.from('this is not gzip at all');
  t.same(await run(rewriter({ ...XML, contentEncoding: 'gzip' }), [corrupt]), corrupt, 'a small undecodable body goes out as sent');
  t.same(await run(rewriter({ ...XML, contentEncoding: 'gzip' }), []), Buffer.alloc(0), 'an empty body (HEAD, 204)');
});

/** ~300 KB that gzip cannot shrink much, with names spread through it. */
function bigBody(): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < 200; i++) parts.push(`<e><u>http://${PUB}:8080/x/${i}</u><r>${randomBytes(1200).toString('base64')}</r></e>`);
  return Buffer.from(`<list>${parts.join('')}</list>`);
}

t.test('large compressed bodies stream through zlib', async (t) => {
  const body = bigBody();
  const expected = target.rewriteBytes(body);
  const gz = gzipSync(body);
  t.ok(gz.length > 200_000, 'too large to hold');
  const chunks: Buffer[] = [];
  for (let i = 0; i < gz.length; i += 16_384) chunks.push(gz.subarray(i, i + 16_384));
  t.same(gunzipSync(await run(rewriter({ ...XML, contentEncoding: 'gzip' }), chunks)), expected, 'gzip, 16 KiB chunks');
  t.same(inflateSync(await run(rewriter({ ...XML, contentEncoding: 'deflate' }), [deflateSync(body)])), expected, 'deflate');
  // Small compressed, large inflated: held, then handed to the streaming path.
  const airy = Buffer.from(`<a>${' '.repeat(3_000_000)}<u>https://${PUB}:8443/x</u></a>`);
  const small = gzipSync(airy);
  t.ok(small.length < 65_536);
  t.same(gunzipSync(await run(rewriter({ ...XML, contentEncoding: 'gzip' }), [small])), target.rewriteBytes(airy), 'inflates past the hold limit');
});

t.test('a large corrupt compressed body errors the stream', async (t) => {
  const gz = gzipSync(bigBody());
  const broken = Buffer.concat([gz.subarray(0, 100_000), randomBytes(100_000)]);
  await t.rejects(run(rewriter({ ...XML, contentEncoding: 'gzip' }), [broken]));
  await t.rejects(run(rewriter({ ...XML, contentEncoding: 'gzip' }), [randomBytes(100_000)]), 'not gzip at all');
});

t.test('unknown codings, wide charsets and non-XML types get no rewriter', async (t) => {
  t.equal(target.createBodyRewriter({ ...XML, contentEncoding: 'br' }), undefined);
  t.equal(target.createBodyRewriter({ ...XML, contentEncoding: 'compress' }), undefined);
  t.equal(target.createBodyRewriter({ contentType: 'text/xml; charset=UTF-16' }), undefined);
  t.equal(target.createBodyRewriter({ contentType: 'image/png' }), undefined);
});

t.test('UTF-16 bodies labelled as ASCII-compatible pass through unchanged', async (t) => {
  const text = `<?xml version="1.0" encoding="UTF-16"?><server>${PUB}</server>`;
  const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
  t.same(await run(rewriter(), [le.subarray(0, 1), le.subarray(1)]), le, 'UTF-16LE with BOM');
  const noBom = Buffer.from(text, 'utf16le');
  t.same(await run(rewriter(), [noBom]), noBom, 'UTF-16LE without BOM');
  t.same(await target.rewriteBody(le, XML), le, 'buffered too');
  const short = Buffer.from('<a');
  t.same(await run(rewriter(), [short]), short, 'a body shorter than the sniff');
  t.same(await run(rewriter(), []), Buffer.alloc(0), 'an empty body');
});

t.test('ISO-8859-1 bytes survive: nothing is decoded', async (t) => {
  const latin1 = Buffer.concat([Buffer.from('<name>M'), Buffer.from([0xfc, 0x6c, 0x6c, 0x65, 0x72]), Buffer.from(`</name><server>${PUB}</server>`)]);
  const expected = Buffer.concat([Buffer.from('<name>M'), Buffer.from([0xfc, 0x6c, 0x6c, 0x65, 0x72]), Buffer.from(`</name><server>${GW}</server>`)]);
  t.same(await run(rewriter({ contentType: 'text/xml; charset=ISO-8859-1' }), [latin1.subarray(0, 8), latin1.subarray(8)]), expected);
});

t.test('memory stays bounded: at most maxHeldBytes are held back', async (t) => {
  const stream = rewriter();
  // Each piece ends on plain text, so the rewrite of i pieces is i rewritten pieces.
  const piece = Buffer.from(`<e><n>Someone</n><u>http://${PUB}:8080/ccmcip/x.jsp</u></e>`.repeat(200));
  const rewrittenPiece = target.rewriteBytes(piece).length;
  let read = 0;
  let worst = 0;
  stream.on('data', (c: Buffer) => (read += c.length));
  const pieces = 400;
  for (let i = 1; i <= pieces; i++) {
    stream.write(piece);
    await new Promise((r) => setImmediate(r));
    worst = Math.max(worst, i * rewrittenPiece - read);
  }
  stream.end();
  await new Promise((r) => stream.on('end', r));
  t.equal(read, pieces * rewrittenPiece, `${(pieces * piece.length / 1e6).toFixed(1)} MB through, all of it out`);
  t.ok(worst <= rules.maxHeldBytes, `held back at most ${worst} bytes (bound ${rules.maxHeldBytes})`);
});

t.test('buffered bodies: the same Buffer when nothing changes, exact new bytes otherwise', async (t) => {
  const plain = Buffer.from(directoryListBody(GW, DIRECTORY));
  t.equal(await target.rewriteBody(plain, XML), plain, 'identity: same object');
  const gz = gzipSync(plain, { level: 9 });
  t.equal(await target.rewriteBody(gz, { ...XML, contentEncoding: 'gzip' }), gz, 'gzip without names: the original compressed bytes');
  const named = SAMPLES.clusterUser!;
  const out = await target.rewriteBody(gzipSync(named), { ...XML, contentEncoding: 'gzip' });
  t.same(gunzipSync(out), target.rewriteBytes(named), 'gzip with names: re-encoded');
  const df = await target.rewriteBody(deflateSync(named), { ...XML, contentEncoding: 'deflate' });
  t.same(inflateSync(df), target.rewriteBytes(named), 'deflate');
  const corrupt = Buffer.from('not gzip');
  t.equal(await target.rewriteBody(corrupt, { ...XML, contentEncoding: 'gzip' }), corrupt, 'undecodable: left as sent');
  t.equal(await target.rewriteBody(named, { contentType: 'application/json' }), named, 'not XML: left as sent');
  t.same(await target.rewriteBody(named, XML), target.rewriteBytes(named));
  const big = bigBody();
  const bigGz = gzipSync(big);
  t.ok(bigGz.length > 65_536, 'large: the thread-pool path');
  t.same(gunzipSync(await target.rewriteBody(bigGz, { ...XML, contentEncoding: 'gzip' })), target.rewriteBytes(big));
  const airy = Buffer.from(`<a>${' '.repeat(3_000_000)}<u>https://${PUB}:8443/x</u></a>`);
  t.same(gunzipSync(await target.rewriteBody(gzipSync(airy), { ...XML, contentEncoding: 'gzip' })), target.rewriteBytes(airy), 'small but inflating past 1 MiB');
  const bigPlainGz = gzipSync(Buffer.from(`<a>${randomBytes(200_000).toString('base64')}</a>`));
  t.equal(await target.rewriteBody(bigPlainGz, { ...XML, contentEncoding: 'gzip' }), bigPlainGz, 'large without names: same bytes');
});
