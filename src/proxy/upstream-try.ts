/**
 * One try of a request against one node: the upstream request (dispatched on
 * the node's undici pool), its first-byte clock, and a clean abort. The request
 * handler owns the policy (which node, when to retry or hedge, what the client
 * sees); a try only reports what happened to it: a response head, or one failure.
 *
 * Clocks: the pool's connector gives up on a TLS session that is not up within
 * `connectMs` (a pooled connection is up already); `firstByteMs` then runs
 * from when the request is fully sent until the response head.
 */
import type { Dispatcher } from 'undici';
import { releaseConnection, type PooledHandler, type UpstreamNode } from '../upstream/upstream-node.js';
import { UpstreamResponse, rawHeaderStrings } from './upstream-response.js';
import { UpstreamFramingError, UpstreamTimeoutError, CONNECT_TIMEOUT, FIRST_BYTE_TIMEOUT } from '../http/upstream-failure.js';

export interface TryOptions {
  readonly method: string;
  readonly path: string;
  readonly headers: string[];
  /** The request body, pulled only once the node's connection is up: a refused connection leaves it unread. A Buffer was read whole first. */
  readonly body: AsyncIterable<Buffer> | Buffer | null;
  readonly connectMs: number;
  readonly firstByteMs: number;
  /** Called once the node's connection is up, just before the request head leaves. */
  readonly onConnected: (attempt: UpstreamTry) => void;
  readonly onResponse: (attempt: UpstreamTry, res: UpstreamResponse) => void;
  readonly onError: (attempt: UpstreamTry, err: Error) => void;
}

type Abort = (err?: Error) => void;

export class UpstreamTry {
  readonly node: UpstreamNode;
  readonly startedAt: number;
  /** Whether a response head came (then the try is the request's answer, or was drained). */
  answered = false;
  /** Set before an abort, so the error the abort causes is not taken for the node's failure. */
  aborted = false;
  /** Whether the request body has started to leave (a non-idempotent request can then not be replayed). */
  bodyStarted = false;
  /** The node's answer once its head came; `complete` once all of it did. */
  response: UpstreamResponse | undefined;
  #timer: NodeJS.Timeout | undefined;
  #abort: Abort | undefined;
  /** A failure decided here before the pool handed over its abort (a timeout, an abort): later pool events are ignored. */
  #settled = false;
  #constructing = true;
  readonly #options: TryOptions;

  constructor(node: UpstreamNode, options: TryOptions, now: number) {
    this.node = node;
    this.startedAt = now;
    this.#options = options;
    const handler: PooledHandler = {
      onConnect: (abort: Abort) => this.#onConnect(abort),
      onRequestSent: () => this.#armFirstByte(),
      onHeaders: (status: number, raw: Buffer[], resume: () => void, statusText: string) => this.#onHeaders(status, raw, resume, statusText),
      onData: (chunk: Buffer) => this.response?.deliver(chunk) ?? true,
      onComplete: () => {
        releaseConnection(handler);
        this.response?.finish();
      },
      onError: (err: Error) => {
        releaseConnection(handler);
        this.#onError(err);
      },
    } as PooledHandler;
    node.pool.dispatch(
      { path: options.path, method: options.method as Dispatcher.HttpMethod, headers: options.headers, body: options.body as Dispatcher.DispatchOptions['body'] },
      handler as Dispatcher.DispatchHandler,
    );
    this.#constructing = false;
  }

  /** Ends the try without a verdict on the node: the socket is destroyed, never returned to the pool half-used. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.#settled = true;
    this.#clear();
    this.#abort?.();
    if (this.response && !this.response.complete) this.response.destroy();
  }

  /** Fails the try with `err` (a body over the limit, a timeout): reported through onError like the node's own failures. */
  fail(err: Error): void {
    this.#clear();
    if (this.#abort) {
      this.#abort(err);
      return;
    }
    // Still waiting for a connection: the pool cannot cancel it yet, so report now and drop it when it comes.
    this.#settled = true;
    this.#options.onError(this, err);
  }

  #onConnect(abort: Abort): void {
    if (this.#settled) {
      abort();
      return;
    }
    this.#abort = abort;
    this.#options.onConnected(this);
  }

  #onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    // 1xx interim answers are the connection's business; the client gets the final one.
    if (status < 200 || this.#settled) return true;
    this.#clear();
    const rawHeaders = rawHeaderStrings(raw);
    const coding = transferCoding(rawHeaders);
    if (coding !== undefined && !endsInChunked(coding)) {
      // RFC 9112 §6.3 lets such a body run to the close; nginx and HAProxy refuse it, and so do we:
      // a failure before any byte reached the client, so an idempotent request goes to the next node.
      this.fail(new UpstreamFramingError(coding));
      return false;
    }
    this.answered = true;
    const response = new UpstreamResponse(status, statusText, rawHeaders, resume);
    this.response = response;
    this.#options.onResponse(this, response);
    return true;
  }

  // Also after the head: a node that resets mid-body is still a failure to report (the client's answer is cut).
  #onError(err: Error): void {
    this.#clear();
    if (this.#settled) return;
    this.#settled = true;
    if (this.response && !this.response.complete) this.response.destroy(err);
    const reported = timeoutOf(err, this.#options.connectMs) ?? err;
    // An error thrown by dispatch itself arrives before the caller holds the try.
    if (this.#constructing) queueMicrotask(() => this.#options.onError(this, reported));
    else this.#options.onError(this, reported);
  }

  #armFirstByte(): void {
    if (this.#settled || this.answered) return;
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

/** The pool's connector timing out is our connect timeout, under the code the logs and metrics have always used. */
function timeoutOf(err: Error, connectMs: number): Error | undefined {
  return (err as { code?: string }).code === 'UND_ERR_CONNECT_TIMEOUT' ? new UpstreamTimeoutError(CONNECT_TIMEOUT, connectMs) : undefined;
}

function transferCoding(rawHeaders: readonly string[]): string | undefined {
  let coding: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') coding = coding === undefined ? rawHeaders[i + 1]! : `${coding}, ${rawHeaders[i + 1]!}`;
  }
  return coding;
}

function endsInChunked(transferEncoding: string): boolean {
  const last = transferEncoding.slice(transferEncoding.lastIndexOf(',') + 1);
  return last.trim().toLowerCase() === 'chunked';
}
