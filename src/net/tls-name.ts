/**
 * How a connection to a CUCM node names it in TLS. RFC 6066 section 3 allows only
 * host names in server_name, and Node warns (DEP0123) on every connection that
 * sets one to an address: a node configured by IP address gets no SNI. Its
 * certificate is still checked against that name (an IP SAN for an address),
 * whatever host the socket really connects to.
 */
import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';

export interface TlsNameOptions {
  servername?: string;
  checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
}

/** `name` as a URL's hostname gives it: an IPv6 address keeps its brackets there, not here. */
export function tlsNameOptions(hostname: string): TlsNameOptions {
  const name = hostname.replace(/^\[|\]$/g, '');
  return {
    ...(isIP(name) === 0 && { servername: name }),
    checkServerIdentity: (_host, cert) => checkServerIdentity(name, cert),
  };
}
