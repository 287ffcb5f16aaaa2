/**
 * `cert import` without the CLI: read the files (PEM, DER or PKCS#12), find
 * the key (given, in the bundle, pending from `cert csr`, or already active),
 * validate, and only then touch the store — under the same lock issuance
 * takes, so an import and a renewal never interleave. Every failure before activation
 * leaves the store exactly as it was.
 */
import { readFile } from 'node:fs/promises';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import type { UcgateConfig, KeyType } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import { readPkcs12 } from '../pki/pkcs12.js';
import { validateImport, type ImportCandidate, type ValidatedImport } from './import-validation.js';
import {
  activateCertificate,
  loadActiveCertificate,
  loadVersion,
  loadPendingKey,
  deletePendingKey,
  type StoredCertificate,
  type ActivationGate,
} from './certificate-store.js';
import { appendAudit, auditTime, type AuditActor } from './audit-log.js';
import { requiredNames } from './certificate-manager.js';
import { UcgateError, ErrorCodes, type ErrorCode } from '../errors.js';

/** PEM files (`--cert`, optional `--chain`, `--key`) or one PKCS#12 bundle (`--pfx`). */
export type ImportInput =
  | { readonly certFile: string; readonly chainFile?: string; readonly keyFile?: string; readonly passphraseFile?: string }
  | { readonly pfxFile: string; readonly passphraseFile?: string };

export interface ImportOptions {
  readonly config: Pick<UcgateConfig, 'gateway' | 'certificates'> & { readonly clusters?: UcgateConfig['clusters'] };
  readonly storage: Storage & Locker;
  readonly input: ImportInput;
  readonly nowMs?: number;
  readonly actor?: AuditActor;
  /** CUCM trust publishing, when configured: the leaf reaches CUCM before it is activated. */
  readonly gate?: ActivationGate;
  /** Overrides node's bundled roots (tests). */
  readonly systemRoots?: readonly X509Certificate[];
}

export interface ImportResult {
  /** What is active now. */
  readonly certificate: StoredCertificate;
  /** What was active before, kept as `previous`. */
  readonly replaced?: StoredCertificate;
  readonly warnings: readonly string[];
  /** The key came from `cert csr`; it has left the pending slot. */
  readonly usedPendingKey: boolean;
  /** The very same certificate was already active: nothing was written. */
  readonly unchanged: boolean;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const PEM_KEY = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/;

function bad(code: ErrorCode, message: string, cause?: unknown): UcgateError {
  return new UcgateError(code, message, { exitCode: 2, cause });
}

async function readInput(file: string, flag: string): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw bad(ErrorCodes.CERT_INPUT, `${flag} ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`, err);
  }
  if (data.length === 0 || data.toString('latin1').trim() === '') throw bad(ErrorCodes.CERT_INPUT, `${flag} ${file}: the file is empty`);
  return data;
}

async function readPassphrase(file: string | undefined): Promise<string | undefined> {
  if (file === undefined) return undefined;
  const text = (await readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw bad(ErrorCodes.CERT_INPUT, `--passphrase-file ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, err);
  })).toString('utf8');
  // One trailing newline is the editor's, not the passphrase's.
  return text.replace(/\r?\n$/, '');
}

/** Certificates from PEM (any number) or DER (one). */
function parseCertificates(data: Buffer, flag: string, file: string): X509Certificate[] {
  const text = data.toString('latin1');
  const blocks = text.match(PEM_CERT);
  if (blocks) {
    return blocks.map((block, i) => {
      try {
        return new X509Certificate(block);
      } catch (err) {
        throw bad(ErrorCodes.CERT_INPUT, `${flag} ${file}: certificate ${i + 1} is damaged (${(err as Error).message})`, err);
      }
    });
  }
  if (text.includes('-----BEGIN CERTIFICATE REQUEST-----')) {
    throw bad(ErrorCodes.CERT_INPUT, `${flag} ${file}: this is a CSR, not a certificate: send it to the CA and import what it returns`);
  }
  if (!text.includes('-----BEGIN')) {
    try {
      return [new X509Certificate(data)];
    } catch {
      // Not DER either: fall through to the one message for unreadable input.
    }
  }
  throw bad(ErrorCodes.CERT_INPUT, `${flag} ${file}: no certificate in it (expected PEM or DER; use --pfx for .pfx/.p12)`);
}

function parseKey(data: Buffer, file: string, passphrase: string | undefined): KeyObject {
  const block = PEM_KEY.exec(data.toString('latin1'))?.[0];
  try {
    if (block) return createPrivateKey(passphrase === undefined ? block : { key: block, passphrase });
    return createPrivateKey({ key: data, format: 'der', type: 'pkcs8' });
  } catch (err) {
    const encrypted = block?.startsWith('-----BEGIN ENCRYPTED') || block?.includes('Proc-Type: 4,ENCRYPTED');
    if (encrypted && passphrase === undefined) {
      throw bad(ErrorCodes.CERT_INPUT, `--key ${file}: the key is encrypted; give its passphrase with --passphrase-file`, err);
    }
    if (encrypted) throw bad(ErrorCodes.CERT_INPUT, `--key ${file}: cannot decrypt the key (wrong passphrase?)`, err);
    throw bad(ErrorCodes.CERT_INPUT, `--key ${file}: not a private key (expected PEM or PKCS#8 DER)`, err);
  }
}

function keyMatches(leaf: X509Certificate, key: KeyObject): boolean {
  try {
    return leaf.checkPrivateKey(key);
  } catch {
    return false; // a different algorithm
  }
}

/**
 * The stored key whose public half is the certificate's: a pending one from
 * `cert csr`, or else an active one (the CA re-issued for the same key, or the
 * same certificate is imported again). `pending` names the pending slot it came from.
 */
async function findStoredKey(storage: Storage, options: ImportOptions, leaf: X509Certificate): Promise<{ key: KeyObject; pending?: KeyType }> {
  const keyTypes = options.config.certificates.keyTypes;
  let pending = 0;
  for (const keyType of keyTypes) {
    const stored = await loadPendingKey(storage, keyType);
    if (!stored) continue;
    pending++;
    const key = createPrivateKey(stored.keyPem);
    if (keyMatches(leaf, key)) return { key, pending: keyType };
  }
  for (const keyType of keyTypes) {
    const active = await loadActiveCertificate(storage, keyType);
    const key = active && createPrivateKey(active.keyPem);
    if (key && keyMatches(leaf, key)) return { key };
  }
  if (pending === 0) throw bad(ErrorCodes.CERT_KEY_MISMATCH, 'no --key given and no pending key from `ucgate cert csr`: give the key with --key FILE');
  throw bad(ErrorCodes.CERT_KEY_MISMATCH, 'no --key given, and the certificate matches no pending key from `ucgate cert csr` (issued for another CSR?)');
}

async function readCandidate(options: ImportOptions): Promise<{ candidate: ImportCandidate; pendingSlot?: KeyType }> {
  const { input } = options;
  const passphrase = await readPassphrase(input.passphraseFile);
  if ('pfxFile' in input) {
    const der = await readInput(input.pfxFile, '--pfx');
    let bundle: ReturnType<typeof readPkcs12>;
    try {
      bundle = readPkcs12(der, passphrase ?? '');
    } catch (err) {
      if (!(err instanceof UcgateError)) throw err;
      throw new UcgateError(err.code, `--pfx ${input.pfxFile}: ${err.message}`, { exitCode: 2, cause: err.cause });
    }
    return { candidate: { leaf: bundle.leaf, others: bundle.others, key: bundle.key } };
  }
  const certData = await readInput(input.certFile, '--cert');
  const [leaf, ...rest] = parseCertificates(certData, '--cert', input.certFile);
  const chain = input.chainFile ? parseCertificates(await readInput(input.chainFile, '--chain'), '--chain', input.chainFile) : [];
  let key: KeyObject | undefined;
  if (input.keyFile) key = parseKey(await readInput(input.keyFile, '--key'), input.keyFile, passphrase);
  // A combined PEM (certificate and key in one file, as HAProxy keeps them) needs no --key.
  else if (PEM_KEY.test(certData.toString('latin1'))) key = parseKey(certData, input.certFile, passphrase);
  let pendingSlot: KeyType | undefined;
  if (!key) ({ key, pending: pendingSlot } = await findStoredKey(options.storage, options, leaf!));
  return { candidate: { leaf: leaf!, others: [...rest, ...chain], key }, ...(pendingSlot && { pendingSlot }) };
}

/**
 * Validates the input and, when it passes, makes it the active certificate of
 * its key type (the old one becomes `previous`), drops the pending key it
 * used, and writes an `imported` audit line. Throws UcgateError (exit 2) with
 * a one-line reason on any problem with the input; the store is then untouched.
 */
export async function importCertificate(options: ImportOptions): Promise<ImportResult> {
  const { storage, config } = options;
  const nowMs = options.nowMs ?? Date.now();
  const { candidate, pendingSlot } = await readCandidate(options);
  const usedPendingKey = pendingSlot !== undefined;
  const validated: ValidatedImport = validateImport(candidate, {
    fqdn: config.gateway.fqdn,
    // Every other name clients use (altNames, each cluster's publicName): missing ones are warned about.
    altNames: requiredNames(config).slice(1),
    keyTypes: config.certificates.keyTypes,
    nowMs,
    ...(options.systemRoots && { systemRoots: options.systemRoots }),
  });
  const { keyType, info } = validated;
  // The lock issuance takes: a renewal in a running gateway cannot slip in between.
  const release = await storage.lock(`issue-${keyType}`);
  try {
    const current = await loadActiveCertificate(storage, keyType);
    if (current?.info.fingerprintSha256 === info.fingerprintSha256) {
      return { certificate: current, warnings: validated.warnings, usedPendingKey: false, unchanged: true };
    }
    const clash = await loadVersion(storage, keyType, info.serialNumber);
    if (clash && clash.info.fingerprintSha256 !== info.fingerprintSha256) {
      throw bad(ErrorCodes.CERT_INVALID, `a different ${keyType} certificate with serial ${info.serialNumber} is already stored; refusing to overwrite it`);
    }
    const certificate = await activateCertificate(
      storage,
      { certPem: validated.leafPem, chainPem: validated.chainPem, keyPem: validated.keyPem, keyType, source: 'manual' },
      { trustAnchorPem: validated.trustAnchorPem, ...(options.gate && { gate: options.gate }) },
    );
    if (pendingSlot) await deletePendingKey(storage, pendingSlot);
    await appendAudit(storage, {
      time: auditTime(nowMs),
      action: 'imported',
      actor: options.actor ?? 'cli',
      keyType,
      subject: info.subject,
      serial: info.serialNumber,
      ...(current && { oldFingerprint: current.info.fingerprintSha256 }),
      newFingerprint: info.fingerprintSha256,
    });
    return { certificate, ...(current && { replaced: current }), warnings: validated.warnings, usedPendingKey, unchanged: false };
  } finally {
    await release();
  }
}
