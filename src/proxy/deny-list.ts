/**
 * The hard deny list: CUCM administration, reporting and platform paths that
 * are never proxied, whatever the routes say (CONTRACT.md, "Data-plane
 * behaviour"; DESIGN.md: CUCM's web management interfaces had an actively
 * exploited RCE), the end-user and private paths only a route that names them
 * opens, and the methods no route may carry.
 *
 * Matching is on whole segments of an already normalised `matchPath`, so
 * encoding, dot-segment, `;param` and case tricks were removed before we get
 * here. Tomcat maps a request to a web application by its first segment, so
 * most entries are one segment; a few (`/ssosp/oauth`, `/cucm-uds/private`)
 * carve a part out of an application. The most specific entry decides.
 */
import { Buffer } from 'node:buffer';
import { ErrorCodes, UcgateError } from '../errors.js';
import { normaliseTarget } from './normalise-path.js';

/**
 * - `always`: refused (403) whatever the routes and opt-ins say;
 * - `opt-in`: refused unless the route that matched names the path (its
 *   `pathPrefix` lies at or below the entry), or `createDenyList` was given
 *   its name;
 * - `open`: an exception inside an `always` entry (Jabber's OAuth sign-in
 *   under `/ssosp/`): routed like any other path.
 */
export type DenyKind = 'always' | 'opt-in' | 'open';

export interface DenyEntry {
  /** Lowercase whole segments, leading `/`, no trailing `/`: `/ssosp/oauth`. */
  readonly path: string;
  readonly kind: DenyKind;
  /** What lives there, for `ucgate check` and `ucgate routes --explain`. */
  readonly what: string;
}

const entry = (path: string, kind: DenyKind, what: string): DenyEntry => Object.freeze({ path, kind, what });

/** Every entry. One table; the sets below are views of it. */
export const DENY_TABLE: readonly DenyEntry[] = Object.freeze([
  // CUCM administration, serviceability, OS and platform APIs
  entry('/ccmadmin', 'always', 'CUCM administration'),
  entry('/ccmservice', 'always', 'CUCM serviceability'),
  entry('/cmplatform', 'always', 'CUCM OS administration'),
  entry('/platformcom', 'always', 'CUCM platform APIs, certificate management among them'),
  entry('/axl', 'always', 'AXL, the administrative XML API'),
  entry('/ast', 'always', 'RTMT analysis services'),
  entry('/rtmtreports', 'always', 'RTMT reports'),
  entry('/pktcap', 'always', 'packet capture'),
  entry('/art', 'always', 'CDR analysis and reporting (old path)'),
  entry('/taps', 'always', 'Tool for Auto-Registered Phones Support'),
  entry('/dna', 'always', 'Dialed Number Analyzer'),
  entry('/drf', 'always', 'Disaster Recovery System'),
  entry('/cmuser', 'always', 'CUCM user administration'),
  // OS administration's name before cmplatform (CUCM 6/7); Enterprise License Manager's admin UI (CUCM 9-11).
  entry('/iptplatform', 'always', 'CUCM OS administration (CUCM 6/7)'),
  entry('/elm-admin', 'always', 'Enterprise License Manager administration'),
  // Tomcat's stock manager apps (WAR deployment is code execution), its examples (session-manipulating
  // servlets), and the old invoker servlet that runs any servlet class by name. No UC client uses them.
  entry('/manager', 'always', "Tomcat's manager application"),
  entry('/host-manager', 'always', "Tomcat's host manager"),
  entry('/examples', 'always', "Tomcat's examples"),
  entry('/servlet', 'always', "Tomcat's invoker servlet"),
  // Issue 17: reporting, the EM API, and the SSO service provider.
  entry('/car', 'always', 'CDR Analysis and Reporting'),
  entry('/cucreports', 'always', 'Unified Reporting'),
  entry('/emservice', 'always', 'the Extension Mobility API, which logs any user in or out'),
  // The SSO service provider: the recovery URL (/ssosp/local/login, a password login for administrators
  // that bypasses the IdP), the administrators' refresh-token revoke API (/ssosp/token/revoke), SP
  // metadata (/ssosp/ws/), the SP-initiated admin login (/ssosp/saml/login).
  entry('/ssosp', 'always', 'the SSO service provider outside Jabber sign-in: recovery login, token revoke, SAML metadata'),
  // Jabber's OAuth sign-in (authorization code grant with refresh tokens, CUCM 12.5+): authorize, the
  // Unified CM login page, token. Built-in route; the login-attempt guard counts the token endpoint.
  entry('/ssosp/oauth', 'open', "Jabber's OAuth sign-in"),
  // The SAML assertion consumer (https://<node FQDN>:8443/ssosp/saml/SSO/alias/<node FQDN>, SAML SSO
  // Deployment Guide): where the IdP sends an SSO user's browser back during that sign-in. It is named
  // by the node's FQDN inside a signed AuthnRequest, so it is reached through the gateway only where that
  // name resolves to it; it parses IdP-signed XML and logs administrators in too, so a route must name it.
  entry('/ssosp/saml/sso', 'opt-in', 'the SAML SSO assertion consumer'),
  // End-user portals and private APIs: only when a route names them.
  entry('/ccmuser', 'opt-in', 'the old user options pages'),
  entry('/ucmuser', 'opt-in', 'the Self Care Portal'),
  entry('/webdialer', 'opt-in', 'WebDialer'),
  entry('/ma', 'opt-in', 'Unified CM Assistant'),
  entry('/cucm-uds/private', 'opt-in', "UDS's private resources"),
]);

/**
 * First-segment prefixes refused always: the serviceability SOAP families,
 * which CUCM versions suffix (`realtimeservice`, `realtimeservice2`, ...).
 */
export const DENIED_PREFIXES: readonly string[] = Object.freeze([
  'realtimeservice',
  'controlcenterservice',
  'perfmonservice',
  'logcollectionservice',
  'cdrondemandservice',
]);
const PREFIX_ENTRIES: readonly DenyEntry[] = Object.freeze(DENIED_PREFIXES.map((p) => entry(`/${p}`, 'always', 'a CUCM serviceability SOAP API')));

const singleSegment = (e: DenyEntry) => e.path.indexOf('/', 1) < 0;

/** First path segments (lowercase) refused always. */
export const DENIED_SEGMENTS: readonly string[] = Object.freeze(DENY_TABLE.filter((e) => e.kind === 'always' && singleSegment(e)).map((e) => e.path.slice(1)));

/** One-segment paths refused unless opened (by a route that names them, or by name). */
export const OPT_IN_SEGMENTS: readonly string[] = Object.freeze(DENY_TABLE.filter((e) => e.kind === 'opt-in' && singleSegment(e)).map((e) => e.path.slice(1)));

/** Every name `createDenyList` accepts: the opt-in entries without their leading `/`. */
export const OPT_IN_NAMES: readonly string[] = Object.freeze(DENY_TABLE.filter((e) => e.kind === 'opt-in').map((e) => e.path.slice(1)));

/**
 * Methods no route carries (405): TRACE echoes the request, credentials and
 * cookies included, into a readable answer (cross-site tracing); TRACK is
 * IIS's TRACE; CONNECT would make the gateway a tunnel. Node's parser already
 * refuses TRACK (unknown method: 400) and hands CONNECT to the server's
 * `connect` event rather than to the request handler, so only TRACE reaches
 * a request handler.
 */
export const REFUSED_METHODS: readonly string[] = Object.freeze(['TRACE', 'TRACK', 'CONNECT']);

/** True for TRACE, TRACK and CONNECT (methods are case-sensitive, RFC 9110 §9.1). */
export function isRefusedMethod(method: string | undefined): boolean {
  return method === 'TRACE' || method === 'TRACK' || method === 'CONNECT';
}

/** `Allow` for a 405 that no route decided: every method the gateway proxies somewhere. */
export const PROXIED_METHODS_ALLOW = 'GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH';

/**
 * The whole answer for a refused method on a raw socket (CONNECT from the
 * server's `connect` event, TRACK from `clientError`), where no
 * ServerResponse exists. The connection is closed after it.
 */
export const REFUSED_METHOD_RESPONSE =
  'HTTP/1.1 405 Method Not Allowed\r\n' + `Allow: ${PROXIED_METHODS_ALLOW}\r\n` + 'Content-Length: 0\r\n' + 'Connection: close\r\n\r\n';

/** Whether the raw bytes Node's parser refused start a TRACK request (`clientError`'s `err.rawPacket`). */
export function isRefusedMethodPacket(raw: Buffer | undefined): boolean {
  return raw !== undefined && raw.length >= 6 && raw.toString('latin1', 0, 6) === 'TRACK ';
}

/** Answers whether a normalised path may not be proxied. */
export interface DenyList {
  /**
   * True when `matchPath` (case-insensitive, `;params` ignored) falls under
   * an `always` entry, or an `opt-in` entry that neither `optIn` named nor
   * `routePrefix` opens. `routePrefix` is the `pathPrefix` of the route the
   * request matched, as configured: it opens an opt-in entry when it lies at
   * or below it (its segments up to the first `*` segment) and the path lies
   * below the prefix. Expects a path from `normaliseTarget`; raw targets must
   * be normalised first or this check can be bypassed.
   */
  isDenied(matchPath: string, routePrefix?: string): boolean;
}

interface TrieNode {
  entry: DenyEntry | undefined;
  children: Map<string, TrieNode> | undefined;
}

function buildTrie(): TrieNode {
  const root: TrieNode = { entry: undefined, children: undefined };
  for (const e of DENY_TABLE) {
    let node = root;
    for (const seg of e.path.slice(1).split('/')) {
      node.children ??= new Map();
      let next = node.children.get(seg);
      if (next === undefined) {
        next = { entry: undefined, children: undefined };
        node.children.set(seg, next);
      }
      node = next;
    }
    node.entry = e;
  }
  return root;
}

const TRIE = buildTrie();

/**
 * The segment of `path` starting at `from`, up to a `/`, a `;` or the end,
 * lowercased (ASCII; a normalised matchPath already is, and then costs no copy
 * but the slice).
 */
function segmentAt(path: string, from: number): string {
  let upper = false;
  let i = from;
  for (; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x2f || c === 0x3b) break;
    if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  const seg = path.slice(from, i);
  return upper ? seg.toLowerCase() : seg;
}

/** The most specific entry covering `path`, or undefined. */
function lookup(path: string): DenyEntry | undefined {
  let node = TRIE;
  let found: DenyEntry | undefined;
  let i = path.charCodeAt(0) === 0x2f ? 1 : 0;
  let first = true;
  while (i < path.length) {
    const seg = segmentAt(path, i);
    const next = node.children?.get(seg);
    if (next === undefined) {
      if (first) {
        for (let p = 0; p < PREFIX_ENTRIES.length; p++) if (seg.startsWith(DENIED_PREFIXES[p]!)) return PREFIX_ENTRIES[p];
      }
      return found;
    }
    node = next;
    if (node.entry !== undefined) found = node.entry;
    if (node.children === undefined) return found;
    first = false;
    // Past this segment and its `;params`, and any repeated `/`.
    i += seg.length;
    while (i < path.length && path.charCodeAt(i) !== 0x2f) i++;
    while (i < path.length && path.charCodeAt(i) === 0x2f) i++;
  }
  return found;
}

/** Whether `path` is `base` or lies below it, by whole segments (both without a trailing `/`, `/` being the root). */
function within(path: string, base: string): boolean {
  if (base === '/') return true;
  return path === base || (path.startsWith(base) && path.charCodeAt(base.length) === 0x2f);
}

function trimSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/**
 * A route prefix as the router compares it (normalised, lowercased), cut
 * before its first `*` segment and without a trailing `/`; undefined when it
 * is not a path (the router refuses such a config anyway).
 */
export function routePrefixPath(pathPrefix: string): string | undefined {
  const t = normaliseTarget(Buffer.from(pathPrefix, 'utf8').toString('latin1'));
  if (!t.ok || t.host !== undefined || t.query !== '') return undefined;
  const star = t.matchPath.split('/').indexOf('*');
  const path = star < 0 ? t.matchPath : t.matchPath.split('/').slice(0, star).join('/') || '/';
  return trimSlash(path);
}

/** The deny entry that decides `matchPath` (for explanations), or undefined when none covers it. */
export function denyEntryFor(matchPath: string): DenyEntry | undefined {
  return lookup(matchPath);
}

/**
 * The entry that refuses every request a route with this `pathPrefix` could
 * carry, or undefined when some of them may pass. An `always` entry at or
 * above the prefix shadows it unless an `open` exception lies below (a route
 * `/ssosp/` still carries `/ssosp/oauth/`); an opt-in entry never shadows a
 * route that lies at or below it, since such a route opens it.
 */
export function shadowingEntry(pathPrefix: string): DenyEntry | undefined {
  const path = routePrefixPath(pathPrefix);
  if (path === undefined) return undefined;
  const e = lookup(path);
  if (e === undefined || e.kind !== 'always') return undefined;
  const below = DENY_TABLE.some((x) => x.kind === 'open' && x.path !== path && within(x.path, path));
  return below ? undefined : e;
}

/**
 * Builds the deny list. `optIn` may name opt-in entries (OPT_IN_NAMES:
 * `ccmuser`, `ucmuser`, `webdialer`, `ma`, `cucm-uds/private`,
 * `ssosp/saml/sso`; leading/trailing `/` and case ignored) to open them for
 * every route; naming anything else throws UCGATE_ERR_CONFIG_INVALID, since
 * no configuration may open an administration path.
 */
export function createDenyList(optIn: readonly string[] = []): DenyList {
  const opened = new Set<string>();
  for (const raw of optIn) {
    const name = raw.replace(/^\/+|\/+$/g, '').toLowerCase();
    if (!OPT_IN_NAMES.includes(name)) {
      throw new UcgateError(ErrorCodes.CONFIG_INVALID, `"${raw}" cannot be opted in; only ${OPT_IN_NAMES.join(', ')} can`, { exitCode: 2 });
    }
    opened.add(`/${name}`);
  }
  // Route prefixes come from the config: a handful, so the cache stays small.
  const prefixes = new Map<string, string | undefined>();
  const prefixPath = (prefix: string): string | undefined => {
    if (!prefixes.has(prefix)) prefixes.set(prefix, routePrefixPath(prefix));
    return prefixes.get(prefix);
  };

  return {
    isDenied(matchPath: string, routePrefix?: string): boolean {
      const e = lookup(matchPath);
      if (e === undefined || e.kind === 'open') return false;
      if (e.kind === 'always') return true;
      if (opened.has(e.path)) return false;
      if (routePrefix === undefined) return true;
      const start = prefixPath(routePrefix);
      if (start === undefined || !within(start, e.path)) return true;
      // The path itself must lie below the route (the router guarantees it for
      // matchPath, not for the paths of further decoding rounds).
      return !within(trimSlash(matchPath.toLowerCase()), start);
    },
  };
}
