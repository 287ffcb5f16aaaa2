import t, { type Test } from 'tap';
import https from 'node:https';
import { createHash } from 'node:crypto';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { startCucmNode, type CucmNode, type CucmNodeOptions, type RecordedRequest } from '../../src/sim/cucm-node.js';
import { issueLeaf } from '../../src/pki/x509.js';
import { simulatedBytes } from '../../src/sim/test-endpoints.js';
import { httpsRequest, once, waitFor, type HttpsRequestOptions, type NetworkError } from '../helpers/net.js';

// Actions (EM login and the like) take 1.5 s by default, as on a real node; these tests need no wait.
const cluster = await startCucmCluster({ actionDelayMs: 0 });
t.teardown(() => cluster.close());
const pub = cluster.node('pub');
const sub1 = cluster.node('sub1');

function request(node: CucmNode, path: string, options: Omit<HttpsRequestOptions, 'url' | 'path'> = {}) {
  return httpsRequest({ url: node.url, path, ca: cluster.caPem, servername: node.hostname, ...options });
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

async function rejection(promise: Promise<unknown>): Promise<NetworkError> {
  try {
    await promise;
  } catch (err) {
    return err as NetworkError;
  }
  throw new Error('expected the request to fail');
}

const SOLO_HOSTNAME = 'cucm-solo.example.test';
const soloLeaf = await issueLeaf({ issuer: cluster.ca, commonName: SOLO_HOSTNAME, subjectAltNames: [SOLO_HOSTNAME, '127.0.0.1'] });

/** A node of its own, for tests that break it or count its requests. */
async function privateNode(t: Test, options: Partial<CucmNodeOptions> = {}): Promise<CucmNode> {
  const node = await startCucmNode({ name: 'solo', hostname: SOLO_HOSTNAME, ...soloLeaf, ...options });
  t.teardown(() => node.close());
  return node;
}

t.test('cluster: two nodes with certificates for their FQDN and 127.0.0.1', async (t) => {
  t.same(
    cluster.nodes.map((n) => [n.name, n.hostname]),
    [
      ['pub', 'cucm-pub.example.test'],
      ['sub1', 'cucm-sub1.example.test'],
    ],
  );
  t.not(pub.port, sub1.port);
  t.equal(pub.url, `https://127.0.0.1:${pub.port}`);
  const byName = await request(sub1, '/cucm-uds/version');
  t.ok(byName.socket.authorized, 'verified against the cluster CA with SNI = FQDN');
  t.equal(byName.socket.peerCertificate.subjectCommonName, 'cucm-sub1.example.test');
  const byIp = await httpsRequest({ url: `${sub1.url}/cucm-uds/version`, ca: cluster.caPem });
  t.equal(byIp.status, 200, 'the IP SAN verifies too');
  const wrongName = await rejection(request(sub1, '/cucm-uds/version', { servername: 'other.example.test' }));
  t.equal(wrongName.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
});

t.test('UDS version, servers and clusterUser', async (t) => {
  const version = await request(pub, '/cucm-uds/version');
  t.equal(version.status, 200);
  t.match(version.headers['content-type'], /^text\/xml/);
  t.equal(version.headers['x-cucm-node'], 'pub');
  t.equal(
    version.text,
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><versionInformation uri="https://cucm-pub.example.test/cucm-uds/version" version="10.0.0">' +
      '<version>14.0.1</version><capabilities><usersResourceAuthEnabled>false</usersResourceAuthEnabled></capabilities></versionInformation>',
    'schema version 10.0.0, the release as x.y.z, no port in the uri',
  );

  const servers = await request(sub1, '/cucm-uds/servers');
  t.equal(servers.headers['x-cucm-node'], 'sub1');
  t.match(servers.text, '<servers version="14.0.1" uri="https://cucm-sub1.example.test:8443/cucm-uds/servers">');
  t.match(servers.text, '<server>CUCM-PUB</server><server>127.0.0.1</server></servers>', 'System > Server names: the publisher by name, the subscriber by address');

  const found = await request(sub1, '/cucm-uds/clusterUser?username=jdoe');
  t.match(found.text, '<clusterUser version="14.0.1" uri="https://cucm-sub1.example.test/cucm-uds/clusterUser?username=jdoe">');
  t.match(found.text, '<result found="true" uri="https://cucm-pub.example.test:8443/cucm-uds/user/jdoe" version="14.0.1"/>');
  t.match(found.text, '<homeCluster serversUri="https://cucm-pub.example.test:8443/cucm-uds/servers">cucm-pub.example.test</homeCluster>');

  const missing = await request(pub, '/cucm-uds/clusterUser?username=nobody');
  t.match(missing.text, '<result found="false"/></clusterUser>');
  t.notMatch(missing.text, '<homeCluster');

  const hostile = await request(pub, `/cucm-uds/clusterUser?username=${encodeURIComponent('a<b>&"c')}`);
  t.match(hostile.text, 'uri="https://cucm-pub.example.test/cucm-uds/clusterUser?username=a%3Cb%3E%26%22c"', 'echoed names are encoded');
  t.equal((await request(pub, '/cucm-uds/clusterUser')).status, 400);
});

t.test('UDS user resources need HTTP Basic', async (t) => {
  const anonymous = await request(pub, '/cucm-uds/user/jdoe/devices');
  t.equal(anonymous.status, 401);
  t.equal(anonymous.headers['www-authenticate'], 'Basic realm="Cisco UDS"');
  t.equal(anonymous.headers['x-cucm-node'], 'pub');
  const wrong = await request(pub, '/cucm-uds/user/jdoe', { headers: { authorization: basic('jdoe', 'nope') } });
  t.equal(wrong.status, 401);

  const auth = { authorization: basic('jdoe', 'secret') };
  const devices = await request(sub1, '/cucm-uds/user/jdoe/devices', { headers: auth });
  t.equal(devices.status, 200);
  t.match(devices.text, '<devices uri="https://cucm-sub1.example.test/cucm-uds/user/jdoe/devices" version="14.0.1">');
  t.match(devices.text, /<device uri="https:\/\/cucm-sub1\.example\.test\/cucm-uds\/user\/jdoe\/device\/[0-9a-f-]{36}">/);
  t.match(devices.text, '<name>CSFJDOE</name>');
  const samePub = await request(pub, '/cucm-uds/user/jdoe/devices', { headers: auth });
  t.equal(
    samePub.text.replaceAll('cucm-pub', 'cucm-sub1'),
    devices.text,
    'every node reads the same database: only the host names differ',
  );

  const user = await request(pub, '/cucm-uds/user/jdoe', { headers: auth });
  t.equal(user.status, 200);
  t.match(user.text, '<user version="14.0.1" uri="https://cucm-pub.example.test:8443/cucm-uds/user/jdoe">');
  t.match(user.text, '<userName>jdoe</userName>');
  t.match(user.text, /<serviceProfile><uri>http:\/\/CUCM-PUB:6970\/SP[0-9a-f-]{36}\.cnf\.xml<\/uri><\/serviceProfile>/);

  const other = await request(pub, '/cucm-uds/user/someoneelse', { headers: auth });
  t.equal(other.status, 403, "another user's resources are forbidden");

  const custom = await privateNode(t, { users: { alice: 'pw' } });
  t.equal((await request(custom, '/cucm-uds/user/alice', { headers: { authorization: basic('alice', 'pw') } })).status, 200);
  t.equal((await request(custom, '/cucm-uds/user/jdoe', { headers: auth })).status, 401, 'users replace the default');
});

t.test('phone directory: XML objects naming the node, JSESSIONID per session', async (t) => {
  const menu = await request(pub, '/ccmcip/xmldirectory.jsp');
  t.equal(menu.status, 200);
  t.match(menu.text, /^<CiscoIPPhoneMenu><Title>Directories<\/Title>/);
  t.match(menu.text, '<MenuItem><Name>Corporate Directory</Name><URL>http://cucm-pub.example.test:8080/ccmcip/xmldirectoryinput.jsp</URL></MenuItem>');
  const cookie = menu.headers['set-cookie']?.[0] ?? '';
  // Tomcat's default cookie path, as a capture of CUCM's own answer shows (tomcat-session.ts).
  const match = /^JSESSIONID=([0-9A-F]{32}); Path=\/ccmcip; Secure; HttpOnly$/.exec(cookie);
  t.ok(match, `a session cookie: ${cookie}`);
  t.ok(pub.sessions.has(match![1]!));

  const again = await request(pub, '/ccmcip/xmldirectorylist.jsp?l=must', { headers: { cookie: `JSESSIONID=${match![1]}` } });
  t.equal(again.headers['set-cookie'], undefined, 'a known session keeps its cookie');
  t.match(again.text, /^<CiscoIPPhoneDirectory><Title>Corporate Directory<\/Title><Prompt>Records 1 to 2 of 2<\/Prompt>/);
  t.match(again.text, '<DirectoryEntry><Name>Mustermann, Max</Name><Telephone>1003</Telephone></DirectoryEntry>');
  t.match(again.text, '<SoftKeyItem><Name>Search</Name><URL>http://cucm-pub.example.test:8080/ccmcip/xmldirectoryinput.jsp</URL>');

  const elsewhere = await request(sub1, '/ccmcip/xmldirectory.jsp', { headers: { cookie: `JSESSIONID=${match![1]}` } });
  t.match(elsewhere.headers['set-cookie']?.[0], /^JSESSIONID=/, 'another node does not know the session and starts a new one');
  t.not(elsewhere.headers['set-cookie']?.[0], cookie);

  const input = await request(sub1, '/ccmcip/xmldirectoryinput.jsp');
  t.match(input.text, '<URL>http://cucm-sub1.example.test:8080/ccmcip/xmldirectorylist.jsp</URL>');
});

t.test('Extension Mobility login', async (t) => {
  const ok = await request(pub, '/emapp/EMAppServlet?device=SEP001122334455&userid=jdoe&seq=12345');
  t.equal(ok.status, 200);
  t.match(ok.text, /^<CiscoIPPhoneText><Title>Extension Mobility<\/Title>/);
  t.match(ok.text, 'Login successful');
  t.match(ok.text, 'http://cucm-pub.example.test:8080/emapp/EMAppServlet?device=SEP001122334455&#38;doLogout=true');
  t.notMatch(ok.text, '12345', 'the PIN is never echoed');

  const bad = await request(pub, '/emapp/EMAppServlet?device=SEP001122334455&userid=jdoe&seq=99999');
  t.match(bad.text, 'Please try to login again (201)', "EM's error 201 as the phone displays it");
  const posted = await request(sub1, '/emapp/EMAppServlet', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'device=SEP001122334455&userid=jdoe&seq=12345',
  });
  t.match(posted.text, 'Login successful');
  t.equal(posted.headers['x-cucm-node'], 'sub1');
});

t.test('test endpoints', async (t) => {
  const n = 300_001;
  const bytes = await request(pub, `/ucgate-test/bytes?n=${n}`);
  t.equal(bytes.headers['content-length'], String(n));
  t.ok(bytes.body.equals(simulatedBytes(0, n)), 'bytes are the deterministic sequence');
  t.ok(simulatedBytes(5, 10).equals(simulatedBytes(0, 20).subarray(5, 15)), 'any slice can be produced alone');
  const edge = 4 * 1024 * 1024;
  t.ok(
    simulatedBytes(edge - 6, 13).equals(Buffer.concat([simulatedBytes(edge - 6, 6), simulatedBytes(edge, 7)])),
    'the cached prefix and the generator agree at unaligned offsets',
  );

  const chunked = await request(pub, `/ucgate-test/chunked?n=${n}&chunks=7`);
  t.equal(chunked.headers['content-length'], undefined);
  t.equal(chunked.headers['transfer-encoding'], 'chunked');
  t.ok(chunked.body.equals(simulatedBytes(0, n)));

  const payload = simulatedBytes(1000, 200_000);
  const echo = await request(pub, '/ucgate-test/echo', { method: 'PUT', headers: { 'content-type': 'application/x-test' }, body: payload });
  t.equal(echo.status, 200);
  t.equal(echo.headers['content-type'], 'application/x-test');
  t.equal(echo.headers['x-body-sha256'], createHash('sha256').update(payload).digest('hex'));
  t.ok(echo.body.equals(payload));
  t.equal((await request(pub, '/ucgate-test/echo')).status, 405);

  const headers = await request(pub, '/ucgate-test/headers?a=1&b=%2F/x', { headers: { 'X-Custom': 'One' } });
  const reflected = JSON.parse(headers.text);
  t.equal(reflected.url, '/ucgate-test/headers?a=1&b=%2F/x', 'the raw target');
  t.equal(reflected.headers['x-custom'], 'One');
  t.ok(reflected.rawHeaders.includes('X-Custom'), 'raw header names keep their case');
  t.equal(reflected.servername, 'cucm-pub.example.test');

  const started = Date.now();
  const slow = await request(pub, '/ucgate-test/slow?ms=150');
  t.equal(slow.status, 200);
  t.ok(Date.now() - started >= 140, 'answers after the delay');

  const redirect = await request(sub1, '/ucgate-test/redirect');
  t.equal(redirect.status, 302);
  t.equal(redirect.headers.location, 'https://cucm-sub1.example.test:8443/cucm-uds/version');

  const missing = await request(sub1, '/ccmadmin/showHome.do');
  t.equal(missing.status, 404);
  t.equal(missing.headers['x-cucm-node'], 'sub1');
  t.equal((await request(sub1, '/ucgate-test/bytes?n=abc')).status, 400);
});

t.test('requests are recorded and announced', async (t) => {
  const node = await privateNode(t);
  const announced = once<[RecordedRequest]>(node.events, 'request');
  await request(node, '/ucgate-test/echo?x=%41', { method: 'POST', body: 'hello', headers: { 'x-trace': 'abc' } });
  const [record] = await announced;
  t.equal(node.requestCount, 1);
  t.equal(node.requests[0], record);
  t.equal(record.method, 'POST');
  t.equal(record.url, '/ucgate-test/echo?x=%41');
  t.equal(record.headers['x-trace'], 'abc');
  t.equal(record.bodyLength, 5);
  t.equal(record.servername, node.hostname);
  t.equal(record.status, 200);
  t.ok(Math.abs(record.time - Date.now()) < 5_000);
  node.clearRequests();
  t.equal(node.requestCount, 0);
});

t.test('keep-alive: requests share one connection', async (t) => {
  const node = await privateNode(t);
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const first = await request(node, '/cucm-uds/version', { agent });
  const second = await request(node, '/cucm-uds/servers', { agent });
  t.equal(first.socket.localPort, second.socket.localPort);
  t.equal(node.connectionCount, 1);
  t.equal(node.requestCount, 2);
});

t.test("behaviour 'hang', then back to 'normal'", async (t) => {
  const node = await privateNode(t);
  node.setBehaviour('hang');
  t.equal(node.behaviour, 'hang');
  const err = await rejection(request(node, '/cucm-uds/version', { timeoutMs: 300 }));
  t.equal(err.code, 'ETIMEDOUT');
  t.equal(node.requestCount, 1, 'the hung request did reach the node');
  t.equal(node.requests[0]!.status, undefined);
  node.setBehaviour('normal');
  t.equal((await request(node, '/cucm-uds/version')).status, 200);
});

t.test("behaviour 'status' answers everything with it", async (t) => {
  const node = await privateNode(t);
  node.setBehaviour({ status: 503, headers: { 'Retry-After': '30' }, body: 'busy' });
  for (const path of ['/cucm-uds/version', '/nothing-here']) {
    const res = await request(node, path);
    t.equal(res.status, 503);
    t.equal(res.headers['retry-after'], '30');
    t.equal(res.headers['x-cucm-node'], 'solo');
    t.equal(res.text, 'busy');
  }
  node.setBehaviour('status', { status: 500 });
  t.equal((await request(node, '/cucm-uds/version')).status, 500);
  t.same(node.behaviour, { kind: 'status', status: 500 });
});

t.test("behaviour 'reset' and 'blackhole'", async (t) => {
  const node = await privateNode(t);
  node.setBehaviour('reset');
  const reset = await rejection(request(node, '/cucm-uds/version'));
  t.equal(reset.code, 'ECONNRESET');
  t.equal(node.requestCount, 1);

  node.setBehaviour('blackhole');
  const connected = once(node.events, 'connection');
  const hole = await rejection(request(node, '/cucm-uds/version', { timeoutMs: 300 }));
  await connected;
  t.equal(hole.code, 'ETIMEDOUT', 'TCP accepted, TLS never answered');
  t.equal(node.requestCount, 1, 'no request got through');

  node.setBehaviour('normal');
  t.equal((await request(node, '/cucm-uds/version')).status, 200);
});

t.test('stop() refuses connections, restart() serves on the same port', async (t) => {
  const node = await privateNode(t);
  const port = node.port;
  await node.stop();
  t.equal(node.listening, false);
  const refused = await rejection(request(node, '/cucm-uds/version'));
  t.equal(refused.code, 'ECONNREFUSED');
  await node.restart();
  t.equal(node.port, port);
  t.equal((await request(node, '/cucm-uds/version')).status, 200);
});

t.test('close() resolves promptly with an idle keep-alive socket, a hung and a slow request', async (t) => {
  const node = await privateNode(t);
  const agent = new https.Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  await request(node, '/cucm-uds/version', { agent });
  const slow = rejection(request(node, '/ucgate-test/slow?ms=60000', { timeoutMs: 60_000 }));
  node.setBehaviour('hang');
  const hung = rejection(request(node, '/cucm-uds/version', { timeoutMs: 60_000 }));
  await waitFor(() => node.requestCount === 3, { message: 'both requests reached the node' });

  const started = Date.now();
  await node.close();
  t.ok(Date.now() - started < 1_000, `closed in ${Date.now() - started} ms`);
  t.match((await slow).code, /ECONNRESET|ECONNREFUSED/);
  t.match((await hung).code, /ECONNRESET|ECONNREFUSED/);
  await node.close();
  t.pass('closing twice is harmless');
});

t.test('waitFor and once give up with a message', async (t) => {
  await t.rejects(waitFor(() => false, { timeoutMs: 30, message: 'the impossible' }), /the impossible not met within 30 ms/);
  await t.rejects(once(pub.events, 'never', 30), /no 'never' event within 30 ms/);
  t.equal(await waitFor(() => 42), 42);
});
