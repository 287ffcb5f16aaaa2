/**
 * Child processes for the benchmark: spawn (never through a shell, so the PID
 * we hold is the real server's and SIGKILL/SIGSTOP reach it), keep the tail of
 * their output for error reports, stop them by PID, and read CPU time and
 * resident memory of a whole process tree from /proc.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';

const TAIL_BYTES = 16 * 1024;

/**
 * Every child still running. If the harness dies on an uncaught error, its
 * 'exit' handler kills them, so no proxy or node outlives a failed run
 * (reparented to init, it would skew every later measurement on this machine).
 */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) {
    // The whole tree: nginx workers do not exit when their master is killed.
    for (const pid of child.pid ? processTree([child.pid]) : []) {
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
});
/** Clock ticks per second for /proc/<pid>/stat times (`getconf CLK_TCK`; 100 on Linux everywhere here). */
const CLK_TCK = 100;

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Spawned {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<Exit>;
  alive(): boolean;
  /** The last few KiB of stdout+stderr, for error messages. */
  tail(): string;
  /** Every line written to stdout so far (for ready lines). */
  readonly lines: string[];
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<Exit>;
}

export interface LaunchOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly ipc?: boolean;
}

export function launch(name: string, command: string, args: readonly string[], options: LaunchOptions = {}): Spawned {
  const stdio: StdioOptions = options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'];
  const proc = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio });
  let tail = '';
  let pending = '';
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
  };
  proc.stdout!.on('data', (chunk: Buffer) => {
    keep(chunk);
    pending += chunk.toString('utf8');
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    // Bounded: servers here log little, but a chatty one must not grow memory for minutes.
    for (const line of parts) if (lines.length < 10_000) lines.push(line);
  });
  proc.stderr!.on('data', keep);
  let exit: Exit | undefined;
  live.add(proc);
  const exited = new Promise<Exit>((resolve) => {
    proc.once('exit', (code, signal) => {
      live.delete(proc);
      resolve((exit = { code, signal }));
    });
    proc.once('error', (err) => {
      tail += `\nspawn error: ${err.message}`;
      resolve((exit = { code: -1, signal: null }));
    });
  });
  if (proc.pid === undefined) tail += `\nspawn of ${command} gave no pid`;
  return {
    name,
    proc,
    pid: proc.pid ?? -1,
    exited,
    lines,
    alive: () => exit === undefined,
    tail: () => tail,
    stop: async (graceMs = 5000) => {
      if (exit) return exit;
      // A frozen (SIGSTOP) process would not act on SIGTERM until continued.
      proc.kill('SIGCONT');
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Waits until a stdout line satisfies `match`, failing early if the process exits. */
export async function waitForLine<T>(child: Spawned, match: (line: string) => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let seen = 0;
  for (;;) {
    for (; seen < child.lines.length; seen++) {
      const found = match(child.lines[seen]!);
      if (found !== undefined) return found;
    }
    if (!child.alive()) throw new Error(`${child.name} exited before it was ready:\n${child.tail()}`);
    if (Date.now() > deadline) throw new Error(`${child.name} was not ready within ${timeoutMs} ms:\n${child.tail()}`);
    await sleep(25);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface ProcStat {
  readonly ppid: number;
  /** utime + stime + cutime + cstime, in ticks. */
  readonly ticks: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17.
  return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
}

/** `roots` and every live descendant (nginx/ucgate workers are children of the master/primary). */
export function processTree(roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(entry));
    children.set(stat.ppid, list);
  }
  const out: number[] = [];
  const todo = roots.filter((pid) => pid > 0);
  while (todo.length > 0) {
    const pid = todo.pop()!;
    if (out.includes(pid)) continue;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * CPU seconds used so far by a process tree. cutime/cstime are included so a
 * worker that exits (and is reaped) inside the window is still counted.
 */
export function treeCpuSeconds(roots: readonly number[]): number {
  let ticks = 0;
  for (const pid of processTree(roots)) ticks += readStat(pid)?.ticks ?? 0;
  return ticks / CLK_TCK;
}

/** Summed resident memory of a process tree, in MB. */
export function treeRssMb(roots: readonly number[]): number {
  let kb = 0;
  for (const pid of processTree(roots)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      kb += m ? Number(m[1]) : 0;
    } catch {
      // Gone between listing and reading.
    }
  }
  return kb / 1024;
}

/**
 * Summed proportional set size of a process tree, in MB: pages shared between
 * its processes (the node binary's text, mapped by the primary and every
 * worker) counted once in all, where RSS counts them once per process.
 */
export function treePssMb(roots: readonly number[]): number {
  let kb = 0;
  for (const pid of processTree(roots)) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      kb += m ? Number(m[1]) : 0;
    } catch {
      // Gone between listing and reading.
    }
  }
  return kb / 1024;
}

/**
 * Memory the tree holds in RAM, each physical page counted once however many
 * of its processes map it: the node binary's text, mapped by the primary and
 * every worker, is resident once, yet RSS counts it in each process and PSS
 * divides it with unrelated processes. Read from /proc/PID/pagemap (the page
 * frame numbers need root; NaN without them).
 */
export function treeUniqueResidentMb(roots: readonly number[]): number {
  const frames = new Set<number>();
  const entry = Buffer.alloc(8 * 4096);
  for (const pid of processTree(roots)) {
    let fd: number | undefined;
    try {
      const maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
      fd = openSync(`/proc/${pid}/pagemap`, 'r');
      for (const line of maps.split('\n')) {
        const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4})/.exec(line);
        // PROT_NONE reservations (V8's heap cage) have nothing resident.
        if (!m || m[3]!.startsWith('---')) continue;
        const first = Number(BigInt(`0x${m[1]}`) / 4096n);
        const last = Number(BigInt(`0x${m[2]}`) / 4096n);
        for (let page = first; page < last; page += 4096) {
          const count = Math.min(4096, last - page);
          const read = readSync(fd, entry, 0, count * 8, page * 8);
          for (let i = 0; i + 8 <= read; i += 8) {
            const value = entry.readBigUInt64LE(i);
            if (value >> 63n === 0n) continue; // not present
            const frame = Number(value & ((1n << 55n) - 1n));
            if (frame === 0) return NaN; // frame numbers hidden: not root
            frames.add(frame);
          }
        }
      }
    } catch {
      // Gone between listing and reading.
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  return (frames.size * 4096) / 1024 / 1024;
}

