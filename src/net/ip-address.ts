/**
 * IP address syntax: the one part of node:net that does no I/O. Layers that
 * must not open sockets (pki, config: see .dependency-cruiser.cjs) import it
 * from here, so a rule can forbid node:net to them outright.
 */
export { isIP, isIPv4, isIPv6 } from 'node:net';
