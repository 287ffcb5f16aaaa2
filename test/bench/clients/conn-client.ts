/**
 * Load generator for "a new TLS connection per request", in its own process
 * (see driver.ts for how it is started and run; argv[2] is JSON, see
 * Options). Each slot loops: connect, GET with `Connection: close`, read to
 * the end, close; a request counts when its status is 200.
 *
 * Why not `wrk -H 'Connection: close'`: OpenSSL in wrk resumes the TLS session
 * almost every time, so that measures resumption (TOOLS.md, "Benchmark traps").
 * Here `mode: 'full'` never offers a session and `mode: 'resumed'` always
 * offers the newest ticket its slot received (the warm-up run leaves each slot
 * one to resume with).
 */
import { performance } from 'node:perf_hooks';
import { connectTo, loadTarget, serveRuns, type Tally, type TargetOptions } from './driver.js';

interface Options extends TargetOptions {
  readonly path: string;
  readonly mode: 'full' | 'resumed';
}

const { opts, secureContext } = loadTarget<Options>();
const request = Buffer.from(
  `GET ${opts.path} HTTP/1.1\r\nHost: ${opts.servername}:${opts.port}\r\nUser-Agent: ucgate-bench\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
);
// Per slot, kept across runs.
const sessions: (Buffer | undefined)[] = [];

/** One connection and request; resolves with the session ticket the server sent, if any. */
function once(tally: Tally, session: Buffer | undefined): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const start = performance.now();
    let newSession: Buffer | undefined;
    let head: Buffer | undefined;
    const { socket, failure } = connectTo(opts, secureContext, tally, session, (s) => s.write(request));
    socket.on('session', (s: Buffer) => (newSession = s));
    socket.on('data', (chunk: Buffer) => {
      if (!head) head = chunk;
    });
    socket.once('close', () => {
      const status = head ? /^HTTP\/1\.[01] (\d{3})/.exec(head.toString('latin1', 0, 16))?.[1] : undefined;
      if (status) tally.status(status);
      const failed = failure();
      if (failed === undefined && status === '200') tally.latencies.push(performance.now() - start);
      else tally.error(failed ?? (status ? `status ${status}` : 'closed without answer'));
      resolve(newSession);
    });
  });
}

serveRuns('conn-client', opts.concurrency, async (slot, tally) => {
  const session = await once(tally, opts.mode === 'resumed' ? sessions[slot] : undefined);
  if (session) sessions[slot] = session;
});
