/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and must not
 * be forwarded: passing the node's `Connection` on to the client breaks the
 * client's keep-alive, and passing the client's on to the node breaks the
 * upstream pool.
 */
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage } from 'node:http';

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'upgrade', 'transfer-encoding'];

const HOP_BY_HOP_SET = new Set(HOP_BY_HOP);

export function connectionTokens(value: string | string[] | undefined): string[] {
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

/**
 * A response's raw header list (name, value, name, value...) without the
 * hop-by-hop ones: keeps the node's casing and repeated Set-Cookie lines.
 */
export function filterResponseHeaders(raw: readonly string[]): string[] {
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') {
      named ??= new Set();
      for (const token of connectionTokens(raw[i + 1])) named.add(token);
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP_SET.has(name) || named?.has(name)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}
