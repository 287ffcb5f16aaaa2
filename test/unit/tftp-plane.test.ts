/**
 * The TFTP half of the data plane kept in step with the main half: SRV node
 * sets, health from the primary, names learned on the main listeners, and the
 * port maps installed once the listeners are bound.
 */
import t from 'tap';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { DataPlaneMetrics } from '../../src/metrics/data-plane-metrics.js';
import { buildProxyState } from '../../src/proxy/proxy-state.js';
import { TftpPlane } from '../../src/tftp/tftp-plane.js';
import type { BoundListener } from '../../src/tftp/port-map.js';

const opts = { baseDir: '/etc/ucgate', configFile: '' };

const config = parseConfig(
  {
    gateway: { fqdn: 'ucgw.example.test', altNames: ['b.ucgw.example.test'] },
    tftp: {},
    clusters: [
      { name: 'a', nodes: [{ name: 'pub', url: 'https://cucm-pub.a.example.test:8443' }, { name: 'sub1', url: 'https://cucm-sub1.a.example.test:8443', priority: 2 }] },
      { name: 'b', publicName: 'b.ucgw.example.test', srv: { name: '_cisco-uds._tcp.b.example.test' } },
    ],
  },
  opts,
);

const BOUND: BoundListener[] = [
  { role: 'main', scheme: 'https', configuredPort: 8443, port: 41001, legacy: false },
  { role: 'tftp', scheme: 'http', configuredPort: 6970, port: 41003, legacy: false },
  { role: 'tftp', scheme: 'https', configuredPort: 6972, port: 41004, legacy: false },
];

t.test('the TFTP plane follows the main one', async (t) => {
  const main = buildProxyState(config);
  const plane = new TftpPlane({ log: createLogger({ level: 'silent' }), metrics: new DataPlaneMetrics(), mainState: () => main });
  t.teardown(() => plane.dispose());
  plane.apply(config);
  const a = plane.state!.clusters.get('a')!;
  t.same(a.balancer.nodes.map((n) => `${n.name} ${n.target.host}:${n.target.port} ${n.hostHeader}`), [
    'pub cucm-pub.a.example.test:6972 cucm-pub.a.example.test:6972',
    'sub1 cucm-sub1.a.example.test:6972 cucm-sub1.a.example.test:6972',
  ]);
  t.equal(plane.state!.clusters.get('b')!.balancer.nodes.length, 0, 'an SRV cluster waits for its nodes');

  const removed = plane.setNodes('b', [{ name: 'cucm-pub.b.example.test', url: 'https://cucm-pub.b.example.test:8443', priority: 10, weight: 10, aliases: [] }]);
  removed.destroy();
  t.same(plane.state!.clusters.get('b')!.balancer.nodes.map((n) => n.url), ['https://cucm-pub.b.example.test:6972'], 'SRV nodes, on the TFTP port');

  plane.setHealth([{ cluster: 'a', node: 'pub', healthy: false }]);
  t.equal(plane.state!.clusters.get('a')!.nodesByName.get('pub')!.healthy, false, "the node's health from the primary applies to its TFTP service");

  plane.setListeners(BOUND, main);
  const uds = main.clusters.get('a')!.rewrite.rules.forTarget({ host: 'ucgw.example.test', port: 41001, scheme: 'https' });
  t.equal(
    uds.rewriteText('<serviceProfile uri="http://cucm-pub.a.example.test:6970/SPDefault.cnf.xml"/>'),
    '<serviceProfile uri="http://ucgw.example.test:41003/SPDefault.cnf.xml"/>',
    'UDS answers: 6970 goes to the TFTP HTTP listener',
  );
  // A name learned on the main listeners (UDS /servers) is rewritten in TFTP files too.
  main.clusters.get('a')!.rewrite.rules = main.clusters.get('a')!.rewrite.rules.withNames(['cucm-sub2.a.example.test']);
  const file = plane.state!.clusters.get('a')!.rewrite.rules.forTarget({ host: 'ucgw.example.test', port: 41004, scheme: 'https' });
  t.equal(
    file.rewriteText('<u>http://cucm-sub2.a.example.test:8080/ccmcip/x.jsp</u><processNodeName>cucm-sub2.a.example.test</processNodeName>'),
    '<u>https://ucgw.example.test:41001/ccmcip/x.jsp</u><processNodeName>cucm-sub2.a.example.test</processNodeName>',
  );
  t.ok(plane.state!.clusters.get('a')!.rewrite.rules.extraMediaTypes.has('application/octet-stream'), 'TFTP files labelled as binary are still XML');

  const off = parseConfig({ gateway: { fqdn: 'ucgw.example.test' }, clusters: [{ name: 'a', nodes: [{ name: 'pub', url: 'https://x.example.test' }] }] }, opts);
  const old = plane.apply(off);
  t.ok(old, 'the replaced state goes back to the caller');
  if (old) for (const c of old.clusters.values()) for (const n of c.balancer.nodes) n.destroy();
  t.equal(plane.state, undefined, 'tftp removed: no TFTP state');
});
