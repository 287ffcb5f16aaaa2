/**
 * Issue 9 end to end: two CUCM clusters behind one gateway, and a Jabber
 * user homed on cluster B who starts at cluster A's public name. The whole
 * sign-in walk — UDS discovery, the user's data, then the configuration
 * files over the TFTP listeners — goes through the gateway, ends on B's
 * nodes, and never shows the client a node name; with B's publisher stopped
 * mid-walk it completes on B's subscriber. The TFTP listeners refuse
 * everything but allowed file names before any node sees it.
 */
import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster, type CucmCluster } from '../../src/sim/cucm-cluster.js';
import type { CucmNode } from '../../src/sim/cucm-node.js';
import { httpsRequest, plainHttpGet, waitFor, type PlainAnswer } from '../helpers/net.js';
import { startGatewayProcess, listenerPort, FQDN } from '../helpers/gateway.js';

const A = 'a.ucgw.example.test';
const B = 'b.ucgw.example.test';
const FAST_HEALTH = { path: '/cucm-uds/version', intervalMs: 250, timeoutMs: 600, fall: 2, rise: 2, expectStatus: 200, expectBody: '<versionInformation' };
const BASIC = `Basic ${Buffer.from('jdoe:secret').toString('base64')}`;
const READ = ['GET', 'HEAD'];

function nodeEntry(node: CucmNode, i: number) {
  return { name: node.name, url: `https://${node.hostname}:${node.port}`, address: '127.0.0.1', priority: i + 1 };
}

function clusterEntry(name: string, publicName: string, cucm: CucmCluster, caFile: string) {
  return {
    name,
    publicName,
    nodes: cucm.nodes.map((node, i) => nodeEntry(node, i)),
    // The simulated nodes' TFTP services listen on ports of their own, as CUCM's do on 6972.
    tftp: { nodes: cucm.nodes.map((node, i) => ({ ...nodeEntry(node, i), url: `https://${node.hostname}:${node.tftpPort}` })) },
    tls: { caFile },
    healthCheck: FAST_HEALTH,
    timeouts: { connectMs: 1000, firstByteMs: 3000 },
  };
}

/** Everything that would betray a node to the client: FQDNs, short names, and the nodes' own ports. */
function leakPatterns(clusters: readonly CucmCluster[]): RegExp[] {
  return clusters.flatMap((cucm) =>
    cucm.nodes.flatMap((node) => [
      new RegExp(node.hostname.replace(/\./g, '\\.'), 'i'),
      new RegExp(`(?<![\\w.-])${node.hostname.split('.')[0]!}(?![\\w-])`, 'i'),
      ...[node.port, node.tftpPort, node.tftpHttpPort].map((port) => new RegExp(`:${port}(?!\\d)`)),
    ]),
  );
}

/**
 * SIP call control: Jabber registers with these nodes itself (SIP does not go
 * through ucgate), so a device configuration must keep their names.
 */
const CALL_MANAGER = /<callManager>[\s\S]*?<\/callManager>/g;

t.test('a user homed on cluster B signs in through cluster A\'s public name and ends on B, never seeing a node', async (t) => {
  const dir = t.testdir();
  const b = await startCucmCluster({
    domain: 'b.example.test',
    tftp: true,
    nodes: [
      { name: 'b-pub', hostname: 'cucm-pub.b.example.test' },
      { name: 'b-sub1', hostname: 'cucm-sub1.b.example.test' },
    ],
  });
  t.teardown(() => b.close());
  const a = await startCucmCluster({
    domain: 'a.example.test',
    tftp: true,
    homeCluster: b.publisher.hostname,
    nodes: [
      { name: 'a-pub', hostname: 'cucm-pub.a.example.test' },
      { name: 'a-sub1', hostname: 'cucm-sub1.a.example.test' },
    ],
  });
  t.teardown(() => a.close());
  writeFileSync(join(dir, 'a-ca.pem'), a.caPem);
  writeFileSync(join(dir, 'b-ca.pem'), b.caPem);
  const gw = await startGatewayProcess(t, dir, {
    // Every public name is a SAN of the gateway's certificate.
    gateway: { fqdn: FQDN, altNames: [A, B] },
    listen: { https: [{ host: '127.0.0.1', port: 0 }] },
    tftp: { listen: { http: [{ host: '127.0.0.1', port: 0 }], https: [{ host: '127.0.0.1', port: 0 }] } },
    clusters: [clusterEntry('a', A, a, 'a-ca.pem'), clusterEntry('b', B, b, 'b-ca.pem')],
    routes: [
      { pathPrefix: '/cucm-uds/', cluster: 'a', methods: READ },
      { host: A, pathPrefix: '/cucm-uds/', cluster: 'a', methods: READ },
      { host: B, pathPrefix: '/cucm-uds/', cluster: 'b', methods: READ },
      // The phone services TFTP files link to: links only point at the gateway where it routes them (issue 15).
      { pathPrefix: '/ccmcip/', cluster: 'a' },
      { host: A, pathPrefix: '/ccmcip/', cluster: 'a' },
      { host: B, pathPrefix: '/ccmcip/', cluster: 'b' },
    ],
    log: { access: false },
  });
  const ca = await gw.trustPem();
  const tftpHttp = listenerPort(gw, 'tftp-http#');
  const tftpHttps = listenerPort(gw, 'tftp-https#');
  const leaks = leakPatterns([a, b]);
  const allNodes = [...a.nodes, ...b.nodes];
  const tftpRecords = () => allNodes.flatMap((node) => node.requests.filter((r) => r.service === 'tftp').map((r) => ({ node: node.name, url: r.url })));

  /** One step of the walk: through the gateway, 200, no node name anywhere the client can see it. */
  const step = async (t: Test, url: string, options: { auth?: boolean; keep?: RegExp } = {}) => {
    const target = new URL(url);
    const port = Number(target.port);
    const path = target.pathname + target.search;
    t.ok([gw.port, tftpHttp, tftpHttps].includes(port), `${url}: a gateway port`);
    t.ok([A, B].includes(target.hostname), `${url}: a public name`);
    const res: PlainAnswer =
      target.protocol === 'http:'
        ? await plainHttpGet(port, path, target.host)
        : await httpsRequest({
            host: '127.0.0.1',
            port,
            path,
            ca,
            servername: target.hostname,
            headers: { host: target.host, ...(options.auth ? { authorization: BASIC } : {}) },
          });
    t.equal(res.status, 200, `${path}: 200`);
    const visible = JSON.stringify(res.headers) + (options.keep ? res.text.replace(options.keep, '') : res.text);
    t.same(leaks.filter((re) => re.test(visible)).map(String), [], `${path}: no node name or node port in headers or body`);
    return res;
  };

  /**
   * Jabber's sign-in, from discovery to the configuration files; `between` runs after the server list.
   * Resolves to the path of the service profile file the user's UDS answer named.
   */
  const walk = async (t: Test, expectNode: RegExp, between?: () => Promise<void>): Promise<string> => {
    const start = `https://${A}:${gw.port}`;
    const version = await step(t, `${start}/cucm-uds/version`);
    t.match(version.text, '<versionInformation');
    t.match(version.headers['x-cucm-node'], /^a-/, 'discovery starts on cluster A');
    const user = await step(t, `${start}/cucm-uds/clusterUser?username=jdoe`);
    t.match(user.text, `>${B}</homeCluster>`, "cluster A names the user's home cluster: B's public name");
    const serversUri = /serversUri="([^"]+)"/.exec(user.text)?.[1];
    t.equal(serversUri, `https://${B}:${gw.port}/cucm-uds/servers`, 'serversUri points at the gateway under B\'s name');
    const servers = await step(t, serversUri!);
    t.match(servers.text, `<server>${B}</server>`, 'B\'s server list names the gateway');
    await between?.();
    const home = `https://${B}:${gw.port}`;
    const devices = await step(t, `${home}/cucm-uds/user/jdoe/devices`, { auth: true });
    t.match(devices.headers['x-cucm-node'], expectNode);
    const csf = /<name>(CSF[^<]+)<\/name>/.exec(devices.text)?.[1];
    t.equal(csf, 'CSFJDOE', "the user's softphone");
    const profile = await step(t, `${home}/cucm-uds/user/jdoe`, { auth: true });
    t.match(profile.headers['x-cucm-node'], expectNode);
    // CUCM 12.5+: `<serviceProfile><uri>http://{tftp}:6970/SP<pkid>.cnf.xml</uri>` and `<jabberProfile><uri>https://{tftp}:6972/JAB_<pkid>.cnf.xml</uri>`.
    const serviceProfile = /<serviceProfile><uri>([^<]+)<\/uri><\/serviceProfile>/.exec(profile.text)?.[1];
    t.match(serviceProfile, new RegExp(`^http://${B.replace(/\./g, '\\.')}:${tftpHttp}/SP[0-9a-f-]{36}\\.cnf\\.xml$`), 'the service profile URI names the TFTP listener (6970 → its HTTP port)');
    const jabberProfile = /<jabberProfile><uri>([^<]+)<\/uri><\/jabberProfile>/.exec(profile.text)?.[1];
    t.match(jabberProfile, new RegExp(`^https://${B.replace(/\./g, '\\.')}:${tftpHttps}/JAB_[0-9a-f-]{36}\\.cnf\\.xml$`), 'the Jabber profile URI names the TFTP listener (6972 → its HTTPS port)');
    const sp = await step(t, serviceProfile!);
    t.match(sp.headers['x-cucm-node'], expectNode, 'the service profile came from B');
    const config = await step(t, `https://${B}:${tftpHttps}/jabber-config.xml`);
    t.match(config.headers['x-cucm-node'], expectNode);
    t.match(config.text, `<url>https://${B}:${gw.port}/ccmcip/xmldirectory.jsp</url>`, 'a service URL in jabber-config.xml points at the gateway\'s HTTPS listener');
    const device = await step(t, `https://${B}:${tftpHttps}/${csf}.cnf.xml`, { keep: CALL_MANAGER });
    t.match(device.headers['x-cucm-node'], expectNode);
    t.match(device.text, `<directoryURL>https://${B}:${gw.port}/ccmcip/xmldirectory.jsp</directoryURL>`, 'phone-service URLs (8080) go to the gateway\'s HTTPS listener');
    t.match(device.text, `<secureAuthenticationURL>https://${B}:${gw.port}/ccmcip/authenticate.jsp</secureAuthenticationURL>`);
    for (const node of b.nodes) {
      t.match(device.text, `<processNodeName>${node.hostname}</processNodeName>`, `SIP call control keeps ${node.hostname}: Jabber registers there directly`);
    }
    return new URL(serviceProfile!).pathname;
  };

  await t.test('the whole walk ends on cluster B', async (t) => {
    const before = new Map(allNodes.map((node) => [node, node.requests.length]));
    // Cluster B, not one node: a slow answer may be hedged to B's subscriber on a loaded machine.
    const serviceProfile = await walk(t, /^b-(pub|sub1)$/);
    const tftpOn = (node: CucmNode) => node.requests.slice(before.get(node)).filter((r) => r.service === 'tftp').map((r) => r.url);
    t.same(tftpOn(b.publisher), [serviceProfile, '/jabber-config.xml', '/CSFJDOE.cnf.xml'], "B's publisher (priority 1) was asked for the configuration files");
    t.same(a.nodes.flatMap(tftpOn), [], "cluster A's TFTP servers were never asked");
    const gatewayFetched = b.publisher.requests.slice(before.get(b.publisher)).filter((r) => r.service === 'tftp');
    t.ok(gatewayFetched.every((r) => r.headers.host === `${b.publisher.hostname}:${b.publisher.tftpPort}`), 'the gateway fetched them under the node\'s own name');
  });

  await t.test('the TFTP listener picks the cluster by the name the client used', async (t) => {
    const res = await plainHttpGet(tftpHttp, '/jabber-config.xml', `${A}:${tftpHttp}`);
    t.equal(res.status, 200);
    t.match(res.headers['x-cucm-node'], /^a-/, "A's public name: A's TFTP server");
    t.match(res.text, `https://${A}:${gw.port}/ccmcip/`, "and its URLs name A's public name");
  });

  await t.test("B's publisher stopped mid-walk: the walk completes on B's subscriber", async (t) => {
    await walk(t, /^b-sub1$/, async () => {
      await b.publisher.stop();
    });
    t.notOk(b.publisher.listening, 'the publisher really is down');
  });

  await t.test('the TFTP listeners refuse everything but allowed file names, before any node sees it', async (t) => {
    const seen = tftpRecords().length;
    const targets = [
      '/../jabber-config.xml',
      '/%2e%2e/jabber-config.xml',
      '/%2E%2E%2Fjabber-config.xml',
      '/..%2fjabber-config.xml',
      '/ITLFile.tlv',
      '/SEP001122334455.cnf.xml',
      '/CSFJDOE.cnf.xml.sgn',
      '/',
      '/sub/jabber-config.xml',
      '//jabber-config.xml',
      '/jabber-config.xml/',
      '/jabber-config.xml%00',
      `http://${B}/jabber-config.xml`,
    ];
    for (const path of targets) {
      const plain = await plainHttpGet(tftpHttp, path, B);
      t.equal(plain.status, 404, `http ${path}: 404`);
      const secure = await httpsRequest({ host: '127.0.0.1', port: tftpHttps, path, ca, servername: B, headers: { host: B } });
      t.equal(secure.status, 404, `https ${path}: 404`);
    }
    const post = await plainHttpGet(tftpHttp, '/jabber-config.xml', B, 'POST');
    t.equal(post.status, 405, 'POST: 405');
    t.equal(post.headers.allow, 'GET, HEAD');
    t.same(tftpRecords().slice(seen), [], 'not one of them reached a node');
    const ok = await plainHttpGet(tftpHttp, '/jabber-config.xml', B);
    t.equal(ok.status, 200, 'while an allowed name still goes through');
    await waitFor(() => tftpRecords().length > seen, { timeoutMs: 2000, message: 'the allowed request recorded' });
  });
});
