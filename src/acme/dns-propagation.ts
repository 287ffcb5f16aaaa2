/**
 * dns-01: before the CA is asked to validate, wait until the TXT record the
 * hook published is served (`certificates.issuer.acme.dnsPropagation`).
 * A hook that returns as soon as its provider's API accepted the record is
 * the common case, and a CA that looks too early fails the authorization —
 * counted against the CA's failed-validation limit — and the renewal waits
 * for its backoff.
 *
 * Where to look, as lego and certbot do: the zone's authoritative servers,
 * found by walking up the record name to the first name with NS records and
 * resolving those servers' addresses. They answer from the zone itself, so
 * polling them never caches a "no such record" the way polling a recursive
 * resolver does (for the zone's negative TTL, often an hour). With
 * `nameservers` set (split-horizon DNS, where the CA sees an inside view),
 * exactly those are asked instead.
 *
 * Every server must serve the value: the CA may ask any of them. A server
 * that never answered at all (blocked by a firewall) does not fail the
 * challenge; the wait then ends at the timeout with a warning and the CA
 * decides. A server that answered without the value until the timeout does:
 * asking the CA then would only waste an authorization.
 *
 * When `_acme-challenge.<name>` is a CNAME (delegated to a validation zone,
 * dns-cname.ts), the chain is followed first and the record is looked for at
 * its end, from the authoritative servers of the zone that holds it.
 */
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from '../log.js';
import type { DnsPropagationConfig } from '../config/types.js';
import { AcmeError } from './acme-errors.js';
import { followCname } from './dns-cname.js';

export interface PropagationOptions extends DnsPropagationConfig {
  readonly log: Logger;
  /** Servers that find the authoritative ones; default: the system's. */
  readonly bootstrap?: readonly string[];
  /** The authoritative servers' port; 53 but in tests. */
  readonly authoritativePort?: number;
  /** Where the CNAME chain from the record name ends, when the caller has followed it already (followCname). */
  readonly target?: string;
}

/** One server to poll: its address for the resolver, and a name for messages. */
interface Source {
  readonly server: string;
  readonly label: string;
}

const QUERY = { timeout: 2_000, tries: 2 } as const;
/** Codes that mean "no such name or record here", not "could not ask". */
const ABSENT = new Set(['ENODATA', 'ENOTFOUND', 'NXDOMAIN']);

const withPort = (ip: string, port: number) => (isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`);

function resolverFor(servers: readonly string[] | undefined): Resolver {
  const resolver = new Resolver(QUERY);
  if (servers && servers.length > 0) resolver.setServers([...servers]);
  return resolver;
}

/** The zone's authoritative servers for `name`: the NS records of the nearest enclosing name that has them. */
export async function authoritativeServers(name: string, bootstrap?: readonly string[], port = 53): Promise<Source[]> {
  const resolver = resolverFor(bootstrap);
  const labels = name.replace(/\.$/, '').split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const candidate = labels.slice(i).join('.');
    let hosts: string[];
    try {
      hosts = await resolver.resolveNs(candidate);
    } catch (err) {
      if (ABSENT.has((err as NodeJS.ErrnoException).code ?? '')) continue;
      throw err;
    }
    if (hosts.length === 0) continue;
    const sources: Source[] = [];
    for (const host of hosts) {
      const addresses = await Promise.all([resolver.resolve4(host).catch(() => []), resolver.resolve6(host).catch(() => [])]);
      for (const ip of addresses.flat()) sources.push({ server: withPort(ip, port), label: `${host} (${ip})` });
    }
    if (sources.length === 0) throw new Error(`the name servers of ${candidate} (${hosts.join(', ')}) have no address`);
    return sources;
  }
  throw new Error(`no zone with NS records encloses ${name}`);
}

type Seen = 'served' | 'other' | 'unreachable';

async function look(source: Source, name: string, value: string): Promise<Seen> {
  try {
    const records = await resolverFor([source.server]).resolveTxt(name);
    // A TXT record may come in several character-strings; they form one value.
    return records.some((chunks) => chunks.join('') === value) ? 'served' : 'other';
  } catch (err) {
    return ABSENT.has((err as NodeJS.ErrnoException).code ?? '') ? 'other' : 'unreachable';
  }
}

/**
 * Resolves once every server serves `value` at `name`, or at the timeout when
 * some never answered. Rejects (challenge-failed) when one answered without it.
 */
export async function waitForTxt(name: string, value: string, options: PropagationOptions): Promise<void> {
  const { timeoutMs, intervalMs, log } = options;
  if (timeoutMs === 0) return;
  const started = Date.now();
  const record = name;
  // The name the CA reads in the end: the record itself, or where its CNAME chain ends.
  const target = options.target ?? (await followCname(name, options.nameservers.length > 0 ? options.nameservers : options.bootstrap)).target;
  const delegated = target !== name.replace(/\.$/, '').toLowerCase() ? { cname: target } : {};
  name = target;
  let sources: Source[];
  if (options.nameservers.length > 0) {
    sources = options.nameservers.map((server) => ({ server, label: server }));
  } else {
    try {
      sources = await authoritativeServers(name, options.bootstrap, options.authoritativePort);
    } catch (err) {
      log.warn(
        { event: 'acme_dns_propagation_unchecked', record, ...delegated, err: (err as Error).message },
        `cannot find the authoritative DNS servers of ${name}: asking the CA without checking (set certificates.issuer.acme.dnsPropagation.nameservers)`,
      );
      return;
    }
  }
  const pending = new Map(sources.map((source) => [source.label, source] as const));
  const answered = new Set<string>();
  for (;;) {
    const results = await Promise.all([...pending.values()].map(async (source) => [source, await look(source, name, value)] as const));
    for (const [source, seen] of results) {
      if (seen !== 'unreachable') answered.add(source.label);
      if (seen === 'served') pending.delete(source.label);
    }
    if (pending.size === 0) {
      log.info({ event: 'acme_dns_propagated', record, ...delegated, servers: sources.map((s) => s.label), ms: Date.now() - started }, `TXT ${name} is served by every name server`);
      return;
    }
    if (Date.now() - started + intervalMs > timeoutMs) break;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  const missing = [...pending.keys()];
  if (missing.some((label) => answered.has(label))) {
    throw new AcmeError('challenge-failed', `TXT ${name} not served by ${missing.join(', ')} after ${timeoutMs} ms (dnsPropagation.timeoutMs): the dnsHook's record has not reached them`);
  }
  log.warn(
    { event: 'acme_dns_propagation_unchecked', record, ...delegated, servers: missing },
    `no answer from ${missing.join(', ')} within ${timeoutMs} ms: asking the CA without knowing whether TXT ${name} is served`,
  );
}
