/**
 * `cert import` and `cert rollback` below the CLI: real files, a real OpenSSL
 * CA, the real file store. Every refused import must leave the store
 * byte-for-byte as it was.
 */
import t from 'tap';
import { X509Certificate, randomBytes, createPrivateKey } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyType } from '../../src/config/types.js';
import { parseConfig } from '../../src/config/load.js';
import { FileStorage } from '../../src/store/file-storage.js';
import { createCsr } from '../../src/pki/csr.js';
import { splitPemCertificates } from '../../src/pki/certificate-info.js';
import { storePendingKey, loadPendingKey, loadActiveCertificate, loadPreviousSerial, loadTrustAnchor } from '../../src/certificates/certificate-store.js';
import { importCertificate, type ImportInput } from '../../src/certificates/import-certificate.js';
import { rollbackCertificate } from '../../src/certificates/rollback.js';
import { readAudit } from '../../src/certificates/audit-log.js';
import { ErrorCodes, UcgateError } from '../../src/errors.js';
import { createOpensslCa, openssl, snapshotTree } from '../helpers/openssl-ca.js';

/** The `t` a test callback receives (tap's overloads make it awkward to name). */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

const FQDN = 'ucgw.example.test';
const ALT = 'ucgw-dr.example.test';
const ca = createOpensslCa(t.testdir());

/** Through the loader, so the schema's defaults are there as in a running gateway. */
function gatewayConfig(dir: string, keyTypes: readonly KeyType[] = ['rsa-2048', 'ecdsa-p256']) {
  return parseConfig(
    {
      gateway: { fqdn: FQDN, altNames: [ALT] },
      certificates: { dir, keyTypes, issuer: { type: 'manual' } },
      clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://cucm-pub.example.test:8443' }] }],
    },
    { baseDir: dir, configFile: '' },
  );
}

// t.testdir() recreates the test's folder on every call: take it once per test, then use sub-folders.
const bases = new WeakMap<object, string>();
function folder(t: TapTest, contents: Record<string, string | Buffer> = {}): string {
  if (!bases.has(t)) bases.set(t, t.testdir());
  const dir = join(bases.get(t)!, `f${++seq}`);
  mkdirSync(dir);
  for (const [name, data] of Object.entries(contents)) writeFileSync(join(dir, name), data);
  return dir;
}

async function newStore(t: TapTest, keyTypes?: readonly KeyType[]) {
  const dir = join(folder(t), 'store');
  const storage = await new FileStorage(dir).open();
  const config = gatewayConfig(dir, keyTypes);
  const run = (input: ImportInput, nowMs?: number) => importCertificate({ config, storage, input, ...(nowMs !== undefined && { nowMs }) });
  return { dir, storage, config, run };
}

let seq = 0;
/** A ucgate CSR (pending key stored) signed by the OpenSSL CA; returns the certificate file. */
async function viaCsr(storage: FileStorage, keyType: KeyType, sign: Partial<Parameters<typeof ca.sign>[0]> = {}): Promise<string> {
  const csr = await createCsr({ commonName: FQDN, subjectAltNames: [FQDN, ALT], keyType });
  await storePendingKey(storage, keyType, csr.keyPem, csr.csrPem);
  const csrFile = join(ca.dir, `ucgate-${++seq}.csr`);
  writeFileSync(csrFile, csr.csrPem);
  const out = join(ca.dir, `ucgate-${seq}.pem`);
  ca.sign({ csrFile, out, ...sign });
  return out;
}

/** An OpenSSL-made key and certificate; returns both files. */
function viaOpenssl(options: { kind?: 'rsa' | 'ec' | 'rsa1024'; sans?: string[] } & Partial<Parameters<typeof ca.sign>[0]> = {}) {
  const name = `leaf-${++seq}`;
  const { keyFile, csrFile } = ca.request(name, { kind: options.kind ?? 'rsa', cn: FQDN, sans: options.sans ?? [FQDN, ALT] });
  const certFile = join(ca.dir, `${name}.pem`);
  ca.sign({ ...options, csrFile, out: certFile });
  return { keyFile, certFile };
}

for (const keyType of ['rsa-2048', 'ecdsa-p256'] as const) {
  t.test(`${keyType}: ucgate CSR → OpenSSL CA → import with the pending key`, async (t) => {
    const { storage, dir, run } = await newStore(t);
    const certFile = await viaCsr(storage, keyType);
    const result = await run({ certFile, chainFile: ca.chainFile });
    t.equal(result.certificate.keyType, keyType);
    t.equal(result.certificate.source, 'manual');
    t.ok(result.usedPendingKey);
    t.same(result.warnings, []);
    t.equal(await loadPendingKey(storage, keyType), undefined, 'the pending key left its slot');
    const active = await loadActiveCertificate(storage, keyType);
    const served = splitPemCertificates(active!.certPem);
    t.equal(served.length, 2, 'leaf + issuing CA are served, the root is not');
    t.equal(new X509Certificate(served[0]!).fingerprint256, new X509Certificate(readFileSync(certFile)).fingerprint256);
    t.equal(new X509Certificate(served[1]!).fingerprint256, new X509Certificate(readFileSync(ca.intermediateFile)).fingerprint256);
    t.equal(new X509Certificate((await loadTrustAnchor(storage, keyType))!).fingerprint256, new X509Certificate(ca.rootPem).fingerprint256);
    const keyFile = join(dir, 'certificates', keyType, 'versions', active!.info.serialNumber, 'private-key.pem');
    t.equal(statSync(keyFile).mode & 0o777, 0o600, 'the key is 0600');
    const audit = await readAudit(storage);
    t.equal(audit.length, 1);
    t.match(audit[0], { action: 'imported', actor: 'cli', keyType, serial: active!.info.serialNumber, newFingerprint: active!.info.fingerprintSha256 });
  });
}

t.test('the previous version is kept; rollback swaps, twice undoes', async (t) => {
  const { storage, run } = await newStore(t);
  const first = await run({ certFile: await viaCsr(storage, 'rsa-2048'), chainFile: ca.chainFile });
  const second = await run({ certFile: await viaCsr(storage, 'rsa-2048'), chainFile: ca.chainFile });
  const [a, b] = [first.certificate.info, second.certificate.info];
  t.equal(second.replaced?.info.serialNumber, a.serialNumber);
  t.equal(await loadPreviousSerial(storage, 'rsa-2048'), a.serialNumber);
  const back = await rollbackCertificate({ storage, keyTypes: ['rsa-2048', 'ecdsa-p256'] });
  t.equal(back.restored.info.serialNumber, a.serialNumber);
  t.equal((await loadActiveCertificate(storage, 'rsa-2048'))!.info.serialNumber, a.serialNumber);
  t.equal(await loadPreviousSerial(storage, 'rsa-2048'), b.serialNumber);
  await rollbackCertificate({ storage, keyTypes: ['rsa-2048', 'ecdsa-p256'], keyType: 'rsa-2048' });
  t.equal((await loadActiveCertificate(storage, 'rsa-2048'))!.info.serialNumber, b.serialNumber);
  const audit = await readAudit(storage);
  t.same(audit.map((entry) => entry.action), ['imported', 'imported', 'rolled-back', 'rolled-back']);
  t.match(audit[2], { oldFingerprint: b.fingerprintSha256, newFingerprint: a.fingerprintSha256 });

  const again = await run({ certFile: join(ca.dir, `ucgate-${seq}.pem`), chainFile: ca.chainFile });
  t.ok(again.unchanged, 'importing the active certificate again changes nothing');
  t.equal((await readAudit(storage)).length, 4);
});

t.test('rollback refuses when there is nothing (or too much) to go back to', async (t) => {
  const { storage, run } = await newStore(t);
  const keyTypes: KeyType[] = ['rsa-2048', 'ecdsa-p256'];
  await t.rejects(rollbackCertificate({ storage, keyTypes }), { code: ErrorCodes.CERT_NO_PREVIOUS, exitCode: 2 });
  for (const keyType of keyTypes) {
    await run({ certFile: await viaCsr(storage, keyType), chainFile: ca.chainFile });
    await run({ certFile: await viaCsr(storage, keyType), chainFile: ca.chainFile });
  }
  await t.rejects(rollbackCertificate({ storage, keyTypes }), { code: ErrorCodes.CERT_NO_PREVIOUS, message: /--key-type/ });
  await t.rejects(rollbackCertificate({ storage, keyTypes, keyType: 'rsa-3072' }), { code: ErrorCodes.USAGE });
  await t.rejects(rollbackCertificate({ storage, keyTypes, keyType: 'ecdsa-p256', nowMs: Date.now() + 5 * 365 * 86_400_000 }), {
    code: ErrorCodes.CERT_NO_PREVIOUS,
    message: /expired/,
  });
});

t.test('every refused import names its reason in one line and leaves the store untouched', async (t) => {
  const { storage, dir, run } = await newStore(t);
  await run({ certFile: await viaCsr(storage, 'rsa-2048'), chainFile: ca.chainFile });
  await viaCsr(storage, 'ecdsa-p256', {}); // leaves a pending key in the store, which must survive too
  const good = viaOpenssl();
  const other = viaOpenssl();
  const files = folder(t, { 'garbage.pem': randomBytes(3000), 'empty.pem': '', 'blank.pem': '\n\n', 'wrong.pass': 'not-it\n' });
  const pfx = ca.pkcs12({ certFile: good.certFile, keyFile: good.keyFile, out: join(files, 'good.p12'), passphrase: 'right' });
  const encryptedKey = join(files, 'encrypted.key');
  openssl(['pkey', '-in', good.keyFile, '-aes256', '-passout', 'pass:keypass', '-out', encryptedKey], files);
  const cases: [string, ImportInput | (() => ImportInput), string][] = [
    ['wrong key', { certFile: good.certFile, chainFile: ca.chainFile, keyFile: other.keyFile }, ErrorCodes.CERT_KEY_MISMATCH],
    ['SANs miss the FQDN', () => { const c = viaOpenssl({ subjectAltName: 'DNS:other.example.test' }); return { certFile: c.certFile, keyFile: c.keyFile, chainFile: ca.chainFile }; }, ErrorCodes.CERT_NAME_MISMATCH],
    ['expired', () => { const c = viaOpenssl({ startdate: '20200101000000Z', enddate: '20210101000000Z' }); return { certFile: c.certFile, keyFile: c.keyFile, chainFile: ca.chainFile }; }, ErrorCodes.CERT_EXPIRED],
    ['not yet valid', () => { const c = viaOpenssl({ startdate: '20980101000000Z', enddate: '20990101000000Z' }); return { certFile: c.certFile, keyFile: c.keyFile, chainFile: ca.chainFile }; }, ErrorCodes.CERT_NOT_YET_VALID],
    ['broken chain: no chain at all', { certFile: good.certFile, keyFile: good.keyFile }, ErrorCodes.CERT_CHAIN],
    ['broken chain: root without the issuing CA', { certFile: good.certFile, keyFile: good.keyFile, chainFile: ca.rootFile }, ErrorCodes.CERT_CHAIN],
    ['weak key (RSA 1024)', () => { const c = viaOpenssl({ kind: 'rsa1024' }); return { certFile: c.certFile, keyFile: c.keyFile, chainFile: ca.chainFile }; }, ErrorCodes.CERT_KEY_WEAK],
    ['not a server certificate', () => { const c = viaOpenssl({ extendedKeyUsage: 'clientAuth' }); return { certFile: c.certFile, keyFile: c.keyFile, chainFile: ca.chainFile }; }, ErrorCodes.CERT_USAGE],
    ['garbage file', { certFile: join(files, 'garbage.pem'), keyFile: good.keyFile }, ErrorCodes.CERT_INPUT],
    ['empty file', { certFile: join(files, 'empty.pem'), keyFile: good.keyFile }, ErrorCodes.CERT_INPUT],
    ['blank file', { certFile: join(files, 'blank.pem'), keyFile: good.keyFile }, ErrorCodes.CERT_INPUT],
    ['empty key file', { certFile: good.certFile, keyFile: join(files, 'empty.pem'), chainFile: ca.chainFile }, ErrorCodes.CERT_INPUT],
    ['garbage key file', { certFile: good.certFile, keyFile: join(files, 'garbage.pem'), chainFile: ca.chainFile }, ErrorCodes.CERT_INPUT],
    ['missing file', { certFile: join(files, 'nope.pem') }, ErrorCodes.CERT_INPUT],
    ['a CSR instead of a certificate', () => ({ certFile: ca.request(`csr-only-${++seq}`, { cn: FQDN, sans: [FQDN] }).csrFile }), ErrorCodes.CERT_INPUT],
    ['encrypted key without a passphrase', { certFile: good.certFile, keyFile: encryptedKey, chainFile: ca.chainFile }, ErrorCodes.CERT_INPUT],
    ['encrypted key, wrong passphrase', { certFile: good.certFile, keyFile: encryptedKey, chainFile: ca.chainFile, passphraseFile: join(files, 'wrong.pass') }, ErrorCodes.CERT_INPUT],
    ['no key, no pending key matches', { certFile: good.certFile, chainFile: ca.chainFile }, ErrorCodes.CERT_KEY_MISMATCH],
    ['PKCS#12 with a wrong passphrase', { pfxFile: pfx, passphraseFile: join(files, 'wrong.pass') }, ErrorCodes.CERT_PKCS12_PASSPHRASE],
    ['PKCS#12 that is garbage', { pfxFile: join(files, 'garbage.pem') }, ErrorCodes.CERT_INPUT],
    ['PKCS#12 that is empty', { pfxFile: join(files, 'empty.pem') }, ErrorCodes.CERT_INPUT],
    ['PKCS#12 that is a PEM file', { pfxFile: good.certFile }, ErrorCodes.CERT_INPUT],
  ];
  const expected: Record<string, RegExp> = {
    'encrypted key without a passphrase': /encrypted; give its passphrase with --passphrase-file/,
    'encrypted key, wrong passphrase': /wrong passphrase/,
    'PKCS#12 with a wrong passphrase': /--pfx .*wrong passphrase/,
    'a CSR instead of a certificate': /this is a CSR/,
    'PKCS#12 that is garbage': /--pfx .*not a PKCS#12 file/,
    'garbage file': /no certificate in it/,
    'empty file': /the file is empty/,
  };
  for (const [name, input, code] of cases) {
    const resolved = typeof input === 'function' ? input() : input;
    const before = snapshotTree(dir);
    const err = await run(resolved).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof UcgateError, `${name}: refused`);
    const failure = err as UcgateError;
    t.equal(failure.code, code, `${name}: ${failure.message}`);
    if (/passphrase|CSR|garbage|empty/.test(name)) t.match(failure.message, expected[name] ?? /./, `${name}: says why`);
    t.equal(failure.exitCode, 2, `${name}: exit 2`);
    t.notOk(failure.message.includes('\n'), `${name}: one line`);
    t.same(snapshotTree(dir), before, `${name}: store unchanged`);
  }
  t.notOk((await readAudit(storage)).some((entry) => entry.action !== 'imported'), 'no audit line for a refused import');
});

t.test('an EC certificate with no ECDSA slot configured is refused', async (t) => {
  const { run } = await newStore(t, ['rsa-2048']);
  const ec = viaOpenssl({ kind: 'ec' });
  await t.rejects(run({ certFile: ec.certFile, keyFile: ec.keyFile, chainFile: ca.chainFile }), { code: ErrorCodes.CERT_INVALID, message: /ecdsa-p256|EC P-256/ });
});

for (const kind of ['rsa', 'ec'] as const) {
  for (const legacy of [false, true]) {
    t.test(`PKCS#12 ${kind} ${legacy ? 'legacy (RC2-40/3DES, SHA-1 MAC)' : 'modern (AES-256, SHA-256 MAC)'}`, async (t) => {
      const { storage, run } = await newStore(t);
      const leaf = viaOpenssl({ kind });
      const files = folder(t, { 'pass.txt': 'correct horse battery\n' });
      const pfxFile = ca.pkcs12({ certFile: leaf.certFile, keyFile: leaf.keyFile, out: join(files, 'bundle.p12'), passphrase: 'correct horse battery', legacy });
      const info = openssl(['pkcs12', '-in', pfxFile, '-info', '-noout', '-passin', 'pass:correct horse battery', ...(legacy ? ['-legacy'] : [])], files);
      t.ok(info !== undefined);
      const result = await run({ pfxFile, passphraseFile: join(files, 'pass.txt') });
      t.equal(result.certificate.keyType, kind === 'rsa' ? 'rsa-2048' : 'ecdsa-p256');
      t.equal(result.certificate.info.fingerprintSha256, new X509Certificate(readFileSync(leaf.certFile)).fingerprint256);
      t.equal(splitPemCertificates(result.certificate.certPem).length, 2, 'leaf and issuing CA from the bundle');
      const key = createPrivateKey(result.certificate.keyPem);
      t.ok(new X509Certificate(readFileSync(leaf.certFile)).checkPrivateKey(key));
      const audit = JSON.stringify(await readAudit(storage));
      t.notOk(audit.includes('correct horse'), 'no passphrase in the audit log');
      t.notOk(audit.includes('PRIVATE KEY'));
    });
  }
}

t.test('other input shapes: DER, combined PEM, encrypted key, root from the system store', async (t) => {
  const { run } = await newStore(t);
  const files = folder(t, { 'pass.txt': 'keypass' });
  const a = viaOpenssl();
  const der = join(files, 'leaf.der');
  openssl(['x509', '-in', a.certFile, '-outform', 'DER', '-out', der], files);
  t.equal((await run({ certFile: der, keyFile: a.keyFile, chainFile: ca.chainFile })).certificate.keyType, 'rsa-2048', 'DER certificate');

  const b = viaOpenssl();
  const combined = join(files, 'combined.pem');
  writeFileSync(combined, readFileSync(b.certFile, 'utf8') + readFileSync(ca.intermediateFile, 'utf8') + readFileSync(b.keyFile, 'utf8'));
  const viaCombined = await run({ certFile: combined, chainFile: ca.rootFile });
  t.equal(splitPemCertificates(viaCombined.certificate.certPem).length, 2, 'combined PEM: leaf, chain and key in one file');

  const c = viaOpenssl();
  const encrypted = join(files, 'enc.key');
  openssl(['pkey', '-in', c.keyFile, '-aes256', '-passout', 'pass:keypass', '-out', encrypted], files);
  t.ok((await run({ certFile: c.certFile, keyFile: encrypted, chainFile: ca.chainFile, passphraseFile: join(files, 'pass.txt') })).certificate);

  const d = viaOpenssl();
  const { storage } = await newStore(t);
  const result = await importCertificate({
    config: gatewayConfig(join(folder(t), 'unused')),
    storage,
    input: { certFile: d.certFile, keyFile: d.keyFile, chainFile: ca.intermediateFile },
    systemRoots: [new X509Certificate(ca.rootPem)],
  });
  t.equal(new X509Certificate((await loadTrustAnchor(storage, 'rsa-2048'))!).fingerprint256, new X509Certificate(ca.rootPem).fingerprint256, 'anchored in the system store');
  t.equal(result.warnings.length, 0);
});

t.test('warnings: altNames not covered, expiry near', async (t) => {
  const { run } = await newStore(t);
  const c = viaOpenssl({ sans: [FQDN], days: 10 });
  const result = await run({ certFile: c.certFile, keyFile: c.keyFile, chainFile: ca.chainFile });
  t.equal(result.warnings.length, 2);
  t.match(result.warnings[0], new RegExp(`does not cover gateway.altNames ${ALT}`));
  t.match(result.warnings[1], /expires in (9|10) day/);
});
