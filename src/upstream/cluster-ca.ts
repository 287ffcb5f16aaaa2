/**
 * A cluster's CA, read from its file. Apart from upstream-node.ts so that the
 * primary, which only hands the PEM on, does not load the upstream pool
 * (undici) to read a file.
 */
import { readFileSync } from 'node:fs';
import type { ClusterConfig } from '../config/types.js';

/** Reads a cluster's CA file once per config, not once per node or request. */
export function readClusterCa(cluster: ClusterConfig): string | undefined {
  return cluster.tls.caFile ? readFileSync(cluster.tls.caFile, 'utf8') : undefined;
}
