/**
 * Metrics ready for alerts (issue 18): a fresh gateway's `/metrics` already
 * has a sample, at 0, for every known label set of its labelled counters and
 * gauges, so `rate()` and `increase()` see the first event and an alert on
 * them has a series to evaluate from the start. Known label sets: clusters and
 * nodes from the config, key types from the config, the closed enums in the
 * code (result, layer, winner, reason), and for HTTP codes 200/500/502/503/504.
 * Data-plane series come from two workers and are summed by the primary.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { startGatewayProcess, clusterConfig, TEST_ROUTES, FQDN, writeTokenFile, adminPortOf } from '../helpers/gateway.js';

t.test('a fresh /metrics has every known series at 0', async (t) => {
  const dir = t.testdir();
  const [one, two] = await Promise.all([startCucmCluster(), startCucmCluster({ domain: 'second.example.test' })]);
  t.teardown(() => Promise.all([one.close(), two.close()]));
  writeFileSync(join(dir, 'one-ca.pem'), one.caPem);
  writeFileSync(join(dir, 'two-ca.pem'), two.caPem);
  const gw = await startGatewayProcess(t, dir, {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }], admin: { host: '127.0.0.1', port: 0, tls: false, tokenFile: writeTokenFile(dir) } },
    clusters: [clusterConfig(one, join(dir, 'one-ca.pem')), { ...clusterConfig(two, join(dir, 'two-ca.pem')), name: 'second' }],
    routes: [...TEST_ROUTES, { pathPrefix: '/second/', cluster: 'second' }],
    workers: 2,
  });
  const text = await (await fetch(`http://127.0.0.1:${adminPortOf(gw)}/metrics`)).text();
  const lines = new Set(text.split('\n'));
  const expect = (line: string) => t.ok(lines.has(line), line);

  for (const cluster of ['cucm', 'second']) {
    expect(`ucgate_failovers_total{cluster="${cluster}"} 0`);
    expect(`ucgate_request_duration_seconds_count{cluster="${cluster}"} 0`);
    for (const winner of ['first', 'hedge']) expect(`ucgate_hedged_requests_total{cluster="${cluster}",winner="${winner}"} 0`);
    for (const node of ['pub', 'sub1']) {
      t.ok([...lines].some((l) => l.startsWith(`ucgate_upstream_node_up{cluster="${cluster}",node="${node}"} `)), `ucgate_upstream_node_up{cluster="${cluster}",node="${node}"}`);
      for (const code of ['200', '500', '502', '503', '504']) expect(`ucgate_upstream_requests_total{cluster="${cluster}",node="${node}",code="${code}"} 0`);
      for (const layer of ['connect', 'tls', 'timeout', 'reset', 'protocol']) expect(`ucgate_upstream_failures_total{cluster="${cluster}",node="${node}",layer="${layer}"} 0`);
      for (const layer of ['connect', 'tls', 'timeout', 'status', 'body', 'reset', 'protocol']) {
        expect(`ucgate_upstream_check_failures_total{cluster="${cluster}",node="${node}",layer="${layer}"} 0`);
      }
    }
  }
  for (const result of ['success', 'failure']) expect(`ucgate_certificate_renewals_total{result="${result}"} 0`);
  for (const reason of ['rate-limited', 'rejected', 'ca-unreachable', 'challenge-failed', 'other']) expect(`ucgate_certificate_renewal_failures_total{reason="${reason}"} 0`);
  expect('ucgate_certificate_renewal_consecutive_failures{key_type="rsa-2048"} 0');
  t.ok([...lines].some((l) => /^ucgate_certificate_expiration_timestamp_seconds\{name="gateway-rsa-2048",key_type="rsa-2048",source="self-signed"\} \d{10}$/.test(l)), 'the gateway certificate expiry, a real timestamp (never a 0)');
});
