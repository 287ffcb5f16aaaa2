/**
 * What the phone-flow endpoints (EM, Change Credential, authenticate.jsp,
 * Personal Directory) share: the node's names, users and database, its EM
 * service parameters, its action log, and the request plumbing Tomcat gives
 * a servlet (parameters from the query or a form body, session lookup).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CucmNodeOptions, EmServiceParameters, SimDatabase } from './cucm-node-api.js';
import { nodeNames, type NodeNames } from './node-names.js';
import type { ActionLog } from './phone-actions.js';
import { requestSession, type RequestSession } from './tomcat-session.js';
import { sendBody, type EndpointContext } from './test-endpoints.js';

export const XML = 'text/xml; charset=UTF-8';
export const TEXT = 'text/plain; charset=utf-8';

export interface FlowConfig {
  readonly names: NodeNames;
  /** End users, user id → password (authenticate.jsp checks these). */
  readonly users: Readonly<Record<string, string>>;
  readonly db: SimDatabase;
  readonly em: Required<Omit<EmServiceParameters, 'trustedListOfIps'>> & { readonly trustedListOfIps: ReadonlySet<string> };
  readonly registeredDevices: Readonly<Record<string, string>>;
  readonly actions: ActionLog;
  /** JSESSIONIDs this node issued (all applications). */
  readonly sessions: Set<string>;
  readonly urlSessionIds: boolean;
}

/** The Feature Configuration Guide's defaults, where it states one ("The default value of 5 is acceptable in most cases"). */
export function resolveEmParameters(em: EmServiceParameters = {}): FlowConfig['em'] {
  const list = typeof em.trustedListOfIps === 'string' ? em.trustedListOfIps.split(';') : (em.trustedListOfIps ?? []);
  return {
    validateIpAddress: em.validateIpAddress ?? false,
    allowProxy: em.allowProxy ?? false,
    maximumConcurrentRequests: em.maximumConcurrentRequests ?? 5,
    trustedListOfIps: new Set(list.map((entry) => entry.trim()).filter((entry) => entry !== '')),
  };
}

/** The flow configuration of a node started with `options`, listening on `listenHost`. */
export function flowConfig(
  options: CucmNodeOptions,
  listenHost: string,
  users: Readonly<Record<string, string>>,
  db: SimDatabase,
  actions: ActionLog,
  sessions: Set<string>,
): FlowConfig {
  return {
    names: nodeNames(options.hostname, listenHost, options.ip, options.shortName),
    users,
    db,
    em: resolveEmParameters(options.em),
    registeredDevices: options.registeredDevices ?? {},
    actions,
    sessions,
    urlSessionIds: options.urlSessionIds ?? false,
  };
}

/** Tomcat's `getParameter`: query string first, then an urlencoded POST body. */
export function formParams(req: IncomingMessage, url: URL, body: Buffer): URLSearchParams {
  const params = new URLSearchParams(url.searchParams);
  if (req.method === 'POST' && /^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) {
    for (const [key, value] of new URLSearchParams(body.toString('utf8'))) if (!params.has(key)) params.set(key, value);
  }
  return params;
}

/** Servlets and JSPs here answer GET and POST (HEAD as GET); anything else is 405. */
export function getOrPost(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'POST' || req.method === 'HEAD') return true;
  sendBody(res, 405, TEXT, 'Method Not Allowed\n', { allow: 'GET, HEAD, POST' });
  return false;
}

/** Answers unless the client has gone: an action outlives its response. */
export function answer(res: ServerResponse, contentType: string, body: string): void {
  if (res.destroyed || res.writableEnded) return;
  sendBody(res, 200, contentType, body);
}

/** The request's Tomcat session in the application at `contextPath`. */
export function session(config: FlowConfig, req: IncomingMessage, res: ServerResponse, ctx: EndpointContext, contextPath: string): RequestSession {
  return requestSession(req, res, config.sessions, contextPath, ctx.pathSessionId);
}
