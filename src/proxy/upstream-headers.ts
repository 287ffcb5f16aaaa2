/**
 * The header list a node receives, built in one pass over the client's raw
 * headers (casing and repeated lines kept): hop-by-hop headers and those the
 * client's `Connection` names dropped, the admin dashboard's session cookie
 * removed, every forwarding header the client sent removed (FORWARDING below),
 * `Host` set to the node's own name (CUCM 14SU1+ refuses names it does not
 * know) and `X-Forwarded-For/-Proto/-Host/-Port` set by us from what the
 * gateway knows. `Transfer-Encoding` and `Expect` go too: the pool frames
 * the body itself (chunked when its length is not declared), and the client's
 * `100-continue` was answered by the gateway's own server.
 *
 * A flat [name, value, ...] array goes to the pool as is, which writes the
 * head without building a header map first.
 */
import type { IncomingMessage } from 'node:http';
import { connectionTokens } from './hop-by-hop.js';

/** Lower-case names that never go upstream as the client sent them: this connection's, and ours. */
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
  'transfer-encoding',
  'expect',
]);

/**
 * Forwarding headers: who the client is, how and where it connected, which
 * URL or method it "really" asked for. Only the gateway knows these, so
 * whatever a client sends under these names is a claim made to whatever
 * trusts them behind us (Tomcat's RemoteIpValve and SSLValve, a
 * `getClientIp()` helper reading the usual list, IIS-style URL rewriting, a
 * method-override filter). Each is removed; the gateway then sets
 * `X-Forwarded-For/-Proto/-Host/-Port` itself. Every name starting with
 * `x-forwarded` (FORWARDING_PREFIX) goes too: `-For`, `-Proto`, `-Host`,
 * `-Port`, `-Server`, `-Prefix`, `-Ssl`, `-Scheme`, `-Uri`, `-Client-Cert`...
 *
 * `Via` is not here: it is a protocol header intermediaries append to, not a
 * claim about the client (EM treats a request with `Via` as proxied; a client
 * that sends one only speaks for itself).
 */
export const FORWARDING_HEADERS: ReadonlySet<string> = new Set([
  // Who the client is.
  'forwarded', // RFC 7239: for=, proto=, host=, by=
  'x-real-ip', // nginx
  'true-client-ip', // Akamai, Cloudflare
  'x-client-ip',
  'client-ip',
  'x-cluster-client-ip', // Rackspace, Riverbed
  'x-proxyuser-ip', // Google
  'cf-connecting-ip', // Cloudflare
  'cf-connecting-ipv6',
  'fastly-client-ip', // Fastly
  'x-azure-clientip', // Azure Front Door
  'x-azure-socketip',
  'x-originating-ip', // Microsoft
  'x-remote-ip',
  'x-remote-addr',
  'x-original-forwarded-for', // Kubernetes ingress-nginx
  'proxy-client-ip', // what Java getClientIp() helpers read after X-Forwarded-For
  'wl-proxy-client-ip', // WebLogic's plug-in
  'http_client_ip',
  'http_x_forwarded_for',
  // Where and how it connected.
  'x-original-host', // IIS ARR, Azure
  'x-host',
  'front-end-https', // Microsoft: "on" claims TLS
  'x-url-scheme',
  // Which URL it asked for: IIS URL Rewrite headers that frameworks take as the request path,
  // so a route chosen on one path would carry another.
  'x-original-url',
  'x-rewrite-url',
  'x-original-uri', // nginx auth_request
  // Which method it used: the route's `methods` decided on the request line, not on a header.
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  // The client certificate a TLS terminator saw: the gateway terminates TLS, so only it could say.
  'ssl_client_cert', // Tomcat SSLValve
  'ssl_client_escaped_cert',
  'ssl_cipher',
  'ssl_session_id',
  'ssl_cipher_usekeysize',
  'x-ssl-client-cert',
  'x-client-cert',
  'x-arr-clientcert', // IIS ARR
]);

/** Every header whose lower-case name starts with this is a forwarding header too. */
export const FORWARDING_PREFIX = 'x-forwarded';

/** Whether a lower-case header name is one of the forwarding headers only the gateway may set. */
export function isForwardingHeader(lower: string): boolean {
  return FORWARDING_HEADERS.has(lower) || lower.startsWith(FORWARDING_PREFIX);
}

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** The client's address as a node expects it: an IPv4 client of a dual-stack listener without its `::ffff:` form. */
export function clientAddress(address: string | undefined): string {
  if (address === undefined) return '';
  const m = MAPPED_V4.exec(address);
  return m === null ? address : m[1]!;
}

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

/**
 * Everything but `Host`, which each try puts first with its node's name.
 * `port` is the listener's port (`X-Forwarded-Port`); by default the local
 * port of the client's connection, which is the same thing.
 */
export function upstreamHeaders(req: IncomingMessage, proto: 'https' | 'http', port: number | undefined = req.socket.localPort): string[] {
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
    if (DROPPED.has(lower) || isForwardingHeader(lower) || named?.has(lower)) continue;
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
  out.push('X-Forwarded-For', clientAddress(req.socket.remoteAddress), 'X-Forwarded-Proto', proto);
  const host = req.headers.host;
  if (host) out.push('X-Forwarded-Host', host);
  if (port !== undefined) out.push('X-Forwarded-Port', String(port));
  return out;
}
