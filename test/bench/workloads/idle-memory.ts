/**
 * Issue 11's memory figure: 1,000 idle keep-alive client connections. Each
 * connection does a full TLS handshake and one GET (so the proxy has built
 * its HTTP state for it), then stays open and idle. Reported: the resident
 * memory of the proxy's whole process tree (ucgate: primary + workers) before
 * the connections, with them open, and the difference per connection; and the
 * proportional set size with them open; and the tree's resident memory with
 * each physical page counted once (the node binary's text is in RAM once
 * however many workers map it: RSS counts it per process, PSS shares it with
 * every other node process on the machine). The last is the issue's "total
 * resident memory of all processes".
 *
 * All connections come from 127.0.0.1, which no real site sees; the bench's
 * ucgate config lifts its per-client connection limit for that reason (the
 * peers have none by default).
 */
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { sleep, treePssMb, treeUniqueResidentMb } from '../lib/proc.js';
import { fmt } from '../lib/stats.js';
import type { Workload, WorkloadContext, WorkloadResult } from '../lib/types.js';

const CONNECTIONS = 1000;
/** Handshakes under way at once: enough to be quick, few enough not to trip accept queues. */
const OPENING_AT_ONCE = 100;
const SETTLE_MS = 3000;
/**
 * The second reading: V8 gives a young generation's pages back only once an
 * isolate has allocated little for a while (its memory reducer waits ~8 s
 * after the last full collection, then checks the allocation rate), so 3 s
 * after a load the workers still hold their load-time young generations
 * (test/bench/results/memory-breakdown.md). 20 s of idleness is what a
 * gateway holding its phones' connections overnight looks like.
 */
const IDLE_MS = 20_000;

function getOnce(agent: https.Agent, ctx: WorkloadContext): Promise<number> {
  const { endpoint } = ctx.contestant;
  return new Promise((resolve) => {
    const req = https.get(
      { host: endpoint.host, port: endpoint.port, path: '/cucm-uds/version', agent, servername: endpoint.servername, headers: { host: `${endpoint.servername}:${endpoint.port}` } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      },
    );
    req.setTimeout(30_000, () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

function openSockets(agent: https.Agent): number {
  let n = 0;
  for (const list of Object.values(agent.freeSockets)) n += list?.filter((s) => !s.destroyed).length ?? 0;
  return n;
}

export const idleMemoryWorkload: Workload = {
  id: 'idle-memory',
  title: `${CONNECTIONS.toLocaleString('en-US')} idle keep-alive client connections (one GET each, then idle): resident memory of the proxy`,
  needs: 'throughput',
  includeDirect: false,
  freshContestant: true,
  columns: [
    { key: 'rssBeforeMb', label: 'RSS before, MB', format: fmt.mb },
    { key: 'rssMb', label: `RSS with ${CONNECTIONS} idle, MB`, format: fmt.mb },
    { key: 'pssMb', label: `PSS with ${CONNECTIONS} idle, MB`, format: fmt.mb },
    { key: 'uniqueMb', label: `resident, each page once, with ${CONNECTIONS} idle, MB`, format: fmt.mb },
    { key: 'kbPerConnection', label: 'KB per connection', format: fmt.int },
    { key: 'rssIdleMb', label: `RSS after ${IDLE_MS / 1000} s idle, MB`, format: fmt.mb },
    { key: 'uniqueIdleMb', label: `each page once, after ${IDLE_MS / 1000} s idle, MB`, format: fmt.mb },
    { key: 'open', label: 'still open', format: fmt.int },
    { key: 'errors', label: 'errors', format: fmt.int },
  ],
  async run(ctx: WorkloadContext): Promise<WorkloadResult> {
    const { endpoint } = ctx.contestant;
    // After the warm-up's load: let the proxy drop its busy-time garbage first, as it would when load ends.
    await sleep(SETTLE_MS);
    const before = ctx.proxyRssMb() ?? NaN;
    // One agent per connection: each keeps its socket after the GET, and no request can reuse another's.
    const ca = readFileSync(endpoint.caFile);
    const agents = Array.from({ length: CONNECTIONS }, () => new https.Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1, ca }));
    let errors = 0;
    try {
      for (let i = 0; i < CONNECTIONS; i += OPENING_AT_ONCE) {
        const statuses = await Promise.all(agents.slice(i, i + OPENING_AT_ONCE).map((agent) => getOnce(agent, ctx)));
        errors += statuses.filter((status) => status !== 200).length;
      }
      await sleep(SETTLE_MS);
      const open = agents.reduce((n, agent) => n + openSockets(agent), 0);
      const rss = ctx.proxyRssMb() ?? NaN;
      const pss = ctx.contestant.isProxy ? treePssMb(ctx.contestant.pids()) : NaN;
      const unique = ctx.contestant.isProxy ? treeUniqueResidentMb(ctx.contestant.pids()) : NaN;
      await sleep(IDLE_MS - SETTLE_MS);
      const stillOpen = agents.reduce((n, agent) => n + openSockets(agent), 0);
      const rssIdle = stillOpen === open ? (ctx.proxyRssMb() ?? NaN) : NaN;
      const uniqueIdle = stillOpen === open && ctx.contestant.isProxy ? treeUniqueResidentMb(ctx.contestant.pids()) : NaN;
      return {
        metrics: {
          rssBeforeMb: before,
          rssMb: rss,
          pssMb: pss,
          uniqueMb: unique,
          kbPerConnection: ((rss - before) * 1024) / Math.max(open, 1),
          rssIdleMb: rssIdle,
          uniqueIdleMb: uniqueIdle,
          open,
          errors,
        },
        notes: [
          ...(errors > 0 ? [`${ctx.contestant.name}: ${errors} of ${CONNECTIONS} opening requests failed`] : []),
          ...(stillOpen !== open ? [`${ctx.contestant.name}: ${open - stillOpen} idle connections closed within ${IDLE_MS / 1000} s (no idle reading)`] : []),
        ],
      };
    } finally {
      for (const agent of agents) agent.destroy();
    }
  },
};
