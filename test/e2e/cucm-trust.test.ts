/**
 * certificates.cucmTrust end to end (issue 5): a real gateway process, a
 * simulated CUCM platform certificate API that records what it received and
 * when, and a client that keeps opening TLS connections to see which leaf is
 * served at every moment. Shown: CUCM receives every new leaf (first start,
 * renewal from the admin API, rollback from the CLI) before the gateway
 * serves it, and the switch waits `switchDelayMs`; the replaced leaf leaves
 * CUCM after `removeAfterMs`; a refusing CUCM keeps the old leaf served.
 */
import t from 'tap';
import tls from 'node:tls';
import { writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCucmCluster } from '../../src/sim/cucm-cluster.js';
import { startCertmgrServer, type CertmgrServer } from '../../src/sim/certmgr-server.js';
import { issueLeaf } from '../../src/pki/x509.js';
import { waitFor } from '../helpers/net.js';
import { startGatewayProcess, clusterConfig, runCli, TEST_ROUTES, FQDN, TEST_ADMIN_TOKEN } from '../helpers/gateway.js';

const SWITCH_MS = 2_500;
const GRACE_MS = 3_000;
const TOKEN = TEST_ADMIN_TOKEN;

t.setTimeout(240_000);

interface Sighting {
  /** When the handshake began and ended. */
  readonly at: number;
  readonly doneAt: number;
  readonly fingerprint: string;
}

t.test('the leaf reaches CUCM before it is served, the switch waits, the old leaf leaves after its grace period', async (t) => {
  const dir = t.testdir();
  const cucm = await startCucmCluster({ nodes: 1 });
  t.teardown(() => cucm.close());
  const tomcat = await issueLeaf({ issuer: cucm.ca, commonName: 'cucm-pub.example.test', subjectAltNames: ['cucm-pub.example.test', '127.0.0.1'] });
  const platform: CertmgrServer = await startCertmgrServer({ certPem: tomcat.certPem, keyPem: tomcat.keyPem, username: 'ccmadmin', password: 'Pl4tform!' });
  t.teardown(() => platform.close());
  writeFileSync(join(dir, 'cucm-ca.pem'), cucm.caPem);
  writeFileSync(join(dir, 'platform.cred'), 'ccmadmin:Pl4tform!\n');
  chmodSync(join(dir, 'platform.cred'), 0o600);
  writeFileSync(join(dir, 'admin.token'), TOKEN + '\n');
  chmodSync(join(dir, 'admin.token'), 0o600);
  const config = {
    gateway: { fqdn: FQDN },
    listen: { https: [{ host: '127.0.0.1', port: 0 }], admin: { host: '127.0.0.1', port: 0, tls: false, tokenFile: 'admin.token' } },
    certificates: {
      issuer: { type: 'self-signed' },
      cucmTrust: {
        credentialsFile: 'platform.cred',
        switchDelayMs: SWITCH_MS,
        removeAfterMs: GRACE_MS,
        clusters: [{ cluster: 'cucm', url: `https://cucm-pub.example.test:${platform.port}`, address: '127.0.0.1' }],
      },
    },
    clusters: [clusterConfig(cucm, join(dir, 'cucm-ca.pem'))],
    routes: TEST_ROUTES,
  };
  const gw = await startGatewayProcess(t, dir, config);
  const readyAt = Date.now();
  const adminPort = (gw.logs.find((l) => l.event === 'gateway_ready') as { admin: { port: number } }).admin.port;

  // What a fresh connection is served, every few tens of milliseconds, until the test ends.
  const sightings: Sighting[] = [];
  let watching = true;
  const handshake = () =>
    new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: gw.port, servername: FQDN, rejectUnauthorized: false }, () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.destroy();
      });
      socket.setTimeout(5_000, () => socket.destroy(new Error('handshake timed out')));
      socket.on('error', reject);
    });
  const watcher = (async () => {
    while (watching) {
      const at = Date.now();
      const fingerprint = await handshake();
      sightings.push({ at, doneAt: Date.now(), fingerprint });
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  t.teardown(async () => {
    watching = false;
    await watcher.catch(() => undefined);
  });
  // A handshake straddling a switch may see either leaf: judge a new leaf by when its handshake
  // ended, an old one by when it began.
  const firstSeen = (fingerprint: string) => sightings.find((s) => s.fingerprint === fingerprint)?.doneAt;
  const renew = async () => {
    const res = await fetch(`http://127.0.0.1:${adminPort}/api/v1/certificates/renew`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    return (await res.json()) as { results: { ok: boolean; serial?: string; error?: string }[] };
  };

  const first = await waitFor(() => sightings[0], { timeoutMs: 10_000, message: 'a first handshake' });
  await t.test('first start: the self-signed leaf went to Phone-trust and tomcat-trust a switch delay before the listeners opened', async (t) => {
    const got = platform.received.filter((e) => e.fingerprint === first.fingerprint);
    t.same(got.map((e) => e.service).sort(), ['Phone', 'tomcat']);
    t.ok(got[0]!.receivedAt + SWITCH_MS <= readyAt, `received ${readyAt - got[0]!.receivedAt} ms before the gateway was ready`);
    t.equal(platform.calls[0]!.user, 'ccmadmin');
  });

  let renewed = '';
  await t.test('renewal from the admin API: received, then served only after the delay, the old leaf served meanwhile', async (t) => {
    const before = platform.received.length;
    const answer = await renew();
    t.ok(answer.results.every((r) => r.ok), JSON.stringify(answer.results));
    const arrived = platform.received.slice(before);
    t.equal(arrived.length, 2, 'one upload, two trust stores');
    renewed = arrived[0]!.fingerprint;
    t.not(renewed, first.fingerprint);
    const servedAt = await waitFor(() => firstSeen(renewed), { timeoutMs: 10_000, message: 'the renewed leaf served' });
    const receivedAt = arrived[0]!.receivedAt;
    t.ok(servedAt >= receivedAt + SWITCH_MS, `served ${servedAt - receivedAt} ms after CUCM received it (switch delay ${SWITCH_MS} ms)`);
    const during = sightings.filter((s) => s.at > receivedAt && s.doneAt < receivedAt + SWITCH_MS);
    t.ok(during.length > 0, `${during.length} handshakes during the delay`);
    t.ok(during.every((s) => s.fingerprint === first.fingerprint), 'every one of them got the old leaf');
  });

  await t.test('the replaced leaf is removed from CUCM after the grace period, the served one stays', async (t) => {
    await waitFor(() => !platform.entries().some((e) => e.fingerprint === first.fingerprint), { timeoutMs: GRACE_MS + 30_000, message: 'the old leaf removed from CUCM' });
    t.same(platform.entries().map((e) => e.fingerprint), [renewed, renewed]);
    const audit = await runCli(['cert', 'status', '--json', '--config', join(dir, 'ucgate.yaml')], { cwd: dir });
    const ledger = (JSON.parse(audit.stdout) as { cucmTrust: { serial: string; removedAt?: number; fingerprint: string }[] }).cucmTrust;
    t.ok(ledger.find((l) => l.fingerprint === first.fingerprint)?.removedAt, 'cert status shows it removed');
    t.notOk(ledger.find((l) => l.fingerprint === renewed)?.removedAt, 'and the served one current');
    t.notMatch(audit.stdout, /BEGIN CERTIFICATE|Pl4tform/, 'no PEM or password in the status');
  });

  await t.test('a CUCM that refuses: the renewal fails, naming the cluster, and the served leaf stays', async (t) => {
    platform.failWith({ status: 503, body: 'Certificate Management service is starting' });
    t.teardown(() => platform.failWith(undefined));
    const answer = await renew();
    t.notOk(answer.results[0]!.ok);
    t.match(answer.results[0]!.error, /publishing it to CUCM failed: cluster cucm .*HTTP 503/);
    t.equal(await handshake(), renewed, 'still serving the leaf CUCM has');
  });

  await t.test('cert rollback from the CLI publishes the removed leaf again and waits before switching', async (t) => {
    platform.failWith(undefined);
    const before = platform.received.length;
    const started = Date.now();
    const res = await runCli(['cert', 'rollback', '--config', join(dir, 'ucgate.yaml')], { cwd: dir, timeoutMs: 60_000 });
    t.equal(res.code, 0, res.stderr);
    t.match(res.stderr, /publishing the rsa-2048 leaf .* to cluster cucm .*Phone-trust, tomcat-trust/);
    t.match(res.stderr, /serving it in \d+ s/);
    t.ok(Date.now() - started >= SWITCH_MS, 'the CLI waited out the delay');
    const back = platform.received.slice(before);
    t.same(back.map((e) => e.fingerprint), [first.fingerprint, first.fingerprint], 'the old leaf is back in both trust stores');
    gw.proc.kill('SIGHUP');
    const servedAt = await waitFor(() => sightings.find((s) => s.at > started && s.fingerprint === first.fingerprint)?.doneAt, { timeoutMs: 10_000, message: 'the rolled-back leaf served' });
    t.ok(servedAt >= back[0]!.receivedAt + SWITCH_MS, 'served only after CUCM had it for the switch delay');
  });

  const audit = readFileSync(join(dir, 'certs', 'audit', 'audit.log'), 'utf8');
  const actions = audit.trim().split('\n').map((l) => (JSON.parse(l) as { action: string }).action);
  const expected = ['published', 'issued', 'published', 'renewed', 'unpublished', 'published', 'rolled-back'];
  t.same(actions.slice(0, expected.length), expected, 'the audit log: one line per action, publications included');
  // The renewed leaf, replaced by the rollback, may already have had its grace period.
  t.ok(actions.slice(expected.length).every((a) => a === 'unpublished'), `nothing else: ${actions.slice(expected.length).join(', ')}`);
  t.notMatch(audit, /BEGIN|Pl4tform|PRIVATE/, 'nothing secret in the audit log');
});
