/**
 * DNS rebinding defence for the admin listener (issue 17). A web page on
 * `evil.example` can make its name resolve to 127.0.0.1 (or the gateway's
 * address) and then read the admin listener from the administrator's own
 * browser, with the browser's cookies: the one thing it cannot change is the
 * `Host` header, which carries its own name. So a request whose Host is none
 * of the gateway's names or addresses gets 421 Misdirected Request.
 *
 * Accepted on every endpoint (the port, if any, is not compared: a NAT or
 * port forward may change it, and the name is what a rebinding attack
 * cannot fake):
 * - `gateway.fqdn`, `gateway.altNames`, `gateway.instances`, every cluster's
 *   `publicName` (names and IP addresses, as configured);
 * - this machine's host name (`os.hostname()`) and the listener's own host;
 * - `localhost` (and `*.localhost`, which browsers pin to loopback);
 * - loopback addresses (127.0.0.0/8, ::1) and the address the connection
 *   arrived on (so a probe by the pod's or the host's IP works);
 * - no Host at all (HTTP/1.0 probes; a browser always sends one).
 *
 * `/healthz`, `/readyz` and `/metrics` also accept any IP-literal Host:
 * probes and scrapers often reach the listener through an address that is
 * not its own (a Kubernetes Service or NodePort, a Docker port mapping, a
 * keepalived VIP), and an IP literal is never a rebinding vector (the
 * attack needs a name the attacker controls). A name that is not the
 * gateway's still gets 421 there: the metrics would otherwise be readable
 * through a rebinding page.
 */
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { canonicalHost } from '../net/self-target.js';
import { isLoopbackAddress } from '../net/ip-address.js';

/** The parts of the configuration that name the gateway. */
export interface GatewayNamesView {
  readonly gateway: { readonly fqdn: string; readonly altNames: readonly string[]; readonly instances: readonly string[] };
  readonly clusters: readonly { readonly publicName?: string | undefined }[];
}

/** Paths that answer any IP-literal Host (see above). */
export const PROBE_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/** What a request's Host means to the admin listener. */
export type HostVerdict = 'ours' | 'foreign-ip' | 'foreign';

export interface HostCheckOptions {
  /** `listen.admin.host`. */
  readonly listenHost: string;
  /** The running config's names; called per request, cached per returned object (a reload replaces it). */
  readonly names?: () => GatewayNamesView;
}

/**
 * The host of a Host header value (`name`, `name:port`, `[v6]`, `[v6]:port`),
 * canonical; undefined when it is no such thing (userinfo, a path, a bad port).
 */
export function hostOfHeader(value: string): string | undefined {
  const v = value.trim();
  let host: string;
  let port: string | undefined;
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    if (end < 0) return undefined;
    host = v.slice(1, end);
    const rest = v.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return undefined;
      port = rest.slice(1);
    }
    if (isIP(host) !== 6) return undefined;
  } else {
    const colon = v.indexOf(':');
    if (colon >= 0 && v.indexOf(':', colon + 1) >= 0) return undefined; // a bare IPv6 address is not a valid Host
    host = colon >= 0 ? v.slice(0, colon) : v;
    port = colon >= 0 ? v.slice(colon + 1) : undefined;
    if (!/^[A-Za-z0-9._-]+$/.test(host)) return undefined;
  }
  if (port !== undefined && !/^\d{1,5}$/.test(port)) return undefined;
  return canonicalHost(host);
}

/** Decides, per request, whether its Host names this gateway. */
export class AdminHostCheck {
  readonly #names: (() => GatewayNamesView) | undefined;
  readonly #fixed: ReadonlySet<string>;
  #cache: { view: GatewayNamesView; names: ReadonlySet<string> } | undefined;

  constructor(options: HostCheckOptions) {
    this.#names = options.names;
    const fixed = new Set(['localhost']);
    const listen = canonicalHost(options.listenHost);
    if (listen !== '0.0.0.0' && listen !== '::' && listen !== '') fixed.add(listen);
    try {
      const own = canonicalHost(hostname());
      if (own !== '') fixed.add(own);
    } catch {
      // An odd sandbox: the configured names still work.
    }
    this.#fixed = fixed;
  }

  #configured(): ReadonlySet<string> {
    if (this.#names === undefined) return new Set();
    const view = this.#names();
    if (this.#cache?.view === view) return this.#cache.names;
    const names = new Set<string>();
    for (const name of [view.gateway.fqdn, ...view.gateway.altNames, ...view.gateway.instances]) names.add(canonicalHost(name));
    for (const cluster of view.clusters) if (cluster.publicName !== undefined) names.add(canonicalHost(cluster.publicName));
    names.delete('');
    this.#cache = { view, names };
    return names;
  }

  /**
   * `host`: the Host header (undefined when absent); `localAddress`: the
   * address the connection arrived on.
   */
  verdict(host: string | undefined, localAddress: string | undefined): HostVerdict {
    if (host === undefined || host === '') return 'ours';
    const name = hostOfHeader(host);
    if (name === undefined) return 'foreign';
    if (this.#fixed.has(name) || name.endsWith('.localhost') || this.#configured().has(name)) return 'ours';
    if (isIP(name) === 0) return 'foreign';
    if (isLoopbackAddress(name)) return 'ours';
    if (localAddress !== undefined && canonicalHost(localAddress.split('%')[0]!) === name) return 'ours';
    return 'foreign-ip';
  }

  /** Whether a request for `path` (the matched route) with this Host may be answered. */
  allows(host: string | undefined, localAddress: string | undefined, route: string | undefined): boolean {
    const verdict = this.verdict(host, localAddress);
    return verdict === 'ours' || (verdict === 'foreign-ip' && route !== undefined && PROBE_PATHS.has(route));
  }
}
