/**
 * The baseline: clients talk straight to the publisher node, verifying it
 * with the node CA. Every proxy's figures are read as a ratio to this one.
 */
import { waitUntilServing } from '../lib/probe.js';
import type { Contestant, Endpoint, UpstreamSet } from '../lib/types.js';
import { legNotes } from './common.js';

export class DirectContestant implements Contestant {
  readonly name = 'direct';
  readonly isProxy = false;
  #ep: Endpoint | undefined;
  #facts: string[] = [];

  async start(upstream: UpstreamSet): Promise<void> {
    const pub = upstream.nodes[0]!;
    const ep = { host: '127.0.0.1', port: pub.port, servername: pub.hostname, caFile: upstream.caFile, url: `https://127.0.0.1:${pub.port}` };
    this.#facts = legNotes(this.name, await waitUntilServing(ep, 10_000));
    this.#ep = ep;
  }

  async stop(): Promise<void> {
    this.#ep = undefined;
  }

  get endpoint(): Endpoint {
    if (!this.#ep) throw new Error('direct is not started');
    return this.#ep;
  }

  pids(): number[] {
    return [];
  }

  notes(): string[] {
    return this.#facts;
  }
}
