/**
 * Node names as the rewriter matches them. A name is a DNS name (FQDN or
 * short host name), an IPv4 address, or an IPv6 address. Everything is
 * lower-cased here once, so matching can be case-insensitive without any
 * per-request normalisation.
 */
import { isIPv6 } from 'node:net';

/** DNS allows 253 octets in a name; anything longer is not a host name. */
export const MAX_NAME_LENGTH = 253;

/** `dns` covers host names and IPv4 literals (both are dot-separated labels). */
export type NameKind = 'dns' | 'ipv6';

/** A name ready for the matcher: lower-cased, without brackets or a trailing dot. */
export interface NormalisedName {
  readonly kind: NameKind;
  /** The forms to match. IPv6 has up to three: as written, RFC 5952, and Java's uncompressed form. */
  readonly forms: readonly string[];
}

// Labels of letters, digits, '-' and '_' (underscores appear in Windows host
// names and SRV owner names); no empty labels, no leading or trailing hyphen.
const LABEL = '[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?';
const DNS_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/**
 * Validates and normalises one configured or learned name. Returns undefined
 * for anything that is not a plain host name or IP literal (URLs, `host:port`,
 * wildcards, IPv6 zone ids): those cannot be matched safely.
 */
export function normaliseName(raw: string): NormalisedName | undefined {
  let name = raw.trim().toLowerCase();
  if (name.startsWith('[') && name.endsWith(']')) name = name.slice(1, -1);
  if (name.includes(':')) {
    if (!isIPv6(name) || name.includes('%')) return undefined;
    const canonical = canonicalIpv6(name);
    return { kind: 'ipv6', forms: [...new Set([name, canonical, fullIpv6(canonical)])] };
  }
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || !DNS_NAME.test(name)) return undefined;
  return { kind: 'dns', forms: [name] };
}

/** The WHATWG URL parser prints IPv6 hosts in RFC 5952 form (compressed, lower case). */
function canonicalIpv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/**
 * Eight groups, no `::`, no leading zeros: what Java's
 * `Inet6Address.getHostAddress()` prints, so what a Tomcat/CUCM body carries.
 */
function fullIpv6(canonical: string): string {
  if (canonical.includes('.')) return canonical; // embedded IPv4: leave it to the other forms
  const [head, tail] = canonical.split('::') as [string, string | undefined];
  if (tail === undefined) return canonical;
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  return [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right].join(':');
}

/** True for an IPv4 or IPv6 literal (which has no short form to derive). */
export function isIpLiteral(name: string): boolean {
  return isIPv6(name) || /^\d{1,3}(?:\.\d{1,3}){3}$/.test(name);
}

/** Escapes a normalised name for a RegExp alternation ('.' is the only special character left). */
export function escapeForPattern(name: string): string {
  return name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
