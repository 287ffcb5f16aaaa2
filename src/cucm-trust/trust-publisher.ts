/**
 * Publishing the gateway's leaf to CUCM before serving it (issue 5).
 *
 * Phones trust an HTTPS server by asking CUCM's Trust Verification Service,
 * which does not build chains: the exact leaf must be in the cluster's
 * Phone-trust (and, for Jabber and CUCM's own calls, tomcat-trust). So every
 * activation goes: publish to each cluster's publisher, wait `switchDelayMs`
 * for CUCM to spread it, switch, and after `removeAfterMs` remove the leaf
 * that was replaced. A publisher that refuses means the new leaf is not
 * served: the old one stays, and the caller (import, renewal) reports why.
 *
 * As an ActivationGate it sits in every path that switches the active
 * pointer: first issuance, renewal, import and rollback.
 */
import { readFile, stat } from 'node:fs/promises';
import type { UcgateConfig, CucmTrustConfig, CucmTrustTarget } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { ActivationGate, LeafToServe } from '../certificates/certificate-store.js';
import type { CertificateInfo } from '../pki/certificate-info.js';
import { appendAudit, auditTime, type AuditActor } from '../certificates/audit-log.js';
import { UcgateError, ErrorCodes } from '../errors.js';
import { readClusterCa } from '../upstream/upstream-node.js';
import { CertmgrClient, type CertmgrTarget, type PlatformCredentials } from './certmgr-client.js';
import { loadLedger, saveLedger, type PublishedLeaf, type PublishedTarget } from './trust-ledger.js';

const LOCK = 'cucm-trust';
/** Removed entries are kept this long for `cert status`, then dropped from the ledger. */
const KEEP_REMOVED_MS = 90 * 86_400_000;

export interface TrustPublisherOptions {
  readonly config: UcgateConfig;
  readonly storage: Storage & Locker;
  readonly clock: Clock;
  readonly log: Logger;
  readonly actor: AuditActor;
  /** Lines for a person watching (the CLI prints them). */
  readonly progress?: (line: string) => void;
}

/** The publisher of every cluster named in cucmTrust (default: every cluster, through its first node). */
export function trustTargets(config: UcgateConfig, trust: CucmTrustConfig): CertmgrTarget[] {
  const wanted: readonly CucmTrustTarget[] = trust.clusters ?? config.clusters.map((cluster) => ({ cluster: cluster.name }));
  return wanted.map((target) => {
    const cluster = config.clusters.find((c) => c.name === target.cluster);
    if (!cluster) throw new UcgateError(ErrorCodes.CONFIG_INVALID, `certificates.cucmTrust: unknown cluster ${target.cluster}`);
    const first = cluster.nodes[0];
    const url = target.url ?? first?.url;
    if (!url) throw new UcgateError(ErrorCodes.CONFIG_INVALID, `certificates.cucmTrust: cluster ${cluster.name} has no publisher url`);
    const address = target.url ? target.address : first?.address;
    const caPem = readClusterCa(cluster);
    return { cluster: cluster.name, url: new URL(url).origin, verify: cluster.tls.verify, ...(address && { address }), ...(caPem && { caPem }) };
  });
}

/** `username:password` on the first line of a file only its owner may read. */
export async function readPlatformCredentials(file: string): Promise<PlatformCredentials> {
  const key = 'certificates.cucmTrust.credentialsFile';
  let mode: number;
  let text: string;
  try {
    mode = (await stat(file)).mode;
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UcgateError(ErrorCodes.CUCM_TRUST, `${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new UcgateError(ErrorCodes.CUCM_TRUST, `${key}: ${file} is readable by others (mode ${(mode & 0o777).toString(8)}): chmod 600 it`);
  }
  const line = text.split(/\r?\n/, 1)[0]!.trim();
  const colon = line.indexOf(':');
  if (colon <= 0 || colon === line.length - 1) throw new UcgateError(ErrorCodes.CUCM_TRUST, `${key}: ${file} must hold one line username:password`);
  return { username: line.slice(0, colon), password: line.slice(colon + 1) };
}

const describeTarget = (target: CertmgrTarget, stores: readonly string[]) => `cluster ${target.cluster} (${new URL(target.url).host}): ${stores.join(', ')}`;

export class TrustPublisher implements ActivationGate {
  readonly #options: TrustPublisherOptions;
  readonly #trust: CucmTrustConfig;
  readonly #targets: CertmgrTarget[];

  constructor(options: TrustPublisherOptions) {
    const trust = options.config.certificates.cucmTrust;
    if (!trust) throw new TypeError('TrustPublisher needs certificates.cucmTrust');
    this.#options = options;
    this.#trust = trust;
    this.#targets = trustTargets(options.config, trust);
  }

  get targets(): readonly CertmgrTarget[] {
    return this.#targets;
  }

  async #client(): Promise<CertmgrClient> {
    return new CertmgrClient(await readPlatformCredentials(this.#trust.credentialsFile), this.#trust.timeoutMs);
  }

  async #withLedger<T>(change: (leaves: PublishedLeaf[]) => Promise<T>): Promise<T> {
    const { storage } = this.#options;
    const release = await storage.lock(LOCK);
    try {
      const leaves = await loadLedger(storage);
      const result = await change(leaves);
      const now = this.#options.clock.now();
      await saveLedger(storage, leaves.filter((leaf) => leaf.removedAt === undefined || now - leaf.removedAt < KEEP_REMOVED_MS));
      return result;
    } finally {
      await release();
    }
  }

  /**
   * Puts the leaf into every cluster's trust stores that does not hold it yet.
   * Resolves with when it may be served (the latest publication plus the
   * switch delay); throws naming every cluster that refused.
   */
  async publish(next: LeafToServe): Promise<number> {
    const { clock, log } = this.#options;
    const stores = this.#trust.stores;
    const client = await this.#client();
    const { fresh, failures, readyAt } = await this.#withLedger(async (leaves) => {
      let entry = leaves.find((leaf) => leaf.fingerprint === next.info.fingerprintSha256 && leaf.removedAt === undefined);
      const held = new Set(entry?.targets.filter((t) => stores.every((s) => t.stores.includes(s))).map((t) => t.cluster) ?? []);
      const missing = this.#targets.filter((target) => !held.has(target.cluster));
      const results = await Promise.allSettled(
        missing.map(async (target) => {
          this.#options.progress?.(`publishing the ${next.keyType} leaf (serial ${next.info.serialNumber}) to ${describeTarget(target, stores)}`);
          await client.addTrust(target, stores, next.leafPem, `ucgate ${next.info.commonName} serial ${next.info.serialNumber}`);
          return { cluster: target.cluster, url: target.url, stores, publishedAt: clock.now() } satisfies PublishedTarget;
        }),
      );
      const fresh = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
      if (fresh.length > 0 || (entry && entry.removeAt !== undefined)) {
        const targets = [...(entry?.targets.filter((t) => !fresh.some((f) => f.cluster === t.cluster)) ?? []), ...fresh];
        const updated: PublishedLeaf = {
          fingerprint: next.info.fingerprintSha256,
          serial: next.info.serialNumber,
          keyType: next.keyType,
          subject: next.info.subject,
          leafPem: next.leafPem,
          targets,
          // Landed on some clusters but will not be served: clean it up at once.
          ...(failures.length > 0 && { supersededAt: clock.now(), removeAt: clock.now() }),
        };
        if (entry) leaves.splice(leaves.indexOf(entry), 1, updated);
        else leaves.push(updated);
        entry = updated;
      }
      const readyAt = Math.max(0, ...(entry?.targets.map((t) => t.publishedAt) ?? [])) + this.#trust.switchDelayMs;
      return { fresh, failures, readyAt };
    });
    for (const target of fresh) {
      log.info({ event: 'cucm_trust_published', keyType: next.keyType, serial: next.info.serialNumber, cluster: target.cluster, stores }, 'leaf published to CUCM');
      const detail = `cucm ${target.cluster} ${new URL(target.url).host}: ${stores.join(', ')}`;
      await this.#audit({ action: 'published', keyType: next.keyType, subject: next.info.subject, serial: next.info.serialNumber, newFingerprint: next.info.fingerprintSha256, detail });
    }
    if (failures.length > 0) {
      log.error({ event: 'cucm_trust_publish_failed', keyType: next.keyType, serial: next.info.serialNumber, errors: failures }, 'could not publish the leaf to CUCM');
      throw new UcgateError(ErrorCodes.CUCM_TRUST, `the new ${next.keyType} certificate is not served: publishing it to CUCM failed: ${failures.join('; ')}`);
    }
    return readyAt;
  }

  /** Publishes, then waits out the switch delay. */
  async beforeActivate(next: LeafToServe): Promise<void> {
    const { clock, log } = this.#options;
    const readyAt = await this.publish(next);
    const waitMs = readyAt - clock.now();
    if (waitMs <= 0) return;
    log.info({ event: 'cucm_trust_switch_wait', keyType: next.keyType, serial: next.info.serialNumber, waitMs }, 'waiting for CUCM to spread the new leaf before serving it');
    this.#options.progress?.(`serving it in ${Math.ceil(waitMs / 1000)} s, once CUCM has spread it (interrupting now keeps the current certificate)`);
    await new Promise<void>((resolve) => clock.setTimeout(resolve, waitMs));
  }

  /** The replaced leaf starts its grace period; the served one is never due for removal. */
  async afterActivate(next: LeafToServe, replaced: CertificateInfo | undefined): Promise<void> {
    const { clock, log } = this.#options;
    try {
      await this.#withLedger(async (leaves) => {
        for (let i = 0; i < leaves.length; i++) {
          const leaf = leaves[i]!;
          if (leaf.removedAt !== undefined) continue;
          if (leaf.fingerprint === next.info.fingerprintSha256 && leaf.removeAt !== undefined) {
            const { supersededAt: _s, removeAt: _r, ...kept } = leaf;
            leaves[i] = kept;
          } else if (replaced && leaf.fingerprint === replaced.fingerprintSha256) {
            leaves[i] = { ...leaf, supersededAt: clock.now(), removeAt: clock.now() + this.#trust.removeAfterMs };
          }
        }
      });
    } catch (err) {
      log.error({ event: 'cucm_trust_ledger_failed', err: (err as Error).message }, 'could not record the replaced leaf for removal from CUCM');
    }
  }

  /**
   * Removes from CUCM every leaf whose grace period is over, unless it is
   * served again (`served`: fingerprints active now). Resolves with the
   * time the next removal is due, if any. Failures are logged and retried.
   */
  async removeDue(served: ReadonlySet<string>): Promise<number | undefined> {
    const { clock, log } = this.#options;
    const now = clock.now();
    const done: PublishedLeaf[] = [];
    const next = await this.#withLedger(async (leaves) => {
      const due = leaves.filter((leaf) => leaf.removedAt === undefined && leaf.removeAt !== undefined && leaf.removeAt <= now && !served.has(leaf.fingerprint));
      if (due.length === 0) return earliest(leaves);
      const client = await this.#client();
      for (const leaf of due) {
        const removedFrom = new Set(leaf.removedFrom ?? []);
        for (const held of leaf.targets) {
          if (removedFrom.has(held.cluster)) continue;
          const target = this.#targets.find((t) => t.cluster === held.cluster) ?? { cluster: held.cluster, url: held.url, verify: true };
          try {
            for (const store of held.stores) await client.removeTrust(target, store, leaf.serial);
            removedFrom.add(held.cluster);
          } catch (err) {
            log.warn({ event: 'cucm_trust_remove_failed', serial: leaf.serial, cluster: held.cluster, err: (err as Error).message }, 'could not remove a replaced leaf from CUCM; retrying later');
          }
        }
        const complete = leaf.targets.every((t) => removedFrom.has(t.cluster));
        const updated: PublishedLeaf = { ...leaf, removedFrom: [...removedFrom], ...(complete && { removedAt: now }) };
        leaves.splice(leaves.indexOf(leaf), 1, updated);
        if (complete) done.push(updated);
      }
      return earliest(leaves);
    });
    for (const leaf of done) {
      log.info({ event: 'cucm_trust_removed', serial: leaf.serial, clusters: leaf.targets.map((t) => t.cluster) }, 'replaced leaf removed from CUCM');
      const detail = `cucm ${leaf.targets.map((t) => t.cluster).join(', ')}: ${this.#trust.stores.join(', ')}`;
      await this.#audit({ action: 'unpublished', keyType: leaf.keyType, subject: leaf.subject, serial: leaf.serial, oldFingerprint: leaf.fingerprint, detail });
    }
    return next;
  }

  /** The ledger as it stands, for `cert status`. */
  ledger(): Promise<PublishedLeaf[]> {
    return loadLedger(this.#options.storage);
  }

  /** A failing audit write is logged; it never undoes a publication or a removal. */
  async #audit(entry: Omit<Parameters<typeof appendAudit>[1], 'time' | 'actor'>): Promise<void> {
    try {
      await appendAudit(this.#options.storage, { time: auditTime(this.#options.clock.now()), actor: this.#options.actor, ...entry });
    } catch (err) {
      this.#options.log.error({ event: 'audit_failed', err: (err as Error).message }, 'could not write the audit log');
    }
  }
}

function earliest(leaves: readonly PublishedLeaf[]): number | undefined {
  const times = leaves.filter((leaf) => leaf.removedAt === undefined && leaf.removeAt !== undefined).map((leaf) => leaf.removeAt!);
  return times.length > 0 ? Math.min(...times) : undefined;
}

/** The publisher for `config`, or undefined when cucmTrust is not configured. */
export function createTrustPublisher(options: TrustPublisherOptions): TrustPublisher | undefined {
  return options.config.certificates.cucmTrust ? new TrustPublisher(options) : undefined;
}
