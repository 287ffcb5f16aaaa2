/**
 * Properties of body rewriting (fast-check): a body that names no node comes
 * out byte for byte, however it is chunked; a body with names inserted has
 * exactly those occurrences replaced and nothing else changed; names
 * embedded in longer names are never touched.
 */
import t from 'tap';
import fc from 'fast-check';
import { Readable, type Duplex } from 'node:stream';
import { compileRewriteRules } from '../../src/rewrite/index.js';

const NAMES = ['cucm-pub.example.test', 'cucm-pub', 'cucm-sub1.example.test', 'cucm-sub1', '10.0.0.12', '10.0.0.1'];
const GW = 'ucgw.example.test';
const target = compileRewriteRules({ names: NAMES }).forTarget({ host: GW, port: 8443, scheme: 'https' });
const XML = { contentType: 'text/xml; charset=UTF-8' };
const RUNS = 300;

async function run(stream: Duplex, chunks: readonly Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const c of stream) out.push(c as Buffer);
  })();
  Readable.from(chunks, { objectMode: false }).pipe(stream);
  await done;
  return Buffer.concat(out);
}

/** Cuts `body` at the given fractions (sorted, deduplicated offsets). */
function cut(body: Buffer, fractions: readonly number[]): Buffer[] {
  const offsets = [...new Set(fractions.map((f) => Math.floor(f * body.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const o of offsets) {
    chunks.push(body.subarray(prev, o));
    prev = o;
  }
  chunks.push(body.subarray(prev));
  return chunks;
}

// Fragments that look like names, URLs and XML so the generator gets close to
// the real thing, plus multi-byte UTF-8 and latin1-looking text.
const FRAGMENTS = ['cucm', '-pub', '-sub1', 'pub', '.example', '.test', '10.0', '.0.', '12', '1', 'http', 's', '://', ':8443', ':',
  '/', '<server>', '</server>', '<URL>', '"', ' ', '.', '-', '@', 'x', 'Zoë', '→', '日本', '\n', 'uri="', 'ucgw', '&amp;'];
const fragment = fc.constantFrom(...FRAGMENTS);
const text = fc.array(fc.oneof(fragment, fc.string({ maxLength: 6 }), fc.string({ unit: 'binary', maxLength: 4 })), { maxLength: 60 }).map((parts) => parts.join(''));
const fractions = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 });

function namesNone(body: string): boolean {
  const lower = body.toLowerCase();
  return NAMES.every((n) => !lower.includes(n));
}

t.test('bodies that name no node pass byte for byte, however chunked', async (t) => {
  await fc.assert(
    fc.asyncProperty(text.filter(namesNone), fractions, async (body, where) => {
      const bytes = Buffer.from(`<?xml version="1.0"?>${body}`);
      t.equal(target.rewriteBytes(bytes), bytes);
      const out = await run(target.createBodyRewriter(XML)!, cut(bytes, where));
      return out.equals(bytes);
    }),
    { numRuns: RUNS },
  );
});

// Separators that end a name on both sides without changing how it is read.
const SEPARATORS = [' ', '>', '<', '"', "'", ',', ';', '\n', '=', '(', ')', 'é', '→'];
const separator = fc.constantFrom(...SEPARATORS);
/** Filler that names no node and cannot fuse with a neighbouring name. */
const filler = fc.tuple(separator, text.filter(namesNone), separator).map(([a, mid, b]) => `${a}${mid}${b}`).filter(namesNone);
const occurrence = fc.record({
  name: fc.constantFrom(...NAMES),
  upper: fc.array(fc.boolean(), { minLength: 25, maxLength: 25 }),
  scheme: fc.constantFrom(undefined, 'http', 'https', 'HTTPS'),
  port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
});

t.test('inserted names: every occurrence replaced, nothing else changed', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(filler, occurrence), { maxLength: 8 }), filler, fractions, async (parts, tail, where) => {
      let input = '<?xml version="1.0"?>';
      let expected = input;
      for (const [fill, o] of parts) {
        const name = [...o.name].map((c, i) => (o.upper[i % 25] ? c.toUpperCase() : c)).join('');
        const port = o.port === undefined ? '' : `:${o.port}`;
        input += fill + (o.scheme === undefined ? '' : `${o.scheme}://`) + name + port;
        if (o.scheme !== undefined) expected += `${fill}https://${GW}:8443`;
        else expected += fill + (o.port === undefined ? GW : `${GW}:8443`);
      }
      input += tail;
      expected += tail;
      const bytes = Buffer.from(input);
      const once = target.rewriteBytes(bytes).toString();
      if (once !== expected) return false;
      const out = await run(target.createBodyRewriter(XML)!, cut(bytes, where));
      return out.toString() === expected;
    }),
    { numRuns: RUNS },
  );
});

const LABEL_CHARS = ['a', 'z', '0', '9', '-', '_'];
t.test('names inside longer names are never rewritten', async () => {
  const embedded = fc.record({
    name: fc.constantFrom(...NAMES),
    before: fc.option(fc.tuple(fc.constantFrom(...LABEL_CHARS, '.', ':', 'x.', '/p/')).map(([c]) => c), { nil: undefined }),
    after: fc.option(fc.tuple(fc.constantFrom(...LABEL_CHARS, '.x', '.5', '@x', '-2')).map(([c]) => c), { nil: undefined }),
  }).filter((e) => e.before !== undefined || e.after !== undefined);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(filler, embedded), { minLength: 1, maxLength: 6 }), fractions, async (parts, where) => {
      // Every name here has a label char, a dot, ':' or a path segment glued
      // to one side (x.cucm-pub, 10.0.0.1.5, cucm-pub@x, /p/cucm-pub): none
      // is a host on its own.
      const body = parts.map(([fill, e]) => `${fill}${e.before ?? ''}${e.name}${e.after ?? ''}`).join('');
      const bytes = Buffer.from(`<x>${body}</x>`);
      const once = target.rewriteBytes(bytes);
      const out = await run(target.createBodyRewriter(XML)!, cut(bytes, where));
      return once.equals(bytes) && out.equals(bytes);
    }),
    { numRuns: RUNS },
  );
});
