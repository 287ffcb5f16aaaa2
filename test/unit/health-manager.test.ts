import t, { type Test } from 'tap';
import { X509Certificate } from 'node:crypto';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import type { ClusterConfig, NodeConfig } from '../../src/config/types.js';
import type { NodeHealthUpdate } from '../../src/wire/messages.js';
import { HealthManager } from '../../src/upstream/health-manager.js';
import type { ProbeResult } from '../../src/upstream/health-probe.js';
import { createLogger } from '../../src/log.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { waitFor } from '../helpers/net.js';

// The key type does not matter to health checks; ECDSA node certificates keep start-up fast.
const cucm = await startCucmCluster({ nodes: 3, keyType: 'ecdsa-p256' });
t.teardown(() => cucm.close());
const [pub, sub1, sub2] = cucm.nodes as [typeof cucm.nodes[0], typeof cucm.nodes[0], typeof cucm.nodes[0]];
t.afterEach(async () => {
  for (const node of cucm.nodes) {
    node.setBehaviour('normal');
    await node.restart();
  }
});

const INTERVAL = 1000;
const CLUSTER: ClusterConfig = {
  name: 'cucm',
  nodes: [],
  tls: { verify: true },
  healthCheck: { path: '/cucm-uds/version', intervalMs: INTERVAL, timeoutMs: 2000, fall: 2, rise: 2, expectStatus: 200 },
  timeouts: { connectMs: 1000, firstByteMs: 5000, hedgeMs: 400, totalMs: 0 },
  retries: 2,
};

const nodeConfig = (node: typeof pub, extra: Partial<NodeConfig> = {}): NodeConfig => ({
  name: node.name,
  url: `https://${node.hostname}:${node.port}`,
  priority: 1,
  weight: 1,
  aliases: [],
  address: '127.0.0.1',
  ...extra,
});

type LogLine = Record<string, unknown> & { event?: string };

/** A manager on a fake clock with every event recorded; stopped in the teardown. */
function harness(t: Test) {
  const clock = new FakeClock();
  const logs: LogLine[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) } });
  // random 0.5: first check after 50 ms (half the 10 % jitter), then exactly every INTERVAL.
  const manager = new HealthManager({ clock, log, caFor: () => cucm.caPem, random: () => 0.5 });
  t.teardown(() => manager.stop());
  const changes: NodeHealthUpdate[][] = [];
  const checks: { node: string; result: ProbeResult }[] = [];
  const certificates: { cluster: string; node: string; cert: X509Certificate }[] = [];
  manager.on('change', (updates: NodeHealthUpdate[]) => changes.push(updates));
  manager.on('check', (_cluster: string, node: string, result: ProbeResult) => checks.push({ node, result }));
  manager.on('certificate', (cluster: string, node: string, cert: X509Certificate) => certificates.push({ cluster, node, cert }));
  /** Fires the next due checks and waits (bounded) until each has its result. */
  const round = async (expected: number) => {
    const before = checks.length;
    t.ok(clock.next(), 'a check was due');
    await waitFor(() => checks.length >= before + expected, { timeoutMs: 5000, message: `${expected} check result(s)` });
    return checks.slice(before);
  };
  const healthy = () => Object.fromEntries(manager.effective().map((u) => [u.node, u.healthy]));
  return { clock, logs, manager, changes, checks, certificates, round, healthy };
}

t.test('a failing node goes down after `fall` checks and comes back after `rise`', async (t) => {
  const h = harness(t);
  h.manager.setNodes(CLUSTER, [nodeConfig(pub), nodeConfig(sub1)]);
  t.strictSame(h.changes.at(-1), [
    { cluster: 'cucm', node: 'pub', healthy: true },
    { cluster: 'cucm', node: 'sub1', healthy: true },
  ], 'setNodes announces the nodes, healthy until checked');
  h.manager.start();
  t.strictSame(h.clock.dueTimes(), [h.clock.now() + 50, h.clock.now() + 50], 'first checks after the jitter');

  const first = await h.round(2);
  t.ok(first.every((c) => c.result.ok), 'both pass');
  t.strictSame(h.clock.dueTimes().map((at) => at - h.clock.now()), [INTERVAL, INTERVAL], 'next checks one interval later');

  sub1.setBehaviour({ status: 500 });
  const changesBefore = h.changes.length;
  await h.round(2);
  t.equal(h.healthy().sub1, true, 'one failure is not enough (fall=2)');
  t.equal(h.changes.length, changesBefore, 'no change yet');
  t.match(h.manager.status().find((s) => s.name === 'sub1'), { up: true, streak: 1, lastCheckOk: false });

  await h.round(2);
  t.strictSame(h.healthy(), { pub: true, sub1: false }, 'down after the second failure');
  t.equal(h.changes.length, changesBefore + 1, "one 'change'");
  t.strictSame(h.changes.at(-1), [
    { cluster: 'cucm', node: 'pub', healthy: true },
    { cluster: 'cucm', node: 'sub1', healthy: false },
  ]);
  t.match(h.logs.find((l) => l.event === 'upstream_down'), { cluster: 'cucm', node: 'sub1', layer: 'status', source: 'check' });
  t.match(h.manager.status().find((s) => s.name === 'sub1'), {
    healthy: false,
    up: false,
    lastChangeAt: h.clock.now(),
    lastError: { layer: 'status', reason: 'status 500, expected 200', source: 'check' },
  });

  sub1.setBehaviour('normal');
  await h.round(2);
  t.equal(h.healthy().sub1, false, 'one success is not enough (rise=2)');
  await h.round(2);
  t.equal(h.healthy().sub1, true, 'up after the second success');
  t.equal(h.changes.length, changesBefore + 2);
  t.ok(h.logs.some((l) => l.event === 'upstream_up' && l.node === 'sub1'));
});

t.test("'certificate' carries what each node presented", async (t) => {
  const h = harness(t);
  h.manager.setNodes(CLUSTER, [nodeConfig(pub), nodeConfig(sub1)]);
  h.manager.start();
  await h.round(2);
  t.strictSame(h.certificates.map((c) => c.node).sort(), ['pub', 'sub1']);
  for (const { cluster, node, cert } of h.certificates) {
    t.equal(cluster, 'cucm');
    t.ok(cert instanceof X509Certificate);
    t.equal(cert.subject, `CN=${cucm.node(node).hostname}`);
    t.ok(cert.checkIssued(new X509Certificate(cucm.caPem)), 'issued by the cluster CA');
  }
});

t.test('requests: failures count towards fall, successes never bring a node up', async (t) => {
  const h = harness(t);
  h.manager.setNodes(CLUSTER, [nodeConfig(pub)]);
  h.manager.observe('cucm', 'pub', { ok: false, source: 'request', layer: 'reset', reason: 'ECONNRESET' });
  h.manager.observe('cucm', 'pub', { ok: false, source: 'request', layer: 'reset', reason: 'ECONNRESET' });
  t.strictSame(h.healthy(), { pub: false });
  t.match(h.logs.find((l) => l.event === 'upstream_down'), { source: 'request', layer: 'reset' });
  for (let i = 0; i < 5; i++) h.manager.observe('cucm', 'pub', { ok: true, source: 'request' });
  t.strictSame(h.healthy(), { pub: false }, 'still down');
  h.manager.observe('cucm', 'nope', { ok: false, source: 'request' });
  h.manager.observe('other', 'pub', { ok: false, source: 'request' });
  t.pass('unknown nodes are ignored');
  h.manager.start();
  await h.round(1);
  await h.round(1);
  t.strictSame(h.healthy(), { pub: true }, 'two passing checks bring it back');
});

t.test('coolDown(ms): unhealthy until the clock passes, then healthy again', async (t) => {
  const h = harness(t);
  h.manager.setNodes(CLUSTER, [nodeConfig(pub), nodeConfig(sub1)]);
  const start = h.clock.now();
  const before = h.changes.length;
  h.manager.coolDown('cucm', 'pub', 5000);
  t.strictSame(h.healthy(), { pub: false, sub1: true });
  t.equal(h.changes.length, before + 1, "'change' at once");
  t.match(h.manager.status().find((s) => s.name === 'pub'), { healthy: false, up: true, streak: 0, coolingUntil: start + 5000 });
  t.match(h.logs.find((l) => l.event === 'upstream_busy'), { node: 'pub', retryAfterMs: 5000 });

  h.manager.coolDown('cucm', 'pub', 1000);
  t.equal(h.manager.status().find((s) => s.name === 'pub')?.coolingUntil, start + 5000, 'a shorter cool-down does not shorten it');
  t.equal(h.changes.length, before + 1, 'nor announce anything');

  h.clock.advance(4999);
  t.equal(h.healthy().pub, false, 'still cooling 1 ms before the end');
  h.clock.advance(1);
  t.strictSame(h.healthy(), { pub: true, sub1: true }, 'healthy once the clock passes');
  t.equal(h.changes.length, before + 2, "'change' when it ends");
  t.equal(h.manager.status().find((s) => s.name === 'pub')?.coolingUntil, undefined);
  t.ok(h.logs.some((l) => l.event === 'upstream_cool_down_over' && l.node === 'pub'));

  h.manager.coolDown('cucm', 'sub1', 24 * 3_600_000);
  t.equal(h.manager.status().find((s) => s.name === 'sub1')?.coolingUntil, h.clock.now() + 300_000, 'capped at 5 minutes');
  h.clock.advance(300_000);
  t.equal(h.healthy().sub1, true);
  h.manager.coolDown('cucm', 'nope', 1000);
  t.equal(h.clock.pending, 0, 'unknown nodes are ignored');
});

t.test('a check answered 503 + Retry-After cools the node down instead of counting a failure', async (t) => {
  const h = harness(t);
  h.manager.setNodes(CLUSTER, [nodeConfig(pub)]);
  h.manager.start();
  pub.setBehaviour({ status: 503, headers: { 'Retry-After': '3' } });
  for (let i = 0; i < 3; i++) await h.round(1);
  t.match(h.manager.status()[0], { healthy: false, up: true, streak: 0 }, 'busy, not down, after more checks than fall');
  t.notOk(h.logs.some((l) => l.event === 'upstream_down'));
  pub.setBehaviour('normal');
  await h.round(1);
  // The cool-down set by the last busy answer runs out 3 s after it; the passing check does not end it early.
  t.equal(h.healthy().pub, false);
  h.clock.advance(3000);
  t.equal(h.healthy().pub, true);
});

t.test('setNodes reconciliation', async (t) => {
  const h = harness(t);
  h.manager.setNodes(CLUSTER, [nodeConfig(pub), nodeConfig(sub1)]);
  h.manager.start();
  sub1.setBehaviour({ status: 500 });
  await h.round(2);
  await h.round(2);
  t.strictSame(h.healthy(), { pub: true, sub1: false });
  const pending = h.clock.pending;

  // The same nodes again (new objects, as a fresh SRV answer would bring): state and timers kept.
  h.manager.setNodes(CLUSTER, [nodeConfig(pub), nodeConfig(sub1)]);
  t.strictSame(h.healthy(), { pub: true, sub1: false }, 'sub1 stays down');
  t.equal(h.clock.pending, pending, 'no extra check sessions');
  t.strictSame(h.changes.at(-1), h.manager.effective(), "'change' with the current state");

  // A node joins, one leaves.
  h.manager.setNodes(CLUSTER, [nodeConfig(sub1), nodeConfig(sub2)]);
  t.strictSame(h.healthy(), { sub1: false, sub2: true }, 'pub gone, sub2 new and up');
  t.equal(h.clock.pending, 2, "pub's check is cancelled, sub2's scheduled");
  t.strictSame(h.manager.status().map((s) => s.name), ['sub1', 'sub2']);

  // Another cluster's nodes are left alone.
  h.manager.setNodes({ ...CLUSTER, name: 'other' }, [nodeConfig(pub)]);
  t.strictSame(h.manager.effective().map((u) => `${u.cluster}/${u.node}`), ['cucm/sub1', 'cucm/sub2', 'other/pub']);

  // A node whose weight or priority changed keeps its health, and shows the new values.
  h.manager.setNodes(CLUSTER, [nodeConfig(sub1, { weight: 5, priority: 2 }), nodeConfig(sub2)]);
  const status = h.manager.status().find((s) => s.name === 'sub1');
  t.equal(status?.up, false, 'health kept');
  t.equal(status?.weight, 5, 'new weight');
  t.equal(status?.priority, 2, 'new priority');

  h.manager.stop();
  t.equal(h.clock.pending, 0, 'stop() cancels every check');
});

t.test('stop() then start() while a check is in flight keeps one check per node', async (t) => {
  const h = harness(t);
  h.manager.setNodes(CLUSTER, [nodeConfig(pub)]);
  h.manager.start();
  const before = h.checks.length;
  h.clock.next(); // the probe is now in flight
  h.manager.stop();
  h.manager.start();
  await waitFor(() => h.checks.length > before, { timeoutMs: 5000, message: 'in-flight check' });
  t.equal(h.clock.pending, 1, 'one timer for one node', {
  });
});

t.test('a drained node: in every change and status, kept across setNodes, announced once per change', async (t) => {
  const h = harness(t);
  h.manager.setNodes(CLUSTER, [nodeConfig(pub), nodeConfig(sub1)]);
  const before = h.changes.length;
  t.equal(h.manager.setDraining('cucm', 'pub', true), true, 'drained');
  t.equal(h.manager.setDraining('cucm', 'pub', true), false, 'again: no change');
  t.equal(h.changes.length, before + 1, 'one change announced');
  t.strictSame(h.changes.at(-1), [
    { cluster: 'cucm', node: 'pub', healthy: true, draining: true },
    { cluster: 'cucm', node: 'sub1', healthy: true },
  ]);
  h.manager.setNodes(CLUSTER, [nodeConfig(pub, { weight: 2 }), nodeConfig(sub1)]);
  t.equal(h.manager.status().find((node) => node.name === 'pub')!.draining, true, 'kept when the node set is applied again (reload, SRV)');
  t.equal(h.manager.isDraining('cucm', 'pub'), true);
  t.equal(h.manager.setDraining('cucm', 'pub', false), true, 'undrained');
  t.strictSame(h.manager.effective()[0], { cluster: 'cucm', node: 'pub', healthy: true });
});
