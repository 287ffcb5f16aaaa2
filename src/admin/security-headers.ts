/**
 * Response headers that make the admin pages hard to abuse from a browser:
 * a Content-Security-Policy that runs only our own inline script and style
 * (by per-response nonce) and fetches only from this origin, no framing, no
 * MIME sniffing, no caching of anything authenticated.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';

/** A fresh nonce for one HTML response. */
export function newNonce(): string {
  return randomBytes(18).toString('base64');
}

/** The CSP for an HTML page whose only script and style elements carry `nonce`. */
export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    // The page's favicon is an empty data: URL, so the browser never asks for /favicon.ico.
    'img-src data:',
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

/** Headers every admin response carries (JSON and Prometheus text included). */
export function applyBaseHeaders(reply: FastifyReply, tls: boolean): void {
  reply.header('x-content-type-options', 'nosniff');
  reply.header('x-frame-options', 'DENY');
  reply.header('referrer-policy', 'same-origin');
  reply.header('cache-control', 'no-store');
  if (tls) reply.header('strict-transport-security', 'max-age=31536000');
}

/** Headers of an HTML page rendered with `nonce`. */
export function applyPageHeaders(reply: FastifyReply, nonce: string): FastifyReply {
  return reply
    .type('text/html; charset=utf-8')
    .header('content-security-policy', contentSecurityPolicy(nonce))
    .header('cross-origin-opener-policy', 'same-origin');
}
