import t from 'tap';
import net from 'node:net';
import { X509Certificate } from 'node:crypto';
import { startCucmCluster, type CucmCluster } from '../../src/sim/cucm-cluster.js';
import type { CucmNode } from '../../src/sim/cucm-node.js';
import { createCa } from '../../src/pki/x509.js';
import type { HealthCheckConfig } from '../../src/config/types.js';
import { probeNode, type ProbeTarget } from '../../src/upstream/health-probe.js';

// The key type does not matter to the probe; ECDSA node certificates keep start-up fast.
const cluster: CucmCluster = await startCucmCluster({ nodes: 2, keyType: 'ecdsa-p256' });
t.teardown(() => cluster.close());
const otherCa = await createCa({ commonName: 'not the cluster CA', keyType: 'ecdsa-p256' });

const CHECK: HealthCheckConfig = { path: '/cucm-uds/version', intervalMs: 2000, timeoutMs: 2000, fall: 2, rise: 2, expectStatus: 200 };

function target(node: CucmNode, overrides: Partial<ProbeTarget> = {}): ProbeTarget {
  return {
    host: '127.0.0.1',
    port: node.port,
    hostHeader: `${node.hostname}:${node.port}`,
    servername: node.hostname,
    ca: cluster.caPem,
    verify: true,
    ...overrides,
  };
}

const pub = cluster.node('pub');
const sub1 = cluster.node('sub1');
/** Puts sub1 back to normal (and listening) after a test broke it. */
const restore = async () => {
  sub1.setBehaviour('normal');
  await sub1.restart();
};

t.test('a healthy node: ok, with its certificate, Host and SNI', async (t) => {
  pub.clearRequests();
  const result = await probeNode(target(pub), { ...CHECK, expectBody: '<version>' });
  t.match(result, { ok: true, status: 200 });
  t.notOk(result.layer);
  t.ok(result.durationMs >= 0 && result.durationMs < CHECK.timeoutMs);
  t.ok(result.peerCertificate instanceof X509Certificate);
  t.equal(result.peerCertificate?.subject, `CN=${pub.hostname}`);
  const [seen] = pub.requests;
  t.match(seen, { method: 'GET', url: '/cucm-uds/version', servername: pub.hostname });
  t.equal(seen?.headers.host, `${pub.hostname}:${pub.port}`, "the node's own Host");
  t.equal(seen?.headers['user-agent'], 'ucgate-health-check');
});

t.test('failures by layer', async (t) => {
  t.afterEach(restore);
  const cases: {
    name: string;
    setup?: () => Promise<void> | void;
    check?: Partial<HealthCheckConfig>;
    target?: Partial<ProbeTarget>;
    want: Record<string, unknown>;
  }[] = [
    { name: 'status mismatch', check: { path: '/cucm-uds/no-such-resource' }, want: { ok: false, layer: 'status', status: 404, reason: 'status 404, expected 200' } },
    { name: 'a different expected status', check: { expectStatus: 204 }, want: { ok: false, layer: 'status', status: 200 } },
    { name: 'body mismatch', check: { expectBody: 'definitely-not-in-the-body' }, want: { ok: false, layer: 'body', status: 200, reason: /does not contain "definitely-not-in-the-body"/ } },
    { name: 'wrong CA', target: { ca: otherCa.certPem }, want: { ok: false, layer: 'tls', reason: /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/ } },
    { name: 'name mismatch', target: { servername: 'cucm-other.example.test' }, want: { ok: false, layer: 'tls', reason: /ERR_TLS_CERT_ALTNAME_INVALID/ } },
    { name: 'refused', setup: () => sub1.stop(), want: { ok: false, layer: 'connect', reason: /ECONNREFUSED/ } },
    { name: 'hang after the request', setup: () => sub1.setBehaviour('hang'), check: { timeoutMs: 300 }, want: { ok: false, layer: 'timeout', reason: 'no answer within 300 ms' } },
    { name: 'TLS never starts (blackhole)', setup: () => sub1.setBehaviour('blackhole'), check: { timeoutMs: 300 }, want: { ok: false, layer: 'timeout' } },
    { name: 'reset', setup: () => sub1.setBehaviour('reset'), want: { ok: false, layer: 'reset', reason: /ECONNRESET/ } },
    { name: '503 with Retry-After: busy', setup: () => sub1.setBehaviour({ status: 503, headers: { 'Retry-After': '30' } }), want: { ok: false, layer: 'status', status: 503, busyMs: 30_000 } },
    { name: '503 with a Retry-After date', setup: () => sub1.setBehaviour({ status: 503, headers: { 'Retry-After': new Date(Date.now() + 3_600_000).toUTCString() } }), want: { ok: false, layer: 'status', status: 503 } },
    { name: '500 with Retry-After is a plain failure', setup: () => sub1.setBehaviour({ status: 500, headers: { 'Retry-After': '30' } }), want: { ok: false, layer: 'status', status: 500, busyMs: undefined } },
  ];
  for (const c of cases) {
    t.test(c.name, async (t) => {
      await c.setup?.();
      const result = await probeNode(target(sub1, c.target), { ...CHECK, ...c.check });
      t.match(result, c.want);
      if (c.name === '503 with a Retry-After date') t.ok(result.busyMs! > 3_500_000 && result.busyMs! <= 3_600_000, `busyMs ${result.busyMs}`);
      if (c.name.startsWith('503') === false) t.equal(result.busyMs, undefined, 'not busy');
      if (String(c.want.layer) === 'timeout') t.ok(result.durationMs >= (c.check?.timeoutMs ?? 0) - 5, 'waited for the timeout');
    });
  }
});

t.test('503 without Retry-After is a failure, not busy', async (t) => {
  t.teardown(restore);
  sub1.setBehaviour({ status: 503 });
  const result = await probeNode(target(sub1), CHECK);
  t.match(result, { ok: false, layer: 'status', status: 503 });
  t.equal(result.busyMs, undefined);
});

t.test('verify false accepts any certificate and still captures it', async (t) => {
  const result = await probeNode(target(pub, { ca: otherCa.certPem, verify: false }), CHECK);
  t.match(result, { ok: true, status: 200 });
  t.equal(result.peerCertificate?.subject, `CN=${pub.hostname}`);
});

t.test('the certificate is captured when verification fails', async (t) => {
  // The inventory wants to show what a node presented, above all when it is the wrong one.
  const result = await probeNode(target(pub, { ca: otherCa.certPem }), CHECK);
  t.equal(result.layer, 'tls');
  t.ok(result.peerCertificate, 'peerCertificate present', {
  });
  t.equal(result.peerCertificate?.subject, `CN=${pub.hostname}`, 'it is the node certificate', {
  });
});

t.test('a plain TCP server that closes at once: connect-layer failure', async (t) => {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as net.AddressInfo).port;
  const result = await probeNode(target(pub, { port }), CHECK);
  t.equal(result.ok, false);
  t.ok(['reset', 'connect', 'tls'].includes(result.layer!), `layer ${result.layer} (${result.reason})`);
});
