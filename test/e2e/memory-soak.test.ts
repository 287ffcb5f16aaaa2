/**
 * Memory under a node that fails every other request (issue 10): 100,000
 * requests through a gateway whose only upstream alternates a good answer
 * with a broken one, the broken ones taken in turn from a reset before any
 * answer, bytes that are not HTTP, an HTTP/0.9 answer, a response framed two
 * ways at once, and a header block over the gateway's limit. After a
 * 10,000-request warm-up and again at the end, two measures of the whole
 * gateway (primary + workers): the memory that survives a forced garbage
 * collection in each process (heap used + external, read by the test-only
 * probe in src/debug/memory-probe.ts), which only a leak moves, within 20%;
 * and resident memory (VmRSS from /proc) within 50%, a backstop for a leak
 * that no JavaScript object owns.
 *
 * Why both: RSS alone also counts what V8 keeps committed. On Node 24 a busy
 * worker's young generation grew to 128 MB and RSS by 22-25 % over this run
 * while the live heap shrank (22 against 25 MB per worker): heap sizing, not a
 * leak. The workers now cap it (src/control/worker-pool.ts), and the peak
 * fell from 631 to 455-545 MB, but RSS at the end still moved +4 % to +30 %
 * between runs with the live heap flat (-4 %): V8 keeps the pages of a young
 * generation that shrank, and the allocator what 50,000 upstream TLS
 * connections left. The live-memory bound is the leak check: a build that
 * kept a 1 KB string per request failed it over 50,000 requests (106 → 144
 * MB, +36 %) while its RSS grew 15.7 %.
 *
 * Every broken answer costs the gateway an upstream connection (none of them
 * leaves the connection reusable), a parse or socket error, a 502, an
 * `upstream_error` log line, a passive health report to the primary: the
 * paths where a leak would hide. The health checker's requests take their
 * turns in the same rotation, so its checks fail now and then too.
 *
 * Speed: the run costs 2-2.7 ms of CPU per request in all (gateway workers
 * 1.4-1.8, the test process with client and upstream 0.6-0.8, the primary
 * under 0.1); the broken half, ~50,000 new upstream TLS connections, is most
 * of it. The gateway runs two workers (its shape on a 2-core host) and the
 * client is the raw keep-alive load of test/helpers/load.ts, a fraction of
 * node:https's cost per request: CPU the gateway under test gets instead.
 * On two cores of its own that CPU comes to 100-135 s; on the development
 * machines, cores shared with three other engineers' runs, it took over 420 s.
 *
 * `UCGATE_SOAK_REQUESTS` changes the size; the loop stops at
 * `UCGATE_SOAK_BUDGET_MS` (default 600 s) whatever the count, so teardown
 * always runs, and the test fails if not every request finished.
 */
import t from 'tap';
import { writeFileSync, readFileSync, rmSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startBrokenUpstream, type BrokenBehaviour } from '../helpers/broken-upstream.js';
import { treeRss, processTree } from '../helpers/process-tree.js';
import { runKeepAliveLoad } from '../helpers/load.js';
import { startGatewayProcess, TEST_ROUTES, FQDN } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';
import type { MemoryProbe } from '../../src/debug/memory-probe.js';

const TOTAL = Number(process.env.UCGATE_SOAK_REQUESTS ?? 100_000);
const WARM_UP = 10_000;
const CONNECTIONS = Number(process.env.UCGATE_SOAK_CONNECTIONS ?? 64);
const WORKERS = Number(process.env.UCGATE_SOAK_WORKERS ?? 2);
const MAX_GROWTH = 0.2;
/** Resident memory's bound: wider, since it also moves with V8's and the allocator's sizing (above). */
const MAX_RSS_GROWTH = 0.5;
const MB = 1024 * 1024;
const BROKEN: readonly BrokenBehaviour[] = ['reset', 'garbage', 'http09', 'cl-te-response', 'oversized-headers'];
const BEHAVIOURS = BROKEN.flatMap((broken) => ['normal', broken] as BrokenBehaviour[]);

const BUDGET_MS = Number(process.env.UCGATE_SOAK_BUDGET_MS ?? 600_000);
t.setTimeout(BUDGET_MS + 60_000);

/**
 * Each process and worker thread collects its garbage and reports what survives
 * (src/debug/memory-probe.ts): SIGUSR2 to each process, then a `<pid>-<threadId>.json` per
 * isolate in the probe directory (worker threads hear of the signal from their main thread).
 */
async function probe(dir: string, pids: readonly number[], isolates: number): Promise<MemoryProbe[]> {
  const ours = () => readdirSync(dir).filter((f) => f.endsWith('.json') && pids.some((p) => f.startsWith(`${p}-`)));
  for (const f of ours()) rmSync(join(dir, f), { force: true });
  for (const p of pids) process.kill(p, 'SIGUSR2');
  const files = await waitFor(() => (ours().length === isolates ? ours() : undefined), { timeoutMs: 30_000, intervalMs: 50, message: `memory probes of ${isolates} isolates` });
  return files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as MemoryProbe);
}

/** User + system CPU seconds a process has used, from /proc/<pid>/stat (clock ticks of 1/100 s on Linux). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

t.test(`${TOTAL} requests through a node that alternates good and broken answers: memory stays flat`, async (t) => {
  t.ok(TOTAL > WARM_UP, `more requests (${TOTAL}) than the warm-up (${WARM_UP})`);
  const dir = t.testdir();
  // 72 KB: just over the gateway's default limit for an upstream response head (64 KB), so refused.
  const upstream = await startBrokenUpstream({ name: 'flaky', hostname: 'cucm-flaky.example.test', behaviour: BEHAVIOURS, oversizedHeaderBytes: 72 * 1024 });
  t.teardown(() => upstream.close());
  const probeDir = join(dir, 'probes');
  mkdirSync(probeDir);
  // Inherited by the gateway process and its workers: SIGUSR2 then reports memory after a forced GC.
  process.env.UCGATE_MEMORY_PROBE_DIR = probeDir;
  const caFile = join(dir, 'upstream-ca.pem');
  writeFileSync(caFile, upstream.caPem);
  const gw = await startGatewayProcess(t, dir, {
    workers: WORKERS,
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }] },
    // Generous timeouts: on a saturated machine a 1 s connect timeout turns CPU starvation into 504s.
    clusters: [
      { name: 'cucm', nodes: [{ name: 'flaky', url: upstream.url, address: '127.0.0.1' }], tls: { caFile }, retries: 0, timeouts: { connectMs: 5_000, firstByteMs: 10_000 } },
    ],
    routes: TEST_ROUTES,
    // Access lines off (100,000 of them would load the test, not the gateway); upstream_error warnings stay on.
    // (Level info, not warn: the harness waits for the gateway_ready info line.)
    log: { access: false },
  });
  const ca = await gw.trustPem();
  const pid = gw.proc.pid!;
  const pids = processTree(pid);
  // Worker threads (workerMode auto, where the runtime can) live in the primary's process.
  const threads = gw.logs.find((line) => line.event === 'gateway_ready')?.workerMode === 'thread';
  t.equal(pids.length, threads ? 1 : 1 + WORKERS, threads ? `primary with ${WORKERS} worker threads (${pid})` : `primary and ${WORKERS} workers (${pids.join(', ')})`);
  const isolates = 1 + WORKERS;
  const cpuAtStart = pids.map(cpuSeconds);
  const testCpuAtStart = process.cpuUsage();

  const statuses = new Map<string, number>();
  const samples: { done: number; rssMb: number }[] = [];
  let warm: { total: number; byPid: Record<number, number> } | undefined;
  let warmProbe: Promise<MemoryProbe[]> | undefined;
  const sample = () => {
    const rss = treeRss(pid);
    samples.push({ done: statuses.size === 0 ? 0 : [...statuses.values()].reduce((a, b) => a + b, 0), rssMb: Math.round((rss.total / MB) * 10) / 10 });
    return rss;
  };
  const started = Date.now();
  const load = await runKeepAliveLoad({
    port: gw.port,
    ca,
    servername: FQDN,
    path: '/cucm-uds/version',
    connections: CONNECTIONS,
    total: TOTAL,
    deadline: started + BUDGET_MS,
    onOutcome: (outcome, done) => {
      statuses.set(outcome, (statuses.get(outcome) ?? 0) + 1);
      if (done === WARM_UP) {
        warm = sample();
        warmProbe = probe(probeDir, pids, isolates);
      }
      else if (done % 10_000 === 0) sample();
    },
  });
  const elapsedMs = Date.now() - started;
  const atEnd = sample();
  const cpu = pids.map((p, i) => cpuSeconds(p) - cpuAtStart[i]!);
  const testCpu = process.cpuUsage(testCpuAtStart);
  // A moment without traffic: idle sockets close, the collector runs; a leak stays.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const end = sample();
  const endProbe = await probe(probeDir, pids, isolates);
  const warmProbes = await warmProbe!;
  const done = load.done;
  const summary = [...statuses].map(([k, v]) => `${k}: ${v}`).join(', ');
  const name = (p: number) => (p === pid ? 'primary' : `worker ${p}`);
  t.comment(`${done} requests in ${(elapsedMs / 1000).toFixed(1)} s (${Math.round(done / (elapsedMs / 1000))} req/s) over ${CONNECTIONS} keep-alive connections: ${summary}`);
  t.comment(`client: ${load.connections} TLS connections (${load.resumed} resumed); upstream: ${upstream.connectionCount} TLS connections (${upstream.resumedCount} resumed), ${upstream.requests.length} requests`);
  t.comment(`CPU s during the run: ${pids.map((p, i) => `${name(p)} ${cpu[i]!.toFixed(1)}`).join(', ')}, test process ${((testCpu.user + testCpu.system) / 1e6).toFixed(1)}`);
  t.comment(`gateway RSS (primary + workers), MB by requests done: ${samples.map((s) => `${s.done}: ${s.rssMb}`).join(', ')}`);
  const perPid = (byPid: Record<number, number>) => pids.map((p) => `${name(p)} ${((byPid[p] ?? 0) / MB).toFixed(1)}`).join(', ');
  t.comment(`per process, MB: after the warm-up ${warm ? perPid(warm.byPid) : '-'}; at the end ${perPid(end.byPid)}`);
  const heapOf = (ps: readonly MemoryProbe[]) =>
    ps.map((m) => `${m.threadId > 0 ? `worker thread ${m.threadId}` : name(m.pid)} used ${(m.heapUsed / MB).toFixed(1)} + external ${(m.external / MB).toFixed(1)} (V8 heap committed ${(m.heapTotal / MB).toFixed(1)}, young generation ${((m.spaces.new_space?.size ?? 0) / MB).toFixed(1)})`).join('; ');
  t.comment(`after a forced GC, MB: after the warm-up ${heapOf(warmProbes)}; at the end ${heapOf(endProbe)}`);

  t.equal(done, TOTAL, `every request finished within the ${BUDGET_MS / 1000} s budget (${done} done)`);
  const ok = statuses.get('200') ?? 0;
  const badGateway = statuses.get('502') ?? 0;
  // 504: the upstream connect or first byte timed out, which a starved machine can cause; still a clean answer.
  const timedOut = statuses.get('504') ?? 0;
  t.ok(ok > done * 0.4 && badGateway > done * 0.4, `both paths exercised: ${ok} answers, ${badGateway} clean 502s`);
  t.equal(ok + badGateway + timedOut, done, `nothing but 200, 502 and 504: no reset, cut or hung client connection (${summary})`);
  t.equal(load.connections, CONNECTIONS, 'the gateway kept every client connection open: a broken upstream answer costs the client nothing but a 502');
  const brokenSeen = new Set(upstream.requests.map((r) => r.behaviour));
  t.same([...BROKEN].filter((b) => !brokenSeen.has(b)), [], `every broken behaviour was served (${[...brokenSeen].join(', ')})`);
  t.ok(warm !== undefined && warm.total > 0, 'RSS read after the warm-up');
  // The leak check: what survives a forced collection in every process, JavaScript objects and the
  // native memory they own (sockets' buffers, TLS state), on a base of ~100 MB where RSS's is ~450.
  const live = (ps: readonly MemoryProbe[]) => ps.reduce((sum, m) => sum + m.heapUsed + m.external, 0);
  const liveGrowth = (live(endProbe) - live(warmProbes)) / live(warmProbes);
  t.ok(
    liveGrowth <= MAX_GROWTH,
    `memory that survives a forced GC (heap used + external, all processes) within ${MAX_GROWTH * 100}% of after the warm-up: ${(live(warmProbes) / MB).toFixed(1)} MB → ${(live(endProbe) / MB).toFixed(1)} MB, ${(liveGrowth * 100).toFixed(1)}%`,
  );
  // Resident memory too, for native memory no JavaScript object owns; it also holds what V8 and the
  // allocator keep committed after the load (the young generation is capped in the workers).
  const growth = (end.total - warm!.total) / warm!.total;
  t.ok(
    growth <= MAX_RSS_GROWTH,
    `RSS at the end within ${MAX_RSS_GROWTH * 100}% of after the warm-up: ${(warm!.total / MB).toFixed(1)} MB → ${(end.total / MB).toFixed(1)} MB 3 s after the last request (${(atEnd.total / MB).toFixed(1)} MB right at it), ${(growth * 100).toFixed(1)}%`,
  );
  t.same(processTree(pid), pids, 'the same primary and worker processes throughout (no crash, no respawn)');
  t.same(gw.logs.filter((line) => line.event === 'worker_exit' || line.event === 'worker_error'), [], 'no worker died or failed (threads or processes)');
});
