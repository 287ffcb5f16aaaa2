/**
 * A process and its descendants as Linux reports them under /proc: which
 * pids a gateway runs as (primary + workers), and how much resident memory
 * they hold together. Linux only; other systems get an empty answer.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** `pid` and every descendant, parents first (from /proc/<pid>/task/<tid>/children). */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number): void => {
    out.push(p);
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const tid of tasks) {
      let children = '';
      try {
        children = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const child of children.split(/\s+/).filter(Boolean)) visit(Number(child));
    }
  };
  visit(pid);
  return out;
}

/** VmRSS of one process in bytes; 0 if it is gone. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

/** Resident memory of `pid` and all its descendants, per pid and in total. */
export function treeRss(pid: number): { total: number; byPid: Record<number, number> } {
  const byPid: Record<number, number> = {};
  let total = 0;
  for (const p of processTree(pid)) {
    const rss = rssBytes(p);
    byPid[p] = rss;
    total += rss;
  }
  return { total, byPid };
}
