/**
 * Where node names come from: the configuration (URL hosts, aliases, pinned
 * addresses, the SNI override) and, at run time, a cluster's own UDS
 * `/cucm-uds/servers` list.
 */
import type { ClusterConfig, NodeConfig, UcgateConfig } from '../config/types.js';
import { isIpLiteral } from './names.js';
import type { RewriteRulesInput } from './rules.js';

export interface NameOptions {
  /**
   * Also match each FQDN's first label (`cucm-pub` for
   * `cucm-pub.example.test`). Default true: CUCM servers defined by host
   * name appear that way in `/servers`, `homeCluster` and service URLs. The
   * price: a short name that is also an ordinary word (a node called `cucm`)
   * is rewritten wherever it stands alone in a body, e.g. `<model>cucm</model>`.
   */
  readonly shortNames?: boolean;
}

/** The names one node goes by. */
export function namesOfNode(node: NodeConfig, options: NameOptions = {}): string[] {
  const names = [new URL(node.url).hostname, ...node.aliases];
  if (node.address !== undefined) names.push(node.address);
  return expandShortNames(names, options);
}

/** The names every node (and TFTP server) of a cluster goes by, plus the cluster's SNI override (a name the nodes answer to). */
export function namesOfCluster(cluster: ClusterConfig, options: NameOptions = {}): string[] {
  // Dedicated TFTP servers are named in UDS answers too (`serviceProfile` URIs).
  const names = [...cluster.nodes, ...(cluster.tftp?.nodes ?? [])].flatMap((node) => namesOfNode(node, options));
  if (cluster.tls.servername !== undefined) names.push(...expandShortNames([cluster.tls.servername], options));
  return [...new Set(names.map((n) => n.toLowerCase()))];
}

/**
 * Rule input for responses served by `clusterName`: its own names go to the
 * request's target host; every other cluster's names go to that cluster's
 * public name (default `gateway.fqdn`), so a `homeCluster` naming another
 * cluster still lands on the gateway. Port maps and media types are the
 * caller's to add.
 */
export function rulesInputForCluster(config: UcgateConfig, clusterName: string, options: NameOptions = {}): RewriteRulesInput {
  const own = config.clusters.find((c) => c.name === clusterName);
  if (own === undefined) throw new RangeError(`no cluster named ${clusterName}`);
  return {
    names: namesOfCluster(own, options),
    groups: config.clusters
      .filter((c) => c !== own)
      .map((c) => ({ publicName: c.publicName ?? config.gateway.fqdn, names: namesOfCluster(c, options) })),
  };
}

/** `names` plus the first label of each DNS name with dots (unless `shortNames` is false). For learned names too. */
export function expandShortNames(names: readonly string[], options: NameOptions = {}): string[] {
  if (options.shortNames === false) return [...names];
  const out = [...names];
  for (const name of names) {
    const dot = name.indexOf('.');
    if (dot > 0 && !isIpLiteral(name)) out.push(name.slice(0, dot));
  }
  return out;
}

const SERVER_ELEMENT = /<server>\s*([^<\s]+)\s*<\/server>/g;

/**
 * The node names in a UDS `/cucm-uds/servers` answer (`<servers><server>
 * name</server>...`). Input is the node's text; feed the result to
 * `RewriteRules.withNames`, which drops anything that is not a host name.
 */
export function parseUdsServers(xml: string): string[] {
  const names: string[] = [];
  for (const m of xml.matchAll(SERVER_ELEMENT)) names.push(m[1]!);
  return names;
}
