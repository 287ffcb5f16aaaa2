/**
 * Runs the real gateway as a child process (`node dist/main.js start`), with a
 * config written to a test folder, and exposes what a test needs: the ports
 * it bound (from its `gateway_ready` log line), every JSON log line, the trust
 * PEM (`ucgate cert export-trust`), and a stop that returns the exit status.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { CucmCluster } from '../../src/sim/cucm-cluster.js';
import { waitFor } from './net.js';

export const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const MAIN = join(REPO, 'dist', 'main.js');
export const FQDN = 'ucgw.example.test';

export type LogLine = Record<string, unknown> & { event?: string; msg?: string; level?: string };

/**
 * Routes used by the end-to-end tests: the UC allow-list with the built-in
 * replay policies, plus the simulator's test endpoints (reads hedged and
 * replayed like UDS discovery, writes replayed only before a byte left).
 */
export const TEST_ROUTES = [
  { pathPrefix: '/cucm-uds/version', cluster: 'cucm', methods: ['GET', 'HEAD'], replay: 'hedge' },
  { pathPrefix: '/cucm-uds/servers', cluster: 'cucm', methods: ['GET', 'HEAD'], replay: 'hedge' },
  { pathPrefix: '/cucm-uds/clusterUser', cluster: 'cucm', methods: ['GET', 'HEAD'], replay: 'hedge' },
  { pathPrefix: '/cucm-uds/', cluster: 'cucm', methods: ['GET', 'HEAD'] },
  { pathPrefix: '/ccmcip/', cluster: 'cucm', replay: 'never' },
  { pathPrefix: '/emapp/EMAppServlet', cluster: 'cucm', replay: 'never' },
  { pathPrefix: '/ucgate-test/', cluster: 'cucm', methods: ['GET', 'HEAD', 'OPTIONS'], replay: 'hedge' },
  { pathPrefix: '/ucgate-test/', cluster: 'cucm' },
];

/** A cluster entry for a simulated cluster: node URLs carry the FQDNs, connections go to 127.0.0.1. */
export function clusterConfig(cucm: CucmCluster, caFile: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'cucm',
    nodes: cucm.nodes.map((node, i) => ({ name: node.name, url: `https://${node.hostname}:${node.port}`, address: '127.0.0.1', priority: i + 1 })),
    tls: { caFile },
    timeouts: { connectMs: 1000, firstByteMs: 3000 },
    ...extra,
  };
}

/** The gateway's own health check, told apart from client traffic by its user agent. */
export const isHealthCheck = (request: { headers: Record<string, unknown> }): boolean => request.headers['user-agent'] === 'ucgate-health-check';

/** Requests a node received from clients through the gateway, leaving out the gateway's own health checks. */
export function clientRequests(node: { requests: readonly { headers: Record<string, unknown> }[] }): number {
  return node.requests.filter((request) => !isHealthCheck(request)).length;
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: options.cwd ?? REPO, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ucgate ${args.join(' ')} did not finish in time\n${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

export interface GatewayProcess {
  readonly proc: ChildProcess;
  readonly configFile: string;
  /** Ports of the listeners in config order (https first, then http). */
  readonly ports: readonly number[];
  readonly port: number;
  readonly logs: LogLine[];
  stdout(): string;
  stderr(): string;
  trustPem(): Promise<string>;
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends the signal and resolves with how the process ended. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

interface TeardownTarget {
  teardown(fn: () => unknown): void;
}

export function writeConfig(dir: string, config: Record<string, unknown>, name = 'ucgate.yaml'): string {
  const file = join(dir, name);
  writeFileSync(file, stringify(config));
  return file;
}

export async function startGatewayProcess(
  t: TeardownTarget,
  dir: string,
  config: Record<string, unknown>,
  options: { execPath?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<GatewayProcess> {
  const configFile = writeConfig(dir, { workers: 1, ...config });
  const proc = spawn(options.execPath ?? process.execPath, [MAIN, 'start', '--config', configFile], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.env && { env: { ...process.env, ...options.env } }),
  });
  const logs: LogLine[] = [];
  let stdout = '';
  let stderr = '';
  let pending = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ msg: line, event: 'non_json' });
      }
    }
  });
  proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    proc.once('exit', (code, signal) => resolveExit((exited = { code, signal }))),
  );
  t.teardown(async () => {
    if (!exited) {
      proc.kill('SIGKILL');
      await exit;
    }
  });
  const waitForLog = (predicate: (line: LogLine) => boolean, timeoutMs = 15_000) =>
    waitFor(
      () => {
        if (exited && !logs.some(predicate)) throw new Error(`gateway exited (${exited.code}) before the log line appeared\n${stderr}\n${stdout.slice(-2000)}`);
        return logs.find(predicate);
      },
      { timeoutMs, intervalMs: 20, message: 'log line' },
    );
  // Generous: on a loaded machine, forking workers and loading certificates can take a while.
  const ready = await waitForLog((line) => line.event === 'gateway_ready', 60_000);
  const ports = (ready.listeners as { port: number }[]).map((listener) => listener.port);
  return {
    proc,
    configFile,
    ports,
    port: ports[0]!,
    logs,
    stdout: () => stdout,
    stderr: () => stderr,
    trustPem: async () => {
      const result = await runCli(['cert', 'export-trust', '--config', configFile]);
      if (result.code !== 0) throw new Error(`export-trust failed: ${result.stderr}`);
      return result.stdout;
    },
    waitForLog,
    stop: async (signal = 'SIGTERM') => {
      if (!exited) proc.kill(signal);
      return exit;
    },
  };
}

/** A random admin token of 256 bits (hex): what `openssl rand -hex 32` makes, and what the gateway's 128-bit minimum accepts. */
export const TEST_ADMIN_TOKEN = randomBytes(32).toString('hex');

/** An admin token file the gateway accepts (mode 0600) in `dir`; returns its path. */
export function writeTokenFile(dir: string, token = TEST_ADMIN_TOKEN): string {
  const file = join(dir, 'admin.token');
  writeFileSync(file, token + '\n');
  chmodSync(file, 0o600);
  return file;
}

/** The admin listener's port, as the gateway named it in its `gateway_ready` line. */
export function adminPortOf(gw: GatewayProcess): number {
  const ready = gw.logs.find((line) => line.event === 'gateway_ready') as { admin?: { port: number } };
  return ready.admin!.port;
}

/** One sample from `/metrics` on a plain-HTTP admin listener: the first series of `name` whose labels include `labels`. */
export async function scrapeMetric(gw: GatewayProcess, name: string, labels: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${adminPortOf(gw)}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

/**
 * A gateway process in front of `cucm` with a loopback admin listener (token file written) and the
 * access log off; `cluster` goes into the cluster's config, `extra` into the whole config.
 */
export async function startClusterGateway(
  t: TeardownTarget & { testdir(): string },
  cucm: CucmCluster,
  cluster: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): Promise<{ gw: GatewayProcess; ca: string; dir: string }> {
  const dir = t.testdir();
  const caFile = join(dir, 'cucm-ca.pem');
  writeFileSync(caFile, cucm.caPem);
  const tokenFile = writeTokenFile(dir);
  const gw = await startGatewayProcess(t, dir, {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }], admin: { host: '127.0.0.1', port: 0, tls: false, tokenFile } },
    clusters: [clusterConfig(cucm, caFile, cluster)],
    routes: TEST_ROUTES,
    log: { access: false },
    ...extra,
  });
  return { gw, ca: await gw.trustPem(), dir };
}


/** The port a listener bound, by the start of its name (`tftp-http#`, `tftp-https#`), from the `gateway_ready` line. */
export function listenerPort(gw: GatewayProcess, prefix: string): number {
  const ready = gw.logs.find((line) => line.event === 'gateway_ready') as { listeners: { name: string; port: number }[] };
  const found = ready.listeners.find((listener) => listener.name.startsWith(prefix));
  if (!found) throw new Error(`no ${prefix} listener in ${JSON.stringify(ready.listeners)}`);
  return found.port;
}
