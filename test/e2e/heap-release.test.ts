/**
 * A quiet gateway gives its workers' young generations back (src/heap-release.ts).
 * Keep-alive load grows each busy worker's young generation to its cap; V8
 * alone keeps those pages for as long as the worker stays quiet (no
 * collection runs to shrink them). Here the load stops and connections stay
 * open, idle, as phones' do: a worker whose young generation grew logs `heap_released` once it has been
 * quiet for two checks, with V8's own figures before and after, never while
 * the load runs and once per busy spell, and the gateway's resident memory
 * falls with it. Where V8 ignores the request (Node 20's), a worker says so
 * once (`heap_release_unsupported`) and stops asking.
 *
 * Twice: on glibc's malloc, and on jemalloc preloaded as the Docker image runs
 * the gateway (`gateway_ready` names the allocator).
 */
import t from 'tap';
import tls from 'node:tls';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { FQDN, TEST_ROUTES, clusterConfig, startGatewayProcess, type LogLine } from '../helpers/gateway.js';
import { runKeepAliveLoad } from '../helpers/load.js';
import { treeRss } from '../helpers/process-tree.js';
import { waitFor } from '../helpers/net.js';

const WORKERS = 2;
const MB = 1024 * 1024;
const REQUESTS = 20_000;
/** V8 12.4 (Node 22) and later shrink the young generation on the collection asked for; Node 20's V8 does not. */
const shrinks = Number(process.versions.node.split('.')[0]) >= 22;
/** What scripts/preflight.mjs checks for (Debian's libjemalloc2). */
const JEMALLOC = process.env.UCGATE_JEMALLOC ?? '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2';

type Release = LogLine & { reason?: string; youngBeforeMb: number; youngAfterMb: number; ms: number };

for (const allocator of ['glibc', 'jemalloc'] as const) {
  t.test(`${allocator} malloc: a quiet gateway gives its workers' young generations back`, async (t) => {
    const cucm = await startCucmCluster();
    t.teardown(() => cucm.close());
    const dir = t.testdir();
    const caFile = join(dir, 'cucm-ca.pem');
    writeFileSync(caFile, cucm.caPem);
    const gw = await startGatewayProcess(
      t,
      dir,
      {
        workers: WORKERS,
        gateway: { fqdn: FQDN },
        listen: { https: [{ host: '127.0.0.1', port: 0 }] },
        clusters: [clusterConfig(cucm, caFile)],
        routes: TEST_ROUTES,
        log: { level: 'debug', access: false },
      },
      // As the Docker image runs it (Dockerfile), or on glibc's malloc.
      { env: allocator === 'jemalloc' ? { LD_PRELOAD: JEMALLOC, MALLOC_CONF: 'dirty_decay_ms:1000' } : { LD_PRELOAD: '' } },
    );
    t.equal(gw.logs.find((line) => line.event === 'gateway_ready')?.allocator, allocator, `gateway_ready says allocator ${allocator}`);
    const ca = await gw.trustPem();
    const workerReleases = (from: number) =>
      gw.logs.slice(from).filter((line): line is Release => line.role === 'worker' && (line.event === 'heap_released' || line.event === 'heap_release_unsupported'));

    // Busy: enough requests on enough connections that the workers' young generations grow (how far
    // is V8's choice: 8 or 16 MB seen, and now and then one worker's stays under 4 MB, nothing to give back).
    const loadFrom = gw.logs.length;
    const statuses = new Map<string, number>();
    const load = await runKeepAliveLoad({
      port: gw.port,
      ca,
      servername: FQDN,
      path: '/cucm-uds/version',
      connections: 48,
      total: REQUESTS,
      deadline: Date.now() + 120_000,
      onOutcome: (outcome) => statuses.set(outcome, (statuses.get(outcome) ?? 0) + 1),
    });
    const quietFrom = gw.logs.length;
    t.same(Object.fromEntries(statuses), { 200: REQUESTS }, `the load: ${REQUESTS} answers, 200 each (${load.connections} connections)`);
    t.same(workerReleases(loadFrom), [], 'no worker released while the load ran');

    // Quiet, with idle connections held open the way phones hold theirs.
    const idle = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<tls.TLSSocket>((resolve, reject) => {
            const socket = tls.connect({ host: '127.0.0.1', port: gw.port, ca, servername: FQDN }, () => resolve(socket));
            socket.once('error', reject);
          }),
      ),
    );
    t.teardown(() => idle.forEach((socket) => socket.destroy()));
    const rssAfterLoad = treeRss(gw.proc.pid!).total;
    // Two quiet checks 5 s apart, then the collection: 10-15 s; generous for a loaded machine.
    if (!shrinks) {
      // The first attempt (at start-up, or after the load) finds V8 keeps the pages; then no more.
      await waitFor(() => workerReleases(0).length > 0 || undefined, { timeoutMs: 60_000, intervalMs: 200, message: 'a worker saying it cannot release' });
      t.ok(workerReleases(0).every((line) => line.event === 'heap_release_unsupported'), `Node ${process.versions.node}: V8 keeps its young generation, and the worker said so`);
      return;
    }
    const lines = await waitFor(() => {
      const seen = workerReleases(quietFrom);
      return seen.length > 0 ? seen : undefined;
    }, { timeoutMs: 60_000, intervalMs: 200, message: 'a worker releasing' });
    for (const line of lines) {
      const who = `worker ${String(line.worker)}`;
      t.match(line, { event: 'heap_released', reason: 'quiet' }, `${who}: released, quiet`);
      t.ok(line.youngBeforeMb >= 4, `${who}: its young generation had grown (${line.youngBeforeMb} MB)`);
      t.ok(line.youngAfterMb < line.youngBeforeMb / 2, `${who}: V8 shrank it to ${line.youngAfterMb} MB (in ${line.ms} ms)`);
    }
    const released = lines.reduce((sum, line) => sum + line.youngBeforeMb - line.youngAfterMb, 0);
    const rssNow = await waitFor(() => {
      const rss = treeRss(gw.proc.pid!).total;
      return rssAfterLoad - rss >= (released / 2) * MB ? rss : undefined;
    }, { timeoutMs: 10_000, intervalMs: 200, message: `resident memory falling by half of the ${released.toFixed(1)} MB released` });
    t.ok(rssNow < rssAfterLoad, `resident memory ${(rssAfterLoad / MB).toFixed(0)} → ${(rssNow / MB).toFixed(0)} MB (${released.toFixed(1)} MB of young generation released)`);

    // Once per busy spell: a window of three more checks (an absence is watched for, not waited on).
    await new Promise((resolve) => setTimeout(resolve, 15_000));
    const perWorker = new Map<unknown, number>();
    for (const line of workerReleases(quietFrom)) perWorker.set(line.worker, (perWorker.get(line.worker) ?? 0) + 1);
    t.ok(perWorker.size >= 1 && perWorker.size <= WORKERS && [...perWorker.values()].every((n) => n === 1), `one release per worker, none over three more quiet checks (${JSON.stringify(Object.fromEntries(perWorker))})`);
    t.ok(idle.every((socket) => !socket.destroyed), 'the idle connections stayed open');
  });
}
