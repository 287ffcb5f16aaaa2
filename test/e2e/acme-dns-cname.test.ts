/**
 * dns-01 through a CNAME, end to end (issue 19): dnsmasq serves example.test,
 * where `_acme-challenge.ucgw.example.test` is a CNAME to
 * `ucgw.acme-dns.test`, a name in another zone (the acme-dns pattern). The
 * dnsHook publishes the TXT record where UCGATE_ACME_TARGET says (it rewrites
 * dnsmasq's records and restarts it), the gateway waits until the record is
 * served at the end of the CNAME, and pebble, asking dnsmasq, validates and
 * issues.
 */
import t from 'tap';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { httpsRequest, waitFor } from '../helpers/net.js';
import { startGatewayProcess, clusterConfig, TEST_ROUTES, FQDN, type LogLine } from '../helpers/gateway.js';
import { startPebble, freePort, acmeGatewayConfig } from '../helpers/pebble.js';
import { startZoneServer, writeZoneHook } from '../helpers/dns-zone.js';

t.setTimeout(180_000);

const RECORD = `_acme-challenge.${FQDN}`;
const TARGET = 'ucgw.acme-dns.test';

t.test('dns-01 with _acme-challenge delegated by CNAME to another zone: issued by pebble', async (t) => {
  const cucm = await startCucmCluster({ nodes: 1 });
  t.teardown(() => cucm.close());
  const dir = t.testdir();
  const zoneDir = join(dir, 'zone');
  mkdirSync(zoneDir);
  // One dnsmasq, two zones: the CNAME in example.test, the TXT (once published) in acme-dns.test.
  // A resolver such as pebble's gets the CNAME and the TXT at its end in one answer.
  const fixed = [`cname=${RECORD},${TARGET}`, `host-record=${TARGET},127.0.0.1`];
  const port = await freePort({ udp: true });
  const dns = await startZoneServer(
    t,
    zoneDir,
    '127.0.0.1',
    port,
    ['local=/example.test/', 'local=/acme-dns.test/', 'host-record=ns1.example.test,127.0.0.1', `host-record=${FQDN},127.0.0.1`],
    fixed,
    'ns1.example.test',
  );
  const hook = writeZoneHook(zoneDir, fixed);

  const caFile = join(dir, 'cucm-ca.pem');
  writeFileSync(caFile, cucm.caPem);
  const httpsPort = await freePort();
  const pebble = await startPebble(t, dir, { httpPort: await freePort(), tlsPort: httpsPort, dnsServer: dns.server });
  const gw = await startGatewayProcess(t, dir, {
    workers: 1,
    gateway: { fqdn: FQDN },
    ...acmeGatewayConfig({
      httpsPort,
      acme: {
        directoryUrl: pebble.directoryUrl,
        caFile: pebble.tlsCaFile,
        challenge: 'dns-01',
        dnsHook: `"${process.execPath}" "${hook}"`,
        dnsPropagation: { nameservers: [dns.server], intervalMs: 100, timeoutMs: 30_000 },
      },
    }),
    clusters: [clusterConfig(cucm, caFile)],
    routes: TEST_ROUTES,
  });
  await gw.waitForLog((line: LogLine) => line.event === 'cert_renewed' && line.outcome === 'renewed', 90_000).catch((err: Error) => {
    t.comment(gw.logs.filter((line) => /cert|acme/.test(String(line.event))).map((line) => JSON.stringify(line)).join('\n'));
    throw err;
  });

  const calls = readFileSync(join(zoneDir, 'hook.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, string>);
  t.match(calls[0], { action: 'present', record: RECORD, target: TARGET }, 'the hook gets the record name as before, and where the CNAME points');
  t.ok(calls.some((call) => call.action === 'cleanup' && call.target === TARGET), 'and cleans up there');
  t.match(gw.logs.find((line) => line.event === 'acme_dns_propagated'), { record: RECORD, cname: TARGET }, 'the wait looked at the end of the CNAME');

  const root = await pebble.root();
  const res = await waitFor(
    async () => {
      const r = await httpsRequest({ host: '127.0.0.1', port: httpsPort, path: '/cucm-uds/version', ca: root, servername: FQDN });
      return r.socket.authorized ? r : undefined;
    },
    { timeoutMs: 10_000, message: 'the ACME certificate served' },
  );
  t.ok(res.socket.authorized, 'chain verifies against pebble\'s root');
  await gw.stop();
});
