/**
 * Issue 16: no self-loop. SRV discovery never adopts the gateway itself as
 * a node (its names, or an address and port it listens on), and `ucgate
 * check` refuses a static node that names the gateway; `gateway.instances`
 * must be names on the certificate.
 */
import t from 'tap';
import type { ClusterConfig, NodeConfig, SrvConfig } from '../../src/config/types.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { canonicalHost, gatewaySelf, selfTargetReason, type SelfConfigView } from '../../src/net/self-target.js';
import { SrvDiscovery } from '../../src/upstream/srv-discovery.js';
import { FakeClock } from '../helpers/fake-clock.js';

const opts = { baseDir: '/etc/ucgate', configFile: '' };
const GW = 'ucgw.example.test';

function problemsOf(input: Record<string, unknown>): string[] {
  try {
    parseConfig(input, opts);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

const view = (over: Partial<SelfConfigView> = {}): SelfConfigView => ({
  gateway: { fqdn: GW, altNames: ['ucgw-dr.example.test', '192.0.2.10', 'FD00::1'], instances: ['ucgw-b.example.test'] },
  clusters: [{ publicName: 'b.ucgw.example.test' }, {}],
  listen: { https: [{ host: '0.0.0.0', port: 8443 }, { host: '192.0.2.10', port: 9443 }], http: [{ host: '127.0.0.1', port: 8080 }] },
  tftp: { listen: { http: [{ host: '::', port: 6970 }], https: [{ host: '0.0.0.0', port: 6972 }] } },
  ...over,
});

t.test('canonicalHost: one spelling per host', async (t) => {
  t.equal(canonicalHost('UCGW.Example.Test.'), GW);
  t.equal(canonicalHost('[FD00:0:0::1]'), 'fd00::1');
  t.equal(canonicalHost('::FFFF:127.0.0.1'), '127.0.0.1', 'IPv4-mapped IPv6 is the IPv4 address');
  t.equal(canonicalHost('10.0.0.1'), '10.0.0.1');
});

t.test('selfTargetReason: names, addresses and ports', async (t) => {
  const self = gatewaySelf(view(), [{ name: 'https#2', host: '127.0.0.1', port: 41000 }]);
  const table: [string, number, string | undefined, string | undefined, string][] = [
    [GW, 8443, undefined, `${GW} is gateway.fqdn`, 'gateway.fqdn, any port'],
    ['UCGW-DR.example.test.', 443, undefined, 'UCGW-DR.example.test. is gateway.altNames[0]', 'an altName, any spelling'],
    ['ucgw-b.example.test', 8443, undefined, 'ucgw-b.example.test is gateway.instances[0]', 'another gateway instance'],
    ['b.ucgw.example.test', 8443, undefined, 'b.ucgw.example.test is clusters[0].publicName', 'a publicName'],
    ['[fd00::1]', 8443, undefined, '[fd00::1] is gateway.altNames[2]', 'an IPv6 altName in a URL'],
    ['cucm-pub.example.test', 8443, '127.0.0.1', '127.0.0.1:8443 is listen.https[0] (0.0.0.0:8443)', 'a name resolving to loopback, on a wildcard listener port'],
    ['cucm-pub.example.test', 8444, '127.0.0.1', undefined, 'the same address, another port: a node'],
    ['127.0.0.1', 8080, undefined, '127.0.0.1:8080 is listen.http[0] (127.0.0.1:8080)', 'an address literal, the exact listener'],
    ['127.0.0.2', 8080, undefined, undefined, 'another loopback address than the one listened on'],
    ['localhost', 6970, undefined, '127.0.0.1:6970 is tftp.listen.http[0] (:::6970)', 'localhost on a dual-stack wildcard TFTP listener'],
    ['cucm.example.test', 9443, '192.0.2.10', '192.0.2.10:9443 is listen.https[1] (192.0.2.10:9443)', 'a specific listener address'],
    ['cucm.example.test', 9443, '192.0.2.11', undefined, 'a neighbour address'],
    ['cucm.example.test', 41000, '127.0.0.1', '127.0.0.1:41000 is listener https#2 (127.0.0.1:41000)', 'a bound port the config did not name (port 0)'],
    ['cucm.example.test', 8443, '0.0.0.0', '0.0.0.0:8443 is listen.https[0] (0.0.0.0:8443)', 'connecting to 0.0.0.0 reaches this machine'],
    ['cucm-pub.example.test', 8443, undefined, undefined, 'a node name, unresolved: a node'],
    ['cucm-pub.example.test', 8443, '10.0.0.11', undefined, 'a node address: a node'],
  ];
  for (const [host, port, address, expected, name] of table) t.equal(selfTargetReason(self, host, port, address), expected, name);
});

t.test('SRV discovery drops targets that are the gateway, with a warning per change', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  const cluster: ClusterConfig = {
    name: 'cucm',
    nodes: [],
    srv: { name: '_cisco-uds._tcp.example.test', servers: [], refreshSeconds: 60 },
    tls: { verify: true },
    healthCheck: { path: '/cucm-uds/version', intervalMs: 2000, timeoutMs: 1000, fall: 2, rise: 2, expectStatus: 200 },
    timeouts: { connectMs: 1000, firstByteMs: 5000, hedgeMs: 400, totalMs: 0 },
    retries: 2,
  };
  const node = (name: string, port: number, priority: number, address?: string): NodeConfig => ({
    name,
    url: `https://${name}:${port}`,
    priority,
    weight: 1,
    aliases: [],
    ...(address !== undefined && { address }),
  });
  let answer: NodeConfig[] = [
    node(GW, 8443, 1, '127.0.0.1'),
    node('ucgw-lb.example.test', 8443, 1, '127.0.0.1'),
    node('cucm-pub.example.test', 8443, 2, '10.0.0.11'),
    node('cucm-sub1.example.test', 8443, 3, '10.0.0.12'),
  ];
  const clock = new FakeClock();
  const self = () => gatewaySelf(view());
  const discovery = new SrvDiscovery({ clusters: [cluster], clock, log, resolve: async (_srv: SrvConfig) => answer.map((n) => ({ ...n })), self });
  t.teardown(() => discovery.stop());
  const emitted: string[][] = [];
  discovery.on('nodes', (_name: string, nodes: NodeConfig[]) => emitted.push(nodes.map((n) => n.name)));
  await discovery.start();
  t.same(emitted, [['cucm-pub.example.test', 'cucm-sub1.example.test']], 'only the CUCM nodes');
  const warnings = lines.filter((l) => l.event === 'srv_self_target');
  t.match(warnings, [
    { level: 'warn', cluster: 'cucm', srv: '_cisco-uds._tcp.example.test', target: GW, port: 8443, reason: `${GW} is gateway.fqdn` },
    { level: 'warn', target: 'ucgw-lb.example.test', port: 8443, reason: '127.0.0.1:8443 is listen.https[0] (0.0.0.0:8443)' },
  ]);
  t.equal(warnings.length, 2);

  clock.advance(60_000);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  t.equal(lines.filter((l) => l.event === 'srv_self_target').length, 2, 'the same answer again: no new warning');

  answer = [node(GW, 8443, 1, '127.0.0.1')];
  clock.advance(60_000);
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  t.same(discovery.nodes('cucm').map((n) => n.name), ['cucm-pub.example.test', 'cucm-sub1.example.test'], 'an answer of only the gateway: the last good nodes stay');
  t.match(lines.at(-1), { event: 'srv_lookup_failed', err: 'every SRV target is the gateway itself', keptNodes: 2 });
  t.equal(emitted.length, 1);
});

t.test('ucgate check: gateway.instances must be on the certificate', async (t) => {
  const base = { clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://cucm-pub.example.test:8443' }] }] };
  t.same(problemsOf({ gateway: { fqdn: GW, altNames: ['ucgw-b.example.test'], instances: [GW, 'UCGW-B.example.test'] }, ...base }), []);
  t.same(problemsOf({ gateway: { fqdn: GW, instances: ['ucgw-b.example.test'] }, ...base }), [
    `gateway.instances[0]: "ucgw-b.example.test" is not a name on the gateway's certificate: it must be gateway.fqdn or one of gateway.altNames`,
  ]);
  const parsed = parseConfig({ gateway: { fqdn: GW }, ...base }, opts);
  t.same(parsed.gateway.instances, [], 'default: none');
});

t.test('ucgate check refuses a static node that is the gateway itself', async (t) => {
  const cfg = (nodes: unknown[], extra: Record<string, unknown> = {}) => ({
    gateway: { fqdn: GW, altNames: ['192.0.2.10'] },
    listen: { https: [{ host: '0.0.0.0', port: 8443 }] },
    clusters: [{ name: 'cucm', nodes, ...extra }],
  });
  const pub = { name: 'pub', url: 'https://cucm-pub.example.test:8443' };
  t.same(problemsOf(cfg([pub, { name: 'sub1', url: 'https://cucm-sub1.example.test:8443' }])), [], 'CUCM nodes are fine');
  t.same(problemsOf(cfg([pub, { name: 'gw', url: `https://UCGW.example.test:8443` }])), [
    `clusters[0].nodes[1].url: names the gateway itself (ucgw.example.test is gateway.fqdn); the gateway would proxy to itself`,
  ]);
  t.same(problemsOf(cfg([{ name: 'gw', url: 'https://192.0.2.10:8443' }])), [
    'clusters[0].nodes[0].url: names the gateway itself (192.0.2.10 is gateway.altNames[0]); the gateway would proxy to itself',
  ]);
  t.same(problemsOf(cfg([pub, { name: 'sub1', url: 'https://cucm-sub1.example.test:8443', address: '127.0.0.1' }])), [
    'clusters[0].nodes[1].address: names the gateway itself (127.0.0.1:8443 is listen.https[0] (0.0.0.0:8443)); the gateway would proxy to itself',
  ]);
  t.same(problemsOf(cfg([{ name: 'sub1', url: 'https://cucm-sub1.example.test:8444', address: '127.0.0.1' }])), [], 'the same machine on another port: a node');
  t.same(problemsOf(cfg([{ name: 'l', url: 'https://localhost:8443' }])), [
    'clusters[0].nodes[0].url: names the gateway itself (127.0.0.1:8443 is listen.https[0] (0.0.0.0:8443)); the gateway would proxy to itself',
  ]);
  t.same(
    problemsOf(cfg([pub], { tftp: { nodes: [{ name: 't', url: `https://${GW}:6972` }] } })),
    [`clusters[0].tftp.nodes[0].url: names the gateway itself (${GW} is gateway.fqdn); the gateway would proxy to itself`],
    'TFTP servers too',
  );
  t.same(
    problemsOf({ ...cfg([pub]), clusters: [{ name: 'cucm', nodes: [pub] }, { name: 'b', publicName: 'b.ucgw.example.test', nodes: [{ name: 'x', url: 'https://b.ucgw.example.test:8443' }] }] }),
    ['clusters[1].nodes[0].url: names the gateway itself (b.ucgw.example.test is clusters[1].publicName); the gateway would proxy to itself'],
  );
});
