/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; undefined
 * when absent or unreadable. Only the three HTTP-date forms (§5.6.7) go to
 * Date.parse: V8 reads "1.5", "-5" or "Tuesday 5" as dates in 2001, which
 * would mean "busy for 0 ms". The one parser: the proxy, the health checks
 * and the ACME client all read Retry-After here.
 */
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const TIME = '\\d{2}:\\d{2}:\\d{2}';
const HTTP_DATE = new RegExp(
  // IMF-fixdate and rfc850-date: "Tue, 01 Jan 2030 00:00:30 GMT", "Tuesday, 01-Jan-30 00:00:30 GMT".
  `^${DAY}[a-z]*, \\d{1,2}[ -][A-Z][a-z]{2}[ -]\\d{2,4} ${TIME} GMT$` +
    // asctime-date: "Tue Jan  1 00:00:30 2030".
    `|^${DAY} [A-Z][a-z]{2} +\\d{1,2} ${TIME} \\d{4}$`,
);

export function retryAfterMs(value: string | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!HTTP_DATE.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
