/**
 * The renewal loop's tuning defaults (certificates.issuer.acme.checkIntervalMs
 * and retryBackoffMs): here, below the schema that fills them in, so config/
 * imports nothing from lifecycle/.
 */
/**
 * Retry delays after consecutive failures: 1, 2, 5, 10, 30 min, 1 h, 2 h,
 * then 6 h for as long as it keeps failing (certmagic's fixed table, shorter
 * at the top because a gateway certificate has no fallback).
 */
export const DEFAULT_RETRY_BACKOFF_MS: readonly number[] = [60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000];

/** The loop looks at every certificate at least this often (plus or minus jitter), whatever the schedule says. */
export const DEFAULT_CHECK_INTERVAL_MS = 300_000;
