/**
 * Open client connections, in total and per client address, against
 * `limits.http`. A connection over a limit is still accepted (so it can be
 * told why in HTTP: 429 or 503, then closed) rather than silently dropped.
 * Each worker holds its share of the limits: the primary spreads connections
 * evenly over the workers.
 */
import type { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { HttpLimits } from '../config/types.js';
import { OVER_CLIENT_CONNECTIONS, OVER_TOTAL_CONNECTIONS, type LimitVerdict } from '../proxy/request-limits.js';

export class ConnectionTracker {
  #maxTotal = 0;
  #maxPerClient = 0;
  readonly #perClient = new Map<string, number>();
  readonly #overLimit = new Map<string, LimitVerdict>();
  #total = 0;

  constructor(limits: HttpLimits, workers: number) {
    this.setLimits(limits, workers);
  }

  /** New limits (a reload) apply to connections opened from now on; the counts carry over. */
  setLimits(limits: HttpLimits, workers: number): void {
    const share = Math.max(1, workers);
    this.#maxTotal = Math.max(1, Math.ceil(limits.maxConnections / share));
    this.#maxPerClient = Math.max(1, Math.ceil(limits.maxConnectionsPerClient / share));
  }

  get open(): number {
    return this.#total;
  }

  track(socket: Socket): void {
    const address = socket.remoteAddress ?? '';
    const key = `${address}:${socket.remotePort}`;
    const count = (this.#perClient.get(address) ?? 0) + 1;
    this.#perClient.set(address, count);
    this.#total++;
    if (this.#total > this.#maxTotal) this.#overLimit.set(key, OVER_TOTAL_CONNECTIONS);
    else if (count > this.#maxPerClient) this.#overLimit.set(key, OVER_CLIENT_CONNECTIONS);
    socket.once('close', () => {
      this.#total--;
      const left = (this.#perClient.get(address) ?? 1) - 1;
      if (left <= 0) this.#perClient.delete(address);
      else this.#perClient.set(address, left);
      this.#overLimit.delete(key);
    });
  }

  /** The limit this request's connection broke, if any (a map lookup only while some connection is over). */
  verdict(req: IncomingMessage): LimitVerdict | undefined {
    if (this.#overLimit.size === 0) return undefined;
    return this.#overLimit.get(`${req.socket.remoteAddress ?? ''}:${req.socket.remotePort}`);
  }
}
