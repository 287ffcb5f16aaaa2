/**
 * The "node-floor" reference (see node-floor-server.ts): not a peer, and not
 * in the default run; `--only node-floor` (or `--floor`) adds it. Its figures
 * say how much of ucgate's cost per request is Node's own http/https stack.
 */
import { join } from 'node:path';
import type { BenchPki } from '../lib/pki.js';
import type { UpstreamSet } from '../lib/types.js';
import { ProcessContestant } from './common.js';

export class NodeFloorContestant extends ProcessContestant {
  readonly name = 'node-floor';
  readonly #repo: string;
  readonly #workers: number;
  readonly #nodeArgs: readonly string[];
  /** The node binary it runs on: the same as ucgate's, so the floor is Node's cost on that runtime. */
  readonly #execPath: string;

  constructor(repo: string, workers = 2, nodeArgs: readonly string[] = [], execPath = process.execPath) {
    super();
    this.#execPath = execPath;
    this.#repo = repo;
    this.#workers = workers;
    this.#nodeArgs = nodeArgs;
  }

  async start(upstream: UpstreamSet, pki: BenchPki): Promise<void> {
    const pub = upstream.nodes[0]!;
    const script = join(this.#repo, 'test/bench/contestants/node-floor-server.ts');
    await this.launchOnFreePort(pki, (port) => ({
      command: this.#execPath,
      args: [
        ...this.#nodeArgs,
        '--import',
        'tsx',
        script,
        JSON.stringify({
          port,
          workers: this.#workers,
          certFile: pki.frontCertFile,
          keyFile: pki.frontKeyFile,
          caFile: upstream.caFile,
          upstream: { host: '127.0.0.1', port: pub.port, servername: pub.hostname },
        }),
      ],
    }));
  }
}
