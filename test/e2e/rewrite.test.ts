/**
 * Keeping phones and Jabber on the gateway: node names in headers and XML
 * bodies come back as the gateway's name and port, whatever the framing
 * (content-length, chunked, gzip) — and Jabber's whole discovery walk, from
 * the SRV record in a real dnsmasq on, never shows a client a node name.
 */
import t from 'tap';
import https from 'node:https';
import { gzipSync, gunzipSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Resolver } from 'node:dns/promises';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { issueLeaf } from '../../src/pki/x509.js';
import { httpsRequest } from '../helpers/net.js';
import { startGatewayProcess, clusterConfig, TEST_ROUTES, FQDN } from '../helpers/gateway.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';

const NODE = 'cucm-pub.example.test';
const DIRECTORY = (host: string) =>
  `<?xml version="1.0" encoding="ISO-8859-1"?><CiscoIPPhoneMenu><Title>Directories \xe9</Title>` +
  `<MenuItem><Name>Corporate</Name><URL>http://${host}:8080/ccmcip/xmldirectoryinput.jsp</URL></MenuItem>` +
  `<MenuItem><Name>Short</Name><URL>https://cucm-pub/ccmcip/a.jsp</URL></MenuItem>` +
  `<MenuItem><Name>IP</Name><URL>https://10.0.0.11:8443/ccmcip/b.jsp</URL></MenuItem>` +
  `<SoftKeyItem><Name>Exit</Name><URL>SoftKey:Exit</URL></SoftKeyItem></CiscoIPPhoneMenu>`;

t.test('rewriting in every framing', async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster({ nodes: 1 });
  t.teardown(() => cucm.close());
  const leaf = await issueLeaf({ issuer: cucm.ca, commonName: NODE, subjectAltNames: [NODE, '127.0.0.1'] });
  const untouched = '<?xml version="1.0"?><data><note>no node name here: cucm-public.example.test.evil, 110.0.0.111</note></data>';
  const server = https.createServer({ key: leaf.keyPem, cert: leaf.certPem }, (req, res) => {
    const body = DIRECTORY(NODE);
    switch (req.url) {
      case '/ccmcip/length':
        res.writeHead(200, { 'content-type': 'text/xml; charset=ISO-8859-1', 'content-length': Buffer.byteLength(body, 'latin1'), etag: '"abc"' });
        return res.end(Buffer.from(body, 'latin1'));
      case '/ccmcip/chunked':
        res.writeHead(200, { 'content-type': 'text/xml; charset=ISO-8859-1' });
        for (let i = 0; i < body.length; i += 7) res.write(Buffer.from(body.slice(i, i + 7), 'latin1'));
        return res.end();
      case '/ccmcip/gzip': {
        const zipped = gzipSync(Buffer.from(body, 'latin1'));
        res.writeHead(200, { 'content-type': 'text/xml', 'content-encoding': 'gzip', 'content-length': zipped.length });
        return res.end(zipped);
      }
      case '/ccmcip/untouched':
        res.writeHead(200, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(untouched) });
        return res.end(untouched);
      case '/ccmcip/redirect':
        res.writeHead(302, { location: `https://${NODE}:8443/ccmcip/login.jsp`, refresh: `5; url=https://cucm-pub:8443/ccmcip/x`, 'content-length': 0 });
        return res.end();
      default:
        res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  writeFileSync(join(dir, 'cucm-ca.pem'), cucm.caPem);
  const gw = await startGatewayProcess(t, dir, {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }] },
    clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: `https://${NODE}:${port}`, address: '127.0.0.1', aliases: ['10.0.0.11'] }], tls: { caFile: 'cucm-ca.pem' } }],
    routes: TEST_ROUTES,
  });
  const ca = await gw.trustPem();
  const get = (path: string) => httpsRequest({ host: '127.0.0.1', port: gw.port, path, ca, servername: FQDN, headers: { 'accept-encoding': 'gzip' } });
  const expected = Buffer.from(
    DIRECTORY(FQDN)
      .replace(`http://${FQDN}:8080/`, `https://${FQDN}:${gw.port}/`)
      .replace('https://cucm-pub/', `https://${FQDN}:${gw.port}/`)
      .replace('https://10.0.0.11:8443/', `https://${FQDN}:${gw.port}/`),
    'latin1',
  );

  const length = await get('/ccmcip/length');
  t.same(length.body, expected, 'content-length body: FQDN, short name and IP (with and without port) rewritten; latin1 kept byte for byte');
  t.equal(Number(length.headers['content-length']), expected.length, 'content-length recomputed');
  t.equal(length.headers.etag, 'W/"abc"', 'the strong ETag is weakened');
  const chunked = await get('/ccmcip/chunked');
  t.same(chunked.body, expected, 'chunked body rewritten across 7-byte chunks');
  t.equal(chunked.headers['transfer-encoding'], 'chunked');
  const gzip = await get('/ccmcip/gzip');
  t.equal(gzip.headers['content-encoding'], 'gzip');
  t.same(gunzipSync(gzip.body), expected, 'gzip body rewritten and re-compressed');
  const plain = await get('/ccmcip/untouched');
  t.equal(plain.text, untouched, 'a body without node names passes byte for byte (look-alike names untouched)');
  const redirect = await get('/ccmcip/redirect');
  t.equal(redirect.headers.location, `https://${FQDN}:${gw.port}/ccmcip/login.jsp`, 'Location rewritten');
  t.equal(redirect.headers.refresh, `5; url=https://${FQDN}:${gw.port}/ccmcip/x`, 'Refresh rewritten');
});

t.test("Jabber's discovery walk never shows a node name", async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  writeFileSync(join(dir, 'cucm-ca.pem'), cucm.caPem);
  const gw = await startGatewayProcess(t, dir, {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }] },
    clusters: [clusterConfig(cucm, join(dir, 'cucm-ca.pem'))],
  });
  const dns = await startDnsmasq(t, dir, '_cisco-uds._tcp.example.test', [{ target: FQDN, port: gw.port, priority: 10, weight: 10 }], { [FQDN]: '127.0.0.1' });
  const resolver = new Resolver({ timeout: 1000, tries: 2 });
  resolver.setServers([`127.0.0.1:${dns.port}`]);
  const [srv] = await resolver.resolveSrv('_cisco-uds._tcp.example.test');
  t.equal(srv!.name, FQDN, 'the SRV record names the gateway');
  const [address] = await resolver.resolve4(srv!.name);
  const ca = await gw.trustPem();
  const basic = `Basic ${Buffer.from('jdoe:secret').toString('base64')}`;
  const walk = ['/cucm-uds/version', '/cucm-uds/clusterUser?username=jdoe', '/cucm-uds/servers', '/cucm-uds/user/jdoe/devices', '/cucm-uds/user/jdoe'];
  const forbidden = [...cucm.nodes.flatMap((node) => [node.hostname, node.hostname.split('.')[0]!]), `:${cucm.publisher.port}`];
  for (const path of walk) {
    const res = await httpsRequest({ host: address!, port: srv!.port, path, ca, servername: srv!.name, headers: { authorization: basic } });
    t.equal(res.status, 200, `${path}: 200`);
    // Without TFTP listeners the gateway does not route CUCM's TFTP ports (6970, 6972): the service profile and
    // Jabber profile links stay on the node, which names them by its System > Server name, here CUCM-PUB (issue 15).
    const tftpLinks = /<(serviceProfile|jabberProfile)><uri>https?:\/\/[^<]*:697[02]\/[^<]*<\/uri><\/\1>/g;
    if (path === '/cucm-uds/user/jdoe') {
      t.match(res.text, /<serviceProfile><uri>http:\/\/cucm-pub:6970\/SP[0-9a-f-]{36}\.cnf\.xml<\/uri><\/serviceProfile>/i, 'the service profile link keeps the node name');
      t.match(res.text, /<jabberProfile><uri>https:\/\/cucm-pub:6972\/JAB_[0-9a-f-]{36}\.cnf\.xml<\/uri><\/jabberProfile>/i, 'the Jabber profile link keeps the node name');
    }
    // Host names are case-insensitive, and CUCM writes short server names upper-case (CUCM-PUB).
    const seen = (JSON.stringify(res.headers) + res.text.replace(tftpLinks, '')).toLowerCase();
    const leaked = forbidden.filter((name) => seen.includes(name.toLowerCase()));
    t.same(leaked, [], `${path}: no node name in headers or body`);
    if (path === '/cucm-uds/servers') t.match(res.text, `<server>${FQDN}</server>`, 'the server list names the gateway');
    if (path.startsWith('/cucm-uds/clusterUser')) t.match(res.text, `>${FQDN}</homeCluster>`, 'the home cluster is the gateway');
  }
});
