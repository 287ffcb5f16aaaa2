/**
 * Each limit of `limits.http` answers with its own status, counts it, and
 * leaves the gateway serving everyone else.
 */
import t from 'tap';
import tls from 'node:tls';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest, waitFor } from '../helpers/net.js';
import { startGatewayProcess, clusterConfig, writeConfig, TEST_ROUTES, FQDN, clientRequests } from '../helpers/gateway.js';

/** Writes raw bytes over TLS; resolves with everything read until the server closes (or the timeout). */
function raw(port: number, ca: string, bytes: string, timeoutMs = 8000): Promise<{ text: string; closed: boolean; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: FQDN }, () => socket.write(bytes));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false, ms: Date.now() - started });
    }, timeoutMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true, ms: Date.now() - started });
    });
    socket.on('error', () => undefined);
  });
}

t.test('limits.http', async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster({ nodes: 1 });
  t.teardown(() => cucm.close());
  writeFileSync(join(dir, 'cucm-ca.pem'), cucm.caPem);
  const limits = { maxUrlBytes: 300, maxHeaders: 20, maxHeaderBytes: 4096, maxConnectionsPerClient: 3, headersTimeoutMs: 2000 };
  const config = {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }] },
    clusters: [clusterConfig(cucm, join(dir, 'cucm-ca.pem'))],
    routes: [...TEST_ROUTES.filter((r) => r.pathPrefix !== '/ucgate-test/'), { pathPrefix: '/ucgate-test/', cluster: 'cucm', maxBodyBytes: 1000 }],
    limits: { http: limits },
  };
  const gw = await startGatewayProcess(t, dir, config);
  const ca = await gw.trustPem();
  const get = (path: string, extra: Partial<Parameters<typeof httpsRequest>[0]> = {}) =>
    httpsRequest({ host: '127.0.0.1', port: gw.port, path, ca, servername: FQDN, ...extra });
  const before = clientRequests(cucm.publisher);

  t.equal((await get(`/cucm-uds/version?${'x'.repeat(400)}`)).status, 414, 'a URL over maxUrlBytes: 414');
  const manyHeaders = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`x-h${i}`, '1']));
  const many = await get('/cucm-uds/version', { headers: manyHeaders });
  t.equal(many.status, 431, 'more headers than maxHeaders: 431');
  t.equal((await get('/cucm-uds/version', { headers: { 'x-big': 'y'.repeat(5000) } })).status, 431, 'a head over maxHeaderBytes: 431');
  t.equal((await get('/ucgate-test/echo', { method: 'POST', body: 'z'.repeat(2000) })).status, 413, 'a declared body over the route limit: 413');
  const chunked = await raw(
    gw.port,
    ca,
    `POST /ucgate-test/echo HTTP/1.1\r\nHost: ${FQDN}\r\nTransfer-Encoding: chunked\r\n\r\n` + `3e8\r\n${'a'.repeat(1000)}\r\n`.repeat(3) + '0\r\n\r\n',
  );
  t.match(chunked.text, /^HTTP\/1\.1 413 /, 'a chunked body that grows over the limit: 413');
  const dupHost = await raw(gw.port, ca, `GET /cucm-uds/version HTTP/1.1\r\nHost: ${FQDN}\r\nHost: evil.example\r\n\r\n`);
  t.match(dupHost.text, /^HTTP\/1\.1 400 /, 'two Host headers: 400');
  t.ok(dupHost.closed, 'and the connection is closed');
  const foreign = await raw(gw.port, ca, `GET https://evil.example/cucm-uds/version HTTP/1.1\r\nHost: ${FQDN}\r\n\r\n`);
  t.match(foreign.text, /^HTTP\/1\.1 400 /, 'an absolute-form target naming another host: 400');
  t.equal(clientRequests(cucm.publisher), before, 'none of these reached the node');

  const slow = await raw(gw.port, ca, `GET /cucm-uds/version HTTP/1.1\r\nHost: ${FQDN}\r\n`, 10_000);
  t.ok(slow.closed && slow.ms < 5000, `a head that never ends is cut after headersTimeoutMs (closed after ${slow.ms} ms)`);

  const held: tls.TLSSocket[] = [];
  t.teardown(() => held.forEach((socket) => socket.destroy()));
  const hold = async (count: number) => {
    for (let i = 0; i < count; i++) {
      held.push(await new Promise<tls.TLSSocket>((resolve) => {
        const socket = tls.connect({ host: '127.0.0.1', port: gw.port, ca, servername: FQDN }, () => resolve(socket));
      }));
    }
  };
  const release = () => held.splice(0).forEach((socket) => socket.destroy());
  await hold(3);
  await waitFor(async () => (await get('/cucm-uds/version')).status === 429, { timeoutMs: 5000, message: 'a fourth connection from the same address gets 429' });
  t.pass('connections over maxConnectionsPerClient: 429');
  release();
  await waitFor(async () => (await get('/cucm-uds/version')).status === 200, { timeoutMs: 5000, message: 'served again once connections close' });
  t.pass('and served again once they close');

  writeConfig(dir, { workers: 1, ...config, limits: { http: { ...limits, maxConnectionsPerClient: 1, idleTimeoutMs: 1000 } } });
  gw.proc.kill('SIGHUP');
  await gw.waitForLog((line) => line.event === 'reload_applied');
  await hold(1);
  await waitFor(async () => (await get('/cucm-uds/version')).status === 429, { timeoutMs: 5000, message: 'after a reload to 1, a second connection gets 429' });
  t.pass('a reload that lowers maxConnectionsPerClient applies to the next connection, without a restart');
  release();
  await waitFor(async () => (await get('/cucm-uds/version')).status === 200, { timeoutMs: 5000, message: 'one connection at a time is served' });
  t.pass('and one connection is still served');
  // The listener stayed open through the reload: its idle timeout (30 s before) is now 1 s.
  // The last check's connection may still count on the gateway's side for a moment after the
  // client closed it (limit 1): a 429 answer closes at once, so ask again until served.
  const idle = await waitFor(
    async () => {
      const answer = await raw(gw.port, ca, `GET /cucm-uds/version HTTP/1.1\r\nHost: ${FQDN}\r\n\r\n`, 15_000);
      return /^HTTP\/1\.1 200 /.test(answer.text) ? answer : undefined;
    },
    { timeoutMs: 20_000, message: 'a keep-alive connection served once the previous one is gone' },
  );
  t.match(idle.text, /^HTTP\/1\.1 200 /);
  t.ok(idle.closed && idle.ms < 10_000, `an idle keep-alive connection is closed after the reloaded idleTimeoutMs (after ${idle.ms} ms)`);
});
