import t from 'tap';
import { retryAfterMs } from '../../src/http/retry-after.js';
import { parseRetryAfter } from '../../src/acme/acme-errors.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');

t.test('delay-seconds', async (t) => {
  const cases: [string, number][] = [
    ['0', 0],
    ['1', 1000],
    ['120', 120_000],
    [' 30 ', 30_000],
    ['007', 7000],
  ];
  for (const [value, want] of cases) t.equal(retryAfterMs(value, NOW), want, JSON.stringify(value));
});

t.test('HTTP-date (RFC 9110 §5.6.7: IMF-fixdate and the two obsolete forms)', async (t) => {
  const cases: [string, number][] = [
    ['Tue, 01 Jan 2030 00:00:30 GMT', 30_000],
    ['Tuesday, 01-Jan-30 00:02:00 GMT', 120_000],
    ['Tue Jan  1 00:00:05 2030', 5000],
    ['Mon, 31 Dec 2029 23:00:00 GMT', 0],
    [' Tue, 01 Jan 2030 00:00:01 GMT ', 1000],
  ];
  for (const [value, want] of cases) t.equal(retryAfterMs(value, NOW), want, value);
});

t.test('absent or unreadable', async (t) => {
  for (const value of [undefined, '', '   ', 'soon', '5 seconds', '12abc', '1e3', '0x10', 'NaN']) {
    t.equal(retryAfterMs(value, NOW), undefined, JSON.stringify(value));
  }
});

// V8's Date.parse falls back to a lenient legacy parser: "1.5" reads as
// 2001-01-05, "-5"/"+5" as May 2001, "foo 1" as 2001-01-01. Those dates lie
// in the past, so retryAfterMs returns 0 ("busy for 0 ms") instead of
// undefined. In health-probe.ts a 503 then carries busyMs=0, which
// health-manager.ts treats as a cool-down instead of a failed check, so a
// node that keeps answering 503 with such a header is never taken down.
t.test('garbage that V8 reads as a date is still garbage', async (t) => {
  for (const value of ['1.5', '-5', '+5', 'foo 1', '1, 2', '1 2 3', 'Tuesday 5', 'Tue, 5']) {
    t.equal(retryAfterMs(value, NOW), undefined, JSON.stringify(value));
  }
});

// ACME's reading (a rate limit, an ARI poll, a 503 from the CA) had a copy of its own that sent
// anything to Date.parse: "1 2 3" was 2003-01-02, so the order was retried at once instead of
// after the CA's delay. It now goes through the same parser.
t.test('ACME reads Retry-After with the same guard', async (t) => {
  for (const value of ['1 2 3', 'Tuesday 5', '1.5', '-5', 'foo 1', '1, 2']) {
    t.notOk(Number.isNaN(Date.parse(value)), `V8 reads ${JSON.stringify(value)} as a date`);
    t.equal(parseRetryAfter(value, NOW), undefined, JSON.stringify(value));
  }
  t.equal(parseRetryAfter('Tuesday', NOW), undefined);
  t.equal(parseRetryAfter(['120', '5'], NOW), 120_000, 'a repeated header: the first value');
  t.equal(parseRetryAfter('Tue, 01 Jan 2030 00:00:30 GMT', NOW), 30_000);
});

t.test('defaults now to the wall clock', async (t) => {
  const inAMinute = new Date(Date.now() + 60_000).toUTCString();
  const ms = retryAfterMs(inAMinute)!;
  t.ok(ms > 55_000 && ms <= 60_000, `${ms} ms`);
});
