/**
 * The contract's metrics, scraped and parsed from a running gateway, moving
 * with events; and the plain-HTTP listener for phones whose service URLs are
 * http://...:8080 (the leg to CUCM stays TLS, and answers point back at the
 * HTTP listener).
 */
import t from 'tap';
import http from 'node:http';
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest, waitFor } from '../helpers/net.js';
import { startGatewayProcess, clusterConfig, TEST_ROUTES, FQDN, TEST_ADMIN_TOKEN } from '../helpers/gateway.js';

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not Prometheus text: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

function httpGet(port: number, path: string): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, headers: { host: `${FQDN}:${port}` } }, (res) => {
      let text = '';
      res.setEncoding('latin1');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
    }).on('error', reject);
  });
}

t.test('metrics and the plain-HTTP listener', async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  writeFileSync(join(dir, 'cucm-ca.pem'), cucm.caPem);
  const tokenFile = join(dir, 'admin.token');
  writeFileSync(tokenFile, `${TEST_ADMIN_TOKEN}\n`);
  chmodSync(tokenFile, 0o600);
  const gw = await startGatewayProcess(t, dir, {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }], http: [{ host: '127.0.0.1', port: 0 }], admin: { host: '127.0.0.1', port: 0, tls: false, tokenFile } },
    clusters: [clusterConfig(cucm, join(dir, 'cucm-ca.pem'), { healthCheck: { intervalMs: 250 } })],
    // The directory menu links to the personal directory too: routed, so that link comes back through the gateway (issue 15).
    routes: [...TEST_ROUTES, { pathPrefix: '/ccmpd/', cluster: 'cucm' }],
    workers: 2,
  });
  const ca = await gw.trustPem();
  const [httpsPort, httpPort] = gw.ports as [number, number];
  const admin = (gw.logs.find((l) => l.event === 'gateway_ready') as { admin: { port: number } }).admin.port;
  const scrape = async () => parseMetrics(await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text());
  const value = (samples: Sample[], name: string, labels: Record<string, string>) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);

  const plain = await httpGet(httpPort, '/ccmcip/xmldirectory.jsp');
  t.equal(plain.status, 200, 'a phone over plain HTTP gets its directory');
  t.equal(plain.headers['x-cucm-node'], 'pub', 'from the node, over TLS upstream');
  t.match(plain.text, `<URL>http://${FQDN}:${httpPort}/ccmcip/xmldirectoryinput.jsp</URL>`, 'menu URLs point back at the HTTP listener');
  t.notOk(plain.text.includes('cucm-pub'), 'no node name');

  const before = await scrape();
  for (const name of [
    'ucgate_upstream_node_up',
    'ucgate_upstream_requests_total',
    'ucgate_request_duration_seconds_bucket',
    'ucgate_certificate_expiration_timestamp_seconds',
    'ucgate_certificate_renewals_total',
  ]) {
    t.ok(before.some((s) => s.name === name), `${name} is exported`);
  }
  t.same(Object.keys(before.find((s) => s.name === 'ucgate_upstream_node_up')!.labels).sort(), ['cluster', 'node']);
  t.same(Object.keys(before.find((s) => s.name === 'ucgate_upstream_requests_total')!.labels).sort(), ['cluster', 'code', 'node']);
  t.same(Object.keys(before.find((s) => s.name === 'ucgate_certificate_expiration_timestamp_seconds')!.labels).sort(), ['key_type', 'name', 'source']);
  t.ok(before.some((s) => s.name === 'ucgate_certificate_expiration_timestamp_seconds' && s.labels.source === 'self-signed'), 'the gateway certificate');
  await waitFor(async () => (await scrape()).some((s) => s.name === 'ucgate_certificate_expiration_timestamp_seconds' && s.labels.source === 'upstream:pub'), {
    timeoutMs: 10_000,
    message: "the publisher's own certificate in the metrics",
  });
  t.ok(before.some((s) => s.name.startsWith('ucgate_process_') || s.name.startsWith('ucgate_nodejs_')), 'process and event-loop figures');

  const served = value(before, 'ucgate_upstream_requests_total', { node: 'pub', code: '200' });
  for (let i = 0; i < 5; i++) await httpsRequest({ host: '127.0.0.1', port: httpsPort, path: '/cucm-uds/version', ca, servername: FQDN });
  t.ok(value(await scrape(), 'ucgate_upstream_requests_total', { node: 'pub', code: '200' }) >= served + 5, 'requests served move ucgate_upstream_requests_total (summed over both workers)');

  t.equal(value(before, 'ucgate_upstream_node_up', { node: 'pub' }), 1);
  await cucm.publisher.stop();
  await waitFor(async () => value(await scrape(), 'ucgate_upstream_node_up', { node: 'pub' }) === 0, { timeoutMs: 10_000, message: 'node_up falls to 0' });
  // ucgate_failovers_total moving is asserted in failover.test.ts, where a node dies while it still takes traffic.
  for (let i = 0; i < 3; i++) await httpsRequest({ host: '127.0.0.1', port: httpsPort, path: '/cucm-uds/version', ca, servername: FQDN });
  await cucm.publisher.restart();
  await waitFor(async () => value(await scrape(), 'ucgate_upstream_node_up', { node: 'pub' }) === 1, { timeoutMs: 10_000, message: 'node_up back to 1' });
  t.pass('a killed node moves ucgate_upstream_node_up to 0 and back');

  const renewed = value(await scrape(), 'ucgate_certificate_renewals_total', { result: 'success' });
  const renew = await fetch(`http://127.0.0.1:${admin}/api/v1/certificates/renew`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  t.equal(renew.status, 200, 'a renewal through the API');
  t.ok(value(await scrape(), 'ucgate_certificate_renewals_total', { result: 'success' }) > renewed, 'ucgate_certificate_renewals_total{result="success"} moved');
});
