/**
 * The header list a node receives, built in one pass over the client's raw
 * headers (casing and repeated lines kept): hop-by-hop headers and those the
 * client's `Connection` names dropped, the admin dashboard's session cookie
 * removed, `Host` set to the node's own name (CUCM 14SU1+ refuses names it
 * does not know) and `X-Forwarded-For/-Proto/-Host` set by us, never taken
 * from the client. `Transfer-Encoding` and `Expect` go too: the pool frames
 * the body itself (chunked when its length is not declared), and the client's
 * `100-continue` was answered by the gateway's own server.
 *
 * A flat [name, value, ...] array goes to the pool as is, which writes the
 * head without building a header map first.
 */
import type { IncomingMessage } from 'node:http';
import { connectionTokens } from './hop-by-hop.js';

/** Lower-case names that never go upstream as the client sent them. */
const DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'transfer-encoding',
  'expect',
]);
const ADMIN_COOKIE = /^\s*(?:__Host-)?ucgate_session=/;

/** The dashboard's session cookie is ours; a browser sends it to any port of the same host. */
function withoutAdminCookie(value: string): string | undefined {
  if (!value.includes('ucgate_session=')) return value;
  const kept = value
    .split(';')
    .filter((part) => !ADMIN_COOKIE.test(part))
    .join(';');
  return kept.trim() ? kept : undefined;
}

/** Everything but `Host`, which each try puts first with its node's name. */
export function upstreamHeaders(req: IncomingMessage, proto: 'https' | 'http'): string[] {
  const raw = req.rawHeaders;
  const connection = req.headers.connection;
  // Tokens such as "close" or "keep-alive" name no header worth a set; anything else is an extension hop-by-hop header.
  let named: Set<string> | undefined;
  if (connection !== undefined) {
    for (const token of connectionTokens(connection)) {
      if (token !== 'close' && token !== 'keep-alive' && token !== 'transfer-encoding') (named ??= new Set()).add(token);
    }
  }
  const out: string[] = [];
  let hasLength = false;
  let hasCoding = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (lower === 'transfer-encoding') hasCoding = true;
    if (DROPPED.has(lower) || named?.has(lower)) continue;
    if (lower === 'cookie') {
      const kept = withoutAdminCookie(raw[i + 1]!);
      if (kept !== undefined) out.push(name, kept);
      continue;
    }
    if (lower === 'content-length') hasLength = true;
    out.push(name, raw[i + 1]!);
  }
  // Nodes have always seen this (http-proxy added it): the pool frames no body for these methods, so say there is none.
  if (!hasLength && !hasCoding && (req.method === 'DELETE' || req.method === 'OPTIONS')) out.push('Content-Length', '0');
  out.push('X-Forwarded-For', req.socket.remoteAddress ?? '', 'X-Forwarded-Proto', proto);
  const host = req.headers.host;
  if (host) out.push('X-Forwarded-Host', host);
  return out;
}
