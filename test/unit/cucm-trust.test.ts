/**
 * CUCM trust publishing (certificates.cucmTrust) against the simulated
 * platform certificate API over real HTTPS: a new leaf reaches every
 * cluster's trust stores before the active pointer moves, the switch waits
 * out the delay, the replaced leaf is removed after its grace period (never
 * one that is served), and a refusing publisher leaves the store as it was.
 * Time is a FakeClock; the HTTP calls are real.
 */
import t, { type Test } from 'tap';
import { writeFileSync, chmodSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { FileStorage } from '../../src/store/file-storage.js';
import { createCa, issueLeaf, type KeyAndCertificate } from '../../src/pki/x509.js';
import { describeCertificate } from '../../src/pki/certificate-info.js';
import { activateCertificate, activateVersion, loadActiveCertificate } from '../../src/certificates/certificate-store.js';
import { TrustPublisher } from '../../src/cucm-trust/trust-publisher.js';
import { loadLedger } from '../../src/cucm-trust/trust-ledger.js';
import { AUDIT_KEY } from '../../src/certificates/audit-log.js';
import { startCertmgrServer, type CertmgrServer } from '../../src/sim/certmgr-server.js';
import { createLogger } from '../../src/log.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { waitFor } from '../helpers/net.js';

const FQDN = 'ucgw.example.test';
const SWITCH_MS = 60_000;
const GRACE_MS = 3_600_000;
const log = createLogger({ level: 'silent' });

interface Fixture {
  readonly dir: string;
  readonly storage: FileStorage;
  readonly clock: FakeClock;
  readonly publisher: TrustPublisher;
  readonly servers: Record<string, CertmgrServer>;
  readonly gatewayCa: KeyAndCertificate;
}

async function fixture(t: Test, clusters = ['a']): Promise<Fixture> {
  const dir = t.testdir();
  const cucmCa = await createCa({ commonName: 'test CUCM CA', keyType: 'ecdsa-p256' });
  writeFileSync(join(dir, 'cucm-ca.pem'), cucmCa.certPem);
  writeFileSync(join(dir, 'platform.cred'), 'ccmadmin:Pl4tform!\n');
  chmodSync(join(dir, 'platform.cred'), 0o600);
  const servers: Record<string, CertmgrServer> = {};
  for (const name of clusters) {
    const tomcat = await issueLeaf({ issuer: cucmCa, commonName: `cucm-${name}-pub.example.test`, subjectAltNames: [`cucm-${name}-pub.example.test`], keyType: 'ecdsa-p256' });
    servers[name] = await startCertmgrServer({ certPem: tomcat.certPem, keyPem: tomcat.keyPem, username: 'ccmadmin', password: 'Pl4tform!' });
  }
  t.teardown(() => Promise.all(Object.values(servers).map((s) => s.close())));
  const config = parseConfig(
    {
      gateway: { fqdn: FQDN },
      clusters: clusters.map((name) => ({
        name,
        nodes: [{ name: 'pub', url: `https://cucm-${name}-pub.example.test:${servers[name]!.port}`, address: '127.0.0.1' }],
        tls: { caFile: 'cucm-ca.pem' },
      })),
      certificates: { cucmTrust: { credentialsFile: 'platform.cred', switchDelayMs: SWITCH_MS, removeAfterMs: GRACE_MS } },
    },
    { baseDir: dir, configFile: '' },
  );
  const storage = await new FileStorage(join(dir, 'certs')).open();
  const clock = new FakeClock(Date.now());
  const publisher = new TrustPublisher({ config, storage, clock, log, actor: 'cli' });
  const gatewayCa = await createCa({ commonName: 'gateway test CA' });
  return { dir, storage, clock, publisher, servers, gatewayCa };
}

async function leaf(f: Fixture) {
  const issued = await issueLeaf({ issuer: f.gatewayCa, commonName: FQDN, subjectAltNames: [FQDN] });
  return { ...issued, chainPem: '', source: 'self-signed' as const, info: describeCertificate(issued.certPem) };
}

/** Activation with the publisher as gate, stopped at its wait: resolves once the switch timer is set. */
async function activateUntilWaiting(f: Fixture, issued: Awaited<ReturnType<typeof leaf>>) {
  const pendingBefore = f.clock.pending;
  const done = activateCertificate(f.storage, issued, { gate: f.publisher });
  let failed: unknown;
  done.catch((err: unknown) => (failed = err));
  await waitFor(() => failed !== undefined || f.clock.pending > pendingBefore, { timeoutMs: 10_000, message: 'the switch-delay timer' });
  if (failed) throw failed;
  // Wrapped: an async function returning the promise itself would wait for it.
  return { done };
}

const auditLines = async (f: Fixture) =>
  (await f.storage.load(AUDIT_KEY).catch(() => Buffer.from(''))).toString('utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, string>);

t.test('published to Phone-trust and tomcat-trust before the switch, served only after the delay', async (t) => {
  const f = await fixture(t);
  const first = await leaf(f);
  const { done: activation } = await activateUntilWaiting(f, first);
  const cucm = f.servers.a!;
  t.same(cucm.entries().map((e) => [e.service, e.fingerprint]).sort(), [['Phone', first.info.fingerprintSha256], ['tomcat', first.info.fingerprintSha256]]);
  t.equal(cucm.calls[0]!.user, 'ccmadmin', 'HTTP Basic with the platform user from the credentials file');
  t.equal(await loadActiveCertificate(f.storage, 'rsa-2048'), undefined, 'nothing active while CUCM spreads the leaf');
  f.clock.advance(SWITCH_MS - 1);
  t.equal(await loadActiveCertificate(f.storage, 'rsa-2048'), undefined, 'still nothing a millisecond before the delay is over');
  f.clock.advance(1);
  const active = await activation;
  t.equal(active.info.fingerprintSha256, first.info.fingerprintSha256);
  t.equal((await loadActiveCertificate(f.storage, 'rsa-2048'))?.info.fingerprintSha256, first.info.fingerprintSha256, 'active once the delay is over');

  const audit = await auditLines(f);
  t.same(audit.map((l) => l.action), ['published']);
  t.match(audit[0]!.detail, /cucm a .*Phone-trust, tomcat-trust/);
  const raw = (await f.storage.load(AUDIT_KEY)).toString('utf8');
  t.notMatch(raw, /BEGIN|Pl4tform/, 'no PEM and no platform password in the audit log');
});

t.test('the replaced leaf leaves CUCM after its grace period; a served leaf never does', async (t) => {
  const f = await fixture(t);
  const cucm = f.servers.a!;
  const first = await leaf(f);
  const { done: one } = await activateUntilWaiting(f, first);
  f.clock.advance(SWITCH_MS);
  await one;
  const second = await leaf(f);
  const { done: two } = await activateUntilWaiting(f, second);
  t.equal(cucm.entries('Phone').length, 2, 'both leaves in Phone-trust during the switch');
  f.clock.advance(SWITCH_MS);
  await two;

  const ledger = await loadLedger(f.storage);
  const old = ledger.find((l) => l.fingerprint === first.info.fingerprintSha256)!;
  t.equal(old.removeAt, old.supersededAt! + GRACE_MS, 'the old leaf is due for removal a grace period after it was replaced');
  const served = new Set([second.info.fingerprintSha256]);
  t.equal(await f.publisher.removeDue(served), old.removeAt, 'not yet: answers when the next removal is due');
  t.equal(cucm.entries('Phone').length, 2);

  f.clock.advance(GRACE_MS);
  // Served again (a rollback happened in another process): kept, whatever the ledger says.
  await f.publisher.removeDue(new Set([first.info.fingerprintSha256, second.info.fingerprintSha256]));
  t.equal(cucm.entries('tomcat').length, 2, 'a leaf served again is not removed');
  t.equal(await f.publisher.removeDue(served), undefined, 'nothing else is due');
  t.same(cucm.entries().map((e) => e.fingerprint), [second.info.fingerprintSha256, second.info.fingerprintSha256], 'only the served leaf is left');
  t.ok(cucm.calls.some((c) => c.method === 'DELETE' && c.url.includes(`serialNumber=${first.info.serialNumber}`)));
  const after = (await loadLedger(f.storage)).find((l) => l.fingerprint === first.info.fingerprintSha256)!;
  t.ok(after.removedAt !== undefined, 'the ledger records the removal');
  t.same((await auditLines(f)).map((l) => l.action), ['published', 'published', 'unpublished']);
});

t.test('a rollback to a leaf already removed publishes it again and waits before serving it', async (t) => {
  const f = await fixture(t);
  const first = await leaf(f);
  const second = await leaf(f);
  for (const next of [first, second]) {
    const { done } = await activateUntilWaiting(f, next);
    f.clock.advance(SWITCH_MS);
    await done;
  }
  f.clock.advance(GRACE_MS);
  await f.publisher.removeDue(new Set([second.info.fingerprintSha256]));
  t.equal(f.servers.a!.entries('Phone').length, 1);

  const pending = f.clock.pending;
  const rollback = activateVersion(f.storage, 'rsa-2048', first.info.serialNumber, f.publisher);
  await waitFor(() => f.clock.pending > pending, { timeoutMs: 10_000, message: 'the switch-delay timer of the rollback' });
  t.equal(f.servers.a!.entries('Phone').length, 2, 'the old leaf is back in Phone-trust before it is served again');
  t.equal((await loadActiveCertificate(f.storage, 'rsa-2048'))?.info.serialNumber, second.info.serialNumber, 'still serving the newer one meanwhile');
  f.clock.advance(SWITCH_MS);
  await rollback;
  t.equal((await loadActiveCertificate(f.storage, 'rsa-2048'))?.info.serialNumber, first.info.serialNumber);
});

t.test('a publisher that refuses: the new leaf is not activated, the store keeps what it had, the error names cluster and reason', async (t) => {
  const f = await fixture(t, ['a', 'b']);
  const first = await leaf(f);
  const { done } = await activateUntilWaiting(f, first);
  f.clock.advance(SWITCH_MS);
  await done;
  const versions = () => readdirSync(join(f.dir, 'certs', 'certificates', 'rsa-2048', 'versions')).sort();
  const before = versions();

  f.servers.b!.failWith({ status: 503, body: 'Certificate Management service is starting' });
  const second = await leaf(f);
  await t.rejects(activateCertificate(f.storage, second, { gate: f.publisher }), /not served: publishing it to CUCM failed: cluster b node pub \(cucm-b-pub\.example\.test:\d+\): .* HTTP 503: .*service is starting/);
  t.equal((await loadActiveCertificate(f.storage, 'rsa-2048'))?.info.fingerprintSha256, first.info.fingerprintSha256, 'the old leaf stays active');
  t.same(versions(), before, 'no version folder written for the refused leaf');
  const stray = (await loadLedger(f.storage)).find((l) => l.fingerprint === second.info.fingerprintSha256)!;
  t.same(stray.targets.map((x) => x.cluster), ['a'], 'cluster a took it');
  t.ok(stray.removeAt! <= f.clock.now(), 'so it is due for removal from a at once');
  await f.publisher.removeDue(new Set([first.info.fingerprintSha256]));
  t.same(f.servers.a!.entries('Phone').map((e) => e.fingerprint), [first.info.fingerprintSha256], 'and removed from a');

  f.servers.b!.failWith({ status: 401 });
  await t.rejects(activateCertificate(f.storage, await leaf(f), { gate: f.publisher }), /cluster b .*refused the platform credentials \(HTTP 401\): check certificates\.cucmTrust\.credentialsFile/);
  t.equal((await loadActiveCertificate(f.storage, 'rsa-2048'))?.info.fingerprintSha256, first.info.fingerprintSha256);
});

t.test('credentials: a file others can read is refused before any call', async (t) => {
  const f = await fixture(t);
  chmodSync(join(f.dir, 'platform.cred'), 0o644);
  await t.rejects(activateCertificate(f.storage, await leaf(f), { gate: f.publisher }), /certificates\.cucmTrust\.credentialsFile: .* is readable by others \(mode 644\): chmod 600 it/);
  t.equal(f.servers.a!.calls.length, 0, 'CUCM never called');
  t.notOk(existsSync(join(f.dir, 'certs', 'certificates', 'rsa-2048', 'active')));
});

t.test('config: unknown cluster, SRV cluster without a url, bad store names, the delay bound', async (t) => {
  const problems = (cucmTrust: Record<string, unknown>, clusters: unknown[] = [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://cucm-pub.example.test:8443' }] }]) => {
    try {
      parseConfig({ gateway: { fqdn: FQDN }, clusters, certificates: { cucmTrust } }, { baseDir: '/nonexistent', configFile: '' });
    } catch (err) {
      if (err instanceof ConfigError) return [...err.problems];
      throw err;
    }
    return [];
  };
  const has = (found: string[], pattern: RegExp) => t.ok(found.some((p) => pattern.test(p)), `${pattern} in ${JSON.stringify(found)}`);
  has(problems({ credentialsFile: 'c', clusters: [{ cluster: 'nope' }] }), /^certificates\.cucmTrust\.clusters\[0\]\.cluster: unknown cluster "nope"/);
  has(problems({ credentialsFile: 'c' }, [{ name: 'srv1', srv: { name: '_cisco-uds._tcp.example.test', servers: ['127.0.0.1:53'] } }]), /^certificates\.cucmTrust\.clusters: cluster "srv1" finds its nodes by SRV: give its publisher's url/);
  has(problems({ credentialsFile: 'c', stores: ['phone'] }), /^certificates\.cucmTrust\.stores\[0\]: must be a CUCM trust store name/);
  has(problems({ credentialsFile: 'c', switchDelayMs: 3_600_000 }), /^certificates\.cucmTrust\.switchDelayMs: must be an integer from 0 to 540000/);
  has(problems({}), /^certificates\.cucmTrust\.credentialsFile: is required/);
  has(problems({ credentialsFile: 'c' }), /^certificates\.cucmTrust\.credentialsFile: file not found: \/nonexistent\/c/);
});
