/**
 * The TFTP listeners' building blocks: the allow-list (the only thing between
 * a scanner and CUCM's TFTP folder), the config keys and their defaults, the
 * derived upstream nodes and routes, and the port maps for rewritten URLs.
 */
import t from 'tap';
import fc from 'fast-check';
import { parseConfig } from '../../src/config/load.js';
import { DEFAULT_TFTP_ALLOW } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';
import { compileTftpAllow } from '../../src/tftp/file-names.js';
import { defaultTftpCluster, tftpNodesOf, tftpProxyConfig } from '../../src/tftp/tftp-config.js';
import { tftpFilePortMap, udsPortMap, type BoundListener } from '../../src/tftp/port-map.js';
import { createRouter } from '../../src/proxy/router.js';
import { compileRewriteRules } from '../../src/rewrite/index.js';
import { srvRecordLines } from '../../src/cli/srv-records.js';

const opts = { baseDir: '/etc/ucgate', configFile: '' };

function config(extra: Record<string, unknown> = {}, clusterExtra: Record<string, unknown> = {}) {
  return {
    gateway: { fqdn: 'ucgw.example.test', altNames: ['b.ucgw.example.test'] },
    clusters: [
      { name: 'a', nodes: [{ name: 'pub', url: 'https://cucm-pub.a.example.test:8443' }, { name: 'sub1', url: 'https://cucm-sub1.a.example.test:8443', priority: 2 }] },
      { name: 'b', publicName: 'b.ucgw.example.test', nodes: [{ name: 'pub', url: 'https://cucm-pub.b.example.test:8443' }], ...clusterExtra },
    ],
    ...extra,
  };
}

function problems(input: unknown): string[] {
  try {
    parseConfig(input, opts);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

t.test('the allow-list admits configuration files and nothing else', async (t) => {
  const match = compileTftpAllow(DEFAULT_TFTP_ALLOW);
  for (const name of ['jabber-config.xml', 'jabber-config-sales.xml', 'SPDefault.cnf.xml', 'SPb5c5a3b4-0ad6-4b2e-9b1e-5c1f0e3e3a11.cnf.xml', 'CSFJDOE.cnf.xml', 'csfjdoe.cnf.xml', 'BOTJDOE.cnf.xml', 'TCTJDOE.cnf.xml', 'TABJDOE.cnf.xml', 'AppDialRules.xml', 'DirLookupDialRules.xml']) {
    t.equal(match(`/${name}`), `/${name}`, `${name} allowed`);
  }
  t.equal(match('/jabber-config.xml?x=1'), '/jabber-config.xml', 'a query is dropped, never forwarded');
  for (const target of ['/', '', '*', '/../jabber-config.xml', '/%2e%2e/jabber-config.xml', '/jabber%2dconfig.xml', '/a/jabber-config.xml', '//jabber-config.xml', 'http://x/jabber-config.xml', '/SEP001122334455.cnf.xml', '/ITLFile.tlv', '/CSFJDOE.cnf.xml.sgn', '/CSF..cnf.xml', '/CSF.x.cnf.xml', '/jabber-config.xml/', '/jabber-config.xml;x', '/jabber-config.xml\\', '/jabber-config.xml#']) {
    t.equal(match(target), undefined, `${JSON.stringify(target)} refused`);
  }
});

t.test('no allowed target climbs out of the folder or names a nested path', async () => {
  const match = compileTftpAllow(DEFAULT_TFTP_ALLOW);
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('/', '.', '%', '2', 'e', 'f', 'C', 'S', 'F', 'x', 'm', 'l', 'n', '\\', '?', ';') , maxLength: 30 }), (target) => {
      const file = match(target);
      if (file === undefined) return true;
      return file.lastIndexOf('/') === 0 && !file.includes('..') && !file.includes('%') && !file.includes('\\') && !file.includes(';');
    }),
  );
});

t.test('tftp config: defaults, and one path.to.key line per mistake', async (t) => {
  t.equal(parseConfig(config(), opts).tftp, undefined, 'absent: no TFTP listeners');
  const on = parseConfig(config({ tftp: {} }), opts);
  t.strictSame(on.tftp, {
    listen: { http: [{ host: '0.0.0.0', port: 6970 }], https: [{ host: '0.0.0.0', port: 6972 }] },
    allow: DEFAULT_TFTP_ALLOW,
    nodePort: 6972,
  });
  t.equal(on.clusters[0]!.tftp, undefined, 'clusters get no tftp key of their own');
  t.same(problems(config({ tftp: { allow: ['../x.xml', 'ITLFile.tlv', 'a/b.xml'] } })), [
    'tftp.allow[0]: must be a file name pattern ending in .xml, of letters, digits, ".", "_", "-" and "*" (e.g. CSF*.cnf.xml)',
    'tftp.allow[1]: must be a file name pattern ending in .xml, of letters, digits, ".", "_", "-" and "*" (e.g. CSF*.cnf.xml)',
    'tftp.allow[2]: must be a file name pattern ending in .xml, of letters, digits, ".", "_", "-" and "*" (e.g. CSF*.cnf.xml)',
  ]);
  t.same(problems(config({ tftp: { listen: { http: [{ port: 70000 }] } } })), ['tftp.listen.http[0].port: must be an integer from 0 to 65535']);
  t.same(problems(config({ tftp: { nodeport: 6972 } })), ['tftp.nodeport: unknown key (did you mean "nodePort"?)']);
  t.same(problems(config({ tftp: {} }, { tftp: { nodes: [{ name: 'tftp1', url: 'http://tftp1.b.example.test:6970' }] } })), ['clusters[1].tftp.nodes[0].url: must be an https:// URL']);
  t.same(problems(config({ tftp: {} }, { tftp: { port: 0 } })), ['clusters[1].tftp.port: must be an integer from 1 to 65535']);
});

t.test('TFTP servers: every node on the TFTP port, or the ones listed; routed by public name', async (t) => {
  const cfg = parseConfig(config({ tftp: { nodePort: 6972 } }, { tftp: { nodes: [{ name: 'tftp1', url: 'https://tftp1.b.example.test:6972' }] } }), opts);
  const [a, b] = cfg.clusters;
  t.same(tftpNodesOf(a!, a!.nodes, 6972).map((n) => n.url), ['https://cucm-pub.a.example.test:6972', 'https://cucm-sub1.a.example.test:6972']);
  t.same(tftpNodesOf(a!, a!.nodes, 6972).map((n) => n.priority), [1, 2], 'priorities kept: failover order is the nodes\' order');
  t.same(tftpNodesOf({ ...a!, tftp: { port: 16972 } }, a!.nodes, 6972).map((n) => n.url), ['https://cucm-pub.a.example.test:16972', 'https://cucm-sub1.a.example.test:16972']);
  t.same(tftpNodesOf(b!, b!.nodes, 6972).map((n) => n.name), ['tftp1'], 'dedicated TFTP servers replace the nodes');
  t.equal(defaultTftpCluster(cfg), 'a', 'the host-less UDS route\'s cluster');
  const derived = tftpProxyConfig(cfg, cfg.tftp!);
  const router = createRouter(derived.routes);
  const route = (host: string) => {
    const d = router.route('GET', '/jabber-config.xml', host);
    return d.kind === 'proxy' ? d.cluster : d.kind;
  };
  t.equal(route('b.ucgw.example.test:6972'), 'b');
  t.equal(route('ucgw.example.test'), 'a');
  t.equal(route('anything.else'), 'a');
  t.equal(router.route('POST', '/jabber-config.xml', 'b.ucgw.example.test').kind, 'method-not-allowed');
});

t.test('port maps: TFTP URLs to the TFTP listeners, service URLs to the main ones', async (t) => {
  const bound: BoundListener[] = [
    { role: 'main', scheme: 'https', configuredPort: 8443, port: 41001, legacy: false },
    { role: 'main', scheme: 'https', configuredPort: 9443, port: 41002, legacy: false },
    { role: 'tftp', scheme: 'http', configuredPort: 6970, port: 41003, legacy: false },
    { role: 'tftp', scheme: 'https', configuredPort: 6972, port: 41004, legacy: false },
  ];
  t.same(udsPortMap(bound), { 6970: { port: 41003, scheme: 'http', plane: 'tftp' }, 6972: { port: 41004, scheme: 'https', plane: 'tftp' } });
  t.same(udsPortMap(bound.filter((l) => l.role === 'main')), {}, 'TFTP off: nothing mapped');
  t.same(udsPortMap(bound.filter((l) => !(l.role === 'tftp' && l.scheme === 'http'))), { 6970: { port: 41004, scheme: 'https', plane: 'tftp' }, 6972: { port: 41004, scheme: 'https', plane: 'tftp' } }, 'one listener takes both');
  const file = tftpFilePortMap(bound);
  t.same(file[8443], { port: 41001, scheme: 'https', plane: 'main' });
  t.same(file[9443], { port: 41002, scheme: 'https', plane: 'main' }, 'a listener configured on the same port wins');
  t.same(file[8080], { port: 41001, scheme: 'https', plane: 'main' }, 'no plain listener: phone services over HTTPS');
  t.same(file[6970], { port: 41003, scheme: 'http', plane: 'tftp' });
});

t.test('TFTP files: URLs rewritten, SIP call-control names kept', async (t) => {
  const rules = compileRewriteRules({ names: ['cucm-pub.b.example.test', 'cucm-pub'] }).withOptions({
    urlsOnly: true,
    portMap: { 443: { port: 8443, scheme: 'https' }, 8080: { port: 8443, scheme: 'https' }, 8443: { port: 8443, scheme: 'https' } },
  });
  const target = rules.forTarget({ host: 'b.ucgw.example.test', port: 6972, scheme: 'https' });
  const body =
    '<callManager><name>cucm-pub.b.example.test</name><processNodeName>cucm-pub</processNodeName></callManager>' +
    '<directoryURL>http://cucm-pub.b.example.test:8080/ccmcip/xmldirectory.jsp</directoryURL><x>cucm-pub:5060</x><y>//cucm-pub/z</y>';
  t.equal(
    target.rewriteText(body),
    '<callManager><name>cucm-pub.b.example.test</name><processNodeName>cucm-pub</processNodeName></callManager>' +
      '<directoryURL>https://b.ucgw.example.test:8443/ccmcip/xmldirectory.jsp</directoryURL>' +
      '<x>cucm-pub:5060</x><y>//b.ucgw.example.test:8443/z</y>',
  );
  t.equal(rules.withNames(['cucm-sub1.b.example.test']).urlsOnly, true, 'learned names keep the variant');
  t.equal(compileRewriteRules({ names: ['cucm-pub'] }).forTarget({ host: 'gw', port: 8443, scheme: 'https' }).rewriteText('<s>cucm-pub</s>'), '<s>gw</s>', 'other answers still rewrite bare names');
});

t.test('srv-records names every public name and the TFTP ports', async (t) => {
  const cfg = parseConfig(config({ tftp: {} }), opts);
  const lines = srvRecordLines(cfg, 'example.com', { address: '192.0.2.10' });
  t.ok(lines.includes('_cisco-uds._tcp.example.com. 3600 IN SRV 10 10 8443 ucgw.example.test.'));
  t.ok(lines.includes('ucgw.example.test. 3600 IN A 192.0.2.10'));
  t.ok(lines.includes('b.ucgw.example.test. 3600 IN A 192.0.2.10'));
  t.equal(lines.filter((l) => l.startsWith('b.ucgw.example.test.')).length, 1, 'a name in altNames and publicName is listed once');
  t.ok(lines.some((l) => l.includes('cluster b (publicName)')));
  t.ok(lines.some((l) => l.includes('6970 (http), 6972 (https)')));
});
