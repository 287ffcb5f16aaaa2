/**
 * The core gateway end to end: a real `ucgate start` process terminating TLS
 * on its own certificate and re-encrypting to simulated CUCM nodes that speak
 * HTTPS under their own CA.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest, waitFor } from '../helpers/net.js';
import { startGatewayProcess, clusterConfig, TEST_ROUTES, FQDN, clientRequests } from '../helpers/gateway.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

t.test('core gateway', async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const caFile = join(dir, 'cucm-ca.pem');
  writeFileSync(caFile, cucm.caPem);
  const gw = await startGatewayProcess(t, dir, {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }] },
    clusters: [clusterConfig(cucm, caFile)],
    routes: TEST_ROUTES,
  });
  const ca = await gw.trustPem();
  const viaGateway = (path: string, extra: Partial<Parameters<typeof httpsRequest>[0]> = {}) =>
    httpsRequest({ host: '127.0.0.1', port: gw.port, path, ca, servername: FQDN, ...extra });
  const direct = (path: string) => httpsRequest({ host: '127.0.0.1', port: cucm.publisher.port, path, ca: cucm.caPem, servername: cucm.publisher.hostname });

  t.test('a small XML answer arrives byte for byte, over a certificate the client verifies', async (t) => {
    const res = await viaGateway('/cucm-uds/version');
    t.equal(res.status, 200);
    t.ok(res.socket.authorized, 'client verified the gateway certificate against the exported trust PEM and the FQDN');
    t.equal(res.socket.peerCertificate.subjectCommonName, FQDN);
    t.equal(res.headers['x-cucm-node'], 'pub', 'the publisher answered');
    const reference = await direct('/cucm-uds/version');
    // The one difference allowed: the node's own URL in the body now names the gateway. CUCM writes it
    // without a port (`uri="https://{host}/cucm-uds/version"`); the gateway adds its listener's.
    const nodeUrl = `https://${cucm.publisher.hostname}/`;
    t.ok(reference.text.includes(nodeUrl), 'the node names itself in the body');
    t.equal(res.text, reference.text.replace(nodeUrl, `https://${FQDN}:${gw.port}/`));
    t.equal(res.headers['content-type'], reference.headers['content-type']);
  });

  t.test('1 MiB with content-length', async (t) => {
    const path = '/ucgate-test/bytes?n=1048576';
    const [res, reference] = await Promise.all([viaGateway(path), direct(path)]);
    t.equal(res.status, 200);
    t.equal(res.body.length, 1048576);
    t.equal(sha256(res.body), sha256(reference.body));
  });

  t.test('a chunked body', async (t) => {
    const path = '/ucgate-test/chunked?n=300000&chunks=37';
    const [res, reference] = await Promise.all([viaGateway(path), direct(path)]);
    t.equal(res.status, 200);
    t.equal(res.headers['transfer-encoding'], 'chunked');
    t.equal(sha256(res.body), sha256(reference.body));
  });

  t.test('a POST body reaches the node intact', async (t) => {
    const body = Buffer.alloc(200_000, 'phone-xml-');
    const res = await viaGateway('/ucgate-test/echo', { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    t.equal(res.status, 200);
    t.equal(res.headers['x-body-sha256'], sha256(body));
    t.equal(sha256(res.body), sha256(body));
  });

  t.test('upstream sees the node name as Host and SNI, and X-Forwarded-*', async (t) => {
    const res = await viaGateway('/ucgate-test/headers', { headers: { host: `${FQDN}:${gw.port}`, connection: 'close' } });
    const seen = JSON.parse(res.text) as { headers: Record<string, string> };
    t.equal(seen.headers.host, `${cucm.publisher.hostname}:${cucm.publisher.port}`);
    t.equal(seen.headers['x-forwarded-proto'], 'https');
    t.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    t.equal(seen.headers['x-forwarded-host'], `${FQDN}:${gw.port}`);
    t.not(seen.headers.connection, 'close', "the client's Connection header is not forwarded");
    const last = cucm.publisher.requests.at(-1)!;
    t.equal(last.servername, cucm.publisher.hostname, 'SNI is the node name');
  });

  t.test('unknown paths 404, wrong methods 405', async (t) => {
    t.equal((await viaGateway('/nothing-here')).status, 404);
    const res = await viaGateway('/cucm-uds/version', { method: 'POST', body: 'x' });
    t.equal(res.status, 405);
    t.match(res.headers.allow, /GET/);
  });

  t.test('administration paths never reach a node', async (t) => {
    const before = cucm.nodes.map((node) => clientRequests(node));
    const attempts = [
      '/ccmadmin',
      '/ccmadmin/showHome.do',
      '/CCMADMIN',
      '/%63cmadmin',
      '//ccmadmin',
      '/cucm-uds/../ccmadmin',
      '/ccmadmin;x=y',
      '/cucm-uds/%2e%2e/axl/',
      '/cucm-uds/..%2faxl/',
      '/cucm-uds/..%5caxl/',
      '/%2563cmadmin',
      '/./ccmadmin/',
      '/axl/',
      '/platformcom/api/v1/certmgr/config/trust/certificates',
      '/realtimeservice2/services/RISService70',
      '/ucgate-test/../../ccmservice/',
      '/ucgate-test/%2e%2e/%2e%2e/cmplatform',
    ];
    for (const path of attempts) {
      const res = await viaGateway(path);
      t.ok(res.status === 403 || res.status === 400, `${path} refused (${res.status})`);
    }
    t.same(cucm.nodes.map((node) => clientRequests(node)), before, 'no node received any of them');
  });

  t.test('with the publisher stopped, the subscriber answers', async (t) => {
    await cucm.publisher.stop();
    t.teardown(() => cucm.publisher.restart());
    for (let i = 0; i < 5; i++) {
      const res = await viaGateway('/cucm-uds/version');
      t.equal(res.status, 200);
      t.equal(res.headers['x-cucm-node'], 'sub1');
    }
    const post = await viaGateway('/ucgate-test/echo', { method: 'POST', body: 'replayable: none of it was sent' });
    t.equal(post.status, 200, 'a POST whose connection was refused is replayed on the next node');
    t.equal(post.text, 'replayable: none of it was sent');
  });

  t.test('no secret reaches the logs', async (t) => {
    const basic = Buffer.from('jdoe:secret').toString('base64');
    await viaGateway('/cucm-uds/user/jdoe/devices', { headers: { authorization: `Basic ${basic}` } });
    await viaGateway('/emapp/EMAppServlet?device=SEP001122334455&userid=jdoe&seq=12345', { headers: { cookie: 'JSESSIONID=ABCDEF0123456789' } });
    await viaGateway('/ccmcip/xmldirectorylist.jsp;jsessionid=FEDCBA9876543210?l=smith');
    await gw.waitForLog((line) => line.event === 'access' && String(line.path).startsWith('/ccmcip/xmldirectorylist.jsp'));
    const all = gw.stdout() + gw.stderr();
    for (const secret of [basic, 'secret', 'userid=jdoe', '12345', 'ABCDEF0123456789', 'FEDCBA9876543210', 'Basic ']) {
      t.notOk(all.includes(secret), `logs do not contain ${JSON.stringify(secret)}`);
    }
    const em = gw.logs.find((line) => line.event === 'access' && String(line.path).startsWith('/emapp/'));
    t.match(em?.path, /userid=\[redacted\]&seq=\[redacted\]/, 'the EM access line keeps the shape, not the values');
  });
});

t.test('a node with a certificate from another CA is never used', async (t) => {
  const dir = t.testdir();
  const trusted = await startCucmCluster({ nodes: 1 });
  const stranger = await startCucmCluster({ nodes: 1 });
  t.teardown(() => Promise.all([trusted.close(), stranger.close()]));
  const caFile = join(dir, 'cucm-ca.pem');
  writeFileSync(caFile, trusted.caPem);
  const gw = await startGatewayProcess(t, dir, {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }] },
    clusters: [clusterConfig(stranger, caFile)],
    routes: TEST_ROUTES,
  });
  const ca = await gw.trustPem();
  const res = await httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/cucm-uds/version', ca, servername: FQDN });
  t.equal(res.status, 502);
  t.equal(stranger.publisher.requests.length, 0, 'the impostor never received a request');
  const line = await gw.waitForLog((l) => l.event === 'upstream_error');
  t.equal(line.node, 'pub', 'the log names the node');
  t.equal(line.class, 'tls');
  t.match(String(line.code), /UNABLE_TO_VERIFY|SELF_SIGNED|CERT/, 'and the reason');
});

t.test('SIGTERM lets in-flight requests finish, then exits 0', async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster({ nodes: 1 });
  t.teardown(() => cucm.close());
  const caFile = join(dir, 'cucm-ca.pem');
  writeFileSync(caFile, cucm.caPem);
  const gw = await startGatewayProcess(t, dir, {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }] },
    clusters: [clusterConfig(cucm, caFile)],
    routes: TEST_ROUTES,
    workers: 2,
  });
  const ca = await gw.trustPem();
  const inFlight = httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/ucgate-test/slow?ms=1500', ca, servername: FQDN });
  await waitFor(() => cucm.publisher.requests.some((r) => r.url.startsWith('/ucgate-test/slow')), { message: 'slow request reached the node' });
  const stopped = gw.stop('SIGTERM');
  const res = await inFlight;
  t.equal(res.status, 200, 'the in-flight request completed');
  const exit = await stopped;
  t.equal(exit.code, 0, 'exit code 0');
  await t.rejects(
    httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/cucm-uds/version', ca, servername: FQDN, timeoutMs: 2000 }),
    'no longer accepting',
  );
});
