/**
 * Concurrent load for failover tests: N clients in a loop over keep-alive
 * connections, each request's outcome recorded (status, answering node,
 * latency, error). Bounded by a stop() call and a hard deadline.
 */
import https from 'node:https';
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
