/**
 * `node --import tsx test/bench/profile.ts` — where a ucgate worker spends its
 * CPU under one bench workload. Starts the bench's static nginx upstream and
 * ucgate as built (dist/, one worker so one profile holds all the data-plane
 * work) under `node --cpu-prof`, warms it until steady, loads it for the
 * measured window, stops it (the profile is written at exit), and writes:
 *
 *   <out>/<name>.svg         flame graph of the worker, measured window only
 *   <out>/<name>.folded.txt  the same as folded stacks (flamegraph.pl, speedscope)
 *   <out>/<name>.top.txt     self time by frame, and inclusive time of a few suspects
 *
 *   options: --workload keepalive|handshake-full|handshake-resumed|login-storm|large-body (default keepalive)
 *            --seconds N (measured, default 10)  --out DIR (default test/bench/profile)
 *            --name NAME (default the workload's id)  --keep (keep the raw .cpuprofile files)
 *            --contestant ucgate|node-floor (default ucgate; node-floor: the bare Node proxy, for comparison)
 *
 * The load generator shares the machine with the proxy: the profile is of the
 * proxy's own CPU, so that does not skew the picture, only the rate.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePki } from './lib/pki.js';
import { startNginxStaticUpstream } from './upstream/upstreams.js';
import { UcgateContestant } from './contestants/ucgate.js';
import { NodeFloorContestant } from './contestants/node-floor.js';
import { proxyRuntime } from './lib/runtime.js';
import { treeCpuSeconds, treeRssMb, processTree, sleep } from './lib/proc.js';
import type { Settings, Workload } from './lib/types.js';
import { fullHandshakeWorkload, keepAliveWorkload, resumedHandshakeWorkload, warmUntilSteady } from './workloads/throughput.js';
import { loginStormWorkload } from './workloads/login-storm.js';
import { largeBodyWorkload } from './workloads/large-body.js';
import { flameGraphSvg, foldedText, foldProfile, inclusiveTime, selfTimes, type CpuProfile } from './lib/flamegraph.js';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const WORKLOADS: Record<string, Workload> = {
  keepalive: keepAliveWorkload,
  'handshake-full': fullHandshakeWorkload,
  'handshake-resumed': resumedHandshakeWorkload,
  'login-storm': loginStormWorkload,
  'large-body': largeBodyWorkload,
};
/** Frames worth a line of their own in the summary, whatever their rank. */
const SUSPECTS: Record<string, (frame: string) => boolean> = {
  'https.Agent pool bookkeeping': (f) => f.includes('node:_http_agent'),
  'prom-client': (f) => f.includes(' prom-client/'),
  pino: (f) => f.includes(' pino/') || f.includes(' pino-std-serializers/'),
  'ucgate rewrite (src/rewrite)': (f) => f.includes(' src/rewrite/') || f.includes(' dist/rewrite/'),
  'ucgate response writer': (f) => f.includes('response-writer'),
  'ucgate request handler': (f) => f.includes('request-handler') || f.includes('upstream-request'),
  'router + path normalisation': (f) => f.includes('router.') || f.includes('normalise-path'),
  'TLS (node:_tls_wrap, native)': (f) => f.includes('_tls_wrap') || f.includes('tls_wrap'),
  'HTTP parser (parserOnHeadersComplete...)': (f) => f.startsWith('parserOn'),
  '(garbage collector)': (f) => f === '(garbage collector)',
  '(program)': (f) => f === '(program)',
};

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<void> {
  const workloadId = arg('--workload', 'keepalive');
  const workload = WORKLOADS[workloadId];
  if (!workload) throw new Error(`--workload is one of ${Object.keys(WORKLOADS).join(', ')}`);
  const seconds = Number(arg('--seconds', '10'));
  const out = resolve(arg('--out', join(REPO, 'test/bench/profile')));
  const name = arg('--name', workloadId);
  const keep = process.argv.includes('--keep');
  const workDir = mkdtempSync(join(tmpdir(), 'ucgate-profile-'));
  const profDir = join(workDir, 'cpuprof');
  mkdirSync(profDir, { recursive: true });
  mkdirSync(out, { recursive: true });
  const log = (message: string) => void process.stderr.write(`[profile] ${message}\n`);
  const pki = await makePki(workDir);
  const upstream = await startNginxStaticUpstream(pki, workDir);
  const profArgs = ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval=250'];
  const which = arg('--contestant', 'ucgate');
  // The runtime the bench measures (Node 24 when found), so the profile explains the bench's figures.
  const runtime = proxyRuntime();
  log(runtime.fallbackNote ?? `on Node ${runtime.version}`);
  const ucgate = which === 'node-floor' ? new NodeFloorContestant(REPO, 1, profArgs, runtime.execPath) : new UcgateContestant(REPO, 1, profArgs, 'ucgate', {}, runtime.execPath);
  let primaryPid = -1;
  let summary: string[] = [];
  let launchedAt = 0;
  let measuredFrom = 0;
  try {
    launchedAt = Date.now();
    await ucgate.start(upstream, pki, workDir);
    primaryPid = ucgate.pids()[0]!;
    const settings: Settings = { short: false, durationS: seconds, warmupS: 1, maxWarmupS: 15, minWarmupS: 5, pki, workDir, repo: REPO };
    const rates = await warmUntilSteady(settings, ucgate.endpoint, 15);
    log(`warm-up req/s ${rates.map((r) => Math.round(r)).join(' → ')}`);
    measuredFrom = Date.now();
    const result = await workload.run({
      contestant: ucgate,
      upstream,
      settings,
      log,
      proxyCpuSeconds: () => treeCpuSeconds(ucgate.pids()),
      proxyRssMb: () => treeRssMb(ucgate.pids()),
    });
    const m = result.metrics;
    summary = [
      `${Math.round(m.requests ?? 0).toLocaleString('en-US')} requests at ${Math.round(m.rps ?? 0).toLocaleString('en-US')} req/s, ${Math.round(m.cpuUsPerReq ?? NaN)} µs CPU per request (primary + worker), p50 ${m.p50?.toFixed(1)} ms`,
      `processes: ${processTree(ucgate.pids()).length} (primary + 1 worker)`,
    ];
    log(summary[0]!);
  } finally {
    await ucgate.stop();
    await upstream.stop();
  }
  // A worker writes its profile as it exits, which may be just after its primary is gone.
  let files: string[] = [];
  let workerFile: string | undefined;
  for (let waited = 0; waited < 10_000 && !workerFile; waited += 100) {
    files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    workerFile = files.find((f) => !f.includes(`.${primaryPid}.`));
    if (!workerFile) await sleep(100);
  }
  if (!workerFile) throw new Error(`no worker profile among ${files.join(', ')}`);
  const profile = JSON.parse(readFileSync(join(profDir, workerFile), 'utf8')) as CpuProfile;
  // The worker starts a little after the primary; this errs on the side of skipping a few ms of load.
  const fromMs = measuredFrom - launchedAt;
  const folded = foldProfile(profile, { fromMs, roots: [`${REPO}/`] });
  const busy = folded.totalUs / Math.max(folded.windowUs, 1);
  const title = `${which} worker CPU, ${workloadId}, ${new Date().toISOString().slice(0, 10)}`;
  const subtitle = `${summary[0] ?? ''} — ${Math.round(folded.totalUs / 1000)} ms CPU in a ${Math.round(folded.windowUs / 1000)} ms window (${(busy * 100).toFixed(0)} % busy)`;
  writeFileSync(join(out, `${name}.svg`), flameGraphSvg(folded, { title, subtitle }));
  writeFileSync(join(out, `${name}.folded.txt`), foldedText(folded));
  const self = selfTimes(folded).slice(0, 40);
  const lines = [
    title,
    ...summary,
    `window: ${Math.round(folded.windowUs / 1000)} ms, CPU ${Math.round(folded.totalUs / 1000)} ms, idle ${Math.round(folded.idleUs / 1000)} ms`,
    '',
    'inclusive share of CPU:',
    ...Object.entries(SUSPECTS).map(([label, match]) => `  ${((100 * inclusiveTime(folded, match)) / folded.totalUs).toFixed(1).padStart(5)} %  ${label}`),
    '',
    'self time, top 40:',
    ...self.map((s) => `  ${(s.share * 100).toFixed(1).padStart(5)} %  ${s.frame}`),
    '',
  ];
  writeFileSync(join(out, `${name}.top.txt`), lines.join('\n'));
  if (keep) for (const f of files) copyFileSync(join(profDir, f), join(out, f));
  rmSync(workDir, { recursive: true, force: true });
  process.stdout.write(lines.join('\n'));
  log(`written to ${out}/${name}.{svg,folded.txt,top.txt}`);
}

await main();
