/**
 * The gate in front of every protected route: the `onRequest` hook of the
 * encapsulated scope that holds the API and the dashboard (so it never
 * touches /healthz, /readyz, /metrics). Answers 401 (or, on a route marked
 * `loginPage`, the login form), 429 for a throttled client, 403 for a
 * cookie-authenticated state change that fails the same-origin check.
 */
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Logger } from '../log.js';
import { SAFE_METHODS, pathOf, type AdminAuth, type AuthResult } from './admin-auth.js';
import { loginPage } from './dashboard-page.js';
import { applyPageHeaders, newNonce } from './security-headers.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Show the login form instead of a JSON 401 to an unauthenticated caller. */
    loginPage?: boolean;
  }
  interface FastifyRequest {
    /** Set by the gate on protected routes: how this request authenticated. */
    adminAuth: AuthResult | null;
  }
}

const WWW_AUTHENTICATE = 'Bearer realm="ucgate"';

/** Sends the login form with `status`; the message says why it is shown (never echoing input). */
export function sendLoginPage(reply: FastifyReply, status: number, message?: string): FastifyReply {
  const nonce = newNonce();
  return applyPageHeaders(reply.code(status), nonce).send(loginPage({ nonce, ...(message ? { message } : {}) }));
}

/** The login form's message for a refusal. */
export function refusalMessage(auth: AdminAuth, result: AuthResult): string | undefined {
  if (!auth.enabled) return 'No admin token is configured (listen.admin.tokenFile): the dashboard and API are disabled.';
  if (result.kind === 'refused') return 'That token is not right.';
  if (result.kind === 'throttled') return `Too many wrong tokens from your address. Try again in ${result.retryAfterSeconds} s.`;
  return undefined;
}

/** Answers a request that did not authenticate: 429 when throttled, else 401 (JSON or the login form). */
export function refuse(auth: AdminAuth, request: FastifyRequest, reply: FastifyReply, result: AuthResult): FastifyReply {
  const status = result.kind === 'throttled' ? 429 : 401;
  if (result.kind === 'throttled') reply.header('retry-after', String(result.retryAfterSeconds));
  else reply.header('www-authenticate', result.kind === 'refused' ? `${WWW_AUTHENTICATE}, error="invalid_token"` : WWW_AUTHENTICATE);
  if (request.routeOptions.config.loginPage) return sendLoginPage(reply, status, refusalMessage(auth, result));
  const error = status === 429 ? 'too_many_attempts' : 'unauthorized';
  const message = status === 429 ? `too many wrong tokens; retry after ${(result as { retryAfterSeconds: number }).retryAfterSeconds} s` : 'send Authorization: Bearer <admin token>';
  return reply.code(status).send({ error, message });
}

/** The `onRequest` hook for the protected scope. */
export function requireAuth(auth: AdminAuth, log: Logger): onRequestAsyncHookHandler {
  return async (request, reply) => {
    const result = auth.authenticate(request);
    request.adminAuth = result;
    if (result.kind === 'bearer') return;
    if (result.kind !== 'session') {
      await refuse(auth, request, reply, result);
      return;
    }
    if (SAFE_METHODS.has(request.method) || auth.sameOrigin(request, result.session)) return;
    log.warn({ event: 'admin_csrf_rejected', client: request.ip, path: pathOf(request) }, 'cookie-authenticated change from another origin refused');
    await reply.code(403).send({ error: 'csrf', message: 'cross-origin request refused: send Origin, or X-CSRF-Token, or use a bearer token' });
  };
}
