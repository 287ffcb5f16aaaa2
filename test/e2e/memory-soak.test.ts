/**
 * Memory under a node that fails every other request (issue 10): requests
 * (keep-alive, 50 at a time) through a gateway whose only upstream answers
 * one request and resets the next. Resident memory of the whole gateway
 * (primary + worker, VmRSS from /proc) after a 10,000-request warm-up, and
 * again at the end, must stay within 20%.
 *
 * Every broken answer costs the gateway an upstream connection (a reset
 * kills it, and Node's agent drops the TLS session of a connection that
 * errored, so the next one is a full handshake), a 502, an `upstream_error`
 * log line, a passive health report to the primary: the paths where a leak
 * would hide.
 *
 * Size: the issue asks for 100,000 requests. On the 2-core development VMs a
 * full TLS handshake costs ~5 ms of CPU, so the broken half alone needs
 * ~4 min of the worker's CPU and the run took 6-10 min under the usual load:
 * the default here is 30,000 (20,000 after the warm-up; 40,000 took 245 s), and
 * `UCGATE_SOAK_REQUESTS=100000` runs the full size where CI has the cores.
 */
import t from 'tap';
import https from 'node:https';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBrokenUpstream } from '../helpers/broken-upstream.js';
import { treeRss, processTree } from '../helpers/process-tree.js';
import { startGatewayProcess, TEST_ROUTES, FQDN } from '../helpers/gateway.js';

const TOTAL = Number(process.env.UCGATE_SOAK_REQUESTS ?? 30_000);
const WARM_UP = 10_000;
const CONCURRENCY = 50;
const MAX_GROWTH = 0.2;
const MB = 1024 * 1024;

/** The request loop stops here, well inside the file's timeout, so teardown always runs (no orphaned gateway). */
const BUDGET_MS = Number(process.env.UCGATE_SOAK_BUDGET_MS ?? 270_000);
t.setTimeout(BUDGET_MS + 60_000);

t.test(`${TOTAL} requests through a node that resets every other one: memory stays flat`, async (t) => {
  t.ok(TOTAL > WARM_UP, `more requests (${TOTAL}) than the warm-up (${WARM_UP})`);
  const dir = t.testdir();
  const upstream = await startBrokenUpstream({ name: 'flaky', hostname: 'cucm-flaky.example.test', behaviour: ['normal', 'reset'] });
  t.teardown(() => upstream.close());
  const caFile = join(dir, 'upstream-ca.pem');
  writeFileSync(caFile, upstream.caPem);
  const gw = await startGatewayProcess(t, dir, {
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
  t.ok(pids.length >= 2, `primary and worker (${pids.join(', ')})`);

  const agent = new https.Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca, servername: FQDN });
  t.teardown(() => agent.destroy());
  const statuses = new Map<string, number>();
  const samples: { done: number; rssMb: number; atMs: number }[] = [];
  let issued = 0;
  let done = 0;
  let warm: number | undefined;
  let warmByPid: Record<number, number> = {};
  const started = Date.now();
  const sample = () => {
    const rss = treeRss(pid).total;
    samples.push({ done, rssMb: Math.round((rss / MB) * 10) / 10, atMs: Date.now() - started });
    return rss;
  };
  const one = () =>
    new Promise<string>((resolve) => {
      const req = https.request({ host: '127.0.0.1', port: gw.port, path: '/cucm-uds/version', agent, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.statusCode)));
        res.on('error', (err: Error & { code?: string }) => resolve(err.code ?? 'response-error'));
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      req.on('error', (err: Error & { code?: string }) => resolve(err.code ?? 'error'));
      req.end();
    });
  const deadline = started + BUDGET_MS;
  const worker = async () => {
    while (issued < TOTAL && Date.now() < deadline) {
      issued++;
      const outcome = await one();
      statuses.set(outcome, (statuses.get(outcome) ?? 0) + 1);
      done++;
      if (done === WARM_UP) {
        warm = sample();
        warmByPid = treeRss(pid).byPid;
      }
      else if (done % 5_000 === 0) sample();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsedMs = Date.now() - started;
  const atEnd = sample();
  // A moment without traffic: idle sockets close, the collector runs; a leak stays.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const end = sample();

  const summary = [...statuses].map(([k, v]) => `${k}: ${v}`).join(', ');
  t.comment(`${TOTAL} requests in ${(elapsedMs / 1000).toFixed(1)} s (${Math.round(TOTAL / (elapsedMs / 1000))} req/s): ${summary}`);
  t.comment(`upstream: ${upstream.connectionCount} TLS connections, ${upstream.requests.length} requests`);
  t.comment(`gateway RSS (primary + worker), MB by requests done: ${samples.map((s) => `${s.done}: ${s.rssMb}`).join(', ')}`);
  const perPid = (byPid: Record<number, number>) => pids.map((p) => `${p === pid ? 'primary' : `worker ${p}`} ${((byPid[p] ?? 0) / MB).toFixed(1)}`).join(', ');
  t.comment(`per process, MB: after the warm-up ${perPid(warmByPid)}; at the end ${perPid(treeRss(pid).byPid)}`);

  t.equal(done, TOTAL, `every request finished within the ${BUDGET_MS / 1000} s budget (${done} done)`);
  const ok = statuses.get('200') ?? 0;
  const badGateway = statuses.get('502') ?? 0;
  // 504: the upstream connect or first byte timed out, which a starved machine can cause; still a clean answer.
  const timedOut = statuses.get('504') ?? 0;
  t.ok(ok > done * 0.3 && badGateway > done * 0.3, `both paths exercised: ${ok} answers, ${badGateway} clean 502s`);
  t.equal(ok + badGateway + timedOut, done, `nothing but 200, 502 and 504: no reset or hung client connection (${summary})`);
  t.ok(warm !== undefined && warm > 0, 'RSS read after the warm-up');
  const growth = (end - warm!) / warm!;
  t.ok(
    growth <= MAX_GROWTH,
    `RSS at the end within ${MAX_GROWTH * 100}% of after the warm-up: ${(warm! / MB).toFixed(1)} MB → ${(end / MB).toFixed(1)} MB 3 s after the last request (${(atEnd / MB).toFixed(1)} MB right at it), ${(growth * 100).toFixed(1)}%`,
  );
  t.same(processTree(pid), pids, 'the same primary and worker processes throughout (no crash, no respawn)');
});
