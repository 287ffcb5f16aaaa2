/**
 * Issue 15: links stay where the gateway can follow, on the address the
 * client used. A node URL is rewritten only when the router would proxy its
 * path to the node's cluster; other links keep the node's name and are
 * counted and logged once (never with their query). Links carry the client's
 * Host when the gateway's certificate covers it, else the configured name.
 */
import t from 'tap';
import { Readable } from 'node:stream';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { DataPlaneMetrics } from '../../src/metrics/data-plane-metrics.js';
import { buildProxyState } from '../../src/proxy/proxy-state.js';
import { createRouter, type Router } from '../../src/proxy/router.js';
import { linkAuthority, rewriteFor } from '../../src/proxy/cluster-rewrite.js';
import { MAX_UNROUTED_PATHS, RouterLinkCheck, UnroutedLinks } from '../../src/proxy/link-routing.js';
import { compileRewriteRules, MAX_LINK_PATH, rulesInputForCluster } from '../../src/rewrite/index.js';
import { TftpPlane } from '../../src/tftp/tftp-plane.js';

const opts = { baseDir: '/etc/ucgate', configFile: '' };
const GW = 'ucgw.example.test';
const PUB = 'cucm-pub.a.example.test';

const config = parseConfig(
  {
    gateway: { fqdn: GW, altNames: ['ucgw-dr.example.test', '127.0.0.1', 'fd00::1'] },
    tftp: {},
    clusters: [
      { name: 'a', nodes: [{ name: 'pub', url: `https://${PUB}:8443`, aliases: ['10.0.0.11'] }] },
      { name: 'b', publicName: 'b.ucgw.example.test', nodes: [{ name: 'b-pub', url: 'https://cucm-pub.b.example.test:8443' }] },
      { name: 'c', publicName: 'c.ucgw.example.test', nodes: [{ name: 'c-pub', url: 'https://cucm-pub.c.example.test:8443' }] },
    ],
    routes: [
      { pathPrefix: '/cucm-uds/', cluster: 'a', methods: ['GET', 'HEAD'] },
      { pathPrefix: '/ccmcip/', cluster: 'a' },
      { host: 'b.ucgw.example.test', pathPrefix: '/cucm-uds/', cluster: 'b' },
      { pathPrefix: '/emapp/EMAppServlet', cluster: 'a', methods: ['POST'] },
    ],
  },
  opts,
);

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'warn', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  const metrics = new DataPlaneMetrics();
  const counts = async () =>
    Object.fromEntries((await metrics.unroutedLinks.get()).values.map((v) => [`${v.labels.cluster} ${v.labels.path}`, v.value]));
  return { lines, log, metrics, counts, sink: { log, metrics } };
}

/** The router, counting the decisions it is asked for. */
function countingRouter(): { router: Router; calls: () => number } {
  const inner = createRouter(config.routes);
  let calls = 0;
  return { router: { route: (m, target, host) => (calls++, inner.route(m, target, host)) }, calls: () => calls };
}

t.test('routed links go to the gateway, unrouted ones stay on the node', async (t) => {
  const { router, calls } = countingRouter();
  const c = capture();
  const check = new RouterLinkCheck(() => ({ router, config }), 'a', 'main', new UnroutedLinks(c.metrics, c.log));
  const target = compileRewriteRules(rulesInputForCluster(config, 'a')).forTarget({ host: GW, port: 8443, scheme: 'https' }, check);
  const cases: [string, string, string][] = [
    ['a routed phone service', `<URL>http://${PUB}:8080/ccmcip/xmldirectory.jsp?f=a&amp;l=b</URL>`, `<URL>https://${GW}:8443/ccmcip/xmldirectory.jsp?f=a&amp;l=b</URL>`],
    ['Unified CM Assistant', `<URL>http://${PUB}:8080/ma/servlet/MAService?userid=jdoe&amp;seq=1234</URL>`, 'unchanged'],
    ['a denied admin page', `<a href="https://10.0.0.11:8443/ccmadmin/showHome.do">`, 'unchanged'],
    ['help pages', `<URL>https://${PUB}/help/en/index.html</URL>`, 'unchanged'],
    ['no path at all: /, which no route covers', `<URL>https://${PUB}:8443</URL>`, 'unchanged'],
    ['a route that allows POST only', `<URL>http://${PUB}:8080/emapp/EMAppServlet?device=SEP1</URL>`, 'unchanged'],
    ['a scheme-relative link', `<img src="//cucm-pub:8443/ccmcip/logo.png">`, `<img src="//${GW}:8443/ccmcip/logo.png">`],
    ['a scheme-less host:port/path', `${PUB}:8443/ma/x`, 'unchanged'],
    ['bare names (SIP, CTI, /servers) as before', `<server>${PUB}</server><sip>cucm-pub:5060</sip>`, `<server>${GW}</server><sip>${GW}:8443</sip>`],
    ['a Location header value', `https://${PUB}:8443/cucm-uds/user/jdoe`, `https://${GW}:8443/cucm-uds/user/jdoe`],
  ];
  for (const [name, input, expected] of cases) t.equal(target.rewriteText(input), expected === 'unchanged' ? input : expected, name);
  t.equal(target.rewriteHeader('refresh', `0; url=http://${PUB}:8080/ma/servlet/MAService`), `0; url=http://${PUB}:8080/ma/servlet/MAService`, 'Refresh: an unrouted link stays');
  const long = `https://${PUB}:8443/ccmcip/${'x'.repeat(MAX_LINK_PATH)}`;
  t.equal(target.rewriteText(long), long, 'a path too long to decide on stays');

  const before = calls();
  for (let i = 0; i < 50; i++) target.rewriteText(`http://${PUB}:8080/ccmcip/xmldirectory.jsp http://${PUB}:8080/ma/servlet/MAService?i=${i}`);
  t.equal(calls() - before, 0, 'decisions are cached per path: the router is not asked again');

  const counts = await c.counts();
  t.equal(counts['a /ma/servlet/maservice'], 52, 'every unrouted link counted, by normalised lower-case path without query');
  t.equal(counts['a /ccmadmin/showhome.do'], 1);
  t.equal(counts['a /'], 1);
  t.equal(counts['a other'], 1, 'a path too long to decide on is counted as other');
  const logged = c.lines.filter((l) => l.event === 'unrouted_link');
  t.equal(logged.filter((l) => l.path === '/ma/servlet/maservice').length, 1, 'logged once per path');
  t.same(logged[0]!.level, 'warn');
  t.notMatch(JSON.stringify(c.lines), /seq|userid|1234/, 'no query string in any log line');
});

t.test('streamed bodies decide links exactly as whole ones, across every chunk boundary', async (t) => {
  const check = new RouterLinkCheck(() => ({ router: createRouter(config.routes), config }), 'a');
  const target = compileRewriteRules(rulesInputForCluster(config, 'a')).forTarget({ host: GW, port: 8443, scheme: 'https' }, check);
  const body =
    `<?xml version="1.0"?><CiscoIPPhoneMenu><MenuItem><URL>http://${PUB}:8080/ccmcip/${'d'.repeat(700)}.jsp</URL></MenuItem>` +
    `<MenuItem><URL>http://${PUB}:8080/ma/${'m'.repeat(900)}</URL></MenuItem><MenuItem><URL>https://10.0.0.11/ccmcip/x</URL></MenuItem></CiscoIPPhoneMenu>`;
  const whole = target.rewriteText(body);
  t.match(whole, `https://${GW}:8443/ccmcip/ddd`);
  t.match(whole, `http://${PUB}:8080/ma/mmm`);
  for (const size of [1, 7, 64, 1000]) {
    const stream = target.createBodyRewriter({ contentType: 'text/xml' })!;
    const chunks: Buffer[] = [];
    const pieces: Buffer[] = [];
    for (let i = 0; i < body.length; i += size) pieces.push(Buffer.from(body.slice(i, i + size), 'latin1'));
    stream.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((resolve, reject) => Readable.from(pieces).pipe(stream).on('end', resolve).on('error', reject));
    t.equal(Buffer.concat(chunks).toString('latin1'), whole, `chunks of ${size}`);
  }
});

t.test("another cluster's node: rewritten to its public name only when its own routes take the path", async (t) => {
  const check = new RouterLinkCheck(() => ({ router: createRouter(config.routes), config }), 'a');
  const target = compileRewriteRules(rulesInputForCluster(config, 'a')).forTarget({ host: GW, port: 8443, scheme: 'https' }, check);
  t.equal(
    target.rewriteText('serversUri="https://cucm-pub.b.example.test:8443/cucm-uds/servers"'),
    'serversUri="https://b.ucgw.example.test:8443/cucm-uds/servers"',
    "B's UDS: its public name has a route to B",
  );
  const toA = 'https://cucm-pub.b.example.test:8443/ccmcip/x.jsp';
  t.equal(target.rewriteText(toA), toA, "B's /ccmcip/ would reach cluster A through the gateway: left to B's node");
  const c = 'https://cucm-pub.c.example.test:8443/cucm-uds/servers';
  t.equal(target.rewriteText(c), c, "C's public name has no route of its own: the host-less one goes to A, so the link stays");
});

t.test('the name links carry: the one the client used, if the certificate covers it', async (t) => {
  const table: [string | undefined, { host: string; port: number } | undefined, string][] = [
    ['127.0.0.1:9443', { host: '127.0.0.1', port: 9443 }, 'an IP literal altName, with its port'],
    ['127.0.0.1', { host: '127.0.0.1', port: 8443 }, 'no port: the listener port'],
    ['UCGW-DR.example.test.', { host: 'ucgw-dr.example.test', port: 8443 }, 'an altName, any case, a trailing dot'],
    ['b.ucgw.example.test:443', { host: 'b.ucgw.example.test', port: 443 }, "a cluster's publicName"],
    [`${GW}:8443`, { host: GW, port: 8443 }, 'gateway.fqdn'],
    ['[FD00:0:0::1]:8443', { host: 'fd00::1', port: 8443 }, 'an IPv6 literal in another spelling'],
    ['evil.example.com:8443', undefined, 'a name the gateway does not own'],
    ['10.9.9.9:8443', undefined, 'an address the gateway does not own'],
    ['fd00::1', undefined, 'IPv6 without brackets is no Host'],
    [`${GW}:99999`, undefined, 'a bad port'],
    [`${GW}:84x3`, undefined, 'a bad port'],
    [`${GW}@evil.example.com`, undefined, 'user-info tricks'],
    ['', undefined, 'empty'],
    [undefined, undefined, 'absent (HTTP/1.0)'],
  ];
  for (const [host, expected, name] of table) t.same(linkAuthority(config, host, 8443), expected, `${host}: ${name}`);

  const state = buildProxyState(config);
  const c = capture();
  const cluster = state.clusters.get('a')!;
  const body = `<URL>http://${PUB}:8080/ccmcip/xmldirectory.jsp</URL>`;
  const rewrite = (host: string | undefined, port = 8443, protocol: 'https' | 'http' = 'https') =>
    rewriteFor(state, cluster, { name: 'l', protocol, port }, '/ccmcip/x', host, c.sink)!.target.rewriteText(body);
  t.equal(rewrite('127.0.0.1:8443'), '<URL>https://127.0.0.1:8443/ccmcip/xmldirectory.jsp</URL>', 'a phone that used the IP gets links on the IP and port');
  t.equal(rewrite('[fd00::1]:8443'), '<URL>https://[fd00::1]:8443/ccmcip/xmldirectory.jsp</URL>', 'IPv6 in brackets');
  t.equal(rewrite('ucgw-dr.example.test:8443'), '<URL>https://ucgw-dr.example.test:8443/ccmcip/xmldirectory.jsp</URL>', 'an altName');
  t.equal(rewrite('evil.example.com:8443'), `<URL>https://${GW}:8443/ccmcip/xmldirectory.jsp</URL>`, 'a foreign Host: the configured name');
  t.equal(rewrite('127.0.0.1:8080', 8080, 'http'), '<URL>http://127.0.0.1:8080/ccmcip/xmldirectory.jsp</URL>', 'plain HTTP listener: the same owned set');
  t.equal(rewrite(undefined), `<URL>https://${GW}:8443/ccmcip/xmldirectory.jsp</URL>`, 'no Host: the configured name');
});

t.test('metric paths are bounded per worker', async (t) => {
  const c = capture();
  const unrouted = new UnroutedLinks(c.metrics, c.log);
  for (let i = 0; i < MAX_UNROUTED_PATHS + 20; i++) unrouted.count('a', `/p${i}`);
  unrouted.count('a', '/p0');
  const counts = await c.counts();
  t.equal(Object.keys(counts).length, MAX_UNROUTED_PATHS + 1, `${MAX_UNROUTED_PATHS} paths, then other`);
  t.equal(counts['a other'], 20);
  t.equal(counts['a /p0'], 2, 'a known path keeps its own series');
  t.equal(c.lines.length, MAX_UNROUTED_PATHS + 1, 'one log line per path (and one for other)');
});

t.test('TFTP files: links landing on the main listeners are decided by the main router', async (t) => {
  const main = buildProxyState(config);
  const c = capture();
  const plane = new TftpPlane({ log: c.log, metrics: c.metrics, mainState: () => main });
  t.teardown(() => plane.dispose());
  plane.apply(config);
  plane.setListeners(
    [
      { role: 'main', scheme: 'https', configuredPort: 8443, port: 41001, legacy: false },
      { role: 'tftp', scheme: 'http', configuredPort: 6970, port: 41003, legacy: false },
    ],
    main,
  );
  const file = plane.state!.clusters.get('a')!.rewrite.rules.forTarget({ host: GW, port: 41003, scheme: 'http' });
  t.equal(
    file.rewriteText(`<d>https://${PUB}:8443/ccmcip/xmldirectory.jsp</d><m>https://${PUB}:8443/ma/servlet/MAService</m><t>http://${PUB}:6970/SPDefault.cnf.xml</t><p>${PUB}</p>`),
    `<d>https://${GW}:41001/ccmcip/xmldirectory.jsp</d><m>https://${PUB}:8443/ma/servlet/MAService</m><t>http://${GW}:41003/SPDefault.cnf.xml</t><p>${PUB}</p>`,
    'routed service URL rewritten, unrouted one left, TFTP URL to the TFTP listener, SIP name kept',
  );
  t.equal((await c.counts())['a /ma/servlet/maservice'], 1, 'counted in the shared metric');
  const uds = rewriteFor(main, main.clusters.get('a')!, { name: 'https#0', protocol: 'https', port: 41001 }, '/cucm-uds/user/jdoe', undefined, c.sink)!;
  t.equal(
    uds.target.rewriteText(`<serviceProfile uri="http://${PUB}:6970/SPDefault.cnf.xml"/>`),
    `<serviceProfile uri="http://${GW}:41003/SPDefault.cnf.xml"/>`,
    'UDS answers: a TFTP file link goes to the TFTP listener, as before',
  );
});
