/**
 * One simulated CUCM node in a process of its own (started with
 * `node --import tsx`), so the harness can SIGKILL or SIGSTOP exactly one
 * node, and so the node's single thread is not the harness's or the proxy's.
 * argv[2] is JSON: { name, hostname, clusterNodes, certFile, keyFile, port }.
 * Prints one JSON line `{"event":"node_ready","port":N}` when listening.
 */
import { readFileSync } from 'node:fs';
import { startCucmNode } from '../../../src/sim/cucm-node.js';
import { loginUserTable } from '../lib/bench-users.js';

interface Args {
  readonly name: string;
  readonly hostname: string;
  readonly clusterNodes: string[];
  readonly certFile: string;
  readonly keyFile: string;
  readonly port: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const node = await startCucmNode({
  name: args.name,
  hostname: args.hostname,
  clusterNodes: args.clusterNodes,
  homeCluster: args.clusterNodes[0]!,
  certPem: readFileSync(args.certFile, 'utf8'),
  keyPem: readFileSync(args.keyFile, 'utf8'),
  host: '127.0.0.1',
  port: args.port,
  // The login storm's users, so their Basic-auth devices request earns a 200, as on the static upstream.
  users: loginUserTable(),
});

// The node records every request for tests; over a long benchmark that list would grow without bound.
setInterval(() => node.clearRequests(), 1000).unref();

process.stdout.write(JSON.stringify({ event: 'node_ready', name: args.name, port: node.port }) + '\n');

const shutdown = (): void => {
  void node.close().then(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
