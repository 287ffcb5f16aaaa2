/**
 * `POST /login` and `POST /logout` for the dashboard. Login takes the token
 * from the form, checks it like a bearer token (same throttle, same log
 * lines) and starts a session: the cookie carries an opaque id, never the
 * token. Public routes (the caller has no session yet), in a plugin of
 * their own so the form-body parser stays here.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AdminAuth } from './admin-auth.js';
import { refuse, sendLoginPage } from './require-auth.js';

export interface LoginRoutesOptions {
  readonly auth: AdminAuth;
}

/** Whether a browser-sent Origin names this listener; no Origin (curl, old browsers) is let through. */
function originAllowed(request: FastifyRequest, tls: boolean): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    const url = new URL(origin);
    return url.host.toLowerCase() === request.headers.host?.toLowerCase() && url.protocol === (tls ? 'https:' : 'http:');
  } catch {
    return false;
  }
}

/** `POST /login` and `POST /logout`: public routes, throttled and logged like bearer tokens. */
export const loginRoutes: FastifyPluginAsync<LoginRoutesOptions & { tls: boolean }> = async (app, { auth, tls }) => {
  // The form posts urlencoded; a token is short, so the body is capped far below fastify's default.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.post('/login', { config: { loginPage: true } }, async (request, reply) => {
    // Login CSRF: another site must not sign a victim's browser into a session it chose.
    if (!originAllowed(request, tls)) return sendLoginPage(reply, 403, 'Sign-in refused: the form was sent from another site.');
    const token = (request.body as Record<string, unknown> | undefined)?.token;
    const result = auth.login(request, typeof token === 'string' ? token : '');
    if (result.kind !== 'session') return refuse(auth, request, reply, result);
    // 303: the browser follows with a GET, so a reload never re-posts the token.
    return reply.code(303).header('set-cookie', auth.sessionCookie(result.id)).header('location', '/').send();
  });

  app.post('/logout', async (request, reply) => {
    const id = auth.sessionId(request);
    const session = auth.sessions.get(id);
    if (session && !auth.sameOrigin(request, session)) return reply.code(403).send({ error: 'csrf', message: 'cross-origin request refused' });
    auth.sessions.destroy(id);
    return reply.code(303).header('set-cookie', auth.clearedCookie()).header('location', '/').send();
  });
};
