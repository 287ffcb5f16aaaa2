/**
 * What a reload may change while running, and what needs a restart. Routes,
 * clusters (nodes, TLS, health checks, timeouts), listeners, limits and TLS
 * profiles change in place without dropping a connection; the certificate
 * store and issuer, the gateway's names (they are in the certificate), the
 * admin listener, the number of workers and how they run, and the log level keep their
 * running values until the next start, and the reload says so.
 */
import type { UcgateConfig } from '../config/types.js';

export interface ReloadPlan {
  /** The config to run: the new one, with the parts that need a restart kept as they were. */
  readonly config: UcgateConfig;
  /** Keys whose new value waits for a restart. */
  readonly restartNeeded: readonly string[];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function planReload(running: UcgateConfig, next: UcgateConfig): ReloadPlan {
  const restartNeeded: string[] = [];
  if (!same(running.gateway, next.gateway)) restartNeeded.push('gateway');
  if (!same(running.certificates, next.certificates)) restartNeeded.push('certificates');
  if (!same(running.listen.admin, next.listen.admin)) restartNeeded.push('listen.admin');
  if (running.workers !== next.workers) restartNeeded.push('workers');
  if (running.workerMode !== next.workerMode) restartNeeded.push('workerMode');
  if (!same(running.log, next.log)) restartNeeded.push('log');
  if (running.tls.ticketKeyRotationMs !== next.tls.ticketKeyRotationMs) restartNeeded.push('tls.ticketKeyRotationMs');
  const config: UcgateConfig = {
    ...next,
    gateway: running.gateway,
    certificates: running.certificates,
    listen: { ...next.listen, ...(running.listen.admin ? { admin: running.listen.admin } : {}) },
    workers: running.workers,
    workerMode: running.workerMode,
    log: running.log,
    tls: { ...next.tls, ticketKeyRotationMs: running.tls.ticketKeyRotationMs },
  };
  if (!running.listen.admin) delete (config.listen as { admin?: unknown }).admin;
  return { config, restartNeeded };
}
