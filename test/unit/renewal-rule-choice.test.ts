/**
 * Where the former rules disagreed, the loop's rule now wins (issue 19),
 * shown through the real CertificateManager on a fake clock with short-lived
 * certificates (6 days, as some CAs now issue) and renewBeforeDays 30:
 * - start-up used "less than renewBeforeDays left": a 6-day certificate was
 *   "due" at every start and reissued each time; now due at half its life;
 * - the expiry warnings used "marks below renewBeforeDays": a new 6-day
 *   certificate warned "automatic renewal has not succeeded" from birth;
 * - the dashboard used "7 days left is red": a 6-day certificate was red all
 *   its life.
 */
import t from 'tap';
import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/load.js';
import { FileStorage } from '../../src/store/file-storage.js';
import { CertificateManager } from '../../src/certificates/certificate-manager.js';
import type { Issuer } from '../../src/issuers/issuer.js';
import { createLogger } from '../../src/log.js';
import { createCa, issueLeaf } from '../../src/pki/x509.js';
import { certificateAlarm } from '../../src/certificates/renewal-policy.js';
import { FakeClock } from '../helpers/fake-clock.js';

const DAY = 86_400_000;
const FQDN = 'ucgw.example.test';
const LIFETIME = 6 * DAY;

t.test('a 6-day certificate under renewBeforeDays 30: one rule from start-up to the dashboard', async (t) => {
  const dir = t.testdir();
  const config = parseConfig(
    {
      gateway: { fqdn: FQDN },
      certificates: { dir, keyTypes: ['ecdsa-p256'], renewBeforeDays: 30 },
      clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://cucm-pub.example.test:8443' }] }],
    },
    { baseDir: dir, configFile: '' },
  );
  const ca = await createCa({ commonName: 'Short-lived CA', keyType: 'ecdsa-p256' });
  const clock = new FakeClock(Date.now());
  let issued = 0;
  // A short-lived CA, dated by the same clock; `self-signed` so the configured (default) issuer renews it.
  const issuer: Issuer = {
    type: 'self-signed',
    issue: async (request) => {
      issued++;
      const leaf = await issueLeaf({ issuer: ca, commonName: FQDN, subjectAltNames: request.subjectAltNames, keyType: 'ecdsa-p256', notBefore: new Date(clock.now()), notAfter: new Date(clock.now() + LIFETIME) });
      return { certPem: leaf.certPem, chainPem: '', keyPem: leaf.keyPem, keyType: 'ecdsa-p256', source: 'self-signed' };
    },
    trustAnchorPem: async () => ca.certPem,
  };
  const log = createLogger({ destination: new Writable({ write: (_c, _e, done) => done() }) });
  const start = async () => {
    const manager = new CertificateManager({ config, storage: await new FileStorage(dir).open(), issuer, clock, log });
    return { manager, served: (await manager.ensure())[0]! };
  };

  const first = await start();
  t.equal(issued, 1, 'issued on the first start');
  clock.advance(DAY);
  const second = await start();
  t.equal(second.served.info.serialNumber, first.served.info.serialNumber, 'a restart a day later serves it (the old start-up rule reissued at every start)');
  t.equal(issued, 1);
  t.same(second.manager.expiryWarnings(), [], 'no "automatic renewal has not succeeded" for a certificate not yet due');
  t.equal(certificateAlarm(second.served, 'self-signed', 30, clock.now()), 'ok', 'not red on the dashboard with 5 days left of 6');

  clock.advance(2 * DAY + 1);
  const third = await start();
  t.not(third.served.info.serialNumber, first.served.info.serialNumber, 'past half its life (3 days left): due, reissued at start');
  t.equal(issued, 2);
});
