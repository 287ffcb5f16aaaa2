/**
 * Issue 18: which issuer may replace the certificate being served. An
 * imported certificate is kept unless the operator names exactly the
 * configured issuer; the loop's `renewNow` reports `kept` without ordering;
 * an imported certificate is unmanaged whatever the issuer.
 */
import t from 'tap';
import { FakeClock } from '../helpers/fake-clock.js';
import { createLogger } from '../../src/log.js';
import { RenewalMaintenance } from '../../src/lifecycle/maintenance.js';
import { keepReason, isUnmanaged, renewedBy, sourceMismatch } from '../../src/certificates/certificate-source.js';
import type { StoredCertificate } from '../../src/certificates/certificate-store.js';
import type { CertificateSource } from '../../src/issuers/issuer.js';

const T0 = Date.UTC(2030, 0, 1);
const DAY = 86_400_000;

function cert(source: CertificateSource, notAfter = T0 + 90 * DAY): StoredCertificate {
  return {
    keyType: 'rsa-2048',
    certPem: 'fake',
    keyPem: '',
    source,
    info: {
      subject: 'CN=ucgw.example.test',
      commonName: 'ucgw.example.test',
      subjectAltNames: ['ucgw.example.test'],
      issuer: 'CN=Enterprise Issuing CA',
      serialNumber: '1000',
      keyType: 'rsa-2048',
      notBefore: new Date(T0 - DAY).toISOString(),
      notAfter: new Date(notAfter).toISOString(),
      fingerprintSha256: 'AA',
    },
  };
}

t.test('keepReason: an import stays unless exactly the configured issuer is asked for', async (t) => {
  t.match(keepReason(cert('manual'), 'self-signed'), /--force --issuer self-signed/);
  t.match(keepReason(cert('manual'), 'acme'), /replaceSource":"acme"/);
  t.match(keepReason(cert('manual', T0 - DAY), 'self-signed'), /kept/, 'even once expired: only a person decides');
  t.match(keepReason(cert('manual'), 'self-signed', 'acme'), /kept/, 'naming another issuer does not count');
  t.equal(keepReason(cert('manual'), 'self-signed', 'self-signed'), undefined);
  t.equal(keepReason(cert('manual'), 'manual'), undefined, 'issuer manual never orders anyway');
  t.equal(keepReason(cert('self-signed'), 'acme'), undefined, 'what ucgate issued itself is not protected');
  t.equal(keepReason(undefined, 'acme'), undefined);
});

t.test('unmanaged: nothing renews an import, whatever the issuer', async (t) => {
  for (const issuer of ['self-signed', 'acme', 'manual'] as const) {
    t.ok(isUnmanaged(cert('manual'), issuer), `manual under ${issuer}`);
    t.match(renewedBy(cert('manual'), issuer), /^nothing/);
  }
  t.notOk(isUnmanaged(cert('acme'), 'acme'));
  t.notOk(isUnmanaged(cert('self-signed'), 'acme'), 'the acme issuer replaces a self-signed certificate at once');
  t.ok(isUnmanaged(cert('acme'), 'self-signed'));
  t.match(sourceMismatch(cert('manual'), 'self-signed'), /nothing renews it/);
  t.equal(sourceMismatch(cert('acme'), 'acme'), undefined);
});

t.test('renewNow: kept without ordering, and replaced when asked exactly', async (t) => {
  const clock = new FakeClock(T0);
  let served = cert('manual');
  const renewed: (string | undefined)[] = [];
  const loop = new RenewalMaintenance({
    keyTypes: ['rsa-2048'],
    clock,
    log: createLogger({ level: 'silent' }),
    renewBeforeDays: 30,
    served: () => served,
    replaceNow: () => undefined,
    renewable: (c) => c.source === 'self-signed',
    keep: (_keyType, c, replaceSource) => keepReason(c, 'self-signed', replaceSource),
    renew: async (_keyType, _trigger, _force, replaceSource) => {
      renewed.push(replaceSource);
      served = cert('self-signed', T0 + 365 * DAY);
      return { outcome: 'renewed', certificate: served };
    },
  });
  const kept = await loop.renewNow({ force: true });
  t.match(kept, [{ outcome: 'kept', ok: true, detail: /imported/ }]);
  t.same(renewed, [], 'nothing ordered');
  t.equal(served.source, 'manual');
  const replaced = await loop.renewNow({ force: true, replaceSource: 'self-signed' });
  t.match(replaced, [{ outcome: 'renewed' }]);
  t.same(renewed, ['self-signed']);
  await loop.tick();
  t.equal(loop.status()[0]?.dueBy, 'lifetime');
  loop.stop();
});
