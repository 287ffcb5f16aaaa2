/**
 * The CUCM 12.5 path: a server without the certificate API (it answers 404)
 * cannot be given the leaf by ucgate, so an administrator uploads it by hand
 * and says so (`ucgate cert confirm-trust`, or the admin API of a running
 * gateway). Until then the activation waits and the current leaf is served:
 * the waiting gate re-reads the ledger every few seconds (another process
 * sharing the store may record the confirmation) and is woken at once by a
 * confirmation in this process; a newer leaf of the same key type withdraws
 * an older one still waiting. `pending` lists what waits where, with the PEM
 * to upload; `confirm` records an upload, per leaf and per server.
 */
import type { CucmTrustConfig } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import type { Clock, ClockTimer } from '../clock.js';
import type { Logger } from '../log.js';
import type { LeafToServe } from '../certificates/certificate-store.js';
import { loadActiveCertificate } from '../certificates/certificate-store.js';
import type { AuditActor, AuditEntry } from '../certificates/audit-log.js';
import { UcgateError, ErrorCodes } from '../errors.js';
import { normaliseSerial } from './certmgr-client.js';
import { loadLedger, targetKey, type AwaitingTarget, type PublishedLeaf, type PublishedTarget } from './trust-ledger.js';
import { hostOf } from './trust-targets.js';
import type { TrustMetrics } from './trust-status.js';

/** A gate waiting for an administrator re-reads the ledger this often (another process may confirm). */
const CONFIRM_POLL_MS = 2_000;

/** `ucgate cert confirm-trust` / `POST /api/v1/cucm-trust/confirm`: which upload by hand to confirm. */
export interface ConfirmRequest {
  /** The leaf; may be left out when only one waits. */
  readonly serial?: string;
  /** Every leaf waiting, when several do. */
  readonly all?: boolean;
  /** Only this cluster's servers, or only this server (`node`, with or without `cluster`). */
  readonly cluster?: string;
  readonly node?: string;
  readonly actor: AuditActor;
}

export interface ConfirmedLeaf {
  readonly keyType: string;
  readonly serial: string;
  readonly fingerprint: string;
  /** `cluster/node` of each server confirmed now. */
  readonly confirmed: readonly string[];
  /** Servers of this leaf that still wait. */
  readonly stillAwaiting: readonly string[];
}

/** A leaf some server waits for, as `confirm-trust --list` and the admin API show it. */
export interface PendingLeaf {
  readonly keyType: string;
  readonly serial: string;
  readonly fingerprint: string;
  readonly subject: string;
  readonly leafPem: string;
  readonly stores: readonly string[];
  readonly awaiting: readonly { readonly cluster: string; readonly node: string; readonly url: string; readonly since: string }[];
}

/** What the confirmations share with the publisher (trust-publisher.ts). */
export interface ConfirmationDeps {
  readonly storage: Storage & Locker;
  readonly clock: Clock;
  readonly log: Logger;
  readonly trust: CucmTrustConfig;
  readonly metrics: TrustMetrics | undefined;
  /** Lines for a person watching. */
  readonly progress: (line: string) => void;
  /** Changes the ledger under the publisher's lock. */
  readonly withLedger: <T>(change: (leaves: PublishedLeaf[]) => Promise<T>) => Promise<T>;
  /** Writes an audit line (by the publisher's actor unless `actor` is given); a failing write is logged. */
  readonly audit: (entry: Omit<AuditEntry, 'time' | 'actor'>, actor?: AuditActor) => Promise<void>;
}

export class TrustConfirmations {
  readonly #deps: ConfirmationDeps;
  /** Gates waiting for a confirmation, woken by `confirm` in this process. */
  readonly #wakers = new Set<() => void>();
  #stopped = false;

  constructor(deps: ConfirmationDeps) {
    this.#deps = deps;
  }

  /** Ends every wait for a confirmation (the process is stopping): the activation waiting fails, nothing changes. */
  stop(): void {
    this.#stopped = true;
    for (const wake of [...this.#wakers]) wake();
  }

  /**
   * Waits until every server without an API has been confirmed for `next`
   * (by this process or another one sharing the store); resolves with when
   * it may be served: the switch delay counts from the last confirmation.
   */
  async awaitConfirmation(next: LeafToServe, awaiting: readonly AwaitingTarget[]): Promise<number> {
    const { clock, log, storage } = this.#deps;
    const startedAt = clock.now();
    await this.#abandonOthers(next);
    const nodes = awaiting.map((a) => targetKey(a));
    log.warn(
      { event: 'cucm_trust_waiting_for_confirmation', keyType: next.keyType, serial: next.info.serialNumber, nodes },
      `the new ${next.keyType} certificate waits for \`ucgate cert confirm-trust\` (${nodes.join(', ')}); the current one is served meanwhile`,
    );
    this.#deps.progress(
      `no certificate API on ${nodes.join(', ')} (CUCM before 14): upload the leaf (serial ${next.info.serialNumber}; \`ucgate cert confirm-trust --list --out FILE\` writes it) to ${this.#deps.trust.stores.join(' and ')} on each, then run \`ucgate cert confirm-trust\`. Waiting (interrupting keeps the current certificate).`,
    );
    for (;;) {
      if (this.#stopped) throw new UcgateError(ErrorCodes.CUCM_TRUST, `the new ${next.keyType} certificate is not served: stopped while waiting for \`ucgate cert confirm-trust\``);
      const entry = (await loadLedger(storage)).find((leaf) => leaf.fingerprint === next.info.fingerprintSha256 && leaf.removedAt === undefined);
      if (!entry || (entry.supersededAt !== undefined && entry.supersededAt >= startedAt)) {
        throw new UcgateError(ErrorCodes.CUCM_TRUST, `the new ${next.keyType} certificate is not served: it was withdrawn while waiting for \`ucgate cert confirm-trust\``);
      }
      if ((entry.awaiting?.length ?? 0) === 0) {
        log.info({ event: 'cucm_trust_confirmed_all', keyType: next.keyType, serial: next.info.serialNumber }, 'every CUCM server holds the new leaf');
        return Math.max(0, ...entry.targets.map((t) => t.publishedAt)) + this.#deps.trust.switchDelayMs;
      }
      await this.#pause(CONFIRM_POLL_MS);
    }
  }

  #pause(ms: number): Promise<void> {
    const { clock } = this.#deps;
    return new Promise<void>((resolve) => {
      let timer: ClockTimer | undefined;
      const done = () => {
        if (timer) clock.clearTimeout(timer);
        this.#wakers.delete(done);
        resolve();
      };
      this.#wakers.add(done);
      timer = clock.setTimeout(done, ms);
    });
  }

  /** A newer leaf of the same key type now waits: older ones waiting (never served) are withdrawn. */
  async #abandonOthers(next: LeafToServe): Promise<void> {
    const { storage, clock, log } = this.#deps;
    const active = await loadActiveCertificate(storage, next.keyType).catch(() => undefined);
    const dropped = await this.#deps.withLedger(async (leaves) => {
      const out: PublishedLeaf[] = [];
      leaves.forEach((leaf, i) => {
        if (leaf.removedAt !== undefined || leaf.keyType !== next.keyType || leaf.fingerprint === next.info.fingerprintSha256) return;
        if ((leaf.awaiting?.length ?? 0) === 0 || leaf.fingerprint === active?.info.fingerprintSha256) return;
        const { awaiting: _dropped, ...rest } = leaf;
        leaves[i] = { ...rest, supersededAt: clock.now(), removeAt: clock.now() };
        out.push(leaf);
      });
      return out;
    });
    for (const leaf of dropped) {
      log.info({ event: 'cucm_trust_confirmation_withdrawn', keyType: leaf.keyType, serial: leaf.serial }, 'an older leaf that waited for confirm-trust is withdrawn: a newer one replaces it');
    }
  }

  /**
   * Records an administrator's upload by hand: the servers named (default:
   * every one waiting) hold the leaf from now on. Throws (exit code 2) when
   * nothing matches, or when several leaves wait and none is named.
   */
  async confirm(request: ConfirmRequest): Promise<ConfirmedLeaf[]> {
    const { clock, log } = this.#deps;
    const matches = (a: AwaitingTarget) => (request.cluster === undefined || a.cluster === request.cluster) && (request.node === undefined || a.node === request.node);
    const done = await this.#deps.withLedger(async (leaves) => {
      const waiting = leaves.filter((leaf) => leaf.removedAt === undefined && leaf.removeAt === undefined && (leaf.awaiting?.length ?? 0) > 0);
      const listed = waiting.map((leaf) => `${leaf.keyType} serial ${leaf.serial}`).join(', ');
      const chosen = request.serial === undefined ? waiting : waiting.filter((leaf) => normaliseSerial(leaf.serial) === normaliseSerial(request.serial!));
      if (chosen.length === 0) {
        const message =
          waiting.length === 0
            ? 'no leaf waits for confirmation: every CUCM server took it through its certificate API, or none was published yet'
            : `no leaf with serial ${request.serial} waits for confirmation (waiting: ${listed})`;
        throw new UcgateError(ErrorCodes.USAGE, message, { exitCode: 2 });
      }
      if (chosen.length > 1 && !request.all) {
        throw new UcgateError(ErrorCodes.USAGE, `${chosen.length} leaves wait for confirmation (${listed}): name one with --serial, or confirm them all with --all`, { exitCode: 2 });
      }
      const now = clock.now();
      const out: { leaf: PublishedLeaf; taken: AwaitingTarget[]; left: AwaitingTarget[] }[] = [];
      for (const leaf of chosen) {
        const taken = leaf.awaiting!.filter(matches);
        if (taken.length === 0) continue;
        const left = leaf.awaiting!.filter((a) => !matches(a));
        const takenKeys = new Set(taken.map((a) => targetKey(a)));
        const targets: PublishedTarget[] = [
          ...leaf.targets.filter((t) => !takenKeys.has(targetKey(t))),
          ...taken.map((a) => ({ cluster: a.cluster, node: a.node, url: a.url, stores: a.stores, publishedAt: now, manual: true as const, confirmedBy: request.actor })),
        ];
        const { awaiting: _old, ...rest } = leaf;
        const updated: PublishedLeaf = { ...rest, targets, ...(left.length > 0 && { awaiting: left }) };
        leaves.splice(leaves.indexOf(leaf), 1, updated);
        out.push({ leaf, taken, left });
      }
      if (out.length === 0) {
        const which = [request.cluster && `cluster ${request.cluster}`, request.node && `node ${request.node}`].filter(Boolean).join(' ');
        throw new UcgateError(ErrorCodes.USAGE, `no server of ${which} waits for confirmation of ${chosen.map((l) => `serial ${l.serial}`).join(', ')}`, { exitCode: 2 });
      }
      return out;
    });
    for (const { leaf, taken } of done) {
      for (const a of taken) {
        this.#deps.metrics?.publications.inc({ cluster: a.cluster, node: a.node, result: 'confirmed' });
        this.#deps.metrics?.awaiting.set({ cluster: a.cluster, node: a.node }, 0);
        this.#deps.metrics?.listed.set({ cluster: a.cluster, node: a.node }, 1);
        const detail = `cucm ${a.cluster} node ${a.node} ${hostOf(a.url)}: ${a.stores.join(', ')} (uploaded by hand, confirmed)`;
        await this.#deps.audit({ action: 'published', keyType: leaf.keyType, subject: leaf.subject, serial: leaf.serial, newFingerprint: leaf.fingerprint, detail }, request.actor);
      }
      log.info(
        { event: 'cucm_trust_confirmed', keyType: leaf.keyType, serial: leaf.serial, nodes: taken.map((a) => targetKey(a)), by: request.actor },
        'an administrator confirmed the leaf is in these CUCM servers\' trust stores',
      );
    }
    for (const wake of [...this.#wakers]) wake();
    return done.map(({ leaf, taken, left }) => ({
      keyType: leaf.keyType,
      serial: leaf.serial,
      fingerprint: leaf.fingerprint,
      confirmed: taken.map((a) => targetKey(a)),
      stillAwaiting: left.map((a) => targetKey(a)),
    }));
  }

  /** Leaves some server waits for (an upload by hand and `confirm-trust`), with their PEMs. */
  async pending(): Promise<PendingLeaf[]> {
    return (await loadLedger(this.#deps.storage))
      .filter((leaf) => leaf.removedAt === undefined && leaf.removeAt === undefined && (leaf.awaiting?.length ?? 0) > 0)
      .map((leaf) => ({
        keyType: leaf.keyType,
        serial: leaf.serial,
        fingerprint: leaf.fingerprint,
        subject: leaf.subject,
        leafPem: leaf.leafPem,
        stores: this.#deps.trust.stores,
        awaiting: leaf.awaiting!.map((a) => ({ cluster: a.cluster, node: a.node, url: a.url, since: new Date(a.since).toISOString() })),
      }));
  }
}
