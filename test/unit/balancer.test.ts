import t, { type Test } from 'tap';
import type { ClusterConfig, NodeConfig } from '../../src/config/types.js';
import { Balancer } from '../../src/upstream/balancer.js';
import { UpstreamNode } from '../../src/upstream/upstream-node.js';

const CLUSTER: ClusterConfig = {
  name: 'cucm',
  nodes: [],
  tls: { verify: true },
  healthCheck: { path: '/cucm-uds/version', intervalMs: 2000, timeoutMs: 1000, fall: 2, rise: 2, expectStatus: 200 },
  timeouts: { connectMs: 1000, firstByteMs: 5000, hedgeMs: 400, totalMs: 0 },
  retries: 2,
};

type Spec = { name: string; priority?: number; weight?: number };

/** UpstreamNodes for the specs; their agents are destroyed in the teardown. */
function nodes(t: Test, specs: readonly Spec[]): UpstreamNode[] {
  return specs.map((spec, i) => {
    const config: NodeConfig = {
      name: spec.name,
      url: `https://cucm-${spec.name}.example.test:${8443 + i}`,
      priority: spec.priority ?? 1,
      weight: spec.weight ?? 1,
      aliases: [],
      address: '127.0.0.1',
    };
    const node = new UpstreamNode(CLUSTER, config, undefined, 16_384);
    t.teardown(() => node.destroy());
    return node;
  });
}

const names = (picked: readonly (UpstreamNode | undefined)[]) => picked.map((node) => node?.name ?? '-');

function picks(balancer: Balancer, n: number, exclude?: ReadonlySet<UpstreamNode>, preferred?: UpstreamNode): string[] {
  return names(Array.from({ length: n }, () => balancer.pick(exclude, preferred)));
}

/** Every node a request would try, in order, with the exclude set a retry loop keeps. */
function tryAll(balancer: Balancer, preferred?: UpstreamNode): string[] {
  const tried = new Set<UpstreamNode>();
  for (;;) {
    const node = balancer.pick(tried, preferred);
    if (!node) return names([...tried]);
    if (tried.has(node)) throw new Error(`${node.name} picked twice`);
    tried.add(node);
  }
}

t.test('UpstreamNode from config', async (t) => {
  const [node] = nodes(t, [{ name: 'pub', priority: 3, weight: 7 }]);
  t.match(node, {
    cluster: 'cucm',
    name: 'pub',
    url: 'https://cucm-pub.example.test:8443',
    priority: 3,
    weight: 7,
    hostHeader: 'cucm-pub.example.test:8443',
    servername: 'cucm-pub.example.test',
    target: { protocol: 'https:', host: '127.0.0.1', port: 8443 },
    healthy: true,
  });
});

t.test('smooth weighted round robin over 1000 picks', async (t) => {
  const cases: { weights: number[]; counts: number[]; maxRun: number[] }[] = [
    { weights: [1, 1], counts: [500, 500], maxRun: [1, 1] },
    { weights: [3, 1], counts: [750, 250], maxRun: [3, 1] },
    // 1000 = 142 rounds of 7 + 6 picks; plain WRR would send the heavy node 5 in a row.
    { weights: [5, 1, 1], counts: [714, 143, 143], maxRun: [4, 1, 1] },
    { weights: [2, 3, 5], counts: [200, 300, 500], maxRun: [1, 1, 2] },
  ];
  for (const c of cases) {
    t.test(c.weights.join(':'), async (t) => {
      const list = nodes(t, c.weights.map((weight, i) => ({ name: `n${i}`, weight })));
      const seq = picks(new Balancer(list), 1000);
      const total = c.weights.reduce((a, b) => a + b, 0);
      const counts = list.map((node) => seq.filter((name) => name === node.name).length);
      t.strictSame(counts, c.counts, 'proportions');
      // Smoothness: after every prefix, each node is within one pick of its exact share.
      const running = list.map(() => 0);
      let worst = 0;
      seq.forEach((name, n) => {
        running[Number(name.slice(1))]!++;
        c.weights.forEach((w, i) => (worst = Math.max(worst, Math.abs(running[i]! - ((n + 1) * w) / total))));
      });
      t.ok(worst < 1, `every prefix within one pick of its share (worst ${worst.toFixed(3)})`);
      const maxRun = list.map((node) => {
        let best = 0;
        let run = 0;
        for (const name of seq) best = Math.max(best, (run = name === node.name ? run + 1 : 0));
        return best;
      });
      t.strictSame(maxRun, c.maxRun, 'longest burst per node');
    });
  }
});

t.test('priority tiers: the lowest number with an available node wins', async (t) => {
  const [a, b, c, d] = nodes(t, [
    { name: 'a', priority: 2 },
    { name: 'b', priority: 1 },
    { name: 'c', priority: 1 },
    { name: 'd', priority: 10 },
  ]);
  const balancer = new Balancer([a!, b!, c!, d!]);
  t.strictSame(picks(balancer, 4), ['b', 'c', 'b', 'c'], 'tier 1 only, alternating');
  b!.setHealthy(false);
  t.strictSame(picks(balancer, 3), ['c', 'c', 'c'], 'the rest of tier 1');
  c!.setHealthy(false);
  t.strictSame(picks(balancer, 2), ['a', 'a'], 'tier 1 down: tier 2');
  a!.eject(60_000);
  t.strictSame(picks(balancer, 2), ['d', 'd'], 'ejected counts as unavailable: tier 10');
  b!.setHealthy(true);
  t.strictSame(picks(balancer, 1), ['b'], 'back to tier 1 as soon as a node is healthy again');
});

t.test('exclude: a retry never gets a node it already tried', async (t) => {
  const list = nodes(t, [
    { name: 'a', priority: 1 },
    { name: 'b', priority: 1 },
    { name: 'c', priority: 2 },
  ]);
  const balancer = new Balancer(list);
  t.equal(balancer.pick(new Set([list[0]!]))?.name, 'b');
  t.equal(balancer.pick(new Set([list[0]!, list[1]!]))?.name, 'c', 'tier exhausted by exclusion: next tier');
  t.equal(balancer.pick(new Set(list)), undefined, 'everything tried: nothing left');
  t.strictSame(tryAll(balancer).sort(), ['a', 'b', 'c']);
});

t.test('panic: no available node anywhere still picks, each node once per request', async (t) => {
  const list = nodes(t, [
    { name: 'a', priority: 1 },
    { name: 'b', priority: 1 },
    { name: 'c', priority: 2 },
  ]);
  const balancer = new Balancer(list);
  for (const node of list) node.setHealthy(false);
  t.strictSame(picks(balancer, 4), ['a', 'b', 'a', 'b'], 'panic keeps the tier order and rotates');
  const tried = tryAll(balancer);
  t.equal(tried.length, 3);
  t.strictSame([...tried].sort(), ['a', 'b', 'c']);
  t.strictSame(tried.slice(2), ['c'], 'tier 2 only after tier 1 is exhausted');
  // Mixed: one healthy node is tried first, then panic over the rest, never twice.
  list[2]!.setHealthy(true);
  const mixed = tryAll(balancer);
  t.equal(mixed[0], 'c');
  t.strictSame([...mixed].sort(), ['a', 'b', 'c']);
});

t.test('weight 0 (drained) nodes are used only in panic', async (t) => {
  const list = nodes(t, [
    { name: 'drained', priority: 1, weight: 0 },
    { name: 'live', priority: 1, weight: 1 },
    { name: 'backup', priority: 2, weight: 1 },
  ]);
  const balancer = new Balancer(list);
  t.strictSame(picks(balancer, 3), ['live', 'live', 'live']);
  list[1]!.setHealthy(false);
  t.strictSame(picks(balancer, 2), ['backup', 'backup'], 'a drained tier falls through to the next tier');
  list[2]!.setHealthy(false);
  t.equal(balancer.pick()?.name, 'drained', 'panic: every node is a candidate again, tier 1 first');
  t.strictSame(tryAll(balancer).sort(), ['backup', 'drained', 'live']);

  t.test('a cluster of drained nodes only', async (t) => {
    const only = nodes(t, [{ name: 'x', weight: 0 }, { name: 'y', weight: 0 }]);
    t.strictSame(picks(new Balancer(only), 4), ['x', 'y', 'x', 'y'], 'panic weights them equally');
  });
});

t.test('sticky preferred node', async (t) => {
  const list = nodes(t, [
    { name: 'a', priority: 1 },
    { name: 'b', priority: 1 },
    { name: 'c', priority: 2 },
  ]);
  const [a, b, c] = list as [UpstreamNode, UpstreamNode, UpstreamNode];
  const balancer = new Balancer(list);
  t.strictSame(picks(balancer, 3, undefined, c), ['c', 'c', 'c'], 'preferred wins over priority while available');
  t.strictSame(picks(balancer, 2), ['a', 'b'], 'preferred picks do not disturb the rotation');
  t.equal(balancer.pick(new Set([c]), c)?.name, 'a', 'excluded (already failed on this request): normal pick');
  c.setHealthy(false);
  t.equal(balancer.pick(undefined, c)?.name, 'b', 'unhealthy: normal pick');
  c.setHealthy(true);
  c.eject(60_000);
  t.equal(balancer.pick(undefined, c)?.name, 'a', 'ejected: normal pick');
  const [drained] = nodes(t, [{ name: 'drained', weight: 0 }]);
  const withDrained = new Balancer([drained!, b]);
  t.equal(withDrained.pick(undefined, drained)?.name, 'drained', 'a drained node keeps its existing sessions');
  t.equal(withDrained.pick()?.name, 'b', 'but gets no new ones');
  t.strictSame(tryAll(balancer, a), ['a', 'b', 'c'], 'a retry loop with a preferred node still tries each node once');
});

t.test('eject() and available() timing', async (t) => {
  const [node] = nodes(t, [{ name: 'a' }]);
  const n = node!;
  const before = Date.now();
  n.eject(1000);
  const after = Date.now();
  t.equal(n.available(before + 999), false, 'out for the ejection time');
  t.equal(n.available(after + 1000), true, 'back once it has passed');
  n.eject(10);
  t.equal(n.available(before + 999), false, 'a shorter ejection does not shorten a longer one');
  n.coolDown(5000);
  const afterCoolDown = Date.now();
  t.equal(n.available(after + 1000), false, 'coolDown extends like eject');
  t.equal(n.available(afterCoolDown + 5000), true);
  n.setHealthy(true);
  t.equal(n.available(before), true, "the primary's verdict clears the worker's own ejection");
  n.setHealthy(false);
  t.equal(n.available(after + 1e9), false, 'unhealthy stays unavailable whatever the time');

  t.test('pick() sees an ejection end when the clock passes it', async (t) => {
    // Balancer and UpstreamNode read Date.now() themselves (no Clock injection), so the test pins it.
    let now = 1_900_000_000_000;
    t.intercept(Date, 'now', { value: () => now });
    const [x, y] = nodes(t, [{ name: 'x' }, { name: 'y' }]);
    const balancer = new Balancer([x!, y!]);
    x!.eject(2000);
    t.strictSame(picks(balancer, 2), ['y', 'y']);
    now += 1999;
    t.strictSame(picks(balancer, 1), ['y']);
    now += 1;
    t.strictSame(picks(balancer, 2), ['x', 'y'], 'x back exactly at the end of its ejection');
  });
});

t.test('service checks: a node down for one service still serves the others; panic per service', async (t) => {
  const list = nodes(t, [
    { name: 'pub', priority: 1 },
    { name: 'sub1', priority: 2 },
  ]);
  const [pub, sub1] = list as [UpstreamNode, UpstreamNode];
  const balancer = new Balancer(list);
  const pick = (service?: string) => balancer.pick(undefined, undefined, service)?.name;
  pub.setHealthy(true, { tomcat: false });
  t.equal(pick('tomcat'), 'sub1', "tomcat routes leave pub, whose tomcat check fails");
  t.equal(pick('uds'), 'pub', 'a service without a check follows the main verdict');
  t.equal(pick(), 'pub', 'no service: the main verdict, as before');
  t.equal(balancer.pickAvailable(new Set(), 'tomcat')?.name, 'sub1', 'a hedge for tomcat goes to sub1 too');
  t.equal(balancer.pick(undefined, pub, 'tomcat')?.name, 'sub1', 'a sticky node down for the service is not preferred');
  t.equal(balancer.pick(undefined, pub, 'uds')?.name, 'pub', 'but is for the other services');
  t.equal(pub.available(Date.now(), 'tomcat'), false);
  t.strictSame(pub.serviceHealth, { tomcat: false }, 'readable for a reload to carry over');

  pub.setHealthy(false, { tomcat: true });
  t.equal(pick('tomcat'), 'pub', 'main down, tomcat up: tomcat routes keep pub');
  t.equal(pick('uds'), 'sub1');

  sub1.setHealthy(true, { tomcat: false });
  pub.setHealthy(true, { tomcat: false });
  t.equal(pick('tomcat'), 'pub', 'tomcat down everywhere: panic for tomcat, in priority order');
  t.equal(balancer.pickAvailable(new Set(), 'tomcat'), undefined, 'never a hedge in panic');
  const tried = new Set<UpstreamNode>();
  for (let node = balancer.pick(tried, undefined, 'tomcat'); node; node = balancer.pick(tried, undefined, 'tomcat')) tried.add(node);
  t.strictSame(names([...tried]), ['pub', 'sub1'], 'each node once per request in panic');
  t.equal(pick('uds'), 'pub', 'the other services are not in panic');

  pub.eject(60_000);
  t.equal(pick('uds'), 'sub1', "the worker's own avoidance after a failed try keeps every service away");
  pub.setHealthy(true);
  t.equal(pick('tomcat'), 'pub', 'a verdict without services: every service follows the main one again');
  t.equal(pub.serviceHealth, undefined);
});

t.test('a drained node: no new picks while another node is available; its sticky sessions still reach it', async (t) => {
  const [a, b, c] = nodes(t, [{ name: 'a' }, { name: 'b' }, { name: 'c', priority: 2 }]) as [UpstreamNode, UpstreamNode, UpstreamNode];
  const balancer = new Balancer([a, b, c]);
  a.setHealthy(true, undefined, true);
  t.same(picks(balancer, 4), ['b', 'b', 'b', 'b'], 'new requests skip the drained node of the tier');
  t.same(picks(balancer, 2, undefined, a), ['a', 'a'], 'a request of its sticky session still goes there');
  t.equal(balancer.pickAvailable(new Set([b])), c, 'a hedge never goes to a drained node');
  b.setHealthy(false);
  t.same(picks(balancer, 2), ['c', 'c'], 'the next tier before a drained node');
  c.setHealthy(false);
  t.same(picks(balancer, 2), ['a', 'a'], 'no undrained node is up: the drained one that is up, rather than refusing');
  a.setHealthy(false, undefined, true);
  t.same(picks(balancer, 1, undefined, a), ['a'], 'panic: any node');
  a.setHealthy(true);
  b.setHealthy(true);
  t.same(picks(balancer, 4).sort(), ['a', 'a', 'b', 'b'], 'undrained: shared again');
  t.equal(a.draining, false, 'setHealthy without the flag undrains (the primary sends it with every verdict)');
});
