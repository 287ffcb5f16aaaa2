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

const confirmTrustBody = {
  body: {
    type: 'object',
    properties: {
      serial: { type: 'string', pattern: '^[0-9A-Fa-f:]{1,128}$' },
      all: { type: 'boolean' },
      cluster: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
      node: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,253}$' },
    },
    additionalProperties: false,
  },
} as const;

const renewBody = {
  body: {
    type: ['object', 'null'],
    properties: { replaceSource: { type: 'string', enum: ['self-signed', 'acme'] } },
    additionalProperties: false,
  },
} as const;

type RenewRequestBody = FastifyRequest<{ Body: { replaceSource?: string } | null | undefined }>;

type ConfirmTrustRequestBody = FastifyRequest<{ Body: { serial?: string; all?: boolean; cluster?: string; node?: string } }>;

function notImplemented(reply: FastifyReply, what: string): FastifyReply {
  return reply.code(501).send({ error: 'not_implemented', message: `this gateway does not support ${what} yet` });
}

/** `/api/v1/status`, `/api/v1/reload`, `/api/v1/certificates/renew`, `/api/v1/certificates/reload`, `/api/v1/certificates/renewals`, `/api/v1/cucm-trust`, `/api/v1/cucm-trust/confirm`, `/api/v1/audit`. */
export const apiRoutes: FastifyPluginAsync<ApiRoutesOptions> = async (app, { backend, log }) => {
  const action = (request: FastifyRequest, name: string) =>
    log.info({ event: 'admin_action', action: name, client: request.ip, via: request.adminAuth?.kind }, `admin API: ${name}`);

  app.get('/api/v1/status', async () => backend.status());

  // `{ "replaceSource": "<issuer>" }`: replace an imported certificate with the configured issuer's, on purpose.
  app.post('/api/v1/certificates/renew', { schema: renewBody }, async (request: RenewRequestBody, reply) => {
    if (!backend.renew) return notImplemented(reply, 'renewal from the API');
    const replaceSource = request.body?.replaceSource;
    action(request, replaceSource ? `renew (replace source: ${replaceSource})` : 'renew');
    const outcome = (await backend.renew(replaceSource ? { replaceSource } : {})) as { ok?: boolean; status?: number };
    // 409: the source named is not the configured issuer; nothing was changed.
    return reply.code(outcome.status ?? 200).send(outcome);
  });

  // After `ucgate cert import` / `cert rollback` beside a running gateway: serve what the store holds now.
  app.post('/api/v1/certificates/reload', async (request, reply) => {
    if (!backend.reloadCertificates) return notImplemented(reply, 'reloading certificates from the API (send SIGHUP to the process)');
    action(request, 'reload-certificates');
    return reply.send(await backend.reloadCertificates());
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

  // certificates.cucmTrust: per node, what CUCM holds; and an upload by hand confirmed (`ucgate cert confirm-trust`).
  app.get('/api/v1/cucm-trust', async (_request, reply) => {
    if (!backend.cucmTrust) return notImplemented(reply, 'CUCM trust publishing (certificates.cucmTrust is not configured)');
    return reply.send(await backend.cucmTrust());
  });

  app.post('/api/v1/cucm-trust/confirm', { schema: confirmTrustBody }, async (request: ConfirmTrustRequestBody, reply) => {
    if (!backend.confirmTrust) return notImplemented(reply, 'CUCM trust publishing (certificates.cucmTrust is not configured)');
    action(request, 'cucm-trust-confirm');
    const outcome = await backend.confirmTrust(request.body ?? {});
    // 409: the request was fine, but nothing (or more than one leaf) waits for it.
    return reply.code(outcome.ok ? 200 : 409).send(outcome);
  });

  app.get('/api/v1/audit', { schema: limitQuery }, async (request: LimitRequest, reply) => {
    if (!backend.audit) return notImplemented(reply, 'reading the audit log');
    return reply.send({ entries: await backend.audit(request.query.limit) });
  });
};
