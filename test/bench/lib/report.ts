/**
 * Turns per-round results into markdown: one table per workload, medians over
 * rounds (req/s with its min–max range, since some peers swing a lot between
 * rounds), the ratio to direct and to the best peer, then the notes.
 */
import { fmt, median } from './stats.js';
import type { Workload, WorkloadResult } from './types.js';

export const PEERS = ['nginx', 'haproxy', 'caddy'];

export interface Outcome {
  readonly round: number;
  readonly result?: WorkloadResult;
  /** Why the contestant produced no figures in this round. */
  readonly failure?: string;
}

/** workload id → contestant → one outcome per round. */
export type ResultTable = Map<string, Map<string, Outcome[]>>;

export function record(table: ResultTable, workload: string, contestant: string, outcome: Outcome): void {
  const byContestant = table.get(workload) ?? new Map<string, Outcome[]>();
  table.set(workload, byContestant);
  const list = byContestant.get(contestant) ?? [];
  list.push(outcome);
  byContestant.set(contestant, list);
}

function medianOf(outcomes: readonly Outcome[], key: string): number | undefined {
  return median(outcomes.flatMap((o) => (o.result && Number.isFinite(o.result.metrics[key]) ? [o.result.metrics[key]!] : [])));
}

function rangeOf(outcomes: readonly Outcome[], key: string): [number, number] | undefined {
  const v = outcomes.flatMap((o) => (o.result && Number.isFinite(o.result.metrics[key]) ? [o.result.metrics[key]!] : []));
  return v.length > 1 ? [Math.min(...v), Math.max(...v)] : undefined;
}

export function renderWorkload(workload: Workload, byContestant: ReadonlyMap<string, Outcome[]>, order: readonly string[]): string {
  const names = order.filter((n) => byContestant.has(n));
  const ratioKey = workload.ratioKey;
  const direct = ratioKey ? medianOf(byContestant.get('direct') ?? [], ratioKey) : undefined;
  const peerValues = ratioKey ? PEERS.flatMap((p) => (byContestant.has(p) ? [medianOf(byContestant.get(p)!, ratioKey) ?? NaN] : [])).filter(Number.isFinite) : [];
  const bestPeer = peerValues.length > 0 ? Math.max(...peerValues) : undefined;
  const header = ['contestant', ...workload.columns.map((c) => c.label)];
  if (ratioKey && direct !== undefined) header.push('× direct');
  if (ratioKey && bestPeer !== undefined) header.push('× best peer');
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`];
  const notes: string[] = [];
  for (const name of names) {
    const outcomes = byContestant.get(name)!;
    for (const o of outcomes) {
      if (o.failure) notes.push(`${name} (round ${o.round + 1}) FAILED: ${o.failure}`);
      for (const n of o.result?.notes ?? []) notes.push(outcomes.length > 1 ? `round ${o.round + 1}: ${n}` : n);
    }
    if (!outcomes.some((o) => o.result)) {
      lines.push(`| ${name} | ${workload.columns.map(() => 'failed').join(' | ')} |`);
      continue;
    }
    const cells = workload.columns.map((c) => {
      const value = c.format(medianOf(outcomes, c.key));
      const range = c.key === ratioKey ? rangeOf(outcomes, c.key) : undefined;
      return range ? `${value} (${c.format(range[0])}–${c.format(range[1])})` : value;
    });
    const mine = ratioKey ? medianOf(outcomes, ratioKey) : undefined;
    if (ratioKey && direct !== undefined) cells.push(fmt.ratio(mine !== undefined ? mine / direct : undefined));
    if (ratioKey && bestPeer !== undefined) cells.push(name === 'direct' ? '' : fmt.ratio(mine !== undefined ? mine / bestPeer : undefined));
    lines.push(`| ${name} | ${cells.join(' | ')} |`);
  }
  const unique = [...new Set(notes)];
  return [`### ${workload.title}`, '', ...lines, '', ...unique.map((n) => `- ${n}`), ''].join('\n');
}
