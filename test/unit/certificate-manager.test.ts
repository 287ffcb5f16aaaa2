import t from 'tap';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { parseConfig } from '../../src/config/load.js';
import type { UcgateConfig } from '../../src/config/types.js';
import { FileStorage } from '../../src/store/file-storage.js';
import { SelfSignedIssuer } from '../../src/issuers/self-signed-issuer.js';
import type { Issuer } from '../../src/issuers/issuer.js';
import { CertificateManager, requiredNames } from '../../src/certificates/certificate-manager.js';
import { loadPreviousSerial } from '../../src/certificates/certificate-store.js';
import { readAudit } from '../../src/certificates/audit-log.js';
import { createLogger } from '../../src/log.js';
import { createCa } from '../../src/pki/x509.js';
import { ErrorCodes } from '../../src/errors.js';
import { FakeClock } from '../helpers/fake-clock.js';

const DAY_MS = 86_400_000;
const FQDN = 'ucgw.example.test';

type LogLine = Record<string, unknown> & { event?: string };

function config(baseDir: string, gateway: Record<string, unknown> = {}, certificates: Record<string, unknown> = {}): UcgateConfig {
  return parseConfig(
    {
      gateway: { fqdn: FQDN, ...gateway },
      // ECDSA leaves keep the test fast; the local CA itself is always RSA.
      certificates: { dir: 'store', keyTypes: ['ecdsa-p256'], ...certificates },
      clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://cucm-pub.example.test:8443' }] }],
    },
    { baseDir, configFile: '' },
  );
}

interface Setup {
  readonly manager: CertificateManager;
  readonly storage: FileStorage;
  readonly logs: LogLine[];
  readonly clock: FakeClock;
}

// RSA key generation is the slow part: one local CA, seeded into the stores of the tests
// that are not about making it (SelfSignedIssuer finds it there, as after a restart).
let sharedCa: { certPem: string; keyPem: string } | undefined;

async function setup(cfg: UcgateConfig, options: { now?: number; issuer?: (storage: FileStorage) => Issuer; seedCa?: boolean } = {}): Promise<Setup> {
  // A new FileStorage each time: as a restarted gateway would open the same folder.
  const storage = await new FileStorage(cfg.certificates.dir).open();
  if (options.seedCa !== false && !(await storage.exists('ca/self-signed/ca.pem'))) {
    sharedCa ??= await createCa({ commonName: `${FQDN} ucgate local CA`, keyType: 'rsa-2048' });
    await storage.store('ca/self-signed/ca-key.pem', sharedCa.keyPem, { secret: true });
    await storage.store('ca/self-signed/ca.pem', sharedCa.certPem);
  }
  const logs: LogLine[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) } });
  const clock = new FakeClock(options.now ?? Date.now());
  const issuer = options.issuer?.(storage) ?? new SelfSignedIssuer(storage, cfg.gateway.fqdn, clock);
  return { manager: new CertificateManager({ config: cfg, storage, issuer, clock, log }), storage, logs, clock };
}

const events = (logs: readonly LogLine[]) => logs.map((line) => line.event).filter(Boolean);

/** An issuer that always fails, as an unreachable ACME CA would. */
const failingIssuer = (): Issuer => ({
  type: 'self-signed',
  issue: async () => {
    throw new Error('CA unreachable');
  },
  trustAnchorPem: async () => undefined,
});

t.test('requiredNames: the FQDN first, then altNames, lower-cased and unique', async (t) => {
  const cfg = config(t.testdir(), { fqdn: 'UCGW.Example.Test', altNames: ['jabber.example.test', 'ucgw.example.test', '192.0.2.10'] });
  t.strictSame(requiredNames(cfg), ['ucgw.example.test', 'jabber.example.test', '192.0.2.10']);
});

t.test('first ensure() issues; a second manager on the same folder reuses it', async (t) => {
  const cfg = config(t.testdir(), { altNames: ['192.0.2.10'] });
  const first = await setup(cfg, { seedCa: false });
  t.equal(await first.manager.issuer.trustAnchorPem(), undefined, 'no local CA yet');
  const changes: unknown[] = [];
  first.manager.on('change', (served) => changes.push(served));
  const [issued] = await first.manager.ensure();
  t.ok(issued);
  t.strictSame(events(first.logs), ['cert_obtaining', 'cert_obtained']);
  t.equal(issued!.source, 'self-signed');
  t.equal(issued!.keyType, 'ecdsa-p256');
  t.strictSame(issued!.info.subjectAltNames, [FQDN, '192.0.2.10']);
  t.equal(first.manager.served.length, 1);
  t.equal(changes.length, 1, "'change' emitted with what is served");
  t.equal(first.manager.unusableReason(issued!), undefined);
  // The leaf chains to the local CA the issuer keeps in the store.
  const caPem = await first.manager.issuer.trustAnchorPem();
  t.ok(new X509Certificate(issued!.certPem).verify(new X509Certificate(caPem!).publicKey), 'signed by the local CA');
  t.match(new X509Certificate(caPem!), { ca: true, subject: `CN=${FQDN} ucgate local CA` }, 'a CA made on first use');
  t.equal(statSync(join(cfg.certificates.dir, 'ca', 'self-signed', 'ca-key.pem')).mode & 0o777, 0o600, 'its key is owner-only');
  // The other tests reuse this CA rather than generate RSA keys of their own.
  sharedCa ??= { certPem: caPem!, keyPem: (await first.storage.load('ca/self-signed/ca-key.pem')).toString() };
  const audit = await readAudit(first.storage);
  t.match(audit, [{ action: 'issued', actor: 'self-signed', serial: issued!.info.serialNumber }]);

  const second = await setup(cfg);
  const [reused] = await second.manager.ensure();
  t.equal(reused!.info.serialNumber, issued!.info.serialNumber, 'same serial after a restart');
  t.strictSame(events(second.logs), [], 'nothing obtained');
  t.equal(await second.manager.issuer.trustAnchorPem(), caPem, 'same local CA');
});

t.test('changing gateway.altNames reissues: the stored SANs no longer cover', async (t) => {
  const dir = t.testdir();
  const before = await setup(config(dir));
  const [old] = await before.manager.ensure();

  const cfg = config(dir, { altNames: ['jabber.example.test'] });
  const after = await setup(cfg);
  t.equal(after.manager.unusableReason(old!), 'does not cover jabber.example.test');
  const [renewed] = await after.manager.ensure();
  t.not(renewed!.info.serialNumber, old!.info.serialNumber);
  t.strictSame(renewed!.info.subjectAltNames, [FQDN, 'jabber.example.test']);
  t.match(after.logs.find((line) => line.event === 'cert_obtaining'), { reason: 'does not cover jabber.example.test' });
  t.equal(await loadPreviousSerial(after.storage, 'ecdsa-p256'), old!.info.serialNumber, 'the old one kept for rollback');
  t.match(await readAudit(after.storage), [{ action: 'issued' }, { action: 'renewed', oldFingerprint: old!.info.fingerprintSha256 }]);
  // SAN comparison ignores case.
  const upper = await setup(config(dir, { altNames: ['JABBER.example.test'] }));
  t.equal(upper.manager.unusableReason(renewed!), undefined);
});

t.test('a certificate inside its renewal window is reissued (the loop\'s rule, issue 19)', async (t) => {
  // Start-up used to reissue only inside renewBeforeDays (30 days); it now asks the one rule the
  // loop uses (renewal-policy.ts): a third of the lifetime left, or renewBeforeDays capped at
  // half the lifetime, whichever is earlier. For this 1-year self-signed leaf: ~121.7 days.
  const dir = t.testdir();
  const today = await setup(config(dir, {}, { renewBeforeDays: 30 }));
  const [old] = await today.manager.ensure();
  const notAfter = Date.parse(old!.info.notAfter);

  // 122 days before the end: still fine.
  const early = await setup(config(dir, {}, { renewBeforeDays: 30 }), { now: notAfter - 122 * DAY_MS });
  t.equal(early.manager.unusableReason(old!), undefined);
  t.equal((await early.manager.ensure())[0]!.info.serialNumber, old!.info.serialNumber);

  // 121 days before the end (31 under the old rule's 30 would have served it): due.
  const late = await setup(config(dir, {}, { renewBeforeDays: 30 }), { now: notAfter - 121 * DAY_MS });
  t.equal(late.manager.unusableReason(old!), 'due for renewal');
  const [renewed] = await late.manager.ensure();
  t.not(renewed!.info.serialNumber, old!.info.serialNumber, 'reissued');
  t.match(late.logs.find((line) => line.event === 'cert_obtaining'), { reason: 'due for renewal' });
  // The issuer dates the new leaf from the same clock: under a clock 244 days ahead the fresh
  // certificate must not be "due" again (every ensure() would reissue).
  t.equal(late.manager.unusableReason(renewed!), undefined, 'the new certificate is not due under the same clock');

  // Past the end it is "expired", whatever the source.
  const expired = await setup(config(dir), { now: notAfter + 1 });
  t.equal(expired.manager.unusableReason(old!), 'expired');
});

t.test('a failing issuer keeps a certificate that is still valid', async (t) => {
  const dir = t.testdir();
  const [old] = await (await setup(config(dir))).manager.ensure();
  const notAfter = Date.parse(old!.info.notAfter);

  const failing = await setup(config(dir), { now: notAfter - 10 * DAY_MS, issuer: failingIssuer });
  const [kept] = await failing.manager.ensure();
  t.equal(kept!.info.serialNumber, old!.info.serialNumber, 'still served');
  t.strictSame(events(failing.logs), ['cert_obtaining', 'cert_failed']);
  t.match(failing.logs.find((line) => line.event === 'cert_failed'), { level: 'error', err: 'CA unreachable' });
  t.match(failing.manager.expiryWarnings(), [{ threshold: 14, daysLeft: 10, source: 'self-signed' }], 'and warned about');

  t.test('but not an expired one', async (t) => {
    const gone = await setup(config(dir), { now: notAfter + DAY_MS, issuer: failingIssuer });
    await t.rejects(gone.manager.ensure(), { code: ErrorCodes.CERT_MISSING, message: /no usable ecdsa-p256 certificate: CA unreachable/ });
  });

  t.test('and with nothing stored there is nothing to serve', async (t) => {
    const empty = await setup(config(t.testdir()), { issuer: failingIssuer });
    const err = await empty.manager.ensure().catch((e: unknown) => e);
    t.match(err, { code: ErrorCodes.CERT_MISSING });
    t.match((err as Error).cause, { message: 'CA unreachable' });
  });
});

t.test('concurrent ensure() on one store issues once', async (t) => {
  const cfg = config(t.testdir());
  const a = await setup(cfg);
  const b = await setup(cfg);
  const [[x], [y]] = await Promise.all([a.manager.ensure(), b.manager.ensure()]);
  t.equal(x!.info.serialNumber, y!.info.serialNumber, 'the second found the first one after taking the lock');
  t.equal([...a.logs, ...b.logs].filter((line) => line.event === 'cert_obtained').length, 1);
});
