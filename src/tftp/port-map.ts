/**
 * Where URLs naming a node's port go once rewritten, from the ports the
 * gateway's listeners really bound (port 0 in tests binds any free port, so
 * this is known only after listening).
 *
 * UDS answers name the TFTP service (`serviceProfile uri="http://node:6970/..."`):
 * with the TFTP listeners on, 6970/6972 go to them. TFTP files name HTTP
 * services (directories on 8080, UDS and authentication on 8443): those go
 * to the main listeners, never to the TFTP listener the file came through.
 */
import type { PortMapping, Scheme } from '../rewrite/index.js';

/** One open listener: its role, the port the config asked for, the port it has. */
export interface BoundListener {
  readonly role: 'main' | 'tftp';
  readonly scheme: Scheme;
  readonly configuredPort: number;
  readonly port: number;
  readonly legacy: boolean;
}

type PortMap = Record<number, PortMapping>;

const TFTP_HTTP = 6970;
const TFTP_HTTPS = 6972;
const HTTPS_SERVICE_PORTS = [443, 8443, 9443];
const HTTP_SERVICE_PORTS = [80, 8080];

function first(listeners: readonly BoundListener[], role: BoundListener['role'], scheme: Scheme, configuredPort?: number): BoundListener | undefined {
  const fit = listeners.filter((l) => l.role === role && l.scheme === scheme && !l.legacy);
  return (configuredPort === undefined ? undefined : fit.find((l) => l.configuredPort === configuredPort)) ?? fit[0];
}

/** Tagged with the listeners' role: a link is decided by the paths of the listeners it lands on (proxy/link-routing.ts). */
function mapping(listener: BoundListener | undefined): PortMapping | undefined {
  return listener === undefined ? undefined : { port: listener.port, scheme: listener.scheme, plane: listener.role };
}

function tftpPorts(listeners: readonly BoundListener[]): PortMap {
  const http = first(listeners, 'tftp', 'http');
  const https = first(listeners, 'tftp', 'https');
  const out: PortMap = {};
  // With one of the pair off, its URLs go to the other: a file is a file on either.
  const plain = mapping(http ?? https);
  const secure = mapping(https ?? http);
  if (plain !== undefined) out[TFTP_HTTP] = plain;
  if (secure !== undefined) out[TFTP_HTTPS] = secure;
  return out;
}

/** The port map for answers of the main listeners; empty while the TFTP listeners are off (nothing changes then). */
export function udsPortMap(listeners: readonly BoundListener[]): PortMap {
  return tftpPorts(listeners);
}

/** The port map for TFTP files: HTTP services to the main listeners, TFTP URLs to the TFTP listeners. */
export function tftpFilePortMap(listeners: readonly BoundListener[]): PortMap {
  const out: PortMap = tftpPorts(listeners);
  for (const port of HTTPS_SERVICE_PORTS) {
    const target = mapping(first(listeners, 'main', 'https', port));
    if (target !== undefined) out[port] = target;
  }
  for (const port of HTTP_SERVICE_PORTS) {
    // No plain listener: the service's HTTPS twin on the main listener (CUCM serves both).
    const target = mapping(first(listeners, 'main', 'http', port) ?? first(listeners, 'main', 'https', 8443));
    if (target !== undefined) out[port] = target;
  }
  return out;
}
