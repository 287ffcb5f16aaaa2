/**
 * Concurrent load for failover tests: N clients in a loop over keep-alive
 * connections, each request's outcome recorded (status, answering node,
 * latency, error). Bounded by a stop() call and a hard deadline.
 */
import https from 'node:https';
import tls from 'node:tls';
import { httpsRequest } from './net.js';

export interface LoadResult {
  readonly startedAt: number;
  readonly durationMs: number;
  readonly status: number;
  readonly node: string | undefined;
  readonly error: string | undefined;
}

export interface Load {
  readonly results: LoadResult[];
  /** Stops issuing requests and waits for those in flight. */
  stop(): Promise<LoadResult[]>;
  failures(): LoadResult[];
}

export function startLoad(options: {
  port: number;
  ca: string;
  servername: string;
  path?: string;
  concurrency?: number;
  maxDurationMs?: number;
  timeoutMs?: number;
}): Load {
  const results: LoadResult[] = [];
  const agent = new https.Agent({ keepAlive: true, maxSockets: options.concurrency ?? 10 });
  let running = true;
  const hardStop = setTimeout(() => (running = false), options.maxDurationMs ?? 60_000);
  const client = async () => {
    while (running) {
      const startedAt = Date.now();
      try {
        const res = await httpsRequest({
          host: '127.0.0.1',
          port: options.port,
          path: options.path ?? '/cucm-uds/version',
          ca: options.ca,
          servername: options.servername,
          agent,
          timeoutMs: options.timeoutMs ?? 15_000,
        });
        results.push({ startedAt, durationMs: Date.now() - startedAt, status: res.status, node: res.headers['x-cucm-node'] as string | undefined, error: undefined });
      } catch (err) {
        results.push({ startedAt, durationMs: Date.now() - startedAt, status: 0, node: undefined, error: `${(err as { code?: string }).code ?? ''} ${(err as Error).message}` });
      }
    }
  };
  const clients = Array.from({ length: options.concurrency ?? 10 }, () => client());
  return {
    results,
    failures: () => results.filter((r) => r.status !== 200),
    stop: async () => {
      running = false;
      clearTimeout(hardStop);
      await Promise.all(clients);
      agent.destroy();
      return results;
    },
  };
}

/** What one request of `runKeepAliveLoad` came to: the status code as text, or how it failed. */
export type KeepAliveOutcome = string;

export interface KeepAliveLoadOptions {
  readonly port: number;
  readonly ca: string;
  /** SNI, the name the certificate is checked against, and the Host header. */
  readonly servername: string;
  readonly path: string;
  /** Connections kept open side by side, one request in flight on each. */
  readonly connections: number;
  readonly total: number;
  /** No new request starts after this (`Date.now()` time). */
  readonly deadline: number;
  /** One request (connecting included) gives up after this long. Default 15 000. */
  readonly timeoutMs?: number;
  /** Called once per finished request, in completion order. */
  readonly onOutcome: (outcome: KeepAliveOutcome, done: number) => void;
}

export interface KeepAliveLoadResult {
  readonly done: number;
  /** TLS connections opened (the first of each lane, and one after every connection the server closed). */
  readonly connections: number;
  /** Of those, how many resumed an earlier TLS session. */
  readonly resumed: number;
}

interface ParsedAnswer {
  readonly status: number;
  /** Bytes the whole answer takes, head included; undefined while incomplete. */
  readonly length: number | undefined;
  readonly close: boolean;
}

/** Head and framing of the answer at the start of `data`; undefined until the head is complete, 'bad' if unparseable. */
function parseAnswer(data: Buffer): ParsedAnswer | undefined | 'bad' {
  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const head = data.toString('latin1', 0, headEnd).toLowerCase();
  if (!head.startsWith('http/1.1 ') && !head.startsWith('http/1.0 ')) return 'bad';
  const status = Number(head.slice(9, 12));
  const close = /\r\nconnection:[ \t]*close/.test(head) || head.startsWith('http/1.0');
  const bodyStart = headEnd + 4;
  if (/\r\ntransfer-encoding:[^\r]*chunked/.test(head)) {
    let cursor = bodyStart;
    for (;;) {
      const lineEnd = data.indexOf('\r\n', cursor);
      if (lineEnd < 0) return { status, length: undefined, close };
      const size = parseInt(data.toString('latin1', cursor, lineEnd), 16);
      if (Number.isNaN(size)) return 'bad';
      if (size === 0) {
        const end = data.indexOf('\r\n\r\n', lineEnd);
        return { status, length: end < 0 ? undefined : end + 4, close };
      }
      cursor = lineEnd + 2 + size + 2;
      if (cursor > data.length) return { status, length: undefined, close };
    }
  }
  const declared = /\r\ncontent-length:[ \t]*(\d+)/.exec(head);
  if (declared) {
    const end = bodyStart + Number(declared[1]);
    return { status, length: data.length >= end ? end : undefined, close };
  }
  // No framing: the body runs to the close, which a keep-alive client cannot tell from a cut.
  return { status, length: undefined, close: true };
}

/**
 * Keep-alive HTTPS load at the lowest client cost Node allows: raw TLS
 * sockets sharing one SecureContext, requests written as one string, answers
 * framed by hand (Content-Length or chunked) and never kept. `node:https`
 * spends several times the CPU per request, which on a small machine is CPU
 * the gateway under test does not get.
 *
 * A connection the server closes or resets costs the request in flight its
 * outcome (`closed`, `ECONNRESET`...) and is replaced by a new one that
 * resumes the TLS session. Bytes after an answer that no request asked for
 * are a framing fault (`extra-bytes`): the connection is dropped.
 */
export async function runKeepAliveLoad(options: KeepAliveLoadOptions): Promise<KeepAliveLoadResult> {
  const secureContext = tls.createSecureContext({ ca: options.ca });
  const request = Buffer.from(`GET ${options.path} HTTP/1.1\r\nHost: ${options.servername}\r\nUser-Agent: ucgate-load\r\n\r\n`, 'latin1');
  const timeoutMs = options.timeoutMs ?? 15_000;
  let issued = 0;
  let done = 0;
  let connections = 0;
  let resumed = 0;
  let session: Buffer | undefined;

  const finish = (outcome: KeepAliveOutcome) => {
    done++;
    options.onOutcome(outcome, done);
  };

  const lane = async (): Promise<void> => {
    let socket: tls.TLSSocket | undefined;
    while (issued < options.total && Date.now() < options.deadline) {
      issued++;
      const outcome = await new Promise<{ outcome: KeepAliveOutcome; keep: boolean }>((resolve) => {
        let settled = false;
        let buffer: Buffer = Buffer.alloc(0);
        const current = socket ?? connect();
        const settle = (outcome: KeepAliveOutcome, keep: boolean) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          current.off('data', onData);
          current.off('close', onClose);
          current.off('error', onError);
          resolve({ outcome, keep });
        };
        const onData = (chunk: Buffer) => {
          buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
          const answer = parseAnswer(buffer);
          if (answer === undefined) return;
          if (answer === 'bad') return settle('bad-answer', false);
          if (answer.length === undefined) return;
          if (buffer.length > answer.length) return settle('extra-bytes', false);
          settle(String(answer.status), !answer.close);
        };
        let lastError: (Error & { code?: string }) | undefined;
        const onError = (err: Error & { code?: string }) => (lastError = err);
        const onClose = () => settle(lastError?.code ?? 'closed', false);
        const timer = setTimeout(() => settle('timeout', false), timeoutMs);
        current.on('data', onData);
        current.on('error', onError);
        current.once('close', onClose);
        socket = current;
        current.write(request);
      });
      if (!outcome.keep) {
        socket?.destroy();
        socket = undefined;
      }
      finish(outcome.outcome);
    }
    socket?.destroy();
  };

  const connect = (): tls.TLSSocket => {
    connections++;
    const socket = tls.connect({ host: '127.0.0.1', port: options.port, secureContext, servername: options.servername, ALPNProtocols: ['http/1.1'], ...(session && { session }) });
    socket.on('session', (ticket: Buffer) => (session = ticket));
    socket.once('secureConnect', () => {
      if (socket.isSessionReused()) resumed++;
    });
    // Until the handshake is done, errors are the request's (its 'error' listener); afterwards too. Never unhandled.
    socket.on('error', () => {});
    return socket;
  };

  await Promise.all(Array.from({ length: options.connections }, lane));
  return { done, connections, resumed };
}
