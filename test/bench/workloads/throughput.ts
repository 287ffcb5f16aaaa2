/**
 * Issue 2's figures: keep-alive GET of /cucm-uds/version with wrk, and a new
 * TLS connection per request with a full or a resumed handshake (our own
 * client, see clients/conn-client.ts). Each run is preceded by a short
 * unmeasured warm-up (JIT, upstream keep-alive pools, TLS session caches).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch, waitForLine, type Spawned } from '../lib/proc.js';
import { describeCounts, fmt, percentile } from '../lib/stats.js';
import type { Column, Endpoint, Settings, Workload, WorkloadContext, WorkloadResult } from '../lib/types.js';

const PATH = '/cucm-uds/version';

/**
 * Proxy CPU per answered request. The window also holds the proxy's health
 * checks (a few per second), small next to seconds of load.
 */
function cpuPerRequestUs(before: number | undefined, after: number | undefined, requests: number): number {
  if (before === undefined || after === undefined || requests === 0) return NaN;
  return ((after - before) * 1e6) / requests;
}

const COMMON_COLUMNS: Column[] = [
  { key: 'rps', label: 'req/s', format: fmt.int },
  { key: 'p50', label: 'p50 ms', format: fmt.ms },
  { key: 'p99', label: 'p99 ms', format: fmt.ms },
  { key: 'max', label: 'max ms', format: fmt.ms },
  { key: 'errors', label: 'errors', format: fmt.int },
  { key: 'cpuUsPerReq', label: 'proxy CPU µs/req', format: fmt.int },
];

// wrk's own summary, as JSON, so nothing depends on its human-readable layout.
const WRK_REPORT = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCHJSON {"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p99":%d,"max":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`;

interface WrkSummary {
  requests: number;
  durationUs: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50: number;
  p99: number;
  max: number;
}

export async function wrk(settings: Settings, endpoint: Endpoint, seconds: number, connections: number, threads: number): Promise<WrkSummary> {
  const script = join(settings.workDir, 'wrk-report.lua');
  writeFileSync(script, WRK_REPORT);
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--timeout', '10s', '-s', script, `${endpoint.url}${PATH}`];
  const child = launch('wrk', 'wrk', args);
  const json = await waitForLine(child, (line) => (line.startsWith('BENCHJSON ') ? line.slice(10) : undefined), (seconds + 30) * 1000);
  await child.exited;
  return JSON.parse(json) as WrkSummary;
}

/**
 * Load until the proxy's rate is steady (two 1 s wrk runs within 15 %), at
 * most `maxS` seconds. Why: a freshly started ucgate needs thousands of
 * requests before V8 has optimised its request path; at first it serves a
 * tenth of its steady rate, and on a busy machine that takes many seconds.
 * A gateway runs for weeks, so steady state is what we compare; the rates
 * seen on the way are reported. Native peers are steady at once.
 */
export async function warmUntilSteady(settings: Settings, endpoint: Endpoint, maxS: number, connections = 50): Promise<number[]> {
  const rates: number[] = [];
  const deadline = Date.now() + maxS * 1000;
  while (Date.now() < deadline) {
    const s = await wrk(settings, endpoint, 1, connections, 2);
    const rate = s.requests / (s.durationUs / 1e6);
    const previous = rates[rates.length - 1];
    rates.push(rate);
    if (previous !== undefined && Math.abs(rate - previous) <= 0.15 * Math.max(rate, previous)) break;
  }
  return rates;
}

export const keepAliveWorkload: Workload = {
  id: 'keepalive',
  title: 'Keep-alive GET /cucm-uds/version (wrk, 50 connections, 2 threads)',
  needs: 'throughput',
  includeDirect: true,
  freshContestant: false,
  ratioKey: 'rps',
  columns: [...COMMON_COLUMNS, { key: 'rssMb', label: 'proxy RSS MB', format: fmt.mb }],
  async run(ctx: WorkloadContext): Promise<WorkloadResult> {
    const { contestant, settings } = ctx;
    await wrk(settings, contestant.endpoint, settings.warmupS, 50, 2);
    const cpuBefore = ctx.proxyCpuSeconds();
    const s = await wrk(settings, contestant.endpoint, settings.durationS, 50, 2);
    const cpu = cpuPerRequestUs(cpuBefore, ctx.proxyCpuSeconds(), s.requests);
    const errors = s.connect + s.read + s.write + s.status + s.timeout;
    const kinds = { connect: s.connect, read: s.read, write: s.write, 'non-2xx/3xx': s.status, timeout: s.timeout };
    const nonzero = Object.fromEntries(Object.entries(kinds).filter(([, n]) => n > 0));
    return {
      metrics: {
        requests: s.requests,
        rps: s.requests / (s.durationUs / 1e6),
        p50: s.p50 / 1000,
        p99: s.p99 / 1000,
        max: s.max / 1000,
        errors,
        cpuUsPerReq: cpu,
        rssMb: ctx.proxyRssMb() ?? NaN,
      },
      notes: errors > 0 ? [`${contestant.name}: wrk errors ${describeCounts(nonzero)}`] : [],
    };
  },
};

interface ClientReport {
  elapsedMs: number;
  latencies: number[];
  errors: Record<string, number>;
  statuses: Record<string, number>;
  protocols: Record<string, number>;
  reused: number;
  full: number;
  connections: number;
}

/**
 * Connections per client process and how many processes. Two processes of 8:
 * one Node client process saturates its core near the full-handshake rate of
 * the fastest contestants, and the load generator shares the 2 cores with the
 * proxy and upstream either way (see the notes under the table).
 */
const CLIENT_PROCESSES = 2;
const CONCURRENCY_PER_PROCESS = 8;

/** The client processes of one workload: loaded once, then told to run (warm-up, measured) in step. */
class ConnClients {
  readonly #children: Spawned[];

  constructor(ctx: WorkloadContext, mode: 'full' | 'resumed') {
    const { endpoint } = ctx.contestant;
    const options = { host: endpoint.host, port: endpoint.port, servername: endpoint.servername, caFile: endpoint.caFile, path: PATH, concurrency: CONCURRENCY_PER_PROCESS, mode };
    const script = join(ctx.settings.repo, 'test/bench/clients/conn-client.ts');
    this.#children = Array.from({ length: CLIENT_PROCESSES }, (_, i) =>
      launch(`conn-client-${i}`, process.execPath, ['--import', 'tsx', script, JSON.stringify(options)], { cwd: ctx.settings.repo, ipc: true }),
    );
  }

  #next<T>(child: Spawned): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      child.proc.once('message', (message) => resolve(message as T));
      void child.exited.then(() => reject(new Error(`${child.name} exited:\n${child.tail()}`)));
    });
  }

  async ready(): Promise<void> {
    await Promise.all(this.#children.map((child) => this.#next(child)));
  }

  /** All clients run for `seconds` together; `onGo` runs the moment they are told to start. */
  async run(seconds: number, onGo: () => void = () => {}): Promise<ClientReport> {
    const answers = this.#children.map((child) => this.#next<ClientReport>(child));
    onGo();
    for (const child of this.#children) child.proc.send({ durationMs: seconds * 1000 });
    return merge(await Promise.all(answers));
  }

  async close(): Promise<void> {
    await Promise.all(this.#children.map((child) => child.stop(2000)));
  }
}

function merge(reports: readonly ClientReport[]): ClientReport {
  const merged: ClientReport = { elapsedMs: 0, latencies: [], errors: {}, statuses: {}, protocols: {}, reused: 0, full: 0, connections: 0 };
  for (const r of reports) {
    merged.elapsedMs = Math.max(merged.elapsedMs, r.elapsedMs);
    // concat, not push(...): tens of thousands of arguments overflow the stack.
    merged.latencies = merged.latencies.concat(r.latencies);
    for (const [k, n] of Object.entries(r.errors)) merged.errors[k] = (merged.errors[k] ?? 0) + n;
    for (const [k, n] of Object.entries(r.protocols)) merged.protocols[k] = (merged.protocols[k] ?? 0) + n;
    merged.reused += r.reused;
    merged.full += r.full;
    merged.connections += r.connections;
  }
  return merged;
}

function connectionWorkload(mode: 'full' | 'resumed'): Workload {
  return {
    id: mode === 'full' ? 'handshake-full' : 'handshake-resumed',
    title:
      mode === 'full'
        ? `New TLS connection per request, FULL handshake (Node client, ${CLIENT_PROCESSES}×${CONCURRENCY_PER_PROCESS} concurrent, no session offered)`
        : `New TLS connection per request, RESUMED handshake (Node client, ${CLIENT_PROCESSES}×${CONCURRENCY_PER_PROCESS} concurrent, newest ticket offered)`,
    needs: 'throughput',
    includeDirect: true,
    freshContestant: false,
    ratioKey: 'rps',
    columns: [...COMMON_COLUMNS, { key: 'reusePct', label: 'resumed %', format: fmt.pct }],
    async run(ctx: WorkloadContext): Promise<WorkloadResult> {
      const clients = new ConnClients(ctx, mode);
      let cpuBefore: number | undefined;
      let r: ClientReport;
      let cpuAfter: number | undefined;
      try {
        await clients.ready();
        await clients.run(ctx.settings.warmupS);
        r = await clients.run(ctx.settings.durationS, () => (cpuBefore = ctx.proxyCpuSeconds()));
        cpuAfter = ctx.proxyCpuSeconds();
      } finally {
        await clients.close();
      }
      const sorted = r.latencies.sort((a, b) => a - b);
      const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
      const notes = [`${ctx.contestant.name}: ${r.full} full + ${r.reused} resumed handshakes; ${describeCounts(r.protocols)}`];
      if (errors > 0) notes.push(`${ctx.contestant.name}: client-side errors ${describeCounts(r.errors)}`);
      return {
        metrics: {
          requests: sorted.length,
          rps: sorted.length / (r.elapsedMs / 1000),
          p50: percentile(sorted, 50) ?? NaN,
          p99: percentile(sorted, 99) ?? NaN,
          max: sorted[sorted.length - 1] ?? NaN,
          errors,
          reusePct: r.connections > 0 ? (100 * r.reused) / r.connections : NaN,
          cpuUsPerReq: cpuPerRequestUs(cpuBefore, cpuAfter, sorted.length),
        },
        notes,
      };
    },
  };
}

export const fullHandshakeWorkload = connectionWorkload('full');
export const resumedHandshakeWorkload = connectionWorkload('resumed');
