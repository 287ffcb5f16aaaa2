/**
 * Whether a listening address is free, by binding it once without
 * SO_REUSEPORT. Sockets that do set it join a port another process holds
 * with it instead of failing, so a second gateway started by mistake would
 * silently take half the first one's connections; this probe fails as an
 * ordinary bind would.
 */
import { createServer } from 'node:net';

export function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
