/**
 * The certificate audit log: one JSON line per action, appended safely by
 * concurrent writers, readable after a torn write, and never a place where
 * key material or a passphrase can land. Issuance by the CertificateManager
 * writes its line too.
 */
import t from 'tap';
import { readFileSync, statSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { FileStorage } from '../../src/store/file-storage.js';
import type { Storage, Locker } from '../../src/store/storage.js';
import { appendAudit, readAudit, formatAuditLine, AUDIT_KEY, type AuditEntry } from '../../src/certificates/audit-log.js';
import { CertificateManager } from '../../src/certificates/certificate-manager.js';
import { SelfSignedIssuer } from '../../src/issuers/self-signed-issuer.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import type { Clock } from '../../src/clock.js';

const entry = (n: number, extra: Partial<AuditEntry> = {}): AuditEntry => ({
  time: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
  action: 'imported',
  actor: 'cli',
  keyType: 'rsa-2048',
  subject: 'CN=ucgw.example.test',
  serial: n.toString(16).padStart(4, '0'),
  newFingerprint: 'AB:CD',
  ...extra,
});

/** A Storage with no append capability: the log falls back to locked read-modify-write. */
class MemoryStorage implements Storage, Locker {
  readonly values = new Map<string, Buffer>();
  #chain: Promise<void> = Promise.resolve();
  locks = 0;
  async load(key: string): Promise<Buffer> {
    const value = this.values.get(key);
    if (!value) throw Object.assign(new Error(`no ${key}`), { code: 'ENOENT' });
    return value;
  }
  async store(key: string, value: string | Buffer): Promise<void> {
    this.values.set(key, Buffer.from(value));
  }
  async exists(key: string): Promise<boolean> {
    return this.values.has(key);
  }
  async delete(key: string): Promise<void> {
    this.values.delete(key);
  }
  async list(): Promise<string[]> {
    return [...this.values.keys()].sort();
  }
  async lock(): Promise<() => Promise<void>> {
    this.locks++;
    let release!: () => void;
    const previous = this.#chain;
    this.#chain = new Promise<void>((done) => (release = done));
    await previous;
    return async () => release();
  }
}

t.test('file store: one JSON line per entry, appended, in order', async (t) => {
  const dir = t.testdir();
  const storage = await new FileStorage(dir).open();
  for (let i = 0; i < 3; i++) await appendAudit(storage, entry(i));
  const text = readFileSync(join(dir, AUDIT_KEY), 'utf8');
  t.equal(text.split('\n').length, 4, 'three lines and a final newline');
  t.same(text.trimEnd().split('\n').map((line) => (JSON.parse(line) as AuditEntry).serial), ['0000', '0001', '0002']);
  t.equal(statSync(join(dir, AUDIT_KEY)).mode & 0o777, 0o644);
  t.same((await readAudit(storage, 2)).map((e) => e.serial), ['0001', '0002'], 'readAudit: the last N, oldest first');
});

t.test('concurrent appends lose nothing and never interleave', async (t) => {
  const dir = t.testdir();
  const storage = await new FileStorage(dir).open();
  const other = await new FileStorage(dir).open(); // a second process on the same store, as far as files go
  await Promise.all(Array.from({ length: 40 }, (_, i) => appendAudit(i % 2 ? other : storage, entry(i, { detail: 'x'.repeat(500) }))));
  const entries = await readAudit(storage, 1000);
  t.equal(entries.length, 40);
  t.same(new Set(entries.map((e) => e.serial)).size, 40);
});

t.test('a store without append: read-modify-write under the audit lock', async (t) => {
  const storage = new MemoryStorage();
  await Promise.all(Array.from({ length: 10 }, (_, i) => appendAudit(storage, entry(i))));
  t.equal((await readAudit(storage, 100)).length, 10, 'no lost update');
  t.equal(storage.locks, 10);
});

t.test('a torn last line is skipped, the rest still reads', async (t) => {
  const dir = t.testdir();
  const storage = await new FileStorage(dir).open();
  await appendAudit(storage, entry(1));
  appendFileSync(join(dir, AUDIT_KEY), '{"time":"2026-01-01T00:00:0');
  await appendAudit(storage, entry(2));
  t.same((await readAudit(storage)).map((e) => e.serial), ['0001', '0002']);
  t.same(await readAudit(await new FileStorage(t.testdir()).open()), [], 'no log yet: no entries');
});

t.test('only known fields are written, and nothing that looks like key material', async (t) => {
  const sneaky = { ...entry(1), keyPem: '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n', passphrase: 'hunter2' } as AuditEntry;
  const line = formatAuditLine(sneaky);
  t.notMatch(line, /PRIVATE KEY|hunter2|keyPem|passphrase/);
  t.same(Object.keys(JSON.parse(line) as object), ['time', 'action', 'actor', 'keyType', 'subject', 'serial', 'newFingerprint']);
  t.throws(() => formatAuditLine(entry(2, { detail: '-----BEGIN PRIVATE KEY-----' })), /refusing/);
  t.throws(() => formatAuditLine(entry(3, { subject: '-----BEGIN CERTIFICATE-----' })), /refusing/);
});

t.test('certificate issuance writes issued, then renewed, with the issuer as actor', async (t) => {
  const dir = t.testdir();
  const config = parseConfig(
    {
      gateway: { fqdn: 'ucgw.example.test' },
      certificates: { dir, keyTypes: ['rsa-2048'] },
      clusters: [{ name: 'cucm', nodes: [{ name: 'pub', url: 'https://cucm-pub.example.test:8443' }] }],
    },
    { baseDir: dir, configFile: '' },
  );
  const storage = await new FileStorage(dir).open();
  let now = Date.now();
  const clock: Clock = { now: () => now, setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout) };
  const sink = new Writable({ write: (_chunk, _enc, done) => done() });
  const manager = new CertificateManager({ config, storage, issuer: new SelfSignedIssuer(storage, config.gateway.fqdn), clock, log: createLogger({ destination: sink }) });
  const [first] = await manager.ensure();
  await manager.ensure(); // still valid: no new line
  now += 340 * 86_400_000; // inside the renewal window of a one-year certificate
  const [second] = await manager.ensure();
  const entries = await readAudit(storage);
  t.same(entries.map((e) => [e.action, e.actor]), [['issued', 'self-signed'], ['renewed', 'self-signed']]);
  t.match(entries[0], { serial: first!.info.serialNumber, newFingerprint: first!.info.fingerprintSha256, keyType: 'rsa-2048', subject: 'CN=ucgw.example.test' });
  t.notOk('oldFingerprint' in entries[0]!);
  t.match(entries[1], { serial: second!.info.serialNumber, oldFingerprint: first!.info.fingerprintSha256, newFingerprint: second!.info.fingerprintSha256 });
  t.notMatch(readFileSync(join(dir, AUDIT_KEY), 'utf8'), /PRIVATE KEY/);
});
