import t, { type Test } from 'tap';
import type { ClusterConfig, NodeConfig, SrvConfig } from '../../src/config/types.js';
import { SrvDiscovery } from '../../src/upstream/srv-discovery.js';
import { createLogger } from '../../src/log.js';
import { FakeClock } from '../helpers/fake-clock.js';

const REFRESH_S = 60;

const cluster = (name: string, srv?: Partial<SrvConfig>): ClusterConfig => ({
  name,
  nodes: [],
  ...(srv && { srv: { name: `_cisco-uds._tcp.${name}.example.test`, servers: [], refreshSeconds: REFRESH_S, ...srv } }),
  tls: { verify: true },
  healthCheck: { path: '/cucm-uds/version', intervalMs: 2000, timeoutMs: 1000, fall: 2, rise: 2, expectStatus: 200 },
  timeouts: { connectMs: 1000, firstByteMs: 5000, hedgeMs: 400, totalMs: 0 },
  retries: 2,
});

const node = (name: string, priority = 1, weight = 1): NodeConfig => ({
  name,
  url: `https://${name}:8443`,
  priority,
  weight,
  aliases: [],
  address: '127.0.0.1',
});

type LogLine = Record<string, unknown> & { event?: string };
type Answer = NodeConfig[] | Error;

/** A discovery whose resolver answers from a script (last answer repeats); stopped in the teardown. */
function harness(t: Test, clusters: ClusterConfig[], answers: Record<string, Answer[]>) {
  const clock = new FakeClock();
  const logs: LogLine[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) } });
  const lookups: string[] = [];
  let inFlight = 0;
  const resolve = async (srv: SrvConfig): Promise<NodeConfig[]> => {
    lookups.push(srv.name);
    const script = answers[srv.name]!;
    const answer = script.length > 1 ? script.shift()! : script[0]!;
    inFlight++;
    await Promise.resolve();
    inFlight--;
    if (answer instanceof Error) throw answer;
    return answer.map((n) => ({ ...n }));
  };
  const discovery = new SrvDiscovery({ clusters, clock, log, resolve });
  t.teardown(() => discovery.stop());
  const emitted: { cluster: string; nodes: string[] }[] = [];
  discovery.on('nodes', (name: string, nodes: NodeConfig[]) => emitted.push({ cluster: name, nodes: nodes.map((n) => n.name) }));
  /** Advances the clock by one refresh period and lets the lookups it started finish. */
  const refresh = async () => {
    clock.advance(REFRESH_S * 1000);
    for (let i = 0; i < 10 && inFlight > 0; i++) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  };
  return { clock, logs, lookups, discovery, emitted, refresh };
}

const A = '_cisco-uds._tcp.a.example.test';
const B = '_cisco-uds._tcp.b.example.test';

t.test("emits 'nodes' on the first success and then only on change", async (t) => {
  const h = harness(t, [cluster('a', {})], {
    [A]: [[node('pub'), node('sub1')], [node('pub'), node('sub1')], [node('pub'), node('sub1', 1, 5)], [node('pub'), node('sub1', 1, 5)], [node('pub')]],
  });
  await h.discovery.start();
  t.strictSame(h.emitted, [{ cluster: 'a', nodes: ['pub', 'sub1'] }], 'first answer');
  t.strictSame(h.discovery.nodes('a').map((n) => n.name), ['pub', 'sub1']);
  t.match(h.logs.find((l) => l.event === 'srv_nodes'), { cluster: 'a', srv: A, nodes: [{ name: 'pub' }, { name: 'sub1' }] });

  await h.refresh();
  t.equal(h.emitted.length, 1, 'same answer: nothing emitted');
  await h.refresh();
  t.equal(h.emitted.length, 2, 'a weight change is a change');
  t.equal(h.discovery.nodes('a')[1]!.weight, 5);
  await h.refresh();
  t.equal(h.emitted.length, 2);
  await h.refresh();
  t.strictSame(h.emitted.at(-1), { cluster: 'a', nodes: ['pub'] }, 'a node left');
  t.equal(h.lookups.length, 5, 'one lookup per refresh period');
});

t.test('keeps the last good answer when resolve throws or finds nothing', async (t) => {
  const h = harness(t, [cluster('a', {})], {
    [A]: [[node('pub')], new Error('ESERVFAIL'), [], new Error('ETIMEOUT'), [node('pub'), node('sub1')]],
  });
  await h.discovery.start();
  t.equal(h.emitted.length, 1);
  await h.refresh();
  t.strictSame(h.discovery.nodes('a').map((n) => n.name), ['pub'], 'kept after an error');
  t.match(h.logs.filter((l) => l.event === 'srv_lookup_failed'), [{ cluster: 'a', err: 'ESERVFAIL', keptNodes: 1, level: 'warn' }]);
  await h.refresh();
  t.strictSame(h.discovery.nodes('a').map((n) => n.name), ['pub'], 'kept after an empty answer');
  t.match(h.logs.filter((l) => l.event === 'srv_lookup_failed').at(-1), { err: 'no SRV records' });
  await h.refresh();
  t.equal(h.emitted.length, 1, 'failures emit nothing');
  await h.refresh();
  t.strictSame(h.emitted.at(-1), { cluster: 'a', nodes: ['pub', 'sub1'] }, 'recovers on the next good answer');
  t.equal(h.clock.pending, 1, 'still one refresh timer');
});

t.test('a first lookup that fails leaves no nodes and keeps trying', async (t) => {
  const h = harness(t, [cluster('a', {})], { [A]: [new Error('ENOTFOUND'), [node('pub')]] });
  await t.resolves(h.discovery.start(), 'start() does not throw');
  t.strictSame(h.discovery.nodes('a'), []);
  t.equal(h.emitted.length, 0);
  t.match(h.logs.find((l) => l.event === 'srv_lookup_failed'), { keptNodes: 0 });
  await h.refresh();
  t.strictSame(h.emitted, [{ cluster: 'a', nodes: ['pub'] }]);
});

t.test('refreshes on the clock, per cluster, and stop() ends it', async (t) => {
  const h = harness(t, [cluster('a', { refreshSeconds: REFRESH_S }), cluster('static'), cluster('b', { refreshSeconds: 2 * REFRESH_S })], {
    [A]: [[node('pub')]],
    [B]: [[node('b1')]],
  });
  await h.discovery.start();
  t.strictSame(h.lookups.sort(), [A, B], 'clusters without srv are not looked up');
  t.strictSame(h.discovery.nodes('static'), []);
  h.lookups.length = 0;
  h.clock.advance(REFRESH_S * 1000 - 1);
  t.strictSame(h.lookups, [], 'not before refreshSeconds');
  await h.refresh();
  t.strictSame(h.lookups, [A], 'a after 60 s');
  await h.refresh();
  t.strictSame(h.lookups.sort(), [A, A, B], 'b after 120 s');
  h.discovery.stop();
  t.equal(h.clock.pending, 0, 'no timers after stop()');
  h.clock.advance(10 * REFRESH_S * 1000);
  t.equal(h.lookups.length, 3, 'no lookups after stop()');
});

t.test('stop() during a lookup schedules nothing more', async (t) => {
  let release!: (nodes: NodeConfig[]) => void;
  const clock = new FakeClock();
  const discovery = new SrvDiscovery({
    clusters: [cluster('a', {})],
    clock,
    log: createLogger({ level: 'silent' }),
    resolve: () => new Promise((resolve) => (release = resolve)),
  });
  const started = discovery.start();
  discovery.stop();
  release([node('pub')]);
  await started;
  t.equal(clock.pending, 0);
});
