/**
 * Issue 16: a server list Jabber can fail over on. A UDS `/cucm-uds/servers`
 * answer lists the gateway's names, each once: the name the client used
 * first, then the other `gateway.instances` in config order; never a node,
 * never the same name twice. Buffered, streamed and gzip bodies alike.
 */
import t from 'tap';
import { Readable } from 'node:stream';
import { gzipSync, gunzipSync } from 'node:zlib';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { DataPlaneMetrics } from '../../src/metrics/data-plane-metrics.js';
import { buildProxyState, type ProxyState } from '../../src/proxy/proxy-state.js';
import { rewriteFor, serverNamesFor } from '../../src/proxy/cluster-rewrite.js';
import { MAX_SERVERS_LIST_BYTES, replaceServerList, type RewriteTarget } from '../../src/rewrite/index.js';
import type { UcgateConfig } from '../../src/config/types.js';

const opts = { baseDir: '/etc/ucgate', configFile: '' };
const GW = 'ucgw.example.test';
const GW_A = 'ucgw-a.example.test';
const GW_B = 'ucgw-b.example.test';
const PUB = 'cucm-pub.example.test';
const SUB = 'cucm-sub1.example.test';
const XML = { contentType: 'application/xml' };

/** A `/servers` answer as CUCM writes it: every node, FQDNs, a short upper-case name and an IP mixed. */
const SERVERS = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><servers uri="https://${PUB}:8443/cucm-uds/servers" version="14.0.1"><server>${PUB}</server><server>${SUB}</server><server>CUCM-SUB2</server><server>10.0.0.13</server></servers>`;

function config(gateway: Record<string, unknown>, extra: Record<string, unknown> = {}): UcgateConfig {
  return parseConfig(
    {
      gateway,
      clusters: [
        {
          name: 'cucm',
          nodes: [
            { name: 'pub', url: `https://${PUB}:8443` },
            { name: 'sub1', url: `https://${SUB}:8443`, priority: 2 },
          ],
        },
      ],
      ...extra,
    },
    opts,
  );
}

const sink = { log: createLogger({ level: 'silent' }), metrics: new DataPlaneMetrics() };

/** The rewrite of a `/cucm-uds/servers` answer for a client that sent `host`. */
function serversRewrite(state: ProxyState, host: string | undefined, cluster = 'cucm', port = 8443) {
  return rewriteFor(state, state.clusters.get(cluster)!, { name: 'https#0', protocol: 'https', port }, '/cucm-uds/servers', host, sink)!;
}

/** What a client gets for a buffered (Content-Length) answer: inspect first, as the response writer does. */
async function buffered(state: ProxyState, host: string | undefined, body = SERVERS, cluster = 'cucm'): Promise<string> {
  const rewrite = serversRewrite(state, host, cluster);
  const bytes = Buffer.from(body, 'latin1');
  const target = rewrite.inspect?.(bytes) ?? rewrite.target;
  return (await target.rewriteBody(bytes, XML)).toString('latin1');
}

async function streamed(target: RewriteTarget, body: string, pieces: number): Promise<string> {
  const bytes = Buffer.from(body, 'latin1');
  const size = Math.ceil(bytes.length / pieces);
  const chunks = Array.from({ length: pieces }, (_, i) => bytes.subarray(i * size, (i + 1) * size)).filter((c) => c.length > 0);
  const out: Buffer[] = [];
  for await (const chunk of Readable.from(chunks).pipe(target.createBodyRewriter(XML)!)) out.push(chunk as Buffer);
  return Buffer.concat(out).toString('latin1');
}

const servers = (xml: string): string[] => [...xml.matchAll(/<server>([^<]*)<\/server>/g)].map((m) => m[1]!);

t.test('replaceServerList: one element per name where the first stood, the rest gone', async (t) => {
  t.equal(replaceServerList('<servers><server>a</server><server>b</server><server>c</server></servers>', ['x']), '<servers><server>x</server></servers>');
  t.equal(replaceServerList('<servers><server>a</server></servers>', ['x', 'y']), '<servers><server>x</server><server>y</server></servers>');
  t.equal(
    replaceServerList('<servers>\n  <server>a</server>\n  <server>b</server>\n</servers>', ['x', 'y']),
    '<servers>\n  <server>x</server>\n  <server>y</server>\n</servers>',
    'a pretty-printed answer stays pretty',
  );
  t.equal(replaceServerList('<servers><server role="pub">a</server><server/></servers>', ['x']), '<servers><server>x</server></servers>', 'attributes and empty elements');
  const none = '<servers uri="https://x/cucm-uds/servers"></servers>';
  t.equal(replaceServerList(none, ['x']), none, 'an empty list stays empty (nothing to fail over from)');
  const error = '<error><message>busy</message></error>';
  t.equal(replaceServerList(error, ['x']), error, 'an error answer is left alone');
  t.equal(replaceServerList('<servers><server>x</server></servers>', ['x']), '<servers><server>x</server></servers>');
  t.equal(replaceServerList('<servers><server>a</server></servers>', []), '<servers><server>a</server></servers>', 'no names: unchanged');
  t.equal(replaceServerList('<servers><server>a</server><!-- c --><server>b</server></servers>', ['x']), '<servers><server>x</server><!-- c --></servers>', 'other text between entries stays');
});

t.test('one gateway: the name the client used, once, whatever the node count', async (t) => {
  const state = buildProxyState(config({ fqdn: GW, altNames: ['ucgw-dr.example.test', '192.0.2.10'] }));
  const out = await buffered(state, `${GW}:8443`);
  t.same(servers(out), [GW], 'four nodes, one gateway name');
  t.notMatch(out, /cucm-pub|cucm-sub|CUCM-SUB2|10\.0\.0\.13/, 'no node name or address is left');
  t.match(out, `<servers uri="https://${GW}:8443/cucm-uds/servers"`, 'the root uri still points at the gateway');
  t.same(servers(await buffered(state, 'ucgw-dr.example.test:8443')), ['ucgw-dr.example.test'], 'an altName the client used');
  t.same(servers(await buffered(state, '192.0.2.10:8443')), ['192.0.2.10'], 'an address the client used (no DNS)');
  t.same(servers(await buffered(state, 'UCGW.Example.Test.')), [GW], 'case and a trailing dot: one spelling');
  t.same(servers(await buffered(state, 'evil.example.com')), [GW], 'a Host the gateway does not own: the configured name');
  t.same(servers(await buffered(state, undefined)), [GW], 'no Host: the configured name');
});

t.test('two gateway instances: the one the client used first, then the others in config order, each once', async (t) => {
  const state = buildProxyState(config({ fqdn: GW, altNames: [GW_A, GW_B], instances: [GW_A, GW_B] }));
  t.same(servers(await buffered(state, `${GW_A}:8443`)), [GW_A, GW_B]);
  t.same(servers(await buffered(state, `${GW_B}:8443`)), [GW_B, GW_A], 'instance b first when the client came to b');
  t.same(servers(await buffered(state, `${GW.toUpperCase()}:8443`)), [GW, GW_A, GW_B], 'a shared name first, then every instance');
  t.same(servers(await buffered(state, undefined)), [GW, GW_A, GW_B]);
  t.same(serverNamesFor(state, 'cucm', GW_B), [GW_B, GW_A], 'serverNamesFor says the same');
  t.equal(serverNamesFor(state, 'cucm', GW_B), serverNamesFor(state, 'cucm', GW_B), 'cached per config');

  const fqdnInstance = buildProxyState(config({ fqdn: GW, altNames: [GW_B], instances: [GW, GW_B] }));
  t.same(servers(await buffered(fqdnInstance, GW)), [GW, GW_B], 'gateway.fqdn is an instance itself: listed once');
  t.same(servers(await buffered(fqdnInstance, GW_B)), [GW_B, GW]);
});

t.test('an instance name a host route sends to another cluster is left out of that cluster\'s list', async (t) => {
  const B = 'b.ucgw.example.test';
  const state = buildProxyState(
    parseConfig(
      {
        gateway: { fqdn: GW, altNames: [GW_B, B], instances: [GW, GW_B] },
        clusters: [
          { name: 'cucm', nodes: [{ name: 'pub', url: `https://${PUB}:8443` }] },
          { name: 'b', publicName: B, nodes: [{ name: 'b-pub', url: 'https://cucm-pub.b.example.test:8443' }] },
        ],
        routes: [
          { pathPrefix: '/cucm-uds/', cluster: 'cucm', methods: ['GET', 'HEAD'] },
          { host: B, pathPrefix: '/cucm-uds/', cluster: 'b', methods: ['GET', 'HEAD'] },
        ],
      },
      opts,
    ),
  );
  const bServers = '<servers uri="https://cucm-pub.b.example.test:8443/cucm-uds/servers"><server>cucm-pub.b.example.test</server><server>cucm-sub1.b.example.test</server></servers>';
  t.same(servers(await buffered(state, B, bServers, 'b')), [B], 'cluster b: only its own name (the instances route to cluster cucm)');
  t.same(servers(await buffered(state, GW)), [GW, GW_B], 'cluster cucm: both instances');
});

t.test('streamed (chunked) answers are held and rewritten whole; gzip answers too', async (t) => {
  const state = buildProxyState(config({ fqdn: GW, altNames: [GW_A, GW_B], instances: [GW_A, GW_B] }));
  const rewrite = serversRewrite(state, GW_B);
  for (const pieces of [1, 3, 17, SERVERS.length]) {
    t.same(servers(await streamed(rewrite.target, SERVERS, pieces)), [GW_B, GW_A], `${pieces} chunk(s)`);
  }
  const gzipped = await rewrite.target.rewriteBody(gzipSync(SERVERS), { ...XML, contentEncoding: 'gzip' });
  t.same(servers(gunzipSync(gzipped).toString('latin1')), [GW_B, GW_A], 'gzip, buffered');
  const gzipStream: Buffer[] = [];
  for await (const chunk of Readable.from([gzipSync(SERVERS)]).pipe(rewrite.target.createBodyRewriter({ ...XML, contentEncoding: 'gzip' })!)) gzipStream.push(chunk as Buffer);
  t.same(servers(gunzipSync(Buffer.concat(gzipStream)).toString('latin1')), [GW_B, GW_A], 'gzip, streamed');

  // Past the bound, the answer streams through the ordinary rewriter: bounded memory, names still rewritten.
  const huge = `<servers>${Array.from({ length: Math.ceil(MAX_SERVERS_LIST_BYTES / 30) + 10 }, (_, i) => `<server>${i % 2 ? PUB : SUB}</server>`).join('')}</servers>`;
  const out = await streamed(rewrite.target, huge, 40);
  t.notMatch(out, /cucm-pub|cucm-sub/, 'an oversized list: every node name still rewritten');
  t.ok(servers(out).every((name) => name === GW_B), 'to the name the client used');
});

t.test('clusterUser: homeCluster and serversUri name the gateway the client used', async (t) => {
  const state = buildProxyState(config({ fqdn: GW, altNames: [GW_A, GW_B], instances: [GW_A, GW_B] }));
  // The shape of the UDS API reference (System Resources, clusterUser) and of the simulator.
  const body =
    `<clusterUser version="14.0.1" uri="https://${SUB}:8443/cucm-uds/clusterUser?username=jdoe"><result found="true" uri="https://${SUB}:8443/cucm-uds/user/jdoe" version="14.0.1"/>` +
    `<userName>jdoe</userName><homeCluster enableCalendarPresence="false" serversUri="https://${PUB}:8443/cucm-uds/servers">${PUB}</homeCluster></clusterUser>`;
  const rewrite = rewriteFor(state, state.clusters.get('cucm')!, { name: 'https#0', protocol: 'https', port: 8443 }, '/cucm-uds/clusterUser?username=jdoe', `${GW_B}:8443`, sink)!;
  const out = rewrite.target.rewriteText(body);
  t.match(out, `serversUri="https://${GW_B}:8443/cucm-uds/servers">${GW_B}</homeCluster>`, 'the home cluster is the instance the client used');
  t.notMatch(out, /cucm-pub|cucm-sub/, 'no node name');
  t.equal(rewrite.inspect, undefined, 'only /servers answers are inspected and listed');
});
