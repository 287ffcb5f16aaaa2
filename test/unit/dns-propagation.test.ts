/**
 * dns-01 propagation against real DNS servers: dnsmasq answering as the
 * zone's authoritative server (NS records, auth-zone), and
 * pebble-challtestsrv as a server whose TXT records change at run time.
 */
import t, { type Test } from 'tap';
import { createSocket } from 'node:dgram';
import { createLogger } from '../../src/log.js';
import { authoritativeServers, waitForTxt } from '../../src/acme/dns-propagation.js';
import { AcmeError } from '../../src/acme/acme-errors.js';
import { startDnsmasq } from '../helpers/dnsmasq.js';
import { startChallTestSrv, postJson } from '../helpers/pebble.js';
import { waitFor } from '../helpers/net.js';

const RECORD = '_acme-challenge.ucgw.example.test';

function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  return { log, lines };
}

async function authoritativeZone(t: Test, value: string) {
  // ns1.example.test is the zone's name server; the NS answer carries no port, so the test tells the poller dnsmasq's.
  return startDnsmasq(t, t.testdir(), '_cisco-uds._tcp.example.test', [{ target: 'cucm-pub.example.test', port: 8443, priority: 1, weight: 1 }], { 'ns1.example.test': '127.0.0.1' }, [
    'auth-server=ns1.example.test,127.0.0.1',
    'auth-zone=example.test',
    `txt-record=${RECORD},"${value}"`,
  ]);
}

t.test('the zone\'s authoritative servers are found by walking up to the NS records', async (t) => {
  const dns = await authoritativeZone(t, 'served-value');
  const servers = await authoritativeServers(RECORD, [`127.0.0.1:${dns.port}`], dns.port);
  t.same(servers, [{ server: `127.0.0.1:${dns.port}`, label: 'ns1.example.test (127.0.0.1)' }]);

  const { log, lines } = capturedLog();
  const options = { nameservers: [], bootstrap: [`127.0.0.1:${dns.port}`], authoritativePort: dns.port, intervalMs: 100, log };
  await waitForTxt(RECORD, 'served-value', { ...options, timeoutMs: 5_000 });
  t.match(lines.at(-1), { event: 'acme_dns_propagated', record: RECORD, servers: ['ns1.example.test (127.0.0.1)'] }, 'a value the authoritative server serves: done');

  const refused = await waitForTxt(RECORD, 'not-this-one', { ...options, timeoutMs: 500 }).then(
    () => undefined,
    (err: unknown) => err,
  );
  t.ok(refused instanceof AcmeError, 'a server that answers without the value until the timeout fails the challenge');
  t.match(refused, { reason: 'challenge-failed', message: /TXT _acme-challenge\.ucgw\.example\.test not served by ns1\.example\.test \(127\.0\.0\.1\) after 500 ms/ });
});

t.test('set nameservers are asked instead, and the wait ends when the record appears there', async (t) => {
  const challtest = await startChallTestSrv(t);
  t.teardown(() => postJson(`${challtest.managementUrl}/clear-txt`, { host: `${RECORD}.` }));
  const { log, lines } = capturedLog();
  const waiting = waitForTxt(RECORD, 'late-value', { nameservers: [challtest.dnsServer], intervalMs: 50, timeoutMs: 20_000, log });
  // Published only once the poller has asked and found nothing (challtestsrv keeps a history of the questions it got).
  await waitFor(
    async () => {
      const res = await fetch(`${challtest.managementUrl}/dns-request-history`, { method: 'POST', body: JSON.stringify({ host: RECORD }) });
      return ((await res.json()) as unknown[]).length >= 2;
    },
    { timeoutMs: 10_000, intervalMs: 50, message: 'the poller asked for the record' },
  );
  t.equal(lines.length, 0, 'nothing logged while the record is missing');
  t.equal(await postJson(`${challtest.managementUrl}/set-txt`, { host: `${RECORD}.`, value: 'late-value' }), 200);
  await waiting;
  t.match(lines.at(-1), { event: 'acme_dns_propagated', servers: [challtest.dnsServer] });
});

t.test('servers that never answer do not fail the challenge: the CA decides, with a warning', async (t) => {
  // A server that takes every query and never answers. Held open, not closed: a freed port could be
  // taken by a DNS server another test file starts meanwhile, which would then answer.
  const socket = createSocket('udp4');
  socket.on('message', () => {});
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  t.teardown(() => socket.close());
  const port = socket.address().port;
  const { log, lines } = capturedLog();
  await waitForTxt(RECORD, 'v', { nameservers: [`127.0.0.1:${port}`], intervalMs: 100, timeoutMs: 300, log });
  t.match(lines.at(-1), { event: 'acme_dns_propagation_unchecked', servers: [`127.0.0.1:${port}`] });
});

t.test('no zone found (the name is in no zone those servers know): asked without checking, with a warning', async (t) => {
  const dns = await startDnsmasq(t, t.testdir(), '_cisco-uds._tcp.example.test', [{ target: 'cucm-pub.example.test', port: 8443, priority: 1, weight: 1 }], {});
  const { log, lines } = capturedLog();
  await waitForTxt(RECORD, 'v', { nameservers: [], bootstrap: [`127.0.0.1:${dns.port}`], authoritativePort: dns.port, intervalMs: 100, timeoutMs: 5_000, log });
  t.match(lines.at(-1), { event: 'acme_dns_propagation_unchecked', record: RECORD, err: /no zone with NS records encloses/ });
});

t.test('timeoutMs 0 trusts the hook: nothing is asked', async (t) => {
  const { log, lines } = capturedLog();
  await waitForTxt(RECORD, 'v', { nameservers: ['192.0.2.1'], intervalMs: 100, timeoutMs: 0, log });
  t.same(lines, []);
});
