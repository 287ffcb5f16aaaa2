/**
 * Which node links the gateway can follow (issue 15): a link is pointed at
 * the gateway only when a request for it would get the same Router decision
 * as any other request — `proxy`, to the cluster the link's node belongs to.
 * Anything else (Unified CM Assistant's `/ma/`, help pages, a denied admin
 * page, a path no route covers) keeps the node's name: a client that follows
 * it gets what the node meant, not a 404 or 403 from us. Such links are
 * counted (`ucgate_unrouted_links_total`) and logged once per path, so an
 * administrator sees which routes the deployment is missing.
 *
 * Decisions are cached per (group, host, path): a body repeats the same few
 * links, and the router runs once for each.
 */
import type { Logger } from '../log.js';
import type { UcgateConfig } from '../config/types.js';
import type { DataPlaneMetrics } from '../metrics/data-plane-metrics.js';
import type { LinkCheck } from '../rewrite/index.js';
import { normaliseTarget } from './normalise-path.js';
import type { Router } from './router.js';

/** The listeners a link lands on when the port map does not send it elsewhere. */
export const MAIN_PLANE = 'main';

/** What a decision needs of a proxy state (a ProxyState is one). */
export interface RoutingView {
  readonly router: Router;
  readonly config: UcgateConfig;
}

/** Distinct (group, host, path) decisions kept; beyond, the cache starts over (a hostile body cannot grow it). */
const MAX_DECISIONS = 1024;
/** Distinct paths counted and logged per worker; the rest share `other` (bounded label cardinality). */
export const MAX_UNROUTED_PATHS = 100;
/** Longest path label; longer ones are cut (a label is for reading, not for following). */
const MAX_LABEL = 200;
const OTHER = 'other';

/** The metric label of a link path: normalised as the router sees it, lower case, no query. */
export function unroutedLabel(path: string | undefined): string {
  if (path === undefined) return OTHER;
  const t = normaliseTarget(path === '' ? '/' : path);
  return t.ok ? t.matchPath.slice(0, MAX_LABEL) : OTHER;
}

/** Counts and logs links left to a node; one per worker (per metrics registry), shared by its planes. */
export class UnroutedLinks {
  readonly #metrics: DataPlaneMetrics;
  readonly #log: Logger;
  readonly #paths = new Set<string>();
  /** Per `cluster\npath`: the counter child; its presence also means "logged". */
  readonly #children = new Map<string, { inc(): void }>();

  constructor(metrics: DataPlaneMetrics, log: Logger) {
    this.#metrics = metrics;
    this.#log = log;
  }

  /** One link of `cluster`'s answer, with path label `label`, was left to the node. */
  count(cluster: string, label: string): void {
    let path = label;
    if (!this.#paths.has(path)) {
      if (this.#paths.size < MAX_UNROUTED_PATHS) this.#paths.add(path);
      else path = OTHER;
    }
    const key = `${cluster}\n${path}`;
    let child = this.#children.get(key);
    if (child === undefined) {
      child = this.#metrics.unroutedLinks.labels({ cluster, path });
      this.#children.set(key, child);
      // The normalised path only: a link's query may hold credentials (EM's userid and seq).
      this.#log.warn({ event: 'unrouted_link', cluster, path }, `a link in cluster ${cluster}'s answers to ${path} keeps the node's name: the gateway does not route it`);
    }
    child.inc();
  }
}

const reporters = new WeakMap<DataPlaneMetrics, UnroutedLinks>();

/** The worker's reporter for `metrics` (created on first use). */
export function unroutedLinksFor(metrics: DataPlaneMetrics, log: Logger): UnroutedLinks {
  let reporter = reporters.get(metrics);
  if (reporter === undefined) reporters.set(metrics, (reporter = new UnroutedLinks(metrics, log)));
  return reporter;
}

/**
 * A LinkCheck for the answers of `cluster`, served on the `ownPlane`
 * listeners. Links that land on the main listeners are decided by the
 * router of `view()` (read per call, so a reload's new router is used);
 * links that land on other listeners (the TFTP listeners, through the port
 * map) are rewritten as before: those listeners have their own allow-list.
 */
export class RouterLinkCheck implements LinkCheck {
  readonly #view: () => RoutingView | undefined;
  readonly #cluster: string;
  readonly #ownPlane: string;
  readonly #reporter: UnroutedLinks | undefined;
  readonly #decisions = new Map<string, string | true>();
  #router: Router | undefined;
  /** Public host → the other clusters that go by it (the groups after 0 are named by public host). */
  #othersByHost = new Map<string, Set<string>>();

  constructor(view: () => RoutingView | undefined, cluster: string, ownPlane: string = MAIN_PLANE, reporter?: UnroutedLinks) {
    this.#view = view;
    this.#cluster = cluster;
    this.#ownPlane = ownPlane;
    this.#reporter = reporter;
  }

  follows(group: number, host: string, path: string | undefined, plane: string | undefined): boolean {
    if ((plane ?? this.#ownPlane) !== MAIN_PLANE) return true;
    const view = this.#view();
    if (view === undefined) return true;
    if (view.router !== this.#router) this.#reset(view);
    // The route depends on the path alone: per-user queries (UDS `?username=`) must not defeat the cache.
    const key = `${group}\n${host}\n${path === undefined ? '\n' : withoutQuery(path)}`;
    let decision = this.#decisions.get(key);
    if (decision === undefined) {
      if (this.#decisions.size >= MAX_DECISIONS) this.#decisions.clear();
      decision = this.#decide(view.router, group, host, path);
      this.#decisions.set(key, decision);
    }
    if (decision === true) return true;
    this.#reporter?.count(this.#cluster, decision);
    return false;
  }

  /** Uncached: `true`, or the path label of a link left to the node. */
  #decide(router: Router, group: number, host: string, path: string | undefined): string | true {
    if (path === undefined) return OTHER;
    const bare = withoutQuery(path);
    const d = router.route('GET', bare === '' ? '/' : bare, host);
    if (d.kind === 'proxy') {
      const owner = group === 0 ? d.cluster === this.#cluster : (this.#othersByHost.get(host.toLowerCase())?.has(d.cluster) ?? false);
      if (owner) return true;
    }
    return unroutedLabel(path);
  }

  #reset(view: RoutingView): void {
    this.#router = view.router;
    this.#decisions.clear();
    const config = view.config;
    const others = new Map<string, Set<string>>();
    for (const cluster of config.clusters) {
      if (cluster.name === this.#cluster) continue;
      const host = (cluster.publicName ?? config.gateway.fqdn).toLowerCase();
      let set = others.get(host);
      if (set === undefined) others.set(host, (set = new Set()));
      set.add(cluster.name);
    }
    this.#othersByHost = others;
  }
}

/** The path of a link without its query or fragment. */
function withoutQuery(path: string): string {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x3f /* ? */ || c === 0x23 /* # */) return path.slice(0, i);
  }
  return path;
}
