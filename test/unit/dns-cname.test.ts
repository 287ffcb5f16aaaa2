/**
 * dns-01 through a CNAME (the acme-dns pattern), against two real dnsmasq
 * servers: 127.0.0.1 is authoritative for example.test, where
 * `_acme-challenge.ucgw.example.test` is a CNAME to `ucgw.acme-dns.test`;
 * 127.0.0.2 is authoritative for acme-dns.test, the only one with the TXT
 * record. The propagation check must follow the CNAME and ask the
 * validation zone's servers; chains are bounded and loops refused.
 */
import t, { type Test } from 'tap';
import { createSocket } from 'node:dgram';
import { createLogger } from '../../src/log.js';
import { followCname, MAX_CNAME_HOPS } from '../../src/acme/dns-cname.js';
import { waitForTxt } from '../../src/acme/dns-propagation.js';
import { AcmeError } from '../../src/acme/acme-errors.js';
import { startZoneServer } from '../helpers/dns-zone.js';
import { freePort } from '../helpers/pebble.js';

const RECORD = '_acme-challenge.ucgw.example.test';
const TARGET = 'ucgw.acme-dns.test';

function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  return { log, lines };
}

/** The two zones on one port (NS answers carry no port); `extra` records in example.test, `extraValidation` in acme-dns.test. */
async function zones(t: Test, value: string, extra: readonly string[] = [], extraValidation: readonly string[] = []) {
  const port = await freePort({ udp: true });
  const validation = await startZoneServer(t, t.testdir(), '127.0.0.2', port, ['auth-server=ns1.acme-dns.test,127.0.0.2', 'auth-zone=acme-dns.test', 'host-record=ns1.acme-dns.test,127.0.0.2'], [`txt-record=${TARGET},"${value}"`, ...extraValidation], 'ns1.acme-dns.test');
  const main = await startZoneServer(
    t,
    t.testdir(),
    '127.0.0.1',
    port,
    // Answers for example.test itself; acme-dns.test (its NS, its records) is asked of its own server, as a
    // resolver would. Like a real example.test server, it answers TXT at the record with the CNAME alone.
    ['auth-server=ns1.example.test', 'auth-zone=example.test', 'host-record=ns1.example.test,127.0.0.1', `server=/acme-dns.test/127.0.0.2#${port}`],
    [`cname=${RECORD},${TARGET}`, ...extra],
    'ns1.example.test',
  );
  return { port, main, validation };
}

t.test('the CNAME is followed, and the validation zone\'s own servers are asked', async (t) => {
  const { port, main } = await zones(t, 'served-value');
  t.same(await followCname(RECORD, [main.server]), { target: TARGET, chain: [RECORD, TARGET] });
  t.same(await followCname('ns1.example.test', [main.server]), { target: 'ns1.example.test', chain: ['ns1.example.test'] }, 'no CNAME: the name itself');

  const { log, lines } = capturedLog();
  const options = { nameservers: [], bootstrap: [main.server], authoritativePort: port, intervalMs: 100, log };
  await waitForTxt(RECORD, 'served-value', { ...options, timeoutMs: 5_000 });
  t.match(lines.at(-1), { event: 'acme_dns_propagated', record: RECORD, cname: TARGET, servers: ['ns1.acme-dns.test (127.0.0.2)'] }, 'served where the CNAME points, by that zone\'s server');

  const refused = await waitForTxt(RECORD, 'not-this-one', { ...options, timeoutMs: 400 }).then(
    () => undefined,
    (err: unknown) => err,
  );
  t.ok(refused instanceof AcmeError);
  t.match(refused, { reason: 'challenge-failed', message: /TXT ucgw\.acme-dns\.test not served by ns1\.acme-dns\.test/ });

  // Split-horizon (nameservers set): the CNAME is asked of them too, then the TXT at its end.
  const split = capturedLog();
  await waitForTxt(RECORD, 'served-value', { nameservers: [main.server], intervalMs: 100, timeoutMs: 5_000, log: split.log });
  t.match(split.lines.at(-1), { event: 'acme_dns_propagated', cname: TARGET, servers: [main.server] });
});

t.test('a CNAME chain is bounded', async (t) => {
  // hop0 → hop1 → … → hop9 → ucgw.acme-dns.test: longer than MAX_CNAME_HOPS.
  const hops = Array.from({ length: MAX_CNAME_HOPS + 2 }, (_, i) => `hop${i}.example.test`);
  const chain = hops.map((name, i) => `cname=${name},${hops[i + 1] ?? TARGET}`);
  const { main } = await zones(t, 'v', [...chain, 'cname=_acme-challenge.three.example.test,hop7.example.test']);
  const three = await followCname('_acme-challenge.three.example.test', [main.server]);
  t.equal(three.target, TARGET, 'a chain within the bound is followed to its end');
  t.equal(three.chain.length, 5);
  await t.rejects(followCname('hop0.example.test', [main.server]), { reason: 'challenge-failed', message: new RegExp(`more than ${MAX_CNAME_HOPS} CNAMEs from hop0\\.example\\.test`) });
});

t.test('a CNAME loop across two zones is refused', async (t) => {
  // dnsmasq refuses a loop inside one server's records; across two zones no server sees it, as in real life.
  const { main } = await zones(t, 'v', ['cname=loop-a.example.test,loop-b.acme-dns.test'], ['cname=loop-b.acme-dns.test,loop-a.example.test']);
  await t.rejects(followCname('loop-a.example.test', [main.server]), { reason: 'challenge-failed', message: /CNAME loop from loop-a\.example\.test: loop-a\.example\.test → loop-b\.acme-dns\.test → loop-a\.example\.test/ });
});

t.test('a server that cannot be asked: the record name itself, marked unchecked', async (t) => {
  // A port held by a socket that never answers (the query times out): a port merely freed could be
  // taken meanwhile by another test file's dnsmasq, whose NXDOMAIN would read as "no CNAME".
  const silent = createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  t.teardown(() => silent.close());
  const result = await followCname(RECORD, [`127.0.0.1:${silent.address().port}`]);
  t.equal(result.target, RECORD);
  t.match(result.unchecked, /asking for the CNAME of/);
});
