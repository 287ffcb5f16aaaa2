import t from 'tap';
import { AttemptLimiter, Reservation } from '../../src/proxy/attempt-limiter.js';

/** Whether any rolling window of `windowMs` holds more than `limit` of `times`. */
function maxInAnyWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= windowMs) j++;
    max = Math.max(max, i - j + 1);
  }
  return max;
}

t.test('a place per attempt, held from admission until a window after it settles', async (t) => {
  const limiter = new AttemptLimiter({ limit: 3, windowMs: 60_000 });
  t.equal(limiter.free('k', 0), 3);
  const r = [new Reservation(0), new Reservation(0), new Reservation(0)];
  for (const x of r) limiter.reserve('k', x, 0);
  t.equal(limiter.free('k', 0), 0, 'three in flight fill the limit');
  t.equal(limiter.retryAfterMs('k', 0), 60_000, 'in flight only: a whole window, for certain');
  limiter.settle('k', r[0]!, false, 100);
  t.equal(limiter.free('k', 100), 1, 'a released place is free at once');
  limiter.settle('k', r[1]!, true, 1_000);
  limiter.settle('k', r[1]!, true, 2_000);
  limiter.settle('k', r[2]!, true, 5_000);
  t.equal(limiter.free('k', 5_000), 1, 'settling twice counts once');
  limiter.hit('k', 6_000);
  t.equal(limiter.free('k', 6_000), 0);
  t.equal(limiter.retryAfterMs('k', 6_000), 55_000, 'until the oldest counted attempt is a window old');
  t.equal(limiter.free('k', 60_999), 0);
  t.equal(limiter.free('k', 61_000), 1, 'exactly a window after it was counted');
  t.equal(limiter.free('k', 66_000), 3);
  t.equal(limiter.free('other', 0), 3, 'keys are apart');
});

t.test('60 concurrent reservations against a limit of 10: 10 admitted', async (t) => {
  const limiter = new AttemptLimiter({ limit: 10, windowMs: 60_000 });
  const admitted: Reservation[] = [];
  for (let i = 0; i < 60; i++) {
    if (limiter.free('jdoe', 0) === 0) continue;
    const r = new Reservation(0);
    limiter.reserve('jdoe', r, 0);
    admitted.push(r);
  }
  t.equal(admitted.length, 10);
  for (const r of admitted) limiter.settle('jdoe', r, true, 500);
  t.equal(limiter.free('jdoe', 30_000), 0, 'all failed: none left for the window');
});

t.test('a slow burst never gets more than the limit into any rolling window', async (t) => {
  // Each attempt takes 1.5 s (an EM login), one client tries again as soon as it may, for 5 windows.
  const windowMs = 60_000;
  const limiter = new AttemptLimiter({ limit: 10, windowMs });
  const sends: number[] = [];
  const inFlight: Array<{ r: Reservation; done: number }> = [];
  for (let now = 0; now < 5 * windowMs; now += 100) {
    for (let i = inFlight.length - 1; i >= 0; i--) {
      if (inFlight[i]!.done <= now) {
        limiter.settle('c', inFlight[i]!.r, true, now);
        inFlight.splice(i, 1);
      }
    }
    while (limiter.free('c', now) > 0) {
      const r = new Reservation(now);
      limiter.reserve('c', r, now);
      // Sent somewhere between admission and the answer (a route queue may hold it first).
      sends.push(now + 1_400);
      inFlight.push({ r, done: now + 1_500 });
    }
  }
  t.ok(sends.length >= 40, `${sends.length} attempts in 5 windows`);
  t.equal(maxInAnyWindow(sends, windowMs), 10, 'at most 10 in any rolling window');
});

t.test('a reservation nobody settles counts once it is overdue', async (t) => {
  const limiter = new AttemptLimiter({ limit: 2, windowMs: 10_000, maxInFlightMs: 30_000 });
  const lost = new Reservation(0);
  limiter.reserve('k', lost, 0);
  t.equal(limiter.free('k', 29_999), 1);
  t.equal(limiter.free('k', 30_000), 1, 'overdue: now a counted attempt made at 30 s');
  t.equal(limiter.retryAfterMs('k', 30_000), 0);
  limiter.settle('k', lost, false, 31_000);
  t.equal(limiter.free('k', 31_000), 1, 'a late settle does not give back what already counted');
  t.equal(limiter.free('k', 40_000), 2, 'and it ages out a window later');
});

t.test('bounded keys: the least recently used idle keys go, keys in flight stay', async (t) => {
  const limiter = new AttemptLimiter({ limit: 1, windowMs: 60_000, maxKeys: 10 });
  const held = new Reservation(0);
  limiter.reserve('held', held, 0);
  for (let i = 0; i < 9; i++) limiter.hit(`k${i}`, 0);
  limiter.hit('k0', 1);
  t.equal(limiter.size, 10);
  limiter.hit('new', 2);
  t.ok(limiter.size <= 10, `at most 10 keys (${limiter.size})`);
  t.equal(limiter.free('held', 3), 0, 'the key with a reservation in flight is kept');
  t.equal(limiter.free('k0', 3), 0, 'the key used last is kept');
  t.equal(limiter.free('new', 3), 0);
});
