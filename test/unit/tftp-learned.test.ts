/**
 * Jabber group configuration files (issue 16): names learned from the
 * `configurationFile=` of device files, per cluster and bounded; only plain
 * `.xml` names; found in bodies however they are cut into chunks or coded;
 * and allowed by the TFTP gate only for the cluster that named them.
 */
import t from 'tap';
import fc from 'fast-check';
import http from 'node:http';
import * as zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '../../src/config/load.js';
import { DEFAULT_TFTP_ALLOW } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { DataPlaneMetrics } from '../../src/metrics/data-plane-metrics.js';
import { buildProxyState } from '../../src/proxy/proxy-state.js';
import { compileTftpAllow, isJabberDeviceFile, isSafeFileName } from '../../src/tftp/file-names.js';
import { BodyTap, ConfigurationFileScanner, LearnedFiles, MAX_LEARNED_PER_CLUSTER, tapResponse } from '../../src/tftp/learned-files.js';
import { TftpPlane } from '../../src/tftp/tftp-plane.js';
import { renderSections } from '../../src/admin/dashboard-sections.js';
import type { ClusterStatusView } from '../../src/admin/status-types.js';
import { fakeStatus } from '../helpers/admin-fake.js';

const UNSAFE = [
  '../jabber-config.xml',
  '..%2fjabber-config.xml',
  'a/b.xml',
  '/group.xml',
  'a\\b.xml',
  '%2e%2e.xml',
  'group%31.xml',
  'a..b.xml',
  '.group.xml',
  'group.xml.sgn',
  'ITLFile.tlv',
  'group.xml?x=1',
  'group.xml;x',
  'group .xml',
  'grüppe.xml',
  '',
  '.xml',
  `${'g'.repeat(125)}.xml`,
];

t.test('a learned name is a plain .xml file name by the allow-list\'s own rules', async (t) => {
  for (const name of ['group1.xml', 'jabber-config-sales.xml', 'Sales_Group.xml', 'emea.sales.xml', 'G.XML', `${'g'.repeat(124)}.xml`]) t.ok(isSafeFileName(name), `${name} is safe`);
  for (const name of UNSAFE) t.notOk(isSafeFileName(name), `${JSON.stringify(name)} is not`);
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('/', '.', '%', '2', 'e', 'x', 'm', 'l', '\\', '?', ';', ' ', 'a', ':', '\0'), maxLength: 20 }), (name) => {
      if (!isSafeFileName(name)) return true;
      return !/[/\\%?;:\s\0]/.test(name) && !name.includes('..') && !name.startsWith('.') && name.toLowerCase().endsWith('.xml');
    }),
  );
});

t.test('device files are the Jabber ones: CSF, BOT, TCT, TAB', async (t) => {
  for (const file of ['/CSFJDOE.cnf.xml', '/csfjdoe.cnf.xml', '/BOTJDOE.cnf.xml', '/TCTJDOE.cnf.xml', '/TABJDOE.cnf.xml']) t.ok(isJabberDeviceFile(file), file);
  for (const file of ['/SPDefault.cnf.xml', '/JAB_x.cnf.xml', '/jabber-config.xml', '/SEP001122334455.cnf.xml', '/CSFJDOE.xml']) t.notOk(isJabberDeviceFile(file), file);
});

t.test('the default allow-list admits the 12.5+ Jabber profile file', async (t) => {
  const match = compileTftpAllow(DEFAULT_TFTP_ALLOW);
  t.ok(DEFAULT_TFTP_ALLOW.includes('JAB_*.cnf.xml'));
  for (const name of ['JAB_jdoe.cnf.xml', 'JAB_3f2a8c1e-5b7d-4e21-9c0a-6d1e2f3a4b5c.cnf.xml', 'jab_JDOE.cnf.xml']) t.equal(match(`/${name}`), `/${name}`, `${name} allowed`);
  for (const target of ['/JAB_.._x.cnf.xml', '/JAB_x.cnf.xml.sgn', '/JAB_a/b.cnf.xml', '/JAB_%2e.cnf.xml', '/JABx.cnf.xml']) t.equal(match(target), undefined, `${target} refused`);
});

t.test('learned names: per cluster, any case, bounded with the oldest forgotten first', async (t) => {
  const learned = new LearnedFiles(3);
  t.ok(learned.empty);
  t.ok(learned.learn('a', 'group1.xml'), 'new');
  t.notOk(learned.learn('a', 'group1.xml'), 'known');
  t.ok(learned.has('a', 'group1.xml'));
  t.notOk(learned.has('a', 'GROUP1.xml'), 'exactly as the device file wrote it: CUCM\'s TFTP names are case-sensitive');
  t.notOk(learned.has('b', 'group1.xml'), 'only for the cluster whose device file named it');
  for (const name of UNSAFE) t.notOk(learned.learn('a', name), `${JSON.stringify(name)} refused`);
  t.same(learned.list('a'), ['group1.xml'], 'nothing unsafe was kept');
  learned.learn('a', 'g2.xml');
  learned.learn('a', 'g3.xml');
  learned.learn('a', 'group1.xml'); // seen again: the most recent now
  learned.learn('a', 'g4.xml');
  t.same(learned.list('a'), ['g3.xml', 'group1.xml', 'g4.xml'], 'at most 3: the least recently seen (g2) forgotten');
  t.notOk(learned.has('a', 'g2.xml'));
  learned.learn('b', 'b.xml');
  learned.retain(['b']);
  t.same(learned.list('a'), [], 'a cluster a reload removed is forgotten');
  t.same(learned.list('b'), ['b.xml']);

  const big = new LearnedFiles();
  for (let i = 0; i < MAX_LEARNED_PER_CLUSTER + 250; i++) big.learn('a', `group-${i}.xml`);
  const list = big.list('a');
  t.equal(MAX_LEARNED_PER_CLUSTER, 1000);
  t.equal(list.length, MAX_LEARNED_PER_CLUSTER, 'the default bound: 1,000 names per cluster');
  t.equal(list[0], 'group-250.xml', 'the oldest went first');
  t.notOk(big.has('a', 'group-249.xml'));
});

const DEVICE = (field: string) =>
  '<?xml version="1.0" encoding="UTF-8"?><device><fullConfig>true</fullConfig><deviceProtocol>SIP</deviceProtocol><name>CSFJDOE</name>' +
  `<vendorConfig><ciscoSupportField>${field}</ciscoSupportField></vendorConfig>` +
  '<processNodeName>cucm-pub.b.example.test</processNodeName></device>';

function scanAll(chunks: readonly Buffer[]): string[] {
  const found: string[] = [];
  const scanner = new ConfigurationFileScanner((value) => found.push(value));
  for (const chunk of chunks) scanner.write(chunk);
  scanner.end();
  return found;
}

t.test('configurationFile= is found however the body is cut, and taken whole', async (t) => {
  const body = Buffer.from(DEVICE('autoaway=true;configurationFile=Sales-Group.xml;useCUCMGroupForCti=true'));
  t.same(scanAll([body]), ['Sales-Group.xml']);
  for (let cut = 1; cut < body.length; cut++) {
    const found = scanAll([body.subarray(0, cut), body.subarray(cut)]);
    if (found.length !== 1 || found[0] !== 'Sales-Group.xml') t.fail(`cut at ${cut}: ${JSON.stringify(found)}`);
  }
  t.same(scanAll([...body].map((byte) => Buffer.from([byte]))), ['Sales-Group.xml'], 'one byte at a time');
  t.same(scanAll([Buffer.from(DEVICE('configurationFile=last.xml'))]), ['last.xml'], 'at the end of the element');
  t.same(scanAll([Buffer.from('configurationFile = spaced.xml')]), ['spaced.xml'], 'at the end of the body, spaces around =');
  t.same(scanAll([Buffer.from(DEVICE('ConfigurationFile=case.xml'))]), ['case.xml'], 'any case of the key');
  t.same(scanAll([Buffer.from(DEVICE('configurationFile=../../etc/x.xml;configurationFile=a/b.xml'))]), ['../../etc/x.xml', 'a/b.xml'], 'unsafe values come whole, for the caller to refuse — never cut down to a safe-looking tail');
  t.same(scanAll([Buffer.from(DEVICE('autoaway=true'))]), [], 'a device file without one');
  t.same(scanAll([Buffer.from(DEVICE(Array.from({ length: 20 }, (_, i) => `configurationFile=g${i}.xml`).join(';')))]).length, 8, 'a handful of values per file at most');
});

t.test('a gzip or deflate coded body is read too, and an undecodable one is let be', async (t) => {
  const body = Buffer.from(DEVICE('configurationFile=coded.xml'));
  for (const coded of [zlib.gzipSync(body), zlib.deflateSync(body)]) {
    const found: string[] = [];
    const tap = new BodyTap(new ConfigurationFileScanner((value) => found.push(value)));
    for (let i = 0; i < coded.length; i += 7) tap.write(coded.subarray(i, i + 7));
    tap.end();
    // zlib works on the thread pool: give it time on a loaded machine.
    for (let i = 0; i < 200 && found.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    t.same(found, ['coded.xml']);
  }
  const broken = Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('not really gzip configurationFile=x.xml;')]);
  const found: string[] = [];
  const tap = new BodyTap(new ConfigurationFileScanner((value) => found.push(value)));
  tap.write(broken);
  tap.end();
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.same(found, [], 'nothing learned, nothing thrown');
});

t.test('tapResponse watches a 200 body as it goes out, written whole or streamed, without changing it', async (t) => {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    tapResponse(res, (value) => seen.push(value));
    const body = Buffer.from(DEVICE(`configurationFile=${req.url!.slice(1)}.xml`));
    if (req.url === '/missing') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('configurationFile=never.xml;');
    } else if (req.url === '/whole') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    } else {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(body.subarray(0, 100));
      res.write(body.subarray(100).toString('latin1'), 'latin1');
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  for (const path of ['/whole', '/streamed', '/missing']) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    const text = await res.text();
    if (res.status === 200) t.equal(text, DEVICE(`configurationFile=${path.slice(1)}.xml`), `${path}: the body as written`);
  }
  t.same(seen, ['whole.xml', 'streamed.xml'], 'a 404 teaches nothing');
});

t.test('the TFTP gate lets a learned name through for its own cluster only', async (t) => {
  const config = parseConfig(
    {
      gateway: { fqdn: 'ucgw.example.test', altNames: ['b.ucgw.example.test'] },
      tftp: {},
      clusters: [
        // Nothing listens there: a request let through fails upstream (502/503), one refused is 404 at the gate.
        { name: 'a', nodes: [{ name: 'pub', url: 'https://cucm-pub.a.example.test:18443', address: '127.0.0.1' }], tftp: { port: 1 }, timeouts: { connectMs: 200, firstByteMs: 200 }, retries: 0 },
        { name: 'b', publicName: 'b.ucgw.example.test', nodes: [{ name: 'pub', url: 'https://cucm-pub.b.example.test:18443', address: '127.0.0.1' }], tftp: { port: 1 }, timeouts: { connectMs: 200, firstByteMs: 200 }, retries: 0 },
      ],
    },
    { baseDir: '/etc/ucgate', configFile: '' },
  );
  const main = buildProxyState(config);
  const reported: string[] = [];
  const plane = new TftpPlane({ log: createLogger({ level: 'silent' }), metrics: new DataPlaneMetrics(), mainState: () => main, reportLearned: (cluster, name) => reported.push(`${cluster}/${name}`) });
  plane.apply(config);
  t.teardown(() => plane.dispose());
  const server = http.createServer((req, res) => plane.handle(req, res, { name: 'tftp-http#0:6970', protocol: 'http', port: 6970 } as never));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const get = async (path: string, host = 'ucgw.example.test') =>
    new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });

  t.equal(await get('/Sales-Group.xml'), 404, 'not on the allow-list, not learned: 404 at the gate');
  plane.learn('a', ['Sales-Group.xml', '../evil.xml', 'a/b.xml']);
  t.same(plane.learnedFiles('a'), ['Sales-Group.xml'], 'unsafe names from a message are refused too');
  t.not(await get('/Sales-Group.xml'), 404, "learned for cluster a (the host-less route's): let through");
  t.not(await get('/Sales-Group.xml?x=1'), 404, 'a query is dropped, as for allowed names');
  t.equal(await get('/sales-group.xml'), 404, 'another spelling was not learned');
  t.equal(await get('/Sales-Group.xml', 'b.ucgw.example.test'), 404, "cluster b's name: b never named it");
  for (const path of ['/%53ales-Group.xml', '/./Sales-Group.xml', '//Sales-Group.xml', '/x/../Sales-Group.xml', '/Sales-Group.xml/']) t.equal(await get(path), 404, `${path}: 404`);
  t.same(reported, [], 'names from another worker are not reported back');
});

t.test('the dashboard lists learned group files per cluster, newest first, as text', async (t) => {
  const status = fakeStatus({ now: Date.UTC(2030, 0, 1) });
  const cluster = status.clusters[0]!;
  const render = (extra: Partial<ClusterStatusView>) =>
    renderSections({ status: { ...status, clusters: [{ ...cluster, ...extra }] }, renewals: 'absent', audit: 'absent' }).toString();
  t.notMatch(render({}), 'data-tftp-files', 'tftp off: nothing shown');
  t.match(render({ learnedTftpFiles: [], learnedTftpFilesLimit: 1000 }), /data-tftp-files="cucm">.*\(0 of at most 1000\):.*none yet/);
  const shown = render({ learnedTftpFiles: ['old.xml', 'new.xml'], learnedTftpFilesLimit: 1000 });
  t.match(shown, /\(2 of at most 1000\):<\/span> <span class="mono">new\.xml, old\.xml<\/span>/);
  const many = render({ learnedTftpFiles: Array.from({ length: 60 }, (_, i) => `g${i}.xml`), learnedTftpFilesLimit: 1000 });
  t.match(many, /<span class="mono">g59\.xml, g58\.xml,.* g10\.xml<\/span> <span class="muted">and 10 more<\/span>/);
  t.notMatch(render({ learnedTftpFiles: ['<b>x</b>.xml'] }), '<b>x</b>', 'escaped, should anything odd ever get there');
});
