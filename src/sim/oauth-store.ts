/**
 * The cluster-wide half of CUCM's OAuth ("AuthZ") service in the simulated
 * cluster: the enterprise parameters, the registered clients, the signing
 * and encryption keys and the refresh tokens. It lives in the cluster's
 * database (`SimDatabase.oauth`), so every node of a simulated cluster sees
 * the same; what a node keeps to itself (sessions, authorization codes,
 * pending SAML requests) lives in oauth-endpoints.ts.
 *
 * Sources:
 * - System Configuration Guide for Cisco Unified Communications Manager,
 *   Release 12.5(1), "Configure Cisco Jabber" (cited below as SysConfig
 *   12.5): "Cisco Unified Communications Manager issues clusterwide access
 *   tokens and refresh tokens"; the enterprise parameters "OAuth Access
 *   Token Expiry Timer (minutes)" (1–1440, default 60) and "OAuth Refresh
 *   Token Expiry Timer (days)" (1–365, default 60); "The signing key is
 *   asymmetric and RSA-based whereas the encryption key is a symmetric key".
 * - TAC document 212794, "Deploy And Troubleshoot Authorization Code Grant
 *   Flow - OAuth Enhancement: Cisco Collaboration Solutions 12.0": the keys
 *   "are created only on the publisher and are distributed across all the
 *   nodes in the cluster"; "Refresh tokens are stored in Database (DB)"
 *   (table `refreshtokendetails`: userid, clientid, validity, state);
 *   revocation "is based on userid or userid & clientID".
 * - TAC document 216948, "Configure SAML SSO on Cisco Unified Communications
 *   Manager with ADFS 3.0": "Changing the Refresh Token expiry timer
 *   Enterprise parameter automatically revokes all Refresh Tokens issued by
 *   that CUCM cluster".
 * - Cisco DevNet, "Cisco Unified Communications Single Sign-On Tutorial":
 *   SSO-enabled products have fixed client_id values that cannot be
 *   registered dynamically; CUCM accepts a third-party client's redirect URI
 *   only if it is listed in the enterprise parameter "Redirect URIs for Third
 *   Party SSO Client" (DevNet support article "Bad Request for SSO Request URI").
 */
import { createHash, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';

/** A client the AuthZ service knows: its id, its secret and the redirect URIs it may use. */
export interface OAuthClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUris: readonly string[];
}

/** One row of CUCM's `refreshtokendetails` table (TAC 212794). */
export interface RefreshTokenRow {
  /** The token's `tid` claim. */
  readonly tokenId: string;
  readonly userId: string;
  readonly clientId: string;
  /** `Date.now()` after which the token is refused. */
  readonly validUntil: number;
  state: 'active' | 'revoked';
  /** The token as handed out (the revoke answer lists it). */
  readonly token: string;
}

/** The AuthZ keys: RSA signing key pair, symmetric encryption key, each with its key id. */
export interface AuthzKeys {
  readonly signing: { readonly privateKey: KeyObject; readonly publicKey: KeyObject; readonly kid: string };
  readonly encryption: { readonly key: Buffer; readonly kid: string };
}

export interface SimOAuthState {
  /** The cluster's id, the `iss` of its tokens (a UUID, as in TAC 212794's sample token). */
  readonly clusterId: string;
  /** Enterprise parameter "OAuth Access Token Expiry Timer (minutes)". Default 60. */
  accessTokenExpiryMinutes: number;
  /** Enterprise parameter "OAuth Refresh Token Expiry Timer (days)". Default 60; setting it revokes every refresh token. */
  refreshTokenExpiryDays: number;
  /**
   * SAML SSO: the IdP's single-sign-on URL (HTTP-Redirect binding). When set,
   * authorize sends the user there instead of to the Unified CM login page.
   * Default undefined (no SSO).
   */
  samlIdpUrl: string | undefined;
  /** Registered clients by client id. Default: `SIM_JABBER_CLIENT`. */
  readonly clients: Map<string, OAuthClient>;
  /** Application users with AXL access (user id → password): who may call the revoke API. Default `{ admin: 'admin' }`. */
  readonly axlUsers: Map<string, string>;
  /** Refresh tokens by token id. */
  readonly refreshTokens: Map<string, RefreshTokenRow>;
  /** The AuthZ keys, made once on first use. */
  keys(): AuthzKeys;
}

/**
 * The simulated Jabber client. No Cisco document gives Jabber's client id or
 * secret (TAC outputs show ids of this shape: `C` and 64 hex digits, e.g. in
 * TAC 216948's revoke answer), nor the redirect URI Jabber registers; these
 * are the simulator's own.
 */
export const SIM_JABBER_CLIENT: OAuthClient = {
  clientId: `C${createHash('sha256').update('ucgate simulated Jabber').digest('hex')}`,
  clientSecret: createHash('sha256').update('ucgate simulated Jabber secret').digest('hex'),
  redirectUris: ['ucgate-sim-jabber://oauth/callback'],
};

/** A key id as CUCM writes one: `<cluster id>:<sha256 of the key>` (TAC 212794's token headers). */
function keyId(clusterId: string, material: Buffer): string {
  return `${clusterId}:${createHash('sha256').update(material).digest('hex')}`;
}

class OAuthState implements SimOAuthState {
  readonly clusterId = randomUUID();
  accessTokenExpiryMinutes = 60;
  samlIdpUrl: string | undefined = undefined;
  readonly clients = new Map<string, OAuthClient>([[SIM_JABBER_CLIENT.clientId, SIM_JABBER_CLIENT]]);
  readonly axlUsers = new Map<string, string>([['admin', 'admin']]);
  readonly refreshTokens = new Map<string, RefreshTokenRow>();
  #refreshTokenExpiryDays = 60;
  #keys: AuthzKeys | undefined;

  get refreshTokenExpiryDays(): number {
    return this.#refreshTokenExpiryDays;
  }

  set refreshTokenExpiryDays(days: number) {
    // TAC 216948: changing this parameter revokes every refresh token of the cluster.
    if (days !== this.#refreshTokenExpiryDays) for (const row of this.refreshTokens.values()) row.state = 'revoked';
    this.#refreshTokenExpiryDays = days;
  }

  keys(): AuthzKeys {
    if (this.#keys) return this.#keys;
    // 2048-bit RSA: the size is not documented; it is what CUCM's other RSA keys default to.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    // 32 bytes: A128CBC-HS256, the encryption TAC 212794's sample access token names, takes a 256-bit key.
    const key = randomBytes(32);
    this.#keys = {
      signing: { privateKey, publicKey, kid: keyId(this.clusterId, publicKey.export({ type: 'spki', format: 'der' })) },
      encryption: { key, kid: keyId(this.clusterId, key) },
    };
    return this.#keys;
  }
}

export function createOAuthState(): SimOAuthState {
  return new OAuthState();
}
