/**
 * `POST /ssosp/oauth/token` of the simulated node: the authorization code
 * grant and the refresh token grant of CUCM's "OAuth with Refresh Login Flow".
 *
 * What Cisco documents:
 * - the client trades the one-use code "together with a pre-shared secret"
 *   for "an Access Token and a Refresh Token", and later presents the
 *   refresh token "together with the client secret"; if the refresh token is
 *   valid "the authorization server will issue a new access token without
 *   requiring another authentication" (TAC 216948, section "OAuth",
 *   "Access/Refresh Token");
 * - "New access token is issued each time client requests for one. The old
 *   one continues to be valid" until it expires; refresh tokens are stored in
 *   the database (TAC 212794);
 * - lifetimes from the enterprise parameters, checks on every refresh (valid
 *   token, active user) (System Configuration Guide 12.5(1), "Configure Cisco
 *   Jabber").
 *
 * What no Cisco source shows, taken from RFC 6749 and kept minimal: the
 * request and answer on the wire — form-encoded `grant_type`, `code`,
 * `redirect_uri`, `refresh_token`; client authentication by HTTP Basic or
 * `client_id`/`client_secret` in the body (§2.3.1); the JSON answer
 * `access_token`, `token_type` (`Bearer`), `expires_in`, `refresh_token` with
 * `Cache-Control: no-store` (§5.1); errors `invalid_request`,
 * `invalid_client` (401), `invalid_grant`, `unsupported_grant_type` (§5.2).
 * A refresh answer carries no new refresh token: on CUCM before 15 the
 * refresh token is not renewed (CUCM 15 Security Guide: renewal applies
 * "from Release 15 onwards and for Webex clients only").
 *
 * Each grant is an action (`oauth-token`, see phone-actions.ts): it writes
 * or reads the database, takes the node's action delay, and is recorded on
 * the node that ran it. A code is known only to the node that issued it.
 */
import type { ServerResponse } from 'node:http';
import { sendBody, type Endpoint } from './test-endpoints.js';
import { formParams, TEXT, type FlowConfig } from './flow-context.js';
import { requestSource, type ActionOutcome } from './phone-actions.js';
import type { OAuthClient } from './oauth-store.js';
import { checkRefreshToken, issueAccessToken, issueRefreshToken } from './oauth-tokens.js';

/** An authorization code the node issued, until it is redeemed or expires. */
export interface IssuedCode {
  readonly user: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly scope: string;
  readonly expiresAt: number;
}

const JSON_TYPE = 'application/json;charset=UTF-8';
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

function oauthError(res: ServerResponse, status: number, error: string, description: string, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.writableEnded) return;
  sendBody(res, status, JSON_TYPE, JSON.stringify({ error, error_description: description }), { ...NO_STORE, ...headers });
}

/** The client the request authenticates as (RFC 6749 §2.3.1), or why not. */
function authenticateClient(
  authorization: string | undefined,
  params: URLSearchParams,
  clients: ReadonlyMap<string, OAuthClient>,
): { readonly client: OAuthClient } | { readonly error: 'invalid_request' | 'invalid_client'; readonly basic: boolean } {
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
  const inBody = params.has('client_secret');
  if (basic && inBody) return { error: 'invalid_request', basic: true };
  let id: string | null;
  let secret: string | null;
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return { error: 'invalid_client', basic: true };
    try {
      // §2.3.1: both are form-urlencoded before they are joined.
      id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
      secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
    } catch {
      return { error: 'invalid_client', basic: true };
    }
  } else {
    id = params.get('client_id');
    secret = params.get('client_secret');
  }
  const client = clients.get(id ?? '');
  return client && client.clientSecret === secret ? { client } : { error: 'invalid_client', basic: Boolean(basic) };
}

export function createTokenEndpoint(flow: FlowConfig, codes: Map<string, IssuedCode>): Endpoint {
  const oauth = flow.db.oauth;

  /** Tokens for `user`: a new access token, and a new refresh token (stored) when `withRefresh`. */
  const tokens = (user: string, clientId: string, scope: string, withRefresh: boolean): Record<string, string | number> => {
    const keys = oauth.keys();
    const lifetimeMs = oauth.accessTokenExpiryMinutes * 60_000;
    const answer: Record<string, string | number> = {
      access_token: issueAccessToken(keys, oauth.clusterId, user, clientId, scope, lifetimeMs),
      token_type: 'Bearer',
      expires_in: Math.round(lifetimeMs / 1000),
    };
    if (withRefresh) {
      const validUntil = Date.now() + oauth.refreshTokenExpiryDays * 86_400_000;
      const refresh = issueRefreshToken(keys, oauth.clusterId, clientId, validUntil);
      oauth.refreshTokens.set(refresh.tokenId, { tokenId: refresh.tokenId, userId: user, clientId, validUntil, state: 'active', token: refresh.token });
      answer.refresh_token = refresh.token;
    }
    return answer;
  };

  return (req, res, ctx) => {
    if (req.method !== 'POST') return sendBody(res, 405, TEXT, 'Method Not Allowed\n', { allow: 'POST' });
    const params = formParams(req, ctx.url, ctx.body);
    const auth = authenticateClient(req.headers.authorization, params, oauth.clients);
    if ('error' in auth) {
      if (auth.error === 'invalid_request') return oauthError(res, 400, 'invalid_request', 'more than one client authentication method');
      // §5.2: 401, with a challenge when the client tried HTTP Basic.
      return oauthError(res, 401, 'invalid_client', 'client authentication failed', auth.basic ? { 'www-authenticate': 'Basic realm="ssosp"' } : {});
    }
    const clientId = auth.client.clientId;
    const grantType = params.get('grant_type');
    let answer: Record<string, string | number> | undefined;
    let run: { readonly user: string | undefined; readonly complete: () => ActionOutcome };

    if (grantType === 'authorization_code') {
      const code = params.get('code') ?? '';
      const redirectUri = params.get('redirect_uri');
      run = {
        user: codes.get(code)?.user,
        complete: () => {
          const issued = codes.get(code);
          // Unknown here (another node's, never issued), already redeemed, expired, or not this client's: one answer for all.
          if (!issued || issued.expiresAt <= Date.now() || issued.clientId !== clientId || issued.redirectUri !== redirectUri) {
            return { result: 'failed', detail: 'invalid_grant: authorization_code' };
          }
          codes.delete(code);
          answer = tokens(issued.user, clientId, issued.scope, true);
          return { result: 'ok', detail: 'authorization_code' };
        },
      };
    } else if (grantType === 'refresh_token') {
      const presented = params.get('refresh_token') ?? '';
      const row = () => {
        const claims = checkRefreshToken(oauth.keys(), oauth.clusterId, presented);
        return claims && oauth.refreshTokens.get(claims.tid);
      };
      run = {
        user: row()?.userId,
        complete: () => {
          const found = row();
          // SysConfig 12.5, "Authentication Process": the token must check out and its user be active.
          if (!found || found.state !== 'active' || found.validUntil <= Date.now() || found.clientId !== clientId || !Object.hasOwn(flow.users, found.userId)) {
            return { result: 'failed', detail: 'invalid_grant: refresh_token' };
          }
          answer = tokens(found.userId, clientId, '', false);
          return { result: 'ok', detail: 'refresh_token' };
        },
      };
    } else {
      return oauthError(res, 400, grantType ? 'unsupported_grant_type' : 'invalid_request', `grant_type ${grantType ?? 'missing'}`);
    }

    flow.actions.run('oauth-token', run.user, undefined, requestSource(req), run.complete, (outcome) => {
      if (outcome.result !== 'ok' || !answer) return oauthError(res, 400, 'invalid_grant', outcome.detail);
      if (res.destroyed || res.writableEnded) return;
      sendBody(res, 200, JSON_TYPE, JSON.stringify(answer), NO_STORE);
    });
  };
}
