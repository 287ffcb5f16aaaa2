/**
 * Routes the deny list makes pointless, for `ucgate check`'s warnings: the
 * proxy's own table (deny-list.ts) answers, so the config layer need not
 * know it.
 */
import { isObj, showText } from '../config/plain-data.js';
import { shadowingEntry } from './deny-list.js';

/**
 * Issue 17: what `ucgate check` warns about (stderr, exit 0): a route the hard
 * deny list refuses whole (`/ccmadmin/`, `/car/`, `/ssosp/local/`...) carries
 * nothing, which is most likely a route written for something the gateway will
 * never expose. Not an error: refusing it is what the gateway does anyway. A
 * route that names an opt-in path (`/ma/`, `/cucm-uds/private/`) opens it, and
 * `/ssosp/` still carries Jabber's `/ssosp/oauth/`: neither is warned about.
 */
export function routeWarnings(routes: unknown): string[] {
  const out: string[] = [];
  (Array.isArray(routes) ? routes : []).forEach((r: unknown, i) => {
    if (!isObj(r) || typeof r.pathPrefix !== 'string') return;
    const denied = shadowingEntry(r.pathPrefix);
    if (denied !== undefined) out.push(`routes[${i}].pathPrefix: ${showText(r.pathPrefix)} is always refused (${denied.what})`);
  });
  return out;
}
