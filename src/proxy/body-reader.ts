/**
 * Request bodies read before a node is chosen. A phone posts at most a few
 * hundred bytes; Jabber's form posts (OAuth token, push registration) a few
 * kilobytes. Streaming such a body through while it trickles in lets a client
 * hold a CUCM connection for as long as it likes (ten bodies dribbled over
 * 8 s held ten node connections), and leaves the credential guard blind to a
 * form body. So a body within `limits.http.bufferBodyBytes` is read whole,
 * under a total deadline, before any node connection is used; a larger one
 * (a route may allow it) streams, under a minimum rate.
 */
import type { IncomingMessage } from 'node:http';
import type { Clock, ClockTimer } from '../clock.js';

export interface BodyLimits {
  /** Bodies up to this size are read whole before a node is chosen. */
  readonly bufferBodyBytes: number;
  /** The route's ceiling: more is 413. */
  readonly maxBodyBytes: number;
  /** A whole-read body must be complete this long after the head; a streamed one must average minBodyBytesPerSecond after it. */
  readonly bodyTimeoutMs: number;
  readonly minBodyBytesPerSecond: number;
}

export type WholeBody = { readonly kind: 'whole'; readonly body: Buffer } | { readonly kind: 'stream' } | { readonly kind: 'too-large' } | { readonly kind: 'too-slow' } | { readonly kind: 'gone' };

/** Whether the client waits for `100 Continue` before it sends the body. */
export function expectsContinue(req: IncomingMessage): boolean {
  const expect = req.headers.expect;
  return expect !== undefined && expect.toLowerCase() === '100-continue';
}

/** Whether the body is small enough (declared, or chunked under a route ceiling within the buffer) to be read whole. */
export function readsWhole(req: IncomingMessage, limits: BodyLimits): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) <= limits.bufferBodyBytes;
  // Chunked: no size up front. Read whole when the route could not take more than the buffer anyway.
  return limits.maxBodyBytes <= limits.bufferBodyBytes;
}

/**
 * Reads the whole body under the deadline: `too-large` past the route's ceiling
 * (or the buffer), `too-slow` when the deadline passes first, `gone` when the
 * client left. Resolves once; never throws.
 */
export function readWhole(req: IncomingMessage, limits: BodyLimits, clock: Clock): Promise<WholeBody> {
  const ceiling = Math.min(limits.maxBodyBytes, limits.bufferBodyBytes);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: ClockTimer | undefined;
    const finish = (outcome: WholeBody) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.off('error', onClose);
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      resolve(outcome);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > ceiling) return finish({ kind: 'too-large' });
      chunks.push(chunk);
    };
    const onEnd = () => finish({ kind: 'whole', body: Buffer.concat(chunks, size) });
    const onClose = () => finish({ kind: 'gone' });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.on('error', onClose);
    timer = clock.setTimeout(() => finish({ kind: 'too-slow' }), limits.bodyTimeoutMs);
  });
}

/**
 * A streamed body's watchdog: after `bodyTimeoutMs`, the average rate since
 * the head must stay above `minBodyBytesPerSecond`, checked each second, or
 * `onTooSlow` is called once. Returns the counter to feed and a stop.
 */
export function rateGuard(limits: BodyLimits, clock: Clock, onTooSlow: () => void): { received(bytes: number): void; stop(): void } {
  const start = clock.now();
  let bytes = 0;
  let timer: ClockTimer | undefined;
  const check = () => {
    timer = undefined;
    const elapsedMs = clock.now() - start;
    if (elapsedMs >= limits.bodyTimeoutMs && (bytes * 1000) / elapsedMs < limits.minBodyBytesPerSecond) {
      onTooSlow();
      return;
    }
    timer = clock.setTimeout(check, 1000);
  };
  timer = clock.setTimeout(check, 1000);
  return {
    received: (n) => (bytes += n),
    stop: () => {
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
    },
  };
}
