/**
 * `cert rollback` without the CLI: serve the previous version again. It is a
 * swap of the `active` and `previous` pointers, so running it twice undoes
 * it, and no certificate or key is ever rewritten.
 */
import type { KeyType } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import { loadActiveCertificate, loadPreviousSerial, loadVersion, activateVersion, type StoredCertificate, type ActivationGate } from './certificate-store.js';
import { appendAudit, auditTime, type AuditActor } from './audit-log.js';
import { UcgateError, ErrorCodes } from '../errors.js';
import { hasExpired } from './renewal-policy.js';

export interface RollbackOptions {
  readonly storage: Storage & Locker;
  /** The configured key types. */
  readonly keyTypes: readonly KeyType[];
  /** Which one to roll back; may be omitted when only one key type has a previous version. */
  readonly keyType?: KeyType;
  readonly nowMs?: number;
  readonly actor?: AuditActor;
  /** CUCM trust publishing: a leaf already removed from CUCM is published again before it is served. */
  readonly gate?: ActivationGate;
}

export interface RollbackResult {
  readonly keyType: KeyType;
  /** Now active. */
  readonly restored: StoredCertificate;
  /** Now `previous`, so a second rollback brings it back. */
  readonly replaced: StoredCertificate | undefined;
}

function noPrevious(message: string): UcgateError {
  return new UcgateError(ErrorCodes.CERT_NO_PREVIOUS, message, { exitCode: 2 });
}

/**
 * Re-activates the previous certificate of one key type and writes a
 * `rolled-back` audit line. Throws (exit 2) when there is no previous version,
 * when it has expired, or when several key types could be meant.
 */
export async function rollbackCertificate(options: RollbackOptions): Promise<RollbackResult> {
  const { storage } = options;
  const nowMs = options.nowMs ?? Date.now();
  let keyType = options.keyType;
  if (keyType && !options.keyTypes.includes(keyType)) {
    throw new UcgateError(ErrorCodes.USAGE, `--key-type ${keyType} is not in certificates.keyTypes (${options.keyTypes.join(', ')})`, { exitCode: 2 });
  }
  if (!keyType) {
    const candidates: KeyType[] = [];
    for (const type of options.keyTypes) if (await loadPreviousSerial(storage, type)) candidates.push(type);
    if (candidates.length === 0) throw noPrevious('no previous certificate to roll back to');
    if (candidates.length > 1) throw noPrevious(`several key types have a previous certificate (${candidates.join(', ')}): choose one with --key-type`);
    keyType = candidates[0]!;
  }
  const release = await storage.lock(`issue-${keyType}`);
  try {
    const serial = await loadPreviousSerial(storage, keyType);
    if (!serial) throw noPrevious(`no previous ${keyType} certificate to roll back to`);
    const restored = await loadVersion(storage, keyType, serial);
    if (!restored) throw noPrevious(`the previous ${keyType} certificate (serial ${serial}) is no longer in the store`);
    if (hasExpired(restored, nowMs)) {
      throw noPrevious(`the previous ${keyType} certificate (serial ${serial}) expired on ${restored.info.notAfter}; not rolling back to it`);
    }
    const replaced = await loadActiveCertificate(storage, keyType);
    await activateVersion(storage, keyType, serial, options.gate);
    await appendAudit(storage, {
      time: auditTime(nowMs),
      action: 'rolled-back',
      actor: options.actor ?? 'cli',
      keyType,
      subject: restored.info.subject,
      serial: restored.info.serialNumber,
      ...(replaced && { oldFingerprint: replaced.info.fingerprintSha256 }),
      newFingerprint: restored.info.fingerprintSha256,
    });
    return { keyType, restored, replaced };
  } finally {
    await release();
  }
}
