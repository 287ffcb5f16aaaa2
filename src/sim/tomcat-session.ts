/**
 * Tomcat's session handling as CUCM's phone-service web applications get it:
 * a `JSESSIONID` cookie scoped to the application's context path, the same
 * id accepted from a `;jsessionid=` path parameter, and (when enabled) URL
 * rewriting that writes the id into links.
 *
 * The cookie path has no trailing slash: a capture of CUCM's answer to
 * `authenticate.jsp` (UPLINX Phone Control Tool user guide, "69xx Phone
 * Authentication", CUCM after 11.5) shows
 * `Set-Cookie: JSESSIONID=F9F7...; Path=/ccmcip; Secure; HttpOnly`, which is
 * Tomcat's default (Context attribute `sessionCookiePathUsesTrailingSlash`
 * false). The same rule gives `/ccmpd` and `/emapp`.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface RequestSession {
  readonly id: string;
  /** The client presented this session's id in a cookie (so Tomcat does not rewrite URLs). */
  readonly fromCookie: boolean;
}

export function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Splits `;name=value` path parameters off every segment, as Tomcat does
 * before mapping a request to a servlet, and returns the `jsessionid` one
 * (matched case-insensitively, the way gateways and phones write it).
 */
export function stripPathParameters(pathname: string): { readonly pathname: string; readonly jsessionid: string | undefined } {
  if (!pathname.includes(';')) return { pathname, jsessionid: undefined };
  let jsessionid: string | undefined;
  const segments = pathname.split('/').map((segment) => {
    const [name, ...params] = segment.split(';');
    for (const param of params) {
      const eq = param.indexOf('=');
      if (eq > 0 && param.slice(0, eq).toLowerCase() === 'jsessionid') jsessionid = param.slice(eq + 1);
    }
    return name!;
  });
  return { pathname: segments.join('/'), jsessionid };
}

/**
 * Finds the request's session among `known` (cookie first, then the path
 * parameter) or starts one and sets its cookie. Tomcat keeps a session it
 * knows and starts a new one otherwise, so a JSESSIONID issued by another
 * node earns a fresh cookie: that is how a test sees a client that lost its node.
 */
export function requestSession(
  req: IncomingMessage,
  res: ServerResponse,
  known: Set<string>,
  contextPath: string,
  pathSessionId: string | undefined,
): RequestSession {
  const fromCookie = cookieValue(req, 'JSESSIONID');
  if (fromCookie !== undefined && known.has(fromCookie)) return { id: fromCookie, fromCookie: true };
  if (pathSessionId !== undefined && known.has(pathSessionId)) return { id: pathSessionId, fromCookie: false };
  const id = randomBytes(16).toString('hex').toUpperCase();
  known.add(id);
  res.appendHeader('set-cookie', `JSESSIONID=${id}; Path=${contextPath}; Secure; HttpOnly`);
  return { id, fromCookie: false };
}

/**
 * Tomcat's `encodeURL`: while the session id did not come from a cookie, a
 * link into the same application carries `;jsessionid=<id>` after its path.
 * Applied to every `URL` element and `URL="..."` attribute of a phone XML body.
 */
export function encodeSessionUrls(body: string, contextPath: string, session: RequestSession | undefined): string {
  if (session === undefined || session.fromCookie) return body;
  const rewrite = (url: string): string => {
    const match = /^(https?:\/\/[^/]+)?(\/[^?#]*)(.*)$/s.exec(url);
    if (!match || !(match[2] === contextPath || match[2]!.startsWith(`${contextPath}/`)) || match[2]!.includes(';')) return url;
    return `${match[1] ?? ''}${match[2]};jsessionid=${session.id}${match[3]}`;
  };
  return body
    .replace(/<URL>([^<]*)<\/URL>/g, (_all, url: string) => `<URL>${rewrite(url)}</URL>`)
    .replace(/URL="([^"]*)"/g, (_all, url: string) => `URL="${rewrite(url)}"`);
}
