/**
 * The admin listener (fastify): health, readiness and metrics for anyone
 * who can reach it; the API and the dashboard behind a bearer token (read
 * from a 0600 file, compared in constant time) or a dashboard session made
 * from it. HTTPS with the gateway's own certificate, or plain HTTP on
 * loopback only (the config loader enforces that).
 *
 * Route groups are fastify plugins; the authentication hook lives in the
 * encapsulated scope of the protected groups, so it cannot leak onto the
 * public ones.
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Server as HttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AdminListenerConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { WireCertificate } from '../control/messages.js';
import { systemClock, type Clock } from '../clock.js';
import type { AdminBackend } from './admin-backend.js';
import { AdminAuth } from './admin-auth.js';
import { LoginThrottle } from './login-throttle.js';
import { applyBaseHeaders } from './security-headers.js';
import { requireAuth, refuse } from './require-auth.js';
import { healthRoutes } from './health-routes.js';
import { apiRoutes } from './api-routes.js';
import { dashboardRoutes } from './dashboard-routes.js';
import { loginRoutes } from './login-routes.js';

export type { AdminBackend, Readiness, ReloadOutcome, RenewalRecord, AuditRecord } from './admin-backend.js';

export interface AdminServerOptions {
  readonly config: AdminListenerConfig;
  readonly certificates: readonly WireCertificate[];
  readonly backend: AdminBackend;
  readonly log: Logger;
  /** Session expiry and login throttling run on it. Default: the system clock. */
  readonly clock?: Clock;
  /** Wrong tokens per client address per minute before 429. Default 10. */
  readonly maxFailedLogins?: number;
}

/** A running (or, from `buildAdminApp`, ready-to-inject) admin listener. */
export interface AdminServer {
  readonly app: FastifyInstance;
  readonly auth: AdminAuth;
  /** The bound port (after `startAdminServer`). */
  readonly port: number;
  /** Serves renewed certificates on new connections (HTTPS listeners only). */
  setCertificates(certificates: readonly WireCertificate[]): void;
  /** Re-reads the token file; if the token changed, every dashboard session ends. */
  reloadToken(): void;
  close(): Promise<void>;
}

function readToken(config: AdminListenerConfig): string | undefined {
  return config.tokenFile ? readFileSync(config.tokenFile, 'utf8') : undefined;
}

function tlsOptions(certificates: readonly WireCertificate[]) {
  return { key: certificates.map((cert) => cert.keyPem), cert: certificates.map((cert) => cert.certPem), minVersion: 'TLSv1.2' as const };
}

/** Builds the app without listening: what `startAdminServer` runs, and what tests drive with `app.inject()`. */
export async function buildAdminApp(options: AdminServerOptions): Promise<AdminServer> {
  const { config, backend, log } = options;
  const clock = options.clock ?? systemClock;
  const https = config.tls ? tlsOptions(options.certificates) : null;
  const app = Fastify({ logger: false, ...(https ? { https } : {}) }) as unknown as FastifyInstance;
  const throttle = new LoginThrottle({ clock, ...(options.maxFailedLogins === undefined ? {} : { maxFailures: options.maxFailedLogins }) });
  const auth = new AdminAuth({ token: readToken(config), tls: config.tls, clock, log, throttle });
  if (!auth.enabled) log.warn({ event: 'admin_no_token' }, 'listen.admin has no token: only /healthz, /readyz and /metrics answer');

  app.decorateRequest('adminAuth', null);
  app.addHook('onRequest', async (_request, reply) => applyBaseHeaders(reply, config.tls));
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) log.error({ event: 'admin_error', path: request.url.split('?')[0], err: error.message }, 'admin request failed');
    return reply.code(status).send({ error: status >= 500 ? 'internal' : 'bad_request', message: error.message });
  });
  // Unknown paths answer 401 to strangers (the contract: only three paths answer without a token), 404 otherwise.
  app.setNotFoundHandler(async (request, reply) => {
    const result = auth.authenticate(request);
    if (result.kind === 'bearer' || result.kind === 'session') return reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` });
    return refuse(auth, request, reply, result);
  });

  await app.register(healthRoutes, { backend });
  await app.register(loginRoutes, { auth, tls: config.tls });
  await app.register(async (scope) => {
    scope.addHook('onRequest', requireAuth(auth, log));
    await scope.register(apiRoutes, { backend, log });
    await scope.register(dashboardRoutes, { backend });
  });

  return {
    app,
    auth,
    port: config.port,
    setCertificates: (certificates) => {
      if (config.tls) (app.server as unknown as HttpsServer).setSecureContext(tlsOptions(certificates));
    },
    reloadToken: () => auth.setToken(readToken(config)),
    close: () => app.close(),
  };
}

/** Builds the admin app and listens on `listen.admin`. */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const server = await buildAdminApp(options);
  await server.app.listen({ host: options.config.host, port: options.config.port });
  const address = server.app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.config.port;
  return { ...server, port };
}
