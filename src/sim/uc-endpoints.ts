/**
 * The CUCM-facing endpoints of the simulated node: UDS (`/cucm-uds/`), the
 * phone directory and services (`/ccmcip/`), Extension Mobility (`/emapp/`),
 * Change Credential (`/changecredential/`) and the Personal Directory
 * (`/ccmpd/`), built once per node from its identity, users and database.
 * UDS's system resources are here; its user resources in uds-endpoints.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clusterUserBody, serversBody, versionBody, type UdsContext } from './uds-bodies.js';
import { directoryInputBody, directoryListBody, directoryMenuBody, searchDirectory } from './phone-xml-bodies.js';
import { sendBody, type Endpoint } from './test-endpoints.js';
import { changeCredentialEndpoint, emEndpoint } from './em-endpoints.js';
import { createPdEndpoints } from './pd-endpoints.js';
import { createCcmcipEndpoints } from './ccmcip-endpoints.js';
import { bearerUser, createOAuthEndpoints } from './oauth-endpoints.js';
import { session, type FlowConfig } from './flow-context.js';
import { encodeSessionUrls } from './tomcat-session.js';
import { createUdsUserEndpoints } from './uds-endpoints.js';
import { resolveUdsSettings, type UdsSettings } from './uds-options.js';
import type { UdsWriteLog } from './uds-writes.js';

export interface UcEndpointConfig extends UdsContext {
  /** Every node's FQDN, publisher first. */
  readonly clusterNodes: readonly string[];
  /** The FQDN of the users' home-cluster publisher. */
  readonly homeCluster: string;
  /** UDS end users: user id → password (HTTP Basic). */
  readonly users: Readonly<Record<string, string>>;
  /** The phone flows' shared state (names, database, EM parameters, action log, sessions). */
  readonly flow: FlowConfig;
  /** How UDS names servers and profiles (uds-options.ts). Default: from the node's names alone. */
  readonly uds?: UdsSettings;
  /** Where UDS writes are recorded. Default: nowhere. */
  readonly udsWrites?: UdsWriteLog;
}

const XML = 'text/xml; charset=UTF-8';
const TEXT = 'text/plain; charset=utf-8';
/** The unknown user of the clusterUser lookup. */
export const UNKNOWN_USER = 'nobody';

function readOnly(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  sendBody(res, 405, TEXT, 'Method Not Allowed\n', { allow: 'GET, HEAD' });
  return false;
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

/**
 * clusterUser takes `username`, `email` or `useridentifier` ("At least one
 * filter parameter is required", API Reference, clusterUser). Every user but
 * `nobody` is found: a user homed on another cluster is found there (UDS
 * "fans out to search remote clusters"), and the answer names that cluster.
 */
function clusterUserEndpoint(config: UcEndpointConfig, uds: UdsContext): Endpoint {
  return (req, res, ctx) => {
    if (!readOnly(req, res)) return;
    const query = ctx.url.searchParams;
    const [filter, value] = (['username', 'email', 'useridentifier'] as const).map((name) => [name, query.get(name)] as const).find(([, v]) => v) ?? [];
    if (filter === undefined || !value) return sendBody(res, 400, TEXT, 'username is required\n');
    const username = filter === 'email' ? value.split('@')[0]! : value;
    const echoed = `${filter}=${encodeURIComponent(value)}`;
    sendBody(res, 200, XML, clusterUserBody(uds, username, username !== UNKNOWN_USER, config.homeCluster, echoed));
  };
}

/** Builds the path → endpoint table of one node, plus the matcher for the user resources. */
export function createUcEndpoints(config: UcEndpointConfig): (pathname: string) => Endpoint | undefined {
  const { hostname, flow } = config;
  const settings = config.uds ?? resolveUdsSettings({}, flow.names);
  const uds: UdsContext = { hostname, version: config.version, serverName: settings.serverName };
  const fixed = new Map<string, Endpoint>([
    ['/cucm-uds/version', (req, res) => readOnly(req, res) && sendBody(res, 200, XML, versionBody(uds))],
    ['/cucm-uds/servers', (req, res) => readOnly(req, res) && sendBody(res, 200, XML, serversBody(uds, settings.clusterServers))],
    ['/cucm-uds/clusterUser', clusterUserEndpoint(config, uds)],
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
    ...createOAuthEndpoints(config),
  ]);
  const user = createUdsUserEndpoints({
    ...uds,
    users: config.users,
    // The users' "Home Cluster" box is checked where their home publisher is this cluster's.
    homed: config.homeCluster === (config.clusterNodes[0] ?? hostname),
    settings,
    db: flow.db,
    writes: config.udsWrites,
    bearerUser: (req) => bearerUser(req, flow),
  });
  return (pathname) => fixed.get(pathname) ?? user(pathname);
}
