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
 */
import { readFile, stat } from 'node:fs/promises';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { UcgateConfig, CucmTrustConfig, CucmTrustTarget } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import type { Clock, ClockTimer } from '../clock.js';
import type { Logger } from '../log.js';
import type { ActivationGate, LeafToServe } from '../certificates/certificate-store.js';
import { loadActiveCertificate } from '../certificates/certificate-store.js';
import type { CertificateInfo } from '../pki/certificate-info.js';
import { appendAudit, auditTime, type AuditActor } from '../certificates/audit-log.js';
import { UcgateError, ErrorCodes } from '../errors.js';
import { readClusterCa } from '../upstream/upstream-node.js';
import { CertmgrClient, listsLeaf, normaliseSerial, type CertmgrTarget, type PlatformCredentials } from './certmgr-client.js';
import { loadLedger, saveLedger, targetKey, type AwaitingTarget, type PublishedLeaf, type PublishedTarget } from './trust-ledger.js';

const LOCK = 'cucm-trust';
/** Removed entries are kept this long for `cert status`, then dropped from the ledger. */
const KEEP_REMOVED_MS = 90 * 86_400_000;
/** A gate waiting for an administrator re-reads the ledger this often (another process may confirm). */
const CONFIRM_POLL_MS = 2_000;
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

/** One server's part in one leaf's publication, for the status document. */
export interface TrustNodeView {
  readonly cluster: string;
  readonly node: string;
  readonly url: string;
  /** listed: taken and shown by the API; confirmed: uploaded by hand; awaiting-confirmation; missing; removed; remove-by-hand. */
  readonly state: 'listed' | 'confirmed' | 'awaiting-confirmation' | 'missing' | 'removed' | 'remove-by-hand';
  readonly publishedAt?: string;
  readonly verifiedAt?: string;
  readonly awaitingSince?: string;
  readonly confirmedBy?: string;
}

export interface TrustLeafView {
  readonly keyType: string;
  readonly serial: string;
  readonly fingerprint: string;
  readonly subject: string;
  readonly state: 'current' | 'awaiting-confirmation' | 'replaced' | 'removed';
  readonly removeAt?: string;
  readonly removedAt?: string;
  readonly nodes: readonly TrustNodeView[];
}

/** `certificates.cucmTrust` in the status document. */
export interface TrustStatusView {
  readonly stores: readonly string[];
  readonly nodes: readonly { readonly cluster: string; readonly node: string; readonly url: string; readonly lastError: { readonly at: string; readonly message: string } | null }[];
  readonly leaves: readonly TrustLeafView[];
}

/**
 * Every server of every cluster named in cucmTrust (default: every cluster):
 * `nodes` where given, else the cluster's nodes at their own URLs, with the
 * publisher at `url` (replacing the node of that host, or added before them).
 */
export function trustTargets(config: UcgateConfig, trust: CucmTrustConfig): CertmgrTarget[] {
  const wanted: readonly CucmTrustTarget[] = trust.clusters ?? config.clusters.map((cluster) => ({ cluster: cluster.name }));
  return wanted.flatMap((target) => {
    const cluster = config.clusters.find((c) => c.name === target.cluster);
    if (!cluster) throw new UcgateError(ErrorCodes.CONFIG_INVALID, `certificates.cucmTrust: unknown cluster ${target.cluster}`);
    let servers: { node: string; url: string; address?: string | undefined }[];
    if (target.nodes) {
      servers = target.nodes.map((n) => ({ node: n.name ?? new URL(n.url).hostname, url: n.url, address: n.address }));
    } else {
      // A cluster found by SRV has no static nodes: its publisher `url` (or `nodes`) names the servers.
      servers = (cluster.nodes ?? []).map((n) => ({ node: n.name, url: n.url, address: n.address }));
      if (target.url) {
        const host = new URL(target.url).hostname.toLowerCase();
        const at = servers.findIndex((s) => new URL(s.url).hostname.toLowerCase() === host);
        const publisher = { node: at >= 0 ? servers[at]!.node : 'publisher', url: target.url, address: target.address };
        if (at >= 0) servers[at] = publisher;
        else servers.unshift(publisher);
      }
    }
    if (servers.length === 0) {
      throw new UcgateError(ErrorCodes.CONFIG_INVALID, `certificates.cucmTrust: cluster ${cluster.name} has no server to publish to: give its publisher's url, or nodes`);
    }
    const caPem = readClusterCa(cluster);
    const seen = new Set<string>();
    return servers.flatMap((server) => {
      const url = new URL(server.url).origin;
      // One server is one call, whichever of its names or ports the cluster lists twice.
      const identity = `${server.node}\u0000${url}\u0000${server.address ?? ''}`;
      const named = `${cluster.name}/${server.node}`;
      if (seen.has(identity) || seen.has(named)) return [];
      seen.add(identity);
      seen.add(named);
      return [{ cluster: cluster.name, node: server.node, url, verify: cluster.tls.verify, ...(server.address && { address: server.address }), ...(caPem && { caPem }) }];
    });
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

const hostOf = (url: string) => new URL(url).host;
const describeTarget = (target: CertmgrTarget, stores: readonly string[]) => `cluster ${target.cluster} node ${target.node} (${hostOf(target.url)}): ${stores.join(', ')}`;
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The per-node series, registered once per registry. */
class TrustMetrics {
  readonly publications: Counter<'cluster' | 'node' | 'result'>;
  readonly awaiting: Gauge<'cluster' | 'node'>;
  readonly listed: Gauge<'cluster' | 'node'>;

  constructor(registry: Registry) {
    this.publications =
      (registry.getSingleMetric('ucgate_cucm_trust_publications_total') as Counter<'cluster' | 'node' | 'result'> | undefined) ??
      new Counter({
        name: 'ucgate_cucm_trust_publications_total',
        help: 'Leaves sent to a CUCM server\'s trust stores, by result: listed (taken and shown by its API), no_api (CUCM before 14: waits for confirm-trust), confirmed (uploaded by hand), failed',
        labelNames: ['cluster', 'node', 'result'] as const,
        registers: [registry],
      });
    this.awaiting =
      (registry.getSingleMetric('ucgate_cucm_trust_awaiting_confirmation') as Gauge<'cluster' | 'node'> | undefined) ??
      new Gauge({
        name: 'ucgate_cucm_trust_awaiting_confirmation',
        help: 'Whether a leaf waits for an administrator to upload it to this CUCM server and run `ucgate cert confirm-trust` (1) or not (0)',
        labelNames: ['cluster', 'node'] as const,
        registers: [registry],
      });
    this.listed =
      (registry.getSingleMetric('ucgate_cucm_trust_node_listed') as Gauge<'cluster' | 'node'> | undefined) ??
      new Gauge({
        name: 'ucgate_cucm_trust_node_listed',
        help: "Whether the last leaf published to this CUCM server is in its trust stores (listed by its API or confirmed by hand: 1) or its publication failed (0)",
        labelNames: ['cluster', 'node'] as const,
        registers: [registry],
      });
  }
}

export class TrustPublisher implements ActivationGate {
  readonly #options: TrustPublisherOptions;
  readonly #trust: CucmTrustConfig;
  readonly #targets: CertmgrTarget[];
  readonly #metrics: TrustMetrics | undefined;
  /** The last failure per server (`cluster/node`), for the status document; cleared by a success. */
  readonly #lastErrors = new Map<string, { at: number; message: string }>();
  /** Gates waiting for a confirmation, woken by `confirm` in this process. */
  readonly #wakers = new Set<() => void>();
  #stopped = false;

  constructor(options: TrustPublisherOptions) {
    const trust = options.config.certificates.cucmTrust;
    if (!trust) throw new TypeError('TrustPublisher needs certificates.cucmTrust');
    this.#options = options;
    this.#trust = trust;
    this.#targets = trustTargets(options.config, trust);
    this.#metrics = options.registry ? new TrustMetrics(options.registry) : undefined;
    if (this.#metrics) {
      for (const target of this.#targets) this.#metrics.awaiting.set({ cluster: target.cluster, node: target.node }, 0);
    }
  }

  get targets(): readonly CertmgrTarget[] {
    return this.#targets;
  }

  /** Ends every wait for a confirmation (the process is stopping): the activation waiting fails, nothing changes. */
  stop(): void {
    this.#stopped = true;
    for (const wake of [...this.#wakers]) wake();
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
    const readyAt = outcome.awaiting.length > 0 ? await this.#awaitConfirmation(next, outcome.awaiting) : outcome.readyAt;
    const waitMs = readyAt - clock.now();
    if (waitMs <= 0) return;
    log.info({ event: 'cucm_trust_switch_wait', keyType: next.keyType, serial: next.info.serialNumber, waitMs }, 'waiting for CUCM to spread the new leaf before serving it');
    this.#options.progress?.(`serving it in ${Math.ceil(waitMs / 1000)} s, once CUCM has spread it (interrupting now keeps the current certificate)`);
    await new Promise<void>((resolve) => clock.setTimeout(resolve, waitMs));
  }

  /**
   * Waits until every server without an API has been confirmed for `next`
   * (by this process or another one sharing the store); resolves with when
   * it may be served: the switch delay counts from the last confirmation.
   */
  async #awaitConfirmation(next: LeafToServe, awaiting: readonly AwaitingTarget[]): Promise<number> {
    const { clock, log, storage } = this.#options;
    const startedAt = clock.now();
    await this.#abandonOthers(next);
    const nodes = awaiting.map((a) => targetKey(a));
    log.warn(
      { event: 'cucm_trust_waiting_for_confirmation', keyType: next.keyType, serial: next.info.serialNumber, nodes },
      `the new ${next.keyType} certificate waits for \`ucgate cert confirm-trust\` (${nodes.join(', ')}); the current one is served meanwhile`,
    );
    this.#options.progress?.(
      `no certificate API on ${nodes.join(', ')} (CUCM before 14): upload the leaf (serial ${next.info.serialNumber}; \`ucgate cert confirm-trust --list --out FILE\` writes it) to ${this.#trust.stores.join(' and ')} on each, then run \`ucgate cert confirm-trust\`. Waiting (interrupting keeps the current certificate).`,
    );
    for (;;) {
      if (this.#stopped) throw new UcgateError(ErrorCodes.CUCM_TRUST, `the new ${next.keyType} certificate is not served: stopped while waiting for \`ucgate cert confirm-trust\``);
      const entry = (await loadLedger(storage)).find((leaf) => leaf.fingerprint === next.info.fingerprintSha256 && leaf.removedAt === undefined);
      if (!entry || (entry.supersededAt !== undefined && entry.supersededAt >= startedAt)) {
        throw new UcgateError(ErrorCodes.CUCM_TRUST, `the new ${next.keyType} certificate is not served: it was withdrawn while waiting for \`ucgate cert confirm-trust\``);
      }
      if ((entry.awaiting?.length ?? 0) === 0) {
        log.info({ event: 'cucm_trust_confirmed_all', keyType: next.keyType, serial: next.info.serialNumber }, 'every CUCM server holds the new leaf');
        return Math.max(0, ...entry.targets.map((t) => t.publishedAt)) + this.#trust.switchDelayMs;
      }
      await this.#pause(CONFIRM_POLL_MS);
    }
  }

  #pause(ms: number): Promise<void> {
    const { clock } = this.#options;
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
    const { storage, clock, log } = this.#options;
    const active = await loadActiveCertificate(storage, next.keyType).catch(() => undefined);
    const dropped = await this.#withLedger(async (leaves) => {
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
    const { clock, log } = this.#options;
    const matches = (a: AwaitingTarget) => (request.cluster === undefined || a.cluster === request.cluster) && (request.node === undefined || a.node === request.node);
    const done = await this.#withLedger(async (leaves) => {
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
        this.#metrics?.publications.inc({ cluster: a.cluster, node: a.node, result: 'confirmed' });
        this.#metrics?.awaiting.set({ cluster: a.cluster, node: a.node }, 0);
        this.#metrics?.listed.set({ cluster: a.cluster, node: a.node }, 1);
        const detail = `cucm ${a.cluster} node ${a.node} ${hostOf(a.url)}: ${a.stores.join(', ')} (uploaded by hand, confirmed)`;
        await this.#audit({ action: 'published', keyType: leaf.keyType, subject: leaf.subject, serial: leaf.serial, newFingerprint: leaf.fingerprint, detail }, request.actor);
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
    return (await loadLedger(this.#options.storage))
      .filter((leaf) => leaf.removedAt === undefined && leaf.removeAt === undefined && (leaf.awaiting?.length ?? 0) > 0)
      .map((leaf) => ({
        keyType: leaf.keyType,
        serial: leaf.serial,
        fingerprint: leaf.fingerprint,
        subject: leaf.subject,
        leafPem: leaf.leafPem,
        stores: this.#trust.stores,
        awaiting: leaf.awaiting!.map((a) => ({ cluster: a.cluster, node: a.node, url: a.url, since: new Date(a.since).toISOString() })),
      }));
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

  /** The configured server for a ledger target, else one made from what the ledger kept (a server no longer configured). */
  #targetFor(held: PublishedTarget): CertmgrTarget {
    const key = targetKey(held);
    const configured = this.#targets.find((t) => targetKey(t) === key) ?? (held.node === undefined ? this.#targets.find((t) => t.cluster === held.cluster && t.url === held.url) : undefined);
    if (configured) return configured;
    const sibling = this.#targets.find((t) => t.cluster === held.cluster);
    return { cluster: held.cluster, node: held.node ?? 'publisher', url: held.url, verify: sibling?.verify ?? true, ...(sibling?.caPem && { caPem: sibling.caPem }) };
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
          const target = this.#targetFor(held);
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
    const leaves = await loadLedger(this.#options.storage);
    const view = (leaf: PublishedLeaf): TrustLeafView => {
      const removed = new Set(leaf.removedFrom ?? []);
      const byHand = new Set(leaf.removeByHand ?? []);
      const nodes: TrustNodeView[] = [];
      const seen = new Set<string>();
      for (const t of leaf.targets) {
        const key = targetKey(t);
        seen.add(key);
        nodes.push({
          cluster: t.cluster,
          node: t.node ?? 'publisher',
          url: t.url,
          state: byHand.has(key) ? 'remove-by-hand' : removed.has(key) ? 'removed' : t.manual ? 'confirmed' : 'listed',
          publishedAt: iso(t.publishedAt)!,
          ...(t.verifiedAt !== undefined && { verifiedAt: iso(t.verifiedAt)! }),
          ...(t.confirmedBy && { confirmedBy: t.confirmedBy }),
        });
      }
      for (const a of leaf.awaiting ?? []) {
        seen.add(targetKey(a));
        nodes.push({ cluster: a.cluster, node: a.node, url: a.url, state: 'awaiting-confirmation', awaitingSince: iso(a.since)! });
      }
      if (leaf.removeAt === undefined) {
        for (const t of this.#targets) if (!seen.has(targetKey(t))) nodes.push({ cluster: t.cluster, node: t.node, url: t.url, state: 'missing' });
      }
      const state = leaf.removedAt !== undefined ? 'removed' : leaf.removeAt !== undefined ? 'replaced' : (leaf.awaiting?.length ?? 0) > 0 ? 'awaiting-confirmation' : 'current';
      return {
        keyType: leaf.keyType,
        serial: leaf.serial,
        fingerprint: leaf.fingerprint,
        subject: leaf.subject,
        state,
        ...(leaf.removeAt !== undefined && { removeAt: iso(leaf.removeAt)! }),
        ...(leaf.removedAt !== undefined && { removedAt: iso(leaf.removedAt)! }),
        nodes,
      };
    };
    return {
      stores: this.#trust.stores,
      nodes: this.#targets.map((t) => {
        const error = this.#lastErrors.get(targetKey(t));
        return { cluster: t.cluster, node: t.node, url: t.url, lastError: error ? { at: iso(error.at)!, message: error.message } : null };
      }),
      leaves: leaves.filter((leaf) => leaf.removedAt === undefined).map(view),
    };
  }

  /** A failing audit write is logged; it never undoes a publication or a removal. */
  async #audit(entry: Omit<Parameters<typeof appendAudit>[1], 'time' | 'actor'>, actor: AuditActor = this.#options.actor): Promise<void> {
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
