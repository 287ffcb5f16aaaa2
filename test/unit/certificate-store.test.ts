import t, { type Test } from 'tap';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { FileStorage } from '../../src/store/file-storage.js';
import { createCa, issueLeaf } from '../../src/pki/x509.js';
import type { IssuedCertificate } from '../../src/issuers/issuer.js';
import {
  activateCertificate,
  activateVersion,
  deletePendingKey,
  loadActiveCertificate,
  loadPendingKey,
  loadPreviousSerial,
  loadTrustAnchor,
  loadVersion,
  storePendingKey,
} from '../../src/certificates/certificate-store.js';
import { describeCertificate } from '../../src/pki/certificate-info.js';

const oldUmask = process.umask(0o022);
t.teardown(() => process.umask(oldUmask));

const FQDN = 'ucgw.example.test';
// ECDSA keeps key generation fast; the store does not care about the key type's algorithm.
const root = await createCa({ commonName: 'store test root', keyType: 'ecdsa-p256' });
// A second certificate to play the chain: the store only concatenates it.
const intermediate = await createCa({ commonName: 'store test intermediate', keyType: 'ecdsa-p256' });

async function issued(options: { chain?: boolean; source?: IssuedCertificate['source'] } = {}): Promise<IssuedCertificate> {
  const leaf = await issueLeaf({ issuer: root, commonName: FQDN, subjectAltNames: [FQDN], keyType: 'ecdsa-p256' });
  return {
    certPem: leaf.certPem,
    chainPem: options.chain ? intermediate.certPem : '',
    keyPem: leaf.keyPem,
    keyType: 'ecdsa-p256',
    source: options.source ?? 'self-signed',
  };
}

async function openStore(t: Test): Promise<{ store: FileStorage; dir: string }> {
  const dir = join(t.testdir(), 'store');
  return { store: await new FileStorage(dir).open(), dir };
}

const mode = (path: string) => statSync(path).mode & 0o777;

t.test('nothing stored: no active certificate, no previous, no trust anchor', async (t) => {
  const { store } = await openStore(t);
  t.equal(await loadActiveCertificate(store, 'ecdsa-p256'), undefined);
  t.equal(await loadPreviousSerial(store, 'ecdsa-p256'), undefined);
  t.equal(await loadTrustAnchor(store, 'ecdsa-p256'), undefined);
  t.equal(await loadVersion(store, 'ecdsa-p256', 'abc'), undefined);
});

t.test('activate, then loadActive returns it', async (t) => {
  const { store, dir } = await openStore(t);
  const first = await issued({ chain: true, source: 'acme' });
  const active = await activateCertificate(store, first);
  const serial = describeCertificate(first.certPem).serialNumber;
  t.equal(active.info.serialNumber, serial);
  t.equal(active.certPem, first.certPem.trimEnd() + '\n' + intermediate.certPem.trimEnd() + '\n', 'leaf then chain');
  const loaded = await loadActiveCertificate(store, 'ecdsa-p256');
  t.strictSame(loaded, active, 'what was activated is what loads');
  t.equal(loaded?.source, 'acme');
  t.match(loaded?.info, { commonName: FQDN, subjectAltNames: [FQDN], keyType: 'ecdsa-p256' });

  const version = join(dir, 'certificates', 'ecdsa-p256', 'versions', serial);
  t.equal(mode(join(version, 'private-key.pem')), 0o600, 'the private key is owner-only');
  t.equal(mode(join(version, 'certificate.pem')), 0o644);
  t.equal(mode(join(version, 'meta.json')), 0o644);
  t.equal(await loadActiveCertificate(store, 'rsa-2048'), undefined, 'key types are separate');
});

t.test('a second activation keeps the first as previous', async (t) => {
  const { store } = await openStore(t);
  const a = await activateCertificate(store, await issued());
  const b = await activateCertificate(store, await issued());
  t.not(a.info.serialNumber, b.info.serialNumber);
  t.equal((await loadActiveCertificate(store, 'ecdsa-p256'))?.info.serialNumber, b.info.serialNumber);
  t.equal(await loadPreviousSerial(store, 'ecdsa-p256'), a.info.serialNumber);
  t.equal((await loadVersion(store, 'ecdsa-p256', a.info.serialNumber))?.keyPem, a.keyPem, 'the previous version stays whole');

  // Activating what is already active does not lose the previous pointer.
  await activateVersion(store, 'ecdsa-p256', b.info.serialNumber);
  t.equal(await loadPreviousSerial(store, 'ecdsa-p256'), a.info.serialNumber);

  // Rollback swaps the pointers; running it again undoes it.
  await activateVersion(store, 'ecdsa-p256', a.info.serialNumber);
  t.equal((await loadActiveCertificate(store, 'ecdsa-p256'))?.info.serialNumber, a.info.serialNumber);
  t.equal(await loadPreviousSerial(store, 'ecdsa-p256'), b.info.serialNumber);
  await activateVersion(store, 'ecdsa-p256', b.info.serialNumber);
  t.equal((await loadActiveCertificate(store, 'ecdsa-p256'))?.info.serialNumber, b.info.serialNumber);
  t.equal(await loadPreviousSerial(store, 'ecdsa-p256'), a.info.serialNumber);
});

t.test('trust anchor kept beside an imported version', async (t) => {
  const { store } = await openStore(t);
  await activateCertificate(store, await issued({ source: 'manual' }), { trustAnchorPem: root.certPem + '\n\n' });
  t.equal(await loadTrustAnchor(store, 'ecdsa-p256'), root.certPem.trimEnd() + '\n');
  await activateCertificate(store, await issued());
  t.equal(await loadTrustAnchor(store, 'ecdsa-p256'), undefined, 'follows the active version');
});

t.test('a version without meta.json reads as manual; without its key, as missing', async (t) => {
  const { store } = await openStore(t);
  const a = await activateCertificate(store, await issued());
  const dir = `certificates/ecdsa-p256/versions/${a.info.serialNumber}`;
  await store.delete(`${dir}/meta.json`);
  t.equal((await loadActiveCertificate(store, 'ecdsa-p256'))?.source, 'manual');
  await store.delete(`${dir}/private-key.pem`);
  t.equal(await loadActiveCertificate(store, 'ecdsa-p256'), undefined);
});

t.test('pending key from `cert csr`', async (t) => {
  const { store, dir } = await openStore(t);
  t.equal(await loadPendingKey(store, 'rsa-2048'), undefined);
  t.equal(await storePendingKey(store, 'rsa-2048', 'KEY1', 'CSR1'), false, 'nothing replaced');
  t.equal(await storePendingKey(store, 'rsa-2048', 'KEY2', 'CSR2'), true, 'replaced the first');
  t.strictSame(await loadPendingKey(store, 'rsa-2048'), { keyType: 'rsa-2048', keyPem: 'KEY2', csrPem: 'CSR2' });
  t.equal(mode(join(dir, 'certificates', 'rsa-2048', 'pending', 'private-key.pem')), 0o600);
  await deletePendingKey(store, 'rsa-2048');
  t.equal(await loadPendingKey(store, 'rsa-2048'), undefined);
});
