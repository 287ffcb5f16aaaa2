/**
 * IP address syntax: the one part of node:net that does no I/O. Layers that
 * must not open sockets (pki, config: see .dependency-cruiser.cjs) import it
 * from here, so a rule can forbid node:net to them outright.
 */
import { isIP } from 'node:net';

export { isIP, isIPv4, isIPv6 } from 'node:net';

/**
 * The SNI to send for a name: none for an IP literal. RFC 6066 section 3 allows
 * only host names in server_name, and Node warns (DEP0123) on every connection
 * that sets one to an address; the certificate is still checked against the
 * address (its IP SANs).
 */
export function sniName(name: string): string | undefined {
  return isIP(name) === 0 ? name : undefined;
}
