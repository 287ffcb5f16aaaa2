/**
 * Which CUCM servers the gateway's leaf is published to, and with what
 * credentials. Cisco's certificate-management API is per server, so
 * `certificates.cucmTrust` names clusters and every server of each becomes one
 * target: the `nodes` given, else the cluster's own nodes at their URLs with
 * the publisher at `url` (a cluster found by SRV has no static nodes, so its
 * publisher or nodes name them), each server once however often the cluster
 * lists it. The platform credentials are read from a file only its owner may
 * read, at each use, so a changed password needs no restart. A server the
 * ledger names is found again among them (or rebuilt, when no longer
 * configured) to remove a replaced leaf.
 */
import { readFile, stat } from 'node:fs/promises';
import type { UcgateConfig, CucmTrustConfig, CucmTrustTarget } from '../config/types.js';
import { UcgateError, ErrorCodes } from '../errors.js';
import { readClusterCa } from '../upstream/cluster-ca.js';
import type { CertmgrTarget, PlatformCredentials } from './certmgr-client.js';
import { targetKey, type PublishedTarget } from './trust-ledger.js';

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
      servers = cluster.nodes.map((n) => ({ node: n.name, url: n.url, address: n.address }));
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

/** The configured server (of `targets`) for a ledger target, else one made from what the ledger kept (a server no longer configured). */
export function heldTarget(targets: readonly CertmgrTarget[], held: PublishedTarget): CertmgrTarget {
  const key = targetKey(held);
  const configured = targets.find((t) => targetKey(t) === key) ?? (held.node === undefined ? targets.find((t) => t.cluster === held.cluster && t.url === held.url) : undefined);
  if (configured) return configured;
  const sibling = targets.find((t) => t.cluster === held.cluster);
  return { cluster: held.cluster, node: held.node ?? 'publisher', url: held.url, verify: sibling?.verify ?? true, ...(sibling?.caPem && { caPem: sibling.caPem }) };
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

/** `host[:port]` of a server's URL, for messages. */
export const hostOf = (url: string): string => new URL(url).host;

/** A server and the stores it gets, for messages. */
export const describeTarget = (target: CertmgrTarget, stores: readonly string[]): string => `cluster ${target.cluster} node ${target.node} (${hostOf(target.url)}): ${stores.join(', ')}`;
