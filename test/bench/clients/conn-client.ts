/**
 * Load generator for "a new TLS connection per request", in its own process
 * (started over IPC with `node --import tsx`). argv[2] is JSON (see Options).
 * It says 'ready' once loaded, then serves runs: each message
 * `{ durationMs }` runs every one of `concurrency` slots in a loop — connect,
 * GET with `Connection: close`, read to the end, close — and answers with
 * counts and latencies (ms). The harness sends a warm-up run and a measured
 * run to the same processes (tsx start-up is slow on a busy machine), and
 * samples the proxy's CPU right when it sends the measured one.
 *
 * Why not `wrk -H 'Connection: close'`: OpenSSL in wrk resumes the TLS session
 * almost every time, so that measures resumption (TOOLS.md, "Benchmark traps").
 * Here `mode: 'full'` never offers a session and `mode: 'resumed'` always
 * offers the newest ticket its slot received; every connection reports
 * isSessionReused(), so the output proves which kind of handshake was timed.
 * One SecureContext is built once and shared: parsing the CA per connection
 * would be client cost, not server cost. Node's client keeps no session cache
 * of its own, so without `session` each handshake is full.
 */
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

interface Options {
  readonly host: string;
  readonly port: number;
  readonly servername: string;
  readonly caFile: string;
  readonly path: string;
  readonly concurrency: number;
  readonly mode: 'full' | 'resumed';
  readonly timeoutMs?: number;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as Options;
const secureContext = tls.createSecureContext({ ca: readFileSync(opts.caFile) });
const request = Buffer.from(
  `GET ${opts.path} HTTP/1.1\r\nHost: ${opts.servername}:${opts.port}\r\nUser-Agent: ucgate-bench\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
);
const timeoutMs = opts.timeoutMs ?? 10_000;

let latencies: number[] = [];
let errors: Record<string, number> = {};
let statuses: Record<string, number> = {};
let protocols: Record<string, number> = {};
let reused = 0;
let full = 0;
// Per slot, kept across runs: the warm-up run leaves each slot a ticket to resume with.
const sessions: (Buffer | undefined)[] = [];

interface Outcome {
  readonly session: Buffer | undefined;
}

function once(session: Buffer | undefined): Promise<Outcome> {
  return new Promise((resolve) => {
    const start = performance.now();
    let newSession: Buffer | undefined;
    let head: Buffer | undefined;
    let failure: string | undefined;
    const socket = tls.connect({ host: opts.host, port: opts.port, servername: opts.servername, secureContext, session });
    socket.setNoDelay(true);
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })), timeoutMs);
    socket.on('session', (s: Buffer) => (newSession = s));
    socket.once('secureConnect', () => {
      if (socket.isSessionReused()) reused++;
      else full++;
      const protocol = socket.getProtocol() ?? '?';
      protocols[protocol] = (protocols[protocol] ?? 0) + 1;
      socket.write(request);
    });
    socket.on('data', (chunk: Buffer) => {
      if (!head) head = chunk;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => (failure ??= err.code ?? err.message));
    socket.once('close', () => {
      clearTimeout(timer);
      const status = head ? /^HTTP\/1\.[01] (\d{3})/.exec(head.toString('latin1', 0, 16))?.[1] : undefined;
      if (status) statuses[status] = (statuses[status] ?? 0) + 1;
      if (failure === undefined && status === '200') latencies.push(performance.now() - start);
      else {
        const key = failure ?? (status ? `status ${status}` : 'closed without answer');
        errors[key] = (errors[key] ?? 0) + 1;
      }
      resolve({ session: newSession });
    });
  });
}

async function slot(index: number, deadline: number): Promise<void> {
  while (performance.now() < deadline) {
    const outcome = await once(opts.mode === 'resumed' ? sessions[index] : undefined);
    if (outcome.session) sessions[index] = outcome.session;
  }
}

async function run(durationMs: number): Promise<object> {
  latencies = [];
  errors = {};
  statuses = {};
  protocols = {};
  reused = 0;
  full = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: opts.concurrency }, (_, i) => slot(i, t0 + durationMs)));
  const elapsedMs = performance.now() - t0;
  return { elapsedMs, latencies, errors, statuses, protocols, reused, full, connections: reused + full };
}

if (!process.send) throw new Error('conn-client is driven over IPC by test/bench (workloads/throughput.ts)');
process.on('message', (message: { durationMs?: number }) => {
  if (typeof message.durationMs !== 'number') {
    process.disconnect?.();
    return;
  }
  void run(message.durationMs).then((report) => process.send!(report));
});
process.send('ready');
