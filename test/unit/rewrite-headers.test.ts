/**
 * Headers (Location, Content-Location, Refresh, Set-Cookie), the body plan
 * (which responses are rewritten), and where names come from (config, UDS).
 */
import t from 'tap';
import type { ClusterConfig, UcgateConfig } from '../../src/config/types.js';
import {
  compileRewriteRules,
  expandShortNames,
  namesOfCluster,
  parseUdsServers,
  planBody,
  rulesInputForCluster,
} from '../../src/rewrite/index.js';
import { serversBody } from '../../src/sim/uds-bodies.js';

const PUB = 'cucm-pub.example.test';
const GW = 'ucgw.example.test';
const rules = compileRewriteRules({ names: [PUB, 'cucm-pub', '10.0.0.12'] });
const target = rules.forTarget({ host: GW, port: 8443, scheme: 'https' });

t.test('Location, Content-Location and Refresh', async (t) => {
  t.equal(target.rewriteHeader('Location', `https://${PUB}:8443/cucm-uds/version`), `https://${GW}:8443/cucm-uds/version`);
  t.equal(target.rewriteHeader('location', 'http://cucm-pub:8080/ccmcip/login.jsp?r=1'), `https://${GW}:8443/ccmcip/login.jsp?r=1`);
  t.equal(target.rewriteHeader('Content-Location', `https://10.0.0.12/x.xml`), `https://${GW}:8443/x.xml`);
  t.equal(target.rewriteHeader('Refresh', `0; url=http://${PUB}:8080/ccmcip/xmldirectory.jsp`), `0; url=https://${GW}:8443/ccmcip/xmldirectory.jsp`);
  t.equal(target.rewriteHeader('REFRESH', `5;URL=http://cucm-pub:8080/x`), `5;URL=https://${GW}:8443/x`);
  t.equal(target.rewriteHeader('Refresh', `5; URL='https://${PUB}/x'`), `5; URL='https://${GW}:8443/x'`);
  const relative = '/ccmcip/xmldirectoryinput.jsp';
  t.equal(target.rewriteHeader('Location', relative), relative, 'relative: untouched');
  t.equal(target.rewriteHeader('Location', `https://${PUB}.evil.com/`), `https://${PUB}.evil.com/`, 'not a node');
  t.equal(target.rewriteHeader('Server', PUB), PUB, 'other headers pass');
  t.equal(target.rewriteHeader('X-Node', PUB), PUB);
  const list = ['a', 'b'] as const;
  t.equal(target.rewriteHeader('Location', list), list, 'unchanged arrays are returned as they are');
});

t.test('Set-Cookie: a Domain naming a node is dropped, the rest stays', async (t) => {
  const cookies = [
    `JSESSIONID=ABC; Path=/ccmcip/; Domain=${PUB}; Secure; HttpOnly`,
    'a=1; domain=.CUCM-PUB.example.test',
    'b=2; Domain = 10.0.0.12 ;Path=/',
    'c=3; Domain=example.test; Path=/',
    'd=4; Path=/domain',
    `e=5; Path=/; Domain=${PUB}.evil.com`,
  ];
  t.same(target.rewriteHeader('set-cookie', cookies), [
    'JSESSIONID=ABC; Path=/ccmcip/; Secure; HttpOnly',
    'a=1',
    'b=2;Path=/',
    'c=3; Domain=example.test; Path=/',
    'd=4; Path=/domain',
    `e=5; Path=/; Domain=${PUB}.evil.com`,
  ]);
  t.equal(target.rewriteHeader('Set-Cookie', `x=1; Domain=${PUB}`), 'x=1', 'a single string');
  const plain = ['JSESSIONID=1; Path=/'];
  t.equal(target.rewriteHeader('set-cookie', plain), plain, 'nothing to drop: same array');
});

t.test('which bodies are rewritten, and through which coding', async (t) => {
  const none = new Set<string>();
  const cases: [string | undefined, string | undefined, ReturnType<typeof planBody>][] = [
    ['text/xml; charset=UTF-8', undefined, 'identity'],
    ['application/xml', 'identity', 'identity'],
    ['Application/Atom+XML', '', 'identity'],
    ['text/xml', 'gzip', 'gzip'],
    ['text/xml', 'X-Gzip', 'gzip'],
    ['text/xml', 'deflate', 'deflate'],
    ['text/xml', 'br', undefined],
    ['text/xml', 'gzip, gzip', undefined],
    ['text/xml; charset=utf-16', undefined, undefined],
    ['text/xml; charset="UTF-16LE"', undefined, undefined],
    ['text/xml; charset=iso-8859-1', undefined, 'identity'],
    ['text/html; charset=utf-8', undefined, undefined],
    ['application/json', undefined, undefined],
    ['text/plain', undefined, undefined],
    ['application/octet-stream', undefined, undefined],
    [undefined, undefined, undefined],
  ];
  for (const [contentType, contentEncoding, expected] of cases) {
    t.equal(planBody({ contentType, contentEncoding }, none), expected, `${contentType} / ${contentEncoding}`);
  }
  t.equal(planBody({ contentType: 'text/html; charset=utf-8' }, new Set(['text/html'])), 'identity', 'extra media types opt in');
  const html = compileRewriteRules({ names: [PUB], extraMediaTypes: ['Text/HTML'] }).forTarget({ host: GW, port: 8443, scheme: 'https' });
  t.ok(html.createBodyRewriter({ contentType: 'text/html' }), 'configured through the rules');
  t.equal(target.createBodyRewriter({ contentType: 'text/html' }), undefined);
  t.equal(compileRewriteRules({ names: [] }).forTarget({ host: GW, port: 8443, scheme: 'https' }).createBodyRewriter({ contentType: 'text/xml' }), undefined, 'no names: nothing to do');
});

function cluster(name: string, nodes: [string, string[], string?][], publicName?: string): ClusterConfig {
  return {
    name,
    ...(publicName === undefined ? {} : { publicName }),
    nodes: nodes.map(([url, aliases, address], i) => ({ name: `n${i}`, url, priority: 1, weight: 1, aliases, ...(address ? { address } : {}) })),
    tls: { verify: true },
    healthCheck: { path: '/', intervalMs: 1, timeoutMs: 1, fall: 1, rise: 1, expectStatus: 200 },
    timeouts: { connectMs: 1, firstByteMs: 1, hedgeMs: 0, totalMs: 0 },
    retries: 1,
  };
}

t.test('names from the configuration and from UDS /servers', async (t) => {
  const a = cluster('a', [[`https://${PUB}:8443`, ['10.0.0.11']], ['https://cucm-sub1.example.test:8443', ['cucm-sub1'], '10.0.0.12']]);
  t.same(namesOfCluster(a).sort(), [PUB, 'cucm-pub', 'cucm-sub1.example.test', 'cucm-sub1', '10.0.0.11', '10.0.0.12'].sort());
  t.same(namesOfCluster(a, { shortNames: false }).sort(), [PUB, 'cucm-sub1.example.test', 'cucm-sub1', '10.0.0.11', '10.0.0.12'].sort());
  t.same(expandShortNames(['x.example.test', '10.0.0.1', 'fd00::1', 'y']), ['x.example.test', '10.0.0.1', 'fd00::1', 'y', 'x'], 'IPs have no short form');
  const b = cluster('b', [['https://cucm-b1.example.test:8443', []]], 'clb.ucgw.example.test');
  const c = cluster('c', [['https://cucm-c1.example.test:8443', []]]);
  const config = { gateway: { fqdn: GW, altNames: [] }, clusters: [a, b, c] } as unknown as UcgateConfig;
  const input = rulesInputForCluster(config, 'a');
  t.same(input.groups?.map((g) => g.publicName), ['clb.ucgw.example.test', GW], 'no publicName: gateway.fqdn');
  const fromA = compileRewriteRules(input).forTarget({ host: GW, port: 8443, scheme: 'https' });
  t.equal(fromA.rewriteText('<homeCluster>cucm-b1</homeCluster>'), '<homeCluster>clb.ucgw.example.test</homeCluster>');
  t.throws(() => rulesInputForCluster(config, 'nope'));
  const xml = serversBody({ hostname: 'cucm-b1.example.test', version: '14.0.1.1-1' }, ['cucm-b1.example.test', 'cucm-b2.example.test', ' cucm-b3 ']);
  t.same(parseUdsServers(xml), ['cucm-b1.example.test', 'cucm-b2.example.test', 'cucm-b3']);
  t.same(parseUdsServers('<servers/>'), []);
});
