/**
 * XML bodies of the Cisco User Data Services (UDS) resources the simulated
 * CUCM node serves, shaped after the UDS developer guide. Every absolute URI
 * names the answering node (or the home-cluster publisher), because those
 * names are exactly what the gateway has to rewrite.
 */
import { createHash } from 'node:crypto';

/** Who is answering: the node's FQDN and its full CUCM version. */
export interface UdsContext {
  readonly hostname: string;
  /** Full CUCM version, e.g. `14.0.1.13900-155`. */
  readonly version: string;
}

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>';

/** Escapes text for use in XML character data and double-quoted attributes. */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** UDS stamps each answer with the release (major.minor.mr), not the full build. */
export function udsApiVersion(version: string): string {
  return version.split('.').slice(0, 3).join('.');
}

/**
 * A stable UUID for a named database object. Every node of a cluster reads
 * the same database, so the id must not depend on which node answers.
 */
export function simulatedUuid(kind: string, name: string): string {
  const hex = createHash('sha1').update(`${kind}:${name}`).digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function udsUri(ctx: UdsContext, path: string): string {
  return escapeXml(`https://${ctx.hostname}:8443/cucm-uds${path}`);
}

function rootAttributes(ctx: UdsContext, path: string): string {
  return `uri="${udsUri(ctx, path)}" version="${escapeXml(udsApiVersion(ctx.version))}"`;
}

export function versionBody(ctx: UdsContext): string {
  const version = escapeXml(ctx.version);
  return (
    `${XML_DECLARATION}<versionInformation ${rootAttributes(ctx, '/version')}>` +
    `<version>${version}</version>` +
    '<capabilities>' +
    '<usersResourceAuthEnabled>false</usersResourceAuthEnabled>' +
    '<ssoEnabled>false</ssoEnabled>' +
    '<ssoMinimumJabberVersion>10.5</ssoMinimumJabberVersion>' +
    '<oAuthEnabled>false</oAuthEnabled>' +
    '<sipOAuthEnabled>false</sipOAuthEnabled>' +
    '</capabilities>' +
    '</versionInformation>'
  );
}

export function serversBody(ctx: UdsContext, servers: readonly string[]): string {
  const items = servers.map((server) => `<server>${escapeXml(server)}</server>`).join('');
  return `${XML_DECLARATION}<servers ${rootAttributes(ctx, '/servers')}>${items}</servers>`;
}

/**
 * `homeCluster` carries both the attributes Jabber reads and `serversUri`
 * (from the UDS guide): the two places a publisher's name leaks out here.
 */
export function clusterUserBody(ctx: UdsContext, username: string, found: boolean, homeCluster: string): string {
  const root = `<clusterUser ${rootAttributes(ctx, `/clusterUser?username=${encodeURIComponent(username)}`)}>`;
  if (!found) return `${XML_DECLARATION}${root}<result found="false"/></clusterUser>`;
  const home = escapeXml(homeCluster);
  return (
    `${XML_DECLARATION}${root}` +
    `<result found="true" uri="${udsUri(ctx, `/user/${encodeURIComponent(username)}`)}" version="${escapeXml(udsApiVersion(ctx.version))}"/>` +
    `<userName>${escapeXml(username)}</userName>` +
    `<homeCluster enableCalendarPresence="false" enablePresence="false" serversUri="https://${home}:8443/cucm-uds/servers">${home}</homeCluster>` +
    '<homeClusterDetails><selfProvisioningSecureMode>true</selfProvisioningSecureMode>' +
    '<adminProvisionMode>false</adminProvisionMode></homeClusterDetails>' +
    '</clusterUser>'
  );
}

/** The devices a simulated end user owns: one Jabber softphone, one desk phone. */
export function simulatedDevices(userId: string): { name: string; model: string; description: string }[] {
  const mac = createHash('sha1').update(`mac:${userId}`).digest('hex').slice(0, 12).toUpperCase();
  return [
    {
      name: `CSF${userId.toUpperCase().replace(/[^A-Z0-9]/g, '')}`.slice(0, 15),
      model: 'Cisco Unified Client Services Framework',
      description: `${userId} Jabber`,
    },
    { name: `SEP${mac}`, model: 'Cisco 8845', description: `${userId} desk phone` },
  ];
}

export function devicesBody(ctx: UdsContext, userId: string): string {
  const devices = simulatedDevices(userId);
  const items = devices
    .map((device) => {
      const id = simulatedUuid('device', device.name);
      return (
        `<device uri="${udsUri(ctx, `/device/${id}`)}">` +
        `<id>${id}</id><name>${escapeXml(device.name)}</name><type>Phone</type>` +
        `<model>${escapeXml(device.model)}</model><description>${escapeXml(device.description)}</description>` +
        '<protocol>SIP</protocol></device>'
      );
    })
    .join('');
  const path = `/user/${encodeURIComponent(userId)}/devices`;
  return (
    `${XML_DECLARATION}<devices ${rootAttributes(ctx, path)} start="0" requestedCount="64" ` +
    `returnedCount="${devices.length}" totalCount="${devices.length}">${items}</devices>`
  );
}

export function userBody(ctx: UdsContext, userId: string, phoneNumber: string): string {
  const name = escapeXml(userId);
  const domain = ctx.hostname.includes('.') ? ctx.hostname.slice(ctx.hostname.indexOf('.') + 1) : ctx.hostname;
  const path = `/user/${encodeURIComponent(userId)}`;
  return (
    `${XML_DECLARATION}<user ${rootAttributes(ctx, path)}>` +
    `<id>${simulatedUuid('user', userId)}</id>` +
    `<userName>${name}</userName><firstName>${name}</firstName><lastName>Simulated</lastName>` +
    `<displayName>${name} Simulated</displayName>` +
    `<phoneNumber>${escapeXml(phoneNumber)}</phoneNumber>` +
    `<email>${name}@${escapeXml(domain)}</email>` +
    '<accountType useLdapAuth="false">local</accountType>' +
    '<homeCluster enableImAndPresence="false" enableCalendarPresence="false">true</homeCluster>' +
    `<serviceProfile uri="http://${escapeXml(ctx.hostname)}:6970/SPDefault.cnf.xml"/>` +
    `<devices uri="${udsUri(ctx, `${path}/devices`)}"/>` +
    `<subscribedServices uri="${udsUri(ctx, `${path}/subscribedServices`)}"/>` +
    '</user>'
  );
}
