/**
 * The renewal loop on a fake clock: it wakes at the renewal time itself (a
 * two-minute certificate renews on time), backs off on the fixed table,
 * honours Retry-After, follows an ARI window and re-asks only after the
 * CA's Retry-After, and never changes what is served on failure.
 */
import t from 'tap';
import { FakeClock } from '../helpers/fake-clock.js';
import { createLogger } from '../../src/log.js';
import { RenewalMaintenance, type RenewReport } from '../../src/lifecycle/maintenance.js';
import { lifetimeRenewalTime, retryDelay, timeInWindow, withJitter, ariRefetchDelay } from '../../src/lifecycle/renewal-timing.js';
import { AcmeError } from '../../src/acme/acme-errors.js';
import type { RenewalInfo } from '../../src/acme/renewal-info.js';
import type { StoredCertificate } from '../../src/certificates/certificate-store.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2030, 0, 1);
const log = createLogger({ level: 'silent' });

let serialCounter = 0;
function cert(notBefore: number, notAfter: number): StoredCertificate {
  const serial = (++serialCounter).toString(16).padStart(4, '0');
  return {
    keyType: 'rsa-2048',
    certPem: `fake ${serial}`,
    keyPem: '',
    source: 'acme',
    info: {
      subject: 'CN=ucgw.example.test',
      commonName: 'ucgw.example.test',
      subjectAltNames: ['ucgw.example.test'],
      issuer: 'CN=test',
      serialNumber: serial,
      keyType: 'rsa-2048',
      notBefore: new Date(notBefore).toISOString(),
      notAfter: new Date(notAfter).toISOString(),
      fingerprintSha256: serial,
    },
  };
}

interface HarnessOptions {
  readonly served: StoredCertificate;
  /** Lifetime of what a successful renewal issues. */
  readonly issuedLifetimeMs?: number;
  readonly renewBeforeDays?: number;
  readonly retryBackoffMs?: readonly number[];
  readonly renewalInfo?: (cert: StoredCertificate) => Promise<RenewalInfo | undefined>;
  readonly replaceNow?: (cert: StoredCertificate | undefined) => string | undefined;
}

function harness(options: HarnessOptions) {
  const clock = new FakeClock(T0);
  let served = options.served;
  let failWith: Error | undefined;
  const attempts: { at: number; trigger: string; force: boolean }[] = [];
  const loop = new RenewalMaintenance({
    keyTypes: ['rsa-2048'],
    clock,
    log,
    random: () => 0.5,
    checkIntervalMs: 5 * MINUTE,
    retryBackoffMs: options.retryBackoffMs ?? [MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE],
    renewBeforeDays: options.renewBeforeDays ?? 30,
    served: () => served,
    replaceNow: (_keyType, current) => options.replaceNow?.(current),
    renewable: () => true,
    ...(options.renewalInfo && { renewalInfo: options.renewalInfo }),
    renew: async (_keyType, trigger, force): Promise<RenewReport> => {
      attempts.push({ at: clock.now() - T0, trigger, force });
      if (failWith) throw failWith;
      served = cert(clock.now(), clock.now() + (options.issuedLifetimeMs ?? 90 * DAY));
      return { outcome: 'renewed', certificate: served };
    },
  });
  const settle = async () => {
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  /** Moves the clock `ms` forward, one due timer at a time, letting each pass finish. */
  const run = async (ms: number) => {
    const target = clock.now() + ms;
    await settle();
    for (;;) {
      const next = clock.dueTimes()[0];
      if (next === undefined || next > target) break;
      clock.advance(next - clock.now());
      await settle();
    }
    clock.advance(target - clock.now());
    await settle();
  };
  return {
    clock,
    loop,
    attempts,
    run,
    settle,
    served: () => served,
    fail: (err: Error | undefined) => (failWith = err),
  };
}

t.test('renewal time from the lifetime: a third remaining, renewBeforeDays capped at half', async (t) => {
  t.equal(lifetimeRenewalTime(0, 90 * DAY, 30), 60 * DAY, '90-day certificate: 30 days before');
  t.equal(lifetimeRenewalTime(0, 6 * DAY, 1), 4 * DAY, '6-day certificate: 2 days (a third) before');
  t.equal(lifetimeRenewalTime(0, 6 * DAY, 30), 3 * DAY, '6-day with renewBeforeDays 30: half-life, not at once');
  t.equal(lifetimeRenewalTime(0, 45 * DAY, 30), 22.5 * DAY, '45-day with 30: half-life');
  t.equal(lifetimeRenewalTime(0, 365 * DAY, 30), Math.round(365 * DAY - (365 * DAY) / 3), 'a year: a third');
  t.equal(lifetimeRenewalTime(0, 2 * MINUTE, 1), MINUTE, 'two minutes: at one minute');
  t.same([1, 2, 3, 4, 5, 6, 7, 8, 9, 50].map((n) => retryDelay(n) / MINUTE), [1, 2, 5, 10, 30, 60, 120, 360, 360, 360], 'the default table, capped at 6 h');
  t.equal(retryDelay(0), 0);
  t.equal(timeInWindow(100, 200, 0), 100);
  t.equal(timeInWindow(100, 200, 0.999), 199);
  t.equal(withJitter(1000, 0), 900);
  t.equal(withJitter(1000, 0.9999), 1100);
  t.equal(ariRefetchDelay(undefined), 6 * HOUR);
  t.equal(ariRefetchDelay(1), MINUTE, 'never more often than once a minute');
  t.equal(ariRefetchDelay(30 * DAY), DAY, 'at least once a day');
});

t.test('a two-minute certificate renews at its renewal time, not at the next five-minute check', async (t) => {
  const h = harness({ served: cert(T0, T0 + 2 * MINUTE), issuedLifetimeMs: 2 * MINUTE, renewBeforeDays: 1 });
  h.loop.start();
  await h.run(59 * SECOND);
  t.same(h.attempts, [], 'nothing before it is due');
  await h.run(2 * SECOND);
  t.same(h.attempts.map((a) => a.at), [MINUTE], 'renewed at exactly half its two-minute life');
  await h.run(5 * MINUTE);
  t.same(h.attempts.map((a) => a.at), [1, 2, 3, 4, 5, 6].map((n) => n * MINUTE), 'and every minute after, each new certificate on time');
  h.loop.stop();
  t.equal(h.clock.pending, 0, 'stop() leaves no timer behind');
});

t.test('failures back off on the table, the served certificate stays, status names the error', async (t) => {
  const original = cert(T0 - 60 * DAY, T0 + 30 * DAY);
  const h = harness({ served: original });
  h.fail(new AcmeError('ca-unreachable', 'ACME server unreachable: ECONNREFUSED'));
  h.loop.start();
  await h.run(0);
  await h.run(40 * MINUTE);
  t.same(
    h.attempts.map((a) => a.at / MINUTE),
    [0, 1, 3, 8, 18, 28, 38],
    'due at once, then +1, +2, +5, +10 min, then 10 min for as long as it fails',
  );
  t.equal(h.served(), original, 'still serving the original certificate');
  const [status] = h.loop.status();
  t.match(status, {
    consecutiveFailures: 7,
    lastError: { reason: 'ca-unreachable', code: 'UCGATE_ERR_ACME_CA_UNREACHABLE', message: /ECONNREFUSED/ },
    retryAt: new Date(T0 + 48 * MINUTE).toISOString(),
  });
  h.fail(undefined);
  await h.run(10 * MINUTE);
  t.equal(h.attempts.length, 8, 'the next attempt after the CA is back succeeds');
  t.not(h.served(), original, 'and only then is a new certificate served');
  t.match(h.loop.status()[0], { consecutiveFailures: 0, lastError: undefined });
});

t.test("the CA's Retry-After wins over a shorter backoff", async (t) => {
  const h = harness({ served: cert(T0 - 60 * DAY, T0 + 30 * DAY) });
  h.fail(new AcmeError('rate-limited', 'rate limited by the CA', { retryAfterMs: 3 * HOUR }));
  h.loop.start();
  await h.run(0);
  await h.run(3 * HOUR - SECOND);
  t.same(h.attempts.map((a) => a.at), [0], 'no attempt while the CA said to wait');
  await h.run(2 * SECOND);
  t.same(h.attempts.map((a) => a.at), [0, 3 * HOUR], 'the next one right when Retry-After ends');
  h.loop.stop();
});

t.test('ARI: the window decides, Retry-After paces the re-fetch, a moved window moves the renewal', async (t) => {
  const original = cert(T0 - DAY, T0 + 89 * DAY);
  let window = { start: T0 + 10 * DAY, end: T0 + 12 * DAY };
  const fetches: number[] = [];
  const h = harness({
    served: original,
    renewalInfo: async (current) => {
      fetches.push(h.clock.now() - T0);
      // The CA's window for the original certificate; a new one gets the usual two-thirds mark.
      const notBefore = Date.parse(current.info.notBefore);
      const ownWindow = current === original ? window : { start: notBefore + 60 * DAY, end: notBefore + 61 * DAY };
      return { certId: 'aa.bb', ...ownWindow, explanationUrl: undefined, retryAfterMs: 6 * HOUR };
    },
  });
  h.loop.start();
  await h.run(0);
  t.match(h.loop.status()[0], { dueBy: 'ari', dueAt: new Date(T0 + 11 * DAY).toISOString() }, 'a random time inside the window (random = 0.5)');
  await h.run(6 * HOUR - SECOND);
  t.same(fetches, [0], 'not asked again before Retry-After, although the loop checked every 5 minutes');
  // The CA moves the window into the near future (as it would before revoking).
  window = { start: T0 + 7 * HOUR, end: T0 + 8 * HOUR };
  await h.run(2 * SECOND);
  t.same(fetches, [0, 6 * HOUR], 'asked again when Retry-After ran out');
  t.match(h.loop.status()[0], { dueBy: 'ari', dueAt: new Date(T0 + 7.5 * HOUR).toISOString() });
  await h.run(2 * HOUR);
  t.same(h.attempts.map((a) => a.at), [7.5 * HOUR], 'renewed at the time chosen in the new window, 59 days early');
  t.equal(fetches.at(-1), 7.5 * HOUR, 'the new certificate is asked about at once');
  h.loop.stop();
});

t.test('ARI: a window already past means renew now; no ARI falls back to the lifetime', async (t) => {
  const past = harness({
    served: cert(T0 - DAY, T0 + 89 * DAY),
    renewalInfo: async () => ({ certId: 'x', start: T0 - 2 * HOUR, end: T0 - HOUR, explanationUrl: 'https://ca.example/incident', retryAfterMs: undefined }),
  });
  past.loop.start();
  await past.run(0);
  t.same(past.attempts.map((a) => a.at), [0]);
  past.loop.stop();
  const none = harness({ served: cert(T0 - DAY, T0 + 89 * DAY), renewalInfo: async () => undefined });
  none.loop.start();
  await none.run(0);
  t.match(none.loop.status()[0], { dueBy: 'lifetime', dueAt: new Date(T0 + 59 * DAY).toISOString() });
  none.loop.stop();
});

t.test('a placeholder is replaced at once; renewNow respects due times unless forced', async (t) => {
  const placeholder = cert(T0, T0 + 7 * DAY);
  const h = harness({ served: placeholder, replaceNow: (current) => (current === placeholder ? 'placeholder' : undefined) });
  h.loop.start();
  await h.run(0);
  t.same(h.attempts.map((a) => a.trigger), ['scheduled'], 'ordered at once');
  const notDue = await h.loop.renewNow({ force: false });
  t.match(notDue, [{ outcome: 'not-due', ok: true, dueAt: new Date(T0 + 60 * DAY).toISOString() }]);
  const forced = await h.loop.renewNow({ force: true });
  t.match(forced, [{ outcome: 'renewed', ok: true, trigger: 'manual' }]);
  t.same(h.attempts.at(-1), { at: 0, trigger: 'manual', force: true });
  h.fail(new AcmeError('rejected', 'the CA refused'));
  const [failed] = await h.loop.renewNow({ force: true });
  t.match(failed, { ok: false, outcome: 'failed', reason: 'rejected', retryAt: new Date(T0 + MINUTE).toISOString() });
  h.loop.stop();
});

t.test('ARI: a CA that says "already past" for every new certificate does not cause a renewal storm', async (t) => {
  const h = harness({
    served: cert(T0 - DAY, T0 + 89 * DAY),
    renewalInfo: async () => ({ certId: 'x', start: h.clock.now() - 2 * HOUR, end: h.clock.now() - HOUR, explanationUrl: undefined, retryAfterMs: MINUTE }),
  });
  h.loop.start();
  await h.run(3 * HOUR);
  t.same(h.attempts.map((a) => a.at / HOUR), [0, 1, 2, 3], 'once an hour at most, not once a second');
  h.loop.stop();
});

t.test('ARI: a future window for a certificate just issued is followed to the second', async (t) => {
  const placeholder = cert(T0, T0 + 7 * DAY);
  const h = harness({
    served: placeholder,
    issuedLifetimeMs: 5 * 365 * DAY,
    replaceNow: (current) => (current === placeholder ? 'placeholder' : undefined),
    renewalInfo: async (current) => {
      const notBefore = Date.parse(current.info.notBefore);
      return { certId: 'x', start: notBefore + 4 * SECOND, end: notBefore + 6 * SECOND, explanationUrl: undefined, retryAfterMs: HOUR };
    },
  });
  h.loop.start();
  await h.run(12 * SECOND);
  t.same(h.attempts.map((a) => a.at), [0, 5 * SECOND, 10 * SECOND], 'each certificate renewed at the time chosen in its window');
  h.loop.stop();
});
