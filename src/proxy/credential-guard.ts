/**
 * Abuse limits on the requests that carry credentials, counted where CUCM
 * reads them, per client address and per user id (`limits.loginAttempts`).
 * Past a limit the gateway answers itself (429 with Retry-After) and CUCM,
 * and the directory behind it whose account lockout an attacker would
 * trigger, never sees the attempt; a right credential is refused too until
 * the window passes, which is what stops guessing.
 *
 * Where credentials are read, and how user ids and clients are keyed:
 * credential-endpoints.ts (parameters as Tomcat's `getParameter` reads
 * them: tomcat-params.ts). Wider than CUCM, never narrower.
 *
 * An attempt counts when it is sent, not when CUCM answers: `check` takes a
 * place under the client and under each user id (attempt-limiter.ts) before
 * the request goes anywhere, so no burst of concurrent attempts gets past the
 * limit. The place is settled by `answered` (counted, or given back for a
 * Basic login that succeeded) or `ended` (a request that ended without an
 * answer counts). A Basic credential (or OAuth client credential) that CUCM
 * accepted within the last minutes is known good: it still obeys a limit
 * that is reached, but takes no place while in flight, so a client's own
 * parallel requests are not throttled. Known-good credentials are kept only
 * as HMACs under a key made at start.
 *
 * A credential endpoint's form body the gateway has not read (too large, no
 * length, multipart, a charset other than UTF-8 or ISO-8859-1) could hide
 * any number of guesses: refused (413, 411, 415).
 */
import type { IncomingMessage } from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import type { LoginAttemptLimits } from '../config/types.js';
import { AttemptLimiter, Reservation } from './attempt-limiter.js';
import { formBodyKind, parseParams, queryOf, type RequestParam } from './tomcat-params.js';
import { addUserKeys, basicCredentials, clientKeyOf, paramEndpoint, type GuardKind, type SecretClass } from './credential-endpoints.js';

export { clientKeyOf, type GuardKind } from './credential-endpoints.js';

export interface GuardVerdict {
  readonly kind: GuardKind;
  /** `body`: the credentials may be in a form body the gateway did not read or cannot read. */
  readonly scope: 'client' | 'user' | 'body';
  /** What to answer: 429 past a limit; 411, 413 or 415 for a body that cannot be checked. */
  readonly status: 411 | 413 | 415 | 429;
  /** For 429: how long until a place frees for certain (Retry-After, rounded up to seconds); else 0. */
  readonly retryAfterMs: number;
}

/**
 * A request that carries credentials. Once `check` admits it, it holds its
 * places until `answered` (with a final status) or `ended` settles it.
 */
export interface Attempt {
  readonly kind: GuardKind;
  /** The client address as counted (an IPv6 address's /64). */
  readonly client: string;
  /** Every user id the request names, as counted (normalised, each spelling CUCM might read). */
  readonly users: readonly string[];
  /** The first of `users`. */
  readonly user: string | undefined;
}


/** What the guard keeps about an attempt: how it counts, and its places once admitted. */
interface AttemptState {
  readonly secret: SecretClass;
  /** Failure-counted kinds: whether a final status is a failed guess, given whether the credentials were known good. */
  readonly fails: ((status: number, knownGood: boolean) => boolean) | undefined;
  /** HMACs of the credentials sent, for the known-good table; empty when there is nothing to remember. */
  readonly fingerprints: readonly string[];
  /** A body that cannot be checked: refused whatever the counts. */
  readonly bodyStatus: 411 | 413 | 415 | undefined;
  clientKey?: string;
  userKeys?: readonly string[];
  reservation?: Reservation | undefined;
  knownGood?: boolean;
  settled?: boolean;
}

const NO_USERS: readonly string[] = Object.freeze([]);
const KNOWN_GOOD_TTL_MS = 15 * 60_000;
const KNOWN_GOOD_MAX = 20_000;

export interface CredentialGuardOptions {
  /** How long a credential CUCM accepted stays known good. Default 15 minutes. */
  readonly knownGoodTtlMs?: number;
}

export class CredentialGuard {
  readonly #byClient: AttemptLimiter;
  readonly #byUser: AttemptLimiter;
  readonly #states = new WeakMap<Attempt, AttemptState>();
  readonly #hmacKey = randomBytes(32);
  /** Fingerprint → expiry, oldest first. */
  readonly #knownGood = new Map<string, number>();
  readonly #knownGoodTtlMs: number;

  /**
   * Each of `workers` workers counts its own share, rounded down (at least
   * 1), so all together stay within the limit for a client whose
   * connections land on every worker.
   */
  constructor(limits: LoginAttemptLimits, workers: number, options: CredentialGuardOptions = {}) {
    const share = Math.max(1, workers);
    this.#byClient = new AttemptLimiter({ limit: Math.max(1, Math.floor(limits.perClient / share)), windowMs: limits.windowMs });
    this.#byUser = new AttemptLimiter({ limit: Math.max(1, Math.floor(limits.perUser / share)), windowMs: limits.windowMs });
    this.#knownGoodTtlMs = options.knownGoodTtlMs ?? KNOWN_GOOD_TTL_MS;
  }

  /**
   * Whether the request may carry credentials in a form body: if so, the
   * caller reads the body whole (limits.http.bufferBodyBytes, body-reader.ts)
   * before choosing a node, and passes it to `attemptOf`. Cheap: a path test
   * and two headers.
   */
  wantsBody(req: IncomingMessage, matchPath: string): boolean {
    return paramEndpoint(matchPath) !== undefined && formBodyKind(req) === 'form';
  }

  /**
   * Classifies a request: undefined for one that carries no credentials (the
   * common, cheap case). `body`: the request's whole body, or undefined when
   * it was not read; an unread form body on a credential endpoint makes an
   * attempt that `check` refuses (413, or 411 without a length).
   *
   * Without the `body` argument (a caller that reads no bodies yet), form
   * bodies are not looked at and never refused: only the query string and
   * headers count. Transitional; pass the body.
   */
  attemptOf(req: IncomingMessage, matchPath: string, forwardPath: string): Attempt | undefined;
  attemptOf(req: IncomingMessage, matchPath: string, forwardPath: string, body: Buffer | undefined): Attempt | undefined;
  attemptOf(req: IncomingMessage, matchPath: string, forwardPath: string, ...read: [] | [Buffer | undefined]): Attempt | undefined {
    const endpoint = paramEndpoint(matchPath);
    if (endpoint === undefined) return this.#basicAttempt(req, matchPath);
    const body = read[0];
    const bodyKind = read.length === 0 ? 'none' : formBodyKind(req);
    const kind: GuardKind = endpoint === 'oauth-token' ? 'oauth-token' : endpoint.kind;
    const secret: SecretClass = endpoint === 'oauth-token' ? 'oauth' : endpoint.secret;
    let bodyStatus: 411 | 413 | 415 | undefined;
    if (bodyKind === 'multipart' || bodyKind === 'charset') bodyStatus = 415;
    else if (bodyKind === 'form' && body === undefined) bodyStatus = req.headers['content-length'] === undefined ? 411 : 413;
    if (bodyStatus !== undefined) return this.#attempt(req, kind, { secret, fails: undefined, fingerprints: [], bodyStatus }, NO_USERS);

    const params = parseParams(queryOf(forwardPath));
    if (bodyKind === 'form' && body !== undefined) parseParams(body.toString('latin1'), params);
    if (endpoint === 'oauth-token') return this.#tokenAttempt(req, params);
    let named = false;
    const users = new Set<string>();
    for (const { name, value } of params) {
      if (endpoint.users.includes(name)) {
        named = true;
        addUserKeys(value, users);
      } else if (endpoint.secrets.includes(name)) {
        named = true;
      }
    }
    if (!named) return this.#basicAttempt(req, matchPath);
    return this.#attempt(req, kind, { secret, fails: undefined, fingerprints: [], bodyStatus: undefined }, [...users]);
  }

  #attempt(req: IncomingMessage, kind: GuardKind, state: AttemptState, users: readonly string[]): Attempt {
    const attempt: Attempt = { kind, client: clientKeyOf(req.socket.remoteAddress), users, user: users[0] };
    this.#states.set(attempt, state);
    return attempt;
  }

  #fingerprint(secret: SecretClass, ...parts: readonly Buffer[]): string {
    const hmac = createHmac('sha256', this.#hmacKey).update(secret);
    for (const part of parts) hmac.update(`\0${part.length}\0`).update(part);
    return hmac.digest('base64');
  }

  /** HTTP Basic on any path: a password guess unless CUCM accepts it (401 counts). */
  #basicAttempt(req: IncomingMessage, matchPath: string): Attempt | undefined {
    const basic = basicCredentials(req.headers.authorization);
    if (!basic) return undefined;
    const users = new Set<string>();
    addUserKeys(basic.user, users);
    return this.#attempt(
      req,
      matchPath.startsWith('/cucm-uds/') ? 'uds-auth' : 'basic-auth',
      { secret: 'password', fails: (status) => status === 401, fingerprints: [this.#fingerprint('password', basic.raw)], bodyStatus: undefined },
      [...users],
    );
  }

  /** The token endpoint: an attempt only when it carries a guessable secret (a client secret, a password grant). */
  #tokenAttempt(req: IncomingMessage, params: readonly RequestParam[]): Attempt | undefined {
    const all = (name: string) => params.filter((p) => p.name === name).map((p) => p.value);
    const basic = basicCredentials(req.headers.authorization);
    const clientIds = all('client_id');
    const clientSecrets = all('client_secret');
    const grantTypes = all('grant_type');
    const usernames = all('username');
    const passwords = all('password');
    const passwordGrant = passwords.length > 0 || usernames.length > 0 || grantTypes.some((g) => g.toString('latin1').trim().toLowerCase() === 'password');
    if (!basic && clientSecrets.length === 0 && !passwordGrant) return undefined;
    const single = (values: readonly Buffer[]) => values.length === 1;
    // Known good only when each secret was sent once, as Tomcat reads it: anything odd is never trusted.
    const fingerprints: string[] = [];
    let trustable = true;
    if (basic) fingerprints.push(this.#fingerprint('oauth', basic.raw));
    if (clientSecrets.length > 0) {
      if (single(clientIds) && single(clientSecrets)) fingerprints.push(this.#fingerprint('oauth', clientIds[0]!, clientSecrets[0]!));
      else trustable = false;
    }
    if (passwordGrant) {
      if (single(usernames) && single(passwords)) fingerprints.push(this.#fingerprint('password', usernames[0]!, passwords[0]!));
      else trustable = false;
    }
    const users = new Set<string>();
    for (const name of usernames) addUserKeys(name, users);
    return this.#attempt(
      req,
      'oauth-token',
      {
        secret: 'oauth',
        // 401: client authentication failed. 400 is a wrong password in a password grant, or (RFC 6749 §5.2 allows
        // it for credentials in the body) a wrong client secret, unless the client's credentials are known good.
        fails: (status, knownGood) => status === 401 || (status === 400 && (passwordGrant || !knownGood)),
        fingerprints: trustable ? fingerprints : [],
        bodyStatus: undefined,
      },
      [...users],
    );
  }

  #isKnownGood(fingerprints: readonly string[], now: number): boolean {
    if (fingerprints.length === 0) return false;
    for (const fingerprint of fingerprints) {
      const expires = this.#knownGood.get(fingerprint);
      if (expires === undefined || expires <= now) return false;
    }
    return true;
  }

  #rememberGood(fingerprints: readonly string[], now: number): void {
    for (const fingerprint of fingerprints) {
      this.#knownGood.delete(fingerprint);
      this.#knownGood.set(fingerprint, now + this.#knownGoodTtlMs);
    }
    while (this.#knownGood.size > KNOWN_GOOD_MAX) this.#knownGood.delete(this.#knownGood.keys().next().value!);
  }

  /**
   * Before the request goes anywhere (before a route queue, a body read or a
   * node): refuses it when the client or a user id has no place left (or its
   * body cannot be checked); otherwise takes a place under each, held by
   * `attempt` until `answered` or `ended` settles it. Checking an attempt
   * again changes nothing.
   */
  check(attempt: Attempt, now: number): GuardVerdict | undefined {
    const state = this.#states.get(attempt);
    if (!state) return undefined;
    if (state.bodyStatus !== undefined) return { kind: attempt.kind, scope: 'body', status: state.bodyStatus, retryAfterMs: 0 };
    if (state.clientKey !== undefined) return undefined;
    const clientKey = `${state.secret}|${attempt.client}`;
    // The user ids of every class share one budget per secret: a password guessed through UDS, authenticate.jsp or
    // the OAuth sign-in is the same password. The token endpoint's user ids are passwords too.
    const userSecret: SecretClass = state.secret === 'oauth' ? 'password' : state.secret;
    const userKeys = attempt.users.map((user) => `${userSecret}|${user}`);
    if (this.#byClient.free(clientKey, now) === 0) {
      return { kind: attempt.kind, scope: 'client', status: 429, retryAfterMs: this.#byClient.retryAfterMs(clientKey, now) };
    }
    let blocked: string | undefined;
    for (const key of userKeys) if (this.#byUser.free(key, now) === 0) blocked = key;
    if (blocked !== undefined) {
      let retryAfterMs = 0;
      for (const key of userKeys) retryAfterMs = Math.max(retryAfterMs, this.#byUser.retryAfterMs(key, now));
      return { kind: attempt.kind, scope: 'user', status: 429, retryAfterMs };
    }
    state.clientKey = clientKey;
    state.userKeys = userKeys;
    state.knownGood = this.#isKnownGood(state.fingerprints, now);
    if (!state.knownGood) {
      const reservation = new Reservation(now);
      state.reservation = reservation;
      this.#byClient.reserve(clientKey, reservation, now);
      for (const key of userKeys) this.#byUser.reserve(key, reservation, now);
    }
    return undefined;
  }

  /**
   * A node answered the attempt with `status`. A 5xx is not final (a busy
   * node did not check it, and the request may go on to another): the
   * attempt stays in flight. The first final answer settles it: counted, or
   * for a Basic login (or token request) that succeeded, given back. Later
   * calls change nothing.
   */
  answered(attempt: Attempt, status: number, now: number): void {
    const state = this.#states.get(attempt);
    if (!state || state.clientKey === undefined || state.settled || status >= 500) return;
    const failed = state.fails === undefined || state.fails(status, state.knownGood === true);
    this.#settle(state, failed, now);
    if (state.fails === undefined || state.fingerprints.length === 0) return;
    if (failed) for (const fingerprint of state.fingerprints) this.#knownGood.delete(fingerprint);
    else if (status >= 200 && status < 300) this.#rememberGood(state.fingerprints, now);
  }

  /** The request is over (its response closed, answered or not): an attempt still unsettled counts. */
  ended(attempt: Attempt, now: number): void {
    const state = this.#states.get(attempt);
    if (state && state.clientKey !== undefined && !state.settled) this.#settle(state, true, now);
  }

  /** The request is over and no try of it reached a node (a queue refused it, its body broke a limit): the places are given back. */
  unsent(attempt: Attempt, now: number): void {
    const state = this.#states.get(attempt);
    if (state && state.clientKey !== undefined && !state.settled) this.#settle(state, false, now);
  }

  #settle(state: AttemptState, counted: boolean, now: number): void {
    state.settled = true;
    const clientKey = state.clientKey!;
    const userKeys = state.userKeys!;
    const reservation = state.reservation;
    if (reservation) {
      this.#byClient.settle(clientKey, reservation, counted, now);
      for (const key of userKeys) this.#byUser.settle(key, reservation, counted, now);
    } else if (counted) {
      this.#byClient.hit(clientKey, now);
      for (const key of userKeys) this.#byUser.hit(key, now);
    }
  }
}
