/**
 * Everything a worker consults per request, built once per config (pino's
 * discipline: work at configure time, lookups per request). A config change
 * builds a new ProxyState and swaps it in whole; requests in flight keep the
 * one they started with.
 */
import type { ClusterConfig, UcgateConfig } from '../config/types.js';
import { createRouter, type Router } from './router.js';
import { Balancer } from '../upstream/balancer.js';
import { UpstreamNode, readClusterCa } from '../upstream/upstream-node.js';

export interface ClusterRuntime {
  readonly config: ClusterConfig;
  readonly balancer: Balancer;
  readonly nodesByName: ReadonlyMap<string, UpstreamNode>;
}

export interface ProxyState {
  readonly config: UcgateConfig;
  readonly router: Router;
  readonly clusters: ReadonlyMap<string, ClusterRuntime>;
}

export function buildProxyState(config: UcgateConfig): ProxyState {
  const clusters = new Map<string, ClusterRuntime>();
  for (const cluster of config.clusters) {
    const ca = readClusterCa(cluster);
    const nodes = cluster.nodes.map((node) => new UpstreamNode(cluster, node, ca));
    clusters.set(cluster.name, {
      config: cluster,
      balancer: new Balancer(nodes),
      nodesByName: new Map(nodes.map((node) => [node.name, node])),
    });
  }
  return { config, router: createRouter(config.routes), clusters };
}

/** Closes the upstream keep-alive pools of a state that is no longer used. */
export function disposeProxyState(state: ProxyState): void {
  for (const cluster of state.clusters.values()) for (const node of cluster.balancer.nodes) node.destroy();
}
