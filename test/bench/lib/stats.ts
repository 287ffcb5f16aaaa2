/** Small numeric helpers and the formats the tables use. */

/** Nearest-rank percentile of an ascending-sorted array; undefined when empty. */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function median(values: readonly number[]): number | undefined {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1]! + v[mid]!) / 2;
}

export function countBy(into: Record<string, number>, key: string, by = 1): void {
  into[key] = (into[key] ?? 0) + by;
}

export function describeCounts(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k}×${n}`)
    .join(', ');
}

const dash = '–';

export const fmt = {
  int: (v: number | undefined): string => (v === undefined ? dash : Math.round(v).toLocaleString('en-US')),
  ms: (v: number | undefined): string => (v === undefined ? dash : v >= 100 ? Math.round(v).toLocaleString('en-US') : v >= 10 ? v.toFixed(1) : v.toFixed(2)),
  ratio: (v: number | undefined): string => (v === undefined ? dash : `${v.toFixed(2)}×`),
  pct: (v: number | undefined): string => (v === undefined ? dash : `${v.toFixed(1)} %`),
  mb: (v: number | undefined): string => (v === undefined ? dash : v.toFixed(0)),
};
