/**
 * TFTP server lists (issue 16): in TFTP files, the one place a bare node name
 * becomes the gateway's is a `TftpServerN` element (the service profile's
 * TFTP server list, jabber-config.xml's Phone group). SIP and CTI names
 * beside them stay; bodies cut into any chunks, plain or gzip, come out as
 * one whole pass would make them.
 */
import t from 'tap';
import * as zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { DataPlaneMetrics } from '../../src/metrics/data-plane-metrics.js';
import { buildProxyState } from '../../src/proxy/proxy-state.js';
import { compileRewriteRules, expandShortNames } from '../../src/rewrite/index.js';
import { withServerLists } from '../../src/tftp/server-list.js';
import { TftpPlane } from '../../src/tftp/tftp-plane.js';
import type { BoundListener } from '../../src/tftp/port-map.js';

const NODES = ['cucm-pub.b.example.test', 'cucm-sub1.b.example.test', '10.0.0.11'];
const GW = 'b.ucgw.example.test';

const rules = withServerLists(
  compileRewriteRules({
    names: expandShortNames(NODES),
    groups: [{ publicName: 'a.ucgw.example.test', names: expandShortNames(['cucm-pub.a.example.test']) }],
    urlsOnly: true,
    extraMediaTypes: ['application/octet-stream'],
    portMap: { 6970: { port: 16970, scheme: 'http', plane: 'tftp' }, 6972: { port: 16972, scheme: 'https', plane: 'tftp' } },
  }),
);
const target = rules.forTarget({ host: GW, port: 16972, scheme: 'https' });

const PROFILE =
  '<?xml version="1.0" encoding="UTF-8"?><UCServiceProfile><Options><Name>Jabber</Name></Options>' +
  '<Phone><TftpServer1>CUCM-PUB</TftpServer1><TftpServer2>cucm-sub1.b.example.test</TftpServer2><TftpServer3> 10.0.0.11 </TftpServer3>' +
  '<tftpserver4>cucm-pub.a.example.test</tftpserver4><TftpServer5>tftp.elsewhere.example</TftpServer5><TftpServer6>cucm-pub:6970</TftpServer6>' +
  '<CtiServer1>cucm-pub.b.example.test</CtiServer1><CcmcipServer1>CUCM-PUB</CcmcipServer1></Phone>' +
  '<Directory><PrimaryServerName>cucm-sub1.b.example.test</PrimaryServerName></Directory>' +
  '<url>http://cucm-pub.b.example.test:6970/jabber-config.xml</url></UCServiceProfile>';
const EXPECTED =
  '<?xml version="1.0" encoding="UTF-8"?><UCServiceProfile><Options><Name>Jabber</Name></Options>' +
  `<Phone><TftpServer1>${GW}</TftpServer1><TftpServer2>${GW}</TftpServer2><TftpServer3> ${GW} </TftpServer3>` +
  `<tftpserver4>a.ucgw.example.test</tftpserver4><TftpServer5>tftp.elsewhere.example</TftpServer5><TftpServer6>${GW}:16970</TftpServer6>` +
  '<CtiServer1>cucm-pub.b.example.test</CtiServer1><CcmcipServer1>CUCM-PUB</CcmcipServer1></Phone>' +
  '<Directory><PrimaryServerName>cucm-sub1.b.example.test</PrimaryServerName></Directory>' +
  `<url>http://${GW}:16970/jabber-config.xml</url></UCServiceProfile>`;
const XML = { contentType: 'text/xml; charset=UTF-8' };

t.test('TftpServerN names the gateway; CTI, CCMCIP and directory names stay', async (t) => {
  const out = await target.rewriteBody(Buffer.from(PROFILE), XML);
  t.equal(out.toString(), EXPECTED);
  t.equal((await target.rewriteBody(Buffer.from(PROFILE), { contentType: 'image/png' })).toString(), PROFILE, 'not XML: untouched');
  const plain = Buffer.from('<config><Phone><TftpServer1>tftp.elsewhere.example</TftpServer1></Phone></config>');
  t.equal(await target.rewriteBody(plain, XML), plain, 'nothing to do: the very same buffer');
  const device = Buffer.from('<device><callManager><name>cucm-pub.b.example.test</name><processNodeName>CUCM-PUB</processNodeName></callManager><tftpDefault>true</tftpDefault></device>');
  t.equal(await target.rewriteBody(device, { contentType: 'application/octet-stream' }), device, 'SIP call control keeps its names');
  t.equal(target.rewriteText('<TftpServer1>CUCM-PUB</TftpServer1>'), '<TftpServer1>CUCM-PUB</TftpServer1>', 'headers and short texts: URLs only, as before');
});

t.test('gzip and deflate bodies held whole get the same rewrite', async (t) => {
  for (const [coding, encode, decode] of [
    ['gzip', zlib.gzipSync, zlib.gunzipSync],
    ['deflate', zlib.deflateSync, zlib.inflateSync],
  ] as const) {
    const out = await target.rewriteBody(encode(PROFILE), { ...XML, contentEncoding: coding });
    t.equal(decode(out).toString(), EXPECTED, coding);
    const stream = target.createBodyRewriter({ ...XML, contentEncoding: coding })!;
    t.equal(decode(await buffer(Readable.from([encode(PROFILE)]).pipe(stream))).toString(), EXPECTED, `${coding}, streamed`);
  }
});

t.test('a streamed body comes out as one pass would make it, however it is cut', async (t) => {
  const body = Buffer.from(PROFILE.repeat(3));
  const whole = EXPECTED.repeat(3);
  const run = async (chunks: Buffer[]) => (await buffer(Readable.from(chunks).pipe(target.createBodyRewriter(XML)!))).toString();
  t.equal(await run([body]), whole);
  let bad = 0;
  for (let cut = 1; cut < body.length; cut += 3) if ((await run([body.subarray(0, cut), body.subarray(cut)])) !== whole) bad++;
  t.equal(bad, 0, 'every two-piece cut');
  t.equal(await run([...body].map((byte) => Buffer.from([byte]))), whole, 'one byte at a time');
  const padded = Buffer.from(`${'<x>'.repeat(2000)}${PROFILE}`);
  t.equal(await run([padded.subarray(0, 6003), padded.subarray(6003)]), `${'<x>'.repeat(2000)}${EXPECTED}`, 'past the hold-back window');
  const wide = Buffer.from(`\ufeff${PROFILE}`, 'utf16le');
  t.same(await buffer(Readable.from([wide]).pipe(target.createBodyRewriter(XML)!)), wide, 'UTF-16 passes untouched');
});

t.test('the TFTP plane rewrites server lists in the files it serves once the listeners are bound', async (t) => {
  const config = parseConfig(
    {
      gateway: { fqdn: 'ucgw.example.test', altNames: [GW] },
      tftp: {},
      clusters: [{ name: 'b', publicName: GW, nodes: [{ name: 'pub', url: 'https://cucm-pub.b.example.test:8443' }, { name: 'sub1', url: 'https://cucm-sub1.b.example.test:8443', address: '10.0.0.11' }] }],
    },
    { baseDir: '/etc/ucgate', configFile: '' },
  );
  const main = buildProxyState(config);
  const plane = new TftpPlane({ log: createLogger({ level: 'silent' }), metrics: new DataPlaneMetrics(), mainState: () => main });
  t.teardown(() => plane.dispose());
  plane.apply(config);
  const bound: BoundListener[] = [
    { role: 'main', scheme: 'https', configuredPort: 8443, port: 18443, legacy: false },
    { role: 'tftp', scheme: 'http', configuredPort: 6970, port: 16970, legacy: false },
    { role: 'tftp', scheme: 'https', configuredPort: 6972, port: 16972, legacy: false },
  ];
  plane.setListeners(bound, main);
  const file = plane.state!.clusters.get('b')!.rewrite.rules.forTarget({ host: GW, port: 16970, scheme: 'http' });
  const out = await file.rewriteBody(Buffer.from(PROFILE.replace(/<tftpserver4>.*<\/tftpserver4>/, '')), XML);
  t.match(out.toString(), `<TftpServer1>${GW}</TftpServer1><TftpServer2>${GW}</TftpServer2><TftpServer3> ${GW} </TftpServer3>`);
  t.match(out.toString(), '<CtiServer1>cucm-pub.b.example.test</CtiServer1>', 'CTI keeps the node');
  t.match(out.toString(), `<url>http://${GW}:16970/jabber-config.xml</url>`, 'a TFTP URL goes to the TFTP listener');
  t.equal(plane.state!.clusters.get('b')!.rewrite.rules, plane.state!.clusters.get('b')!.rewrite.rules, 'one rules object until something changes');
});
