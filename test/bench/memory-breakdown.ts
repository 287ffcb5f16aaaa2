/**
 * `node --import tsx test/bench/memory-breakdown.ts` — where ucgate's resident
 * memory goes, idle and after the bench's keep-alive load: per process, what
 * is the node binary and other files (shared between processes, counted once
 * per process by an RSS sum) and what is anonymous (heaps, allocator); per
 * isolate (the primary, each worker process or thread), V8's heap after a
 * forced collection, by space (the test-only probe of src/debug/memory-probe.ts);
 * and the largest anonymous mappings of the process that holds the data plane
 * (glibc's arenas are the 64 MB-aligned ones, `[heap]` the main arena).
 *
 *   options: --mode auto|process (workerMode; default auto: threads on Node 24)  --workers N (default 2)
 *            --seconds N (keep-alive load, default 5)  --quiet N (then RSS every 2 s for N s, default 40)  --env 'K=V;K=V' (e.g. 'LD_PRELOAD=' for glibc's malloc)
 *
 * ucgate runs as built (dist/), on the bench's proxy runtime (Node 24 when found), in front of
 * the bench's static nginx upstream. Nothing here asserts anything.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePki } from './lib/pki.js';
import { startNginxStaticUpstream } from './upstream/upstreams.js';
import { UcgateContestant } from './contestants/ucgate.js';
import { proxyRuntime } from './lib/runtime.js';
import { benchAllocator } from './lib/allocator.js';
import { processTree, sleep, treeCpuSeconds, treeRssMb } from './lib/proc.js';
import { keepAliveWorkload, warmUntilSteady } from './workloads/throughput.js';
import type { Settings } from './lib/types.js';
import type { MemoryProbe } from '../../src/debug/memory-probe.js';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const MB = 1024 * 1024;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/** Resident memory of one process from smaps_rollup, MB: all, anonymous, file-backed. */
function rollup(pid: number): { rss: number; anon: number; file: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { rss: kb('Rss') / 1024, anon: kb('Anonymous') / 1024, file: (kb('Rss') - kb('Anonymous')) / 1024 };
}

/** The largest anonymous mappings of a process. */
function topAnonymous(pid: number, count: number): string[] {
  const maps: { head: string; anon: number; size: number }[] = [];
  let current: { head: string; anon: number; size: number } | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) maps.push((current = { head: line, anon: 0, size: 0 }));
    else if (current && line.startsWith('Anonymous:')) current.anon = Number(line.split(/\s+/)[1]) / 1024;
    else if (current && line.startsWith('Size:')) current.size = Number(line.split(/\s+/)[1]) / 1024;
  }
  return maps
    .sort((a, b) => b.anon - a.anon)
    .slice(0, count)
    .map((m) => `${m.anon.toFixed(1).padStart(6)} MB of ${m.size.toFixed(1).padStart(6)} MB  ${m.head.split(/\s+/)[0]} ${m.head.split(/\s+/).slice(5).join(' ') || '(anonymous)'}`);
}

async function probeIsolates(dir: string, pids: readonly number[], isolates: number): Promise<MemoryProbe[]> {
  for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true });
  for (const pid of pids) process.kill(pid, 'SIGUSR2');
  for (let waited = 0; waited < 30_000; waited += 100) {
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    if (files.length >= isolates) return files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as MemoryProbe);
    await sleep(100);
  }
  throw new Error(`only ${readdirSync(dir).length} of ${isolates} memory probes arrived`);
}

async function report(label: string, contestant: UcgateContestant, probeDir: string, isolates: number): Promise<string[]> {
  const pids = processTree(contestant.pids());
  const lines = [`## ${label}: ${pids.length} process(es), RSS sum ${treeRssMb(contestant.pids())?.toFixed(0)} MB`];
  for (const pid of pids) {
    const r = rollup(pid);
    lines.push(`- process ${pid}: RSS ${r.rss.toFixed(0)} MB = anonymous ${r.anon.toFixed(0)} + files (the node binary, libraries) ${r.file.toFixed(0)}`);
  }
  const probes = await probeIsolates(probeDir, pids, isolates);
  for (const p of probes.sort((a, b) => a.pid - b.pid || a.threadId - b.threadId)) {
    const spaces = Object.entries(p.spaces)
      .filter(([, v]) => v.size >= 0.5 * MB)
      .map(([k, v]) => `${k.replace('_space', '')} ${(v.size / MB).toFixed(1)}`)
      .join(', ');
    const who = p.threadId > 0 ? `worker thread ${p.threadId}` : p.pid === pids[0] ? 'primary' : `worker process ${p.pid}`;
    lines.push(`- ${who}, after a forced GC: V8 heap ${(p.heapTotal / MB).toFixed(1)} MB committed (${spaces}), ${(p.heapUsed / MB).toFixed(1)} used, external ${(p.external / MB).toFixed(1)}`);
  }
  const dataPlane = pids.at(-1)!;
  lines.push(`- largest anonymous mappings of process ${dataPlane}:`, ...topAnonymous(dataPlane, 10).map((l) => `    ${l}`));
  return lines;
}

async function main(): Promise<void> {
  const mode = arg('--mode', 'auto');
  const workers = Number(arg('--workers', '2'));
  const seconds = Number(arg('--seconds', '5'));
  const quietS = Number(arg('--quiet', '40'));
  const extra: Record<string, string> = {};
  for (const kv of arg('--env', '').split(';').filter(Boolean)) extra[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
  const workDir = mkdtempSync(join(tmpdir(), 'ucgate-memory-'));
  const probeDir = join(workDir, 'probes');
  mkdirSync(probeDir);
  const pki = await makePki(workDir);
  const upstream = await startNginxStaticUpstream(pki, workDir);
  const runtime = proxyRuntime();
  // As the bench runs ucgate: jemalloc preloaded when found (--env 'LD_PRELOAD=' for glibc's malloc).
  const allocator = benchAllocator();
  const base = new UcgateContestant(REPO, workers, [], 'ucgate', { ...allocator.env, UCGATE_MEMORY_PROBE_DIR: probeDir, ...extra }, runtime.execPath);
  const contestant = mode === 'process' ? base.withProcessWorkers() : base;
  const out: string[] = [`# ucgate memory, Node ${runtime.version}, ${workers} workers, workerMode ${mode}, ${extra.LD_PRELOAD === '' ? 'glibc' : allocator.name} malloc${Object.keys(extra).length ? `, env ${JSON.stringify(extra)}` : ''}`];
  try {
    await contestant.start(upstream, pki, workDir);
    await sleep(3_000);
    out.push(...(await report('idle, 3 s after start', contestant, probeDir, 1 + workers)));
    const settings: Settings = { short: true, durationS: seconds, warmupS: 1, maxWarmupS: 10, minWarmupS: 3, pki, workDir, repo: REPO };
    await warmUntilSteady(settings, contestant.endpoint, 10);
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, treeRssMb(contestant.pids()) ?? 0)), 200);
    const result = await keepAliveWorkload.run({
      contestant,
      upstream,
      settings,
      log: () => undefined,
      proxyCpuSeconds: () => treeCpuSeconds(contestant.pids()),
      proxyRssMb: () => treeRssMb(contestant.pids()),
    });
    clearInterval(sampler);
    out.push('', `keep-alive (wrk, 50 connections, ${seconds} s): ${Math.round(result.metrics.rps ?? 0)} req/s, peak RSS sum sampled ${peak.toFixed(0)} MB`, '');
    out.push(...(await report('after the keep-alive load', contestant, probeDir, 1 + workers)));
    // Then quiet, without the probe's forced collections: what the gateway gives back by itself
    // (src/heap-release.ts; the allocator's freed pages).
    const trail: string[] = [];
    for (let s = 2; s <= quietS; s += 2) {
      await sleep(2_000);
      trail.push(`${s}s ${treeRssMb(contestant.pids())?.toFixed(0)}`);
    }
    if (quietS > 0) {
      out.push('', `quiet for ${quietS} s, RSS sum every 2 s (MB): ${trail.join(', ')}`, '');
      out.push(...(await report(`${quietS} s after the load`, contestant, probeDir, 1 + workers)));
    }
  } finally {
    await contestant.stop();
    await upstream.stop();
    if (existsSync(workDir)) rmSync(workDir, { recursive: true, force: true });
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

await main();
