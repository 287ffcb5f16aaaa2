/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; undefined
 * when absent or unreadable. Only the three HTTP-date forms go to Date.parse:
 * V8 reads "1.5" or "-5" as dates in 2001, which would mean "busy for 0 ms".
 */
const HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /;

export function retryAfterMs(value: string | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!HTTP_DATE.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
