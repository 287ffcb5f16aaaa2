/**
 * The TFTP listeners' view of the configuration: each cluster's TFTP servers
 * as upstream nodes, and routes that pick the cluster by the name the client
 * used. Fed to the same proxy-state builder as the main listeners, so TFTP
 * requests get the balancer, retries, timeouts and upstream TLS verification
 * of every other request (no second proxy).
 */
import type { ClusterConfig, NodeConfig, RouteConfig, TftpConfig, UcgateConfig } from '../config/types.js';

/**
 * Configuration files are static reads: hedged past a hung TFTP server. No
 * concurrency ceiling, so the queue keys are never consulted.
 */
const TFTP_ROUTE = { methods: ['GET', 'HEAD'], replay: 'hedge', affinityMode: 'prefer', maxQueued: 0, queueTimeoutMs: 1 } as const satisfies Partial<RouteConfig>;

/**
 * A cluster's TFTP servers: `clusters[].tftp.nodes` when given (dedicated
 * TFTP servers, or only the nodes running the TFTP service), else `nodes`
 * (configured or found through SRV) on CUCM's TFTP-over-HTTPS port.
 */
export function tftpNodesOf(cluster: ClusterConfig, nodes: readonly NodeConfig[], nodePort: number): NodeConfig[] {
  if (cluster.tftp?.nodes !== undefined) return [...cluster.tftp.nodes];
  const port = cluster.tftp?.port ?? nodePort;
  return nodes.map((node) => {
    const url = new URL(node.url);
    url.port = String(port);
    return { ...node, url: `${url.protocol}//${url.host}` };
  });
}

/**
 * The cluster that answers TFTP requests whose Host is no cluster's public
 * name: the one the host-less UDS route goes to, which is where Jabber's
 * discovery starts (SRV → gateway.fqdn).
 */
export function defaultTftpCluster(config: UcgateConfig): string {
  const uds = config.routes.find((route) => route.host === undefined && '/cucm-uds/'.startsWith(route.pathPrefix.toLowerCase()));
  return uds?.cluster ?? config.clusters[0]!.name;
}

/** The configuration the TFTP listeners' proxy state is built from, when `tftp` (config.tftp) is on. */
export function tftpProxyConfig(config: UcgateConfig, tftp: TftpConfig): UcgateConfig {
  const nodePort = tftp.nodePort;
  const clusters = config.clusters.map((cluster): ClusterConfig => {
    // SRV discovery belongs to the main clusters; their nodes arrive through setNodes. Sessions are a phone-services matter.
    const { srv: _srv, sticky: _sticky, ...rest } = cluster;
    return { ...rest, nodes: tftpNodesOf(cluster, cluster.nodes, nodePort) };
  });
  const routes: RouteConfig[] = config.clusters
    .filter((cluster) => cluster.publicName !== undefined)
    .map((cluster) => ({ host: cluster.publicName!, pathPrefix: '/', cluster: cluster.name, ...TFTP_ROUTE }));
  routes.push({ pathPrefix: '/', cluster: defaultTftpCluster(config), ...TFTP_ROUTE });
  return { ...config, clusters, routes, routesBuiltIn: false };
}
