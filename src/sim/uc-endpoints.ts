/**
 * The CUCM-facing endpoints of the simulated node: UDS (`/cucm-uds/`), the
 * phone directory (`/ccmcip/`) and Extension Mobility (`/emapp/`), built once
 * per node from its identity and its user table.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clusterUserBody, devicesBody, serversBody, userBody, versionBody, type UdsContext } from './uds-bodies.js';
import { directoryInputBody, directoryListBody, directoryMenuBody, emLoginBody, searchDirectory } from './phone-xml-bodies.js';
import { sendBody, type Endpoint } from './test-endpoints.js';

export interface UcEndpointConfig extends UdsContext {
  readonly clusterNodes: readonly string[];
  readonly homeCluster: string;
  /** UDS end users: user id → password (HTTP Basic). */
  readonly users: Readonly<Record<string, string>>;
  /** Extension Mobility: user id → PIN. */
  readonly emPins: Readonly<Record<string, string>>;
  /** JSESSIONIDs this node issued; shared with the node so tests can inspect it. */
  readonly sessions: Set<string>;
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

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Tomcat keeps a session it knows and starts a new one otherwise, so a
 * JSESSIONID issued by another node earns a fresh cookie: that is how a test
 * sees a directory client that lost its node.
 */
function withSession(sessions: Set<string>, page: Endpoint): Endpoint {
  return (req, res, ctx) => {
    if (!readOnly(req, res)) return;
    const current = cookieValue(req, 'JSESSIONID');
    if (current === undefined || !sessions.has(current)) {
      const id = randomBytes(16).toString('hex').toUpperCase();
      sessions.add(id);
      res.setHeader('set-cookie', `JSESSIONID=${id}; Path=/ccmcip/; Secure; HttpOnly`);
    }
    page(req, res, ctx);
  };
}

function formParams(req: IncomingMessage, url: URL, body: Buffer): URLSearchParams {
  const params = new URLSearchParams(url.searchParams);
  if (req.method === 'POST' && /^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) {
    for (const [key, value] of new URLSearchParams(body.toString('utf8'))) params.set(key, value);
  }
  return params;
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
  const { hostname, sessions } = config;
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
    ['/ccmcip/xmldirectory.jsp', withSession(sessions, (_req, res) => sendBody(res, 200, XML, directoryMenuBody(hostname)))],
    ['/ccmcip/xmldirectoryinput.jsp', withSession(sessions, (_req, res) => sendBody(res, 200, XML, directoryInputBody(hostname)))],
    [
      '/ccmcip/xmldirectorylist.jsp',
      withSession(sessions, (_req, res, ctx) => {
        const query = ctx.url.searchParams;
        const entries = searchDirectory({ f: query.get('f') ?? '', l: query.get('l') ?? '', n: query.get('n') ?? '' });
        sendBody(res, 200, XML, directoryListBody(hostname, entries));
      }),
    ],
    [
      '/emapp/EMAppServlet',
      (req, res, ctx) => {
        if (req.method !== 'GET' && req.method !== 'POST' && req.method !== 'HEAD') {
          return sendBody(res, 405, TEXT, 'Method Not Allowed\n', { allow: 'GET, HEAD, POST' });
        }
        const params = formParams(req, ctx.url, ctx.body);
        const userId = params.get('userid') ?? '';
        const pin = params.get('seq');
        const ok = Object.hasOwn(config.emPins, userId) && pin !== null && config.emPins[userId] === pin;
        sendBody(res, 200, XML, emLoginBody(hostname, params.get('device') ?? '', ok));
      },
    ],
  ]);
  const user = userEndpoint(config);
  return (pathname) => fixed.get(pathname) ?? (USER_PATH.test(pathname) ? user : undefined);
}
