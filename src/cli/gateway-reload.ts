/**
 * After `cert import` / `cert rollback` beside a running gateway: ask it
 * (POST /api/v1/certificates/reload on listen.admin, through admin-client.ts,
 * its certificate pinned against the store) to serve what the store holds
 * now, so no signal is needed. The answer comes once every worker serves it.
 * When no gateway answers, the next start (or SIGHUP) serves it.
 */
import type { UcgateConfig } from '../config/types.js';
import type { Storage } from '../store/storage.js';
import { callAdmin } from './admin-client.js';

export interface GatewayReload {
  /** `served`: a gateway answered and serves the store's certificates now; `none`: no gateway answered. */
  readonly outcome: 'served' | 'none' | 'refused';
  /** One line for the operator. */
  readonly message: string;
}

export async function reloadRunningGateway(config: UcgateConfig, storage: Storage): Promise<GatewayReload> {
  const answer = await callAdmin(config, storage, { method: 'POST', path: '/api/v1/certificates/reload', timeoutMs: 60_000 }).catch(() => undefined);
  if (!answer) {
    return {
      outcome: 'none',
      message: config.listen.admin
        ? 'no gateway answered on listen.admin: the next start serves it (or SIGHUP: systemctl reload ucgate)'
        : 'no admin listener configured (listen.admin): a running gateway serves it on SIGHUP (systemctl reload ucgate), else at the next start',
    };
  }
  if (answer.status !== 200) {
    const detail = (answer.body as { message?: string } | undefined)?.message ?? `HTTP ${answer.status}`;
    return { outcome: 'refused', message: `the running gateway did not reload its certificates (${detail}): send SIGHUP (systemctl reload ucgate)` };
  }
  const body = answer.body as { swapped?: { keyType: string; serial: string; workers?: number }[] } | undefined;
  const swapped = body?.swapped ?? [];
  return {
    outcome: 'served',
    message:
      swapped.length > 0
        ? `the running gateway serves it now (${swapped.map((entry) => `${entry.keyType} serial ${entry.serial}${entry.workers !== undefined ? `, ${entry.workers} worker(s)` : ''}`).join('; ')})`
        : 'the running gateway serves the store\'s active certificates now',
  };
}
