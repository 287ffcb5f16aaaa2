/**
 * XML bodies of the user-level UDS resources (`user`, `devices`, `device`,
 * `remoteDestinations`, `remoteDestination`, `speedDials`, `conferencing`,
 * `credentials`) and of the users search. Shapes follow the "Cisco User
 * Data Services (UDS) API Reference" ("User Resources", "Device Resources")
 * and the Developer Guide's "New and Changed" pages, reduced to the elements
 * the references show. Host names and ports are per link, as the references
 * and the captures in uds-names.ts show them: a simulated answer mixes the
 * answering node's FQDN (with and without :8443), its System > Server name
 * and the TFTP server's.
 */
import { createHash } from 'node:crypto';
import { answeringServer, escapeXml, simulatedUuid, udsApiVersion, udsUri, XML_DECLARATION, type UdsContext } from './uds-bodies.js';
import { hostLink, versionAtLeast } from './uds-names.js';
import type { LoginDetails, RemoteDestination, SpeedDial, UserSettings } from './uds-store.js';

/** One device a simulated end user owns. */
export interface SimulatedDevice {
  readonly name: string;
  /** The device's pkid: `{devicePkid}` in UDS paths. */
  readonly pkid: string;
  readonly model: string;
  readonly description: string;
  readonly protocol: 'SIP';
  /** Jabber clients (CSF, BOT, TCT, TAB) carry the "Cisco Support Field"; `mobile` ones register for push. */
  readonly jabber: boolean;
  readonly mobile: boolean;
}

function deviceName(prefix: string, userId: string): string {
  // CUCM device names are at most 15 characters: the prefix and the user id, upper-cased.
  return `${prefix}${userId.toUpperCase().replace(/[^A-Z0-9]/g, '')}`.slice(0, 15);
}

/**
 * The devices a simulated end user owns: Jabber for desktop (CSF, "Cisco
 * Unified Client Services Framework"), Jabber for Android (BOT) and iPhone
 * (TCT) — "Cisco Dual Mode for Android" is the model the 12.0(1) New and
 * Changed example shows — and a desk phone.
 */
export function simulatedDevices(userId: string): SimulatedDevice[] {
  const mac = createHash('sha1').update(`mac:${userId}`).digest('hex').slice(0, 12).toUpperCase();
  const devices = [
    { name: deviceName('CSF', userId), model: 'Cisco Unified Client Services Framework', description: `${userId} Jabber`, jabber: true, mobile: false },
    { name: deviceName('BOT', userId), model: 'Cisco Dual Mode for Android', description: `${userId} Android`, jabber: true, mobile: true },
    { name: deviceName('TCT', userId), model: 'Cisco Dual Mode for iPhone', description: `${userId} iPhone`, jabber: true, mobile: true },
    { name: `SEP${mac}`, model: 'Cisco 8845', description: `${userId} desk phone`, jabber: false, mobile: false },
  ];
  return devices.map((device) => ({ ...device, pkid: simulatedUuid('device', device.name), protocol: 'SIP' }));
}

/** `version="x.y.z"`. */
function versionAttr(ctx: UdsContext): string {
  return `version="${escapeXml(udsApiVersion(ctx.version))}"`;
}

function userPath(userId: string, rest = ''): string {
  return `/user/${encodeURIComponent(userId)}${rest}`;
}

/** A link on the answering node's System > Server name, port 8443 (the Camelot capture's `speedDials`, `userLocale`). */
function serverUri(ctx: UdsContext, path: string): string {
  return escapeXml(hostLink('https', answeringServer(ctx), 8443, `/cucm-uds${path}`));
}

function bool(value: boolean): string {
  return value ? 'true' : 'false';
}

export interface UserBodyOptions {
  /** The TFTP server the profile URIs name, as System > Server defines it. Default: the answering node's server name. */
  readonly tftpServer?: string;
  /** The user's UC service profile pkid; undefined: the system default profile (`SPDefault.cnf.xml`). */
  readonly serviceProfileId?: string;
  /** The id in the `JAB_` file name. Default: `serviceProfileId`, else the default profile's id. */
  readonly jabberProfileId?: string;
  /** "Home Cluster" on the End User page; UDS allows PUT only when true (API Reference, Update user Information). Default true. */
  readonly homeCluster?: boolean;
  readonly settings?: UserSettings;
}

/** The pkid the simulator gives the system default service profile. */
export const DEFAULT_SERVICE_PROFILE_ID = simulatedUuid('ucserviceprofile', 'Default');

/** `SPDefault.cnf.xml` or `SP<pkid>.cnf.xml`: the TFTP file of a UC service profile. */
export function serviceProfileFile(serviceProfileId: string | undefined): string {
  return serviceProfileId === undefined ? 'SPDefault.cnf.xml' : `SP${serviceProfileId}.cnf.xml`;
}

/** `JAB_<id>.cnf.xml` (UDS 12.5(1) New and Changed: `https://{host}:6972/JAB_{serviceProfileID}.cnf.xml`). */
export function jabberProfileFile(id: string): string {
  return `JAB_${id}.cnf.xml`;
}

/**
 * user (API Reference, Display user Information; UDS 12.5(1) New and Changed
 * for `jabberProfile`): `serviceProfile` and `jabberProfile` carry a `<uri>`
 * child element (`<serviceProfile><uri>http://{host}:6970/SPDefault.cnf.xml
 * </uri></serviceProfile>`; the 10.0 "Hello World" page's `uri=` attribute
 * is older than every capture). Link hosts as in Camelot's 12.5 capture
 * (uds-names.ts); `jabberProfile` only from 12.5.
 */
export function userBody(ctx: UdsContext, userId: string, phoneNumber: string, options: UserBodyOptions = {}): string {
  const name = escapeXml(userId);
  const settings = options.settings ?? {};
  const domain = ctx.hostname.includes('.') ? ctx.hostname.slice(ctx.hostname.indexOf('.') + 1) : ctx.hostname;
  const tftp = options.tftpServer ?? answeringServer(ctx);
  const profile = escapeXml(hostLink('http', tftp, 6970, `/${serviceProfileFile(options.serviceProfileId)}`));
  const jabberId = options.jabberProfileId ?? options.serviceProfileId ?? DEFAULT_SERVICE_PROFILE_ID;
  const jabber = versionAtLeast(ctx.version, 12, 5)
    ? `<jabberProfile><uri>${escapeXml(hostLink('https', tftp, 6972, `/${jabberProfileFile(jabberId)}`))}</uri></jabberProfile>`
    : '';
  const forward = settings.callForwardAllDestination ?? '';
  return (
    `${XML_DECLARATION}<user ${versionAttr(ctx)} uri="${udsUri(ctx, userPath(userId))}">` +
    `<id>${simulatedUuid('user', userId)}</id>` +
    `<userName>${name}</userName><firstName>${name}</firstName><lastName>Simulated</lastName><middleName/><nickName/>` +
    `<displayName>${escapeXml(settings.displayName ?? `${userId} Simulated`)}</displayName>` +
    `<phoneNumber>${escapeXml(phoneNumber)}</phoneNumber><homeNumber/><mobileNumber/>` +
    '<mobileConnect>true</mobileConnect><remoteDestinationLimit>4</remoteDestinationLimit>' +
    `<userLocale uri="${serverUri(ctx, '/options/installedLocales')}" value="" appliesToAllDevices="true">English, United States</userLocale>` +
    `<email>${name}@${escapeXml(domain)}</email><directoryUri>${name}@${escapeXml(domain)}</directoryUri><msUri/>` +
    '<department/><manager/><title/><pager/>' +
    '<accountType useLdapAuth="false">local</accountType>' +
    `<homeCluster enableCalendarPresence="false" enableImAndPresence="false">${bool(options.homeCluster ?? true)}</homeCluster>` +
    `<callForwardAllDestination appliesToAllExtensions="true"><sendToVoiceMailPilotNumber>false</sendToVoiceMailPilotNumber>` +
    `<destination>${escapeXml(forward)}</destination></callForwardAllDestination>` +
    `<enableDoNotDisturb appliesToAllDevices="true">${bool(settings.enableDoNotDisturb ?? false)}</enableDoNotDisturb>` +
    `<devices uri="${udsUri(ctx, userPath(userId, '/devices'))}"/>` +
    `<credentials uri="${udsUri(ctx, userPath(userId, '/credentials'))}"/>` +
    `<extensions uri="${udsUri(ctx, userPath(userId, '/extensions'))}"/>` +
    `<subscribedServices uri="${serverUri(ctx, userPath(userId, '/subscribedServices'))}"/>` +
    `<speedDials uri="${serverUri(ctx, userPath(userId, '/speedDials'))}"/>` +
    `<serviceProfile><uri>${profile}</uri></serviceProfile>${jabber}` +
    '</user>'
  );
}

/**
 * devices (API Reference, devices): `<devices uri="https://{host}/cucm-uds/
 * user/{userId}/devices" version=...>`, each `<device uri="https://{host}/
 * cucm-uds/user/{userId}/device/{pkid}">` — no port on either.
 */
export function devicesBody(ctx: UdsContext, userId: string, descriptions: ReadonlyMap<string, string> = new Map()): string {
  const items = simulatedDevices(userId)
    .map(
      (device) =>
        `<device uri="${udsUri(ctx, userPath(userId, `/device/${device.pkid}`), false)}">` +
        `<id>${device.pkid}</id><name>${escapeXml(device.name)}</name><type>Phone</type>` +
        `<model>${escapeXml(device.model)}</model>` +
        `<description editable="true">${escapeXml(descriptions.get(device.pkid) ?? device.description)}</description>` +
        `<protocol>${device.protocol}</protocol></device>`,
    )
    .join('');
  return `${XML_DECLARATION}<devices uri="${udsUri(ctx, userPath(userId, '/devices'), false)}" ${versionAttr(ctx)}>${items}</devices>`;
}

/** device (API Reference, Get device Information), reduced to what the example shows of a SIP device. */
export function deviceBody(ctx: UdsContext, userId: string, device: SimulatedDevice, description: string, doNotDisturb: boolean): string {
  const base = userPath(userId, `/device/${device.pkid}`);
  return (
    `${XML_DECLARATION}<device uri="${udsUri(ctx, base, false)}" ${versionAttr(ctx)} hasPrimaryNumber="true">` +
    `<id>${device.pkid}</id><name>${escapeXml(device.name)}</name><type>Phone</type>` +
    `<description editable="true">${escapeXml(description)}</description>` +
    `<model>${escapeXml(device.model)}</model><protocol>${device.protocol}</protocol>` +
    `<requireCerLocation>false</requireCerLocation><doNotDisturbSettings><enable>${bool(doNotDisturb)}</enable></doNotDisturbSettings>` +
    `<extensions uri="${udsUri(ctx, `${base}/extensions`, false)}"/>` +
    `<subscribedServices uri="${udsUri(ctx, `${base}/subscribedServices`, false)}"/>` +
    `<speedDials uri="${udsUri(ctx, `${base}/speedDials`, false)}"/>` +
    '</device>'
  );
}

const USAGE = ['Single Number Reach', 'Application Control', 'Dual Mode Mobile'];

function remoteDestinationFields(rd: RemoteDestination): string {
  return (
    `<id>${escapeXml(rd.pkid)}</id><name>${escapeXml(rd.name)}</name><destination>${escapeXml(rd.destination)}</destination>` +
    `<ringWhenExtensionDialed>${bool(rd.ringWhenExtensionDialed)}</ringWhenExtensionDialed>` +
    `<allowTransferToMobile>${bool(rd.allowTransferToMobile)}</allowTransferToMobile>` +
    `<allowControlFromApplication>${bool(rd.allowControlFromApplication)}</allowControlFromApplication>`
  );
}

/** The `<model>` of an associated device, from 12.0(1) ("Tag added: <model> under <associatedDevice>"). */
function associatedModel(ctx: UdsContext, userId: string, rd: RemoteDestination): string {
  if (!versionAtLeast(ctx.version, 12, 0)) return '';
  const device = simulatedDevices(userId).find((d) => d.name === rd.associatedDevice.name);
  return `<model>${escapeXml(device?.model ?? 'Remote Destination Profile')}</model>`;
}

/**
 * remoteDestinations (API Reference; 12.0(1) New and Changed): the list
 * `uri` has :8443, each entry's none; `usage` names the remote destination
 * usage option.
 */
export function remoteDestinationsBody(ctx: UdsContext, userId: string, rds: readonly RemoteDestination[]): string {
  const items = rds
    .map((rd) => {
      const usage = rd.associatedDevice.usage;
      return (
        `<remoteDestination uri="${udsUri(ctx, userPath(userId, `/remoteDestination/${encodeURIComponent(rd.pkid)}`), false)}">` +
        remoteDestinationFields(rd) +
        `<associatedDevices><associatedDevice><usage uri="${udsUri(ctx, '/options/remoteDestinationUsage')}" value="${usage}">${USAGE[usage] ?? ''}</usage>` +
        `<name>${escapeXml(rd.associatedDevice.name)}</name><description/>${associatedModel(ctx, userId, rd)}</associatedDevice></associatedDevices>` +
        '</remoteDestination>'
      );
    })
    .join('');
  return `${XML_DECLARATION}<remoteDestinations ${versionAttr(ctx)} uri="${udsUri(ctx, userPath(userId, '/remoteDestinations'))}">${items}</remoteDestinations>`;
}

/** remoteDestination (API Reference, Get remoteDestination for a Device): `usage` lists the options. */
export function remoteDestinationBody(ctx: UdsContext, userId: string, rd: RemoteDestination): string {
  const options = USAGE.map((name, value) => `<option value="${value}">${name}</option>`).join('');
  return (
    `${XML_DECLARATION}<remoteDestination ${versionAttr(ctx)} uri="${udsUri(ctx, userPath(userId, `/remoteDestination/${encodeURIComponent(rd.pkid)}`), false)}">` +
    remoteDestinationFields(rd) +
    `<associatedDevices><associatedDevice><name>${escapeXml(rd.associatedDevice.name)}</name>` +
    `<usage uri="${udsUri(ctx, '/options/remoteDestinationUsage', false)}" value="${rd.associatedDevice.usage}">${options}</usage>` +
    `<description/>${associatedModel(ctx, userId, rd)}</associatedDevice></associatedDevices>` +
    '</remoteDestination>'
  );
}

/** speedDials (API Reference, Get the User's speedDials): a unified list, then each device's drill-down link. */
export function speedDialsBody(ctx: UdsContext, userId: string, dials: readonly SpeedDial[]): string {
  const items = dials
    .map((d) => `<speedDial><index>${d.index}</index><number>${escapeXml(d.number)}</number><label>${escapeXml(d.label)}</label></speedDial>`)
    .join('');
  const devices = simulatedDevices(userId)
    .map(
      (device) =>
        `<device name="${escapeXml(device.name)}" description="${escapeXml(device.description)}" ` +
        `speedDialsUri="${udsUri(ctx, userPath(userId, `/device/${device.pkid}/speedDials`), false)}"/>`,
    )
    .join('');
  return (
    `${XML_DECLARATION}<userSpeedDials uri="${udsUri(ctx, userPath(userId, '/speedDials'))}" ${versionAttr(ctx)}>` +
    `<speedDials appliesToAllDevices="true" totalCount="${dials.length}">${items}</speedDials><devices>${devices}</devices></userSpeedDials>`
  );
}

/** conferencing (API Reference; 11.0(1) New and Changed): `uri="https://{hostname}/cucm-uds/user/{userid}/conferencing"`. */
export function conferencingBody(ctx: UdsContext, userId: string, setting: { enabled: boolean; accessCode: string }): string {
  return (
    `${XML_DECLARATION}<conferencing uri="${udsUri(ctx, userPath(userId, '/conferencing'), false)}" ${versionAttr(ctx)}>` +
    `<conferenceNow><enabled>${bool(setting.enabled)}</enabled><accessCode>${escapeXml(setting.accessCode)}</accessCode></conferenceNow></conferencing>`
  );
}

/**
 * credentials GET (API Reference; 10.5(2) New and Changed). The reference's
 * example `uri` ends in `/conferencing`, a copy slip: this one names the resource.
 */
export function credentialsBody(ctx: UdsContext, userId: string, login: LoginDetails): string {
  const when = login.lastSuccessfulLogin === undefined ? '' : new Date(login.lastSuccessfulLogin).toISOString();
  return (
    `${XML_DECLARATION}<credentials uri="${udsUri(ctx, userPath(userId, '/credentials'), false)}" ${versionAttr(ctx)}>` +
    `<credential><loginDetails><lastSuccessfulLogin>${when}</lastSuccessfulLogin>` +
    `<lastSuccessfulLoginIp>${escapeXml(login.lastSuccessfulLoginIp ?? '')}</lastSuccessfulLoginIp></loginDetails>` +
    `<loginFailures>${login.loginFailures}</loginFailures></credential></credentials>`
  );
}

/**
 * The 200 answer to a devicetoken PUT. The Developer Guide documents it as
 * "Status Code: 200 / Message: <rowsUpdated> : row(s) updated"; the element
 * holding the count is that name.
 */
export function rowsUpdatedBody(rows: number): string {
  return `${XML_DECLARATION}<rowsUpdated>${rows}</rowsUpdated>`;
}

/** A users search answer (API Reference, users: `start`, `requestedCount`, `returnedCount`, `totalCount`). */
export function usersBody(ctx: UdsContext, path: string, users: readonly { userId: string; phoneNumber: string }[]): string {
  const items = users
    .map(
      ({ userId, phoneNumber }) =>
        `<user uri="${udsUri(ctx, userPath(userId))}"><id>${simulatedUuid('user', userId)}</id><userName>${escapeXml(userId)}</userName>` +
        `<firstName>${escapeXml(userId)}</firstName><lastName>Simulated</lastName><middleName/><nickName/><displayName/>` +
        `<phoneNumber>${escapeXml(phoneNumber)}</phoneNumber><homeNumber/><mobileNumber/><email/><directoryUri/><msUri/>` +
        '<department/><manager/><title/><pager/></user>',
    )
    .join('');
  return (
    `${XML_DECLARATION}<users uri="${udsUri(ctx, path, false)}" ${versionAttr(ctx)} start="0" requestedCount="64" ` +
    `returnedCount="${users.length}" totalCount="${users.length}">${items}</users>`
  );
}
