/**
 * The admin listener (fastify): health, readiness and metrics for anyone
 * who can reach it; status and actions behind a bearer token read from a
 * 0600 file and compared in constant time. HTTPS with the gateway's own
 * certificate, or plain HTTP on loopback only (the config enforces that).
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { readFileSync } from 'node:fs';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { AdminListenerConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { WireCertificate } from '../control/messages.js';

export interface Readiness {
  readonly ready: boolean;
  readonly reasons: readonly string[];
}

/** What the admin API reads from and asks of the control plane. */
export interface AdminBackend {
  readiness(): Readiness;
  metrics(): Promise<{ contentType: string; body: string }>;
  status(): Promise<unknown>;
  renew?(): Promise<unknown>;
}

export interface AdminServerOptions {
  readonly config: AdminListenerConfig;
  readonly certificates: readonly WireCertificate[];
  readonly backend: AdminBackend;
  readonly log: Logger;
}

const PUBLIC_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

function digest(value: string): Buffer {
  // Hashing first gives equal-length inputs, so timingSafeEqual never leaks the token's length.
  return createHash('sha256').update(value).digest();
}

export async function startAdminServer(options: AdminServerOptions): Promise<{ app: FastifyInstance; port: number }> {
  const { config, backend, log } = options;
  const tokenDigest = config.tokenFile ? digest(readFileSync(config.tokenFile, 'utf8').trim()) : undefined;
  const https = config.tls
    ? { key: options.certificates.map((cert) => cert.keyPem), cert: options.certificates.map((cert) => cert.certPem), minVersion: 'TLSv1.2' as const }
    : null;
  const app = Fastify({ logger: false, ...(https ? { https } : {}) }) as unknown as FastifyInstance;

  const authorized = (request: FastifyRequest): boolean => {
    if (!tokenDigest) return false;
    const header = request.headers.authorization;
    if (!header?.startsWith('Bearer ')) return false;
    return timingSafeEqual(digest(header.slice(7).trim()), tokenDigest);
  };

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0]!;
    if (PUBLIC_PATHS.has(path)) return;
    if (!authorized(request)) {
      log.warn({ event: 'admin_auth_failed', client: request.ip, path }, 'admin request without a valid token');
      await reply.code(401).header('www-authenticate', 'Bearer realm="ucgate"').send({ error: 'unauthorized' });
    }
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const readiness = backend.readiness();
    return reply.code(readiness.ready ? 200 : 503).send({ ready: readiness.ready, reasons: readiness.reasons });
  });
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await backend.metrics();
    return reply.type(contentType).send(body);
  });
  app.get('/api/v1/status', async () => backend.status());
  if (backend.renew) {
    const renew = backend.renew.bind(backend);
    app.post('/api/v1/certificates/renew', async () => renew());
  }

  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return { app, port };
}
