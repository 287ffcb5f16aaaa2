/**
 * The exchange's policy in-process, on a fake clock, with fake tries: who
 * gets the next try, when a slow try is hedged, when a failed one is sent
 * again, per replay policy. Every case counts what each node received, which
 * is what "executed once" means to CUCM.
 */
import t from 'tap';
import { Exchange, type ExchangeTry, type TryHooks } from '../../src/proxy/exchange.js';
import { mayReplay, mayHedge } from '../../src/proxy/replay-policy.js';
import type { ReplayPolicy } from '../../src/config/types.js';
import { FakeClock } from '../helpers/fake-clock.js';

interface FakeTry extends ExchangeTry<string> {
  readonly hooks: TryHooks<string>;
  aborted: boolean;
}

interface Run {
  readonly clock: FakeClock;
  readonly exchange: Exchange<string, string>;
  readonly tries: FakeTry[];
  readonly log: string[];
  /** Nodes that got the request (their connection came up). */
  readonly received: string[];
  connect(i: number): void;
  respond(i: number, status?: number, retryAfterMs?: number): void;
  fail(i: number, answered?: boolean): void;
}

function run(replay: ReplayPolicy, opts: { nodes?: string[]; hedgeMs?: number; retries?: number; totalMs?: number; hasBody?: boolean; budget?: number; preferred?: string } = {}): Run {
  const clock = new FakeClock();
  const nodes = opts.nodes ?? ['pub', 'sub1', 'sub2'];
  const tries: FakeTry[] = [];
  const log: string[] = [];
  const received: string[] = [];
  let budget = opts.budget ?? Infinity;
  const pick = (exclude: ReadonlySet<string>) => nodes.find((n) => !exclude.has(n));
  const exchange = new Exchange<string, string>({
    replay,
    hedgeMs: opts.hedgeMs ?? 400,
    retries: opts.retries ?? 2,
    totalMs: opts.totalMs ?? 0,
    hasBody: opts.hasBody ?? false,
    preferred: opts.preferred,
    clock,
    nodes: {
      pick: (exclude, preferred) => (preferred !== undefined && !exclude.has(preferred) ? preferred : pick(exclude)),
      pickAvailable: pick,
    },
    budget: { spend: () => budget-- > 0 },
    startTry: (node, hooks) => {
      const attempt: FakeTry = {
        node,
        startedAt: clock.now(),
        hooks,
        aborted: false,
        abort() {
          this.aborted = true;
          log.push(`abort ${node}`);
        },
      };
      tries.push(attempt);
      log.push(`try ${node}`);
      return attempt;
    },
    statusOf: () => 502,
    events: {
      answer: (attempt, res, hedged, failover) => log.push(`answer ${attempt.node} ${res}${hedged ? ' hedged' : ''}${failover ? ' failover' : ''}`),
      giveUp: (status, why) => log.push(`give up ${status} ${why}`),
      tryFailed: (attempt, _err, answered) => log.push(`failed ${attempt.node}${answered ? ' mid-body' : ''}`),
      slow: (node, winner) => log.push(`slow ${node} (${winner} won)`),
      discard: (res) => log.push(`discard ${res}`),
    },
  });
  return {
    clock,
    exchange,
    tries,
    log,
    received,
    connect: (i) => {
      received.push(tries[i]!.node);
      tries[i]!.hooks.connected();
    },
    respond: (i, status = 200, retryAfterMs) => tries[i]!.hooks.response(`${status} from ${tries[i]!.node}`, status, retryAfterMs),
    fail: (i, answered = false) => tries[i]!.hooks.failed(new Error('boom'), answered),
  };
}

t.test('the replay table', async (t) => {
  const cases: [ReplayPolicy, Parameters<typeof mayReplay>[1], boolean][] = [
    ['hedge', { sent: false, bodyStarted: false }, true],
    ['hedge', { sent: true, bodyStarted: false }, true],
    ['hedge', { sent: true, bodyStarted: true }, false],
    ['hedge', { sent: true, bodyStarted: false, busy: { retryAfter: false } }, true],
    ['before-send', { sent: false, bodyStarted: false }, true],
    ['before-send', { sent: true, bodyStarted: false }, false],
    ['before-send', { sent: true, bodyStarted: false, busy: { retryAfter: true } }, true],
    ['before-send', { sent: true, bodyStarted: false, busy: { retryAfter: false } }, false],
    ['before-send', { sent: true, bodyStarted: true, busy: { retryAfter: true } }, false],
    ['never', { sent: false, bodyStarted: false }, true],
    ['never', { sent: true, bodyStarted: false }, false],
    ['never', { sent: true, bodyStarted: false, busy: { retryAfter: true } }, false],
  ];
  for (const [policy, outcome, expected] of cases) t.equal(mayReplay(policy, outcome), expected, `${policy} ${JSON.stringify(outcome)}`);
  t.equal(mayHedge('hedge', 400, false), true);
  t.equal(mayHedge('hedge', 0, false), false, 'hedgeMs 0 is off');
  t.equal(mayHedge('hedge', 400, true), false, 'a body cannot go to two nodes');
  t.equal(mayHedge('before-send', 400, false), false);
  t.equal(mayHedge('never', 400, false), false);
});

t.test('hedge: a slow node gets a second try after the hedge delay; the first head wins and the loser is aborted', async (t) => {
  const r = run('hedge');
  r.exchange.start();
  r.connect(0);
  r.clock.advance(399);
  t.equal(r.tries.length, 1, 'nothing more before the delay');
  r.clock.advance(1);
  t.equal(r.tries.length, 2, 'hedged at 400 ms');
  r.connect(1);
  r.respond(1);
  t.same(r.log, ['try pub', 'try sub1', 'slow pub (sub1 won)', 'abort pub', 'answer sub1 200 from sub1 hedged failover']);
  t.equal(r.clock.pending, 0, 'no timer left behind');
});

t.test('never: a slow EM login is never sent to a second node, however long it takes', async (t) => {
  for (const policy of ['never', 'before-send'] as const) {
    const r = run(policy);
    r.exchange.start();
    r.connect(0);
    r.clock.advance(60_000);
    r.respond(0);
    t.same(r.received, ['pub'], `${policy}: one node got it`);
    t.same(r.log, ['try pub', 'answer pub 200 from pub'], policy);
  }
});

t.test('never: a node that fails after the request reached it is the end (502), not a replay', async (t) => {
  const r = run('never');
  r.exchange.start();
  r.connect(0);
  r.fail(0);
  t.same(r.log, ['try pub', 'failed pub', 'give up 502 failed']);
  t.same(r.received, ['pub']);
});

t.test('never: a failed connect still moves to the next node (nothing was sent)', async (t) => {
  const r = run('never');
  r.exchange.start();
  r.fail(0);
  t.equal(r.tries.length, 2);
  r.connect(1);
  r.respond(1);
  t.same(r.log, ['try pub', 'failed pub', 'try sub1', 'answer sub1 200 from sub1 failover']);
  t.same(r.received, ['sub1'], 'only the node that answered got the request');
});

t.test('hedge: any failure before an answer goes to the next node; retries bound it', async (t) => {
  const r = run('hedge', { retries: 1 });
  r.exchange.start();
  r.connect(0);
  r.fail(0);
  r.connect(1);
  r.fail(1);
  t.same(r.log, ['try pub', 'failed pub', 'try sub1', 'failed sub1', 'give up 502 failed'], 'two tries with retries: 1');
});

t.test('a body that left is never sent again, whatever the policy', async (t) => {
  const r = run('hedge', { hasBody: true });
  r.exchange.start();
  r.connect(0);
  r.clock.advance(10_000);
  t.equal(r.tries.length, 1, 'no hedge with a body');
  r.fail(0);
  t.same(r.log, ['try pub', 'failed pub', 'give up 502 failed']);
});

t.test('503: replayed under hedge, under before-send only with Retry-After, never under never', async (t) => {
  const h = run('hedge');
  h.exchange.start();
  h.connect(0);
  h.respond(0, 503);
  t.same(h.log, ['try pub', 'discard 503 from pub', 'try sub1']);

  const b = run('before-send');
  b.exchange.start();
  b.connect(0);
  b.respond(0, 503, 5000);
  t.same(b.log, ['try pub', 'discard 503 from pub', 'try sub1'], 'busy with Retry-After: the node did not act');
  const b2 = run('before-send');
  b2.exchange.start();
  b2.connect(0);
  b2.respond(0, 503);
  t.same(b2.log, ['try pub', 'answer pub 503 from pub'], 'a bare 503 is the answer');

  const n = run('never');
  n.exchange.start();
  n.connect(0);
  n.respond(0, 503, 5000);
  t.same(n.log, ['try pub', 'answer pub 503 from pub']);
});

t.test('503 from the last node left is the answer, not a gateway 503', async (t) => {
  const r = run('hedge', { nodes: ['pub'] });
  r.exchange.start();
  r.connect(0);
  r.respond(0, 503, 1000);
  t.same(r.log, ['try pub', 'answer pub 503 from pub']);
});

t.test('no node at all: 503, no try', async (t) => {
  const r = run('hedge', { nodes: [] });
  r.exchange.start();
  t.same(r.log, ['give up 503 no-node']);
});

t.test('affinity: the preferred node first, the next one after a failed connect', async (t) => {
  const r = run('never', { preferred: 'sub2' });
  r.exchange.start();
  r.fail(0);
  r.connect(1);
  r.respond(1);
  t.same(r.log, ['try sub2', 'failed sub2', 'try pub', 'answer pub 200 from pub failover']);
});

t.test('the hedge budget: spent, no hedge', async (t) => {
  const r = run('hedge', { budget: 0 });
  r.exchange.start();
  r.connect(0);
  r.clock.advance(1000);
  t.equal(r.tries.length, 1);
});

t.test('totalMs: every try is aborted and the client gets 504', async (t) => {
  const r = run('hedge', { totalMs: 1000 });
  r.exchange.start();
  r.connect(0);
  r.clock.advance(400);
  r.connect(1);
  r.clock.advance(600);
  t.same(r.log, ['try pub', 'try sub1', 'try sub2', 'abort pub', 'abort sub1', 'abort sub2', 'give up 504 total-timeout'], 'a hedge each delay, up to retries');
  t.equal(r.clock.pending, 0);
});

t.test('the client leaves: tries are aborted, later events decide nothing', async (t) => {
  const r = run('hedge');
  r.exchange.start();
  r.connect(0);
  r.exchange.cancel();
  r.respond(0);
  r.clock.advance(10_000);
  t.same(r.log, ['try pub', 'abort pub', 'discard 200 from pub']);
});

t.test('a failure mid-body of the answer is reported, nothing is replayed', async (t) => {
  const r = run('hedge');
  r.exchange.start();
  r.connect(0);
  r.respond(0);
  r.fail(0, true);
  t.same(r.log, ['try pub', 'answer pub 200 from pub', 'failed pub mid-body']);
  t.equal(r.exchange.winner?.node, 'pub');
});

t.test('a hedge loser that fails while the winner is pending is reported; the exchange waits for the other', async (t) => {
  const r = run('hedge');
  r.exchange.start();
  r.connect(0);
  r.clock.advance(400);
  r.connect(1);
  r.fail(0);
  t.same(r.log, ['try pub', 'try sub1', 'failed pub']);
  r.respond(1);
  t.match(r.log.at(-1), /^answer sub1/);
});

t.test('a hedge that answers later than the first try is not called slow: the request was slow everywhere', async (t) => {
  const r = run('hedge', { nodes: ['pub', 'sub1'] });
  r.exchange.start();
  r.connect(0);
  r.clock.advance(400);
  r.connect(1);
  r.clock.advance(1100);
  r.respond(0);
  t.same(r.log, ['try pub', 'try sub1', 'abort sub1', 'answer pub 200 from pub hedged'], 'no slow verdict on sub1');
});
