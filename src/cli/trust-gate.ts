/**
 * The CUCM trust gate as CLI commands use it: progress on stderr, so an
 * administrator sees the leaf go to each CUCM server, read back from its
 * listing, and the wait before it is served — or, where a server has no
 * certificate API (CUCM 12.5), what to upload where before running
 * `ucgate cert confirm-trust` in another terminal (this command waits).
 */
import type { UcgateConfig } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import { systemClock } from '../clock.js';
import { createLogger } from '../log.js';
import { createTrustPublisher, type TrustPublisher } from '../cucm-trust/trust-publisher.js';

/** `progress`: where each step goes (default: `ucgate: <line>` on stderr). */
export function cliTrustGate(config: UcgateConfig, storage: Storage & Locker, progress?: (line: string) => void): TrustPublisher | undefined {
  return createTrustPublisher({
    config,
    storage,
    clock: systemClock,
    // The CLI speaks through `progress` and its own result line; JSON logs would only repeat them.
    log: createLogger({ level: 'silent' }),
    actor: 'cli',
    progress: progress ?? ((line) => process.stderr.write(`ucgate: ${line}\n`)),
  });
}
