/**
 * The TFTP half of a worker's data plane: its own proxy state (the clusters'
 * TFTP servers as nodes, routed by the name the client used), kept in step
 * with the main state's health, SRV node sets and learned names.
 *
 * Health: a TFTP server that is also a cluster node follows that node's
 * health (the primary checks it once, on its UDS port); failures on the TFTP
 * port eject it from this worker's TFTP traffic only, so a TFTP problem never
 * takes the node's UDS and phone services out of service.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeConfig, UcgateConfig } from '../config/types.js';
import type { NodeHealthUpdate } from '../control/messages.js';
import type { Logger } from '../log.js';
import type { DataPlaneMetrics } from '../metrics/data-plane-metrics.js';
import { buildProxyState, disposeProxyState, withClusterNodes, type ClusterRuntime, type ProxyState } from '../proxy/proxy-state.js';
import { createRequestHandler, type ListenerInfo, type UpstreamObserver } from '../proxy/request-handler.js';
import type { LimitVerdict } from '../proxy/request-limits.js';
import type { LinkCheck, RewriteRules, RewriteVariant } from '../rewrite/index.js';
import { RouterLinkCheck, unroutedLinksFor } from '../proxy/link-routing.js';
import { compileTftpAllow, type TftpFileMatcher } from './file-names.js';
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

/**
 * A rewrite holder that follows the main listeners' holder of the same
 * cluster (which learns names from `/cucm-uds/servers` and SRV), in the
 * variant TFTP files need. Names are never learned from TFTP files.
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
      this.#rules = base.withOptions({ ...variant, links: this.#links });
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
}

export class TftpPlane {
  readonly #options: TftpPlaneOptions;
  #state: ProxyState | undefined;
  #matcher: TftpFileMatcher = () => undefined;
  #variant: RewriteVariant = { urlsOnly: true, extraMediaTypes: TFTP_MEDIA_TYPES };
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
    this.handle = createTftpGate({ matcher: () => this.#matcher, enabled: () => this.#state !== undefined, proxy, metrics: options.metrics, log: options.log });
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
    const built = buildProxyState(tftpProxyConfig(config), old);
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
    for (const update of updates) this.#state?.clusters.get(update.cluster)?.nodesByName.get(update.node)?.setHealthy(update.healthy);
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
