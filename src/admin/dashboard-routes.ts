/**
 * The dashboard: `GET /` (the whole page; the gate shows the login form
 * instead to a browser without a session) and `GET /dashboard/sections`
 * (the live sections the page's script polls). Registered inside the
 * authenticated scope.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AdminBackend } from './admin-backend.js';
import { renderSections, type DashboardData, type HistorySource } from './dashboard-sections.js';
import { dashboardPage } from './dashboard-page.js';
import { applyPageHeaders, newNonce } from './security-headers.js';

export interface DashboardRoutesOptions {
  readonly backend: AdminBackend;
}

/** Entries of renewal history and audit log shown on the page. */
const HISTORY_ROWS = 15;

async function history<T>(read: ((limit: number) => Promise<readonly T[]>) | undefined): Promise<HistorySource<T>> {
  if (!read) return 'absent';
  try {
    return await read(HISTORY_ROWS);
  } catch (err) {
    // One unreadable history must not take the node health off the screen.
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** Everything one render needs, read concurrently. */
async function gather(backend: AdminBackend): Promise<DashboardData> {
  const [status, renewals, audit] = await Promise.all([
    backend.status(),
    history(backend.renewals?.bind(backend)),
    // More audit lines than renewals: the page filters them (by action, who, node, serial).
    history(backend.audit ? (limit) => backend.audit!(limit * 4) : undefined),
  ]);
  return { status, renewals, audit };
}

/** `GET /` and `GET /dashboard/sections`; register inside the authenticated scope. */
export const dashboardRoutes: FastifyPluginAsync<DashboardRoutesOptions> = async (app, { backend }) => {
  app.get('/', { config: { loginPage: true } }, async (request: FastifyRequest, reply) => {
    const data = await gather(backend);
    const nonce = newNonce();
    const auth = request.adminAuth;
    const csrf = auth?.kind === 'session' ? { csrfToken: auth.session.csrfToken } : {};
    const page = dashboardPage({ nonce, fqdn: data.status.fqdn, version: data.status.version, sections: renderSections(data), ...csrf });
    return applyPageHeaders(reply, nonce).send(page);
  });

  app.get('/dashboard/sections', async (_request, reply) => {
    const markup = renderSections(await gather(backend)).toString();
    return reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'none'").send(markup);
  });
};
