/**
 * One try of a request against one node: the upstream request (node:https on
 * the node's keep-alive agent, no proxy library in between), its connect and
 * first-byte clocks, and a clean abort. The request handler owns the policy
 * (which node, when to retry or hedge, what the client sees); a try only
 * reports what happened to it: a response head, or one failure.
 *
 * Clocks: `connectMs` from the try's start until the node's TLS session is up
 * (a pooled connection is up already), then `firstByteMs` until the response
 * head, counted from when the request is fully sent.
 */
import { request as httpsRequest } from 'node:https';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { UpstreamNode } from '../upstream/upstream-node.js';
import { UpstreamFramingError, UpstreamTimeoutError, CONNECT_TIMEOUT, FIRST_BYTE_TIMEOUT } from './upstream-failure.js';

export interface TryOptions {
  readonly method: string;
  readonly path: string;
  readonly headers: string[];
  readonly maxHeaderSize: number;
  readonly connectMs: number;
  readonly firstByteMs: number;
  /** Called once the node's connection is up; a body is piped from here, so a refused connection leaves it unread. */
  readonly onConnected: (attempt: UpstreamTry) => void;
  readonly onResponse: (attempt: UpstreamTry, res: IncomingMessage) => void;
  readonly onError: (attempt: UpstreamTry, err: Error) => void;
}

export class UpstreamTry {
  readonly node: UpstreamNode;
  readonly startedAt: number;
  readonly req: ClientRequest;
  /** Whether a response head came (then the try is the request's answer, or was drained). */
  answered = false;
  /** Set before an abort, so the error the abort causes is not taken for the node's failure. */
  aborted = false;
  /** Whether the request body has started to leave (a non-idempotent request can then not be replayed). */
  bodyStarted = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #options: TryOptions;

  constructor(node: UpstreamNode, options: TryOptions, now: number) {
    this.node = node;
    this.startedAt = now;
    this.#options = options;
    const req = httpsRequest({
      agent: node.agent,
      host: node.target.host,
      port: node.target.port,
      method: options.method,
      path: options.path,
      headers: options.headers,
      setHost: false,
      maxHeaderSize: options.maxHeaderSize,
    });
    this.req = req;
    req.on('socket', (socket) => this.#onSocket(socket as TLSSocket));
    req.on('response', (res) => {
      if (this.aborted) {
        res.resume();
        return;
      }
      const coding = res.headers['transfer-encoding'];
      if (coding !== undefined && !endsInChunked(coding)) {
        // RFC 9112 §6.3 lets such a body run to the close; nginx and HAProxy refuse it, and so do we:
        // a failure before any byte reached the client, so an idempotent request goes to the next node.
        this.abort();
        options.onError(this, new UpstreamFramingError(coding));
        return;
      }
      this.#clear();
      this.answered = true;
      options.onResponse(this, res);
    });
    // Also after the head: a node that resets mid-body is still a failure to report (the client's answer is cut).
    req.on('error', (err) => {
      this.#clear();
      if (!this.aborted) options.onError(this, err);
    });
  }

  /** Ends the try without a verdict on the node: the socket is destroyed, never returned to the pool half-used. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.#clear();
    this.req.destroy();
  }

  /** Fails the try with `err` (a body over the limit, a timeout): reported through onError like the node's own failures. */
  fail(err: Error): void {
    this.#clear();
    this.req.destroy(err);
  }

  #onSocket(socket: TLSSocket): void {
    if (this.aborted) return;
    if (this.req.reusedSocket) {
      this.#connected();
      return;
    }
    this.#timer = setTimeout(() => this.fail(new UpstreamTimeoutError(CONNECT_TIMEOUT, this.#options.connectMs)), this.#options.connectMs);
    socket.once('secureConnect', () => this.#connected());
  }

  #connected(): void {
    if (this.aborted || this.answered || this.req.destroyed) return;
    this.#clear();
    this.#options.onConnected(this);
    // The first-byte clock starts once the request is on its way.
    if (this.req.writableFinished) this.#armFirstByte();
    else this.req.once('finish', () => this.#armFirstByte());
  }

  #armFirstByte(): void {
    if (this.aborted || this.answered || this.req.destroyed) return;
    const ms = this.#options.firstByteMs;
    this.#timer = setTimeout(() => this.fail(new UpstreamTimeoutError(FIRST_BYTE_TIMEOUT, ms)), ms);
  }

  #clear(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}

function endsInChunked(transferEncoding: string): boolean {
  const last = transferEncoding.slice(transferEncoding.lastIndexOf(',') + 1);
  return last.trim().toLowerCase() === 'chunked';
}
