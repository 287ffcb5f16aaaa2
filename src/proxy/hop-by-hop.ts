/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and must not
 * be forwarded: passing the node's `Connection` on to the client breaks the
 * client's keep-alive, and passing the client's on to the node breaks the
 * upstream pool.
 */
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage } from 'node:http';

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'upgrade', 'transfer-encoding'];

function connectionTokens(value: string | string[] | undefined): string[] {
  if (!value) return [];
  const joined = Array.isArray(value) ? value.join(',') : value;
  return joined.split(',').map((token) => token.trim().toLowerCase()).filter((token) => token.length > 0);
}

/** In place, on a response's headers before they are copied to the client. */
export function stripHopByHop(headers: IncomingHttpHeaders): void {
  for (const token of connectionTokens(headers.connection)) delete headers[token];
  for (const name of HOP_BY_HOP) delete headers[name];
}

/** On the outgoing request before its head is written. Transfer-Encoding stays: Node re-frames the body itself. */
export function stripHopByHopRequest(proxyReq: ClientRequest, req: IncomingMessage): void {
  for (const token of connectionTokens(req.headers.connection)) if (token !== 'transfer-encoding') proxyReq.removeHeader(token);
  for (const name of HOP_BY_HOP) if (name !== 'transfer-encoding') proxyReq.removeHeader(name);
}
