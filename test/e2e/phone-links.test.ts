/**
 * Issue 15 through a real gateway process in front of simulated nodes: a
 * phone that reached the gateway by IP address (no DNS on its VLAN) gets
 * links on that address and port; a link to a path the gateway does not
 * route keeps the node's name and is counted in ucgate_unrouted_links_total
 * and logged once, without its query; a Host the gateway does not own never
 * reaches a link. And `ucgate routes --explain` says the same about a URL.
 */
import t from 'tap';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest } from '../helpers/net.js';
import { runCli, scrapeMetric, startClusterGateway, FQDN } from '../helpers/gateway.js';

const PUB = 'cucm-pub.example.test';
/** A phone XML object as CUCM writes it: its own FQDN, short upper-case name and IP, with and without :8443. */
const MENU =
  '<?xml version="1.0" encoding="utf-8"?><CiscoIPPhoneMenu><Title>Services</Title>' +
  `<MenuItem><Name>Directory</Name><URL>https://10.0.0.11:8443/ccmcip/xmldirectory.jsp</URL></MenuItem>` +
  `<MenuItem><Name>Short</Name><URL>http://CUCM-PUB:8080/ccmcip/xmldirectoryinput.jsp</URL></MenuItem>` +
  `<MenuItem><Name>FQDN</Name><URL>https://${PUB}/cucm-uds/version</URL></MenuItem>` +
  `<MenuItem><Name>Assistant</Name><URL>http://${PUB}:8080/ma/servlet/MAService?userid=jdoe&amp;seq=8642</URL></MenuItem>` +
  '</CiscoIPPhoneMenu>';

t.test('links on the address the phone used; unrouted links left to the node and counted', async (t) => {
  const cucm = await startCucmCluster({ nodes: 1 });
  t.teardown(() => cucm.close());
  const { gw, ca } = await startClusterGateway(t, cucm, { nodes: [{ name: 'pub', url: `https://${PUB}:${cucm.publisher.port}`, address: '127.0.0.1', aliases: ['10.0.0.11'] }] }, {
    gateway: { fqdn: FQDN, altNames: ['127.0.0.1'] },
  });
  const ip = `127.0.0.1:${gw.port}`;
  // The echo endpoint answers with the body it got, as XML: a node answer whose links this test chooses.
  // The certificate is checked against the name the client meant (node would take it from Host).
  const menu = (host: string, servername = host.startsWith('127.') ? '' : FQDN) =>
    httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/ucgate-test/echo', method: 'POST', ca, servername, headers: { host, 'content-type': 'text/xml; charset=utf-8' }, body: MENU });

  const byIp = await menu(ip);
  t.equal(byIp.status, 200);
  t.ok(byIp.socket.authorized, 'the certificate covers 127.0.0.1 (an altName)');
  const expected = MENU.replace('https://10.0.0.11:8443/', `https://${ip}/`)
    .replace('http://CUCM-PUB:8080/', `https://${ip}/`)
    .replace(`https://${PUB}/cucm-uds/`, `https://${ip}/cucm-uds/`);
  t.equal(byIp.text, expected, 'every routed link names the address and port the phone used; the Assistant link keeps the node name');
  t.match(byIp.text, `<URL>http://${PUB}:8080/ma/servlet/MAService?userid=jdoe&amp;seq=8642</URL>`);

  const byName = await menu(`${FQDN}:${gw.port}`);
  t.match(byName.text, `<URL>https://${FQDN}:${gw.port}/ccmcip/xmldirectory.jsp</URL>`, 'a client that used the name gets the name');
  const foreign = await menu(`phish.example.com:${gw.port}`);
  t.notMatch(foreign.text, 'phish', 'a Host the gateway does not own never reaches a link');
  t.match(foreign.text, `<URL>https://${FQDN}:${gw.port}/ccmcip/xmldirectory.jsp</URL>`, 'it gets the configured name');

  const simulated = await httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/ccmcip/xmldirectory.jsp', ca, headers: { host: ip } });
  t.match(simulated.text, `<URL>https://${ip}/ccmcip/xmldirectoryinput.jsp</URL>`, "the simulated node's own directory menu, by IP");

  const line = await gw.waitForLog((l) => l.event === 'unrouted_link' && l.path === '/ma/servlet/maservice');
  t.equal(line.level, 'warn');
  t.equal(line.cluster, 'cucm');
  t.equal(gw.logs.filter((l) => l.event === 'unrouted_link' && l.path === '/ma/servlet/maservice').length, 1, 'logged once for three answers');
  t.notMatch(gw.stdout(), /8642|userid/, 'the query (a PIN here) is never logged');
  t.equal(await scrapeMetric(gw, 'ucgate_unrouted_links_total', 'path="/ma/servlet/maservice"'), 3, 'each left link counted');
});

t.test('ucgate routes and routes --explain', async (t) => {
  const cucm = await startCucmCluster({ nodes: 1 });
  t.teardown(() => cucm.close());
  const { gw } = await startClusterGateway(t, cucm);
  const config = ['--config', gw.configFile];

  const list = await runCli(['routes', ...config]);
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, /\/ccmcip\/\s+any\s+cucm/, 'the configured routes, one per line');
  t.match(list.stdout, /refused \(403\).*\/ccmadmin/);

  const left = await runCli(['routes', ...config, '--explain', `https://${PUB}:8443/ma/servlet/MAService?userid=jdoe&seq=8642`]);
  t.equal(left.code, 0, left.stderr);
  t.match(left.stdout, 'denied (403)', 'the Assistant is an opt-in end-user page (issue 17)');
  t.match(left.stdout, /left to the node/);
  t.notMatch(left.stdout, '8642', 'credentials in the query are redacted');

  const routed = await runCli(['routes', ...config, '--explain', `http://cucm-pub:8080/ccmcip/xmldirectory.jsp`, '--json']);
  t.equal(routed.code, 0, routed.stderr);
  const json = JSON.parse(routed.stdout) as { request: { decision: string; cluster: string; route: { pathPrefix: string } }; link: { rewritten: boolean; url: string; node: string } };
  t.equal(json.request.decision, 'proxy');
  t.equal(json.request.route.pathPrefix, '/ccmcip/');
  t.same([json.link.node, json.link.rewritten, json.link.url], ['pub', true, `https://${FQDN}:0/ccmcip/xmldirectory.jsp`], 'rewritten to the configured name and listener');

  const denied = await runCli(['routes', ...config, '--explain', '/ccmcip/%2e%2e/ccmadmin/showHome.do', '--json']);
  t.match(JSON.parse(denied.stdout), { request: { decision: 'deny', status: 403, entry: '/ccmadmin' }, link: null });
  const method = await runCli(['routes', ...config, '--explain', '/cucm-uds/version', '--method', 'POST']);
  t.match(method.stdout, 'method not allowed (405), Allow: GET, HEAD');

  const bad = await runCli(['routes', ...config, '--explain', 'ftp://x/']);
  t.equal(bad.code, 2, 'bad input: exit 2');
  t.match(bad.stderr, 'not an http(s):// URL');
});
