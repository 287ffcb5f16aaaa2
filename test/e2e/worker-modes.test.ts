/**
 * Data-plane workers as threads of one process (`workerMode: thread`, each
 * accepting on the ports itself through SO_REUSEPORT) and as processes
 * (`workerMode: process`, node:cluster), side by side: both workers take
 * connections, a session ticket from one resumes on the other, a listener
 * added on reload is shared by both, the metrics count both once, a SIGTERM
 * drains a request in flight, and (threads) a second gateway on a port the
 * first holds fails instead of silently sharing it.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { reusePortUnsupported } from '../../src/net/reuse-port.js';
import { FQDN, TEST_ROUTES, adminPortOf, clusterConfig, startGatewayProcess, writeTokenFile, writeConfig, runCli, type GatewayProcess } from '../helpers/gateway.js';
import { httpsRequest, waitFor } from '../helpers/net.js';
import { processTree } from '../helpers/process-tree.js';

const WORKERS = 2;
/** New connections per check: with two workers, all of them landing on one has odds of 2^-39. */
const CONNECTIONS = 40;
const threadsHere = reusePortUnsupported();

/** The worker (thread id or cluster worker id) behind each access line from `from` on. */
function workersServing(gw: GatewayProcess, from: number, path: string): Set<unknown> {
  return new Set(gw.logs.slice(from).filter((line) => line.event === 'access' && line.path === path).map((line) => line.worker));
}

/** The sum of every series of `name` whose labels include `labels`, from a /metrics text. */
function sumOf(text: string, name: string, labels: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

for (const mode of ['thread', 'process'] as const) {
  t.test(`workerMode ${mode}`, { skip: mode === 'thread' && threadsHere ? `worker threads cannot run here: ${threadsHere}` : false }, async (t) => {
    const cucm = await startCucmCluster();
    t.teardown(() => cucm.close());
    const dir = t.testdir();
    const caFile = join(dir, 'cucm-ca.pem');
    writeFileSync(caFile, cucm.caPem);
    const tokenFile = writeTokenFile(dir);
    const config = {
      workers: WORKERS,
      workerMode: mode,
      gateway: { fqdn: FQDN },
      listen: { https: [{ host: '127.0.0.1', port: 0 }], admin: { host: '127.0.0.1', port: 0, tls: false, tokenFile } },
      clusters: [clusterConfig(cucm, caFile)],
      routes: TEST_ROUTES,
      log: { access: true },
    };
    const gw = await startGatewayProcess(t, dir, config);
    const ca = await gw.trustPem();
    const ready = gw.logs.find((line) => line.event === 'gateway_ready')!;
    t.equal(ready.workerMode, mode, `gateway_ready says workerMode ${mode}`);
    const pids = processTree(gw.proc.pid!);
    t.equal(pids.length, mode === 'thread' ? 1 : 1 + WORKERS, mode === 'thread' ? 'one process' : `a primary and ${WORKERS} worker processes`);

    const get = (port: number, path = '/cucm-uds/version', session?: Buffer) =>
      httpsRequest({ host: '127.0.0.1', port, path, ca, servername: FQDN, ...(session && { session }) });

    await t.test('every worker takes connections', async (t) => {
      const from = gw.logs.length;
      const answers = await Promise.all(Array.from({ length: CONNECTIONS }, () => get(gw.port)));
      t.same(answers.map((a) => a.status), answers.map(() => 200), `${CONNECTIONS} new connections, each answered 200`);
      const serving = await waitFor(() => {
        const seen = workersServing(gw, from, '/cucm-uds/version');
        return seen.size === WORKERS ? seen : undefined;
      }, { timeoutMs: 5_000, message: `access lines from ${WORKERS} workers` }).catch(() => workersServing(gw, from, '/cucm-uds/version'));
      t.equal(serving.size, WORKERS, `access lines name ${WORKERS} different workers (${[...serving].join(', ')})`);
    });

    await t.test('a ticket from one worker resumes on any other', async (t) => {
      const from = gw.logs.length;
      let session = (await get(gw.port)).socket.session;
      let resumed = 0;
      for (let i = 0; i < 20; i++) {
        const answer = await get(gw.port, '/cucm-uds/version', session);
        if (answer.socket.sessionReused) resumed++;
        session = answer.socket.session ?? session;
      }
      t.equal(resumed, 20, 'each of 20 reconnections, offering the newest ticket, resumed');
      const serving = workersServing(gw, from, '/cucm-uds/version');
      t.equal(serving.size, WORKERS, `and they landed on ${WORKERS} workers (${[...serving].join(', ')})`);
    });

    await t.test('a listener added on reload is shared by every worker', async (t) => {
      writeConfig(dir, { ...config, listen: { ...config.listen, https: [{ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 0 }] } });
      const at = gw.logs.length;
      gw.proc.kill('SIGHUP');
      const applied = await gw.waitForLog((line) => line.event === 'reload_applied' && gw.logs.indexOf(line) >= at, 30_000);
      const listeners = applied.listeners as { name: string; port: number }[];
      t.equal(listeners.length, 2, `two listeners after the reload (${JSON.stringify(listeners)})`);
      const added = listeners[1]!.port;
      t.equal(listeners[0]!.port, gw.port, 'the first keeps its port');
      const from = gw.logs.length;
      const answers = await Promise.all(Array.from({ length: CONNECTIONS }, () => get(added)));
      t.same(answers.map((a) => a.status), answers.map(() => 200), `${CONNECTIONS} connections to the added listener (port ${added}) answered`);
      const serving = workersServing(gw, from, '/cucm-uds/version');
      t.equal(serving.size, WORKERS, `by ${WORKERS} workers (${[...serving].join(', ')})`);
    });

    await t.test('metrics count every worker once', async (t) => {
      const metricsText = async () => (await fetch(`http://127.0.0.1:${adminPortOf(gw)}/metrics`)).text();
      const answered = async () => sumOf(await metricsText(), 'ucgate_requests_total', 'code="200"');
      const before = await answered();
      await Promise.all(Array.from({ length: 10 }, () => get(gw.port)));
      const after = await waitFor(async () => {
        const value = await answered();
        return value - before >= 10 ? value : undefined;
      }, { timeoutMs: 5_000, message: 'ucgate_requests_total{code="200"} moved by 10' });
      t.equal(after - before, 10, 'ucgate_requests_total{code="200"} moved by exactly the 10 requests made');
      const text = await metricsText();
      const rss = text.split('\n').filter((line) => line.startsWith('ucgate_worker_process_resident_memory_bytes'));
      if (mode === 'thread') t.same(rss, [], 'no per-worker copy of process-wide figures (the primary reports the one process)');
      else t.equal(rss.length, 1, 'the worker processes\' resident memory, summed');
      t.ok(text.includes('ucgate_worker_nodejs_heap_size_used_bytes'), 'each worker\'s own heap figures, summed');
    });

    await t.test('SIGTERM drains a request in flight', async (t) => {
      const inFlight = get(gw.port, '/ucgate-test/slow?ms=1500');
      await waitFor(() => cucm.publisher.requests.some((r) => r.url.startsWith('/ucgate-test/slow')), { timeoutMs: 5_000, message: 'the slow request reached the node' });
      const stopped = gw.stop('SIGTERM');
      const answer = await inFlight;
      t.equal(answer.status, 200, 'the request in flight is answered');
      t.same(await stopped, { code: 0, signal: null }, 'then the gateway exits 0');
      t.same(gw.logs.filter((line) => line.event === 'worker_exit' || line.event === 'worker_error'), [], 'no worker died along the way');
    });
  });
}

t.test('workerMode thread: a second gateway on a port the first holds fails, it does not share it', { skip: threadsHere ? `worker threads cannot run here: ${threadsHere}` : false }, async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const port = await freePort();
  const base = { workers: WORKERS, workerMode: 'thread', gateway: { fqdn: FQDN }, listen: { https: [{ host: '127.0.0.1', port }] }, routes: TEST_ROUTES, log: { access: false } };
  const dir = t.testdir();
  const caFile = join(dir, 'cucm-ca.pem');
  writeFileSync(caFile, cucm.caPem);
  const gw = await startGatewayProcess(t, dir, { ...base, clusters: [clusterConfig(cucm, caFile)] });
  t.equal(gw.port, port, `the first gateway listens on ${port}`);
  const secondConfig = writeConfig(dir, { ...base, clusters: [clusterConfig(cucm, caFile)] }, 'second.yaml');
  const second = await runCli(['start', '--config', secondConfig], { cwd: dir, timeoutMs: 30_000 });
  t.not(second.code, 0, `the second one exits non-zero (${second.code})`);
  t.match(second.stderr, `listen.https[0] (127.0.0.1:${port}): the port is already in use`, 'and names the listener whose port is in use, as with worker processes');
  const answer = await httpsRequest({ host: '127.0.0.1', port, path: '/cucm-uds/version', ca: await gw.trustPem(), servername: FQDN });
  t.equal(answer.status, 200, 'the first gateway still answers');
});
