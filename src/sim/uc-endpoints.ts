/**
 * The CUCM-facing endpoints of the simulated node: UDS (`/cucm-uds/`), the
 * phone directory and services (`/ccmcip/`), Extension Mobility (`/emapp/`),
 * Change Credential (`/changecredential/`) and the Personal Directory
 * (`/ccmpd/`), built once per node from its identity, users and database.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clusterUserBody, devicesBody, serversBody, userBody, versionBody, type UdsContext } from './uds-bodies.js';
import { directoryInputBody, directoryListBody, directoryMenuBody, searchDirectory } from './phone-xml-bodies.js';
import { sendBody, type Endpoint } from './test-endpoints.js';
import { changeCredentialEndpoint, emEndpoint } from './em-endpoints.js';
import { createPdEndpoints } from './pd-endpoints.js';
import { createCcmcipEndpoints } from './ccmcip-endpoints.js';
import { session, type FlowConfig } from './flow-context.js';
import { encodeSessionUrls } from './tomcat-session.js';

export interface UcEndpointConfig extends UdsContext {
  readonly clusterNodes: readonly string[];
  readonly homeCluster: string;
  /** UDS end users: user id → password (HTTP Basic). */
  readonly users: Readonly<Record<string, string>>;
  /** The phone flows' shared state (names, database, EM parameters, action log, sessions). */
  readonly flow: FlowConfig;
}

const XML = 'text/xml; charset=UTF-8';
const TEXT = 'text/plain; charset=utf-8';
const USER_PATH = /^\/cucm-uds\/user\/([^/]+)(\/devices)?$/;
/** The unknown user of the clusterUser lookup. */
export const UNKNOWN_USER = 'nobody';

function readOnly(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  sendBody(res, 405, TEXT, 'Method Not Allowed\n', { allow: 'GET, HEAD' });
  return false;
}

function basicUser(req: IncomingMessage, users: Readonly<Record<string, string>>): string | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const user = decoded.slice(0, colon);
  return Object.hasOwn(users, user) && users[user] === decoded.slice(colon + 1) ? user : undefined;
}

/**
 * A read-only page of the corporate directory, in the `/ccmcip` Tomcat
 * session (see tomcat-session.ts for the cookie and URL rewriting).
 */
function directoryPage(flow: FlowConfig, page: (ctx: Parameters<Endpoint>[2]) => string): Endpoint {
  return (req, res, ctx) => {
    if (!readOnly(req, res)) return;
    const tomcat = session(flow, req, res, ctx, '/ccmcip');
    const body = page(ctx);
    sendBody(res, 200, XML, flow.urlSessionIds ? encodeSessionUrls(body, '/ccmcip', tomcat) : body);
  };
}

function userEndpoint(config: UcEndpointConfig): Endpoint {
  const userIds = Object.keys(config.users);
  return (req, res, ctx) => {
    if (!readOnly(req, res)) return;
    const match = USER_PATH.exec(ctx.url.pathname)!;
    let userId: string;
    try {
      userId = decodeURIComponent(match[1]!);
    } catch {
      return sendBody(res, 400, TEXT, 'Bad user id\n');
    }
    const caller = basicUser(req, config.users);
    if (caller === undefined) {
      return sendBody(res, 401, TEXT, 'Unauthorized\n', { 'www-authenticate': 'Basic realm="Cisco UDS"' });
    }
    // UDS lets an end user read only their own resources.
    if (caller !== userId) return sendBody(res, 403, TEXT, 'Forbidden\n');
    const body = match[2]
      ? devicesBody(config, userId)
      : userBody(config, userId, String(1001 + userIds.indexOf(userId)));
    sendBody(res, 200, XML, body);
  };
}

/** Builds the path → endpoint table of one node, plus the matcher for `/cucm-uds/user/{id}`. */
export function createUcEndpoints(config: UcEndpointConfig): (pathname: string) => Endpoint | undefined {
  const { hostname, flow } = config;
  const fixed = new Map<string, Endpoint>([
    ['/cucm-uds/version', (req, res) => readOnly(req, res) && sendBody(res, 200, XML, versionBody(config))],
    ['/cucm-uds/servers', (req, res) => readOnly(req, res) && sendBody(res, 200, XML, serversBody(config, config.clusterNodes))],
    [
      '/cucm-uds/clusterUser',
      (req, res, ctx) => {
        if (!readOnly(req, res)) return;
        const username = ctx.url.searchParams.get('username');
        if (!username) return sendBody(res, 400, TEXT, 'username is required\n');
        sendBody(res, 200, XML, clusterUserBody(config, username, username !== UNKNOWN_USER, config.homeCluster));
      },
    ],
    ['/ccmcip/xmldirectory.jsp', directoryPage(flow, () => directoryMenuBody(hostname))],
    ['/ccmcip/xmldirectoryinput.jsp', directoryPage(flow, () => directoryInputBody(hostname))],
    [
      '/ccmcip/xmldirectorylist.jsp',
      directoryPage(flow, (ctx) => {
        const query = ctx.url.searchParams;
        return directoryListBody(hostname, searchDirectory({ f: query.get('f') ?? '', l: query.get('l') ?? '', n: query.get('n') ?? '' }));
      }),
    ],
    ...createCcmcipEndpoints(flow),
    ['/emapp/EMAppServlet', emEndpoint(flow)],
    ['/changecredential/ChangeCredentialServlet', changeCredentialEndpoint(flow)],
    ...createPdEndpoints(flow),
  ]);
  const user = userEndpoint(config);
  return (pathname) => fixed.get(pathname) ?? (USER_PATH.test(pathname) ? user : undefined);
}
