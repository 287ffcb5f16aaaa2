/**
 * Session affinity without cookies of our own: phones keep at most four
 * cookies of 255 bytes per host, so rather than adding one we remember which
 * node issued each upstream session id (JSESSIONID), in bounded memory. The
 * table is filled from Set-Cookie answers and shared between workers by the
 * primary. Session ids are credentials: never log them.
 */

const DEFAULT_MAX_ENTRIES = 100_000;
const DEFAULT_IDLE_MS = 30 * 60_000;

interface Entry {
  node: string;
  seenAt: number;
}

export class StickyTable {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;
  readonly #idleMs: number;

  constructor(max = DEFAULT_MAX_ENTRIES, idleMs = DEFAULT_IDLE_MS) {
    this.#max = max;
    this.#idleMs = idleMs;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The node that issued this session, refreshing its place as most recently used. */
  get(cluster: string, sessionId: string, now: number): string | undefined {
    const id = `${cluster}\u0000${sessionId}`;
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    if (now - entry.seenAt > this.#idleMs) {
      this.#entries.delete(id);
      return undefined;
    }
    entry.seenAt = now;
    // Map keeps insertion order: re-inserting makes this the newest, so eviction takes the least recently used.
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    return entry.node;
  }

  set(cluster: string, sessionId: string, node: string, now: number): void {
    const id = `${cluster}\u0000${sessionId}`;
    this.#entries.delete(id);
    this.#entries.set(id, { node, seenAt: now });
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }
}

/** The session id a request carries, from its cookie or a `;jsessionid=` path parameter (Tomcat URL rewriting). */
export function requestSessionId(cookieHeader: string | undefined, path: string, cookieName: string): string | undefined {
  if (cookieHeader) {
    const prefix = `${cookieName}=`;
    for (const part of cookieHeader.split(';')) {
      const trimmed = part.trim();
      if (trimmed.startsWith(prefix)) return trimmed.slice(prefix.length) || undefined;
    }
  }
  const param = `;${cookieName.toLowerCase()}=`;
  const at = path.toLowerCase().indexOf(param);
  if (at < 0) return undefined;
  const rest = path.slice(at + param.length);
  const end = rest.search(/[;/?#]/);
  return (end < 0 ? rest : rest.slice(0, end)) || undefined;
}

/** The session id a response starts, from its Set-Cookie headers. */
export function responseSessionId(setCookie: string[] | undefined, cookieName: string): string | undefined {
  if (!setCookie) return undefined;
  const prefix = `${cookieName}=`;
  for (const cookie of setCookie) {
    if (!cookie.startsWith(prefix)) continue;
    const end = cookie.indexOf(';');
    const value = cookie.slice(prefix.length, end < 0 ? undefined : end);
    if (value) return value;
  }
  return undefined;
}
