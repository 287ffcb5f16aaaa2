/**
 * Series primed at 0 (issue 18), without a gateway: the data plane's per
 * cluster and per node series, the control plane's per node check failures
 * and store reloads; priming again (a reload, an SRV answer) changes no count.
 */
import t from 'tap';
import { DataPlaneMetrics } from '../../src/metrics/data-plane-metrics.js';
import { ControlPlaneMetrics } from '../../src/metrics/control-plane-metrics.js';

t.test('data plane: per cluster and per node at 0, idempotent', async (t) => {
  const metrics = new DataPlaneMetrics();
  const clusters = [{ name: 'cucm', nodes: [{ name: 'pub' }, { name: 'sub1' }] }, { name: 'srv', nodes: [] }];
  metrics.prime(clusters);
  let text = await metrics.registry.metrics();
  for (const line of [
    'ucgate_failovers_total{cluster="cucm"} 0',
    'ucgate_failovers_total{cluster="srv"} 0',
    'ucgate_request_duration_seconds_count{cluster="srv"} 0',
    'ucgate_hedged_requests_total{cluster="cucm",winner="hedge"} 0',
    'ucgate_upstream_requests_total{cluster="cucm",node="sub1",code="503"} 0',
    'ucgate_upstream_failures_total{cluster="cucm",node="pub",layer="tls"} 0',
  ]) {
    t.ok(text.split('\n').includes(line), line);
  }
  metrics.failovers.inc({ cluster: 'cucm' });
  metrics.countUpstream({ cluster: 'cucm', name: 'pub' }, 200);
  metrics.prime(clusters);
  metrics.primeNode('srv', 'found-by-srv');
  text = await metrics.registry.metrics();
  t.ok(text.includes('ucgate_failovers_total{cluster="cucm"} 1\n'), 'priming again keeps the count');
  t.ok(text.includes('ucgate_upstream_requests_total{cluster="cucm",node="pub",code="200"} 1\n'), 'the kept child and the primed series are one');
  t.ok(text.includes('ucgate_upstream_requests_total{cluster="srv",node="found-by-srv",code="200"} 0\n'), 'a node an SRV lookup found');
});

t.test('control plane: check failures per node and layer, store reloads per way', async (t) => {
  const metrics = new ControlPlaneMetrics();
  metrics.primeNode('cucm', 'pub');
  metrics.primeStoreReloads();
  const text = await metrics.registry.metrics();
  for (const layer of ['connect', 'tls', 'timeout', 'status', 'body', 'reset', 'protocol']) {
    t.ok(text.includes(`ucgate_upstream_check_failures_total{cluster="cucm",node="pub",layer="${layer}"} 0\n`), layer);
  }
  for (const via of ['message', 'check', 'reconnect']) t.ok(text.includes(`ucgate_store_reloads_total{via="${via}"} 0\n`), via);
  t.ok(text.includes('ucgate_certificate_renewals_total{result="failure"} 0\n'));
});
