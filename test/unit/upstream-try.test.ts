/**
 * One try against a real simulated CUCM node over verified TLS, through the
 * node's undici pool: what comes back (status, raw headers, body), that an
 * aborted try leaves no connection behind (undici 7 would open a fresh one for
 * the aborted request: see NodeClient in upstream-node.ts), and that a body is
 * never read when the node cannot be reached.
 */
import t, { type Test } from 'tap';
import { PassThrough } from 'node:stream';
import { startCucmCluster, type CucmCluster } from '../../src/sim/cucm-cluster.js';
import { UpstreamNode } from '../../src/upstream/upstream-node.js';
import { UpstreamTry, type TryOptions } from '../../src/proxy/upstream-try.js';
import type { UpstreamResponse } from '../../src/proxy/upstream-response.js';
import type { ClusterConfig, NodeConfig } from '../../src/config/types.js';
import { waitFor } from '../helpers/net.js';

const CLUSTER = {
  name: 'c1',
  tls: { verify: true },
  timeouts: { connectMs: 1000, firstByteMs: 5000 },
} as unknown as ClusterConfig;

function nodeFor(t: Test, cucm: CucmCluster, name = 'pub', port?: number): UpstreamNode {
  const sim = cucm.node(name);
  const config: NodeConfig = { name, url: `https://${sim.hostname}:${port ?? sim.port}`, priority: 1, weight: 1, aliases: [], address: '127.0.0.1' } as NodeConfig;
  const node = new UpstreamNode(CLUSTER, config, cucm.caPem, 16_384);
  t.teardown(() => node.pool.destroy());
  return node;
}

type Outcome = { kind: 'response'; res: UpstreamResponse; body: Promise<string> } | { kind: 'error'; err: Error };

function start(node: UpstreamNode, overrides: Partial<TryOptions> = {}): { attempt: UpstreamTry; outcome: Promise<Outcome>; connected: () => boolean } {
  let connected = false;
  let settle!: (o: Outcome) => void;
  const outcome = new Promise<Outcome>((resolve) => (settle = resolve));
  const attempt = new UpstreamTry(
    node,
    {
      method: 'GET',
      path: '/cucm-uds/version',
      headers: ['Host', node.hostHeader, 'X-Test', 'yes'],
      body: null,
      connectMs: 1000,
      firstByteMs: 5000,
      onConnected: () => (connected = true),
      onResponse: (_a, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        settle({ kind: 'response', res, body: new Promise((resolve) => res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))) });
      },
      onError: (_a, err) => settle({ kind: 'error', err }),
      ...overrides,
    },
    Date.now(),
  );
  return { attempt, outcome, connected: () => connected };
}

t.test('an answer arrives whole: status, raw headers as the node cased them, body', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const node = nodeFor(t, cucm);
  const { outcome, connected } = start(node);
  const got = await outcome;
  if (got.kind !== 'response') throw got.err;
  t.equal(got.res.statusCode, 200);
  t.ok(connected(), 'the try saw its connection come up');
  t.match(await got.body, /<versionInformation/, 'the body');
  t.ok(got.res.complete, 'complete once the body ended');
  t.equal(got.res.headers['x-cucm-node'], 'pub', 'the lower-case header map');
  t.ok(got.res.rawHeaders.some((h) => h === 'X-CUCM-Node' || h.toLowerCase() === 'x-cucm-node'), 'the raw list');
  const seen = cucm.publisher.requests.at(-1)!;
  t.equal(seen.headers['x-test'], 'yes', 'the node got our headers');
  t.equal(seen.headers.host, node.hostHeader, 'and its own name as Host');
});

t.test('tries aborted while a hung node holds them leave no connection to it', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const node = nodeFor(t, cucm);
  cucm.publisher.setBehaviour('hang');
  const tries = Array.from({ length: 6 }, () => start(node));
  await waitFor(() => cucm.publisher.requests.length >= tries.length, { timeoutMs: 5000, message: 'every try reached the hung node' });
  t.equal(node.pool.stats.connected, tries.length, 'one connection per try in flight');
  const before = cucm.publisher.connectionCount;
  // undici 7 reconnects for each aborted request once its socket has closed; the connector turns those down.
  const refused: string[] = [];
  node.pool.on('connectionError', (_origin, _targets, err: Error & { code?: string }) => refused.push(err.code ?? ''));
  for (const { attempt } of tries) attempt.abort();
  await waitFor(() => refused.length >= tries.length, { timeoutMs: 5000, intervalMs: 20, message: 'a reconnect for every aborted request, refused' });
  t.same(new Set(refused), new Set(['UCGATE_ERR_NO_LIVE_REQUEST']), 'refused by the connector, before any TCP connection');
  await waitFor(() => node.pool.stats.connected === 0, { timeoutMs: 5000, intervalMs: 20, message: 'the pool holds no connection to the hung node' });
  t.equal(cucm.publisher.connectionCount, before, 'no new connection reached the hung node');
});

t.test('a node that refuses the connection never reads the body: it can go to another node', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const closedPort = cucm.publisher.port;
  const node = nodeFor(t, cucm, 'pub', closedPort);
  await cucm.publisher.stop();
  const body = new PassThrough();
  body.end('<request/>');
  let pulled = false;
  async function* lazy(): AsyncGenerator<Buffer> {
    pulled = true;
    for await (const chunk of body) yield chunk as Buffer;
  }
  const { outcome, connected } = start(node, { method: 'POST', headers: ['Host', node.hostHeader, 'Content-Length', '10'], body: lazy() });
  const got = await outcome;
  t.equal(got.kind, 'error', 'the try fails');
  if (got.kind === 'error') t.equal((got.err as { code?: string }).code, 'ECONNREFUSED');
  t.notOk(connected(), 'no connection came up');
  t.notOk(pulled, 'the body was never pulled');
  t.equal(body.readableLength, 10, 'and is all still there for the next node');
});
