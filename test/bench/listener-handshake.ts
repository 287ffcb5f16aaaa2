/**
 * What a feature of the HTTPS listener costs per full TLS handshake, measured
 * finer than `npm run bench` can on a shared machine: no proxying, no
 * upstream, just the real HttpsListener (dist/) answering a one-line GET on
 * each new connection, without and with ACME tls-alpn-01 configured, for this
 * build and optionally another (`--compare DIR`, its dist/). The listeners run
 * side by side in their own processes; each trial loads every one in turn
 * (order rotated) with the same client, and the figure is each listener's own
 * CPU per handshake. Ratios are medians of per-trial ratios, so drift in
 * the machine's load cancels out.
 *
 *   npm run build && node --import tsx test/bench/listener-handshake.ts [--compare DIR] [--trials 9] [--handshakes 600] [--client-alpn h2,http/1.1|none]
 *
 * Started with `--serve BUILD MODE` it is one of those listeners (internal).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { connect } from 'node:tls';
import { resolve, join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { createCa, issueLeaf } from '../../src/pki/x509.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SERVERNAME = 'ucgw.example.test';
const CONCURRENCY = 4;

const LIMITS = {
  maxHeaderBytes: 16_384,
  maxHeaders: 100,
  maxUrlBytes: 8_192,
  maxBodyBytes: 1_048_576,
  maxConnections: 100_000,
  maxConnectionsPerClient: 100_000,
  maxRequestsPerConnection: 0,
  idleTimeoutMs: 5_000,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  upstreamMaxHeaderBytes: 16_384,
  bufferBodyBytes: 65_536,
  bodyTimeoutMs: 10_000,
  minBodyBytesPerSecond: 1_000,
};

/** One listener: prints its port, then its CPU (µs) since 'start' on each 'stop'. */
async function serve(build: string, mode: string): Promise<void> {
  const certJson = process.env.UCGATE_LISTENER_BENCH_CERT ?? '{}';
  const { HttpsListener } = (await import(pathToFileURL(join(build, 'dist/worker/listeners.js')).href)) as typeof import('../../src/worker/listeners.js');
  // Builds before issue 19 keep the challenge table under acme/.
  const tablePath = existsSync(join(build, 'dist/challenges/challenge-table.js')) ? 'dist/challenges/challenge-table.js' : 'dist/acme/challenge-table.js';
  const { ChallengeTable } = (await import(pathToFileURL(join(build, tablePath)).href)) as typeof import('../../src/challenges/challenge-table.js');
  const cert = JSON.parse(certJson) as { certPem: string; keyPem: string };
  const listener = new HttpsListener(
    { host: '127.0.0.1', port: 0, profile: 'modern' },
    'main',
    'modern',
    [{ keyType: 'rsa-2048', ...cert }],
    randomBytes(48),
    (_req, res) => res.end('ok'),
    { limits: LIMITS, prepare: () => undefined },
    mode === 'tls-alpn-01' ? new ChallengeTable() : undefined,
  );
  const { port } = await listener.listen();
  process.stdout.write(`${port}\n`);
  let start = process.cpuUsage();
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'start') start = process.cpuUsage();
    else if (line === 'stop') {
      const used = process.cpuUsage(start);
      process.stdout.write(`${used.user + used.system}\n`);
    } else if (line === 'exit') process.exit(0);
  }
}

/** `count` new connections, CONCURRENCY at a time, each a full handshake and one GET. */
async function load(port: number, count: number, alpn: string[] | undefined): Promise<void> {
  let started = 0;
  const one = () =>
    new Promise<void>((done) => {
      const socket = connect({ host: '127.0.0.1', port, servername: SERVERNAME, rejectUnauthorized: false, ...(alpn && { ALPNProtocols: alpn }) }, () =>
        socket.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      );
      socket.resume();
      socket.on('error', () => undefined);
      socket.on('close', () => done());
    });
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (started < count) {
        started++;
        await one();
      }
    }),
  );
}

interface Server {
  readonly name: string;
  readonly child: ChildProcess;
  readonly port: number;
  next(): Promise<string>;
}

async function start(name: string, build: string, mode: string, certJson: string): Promise<Server> {
  // The throwaway key goes by environment, not argv (which `ps` shows).
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', build, mode], {
    stdio: ['pipe', 'pipe', 'inherit'],
    cwd: REPO,
    env: { ...process.env, UCGATE_LISTENER_BENCH_CERT: certJson },
  });
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => (waiting.length > 0 ? waiting.shift()!(line) : lines.push(line)));
  const next = () => new Promise<string>((res) => (lines.length > 0 ? res(lines.shift()!) : waiting.push(res)));
  return { name, child, port: Number(await next()), next };
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function main(argv: readonly string[]): Promise<void> {
  const option = (name: string, fallback: string) => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
  };
  const trials = Number(option('--trials', '9'));
  const handshakes = Number(option('--handshakes', '600'));
  const clientAlpn = option('--client-alpn', 'h2,http/1.1');
  const alpn = clientAlpn === 'none' ? undefined : clientAlpn.split(',');
  const compare = argv.includes('--compare') ? resolve(option('--compare', '')) : undefined;
  const ca = await createCa({ commonName: 'listener bench CA' });
  const leaf = await issueLeaf({ issuer: ca, commonName: SERVERNAME, subjectAltNames: [SERVERNAME], keyType: 'rsa-2048' });
  const certJson = JSON.stringify({ certPem: leaf.certPem, keyPem: leaf.keyPem });
  const builds: [string, string][] = [['this', REPO], ...(compare ? [['before', compare] as [string, string]] : [])];
  const servers: Server[] = [];
  for (const [label, build] of builds) for (const mode of ['plain', 'tls-alpn-01']) servers.push(await start(`${label} ${mode}`, build, mode, certJson));
  for (const server of servers) await load(server.port, 200, alpn); // warm-up
  const perHandshake = new Map<string, number[]>(servers.map((s) => [s.name, []]));
  for (let trial = 0; trial < trials; trial++) {
    for (let i = 0; i < servers.length; i++) {
      const server = servers[(i + trial) % servers.length]!;
      server.child.stdin!.write('start\n');
      await load(server.port, handshakes, alpn);
      server.child.stdin!.write('stop\n');
      perHandshake.get(server.name)!.push(Number(await server.next()) / handshakes);
    }
  }
  for (const server of servers) server.child.stdin!.write('exit\n');
  await Promise.all(servers.map((s) => (s.child.exitCode === null ? once(s.child, 'exit') : undefined)));
  const ratio = (a: string, b: string) => median(perHandshake.get(a)!.map((v, i) => v / perHandshake.get(b)![i]!));
  const out = [
    `Command: \`node --import tsx test/bench/listener-handshake.ts ${argv.join(' ')}\``,
    `- ${new Date().toISOString()}, Node ${process.version}; ${trials} trials × ${handshakes} full TLS 1.3 handshakes (RSA-2048, SNI, ALPN ${clientAlpn}) per listener, ${CONCURRENCY} at a time`,
    '',
    '| listener | median CPU µs/handshake | per trial |',
    '| --- | ---: | --- |',
    ...servers.map((s) => `| ${s.name} | ${median(perHandshake.get(s.name)!).toFixed(0)} | ${perHandshake.get(s.name)!.map((v) => v.toFixed(0)).join(' ')} |`),
    '',
    ...builds.map(([label]) => `- ${label}: tls-alpn-01 / plain = ${ratio(`${label} tls-alpn-01`, `${label} plain`).toFixed(3)} (median of per-trial ratios)`),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

if (process.argv[2] === '--serve') await serve(process.argv[3]!, process.argv[4]!);
else await main(process.argv.slice(2));
