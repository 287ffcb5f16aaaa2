/**
 * The unauthenticated routes, a plugin of their own: liveness, readiness
 * and the Prometheus scrape. Monitoring systems hold no admin token, and
 * these reveal nothing a scrape would not.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AdminBackend } from './admin-backend.js';

export interface HealthRoutesOptions {
  readonly backend: AdminBackend;
}

/** `GET /healthz`, `GET /readyz`, `GET /metrics`. */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { backend }) => {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const readiness = backend.readiness();
    return reply.code(readiness.ready ? 200 : 503).send({ ready: readiness.ready, reasons: readiness.reasons });
  });
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await backend.metrics();
    return reply.type(contentType).send(body);
  });
};
