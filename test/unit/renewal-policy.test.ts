/**
 * The one answer to "fit to serve?" and "when due?" (src/certificates/renewal-policy.ts),
 * table-driven on a fake clock: every case the six former rules covered (start-up,
 * the loop, cert renew, cert status, cert import, the dashboard/status), and the
 * cases where they disagreed, each with the rule that now wins (issue 19).
 */
import t from 'tap';
import { FakeClock } from '../helpers/fake-clock.js';
import {
  alarmLevel,
  certificateAlarm,
  expiryMark,
  importAgainBy,
  isDue,
  lifetimeRenewalTime,
  notYetValid,
  renewalDue,
  scheduledDue,
  unfitReason,
  windowBeforeEndMs,
  type CertificateFacts,
  type PolicyContext,
} from '../../src/certificates/renewal-policy.js';
import type { IssuerType } from '../../src/config/types.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2030, 0, 1);
const NAME = 'ucgw.example.test';

function cert(source: string, notBefore: number, notAfter: number, names: readonly string[] = [NAME]): CertificateFacts {
  return { source, info: { notBefore: new Date(notBefore).toISOString(), notAfter: new Date(notAfter).toISOString(), subjectAltNames: names } };
}

function context(clock: FakeClock, issuerType: IssuerType = 'acme', renewBeforeDays = 30): PolicyContext {
  return { issuerType, renewBeforeDays, names: [NAME], now: clock.now() };
}

t.test('fit to serve: names and expiry; a certificate not yet valid is served but shown', async (t) => {
  const clock = new FakeClock(T0);
  const cases: [string, CertificateFacts, string | undefined][] = [
    ['valid', cert('acme', T0 - DAY, T0 + 89 * DAY), undefined],
    ['expired this instant', cert('acme', T0 - 90 * DAY, T0), 'expired'],
    ['expired long ago', cert('manual', T0 - 400 * DAY, T0 - 35 * DAY), 'expired'],
    ['a name missing', cert('acme', T0 - DAY, T0 + 89 * DAY, ['other.example.test']), `does not cover ${NAME}`],
    ['names compared without case', cert('acme', T0 - DAY, T0 + 89 * DAY, ['UCGW.Example.Test']), undefined],
    ['not yet valid (clock skew): still fit', cert('acme', T0 + HOUR, T0 + 90 * DAY), undefined],
  ];
  for (const [what, c, reason] of cases) t.equal(unfitReason(c, [NAME], clock.now()), reason, what);
  t.ok(notYetValid(cert('acme', T0 + HOUR, T0 + 90 * DAY), clock.now()));
  t.notOk(notYetValid(cert('acme', T0, T0 + 90 * DAY), clock.now()));
});

t.test('the lifetime rule: a third of the lifetime left, or renewBeforeDays capped at half, whichever is earlier', async (t) => {
  const cases: [string, number, number, number][] = [
    // [what, lifetime, renewBeforeDays, expected time before the end]
    ['90-day, 30: a third = 30 days', 90 * DAY, 30, 30 * DAY],
    ['90-day, 45: renewBeforeDays earlier', 90 * DAY, 45, 45 * DAY],
    ['90-day, 60: capped at half the lifetime', 90 * DAY, 60, 45 * DAY],
    ['90-day, 7: a third is earlier', 90 * DAY, 7, 30 * DAY],
    ['365-day self-signed, 30: a third (121.7 days), not 30', 365 * DAY, 30, (365 * DAY) / 3],
    ['6-day, 30: half-life, not at once', 6 * DAY, 30, 3 * DAY],
    ['2-minute, 1: half-life', 2 * 60_000, 1, 60_000],
  ];
  for (const [what, lifetime, days, before] of cases) {
    t.equal(T0 + lifetime - lifetimeRenewalTime(T0, T0 + lifetime, days), Math.round(before), what);
    t.equal(windowBeforeEndMs({ notBefore: new Date(T0).toISOString(), notAfter: new Date(T0 + lifetime).toISOString() }, false, days), Math.round(before), `${what}: the window`);
  }
});

t.test('when due, and by which rule, as time passes', async (t) => {
  const clock = new FakeClock(T0);
  const acme90 = cert('acme', T0, T0 + 90 * DAY);
  const table: [string, CertificateFacts | undefined, IssuerType, { placeholder?: boolean }, { at: number; by: string; reason?: string }][] = [
    ['nothing stored', undefined, 'acme', {}, { at: T0, by: 'now', reason: 'no certificate' }],
    ['a placeholder', cert('self-signed', T0, T0 + DAY), 'acme', { placeholder: true }, { at: T0, by: 'now', reason: 'serving a placeholder until the CA issues' }],
    ['self-signed while the issuer is acme', cert('self-signed', T0, T0 + 365 * DAY), 'acme', {}, { at: T0, by: 'now', reason: 'issuer is now acme' }],
    ['acme, fit: the lifetime rule', acme90, 'acme', {}, { at: T0 + 60 * DAY, by: 'lifetime' }],
    ['acme missing a name: now', cert('acme', T0, T0 + 90 * DAY, ['x.example.test']), 'acme', {}, { at: T0, by: 'now', reason: `does not cover ${NAME}` }],
    ['self-signed under self-signed: the lifetime rule', cert('self-signed', T0, T0 + 365 * DAY), 'self-signed', {}, { at: Math.round(T0 + (365 * DAY * 2) / 3), by: 'lifetime' }],
    ['imported: never, whatever the issuer', cert('manual', T0, T0 + 90 * DAY), 'acme', {}, { at: Infinity, by: 'never' }],
    ['imported, missing a name: still never (never replaced behind the operator\'s back)', cert('manual', T0, T0 + 90 * DAY, ['x.example.test']), 'self-signed', {}, { at: Infinity, by: 'never' }],
    ['acme under the self-signed issuer: never (nothing renews it)', acme90, 'self-signed', {}, { at: Infinity, by: 'never' }],
    ['anything under the manual issuer: never', cert('self-signed', T0, T0 + 90 * DAY), 'manual', {}, { at: Infinity, by: 'never' }],
  ];
  for (const [what, c, issuer, options, expected] of table) t.match(renewalDue(c, context(clock, issuer), options), expected, what);

  // The same certificate on the clock: not due, due at the instant, expired is "now".
  const steps: [number, boolean, string][] = [
    [59 * DAY, false, 'lifetime'],
    [60 * DAY, true, 'lifetime'],
    [90 * DAY, true, 'now'],
  ];
  for (const [offset, due, by] of steps) {
    clock.advance(T0 + offset - clock.now());
    t.equal(isDue(acme90, context(clock)), due, `day ${offset / DAY}: due ${due}`);
    t.equal(renewalDue(acme90, context(clock)).by, by, `day ${offset / DAY}: by ${by}`);
  }
});

t.test('ARI: the time chosen in the window, short of expiry', async (t) => {
  const acme90 = cert('acme', T0, T0 + 90 * DAY);
  const window = { start: T0 + 40 * DAY, end: T0 + 42 * DAY };
  t.same(scheduledDue(acme90, 30, { ...window, chosen: T0 + 41 * DAY }), { at: T0 + 41 * DAY, by: 'ari' }, 'earlier than the lifetime rule');
  t.same(scheduledDue(acme90, 30, { start: T0 + 95 * DAY, end: T0 + 96 * DAY, chosen: T0 + 95 * DAY }), { at: T0 + 90 * DAY - 60_000, by: 'ari' }, 'a window past the end: a minute before it');
  t.same(scheduledDue(acme90, 30), { at: T0 + 60 * DAY, by: 'lifetime' }, 'no window: the lifetime rule');
  const clock = new FakeClock(T0 + 41 * DAY);
  t.ok(isDue(acme90, context(clock), { ari: { ...window, chosen: T0 + 41 * DAY } }), 'due at the chosen time...');
  t.notOk(isDue(acme90, context(clock), { ari: { ...window, chosen: T0 + 41 * DAY + 1 } }), '...not a millisecond before (the CLI used to renew from the window\'s start)');
});

t.test('alarm levels: expired, critical, warning, ok', async (t) => {
  const clock = new FakeClock(T0);
  const table: [string, CertificateFacts, IssuerType, string][] = [
    ['90-day acme, 62 days left', cert('acme', T0 - 28 * DAY, T0 + 62 * DAY), 'acme', 'ok'],
    ['90-day acme, 20 days left: due, renewal not done yet', cert('acme', T0 - 70 * DAY, T0 + 20 * DAY), 'acme', 'warn'],
    ['90-day acme, 3 days left', cert('acme', T0 - 87 * DAY, T0 + 3 * DAY), 'acme', 'crit'],
    ['expired', cert('acme', T0 - 92 * DAY, T0 - 2 * DAY), 'acme', 'expired'],
    ['6-day acme, 5 days left: ok (was red all its life under "7 days")', cert('acme', T0 - DAY, T0 + 5 * DAY), 'acme', 'ok'],
    ['6-day acme, 2 days left: warn', cert('acme', T0 - 4 * DAY, T0 + 2 * DAY), 'acme', 'warn'],
    ['6-day acme, 1 day left: crit', cert('acme', T0 - 5 * DAY, T0 + DAY + HOUR), 'acme', 'crit'],
    ['365-day self-signed, 100 days left: warn (due at 121.7)', cert('self-signed', T0 - 265 * DAY, T0 + 100 * DAY), 'self-signed', 'warn'],
    ['imported, 40 days left', cert('manual', T0 - 325 * DAY, T0 + 40 * DAY), 'acme', 'ok'],
    ['imported, 30 days left: red, only a person can act', cert('manual', T0 - 335 * DAY, T0 + 30 * DAY + HOUR), 'acme', 'crit'],
    ['imported, 5 days left', cert('manual', T0 - 360 * DAY, T0 + 5 * DAY), 'self-signed', 'crit'],
  ];
  for (const [what, c, issuer, level] of table) t.equal(certificateAlarm(c, issuer, 30, clock.now()), level, what);
  t.equal(alarmLevel(7, 30 * DAY, false), 'crit', '7 days left of a 30-day window: crit');
  t.equal(alarmLevel(8, 30 * DAY, false), 'warn');
  t.equal(alarmLevel(-1, 30 * DAY, true), 'expired');
});

t.test('expiry log marks: every mark for an import; past the due time for ours', async (t) => {
  const imported = cert('manual', T0, T0 + 100 * DAY);
  const ours = cert('acme', T0, T0 + 90 * DAY);
  const short = cert('acme', T0, T0 + 6 * DAY);
  const table: [string, CertificateFacts, boolean, number, number | undefined][] = [
    ['import, 31 days left', imported, true, 69 * DAY, undefined],
    ['import, 30 days left', imported, true, 70 * DAY, 30],
    ['import, 10 days left', imported, true, 90 * DAY, 14],
    ['import, 6 hours left', imported, true, 100 * DAY - 6 * HOUR, 1],
    ['import, expired', imported, true, 100 * DAY, 0],
    ['ours, 30 days left: just due, quiet', ours, false, 60 * DAY, undefined],
    ['ours, 14 days left: overdue', ours, false, 76 * DAY, 14],
    ['ours, 3 days left', ours, false, 87 * DAY, 7],
    ['6-day, 5 days left: quiet (was "renewal has not succeeded" from birth under renewBeforeDays)', short, false, DAY, undefined],
    ['6-day, 1 day left: the 1-day mark', short, false, 5 * DAY, 1],
  ];
  for (const [what, c, isImport, offset, mark] of table) {
    const clock = new FakeClock(T0 + offset);
    t.equal(expiryMark(c, isImport, 30, clock.now()), mark, what);
  }
});

t.test('import again by: renewBeforeDays ahead of expiry, or the end once that has passed', async (t) => {
  const c = cert('manual', T0, T0 + 365 * DAY);
  t.equal(importAgainBy(c, 30, T0), T0 + 335 * DAY);
  t.equal(importAgainBy(c, 30, T0 + 340 * DAY), T0 + 365 * DAY);
});
