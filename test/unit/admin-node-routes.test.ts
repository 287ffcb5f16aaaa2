/**
 * The node maintenance and rollback routes of the admin API (src/admin/node-routes.ts),
 * driven with app.inject(): bearer only, who asked (api, cli by its User-Agent,
 * dashboard for a session), the reason checked, 404 for an unknown node, 501 without
 * the capability.
 */
import t from 'tap';
import { fakeAdmin, fakeBackend, ADMIN_TOKEN } from '../helpers/admin-fake.js';
import type { NodeDrainRequest } from '../../src/admin/admin-backend.js';

const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };

t.test('drain and undrain: who asked, why, and unknown nodes', async (t) => {
  const asked: NodeDrainRequest[] = [];
  const backend = fakeBackend({
    extra: {
      drainNode: async (request: NodeDrainRequest) => {
        asked.push(request);
        return request.node === 'pub' ? { cluster: request.cluster, node: request.node, draining: request.draining, changed: true } : undefined;
      },
    },
  });
  const { server, logs } = await fakeAdmin(t, backend);
  const post = (url: string, headers: Record<string, string> = bearer, payload?: unknown) =>
    server.app.inject({ method: 'POST', url, headers: { ...headers, ...(payload !== undefined && { 'content-type': 'application/json' }) }, ...(payload !== undefined && { payload: JSON.stringify(payload) }) });

  const drained = await post('/api/v1/nodes/cucm/pub/drain', bearer, { reason: 'CUCM 15 SU2' });
  t.equal(drained.statusCode, 200);
  t.same(drained.json(), { ok: true, cluster: 'cucm', node: 'pub', draining: true, changed: true });
  t.match(asked[0], { cluster: 'cucm', node: 'pub', draining: true, actor: 'api', reason: 'CUCM 15 SU2' });
  t.equal((await post('/api/v1/nodes/cucm/pub/undrain', { ...bearer, 'user-agent': 'ucgate-cli/0.1.0' })).statusCode, 200, 'without a body');
  t.match(asked[1], { draining: false, actor: 'cli' }, 'the CLI is told apart by its User-Agent');
  const unknown = await post('/api/v1/nodes/cucm/nope/drain');
  t.equal(unknown.statusCode, 404);
  t.equal(unknown.json().error, 'unknown_node');
  t.equal((await post('/api/v1/nodes/cucm/pub/drain', {})).statusCode, 401, 'no token: 401');
  t.equal((await post('/api/v1/nodes/cucm/pub/drain', bearer, { reason: 'a\nforged log line' })).statusCode, 400, 'control characters in the reason: 400');
  t.equal((await post('/api/v1/nodes/cucm/pub/drain', bearer, { reason: 'x'.repeat(201) })).statusCode, 400, 'a reason over 200 characters: 400');
  t.equal(asked.length, 3, 'refused requests never reached the backend');
  t.equal((await post('/api/v1/nodes/cucm/pub/drain', bearer, { other: 1 })).statusCode, 200, 'unknown fields are dropped (fastify removeAdditional)');
  t.notOk('other' in asked[3]!, 'and never reach the backend');
  t.ok(logs.some((line) => line.includes('"action":"node-drain"')), 'the action is logged');
});

t.test('without the capabilities: 501 saying so', async (t) => {
  const { server } = await fakeAdmin(t, fakeBackend());
  const drain = await server.app.inject({ method: 'POST', url: '/api/v1/nodes/cucm/pub/drain', headers: bearer });
  t.equal(drain.statusCode, 501);
  const rollback = await server.app.inject({ method: 'POST', url: '/api/v1/certificates/rollback', headers: bearer });
  t.equal(rollback.statusCode, 501);
});

t.test('rollback: 409 when there is nothing to roll back to', async (t) => {
  const backend = fakeBackend({ extra: { rollback: async () => ({ ok: false, message: 'no previous certificate to roll back to' }) } });
  const { server } = await fakeAdmin(t, backend);
  const res = await server.app.inject({ method: 'POST', url: '/api/v1/certificates/rollback', headers: bearer });
  t.equal(res.statusCode, 409);
  t.match(res.json(), { ok: false, message: /no previous/ });
});
