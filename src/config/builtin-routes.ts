/**
 * The built-in UC allow-list: what a config without `routes` proxies. It covers
 * what Jabber and phones need from an edge (UDS discovery and directory,
 * phone services, Extension Mobility, credential change) and nothing else;
 * administration paths stay unreachable.
 *
 * Each route says what may be sent twice, because for phones the HTTP method
 * does not: a CiscoIPPhoneInput form is always submitted as GET ("CiscoIPPhoneInput
 * objects do not use the HTTP POST method", Cisco Unified IP Phone Services
 * Application Development Notes), so an Extension Mobility login, a PIN change,
 * a Personal Directory edit and authenticate.jsp are GETs that write CUCM's
 * database or bind to LDAP, and take seconds. Only UDS discovery reads, which
 * need no credentials and change nothing, are hedged.
 *
 * `service` names the Tomcat that serves the path on CUCM 14: UDS, CCMCIP and
 * CCMPD run in "Cisco UDS Tomcat", EM and change-credential in "Cisco Tomcat";
 * a cluster's `serviceChecks` can check each one apart.
 */
import type { HttpMethod, ReplayPolicy, RouteConfig } from './types.js';

const READ: readonly HttpMethod[] = ['GET', 'HEAD'];
const READ_POST: readonly HttpMethod[] = ['GET', 'HEAD', 'POST'];

/** A paging push (CGI/Execute) makes every phone call authenticate.jsp at once: at most this many reach the cluster together. */
export const AUTHENTICATE_MAX_CONCURRENT = 20;
/** Extension Mobility's "Maximum Concurrent Requests" service parameter, default 5 (CUCM Feature Configuration Guide, Extension Mobility). */
export const EM_MAX_CONCURRENT = 5;

interface BuiltInRoute {
  readonly pathPrefix: string;
  readonly methods: readonly HttpMethod[];
  readonly replay: ReplayPolicy;
  readonly service: 'uds' | 'tomcat';
  readonly maxConcurrent?: number;
  readonly affinityMode?: 'strict';
  readonly affinityParam?: string;
}

const ALLOW_LIST: readonly BuiltInRoute[] = [
  // Discovery: unauthenticated, cheap, no state. Hedged past a hung node.
  { pathPrefix: '/cucm-uds/version', methods: READ, replay: 'hedge', service: 'uds' },
  { pathPrefix: '/cucm-uds/servers', methods: READ, replay: 'hedge', service: 'uds' },
  { pathPrefix: '/cucm-uds/clusterUser', methods: READ, replay: 'hedge', service: 'uds' },
  { pathPrefix: '/cucm-uds/options', methods: READ, replay: 'hedge', service: 'uds' },
  // Authenticated reads: each try is a password check (an LDAP bind with LDAP authentication).
  { pathPrefix: '/cucm-uds/', methods: READ, replay: 'before-send', service: 'uds' },
  { pathPrefix: '/ccmcip/', methods: READ_POST, replay: 'never', service: 'uds' },
  { pathPrefix: '/ccmcip/authenticate.jsp', methods: READ_POST, replay: 'never', service: 'uds', maxConcurrent: AUTHENTICATE_MAX_CONCURRENT },
  { pathPrefix: '/ccmpd/', methods: READ_POST, replay: 'never', service: 'uds' },
  { pathPrefix: '/emapp/EMAppServlet', methods: READ_POST, replay: 'never', service: 'tomcat', maxConcurrent: EM_MAX_CONCURRENT },
  { pathPrefix: '/changecredential/', methods: READ_POST, replay: 'never', service: 'tomcat' },
  // Writes Jabber itself sends, each on the user's own resources and authenticated by CUCM: mobile push
  // registration (UDS 12.0+), so Jabber on iOS and Android can ring in the background.
  { pathPrefix: '/cucm-uds/user/*/device/*/devicetoken', methods: ['PUT', 'DELETE'], replay: 'never', service: 'uds' },
  // Remote destinations: Single Number Reach and Dial via Office, which Jabber sets up itself (UDS API
  // reference, "Remote Destination": POST and PUT on /remoteDestination/{pkid}; DELETE is passed for CUCM to answer).
  { pathPrefix: '/cucm-uds/user/*/remoteDestination/', methods: ['POST', 'PUT', 'DELETE'], replay: 'never', service: 'uds' },
  // Jabber's sign-in (OAuth with Refresh Login Flow, CUCM 12.5+): the authorization state and the code
  // live on the node that started the flow, so the token request must reach that node and no other.
  { pathPrefix: '/ssosp/oauth/', methods: READ_POST, replay: 'never', service: 'tomcat', affinityMode: 'strict', affinityParam: 'code' },
];

/** A built-in route as written in a config file: the schema fills the rest (maxQueued, queueTimeoutMs, affinityMode). */
export type BuiltInRouteEntry = Omit<RouteConfig, 'maxQueued' | 'queueTimeoutMs' | 'affinityMode'> & Partial<Pick<RouteConfig, 'affinityMode'>>;

/**
 * The built-in routes, all pointing at `cluster`, before the schema's
 * defaults. Returns fresh objects each call, so callers may freeze or extend them.
 */
export function builtInRoutes(cluster: string): BuiltInRouteEntry[] {
  return ALLOW_LIST.map((r) => ({
    pathPrefix: r.pathPrefix,
    cluster,
    methods: [...r.methods],
    replay: r.replay,
    service: r.service,
    ...(r.maxConcurrent === undefined ? {} : { maxConcurrent: r.maxConcurrent }),
    ...(r.affinityMode === undefined ? {} : { affinityMode: r.affinityMode }),
    ...(r.affinityParam === undefined ? {} : { affinityParam: r.affinityParam }),
  }));
}
