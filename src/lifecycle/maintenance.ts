/**
 * The renewal maintenance loop (certmagic's maintain.go, on an injected
 * clock). Each pass first reloads what another process put in the store,
 * then, per key type, works out when the served certificate is due — now
 * (a placeholder, missing names, expired), inside the CA's ARI window, or
 * when a third of its lifetime remains — and renews what is due and not held
 * back by a failure's backoff or Retry-After. The timer is set for the
 * earliest of those times, and never later than the check interval (with
 * jitter), so even a two-minute certificate renews on time.
 *
 * It never throws: failures are classified, logged, counted, shown in
 * status, and retried on the fixed backoff table. What is served only
 * changes when a renewal has succeeded.
 */
import type { KeyType } from '../config/types.js';
import type { Clock, ClockTimer } from '../clock.js';
import type { Logger } from '../log.js';
import type { StoredCertificate } from '../certificates/certificate-store.js';
import type { RenewalInfo } from '../acme/renewal-info.js';
import { AcmeError, type FailureReason } from '../acme/acme-errors.js';
import { UcgateError, ErrorCodes, isUcgateError } from '../errors.js';
import type { KeyRenewalStatus, RenewalTrigger } from './renewal-history.js';
import { DEFAULT_CHECK_INTERVAL_MS, DEFAULT_RETRY_BACKOFF_MS, ARI_MIN_REFETCH_MS, ariRefetchDelay, retryDelay, timeInWindow, withJitter } from './renewal-timing.js';
import { scheduledDue } from '../certificates/renewal-policy.js';

/** The floor between two wake-ups, so a schedule in the past can never spin. */
const MIN_WAKE_MS = 1_000;
/** At most one ARI-driven renewal per key type this often. */
const ARI_MIN_GAP_MS = 3_600_000;

/** What a successful renewal reports back to the loop. */
export interface RenewReport {
  readonly outcome: 'renewed' | 'adopted';
  readonly certificate: StoredCertificate;
  /** From the swap to the last worker acknowledging it. */
  readonly servedInMs?: number;
  readonly workers?: number;
}

/** One attempt (or a decision not to attempt), as the API and the CLI print it. */
export interface AttemptOutcome {
  readonly keyType: KeyType;
  readonly trigger: RenewalTrigger;
  readonly ok: boolean;
  /** `kept`: an imported certificate the configured issuer must not replace (src/certificates/certificate-source.ts); `detail` says why. */
  readonly outcome: 'renewed' | 'adopted' | 'not-due' | 'failed' | 'kept';
  readonly detail?: string;
  readonly serial?: string;
  readonly notAfter?: string;
  readonly durationMs: number;
  readonly servedInMs?: number;
  readonly workers?: number;
  readonly dueAt?: string;
  readonly reason?: FailureReason;
  readonly code?: string;
  readonly error?: string;
  readonly retryAt?: string;
}

export interface MaintenanceOptions {
  readonly keyTypes: readonly KeyType[];
  readonly clock: Clock;
  readonly log: Logger;
  /** [0, 1); injected so tests can pin the ARI choice and the jitter. */
  readonly random?: () => number;
  readonly checkIntervalMs?: number;
  readonly retryBackoffMs?: readonly number[];
  readonly renewBeforeDays: number;
  /** The certificate served now for a key type. */
  readonly served: (keyType: KeyType) => StoredCertificate | undefined;
  /** Why the served certificate must be replaced at once (placeholder, missing names, expired), if so. */
  readonly replaceNow: (keyType: KeyType, cert: StoredCertificate | undefined) => string | undefined;
  /** Whether the loop renews this certificate by itself (an imported one it does not). */
  readonly renewable: (cert: StoredCertificate) => boolean;
  /** Why a renewal asked for must leave the served certificate as it is (an imported one), given the source the operator named. */
  readonly keep?: (keyType: KeyType, cert: StoredCertificate | undefined, replaceSource: string | undefined) => string | undefined;
  /** ARI for a certificate, when the CA offers it. */
  readonly renewalInfo?: (cert: StoredCertificate) => Promise<RenewalInfo | undefined>;
  /** Orders, stores and serves; throws (an AcmeError, ideally) on failure. */
  readonly renew: (keyType: KeyType, trigger: RenewalTrigger, force: boolean, replaceSource?: string) => Promise<RenewReport>;
  /** Reloads what another process renewed or imported into the store (each pass, first); resolves with what it swapped in. */
  readonly sync?: () => Promise<unknown>;
  readonly onAttempt?: (outcome: AttemptOutcome) => void;
  /** After every pass and attempt: persisted state, gauges. */
  readonly onStatus?: (status: readonly KeyRenewalStatus[]) => void;
}

interface KeyState {
  failures: number;
  retryAt: number | undefined;
  lastError: { at: number; reason: FailureReason; code: string; message: string } | undefined;
  lastSuccessAt: number | undefined;
  due: { at: number; by: 'ari' | 'lifetime' | 'now' | 'never'; reason?: string } | undefined;
  /** `pastOnArrival`: the chosen time had already passed when the window arrived ("renew now"). */
  ari: { serial: string; start: number; end: number; chosen: number; pastOnArrival: boolean; explanationUrl: string | undefined } | undefined;
  ariNextFetchAt: number;
  /** The serial ariNextFetchAt refers to. */
  ariFor: string | undefined;
  running: Promise<AttemptOutcome> | undefined;
}

const iso = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? undefined : new Date(ms).toISOString());

export class RenewalMaintenance {
  readonly #options: MaintenanceOptions;
  readonly #random: () => number;
  readonly #states = new Map<KeyType, KeyState>();
  #timer: ClockTimer | undefined;
  #ticking: Promise<void> | undefined;
  #stopped = true;

  constructor(options: MaintenanceOptions) {
    this.#options = options;
    this.#random = options.random ?? Math.random;
    for (const keyType of options.keyTypes) {
      this.#states.set(keyType, { failures: 0, retryAt: undefined, lastError: undefined, lastSuccessAt: undefined, due: undefined, ari: undefined, ariNextFetchAt: 0, ariFor: undefined, running: undefined });
    }
  }

  /** Starts the loop; the first pass runs at once. */
  start(): void {
    this.#stopped = false;
    this.#arm(0);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** One pass now (a pass already running is joined, not doubled). */
  tick(): Promise<void> {
    this.#ticking ??= this.#pass().finally(() => {
      this.#ticking = undefined;
      this.#schedule();
    });
    return this.#ticking;
  }

  /**
   * Renews every key type now (`force`), or those that are due. An attempt
   * already running is joined. Resolves with each outcome; never throws.
   */
  async renewNow(options: { force: boolean; trigger?: RenewalTrigger; replaceSource?: string }): Promise<AttemptOutcome[]> {
    const trigger = options.trigger ?? 'manual';
    const outcomes: AttemptOutcome[] = [];
    for (const keyType of this.#options.keyTypes) {
      const state = this.#states.get(keyType)!;
      const kept = this.#options.keep?.(keyType, this.#options.served(keyType), options.replaceSource);
      if (kept) {
        this.#options.log.warn({ event: 'cert_renewal_kept_import', keyType, trigger }, kept);
        outcomes.push({ keyType, trigger, ok: true, outcome: 'kept', durationMs: 0, detail: kept });
        continue;
      }
      if (!options.force) {
        state.due = await this.#dueTime(keyType, state);
        if (state.due.by === 'never' || this.#options.clock.now() < state.due.at) {
          outcomes.push({ keyType, trigger, ok: true, outcome: 'not-due', durationMs: 0, ...(state.due.by !== 'never' && { dueAt: iso(state.due.at) }) });
          continue;
        }
      }
      outcomes.push(await this.#attempt(keyType, trigger, options.force, options.replaceSource));
    }
    this.#schedule();
    return outcomes;
  }

  status(): KeyRenewalStatus[] {
    return this.#options.keyTypes.map((keyType) => {
      const state = this.#states.get(keyType)!;
      const cert = this.#options.served(keyType);
      const retryAt = state.retryAt !== undefined && state.retryAt > (state.due?.at ?? 0) ? state.retryAt : undefined;
      return {
        keyType,
        serial: cert?.info.serialNumber,
        notAfter: cert?.info.notAfter,
        dueAt: state.due?.by === 'never' ? undefined : iso(state.due?.at),
        dueBy: state.due?.by,
        ...(state.due?.reason && { dueReason: state.due.reason }),
        retryAt: iso(retryAt),
        consecutiveFailures: state.failures,
        lastError: state.lastError && { ...state.lastError, at: iso(state.lastError.at)! },
        lastSuccessAt: iso(state.lastSuccessAt),
        ari: state.ari && {
          start: iso(state.ari.start)!,
          end: iso(state.ari.end)!,
          chosen: iso(state.ari.chosen)!,
          ...(state.ari.explanationUrl && { explanationUrl: state.ari.explanationUrl }),
          nextFetchAt: iso(state.ariNextFetchAt)!,
        },
        renewing: state.running !== undefined,
      };
    });
  }

  async #pass(): Promise<void> {
    const { log } = this.#options;
    try {
      await this.#options.sync?.();
    } catch (err) {
      log.warn({ event: 'cert_store_sync_failed', err: (err as Error).message }, 'could not reload certificates from the store');
    }
    for (const keyType of this.#options.keyTypes) {
      const state = this.#states.get(keyType)!;
      try {
        state.due = await this.#dueTime(keyType, state);
        if (state.due.by === 'never') continue;
        if (this.#options.clock.now() >= Math.max(state.due.at, state.retryAt ?? 0)) await this.#attempt(keyType, 'scheduled', false);
      } catch (err) {
        log.error({ event: 'cert_maintenance_error', keyType, err: (err as Error).message }, 'certificate maintenance failed');
      }
    }
    this.#options.onStatus?.(this.status());
  }

  async #dueTime(keyType: KeyType, state: KeyState): Promise<NonNullable<KeyState['due']>> {
    const { clock, served, replaceNow, renewable, renewBeforeDays } = this.#options;
    const cert = served(keyType);
    const now = clock.now();
    const urgent = replaceNow(keyType, cert);
    if (urgent || !cert) return { at: now, by: 'now', reason: urgent ?? 'no certificate' };
    if (!renewable(cert)) return { at: Number.POSITIVE_INFINITY, by: 'never' };
    await this.#refreshAri(state, cert, now);
    // The one rule (certificates/renewal-policy.ts): the CA's window short of expiry, else the lifetime rule.
    const ari = state.ari?.serial === cert.info.serialNumber ? state.ari : undefined;
    const due = scheduledDue(cert, renewBeforeDays, ari);
    if (!ari) return due;
    // A CA that answers "already past" for a certificate we just got gets at most one renewal per
    // ARI_MIN_GAP (or a quarter lifetime): no storm. This guard needs the loop's memory, so it lives here.
    const lifetime = Date.parse(cert.info.notAfter) - Date.parse(cert.info.notBefore);
    const floor = state.lastSuccessAt === undefined || !ari.pastOnArrival ? 0 : state.lastSuccessAt + Math.min(ARI_MIN_GAP_MS, lifetime / 4);
    return { at: Math.max(floor, due.at), by: 'ari' };
  }

  async #refreshAri(state: KeyState, cert: StoredCertificate, now: number): Promise<void> {
    const source = this.#options.renewalInfo;
    if (!source) return;
    const serial = cert.info.serialNumber;
    // A new certificate is asked about at once; the same one only when the CA's Retry-After has passed.
    if (state.ariFor === serial && now < state.ariNextFetchAt) return;
    if (state.ari && state.ari.serial !== serial) state.ari = undefined;
    state.ariFor = serial;
    try {
      const info = await source(cert);
      if (!info) {
        state.ari = undefined;
        state.ariNextFetchAt = now + ariRefetchDelay(undefined);
        return;
      }
      const same = state.ari && state.ari.start === info.start && state.ari.end === info.end;
      const chosen = same ? state.ari!.chosen : timeInWindow(info.start, info.end, this.#random());
      const pastOnArrival = same ? state.ari!.pastOnArrival : chosen <= now;
      state.ari = { serial, start: info.start, end: info.end, chosen, pastOnArrival, explanationUrl: info.explanationUrl };
      state.ariNextFetchAt = now + ariRefetchDelay(info.retryAfterMs);
      if (!same) this.#options.log.info({ event: 'ari_window', keyType: cert.keyType, serial, start: iso(info.start), end: iso(info.end), chosen: iso(chosen), explanationUrl: info.explanationUrl }, 'renewal window from the CA (ARI)');
    } catch (err) {
      // Keep the window we had; without one the lifetime rule applies. Ask again soon, not at once.
      state.ariNextFetchAt = now + 5 * ARI_MIN_REFETCH_MS;
      this.#options.log.warn({ event: 'ari_failed', keyType: cert.keyType, err: (err as Error).message }, 'could not fetch renewal information');
    }
  }

  /** Reloads now what the store holds (a CLI import or rollback), without renewing; resolves with what `sync` swapped in. */
  async syncNow(): Promise<unknown> {
    const swapped = await this.#options.sync?.();
    this.#options.onStatus?.(this.status());
    return swapped;
  }

  #attempt(keyType: KeyType, trigger: RenewalTrigger, force: boolean, replaceSource?: string): Promise<AttemptOutcome> {
    const state = this.#states.get(keyType)!;
    state.running ??= this.#run(keyType, state, trigger, force, replaceSource).finally(() => {
      state.running = undefined;
    });
    return state.running;
  }

  async #run(keyType: KeyType, state: KeyState, trigger: RenewalTrigger, force: boolean, replaceSource?: string): Promise<AttemptOutcome> {
    const { clock, log } = this.#options;
    const startedAt = clock.now();
    const previous = this.#options.served(keyType)?.info.serialNumber;
    log.info({ event: 'cert_renewing', keyType, trigger, force, previousSerial: previous, due: state.due?.by }, 'renewing certificate');
    let outcome: AttemptOutcome;
    try {
      const report = await this.#options.renew(keyType, trigger, force, replaceSource);
      const { info } = report.certificate;
      state.failures = 0;
      state.retryAt = undefined;
      state.lastError = undefined;
      state.lastSuccessAt = clock.now();
      outcome = {
        keyType,
        trigger,
        ok: true,
        outcome: report.outcome,
        serial: info.serialNumber,
        notAfter: info.notAfter,
        durationMs: clock.now() - startedAt,
        ...(report.servedInMs !== undefined && { servedInMs: report.servedInMs, workers: report.workers }),
      };
      log.info({ event: 'cert_renewed', ...outcome, previousSerial: previous }, report.outcome === 'adopted' ? 'serving a certificate another process renewed' : 'certificate renewed');
      // The new certificate's own due time (and ARI window) right away, so the timer is set for it.
      state.due = await this.#dueTime(keyType, state);
    } catch (err) {
      const error = isUcgateError(err) ? err : new UcgateError(ErrorCodes.ACME_FAILED, (err as Error)?.message ?? String(err), { cause: err });
      const reason: FailureReason = error instanceof AcmeError ? error.reason : 'other';
      state.failures++;
      const delay = Math.max(retryDelay(state.failures, this.#options.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS), error instanceof AcmeError ? (error.retryAfterMs ?? 0) : 0);
      state.retryAt = clock.now() + delay;
      state.lastError = { at: clock.now(), reason, code: error.code, message: error.message };
      outcome = { keyType, trigger, ok: false, outcome: 'failed', durationMs: clock.now() - startedAt, reason, code: error.code, error: error.message, retryAt: iso(state.retryAt)! };
      log.error(
        { event: 'cert_renewal_failed', keyType, trigger, reason, code: error.code, failures: state.failures, retryInMs: delay, servedSerial: previous, err: error.message },
        `certificate renewal failed (${reason}); still serving the current certificate`,
      );
    }
    this.#options.onAttempt?.(outcome);
    this.#options.onStatus?.(this.status());
    return outcome;
  }

  /** Sets the timer for the earliest due time, backoff end or ARI refresh — at most one check interval away. */
  #schedule(): void {
    if (this.#stopped) return;
    const now = this.#options.clock.now();
    let next = now + withJitter(this.#options.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS, this.#random());
    for (const state of this.#states.values()) {
      if (state.due && state.due.by !== 'never') next = Math.min(next, Math.max(state.due.at, state.retryAt ?? 0));
      if (state.ari) next = Math.min(next, state.ariNextFetchAt);
    }
    this.#arm(Math.max(MIN_WAKE_MS, next - now));
  }

  #arm(delayMs: number): void {
    if (this.#stopped) return;
    const { clock } = this.#options;
    if (this.#timer) clock.clearTimeout(this.#timer);
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      void this.tick();
    }, delayMs);
    this.#timer.unref?.();
  }
}
