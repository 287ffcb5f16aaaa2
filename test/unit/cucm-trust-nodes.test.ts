/**
 * CUCM trust publishing per server (issue 16), against the simulated
 * platform certificate API over real HTTPS, one store per server: the leaf
 * goes to every node of the cluster and is read back from each node's
 * listings (in both shapes public clients see) before the active pointer
 * moves; a server that takes the upload but does not list it fails the
 * activation; a CUCM 12.5 server (no API: 404) makes the gate wait for an
 * administrator's confirmation — given in this process or in another one
 * sharing the store — instead of failing. Time is a FakeClock; HTTP is real.
 */
import t, { type Test } from 'tap';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { parseConfig } from '../../src/config/load.js';
import type { UcgateConfig } from '../../src/config/types.js';
import { FileStorage } from '../../src/store/file-storage.js';
import { createCa, issueLeaf } from '../../src/pki/x509.js';
import { describeCertificate } from '../../src/pki/certificate-info.js';
import { activateCertificate, loadActiveCertificate } from '../../src/certificates/certificate-store.js';
import { TrustPublisher, trustTargets } from '../../src/cucm-trust/trust-publisher.js';
import { parseTrustListing, listsLeaf } from '../../src/cucm-trust/certmgr-client.js';
import { loadLedger } from '../../src/cucm-trust/trust-ledger.js';
import { AUDIT_KEY } from '../../src/certificates/audit-log.js';
import { startCertmgrServer, type CertmgrServer } from '../../src/sim/certmgr-server.js';
import { createLogger } from '../../src/log.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { waitFor } from '../helpers/net.js';

const FQDN = 'ucgw.example.test';
const SWITCH_MS = 60_000;
const GRACE_MS = 3_600_000;
const NODES = ['pub', 'sub1', 'sub2'] as const;
const hostOf = (node: string) => `cucm-${node}.example.test`;
const log = createLogger({ level: 'silent' });

const cucmCa = await createCa({ commonName: 'test CUCM CA', keyType: 'ecdsa-p256' });
const tomcat = await issueLeaf({ issuer: cucmCa, commonName: hostOf('pub'), subjectAltNames: NODES.map(hostOf), keyType: 'ecdsa-p256' });
const gatewayCa = await createCa({ commonName: 'gateway test CA' });

interface Fixture {
  readonly dir: string;
  readonly config: UcgateConfig;
  readonly storage: FileStorage;
  readonly clock: FakeClock;
  readonly registry: Registry;
  readonly publisher: TrustPublisher;
  readonly platform: CertmgrServer;
}

/** One cluster of three nodes whose platform APIs one simulated server plays, each with its own stores. */
async function fixture(t: Test, cucmTrust: Record<string, unknown> = {}): Promise<Fixture> {
  const dir = t.testdir();
  writeFileSync(join(dir, 'cucm-ca.pem'), cucmCa.certPem);
  writeFileSync(join(dir, 'platform.cred'), 'ccmadmin:Pl4tform!\n');
  chmodSync(join(dir, 'platform.cred'), 0o600);
  const platform = await startCertmgrServer({ certPem: tomcat.certPem, keyPem: tomcat.keyPem, username: 'ccmadmin', password: 'Pl4tform!', nodes: NODES.map(hostOf) });
  t.teardown(() => platform.close());
  const config = parseConfig(
    {
      gateway: { fqdn: FQDN },
      clusters: [
        {
          name: 'cucm',
          nodes: NODES.map((node) => ({ name: node, url: `https://${hostOf(node)}:${platform.port}`, address: '127.0.0.1' })),
          tls: { caFile: 'cucm-ca.pem' },
        },
      ],
      certificates: { cucmTrust: { credentialsFile: 'platform.cred', switchDelayMs: SWITCH_MS, removeAfterMs: GRACE_MS, ...cucmTrust } },
    },
    { baseDir: dir, configFile: '' },
  );
  const storage = await new FileStorage(join(dir, 'certs')).open();
  const clock = new FakeClock(Date.now());
  const registry = new Registry();
  const publisher = new TrustPublisher({ config, storage, clock, log, actor: 'cli', registry });
  return { dir, config, storage, clock, registry, publisher, platform };
}

async function leaf(keyType: 'rsa-2048' | 'ecdsa-p256' = 'rsa-2048') {
  const issued = await issueLeaf({ issuer: gatewayCa, commonName: FQDN, subjectAltNames: [FQDN], keyType });
  return { ...issued, keyType, chainPem: '', source: 'self-signed' as const, info: describeCertificate(issued.certPem) };
}
type Leaf = Awaited<ReturnType<typeof leaf>>;

/** Starts an activation gated by `publisher`; resolves once it sits on a timer (the switch delay or a confirmation poll). */
async function activateUntilWaiting(f: Fixture, issued: Leaf, publisher = f.publisher) {
  const pendingBefore = f.clock.pending;
  const done = activateCertificate(f.storage, issued, { gate: publisher });
  let failed: unknown;
  done.catch((err: unknown) => (failed = err));
  await waitFor(() => failed !== undefined || f.clock.pending > pendingBefore, { timeoutMs: 15_000, message: 'the gate waiting on a timer' });
  if (failed) throw failed;
  return { done };
}

const active = async (f: Fixture, keyType: 'rsa-2048' | 'ecdsa-p256' = 'rsa-2048') => (await loadActiveCertificate(f.storage, keyType))?.info.fingerprintSha256;
const auditLines = async (f: Fixture) =>
  (await f.storage.load(AUDIT_KEY).catch(() => Buffer.from(''))).toString('utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, string>);
const metric = async (f: Fixture, name: string) => (await f.registry.getSingleMetric(name)!.get()).values;

t.test('trust-store listings: both shapes public clients see, and the odd ones', async (t) => {
  const pem = tomcat.certPem;
  const fingerprint = describeCertificate(pem).fingerprintSha256;
  const serial = describeCertificate(pem).serialNumber;
  const item = { serialNumber: serial, certificate: pem, description: 'x' };
  t.same(parseTrustListing([item]), [{ serial: serial.replace(/^0+/, ''), fingerprint }], 'an array of certificate objects');
  t.same(parseTrustListing({ certificates: [item] }), parseTrustListing([item]), 'an object holding an array');
  t.same(parseTrustListing({ certificate: item }), parseTrustListing([item]), 'an object holding one certificate object');
  t.same(parseTrustListing(item), parseTrustListing([item]), 'a certificate object on its own');
  t.same(parseTrustListing([{ certificateData: pem }]), [{ fingerprint }], 'certificateData instead of certificate');
  t.same(parseTrustListing([{ serialNumber: `00:${serial.toUpperCase()}` }]), [{ serial: serial.replace(/^0+/, '') }], 'a serial alone, any case and separators');
  t.same(parseTrustListing({ message: 'no certificates' }), []);
  t.same(parseTrustListing('nonsense'), []);
  t.same(parseTrustListing([{ certificate: '-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----' }]), [], 'an unparsable PEM without serial names nothing');
  t.ok(listsLeaf(parseTrustListing([item]), { fingerprint, serial }));
  t.ok(listsLeaf([{ serial: serial.replace(/^0+/, '') }], { fingerprint: 'other', serial }), 'by serial where no PEM is given');
  t.notOk(listsLeaf([{ serial: serial.replace(/^0+/, ''), fingerprint: 'AA:BB' }], { fingerprint, serial }), 'a PEM that is another certificate with the same serial does not count');
});

t.test('targets: every node of the cluster by default, the publisher url, explicit nodes', async (t) => {
  const f = await fixture(t);
  t.same(
    trustTargets(f.config, f.config.certificates.cucmTrust!).map((x) => [x.node, x.url, x.address]),
    NODES.map((node) => [node, `https://${hostOf(node)}:${f.platform.port}`, '127.0.0.1']),
  );
  const withUrl = await fixture(t, { clusters: [{ cluster: 'cucm', url: `https://${hostOf('pub')}:8443` }] });
  t.same(
    trustTargets(withUrl.config, withUrl.config.certificates.cucmTrust!).map((x) => [x.node, x.url]),
    [['pub', `https://${hostOf('pub')}:8443`], ['sub1', `https://${hostOf('sub1')}:${withUrl.platform.port}`], ['sub2', `https://${hostOf('sub2')}:${withUrl.platform.port}`]],
    'url replaces the node of its host',
  );
  const outside = await fixture(t, { clusters: [{ cluster: 'cucm', url: 'https://cucm-other.example.test' }] });
  t.same(trustTargets(outside.config, outside.config.certificates.cucmTrust!).map((x) => x.node), ['publisher', 'pub', 'sub1', 'sub2'], 'a publisher that is not a node comes first');
  const explicit = await fixture(t, { clusters: [{ cluster: 'cucm', nodes: [{ url: 'https://cucm-a.example.test' }, { name: 'b', url: 'https://cucm-b.example.test:8443', address: '10.0.0.2' }] }] });
  t.same(
    trustTargets(explicit.config, explicit.config.certificates.cucmTrust!).map((x) => [x.node, x.url, x.address]),
    [['cucm-a.example.test', 'https://cucm-a.example.test', undefined], ['b', 'https://cucm-b.example.test:8443', '10.0.0.2']],
  );
});

t.test('three nodes: the leaf is published to and listed on each before it is active', async (t) => {
  const f = await fixture(t);
  f.platform.setShape('array', hostOf('sub1'));
  const first = await leaf();
  const { done } = await activateUntilWaiting(f, first);
  for (const node of NODES) {
    t.same(f.platform.entries(undefined, hostOf(node)).map((e) => e.service).sort(), ['Phone', 'tomcat'], `${node} holds it in Phone-trust and tomcat-trust`);
    const listed = f.platform.calls.filter((c) => c.node === hostOf(node) && c.method === 'GET' && c.status === 200);
    t.same(listed.map((c) => new URL(c.url, 'https://x').searchParams.get('service')).sort(), ['Phone', 'tomcat'], `${node}: both stores read back`);
  }
  t.equal(await active(f), undefined, 'nothing active during the switch delay');
  f.clock.advance(SWITCH_MS);
  await done;
  t.equal(await active(f), first.info.fingerprintSha256);

  const [entry] = await loadLedger(f.storage);
  t.same(entry!.targets.map((x) => x.node), [...NODES]);
  t.ok(entry!.targets.every((x) => x.verifiedAt !== undefined && x.verifiedAt >= x.publishedAt), 'each verified after its upload');
  const audit = await auditLines(f);
  t.same(audit.map((l) => l.detail?.replace(/ cucm-.*/, '')), NODES.map((node) => `cucm cucm node ${node}`), 'one audit line per node');
  const published = await metric(f, 'ucgate_cucm_trust_publications_total');
  // Every result exists at 0 from the start (issue 18: alerts see the first failure); only `listed` moved.
  t.same(published.filter((v) => v.value > 0).map((v) => [v.labels.node, v.labels.result, v.value]).sort(), NODES.map((node) => [node, 'listed', 1]));
  t.same(
    published.filter((v) => v.value === 0).map((v) => `${v.labels.node}/${v.labels.result}`).sort(),
    NODES.flatMap((node) => ['confirmed', 'failed', 'no_api'].map((result) => `${node}/${result}`)).sort(),
    'the other results at 0 for every node',
  );
  const status = await f.publisher.status();
  t.same(status.leaves[0]!.nodes.map((n) => [n.node, n.state]), NODES.map((node) => [node, 'listed']));
  t.equal(status.leaves[0]!.state, 'current');

  // The replaced leaf leaves every node after its grace period.
  const second = await leaf();
  const next = await activateUntilWaiting(f, second);
  f.clock.advance(SWITCH_MS);
  await next.done;
  f.clock.advance(GRACE_MS);
  await f.publisher.removeDue(new Set([second.info.fingerprintSha256]));
  for (const node of NODES) t.same(f.platform.entries(undefined, hostOf(node)).map((e) => e.fingerprint), [second.info.fingerprintSha256, second.info.fingerprintSha256], `${node}: only the served leaf is left`);
});

t.test('one node refuses: nothing activated, the error names the node, the others are cleaned up', async (t) => {
  const f = await fixture(t);
  f.platform.failWith({ status: 500, body: 'Certificate Management is busy' }, hostOf('sub2'));
  const first = await leaf();
  await t.rejects(activateCertificate(f.storage, first, { gate: f.publisher }), /not served: publishing it to CUCM failed: cluster cucm node sub2 \(cucm-sub2\.example\.test:\d+\): POST .* HTTP 500/);
  t.equal(await active(f), undefined);
  const status = await f.publisher.status();
  t.match(status.nodes.find((n) => n.node === 'sub2')!.lastError?.message, /HTTP 500/);
  t.equal(status.nodes.find((n) => n.node === 'pub')!.lastError, null);
  const listed = await metric(f, 'ucgate_cucm_trust_node_listed');
  t.same(listed.map((v) => [v.labels.node, v.value]).sort(), [['pub', 1], ['sub1', 1], ['sub2', 0]]);
  await f.publisher.removeDue(new Set());
  t.same(f.platform.entries(), [], 'taken back from pub and sub1');
});

t.test('a node that takes the upload but does not list the leaf fails the activation', async (t) => {
  const f = await fixture(t, {});
  // A platform API that says yes and lists nothing.
  const liar = https.createServer({ cert: tomcat.certPem, key: tomcat.keyPem }, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(req.method === 'GET' ? '[]' : '{"message":"Successfully uploaded"}');
    });
  });
  await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => liar.close(() => resolve())));
  const port = (liar.address() as AddressInfo).port;
  const config = parseConfig(
    {
      gateway: { fqdn: FQDN },
      clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: `https://${hostOf('pub')}:${port}`, address: '127.0.0.1' }], tls: { caFile: 'cucm-ca.pem' } }],
      certificates: { cucmTrust: { credentialsFile: 'platform.cred', switchDelayMs: SWITCH_MS } },
    },
    { baseDir: f.dir, configFile: '' },
  );
  const publisher = new TrustPublisher({ config, storage: f.storage, clock: f.clock, log, actor: 'cli' });
  await t.rejects(activateCertificate(f.storage, await leaf(), { gate: publisher }), /node pub .*took the leaf but its Phone-trust listing does not show it/);
  t.equal(await active(f), undefined);
});

t.test('CUCM 12.5 (no API, 404): the gate waits for confirm-trust, then the switch delay, then serves', async (t) => {
  const f = await fixture(t);
  f.platform.noApi(true);
  const first = await leaf();
  const { done } = await activateUntilWaiting(f, first);
  let finished = false;
  void done.then(() => (finished = true), () => (finished = true));

  const [pending] = await f.publisher.pending();
  t.equal(pending!.serial, first.info.serialNumber);
  t.same(pending!.awaiting.map((a) => a.node), [...NODES]);
  t.match(pending!.leafPem, /BEGIN CERTIFICATE/, 'the PEM an administrator uploads');
  t.same((await metric(f, 'ucgate_cucm_trust_awaiting_confirmation')).map((v) => v.value), [1, 1, 1]);
  t.equal((await f.publisher.status()).leaves[0]!.state, 'awaiting-confirmation');

  // Polling does not give up, and does not serve anything.
  for (let i = 0; i < 5; i++) {
    f.clock.advance(2_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.notOk(finished, 'still waiting');
  t.equal(await active(f), undefined);

  // The administrator uploads on two nodes and confirms those only: still waiting for the third.
  for (const node of ['pub', 'sub1']) f.platform.addByHand(first.certPem, ['Phone', 'tomcat'], hostOf(node));
  const partly = await f.publisher.confirm({ node: 'pub', actor: 'cli' });
  t.same(partly, [{ keyType: 'rsa-2048', serial: first.info.serialNumber, fingerprint: first.info.fingerprintSha256, confirmed: ['cucm/pub'], stillAwaiting: ['cucm/sub1', 'cucm/sub2'] }]);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.notOk(finished, 'two nodes still wait');

  // Another process sharing the store confirms the rest; the waiting gate notices on its next poll.
  const other = new TrustPublisher({ config: f.config, storage: f.storage, clock: f.clock, log, actor: 'api' });
  const pendingTimers = f.clock.pending;
  const rest = await other.confirm({ actor: 'api' });
  t.same(rest[0]!.confirmed, ['cucm/sub1', 'cucm/sub2']);
  f.clock.advance(2_000);
  await waitFor(() => f.clock.pending >= pendingTimers, { timeoutMs: 5_000, message: 'the switch-delay timer' });
  t.equal(await active(f), undefined, 'the switch delay still applies after the confirmation');
  f.clock.advance(SWITCH_MS);
  await done;
  t.equal(await active(f), first.info.fingerprintSha256, 'served once every node is confirmed and the delay is over');

  const [entry] = await loadLedger(f.storage);
  t.same(entry!.targets.map((x) => [x.node, x.manual, x.confirmedBy]), [['pub', true, 'cli'], ['sub1', true, 'api'], ['sub2', true, 'api']]);
  t.notOk(entry!.awaiting, 'nothing waits any more');
  const audit = await auditLines(f);
  t.same(audit.map((l) => [l.action, l.actor]), [['published', 'cli'], ['published', 'api'], ['published', 'api']]);
  t.match(audit[0]!.detail, /uploaded by hand, confirmed/);
  t.same(f.platform.calls.filter((c) => c.method !== 'POST'), [], 'no listing asked of a server without the API');

  // Its replacement later: the old leaf is to be removed by hand, and says so.
  f.platform.noApi(false);
  const second = await leaf();
  const next = await activateUntilWaiting(f, second);
  f.clock.advance(SWITCH_MS);
  await next.done;
  f.clock.advance(GRACE_MS);
  await f.publisher.removeDue(new Set([second.info.fingerprintSha256]));
  const old = (await loadLedger(f.storage)).find((l) => l.fingerprint === first.info.fingerprintSha256)!;
  t.ok(old.removedAt, 'done, as far as ucgate can');
  t.same(old.removeByHand, ['cucm/pub', 'cucm/sub1', 'cucm/sub2']);
  t.notOk(f.platform.calls.some((c) => c.method === 'DELETE'), 'no DELETE sent for a leaf uploaded by hand');
});

t.test('confirm-trust: nothing waiting, several waiting, a newer leaf withdraws an older one', async (t) => {
  const f = await fixture(t, {});
  await t.rejects(f.publisher.confirm({ actor: 'cli' }), { message: /no leaf waits for confirmation/, exitCode: 2 });
  f.platform.noApi(true, hostOf('sub2'));

  const older = await leaf();
  const first = await activateUntilWaiting(f, older);
  first.done.catch(() => undefined);
  t.same((await f.publisher.pending()).map((p) => p.awaiting.map((a) => a.node)), [['sub2']], 'only the node without the API waits');
  t.equal(f.platform.entries(undefined, hostOf('pub')).length, 2, 'the others took it through the API');

  // A newer leaf of the same key type (a renewal retried after a restart) withdraws the older one.
  const newer = await leaf();
  const publisher2 = new TrustPublisher({ config: f.config, storage: f.storage, clock: f.clock, log, actor: 'cli' });
  const second = await activateUntilWaiting(f, newer, publisher2);
  second.done.catch(() => undefined);
  f.clock.advance(2_000);
  await t.rejects(first.done, /withdrawn while waiting/);
  t.same((await f.publisher.pending()).map((p) => p.serial), [newer.info.serialNumber]);

  // A second key type waiting too: the administrator has to say which.
  const ecdsa = await leaf('ecdsa-p256');
  const third = await activateUntilWaiting(f, ecdsa);
  third.done.catch(() => undefined);
  await t.rejects(f.publisher.confirm({ actor: 'cli' }), { message: /2 leaves wait for confirmation .*: name one with --serial, or confirm them all with --all/, exitCode: 2 });
  await t.rejects(f.publisher.confirm({ serial: 'abc', actor: 'cli' }), { message: /no leaf with serial abc waits/, exitCode: 2 });
  await t.rejects(f.publisher.confirm({ serial: ecdsa.info.serialNumber, node: 'pub', actor: 'cli' }), { message: /no server of node pub waits/, exitCode: 2 });
  const both = await f.publisher.confirm({ all: true, actor: 'cli' });
  t.same(both.map((b) => b.keyType).sort(), ['ecdsa-p256', 'rsa-2048']);
  f.clock.advance(2_000);
  await waitFor(() => f.clock.pending >= 2, { timeoutMs: 5_000, message: 'both switch timers' });
  f.clock.advance(SWITCH_MS);
  await Promise.all([second.done, third.done]);
  t.equal(await active(f), newer.info.fingerprintSha256);
  t.equal(await active(f, 'ecdsa-p256'), ecdsa.info.fingerprintSha256);
  // The withdrawn one is taken back from the nodes that had it through the API.
  await f.publisher.removeDue(new Set([newer.info.fingerprintSha256, ecdsa.info.fingerprintSha256]));
  t.notOk(f.platform.entries().some((e) => e.fingerprint === older.info.fingerprintSha256), 'the withdrawn leaf is gone from pub and sub1');
});

t.test('stop(): an activation waiting for confirmation ends, nothing activated', async (t) => {
  const f = await fixture(t);
  f.platform.noApi(true);
  const { done } = await activateUntilWaiting(f, await leaf());
  f.publisher.stop();
  await t.rejects(done, /stopped while waiting for `ucgate cert confirm-trust`/);
  t.equal(await active(f), undefined);
});

