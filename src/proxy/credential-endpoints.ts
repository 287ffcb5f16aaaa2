/**
 * Where a request carries credentials, and how they are keyed for counting
 * (credential-guard.ts counts them): the endpoints CUCM reads credentials
 * from, by path, with the parameters naming the user and the secret; the
 * user ids a value stands for; the client as counted; HTTP Basic.
 *
 * Where credentials are read (the parameters as Tomcat's `getParameter`
 * reads them, query string and form body: tomcat-params.ts):
 * - Extension Mobility `/emapp/` (`userid`, PIN in `seq`), Change Credential
 *   `/changecredential/` (`userid`, `oldpin`), Personal Directory `/ccmpd/`
 *   (`userid`, `pin`): PINs. CUCM answers a wrong PIN with 200, so every
 *   attempt counts.
 * - `/ccmcip/authenticate*` (`UserID`, `Password`) and the OAuth sign-in
 *   form under `/ssosp/` (`j_username`, `j_password`): passwords; every
 *   attempt counts (authenticate.jsp answers 200 either way).
 * - HTTP Basic on any path (UDS and anything else a route lets through):
 *   passwords; a 401 counts.
 * - The OAuth token endpoint `/ssosp/oauth/token`, when the request carries
 *   a secret someone could guess (a client secret, or a password grant's
 *   password): 401 counts, and 400 unless the client's credentials are known
 *   good (an expired refresh token is not a guess). Codes and refresh tokens
 *   are not guessable, and `client_id` is not a key: Jabber's is shared by
 *   every Jabber, so limiting it would lock out all of them.
 * Parameter names match in any case; every value of a repeated user
 * parameter is charged; user ids are compared case-, width- and
 * whitespace-insensitively, in UTF-8 and in ISO-8859-1; IPv6 clients count
 * per /64. Wider than CUCM, never narrower.
 */
export type GuardKind = 'em-login' | 'pin-change' | 'pd-login' | 'authenticate' | 'oauth-login' | 'oauth-token' | 'uds-auth' | 'basic-auth';

export type SecretClass = 'pin' | 'password' | 'oauth';

export interface Endpoint {
  readonly kind: GuardKind;
  readonly secret: SecretClass;
  /** Parameter names (lowercase) holding a user id. */
  readonly users: readonly string[];
  /** Parameter names (lowercase) holding the secret. */
  readonly secrets: readonly string[];
}

const EM: Endpoint = { kind: 'em-login', secret: 'pin', users: ['userid'], secrets: ['seq', 'pin'] };
const CHANGE_CREDENTIAL: Endpoint = { kind: 'pin-change', secret: 'pin', users: ['userid'], secrets: ['oldpin', 'pin'] };
const PERSONAL_DIRECTORY: Endpoint = { kind: 'pd-login', secret: 'pin', users: ['userid'], secrets: ['pin'] };
const AUTHENTICATE: Endpoint = { kind: 'authenticate', secret: 'password', users: ['userid'], secrets: ['password'] };
const OAUTH_LOGIN: Endpoint = { kind: 'oauth-login', secret: 'password', users: ['j_username', 'username'], secrets: ['j_password', 'password'] };
const OAUTH_TOKEN_PATH = '/ssosp/oauth/token';

/** The endpoint whose parameters carry credentials, by the router's matchPath (decoded, `;params` stripped, lowercase). */
export function paramEndpoint(matchPath: string): Endpoint | 'oauth-token' | undefined {
  switch (matchPath.charCodeAt(1)) {
    case 0x65: // e
      return matchPath.startsWith('/emapp/') ? EM : undefined;
    case 0x63: // c
      if (matchPath.startsWith('/changecredential/')) return CHANGE_CREDENTIAL;
      if (matchPath.startsWith('/ccmpd/')) return PERSONAL_DIRECTORY;
      return matchPath.startsWith('/ccmcip/authenticate') ? AUTHENTICATE : undefined;
    case 0x73: // s
      if (!matchPath.startsWith('/ssosp/')) return undefined;
      return matchPath === OAUTH_TOKEN_PATH || matchPath.startsWith(`${OAUTH_TOKEN_PATH}/`) ? 'oauth-token' : OAUTH_LOGIN;
    default:
      return undefined;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
// Control and format characters (NUL, zero-width spaces, soft hyphens...): LDAP's string preparation maps them away.
const INVISIBLE = /[\p{Cc}\p{Cf}]/gu;

function normaliseUser(text: string): string {
  return text.replace(INVISIBLE, '').normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
}

/** The user id keys of a value: as UTF-8 (when it is) and as ISO-8859-1, whichever CUCM's Tomcat decodes with. */
export function addUserKeys(value: Buffer, into: Set<string>): void {
  const latin1 = normaliseUser(value.toString('latin1'));
  if (latin1 !== '') into.add(latin1);
  if (value.every((byte) => byte < 0x80)) return;
  try {
    const decoded = normaliseUser(utf8.decode(value));
    if (decoded !== '') into.add(decoded);
  } catch {
    // Not UTF-8: only the ISO-8859-1 reading exists.
  }
}

/** The client as counted: an IPv4 address (also when IPv4-mapped), or an IPv6 address's /64, which one host typically holds whole. */
export function clientKeyOf(address: string | undefined): string {
  if (address === undefined) return '';
  if (!address.includes(':')) return address;
  const lower = address.toLowerCase();
  const zone = lower.indexOf('%');
  const bare = zone < 0 ? lower : lower.slice(0, zone);
  if (bare.startsWith('::ffff:') && bare.includes('.')) return bare.slice(7);
  const [head = '', tail] = bare.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

export interface BasicCredentials {
  readonly user: Buffer;
  /** `user:password` as sent (decoded base64). */
  readonly raw: Buffer;
}

export function basicCredentials(authorization: string | undefined): BasicCredentials | undefined {
  if (authorization === undefined) return undefined;
  const match = /^\s*basic\s+(\S*)\s*$/i.exec(authorization);
  if (!match) return undefined;
  const raw = Buffer.from(match[1]!, 'base64');
  const colon = raw.indexOf(0x3a);
  return { user: colon < 0 ? raw : raw.subarray(0, colon), raw };
}
