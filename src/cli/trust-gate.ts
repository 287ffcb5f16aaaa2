/**
 * The CUCM trust gate as CLI commands use it: progress on stderr, so an
 * administrator sees the leaf go to CUCM and the wait before it is served.
 */
import type { UcgateConfig } from '../config/types.js';
import type { Storage, Locker } from '../store/storage.js';
import { systemClock } from '../clock.js';
import { createLogger } from '../log.js';
import { createTrustPublisher, type TrustPublisher } from '../cucm-trust/trust-publisher.js';

export function cliTrustGate(config: UcgateConfig, storage: Storage & Locker): TrustPublisher | undefined {
  return createTrustPublisher({
    config,
    storage,
    clock: systemClock,
    // The CLI speaks through `progress` and its own result line; JSON logs would only repeat them.
    log: createLogger({ level: 'silent' }),
    actor: 'cli',
    progress: (line) => process.stderr.write(`ucgate: ${line}\n`),
  });
}
