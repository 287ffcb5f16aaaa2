/**
 * Health per service (clusters[].serviceChecks) in the primary's HealthManager, on the injected
 * clock: one session per node and check, each check deciding only its own verdict, real
 * request failures and cool-downs counting against every check, a check's own 503 + Retry-After
 * cooling only its service, and reloads adding, keeping and removing service sessions.
 *
 * The nodes are tiny HTTPS servers answering per path (the simulated CUCM node fails every path
 * at once), so "Cisco Tomcat" can fail while "Cisco UDS Tomcat" answers.
 */
import t, { type Test } from 'tap';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ClusterConfig, HealthCheckConfig, NodeConfig } from '../../src/config/types.js';
import type { NodeHealthUpdate } from '../../src/wire/messages.js';
import { HealthManager } from '../../src/upstream/health-manager.js';
import type { ProbeResult } from '../../src/upstream/health-probe.js';
import { createCa, issueLeaf } from '../../src/pki/x509.js';
import { createLogger } from '../../src/log.js';
import { parseConfig } from '../../src/config/load.js';
import { buildProxyState, disposeProxyState } from '../../src/proxy/proxy-state.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { waitFor } from '../helpers/net.js';

interface Answer {
  readonly status: number;
  readonly headers?: Record<string, string>;
}

interface PathNode {
  readonly name: string;
  readonly config: NodeConfig;
  /** Path → answer; any other path answers 200. */
  readonly answers: Map<string, Answer>;
  readonly server: Server;
}

const ca = await createCa({ commonName: 'service-health test CA' });

async function startNode(name: string): Promise<PathNode> {
  const hostname = `cucm-${name}.example.test`;
  const leaf = await issueLeaf({ issuer: ca, commonName: hostname, subjectAltNames: [hostname, '127.0.0.1'], keyType: 'ecdsa-p256' });
  const answers = new Map<string, Answer>();
  const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    const answer = answers.get(new URL(req.url ?? '/', 'https://x').pathname) ?? { status: 200 };
    res.writeHead(answer.status, { 'content-type': 'text/xml', ...answer.headers });
    res.end('<versionInformation/>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const config: NodeConfig = { name, url: `https://${hostname}:${port}`, priority: 1, weight: 1, aliases: [], address: '127.0.0.1' };
  return { name, config, answers, server };
}

const pub = await startNode('pub');
const sub1 = await startNode('sub1');
t.teardown(() => {
  for (const node of [pub, sub1]) {
    node.server.closeAllConnections();
    node.server.close();
  }
});
t.afterEach(() => {
  pub.answers.clear();
  sub1.answers.clear();
});

const INTERVAL = 1000;
const EM = '/emapp/EMAppServlet';
const MAIN_CHECK: HealthCheckConfig = { path: '/cucm-uds/version', intervalMs: INTERVAL, timeoutMs: 2000, fall: 2, rise: 2, expectStatus: 200 };
// As the loader hands it over: complete. fall/rise 1, so a test tells the two checks' counters apart.
const TOMCAT: HealthCheckConfig = { ...MAIN_CHECK, path: EM, fall: 1, rise: 1 };
const PLAIN: ClusterConfig = {
  name: 'cucm',
  nodes: [],
  tls: { verify: true },
  healthCheck: MAIN_CHECK,
  timeouts: { connectMs: 1000, firstByteMs: 5000, hedgeMs: 400, totalMs: 0 },
  retries: 2,
};
const WITH_TOMCAT: ClusterConfig = { ...PLAIN, serviceChecks: { tomcat: TOMCAT } };

type LogLine = Record<string, unknown> & { event?: string };

function harness(t: Test) {
  const clock = new FakeClock();
  const logs: LogLine[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) } });
  const manager = new HealthManager({ clock, log, caFor: () => ca.certPem, random: () => 0.5 });
  t.teardown(() => manager.stop());
  const changes: NodeHealthUpdate[][] = [];
  const checks: { node: string; service: string | undefined; result: ProbeResult }[] = [];
  let certificates = 0;
  manager.on('change', (updates: NodeHealthUpdate[]) => changes.push(updates));
  manager.on('check', (_cluster: string, node: string, result: ProbeResult, service?: string) => checks.push({ node, service, result }));
  manager.on('certificate', () => certificates++);
  const round = async (expected: number) => {
    const before = checks.length;
    t.ok(clock.next(), 'a check was due');
    await waitFor(() => checks.length >= before + expected, { timeoutMs: 5000, message: `${expected} check result(s)` });
    return checks.slice(before);
  };
  /** node → `main` or `main/tomcat` verdicts, e.g. { pub: 'up/down' }. */
  const verdicts = () =>
    Object.fromEntries(
      manager.effective().map((u) => [u.node, [u.healthy, ...Object.values(u.services ?? {})].map((up) => (up ? 'up' : 'down')).join('/')]),
    );
  return { clock, logs, manager, changes, checks, round, verdicts, certificates: () => certificates };
}

t.test('one session per node and check; a service check decides only its own verdict', async (t) => {
  const h = harness(t);
  h.manager.setNodes(WITH_TOMCAT, [pub.config, sub1.config]);
  t.strictSame(h.changes.at(-1), [
    { cluster: 'cucm', node: 'pub', healthy: true, services: { tomcat: true } },
    { cluster: 'cucm', node: 'sub1', healthy: true, services: { tomcat: true } },
  ], 'announced with every service verdict, up until checked');
  h.manager.start();
  t.equal(h.clock.pending, 4, 'two nodes × (main check + tomcat check)');

  pub.answers.set(EM, { status: 500 });
  const first = await h.round(4);
  t.strictSame(first.map((c) => `${c.node}:${c.service ?? 'main'}:${c.result.ok}`).sort(), ['pub:main:true', 'pub:tomcat:false', 'sub1:main:true', 'sub1:tomcat:true']);
  t.strictSame(h.verdicts(), { pub: 'up/down', sub1: 'up/up' }, "pub's tomcat down after one failure (its own fall: 1); its main check untouched");
  t.strictSame(h.changes.at(-1), [
    { cluster: 'cucm', node: 'pub', healthy: true, services: { tomcat: false } },
    { cluster: 'cucm', node: 'sub1', healthy: true, services: { tomcat: true } },
  ]);
  t.match(h.logs.filter((l) => l.event === 'upstream_down'), [{ cluster: 'cucm', node: 'pub', service: 'tomcat', layer: 'status', source: 'check' }]);
  t.equal(h.logs.filter((l) => l.event === 'upstream_down').length, 1, 'no main-check down');
  t.equal(h.certificates(), 2, "certificates from the main checks only: every check meets the same TLS endpoint");
  const status = h.manager.status().find((s) => s.name === 'pub');
  t.match(status, { healthy: true, up: true, services: [{ service: 'tomcat', path: EM, healthy: false, up: false, lastCheckOk: false, lastError: { layer: 'status', source: 'check' } }] });

  pub.answers.delete(EM);
  await h.round(4);
  t.strictSame(h.verdicts(), { pub: 'up/up', sub1: 'up/up' }, 'back after one good check (rise: 1)');
  t.match(h.logs.find((l) => l.event === 'upstream_up'), { node: 'pub', service: 'tomcat' });
  t.strictSame(h.clock.dueTimes().map((at) => at - h.clock.now()), [INTERVAL, INTERVAL, INTERVAL, INTERVAL], 'every session on its own interval');
});

t.test('the main check down leaves a service check that passes serving its routes', async (t) => {
  const h = harness(t);
  h.manager.setNodes(WITH_TOMCAT, [pub.config]);
  h.manager.start();
  pub.answers.set('/cucm-uds/version', { status: 503 });
  await h.round(2);
  await h.round(2);
  t.strictSame(h.verdicts(), { pub: 'down/up' });
  t.match(h.logs.find((l) => l.event === 'upstream_down'), { node: 'pub', layer: 'status' });
  t.notOk(h.logs.find((l) => l.event === 'upstream_down')?.service, 'the main check logs no service');
});

t.test('real request failures and cool-downs count against every check of the node', async (t) => {
  const h = harness(t);
  h.manager.setNodes(WITH_TOMCAT, [pub.config, sub1.config]);
  const before = h.changes.length;
  h.manager.observe('cucm', 'pub', { ok: false, source: 'request', layer: 'connect', reason: 'ECONNREFUSED' });
  t.strictSame(h.verdicts(), { pub: 'up/down', sub1: 'up/up' }, 'one failure: tomcat (fall 1) down, main (fall 2) not yet');
  h.manager.observe('cucm', 'pub', { ok: false, source: 'request', layer: 'connect', reason: 'ECONNREFUSED' });
  t.strictSame(h.verdicts(), { pub: 'down/down', sub1: 'up/up' });
  t.equal(h.changes.length, before + 2, "one 'change' per observation that moved a verdict");
  t.strictSame(h.logs.filter((l) => l.event === 'upstream_down').map((l) => l.service ?? 'main'), ['tomcat', 'main']);

  h.manager.start();
  await h.round(4);
  t.strictSame(h.verdicts(), { pub: 'down/up', sub1: 'up/up' }, 'each check brings its verdict back by its own rise');
  await h.round(4);
  t.strictSame(h.verdicts(), { pub: 'up/up', sub1: 'up/up' });

  const start = h.clock.now();
  h.manager.coolDown('cucm', 'sub1', 5000);
  t.strictSame(h.verdicts(), { pub: 'up/up', sub1: 'down/down' }, "a real request's 503 + Retry-After keeps every route away");
  t.match(h.manager.status().find((s) => s.name === 'sub1'), { coolingUntil: start + 5000, services: [{ coolingUntil: start + 5000, up: true }] });
  t.equal(h.logs.filter((l) => l.event === 'upstream_busy').length, 1, 'logged once for the node');
  h.manager.stop();
  h.clock.advance(5000);
  t.strictSame(h.verdicts(), { pub: 'up/up', sub1: 'up/up' });
});

t.test("a service check's 503 + Retry-After cools only that service", async (t) => {
  const h = harness(t);
  h.manager.setNodes(WITH_TOMCAT, [pub.config]);
  h.manager.start();
  pub.answers.set(EM, { status: 503, headers: { 'retry-after': '3' } });
  await h.round(2);
  t.strictSame(h.verdicts(), { pub: 'up/down' });
  t.match(h.manager.status()[0], { coolingUntil: undefined, services: [{ up: true, healthy: false, streak: 0 }] });
  t.match(h.logs.find((l) => l.event === 'upstream_busy'), { node: 'pub', service: 'tomcat', retryAfterMs: 3000 });
  pub.answers.delete(EM);
  h.clock.advance(3000);
  t.strictSame(h.verdicts(), { pub: 'up/up' });
  t.match(h.logs.find((l) => l.event === 'upstream_cool_down_over'), { node: 'pub', service: 'tomcat' });
});

t.test('reload: service sessions start, keep their verdict and timers, and end with the config', async (t) => {
  const h = harness(t);
  h.manager.setNodes(PLAIN, [pub.config, sub1.config]);
  h.manager.start();
  t.equal(h.clock.pending, 2);
  t.notOk('services' in h.changes.at(-1)![0]!, 'no services without serviceChecks');

  h.manager.setNodes(WITH_TOMCAT, [pub.config, sub1.config]);
  t.equal(h.clock.pending, 4, 'a tomcat session per node, scheduled at once');
  t.strictSame(h.verdicts(), { pub: 'up/up', sub1: 'up/up' });
  pub.answers.set(EM, { status: 404 });
  await h.round(4);
  t.strictSame(h.verdicts(), { pub: 'up/down', sub1: 'up/up' });

  // The same config again, in new objects (a reload that changed something else).
  const pending = h.clock.dueTimes();
  h.manager.setNodes({ ...WITH_TOMCAT, serviceChecks: { tomcat: { ...TOMCAT } } }, [{ ...pub.config }, { ...sub1.config }]);
  t.strictSame(h.verdicts(), { pub: 'up/down', sub1: 'up/up' }, 'verdicts kept');
  t.strictSame(h.clock.dueTimes(), pending, 'timers kept');

  // A new target (another address) starts new sessions that carry each check's health over.
  h.manager.setNodes(WITH_TOMCAT, [{ ...pub.config, address: 'localhost' }, sub1.config]);
  t.strictSame(h.verdicts(), { pub: 'up/down', sub1: 'up/up' }, 'carried over a target change');
  t.equal(h.clock.pending, 4);

  h.manager.setNodes(PLAIN, [pub.config, sub1.config]);
  t.equal(h.clock.pending, 2, 'the tomcat sessions end with their check');
  t.strictSame(h.changes.at(-1), [
    { cluster: 'cucm', node: 'pub', healthy: true },
    { cluster: 'cucm', node: 'sub1', healthy: true },
  ]);
  t.notOk(h.manager.status()[0]!.services);
});

t.test('a result in flight for a removed service check is dropped', async (t) => {
  const h = harness(t);
  h.manager.setNodes(WITH_TOMCAT, [pub.config]);
  h.manager.start();
  pub.answers.set(EM, { status: 500 });
  const before = h.checks.length;
  h.clock.next(); // both checks in flight
  h.manager.setNodes(PLAIN, [pub.config]);
  await waitFor(() => h.checks.length >= before + 1, { timeoutMs: 5000, message: 'the main check' });
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.notOk(h.logs.some((l) => l.event === 'upstream_down'), 'the removed check changed nothing');
  t.strictSame(h.manager.effective(), [{ cluster: 'cucm', node: 'pub', healthy: true }]);
  t.equal(h.clock.pending, 1, 'one timer: the main check');
});

t.test("a worker's reload carries each node's service verdicts over to the new node objects", async (t) => {
  const config = parseConfig(
    {
      gateway: { fqdn: 'ucgw.example.test' },
      clusters: [{ name: 'cucm', nodes: [pub.config, sub1.config], serviceChecks: { tomcat: { path: EM } } }],
    },
    { baseDir: '/tmp', configFile: '' },
  );
  const before = buildProxyState(config);
  t.teardown(() => disposeProxyState(before));
  before.clusters.get('cucm')!.nodesByName.get('pub')!.setHealthy(true, { tomcat: false });
  const after = buildProxyState(config, before);
  t.teardown(() => disposeProxyState(after));
  const pubAfter = after.clusters.get('cucm')!.nodesByName.get('pub')!;
  t.not(pubAfter, before.clusters.get('cucm')!.nodesByName.get('pub'), 'a new node object');
  t.strictSame(pubAfter.serviceHealth, { tomcat: false });
  t.equal(pubAfter.available(Date.now(), 'tomcat'), false);
  t.equal(pubAfter.available(Date.now(), 'uds'), true);
  t.equal(after.clusters.get('cucm')!.balancer.pick(undefined, undefined, 'tomcat')?.name, 'sub1');
});
