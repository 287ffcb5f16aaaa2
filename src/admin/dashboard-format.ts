/**
 * Small text formatters for the dashboard: ages, durations, UTC times. The
 * server renders every value; the browser only swaps in fresh markup, so
 * these run in one place and times are measured against the gateway's clock.
 */

/** `2026-05-01 12:03:04 UTC`, or an em dash for a missing or unparsable time. */
export function formatUtc(iso: string | null | undefined): string {
  const ms = iso ? Date.parse(iso) : NaN;
  if (Number.isNaN(ms)) return '—';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** A span of time in its two largest units: `45 s`, `3 min 12 s`, `5 h 2 min`, `12 d 4 h`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** `3 s ago` / `in 12 s` relative to `nowMs`; the largest unit only, as people say it. */
export function formatAgo(iso: string | null | undefined, nowMs: number): string {
  const ms = iso ? Date.parse(iso) : NaN;
  if (Number.isNaN(ms)) return 'never';
  const delta = nowMs - ms;
  const abs = Math.abs(delta);
  let text: string;
  if (abs < 1000) return 'just now';
  if (abs < 60_000) text = `${Math.floor(abs / 1000)} s`;
  else if (abs < 3_600_000) text = `${Math.floor(abs / 60_000)} min`;
  else if (abs < 172_800_000) text = `${Math.floor(abs / 3_600_000)} h`;
  else text = `${Math.floor(abs / 86_400_000)} d`;
  return delta >= 0 ? `${text} ago` : `in ${text}`;
}

/** `2026-05-01` from an ISO time, or an em dash. */
export function formatDate(iso: string | null | undefined): string {
  return formatUtc(iso).slice(0, 10);
}

/** Long hex serials shortened for a table cell; the full value goes in a title attribute. */
export function shortHex(hex: string | undefined, keep = 16): string {
  if (!hex) return '—';
  return hex.length > keep ? `${hex.slice(0, keep)}…` : hex;
}
