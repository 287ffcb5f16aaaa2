/**
 * Response headers that can send a client to a node: redirects (`Location`,
 * `Content-Location`, `Refresh: N; url=...`) and cookies scoped to a node's
 * name (`Set-Cookie: ...; Domain=node`). And cookies a client on a plain-HTTP
 * listener could never send back (`Secure`).
 */
import type { RewriteTarget, TargetContext } from './target.js';

/** Headers whose whole value is text that may carry a URL naming a node. */
const URL_HEADERS: ReadonlySet<string> = new Set(['location', 'content-location', 'refresh']);
const DOMAIN_ATTRIBUTE = /;[ \t]*domain[ \t]*=[ \t]*([^;]*)/giy;
const MENTIONS_DOMAIN = /domain/i;
/**
 * RFC 6265 §5.2: an attribute's name is what precedes its first `=`, with
 * spaces and tabs around it dropped, compared case-insensitively; a `Secure`
 * attribute counts whatever value it carries (`Secure=`, `Secure=false`).
 */
const SECURE_ATTRIBUTE = /;[ \t]*secure[ \t]*(?:=[^;]*)?(?=;|$)/iy;
const MENTIONS_SECURE = /secure/i;

type HeaderKind = 'url' | 'cookie';

/** See `RewriteTarget.rewriteHeader`. */
export function rewriteHeaderValue<V extends string | readonly string[]>(
  target: RewriteTarget,
  ctx: TargetContext,
  name: string,
  value: V,
): V {
  const lower = name.toLowerCase();
  const kind: HeaderKind | undefined = URL_HEADERS.has(lower) ? 'url' : lower === 'set-cookie' ? 'cookie' : undefined;
  if (kind === undefined) return value;
  if (typeof value === 'string') return rewriteOne(kind, value, target, ctx) as V;
  const list = value as readonly string[];
  let out: string[] | undefined;
  for (let i = 0; i < list.length; i++) {
    const rewritten = rewriteOne(kind, list[i]!, target, ctx);
    if (rewritten !== list[i]) (out ??= list.slice())[i] = rewritten;
  }
  return (out ?? value) as V;
}

function rewriteOne(kind: HeaderKind, value: string, target: RewriteTarget, ctx: TargetContext): string {
  if (kind === 'url') return target.rewriteText(value);
  const cookie = dropNodeDomain(value, ctx);
  return target.scheme === 'http' ? dropSecure(cookie) : cookie;
}

/**
 * Removes a `Domain=` attribute that names a node. Dropped rather than set
 * to the gateway's name: a host-only cookie is what the node meant (its own
 * host), it stays off sibling names such as another cluster's public name
 * under the same parent domain, and it is shorter (phones keep only 255
 * bytes per cookie). A Domain naming a parent domain is not a node name and
 * stays.
 */
export function dropNodeDomain(cookie: string, ctx: TargetContext): string {
  if (!MENTIONS_DOMAIN.test(cookie)) return cookie;
  let out = '';
  let prev = 0;
  for (let i = cookie.indexOf(';'); i >= 0; i = cookie.indexOf(';', i + 1)) {
    DOMAIN_ATTRIBUTE.lastIndex = i;
    const m = DOMAIN_ATTRIBUTE.exec(cookie);
    if (m === null) continue;
    const domain = m[1]!.trim().replace(/^\./, '').toLowerCase();
    if (!ctx.isNodeName(domain)) continue;
    out += cookie.slice(prev, i);
    prev = i + m[0].length;
  }
  return prev === 0 ? cookie : out + cookie.slice(prev);
}

/**
 * Removes every `Secure` attribute, for a client on a plain-HTTP listener.
 * CUCM marks its session cookie `JSESSIONID=...; Path=/ccmcip; Secure;
 * HttpOnly` because it served it over TLS; the gateway's leg to the node is
 * TLS, but a phone that came in over `listen.http` holds the cookie for an
 * http URL and never sends a Secure cookie back, so every directory page
 * would start a new session. The cookie's name=value pair (before the first
 * `;`) is never touched, even when the cookie is called `Secure`. Browsers
 * refuse a `SameSite=None` cookie without Secure, but over plain HTTP they
 * refuse to store a Secure one as well: nothing is lost for them.
 */
export function dropSecure(cookie: string): string {
  if (!MENTIONS_SECURE.test(cookie)) return cookie;
  let out = '';
  let prev = 0;
  for (let i = cookie.indexOf(';'); i >= 0; i = cookie.indexOf(';', i + 1)) {
    SECURE_ATTRIBUTE.lastIndex = i;
    const m = SECURE_ATTRIBUTE.exec(cookie);
    if (m === null) continue;
    out += cookie.slice(prev, i);
    prev = i + m[0].length;
  }
  return prev === 0 ? cookie : out + cookie.slice(prev);
}
