import t from 'tap';
import type { IncomingMessage } from 'node:http';
import { CredentialGuard, clientKeyOf, type Attempt } from '../../src/proxy/credential-guard.js';
import { normaliseTarget } from '../../src/proxy/normalise-path.js';

const FORM = 'application/x-www-form-urlencoded';
const LIMITS = { windowMs: 60_000, perClient: 10, perUser: 5 };

interface Sent {
  readonly target: string;
  readonly method?: string;
  readonly from?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

function request(sent: Sent): IncomingMessage {
  const headers: Record<string, string> = { ...sent.headers };
  if (sent.body !== undefined) {
    headers['content-type'] ??= FORM;
    headers['content-length'] ??= String(Buffer.byteLength(sent.body, 'latin1'));
  }
  return { method: sent.method ?? (sent.body === undefined ? 'GET' : 'POST'), url: sent.target, headers, socket: { remoteAddress: sent.from ?? '10.0.0.1' } } as unknown as IncomingMessage;
}

/** What the data plane does: normalise the target as the router does, read a small form body the guard wants, classify. */
function classify(guard: CredentialGuard, sent: Sent): Attempt | undefined {
  const target = normaliseTarget(sent.target);
  if (!target.ok) throw new Error(target.reason);
  const req = request(sent);
  const body = sent.body !== undefined && guard.wantsBody(req, target.matchPath) ? Buffer.from(sent.body, 'latin1') : undefined;
  return guard.attemptOf(req, target.matchPath, target.forwardPath, body);
}

/** Sends `sent` through the guard at `now`: 'refused' (with the verdict), or admitted and answered `status` at once. */
function attempt(guard: CredentialGuard, sent: Sent, now: number, status = 200): number | 'none' {
  const a = classify(guard, sent);
  if (!a) return 'none';
  const verdict = guard.check(a, now);
  if (verdict) return verdict.status;
  guard.answered(a, status, now);
  guard.ended(a, now);
  return status;
}

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

t.test('EM: every encoding of userid names the same user, and every guess counts', async (t) => {
  const encodings: Array<[string, (pin: string) => Sent]> = [
    ['plain', (pin) => ({ target: `/emapp/EMAppServlet?device=SEP1&userid=jdoe&seq=${pin}` })],
    ['user%69d', (pin) => ({ target: `/emapp/EMAppServlet?device=SEP1&user%69d=jdoe&seq=${pin}` })],
    ['%75serid', (pin) => ({ target: `/emapp/EMAppServlet?device=SEP1&%75serid=jdoe&seq=${pin}` })],
    ['USERID', (pin) => ({ target: `/emapp/EMAppServlet?device=SEP1&USERID=jdoe&seq=${pin}` })],
    ['JDOE', (pin) => ({ target: `/emapp/EMAppServlet?device=SEP1&userid=JDOE&seq=${pin}` })],
    ['%6Adoe', (pin) => ({ target: `/emapp/EMAppServlet?device=SEP1&userid=%6Adoe&seq=${pin}` })],
    ['+ and spaces', (pin) => ({ target: `/emapp/EMAppServlet?device=SEP1&userid=+jdoe%20&seq=${pin}` })],
    ['repeated, decoy first', (pin) => ({ target: `/emapp/EMAppServlet?device=SEP1&userid=decoy${pin}&userid=jdoe&seq=${pin}` })],
    ['fullwidth', (pin) => ({ target: `/emapp/EMAppServlet?device=SEP1&userid=%EF%BD%8Adoe&seq=${pin}` })],
    [';jsessionid=', (pin) => ({ target: `/emapp/EMAppServlet;jsessionid=ABCDEF?device=SEP1&userid=jdoe&seq=${pin}` })],
    ['path case and encoding', (pin) => ({ target: `/EMAPP/%45MAppServlet?device=SEP1&userid=jdoe&seq=${pin}` })],
    ['form POST', (pin) => ({ target: '/emapp/EMAppServlet', body: `device=SEP1&userid=jdoe&seq=${pin}` })],
    ['form POST, charset', (pin) => ({ target: '/emapp/EMAppServlet', body: `device=SEP1&userid=jdoe&seq=${pin}`, headers: { 'content-type': `${FORM}; charset=UTF-8` } })],
    ['query and body', (pin) => ({ target: '/emapp/EMAppServlet?device=SEP1&userid=decoy', body: `userid=jdoe&seq=${pin}` })],
    ['HEAD', (pin) => ({ target: `/emapp/EMAppServlet?device=SEP1&userid=jdoe&seq=${pin}`, method: 'HEAD' })],
  ];
  for (const [name, make] of encodings) {
    const guard = new CredentialGuard(LIMITS, 1);
    const outcomes: Array<number | 'none'> = [];
    // 30 guesses, each from a new address: only the per-user limit can stop them.
    for (let i = 0; i < 30; i++) outcomes.push(attempt(guard, { ...make(String(1000 + i)), from: `10.1.0.${i}` }, i * 100));
    t.same(outcomes, [...Array(5).fill(200), ...Array(25).fill(429)], `${name}: 5 of 30 guesses pass`);
  }
});

t.test('the other credential endpoints', async (t) => {
  const cases: Array<[string, (i: number) => Sent]> = [
    ['change credential', (i) => ({ target: `/changecredential/ChangeCredentialServlet?device=SEP1&changePin=true&userid=jdoe&oldpin=${i}&newpin=1&confirmnewpin=1` })],
    ['personal directory', (i) => ({ target: `/ccmpd/login.do?name=SEP1&service=pab&userid=jdoe&pin=${i}` })],
    ['authenticate.jsp', (i) => ({ target: `/ccmcip/authenticate.jsp?UserID=jdoe&Password=p${i}&devicename=SEP1` })],
    ['authenticate.jsp, POST', (i) => ({ target: '/ccmcip/authenticate.jsp', body: `UserID=jdoe&Password=p${i}` })],
    ['authenticate.jsp, password only', (i) => ({ target: `/ccmcip/authenticate.jsp?Password=p${i}&U%73erID=jdoe` })],
    ['OAuth sign-in form', (i) => ({ target: '/ssosp/oauth/login;jsessionid=X', body: `j_username=jdoe&j_password=p${i}` })],
  ];
  for (const [name, make] of cases) {
    const guard = new CredentialGuard(LIMITS, 1);
    const outcomes: Array<number | 'none'> = [];
    for (let i = 0; i < 30; i++) outcomes.push(attempt(guard, { ...make(i), from: `10.2.0.${i}` }, i));
    t.same(outcomes, [...Array(5).fill(200), ...Array(25).fill(429)], `${name}: 5 of 30 guesses pass`);
  }
  const guard = new CredentialGuard(LIMITS, 1);
  t.equal(classify(guard, { target: '/emapp/EMAppServlet?device=SEP1' }), undefined, 'the EM login form is no attempt');
  t.equal(classify(guard, { target: '/emapp/EMAppServlet?device=SEP1&doLogout=true' }), undefined, 'nor is a logout');
  t.equal(classify(guard, { target: '/ccmcip/xmldirectorylist.jsp?l=doe' }), undefined, 'nor a directory search');
  t.equal(classify(guard, { target: '/ssosp/oauth/authorize?client_id=x&response_type=code' }), undefined, 'nor an authorize request');
  t.equal(classify(guard, { target: '/cucm-uds/version' }), undefined);
  t.match(classify(guard, { target: '/emapp/EMAppServlet?device=SEP1&seq=1' }), { kind: 'em-login', users: [] }, 'a PIN without a user id counts for the client');
});

t.test('PINs and passwords: one budget per user id for each secret, across endpoints', async (t) => {
  const guard = new CredentialGuard(LIMITS, 1);
  let now = 0;
  const outcomes = [
    attempt(guard, { target: '/emapp/EMAppServlet?device=S&userid=jdoe&seq=1', from: '10.3.0.1' }, now++),
    attempt(guard, { target: '/changecredential/x?userid=jdoe&oldpin=2', from: '10.3.0.2' }, now++),
    attempt(guard, { target: '/ccmpd/login.do?userid=jdoe&pin=3', from: '10.3.0.3' }, now++),
    attempt(guard, { target: '/emapp/EMAppServlet?device=S&userid=jdoe&seq=4', from: '10.3.0.4' }, now++),
    attempt(guard, { target: '/emapp/EMAppServlet?device=S&userid=jdoe&seq=5', from: '10.3.0.5' }, now++),
    attempt(guard, { target: '/ccmpd/login.do?userid=jdoe&pin=6', from: '10.3.0.6' }, now++),
  ];
  t.same(outcomes, [200, 200, 200, 200, 200, 429], 'PIN guesses share the user id budget');
  const passwords = [
    attempt(guard, { target: '/ccmcip/authenticate.jsp?UserID=jdoe&Password=a', from: '10.3.1.1' }, now++),
    attempt(guard, { target: '/cucm-uds/user/jdoe', from: '10.3.1.2', headers: basic('jdoe', 'b') }, now++, 401),
    attempt(guard, { target: '/ssosp/oauth/login', body: 'j_username=jdoe&j_password=c', from: '10.3.1.3' }, now++),
    attempt(guard, { target: '/ucmuser/', from: '10.3.1.4', headers: basic('JDOE', 'd') }, now++, 401),
    attempt(guard, { target: '/cucm-uds/user/jdoe', from: '10.3.1.5', headers: basic('jdoe', 'e') }, now++, 401),
    attempt(guard, { target: '/ccmcip/authenticate.jsp?UserID=jdoe&Password=f', from: '10.3.1.6' }, now++),
  ];
  t.same(passwords, [200, 401, 200, 401, 401, 429], 'password guesses share another');
});

t.test('UDS Basic auth: 60 concurrent wrong passwords, at most the limit in flight and counted', async (t) => {
  const guard = new CredentialGuard({ windowMs: 60_000, perClient: 30, perUser: 10 }, 1);
  const admitted: Attempt[] = [];
  let refused = 0;
  for (let i = 0; i < 60; i++) {
    const a = classify(guard, { target: '/cucm-uds/user/jdoe/devices', from: `10.4.0.${i}`, headers: basic('jdoe', `guess${i}`) })!;
    if (guard.check(a, 0)) refused++;
    else admitted.push(a);
  }
  t.equal(admitted.length, 10, '10 of 60 go on');
  t.equal(refused, 50);
  for (const a of admitted) guard.answered(a, 401, 1_000);
  const right = classify(guard, { target: '/cucm-uds/user/jdoe/devices', from: '10.4.1.1', headers: basic('jdoe', 'secret') })!;
  t.match(guard.check(right, 2_000), { scope: 'user', status: 429, retryAfterMs: 59_000 }, 'the right password is refused too, until the window passes');
  t.equal(guard.check(right, 61_000), undefined, 'and accepted a window after the failures');

  const one = new CredentialGuard({ windowMs: 60_000, perClient: 30, perUser: 10 }, 1);
  const fromOne: Attempt[] = [];
  for (let i = 0; i < 60; i++) {
    const a = classify(one, { target: '/cucm-uds/user/u' + i, from: '10.4.2.1', headers: basic(`u${i}`, 'x') })!;
    if (!one.check(a, 0)) fromOne.push(a);
  }
  t.equal(fromOne.length, 30, 'one client spraying 60 users: 30 (its limit) in flight');
});

t.test('a Basic login that succeeds gives its place back; a known-good credential takes none in flight', async (t) => {
  const guard = new CredentialGuard({ windowMs: 60_000, perClient: 30, perUser: 3 }, 1);
  const jabber = { target: '/cucm-uds/user/jdoe', from: '10.5.0.1', headers: basic('jdoe', 'secret') };
  for (let i = 0; i < 10; i++) t.equal(attempt(guard, jabber, i, 200), 200, `sequential success ${i}`);
  const parallel: Attempt[] = [];
  for (let i = 0; i < 12; i++) {
    const a = classify(guard, { ...jabber, target: `/cucm-uds/user/jdoe/devices?i=${i}` })!;
    t.equal(guard.check(a, 100), undefined, `parallel request ${i} with the known-good password goes on`);
    parallel.push(a);
  }
  const guess = classify(guard, { ...jabber, headers: basic('jdoe', 'guess') })!;
  t.equal(guard.check(guess, 100), undefined, 'a guess still has its places: known-good requests took none');
  guard.answered(guess, 401, 200);
  for (const a of parallel) guard.answered(a, 200, 200);

  const fresh = new CredentialGuard({ windowMs: 60_000, perClient: 30, perUser: 3 }, 1);
  const unknown: Array<Attempt> = [];
  for (let i = 0; i < 5; i++) {
    const a = classify(fresh, { ...jabber, target: `/cucm-uds/user/jdoe?i=${i}` })!;
    if (!fresh.check(a, 0)) unknown.push(a);
  }
  t.equal(unknown.length, 3, 'not yet known good: in flight up to the limit');
  fresh.answered(unknown[0]!, 200, 10);
  t.equal(fresh.check(classify(fresh, jabber)!, 20), undefined, 'known good once CUCM accepted it');

  const changed = new CredentialGuard({ windowMs: 60_000, perClient: 30, perUser: 2 }, 1);
  attempt(changed, jabber, 0, 200);
  t.equal(attempt(changed, jabber, 1, 401), 401, 'a known-good password CUCM now refuses counts');
  t.equal(attempt(changed, jabber, 2, 401), 401);
  t.equal(attempt(changed, jabber, 3, 200), 429, 'and is no longer let through past the limit');
});

t.test('settling: 5xx is not final, an unanswered request counts, an unsent one does not', async (t) => {
  const guard = new CredentialGuard({ windowMs: 60_000, perClient: 30, perUser: 1 }, 1);
  const send = (pw: string) => classify(guard, { target: '/cucm-uds/user/jdoe', from: '10.6.0.1', headers: basic('jdoe', pw) })!;
  const a = send('a');
  t.equal(guard.check(a, 0), undefined);
  guard.answered(a, 503, 10);
  t.match(guard.check(send('b'), 20), { status: 429 }, 'a busy answer keeps the attempt in flight');
  guard.answered(a, 200, 30);
  t.equal(guard.check(send('c'), 40), undefined, 'released by a success on the next node');

  const b = new CredentialGuard({ windowMs: 60_000, perClient: 30, perUser: 1 }, 1);
  const lost = classify(b, { target: '/cucm-uds/user/jdoe', headers: basic('jdoe', 'x') })!;
  b.check(lost, 0);
  b.ended(lost, 100);
  b.answered(lost, 200, 200);
  t.match(b.check(classify(b, { target: '/cucm-uds/user/jdoe', headers: basic('jdoe', 'y') })!, 300), { status: 429, retryAfterMs: 59_800 }, 'ended without an answer: counted');

  const c = new CredentialGuard({ windowMs: 60_000, perClient: 30, perUser: 1 }, 1);
  const queued = classify(c, { target: '/emapp/EMAppServlet?userid=jdoe&seq=1' })!;
  c.check(queued, 0);
  c.unsent(queued, 10);
  t.equal(c.check(classify(c, { target: '/emapp/EMAppServlet?userid=jdoe&seq=2' })!, 20), undefined, 'never sent: the place is back');
  const em = classify(c, { target: '/emapp/EMAppServlet?userid=jdoe&seq=3' })!;
  t.match(c.check(em, 30), { status: 429 }, 'an EM attempt in flight holds its place');
});

t.test('a slow EM burst: never more than the limit sent in any rolling window', async (t) => {
  // Each login takes 1.5 s at CUCM; the client sends the next as soon as the last is answered.
  const guard = new CredentialGuard({ windowMs: 60_000, perClient: 10, perUser: 10 }, 1);
  const sends: number[] = [];
  let now = 0;
  for (let i = 0; now < 300_000; i++) {
    const a = classify(guard, { target: `/emapp/EMAppServlet?device=S&userid=u${i}&seq=1`, from: '10.7.0.1' })!;
    if (guard.check(a, now)) {
      now += 250;
      continue;
    }
    sends.push(now);
    now += 1_500;
    guard.answered(a, 200, now);
    guard.ended(a, now);
  }
  sends.sort((x, y) => x - y);
  let max = 0;
  for (let i = 0, j = 0; i < sends.length; i++) {
    while (sends[i]! - sends[j]! >= 60_000) j++;
    max = Math.max(max, i - j + 1);
  }
  t.equal(max, 10, `${sends.length} sent in 5 minutes, at most 10 in any 60 s`);
});

t.test('form bodies the guard cannot read are refused on credential endpoints', async (t) => {
  const guard = new CredentialGuard(LIMITS, 1);
  const em = '/emapp/EMAppServlet';
  const unread = (headers: Record<string, string>, method = 'POST') => {
    const target = normaliseTarget(em);
    if (!target.ok) throw new Error();
    const req = { method, headers, socket: { remoteAddress: '10.8.0.1' } } as unknown as IncomingMessage;
    t.equal(guard.wantsBody(req, target.matchPath), headers['content-type']?.startsWith(FORM) === true && !headers['content-type'].includes('16'), `wantsBody ${JSON.stringify(headers)}`);
    const a = guard.attemptOf(req, target.matchPath, target.forwardPath, undefined);
    return a && guard.check(a, 0);
  };
  t.match(unread({ 'content-type': FORM, 'content-length': '20000' }), { scope: 'body', status: 413 }, 'a large form, unread');
  t.match(unread({ 'content-type': FORM, 'transfer-encoding': 'chunked' }), { scope: 'body', status: 411 }, 'a form of unknown length, unread');
  t.match(unread({ 'content-type': `${FORM}; charset=utf-16le`, 'content-length': '20' }), { scope: 'body', status: 415 }, 'UTF-16');
  t.match(unread({ 'content-type': 'multipart/form-data; boundary=b', 'content-length': '200' }), { scope: 'body', status: 415 }, 'multipart');
  t.equal(unread({ 'content-type': 'application/json', 'content-length': '2' }), undefined, 'a body Tomcat reads no parameters from');
  const wide = guard.attemptOf(request({ target: '/ucgate-test/x', body: 'userid=jdoe&seq=1' }), '/ucgate-test/x', '/ucgate-test/x', undefined);
  t.equal(wide, undefined, 'only on credential endpoints');
  const legacy = guard.attemptOf(request({ target: '/emapp/EMAppServlet?device=S', body: 'userid=jdoe&seq=1' }), '/emapp/emappservlet', '/emapp/EMAppServlet?device=S');
  t.equal(legacy, undefined, 'a caller that passes no body argument: the query alone counts, nothing is refused');
});

t.test('the OAuth token endpoint', async (t) => {
  const guard = new CredentialGuard({ windowMs: 60_000, perClient: 3, perUser: 3 }, 1);
  const token = (body: string, from = '10.9.0.1', headers: Record<string, string> = {}): Sent => ({ target: '/ssosp/oauth/token', body, from, headers });
  t.equal(classify(guard, token('grant_type=authorization_code&code=abc&client_id=jabber')), undefined, 'no secret to guess: no attempt');
  t.match(classify(guard, token('grant_type=refresh_token&refresh_token=x&client_id=c&client_secret=s')), { kind: 'oauth-token', users: [] });
  t.match(classify(guard, token('grant_type=password&username=JDoe&password=p&client_id=c')), { kind: 'oauth-token', users: ['jdoe'] });
  t.match(classify(guard, token('grant_type=refresh_token&refresh_token=x', '10.9.0.1', basic('c', 's'))), { kind: 'oauth-token' }, 'client Basic');

  // A wrong client secret (401, or 400 as RFC 6749 allows for body credentials) counts per client address.
  t.equal(attempt(guard, token('grant_type=refresh_token&refresh_token=x&client_id=c&client_secret=bad1'), 0, 401), 401);
  t.equal(attempt(guard, token('grant_type=refresh_token&refresh_token=x&client_id=c&client_secret=bad2'), 1, 400), 400);
  t.equal(attempt(guard, token('grant_type=refresh_token&refresh_token=x&client_id=c&client_secret=ok'), 2, 200), 200);
  t.equal(attempt(guard, token('grant_type=refresh_token&refresh_token=x&client_id=c&client_secret=bad3'), 3, 401), 401);
  t.equal(attempt(guard, token('grant_type=refresh_token&refresh_token=x&client_id=c&client_secret=ok'), 4, 200), 429, 'past the limit, even with the right secret');

  const jabbers = new CredentialGuard({ windowMs: 60_000, perClient: 3, perUser: 3 }, 1);
  const refresh = (i: number) => token(`grant_type=refresh_token&refresh_token=expired${i}&client_id=jabber&client_secret=public`, '10.9.1.1');
  t.equal(attempt(jabbers, refresh(0), 0, 200), 200);
  const outcomes = [];
  for (let i = 1; i <= 10; i++) outcomes.push(attempt(jabbers, refresh(i), i, 400));
  t.same(outcomes, Array(10).fill(400), 'expired refresh tokens with known-good client credentials are not guesses');
  const concurrent: Attempt[] = [];
  for (let i = 0; i < 20; i++) {
    const a = classify(jabbers, refresh(100 + i))!;
    if (!jabbers.check(a, 20)) concurrent.push(a);
  }
  t.equal(concurrent.length, 20, 'nor throttled in flight: one address (an Expressway) may carry many');
});

t.test('clients and workers', async (t) => {
  t.equal(clientKeyOf('192.0.2.1'), '192.0.2.1');
  t.equal(clientKeyOf('::ffff:192.0.2.1'), '192.0.2.1');
  t.equal(clientKeyOf('2001:db8:0:1:aaaa::1'), '2001:db8:0:1::/64');
  t.equal(clientKeyOf('2001:0db8:0000:0001:ffff:ffff:ffff:fffe'), '2001:db8:0:1::/64');
  t.equal(clientKeyOf('2001:db8::1'), '2001:db8:0:0::/64');
  t.equal(clientKeyOf('fe80::1%eth0'), 'fe80:0:0:0::/64');

  const guard = new CredentialGuard({ windowMs: 60_000, perClient: 10, perUser: 100 }, 1);
  const outcomes: Array<number | 'none'> = [];
  for (let i = 0; i < 12; i++) outcomes.push(attempt(guard, { target: `/emapp/EMAppServlet?userid=u${i}&seq=1`, from: `2001:db8:0:1::${i + 1}` }, i));
  t.same(outcomes, [...Array(10).fill(200), 429, 429], 'addresses of one /64 are one client');

  const share = new CredentialGuard({ windowMs: 60_000, perClient: 10, perUser: 10 }, 4);
  const each: Array<number | 'none'> = [];
  for (let i = 0; i < 4; i++) each.push(attempt(share, { target: `/emapp/EMAppServlet?userid=jdoe&seq=${i}`, from: `10.10.0.${i}` }, i));
  t.same(each, [200, 200, 429, 429], 'four workers: 2 each (rounded down), 8 ≤ 10 together');
});
