/**
 * The admin listener (fastify): health, readiness and metrics for anyone
 * who can reach it; the API and the dashboard behind a bearer token (read
 * from a 0600 file, compared in constant time) or a dashboard session made
 * from it. HTTPS with the gateway's own certificate and the `modern` TLS
 * profile (TLS 1.2 ECDHE + AEAD, TLS 1.3), or plain HTTP on loopback only
 * (the config loader enforces that). A Host that is none of the gateway's
 * names or addresses gets 421 (DNS rebinding: host-check.ts); a token
 * weaker than 128 bits is refused (config/token-strength.ts).
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
import type { WireCertificate } from '../wire/messages.js';
import { systemClock, type Clock } from '../clock.js';
import { ConfigError } from '../errors.js';
import { tlsProfile } from '../tls/profiles.js';
import type { AdminBackend } from './admin-backend.js';
import { AdminAuth } from './admin-auth.js';
import { LoginThrottle } from './login-throttle.js';
import { applyBaseHeaders } from './security-headers.js';
import { requireAuth, refuse } from './require-auth.js';
import { healthRoutes } from './health-routes.js';
import { apiRoutes } from './api-routes.js';
import { dashboardRoutes } from './dashboard-routes.js';
import { nodeRoutes } from './node-routes.js';
import { loginRoutes } from './login-routes.js';
import { AdminHostCheck, type GatewayNamesView } from './host-check.js';
import { tokenWeakness } from '../config/token-strength.js';

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
  /**
   * The running config's names (gateway.fqdn, altNames, instances, cluster publicNames): Hosts
   * the listener answers besides loopback, `localhost`, this machine's name and its own address.
   */
  readonly gatewayNames?: () => GatewayNamesView;
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

/** The token file's content; throws a ConfigError when it is weaker than 128 bits (the message never holds the token). */
function readToken(config: AdminListenerConfig): string | undefined {
  if (!config.tokenFile) return undefined;
  const content = readFileSync(config.tokenFile, 'utf8');
  const weakness = tokenWeakness(content, config.tokenFile);
  if (weakness !== undefined) throw new ConfigError([`listen.admin.tokenFile: ${weakness}`]);
  return content;
}

/**
 * The `modern` profile, as on the data-plane listeners, and not Node's defaults (which
 * take CBC suites): also what `setSecureContext` gets, which replaces the whole context.
 */
function tlsOptions(certificates: readonly WireCertificate[]) {
  return { ...tlsProfile('modern').options, key: certificates.map((cert) => cert.keyPem), cert: certificates.map((cert) => cert.certPem) };
}

/** One warning per 10 s at most for misdirected requests: a rebinding page may send many. */
const MISDIRECTED_LOG_INTERVAL_MS = 10_000;

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
  // Before any authentication, so a rebinding page learns nothing, not even whether a path exists.
  const hosts = new AdminHostCheck({ listenHost: config.host, ...(options.gatewayNames ? { names: options.gatewayNames } : {}) });
  let misdirected = { lastLogMs: -Infinity, suppressed: 0 };
  app.addHook('onRequest', async (request, reply) => {
    const host = request.headers.host;
    if (hosts.allows(host, request.socket.localAddress, request.routeOptions.url)) return;
    const now = clock.now();
    if (now - misdirected.lastLogMs >= MISDIRECTED_LOG_INTERVAL_MS) {
      log.warn(
        { event: 'admin_misdirected', host: host?.slice(0, 100), client: request.ip, path: request.url.split('?')[0]!.slice(0, 200), suppressed: misdirected.suppressed },
        'admin request for a Host that is not one of the gateway\'s names: 421 (DNS rebinding defence)',
      );
      misdirected = { lastLogMs: now, suppressed: 0 };
    } else misdirected.suppressed += 1;
    return reply
      .code(421)
      .send({ error: 'misdirected_request', message: "this Host is not one of the gateway's names (gateway.fqdn, gateway.altNames, clusters[].publicName) or addresses" });
  });
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
    await scope.register(nodeRoutes, { backend, log });
    await scope.register(dashboardRoutes, { backend });
  });

  return {
    app,
    auth,
    port: config.port,
    setCertificates: (certificates) => {
      if (config.tls) (app.server as unknown as HttpsServer).setSecureContext(tlsOptions(certificates));
    },
    reloadToken: () => {
      // A weak (or unreadable) new token leaves the running one in place: SIGHUP must not lock the administrator out.
      try {
        auth.setToken(readToken(config));
      } catch (err) {
        const problem = err instanceof ConfigError ? err.problems.join('; ') : `listen.admin.tokenFile: ${(err as Error).message}`;
        log.error({ event: 'admin_token_refused', problem }, `admin token not reloaded, the running token stays: ${problem}`);
      }
    },
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
