import t from 'tap';
import { ConcurrencyGate, type GateTicket } from '../../src/proxy/concurrency-gate.js';
import { FakeClock } from '../helpers/fake-clock.js';

function waiter(log: string[], name: string) {
  return { admitted: () => log.push(`${name} in`), refused: (why: string) => log.push(`${name} ${why}`) };
}

t.test('at most maxConcurrent in; the rest queue in order and go in as places free', async (t) => {
  const clock = new FakeClock();
  const gate = new ConcurrencyGate({ maxConcurrent: 2, maxQueued: 10, queueTimeoutMs: 5000 }, 1, clock);
  const log: string[] = [];
  const tickets: GateTicket[] = ['a', 'b', 'c', 'd'].map((n) => gate.enter(waiter(log, n)));
  t.same(log, ['a in', 'b in']);
  t.equal(gate.active, 2);
  t.equal(gate.queued, 2);
  tickets[0]!.leave();
  tickets[0]!.leave();
  t.same(log, ['a in', 'b in', 'c in'], 'a place freed once, however often left');
  tickets[3]!.leave();
  t.equal(gate.queued, 0, 'a queued request whose client left gives up its spot');
  tickets[1]!.leave();
  tickets[2]!.leave();
  t.equal(gate.active, 0);
  t.equal(clock.pending, 0, 'no queue timer left behind');
});

t.test('a full queue refuses at once; a queued request times out', async (t) => {
  const clock = new FakeClock();
  const gate = new ConcurrencyGate({ maxConcurrent: 1, maxQueued: 1, queueTimeoutMs: 3000 }, 1, clock);
  const log: string[] = [];
  gate.enter(waiter(log, 'a'));
  gate.enter(waiter(log, 'b'));
  gate.enter(waiter(log, 'c'));
  t.same(log, ['a in', 'c full']);
  clock.advance(2999);
  t.same(log, ['a in', 'c full']);
  clock.advance(1);
  t.same(log, ['a in', 'c full', 'b timeout']);
  t.equal(gate.queued, 0);
});

t.test('workers share the ceiling: all together never exceed it', async (t) => {
  const clock = new FakeClock();
  for (const [max, workers, each] of [
    [5, 2, 2],
    [5, 1, 5],
    [5, 0, 5],
    [1, 4, 1],
    [20, 3, 6],
  ] as const) {
    const gate = new ConcurrencyGate({ maxConcurrent: max, maxQueued: 100, queueTimeoutMs: 1000 }, workers, clock);
    const log: string[] = [];
    for (let i = 0; i < 10; i++) gate.enter(waiter(log, String(i)));
    t.equal(gate.active, each, `${max} over ${workers} workers: ${each} each`);
  }
});
