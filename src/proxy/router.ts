/**
 * The request router: normalise the target, refuse administration paths,
 * then pick the route. Everything that depends on the route table is built
 * once in createRouter; a request costs a normalisation, a deny check, one
 * map lookup by first path segment and a short scan of that bucket.
 *
 * Host-specific routes form their own table that is consulted first, like a
 * server block in nginx: a request for `cl2.example` is routed by cl2's
 * routes when one matches its path, and by the host-less routes otherwise.
 * Within a table the longest prefix wins; its method decides 405.
 *
 * A `*` segment in a prefix matches any one segment (the push-token route is
 * `/cucm-uds/user/{*}/device/{*}/devicetoken` with bare stars): UDS puts the user id and device pkid in the path, and only
 * some resources under a user may be written. Such a route files under its
 * static start (`/cucm-uds/user/`); a path its pattern does not match falls
 * through to the next shorter prefix, as if the route were not there.
 */
import { Buffer } from 'node:buffer';
import { ConfigError } from '../errors.js';
import type { RouteConfig } from '../config/types.js';

/** What the router reads of a route; the decision hands back the whole route it matched. */
export type RoutePattern = Pick<RouteConfig, 'pathPrefix' | 'cluster' | 'methods' | 'host'>;
import { createDenyList } from './deny-list.js';
import { normaliseTarget, type NormalisedTarget } from './normalise-path.js';

/** The target is routed to `cluster`. */
export interface ProxyDecision<R extends RoutePattern = RouteConfig> {
  readonly kind: 'proxy';
  readonly route: R;
  readonly cluster: string;
  /** Path, `;params` and query to send upstream (see NormalisedTarget.forwardPath). */
  readonly forwardPath: string;
  /** Lowercased canonical path the decision was made on. */
  readonly matchPath: string;
  /** `''` or `?...` exactly as received: what log redaction needs. */
  readonly query: string;
  /** Lowercased host of an absolute-form target (it overrides Host), else undefined. */
  readonly targetHost: string | undefined;
}

export interface DenyDecision {
  readonly kind: 'deny';
  readonly status: 403;
}

export interface NotFoundDecision {
  readonly kind: 'not-found';
  readonly status: 404;
}

export interface MethodNotAllowedDecision {
  readonly kind: 'method-not-allowed';
  readonly status: 405;
  /** Values for the `Allow` header, in route order. */
  readonly allow: readonly string[];
}

export interface BadRequestDecision {
  readonly kind: 'bad-request';
  readonly status: 400;
  /** Why, in a few words; never contains the target itself. */
  readonly reason: string;
}

export type RouteDecision<R extends RoutePattern = RouteConfig> = ProxyDecision<R> | DenyDecision | NotFoundDecision | MethodNotAllowedDecision | BadRequestDecision;

/** Routes requests by target, host and method. */
export interface Router<R extends RoutePattern = RouteConfig> {
  /**
   * Decides what to do with a request. `rawTarget` is `req.url` as received;
   * `host` the Host header (port, case and a trailing dot are ignored), which
   * an absolute-form target overrides (RFC 9112 §3.2.2). Never throws.
   */
  route(method: string, rawTarget: string, host?: string): RouteDecision<R>;
}

/** Options for createRouter. */
export interface RouterOptions {
  /** Opt-in end-user paths: `ccmuser`, `ucmuser`, `webdialer` (see createDenyList). */
  readonly optIn?: readonly string[];
}

/** Routes sharing one host and one normalised prefix, in config order. */
interface Group<R extends RoutePattern> {
  readonly key: string;
  /** The prefix ends in `/`: it also matches the path without that slash. */
  readonly dir: boolean;
  readonly bare: string;
  readonly routes: R[];
  /** Per route: allowed methods, or null for any. */
  readonly methods: (ReadonlySet<string> | null)[];
  /** Per route: the whole pattern of a prefix with `*` segments, or null. */
  readonly patterns: (RegExp | null)[];
}

interface Table<R extends RoutePattern> {
  /** By the prefix's first segment, longest prefix first. */
  readonly buckets: Map<string, Group<R>[]>;
  /** The `/` prefix: matches everything. */
  root: Group<R> | undefined;
}

const DENY: DenyDecision = Object.freeze({ kind: 'deny', status: 403 });
const NOT_FOUND: NotFoundDecision = Object.freeze({ kind: 'not-found', status: 404 });

function firstSegment(matchPath: string): string {
  const slash = matchPath.indexOf('/', 1);
  return matchPath.slice(1, slash < 0 ? matchPath.length : slash);
}

function hostKey(host: string): string {
  let end = host.length;
  if (host.charCodeAt(0) === 0x5b) {
    const close = host.indexOf(']');
    if (close > 0) end = close + 1;
  } else {
    const colon = host.indexOf(':');
    if (colon >= 0) end = colon;
  }
  if (end > 0 && host.charCodeAt(end - 1) === 0x2e) end--;
  return (end === host.length ? host : host.slice(0, end)).toLowerCase();
}

function groupMatches<R extends RoutePattern>(g: Group<R>, path: string): boolean {
  if (g.dir) return path.startsWith(g.key) || path === g.bare;
  return path === g.key || (path.startsWith(g.key) && path.charCodeAt(g.key.length) === 0x2f);
}

/** The decision of the longest matching prefix whose routes cover the path (see the header on `*`). */
function findDecision<R extends RoutePattern>(table: Table<R>, method: string, t: NormalisedTarget): RouteDecision<R> | undefined {
  const bucket = table.buckets.get(firstSegment(t.matchPath));
  if (bucket !== undefined) {
    for (let i = 0; i < bucket.length; i++) {
      const g = bucket[i]!;
      if (!groupMatches(g, t.matchPath)) continue;
      const d = decide(g, method, t);
      if (d !== undefined) return d;
    }
  }
  return table.root === undefined ? undefined : decide(table.root, method, t);
}

/** `*` segments of a normalised prefix as a pattern over matchPaths; null for a plain prefix. */
function compilePattern(key: string): RegExp | null {
  if (!key.split('/').includes('*')) return null;
  const body = key
    .split('/')
    .map((seg) => (seg === '*' ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  // A prefix ending in `/` covers what lies below it; otherwise the path itself or below a `/`.
  return new RegExp(key.endsWith('/') ? `^${body}` : `^${body}(?:/|$)`);
}

/** Where a prefix with `*` segments is filed: its start up to the first `*`. */
function staticStart(key: string): string {
  const star = key.indexOf('/*');
  return star < 0 ? key : key.slice(0, star + 1);
}

function compilePrefix(prefix: string, index: number): string {
  // Config text is UTF-8; targets arrive as byte strings. Compare like with like.
  const t = normaliseTarget(Buffer.from(prefix, 'utf8').toString('latin1'));
  const where = `routes[${index}].pathPrefix`;
  if (!t.ok) throw new ConfigError([`${where}: ${t.reason}`]);
  if (t.host !== undefined || t.query !== '') throw new ConfigError([`${where}: must be a path, without host or query`]);
  return t.matchPath;
}

function addRoute<R extends RoutePattern>(table: Table<R>, route: R, fullKey: string): void {
  const pattern = compilePattern(fullKey);
  const key = staticStart(fullKey);
  let group: Group<R> | undefined;
  const seg = firstSegment(key);
  const bucket = key === '/' ? undefined : (table.buckets.get(seg) ?? []);
  if (bucket === undefined) group = table.root;
  else group = bucket.find((g) => g.key === key);
  if (group === undefined) {
    const dir = key.endsWith('/');
    group = { key, dir, bare: dir ? key.slice(0, -1) : key, routes: [], methods: [], patterns: [] };
    if (bucket === undefined) table.root = group;
    else {
      bucket.push(group);
      table.buckets.set(seg, bucket);
    }
  }
  let methods: Set<string> | null = null;
  if (route.methods !== undefined) {
    // HEAD wherever GET (RFC 9110 §9.3.2), listed next to it in Allow.
    methods = new Set<string>();
    for (const m of route.methods) {
      methods.add(m);
      if (m === 'GET') methods.add('HEAD');
    }
  }
  group.routes.push(route);
  group.methods.push(methods);
  group.patterns.push(pattern);
}

/** The group's decision for the path, or undefined when none of its routes covers it (only `*` routes can miss). */
function decide<R extends RoutePattern>(group: Group<R>, method: string, t: NormalisedTarget): RouteDecision<R> | undefined {
  let allow: string[] | undefined;
  for (let i = 0; i < group.routes.length; i++) {
    const pattern = group.patterns[i]!;
    if (pattern !== null && !pattern.test(t.matchPath)) continue;
    const allowed = group.methods[i]!;
    if (allowed !== null && !allowed.has(method)) {
      allow ??= [];
      for (const m of allowed) if (!allow.includes(m)) allow.push(m);
      continue;
    }
    const route = group.routes[i]!;
    return {
      kind: 'proxy',
      route,
      cluster: route.cluster,
      forwardPath: t.forwardPath,
      matchPath: t.matchPath,
      query: t.query,
      targetHost: t.host,
    };
  }
  // Allow lists the methods of the routes that cover the path, in route order.
  return allow === undefined ? undefined : { kind: 'method-not-allowed', status: 405, allow };
}

/**
 * Compiles `routes` into a Router. Prefixes are normalised like request
 * paths, so `/emapp/EMAppServlet` matches `/EMAPP/emappservlet;jsessionid=1`
 * but not `/emapp/EMAppServletFoo`, and `/cucm-uds/` also matches
 * `/cucm-uds`. Throws ConfigError for a prefix that is not a path, and
 * UCGATE_ERR_CONFIG_INVALID for an opt-in that is not allowed.
 */
export function createRouter<R extends RoutePattern = RouteConfig>(routes: readonly R[], options: RouterOptions = {}): Router<R> {
  const deny = createDenyList(options.optIn);
  const anyHost: Table<R> = { buckets: new Map(), root: undefined };
  const byHost = new Map<string, Table<R>>();
  routes.forEach((route, i) => {
    const key = compilePrefix(route.pathPrefix, i);
    let table = anyHost;
    if (route.host !== undefined) {
      const h = hostKey(route.host);
      table = byHost.get(h) ?? { buckets: new Map(), root: undefined };
      byHost.set(h, table);
    }
    addRoute(table, route, key);
  });
  for (const table of [anyHost, ...byHost.values()]) {
    for (const bucket of table.buckets.values()) bucket.sort((a, b) => b.key.length - a.key.length);
  }
  const hostRouting = byHost.size > 0;

  return {
    route(method: string, rawTarget: string, host?: string): RouteDecision<R> {
      const t = normaliseTarget(rawTarget);
      if (!t.ok) return { kind: 'bad-request', status: 400, reason: t.reason };
      let decision: RouteDecision<R> | undefined;
      if (hostRouting) {
        const h = t.host ?? host;
        const table = h === undefined ? undefined : byHost.get(hostKey(h));
        if (table !== undefined) decision = findDecision(table, method, t);
      }
      decision = decision ?? findDecision(anyHost, method, t) ?? NOT_FOUND;
      // The deny list decides after the route: an opt-in path (/ma/, /cucm-uds/private/...) is open only to a route that names it.
      const prefix = decision.kind === 'proxy' ? decision.route.pathPrefix : undefined;
      if (deny.isDenied(t.matchPath, prefix)) return DENY;
      const deeper = t.decodedMatchPaths;
      for (let i = 0; i < deeper.length; i++) if (deny.isDenied(deeper[i]!, prefix)) return DENY;
      return decision;
    },
  };
}
