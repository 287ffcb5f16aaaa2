/**
 * Hedged requests (issue 11): a node that takes a request and never answers
 * costs an idempotent request `timeouts.hedgeMs`, not the first-byte timeout.
 * A real gateway process in front of simulated CUCM nodes; the publisher is
 * set to 'hang' (TLS up, request read, no answer ever). The first-byte timeout
 * is long here on purpose, so any answer well inside it came from a hedge.
 *
 * Also: a non-idempotent request is never sent twice (it waits for its node
 * and gets the timeout's 504), and the aborted tries leave no sockets behind:
 * the worker's own file descriptors are counted from /proc.
 */
import t, { type Test } from 'tap';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { startCucmCluster, type CucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest, waitFor, type HttpsResponse } from '../helpers/net.js';
import { startClusterGateway, scrapeMetric, isHealthCheck, FQDN, type GatewayProcess } from '../helpers/gateway.js';
import { processTree } from '../helpers/process-tree.js';

const HEDGE_MS = 200;
const FIRST_BYTE_MS = 10_000;
// Checks far apart: what moves traffic here must be the hedge, not a health verdict.
const SLOW_HEALTH = { path: '/cucm-uds/version', intervalMs: 30_000, timeoutMs: 1000, fall: 2, rise: 2, expectStatus: 200, expectBody: '<versionInformation' };

// Worker processes: connectionsTo reads the workers' own sockets, apart from the primary's health checks.
const gatewayFor = (t: Test, cucm: CucmCluster, timeouts: Record<string, number>) =>
  startClusterGateway(t, cucm, { healthCheck: SLOW_HEALTH, timeouts }, { workerMode: 'process' });

/** A counter's value; 0 before it has a series. */
const metric = async (gw: GatewayProcess, name: string, labels: string) => (await scrapeMetric(gw, name, labels)) ?? 0;

/** TCP connections the gateway's workers hold open to `port`: their socket fds matched against /proc/net/tcp. */
function connectionsTo(gw: GatewayProcess, port: number): number {
  const workers = processTree(gw.proc.pid!).slice(1);
  const inodes = new Set<string>();
  for (const pid of workers) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      } catch {
        // Closed between the listing and the read.
      }
    }
  }
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[2]!.endsWith(`:${portHex}`) && inodes.has(f[9]!)) count++;
    }
  }
  return count;
}

t.test('a hung node: idempotent requests are answered by the other node after the hedge delay, nothing leaks', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const { gw, ca } = await gatewayFor(t, cucm, { connectMs: 1000, firstByteMs: FIRST_BYTE_MS, hedgeMs: HEDGE_MS });
  const get = (path = '/cucm-uds/version') => httpsRequest({ host: '127.0.0.1', port: gw.port, path, ca, servername: FQDN, timeoutMs: 30_000 });
  const warm = await get();
  t.equal(warm.headers['x-cucm-node'], 'pub', 'the publisher answers while it is well');

  const hungAt = Date.now();
  cucm.publisher.setBehaviour('hang');
  // Side by side, so every one of them is on its way to the publisher before any hedge has been lost.
  const timed = (r: Promise<HttpsResponse>) => r.then((res) => ({ res, ms: Date.now() - started }));
  const started = Date.now();
  const burst = await Promise.all(Array.from({ length: 8 }, () => timed(get())));
  // The first health check lands at a random moment in its first interval, possibly during the burst: it is not a hedged request.
  const reachedPub = cucm.publisher.requests.filter((r) => r.time >= hungAt && r.url === '/cucm-uds/version' && !isHealthCheck(r));
  t.ok(reachedPub.length >= 1, `the hung publisher received ${reachedPub.length} of them`);
  t.same(reachedPub.filter((r) => r.status !== undefined), [], 'and answered none');
  t.same(burst.map((b) => b.res.status), burst.map(() => 200), 'every request answered 200');
  t.same(new Set(burst.map((b) => b.res.headers['x-cucm-node'])), new Set(['sub1']), 'by the subscriber');
  const worst = Math.max(...burst.map((b) => b.ms));
  t.ok(worst < FIRST_BYTE_MS / 2, `worst wait ${worst} ms: the hedge delay (${HEDGE_MS} ms), far from the first-byte timeout (${FIRST_BYTE_MS} ms)`);

  const hedged = await metric(gw, 'ucgate_hedged_requests_total', 'winner="hedge"');
  t.ok(hedged >= reachedPub.length, `ucgate_hedged_requests_total{winner="hedge"} counts them (${hedged})`);
  const slow = await gw.waitForLog((line) => line.event === 'upstream_error' && line.node === 'pub' && line.code === 'UCGATE_ERR_UPSTREAM_SLOW');
  t.equal(slow.class, 'timeout', 'the lost race is logged against the hung node as a timeout');

  // This worker now keeps away from the publisher: the next requests go straight to the subscriber.
  for (let i = 0; i < 5; i++) {
    const before = Date.now();
    const res = await get();
    t.equal(res.headers['x-cucm-node'], 'sub1');
    t.ok(Date.now() - before < FIRST_BYTE_MS / 2, 'without waiting for the hung node');
  }

  // Every try the publisher lost was aborted: the worker holds no connection to it (it may still pool idle ones to the subscriber).
  await waitFor(() => connectionsTo(gw, cucm.publisher.port) === 0, { timeoutMs: 5_000, intervalMs: 50, message: 'no connection from the worker to the hung publisher' });
  t.pass('the worker holds no socket to the hung publisher');
  t.ok(connectionsTo(gw, cucm.node('sub1').port) <= burst.length, 'nor more to the subscriber than requests ran side by side');
});

t.test('a non-idempotent request is never hedged: it waits for its node and gets the timeout', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const firstByteMs = 1500;
  const { gw, ca } = await gatewayFor(t, cucm, { connectMs: 1000, firstByteMs, hedgeMs: HEDGE_MS });
  const warm = await httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/cucm-uds/version', ca, servername: FQDN });
  t.equal(warm.headers['x-cucm-node'], 'pub');
  cucm.publisher.setBehaviour('hang');
  const since = Date.now();
  const res = await httpsRequest({
    host: '127.0.0.1',
    port: gw.port,
    path: '/ucgate-test/echo',
    method: 'POST',
    body: 'not twice',
    headers: { 'content-type': 'text/plain' },
    ca,
    servername: FQDN,
    timeoutMs: 30_000,
  });
  const waited = Date.now() - since;
  t.equal(res.status, 504, 'the first-byte timeout answers it');
  t.ok(waited >= firstByteMs - 50, `after the whole first-byte timeout (${waited} ms), not the hedge delay`);
  t.equal(cucm.publisher.requests.filter((r) => r.time >= since && r.method === 'POST').length, 1, 'the publisher got it once');
  t.equal(cucm.node('sub1').requests.filter((r) => r.time >= since && r.method === 'POST').length, 0, 'the subscriber never saw it');
  t.equal(await metric(gw, 'ucgate_hedged_requests_total', 'cluster="cucm"'), 0, 'nothing counted as hedged');
});

t.test('hedgeMs: 0 turns hedging off: a GET waits for the first-byte timeout, then fails over', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const firstByteMs = 1500;
  const { gw, ca } = await gatewayFor(t, cucm, { connectMs: 1000, firstByteMs, hedgeMs: 0 });
  cucm.publisher.setBehaviour('hang');
  const since = Date.now();
  const res = await httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/cucm-uds/version', ca, servername: FQDN, timeoutMs: 30_000 });
  const waited = Date.now() - since;
  t.equal(res.status, 200);
  t.equal(res.headers['x-cucm-node'], 'sub1', 'the retry after the timeout answers it');
  t.ok(waited >= firstByteMs - 50, `after the first-byte timeout (${waited} ms)`);
  t.equal(await metric(gw, 'ucgate_hedged_requests_total', 'cluster="cucm"'), 0);
});

t.test('timeouts.totalMs bounds every try together: two hung nodes give a 504 then, not after the first-byte timeouts', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const totalMs = 1500;
  const { gw, ca } = await gatewayFor(t, cucm, { connectMs: 1000, firstByteMs: FIRST_BYTE_MS, hedgeMs: HEDGE_MS, totalMs });
  for (const node of cucm.nodes) node.setBehaviour('hang');
  const since = Date.now();
  const res = await httpsRequest({ host: '127.0.0.1', port: gw.port, path: '/cucm-uds/version', ca, servername: FQDN, timeoutMs: 30_000 });
  const waited = Date.now() - since;
  t.equal(res.status, 504);
  t.ok(waited >= totalMs - 50 && waited < FIRST_BYTE_MS / 2, `answered after ${waited} ms: the overall bound, not a per-try timeout`);
  t.ok(cucm.nodes.every((node) => node.requests.some((r) => r.time >= since)), 'both nodes were tried (the hedge went out)');
  await waitFor(() => connectionsTo(gw, cucm.publisher.port) + connectionsTo(gw, cucm.node('sub1').port) === 0, {
    timeoutMs: 5_000,
    intervalMs: 50,
    message: 'both tries aborted',
  });
  t.pass('both tries were aborted: no socket left to either node');
});
