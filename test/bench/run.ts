/**
 * `npm run bench` — ucgate against a direct connection and against nginx,
 * HAProxy and Caddy doing the same job, in one run, on the same certificates
 * and upstream nodes. Prints markdown tables and writes them to
 * test/bench/results/latest.md. Nothing here asserts performance.
 *
 *   npm run bench                      full: 3 rounds, 5 s per workload, peers on
 *   npm run bench -- --short           1 round, 3 s per workload (about 3-4 minutes)
 *   options: --peers / --no-peers, --rounds N, --duration S, --warmup S,
 *            --only ucgate,nginx       (contestants; direct is always kept)
 *            --workloads keepalive,handshake-full,handshake-resumed,login-storm,large-body,idle-memory,failover-kill,failover-hang
 *            --no-failover, --failover-rounds N, --upstream nginx|sim, --out FILE, --keep
 *            --wait-quiet S            (wait up to S s for other work on the machine to finish)
 *            --floor                   (add node-floor: a bare Node.js proxy, the reference for Node's own cost)
 *            --compare DIR             (add ucgate-before: the build in DIR/dist, e.g. an older checkout)
 *            --variant NAME 'K=V;K=V'  (add NAME: this build with that environment, e.g. NODE_OPTIONS=...;
 *                                       items that start with -- are node's own arguments, e.g. '--no-maglev')
 *            --alpn                    (add NAME-alpn for each ucgate build: the same with ACME tls-alpn-01 configured)
 *            --dual                    (add NAME-dual for each ucgate build: RSA + ECDSA certificates, ECDSA for clients that offer it)
 *            --processes               (add NAME-processes for each ucgate build: workerMode process, node:cluster, beside threads)
 *            --client-alpn h2,http/1.1 (the Node handshake and login clients offer this ALPN list; default none)
 *            --max-warmup S            (longest warm-up of a freshly started proxy; default 10 short, 15 full)
 *            --min-warmup S            (shortest; default 3 short, 5 full)
 *
 * Processes: the load generator (wrk, or our Node clients), the proxy and the
 * upstream nodes are separate processes, started once each (upstreams for the
 * whole run, a proxy per round). All share this machine's cores: the tables
 * say how many, and the load average seen, because other work may run here.
 * Contestant order rotates between rounds so no one always runs first (cold
 * page cache, CPU frequency) or last.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { makePki } from './lib/pki.js';
import { proxyRuntime, type ProxyRuntime } from './lib/runtime.js';
import { benchAllocator, type BenchAllocator } from './lib/allocator.js';
import { treeCpuSeconds, treeRssMb } from './lib/proc.js';
import { busyShare, waitForQuiet } from './lib/quiet.js';
import { record, renderWorkload, type ResultTable } from './lib/report.js';
import type { Contestant, ControllableUpstream, Settings, UpstreamSet, Workload } from './lib/types.js';
import { startNginxStaticUpstream, startSimUpstream } from './upstream/upstreams.js';
import { DirectContestant } from './contestants/direct.js';
import { UcgateContestant } from './contestants/ucgate.js';
import { NginxContestant } from './contestants/nginx.js';
import { HaproxyContestant } from './contestants/haproxy.js';
import { CaddyContestant } from './contestants/caddy.js';
import { NodeFloorContestant } from './contestants/node-floor.js';
import { fullHandshakeWorkload, keepAliveWorkload, resumedHandshakeWorkload, warmUntilSteady } from './workloads/throughput.js';
import { hangWorkload, killWorkload } from './workloads/failover.js';
import { idleMemoryWorkload } from './workloads/idle-memory.js';
import { loginStormWorkload } from './workloads/login-storm.js';
import { largeBodyWorkload } from './workloads/large-body.js';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const ALL_WORKLOADS: readonly Workload[] = [
  keepAliveWorkload,
  fullHandshakeWorkload,
  resumedHandshakeWorkload,
  loginStormWorkload,
  largeBodyWorkload,
  idleMemoryWorkload,
  killWorkload,
  hangWorkload,
];

interface Args {
  short: boolean;
  peers: boolean;
  rounds: number;
  failoverRounds: number;
  durationS: number;
  warmupS: number;
  maxWarmupS: number;
  minWarmupS: number;
  only?: string[];
  workloads?: string[];
  failover: boolean;
  upstream: 'nginx' | 'sim';
  out: string;
  keep: boolean;
  waitQuietS: number;
  floor: boolean;
  compare?: string;
  variants: { name: string; env: NodeJS.ProcessEnv; nodeArgs: string[] }[];
  alpn: boolean;
  dual: boolean;
  processes: boolean;
  clientAlpn?: string[];
}

function parseArgs(argv: readonly string[]): Args {
  const short = argv.includes('--short');
  const args: Args = {
    short,
    peers: true,
    rounds: short ? 1 : 3,
    failoverRounds: 1,
    durationS: short ? 3 : 5,
    warmupS: 1,
    maxWarmupS: short ? 10 : 15,
    minWarmupS: short ? 3 : 5,
    failover: true,
    upstream: 'nginx',
    out: join(REPO, 'test/bench/results/latest.md'),
    keep: false,
    waitQuietS: 0,
    floor: false,
    variants: [],
    alpn: false,
    dual: false,
    processes: false,
  };
  const value = (i: number): string => {
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${argv[i]} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--short') continue;
    else if (a === '--peers') args.peers = true;
    else if (a === '--no-peers') args.peers = false;
    else if (a === '--no-failover') args.failover = false;
    else if (a === '--keep') args.keep = true;
    else if (a === '--floor') args.floor = true;
    else if (a === '--alpn') args.alpn = true;
    else if (a === '--dual') args.dual = true;
    else if (a === '--processes') args.processes = true;
    else if (a === '--client-alpn') args.clientAlpn = value(i++).split(',');
    else if (a === '--compare') args.compare = resolve(value(i++));
    else if (a === '--variant') {
      // --variant NAME 'KEY=VALUE;--flag': this build again, with that environment (e.g. NODE_OPTIONS)
      // and node arguments (V8 flags that NODE_OPTIONS refuses, such as --no-maglev).
      const name = value(i++);
      const items = value(i++).split(';').filter(Boolean);
      const nodeArgs = items.filter((item) => item.startsWith('--'));
      const env = Object.fromEntries(items.filter((item) => !item.startsWith('--')).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
      args.variants.push({ name, env, nodeArgs });
    }
    else if (a === '--rounds') args.rounds = Number(value(i++));
    else if (a === '--failover-rounds') args.failoverRounds = Number(value(i++));
    else if (a === '--wait-quiet') args.waitQuietS = Number(value(i++));
    else if (a === '--duration') args.durationS = Number(value(i++));
    else if (a === '--warmup') args.warmupS = Number(value(i++));
    else if (a === '--max-warmup') args.maxWarmupS = Number(value(i++));
    else if (a === '--min-warmup') args.minWarmupS = Number(value(i++));
    else if (a === '--only') args.only = value(i++).split(',');
    else if (a === '--workloads') args.workloads = value(i++).split(',');
    else if (a === '--out') args.out = resolve(value(i++));
    else if (a === '--upstream') {
      const u = value(i++);
      if (u !== 'nginx' && u !== 'sim') throw new Error('--upstream is nginx or sim');
      args.upstream = u;
    } else throw new Error(`unknown option ${a}`);
  }
  return args;
}

function rotate<T>(list: readonly T[], by: number): T[] {
  const n = list.length;
  return n === 0 ? [] : list.map((_, i) => list[(i + by) % n]!);
}

function version(command: string): string {
  try {
    // Some print their version on stderr (nginx), some exit non-zero after printing it (wrk).
    return execFileSync('sh', ['-c', `${command} 2>&1 || true`], { encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch {
    return `${command}: unknown`;
  }
}

function environment(args: Args, upstream: string, runtime: ProxyRuntime, allocator: BenchAllocator): string[] {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', REPO, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).trim();
    if (dirty) commit += ' (src/ has uncommitted changes)';
  } catch {
    // Not a git checkout: the figures still stand on their own.
  }
  return [
    `- ${new Date().toISOString()}, ucgate ${commit}; ucgate and node-floor on Node ${runtime.version}${runtime.fallbackNote ? ` (${runtime.fallbackNote})` : ''}, ucgate on ${allocator.name} malloc${allocator.fallbackNote ? ` (${allocator.fallbackNote})` : ' (preloaded, as the Docker image runs it; node-floor on glibc)'}, the load generators on Node ${process.version}; ${availableParallelism()} cores shared by load generator, proxy and upstream`,
    `- ${version('nginx -v')}; ${version('haproxy -v')}; caddy ${version('caddy version')}; ${version('wrk -v')}`,
    `- mode ${args.short ? 'short' : 'full'}: ${args.rounds} round(s) of ${args.durationS} s (+${args.warmupS} s warm-up) per throughput workload, ${args.failoverRounds} failover round(s); medians over rounds; contestant order rotated each round`,
    `- each proxy, once started, is loaded with wrk until its rate is steady (at least ${args.minWarmupS} runs of 1 s, the last two within 15 % and the last within 15 % of the best, at most ${args.maxWarmupS} s) before anything is measured`,
    `- throughput upstream: ${upstream}; failover upstream: simulated CUCM nodes, one process each`,
    `- Node handshake and login clients offer ${args.clientAlpn ? `ALPN ${args.clientAlpn.join(', ')}` : 'no ALPN'}, with SNI`,
    `- ucgate: 2 workers (threads where the runtime can: workerMode auto${args.processes ? '; the -processes contestants as processes' : ''}); nginx: 2 workers; HAProxy: 2 threads; Caddy: GOMAXPROCS 2; front certificate RSA-2048 from one test CA for all${args.dual ? ' but the -dual contestants, which serve it beside an ECDSA P-256 leaf from the same CA (see their notes for which leaf each client got)' : ''}`,
  ];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const workloads = ALL_WORKLOADS.filter(
    (w) => (args.workloads ? args.workloads.includes(w.id) : true) && (args.failover || w.needs !== 'failover'),
  );
  const runtime = proxyRuntime();
  if (runtime.fallbackNote) process.stderr.write(`bench: ${runtime.fallbackNote}\n`);
  else process.stderr.write(`bench: ucgate and node-floor on Node ${runtime.version} (${runtime.execPath})\n`);
  const node = runtime.execPath;
  const allocator = benchAllocator();
  if (allocator.fallbackNote) process.stderr.write(`bench: ${allocator.fallbackNote}\n`);
  const contestants: Contestant[] = [new DirectContestant(), new UcgateContestant(REPO, 2, [], 'ucgate', allocator.env, node)];
  if (args.peers) contestants.push(new NginxContestant(), new HaproxyContestant(), new CaddyContestant());
  // A reference, not a peer: the least a Node.js proxy does per request (what Node's stack costs by itself).
  if (args.floor || args.only?.includes('node-floor')) contestants.push(new NodeFloorContestant(REPO, 2, [], node));
  // Another build of ucgate (a checkout with its own dist/), for before/after figures from one run.
  if (args.compare) contestants.push(new UcgateContestant(args.compare, 2, [], 'ucgate-before', allocator.env, node));
  for (const variant of args.variants) contestants.push(new UcgateContestant(REPO, 2, variant.nodeArgs, variant.name, { ...allocator.env, ...variant.env }, node));
  // The same builds with ACME tls-alpn-01 configured: what answering acme-tls/1 costs every other handshake.
  if (args.alpn) contestants.push(...contestants.filter((c): c is UcgateContestant => c instanceof UcgateContestant).map((c) => c.withTlsAlpn()));
  // The same builds with worker processes (node:cluster) instead of threads: what threads save or cost.
  if (args.processes) contestants.push(...contestants.filter((c): c is UcgateContestant => c instanceof UcgateContestant).map((c) => c.withProcessWorkers()));
  // The same builds with the dual RSA + ECDSA certificate: what ECDSA saves clients that offer it (Jabber, browsers).
  if (args.dual) contestants.push(...contestants.filter((c): c is UcgateContestant => c instanceof UcgateContestant).map((c) => c.withDualCertificate()));
  const chosen = contestants.filter((c) => c.name === 'direct' || !args.only || args.only.includes(c.name));
  const order = chosen.map((c) => c.name);

  const workDir = mkdtempSync(join(tmpdir(), 'ucgate-bench-'));
  const log = (message: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
  const upstreams: UpstreamSet[] = [];
  const cleanup = async (): Promise<void> => {
    await Promise.all(chosen.map((c) => c.stop().catch(() => {})));
    await Promise.all(upstreams.map((u) => u.stop().catch(() => {})));
    if (!args.keep) rmSync(workDir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanup().then(() => process.exit(130)));

  const table: ResultTable = new Map();
  const busyBefore = args.waitQuietS > 0 ? await waitForQuiet(args.waitQuietS, 0.2, log) : await busyShare();
  const loadBefore = loadavg()[0]!;
  let envLines: string[] = [];
  try {
    const pki = await makePki(workDir);
    const settings: Settings = { short: args.short, durationS: args.durationS, warmupS: args.warmupS, maxWarmupS: args.maxWarmupS, minWarmupS: args.minWarmupS, pki, workDir, repo: REPO, ...(args.clientAlpn && { clientAlpn: args.clientAlpn }) };
    const needsThroughput = workloads.some((w) => w.needs === 'throughput');
    const needsSim = workloads.some((w) => w.needs === 'failover') || (needsThroughput && args.upstream === 'sim');
    const sim = needsSim ? await startSimUpstream(pki, REPO) : undefined;
    if (sim) upstreams.push(sim);
    const fast = needsThroughput && args.upstream === 'nginx' ? await startNginxStaticUpstream(pki, workDir) : sim;
    if (fast && fast !== sim) upstreams.push(fast);
    envLines = environment(args, args.upstream === 'nginx' ? 'nginx serving the node bodies as static files (2 workers)' : 'simulated CUCM nodes', runtime, allocator);

    const runOne = async (contestant: Contestant, upstream: UpstreamSet, list: readonly Workload[], round: number, maxWarmS: number, warmConnections = 50): Promise<void> => {
      log(`round ${round + 1}: starting ${contestant.name} (${list.map((w) => w.id).join(', ')})`);
      let warmNote: string[] = [];
      try {
        await contestant.start(upstream, pki, workDir);
        if (contestant.isProxy) {
          const rates = await warmUntilSteady(settings, contestant.endpoint, maxWarmS, warmConnections);
          warmNote = [`${contestant.name}: warm-up req/s ${rates.map((r) => Math.round(r)).join(' → ')}`];
        }
      } catch (err) {
        for (const w of list) record(table, w.id, contestant.name, { round, failure: `start: ${(err as Error).message}` });
        await contestant.stop();
        return;
      }
      try {
        for (const w of list) {
          const ctx = {
            contestant,
            upstream,
            settings,
            log,
            proxyCpuSeconds: () => (contestant.isProxy ? treeCpuSeconds(contestant.pids()) : undefined),
            proxyRssMb: () => (contestant.isProxy ? treeRssMb(contestant.pids()) : undefined),
          };
          try {
            const result = await w.run(ctx);
            // The proxy's own warnings since it started (ucgate: upstream errors and timeouts), even when
            // clients saw nothing: a retry that hid a failure is still worth knowing about.
            const notes = [...warmNote, ...(result.notes ?? []), ...(round === 0 ? contestant.notes() : []), ...(contestant.complaints?.() ?? [])];
            warmNote = [];
            record(table, w.id, contestant.name, { round, result: { ...result, notes } });
            log(`  ${w.id} ${contestant.name}: ${JSON.stringify(result.metrics, (_, v: unknown) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v))}`);
          } catch (err) {
            record(table, w.id, contestant.name, { round, failure: (err as Error).message });
            log(`  ${w.id} ${contestant.name} FAILED: ${(err as Error).message}`);
          }
        }
      } finally {
        await contestant.stop();
      }
    };

    const throughput = workloads.filter((w) => w.needs === 'throughput');
    for (let round = 0; round < args.rounds && throughput.length > 0; round++) {
      for (const c of rotate(chosen, round)) {
        const mine = throughput.filter((w) => w.includeDirect || c.isProxy);
        // Workloads that tolerate a proxy warmed by earlier ones share one start; the others get their own.
        const shared = mine.filter((w) => !w.freshContestant);
        if (shared.length > 0) await runOne(c, fast!, shared, round, settings.maxWarmupS);
        for (const w of mine.filter((x) => x.freshContestant)) await runOne(c, fast!, [w], round, settings.maxWarmupS);
      }
    }
    const failover = workloads.filter((w) => w.needs === 'failover');
    for (let round = 0; round < args.failoverRounds && failover.length > 0; round++) {
      for (const c of rotate(chosen.filter((x) => x.isProxy), round)) {
        // A fresh proxy per scenario: health state from the previous one must not help.
        // Shorter and lighter warm-up (the scenario's own 20 connections): the figures are timeouts
        // and counts, not rates, and 50 wrk connections overload the single-threaded simulated node.
        for (const w of failover) await runOne(c, sim as ControllableUpstream, [w], round, Math.min(settings.maxWarmupS, 6), 20);
      }
    }
  } finally {
    await cleanup();
  }

  const sections = workloads.filter((w) => table.has(w.id)).map((w) => renderWorkload(w, table.get(w.id)!, order));
  const markdown = [
    '# ucgate benchmark',
    '',
    `Command: \`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\``,
    '',
    ...envLines,
    `- other work on the machine: ${(busyBefore * 100).toFixed(0)} % of the CPU busy just before the run; load average (1 min) ${loadBefore.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end (these include the run's own processes)`,
    '',
    ...sections,
  ].join('\n');
  process.stdout.write(`\n${markdown}\n`);
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, markdown + '\n');
  log(`written to ${args.out}`);
}

await main();
