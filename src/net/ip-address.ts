/**
 * IP address syntax: the one part of node:net that does no I/O. Layers that
 * must not open sockets (pki, config: see .dependency-cruiser.cjs) import it
 * from here, so a rule can forbid node:net to them outright.
 */
import { isIP } from 'node:net';

export { isIP, isIPv4, isIPv6 } from 'node:net';

/** A loopback address: ::1 or anything in 127.0.0.0/8 (names such as localhost are not addresses). */
export function isLoopbackAddress(address: string): boolean {
  return address === '::1' || (isIP(address) === 4 && address.startsWith('127.'));
}
