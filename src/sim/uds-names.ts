/**
 * How a simulated CUCM node names servers in its UDS answers and TFTP files.
 *
 * CUCM knows each node by the "Fully Qualified Domain Name/IP Address" field
 * of System > Server, which an administrator fills with a host name, an FQDN
 * or an IPv4 address (the CUCM installation guide's step for adding
 * subscriber nodes under System > Server: "Enter the Fully Qualified Domain
 * Name/IP Address field with a FQDN or IPv4 Address"; TAC document 212647, "Update
 * Unified IM and Presence (IM&P) Server Name From Hostname to Fully
 * Qualified Domain Name (FQDN)": "Modify the Fully Qualified Domain Name/IP
 * Address field from the hostname ... to the FQDN"). That value, not the
 * FQDN, is what UDS writes where it names a server from the database; links
 * built for the request carry the name the client used, which the simulator
 * takes to be its FQDN (it does not echo the Host header). Public captures
 * show both in one answer:
 *
 * - "Using Cisco Collaboration Single Sign-On with User Data Services"
 *   (developer.cisco.com, Sample REST Response, UDS 10.5.1): every `uri` on
 *   `ds-ucm105.cisco.com`, the service profile on `http://DS-UCM105:6970/`.
 * - Cisco Camelot's `get_uds_user` example (a UDS 12.5 `user` answer): `uri`,
 *   `credentials`, `devices`, `extensions` on `cam-ccm-57.camsso.test:8443`;
 *   `speedDials`, `subscribedServices`, `userLocale` on `cam-ccm-8:8443`;
 *   `serviceProfile` on `http://cam-ccm-8:6970/`.
 *
 * A short name keeps the case it was entered in; the simulator's default is
 * upper case, as in the first capture.
 */
import net from 'node:net';
import type { NodeNames } from './node-names.js';

/** How System > Server defines a node: its short name upper-cased, its FQDN, or its IP address. */
export type ServerNameForm = 'short' | 'fqdn' | 'ip';

/**
 * The forms a cluster's nodes take by default, publisher first, repeating:
 * real clusters mix them (one node added by host name, another by address),
 * and a gateway must recognise every form in one answer.
 */
export const MIXED_SERVER_NAMES: readonly ServerNameForm[] = ['short', 'ip', 'fqdn'];

/** The System > Server name of a node known by `names`, in `form`. */
export function serverName(names: NodeNames, form: ServerNameForm): string {
  if (form === 'fqdn') return names.fqdn;
  if (form === 'ip') return names.ip;
  return names.shortName;
}

/** `scheme://host[:port]path`, with an IPv6 address in brackets. */
export function hostLink(scheme: 'http' | 'https', host: string, port: number | undefined, path: string): string {
  const authority = net.isIPv6(host) ? `[${host}]` : host;
  return `${scheme}://${authority}${port === undefined ? '' : `:${port}`}${path}`;
}

/** True when the full CUCM version `version` (`14.0.1.13900-155`) is `major.minor` or later. */
export function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split('.').map((part) => Number.parseInt(part, 10));
  return a > major || (a === major && b >= minor);
}
