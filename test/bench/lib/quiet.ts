/**
 * Other sessions run test suites on these 2 cores; a benchmark that starts in
 * the middle of one measures them too. `busyShare` samples /proc/stat;
 * `waitForQuiet` waits (bounded) until the machine is mostly idle, and the
 * report states how busy it was either way.
 */
import { readFileSync } from 'node:fs';
import { sleep } from './proc.js';

function cpuTimes(): { busy: number; total: number } {
  // First line: "cpu user nice system idle iowait irq softirq steal ..."
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Share of all cores busy over the next `ms` (0..1). */
export async function busyShare(ms = 2000): Promise<number> {
  const a = cpuTimes();
  await sleep(ms);
  const b = cpuTimes();
  return b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0;
}

/** Waits up to `maxS` seconds for the machine to be under `threshold` busy; returns the last reading. */
export async function waitForQuiet(maxS: number, threshold = 0.2, log: (m: string) => void = () => {}): Promise<number> {
  const deadline = Date.now() + maxS * 1000;
  let share = await busyShare();
  while (share > threshold && Date.now() < deadline) {
    log(`machine ${(share * 100).toFixed(0)} % busy before we started anything; waiting for it to calm down`);
    share = await busyShare(5000);
  }
  return share;
}
