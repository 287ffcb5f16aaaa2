/**
 * The end users of the login storm, known to the load generator, the static
 * upstream (one clusterUser and one devices file each) and the simulated
 * nodes (their Basic-auth table) alike, so every login names a user the
 * upstream answers 200 for. A thousand is enough to vary the user per login
 * (no proxy here caches UDS answers) and few enough to write as files fast.
 * Their Jabber signs in as the simulated CUCM's Jabber OAuth client (its id,
 * secret and redirect URI), for the login storm's token step.
 */
import { SIM_JABBER_CLIENT, type OAuthClient } from '../../../src/sim/oauth-store.js';

export const LOGIN_USERS = 1000;
export const LOGIN_PASSWORD = 'password';

/** The OAuth client Jabber authenticates as on `POST /ssosp/oauth/token` (HTTP Basic: id and secret). */
export const JABBER_CLIENT: OAuthClient & { readonly redirectUri: string } = {
  ...SIM_JABBER_CLIENT,
  redirectUri: SIM_JABBER_CLIENT.redirectUris[0]!,
};

/** `user0000` … `user0999`; any index wraps around. */
export function loginUser(index: number): string {
  return `user${String(index % LOGIN_USERS).padStart(4, '0')}`;
}

/** User id → password, for the simulated nodes' UDS Basic auth. */
export function loginUserTable(): Record<string, string> {
  return Object.fromEntries(Array.from({ length: LOGIN_USERS }, (_, i) => [loginUser(i), LOGIN_PASSWORD]));
}
