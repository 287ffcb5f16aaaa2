/**
 * Everything a worker consults per request, built once per config (pino's
 * discipline: work at configure time, lookups per request). A change (config,
 * SRV answer) builds a new ProxyState and swaps it in whole; requests in
 * flight keep the node objects they started with.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ClusterConfig, NodeConfig, UcgateConfig } from '../config/types.js';
import { createRouter, type Router } from './router.js';
import { Balancer } from '../upstream/balancer.js';
import { UpstreamNode, readClusterCa } from '../upstream/upstream-node.js';
import { StickyTable } from '../upstream/sticky-sessions.js';
import { CredentialGuard } from './credential-guard.js';
import { compileRewriteRules, expandShortNames, rulesInputForCluster, type RewriteRules } from '../rewrite/index.js';

export interface ClusterRuntime {
  readonly config: ClusterConfig;
  readonly balancer: Balancer;
  readonly nodesByName: ReadonlyMap<string, UpstreamNode>;
  readonly sticky: StickyTable;
  readonly caPem: string | undefined;
  /** The name clients use for this cluster: node names in answers become this. */
  readonly publicHost: string;
  /** Replaced (not mutated) when names are learned: from SRV answers and UDS /servers answers. */
  readonly rewrite: { rules: RewriteRules };
}

export interface ProxyState {
  readonly config: UcgateConfig;
  readonly router: Router;
  readonly clusters: ReadonlyMap<string, ClusterRuntime>;
  readonly guard: CredentialGuard;
  /** Names the gateway answers under (lowercase): an absolute-form request target must name one of them. */
  readonly ownNames: ReadonlySet<string>;
}

function clusterRuntime(
  config: ClusterConfig,
  nodes: readonly UpstreamNode[],
  sticky: StickyTable,
  caPem: string | undefined,
  publicHost: string,
  rewrite: { rules: RewriteRules },
): ClusterRuntime {
  return { config, balancer: new Balancer(nodes), nodesByName: new Map(nodes.map((node) => [node.name, node])), sticky, caPem, publicHost, rewrite };
}

/**
 * The state for `config`. With the `previous` state (a reload), what the
 * running gateway has learned carries over where the config still means the
 * same thing: each surviving node's health, each surviving cluster's sticky
 * sessions (a reload must not move a logged-in user to a node that does not
 * know the session), and the login-attempt counts while their limits are
 * unchanged (a reload must not give a guesser a fresh allowance).
 */
export function buildProxyState(config: UcgateConfig, previous?: ProxyState): ProxyState {
  const clusters = new Map<string, ClusterRuntime>();
  for (const cluster of config.clusters) {
    const before = previous?.clusters.get(cluster.name);
    const ca = readClusterCa(cluster);
    const nodes = cluster.nodes.map((node) => new UpstreamNode(cluster, node, ca, config.limits.http.upstreamMaxHeaderBytes));
    for (const node of nodes) {
      const known = before?.nodesByName.get(node.name);
      if (known) node.setHealthy(known.healthy, known.serviceHealth, known.draining);
    }
    const rewrite = { rules: compileRewriteRules(rulesInputForCluster(config, cluster.name)) };
    clusters.set(cluster.name, clusterRuntime(cluster, nodes, before?.sticky ?? new StickyTable(), ca, cluster.publicName ?? config.gateway.fqdn, rewrite));
  }
  const ownNames = new Set(
    [config.gateway.fqdn, ...config.gateway.altNames, ...config.clusters.flatMap((cluster) => (cluster.publicName ? [cluster.publicName] : []))].map((name) =>
      name.toLowerCase(),
    ),
  );
  const sameGuard = previous && previous.config.workers === config.workers && isDeepStrictEqual(previous.config.limits.loginAttempts, config.limits.loginAttempts);
  const guard = sameGuard ? previous.guard : new CredentialGuard(config.limits.loginAttempts, config.workers);
  return { config, router: createRouter(config.routes), clusters, guard, ownNames };
}

const sameNode = (node: UpstreamNode, config: NodeConfig) =>
  node.url === config.url && node.priority === config.priority && node.weight === config.weight && node.target.host === (config.address ?? new URL(config.url).hostname);

/**
 * The state with one cluster's node set replaced (SRV discovery). Nodes that
 * did not change are kept, with their pools and health; the caller disposes
 * of the removed ones once requests on them are done.
 */
export function withClusterNodes(state: ProxyState, clusterName: string, nodes: readonly NodeConfig[]): { state: ProxyState; removed: UpstreamNode[] } {
  const current = state.clusters.get(clusterName);
  if (!current) return { state, removed: [] };
  const kept: UpstreamNode[] = [];
  for (const config of nodes) {
    const existing = current.nodesByName.get(config.name);
    kept.push(existing && sameNode(existing, config) ? existing : new UpstreamNode(current.config, config, current.caPem, state.config.limits.http.upstreamMaxHeaderBytes));
  }
  const keptSet = new Set(kept);
  const removed = current.balancer.nodes.filter((node) => !keptSet.has(node));
  const clusters = new Map(state.clusters);
  // Nodes found through SRV are upstream names like any other: answers naming them are rewritten too.
  current.rewrite.rules = current.rewrite.rules.withNames(expandShortNames(nodes.map((node) => new URL(node.url).hostname)));
  clusters.set(clusterName, clusterRuntime(current.config, kept, current.sticky, current.caPem, current.publicHost, current.rewrite));
  return { state: { ...state, clusters }, removed };
}

/** Closes the upstream keep-alive pools of a state that is no longer used. */
export function disposeProxyState(state: ProxyState): void {
  for (const cluster of state.clusters.values()) for (const node of cluster.balancer.nodes) node.destroy();
}
