/**
 * Who is calling the admin listener: a script with `Authorization: Bearer
 * <token>`, a browser with a session cookie from the login form, or nobody.
 * Tokens are compared in constant time; wrong ones are logged (never the
 * token itself) and throttled per client address. Cookie-authenticated
 * state changes must prove they come from the dashboard's own origin,
 * because a browser attaches cookies on its own (CSRF); bearer calls cannot
 * be forged that way and need no such check.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { LoginThrottle } from './login-throttle.js';
import { SessionStore, csrfTokenMatches, type Session } from './session-store.js';

/** The outcome of looking at a request's credentials. */
export type AuthResult =
  | { readonly kind: 'bearer' }
  | { readonly kind: 'session'; readonly id: string; readonly session: Session }
  /** No credentials presented (or an unknown/expired session cookie). */
  | { readonly kind: 'anonymous' }
  /** A wrong token: counted against the client. */
  | { readonly kind: 'refused' }
  /** Too many wrong tokens lately: credentials were not even checked. */
  | { readonly kind: 'throttled'; readonly retryAfterSeconds: number };

export interface AdminAuthOptions {
  /** The admin token; undefined or empty disables everything behind authentication. */
  readonly token: string | undefined;
  /** Whether the listener speaks HTTPS: decides the cookie's Secure flag and the expected Origin scheme. */
  readonly tls: boolean;
  readonly clock: Clock;
  readonly log: Logger;
  readonly throttle?: LoginThrottle;
  readonly sessions?: SessionStore;
}

/** Methods that change nothing, so need no CSRF proof. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

// Hashing first gives equal-length inputs, so timingSafeEqual never leaks the token's length.
const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** The path without its query, for logs: a query string could carry anything. */
export const pathOf = (request: FastifyRequest): string => request.url.split('?')[0]!;

/** Token check, session cookies, throttle and CSRF rule for one admin listener. */
export class AdminAuth {
  readonly #options: AdminAuthOptions;
  readonly throttle: LoginThrottle;
  readonly sessions: SessionStore;
  /** `__Host-` pins the cookie to this origin's host and path `/`, but browsers honour it only with Secure. */
  readonly cookieName: string;
  #tokenDigest: Buffer | undefined;

  constructor(options: AdminAuthOptions) {
    this.#options = options;
    this.throttle = options.throttle ?? new LoginThrottle({ clock: options.clock });
    this.sessions = options.sessions ?? new SessionStore({ clock: options.clock });
    this.cookieName = options.tls ? '__Host-ucgate_session' : 'ucgate_session';
    this.setToken(options.token);
  }

  /** Whether a token is configured at all. */
  get enabled(): boolean {
    return this.#tokenDigest !== undefined;
  }

  /** Replaces the token (e.g. after a reload); sessions made with the old one end. */
  setToken(token: string | undefined): void {
    const trimmed = token?.trim();
    const next = trimmed ? digest(trimmed) : undefined;
    if (this.#tokenDigest && (!next || !timingSafeEqual(next, this.#tokenDigest))) this.sessions.clear();
    this.#tokenDigest = next;
  }

  /** Checks the request's bearer token or session cookie. Counts and logs a wrong token. */
  authenticate(request: FastifyRequest): AuthResult {
    const bearer = /^Bearer\s+(\S.*)$/i.exec(request.headers.authorization ?? '')?.[1];
    if (bearer !== undefined) return this.#checkToken(request, bearer, 'bearer') ?? { kind: 'bearer' };
    const id = this.sessionId(request);
    const session = this.sessions.get(id);
    return session && id ? { kind: 'session', id, session } : { kind: 'anonymous' };
  }

  /** The login form's check: same throttle and logging as a bearer token. */
  login(request: FastifyRequest, token: string): AuthResult {
    const refusal = this.#checkToken(request, token, 'login');
    if (refusal) return refusal;
    const { id, session } = this.sessions.create();
    this.#options.log.info({ event: 'admin_login', client: request.ip }, 'admin dashboard login');
    return { kind: 'session', id, session };
  }

  /** Undefined when the token is right; otherwise why it was refused. */
  #checkToken(request: FastifyRequest, presented: string, via: 'bearer' | 'login'): AuthResult | undefined {
    // A throttled client's attempts are neither checked nor logged one by one: a flood must not become a log flood.
    const waitSeconds = this.throttle.retryAfterSeconds(request.ip);
    if (waitSeconds > 0) return { kind: 'throttled', retryAfterSeconds: waitSeconds };
    if (this.#tokenDigest !== undefined && timingSafeEqual(digest(presented.trim()), this.#tokenDigest)) {
      this.throttle.succeed(request.ip);
      return undefined;
    }
    const blockedFor = this.throttle.fail(request.ip);
    const log = this.#options.log;
    log.warn({ event: 'admin_auth_failed', client: request.ip, path: pathOf(request), via }, 'admin request with a wrong token');
    if (blockedFor > 0) {
      log.warn({ event: 'admin_auth_throttled', client: request.ip, retryAfterSeconds: blockedFor }, 'too many wrong admin tokens: client throttled');
    }
    return { kind: 'refused' };
  }

  /** The session cookie's value, if the request carries one. */
  sessionId(request: FastifyRequest): string | undefined {
    const header = request.headers.cookie;
    if (!header) return undefined;
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === this.cookieName) return part.slice(eq + 1).trim();
    }
    return undefined;
  }

  /** The Set-Cookie value that starts a browser session. */
  sessionCookie(id: string): string {
    const maxAge = Math.floor(this.sessions.ttlMs / 1000);
    return `${this.cookieName}=${id}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${this.#options.tls ? '; Secure' : ''}`;
  }

  /** The Set-Cookie value that ends it. */
  clearedCookie(): string {
    return `${this.cookieName}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${this.#options.tls ? '; Secure' : ''}`;
  }

  /**
   * CSRF defence for cookie-authenticated state changes: the Origin (or,
   * without one, the Referer) must be this listener's own origin; a request
   * with neither must carry the session's CSRF token in `X-CSRF-Token`.
   */
  sameOrigin(request: FastifyRequest, session: Session): boolean {
    const host = request.headers.host?.toLowerCase();
    const source = request.headers.origin ?? request.headers.referer;
    if (source === undefined) {
      const header = request.headers['x-csrf-token'];
      return csrfTokenMatches(session, Array.isArray(header) ? header[0] : header);
    }
    try {
      const url = new URL(source);
      return host !== undefined && url.host.toLowerCase() === host && url.protocol === (this.#options.tls ? 'https:' : 'http:');
    } catch {
      // `Origin: null` (sandboxed frames, some redirects) and garbage are not our origin.
      return false;
    }
  }
}
