/**
 * Publishing the gateway's leaf to CUCM before serving it (issue 5, per node
 * since issue 16).
 *
 * Phones trust an HTTPS server by asking CUCM's Trust Verification Service,
 * which does not build chains: the exact leaf must be in the cluster's
 * Phone-trust (and, for Jabber and CUCM's own calls, tomcat-trust). Cisco
 * documents the certificate-management API (CUCM 14+) per server, so every
 * activation goes: publish to each server of each cluster, read each server's
 * trust-store listing back until it shows the leaf, wait `switchDelayMs` for
 * CUCM to spread it, switch, and after `removeAfterMs` remove the leaf that
 * was replaced. A server that refuses means the new leaf is not served: the
 * old one stays, and the caller (import, renewal) reports why.
 *
 * A server without the API (CUCM 12.5: it answers 404) is not a failure: the
 * gate logs what an administrator has to upload where, and waits until
 * `ucgate cert confirm-trust` (CLI, or the admin API of a running gateway)
 * says it is done; the old leaf is served meanwhile.
 *
 * As an ActivationGate it sits in every path that switches the active
 * pointer: first issuance, renewal, import and rollback.
 *
 * This module is the orchestration: publishing to and verifying on each
 * server, the switch, and removal after the grace period. Which servers, and
 * the credentials: trust-targets.ts; the 12.5 wait for `confirm-trust`:
 * trust-confirmation.ts; metrics and the status document: trust-status.ts.
 */
import type { Registry } from 'prom-client';
import type { UcgateConfig, CucmTrustConfig } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { ActivationGate, LeafToServe } from '../certificates/certificate-store.js';
import type { CertificateInfo } from '../pki/certificate-info.js';
import { appendAudit, auditTime, type AuditActor, type AuditEntry } from '../certificates/audit-log.js';
import { UcgateError, ErrorCodes } from '../errors.js';
import { CertmgrClient, listsLeaf, type CertmgrTarget } from './certmgr-client.js';
import { loadLedger, saveLedger, targetKey, type AwaitingTarget, type PublishedLeaf, type PublishedTarget } from './trust-ledger.js';
import { trustTargets, readPlatformCredentials, hostOf, describeTarget, heldTarget } from './trust-targets.js';
import { TrustConfirmations, type ConfirmRequest, type ConfirmedLeaf, type PendingLeaf } from './trust-confirmation.js';
import { TrustMetrics, PUBLICATION_RESULTS, trustStatus, type TrustStatusView } from './trust-status.js';

export { trustTargets, readPlatformCredentials } from './trust-targets.js';
export type { ConfirmRequest, ConfirmedLeaf, PendingLeaf } from './trust-confirmation.js';
export type { TrustNodeView, TrustLeafView, TrustStatusView } from './trust-status.js';

const LOCK = 'cucm-trust';
/** Removed entries are kept this long for `cert status`, then dropped from the ledger. */
const KEEP_REMOVED_MS = 90 * 86_400_000;
/** A server that took the leaf may list it a moment later: its listing is read this many times, this far apart. */
const VERIFY_TRIES = 3;
const VERIFY_SPACING_MS = 1_000;

export interface TrustPublisherOptions {
  readonly config: UcgateConfig;
  readonly storage: Storage & Locker;
  readonly clock: Clock;
  readonly log: Logger;
  readonly actor: AuditActor;
  /** Lines for a person watching (the CLI prints them). */
  readonly progress?: (line: string) => void;
  /** The gateway's registry: per-node publication metrics (the CLI has none). */
  readonly registry?: Registry;
}

/** What `publish` left behind: when the leaf may be served, and the servers still waiting for an administrator. */
export interface PublishOutcome {
  readonly readyAt: number;
  readonly awaiting: readonly AwaitingTarget[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class TrustPublisher implements ActivationGate {
  readonly #options: TrustPublisherOptions;
  readonly #trust: CucmTrustConfig;
  readonly #targets: CertmgrTarget[];
  readonly #metrics: TrustMetrics | undefined;
  /** The last failure per server (`cluster/node`), for the status document; cleared by a success. */
  readonly #lastErrors = new Map<string, { at: number; message: string }>();
  /** The 12.5 path: servers without the API wait for `confirm-trust` (trust-confirmation.ts). */
  readonly #confirmations: TrustConfirmations;

  constructor(options: TrustPublisherOptions) {
    const trust = options.config.certificates.cucmTrust;
    if (!trust) throw new TypeError('TrustPublisher needs certificates.cucmTrust');
    this.#options = options;
    this.#trust = trust;
    this.#targets = trustTargets(options.config, trust);
    this.#metrics = options.registry ? new TrustMetrics(options.registry) : undefined;
    if (this.#metrics) {
      for (const target of this.#targets) {
        this.#metrics.awaiting.set({ cluster: target.cluster, node: target.node }, 0);
        // Every result at 0 per server, so an alert on increase(...{result="failed"}) sees the first failure.
        for (const result of PUBLICATION_RESULTS) this.#metrics.publications.inc({ cluster: target.cluster, node: target.node, result }, 0);
      }
    }
    this.#confirmations = new TrustConfirmations({
      storage: options.storage,
      clock: options.clock,
      log: options.log,
      trust,
      metrics: this.#metrics,
      progress: (line) => options.progress?.(line),
      withLedger: (change) => this.#withLedger(change),
      audit: (entry, actor) => this.#audit(entry, actor),
    });
  }

  get targets(): readonly CertmgrTarget[] {
    return this.#targets;
  }

  /** Ends every wait for a confirmation (the process is stopping): the activation waiting fails, nothing changes. */
  stop(): void {
    this.#confirmations.stop();
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

  /** Reads the stores of one server back until each lists the leaf; throws when one still does not. */
  async #verify(client: CertmgrClient, target: CertmgrTarget, stores: readonly string[], next: LeafToServe): Promise<void> {
    const leaf = { fingerprint: next.info.fingerprintSha256, serial: next.info.serialNumber };
    for (const store of stores) {
      for (let attempt = 1; ; attempt++) {
        let problem: Error | undefined;
        try {
          if (listsLeaf(await client.listTrust(target, store), leaf)) break;
        } catch (err) {
          problem = err as Error;
        }
        if (attempt >= VERIFY_TRIES) {
          throw problem ?? new UcgateError(ErrorCodes.CUCM_TRUST, `cluster ${target.cluster} node ${target.node} (${hostOf(target.url)}): took the leaf but its ${store} listing does not show it (serial ${next.info.serialNumber})`);
        }
        await sleep(VERIFY_SPACING_MS);
      }
    }
  }

  /**
   * Puts the leaf into the trust stores of every server that does not hold
   * it yet, and reads each one's stores back. Resolves with when it may be
   * served (the latest publication plus the switch delay) and the servers
   * without an API that wait for an administrator; throws naming every
   * server that refused.
   */
  async publish(next: LeafToServe): Promise<PublishOutcome> {
    const { clock, log } = this.#options;
    const stores = this.#trust.stores;
    const client = await this.#client();
    const key = (target: { cluster: string; node?: string | undefined }) => targetKey(target);
    const { fresh, noApi, failures, awaiting, readyAt } = await this.#withLedger(async (leaves) => {
      let entry = leaves.find((leaf) => leaf.fingerprint === next.info.fingerprintSha256 && leaf.removedAt === undefined);
      const held = new Set(entry?.targets.filter((t) => stores.every((s) => t.stores.includes(s))).map(key) ?? []);
      const waiting = new Set(entry?.awaiting?.map(key) ?? []);
      const missing = this.#targets.filter((target) => !held.has(key(target)) && !waiting.has(key(target)));
      const results = await Promise.allSettled(
        missing.map(async (target) => {
          this.#options.progress?.(`publishing the ${next.keyType} leaf (serial ${next.info.serialNumber}) to ${describeTarget(target, stores)}`);
          const added = await client.addTrust(target, stores, next.leafPem, `ucgate ${next.info.commonName} serial ${next.info.serialNumber}`);
          if (added === 'no-api') return { target, noApi: true as const, since: clock.now() };
          const publishedAt = clock.now();
          await this.#verify(client, target, stores, next);
          this.#options.progress?.(`listed on cluster ${target.cluster} node ${target.node}: ${stores.join(', ')}`);
          return { target, noApi: false as const, publishedAt, verifiedAt: clock.now() };
        }),
      );
      const fresh: PublishedTarget[] = [];
      const noApi: AwaitingTarget[] = [];
      const failures: { target: CertmgrTarget; message: string }[] = [];
      results.forEach((result, i) => {
        const target = missing[i]!;
        if (result.status === 'rejected') failures.push({ target, message: (result.reason as Error).message });
        else if (result.value.noApi) noApi.push({ cluster: target.cluster, node: target.node, url: target.url, stores, since: result.value.since });
        else fresh.push({ cluster: target.cluster, node: target.node, url: target.url, stores, publishedAt: result.value.publishedAt, verifiedAt: result.value.verifiedAt });
      });
      if (fresh.length > 0 || noApi.length > 0 || (entry && entry.removeAt !== undefined)) {
        const freshKeys = new Set(fresh.map(key));
        const targets = [...(entry?.targets.filter((t) => !freshKeys.has(key(t))) ?? []), ...fresh];
        // A leaf that will not be served is not worth an administrator's upload.
        const stillAwaiting = failures.length > 0 ? [] : [...(entry?.awaiting ?? []), ...noApi];
        const updated: PublishedLeaf = {
          fingerprint: next.info.fingerprintSha256,
          serial: next.info.serialNumber,
          keyType: next.keyType,
          subject: next.info.subject,
          leafPem: next.leafPem,
          targets,
          ...(stillAwaiting.length > 0 && { awaiting: stillAwaiting }),
          // Landed on some servers but will not be served: clean it up at once.
          ...(failures.length > 0 && { supersededAt: clock.now(), removeAt: clock.now() }),
        };
        if (entry) leaves.splice(leaves.indexOf(entry), 1, updated);
        else leaves.push(updated);
        entry = updated;
      }
      const readyAt = Math.max(0, ...(entry?.targets.map((t) => t.publishedAt) ?? [])) + this.#trust.switchDelayMs;
      return { fresh, noApi, failures, awaiting: failures.length > 0 ? [] : (entry?.awaiting ?? []), readyAt };
    });
    for (const target of fresh) {
      this.#lastErrors.delete(key(target));
      this.#metrics?.publications.inc({ cluster: target.cluster, node: target.node!, result: 'listed' });
      this.#metrics?.listed.set({ cluster: target.cluster, node: target.node! }, 1);
      log.info(
        { event: 'cucm_trust_published', keyType: next.keyType, serial: next.info.serialNumber, cluster: target.cluster, node: target.node, stores, verified: true },
        'leaf published to a CUCM server and listed in its trust stores',
      );
      const detail = `cucm ${target.cluster} node ${target.node} ${hostOf(target.url)}: ${stores.join(', ')}`;
      await this.#audit({ action: 'published', keyType: next.keyType, subject: next.info.subject, serial: next.info.serialNumber, newFingerprint: next.info.fingerprintSha256, detail });
    }
    for (const { target, message } of failures) {
      this.#lastErrors.set(key(target), { at: clock.now(), message });
      this.#metrics?.publications.inc({ cluster: target.cluster, node: target.node, result: 'failed' });
      this.#metrics?.listed.set({ cluster: target.cluster, node: target.node }, 0);
    }
    if (failures.length > 0) {
      log.error(
        { event: 'cucm_trust_publish_failed', keyType: next.keyType, serial: next.info.serialNumber, nodes: failures.map((f) => key(f.target)), errors: failures.map((f) => f.message) },
        'could not publish the leaf to every CUCM server',
      );
      throw new UcgateError(ErrorCodes.CUCM_TRUST, `the new ${next.keyType} certificate is not served: publishing it to CUCM failed: ${failures.map((f) => f.message).join('; ')}`);
    }
    for (const target of noApi) {
      this.#lastErrors.delete(key(target));
      this.#metrics?.publications.inc({ cluster: target.cluster, node: target.node, result: 'no_api' });
      this.#metrics?.awaiting.set({ cluster: target.cluster, node: target.node }, 1);
    }
    if (noApi.length > 0) {
      const nodes = noApi.map(key);
      log.warn(
        { event: 'cucm_trust_no_api', keyType: next.keyType, serial: next.info.serialNumber, fingerprint: next.info.fingerprintSha256, nodes, stores },
        `no certificate API on ${nodes.join(', ')} (CUCM before 14): upload the leaf to ${stores.join(' and ')} there (OS Administration > Security > Certificate Management), then run \`ucgate cert confirm-trust\`; \`ucgate cert confirm-trust --list --out FILE\` writes the PEM`,
      );
    }
    return { readyAt, awaiting };
  }

  /** Publishes; waits for an administrator where a server has no API; then waits out the switch delay. */
  async beforeActivate(next: LeafToServe): Promise<void> {
    const { clock, log } = this.#options;
    const outcome = await this.publish(next);
    const readyAt = outcome.awaiting.length > 0 ? await this.#confirmations.awaitConfirmation(next, outcome.awaiting) : outcome.readyAt;
    const waitMs = readyAt - clock.now();
    if (waitMs <= 0) return;
    log.info({ event: 'cucm_trust_switch_wait', keyType: next.keyType, serial: next.info.serialNumber, waitMs }, 'waiting for CUCM to spread the new leaf before serving it');
    this.#options.progress?.(`serving it in ${Math.ceil(waitMs / 1000)} s, once CUCM has spread it (interrupting now keeps the current certificate)`);
    await new Promise<void>((resolve) => clock.setTimeout(resolve, waitMs));
  }

  /**
   * Records an administrator's upload by hand: the servers named (default:
   * every one waiting) hold the leaf from now on. Throws (exit code 2) when
   * nothing matches, or when several leaves wait and none is named.
   */
  confirm(request: ConfirmRequest): Promise<ConfirmedLeaf[]> {
    return this.#confirmations.confirm(request);
  }

  /** Leaves some server waits for (an upload by hand and `confirm-trust`), with their PEMs. */
  pending(): Promise<PendingLeaf[]> {
    return this.#confirmations.pending();
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
   * served again (`served`: fingerprints active now). A server that got it by
   * hand gets it removed by hand: that is logged once, for an administrator.
   * Resolves with the time the next removal is due, if any. Failures are
   * logged and retried.
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
        const byHand = new Set(leaf.removeByHand ?? []);
        for (const held of leaf.targets) {
          const key = targetKey(held);
          if (removedFrom.has(key)) continue;
          if (held.manual) {
            removedFrom.add(key);
            byHand.add(key);
            log.warn(
              { event: 'cucm_trust_remove_by_hand', serial: leaf.serial, node: key, stores: held.stores },
              `remove the replaced leaf (serial ${leaf.serial}) from ${held.stores.join(' and ')} on ${key} by hand: that server has no certificate API`,
            );
            continue;
          }
          const target = heldTarget(this.#targets, held);
          try {
            for (const store of held.stores) await client.removeTrust(target, store, leaf.serial);
            removedFrom.add(key);
          } catch (err) {
            log.warn({ event: 'cucm_trust_remove_failed', serial: leaf.serial, cluster: held.cluster, node: held.node, err: (err as Error).message }, 'could not remove a replaced leaf from CUCM; retrying later');
          }
        }
        const complete = leaf.targets.every((t) => removedFrom.has(targetKey(t)));
        const { awaiting: _never, ...rest } = leaf;
        const updated: PublishedLeaf = { ...rest, removedFrom: [...removedFrom], ...(byHand.size > 0 && { removeByHand: [...byHand] }), ...(complete && { removedAt: now }) };
        leaves.splice(leaves.indexOf(leaf), 1, updated);
        if (complete) done.push(updated);
      }
      return earliest(leaves);
    });
    for (const leaf of done) {
      const where = leaf.targets.map((t) => targetKey(t));
      log.info({ event: 'cucm_trust_removed', serial: leaf.serial, nodes: where, byHand: leaf.removeByHand ?? [] }, 'replaced leaf removed from CUCM');
      const handNote = leaf.removeByHand?.length ? ` (by hand: ${leaf.removeByHand.join(', ')})` : '';
      const detail = `cucm ${where.join(', ')}: ${this.#trust.stores.join(', ')}${handNote}`;
      await this.#audit({ action: 'unpublished', keyType: leaf.keyType, subject: leaf.subject, serial: leaf.serial, oldFingerprint: leaf.fingerprint, detail });
    }
    return next;
  }

  /** The ledger as it stands, for `cert status`. */
  ledger(): Promise<PublishedLeaf[]> {
    return loadLedger(this.#options.storage);
  }

  /** `cucmTrust` of the status document: per leaf still of interest, per server, its state. */
  async status(): Promise<TrustStatusView> {
    return trustStatus(await loadLedger(this.#options.storage), this.#targets, this.#trust.stores, this.#lastErrors);
  }

  /** A failing audit write is logged; it never undoes a publication or a removal. */
  async #audit(entry: Omit<AuditEntry, 'time' | 'actor'>, actor: AuditActor = this.#options.actor): Promise<void> {
    try {
      await appendAudit(this.#options.storage, { time: auditTime(this.#options.clock.now()), actor, ...entry });
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
