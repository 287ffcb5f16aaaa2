/**
 * The string formats the configuration schema names (`format: 'dns-name'` and
 * the rest), as plain predicates: ajv gets them through `configFormats`, and
 * the loader's cross-key rules use the same ones.
 */
import { isIP, isLoopbackAddress } from '../net/ip-address.js';
import { parseRedisUrl, isRedisTarget } from './redis-url.js';

const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
// SRV owner names carry `_service._proto.` labels (RFC 2782).
const SRV_LABEL = /^_?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function labelsMatch(s: string, label: RegExp): boolean {
  return s.length > 0 && s.length <= 253 && s.split('.').every((l) => label.test(l));
}

/** A host name made of DNS labels (not an IP address literal). */
export function isDnsName(s: string): boolean {
  return isIP(s) === 0 && labelsMatch(s, DNS_LABEL);
}

/** A DNS name or an IPv4/IPv6 address literal (no brackets). */
export function isHost(s: string): boolean {
  return isIP(s) !== 0 || isDnsName(s);
}

/** Hosts that only this machine can reach; plain HTTP is tolerated there. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || isLoopbackAddress(h);
}

function isHttpsUrl(s: string): boolean {
  if (!/^https:\/\//i.test(s)) return false;
  try {
    const u = new URL(s);
    return u.protocol === 'https:' && u.hostname !== '' && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}

function isRedisUrl(s: string): boolean {
  return isRedisTarget(parseRedisUrl(s));
}

/** A DNS server as Node's resolver takes it: an IP address, `IPv4:port` or `[IPv6]:port` (never a name: nothing would resolve it). */
function isDnsServer(s: string): boolean {
  if (isIP(s) !== 0) return true;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(s);
  if (m === null) return false;
  const port = Number(m[3]);
  return port >= 1 && port <= 65535 && (m[1] !== undefined ? isIP(m[1]) === 6 : isIP(m[2] ?? '') === 4);
}

/** The `format` validators the schema refers to, for `ajv.addFormat`. */
export const configFormats: Readonly<Record<string, (s: string) => boolean>> = {
  'dns-name': isDnsName,
  host: isHost,
  'srv-name': (s) => labelsMatch(s, SRV_LABEL),
  'dns-server': isDnsServer,
  'https-url': isHttpsUrl,
  'redis-url': isRedisUrl,
};
