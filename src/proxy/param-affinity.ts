/**
 * Node affinity by a request parameter (`routes[].affinityParam`). CUCM's
 * OAuth hands Jabber an authorization code in the authorize answer's redirect
 * (`Location: <redirect_uri>?code=...`), and only the node that issued it can
 * exchange it: the token request (a form POST from Jabber itself, with no
 * browser cookie) carries nothing else that names the node. So the gateway
 * learns `code → node` from the redirect and routes the token request by the
 * code in its form body, which is small and read whole before a node is
 * chosen (body-reader.ts).
 *
 * Values are credentials: kept only as sticky-table keys, never logged.
 */
import type { IncomingMessage } from 'node:http';
import { formBodyKind } from './tomcat-params.js';

/** The sticky-table key of a parameter value: apart from cookie session ids. */
export function paramKey(param: string, value: string): string {
  return `${param}=${value}`;
}

/** The value of `param` in a query string or form body (`a=1&b=2`), decoded; undefined when absent or empty. */
export function paramValue(encoded: string, param: string): string | undefined {
  const prefix = `${param}=`;
  let start = 0;
  while (start <= encoded.length) {
    let end = encoded.indexOf('&', start);
    if (end < 0) end = encoded.length;
    if (encoded.startsWith(prefix, start)) {
      const raw = encoded.slice(start + prefix.length, end).replace(/\+/g, ' ');
      try {
        return decodeURIComponent(raw) || undefined;
      } catch {
        return raw || undefined;
      }
    }
    start = end + 1;
  }
  return undefined;
}

/** The parameter handed out in a redirect: `Location: ...?code=X` (or in its fragment, as implicit flows do). */
export function paramInLocation(location: string | undefined, param: string): string | undefined {
  if (location === undefined) return undefined;
  const q = location.search(/[?#]/);
  if (q < 0) return undefined;
  return paramValue(location.slice(q + 1).replace(/#/g, '&'), param);
}

/** Whether the request's body is a form whose parameters may name the session (read as Tomcat reads them). */
export function isForm(req: IncomingMessage): boolean {
  return formBodyKind(req) === 'form';
}
