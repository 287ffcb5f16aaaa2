/**
 * `ucgate routes [--explain URL [--method M]] [--json]`: the effective routes
 * (built-in or configured), or for one URL what the gateway would do with it
 * — proxied (cluster and route), refused (403 and which deny entry), 404 or
 * 405 — and, for a URL naming a node as it appears in a node's answer,
 * whether the gateway rewrites that link or leaves it to the node. Answered
 * by the gateway's own router, rewrite rules and link check, built from the
 * config as a worker builds them, so the answer cannot drift from what runs.
 */
import type { ClusterConfig, RouteConfig, UcgateConfig } from '../config/types.js';
import { ErrorCodes, UcgateError } from '../errors.js';
import { createRouter, type RouteDecision, type Router } from '../proxy/router.js';
import { DENIED_PREFIXES, DENIED_SEGMENTS, OPT_IN_SEGMENTS } from '../proxy/deny-list.js';
import { normaliseTarget } from '../proxy/normalise-path.js';
import { loggableTarget } from '../proxy/loggable-target.js';
import { RouterLinkCheck } from '../proxy/link-routing.js';
import { compileRewriteRules, namesOfCluster, namesOfNode, normaliseName, rulesInputForCluster } from '../rewrite/index.js';
import { loadCliConfig } from './config-path.js';
import { printProblems } from './output.js';

export interface RoutesOptions {
  readonly config?: string | undefined;
  readonly explain?: string | undefined;
  readonly method?: string | undefined;
  readonly json: boolean;
}

/** The route keys every route has a column for; any other key is printed as `key=value`. */
const COLUMNS = new Set(['host', 'pathPrefix', 'methods', 'cluster']);
const METHOD = /^[A-Za-z]{1,20}$/;
const URL_FORM = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s;

function badInput(message: string): never {
  throw new UcgateError(ErrorCodes.CONFIG_INVALID, message, { exitCode: 2 });
}

export async function routesCommand(options: RoutesOptions): Promise<number> {
  try {
    if (options.method !== undefined && options.explain === undefined) badInput('routes: --method goes with --explain URL');
    const method = (options.method ?? 'GET').toUpperCase();
    if (!METHOD.test(method)) badInput(`routes: --method ${JSON.stringify(options.method)} is not an HTTP method`);
    const url = options.explain === undefined ? undefined : parseUrl(options.explain);
    const config = await loadCliConfig(options.config);
    const router = createRouter(config.routes);
    if (url === undefined) {
      process.stdout.write(options.json ? `${JSON.stringify(listing(config), null, 2)}\n` : listingText(config));
      return 0;
    }
    const explained = explain(config, router, method, url);
    process.stdout.write(options.json ? `${JSON.stringify(explained, null, 2)}\n` : explainText(explained));
    return 0;
  } catch (err) {
    return printProblems(err);
  }
}

// ---------------------------------------------------------------- listing

function policyOf(route: RouteConfig): Record<string, unknown> {
  return Object.fromEntries(Object.entries(route).filter(([key, value]) => !COLUMNS.has(key) && value !== undefined));
}

function listing(config: UcgateConfig) {
  return {
    source: config.routesBuiltIn ? 'built-in' : 'config',
    routes: config.routes,
    denied: [...DENIED_SEGMENTS.map((s) => `/${s}`), ...DENIED_PREFIXES.map((p) => `/${p}*`), ...OPT_IN_SEGMENTS.map((s) => `/${s}`)],
  };
}

function value(v: unknown): string {
  return Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function listingText(config: UcgateConfig): string {
  const rows = config.routes.map((route) => [
    route.host ?? '*',
    route.pathPrefix,
    route.methods?.join(',') ?? 'any',
    route.cluster,
    Object.entries(policyOf(route)).map(([k, v]) => `${k}=${value(v)}`).join(' '),
  ]);
  const header = ['HOST', 'PATH PREFIX', 'METHODS', 'CLUSTER', 'POLICY'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const { denied } = listing(config);
  return (
    `${config.routesBuiltIn ? 'built-in UC allow-list (the config has no routes)' : `routes of ${config.configFile || 'the config'}`}: ${rows.length}\n` +
    [header, ...rows].map(line).join('\n') +
    `\nrefused (403) whatever the routes say: ${denied.join(' ')}\nanything else: 404 (405 for a method its route does not allow)\n`
  );
}

// ---------------------------------------------------------------- explain

interface ParsedUrl {
  /** As typed, for display (sensitive query values redacted). */
  readonly display: string;
  readonly input: string;
  /** Lower-cased host without brackets or port; undefined for a bare path. */
  readonly host: string | undefined;
  /** Raw path and query, exactly as a client would send them (not re-encoded or resolved). */
  readonly target: string;
}

/** Split by hand: `new URL` would resolve `..` and re-encode, hiding what the router would see. */
function parseUrl(input: string): ParsedUrl {
  const trimmed = input.trim();
  if (trimmed.startsWith('/')) return { display: loggableTarget(trimmed.split('#')[0]!), input: trimmed, host: undefined, target: trimmed.split('#')[0]! };
  const m = URL_FORM.exec(trimmed);
  if (m === null || !/^https?$/i.test(m[1]!)) badInput(`routes --explain: ${JSON.stringify(input)} is not an http(s):// URL or a /path`);
  const authority = m[2]!.slice(m[2]!.lastIndexOf('@') + 1);
  const host = authority.startsWith('[') ? authority.slice(1, authority.indexOf(']')) : authority.split(':')[0]!;
  if (host === '' || normaliseName(host) === undefined) badInput(`routes --explain: ${JSON.stringify(input)} has no valid host`);
  const rest = m[3]!.split('#')[0]!;
  const target = rest === '' || rest.startsWith('?') ? `/${rest}` : rest;
  return { display: `${m[1]}://${m[2]}${loggableTarget(rest)}`, input: trimmed, host: host.toLowerCase(), target };
}

type DecisionView =
  | { decision: 'proxy'; cluster: string; route: RouteConfig }
  | { decision: 'deny'; status: 403; entry: string | undefined; reason: string }
  | { decision: 'not-found'; status: 404 }
  | { decision: 'method-not-allowed'; status: 405; allow: readonly string[] }
  | { decision: 'bad-request'; status: 400; reason: string };

function firstSegment(matchPath: string): string {
  const slash = matchPath.indexOf('/', 1);
  return matchPath.slice(1, slash < 0 ? matchPath.length : slash);
}

/** Which deny entry refused `target`, in the deny list's own terms (deny-list.ts). */
function denyReason(target: string): { entry: string | undefined; reason: string } {
  const t = normaliseTarget(target);
  if (!t.ok) return { entry: undefined, reason: t.reason };
  for (const [i, path] of [t.matchPath, ...t.decodedMatchPaths].entries()) {
    const seg = firstSegment(path);
    const decoded = i === 0 ? '' : ` (after decoding ${i + 1} times)`;
    if (DENIED_SEGMENTS.includes(seg)) return { entry: `/${seg}`, reason: `/${seg}${decoded} is a CUCM administration or platform path: never proxied, whatever the routes say` };
    const prefix = DENIED_PREFIXES.find((p) => seg.startsWith(p));
    if (prefix !== undefined) return { entry: `/${prefix}*`, reason: `/${seg}${decoded} is a CUCM serviceability API (/${prefix}*): never proxied, whatever the routes say` };
    if (OPT_IN_SEGMENTS.includes(seg)) return { entry: `/${seg}`, reason: `/${seg}${decoded} is an end-user page, refused unless opted in` };
  }
  return { entry: undefined, reason: 'on the hard deny list' };
}

function view(decision: RouteDecision, target: string): DecisionView {
  switch (decision.kind) {
    case 'proxy':
      return { decision: 'proxy', cluster: decision.cluster, route: decision.route };
    case 'deny':
      return { decision: 'deny', status: 403, ...denyReason(target) };
    case 'not-found':
      return { decision: 'not-found', status: 404 };
    case 'method-not-allowed':
      return { decision: 'method-not-allowed', status: 405, allow: decision.allow };
    case 'bad-request':
      return { decision: 'bad-request', status: 400, reason: decision.reason };
  }
}

interface LinkView {
  readonly cluster: string;
  /** The node the URL names, when the config lists it (learned and TFTP-only names have none). */
  readonly node: string | undefined;
  readonly rewritten: boolean;
  /** The link as a client would receive it in an answer of `cluster` on the first listener. */
  readonly url: string;
  /** What a client following the rewritten link would get (links are followed with GET). */
  readonly followed: DecisionView;
  readonly host: string;
}

interface Explained {
  readonly method: string;
  readonly url: string;
  /** The Host the request decision is made for: the URL's, or for a node's URL, the name the link is rewritten to. */
  readonly host: string | undefined;
  readonly request: DecisionView;
  readonly link: LinkView | null;
}

function matches(names: readonly string[], host: string): boolean {
  const forms = new Set(normaliseName(host)?.forms ?? []);
  return names.some((name) => normaliseName(name)?.forms.some((f) => forms.has(f)) ?? false);
}

function ownerOf(config: UcgateConfig, host: string): { cluster: ClusterConfig; node: string | undefined } | undefined {
  for (const cluster of config.clusters) {
    const node = cluster.nodes.find((n) => matches(namesOfNode(n), host));
    if (node !== undefined || matches(namesOfCluster(cluster), host)) return { cluster, node: node?.name };
  }
  return undefined;
}

function explain(config: UcgateConfig, router: Router, method: string, url: ParsedUrl): Explained {
  const owner = url.host === undefined ? undefined : ownerOf(config, url.host);
  if (owner === undefined) {
    return { method, url: url.display, host: url.host, request: view(router.route(method, url.target, url.host), url.target), link: null };
  }
  const cluster = owner.cluster;
  const publicHost = cluster.publicName ?? config.gateway.fqdn;
  const https = config.listen.https[0];
  const listener = https !== undefined ? { port: https.port, scheme: 'https' as const } : { port: config.listen.http[0]?.port ?? 443, scheme: 'http' as const };
  const rules = compileRewriteRules(rulesInputForCluster(config, cluster.name));
  const check = new RouterLinkCheck(() => ({ router, config }), cluster.name);
  const out = rules.forTarget({ host: publicHost, port: listener.port, scheme: listener.scheme }, check).rewriteText(url.input);
  const path = url.target.split('?')[0]!;
  const link: LinkView = {
    cluster: cluster.name,
    node: owner.node,
    rewritten: out !== url.input,
    url: out === url.input ? url.display : parseUrl(out).display,
    followed: view(router.route('GET', path, publicHost), path),
    host: publicHost,
  };
  return { method, url: url.display, host: publicHost, request: view(router.route(method, url.target, publicHost), url.target), link };
}

function decisionText(d: DecisionView): string {
  switch (d.decision) {
    case 'proxy': {
      const route = d.route;
      const policy = Object.entries(policyOf(route)).map(([k, v]) => ` ${k}=${value(v)}`).join('');
      return `routed to cluster ${d.cluster} by route ${route.host === undefined ? '' : `host=${route.host} `}pathPrefix=${route.pathPrefix} methods=${route.methods?.join(',') ?? 'any'}${policy}`;
    }
    case 'deny':
      return `denied (403)${d.entry === undefined ? '' : ` by deny entry ${d.entry}`}: ${d.reason}`;
    case 'not-found':
      return 'not found (404): no route covers this path';
    case 'method-not-allowed':
      return `method not allowed (405), Allow: ${d.allow.join(', ')}`;
    case 'bad-request':
      return `bad request (400): ${d.reason}`;
  }
}

function explainText(e: Explained): string {
  const lines = [`${e.method} ${e.url}`, `request${e.host === undefined ? '' : ` (Host ${e.host})`}: ${decisionText(e.request)}`];
  const link = e.link;
  if (link === null) {
    lines.push('link: names no node of any cluster, so an answer carrying it passes it unchanged');
  } else {
    const node = link.node === undefined ? `a name of cluster ${link.cluster}` : `node ${link.node} of cluster ${link.cluster}`;
    const followed = link.followed.decision === 'proxy' ? `routed to cluster ${link.followed.cluster}, not ${link.cluster}` : decisionText(link.followed);
    lines.push(
      link.rewritten
        ? `link: names ${node}; rewritten in ${link.cluster}'s answers to ${link.url}`
        : `link: names ${node}; left to the node in ${link.cluster}'s answers (a GET through the gateway would be ${followed}); counted in ucgate_unrouted_links_total`,
    );
  }
  return `${lines.join('\n')}\n`;
}
