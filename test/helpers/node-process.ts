/** Starts test/helpers/cucm-node-process.ts as a child process and waits for its port. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CucmNodeOptions } from '../../src/sim/cucm-node.js';

const SCRIPT = fileURLToPath(new URL('./cucm-node-process.ts', import.meta.url));

export interface NodeProcess {
  readonly proc: ChildProcess;
  readonly port: number;
  kill(signal?: NodeJS.Signals): void;
}

export function startNodeProcess(t: { teardown(fn: () => unknown): void }, options: CucmNodeOptions): Promise<NodeProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('node process did not start')), 20_000);
    let out = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      const match = /port=(\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ proc, port: Number(match[1]), kill: (signal = 'SIGKILL') => proc.kill(signal) });
      }
    });
    proc.once('exit', (code) => reject(new Error(`node process exited (${code})`)));
  });
}
