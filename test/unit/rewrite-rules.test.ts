/**
 * The rewriting engine on text: every UC shape from DESIGN.md ("Facts about
 * the UC side"), every name form, the port/scheme policy, and the cases that
 * must not match.
 */
import t from 'tap';
import { compileRewriteRules, type RewriteRulesInput } from '../../src/rewrite/index.js';
import { clusterUserBody, serversBody, versionBody } from '../../src/sim/uds-bodies.js';
import { devicesBody, userBody } from '../../src/sim/uds-user-bodies.js';
import { DIRECTORY, directoryInputBody, directoryListBody, directoryMenuBody, emLoginBody } from '../../src/sim/phone-xml-bodies.js';

const PUB = 'cucm-pub.example.test';
const SUB = 'cucm-sub1.example.test';
const NAMES = [PUB, 'cucm-pub', SUB, 'cucm-sub1', '10.0.0.11', '10.0.0.12', 'fd00:0::12'];
const GW = 'ucgw.example.test';
/** Every spelling of a node a body may carry, for "no node name left" checks. */
const LEAKS = /cucm-(pub|sub1)|10\.0\.0\.1[12]|fd00:/i;

const rules = compileRewriteRules({ names: NAMES });
const https8443 = rules.forTarget({ host: GW, port: 8443, scheme: 'https' });
const ctx = { hostname: PUB, version: '14.0.1.13900-155' };

t.test('UDS answers from the simulated CUCM name no node after rewriting', async (t) => {
  const bodies = {
    version: versionBody(ctx),
    servers: serversBody(ctx, [PUB, 'cucm-sub1', '10.0.0.12']),
    clusterUser: clusterUserBody(ctx, 'alice', true, PUB),
    devices: devicesBody(ctx, 'alice'),
    user: userBody(ctx, 'alice', '1001'),
  };
  for (const [name, body] of Object.entries(bodies)) {
    const out = https8443.rewriteText(body);
    t.notMatch(out, LEAKS, `${name}: no node name left`);
    t.equal(out.replaceAll(GW, '').length < out.length, true, `${name}: names the gateway`);
  }
  t.match(https8443.rewriteText(bodies.version), `uri="https://${GW}:8443/cucm-uds/version"`, 'uri= attribute');
  t.match(https8443.rewriteText(bodies.clusterUser), `serversUri="https://${GW}:8443/cucm-uds/servers">${GW}</homeCluster>`, 'serversUri= and homeCluster text');
  t.equal(
    https8443.rewriteText(bodies.servers).match(/<server>[^<]*<\/server>/g)!.join(''),
    `<server>${GW}</server>`.repeat(3),
    'servers/server text: FQDN, short name and IP all become the bare gateway name',
  );
  // CUCM 12.5+: the profile links are `<uri>` child elements on the TFTP server's name (CUCM-PUB), ports 6970 and 6972.
  t.match(https8443.rewriteText(bodies.user), `<serviceProfile><uri>https://${GW}:8443/SPDefault.cnf.xml</uri></serviceProfile>`, 'serviceProfile uri: default port policy');
  t.match(https8443.rewriteText(bodies.user), new RegExp(`<jabberProfile><uri>https://${GW.replace(/\./g, '\\.')}:8443/JAB_[0-9a-f-]{36}\\.cnf\\.xml</uri></jabberProfile>`), 'jabberProfile uri: default port policy');
});

t.test('IP Phone XML objects: URL elements and ExecuteItem URL=', async (t) => {
  const phone = rules.forTarget({ host: GW, port: 8080, scheme: 'http' });
  for (const body of [
    directoryMenuBody(PUB),
    directoryInputBody('cucm-sub1'),
    directoryListBody('10.0.0.12', DIRECTORY),
    emLoginBody(PUB, 'SEP001122334455', true),
  ]) {
    const out = phone.rewriteText(body);
    t.notMatch(out, LEAKS);
    t.match(out, `<URL>http://${GW}:8080/`);
    t.equal(https8443.rewriteText(body).includes(`<URL>https://${GW}:8443/`), true, 'via the TLS listener: https and its port');
  }
  const execute = '<CiscoIPPhoneExecute><ExecuteItem Priority="0" URL="http://CUCM-PUB:8080/ccmcip/x.jsp?a=1&amp;b=2"/></CiscoIPPhoneExecute>';
  t.equal(phone.rewriteText(execute), `<CiscoIPPhoneExecute><ExecuteItem Priority="0" URL="http://${GW}:8080/ccmcip/x.jsp?a=1&amp;b=2"/></CiscoIPPhoneExecute>`);
  const image = '<CiscoIPPhoneImageFile><Title>x</Title><URL>http://10.0.0.11:8080/img/logo.png</URL></CiscoIPPhoneImageFile>';
  t.equal(phone.rewriteText(image), `<CiscoIPPhoneImageFile><Title>x</Title><URL>http://${GW}:8080/img/logo.png</URL></CiscoIPPhoneImageFile>`);
  const softKey = '<SoftKeyItem><Name>Exit</Name><URL>SoftKey:Exit</URL></SoftKeyItem><MenuItem><URL>Application:Cisco/MissedCalls</URL></MenuItem>';
  t.equal(phone.rewriteText(softKey), softKey, 'non-HTTP URLs untouched');
});

t.test('every name form, with and without scheme and port', async (t) => {
  const cases: [string, string][] = [
    // [input, via https 8443]
    [`https://${PUB}:8443/cucm-uds/servers`, `https://${GW}:8443/cucm-uds/servers`],
    [`https://${PUB}/cucm-uds/servers`, `https://${GW}:8443/cucm-uds/servers`],
    ['http://cucm-pub:8080/ccmcip/x', `https://${GW}:8443/ccmcip/x`],
    ['http://10.0.0.12/x', `https://${GW}:8443/x`],
    ['http://[fd00::12]:8080/x', `https://${GW}:8443/x`],
    ['HTTPS://CUCM-Pub.Example.TEST:8443/x', `https://${GW}:8443/x`],
    [`${PUB}:8443`, `${GW}:8443`],
    ['10.0.0.11:6970', `${GW}:8443`],
    ['[fd00::12]:8443', `${GW}:8443`],
    [`//${PUB}/x`, `//${GW}:8443/x`],
    [`<server>${PUB}</server>`, `<server>${GW}</server>`],
    ['<server>cucm-sub1</server>', `<server>${GW}</server>`],
    ['<server>10.0.0.12</server>', `<server>${GW}</server>`],
    ['<server>fd00::12</server>', `<server>${GW}</server>`],
    ['<server>FD00:0:0:0:0:0:0:12</server>', `<server>${GW}</server>`],
    [`"${PUB}"`, `"${GW}"`],
    [`https://${PUB}.:8443/x`, `https://${GW}:8443/x`],
    [`see ${PUB}.`, `see ${GW}.`],
    [`admin@${PUB}`, `admin@${GW}`],
    [`0; url=http://cucm-pub:8080/x`, `0; url=https://${GW}:8443/x`],
  ];
  for (const [input, expected] of cases) t.equal(https8443.rewriteText(input), expected, input);
});

t.test('the port and scheme come from the listener, default ports are omitted', async (t) => {
  const on443 = rules.forTarget({ host: GW, port: 443, scheme: 'https' });
  t.equal(on443.rewriteText(`https://${PUB}:8443/x`), `https://${GW}/x`);
  t.equal(on443.rewriteText(`${PUB}:8443`), `${GW}:443`, 'a bare host:port keeps an explicit port');
  const on80 = rules.forTarget({ host: GW, port: 80, scheme: 'http' });
  t.equal(on80.rewriteText(`https://${PUB}:8443/x`), `http://${GW}/x`);
  const v6 = rules.forTarget({ host: '[2001:db8::1]', port: 8443, scheme: 'https' });
  t.equal(v6.rewriteText(`https://${PUB}:8443/x <server>${PUB}</server>`), 'https://[2001:db8::1]:8443/x <server>2001:db8::1</server>', 'an IPv6 target is bracketed only in authorities');
});

t.test('portMap sends chosen upstream ports elsewhere or leaves them alone', async (t) => {
  const input: RewriteRulesInput = { names: NAMES, portMap: { 6970: { port: 6970, scheme: 'http' }, 6972: { port: 6972, scheme: 'https' } } };
  const mapped = compileRewriteRules(input).forTarget({ host: GW, port: 8443, scheme: 'https' });
  t.equal(mapped.rewriteText(`<serviceProfile uri="http://${PUB}:6970/SPDefault.cnf.xml"/>`), `<serviceProfile uri="http://${GW}:6970/SPDefault.cnf.xml"/>`);
  t.equal(mapped.rewriteText('https://cucm-pub:6972/jabber-config.xml'), `https://${GW}:6972/jabber-config.xml`);
  t.equal(mapped.rewriteText('https://cucm-pub:8443/x'), `https://${GW}:8443/x`, 'unmapped ports: the listener');
  const kept = compileRewriteRules({ names: NAMES, portMap: { 6970: null } }).forTarget({ host: GW, port: 8443, scheme: 'https' });
  const sp = `<serviceProfile uri="http://${PUB}:6970/SPDefault.cnf.xml"/><server>${PUB}</server>`;
  t.equal(kept.rewriteText(sp), `<serviceProfile uri="http://${PUB}:6970/SPDefault.cnf.xml"/><server>${GW}</server>`);
  const byDefault = compileRewriteRules({ names: NAMES, portMap: { 443: { port: 9443, scheme: 'https' } } }).forTarget({ host: GW, port: 8443, scheme: 'https' });
  t.equal(byDefault.rewriteText(`https://${PUB}/x`), `https://${GW}:9443/x`, 'a URL without a port maps by its scheme default');
});

t.test('no over-matching: substrings, superstrings, other protocols, path segments', async (t) => {
  const untouched = [
    `${PUB}.evil.com`,
    `https://${PUB}.evil.com/x`,
    `x${PUB}`,
    `https://x${PUB}/`,
    `a.${PUB}`,
    `${PUB}-2`,
    `${PUB}_old`,
    'cucm-pubs',
    'cucm-pub-backup.example.test',
    '110.0.0.123',
    '10.0.0.123',
    '210.0.0.12',
    '10.0.0.12.5',
    '10.0.0.1',
    '::ffff:10.0.0.12',
    'fd00::123',
    'fd00::12:5',
    '[fd00::12%eth0]',
    `ldap://${PUB}:389/`,
    `xhttps://${PUB}/`,
    `git+https://${PUB}/`,
    'sip:cucm-pub',
    'cucm-pub@example.test',
    '/ccmcip/cucm-pub/list',
    '?q=cucm&amp;h=pub',
    'cucm&#45;pub',
    `https%3A%2F%2F${PUB}%3A8443`,
  ];
  for (const text of untouched) t.equal(https8443.rewriteText(text), text, text);
});

t.test('per-cluster groups: other clusters go to their own public name', async (t) => {
  const multi = compileRewriteRules({
    names: ['cucm-a1.example.test', 'shared.example.test'],
    groups: [{ publicName: 'clb.ucgw.example.test', names: ['cucm-b1.example.test', 'shared.example.test', '10.1.0.1'] }],
  });
  const a = multi.forTarget({ host: 'cla.ucgw.example.test', port: 8443, scheme: 'https' });
  const body = '<homeCluster serversUri="https://cucm-b1.example.test:8443/cucm-uds/servers">cucm-b1.example.test</homeCluster><x>https://cucm-a1.example.test:8443/</x><y>10.1.0.1 shared.example.test</y>';
  t.equal(
    a.rewriteText(body),
    '<homeCluster serversUri="https://clb.ucgw.example.test:8443/cucm-uds/servers">clb.ucgw.example.test</homeCluster><x>https://cla.ucgw.example.test:8443/</x><y>clb.ucgw.example.test cla.ucgw.example.test</y>',
    'a name in both: the serving cluster wins',
  );
});

t.test('compile and learn', async (t) => {
  t.throws(() => compileRewriteRules({ names: ['https://cucm-pub:8443'] }), { code: 'UCGATE_ERR_CONFIG_INVALID' });
  t.throws(() => compileRewriteRules({ names: ['*.example.test'] }), { code: 'UCGATE_ERR_CONFIG_INVALID' });
  t.throws(() => compileRewriteRules({ names: [], portMap: { 6970: { port: 0, scheme: 'http' } } }), { code: 'UCGATE_ERR_CONFIG_INVALID' });
  t.throws(() => compileRewriteRules({ names: [], groups: [{ publicName: 'not a name', names: [] }] }), { code: 'UCGATE_ERR_CONFIG_INVALID' });
  t.equal(rules.forTarget({ host: GW, port: 8443, scheme: 'https' }), https8443, 'targets are cached');
  t.equal(rules.withNames(['CUCM-PUB.example.test.', '[fd00::12]', 'not a/name', '']), rules, 'nothing new: the same rules');
  const learned = rules.withNames(['cucm-sub2.example.test', 'cucm-sub2']);
  t.not(learned, rules);
  t.equal(learned.forTarget({ host: GW, port: 8443, scheme: 'https' }).rewriteText('<server>cucm-sub2</server>'), `<server>${GW}</server>`);
  t.equal(https8443.rewriteText('<server>cucm-sub2</server>'), '<server>cucm-sub2</server>', 'the old rules are unchanged');
  const other = rules.withNames(['cucm-b2.example.test'], 'clb.example.test');
  t.equal(other.forTarget({ host: GW, port: 8443, scheme: 'https' }).rewriteText('cucm-b2.example.test'), 'clb.example.test');
  t.equal(rules.isNodeName('.CUCM-PUB.example.test'.slice(1)), true);
  t.equal(rules.isNodeName('[FD00::12]'), true);
  t.equal(rules.isNodeName('example.test'), false);
  t.equal(compileRewriteRules({ names: [] }).forTarget({ host: GW, port: 1, scheme: 'https' }).rewriteText(PUB), PUB, 'no names: identity');
  const start = performance.now();
  let many = compileRewriteRules({ names: Array.from({ length: 200 }, (_, i) => `cucm-${i}.example.test`) });
  for (let i = 0; i < 20; i++) many = many.withNames([`learned-${i}.example.test`]);
  many.forTarget({ host: GW, port: 8443, scheme: 'https' }).rewriteText(`https://learned-19.example.test/ ${'x'.repeat(10_000)}`);
  t.ok(performance.now() - start < 500, 'twenty recompiles of 200+ names are cheap');
});

t.test('untouched text is returned as the same string', async (t) => {
  const body = directoryListBody(GW, DIRECTORY);
  t.equal(https8443.rewriteText(body), body);
  const bytes = Buffer.from(body);
  t.equal(https8443.rewriteBytes(bytes), bytes, 'same Buffer object');
});
