/**
 * The user-level UDS resources of a simulated node: `/cucm-uds/user/{userId}`
 * and everything under it, reads and writes, as the "Cisco User Data
 * Services (UDS) API Reference" ("User Resources", "Device Resources") and
 * the Developer Guide's "New and Changed" pages describe them — including
 * the writes Jabber itself sends (push-token registration, remote
 * destinations) and the self-service ones (user, device, credentials, speed
 * dials, Conference Now).
 *
 * Every resource needs the user's own credentials: no Authorization → 401;
 * someone else's resource → 403 (UDS manages "user-specific information":
 * Developer Guide, FAQs). The same resources answer under
 * `/cucm-uds/private/`, the prefix CUCM's own clients use (Cisco's Camelot
 * Jabber emulator sends its contact batch queries to `/cucm-uds/private/users`;
 * no Cisco reference documents the prefix, so the simulator mirrors the
 * public resources there). Writes are recorded (uds-writes.ts) and change the
 * cluster's shared state (uds-store.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimDatabase, UdsWriteKind } from './cucm-node-api.js';
import { sendBody, type Endpoint, type EndpointContext } from './test-endpoints.js';
import type { UdsContext } from './uds-bodies.js';
import { versionAtLeast } from './uds-names.js';
import type { UdsSettings } from './uds-options.js';
import { booleanText, caller, childTexts, elements, elementText, methodNotAllowed, sendStatus, TEXT, unauthorized, XML } from './uds-request.js';
import { udsStore, type RemoteDestination, type UdsStore } from './uds-store.js';
import {
  conferencingBody,
  credentialsBody,
  deviceBody,
  devicesBody,
  remoteDestinationBody,
  remoteDestinationsBody,
  rowsUpdatedBody,
  simulatedDevices,
  speedDialsBody,
  userBody,
  usersBody,
  type SimulatedDevice,
} from './uds-user-bodies.js';
import type { UdsWriteLog } from './uds-writes.js';

export interface UdsUserConfig extends UdsContext {
  /** End users, user id → password (HTTP Basic). */
  readonly users: Readonly<Record<string, string>>;
  /** Whether this cluster is the users' home cluster ("Home Cluster" checked): UDS allows a user PUT only then. */
  readonly homed: boolean;
  readonly settings: UdsSettings;
  /** The cluster's database: EM PINs (a UDS PIN change writes them) and, through uds-store.ts, the UDS state. */
  readonly db: SimDatabase;
  readonly writes: UdsWriteLog | undefined;
  /** The user whose OAuth access token the request carries (oauth-endpoints.ts `bearerUser`). Default: Bearer is refused. */
  readonly bearerUser?: ((req: IncomingMessage) => string | undefined) | undefined;
}

const USER_PATH = /^\/cucm-uds(\/private)?\/user\/([^/]+)(?:\/(.*))?$/;
const PRIVATE_USERS = '/cucm-uds/private/users';

/** One authorised request for a user's resource. */
interface Call {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly body: string;
  readonly userId: string;
  /** GET for HEAD. */
  readonly method: string;
  readonly path: string;
  readonly private: boolean;
}

type Handler = (call: Call, ...params: string[]) => void;

export function createUdsUserEndpoints(config: UdsUserConfig): (pathname: string) => Endpoint | undefined {
  const store = udsStore(config.db);
  const userIds = Object.keys(config.users);
  const phoneNumber = (userId: string): string => String(1001 + userIds.indexOf(userId));
  const credentials = { users: config.users, passwords: store.passwords, bearerUser: config.bearerUser };

  const record = (call: Call, kind: UdsWriteKind, resource: string | undefined, status: number): void => {
    config.writes?.record(call.req, { kind, user: call.userId, resource, path: call.path, private: call.private, status });
  };
  const xml = (call: Call, status: number, body: string): void => sendBody(call.res, status, XML, body);
  const deviceOf = (userId: string, pkid: string): SimulatedDevice | undefined => simulatedDevices(userId).find((d) => d.pkid === pkid);
  const userAnswer = (userId: string): string =>
    userBody(config, userId, phoneNumber(userId), {
      tftpServer: config.settings.tftpServers[0] ?? config.settings.serverName,
      ...(config.settings.serviceProfileId !== undefined && { serviceProfileId: config.settings.serviceProfileId }),
      homeCluster: config.homed,
      settings: store.userSettings.get(userId) ?? {},
    });

  const user: Handler = (call) => {
    if (call.method === 'GET') return xml(call, 200, userAnswer(call.userId));
    if (call.method !== 'PUT') return methodNotAllowed(call.res, ['GET', 'HEAD', 'PUT']);
    // "UDS allows PUT methods only when homeCluster is true for the user" (API Reference, Update user Information); the status is not documented.
    if (!config.homed) return finish(call, 'user', undefined, 403);
    const fields = childTexts(call.body, 'user');
    if (fields === undefined) return finish(call, 'user', undefined, 415);
    const settings = { ...store.userSettings.get(call.userId) };
    if (fields.displayName !== undefined) settings.displayName = fields.displayName;
    if (fields.enableDoNotDisturb !== undefined) settings.enableDoNotDisturb = booleanText(fields.enableDoNotDisturb, false);
    const forward = elementText(fields.callForwardAllDestination ?? '', 'destination');
    if (forward !== undefined) settings.callForwardAllDestination = forward;
    store.userSettings.set(call.userId, settings);
    // "The response is identical to the one returned by a user GET method."
    record(call, 'user', undefined, 200);
    xml(call, 200, userAnswer(call.userId));
  };

  const device: Handler = (call, pkid) => {
    const found = deviceOf(call.userId, pkid!);
    if (call.method !== 'GET' && call.method !== 'PUT') return methodNotAllowed(call.res, ['GET', 'HEAD', 'PUT']);
    if (found === undefined) return call.method === 'PUT' ? finish(call, 'device', pkid, 404) : sendStatus(call.res, 404);
    const answer = (): string =>
      deviceBody(config, call.userId, found, store.deviceDescriptions.get(found.pkid) ?? found.description, store.userSettings.get(call.userId)?.enableDoNotDisturb ?? false);
    if (call.method === 'GET') return xml(call, 200, answer());
    const fields = childTexts(call.body, 'device');
    if (fields === undefined) return finish(call, 'device', pkid, 415);
    if (fields.description !== undefined) store.deviceDescriptions.set(found.pkid, fields.description);
    const dnd = elementText(fields.doNotDisturbSettings ?? '', 'enable');
    if (dnd !== undefined) store.userSettings.set(call.userId, { ...store.userSettings.get(call.userId), enableDoNotDisturb: booleanText(dnd, false) });
    // "When the method completes, it returns a response with results identical those obtained with a GET Device request."
    record(call, 'device', pkid, 200);
    xml(call, 200, answer());
  };

  /**
   * devicetoken (12.0(1) New and Changed): `PUT .../device/{devicePkid}/devicetoken`
   * with `<token>` → 200 "<rowsUpdated>: row(s) updated", 404 Not Found;
   * `DELETE .../devicetoken/{token}` → 204, 404. Not before 12.0.
   */
  const deviceToken: Handler = (call, pkid, token) => {
    if (!versionAtLeast(config.version, 12, 0)) return sendStatus(call.res, 404);
    const found = deviceOf(call.userId, pkid!);
    if (token === undefined) {
      // The guide's DELETE names the token in the path; a DELETE without one names nothing to delete.
      if (call.method === 'DELETE') return finish(call, 'device-token', pkid, 404);
      if (call.method !== 'PUT') return methodNotAllowed(call.res, ['PUT', 'DELETE']);
      if (found === undefined) return finish(call, 'device-token', pkid, 404);
      const fields = childTexts(call.body, 'token');
      if (fields === undefined || !fields.pushNotifyToken) return finish(call, 'device-token', pkid, 415);
      store.deviceTokens.set(found.pkid, { userId: call.userId, fields });
      record(call, 'device-token', pkid, 200);
      return xml(call, 200, rowsUpdatedBody(1));
    }
    if (call.method !== 'DELETE') return methodNotAllowed(call.res, ['DELETE']);
    const stored = found === undefined ? undefined : store.deviceTokens.get(found.pkid);
    if (stored === undefined || stored.fields.pushNotifyToken !== token) return finish(call, 'device-token', pkid, 404);
    store.deviceTokens.delete(found!.pkid);
    finish(call, 'device-token', pkid, 204);
  };

  const remoteDestinations: Handler = (call) => {
    if (call.method !== 'GET') return methodNotAllowed(call.res, ['GET', 'HEAD']);
    xml(call, 200, remoteDestinationsBody(config, call.userId, [...(store.remoteDestinations.get(call.userId)?.values() ?? [])]));
  };

  /**
   * remoteDestination (API Reference): GET, POST (add: "If the remote
   * destination is currently associated with the user, use the PUT method
   * instead" — 409, the FAQ's duplicate), PUT (update: "The remote
   * destination already exists"). POST and PUT "return a 201 response if
   * successful. No body is returned" (Response and Error Codes); missing
   * tags are 415. The reference documents no DELETE.
   */
  const remoteDestination: Handler = (call, pkid) => {
    const mine = store.remoteDestinations.get(call.userId) ?? new Map<string, RemoteDestination>();
    const existing = mine.get(pkid!);
    if (call.method === 'GET') return existing === undefined ? sendStatus(call.res, 404) : xml(call, 200, remoteDestinationBody(config, call.userId, existing));
    if (call.method !== 'POST' && call.method !== 'PUT') return methodNotAllowed(call.res, ['GET', 'HEAD', 'POST', 'PUT']);
    if (call.method === 'POST' && existing !== undefined) return finish(call, 'remote-destination', pkid, 409);
    if (call.method === 'PUT' && existing === undefined) return finish(call, 'remote-destination', pkid, 404);
    const fields = childTexts(call.body, 'remoteDestination');
    // The POST example sends <destination>, the PUT example <destinationNumber>.
    const number = fields?.destination ?? fields?.destinationNumber;
    const name = fields?.name ?? existing?.name;
    const associated = elementText(fields?.associatedDevices ?? '', 'name') ?? existing?.associatedDevice.name;
    if (fields === undefined || !name || (!number && existing === undefined) || !associated || !ownsAssociation(call.userId, associated)) {
      return finish(call, 'remote-destination', pkid, 415);
    }
    const usage = Number(elementText(fields.associatedDevices ?? '', 'usage') ?? existing?.associatedDevice.usage ?? 0);
    mine.set(pkid!, {
      pkid: pkid!,
      name,
      destination: number || existing!.destination,
      ringWhenExtensionDialed: booleanText(fields.ringWhenExtensionDialed, existing?.ringWhenExtensionDialed ?? true),
      allowTransferToMobile: booleanText(fields.allowTransferToMobile, existing?.allowTransferToMobile ?? true),
      allowControlFromApplication: booleanText(fields.allowControlFromApplication, existing?.allowControlFromApplication ?? false),
      associatedDevice: { name: associated, usage: Number.isInteger(usage) && usage >= 0 && usage <= 2 ? usage : 0 },
    });
    store.remoteDestinations.set(call.userId, mine);
    finish(call, 'remote-destination', pkid, 201);
  };

  const speedDials: Handler = (call) => speedDialResource(call, store, config, finish);

  /** credentials (API Reference): GET from 10.5(2); PUT with at least one `<credential type="password|pin">` → 204. */
  const credentialsResource: Handler = (call) => {
    if (call.method === 'GET') {
      if (!versionAtLeast(config.version, 10, 5)) return methodNotAllowed(call.res, ['PUT']);
      const login = store.logins.get(call.userId) ?? { lastSuccessfulLogin: undefined, lastSuccessfulLoginIp: undefined, loginFailures: 0 };
      return xml(call, 200, credentialsBody(config, call.userId, login));
    }
    if (call.method !== 'PUT') return methodNotAllowed(call.res, ['GET', 'HEAD', 'PUT']);
    const given = elements(call.body, 'credential').map((c) => ({ type: /\btype\s*=\s*"([^"]*)"/.exec(c.attributes)?.[1], value: elementText(`<v>${c.content}</v>`, 'v') ?? '' }));
    if (given.length === 0 || given.some((c) => (c.type !== 'password' && c.type !== 'pin') || c.value === '')) return finish(call, 'credentials', undefined, 415);
    for (const c of given) {
      if (c.type === 'password') store.passwords.set(call.userId, c.value);
      else config.db.pins.set(call.userId, c.value);
    }
    finish(call, 'credentials', undefined, 204);
  };

  /** conferencing (API Reference; 11.0(1) New and Changed): GET, PUT answering the new setting. */
  const conferencing: Handler = (call) => {
    if (!versionAtLeast(config.version, 11, 0)) return sendStatus(call.res, 404);
    const current = store.conferenceNow.get(call.userId) ?? { enabled: false, accessCode: '' };
    if (call.method === 'GET') return xml(call, 200, conferencingBody(config, call.userId, current));
    if (call.method !== 'PUT') return methodNotAllowed(call.res, ['GET', 'HEAD', 'PUT']);
    const fields = childTexts(call.body, 'conferenceNow');
    if (fields === undefined) return finish(call, 'conferencing', undefined, 415);
    const next = { enabled: booleanText(fields.enabled, current.enabled), accessCode: fields.accessCode ?? current.accessCode };
    store.conferenceNow.set(call.userId, next);
    record(call, 'conferencing', undefined, 200);
    xml(call, 200, conferencingBody(config, call.userId, next));
  };

  function finish(call: Call, kind: UdsWriteKind, resource: string | undefined, status: number): void {
    record(call, kind, resource, status);
    sendStatus(call.res, status);
  }

  /** The user's remote destination profile (`RDP<USER>`) or one of their Dual Mode mobile devices. */
  function ownsAssociation(userId: string, name: string): boolean {
    return name === `RDP${userId.toUpperCase()}` || simulatedDevices(userId).some((d) => d.mobile && d.name === name);
  }

  const routes: [RegExp, Handler][] = [
    [/^$/, user],
    [/^devices$/, (call) => (call.method === 'GET' ? xml(call, 200, devicesBody(config, call.userId, store.deviceDescriptions)) : methodNotAllowed(call.res, ['GET', 'HEAD']))],
    [/^device\/([^/]+)$/, device],
    [/^device\/([^/]+)\/devicetoken(?:\/([^/]+))?$/, deviceToken],
    [/^remoteDestinations$/, remoteDestinations],
    [/^remoteDestination\/([^/]+)$/, remoteDestination],
    [/^speedDials$/, speedDials],
    [/^credentials$/, credentialsResource],
    [/^conferencing$/, conferencing],
  ];

  const userResource: Endpoint = (req, res, ctx) => {
    const match = USER_PATH.exec(ctx.url.pathname)!;
    let userId: string;
    let params: string[];
    let found: Handler | undefined;
    try {
      userId = decodeURIComponent(match[2]!);
      const rest = match[3] ?? '';
      const route = routes.find(([pattern]) => pattern.test(rest));
      found = route?.[1];
      params = route ? route[0].exec(rest)!.slice(1).filter((p): p is string => p !== undefined).map((p) => decodeURIComponent(p)) : [];
    } catch {
      return sendBody(res, 400, TEXT, 'Bad user id\n');
    }
    if (!authorised(req, res, userId)) return;
    if (found === undefined) return sendStatus(res, 404);
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? '');
    found({ req, res, body: ctx.body.toString('utf8'), userId, method, path: ctx.url.pathname, private: match[1] !== undefined }, ...params);
  };

  /** Credentials, and only for the user's own resources; a login's outcome is what `credentials` GET reports. */
  function authorised(req: IncomingMessage, res: ServerResponse, userId: string): boolean {
    const who = caller(req, credentials);
    if (who === undefined || 'failedUser' in who) {
      if (who !== undefined) loginDetails(store, who.failedUser).loginFailures++;
      unauthorized(res);
      return false;
    }
    const login = loginDetails(store, who.user);
    login.lastSuccessfulLogin = Date.now();
    login.lastSuccessfulLoginIp = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    login.loginFailures = 0;
    if (who.user !== userId) {
      sendBody(res, 403, TEXT, 'Forbidden\n');
      return false;
    }
    return true;
  }

  /** `/cucm-uds/private/users`: a contact search for signed-in clients (see the header). */
  const privateUsers: Endpoint = (req, res, ctx: EndpointContext) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, ['GET', 'HEAD']);
    const who = caller(req, credentials);
    if (who === undefined || 'failedUser' in who) return unauthorized(res);
    const name = (ctx.url.searchParams.get('name') ?? '').toLowerCase();
    const matches = userIds.filter((id) => id.toLowerCase().startsWith(name)).map((userId) => ({ userId, phoneNumber: phoneNumber(userId) }));
    sendBody(res, 200, XML, usersBody(config, PRIVATE_USERS.slice('/cucm-uds'.length), matches));
  };

  return (pathname) => (pathname === PRIVATE_USERS ? privateUsers : USER_PATH.test(pathname) ? userResource : undefined);
}

function loginDetails(store: UdsStore, userId: string) {
  let login = store.logins.get(userId);
  if (login === undefined) {
    login = { lastSuccessfulLogin: undefined, lastSuccessfulLoginIp: undefined, loginFailures: 0 };
    store.logins.set(userId, login);
  }
  return login;
}

/**
 * speedDials (API Reference): GET the unified list; POST adds (`index` is
 * required; an index in use is the FAQ's 409 duplicate); PUT replaces the
 * list; `DELETE ...?index=` "Clears the speed dial information" → 204.
 * POST and PUT answer 201 without a body (Response and Error Codes).
 */
function speedDialResource(
  call: Call,
  store: UdsStore,
  ctx: UdsContext,
  finish: (call: Call, kind: UdsWriteKind, resource: string | undefined, status: number) => void,
): void {
  const current = store.speedDials.get(call.userId) ?? [];
  if (call.method === 'GET') return sendBody(call.res, 200, XML, speedDialsBody(ctx, call.userId, current));
  if (call.method === 'DELETE') {
    const index = Number(new URL(call.req.url ?? '/', 'http://x').searchParams.get('index'));
    if (!current.some((d) => d.index === index)) return finish(call, 'speed-dials', undefined, 404);
    store.speedDials.set(call.userId, current.filter((d) => d.index !== index));
    return finish(call, 'speed-dials', undefined, 204);
  }
  if (call.method !== 'POST' && call.method !== 'PUT') return methodNotAllowed(call.res, ['GET', 'HEAD', 'POST', 'PUT', 'DELETE']);
  const given = elements(call.body, 'speedDial').map((d) => ({
    index: Number(elementText(d.content, 'index')),
    number: elementText(d.content, 'number') ?? '',
    label: elementText(d.content, 'label') ?? '',
  }));
  if (given.length === 0 || given.some((d) => !Number.isInteger(d.index) || d.index < 1)) return finish(call, 'speed-dials', undefined, 415);
  if (call.method === 'POST' && given.some((d) => current.some((c) => c.index === d.index))) return finish(call, 'speed-dials', undefined, 409);
  const next = call.method === 'PUT' ? given : [...current, ...given];
  store.speedDials.set(call.userId, next.sort((a, b) => a.index - b.index));
  finish(call, 'speed-dials', undefined, 201);
}
