/**
 * The TFTP half of a worker's data plane: its own proxy state (the clusters'
 * TFTP servers as nodes, routed by the name the client used), kept in step
 * with the main state's health, SRV node sets and learned names.
 *
 * Health: a TFTP server that is also a cluster node follows that node's
 * health (the primary checks it once, on its UDS port); failures on the TFTP
 * port eject it from this worker's TFTP traffic only, so a TFTP problem never
 * takes the node's UDS and phone services out of service.
 *
 * Group configuration files: the `configurationFile=` names of the Jabber
 * device files this worker passes are learned per cluster (learned-files.ts)
 * and reported, so every worker lets them through; service-profile TFTP
 * server lists point at the gateway (server-list.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeConfig, UcgateConfig } from '../config/types.js';
import type { NodeHealthUpdate } from '../wire/messages.js';
import type { Logger } from '../log.js';
import type { DataPlaneMetrics } from '../metrics/data-plane-metrics.js';
import { buildProxyState, disposeProxyState, withClusterNodes, type ClusterRuntime, type ProxyState } from '../proxy/proxy-state.js';
import { createRequestHandler, type ListenerInfo, type UpstreamObserver } from '../proxy/request-handler.js';
import type { LimitVerdict } from '../proxy/request-limits.js';
import type { LinkCheck, RewriteRules, RewriteVariant } from '../rewrite/index.js';
import { RouterLinkCheck, unroutedLinksFor } from '../proxy/link-routing.js';
import { compileTftpAllow, isJabberDeviceFile, isSafeFileName, type TftpFileMatcher } from './file-names.js';
import { LearnedFiles, tapResponse } from './learned-files.js';
import { withServerLists } from './server-list.js';
import { createTftpGate } from './tftp-gate.js';
import { tftpFilePortMap, udsPortMap, type BoundListener } from './port-map.js';
import { tftpNodesOf, tftpProxyConfig } from './tftp-config.js';

/**
 * What CUCM's TFTP server may label an XML file with: the allow-list admits
 * XML names only, so these bodies are XML whatever the header says.
 */
const TFTP_MEDIA_TYPES = ['application/octet-stream', 'text/plain'];

/** The node outcomes of TFTP traffic stay in this worker: see the module comment. */
const LOCAL_ONLY: UpstreamObserver = { failure: () => {}, serverError: () => {}, session: () => {} };

/** Unsafe `configurationFile=` values warned about per worker; more are only logged at debug. */
const MAX_WARNED = 100;

/**
 * A rewrite holder that follows the main listeners' holder of the same
 * cluster (which learns names from `/cucm-uds/servers` and SRV), in the
 * variant TFTP files need (URLs only, plus TFTP server lists). Host names
 * are never learned from TFTP files.
 * `links`: a file's URLs that land on the main listeners (directories,
 * authentication, UDS) are rewritten only where the main router routes them.
 */
class FollowingRules {
  readonly #base: () => RewriteRules;
  readonly #variant: () => RewriteVariant;
  readonly #links: LinkCheck;
  #seenBase: RewriteRules | undefined;
  #seenVariant: RewriteVariant | undefined;
  #rules: RewriteRules | undefined;

  constructor(base: () => RewriteRules, variant: () => RewriteVariant, links: LinkCheck) {
    this.#base = base;
    this.#variant = variant;
    this.#links = links;
  }

  get rules(): RewriteRules {
    const base = this.#base();
    const variant = this.#variant();
    if (this.#rules === undefined || base !== this.#seenBase || variant !== this.#seenVariant) {
      this.#rules = withServerLists(base.withOptions({ ...variant, links: this.#links }));
      this.#seenBase = base;
      this.#seenVariant = variant;
    }
    return this.#rules;
  }

  set rules(_learned: RewriteRules) {
    // withClusterNodes adds SRV names here too; they reach us through the main holder instead.
  }
}

export interface TftpPlaneOptions {
  readonly log: Logger;
  readonly metrics: DataPlaneMetrics;
  /** The main listeners' state, whose rewrite names TFTP files follow. */
  readonly mainState: () => ProxyState | undefined;
  readonly connectionVerdict?: (req: IncomingMessage) => LimitVerdict | undefined;
  /** A group configuration file name this worker learned first: tell the other workers (through the primary). */
  readonly reportLearned?: (cluster: string, name: string) => void;
}

export class TftpPlane {
  readonly #options: TftpPlaneOptions;
  #state: ProxyState | undefined;
  #matcher: TftpFileMatcher = () => undefined;
  #variant: RewriteVariant = { urlsOnly: true, extraMediaTypes: TFTP_MEDIA_TYPES };
  /** Kept across reloads (for the clusters that stay): a reload must not 404 the group files Jabber is using. */
  readonly #learned = new LearnedFiles();
  readonly #warned = new Set<string>();
  readonly handle: (req: IncomingMessage, res: ServerResponse, listener: ListenerInfo) => void;

  constructor(options: TftpPlaneOptions) {
    this.#options = options;
    const proxy = createRequestHandler({
      state: () => this.#state!,
      log: options.log,
      metrics: options.metrics,
      observer: LOCAL_ONLY,
      ...(options.connectionVerdict ? { connectionVerdict: options.connectionVerdict } : {}),
    });
    this.handle = createTftpGate({
      matcher: () => this.#matcher,
      learned: (req, rawTarget) => this.#learnedFile(req, rawTarget),
      passing: (req, res, file) => this.#watch(req, res, file),
      enabled: () => this.#state !== undefined,
      proxy,
      metrics: options.metrics,
      log: options.log,
    });
  }

  /** The group configuration file names learned for `cluster`, oldest first. */
  learnedFiles(cluster: string): string[] {
    return this.#learned.list(cluster);
  }

  /** Names another worker learned (sent on by the primary). */
  learn(cluster: string, names: readonly string[]): void {
    for (const name of names) this.#learned.learn(cluster, name);
  }

  /** The cluster a TFTP request for `path` goes to (by its Host), as the proxy will decide it. */
  #clusterOf(req: IncomingMessage, path: string): string | undefined {
    const decision = this.#state?.router.route('GET', path, req.headers.host);
    return decision?.kind === 'proxy' ? decision.cluster : undefined;
  }

  /** `/name` when `rawTarget` names a file learned for the request's cluster (any query dropped, as for allowed names). */
  #learnedFile(req: IncomingMessage, rawTarget: string): string | undefined {
    if (this.#learned.empty) return undefined;
    const query = rawTarget.indexOf('?');
    const path = query < 0 ? rawTarget : rawTarget.slice(0, query);
    if (path.charCodeAt(0) !== 0x2f /* / */ || !isSafeFileName(path.slice(1))) return undefined;
    const cluster = this.#clusterOf(req, path);
    return cluster !== undefined && this.#learned.has(cluster, path.slice(1)) ? path : undefined;
  }

  /** A Jabber device file on its way out: learn the group file it names. */
  #watch(req: IncomingMessage, res: ServerResponse, file: string): void {
    if (req.method !== 'GET' || !isJabberDeviceFile(file)) return;
    const cluster = this.#clusterOf(req, file);
    if (cluster !== undefined) tapResponse(res, (value) => this.#found(cluster, file, value));
  }

  #found(cluster: string, file: string, value: string): void {
    const log = this.#options.log;
    if (!isSafeFileName(value)) {
      const first = !this.#warned.has(value) && this.#warned.size < MAX_WARNED;
      if (first) this.#warned.add(value);
      // The value is the administrator's (a device's Cisco Support Field), not a client's: safe to show, cut short.
      log[first ? 'warn' : 'debug'](
        { event: 'tftp_file_refused', cluster, file: file.slice(1), value: value.slice(0, 64) },
        `${file.slice(1)} names configurationFile=${value.slice(0, 64)}: not a plain .xml file name, not allowed`,
      );
      return;
    }
    if (!this.#learned.learn(cluster, value)) return;
    log.debug({ event: 'tftp_file_learned', cluster, file: file.slice(1), name: value }, `learned group configuration file ${value}`);
    this.#options.reportLearned?.(cluster, value);
  }

  get state(): ProxyState | undefined {
    return this.#state;
  }

  /**
   * Builds the state for `config` (nothing when `tftp` is off). Health of
   * nodes that stay is carried over; SRV node sets are applied by the caller.
   * Returns the state replaced, for the caller to dispose after the grace period.
   */
  apply(config: UcgateConfig): ProxyState | undefined {
    const old = this.#state;
    if (config.tftp === undefined) {
      this.#state = undefined;
      return old;
    }
    this.#matcher = compileTftpAllow(config.tftp.allow);
    this.#learned.retain(config.clusters.map((cluster) => cluster.name));
    const built = buildProxyState(tftpProxyConfig(config, config.tftp), old);
    const clusters = new Map<string, ClusterRuntime>();
    const unrouted = unroutedLinksFor(this.#options.metrics, this.#options.log);
    for (const [name, runtime] of built.clusters) {
      const own = runtime.rewrite.rules;
      const links = new RouterLinkCheck(() => this.#options.mainState(), name, 'tftp', unrouted);
      const rewrite = new FollowingRules(() => this.#options.mainState()?.clusters.get(name)?.rewrite.rules ?? own, () => this.#variant, links);
      clusters.set(name, { ...runtime, rewrite });
    }
    this.#state = { ...built, clusters };
    return old;
  }

  /** The listeners are open: URLs in TFTP files and UDS answers now know where to point. */
  setListeners(bound: readonly BoundListener[], main: ProxyState | undefined): void {
    if (this.#state === undefined) return;
    this.#variant = { urlsOnly: true, extraMediaTypes: TFTP_MEDIA_TYPES, portMap: tftpFilePortMap(bound) };
    const portMap = udsPortMap(bound);
    for (const runtime of main?.clusters.values() ?? []) runtime.rewrite.rules = runtime.rewrite.rules.withOptions({ portMap });
  }

  setHealth(updates: readonly NodeHealthUpdate[]): void {
    for (const update of updates) this.#state?.clusters.get(update.cluster)?.nodesByName.get(update.node)?.setHealthy(update.healthy, undefined, update.draining);
  }

  /** A cluster's nodes changed (SRV): its TFTP servers follow unless they are listed in the config. Returns nodes to destroy later. */
  setNodes(cluster: string, nodes: readonly NodeConfig[]): { destroy: () => void } {
    const state = this.#state;
    const runtime = state?.clusters.get(cluster);
    const nodePort = state?.config.tftp?.nodePort;
    if (!state || !runtime || nodePort === undefined || runtime.config.tftp?.nodes !== undefined) return { destroy: () => {} };
    const next = withClusterNodes(state, cluster, tftpNodesOf(runtime.config, nodes, nodePort));
    this.#state = next.state;
    return { destroy: () => next.removed.forEach((node) => node.destroy()) };
  }

  dispose(): void {
    if (this.#state) disposeProxyState(this.#state);
  }
}
