/**
 * Which upstream session a request belongs to, and which sessions an answer
 * hands out. CUCM keeps its Tomcat sessions (JSESSIONID, as a cookie or, by
 * URL rewriting, a `;jsessionid=` path parameter) on the node that issued
 * them, and its OAuth authorization codes too: a request that names one goes
 * back to that node (request-handler.ts decides how strictly). Session ids and
 * codes are credentials: used as sticky-table keys only, never logged.
 */
import type { IncomingMessage } from 'node:http';
import type { RouteConfig } from '../config/types.js';
import type { ClusterRuntime } from './proxy-state.js';
import type { UpstreamResponse } from './upstream-response.js';
import { requestSessionId, responseSessionId } from '../upstream/sticky-sessions.js';
import { isForm, paramInLocation, paramKey, paramValue } from './param-affinity.js';

/** The session cookie of a route: its own, the cluster's sticky cookie, else Tomcat's. `none` turns it off. */
export function affinityCookieOf(route: RouteConfig, cluster: ClusterRuntime): string | undefined {
  const cookie = route.affinity ?? cluster.config.sticky?.cookie ?? 'JSESSIONID';
  return cookie === 'none' ? undefined : cookie;
}

/**
 * The session a request names: its cookie or `;jsessionid=` path parameter,
 * else the route's `affinityParam` in the query or (a form read whole) the body.
 */
export function requestSession(
  req: IncomingMessage,
  route: RouteConfig,
  cookie: string | undefined,
  target: { readonly forwardPath: string; readonly query: string },
  body: Buffer | undefined,
): string | undefined {
  const bySession = cookie === undefined ? undefined : requestSessionId(req.headers.cookie, target.forwardPath, cookie);
  const param = route.affinityParam;
  if (bySession !== undefined || param === undefined) return bySession;
  let value = paramValue(target.query.slice(1), param);
  if (value === undefined && body !== undefined && isForm(req)) value = paramValue(body.toString('latin1'), param);
  return value === undefined ? undefined : paramKey(param, value);
}

/** The sessions an answer hands out: a new session cookie, and the `affinityParam` in a redirect's Location. */
export function issuedSessions(res: UpstreamResponse, route: RouteConfig, cookie: string | undefined, current: string | undefined): string[] {
  const issued: string[] = [];
  if (cookie !== undefined) {
    const id = responseSessionId(res.headers['set-cookie'], cookie);
    if (id && id !== current) issued.push(id);
  }
  const param = route.affinityParam;
  const status = res.statusCode ?? 0;
  if (param !== undefined && status >= 300 && status < 400) {
    const handedOut = paramInLocation(res.headers.location, param);
    if (handedOut !== undefined) issued.push(paramKey(param, handedOut));
  }
  return issued;
}
