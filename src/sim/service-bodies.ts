/**
 * Phone XML of the simulated node's own services: Extension Mobility's
 * forms and errors, Change Credential, the services menu. Error texts are
 * the phone displays Cisco documents; where no document shows a page's
 * layout, the layout is minimal and says so.
 */
import { escapeXml } from './uds-bodies.js';
import { softKey } from './phone-xml-bodies.js';
import { secureUrl, type NodeNames } from './node-names.js';

const enc = encodeURIComponent;

function input(name: string, param: string, flags: string): string {
  return (
    `<InputItem><DisplayName>${escapeXml(name)}</DisplayName><QueryStringParam>${param}</QueryStringParam>` +
    `<DefaultValue></DefaultValue><InputFlags>${flags}</InputFlags></InputItem>`
  );
}

/** A `CiscoIPPhoneText` screen with an Exit key (and optional extra keys, already built). */
export function textScreen(title: string, prompt: string, text: string, keys = ''): string {
  return (
    `<CiscoIPPhoneText><Title>${escapeXml(title)}</Title><Prompt>${escapeXml(prompt)}</Prompt>` +
    `<Text>${escapeXml(text)}</Text>${keys}${softKey('Exit', 'SoftKey:Exit', 9)}</CiscoIPPhoneText>`
  );
}

/**
 * The EM login form. Phones submit `CiscoIPPhoneInput` as a GET with each
 * `QueryStringParam` appended (Cisco Unified IP Phone Services Application
 * Development Notes); EM reads `userid` and `seq` (the PIN). The form's
 * title, prompt and the `doLogin` marker are not documented: the simulator's.
 */
export function emLoginFormBody(names: NodeNames, device: string): string {
  const url = secureUrl(names.ip, `/emapp/EMAppServlet?device=${enc(device)}&doLogin=true`);
  return (
    '<CiscoIPPhoneInput><Title>Extension Mobility</Title><Prompt>Enter your user ID and PIN</Prompt>' +
    `<URL>${escapeXml(url)}</URL>${input('User ID', 'userid', 'A')}${input('PIN', 'seq', 'NP')}</CiscoIPPhoneInput>`
  );
}

/**
 * An EM error as the phone displays it. The texts are the "Phone Display"
 * column of the Feature Configuration Guide's "Extension Mobility
 * Application Error Codes" and "Extension Mobility Service Error Codes"
 * tables (Release 12.5(1)SU3, chapter "Extension Mobility Cross Cluster",
 * section "Extension Mobility Cross Cluster Troubleshooting"), e.g.
 * "Login is unavailable(26)" / "Logout is unavailable(26)".
 */
export function emErrorBody(names: NodeNames, device: string, display: string): string {
  const retry = escapeXml(secureUrl(names.ip, `/emapp/EMAppServlet?device=${enc(device)}`));
  return textScreen('Extension Mobility', 'Error', display, softKey('Retry', retry, 1));
}

/** After a logout; the wording is the simulator's (no source shows the page). */
export function emLogoutBody(names: NodeNames, device: string): string {
  const login = escapeXml(secureUrl(names.ip, `/emapp/EMAppServlet?device=${enc(device)}`));
  return textScreen('Extension Mobility', 'Logged out', 'Logout successful', softKey('Login', login, 1));
}

/**
 * Change Credential's PIN form. The servlet is
 * `/changecredential/ChangeCredentialServlet?device=#DEVICENAME#` (Feature
 * Configuration Guide, "Configure the Change Credential IP Phone Service");
 * the parameters `changePin=true`, `userid`, `oldpin`, `newpin` and
 * `confirmnewpin` are those a public client sends to it
 * (RodgersRepo/collaboration-endpoints-javascript, pinchange.js).
 */
export function changePinFormBody(names: NodeNames, device: string): string {
  const url = secureUrl(names.ip, `/changecredential/ChangeCredentialServlet?device=${enc(device)}&changePin=true`);
  return (
    '<CiscoIPPhoneInput><Title>Change Credential</Title><Prompt>Enter user ID and PINs</Prompt>' +
    `<URL>${escapeXml(url)}</URL>${input('User ID', 'userid', 'A')}${input('Current PIN', 'oldpin', 'NP')}` +
    `${input('New PIN', 'newpin', 'NP')}${input('Confirm new PIN', 'confirmnewpin', 'NP')}</CiscoIPPhoneInput>`
  );
}

/**
 * Change Credential's answers. pinchange.js recognises success by the text
 * "PIN change is complete" and a refusal by `<Title>Change Credential</Title>`
 * with the reason in `<Prompt>`; the reasons' wording here is the simulator's.
 */
export function changePinResultBody(success: boolean, reason = ''): string {
  return success
    ? textScreen('Change Credential', 'PIN changed', 'PIN change is complete')
    : textScreen('Change Credential', reason, reason);
}

/**
 * The services menu (`/ccmcip/getservicesmenu.jsp`, the `servicesURL` of a
 * phone's configuration file). One answer names the node three ways, as
 * CUCM does across its configuration (see node-names.ts): its IP address
 * with `:8443`, its short server name and its FQDN. The last item is the
 * Unified CM Assistant phone service, `/ma/servlet/MAService?cmd=doPhoneService&Name=#DEVICENAME#`
 * (TAC document 200159, "Configure and Troubleshoot Cisco IP Manager
 * Assistant"): a path a gateway does not route by default.
 */
export function servicesMenuBody(names: NodeNames, device: string): string {
  const item = (name: string, url: string): string => `<MenuItem><Name>${escapeXml(name)}</Name><URL>${escapeXml(url)}</URL></MenuItem>`;
  return (
    '<CiscoIPPhoneMenu><Title>Services</Title><Prompt>Select a service</Prompt>' +
    item('Extension Mobility', secureUrl(names.ip, `/emapp/EMAppServlet?device=${enc(device)}`)) +
    item('Change PIN', secureUrl(names.shortName, `/changecredential/ChangeCredentialServlet?device=${enc(device)}`)) +
    item('Personal Directory', secureUrl(names.fqdn, `/ccmpd/pdCheckLogin.do?name=${enc(device)}`)) +
    item('Corporate Directory', secureUrl(names.ip, '/ccmcip/xmldirectoryinput.jsp')) +
    item('Assistant', secureUrl(names.shortName, `/ma/servlet/MAService?cmd=doPhoneService&Name=${enc(device)}`)) +
    '</CiscoIPPhoneMenu>'
  );
}
