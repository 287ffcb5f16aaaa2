import t from 'tap';
import { NodeHealth, type HealthObservation } from '../../src/upstream/node-health.js';

const ok: HealthObservation = { ok: true, source: 'check' };
const fail: HealthObservation = { ok: false, source: 'check', layer: 'connect', reason: 'ECONNREFUSED' };
const reqOk: HealthObservation = { ok: true, source: 'request' };
const reqFail: HealthObservation = { ok: false, source: 'request', layer: 'reset', reason: 'ECONNRESET' };

/** `+` a passing check, `-` a failing check, `r` a passing request, `x` a failing request. */
const OBS: Record<string, HealthObservation> = { '+': ok, '-': fail, r: reqOk, x: reqFail };

interface Case {
  readonly name: string;
  readonly rise: number;
  readonly fall: number;
  readonly seq: string;
  /** `up` after each observation: U or D. */
  readonly states: string;
  /** Index → new state for the observations that changed it. */
  readonly changes: Record<number, boolean>;
}

const CASES: Case[] = [
  { name: 'fall=2 rise=2: two failures take it down, two successes bring it back', rise: 2, fall: 2, seq: '--++', states: 'UDDU', changes: { 1: false, 3: true } },
  { name: 'fall=2: a success between failures resets the streak', rise: 2, fall: 2, seq: '-+-+-', states: 'UUUUU', changes: {} },
  { name: 'rise=2: a failure while down resets the rise streak', rise: 2, fall: 2, seq: '--+-++', states: 'UDDDDU', changes: { 1: false, 5: true } },
  { name: 'fall=1: one failure is enough', rise: 2, fall: 1, seq: '-++', states: 'DDU', changes: { 0: false, 2: true } },
  { name: 'fall=1 rise=1: every result flips', rise: 1, fall: 1, seq: '-+-+', states: 'DUDU', changes: { 0: false, 1: true, 2: false, 3: true } },
  { name: 'rise=3: three successes needed', rise: 3, fall: 2, seq: '--+++', states: 'UDDDU', changes: { 1: false, 4: true } },
  { name: 'rise=3: interrupted rise starts over', rise: 3, fall: 2, seq: '--++-+++', states: 'UDDDDDDU', changes: { 1: false, 7: true } },
  { name: 'failed requests count towards fall like checks', rise: 2, fall: 2, seq: 'x-', states: 'UD', changes: { 1: false } },
  { name: 'two failed requests alone take a node down', rise: 2, fall: 2, seq: 'xx', states: 'UD', changes: { 1: false } },
  { name: 'passing requests never bring a node up', rise: 1, fall: 1, seq: '-rrrr', states: 'DDDDD', changes: { 0: false } },
  { name: 'passing requests do not reset a rise streak either', rise: 2, fall: 1, seq: '-+r+', states: 'DDDU', changes: { 0: false, 3: true } },
  { name: 'a passing request while up resets the fall streak', rise: 2, fall: 2, seq: '-r-', states: 'UUU', changes: {} },
  { name: 'rise/fall below 1 are treated as 1', rise: 0, fall: -3, seq: '-+', states: 'DU', changes: { 0: false, 1: true } },
];

for (const c of CASES) {
  t.test(c.name, async (t) => {
    const health = new NodeHealth(c.rise, c.fall);
    t.equal(health.up, true, 'a node starts up');
    const states: string[] = [];
    const changes: Record<number, boolean> = {};
    [...c.seq].forEach((symbol, i) => {
      const changed = health.observe(OBS[symbol]!, 1000 + i);
      if (changed !== undefined) changes[i] = changed;
      states.push(health.up ? 'U' : 'D');
    });
    t.equal(states.join(''), c.states);
    t.strictSame(changes, c.changes);
  });
}

t.test('snapshot: fresh node', async (t) => {
  t.strictSame(new NodeHealth(2, 2).snapshot(), {
    up: true,
    streak: 0,
    lastCheckAt: undefined,
    lastCheckOk: undefined,
    lastError: undefined,
    lastChangeAt: undefined,
  });
});

t.test('snapshot fields follow checks, requests and changes', async (t) => {
  const health = new NodeHealth(2, 3);
  health.observe(fail, 100);
  t.match(health.snapshot(), { up: true, streak: 1, lastCheckAt: 100, lastCheckOk: false, lastChangeAt: undefined });
  t.strictSame(health.snapshot().lastError, { layer: 'connect', reason: 'ECONNREFUSED', at: 100, source: 'check' });

  // A request updates lastError and the streak but not lastCheck*.
  health.observe(reqFail, 200);
  t.match(health.snapshot(), { up: true, streak: 2, lastCheckAt: 100, lastCheckOk: false });
  t.strictSame(health.snapshot().lastError, { layer: 'reset', reason: 'ECONNRESET', at: 200, source: 'request' });

  health.observe({ ok: false, source: 'check', layer: 'timeout', reason: 'no answer' }, 300);
  t.match(health.snapshot(), { up: false, streak: 0, lastCheckAt: 300, lastCheckOk: false, lastChangeAt: 300 });

  health.observe(ok, 400);
  t.match(health.snapshot(), { up: false, streak: 1, lastCheckAt: 400, lastCheckOk: true, lastChangeAt: 300 });
  health.observe(ok, 500);
  t.match(health.snapshot(), { up: true, streak: 0, lastCheckAt: 500, lastCheckOk: true, lastChangeAt: 500 });
  // Success does not clear the last error: the status page still shows why it was down.
  t.strictSame(health.snapshot().lastError, { layer: 'timeout', reason: 'no answer', at: 300, source: 'check' });
});

t.test('lastError defaults: layer protocol, empty reason', async (t) => {
  const health = new NodeHealth(2, 2);
  health.observe({ ok: false, source: 'check' }, 7);
  t.strictSame(health.snapshot().lastError, { layer: 'protocol', reason: '', at: 7, source: 'check' });
});

t.test('forceDown', async (t) => {
  t.test('takes an up node down at once, whatever the streak', async (t) => {
    const health = new NodeHealth(2, 5);
    health.observe(fail, 1);
    t.equal(health.forceDown('tls', 'another CA', 10), true);
    t.equal(health.up, false);
    t.match(health.snapshot(), { up: false, streak: 0, lastChangeAt: 10 });
    t.strictSame(health.snapshot().lastError, { layer: 'tls', reason: 'another CA', at: 10, source: 'check' });
  });
  t.test('on a down node returns false but records the error', async (t) => {
    const health = new NodeHealth(2, 1);
    health.observe(fail, 1);
    t.equal(health.forceDown('tls', 'again', 20), false);
    t.match(health.snapshot(), { up: false, lastChangeAt: 1 });
    t.match(health.snapshot().lastError, { layer: 'tls', reason: 'again', at: 20 });
  });
  t.test('the node needs `rise` passing checks to come back', async (t) => {
    const health = new NodeHealth(3, 2);
    health.forceDown('tls', 'x', 0);
    t.equal(health.observe(ok, 1), undefined);
    t.equal(health.observe(ok, 2), undefined);
    t.equal(health.observe(ok, 3), true);
  });
});
