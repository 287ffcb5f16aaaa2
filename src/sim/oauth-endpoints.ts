/**
 * CUCM's OAuth service ("OAuth with Refresh Login Flow", the authorization
 * code grant Jabber 11.9+ uses for SSO and non-SSO users alike) as the
 * simulated node runs it:
 *
 * - `GET /ssosp/oauth/authorize` starts a sign-in and sends the browser to the
 *   Unified CM login page, or to the IdP when the cluster has SAML SSO;
 * - the login page (`/ssosp/oauth/login`, GET shows it, POST checks the
 *   credentials) and the SAML assertion-consumer service issue a one-use
 *   authorization code on a redirect to the client's `redirect_uri`;
 * - `POST /ssosp/oauth/token` exchanges the code (or a refresh token) for tokens;
 * - `GET /ssosp/token/revoke` is the administrator's revoke API;
 * - `bearerUser` is how a resource (UDS) accepts `Authorization: Bearer`.
 *
 * Node-local, as the issue under test states CUCM keeps it: the Tomcat
 * session (`JSESSIONID`, Path `/ssosp`) holding the authorization request,
 * pending SAML requests, and the authorization codes, so a code is redeemed
 * only on the node that issued it. Cluster-wide (the database): keys,
 * parameters, refresh tokens; access tokens are self-contained.
 *
 * Sources (each behaviour below names its own):
 * - TAC 216948, "Configure SAML SSO on Cisco Unified Communications Manager
 *   with ADFS 3.0", section "OAuth": "The OAuth server redirects the user to
 *   an authentication service. This may be running on Unified CM or an
 *   external IdP if SAML SSO is enabled"; the code is "a one-use,
 *   short-lived unique code"; the client presents it, and later its refresh
 *   token, "together with the client secret"; a user must be active for a
 *   token to be accepted; the revoke answer.
 * - System Configuration Guide for CUCM 12.5(1), "Configure Cisco Jabber"
 *   (SysConfig 12.5): token lifetimes, the checks on every token, and "Revoke
 *   Existing OAuth Refresh Tokens" (`/ssosp/token/revoke?user_id=`, "protected
 *   by AXL credentials").
 * - DevNet support article "Bad Request for SSO Request URI": the authorize
 *   URL and CUCM's answer to a request it cannot serve.
 * - RFC 6749 where no Cisco source describes the wire format (marked so).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Endpoint } from './test-endpoints.js';
import { sendBody } from './test-endpoints.js';
import { formParams, session, TEXT, type FlowConfig } from './flow-context.js';
import { requestSource } from './phone-actions.js';
import { secureUrl } from './node-names.js';
import { acsPath, authnRequestId, idpRedirect, readSamlResponse } from './oauth-saml.js';
import { checkAccessToken } from './oauth-tokens.js';
import { createTokenEndpoint, type IssuedCode } from './oauth-token-endpoint.js';
import { createRevokeEndpoint } from './oauth-revoke.js';

export const OAUTH_AUTHORIZE_PATH = '/ssosp/oauth/authorize';
/**
 * The Unified CM login page the authorize step redirects to. No Cisco source
 * names its path (the one local login page a source names,
 * `/ssosp/local/login`, is the administrators' SSO recovery URL, SAML SSO
 * Deployment Guide 14, "Access the Recovery URL", which a gateway must not
 * expose); the simulator keeps it under `/ssosp/oauth/`.
 */
export const OAUTH_LOGIN_PATH = '/ssosp/oauth/login';
export const OAUTH_TOKEN_PATH = '/ssosp/oauth/token';

/** The ssosp web application's context path: its Tomcat session cookie is scoped to it (see tomcat-session.ts). */
const CONTEXT = '/ssosp';
const HTML = 'text/html; charset=UTF-8';
const NO_SIGN_IN = '<!DOCTYPE html><html><body><p>No sign-in in progress.</p></body></html>';
/** RFC 6749 §4.1.2 recommends at most 10 minutes; no Cisco source gives CUCM's figure. */
const CODE_LIFETIME_MS = 10 * 60_000;

/** An authorization request waiting for the user to authenticate. */
interface PendingAuthorization {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly state: string | null;
  readonly scope: string;
}

/**
 * CUCM's answer to an authorize request it will not serve, exactly as the
 * DevNet support article "Bad Request for SSO Request URI" quotes it (the
 * `error` value is not quoted there; reproduced as shown). The article's
 * cause: a redirect URI not listed in the enterprise parameter "Redirect URIs
 * for Third Party SSO Client". RFC 6749 §4.1.2.1 forbids redirecting to a
 * redirect URI that does not check out, so the answer goes to the browser.
 */
const INVALID_REQUEST_BODY =
  '{"error":INVALID_REQUEST,"error_description":"The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed."}';

function redirect(res: ServerResponse, location: string): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(302, { location, 'content-length': 0 });
  res.end();
}

/** `uri` with `params` appended to its query (RFC 6749 §4.1.2: the code and state go in the redirect URI's query). */
function withQuery(uri: string, params: Readonly<Record<string, string | null>>): string {
  const query = Object.entries(params)
    .filter((entry): entry is [string, string] => entry[1] !== null)
    .map(([name, value]) => `${name}=${encodeURIComponent(value)}`)
    .join('&');
  return `${uri}${uri.includes('?') ? '&' : '?'}${query}`;
}

function loginPage(action: string, message: string | undefined): string {
  // The field names are Tomcat form authentication's (Servlet specification); no source shows this page's.
  return (
    '<!DOCTYPE html><html><head><title>Cisco Unified Communications Manager</title></head><body>' +
    (message ? `<p class="error">${message}</p>` : '') +
    `<form method="POST" action="${action}"><input type="text" name="j_username" autocomplete="username">` +
    '<input type="password" name="j_password" autocomplete="current-password"><input type="submit" value="Sign In"></form>' +
    '</body></html>'
  );
}

/**
 * The user an `Authorization: Bearer <access token>` header authenticates,
 * if the token is one of this cluster's, unexpired, and its user is still an
 * active end user: SysConfig 12.5, "Authentication Process" (signature,
 * decryption, "Verifies that the user is an active user"); TAC 216948: even a
 * valid token is refused once the user is gone from the database. The header
 * form is the DevNet guide's ("Using Cisco Collaboration Single Sign-On with
 * User Data Services": `Authorization: Bearer <token>`). Any node of the
 * cluster accepts any access token of the cluster. A revoked refresh token
 * does not end the access tokens already issued with it: they run to their
 * expiry (SysConfig 12.5 says revoking stops the user obtaining new ones).
 */
export function bearerUser(req: IncomingMessage, flow: Pick<FlowConfig, 'db' | 'users'>): string | undefined {
  const match = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!match) return undefined;
  const oauth = flow.db.oauth;
  const claims = checkAccessToken(oauth.keys(), oauth.clusterId, match[1]!);
  return claims && Object.hasOwn(flow.users, claims.sub) ? claims.sub : undefined;
}

/** The node's OAuth endpoints, path → handler, for the node's endpoint table. Built once per node: the state in here is the node's own. */
export function createOAuthEndpoints(config: { readonly flow: FlowConfig }): Array<[string, Endpoint]> {
  const { flow } = config;
  const oauth = flow.db.oauth;
  /** Tomcat session id → the authorization it holds. */
  const pending = new Map<string, PendingAuthorization>();
  /** AuthnRequest id → the authorization waiting for the IdP's answer. */
  const pendingSaml = new Map<string, PendingAuthorization>();
  const codes = new Map<string, IssuedCode>();

  const issueCode = (user: string, auth: PendingAuthorization): string => {
    const now = Date.now();
    if (codes.size > 1000) for (const [code, issued] of codes) if (issued.expiresAt <= now) codes.delete(code);
    const code = randomBytes(20).toString('hex');
    codes.set(code, { user, clientId: auth.clientId, redirectUri: auth.redirectUri, scope: auth.scope, expiresAt: now + CODE_LIFETIME_MS });
    return code;
  };

  /** Where the login form posts: the page itself, with `;jsessionid=` while the session is not known from a cookie (Tomcat's encodeURL). */
  const loginAction = (sessionId: string, fromCookie: boolean): string =>
    flow.urlSessionIds && !fromCookie ? `${OAUTH_LOGIN_PATH};jsessionid=${sessionId}` : OAUTH_LOGIN_PATH;

  const authorize: Endpoint = (req, res, ctx) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendBody(res, 405, TEXT, 'Method Not Allowed\n', { allow: 'GET, HEAD' });
    const query = ctx.url.searchParams;
    const single = (name: string): string | null => (query.getAll(name).length > 1 ? null : query.get(name));
    const client = oauth.clients.get(single('client_id') ?? '');
    const redirectUri = single('redirect_uri');
    const duplicated = ['response_type', 'client_id', 'redirect_uri', 'scope', 'state'].some((name) => query.getAll(name).length > 1);
    // Only the authorization code grant: CUCM still runs the older implicit grant (`response_type=token`) for
    // older clients (TAC 212794, "Feature Highlights"); the simulator does not, and refuses it like any bad request.
    if (duplicated || !client || !redirectUri || !client.redirectUris.includes(redirectUri) || single('response_type') !== 'code') {
      return sendBody(res, 400, 'application/json', INVALID_REQUEST_BODY);
    }
    const auth: PendingAuthorization = { clientId: client.clientId, redirectUri, state: single('state'), scope: single('scope') ?? '' };
    if (oauth.samlIdpUrl !== undefined) {
      // TAC 216948: with SAML SSO the authentication service is the IdP; TAC 217268: CUCM answers 302 to the IdP with its
      // AuthnRequest, signed with its SP key (Tomcat's, or the cluster-wide self-signed certificate's); the simulator signs
      // with its one RSA key, which nothing checks.
      const id = authnRequestId();
      pendingSaml.set(id, auth);
      return redirect(res, idpRedirect(oauth.samlIdpUrl, flow.names.fqdn, id, oauth.keys().signing.privateKey));
    }
    const tomcat = session(flow, req, res, ctx, CONTEXT);
    pending.set(tomcat.id, auth);
    // Absolute, naming the node by FQDN and :8443, as CUCM writes its own ssosp URLs (SAML SSO Deployment Guide 14: the ACS URL).
    redirect(res, secureUrl(flow.names.fqdn, loginAction(tomcat.id, tomcat.fromCookie)));
  };

  const finish = (res: ServerResponse, user: string, auth: PendingAuthorization): void =>
    redirect(res, withQuery(auth.redirectUri, { code: issueCode(user, auth), state: auth.state }));

  const login: Endpoint = (req, res, ctx) => {
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'POST') {
      return sendBody(res, 405, TEXT, 'Method Not Allowed\n', { allow: 'GET, HEAD, POST' });
    }
    const tomcat = session(flow, req, res, ctx, CONTEXT);
    const auth = pending.get(tomcat.id);
    // A session this node does not hold (another node's, or none): nothing to sign in to. No source shows CUCM's page for this.
    if (!auth) return sendBody(res, 400, HTML, NO_SIGN_IN);
    const action = loginAction(tomcat.id, tomcat.fromCookie);
    if (req.method !== 'POST') return sendBody(res, 200, HTML, loginPage(action, undefined));
    const params = formParams(req, ctx.url, ctx.body);
    const user = params.get('j_username') ?? '';
    const password = params.get('j_password');
    flow.actions.run(
      'oauth-authorize',
      user,
      undefined,
      requestSource(req),
      () => {
        // The credentials are checked as UDS checks them (the end users' passwords); a code is issued only if the
        // session still holds this authorization (two posts of one form sign in once).
        if (!(Object.hasOwn(flow.users, user) && flow.users[user] === password)) return { result: 'failed', detail: 'bad credentials' };
        if (pending.get(tomcat.id) !== auth) return { result: 'failed', detail: 'authorization already completed' };
        pending.delete(tomcat.id);
        return { result: 'ok', detail: `login: code issued to ${auth.clientId}` };
      },
      (outcome) => {
        if (outcome.result === 'ok') return finish(res, user, auth);
        if (res.destroyed || res.writableEnded) return;
        if (outcome.detail !== 'bad credentials') return sendBody(res, 400, HTML, NO_SIGN_IN);
        // The wording is the simulator's; no source shows CUCM's.
        sendBody(res, 200, HTML, loginPage(action, 'Invalid username or password.'));
      },
    );
  };

  const assertionConsumer: Endpoint = (req, res, ctx) => {
    if (req.method !== 'POST') return sendBody(res, 405, TEXT, 'Method Not Allowed\n', { allow: 'POST' });
    const answer = readSamlResponse(formParams(req, ctx.url, ctx.body).get('SAMLResponse') ?? '');
    const auth = answer && pendingSaml.get(answer.inResponseTo);
    // Only a Response to a request this node issued: another node's request id is unknown here.
    if (!answer || !auth) return sendBody(res, 400, HTML, '<!DOCTYPE html><html><body><p>Invalid SAML response.</p></body></html>');
    flow.actions.run(
      'oauth-authorize',
      answer.user,
      undefined,
      requestSource(req),
      () => {
        if (!Object.hasOwn(flow.users, answer.user)) return { result: 'failed', detail: 'unknown user' };
        if (!pendingSaml.delete(answer.inResponseTo)) return { result: 'failed', detail: 'authorization already completed' };
        return { result: 'ok', detail: `saml: code issued to ${auth.clientId}` };
      },
      (outcome) => {
        if (outcome.result === 'ok') return finish(res, answer.user, auth);
        if (!res.destroyed && !res.writableEnded) sendBody(res, 403, TEXT, 'Forbidden\n');
      },
    );
  };

  const token = createTokenEndpoint(flow, codes);
  const revoke = createRevokeEndpoint(flow);
  return [
    [OAUTH_AUTHORIZE_PATH, authorize],
    [OAUTH_LOGIN_PATH, login],
    [OAUTH_TOKEN_PATH, token],
    ['/ssosp/token/revoke', revoke],
    [acsPath(flow.names.fqdn), assertionConsumer],
  ];
}
