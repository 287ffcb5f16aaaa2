/**
 * CSRs for an enterprise CA, RSA and ECDSA through one code path, checked by
 * reading them back and by OpenSSL itself; and the key-strength rules an
 * import applies.
 */
import t from 'tap';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCsr, describeCsr, publicKeySha256 } from '../../src/pki/csr.js';
import { keyWeakness, slotForKey, describeKey } from '../../src/pki/key-strength.js';
import { FileStorage } from '../../src/store/file-storage.js';
import { storePendingKey, loadPendingKey, deletePendingKey } from '../../src/certificates/certificate-store.js';
import { openssl } from '../helpers/openssl-ca.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const DIGITAL_SIGNATURE = 1;
const KEY_ENCIPHERMENT = 4;
const NAMES = ['ucgw.example.test', 'ucgw-dr.example.test', '10.0.0.12', '2001:db8::12'];

for (const keyType of ['rsa-2048', 'rsa-3072', 'ecdsa-p256'] as const) {
  t.test(`${keyType} CSR`, async (t) => {
    const csr = await createCsr({ commonName: NAMES[0]!, subjectAltNames: NAMES, keyType });
    const info = await describeCsr(csr.csrPem);
    t.equal(info.subject, 'CN=ucgw.example.test');
    t.same(info.dnsNames, ['ucgw.example.test', 'ucgw-dr.example.test'], 'DNS SANs');
    t.same(info.ipAddresses, ['10.0.0.12', '2001:db8::12'], 'IP SANs, v4 and v6');
    t.same(info.extendedKeyUsages, [SERVER_AUTH], 'serverAuth only by default');
    t.equal(info.keyUsage, keyType === 'ecdsa-p256' ? DIGITAL_SIGNATURE : DIGITAL_SIGNATURE | KEY_ENCIPHERMENT);
    t.ok(info.signatureValid, 'self-signature verifies');

    const key = createPrivateKey(csr.keyPem);
    t.equal(key.asymmetricKeyType, keyType === 'ecdsa-p256' ? 'ec' : 'rsa');
    if (keyType !== 'ecdsa-p256') t.equal(key.asymmetricKeyDetails?.modulusLength, keyType === 'rsa-2048' ? 2048 : 3072);
    const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
    t.equal(info.publicKeySha256, publicKeySha256(spki), 'the CSR carries the public half of the returned key');
    t.equal(csr.publicKeySha256, info.publicKeySha256);
    t.match(csr.keyPem, /^-----BEGIN PRIVATE KEY-----\n/, 'PKCS#8');

    const dir = t.testdir({ 'req.csr': csr.csrPem });
    const text = openssl(['req', '-in', join(dir, 'req.csr'), '-noout', '-text', '-verify'], dir);
    t.match(text, /Subject: CN\s?=\s?ucgw\.example\.test/, 'OpenSSL reads the subject');
    t.match(text, /DNS:ucgw\.example\.test, DNS:ucgw-dr\.example\.test, IP Address:10\.0\.0\.12, IP Address:2001:DB8:0:0:0:0:0:12/i);
    t.match(text, /TLS Web Server Authentication/);
    t.match(text, /Requested Extensions/);
  });
}

t.test('clientAuth on request', async (t) => {
  const csr = await createCsr({ commonName: 'ucgw.example.test', subjectAltNames: ['ucgw.example.test'], keyType: 'ecdsa-p256', clientAuth: true });
  t.same((await describeCsr(csr.csrPem)).extendedKeyUsages, [SERVER_AUTH, CLIENT_AUTH]);
});

t.test('a CSR whose bytes were altered fails its self-signature', async (t) => {
  const csr = await createCsr({ commonName: 'ucgw.example.test', subjectAltNames: ['ucgw.example.test'], keyType: 'rsa-2048' });
  const der = Buffer.from(csr.csrPem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
  const at = der.indexOf(Buffer.from('ucgw.example.test'));
  der[at] = 'x'.charCodeAt(0);
  const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  t.notOk((await describeCsr(tampered)).signatureValid);
});

t.test('pending keys: stored 0600, replacing says so, deleting forgets them', async (t) => {
  const dir = t.testdir();
  const storage = await new FileStorage(dir).open();
  const first = await createCsr({ commonName: 'a.example.test', subjectAltNames: ['a.example.test'], keyType: 'rsa-2048' });
  t.equal(await storePendingKey(storage, 'rsa-2048', first.keyPem, first.csrPem), false, 'nothing replaced the first time');
  const second = await createCsr({ commonName: 'a.example.test', subjectAltNames: ['a.example.test'], keyType: 'rsa-2048' });
  t.equal(await storePendingKey(storage, 'rsa-2048', second.keyPem, second.csrPem), true, 'the second replaces the first');
  const pending = await loadPendingKey(storage, 'rsa-2048');
  t.equal(pending?.keyPem, second.keyPem);
  t.equal(pending?.csrPem, second.csrPem);
  t.equal(statSync(join(dir, 'certificates/rsa-2048/pending/private-key.pem')).mode & 0o777, 0o600);
  await deletePendingKey(storage, 'rsa-2048');
  t.equal(await loadPendingKey(storage, 'rsa-2048'), undefined);
});

t.test('key strength', async (t) => {
  const rsa = (bits: number) => generateKeyPairSync('rsa', { modulusLength: bits }).publicKey;
  const ec = (namedCurve: string) => generateKeyPairSync('ec', { namedCurve }).publicKey;
  t.match(keyWeakness(rsa(1024)), /weak key: RSA 1024 bits/);
  t.equal(keyWeakness(rsa(2048)), undefined);
  t.equal(keyWeakness(ec('prime256v1')), undefined);
  t.equal(keyWeakness(ec('secp384r1')), undefined);
  t.match(keyWeakness(ec('secp224r1')), /weak key: EC curve secp224r1/);
  t.match(keyWeakness(ec('secp256k1')), /weak key: EC curve secp256k1/, 'not every 256-bit curve');
  t.match(keyWeakness(generateKeyPairSync('ed25519').publicKey), /unsupported key algorithm ED25519/);
  t.equal(describeKey(ec('prime256v1')), 'EC P-256');

  t.equal(slotForKey(rsa(2048), ['ecdsa-p256', 'rsa-2048']), 'rsa-2048');
  const rsa3072 = rsa(3072);
  t.equal(keyWeakness(rsa3072), undefined);
  t.equal(slotForKey(rsa3072, ['rsa-2048', 'rsa-3072']), 'rsa-3072', 'the exact size when configured');
  t.equal(slotForKey(rsa3072, ['rsa-2048']), 'rsa-2048', 'else the RSA slot');
  t.equal(slotForKey(ec('prime256v1'), ['rsa-2048', 'ecdsa-p256']), 'ecdsa-p256');
  t.equal(slotForKey(ec('prime256v1'), ['rsa-2048']), undefined, 'no ECDSA slot configured');
});

t.test('the CSR file the CLI writes is what OpenSSL signs', async (t) => {
  const csr = await createCsr({ commonName: 'ucgw.example.test', subjectAltNames: ['ucgw.example.test'], keyType: 'ecdsa-p256' });
  const dir = t.testdir();
  writeFileSync(join(dir, 'k.pem'), csr.keyPem);
  writeFileSync(join(dir, 'r.csr'), csr.csrPem);
  // Signing the CSR with its own key proves the key and the request belong together.
  openssl(['x509', '-req', '-in', 'r.csr', '-key', 'k.pem', '-days', '1', '-copy_extensions', 'copy', '-out', 'c.pem'], dir);
  const text = openssl(['x509', '-in', 'c.pem', '-noout', '-ext', 'subjectAltName,extendedKeyUsage'], dir);
  t.match(text, /DNS:ucgw\.example\.test/);
  t.match(text, /TLS Web Server Authentication/);
});
