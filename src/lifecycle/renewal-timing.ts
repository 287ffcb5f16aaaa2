/**
 * When to renew and when to retry, as pure functions of times (ms since the
 * epoch) so the maintenance loop's decisions are testable without clocks.
 */

const DAY_MS = 86_400_000;

// The defaults live beside the schema that applies them; the loop's own fallbacks use the same values.
export { DEFAULT_CHECK_INTERVAL_MS, DEFAULT_RETRY_BACKOFF_MS } from '../config/renewal-defaults.js';
import { DEFAULT_RETRY_BACKOFF_MS } from '../config/renewal-defaults.js';

/** ARI: ask again after this long when the CA sent no Retry-After (RFC 9773 §4.3.2 suggests six hours). */
export const ARI_DEFAULT_REFETCH_MS = 6 * 3_600_000;
/** ...and never more often than once a minute, nor less than once a day, whatever it sent. */
export const ARI_MIN_REFETCH_MS = 60_000;
export const ARI_MAX_REFETCH_MS = DAY_MS;

// The renewal time itself is the certificate policy's (one rule for every caller); re-exported for the loop's tests.
export { lifetimeRenewalTime, timeInWindow } from '../certificates/renewal-policy.js';

/** The delay before the next attempt after `failures` consecutive failures (1 = the first). */
export function retryDelay(failures: number, table: readonly number[] = DEFAULT_RETRY_BACKOFF_MS): number {
  if (table.length === 0 || failures <= 0) return 0;
  return table[Math.min(failures, table.length) - 1]!;
}

/** `ms` spread by ±`fraction` (random ∈ [0, 1)), so many gateways started together do not poll in step. */
export function withJitter(ms: number, random: number, fraction = 0.1): number {
  return Math.max(0, Math.round(ms * (1 - fraction + 2 * fraction * random)));
}

/** How long to wait before asking the CA for renewal information again. */
export function ariRefetchDelay(retryAfterMs: number | undefined): number {
  return Math.min(ARI_MAX_REFETCH_MS, Math.max(ARI_MIN_REFETCH_MS, retryAfterMs ?? ARI_DEFAULT_REFETCH_MS));
}
