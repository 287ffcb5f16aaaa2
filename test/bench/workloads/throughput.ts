/**
 * Issue 2's figures: keep-alive GET of /cucm-uds/version with wrk, and a new
 * TLS connection per request with a full or a resumed handshake (our own
 * client, see clients/conn-client.ts). Each run is preceded by a short
 * unmeasured warm-up (JIT, upstream keep-alive pools, TLS session caches).
 * The wrk and client-process helpers here serve the other load workloads too
 * (login-storm.ts, large-body.ts).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLIENT_PROCESSES, CONCURRENCY_PER_PROCESS, measureWithClients, type ClientReport } from '../lib/client-processes.js';
import { launch, waitForLine } from '../lib/proc.js';
import { describeCounts, fmt, percentile } from '../lib/stats.js';
import type { Column, Endpoint, Settings, Workload, WorkloadContext, WorkloadResult } from '../lib/types.js';

const PATH = '/cucm-uds/version';

/**
 * Proxy CPU per answered request (or login). The window also holds the
 * proxy's health checks (a few per second), small next to seconds of load.
 */
export function cpuPerRequestUs(cpuSeconds: number | undefined, requests: number): number {
  if (cpuSeconds === undefined || requests === 0) return NaN;
  return (cpuSeconds * 1e6) / requests;
}

const COMMON_COLUMNS: Column[] = [
  { key: 'rps', label: 'req/s', format: fmt.int },
  { key: 'p50', label: 'p50 ms', format: fmt.ms },
  { key: 'p99', label: 'p99 ms', format: fmt.ms },
  { key: 'max', label: 'max ms', format: fmt.ms },
  { key: 'errors', label: 'errors', format: fmt.int },
  { key: 'cpuUsPerReq', label: 'proxy CPU µs/req', format: fmt.int },
];
export const RSS_COLUMN: Column = { key: 'rssMb', label: 'proxy RSS MB', format: fmt.mb };
export const RESUMED_COLUMN: Column = { key: 'reusePct', label: 'resumed %', format: fmt.pct };

/** The common column for `key`, labelled `label` if given (e.g. a rate of logins rather than requests). */
export function commonColumn(key: string, label?: string): Column {
  const column = COMMON_COLUMNS.find((c) => c.key === key)!;
  return label === undefined ? column : { ...column, label };
}

// wrk's own summary, as JSON, so nothing depends on its human-readable layout.
const WRK_REPORT = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCHJSON {"requests":%d,"durationUs":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p99":%d,"max":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`;

export interface WrkSummary {
  requests: number;
  durationUs: number;
  /** Bytes read, heads included. */
  bytes: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50: number;
  p99: number;
  max: number;
}

export async function wrk(settings: Settings, endpoint: Endpoint, seconds: number, connections: number, threads: number, path = PATH): Promise<WrkSummary> {
  const script = join(settings.workDir, 'wrk-report.lua');
  writeFileSync(script, WRK_REPORT);
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--timeout', '10s', '-s', script, `${endpoint.url}${path}`];
  const child = launch('wrk', 'wrk', args);
  const json = await waitForLine(child, (line) => (line.startsWith('BENCHJSON ') ? line.slice(10) : undefined), (seconds + 30) * 1000);
  await child.exited;
  return JSON.parse(json) as WrkSummary;
}

/**
 * Load until the proxy's rate is steady, at most `maxS` seconds: at least
 * `minS` 1 s wrk runs, and then the last two within 15 % of each other and
 * the last within 15 % of the best seen. Why: a freshly started Node.js proxy
 * needs thousands of requests before V8 has optimised its request path; at
 * first it serves a tenth of its steady rate, and it climbs in steps with
 * flat stretches (300 → 1,175 → 1,120 → 3,000 → 4,600 req/s), so two close
 * runs alone can stop on a step while it is still cold. A gateway runs for
 * weeks, so steady state is what we compare; the rates seen on the way are
 * reported. Native peers are steady at once and get the same minimum.
 */
export async function warmUntilSteady(settings: Settings, endpoint: Endpoint, maxS: number, connections = 50, minS = settings.minWarmupS): Promise<number[]> {
  const rates: number[] = [];
  const deadline = Date.now() + maxS * 1000;
  while (Date.now() < deadline) {
    const s = await wrk(settings, endpoint, 1, connections, 2);
    const rate = s.requests / (s.durationUs / 1e6);
    const previous = rates[rates.length - 1];
    rates.push(rate);
    if (rates.length < minS || previous === undefined) continue;
    const close = Math.abs(rate - previous) <= 0.15 * Math.max(rate, previous);
    if (close && rate >= 0.85 * Math.max(...rates)) break;
  }
  return rates;
}

export interface WrkRun {
  readonly summary: WrkSummary;
  /** Proxy CPU seconds over the measured run; undefined when the contestant is not a proxy. */
  readonly cpuSeconds: number | undefined;
}

/** A warm-up wrk run (settings.warmupS), then the measured one (settings.durationS) with the proxy's CPU sampled around it. */
export async function measureWithWrk(ctx: WorkloadContext, connections: number, threads: number, path = PATH): Promise<WrkRun> {
  const { contestant, settings } = ctx;
  await wrk(settings, contestant.endpoint, settings.warmupS, connections, threads, path);
  const cpuBefore = ctx.proxyCpuSeconds();
  const summary = await wrk(settings, contestant.endpoint, settings.durationS, connections, threads, path);
  const cpuAfter = ctx.proxyCpuSeconds();
  return { summary, cpuSeconds: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore };
}

/** wrk's error total, and a note naming the kinds seen (none: no note). */
export function wrkErrors(name: string, s: WrkSummary): { errors: number; notes: string[] } {
  const kinds = { connect: s.connect, read: s.read, write: s.write, 'non-2xx/3xx': s.status, timeout: s.timeout };
  const nonzero = Object.fromEntries(Object.entries(kinds).filter(([, n]) => n > 0));
  const errors = Object.values(nonzero).reduce((a, b) => a + b, 0);
  return { errors, notes: errors > 0 ? [`${name}: wrk errors ${describeCounts(nonzero)}`] : [] };
}

export const keepAliveWorkload: Workload = {
  id: 'keepalive',
  title: 'Keep-alive GET /cucm-uds/version (wrk, 50 connections, 2 threads)',
  needs: 'throughput',
  includeDirect: true,
  freshContestant: false,
  ratioKey: 'rps',
  columns: [...COMMON_COLUMNS, RSS_COLUMN],
  async run(ctx: WorkloadContext): Promise<WorkloadResult> {
    const { summary: s, cpuSeconds } = await measureWithWrk(ctx, 50, 2);
    const { errors, notes } = wrkErrors(ctx.contestant.name, s);
    return {
      metrics: {
        requests: s.requests,
        rps: s.requests / (s.durationUs / 1e6),
        p50: s.p50 / 1000,
        p99: s.p99 / 1000,
        max: s.max / 1000,
        errors,
        cpuUsPerReq: cpuPerRequestUs(cpuSeconds, s.requests),
        rssMb: ctx.proxyRssMb() ?? NaN,
      },
      notes,
    };
  },
};

/**
 * The figures every client-process workload reports from its measured run:
 * successes per second, latency percentiles (ms), errors, proxy CPU per
 * success and the share of resumed handshakes.
 */
export function clientMetrics({ report, cpuSeconds }: { report: ClientReport; cpuSeconds: number | undefined }): Record<string, number> {
  const sorted = report.latencies.sort((a, b) => a - b);
  return {
    requests: sorted.length,
    rps: sorted.length / (report.elapsedMs / 1000),
    p50: percentile(sorted, 50) ?? NaN,
    p99: percentile(sorted, 99) ?? NaN,
    max: sorted[sorted.length - 1] ?? NaN,
    errors: Object.values(report.errors).reduce((a, b) => a + b, 0),
    reusePct: report.connections > 0 ? (100 * report.reused) / report.connections : NaN,
    cpuUsPerReq: cpuPerRequestUs(cpuSeconds, sorted.length),
  };
}

/** Handshake counts and TLS versions seen, and the client-side errors if any. */
export function clientNotes(name: string, report: ClientReport): string[] {
  const notes = [`${name}: ${report.full} full + ${report.reused} resumed handshakes; ${describeCounts(report.protocols)}`];
  if (Object.keys(report.errors).length > 0) notes.push(`${name}: client-side errors ${describeCounts(report.errors)}`);
  return notes;
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
    columns: [...COMMON_COLUMNS, RESUMED_COLUMN],
    async run(ctx: WorkloadContext): Promise<WorkloadResult> {
      const measured = await measureWithClients(ctx, 'conn-client.ts', () => ({ path: PATH, mode }));
      return { metrics: clientMetrics(measured), notes: clientNotes(ctx.contestant.name, measured.report) };
    },
  };
}

export const fullHandshakeWorkload = connectionWorkload('full');
export const resumedHandshakeWorkload = connectionWorkload('resumed');
