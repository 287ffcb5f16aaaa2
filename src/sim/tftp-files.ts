/**
 * The files a simulated CUCM TFTP server hands Jabber over HTTP (CUCM serves
 * them on 6970, and over TLS on 6972): the global `jabber-config.xml`, the
 * default UC service profile, dial rules, and each softphone's device
 * configuration (`CSF<name>.cnf.xml`). Shaped after CUCM's files, reduced to
 * what matters to the gateway: where they name the node, and how.
 *
 * Two kinds of names: HTTP service URLs (directories, authentication, a
 * Jabber custom tab), which a gateway must rewrite, and SIP call-control
 * addresses (`callManager/name`, `processNodeName`), which Jabber uses to
 * register directly with CUCM and which must reach it unchanged.
 */
import { escapeXml, simulatedDevices } from './uds-bodies.js';

export interface TftpFileContext {
  /** The answering node's FQDN. */
  readonly hostname: string;
  /** Every node's FQDN: the call-manager group of the device configurations. */
  readonly clusterNodes: readonly string[];
  /** UDS end users: their softphones have device configurations here. */
  readonly userIds: readonly string[];
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

export function serviceProfileBody(): string {
  return (
    `${XML_DECLARATION}<UCServiceProfile><Options><Name>Default</Name>` +
    '<Directory><ServerType>UDS</ServerType><UseJabberCredentials>true</UseJabberCredentials></Directory>' +
    '</Options></UCServiceProfile>'
  );
}

export function dialRulesBody(root: 'DialRules' | 'DirLookupRules'): string {
  return `${XML_DECLARATION}<${root}><DialRule BeginsWith="9" NumDigits="11" DigitsToBeRemoved="1" PrefixWith="" /></${root}>`;
}

/** A softphone's configuration: SIP registration with every node, and the phone-service URLs of this node. */
export function deviceConfigBody(ctx: TftpFileContext, deviceName: string): string {
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
    '<transportLayerProtocol>2</transportLayerProtocol>' +
    '</device>'
  );
}

/** File name (lower case) → body, for every file this node serves. */
export function tftpFiles(ctx: TftpFileContext): Map<string, { readonly body: string; readonly deviceConfig: boolean }> {
  const files = new Map<string, { body: string; deviceConfig: boolean }>([
    ['jabber-config.xml', { body: jabberConfigBody(ctx), deviceConfig: false }],
    ['spdefault.cnf.xml', { body: serviceProfileBody(), deviceConfig: false }],
    ['appdialrules.xml', { body: dialRulesBody('DialRules'), deviceConfig: false }],
    ['dirlookupdialrules.xml', { body: dialRulesBody('DirLookupRules'), deviceConfig: false }],
  ]);
  for (const userId of ctx.userIds) {
    for (const device of simulatedDevices(userId)) {
      if (device.name.startsWith('CSF')) files.set(`${device.name.toLowerCase()}.cnf.xml`, { body: deviceConfigBody(ctx, device.name), deviceConfig: true });
    }
  }
  return files;
}
