/**
 * Dashboard sessions: the cookie carries an opaque random id (256 bits),
 * never the token. The server keeps only the id's SHA-256, so neither a
 * heap dump nor a timing side channel on the map lookup yields a live
 * cookie. Sessions expire a fixed time after login (no sliding renewal) and
 * live in memory: a restart logs everyone out, which is the safe default.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';

/** What the server keeps per signed-in browser. */
export interface Session {
  readonly expiresAt: number;
  /** Sent by the dashboard's script as `X-CSRF-Token` when the browser sends no Origin or Referer. */
  readonly csrfToken: string;
}

export interface SessionStoreOptions {
  readonly clock: Clock;
  /** Default 12 h. */
  readonly ttlMs?: number;
  /** Sessions kept at most; the oldest is dropped beyond it. Default 1 000. */
  readonly maxSessions?: number;
}

const hashId = (id: string): string => createHash('sha256').update(id).digest('base64url');

/** In-memory dashboard sessions keyed by the SHA-256 of their cookie id. */
export class SessionStore {
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #sessions = new Map<string, Session>();

  constructor(options: SessionStoreOptions) {
    this.#clock = options.clock;
    this.#ttlMs = options.ttlMs ?? 12 * 3_600_000;
    this.#max = options.maxSessions ?? 1_000;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Starts a session; returns the id to put in the cookie. */
  create(): { id: string; session: Session } {
    const now = this.#clock.now();
    this.#prune(now);
    while (this.#sessions.size >= this.#max) this.#sessions.delete(this.#sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const session = { expiresAt: now + this.#ttlMs, csrfToken: randomBytes(24).toString('base64url') };
    this.#sessions.set(hashId(id), session);
    return { id, session };
  }

  /** The live session for a cookie value, or undefined (unknown, malformed or expired). */
  get(id: string | undefined): Session | undefined {
    if (!id || !/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    const key = hashId(id);
    const session = this.#sessions.get(key);
    if (!session) return undefined;
    if (session.expiresAt <= this.#clock.now()) {
      this.#sessions.delete(key);
      return undefined;
    }
    return session;
  }

  destroy(id: string | undefined): void {
    if (id) this.#sessions.delete(hashId(id));
  }

  /** Ends every session (e.g. the admin token changed). */
  clear(): void {
    this.#sessions.clear();
  }

  #prune(now: number): void {
    for (const [key, session] of this.#sessions) if (session.expiresAt <= now) this.#sessions.delete(key);
  }
}

/** Constant-time comparison of a presented CSRF token with the session's. */
export function csrfTokenMatches(session: Session, presented: string | undefined): boolean {
  if (!presented) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(session.csrfToken).digest();
  return timingSafeEqual(a, b);
}
