/**
 * dnsmasq as the authoritative server of one or more zones, on a loopback
 * address and port the test picks, for dns-01 through a CNAME (issue 19).
 *
 * The server runs as a daemon whose pid is in `<dir>/dnsmasq.pid`, and its
 * config is `<dir>/dnsmasq.conf` plus `<dir>/records.conf`: `zoneScript`
 * writes a node script that rewrites records.conf and restarts the daemon,
 * so a dnsHook (a separate process) can publish TXT records the way a DNS
 * provider's API would. dnsmasq reads `txt-record` only at start.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Resolver } from 'node:dns/promises';
import { waitFor } from './net.js';

export interface ZoneServer {
  readonly address: string;
  readonly port: number;
  /** `address:port`, for a resolver. */
  readonly server: string;
  /** Rewrites the record lines and restarts on the same address and port. */
  setRecords(lines: readonly string[]): Promise<void>;
  stop(): void;
}

/** The restart, as a script a hook can run too: `node <script> <records file lines as JSON>`. */
const RESTART = `
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
export function restart(dir, lines) {
  const pidFile = dir + '/dnsmasq.pid';
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    try { process.kill(pid, 'SIGTERM'); } catch {}
    // The port is free once the old daemon is gone.
    const deadline = Date.now() + 5000;
    for (;;) {
      try { process.kill(pid, 0); } catch { break; }
      if (Date.now() > deadline) throw new Error('dnsmasq ' + pid + ' did not stop');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  writeFileSync(dir + '/records.conf', lines.join('\\n') + '\\n');
  execFileSync('dnsmasq', ['--conf-file=' + dir + '/dnsmasq.conf', '--pid-file=' + pidFile]);
}
`;

/** Starts dnsmasq on `address:port` with `base` lines (zones, NS) and `records` lines (CNAME, TXT). */
export async function startZoneServer(t: { teardown(fn: () => unknown): void }, dir: string, address: string, port: number, base: readonly string[], records: readonly string[], probe: string): Promise<ZoneServer> {
  writeFileSync(join(dir, 'dnsmasq.conf'), [`port=${port}`, `listen-address=${address}`, 'bind-interfaces', 'no-resolv', 'no-hosts', 'user=root', `conf-file=${join(dir, 'records.conf')}`, ...base].join('\n') + '\n');
  writeFileSync(join(dir, 'restart.mjs'), RESTART);
  const server = `${address}:${port}`;
  const resolver = new Resolver({ timeout: 300, tries: 1 });
  resolver.setServers([server]);
  const setRecords = async (lines: readonly string[]) => {
    execFileSync(process.execPath, ['--input-type=module', '-e', `import { restart } from ${JSON.stringify(join(dir, 'restart.mjs'))}; restart(${JSON.stringify(dir)}, ${JSON.stringify(lines)});`]);
    await waitFor(async () => (await resolver.resolve4(probe).catch(() => [])).length > 0, { timeoutMs: 5_000, message: `dnsmasq answering on ${server}` });
  };
  const stop = () => {
    const pidFile = join(dir, 'dnsmasq.pid');
    if (!existsSync(pidFile)) return;
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGTERM');
    } catch {
      // already gone
    }
  };
  t.teardown(stop);
  await setRecords(records);
  return { address, port, server, setRecords, stop };
}

/** A dnsHook script for `startZoneServer`'s dir: publishes TXT at UCGATE_ACME_TARGET, and logs what it was told to `<dir>/hook.jsonl`. */
export function writeZoneHook(dir: string, fixedRecords: readonly string[]): string {
  const hook = join(dir, 'dns-hook.mjs');
  writeFileSync(
    hook,
    `import { appendFileSync } from 'node:fs';
import { restart } from ${JSON.stringify(join(dir, 'restart.mjs'))};
const [action, record, value] = process.argv.slice(2);
const target = process.env.UCGATE_ACME_TARGET;
appendFileSync(${JSON.stringify(join(dir, 'hook.jsonl'))}, JSON.stringify({ action, record, value, target }) + '\\n');
const fixed = ${JSON.stringify(fixedRecords)};
restart(${JSON.stringify(dir)}, action === 'present' ? [...fixed, 'txt-record=' + target + ',"' + value + '"'] : fixed);
`,
  );
  return hook;
}
