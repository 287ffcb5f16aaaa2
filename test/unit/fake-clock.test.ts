import t from 'tap';
import { FakeClock } from '../helpers/fake-clock.js';

t.test('advance fires due timers in due order, ties in scheduling order, with now() at each due time', async (t) => {
  const clock = new FakeClock(1000);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push(`c@${clock.now()}`), 30);
  clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
  clock.setTimeout(() => fired.push(`b@${clock.now()}`), 10);
  clock.setTimeout(() => fired.push(`late@${clock.now()}`), 31);
  t.equal(clock.advance(30), 3);
  t.strictSame(fired, ['a@1010', 'b@1010', 'c@1030']);
  t.equal(clock.now(), 1030);
  t.equal(clock.pending, 1);
});

t.test('timers scheduled by fired timers fire in the same advance when due', async (t) => {
  const clock = new FakeClock(0);
  const fired: number[] = [];
  const tick = (): void => {
    fired.push(clock.now());
    clock.setTimeout(tick, 100);
  };
  clock.setTimeout(tick, 100);
  clock.advance(350);
  t.strictSame(fired, [100, 200, 300]);
  t.strictSame(clock.dueTimes(), [400]);
  // A zero-delay timer scheduled from inside a timer fires in the same call.
  clock.setTimeout(() => clock.setTimeout(() => fired.push(-1), 0), 0);
  clock.advance(0);
  t.equal(fired.at(-1), -1);
});

t.test('clearTimeout, unref and next()', async (t) => {
  const clock = new FakeClock(0);
  const fired: string[] = [];
  const a = clock.setTimeout(() => fired.push('a'), 5);
  t.equal(a.unref(), a);
  clock.setTimeout(() => fired.push('b'), 50);
  clock.clearTimeout(a);
  t.equal(clock.next(), true);
  t.strictSame(fired, ['b']);
  t.equal(clock.now(), 50);
  t.equal(clock.next(), false);
  t.throws(() => clock.advance(-1), RangeError);
});
