/**
 * What the bench's connection clients (conn-client.ts, login-client.ts)
 * share. Each runs in its own process, started over IPC with
 * `node --import tsx` and its options as JSON in argv[2] (see lib/client-
 * processes.ts). It says 'ready' once loaded, then serves runs: each message
 * `{ durationMs }` runs every one of `concurrency` slots in a loop, one unit
 * of work after another (a connection, a login) until the time is up, and
 * answers with that run's Tally. The harness sends a warm-up run and a
 * measured run to the same processes (tsx start-up is slow on a busy
 * machine), and samples the proxy's CPU right when it sends the measured one.
 *
 * One SecureContext is built once and shared: parsing the CA per connection
 * would be client cost, not server cost. Node's client keeps no session cache
 * of its own, so a connection given no `session` does a full handshake; every
 * connection reports isSessionReused(), so the output proves which kind of
 * handshake was timed.
 */
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** Where the client connects: the contestant's endpoint, plus how hard to push it. */
export interface TargetOptions {
  readonly host: string;
  readonly port: number;
  readonly servername: string;
  readonly caFile: string;
  readonly concurrency: number;
  readonly timeoutMs?: number;
  /** ALPN protocols to offer (browsers and Jabber do; phones mostly not). */
  readonly alpn?: readonly string[];
}

/** The options from argv[2], and the one SecureContext every connection of this process shares. */
export function loadTarget<T extends TargetOptions>(): { opts: T; secureContext: tls.SecureContext } {
  const opts = JSON.parse(process.argv[2] ?? '{}') as T;
  return { opts, secureContext: tls.createSecureContext({ ca: readFileSync(opts.caFile) }) };
}

/** The counts of one run, sent back as the run's report (ClientReport in lib/client-processes.ts). */
export class Tally {
  readonly latencies: number[] = [];
  readonly errors: Record<string, number> = {};
  readonly statuses: Record<string, number> = {};
  readonly protocols: Record<string, number> = {};
  reused = 0;
  full = 0;

  handshake(socket: tls.TLSSocket): void {
    if (socket.isSessionReused()) this.reused++;
    else this.full++;
    const protocol = socket.getProtocol() ?? '?';
    this.protocols[protocol] = (this.protocols[protocol] ?? 0) + 1;
  }

  status(code: string | number): void {
    this.statuses[code] = (this.statuses[code] ?? 0) + 1;
  }

  error(key: string): void {
    this.errors[key] = (this.errors[key] ?? 0) + 1;
  }

  report(elapsedMs: number): object {
    const { latencies, errors, statuses, protocols, reused, full } = this;
    return { elapsedMs, latencies, errors, statuses, protocols, reused, full, connections: reused + full };
  }
}

export interface Connection {
  readonly socket: tls.TLSSocket;
  /** The code (or message) of the socket's first error, if it had one. */
  failure(): string | undefined;
}

/**
 * A TLS connection for one unit of work: Nagle off, destroyed with ETIMEDOUT
 * after `timeoutMs` (default 10 s), its handshake counted in `tally`, then
 * handed to `onSecure` (to write the first request).
 */
export function connectTo(
  opts: TargetOptions,
  secureContext: tls.SecureContext,
  tally: Tally,
  session: Buffer | undefined,
  onSecure: (socket: tls.TLSSocket) => void,
): Connection {
  let failure: string | undefined;
  const socket = tls.connect({ host: opts.host, port: opts.port, servername: opts.servername, secureContext, session, ...(opts.alpn && { ALPNProtocols: [...opts.alpn] }) });
  socket.setNoDelay(true);
  const timer = setTimeout(() => socket.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })), opts.timeoutMs ?? 10_000);
  socket.once('secureConnect', () => {
    tally.handshake(socket);
    onSecure(socket);
  });
  socket.on('error', (err: NodeJS.ErrnoException) => (failure ??= err.code ?? err.message));
  socket.once('close', () => clearTimeout(timer));
  return { socket, failure: () => failure };
}

/** A slot's unit of work: resolves when it is over, whatever its outcome (recorded in `tally`). */
export type Unit = (slot: number, tally: Tally) => Promise<void>;

async function run(concurrency: number, unit: Unit, durationMs: number): Promise<object> {
  const tally = new Tally();
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  const slot = async (index: number): Promise<void> => {
    while (performance.now() < deadline) await unit(index, tally);
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => slot(i)));
  return tally.report(performance.now() - t0);
}

/** Serves runs over IPC until the harness disconnects (or sends anything but a run). */
export function serveRuns(who: string, concurrency: number, unit: Unit): void {
  if (!process.send) throw new Error(`${who} is driven over IPC by test/bench (lib/client-processes.ts)`);
  process.on('message', (message: { durationMs?: number }) => {
    if (typeof message.durationMs !== 'number') {
      process.disconnect?.();
      return;
    }
    void run(concurrency, unit, message.durationMs).then((report) => process.send!(report));
  });
  process.send('ready');
}
