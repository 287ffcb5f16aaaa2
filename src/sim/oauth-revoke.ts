/**
 * CUCM's refresh-token revoke API as the simulated node answers it:
 * `GET /ssosp/token/revoke?user_id=<end user>[&client_id=<client>]`,
 * authenticated with HTTP Basic as an administrator with AXL access.
 *
 * - System Configuration Guide for CUCM 12.5(1), "Configure Cisco Jabber",
 *   "Revoke Existing OAuth Refresh Tokens": "a REST-based API that is
 *   protected by AXL credentials", example
 *   `curl -k -u "admin:password" https://<UCMaddress>:8443/ssosp/token/revoke?user_id=<end_user>`
 *   (curl's default method: GET), sent to the publisher; revoked users
 *   "cannot obtain new access tokens". The simulator answers on every node
 *   (the tokens are in the shared database).
 * - TAC 212794: revoke all of a user's refresh tokens, or one client's
 *   (`&client_id=`).
 * - TAC 216948, "Revoke a Token": the answer,
 *   `{"revoked_tokens":{"status":"success","user_id":"…","clientID_tokens":[{"client_id":"…","refresh_token":"<64 hex digits>"},…]}}`.
 *   What the 64 hex digits are is not said; the simulator gives the SHA-256
 *   of each revoked token.
 *
 * Not documented, kept minimal: the answer to a missing `user_id` (400) and
 * to bad credentials (401 with a Basic challenge).
 */
import { createHash } from 'node:crypto';
import { sendBody, type Endpoint } from './test-endpoints.js';
import { TEXT, type FlowConfig } from './flow-context.js';
import { requestSource } from './phone-actions.js';

const JSON_TYPE = 'application/json;charset=UTF-8';

function basicCredentials(authorization: string | undefined): { readonly user: string; readonly password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function createRevokeEndpoint(flow: FlowConfig): Endpoint {
  const oauth = flow.db.oauth;
  return (req, res, ctx) => {
    if (req.method !== 'GET') return sendBody(res, 405, TEXT, 'Method Not Allowed\n', { allow: 'GET' });
    const admin = basicCredentials(req.headers.authorization);
    if (!admin || oauth.axlUsers.get(admin.user) !== admin.password) {
      return sendBody(res, 401, TEXT, 'Unauthorized\n', { 'www-authenticate': 'Basic realm="Cisco AXL"' });
    }
    const userId = ctx.url.searchParams.get('user_id');
    if (!userId) return sendBody(res, 400, TEXT, 'user_id is required\n');
    const clientId = ctx.url.searchParams.get('client_id');
    const revoked: { client_id: string; refresh_token: string }[] = [];
    flow.actions.run(
      'oauth-revoke',
      userId,
      undefined,
      requestSource(req),
      () => {
        for (const row of oauth.refreshTokens.values()) {
          if (row.state !== 'active' || row.userId !== userId || (clientId !== null && row.clientId !== clientId)) continue;
          row.state = 'revoked';
          revoked.push({ client_id: row.clientId, refresh_token: createHash('sha256').update(row.token).digest('hex') });
        }
        return { result: 'ok', detail: `${revoked.length} refresh token(s) revoked` };
      },
      () => {
        if (res.destroyed || res.writableEnded) return;
        const body = { revoked_tokens: { status: 'success', user_id: userId, clientID_tokens: revoked } };
        sendBody(res, 200, JSON_TYPE, JSON.stringify(body));
      },
    );
  };
}
