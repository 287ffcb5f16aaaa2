/**
 * Issue 16, Jabber's configuration files, end to end: a real gateway (two
 * workers) with the TFTP listeners on, in front of a simulated CUCM 14
 * cluster whose nodes run TFTP. Jabber's order: the user's service profile
 * (its TFTP server list now names the gateway), the 12.5+ `JAB_` file, the
 * CSF device file, then the group configuration file the CSF file's Cisco
 * Support Field names — which no allow-list entry covers: it is 404 (and
 * never reaches a node) until the gateway has passed the CSF file, then
 * allowed on every worker and listed in the status document. A device file
 * that names an unsafe file teaches nothing.
 */
import t from 'tap';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest, plainHttpGet, waitFor, type HttpsResponse, type PlainAnswer } from '../helpers/net.js';
import { adminPortOf, FQDN, startClusterGateway, TEST_ADMIN_TOKEN } from '../helpers/gateway.js';

const BASIC = `Basic ${Buffer.from('jdoe:secret').toString('base64')}`;
const GROUP_FILE = 'SalesGroup.xml';

t.test('Jabber fetches its service profile, JAB_ file, CSF file and the group file the CSF file names, all through the gateway', async (t) => {
  const cucm = await startCucmCluster({
    domain: 'example.test',
    tftp: true,
    users: { jdoe: 'secret', mallory: 'secret' },
    // The service profile lists TFTP servers as System > Server names them: short name, then FQDN.
    tftpServers: ['CUCM-PUB', 'cucm-sub1.example.test'],
    ciscoSupportField: { jdoe: `configurationFile=${GROUP_FILE}`, mallory: 'configurationFile=../jabber-config.xml' },
  });
  t.teardown(() => cucm.close());
  const tftpNodes = cucm.nodes.map((node, i) => ({ name: node.name, url: `https://${node.hostname}:${node.tftpPort}`, address: '127.0.0.1', priority: i + 1 }));
  const { gw, ca } = await startClusterGateway(
    t,
    cucm,
    { tftp: { nodes: tftpNodes }, healthCheck: { path: '/cucm-uds/version', intervalMs: 250, timeoutMs: 600, fall: 2, rise: 2, expectStatus: 200 } },
    // The TFTP listeners with their defaults (allow-list included), on free ports instead of 6970/6972.
    // The access log says which worker (pid) answered what.
    { workers: 2, tftp: { listen: { http: [{ host: '127.0.0.1', port: 0 }], https: [{ host: '127.0.0.1', port: 0 }] } }, log: { access: true } },
  );
  const ready = gw.logs.find((line) => line.event === 'gateway_ready') as { listeners: { name: string; port: number }[] };
  const portOf = (prefix: string) => ready.listeners.find((listener) => listener.name.startsWith(prefix))!.port;
  const tftpHttp = portOf('tftp-http#');
  const tftpHttps = portOf('tftp-https#');
  const tftpRequests = () => cucm.nodes.flatMap((node) => node.requests.filter((r) => r.service === 'tftp').map((r) => r.url));
  const nodeNames = cucm.nodes.flatMap((node) => [node.hostname, node.hostname.split('.')[0]!]);
  const leaks = (text: string) => nodeNames.filter((name) => new RegExp(`(?<![\\w.-])${name.replace(/\./g, '\\.')}(?![\\w-])`, 'i').test(text));

  const get = async (url: string, auth = false): Promise<HttpsResponse | PlainAnswer> => {
    const target = new URL(url);
    t.equal(target.hostname, FQDN, `${url} names the gateway`);
    t.ok([gw.port, tftpHttp, tftpHttps].includes(Number(target.port)), `${url}: a gateway port`);
    if (target.protocol === 'http:') return plainHttpGet(Number(target.port), target.pathname, target.host);
    return httpsRequest({ host: '127.0.0.1', port: Number(target.port), path: target.pathname + target.search, ca, servername: FQDN, headers: { host: target.host, ...(auth ? { authorization: BASIC } : {}) } });
  };
  const status = async () => {
    const res = await fetch(`http://127.0.0.1:${adminPortOf(gw)}/api/v1/status`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    return (await res.json()) as { clusters: { name: string; learnedTftpFiles?: string[]; learnedTftpFilesLimit?: number }[] };
  };

  const user = await get(`https://${FQDN}:${gw.port}/cucm-uds/user/jdoe`, true);
  t.equal(user.status, 200, 'the user');
  const serviceProfile = /<serviceProfile>\s*<uri>([^<]+)<\/uri>/.exec(user.text)?.[1];
  const jabberProfile = /<jabberProfile>\s*<uri>([^<]+)<\/uri>/.exec(user.text)?.[1];
  t.match(serviceProfile, new RegExp(`^http://${FQDN}:${tftpHttp}/SP[^/]+\\.cnf\\.xml$`), 'the service profile on the TFTP HTTP listener (6970)');
  t.match(jabberProfile, new RegExp(`^https://${FQDN}:${tftpHttps}/JAB_[^/]+\\.cnf\\.xml$`), 'the Jabber profile on the TFTP HTTPS listener (6972)');

  const before = tftpRequests().length;
  const early = await get(`https://${FQDN}:${tftpHttps}/${GROUP_FILE}`);
  t.equal(early.status, 404, 'the group file before any CSF file named it: 404 at the gateway');
  t.same(tftpRequests().slice(before), [], 'and no node was asked for it');
  t.same((await status()).clusters[0]!.learnedTftpFiles, [], 'nothing learned yet');

  const sp = await get(serviceProfile!);
  t.equal(sp.status, 200, 'the service profile');
  t.match(sp.text, `<TftpServer1>${FQDN}</TftpServer1><TftpServer2>${FQDN}</TftpServer2>`, "its TFTP server list names the gateway, as the client named it");
  t.same(leaks(sp.text), [], 'no node name left in it');

  const jab = await get(jabberProfile!);
  t.equal(jab.status, 200, 'the JAB_ file: allowed by the default allow-list');
  t.match(jab.text, '<config');

  const csf = await get(`https://${FQDN}:${tftpHttps}/CSFJDOE.cnf.xml`);
  t.equal(csf.status, 200, 'the CSF file');
  t.match(csf.text, `configurationFile=${GROUP_FILE}`, 'its Cisco Support Field names the group file');
  for (const node of cucm.nodes) t.match(csf.text, `<processNodeName>${node.hostname}</processNodeName>`, 'SIP call control keeps the node names');

  const learned = await gw.waitForLog((line) => line.event === 'tftp_file_learned');
  t.match(learned, { cluster: 'cucm', names: [GROUP_FILE] }, 'the primary took note');
  // Fresh connections land on either worker (processes take turns; threads by the kernel's hash of the
  // connection), so both must allow it: the one that passed the CSF file told the primary, the primary the other.
  const groupUrl = (i: number) => (i % 2 === 0 ? `https://${FQDN}:${tftpHttps}/${GROUP_FILE}` : `http://${FQDN}:${tftpHttp}/${GROUP_FILE}`);
  for (let i = 0; i < 4; i++) {
    const group = await get(groupUrl(i));
    t.equal(group.status, 200, `the group file, request ${i + 1}`);
    t.match(group.text, '<config', 'from the node');
  }
  /** The worker (cluster worker id or thread id) behind each access line for `path` with `status`. */
  const answered = (path: string, status: number) => gw.logs.filter((line) => line.event === 'access' && line.path === path && line.status === status).map((line) => line.worker);
  await waitFor(() => answered(`/${GROUP_FILE}`, 200).length === 4, { timeoutMs: 5000, message: 'access log lines' });
  const learner = answered('/CSFJDOE.cnf.xml', 200)[0];
  // Up to 40 more connections until one lands on the other worker (all on one: odds of 2^-44).
  const statuses: number[] = [];
  for (let i = 0; i < 40 && !answered(`/${GROUP_FILE}`, 200).some((worker) => worker !== learner); i++) {
    statuses.push((await get(groupUrl(i))).status);
    await waitFor(() => answered(`/${GROUP_FILE}`, 200).length === 5 + i, { timeoutMs: 5000, message: 'access log line' }).catch(() => undefined);
  }
  t.same(statuses.filter((status) => status !== 200), [], 'every further request for the group file answered 200');
  t.ok(answered(`/${GROUP_FILE}`, 200).some((worker) => worker !== learner), `a worker that never saw the CSF file allowed the group file too (learner ${String(learner)}, answered by ${[...new Set(answered(`/${GROUP_FILE}`, 200))].join(', ')})`);
  t.equal((await get(`https://${FQDN}:${tftpHttps}/salesgroup.xml`)).status, 404, 'only the name as the CSF file wrote it');
  const view = (await status()).clusters[0]!;
  t.same(view.learnedTftpFiles, [GROUP_FILE], 'the status document lists the learned name for the cluster');
  t.equal(view.learnedTftpFilesLimit, 1000);

  const evil = await get(`https://${FQDN}:${tftpHttps}/CSFMALLORY.cnf.xml`);
  t.equal(evil.status, 200, "a device file naming '../jabber-config.xml' passes as it is");
  await gw.waitForLog((line) => line.event === 'tftp_file_refused');
  const seen = tftpRequests().length;
  // Sent as written (a URL object would resolve the dots away before they left).
  for (const path of ['/../jabber-config.xml', '/..%2fjabber-config.xml', '/%2e%2e/jabber-config.xml']) {
    const res = await httpsRequest({ host: '127.0.0.1', port: tftpHttps, path, ca, servername: FQDN, headers: { host: FQDN } });
    t.equal(res.status, 404, `${path}: still 404`);
  }
  t.same(tftpRequests().slice(seen), [], 'never reaching a node');
  t.same((await status()).clusters[0]!.learnedTftpFiles, [GROUP_FILE], 'nothing unsafe was learned');

  const asked = tftpRequests();
  t.ok(asked.some((url) => /^\/SP[^/]+\.cnf\.xml$/.test(url)) && asked.some((url) => /^\/JAB_/.test(url)), 'the node served the service profile and the JAB_ file');
  t.equal(asked.filter((url) => url === `/${GROUP_FILE}`).length, 4 + statuses.length, `the group file reached a node only once allowed (${4 + statuses.length} requests for it)`);
});
