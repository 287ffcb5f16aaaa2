/**
 * Abuse limits on the endpoints that take credentials: Extension Mobility
 * logins (`/emapp/` with `userid=`; the PIN travels as `seq=`) count every
 * attempt, since CUCM answers a wrong PIN with 200; UDS Basic auth counts
 * failures (401). Past the limit, per client address or per user id, the
 * gateway answers 429 itself and CUCM (and the directory behind it, whose
 * account lockout an attacker would trigger) never sees the attempt.
 */
import type { IncomingMessage } from 'node:http';
import type { LoginAttemptLimits } from '../config/types.js';
import { AttemptLimiter } from './attempt-limiter.js';

export type GuardKind = 'em-login' | 'uds-auth';

export interface GuardVerdict {
  readonly kind: GuardKind;
  readonly scope: 'client' | 'user';
}

export interface Attempt {
  readonly kind: GuardKind;
  readonly client: string;
  readonly user: string | undefined;
}

function emUser(forwardPath: string): string | undefined {
  const q = forwardPath.indexOf('?');
  if (q < 0) return undefined;
  for (const part of forwardPath.slice(q + 1).split('&')) {
    if (part.slice(0, 7).toLowerCase() !== 'userid=') continue;
    try {
      return decodeURIComponent(part.slice(7).replace(/\+/g, ' ')).toLowerCase() || undefined;
    } catch {
      return part.slice(7).toLowerCase();
    }
  }
  return undefined;
}

function basicUser(authorization: string | undefined): string | undefined {
  if (!authorization || authorization.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return (colon < 0 ? decoded : decoded.slice(0, colon)).toLowerCase() || undefined;
}

export class CredentialGuard {
  readonly #byClient: AttemptLimiter;
  readonly #byUser: AttemptLimiter;

  constructor(limits: LoginAttemptLimits, workers: number) {
    const share = Math.max(1, workers);
    this.#byClient = new AttemptLimiter(Math.max(1, Math.ceil(limits.perClient / share)), limits.windowMs);
    this.#byUser = new AttemptLimiter(Math.max(1, Math.ceil(limits.perUser / share)), limits.windowMs);
  }

  /** Classifies a request that carries credentials; undefined for everything else (the common, cheap case). */
  attemptOf(req: IncomingMessage, matchPath: string, forwardPath: string): Attempt | undefined {
    const client = req.socket.remoteAddress ?? '';
    if (matchPath.startsWith('/emapp/')) {
      const user = emUser(forwardPath);
      return user === undefined ? undefined : { kind: 'em-login', client, user };
    }
    if (matchPath.startsWith('/cucm-uds/') && req.headers.authorization) {
      return { kind: 'uds-auth', client, user: basicUser(req.headers.authorization) };
    }
    return undefined;
  }

  /** Before proxying: refuses when the client or the user is over the limit; counts EM attempts. */
  check(attempt: Attempt, now: number): GuardVerdict | undefined {
    const clientKey = `${attempt.kind}|${attempt.client}`;
    const userKey = attempt.user === undefined ? undefined : `${attempt.kind}|${attempt.user}`;
    if (this.#byClient.exceeded(clientKey, now)) return { kind: attempt.kind, scope: 'client' };
    if (userKey && this.#byUser.exceeded(userKey, now)) return { kind: attempt.kind, scope: 'user' };
    if (attempt.kind === 'em-login') this.#count(clientKey, userKey, now);
    return undefined;
  }

  /** After the node answered: a refused Basic login counts. */
  answered(attempt: Attempt, status: number, now: number): void {
    if (attempt.kind === 'uds-auth' && status === 401) {
      this.#count(`${attempt.kind}|${attempt.client}`, attempt.user === undefined ? undefined : `${attempt.kind}|${attempt.user}`, now);
    }
  }

  #count(clientKey: string, userKey: string | undefined, now: number): void {
    this.#byClient.hit(clientKey, now);
    if (userKey) this.#byUser.hit(userKey, now);
  }
}
