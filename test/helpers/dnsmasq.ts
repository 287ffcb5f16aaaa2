/**
 * A real DNS server for SRV tests: Debian's dnsmasq on a loopback UDP port,
 * answering from a config the test writes. dnsmasq does not reload SRV
 * records on SIGHUP, so a change means a restart on the same port.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Resolver } from 'node:dns/promises';
import { waitFor } from './net.js';

export interface SrvRecord {
  readonly target: string;
  readonly port: number;
  readonly priority: number;
  readonly weight: number;
}

export interface Dnsmasq {
  readonly port: number;
  /** Rewrites the records and restarts the server on the same port. */
  setRecords(srv: readonly SrvRecord[]): Promise<void>;
  stop(): Promise<void>;
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    // The port is free now; dnsmasq takes it a moment later. A clash is retried by the caller.
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/** `extraLines`: more dnsmasq.conf lines (say, `auth-zone=` to answer NS queries as the zone's server). */
export async function startDnsmasq(
  t: { teardown(fn: () => unknown): void },
  dir: string,
  name: string,
  records: readonly SrvRecord[],
  hosts: Record<string, string>,
  extraLines: readonly string[] = [],
): Promise<Dnsmasq> {
  let proc: ChildProcess | undefined;
  let port = 0;
  const confFile = join(dir, 'dnsmasq.conf');
  const write = (srv: readonly SrvRecord[]) =>
    writeFileSync(
      confFile,
      [
        `port=${port}`,
        'listen-address=127.0.0.1',
        'bind-interfaces',
        'no-resolv',
        'no-hosts',
        'user=root',
        'local=/example.test/',
        ...srv.map((r) => `srv-host=${name},${r.target},${r.port},${r.priority},${r.weight}`),
        ...Object.entries(hosts).map(([host, address]) => `host-record=${host},${address}`),
        ...extraLines,
      ].join('\n') + '\n',
    );
  const stop = async () => {
    const current = proc;
    proc = undefined;
    if (!current || current.exitCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill('SIGTERM');
    await exited;
  };
  const start = async (srv: readonly SrvRecord[]) => {
    write(srv);
    const child = spawn('dnsmasq', [`--conf-file=${confFile}`, '--keep-in-foreground', `--pid-file=${join(dir, 'dnsmasq.pid')}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
    proc = child;
    const resolver = new Resolver({ timeout: 300, tries: 1 });
    resolver.setServers([`127.0.0.1:${port}`]);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${stderr}`);
        return (await resolver.resolveSrv(name)).length === srv.length;
      },
      { timeoutMs: 5_000, message: 'dnsmasq answering' },
    );
  };
  for (let attempt = 0; ; attempt++) {
    port = await freeUdpPort();
    try {
      await start(records);
      break;
    } catch (err) {
      await stop();
      if (attempt >= 3) throw err;
    }
  }
  t.teardown(stop);
  return {
    port,
    setRecords: async (srv) => {
      await stop();
      await start(srv);
    },
    stop,
  };
}
