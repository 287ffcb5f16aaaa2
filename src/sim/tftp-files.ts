/**
 * The files a simulated CUCM TFTP server hands Jabber over HTTP (CUCM serves
 * them on 6970, and over TLS on 6972): the global `jabber-config.xml`, the
 * service profiles (`SPDefault.cnf.xml`, `SP<pkid>.cnf.xml`), the 12.5+
 * Jabber client configuration of a profile (`JAB_<pkid>.cnf.xml`), dial
 * rules, each Jabber device's configuration (`CSF`/`BOT`/`TCT<name>.cnf.xml`)
 * and the group configuration files their "Cisco Support Field" names.
 * Shaped after CUCM's files, reduced to what matters to the gateway: where
 * they name a node, and how.
 *
 * Two kinds of names: HTTP service URLs (directories, authentication, a
 * Jabber custom tab), which a gateway must rewrite, and SIP call-control
 * addresses (`callManager/name`, `processNodeName`), which Jabber uses to
 * register directly with CUCM and which must reach it unchanged. The service
 * profile lists its TFTP servers by bare name, which Jabber then asks for
 * `jabber-config.xml`.
 */
import { escapeXml } from './uds-bodies.js';
import { versionAtLeast } from './uds-names.js';
import { groupConfigurationFile, resolveUdsSettings, type UdsSettings } from './uds-options.js';
import { DEFAULT_SERVICE_PROFILE_ID, jabberProfileFile, serviceProfileFile, simulatedDevices } from './uds-user-bodies.js';

export interface TftpFileContext {
  /** The answering node's FQDN. */
  readonly hostname: string;
  /** Full CUCM version; `JAB_` files exist from 12.5. Default `14.0.1.13900-155`. */
  readonly version?: string;
  /** Every node's FQDN: the call-manager group of the device configurations. */
  readonly clusterNodes: readonly string[];
  /** UDS end users: their Jabber devices have configurations here. */
  readonly userIds: readonly string[];
  /** Server names, service profile and Cisco Support Fields (uds-options.ts). Default: from `hostname`. */
  readonly uds?: UdsSettings;
}

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

export function jabberConfigBody(ctx: TftpFileContext): string {
  const host = escapeXml(ctx.hostname);
  return (
    `${XML_DECLARATION}<config version="1.0">` +
    '<Client><PrtLogServerUrl></PrtLogServerUrl>' +
    '<jabber-plugin-config><browser-plugin><page refresh="true" preload="true">' +
    `<tooltip>Directory</tooltip><url>https://${host}:8443/ccmcip/xmldirectory.jsp</url>` +
    '</page></browser-plugin></jabber-plugin-config></Client>' +
    '<Options><StartCallWithVideo>false</StartCallWithVideo></Options>' +
    '<Directory><DirectoryServerType>UDS</DirectoryServerType></Directory>' +
    '<Policies><EnableTelProtocolHandler>true</EnableTelProtocolHandler></Policies>' +
    '</config>'
  );
}

/**
 * A UC service profile's file. Its TFTP server list names the servers as
 * System > Server does, bare: "TftpServer1 — Hostname (hostname), IP address
 * (123.45.254.1), FQDN (hostname.domain.com)" (Parameters Reference Guide for
 * Cisco Jabber, Phone). No public capture of a service profile file was
 * found: the envelope (`UCServiceProfile`, `Options/Name`) is the
 * simulator's own, the element names of the list are the parameter's.
 */
export function serviceProfileBody(name: string, tftpServers: readonly string[]): string {
  const servers = tftpServers.map((server, i) => `<TftpServer${i + 1}>${escapeXml(server)}</TftpServer${i + 1}>`).join('');
  return `${XML_DECLARATION}<UCServiceProfile><Options><Name>${escapeXml(name)}</Name></Options><Phone>${servers}</Phone></UCServiceProfile>`;
}

/**
 * A service profile's Jabber client configuration (12.5+: User Management >
 * User Settings > UC Service, type "Jabber Client Configuration
 * (jabber-config.xml)", parameters by Section / Parameter / Value, assigned
 * through the service profile; Jabber deployment guides, "Define configuration
 * parameters", Unified CM 12.5 and later). Served as a jabber-config
 * document; no capture of the file was found. The one parameter is a
 * documented example of such a UC service (CUCM Feature Configuration Guide,
 * Local Push Notifications, "Configure Wi-Fi SSID": Section Phone,
 * Parameter LocalPushSSIDList).
 */
export function jabberProfileBody(): string {
  return `${XML_DECLARATION}<config version="1.0"><Phone><LocalPushSSIDList>CorpWiFi</LocalPushSSIDList></Phone></config>`;
}

/**
 * A group configuration file: "The group configuration file can have any
 * appropriate name" (Jabber deployment guides, "Create Group
 * Configurations"); content after TAC 213406's test file.
 */
export function groupConfigBody(): string {
  return `${XML_DECLARATION}<config version="1.0"><Directory><OtherPhone>ipPhone</OtherPhone></Directory></config>`;
}

export function dialRulesBody(root: 'DialRules' | 'DirLookupRules'): string {
  return `${XML_DECLARATION}<${root}><DialRule BeginsWith="9" NumDigits="11" DigitsToBeRemoved="1" PrefixWith="" /></${root}>`;
}

/**
 * A Jabber device's configuration: SIP registration with every node, this
 * node's phone-service URLs, and the product-specific settings in
 * `<vendorConfig>` — among them the "Cisco Support Field" (Desktop Client
 * Settings) as `<ciscoSupportField>`, the element public tools read from a
 * CSF file to find its group configuration.
 */
export function deviceConfigBody(ctx: TftpFileContext, deviceName: string, ciscoSupportField?: string): string {
  const host = escapeXml(ctx.hostname);
  const members = ctx.clusterNodes
    .map((node, i) => {
      const name = escapeXml(node);
      return (
        `<member priority="${i}"><callManager><name>${name}</name><description>${name}</description>` +
        '<ports><ethernetPhonePort>2000</ethernetPhonePort><sipPort>5060</sipPort><securedSipPort>5061</securedSipPort></ports>' +
        `<processNodeName>${name}</processNodeName></callManager></member>`
      );
    })
    .join('');
  const vendor = ciscoSupportField === undefined ? '<vendorConfig></vendorConfig>' : `<vendorConfig><ciscoSupportField>${escapeXml(ciscoSupportField)}</ciscoSupportField></vendorConfig>`;
  return (
    `${XML_DECLARATION}<device xsi:type="axl:XIPPhone" ctiid="1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
    `<fullConfig>true</fullConfig><deviceProtocol>SIP</deviceProtocol><name>${escapeXml(deviceName)}</name>` +
    `<devicePool><callManagerGroup><name>Default</name><tftpDefault>true</tftpDefault><members>${members}</members></callManagerGroup></devicePool>` +
    '<sipProfile><sipProxies><registerWithProxy>true</registerWithProxy></sipProxies></sipProfile>' +
    `<authenticationURL>http://${host}:8080/ccmcip/authenticate.jsp</authenticationURL>` +
    `<directoryURL>http://${host}:8080/ccmcip/xmldirectory.jsp</directoryURL>` +
    `<servicesURL>http://${host}:8080/ccmcip/getservicesmenu.jsp</servicesURL>` +
    `<secureAuthenticationURL>https://${host}:8443/ccmcip/authenticate.jsp</secureAuthenticationURL>` +
    `<secureDirectoryURL>https://${host}:8443/ccmcip/xmldirectory.jsp</secureDirectoryURL>` +
    `<transportLayerProtocol>2</transportLayerProtocol>${vendor}` +
    '</device>'
  );
}

export interface TftpFile {
  readonly body: string;
  readonly deviceConfig: boolean;
}

/**
 * File name → body, for every file this node serves. Names are matched
 * exactly: "Configuration filenames are case-sensitive. Use lowercase
 * letters in the filename to prevent errors and to ensure that the client
 * can retrieve the file from the TFTP server" ("Cloud and Hybrid Deployments
 * for Cisco Jabber 12.5", Create and Host the Client Configuration Files).
 */
export function tftpFiles(ctx: TftpFileContext): Map<string, TftpFile> {
  const uds = ctx.uds ?? resolveUdsSettings({}, { fqdn: ctx.hostname, ip: '127.0.0.1', shortName: ctx.hostname.split('.')[0]!.toUpperCase() });
  const file = (body: string): TftpFile => ({ body, deviceConfig: false });
  const files = new Map<string, TftpFile>([
    ['jabber-config.xml', file(jabberConfigBody(ctx))],
    [serviceProfileFile(undefined), file(serviceProfileBody('Default', uds.tftpServers))],
    ['AppDialRules.xml', file(dialRulesBody('DialRules'))],
    ['DirLookupDialRules.xml', file(dialRulesBody('DirLookupRules'))],
  ]);
  if (uds.serviceProfileId !== undefined) files.set(serviceProfileFile(uds.serviceProfileId), file(serviceProfileBody(uds.serviceProfileName, uds.tftpServers)));
  if (versionAtLeast(ctx.version ?? '14.0.1.13900-155', 12, 5)) {
    for (const id of new Set([DEFAULT_SERVICE_PROFILE_ID, uds.serviceProfileId ?? DEFAULT_SERVICE_PROFILE_ID])) files.set(jabberProfileFile(id), file(jabberProfileBody()));
  }
  for (const userId of ctx.userIds) {
    const field = Object.hasOwn(uds.ciscoSupportField, userId) ? uds.ciscoSupportField[userId] : undefined;
    for (const device of simulatedDevices(userId)) {
      if (device.jabber) files.set(`${device.name}.cnf.xml`, { body: deviceConfigBody(ctx, device.name, field), deviceConfig: true });
    }
    const group = field === undefined ? undefined : groupConfigurationFile(field);
    if (group !== undefined) files.set(group, file(groupConfigBody()));
  }
  return files;
}
