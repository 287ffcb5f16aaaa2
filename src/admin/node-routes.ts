/**
 * Operator actions that change what the gateway does, registered inside the
 * authenticated scope (a bearer token, or a dashboard session that passed the
 * same-origin / CSRF check of require-auth.ts):
 *
 * - `POST /api/v1/nodes/{cluster}/{node}/drain` and `/undrain`: node maintenance
 *   (src/control/node-drains.ts). Body (optional): `{ "reason": "CUCM 15 SU2" }`.
 * - `POST /api/v1/certificates/rollback`: serve the previous certificate again.
 *   Body (optional): `{ "keyType": "rsa-2048" }`.
 *
 * Each is logged and written to the audit log with who asked: `dashboard` for a
 * session, `cli` for `ucgate` itself (its User-Agent), `api` for other bearers.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../log.js';
import type { AdminActor, AdminBackend } from './admin-backend.js';

export interface NodeRoutesOptions {
  readonly backend: AdminBackend;
  readonly log: Logger;
}

/** What `ucgate` sends as User-Agent to its own gateway's admin API (src/cli/admin-client.ts). */
export const CLI_USER_AGENT_PREFIX = 'ucgate-cli/';

const NAME = '^[A-Za-z0-9][A-Za-z0-9._-]{0,253}$';

const drainSchema = {
  params: {
    type: 'object',
    properties: { cluster: { type: 'string', pattern: NAME }, node: { type: 'string', pattern: NAME } },
    required: ['cluster', 'node'],
  },
  body: {
    type: ['object', 'null'],
    // Printable text only: it goes to the logs, the audit log and the dashboard.
    properties: { reason: { type: 'string', maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f]*$' } },
    additionalProperties: false,
  },
} as const;

const rollbackSchema = {
  body: {
    type: ['object', 'null'],
    properties: { keyType: { type: 'string', enum: ['rsa-2048', 'rsa-3072', 'ecdsa-p256'] } },
    additionalProperties: false,
  },
} as const;

type DrainRequestBody = FastifyRequest<{ Params: { cluster: string; node: string }; Body: { reason?: string } | null | undefined }>;
type RollbackRequestBody = FastifyRequest<{ Body: { keyType?: string } | null | undefined }>;

/** Who is asking, for the audit log. */
export function actorOf(request: FastifyRequest): AdminActor {
  if (request.adminAuth?.kind === 'session') return 'dashboard';
  const agent = request.headers['user-agent'];
  return typeof agent === 'string' && agent.startsWith(CLI_USER_AGENT_PREFIX) ? 'cli' : 'api';
}

function notImplemented(reply: FastifyReply, what: string): FastifyReply {
  return reply.code(501).send({ error: 'not_implemented', message: `this gateway does not support ${what} yet` });
}

export const nodeRoutes: FastifyPluginAsync<NodeRoutesOptions> = async (app, { backend, log }) => {
  const drain = (draining: boolean) => async (request: DrainRequestBody, reply: FastifyReply) => {
    if (!backend.drainNode) return notImplemented(reply, 'node maintenance');
    const { cluster, node } = request.params;
    const actor = actorOf(request);
    const reason = request.body?.reason;
    log.info({ event: 'admin_action', action: draining ? 'node-drain' : 'node-undrain', cluster, node, client: request.ip, via: request.adminAuth?.kind, actor }, `admin API: ${draining ? 'drain' : 'undrain'} ${cluster}/${node}`);
    const outcome = await backend.drainNode({ cluster, node, draining, actor, ...(reason !== undefined && { reason }) });
    if (!outcome) return reply.code(404).send({ error: 'unknown_node', message: `no node ${node} in cluster ${cluster} (see GET /api/v1/status)` });
    return reply.send({ ok: true, ...outcome });
  };
  app.post('/api/v1/nodes/:cluster/:node/drain', { schema: drainSchema }, drain(true));
  app.post('/api/v1/nodes/:cluster/:node/undrain', { schema: drainSchema }, drain(false));

  app.post('/api/v1/certificates/rollback', { schema: rollbackSchema }, async (request: RollbackRequestBody, reply) => {
    if (!backend.rollback) return notImplemented(reply, 'rollback from the API (run ucgate cert rollback)');
    const actor = actorOf(request);
    const keyType = request.body?.keyType;
    log.info({ event: 'admin_action', action: 'rollback', client: request.ip, via: request.adminAuth?.kind, actor }, 'admin API: rollback');
    const outcome = await backend.rollback({ actor, ...(keyType !== undefined && { keyType }) });
    return reply.code(outcome.ok ? 200 : 409).send(outcome);
  });
};
