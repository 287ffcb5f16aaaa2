/**
 * The JSON API under /api/v1, registered inside the authenticated scope.
 * Actions are logged with who asked (client address, bearer or session);
 * a capability the backend lacks answers 501 saying so, rather than 404,
 * so a script can tell "not here yet" from a typo.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../log.js';
import type { AdminBackend } from './admin-backend.js';

export interface ApiRoutesOptions {
  readonly backend: AdminBackend;
  readonly log: Logger;
}

const limitQuery = {
  querystring: {
    type: 'object',
    properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 } },
    additionalProperties: false,
  },
} as const;

type LimitRequest = FastifyRequest<{ Querystring: { limit: number } }>;

function notImplemented(reply: FastifyReply, what: string): FastifyReply {
  return reply.code(501).send({ error: 'not_implemented', message: `this gateway does not support ${what} yet` });
}

/** `/api/v1/status`, `/api/v1/reload`, `/api/v1/certificates/renew`, `/api/v1/certificates/renewals`, `/api/v1/audit`. */
export const apiRoutes: FastifyPluginAsync<ApiRoutesOptions> = async (app, { backend, log }) => {
  const action = (request: FastifyRequest, name: string) =>
    log.info({ event: 'admin_action', action: name, client: request.ip, via: request.adminAuth?.kind }, `admin API: ${name}`);

  app.get('/api/v1/status', async () => backend.status());

  app.post('/api/v1/certificates/renew', async (request, reply) => {
    if (!backend.renew) return notImplemented(reply, 'renewal from the API');
    action(request, 'renew');
    return reply.send(await backend.renew());
  });

  app.post('/api/v1/reload', async (request, reply) => {
    if (!backend.reload) return notImplemented(reply, 'reload from the API (send SIGHUP to the process)');
    action(request, 'reload');
    const outcome = await backend.reload();
    // 422: the request was fine, the config on disk is not; the old config keeps running.
    return reply.code(outcome.ok ? 200 : 422).send({ ok: outcome.ok, problems: outcome.problems ?? [] });
  });

  app.get('/api/v1/certificates/renewals', { schema: limitQuery }, async (request: LimitRequest, reply) => {
    if (!backend.renewals) return notImplemented(reply, 'renewal history');
    return reply.send({ renewals: await backend.renewals(request.query.limit) });
  });

  app.get('/api/v1/audit', { schema: limitQuery }, async (request: LimitRequest, reply) => {
    if (!backend.audit) return notImplemented(reply, 'reading the audit log');
    return reply.send({ entries: await backend.audit(request.query.limit) });
  });
};
