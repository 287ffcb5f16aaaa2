/**
 * The harness's side of the Node load generators in clients/ (conn-client,
 * login-client): start them as separate processes, let each load its code
 * once, then run them in step, a warm-up run and a measured run, with the
 * proxy's CPU sampled right around the measured one. Why processes of their
 * own: the harness's event loop must not be the bottleneck, and one Node
 * client process saturates its core near the full-handshake rate of the
 * fastest contestants. The load generator shares the machine's cores with
 * the proxy and upstream either way (see the notes under the tables).
 */
import { join } from 'node:path';
import { launch, type Spawned } from './proc.js';
import type { WorkloadContext } from './types.js';

/** How many client processes, and slots (concurrent connections) in each. */
export const CLIENT_PROCESSES = 2;
export const CONCURRENCY_PER_PROCESS = 8;

/** What a run of all processes reports (see clients/driver.ts, Tally). */
export interface ClientReport {
  elapsedMs: number;
  /** ms per unit of work that succeeded (a request, a login). */
  latencies: number[];
  errors: Record<string, number>;
  statuses: Record<string, number>;
  protocols: Record<string, number>;
  reused: number;
  full: number;
  connections: number;
}

function addCounts(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
}

function merge(reports: readonly ClientReport[]): ClientReport {
  const merged: ClientReport = { elapsedMs: 0, latencies: [], errors: {}, statuses: {}, protocols: {}, reused: 0, full: 0, connections: 0 };
  for (const r of reports) {
    merged.elapsedMs = Math.max(merged.elapsedMs, r.elapsedMs);
    // concat, not push(...): tens of thousands of arguments overflow the stack.
    merged.latencies = merged.latencies.concat(r.latencies);
    addCounts(merged.errors, r.errors);
    addCounts(merged.statuses, r.statuses);
    addCounts(merged.protocols, r.protocols);
    merged.reused += r.reused;
    merged.full += r.full;
    merged.connections += r.connections;
  }
  return merged;
}

/** The client processes of one workload: loaded once, then told to run in step. */
class ClientProcesses {
  readonly #children: Spawned[];

  /** `client`: a file in test/bench/clients/; `optionsOf(i)`: what process i gets besides the endpoint and concurrency. */
  constructor(ctx: WorkloadContext, client: string, optionsOf: (index: number) => object) {
    const { endpoint } = ctx.contestant;
    const target = {
      host: endpoint.host,
      port: endpoint.port,
      servername: endpoint.servername,
      caFile: endpoint.caFile,
      concurrency: CONCURRENCY_PER_PROCESS,
      ...(ctx.settings.clientAlpn && { alpn: ctx.settings.clientAlpn }),
    };
    const script = join(ctx.settings.repo, 'test/bench/clients', client);
    this.#children = Array.from({ length: CLIENT_PROCESSES }, (_, i) =>
      launch(`${client.replace(/\.ts$/, '')}-${i}`, process.execPath, ['--import', 'tsx', script, JSON.stringify({ ...target, ...optionsOf(i) })], {
        cwd: ctx.settings.repo,
        ipc: true,
      }),
    );
  }

  #next<T>(child: Spawned): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      child.proc.once('message', (message) => resolve(message as T));
      void child.exited.then(() => reject(new Error(`${child.name} exited:\n${child.tail()}`)));
    });
  }

  async ready(): Promise<void> {
    await Promise.all(this.#children.map((child) => this.#next(child)));
  }

  /** All clients run for `seconds` together; `onGo` runs the moment they are told to start. */
  async run(seconds: number, onGo: () => void = () => {}): Promise<ClientReport> {
    const answers = this.#children.map((child) => this.#next<ClientReport>(child));
    onGo();
    for (const child of this.#children) child.proc.send({ durationMs: seconds * 1000 });
    return merge(await Promise.all(answers));
  }

  async close(): Promise<void> {
    await Promise.all(this.#children.map((child) => child.stop(2000)));
  }
}

export interface MeasuredRun {
  readonly report: ClientReport;
  /** Proxy CPU seconds over the measured run; undefined when the contestant is not a proxy. */
  readonly cpuSeconds: number | undefined;
}

/** Starts the clients, runs the warm-up then the measured run (settings' durations), and stops them. */
export async function measureWithClients(ctx: WorkloadContext, client: string, optionsOf: (index: number) => object): Promise<MeasuredRun> {
  const clients = new ClientProcesses(ctx, client, optionsOf);
  try {
    await clients.ready();
    await clients.run(ctx.settings.warmupS);
    let cpuBefore: number | undefined;
    const report = await clients.run(ctx.settings.durationS, () => (cpuBefore = ctx.proxyCpuSeconds()));
    const cpuAfter = ctx.proxyCpuSeconds();
    return { report, cpuSeconds: cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore };
  } finally {
    await clients.close();
  }
}
