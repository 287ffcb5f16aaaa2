/**
 * How one response's node names become the gateway's: the name or address
 * the client used (when the gateway's certificate covers it) or else the
 * cluster's public name, the port and scheme of the listener the client came
 * in on, and only for links the gateway would route (link-routing.ts).
 */
import type { ClusterRuntime, ProxyState } from './proxy-state.js';
import type { ListenerInfo } from './local-answer.js';
import type { ResponseRewrite } from './response-writer.js';
import type { Logger } from '../log.js';
import type { UcgateConfig } from '../config/types.js';
import type { DataPlaneMetrics } from '../metrics/data-plane-metrics.js';
import type { Router } from './router.js';
import { expandShortNames, normaliseName, parseUdsServers, type LinkCheck, type TargetSpec } from '../rewrite/index.js';
import { MAIN_PLANE, RouterLinkCheck, unroutedLinksFor } from './link-routing.js';

const SERVERS_PATH = /^\/cucm-uds\/servers(?:[/?;]|$)/i;
const HOST_PORT = /^:\d{0,5}$/;

/** Where unrouted links are counted and logged: the request handler's options are one. */
export interface RewriteSink {
  readonly metrics: DataPlaneMetrics;
  readonly log: Logger;
}

/** Every name the gateway's certificate covers, in each matchable form → the form links carry. */
const ownedByConfig = new WeakMap<UcgateConfig, ReadonlyMap<string, string>>();

/**
 * What the certificate covers, by configuration: `gateway.fqdn`,
 * `gateway.altNames` (names or IP addresses) and every cluster's
 * `publicName`. A plain-HTTP listener uses the same set: a name the gateway
 * does not own must never reach a link, certificate or not.
 */
export function ownedNames(config: UcgateConfig): ReadonlyMap<string, string> {
  let owned = ownedByConfig.get(config);
  if (owned === undefined) {
    const map = new Map<string, string>();
    const names = [config.gateway.fqdn, ...config.gateway.altNames, ...config.clusters.flatMap((c) => (c.publicName === undefined ? [] : [c.publicName]))];
    for (const raw of names) {
      const name = normaliseName(raw);
      if (name === undefined) continue;
      // IPv6: any spelling the client may send maps to one (compressed) form.
      const spelled = name.kind === 'ipv6' ? new URL(`http://[${name.forms[0]}]/`).hostname.slice(1, -1) : name.forms[0]!;
      for (const form of name.forms) if (!map.has(form)) map.set(form, spelled);
    }
    ownedByConfig.set(config, (owned = map));
  }
  return owned;
}

/**
 * The host and port links get for a client whose `Host` header is
 * `hostHeader`: that name or address (and its port, else the listener's)
 * when the gateway owns it (`ownedNames`), else undefined and the caller
 * uses the configured name. A phone that reached the gateway by IP, on a
 * network without DNS, so gets links it can follow; a Host the gateway does
 * not own never reaches a link (a shared cache or a phishing page could
 * otherwise hand other clients links to a host of the attacker's choosing).
 */
export function linkAuthority(config: UcgateConfig, hostHeader: string | undefined, listenerPort: number): { host: string; port: number } | undefined {
  if (hostHeader === undefined || hostHeader.length === 0 || hostHeader.length > 300) return undefined;
  let name: string;
  let rest: string;
  if (hostHeader.charCodeAt(0) === 0x5b /* [ */) {
    const close = hostHeader.indexOf(']');
    if (close < 0) return undefined;
    name = hostHeader.slice(1, close);
    rest = hostHeader.slice(close + 1);
  } else {
    const colon = hostHeader.indexOf(':');
    name = colon < 0 ? hostHeader : hostHeader.slice(0, colon);
    rest = colon < 0 ? '' : hostHeader.slice(colon);
  }
  let port = listenerPort;
  if (rest.length > 1) {
    if (!HOST_PORT.test(rest)) return undefined;
    port = Number(rest.slice(1));
    if (port < 1 || port > 65535) return undefined;
  } else if (rest !== '' && rest !== ':') return undefined;
  const owned = ownedNames(config);
  let lower = name.toLowerCase();
  if (lower.endsWith('.')) lower = lower.slice(0, -1);
  let host = owned.get(lower);
  if (host === undefined && lower.includes(':')) {
    // An IPv6 literal in another spelling (`[FD00:0::1]`): compare canonical forms.
    const normalised = normaliseName(lower);
    for (const form of normalised?.forms ?? []) if ((host = owned.get(form)) !== undefined) break;
  }
  return host === undefined ? undefined : { host, port };
}

/** Per router (one per config): the gateway names `/servers` answers list, by answering cluster and first name. */
const serversByRouter = new WeakMap<Router, Map<string, readonly string[]>>();
/** Keys are (cluster, owned name or public name): bounded by the config; this only guards against surprises. */
const MAX_SERVER_LISTS = 256;

/** `name` as the owned set spells it (see ownedNames), or undefined when the gateway does not own it. */
function ownedSpelling(config: UcgateConfig, name: string): string | undefined {
  const owned = ownedNames(config);
  for (const form of normaliseName(name)?.forms ?? []) {
    const spelled = owned.get(form);
    if (spelled !== undefined) return spelled;
  }
  return undefined;
}

/**
 * The gateway names a UDS `/cucm-uds/servers` answer of `cluster` lists to
 * a client that reached the gateway as `first` (the link authority, or the
 * cluster's public name): `first`, then every `gateway.instances` entry in
 * config order, each once, leaving out an instance under whose name the
 * router would send `/cucm-uds/servers` to another cluster (a `host` route):
 * Jabber failing over there would land in the wrong cluster. Cached per
 * config (router) and (cluster, first).
 */
export function serverNamesFor(state: ProxyState, cluster: string, first: string): readonly string[] {
  let byKey = serversByRouter.get(state.router);
  if (byKey === undefined) serversByRouter.set(state.router, (byKey = new Map()));
  const key = `${cluster}|${first}`;
  let names = byKey.get(key);
  if (names === undefined) {
    const list = [ownedSpelling(state.config, first) ?? first.toLowerCase()];
    for (const instance of state.config.gateway.instances) {
      const host = ownedSpelling(state.config, instance) ?? instance.toLowerCase();
      if (list.includes(host)) continue;
      const decision = state.router.route('GET', '/cucm-uds/servers', host.includes(':') ? `[${host}]` : host);
      if (decision.kind === 'proxy' && decision.cluster === cluster) list.push(host);
    }
    if (byKey.size >= MAX_SERVER_LISTS) byKey.clear();
    byKey.set(key, (names = list));
  }
  return names;
}

/** Per router (one per config) and answering cluster: the main listeners' LinkCheck, with its decision cache. */
const checksByRouter = new WeakMap<Router, Map<string, LinkCheck>>();

function mainLinkCheck(state: ProxyState, cluster: string, sink: RewriteSink): LinkCheck {
  let byCluster = checksByRouter.get(state.router);
  if (byCluster === undefined) checksByRouter.set(state.router, (byCluster = new Map()));
  let check = byCluster.get(cluster);
  if (check === undefined) {
    // The router and config of this state: a reload builds a new router, and so a new check.
    const view = { router: state.router, config: state.config };
    byCluster.set(cluster, (check = new RouterLinkCheck(() => view, cluster, MAIN_PLANE, unroutedLinksFor(sink.metrics, sink.log))));
  }
  return check;
}

/**
 * The rewrite for one answer of `cluster` to a request for `target` that
 * came in on `listener` with `Host: hostHeader`. The rules' own LinkCheck
 * (the TFTP listeners set one) wins over the main listeners' router check.
 */
export function rewriteFor(
  state: ProxyState,
  cluster: ClusterRuntime,
  listener: ListenerInfo,
  target: string,
  hostHeader: string | undefined,
  sink: RewriteSink,
): ResponseRewrite | undefined {
  const holder = cluster.rewrite;
  const rules = holder.rules;
  if (rules.size === 0) return undefined;
  const authority = linkAuthority(state.config, hostHeader, listener.port);
  const spec: TargetSpec = authority === undefined
    ? { host: cluster.publicHost, port: listener.port, scheme: listener.protocol }
    : { host: authority.host, port: authority.port, scheme: listener.protocol };
  const links = rules.links ?? mainLinkCheck(state, cluster.config.name, sink);
  if (!SERVERS_PATH.test(target)) return { target: rules.forTarget(spec, links), extraMediaTypes: rules.extraMediaTypes };
  // The server list becomes the gateway's names, each once (rewrite/servers-list.ts): Jabber fails over along it.
  const servers = serverNamesFor(state, cluster.config.name, spec.host);
  return {
    target: rules.forServersList(spec, servers, links),
    extraMediaTypes: rules.extraMediaTypes,
    // UDS lists every node of the cluster, including ones the config does not name: learn them (other answers name them too).
    inspect: (body) => {
      const learned = holder.rules.withNames(expandShortNames(parseUdsServers(body.toString('latin1'))));
      if (learned === holder.rules) return undefined;
      holder.rules = learned;
      return learned.forServersList(spec, servers, links);
    },
  };
}
