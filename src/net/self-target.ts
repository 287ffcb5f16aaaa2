/**
 * What "the gateway itself" is, for node lists (issue 16): its names
 * (`gateway.fqdn`, `altNames`, `instances`, every cluster's `publicName`)
 * and its listening sockets. A node that is the gateway makes it proxy to
 * itself: every request becomes one more request to itself until the
 * connection limits give out, and the clients see timeouts. SRV discovery
 * drops such targets (srv-discovery.ts); `ucgate check` refuses such static
 * nodes (config/cross-checks.ts).
 *
 * Names are compared as configured (case, a trailing dot and IPv6 spelling
 * aside), without resolving them; addresses with the port: a CUCM node on
 * the same address and another port is a node, not a loop.
 */
import { isIP } from 'node:net';
import { isLoopbackAddress } from './ip-address.js';
import { networkInterfaces } from 'node:os';

/** A socket the gateway listens on; `key` names it for the reader (`listen.https[0]`, a listener's name). */
export interface SelfListener {
  readonly host: string;
  readonly port: number;
  readonly key: string;
}

export interface GatewaySelf {
  /** Canonical name (see canonicalHost) → the config key it comes from. */
  readonly names: ReadonlyMap<string, string>;
  readonly listeners: readonly SelfListener[];
  /** This machine's interface addresses (canonical): a wildcard listener listens on each. */
  readonly localAddresses: ReadonlySet<string>;
}

interface ListenerView {
  readonly host: string;
  readonly port: number;
}

/** The parts of the configuration that say who the gateway is. */
export interface SelfConfigView {
  readonly gateway: { readonly fqdn: string; readonly altNames: readonly string[]; readonly instances: readonly string[] };
  readonly clusters: readonly { readonly publicName?: string | undefined }[];
  readonly listen: { readonly https: readonly ListenerView[]; readonly http: readonly ListenerView[] };
  readonly tftp?: { readonly listen: { readonly http: readonly ListenerView[]; readonly https: readonly ListenerView[] } } | undefined;
}

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost']);
const MAPPED_V4 = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/**
 * One spelling per host: lower case, no brackets, no trailing dot, IPv6 in
 * its compressed form, an IPv4-mapped IPv6 address as the IPv4 address.
 */
export function canonicalHost(raw: string): string {
  let host = raw.trim().toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (isIP(host) !== 6) return host;
  try {
    host = new URL(`http://[${host}]/`).hostname.slice(1, -1);
  } catch {
    return host;
  }
  const mapped = MAPPED_V4.exec(host);
  if (mapped === null) return host;
  const hi = parseInt(mapped[1]!, 16);
  const lo = parseInt(mapped[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

/** This machine's interface addresses, canonical. Never throws (an odd sandbox may refuse). */
function interfaceAddresses(): Set<string> {
  const out = new Set<string>();
  try {
    for (const list of Object.values(networkInterfaces())) for (const entry of list ?? []) out.add(canonicalHost(entry.address.split('%')[0]!));
  } catch {
    // Loopback and exact matches still work.
  }
  return out;
}

/**
 * The gateway as `config` describes it, plus the sockets it actually bound
 * (`bound`, the listeners as the data plane reports them: one configured
 * with port 0 is known only once it runs).
 */
export function gatewaySelf(config: SelfConfigView, bound: readonly { readonly name: string; readonly host: string; readonly port: number }[] = []): GatewaySelf {
  const names = new Map<string, string>();
  const add = (name: string, key: string): void => {
    const canonical = canonicalHost(name);
    if (canonical !== '' && !names.has(canonical)) names.set(canonical, key);
  };
  add(config.gateway.fqdn, 'gateway.fqdn');
  config.gateway.altNames.forEach((name, i) => add(name, `gateway.altNames[${i}]`));
  config.gateway.instances.forEach((name, i) => add(name, `gateway.instances[${i}]`));
  config.clusters.forEach((cluster, i) => {
    if (cluster.publicName !== undefined) add(cluster.publicName, `clusters[${i}].publicName`);
  });
  const listeners: SelfListener[] = [];
  const visit = (list: readonly ListenerView[], at: string): void =>
    list.forEach((l, i) => {
      if (l.port > 0) listeners.push({ host: l.host, port: l.port, key: `${at}[${i}]` });
    });
  visit(config.listen.https, 'listen.https');
  visit(config.listen.http, 'listen.http');
  if (config.tftp !== undefined) {
    visit(config.tftp.listen.http, 'tftp.listen.http');
    visit(config.tftp.listen.https, 'tftp.listen.https');
  }
  for (const l of bound) {
    if (l.port > 0 && !listeners.some((o) => o.port === l.port && canonicalHost(o.host) === canonicalHost(l.host))) {
      listeners.push({ host: l.host, port: l.port, key: `listener ${l.name}` });
    }
  }
  return { names, listeners, localAddresses: interfaceAddresses() };
}

/** The addresses a name or literal stands for, as far as is known without DNS. */
function addressesOf(host: string): string[] {
  const canonical = canonicalHost(host);
  if (isIP(canonical) !== 0) return [canonical];
  return LOOPBACK_NAMES.has(canonical) ? ['127.0.0.1', '::1'] : [];
}

function isLocal(self: GatewaySelf, address: string): boolean {
  return isLoopbackAddress(address) || isWildcard(address) || self.localAddresses.has(address);
}

/** Whether a connection to `address` reaches a socket listening on `listenHost` (same port assumed). */
function reaches(self: GatewaySelf, address: string, listenHost: string): boolean {
  for (const listening of addressesOf(listenHost)) {
    if (listening === address) return true;
    // Connecting to 0.0.0.0 or :: reaches this machine: any local listener.
    if (isWildcard(address) && isLocal(self, listening)) return true;
    if (listening === '::' && isLocal(self, address)) return true;
    if (listening === '0.0.0.0' && isIP(address) === 4 && isLocal(self, address)) return true;
  }
  return false;
}

/** Which of the gateway's names `host` is (`ucgw.example.test is gateway.fqdn`), or undefined. */
export function selfNameReason(self: GatewaySelf, host: string): string | undefined {
  const key = self.names.get(canonicalHost(host));
  return key === undefined ? undefined : `${host} is ${key}`;
}

/**
 * Which of the gateway's listeners a connection to `address` (an IP
 * literal, or a loopback name such as localhost) and `port` would reach
 * (`127.0.0.1:8443 is listen.https[0] (0.0.0.0:8443)`), or undefined.
 */
export function selfAddressReason(self: GatewaySelf, address: string, port: number): string | undefined {
  for (const candidate of addressesOf(address)) {
    for (const listener of self.listeners) {
      if (listener.port === port && reaches(self, candidate, listener.host)) {
        const shown = candidate.includes(':') ? `[${candidate}]` : candidate;
        return `${shown}:${port} is ${listener.key} (${listener.host}:${listener.port})`;
      }
    }
  }
  return undefined;
}

/**
 * Why a node at `host` (a URL's host) and `port`, connected to at `address`
 * when given (else `host`), would be the gateway itself, or undefined when it
 * is not as far as names and addresses tell without DNS.
 */
export function selfTargetReason(self: GatewaySelf, host: string, port: number, address?: string): string | undefined {
  return selfNameReason(self, host) ?? selfAddressReason(self, address ?? host, port);
}
