/**
 * The files the static nginx upstream serves for one node, in `dir`:
 *
 *   version.xml, servers.xml          /cucm-uds/version, /cucm-uds/servers
 *   clusterUser/<user>.xml            /cucm-uds/clusterUser?username=<user>
 *   devices/<user>.xml                /cucm-uds/user/<user>/devices
 *   users.xml                         /cucm-uds/users (a user search, exactly 1 MiB)
 *
 * plus one answer not served from a file: `oauthTokenBody()`, what
 * `POST /ssosp/oauth/token` answers (upstreams.ts puts it in the nginx config,
 * since nginx serves no file to a POST).
 *
 * All but users.xml are the simulator's own bodies (src/sim/uds-bodies.ts)
 * made with the node's hostname, so they name nodes where CUCM does and the
 * static and simulated upstreams answer the same bytes. The simulator has no
 * user search: the large-body workload's answer is made here, a long list of
 * `<user uri="https://<node>:8443/cucm-uds/user/…">` entries shaped after the
 * UDS guide's search result, so a proxy that rewrites node names has a name to
 * find and edit in every entry (about 2,300 of them).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createOAuthState } from '../../../src/sim/oauth-store.js';
import { issueAccessToken, issueRefreshToken } from '../../../src/sim/oauth-tokens.js';
import { clusterUserBody, escapeXml, serversBody, simulatedUuid, udsApiVersion, versionBody, type UdsContext } from '../../../src/sim/uds-bodies.js';
import { devicesBody } from '../../../src/sim/uds-user-bodies.js';
import { JABBER_CLIENT, LOGIN_USERS, loginUser } from '../lib/bench-users.js';

export const USERS_SEARCH_BYTES = 1024 * 1024;
const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>';
const USERS_END = '</users>';

function searchEntry(ctx: UdsContext, index: number): string {
  const id = `dir${String(index).padStart(5, '0')}`;
  return (
    `<user uri="${escapeXml(`https://${ctx.hostname}:8443/cucm-uds/user/${id}`)}">` +
    `<id>${simulatedUuid('user', id)}</id><userName>${id}</userName>` +
    `<firstName>Person${index}</firstName><lastName>Andersen</lastName><middleName/><nickName/>` +
    `<phoneNumber>+1 555 ${String(20000 + index).padStart(6, '0')}</phoneNumber><homeNumber/><mobileNumber/>` +
    `<email>${id}@example.test</email><directoryUri>${id}@example.test</directoryUri><msUri/>` +
    '<department>Sales</department><manager/><title/><pager/></user>'
  );
}

function searchHead(ctx: UdsContext, count: number): string {
  const uri = escapeXml(`https://${ctx.hostname}:8443/cucm-uds/users`);
  return (
    `${XML_DECLARATION}<users uri="${uri}" version="${escapeXml(udsApiVersion(ctx.version))}" ` +
    `start="0" requestedCount="${count}" returnedCount="${count}" totalCount="${count}">`
  );
}

/** As many entries as fit in USERS_SEARCH_BYTES, then white space up to exactly that size. */
export function usersSearchBody(ctx: UdsContext): { body: string; entries: number } {
  const entries: string[] = [];
  let size = 0;
  for (;;) {
    const next = searchEntry(ctx, entries.length);
    if (searchHead(ctx, entries.length + 1).length + size + next.length + USERS_END.length > USERS_SEARCH_BYTES) break;
    entries.push(next);
    size += next.length;
  }
  const head = searchHead(ctx, entries.length);
  const padding = ' '.repeat(USERS_SEARCH_BYTES - head.length - size - USERS_END.length);
  return { body: head + entries.join('') + padding + USERS_END, entries: entries.length };
}

/**
 * The answer of the token endpoint to an authorization code grant, as the
 * simulated CUCM makes it (src/sim/oauth-token-endpoint.ts, RFC 6749 section
 * 5.1): a signed JWT wrapping an encrypted one as the access token, a signed
 * JWT as the refresh token, 3600 s (the default "OAuth Access Token Expiry
 * Timer" of 60 minutes). Made once with a fresh cluster key; the same bytes
 * answer every login. Names no node: nothing in it for a gateway to rewrite.
 */
export function oauthTokenBody(user = loginUser(0)): string {
  const oauth = createOAuthState();
  const keys = oauth.keys();
  const lifetimeMs = oauth.accessTokenExpiryMinutes * 60_000;
  return JSON.stringify({
    access_token: issueAccessToken(keys, oauth.clusterId, user, JABBER_CLIENT.clientId, '', lifetimeMs),
    token_type: 'Bearer',
    expires_in: Math.round(lifetimeMs / 1000),
    refresh_token: issueRefreshToken(keys, oauth.clusterId, JABBER_CLIENT.clientId, Date.now() + oauth.refreshTokenExpiryDays * 86_400_000).token,
  });
}

/** Writes every file above for the node `ctx.hostname` of the cluster `clusterNodes` (publisher first). */
export function writeNodeBodies(dir: string, ctx: UdsContext, clusterNodes: readonly string[]): void {
  mkdirSync(join(dir, 'clusterUser'), { recursive: true });
  mkdirSync(join(dir, 'devices'), { recursive: true });
  writeFileSync(join(dir, 'version.xml'), versionBody(ctx));
  writeFileSync(join(dir, 'servers.xml'), serversBody(ctx, clusterNodes));
  writeFileSync(join(dir, 'users.xml'), usersSearchBody(ctx).body);
  for (let i = 0; i < LOGIN_USERS; i++) {
    const user = loginUser(i);
    writeFileSync(join(dir, 'clusterUser', `${user}.xml`), clusterUserBody(ctx, user, true, clusterNodes[0]!));
    writeFileSync(join(dir, 'devices', `${user}.xml`), devicesBody(ctx, user));
  }
}
