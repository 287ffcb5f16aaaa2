/**
 * A real redis-server for tests, on 127.0.0.1 and a port it managed to bind
 * (a random high port is tried, and another on "Address already in use": no
 * probe-close-reuse race). `stop()` and `start()` again keep the port and,
 * with `persist`, the data (AOF in the test folder), which is how tests take
 * Redis away and bring it back. `startRedisCluster` builds a 3-master Cluster.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

interface TeardownTarget {
  teardown(fn: () => unknown): void;
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Stops it (SIGTERM, waits for the exit). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** redis-cli against it; stdout trimmed. */
  cli(...args: string[]): Promise<string>;
  readonly running: boolean;
}

export interface RedisOptions {
  /** Keep data across stop/start (appendonly, fsync always). */
  readonly persist?: boolean;
  readonly extraArgs?: readonly string[];
}

function randomPort(): number {
  return 20_000 + Math.floor(Math.random() * 30_000);
}

/** Spawns redis-server and resolves once it accepts connections, or rejects with what it printed. */
function spawnRedis(port: number, dir: string, args: readonly string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const proc = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--daemonize', 'no', '--save', '', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk;
      if (output.includes('Ready to accept connections')) {
        proc.stdout!.off('data', onData);
        proc.stdout!.resume();
        resolve(proc);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (chunk: Buffer) => (output += chunk));
    proc.once('exit', (code) => reject(Object.assign(new Error(`redis-server exited (${code}): ${output.slice(-500)}`), { output })));
    proc.once('error', reject);
  });
}

async function bindSomewhere(dir: string, args: readonly string[]): Promise<{ proc: ChildProcess; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const port = randomPort();
    try {
      return { proc: await spawnRedis(port, dir, args), port };
    } catch (err) {
      if (attempt > 20 || !/in use|bind/i.test((err as { output?: string }).output ?? '')) throw err;
    }
  }
}

function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
  });
}

export async function startRedis(t: TeardownTarget, dir: string, options: RedisOptions = {}): Promise<RedisServer> {
  mkdirSync(dir, { recursive: true });
  const args = [...(options.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']), ...(options.extraArgs ?? [])];
  const bound = await bindSomewhere(dir, args);
  const port = bound.port;
  let proc = bound.proc;
  let running = true;
  t.teardown(() => stopProcess(proc));
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() {
      return running;
    },
    stop: async () => {
      await stopProcess(proc);
      running = false;
    },
    start: async () => {
      proc = await spawnRedis(port, dir, args);
      running = true;
    },
    cli: async (...cliArgs) => (await exec('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...cliArgs])).stdout.trim(),
  };
}

export interface RedisCluster {
  readonly ports: readonly number[];
  /** redis+cluster:// URL naming every master as a seed. */
  readonly url: string;
  cli(...args: string[]): Promise<string>;
  /** redis-cli against one node, without following redirections. */
  cliAt(port: number, ...args: string[]): Promise<string>;
}

/** Three masters, no replicas: `redis-cli --cluster create`, then waits for `cluster_state:ok`. */
export async function startRedisCluster(t: TeardownTarget, dir: string, masters = 3): Promise<RedisCluster> {
  const nodes: { proc: ChildProcess; port: number }[] = [];
  for (let i = 0; i < masters; i++) {
    const nodeDir = join(dir, `node-${i}`);
    mkdirSync(nodeDir, { recursive: true });
    const node = await bindSomewhere(nodeDir, ['--appendonly', 'no', '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000']);
    nodes.push(node);
    t.teardown(() => stopProcess(node.proc));
  }
  const ports = nodes.map((node) => node.port);
  await exec('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes']);
  const cli = async (...args: string[]) => (await exec('redis-cli', ['-c', '-h', '127.0.0.1', '-p', String(ports[0]), ...args])).stdout.trim();
  const deadline = Date.now() + 15_000;
  while (!(await cli('cluster', 'info')).includes('cluster_state:ok')) {
    if (Date.now() > deadline) throw new Error('redis cluster did not reach cluster_state:ok');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const cliAt = async (port: number, ...args: string[]) => (await exec('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout.trim();
  return { ports, url: `redis+cluster://${ports.map((port) => `127.0.0.1:${port}`).join(',')}`, cli, cliAt };
}

export interface RedisSentinel {
  readonly port: number;
  /** redis+sentinel:// URL for the monitored master. */
  readonly url: string;
}

/** One sentinel (quorum 1) watching `master` under the name `mymaster`. */
export async function startSentinel(t: TeardownTarget, dir: string, master: RedisServer, name = 'mymaster'): Promise<RedisSentinel> {
  mkdirSync(dir, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const port = randomPort();
    const conf = join(dir, `sentinel-${port}.conf`);
    // Sentinel rewrites its config file: it must be its own, writable.
    writeFileSync(conf, `bind 127.0.0.1\nport ${port}\ndir ${dir}\nsentinel monitor ${name} 127.0.0.1 ${master.port} 1\n`);
    const proc = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const up = await new Promise<boolean>((resolve) => {
      let output = '';
      proc.stdout!.on('data', (chunk: Buffer) => {
        output += chunk;
        if (/Sentinel ID is|monitor master/.test(output)) resolve(true);
      });
      proc.once('exit', () => resolve(false));
    });
    if (up) {
      t.teardown(() => stopProcess(proc));
      return { port, url: `redis+sentinel://127.0.0.1:${port}/${name}` };
    }
    if (attempt > 20) throw new Error('sentinel did not start');
  }
}
