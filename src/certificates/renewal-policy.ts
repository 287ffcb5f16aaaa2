/**
 * The one answer to "may this certificate be served?" and "when is it due?"
 * (certmagic's `NeedsRenewal` / `currentlyInRenewalWindow`, on an injected
 * time). Start-up, the maintenance loop, `cert renew|status|import`, the
 * status document and the dashboard all ask here; before issue 19 each had
 * its own rule and they disagreed (the table is in the closing note).
 *
 * The rules, as README and config/ucgate.example.yaml document them:
 * - Fit to serve: it covers every configured name and has not expired. A
 *   certificate not yet valid is still served (only clock skew produces one,
 *   and ordering again would not help); `notYetValid` tells it apart.
 * - Due, for what ucgate renews itself: inside the CA's ARI window when it
 *   offers one (a uniformly random time in it, RFC 9773 §4.2), else when a
 *   third of the lifetime remains or `renewBeforeDays` before the end
 *   (capped at half the lifetime), whichever is earlier.
 * - Nothing renews an imported certificate (certificate-source.ts): it is
 *   never due; the operator's "import again by" date, the dashboard's red and
 *   the CLI's WARNING start `renewBeforeDays` before the end.
 */
import type { IssuerType } from '../config/types.js';
import { isUnmanaged } from './certificate-source.js';

const DAY_MS = 86_400_000;
/** ARI is followed short of running into expiry: the chosen time is at most this close to the end. */
export const ARI_EXPIRY_MARGIN_MS = 60_000;
/** Days left at or under which a certificate is critical, whatever its window (unless its window is shorter). */
export const CRITICAL_DAYS = 7;

/** What the rules need to know about one certificate. */
export interface CertificateFacts {
  readonly source: string;
  readonly info: { readonly notBefore: string; readonly notAfter: string; readonly subjectAltNames: readonly string[] };
}

/** Why it must be replaced at once, by which rule: `now`; the CA's window: `ari`; the lifetime rule: `lifetime`; nothing renews it: `never`. */
export type DueRule = 'now' | 'ari' | 'lifetime' | 'never';
export type AlarmLevel = 'ok' | 'warn' | 'crit' | 'expired';

export interface Due {
  /** ms since the epoch; +Infinity when `never`. */
  readonly at: number;
  readonly by: DueRule;
  readonly reason?: string;
}

/** The CA's suggested window and the time picked in it (the loop keeps its pick; a one-shot caller picks anew). */
export interface AriWindow {
  readonly start: number;
  readonly end: number;
  readonly chosen: number;
}

export interface PolicyContext {
  readonly issuerType: IssuerType;
  readonly renewBeforeDays: number;
  /** The names the certificate must cover (requiredNames(config)). */
  readonly names: readonly string[];
  readonly now: number;
}

/**
 * The renewal time without ARI: when one third of the lifetime remains — right
 * for 90-day and 6-day certificates alike — or `renewBeforeDays` before the
 * end if that comes first. `renewBeforeDays` is capped at half the lifetime,
 * so that a short-lived certificate (or a 30-day setting with 45-day
 * certificates) does not fall due the moment it is issued.
 */
export function lifetimeRenewalTime(notBeforeMs: number, notAfterMs: number, renewBeforeDays: number): number {
  const lifetime = Math.max(0, notAfterMs - notBeforeMs);
  const remaining = Math.max(lifetime / 3, Math.min(renewBeforeDays * DAY_MS, lifetime / 2));
  return Math.round(notAfterMs - remaining);
}

/** RFC 9773 §4.2: a uniformly random time inside the suggested window (random ∈ [0, 1)). */
export function timeInWindow(startMs: number, endMs: number, random: number): number {
  return Math.floor(startMs + random * (endMs - startMs));
}

/** Why `cert` cannot be served for `names` at `now`, or undefined when it can. */
export function unfitReason(cert: CertificateFacts, names: readonly string[], now: number): string | undefined {
  const sans = new Set(cert.info.subjectAltNames.map((name) => name.toLowerCase()));
  const missing = names.filter((name) => !sans.has(name.toLowerCase()));
  if (missing.length > 0) return `does not cover ${missing.join(', ')}`;
  if (hasExpired(cert, now)) return 'expired';
  return undefined;
}

/**
 * True once `cert` has expired: the one thing that ends serving an imported
 * certificate (names do not: it stays the operator's) and the last resort when
 * an issuer fails (a still-valid certificate is served rather than none).
 */
export function hasExpired(cert: Pick<CertificateFacts, 'info'>, now: number): boolean {
  return Date.parse(cert.info.notAfter) <= now;
}

/** True while `now` is before the certificate's notBefore (clock skew): served, but worth showing. */
export function notYetValid(cert: CertificateFacts, now: number): boolean {
  return Date.parse(cert.info.notBefore) > now;
}

/** Whether the configured issuer renews `cert` on a schedule (it made it); the loop replaces nothing else behind the operator's back. */
export function renewedOnSchedule(cert: { readonly source: string }, issuerType: IssuerType): boolean {
  return issuerType !== 'manual' && cert.source === issuerType;
}

/**
 * When `cert` is due for renewal and by which rule. `placeholder`: a
 * temporary certificate served until the CA issues (due now). `ari`: the
 * CA's window, when it sent one for this certificate.
 */
export function renewalDue(cert: CertificateFacts | undefined, context: PolicyContext, options: { readonly placeholder?: boolean; readonly ari?: AriWindow } = {}): Due {
  const { issuerType, now } = context;
  if (!cert) return { at: now, by: 'now', reason: 'no certificate' };
  if (options.placeholder) return { at: now, by: 'now', reason: 'serving a placeholder until the CA issues' };
  if (issuerType === 'acme' && cert.source === 'self-signed') return { at: now, by: 'now', reason: 'issuer is now acme' };
  // An imported certificate is never replaced behind the administrator's back, not even when unfit.
  if (cert.source !== 'manual') {
    const unfit = unfitReason(cert, context.names, now);
    if (unfit) return { at: now, by: 'now', reason: unfit };
  }
  if (!renewedOnSchedule(cert, issuerType)) return { at: Number.POSITIVE_INFINITY, by: 'never' };
  return scheduledDue(cert, context.renewBeforeDays, options.ari);
}

/** The due time of a fit certificate its issuer renews: the CA's window when there is one (short of expiry), else the lifetime rule. */
export function scheduledDue(cert: Pick<CertificateFacts, 'info'>, renewBeforeDays: number, ari?: AriWindow): Due & { readonly by: 'ari' | 'lifetime' } {
  const notAfter = Date.parse(cert.info.notAfter);
  if (ari) return { at: Math.min(ari.chosen, notAfter - ARI_EXPIRY_MARGIN_MS), by: 'ari' };
  return { at: lifetimeRenewalTime(Date.parse(cert.info.notBefore), notAfter, renewBeforeDays), by: 'lifetime' };
}

/** True when `cert` should be replaced at `context.now` (without ARI: start-up and adoption do not ask the CA). */
export function isDue(cert: CertificateFacts | undefined, context: PolicyContext, options: { readonly placeholder?: boolean; readonly ari?: AriWindow } = {}): boolean {
  const due = renewalDue(cert, context, options);
  return due.by !== 'never' && context.now >= due.at;
}

/**
 * How long before its end a certificate enters its window, in ms: where the
 * dashboard's tick sits, where warnings may start. What ucgate renews: the
 * lifetime rule's distance. What nothing renews: `renewBeforeDays`.
 */
export function windowBeforeEndMs(dates: { readonly notBefore: string; readonly notAfter: string }, unmanaged: boolean, renewBeforeDays: number): number {
  if (unmanaged) return renewBeforeDays * DAY_MS;
  const notAfter = Date.parse(dates.notAfter);
  return notAfter - lifetimeRenewalTime(Date.parse(dates.notBefore), notAfter, renewBeforeDays);
}

/**
 * The level the dashboard and the CLI show, from whole days left (as status
 * reports them) and the window. Expired below zero; critical at 7 days left
 * (or half the window, when the window is shorter: a 6-day certificate is not
 * red all its life), and for an imported certificate anywhere inside its
 * window, since only a person can act; a warning inside the window of what
 * ucgate renews (renewal is due and has not happened yet).
 */
export function alarmLevel(daysLeft: number, windowMs: number, unmanaged: boolean): AlarmLevel {
  const windowDays = windowMs / DAY_MS;
  if (daysLeft < 0) return 'expired';
  if (daysLeft <= Math.min(CRITICAL_DAYS, unmanaged ? CRITICAL_DAYS : windowDays / 2)) return 'crit';
  if (daysLeft <= windowDays) return unmanaged ? 'crit' : 'warn';
  return 'ok';
}

/** The level of an own certificate as served (status, dashboard, `cert status`). */
export function certificateAlarm(cert: CertificateFacts, issuerType: IssuerType, renewBeforeDays: number, now: number): AlarmLevel {
  const unmanaged = isUnmanaged(cert, issuerType);
  return alarmLevel(Math.floor((Date.parse(cert.info.notAfter) - now) / DAY_MS), windowBeforeEndMs(cert.info, unmanaged, renewBeforeDays), unmanaged);
}

/** Days-left marks at which an expiring certificate is worth a log line (issue 5). */
export const EXPIRY_WARNING_DAYS = [30, 14, 7, 1] as const;

/**
 * The smallest expiry mark `cert` has reached (0 once expired), or undefined.
 * An imported certificate gets every mark: only a person can renew it. What
 * ucgate renews gets only the marks inside its renewal window, where reaching
 * one means renewal has been failing.
 */
export function expiryMark(cert: CertificateFacts, imported: boolean, renewBeforeDays: number, now: number): number | undefined {
  const notAfter = Date.parse(cert.info.notAfter);
  if (notAfter <= now) return 0;
  const window = windowBeforeEndMs(cert.info, imported, renewBeforeDays);
  const marks = imported ? EXPIRY_WARNING_DAYS : EXPIRY_WARNING_DAYS.filter((days) => days * DAY_MS < window);
  let reached: number | undefined;
  for (const mark of marks) if (notAfter - now <= mark * DAY_MS) reached = mark;
  return reached;
}

/** The date by which to import again (an imported certificate's window opens), or its end when that has passed. */
export function importAgainBy(cert: Pick<CertificateFacts, 'info'>, renewBeforeDays: number, now: number): number {
  const notAfter = Date.parse(cert.info.notAfter);
  const by = notAfter - renewBeforeDays * DAY_MS;
  return by > now ? by : notAfter;
}
