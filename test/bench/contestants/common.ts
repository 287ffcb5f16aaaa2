/**
 * What every process-based contestant shares: launching on a port chosen just
 * before start (with retries, see lib/ports.ts for the race), proving the
 * thing on that port is ours with a verified request through it, and
 * remembering which TLS versions the front and upstream legs negotiated
 * (Debian's nginx runs TLS 1.2 unless told otherwise: figures from different
 * versions would not compare).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FQDN, type BenchPki } from '../lib/pki.js';
import { launch, type Spawned } from '../lib/proc.js';
import { withPortRetries } from '../lib/ports.js';
import { waitUntilServing, type ProbeResult } from '../lib/probe.js';
import type { Contestant, Endpoint, UpstreamSet } from '../lib/types.js';

export function frontEndpoint(port: number, pki: BenchPki): Endpoint {
  return { host: '127.0.0.1', port, servername: FQDN, caFile: pki.frontCaFile, url: `https://127.0.0.1:${port}` };
}

/** How many times a body names a CUCM node of the bench (none once a proxy has rewritten them all). */
export function nodeNameCount(body: string): number {
  return body.match(/cucm-(pub|sub1)\.example\.test/g)?.length ?? 0;
}

/** What became of the node names in a body: how many are left, how many name the gateway instead. */
export function namesNote(body: string): string {
  return `${nodeNameCount(body)} node name(s) left, ${body.split(FQDN).length - 1} naming ${FQDN}`;
}

/**
 * The negotiated TLS versions, and whether the UDS body still names the node
 * (peers pass it through; ucgate rewrites node names to its own, which is
 * work the peers do not do and which the figures include).
 */
export function legNotes(name: string, probe: ProbeResult): string[] {
  const upstreamTls = probe.headers['x-upstream-tls'];
  const rewritten = nodeNameCount(probe.body) > 0 ? 'body passed through unchanged' : 'node names in the body rewritten';
  return [`${name}: client leg ${probe.protocol ?? '?'}${upstreamTls ? `, upstream leg ${String(upstreamTls)}` : ''}; ${rewritten}`];
}

export interface LaunchSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

export abstract class ProcessContestant implements Contestant {
  abstract readonly name: string;
  readonly isProxy = true;
  protected child: Spawned | undefined;
  protected ep: Endpoint | undefined;
  protected facts: string[] = [];

  abstract start(upstream: UpstreamSet, pki: BenchPki, workDir: string): Promise<void>;

  get endpoint(): Endpoint {
    if (!this.ep) throw new Error(`${this.name} is not started`);
    return this.ep;
  }

  pids(): number[] {
    return this.child ? [this.child.pid] : [];
  }

  notes(): string[] {
    return this.facts;
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    this.ep = undefined;
    if (child) await child.stop(5000);
  }

  protected dir(workDir: string): string {
    const dir = join(workDir, this.name);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** Writes the config for a fresh port (via `build`), starts it, and checks a verified request through it. */
  protected async launchOnFreePort(pki: BenchPki, build: (port: number) => LaunchSpec): Promise<void> {
    await withPortRetries(1, async ([port]) => {
      const spec = build(port!);
      const child = launch(this.name, spec.command, spec.args, { env: spec.env ?? {} });
      const ep = frontEndpoint(port!, pki);
      try {
        const probe = await waitUntilServing(ep, 20_000, child.alive);
        this.facts = legNotes(this.name, probe);
      } catch (err) {
        await child.stop(2000);
        throw new Error(`${this.name} did not start on port ${port}: ${(err as Error).message}\n${child.tail()}`);
      }
      this.child = child;
      this.ep = ep;
    });
  }
}
