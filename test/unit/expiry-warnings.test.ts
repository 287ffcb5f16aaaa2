/**
 * Issuer `manual` counts down: CertificateManager.expiryWarnings marks 30,
 * 14, 7 and 1 days left (and expiry) for imported certificates; certificates
 * ucgate renews itself only warn once renewal is overdue.
 */
import t from 'tap';
import { Writable } from 'node:stream';
import { FileStorage } from '../../src/store/file-storage.js';
import { CertificateManager } from '../../src/certificates/certificate-manager.js';
import { activateCertificate } from '../../src/certificates/certificate-store.js';
import { ManualIssuer } from '../../src/issuers/manual-issuer.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { createCa, issueLeaf } from '../../src/pki/x509.js';
import type { CertificateSource } from '../../src/issuers/issuer.js';
import type { Clock } from '../../src/clock.js';

/** The `t` a test callback receives (tap's overloads make it awkward to name). */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

const DAY = 86_400_000;
const FQDN = 'ucgw.example.test';

async function managerWith(t: TapTest, source: CertificateSource, notAfter: Date) {
  const dir = t.testdir();
  const config = parseConfig(
    {
      gateway: { fqdn: FQDN },
      certificates: { dir, keyTypes: ['rsa-2048'], issuer: { type: 'manual' } },
      clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://cucm-pub.example.test:8443' }] }],
    },
    { baseDir: dir, configFile: '' },
  );
  const storage = await new FileStorage(dir).open();
  const ca = await createCa({ commonName: 'Test CA', keyType: 'ecdsa-p256' });
  const leaf = await issueLeaf({ issuer: ca, commonName: FQDN, subjectAltNames: [FQDN], keyType: 'rsa-2048', notBefore: new Date(notAfter.getTime() - 90 * DAY), notAfter });
  await activateCertificate(storage, { certPem: leaf.certPem, chainPem: '', keyPem: leaf.keyPem, keyType: 'rsa-2048', source });
  const start = notAfter.getTime() - 60 * DAY;
  const clock: Clock = { now: () => start, setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout) };
  const log = createLogger({ destination: new Writable({ write: (_c, _e, done) => done() }) });
  const manager = new CertificateManager({ config, storage, issuer: new ManualIssuer(), clock, log });
  await manager.ensure();
  return manager;
}

t.test('manual: 30, 14, 7, 1 days, then expired', async (t) => {
  const notAfter = new Date(Math.floor(Date.now() / 1000) * 1000 + 100 * DAY);
  const manager = await managerWith(t, 'manual', notAfter);
  const at = (daysLeft: number) => manager.expiryWarnings(notAfter.getTime() - daysLeft * DAY);
  const table: [number, number | undefined][] = [
    [45, undefined],
    [30.5, undefined],
    [30, 30],
    [29, 30],
    [14.01, 30],
    [14, 14],
    [8, 14],
    [7, 7],
    [2, 7],
    [1, 1],
    [0.25, 1],
    [0, 0],
    [-3, 0],
  ];
  for (const [daysLeft, threshold] of table) {
    const warnings = at(daysLeft);
    if (threshold === undefined) {
      t.same(warnings, [], `${daysLeft} days left: quiet`);
      continue;
    }
    t.equal(warnings.length, 1, `${daysLeft} days left: one warning`);
    t.equal(warnings[0]!.threshold, threshold, `${daysLeft} days left: mark ${threshold}`);
    t.equal(warnings[0]!.daysLeft, Math.floor(daysLeft), 'whole days left');
  }
  t.match(at(10)[0]!.message, /rsa-2048 certificate ucgw\.example\.test .* expires in 10 day\(s\).*ucgate cert import/);
  t.match(at(-1)[0]!.message, /expired on/);
  t.match(at(5)[0], { keyType: 'rsa-2048', source: 'manual', notAfter: notAfter.toISOString() });
});

t.test('self-renewed: quiet inside the renewal window until renewal is overdue', async (t) => {
  const notAfter = new Date(Math.floor(Date.now() / 1000) * 1000 + 100 * DAY);
  const manager = await managerWith(t, 'self-signed', notAfter);
  const at = (daysLeft: number) => manager.expiryWarnings(notAfter.getTime() - daysLeft * DAY).map((w) => w.threshold);
  t.same(at(29), [], 'renewal is due at 30 days, no warning yet');
  t.same(at(14), [14]);
  t.same(at(3), [7]);
  t.match(manager.expiryWarnings(notAfter.getTime() - 3 * DAY)[0]!.message, /automatic renewal has not succeeded/);
});
