/**
 * Request bodies read before a node is chosen (issue 17): a body that trickles
 * in reaches no node until it is complete, and one that is not complete by
 * `limits.http.bodyTimeoutMs` gets 408 and reaches no node at all; an
 * `Expect: 100-continue` request whose length is over the limit gets 413
 * without a 100; one within it gets 100, then the node's answer.
 */
import t from 'tap';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { rawConnect, type RawConnection } from '../helpers/raw-client.js';
import { startClusterGateway, clientRequests, FQDN } from '../helpers/gateway.js';
import { waitFor } from '../helpers/net.js';

const BODY_TIMEOUT_MS = 1500;

t.test('trickling bodies, oversize Expect', async (t) => {
  const cucm = await startCucmCluster();
  t.teardown(() => cucm.close());
  const { gw, ca } = await startClusterGateway(t, cucm, {}, { limits: { http: { maxBodyBytes: 1_000_000, bodyTimeoutMs: BODY_TIMEOUT_MS } } });
  const connect = () => rawConnect({ port: gw.port, ca, servername: FQDN });
  const nodesSaw = (path: string) => cucm.nodes.reduce((n, node) => n + node.requests.filter((r) => r.url === path).length, 0);
  const head = (path: string, length: number, extra = '') => `POST ${path} HTTP/1.1\r\nHost: ${FQDN}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${length}\r\n${extra}\r\n`;

  // Ten uploads of 60 bytes, each sent a few bytes at a time and completed only after everything else.
  const body = 'device=SEP001122334455&userid=jdoe&seq=12345&pad=0123456789x';
  const conns: RawConnection[] = [];
  for (let i = 0; i < 10; i++) {
    const c = await connect();
    t.teardown(() => c.destroy());
    await c.write(head(`/ucgate-test/echo?trickle=${i}`, body.length) + body.slice(0, 10));
    conns.push(c);
  }
  for (const c of conns) await c.write(body.slice(10, 40));
  t.equal(clientRequests(cucm.publisher) + clientRequests(cucm.nodes[1]!), 0, 'no node has seen any of them while their bodies trickle');
  for (const c of conns) await c.write(body.slice(40));
  for (const c of conns) t.ok(await c.waitFor((b) => b.includes('\r\n\r\n'), 10_000), 'answered once complete');
  t.same(new Set(conns.map((c) => c.responses()[0]?.status)), new Set([200]));
  t.equal(
    Array.from({ length: 10 }, (_, i) => nodesSaw(`/ucgate-test/echo?trickle=${i}`)).reduce((a, b) => a + b, 0),
    10,
    'each reached a node once, whole',
  );

  // A body that never completes: 408 after bodyTimeoutMs, and no node ever sees it.
  const stalled = await connect();
  t.teardown(() => stalled.destroy());
  await stalled.write(head('/ucgate-test/echo?stalled', 100) + 'x'.repeat(10));
  const closed = await stalled.whenClosed;
  t.equal(stalled.responses()[0]?.status, 408, 'the stalled body gets 408');
  t.ok(closed.afterMs >= BODY_TIMEOUT_MS - 100, `after the body timeout (${closed.afterMs} ms)`);
  t.equal(nodesSaw('/ucgate-test/echo?stalled'), 0, 'no node saw it');

  // Expect: 100-continue with a length over the limit: 413 at once, never 100.
  const big = await connect();
  t.teardown(() => big.destroy());
  await big.write(head('/ucgate-test/echo?big', 100_000_000, 'Expect: 100-continue\r\n'));
  await big.waitFor((b) => b.includes('\r\n\r\n'), 5000);
  t.notMatch(big.received().toString('latin1'), /^HTTP\/1\.1 100/, 'no 100 Continue');
  t.equal(big.responses()[0]?.status, 413);

  // Within the limit: 100 first, then the node's answer once the body came.
  const ok = await connect();
  t.teardown(() => ok.destroy());
  await ok.write(head('/ucgate-test/echo?continue', body.length, 'Expect: 100-continue\r\n'));
  t.ok(await ok.waitFor((b) => b.toString('latin1').startsWith('HTTP/1.1 100'), 5000), '100 Continue once the head passed');
  await ok.write(body);
  await waitFor(() => ok.received().toString('latin1').includes('HTTP/1.1 200'), { timeoutMs: 5000, message: 'the answer after the body' });
  t.equal(nodesSaw('/ucgate-test/echo?continue'), 1);
});
