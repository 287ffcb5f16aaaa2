/**
 * Issue 3's figures: the publisher fails under load and we count what clients
 * see. `kill`: SIGKILL at the event (connections reset, port refuses). `hang`:
 * SIGSTOP at the event (the kernel still accepts TCP and buffers requests,
 * nothing ever answers: the nastiest case, a node that "works" for the network
 * but not for the application), SIGCONT only after every client request ended,
 * so the worst wait is the proxy's doing and not ours.
 *
 * Load: 20 keep-alive connections from this process, each sending GETs back
 * to back with a 20 ms pause (≤ ~1,000 req/s). Bounded on purpose: with the
 * machine saturated, latency would measure CPU queues, not failover.
 *
 * Time to detect: closed-loop clients cannot show it (when all 20 are stuck on
 * the hung node, nobody sends anything until the proxy gives up), so a probe
 * stream runs beside them, open loop: one GET every 50 ms on its own
 * connections, whatever is still outstanding. "Time to detect" is when the
 * last probe was sent that the failed node then held up ("slow": over
 * max(300 ms, 2 × the probes' p99 before the event), capped at 800 ms so a
 * wait for the 1 s connect timeout always counts). Probes sent after it went
 * straight to the healthy node. A proxy that never slows a probe gets 0.
 * Probes count in requests, failures and worst wait like any request.
 */
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { sleep } from '../lib/proc.js';
import { countBy, describeCounts, fmt, percentile } from '../lib/stats.js';
import type { ControllableUpstream, Workload, WorkloadContext, WorkloadResult } from '../lib/types.js';

const CONCURRENCY = 20;
const PAUSE_MS = 20;
const PROBE_EVERY_MS = 50;
/** Phones give up after 30–45 s; a client that waits less would hide a proxy that waits more. */
const CLIENT_TIMEOUT_MS = 30_000;

interface Sample {
  readonly probe: boolean;
  readonly start: number;
  readonly latency: number;
  readonly ok: boolean;
  readonly outcome: string;
}

type Answer = Omit<Sample, 'start' | 'latency' | 'probe'> & { readonly node?: string };

function get(agent: https.Agent, ctx: WorkloadContext): Promise<Answer> {
  const { endpoint } = ctx.contestant;
  return new Promise((resolve) => {
    const req = https.get(
      { host: endpoint.host, port: endpoint.port, path: '/cucm-uds/version', servername: endpoint.servername, agent, headers: { host: `${endpoint.servername}:${endpoint.port}` } },
      (res) => {
        res.resume();
        const node = res.headers['x-cucm-node'];
        res.on('end', () => resolve({ ok: res.statusCode === 200, outcome: `status ${res.statusCode}`, ...(typeof node === 'string' ? { node } : {}) }));
        res.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, outcome: `body ${err.code ?? err.message}` }));
      },
    );
    req.setTimeout(CLIENT_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('client timeout'), { code: 'CLIENT_TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, outcome: err.code ?? err.message }));
  });
}

/**
 * The scenario only means something if the proxy is sending to the publisher
 * when it fails. The warm-up can overload the single-threaded simulated node
 * and make a proxy mark it down for a while; wait (bounded) until ten answers
 * in a row come from the publisher.
 */
async function untilPublisherServes(agent: https.Agent, ctx: WorkloadContext): Promise<void> {
  const deadline = Date.now() + 30_000;
  let inARow = 0;
  let last = '';
  while (inARow < 10) {
    if (Date.now() > deadline) throw new Error(`the publisher never served through ${ctx.contestant.name} before the event (last answer: ${last})`);
    const answer = await get(agent, ctx);
    last = `${answer.outcome} from ${answer.node ?? '?'}`;
    inARow = answer.ok && answer.node === 'pub' ? inARow + 1 : 0;
    if (inARow === 0) await sleep(200);
  }
}

function failoverWorkload(kind: 'kill' | 'hang'): Workload {
  return {
    id: `failover-${kind}`,
    title:
      kind === 'kill'
        ? `Publisher SIGKILLed under load (${CONCURRENCY} keep-alive clients)`
        : `Publisher hung with SIGSTOP under load (${CONCURRENCY} keep-alive clients)`,
    needs: 'failover',
    includeDirect: false,
    freshContestant: true,
    columns: [
      { key: 'requests', label: 'requests', format: fmt.int },
      { key: 'failed', label: 'failed', format: fmt.int },
      { key: 'p50Before', label: 'p50 before ms', format: fmt.ms },
      { key: 'p99After', label: 'p99 after event ms', format: fmt.ms },
      { key: 'max', label: 'worst wait ms', format: fmt.ms },
      { key: 'slow', label: 'slowed requests', format: fmt.int },
      { key: 'detectMs', label: 'time to detect ms', format: fmt.int },
    ],
    async run(ctx: WorkloadContext): Promise<WorkloadResult> {
      const upstream = ctx.upstream as ControllableUpstream;
      const durationMs = ctx.settings.short ? 6000 : 10_000;
      const eventAtMs = ctx.settings.short ? 2000 : 3000;
      const ca = readFileSync(ctx.contestant.endpoint.caFile);
      const agent = new https.Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca });
      // Unbounded sockets: a probe must never queue behind another one inside the client.
      const probeAgent = new https.Agent({ keepAlive: true, ca });
      await untilPublisherServes(agent, ctx);
      const samples: Sample[] = [];
      const probes: Promise<void>[] = [];
      const t0 = performance.now();
      let eventAt = Infinity;
      const event = setTimeout(() => {
        eventAt = performance.now() - t0;
        if (kind === 'kill') upstream.kill('pub');
        else upstream.freeze('pub');
      }, eventAtMs);
      const slot = async (): Promise<void> => {
        while (performance.now() - t0 < durationMs) {
          const start = performance.now() - t0;
          const { ok, outcome } = await get(agent, ctx);
          samples.push({ probe: false, start, latency: performance.now() - t0 - start, ok, outcome });
          await sleep(PAUSE_MS);
        }
      };
      const probeTimer = setInterval(() => {
        const start = performance.now() - t0;
        if (start >= durationMs) return;
        probes.push(get(probeAgent, ctx).then(({ ok, outcome }) => void samples.push({ probe: true, start, latency: performance.now() - t0 - start, ok, outcome })));
      }, PROBE_EVERY_MS);
      try {
        await Promise.all(Array.from({ length: CONCURRENCY }, slot));
      } finally {
        clearInterval(probeTimer);
        await Promise.all(probes);
        clearTimeout(event);
        agent.destroy();
        probeAgent.destroy();
        await upstream.revive('pub');
      }
      return summarise(ctx.contestant.name, samples, eventAt);
    },
  };
}

function summarise(name: string, samples: readonly Sample[], eventAt: number): WorkloadResult {
  const probeBefore = samples.filter((s) => s.probe && s.ok && s.start + s.latency < eventAt).map((s) => s.latency).sort((a, b) => a - b);
  const before = samples.filter((s) => !s.probe && s.ok && s.start + s.latency < eventAt).map((s) => s.latency).sort((a, b) => a - b);
  const after = samples.filter((s) => s.start >= eventAt).map((s) => s.latency).sort((a, b) => a - b);
  const threshold = Math.min(800, Math.max(300, 2 * (percentile(probeBefore, 99) ?? 0)));
  // Requests in flight at the event count as slowed too: the node failed under them.
  const slowed = samples.filter((s) => s.start + s.latency >= eventAt && s.latency > threshold);
  const slowProbeStarts = slowed.filter((s) => s.probe).map((s) => s.start - eventAt);
  const failures: Record<string, number> = {};
  for (const s of samples) if (!s.ok) countBy(failures, s.outcome);
  const failed = samples.filter((s) => !s.ok).length;
  const notes = [`${name}: slow = over ${Math.round(threshold)} ms; ${samples.filter((s) => s.probe).length} probes`];
  if (failed > 0) notes.push(`${name}: client saw ${describeCounts(failures)}`);
  return {
    metrics: {
      requests: samples.length,
      failed,
      p50Before: percentile(before, 50) ?? NaN,
      p99After: percentile(after, 99) ?? NaN,
      max: samples.reduce((m, s) => Math.max(m, s.latency), 0),
      slow: slowed.length,
      detectMs: slowProbeStarts.reduce((m, x) => Math.max(m, x), 0),
    },
    notes,
  };
}

export const killWorkload = failoverWorkload('kill');
export const hangWorkload = failoverWorkload('hang');
