/**
 * Broken upstreams (issue 10): a node that resets mid-body, sends garbage or
 * 100 KB of headers, trickles a byte every 200 ms, answers HTTP/0.9 or with
 * two framings at once, or presents an expired or wrong-name certificate.
 * For each, against a real gateway process:
 * - a cluster whose only node misbehaves gives the client a clean 502 (504
 *   for the trickle, which is a timeout);
 * - a cluster with a healthy second node gives an idempotent request its 200
 *   there, when the failure came before any response head;
 * - the gateway process and its worker stay the same processes and keep
 *   answering, and an `upstream_error` log line names the failing node.
 *
 * A reset mid-body comes after the response head was passed on: no status can
 * change any more, so the client must see the answer cut short (connection
 * closed before the announced length, or a chunked body without its last
 * chunk), never a complete-looking short body.
 *
 * Non-idempotent requests are replayed only when none of them reached the
 * failed node (a failed handshake), never after the body went out.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBrokenUpstream, createTestCa, type BrokenBehaviour, type BrokenUpstream } from '../helpers/broken-upstream.js';
import { httpsRequest, waitFor } from '../helpers/net.js';
import { rawExchange } from '../helpers/raw-client.js';
import { processTree } from '../helpers/process-tree.js';
import { startGatewayProcess, FQDN, type GatewayProcess, type LogLine, writeTokenFile } from '../helpers/gateway.js';

// Checks far enough apart that a case's first request meets a node the gateway still thinks healthy.
const HEALTH = { path: '/cucm-uds/version', intervalMs: 1000, timeoutMs: 800, fall: 2, rise: 1, expectStatus: 200, expectBody: '<versionInformation' };
const TIMEOUTS = { connectMs: 1000, firstByteMs: 1500 };

interface Expectation {
  readonly behaviour: BrokenBehaviour;
  /** What the single-node cluster answers; 'truncated' = the head got through, the body is cut. */
  readonly alone: 502 | 504 | 'truncated';
  /** Whether an idempotent request is retried on the healthy node (the failure came before any response head). */
  readonly retried: boolean;
}

const CASES: readonly Expectation[] = [
  { behaviour: 'reset', alone: 502, retried: true },
  { behaviour: 'reset-mid-body', alone: 'truncated', retried: false },
  { behaviour: 'reset-mid-chunked', alone: 'truncated', retried: false },
  { behaviour: 'garbage', alone: 502, retried: true },
  { behaviour: 'oversized-headers', alone: 502, retried: true },
  { behaviour: 'trickle', alone: 504, retried: true },
  { behaviour: 'http09', alone: 502, retried: true },
  // Response smuggling toward the client: refused like garbage, never forwarded with either framing.
  { behaviour: 'cl-te-response', alone: 502, retried: true },
  { behaviour: 'expired-cert', alone: 502, retried: true },
  { behaviour: 'wrong-name-cert', alone: 502, retried: true },
];

function adminPort(gw: GatewayProcess): number {
  const ready = gw.logs.find((line) => line.event === 'gateway_ready') as { admin?: { port: number } };
  return ready.admin!.port;
}

async function nodeUp(gw: GatewayProcess, node: string): Promise<boolean> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort(gw)}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('ucgate_upstream_node_up{') && l.includes(`node="${node}"`));
  return line !== undefined && line.trim().endsWith(' 1');
}

t.test('broken upstreams: clean errors, retries where safe, no crash, the node named', async (t) => {
  const dir = t.testdir();
  const ca = await createTestCa();
  const solo = await startBrokenUpstream({ name: 'solo', hostname: 'cucm-solo.example.test', ca });
  const flaky = await startBrokenUpstream({ name: 'flaky', hostname: 'cucm-flaky.example.test', ca });
  const healthy = await startBrokenUpstream({ name: 'healthy', hostname: 'cucm-healthy.example.test', ca });
  t.teardown(() => Promise.all([solo.close(), flaky.close(), healthy.close()]));
  const caFile = join(dir, 'upstream-ca.pem');
  writeFileSync(caFile, ca.certPem);
  const tokenFile = writeTokenFile(dir);
  const node = (u: BrokenUpstream, priority: number) => ({ name: u.name, url: u.url, address: '127.0.0.1', priority });
  const gw = await startGatewayProcess(t, dir, {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }], admin: { host: '127.0.0.1', port: 0, tls: false, tokenFile } },
    clusters: [
      { name: 'alone', nodes: [node(solo, 1)], tls: { caFile }, healthCheck: HEALTH, timeouts: TIMEOUTS, retries: 2 },
      { name: 'pair', nodes: [node(flaky, 1), node(healthy, 2)], tls: { caFile }, healthCheck: HEALTH, timeouts: TIMEOUTS, retries: 2 },
    ],
    routes: [
      { pathPrefix: '/ucgate-test/', cluster: 'alone' },
      { pathPrefix: '/cucm-uds/', cluster: 'pair', methods: ['GET', 'HEAD'], replay: 'hedge' },
      { pathPrefix: '/ccmcip/', cluster: 'pair' },
    ],
  });
  const trust = await gw.trustPem();
  const get = (path: string) => httpsRequest({ host: '127.0.0.1', port: gw.port, path, ca: trust, servername: FQDN, timeoutMs: 10_000 });
  const pids = processTree(gw.proc.pid!);
  t.ok(pids.length >= 1, `the gateway's processes (${pids.join(', ')})`);
  // A worker thread that fails takes only itself down: its replacement shows in the log, not in the process tree.
  const workerDeaths = () => gw.logs.filter((line) => line.event === 'worker_exit' || line.event === 'worker_error');

  const upstreamErrors = (index: number, node: string): LogLine[] | undefined => {
    const lines = gw.logs.slice(index).filter((line) => line.event === 'upstream_error' && line.node === node);
    return lines.length > 0 ? lines : undefined;
  };
  // Healthy for the primary (its metric) and chosen again by the worker (which keeps away from a
  // node for a check interval after a failure on its own): only then does a case start clean.
  // A health check answered normally after the behaviour was restored also clears the checker's
  // count of consecutive failures: one check that meets the next case's behaviour cannot then mark
  // flaky down between the case's setBehaviour and its request.
  const waitHealthy = async () => {
    const since = Date.now();
    const checkedNormally = (u: BrokenUpstream) => u.requests.some((r) => r.healthCheck && r.time >= since && r.behaviour === 'normal');
    await waitFor(() => checkedNormally(solo) && checkedNormally(flaky), { timeoutMs: 10_000, intervalMs: 50, message: 'a normal health check of solo and flaky' });
    await waitFor(async () => (await nodeUp(gw, 'solo')) && (await nodeUp(gw, 'flaky')), { timeoutMs: 10_000, intervalMs: 100, message: 'solo and flaky healthy again' });
    await waitFor(async () => (await get('/cucm-uds/version')).headers['x-cucm-node'] === 'flaky', { timeoutMs: 10_000, intervalMs: 100, message: 'the worker picks flaky again' });
  };

  for (const c of CASES) {
    t.test(c.behaviour, async (t) => {
      await waitHealthy();
      const logIndex = gw.logs.length;
      const since = Date.now();
      const flakyConnections = flaky.connectionCount;
      solo.setBehaviour(c.behaviour);
      flaky.setBehaviour(c.behaviour);
      t.teardown(() => {
        solo.setBehaviour('normal');
        flaky.setBehaviour('normal');
      });

      // The pair first: the health checker has not had time to notice, so the gateway does pick flaky.
      const path = `/cucm-uds/case-${c.behaviour}`;
      if (c.retried) {
        const res = await get(path);
        t.equal(res.status, 200, 'an idempotent request is answered by the healthy node');
        t.equal(res.headers['x-cucm-node'], 'healthy');
        const triedFlaky = c.behaviour.endsWith('-cert')
          ? flaky.connectionCount > flakyConnections
          : flaky.proxied(since).some((r) => r.url === path);
        t.ok(triedFlaky, 'after flaky was tried first (a real retry, not a node already avoided)');
      } else {
        const ex = await rawExchange({
          port: gw.port,
          ca: trust,
          servername: FQDN,
          request: `GET ${path} HTTP/1.1\r\nHost: ${FQDN}\r\n\r\n`,
          timeoutMs: 8_000,
        });
        const first = ex.responses[0];
        t.ok(flaky.proxied(since).some((r) => r.url === path), 'flaky answered it (no retry once the head is out)');
        t.ok(
          ex.status === 502 || (first !== undefined && !first.complete && ex.closed !== undefined),
          `a clean 502, or the answer visibly cut short (status ${ex.status}, ${first?.body.length ?? 0} body bytes, complete ${first?.complete}, closed ${ex.closed?.kind})`,
        );
      }

      const expected = c.alone;
      if (expected === 'truncated') {
        const ex = await rawExchange({
          port: gw.port,
          ca: trust,
          servername: FQDN,
          request: `GET /ucgate-test/case-${c.behaviour} HTTP/1.1\r\nHost: ${FQDN}\r\n\r\n`,
          timeoutMs: 8_000,
        });
        const first = ex.responses[0];
        t.ok(
          ex.status === 502 || (first !== undefined && !first.complete && ex.closed !== undefined),
          `alone: a clean 502, or the answer visibly cut short (status ${ex.status}, ${first?.body.length ?? 0} body bytes, complete ${first?.complete}, closed ${ex.closed?.kind})`,
        );
      } else {
        const started = Date.now();
        const res = await get(`/ucgate-test/case-${c.behaviour}`);
        t.equal(res.status, expected, `alone: ${expected} (after ${Date.now() - started} ms)`);
      }

      for (const name of ['solo', 'flaky']) {
        await waitFor(() => upstreamErrors(logIndex, name), { timeoutMs: 3_000, message: `upstream_error naming ${name}` }).then(
          (lines) => t.pass(`upstream_error names ${name} (${String(lines[0]!.class)} ${String(lines[0]!.code)})`),
          () => t.fail(`an upstream_error log line names ${name}`),
        );
      }

      t.equal(gw.proc.exitCode, null, 'the gateway process is running');
      t.same(processTree(gw.proc.pid!), pids, 'the same primary and worker processes (no crash, no respawn)');
      t.same(workerDeaths(), [], 'no worker died (threads or processes)');
      solo.setBehaviour('normal');
      flaky.setBehaviour('normal');
      const after = await get('/cucm-uds/version');
      t.equal(after.status, 200, 'the gateway still answers');
    });
  }

  // `Transfer-Encoding: chunked, identity`: chunked is not the last coding, so the length is "until the close"
  // (RFC 9112 §6.3) and the chunk framing would reach the client as body bytes. Refused like garbage, as nginx
  // and HAProxy do; the client connection must stay in step either way.
  t.test('chunked-identity-response: a clean 502, the node named, the client connection in step', async (t) => {
    await waitHealthy();
    solo.setBehaviour('chunked-identity-response');
    t.teardown(() => solo.setBehaviour('normal'));
    const logIndex = gw.logs.length;
    const request = `GET /ucgate-test/chunked-identity HTTP/1.1\r\nHost: ${FQDN}\r\n\r\n`;
    const ex = await rawExchange({ port: gw.port, ca: trust, servername: FQDN, request: [request, request], pauseMs: 0, timeoutMs: 8_000, lingerMs: 500 });
    t.equal(ex.responses.length, 2, `two requests on one connection, two answers (${JSON.stringify(ex.text.slice(0, 400))})`);
    t.ok(ex.responses.every((r) => r.complete), 'each one complete in its own framing: nothing of the upstream body read as a response boundary');
    t.equal(ex.status, 502, 'answered 502, as nginx and HAProxy do');
    await waitFor(() => upstreamErrors(logIndex, 'solo'), { timeoutMs: 3_000, message: 'upstream_error naming solo' }).then(
      () => t.pass('an upstream_error names solo'),
      () => t.fail('an upstream_error names solo'),
    );
    t.equal(gw.proc.exitCode, null, 'the gateway process is running');
    t.same(processTree(gw.proc.pid!), pids, 'the same primary and worker processes');
    t.same(workerDeaths(), [], 'no worker died (threads or processes)');
  });

  // Not idempotent: replayed only if none of it reached the failed node (CONTRACT: data-plane behaviour).
  t.test('a POST is replayed after a failed handshake, never after its body went out', async (t) => {
    await waitHealthy();
    const post = (path: string) => httpsRequest({ host: '127.0.0.1', port: gw.port, path, method: 'POST', body: 'phone-xml', ca: trust, servername: FQDN, timeoutMs: 10_000 });

    flaky.setBehaviour('expired-cert');
    const replayed = await post('/ccmcip/post-after-tls-failure');
    t.equal(replayed.status, 200, 'the TLS failure came before any byte: replayed on the healthy node');
    t.equal(replayed.headers['x-cucm-node'], 'healthy');
    flaky.setBehaviour('normal');

    await waitHealthy();
    const since = Date.now();
    flaky.setBehaviour('garbage');
    const refused = await post('/ccmcip/post-after-garbage');
    flaky.setBehaviour('normal');
    t.equal(refused.status, 502, 'garbage after the body was sent: 502, not a second submission');
    t.equal(flaky.proxied(since).filter((r) => r.method === 'POST').length, 1, 'flaky got the POST once');
    t.same(healthy.proxied(since).filter((r) => r.method === 'POST').map((r) => r.url), [], 'the healthy node never got it');
  });
});
