/**
 * Cisco IP Phone XML objects (CiscoIPPhoneMenu, -Input, -Directory, -Text)
 * as CUCM's phone services return them. CUCM writes absolute
 * `http://<node>:8080/...` URLs into `URL` elements, whatever the scheme the
 * phone used; those are what the gateway must rewrite.
 */
import { escapeXml } from './uds-bodies.js';

/** One corporate-directory record. */
export interface DirectoryEntry {
  readonly firstName: string;
  readonly lastName: string;
  readonly telephone: string;
}

/** The simulated corporate directory, the same on every node (one database). */
export const DIRECTORY: readonly DirectoryEntry[] = [
  { firstName: 'John', lastName: 'Doe', telephone: '1001' },
  { firstName: 'Jane', lastName: 'Roe', telephone: '1002' },
  { firstName: 'Max', lastName: 'Mustermann', telephone: '1003' },
  { firstName: 'Erika', lastName: 'Mustermann', telephone: '1004' },
];

function servicesUrl(hostname: string, path: string): string {
  return escapeXml(`http://${hostname}:8080${path}`);
}

/** A `SoftKeyItem`; `url` must already be XML-escaped. */
export function softKey(name: string, url: string, position: number): string {
  return `<SoftKeyItem><Name>${escapeXml(name)}</Name><URL>${url}</URL><Position>${position}</Position></SoftKeyItem>`;
}

export function directoryMenuBody(hostname: string): string {
  const item = (name: string, url: string): string => `<MenuItem><Name>${name}</Name><URL>${url}</URL></MenuItem>`;
  return (
    '<CiscoIPPhoneMenu><Title>Directories</Title>' +
    item('Missed Calls', 'Application:Cisco/MissedCalls') +
    item('Received Calls', 'Application:Cisco/ReceivedCalls') +
    item('Placed Calls', 'Application:Cisco/PlacedCalls') +
    item('Personal Directory', servicesUrl(hostname, '/ccmpd/pdCheckLogin.do?name=undefined')) +
    item('Corporate Directory', servicesUrl(hostname, '/ccmcip/xmldirectoryinput.jsp')) +
    '</CiscoIPPhoneMenu>'
  );
}

export function directoryInputBody(hostname: string): string {
  const field = (name: string, param: string, flags: string): string =>
    `<InputItem><DisplayName>${name}</DisplayName><QueryStringParam>${param}</QueryStringParam>` +
    `<DefaultValue></DefaultValue><InputFlags>${flags}</InputFlags></InputItem>`;
  return (
    '<CiscoIPPhoneInput><Title>Corporate Directory</Title><Prompt>Enter search criteria</Prompt>' +
    `<URL>${servicesUrl(hostname, '/ccmcip/xmldirectorylist.jsp')}</URL>` +
    field('First Name', 'f', 'A') +
    field('Last Name', 'l', 'A') +
    field('Number', 'n', 'T') +
    '</CiscoIPPhoneInput>'
  );
}

/** Case-insensitive prefix search on first name, last name and number, as CUCM does. */
export function searchDirectory(query: { f?: string; l?: string; n?: string }): DirectoryEntry[] {
  const matches = (value: string, prefix: string | undefined): boolean =>
    !prefix || value.toLowerCase().startsWith(prefix.toLowerCase());
  return DIRECTORY.filter(
    (entry) => matches(entry.firstName, query.f) && matches(entry.lastName, query.l) && matches(entry.telephone, query.n),
  );
}

export function directoryListBody(hostname: string, entries: readonly DirectoryEntry[]): string {
  const records = entries
    .map(
      (entry) =>
        `<DirectoryEntry><Name>${escapeXml(`${entry.lastName}, ${entry.firstName}`)}</Name>` +
        `<Telephone>${escapeXml(entry.telephone)}</Telephone></DirectoryEntry>`,
    )
    .join('');
  const prompt = entries.length === 0 ? 'No records found' : `Records 1 to ${entries.length} of ${entries.length}`;
  return (
    `<CiscoIPPhoneDirectory><Title>Corporate Directory</Title><Prompt>${prompt}</Prompt>${records}` +
    softKey('Dial', 'SoftKey:Dial', 1) +
    softKey('EditDial', 'SoftKey:EditDial', 2) +
    softKey('Exit', 'SoftKey:Exit', 3) +
    softKey('Search', servicesUrl(hostname, '/ccmcip/xmldirectoryinput.jsp'), 4) +
    '</CiscoIPPhoneDirectory>'
  );
}

/**
 * The Extension Mobility answer. The PIN is never echoed: it travels in the
 * query string and must not end up in any body either. A refused login shows
 * EM's error 201 as the Feature Configuration Guide's "Extension Mobility
 * Application Error Codes" table gives the phone display: "Please try to
 * login again (201)". What a successful login shows is not documented; the
 * text and the Logout key here are the simulator's.
 */
export function emLoginBody(hostname: string, device: string, success: boolean): string {
  const logout = servicesUrl(hostname, `/emapp/EMAppServlet?device=${encodeURIComponent(device)}&doLogout=true`);
  const text = success ? 'Login successful' : 'Please try to login again (201)';
  return (
    `<CiscoIPPhoneText><Title>Extension Mobility</Title><Prompt>${success ? 'Logged in' : 'Login failed'}</Prompt>` +
    `<Text>${text}</Text>` +
    (success ? softKey('Logout', logout, 1) : softKey('Retry', servicesUrl(hostname, `/emapp/EMAppServlet?device=${encodeURIComponent(device)}`), 1)) +
    softKey('Exit', 'SoftKey:Exit', 2) +
    '</CiscoIPPhoneText>'
  );
}
