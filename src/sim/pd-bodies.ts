/**
 * Personal Directory (`/ccmpd/`, Personal Address Book) pages. The action
 * paths and parameters, and the `Prompt` texts by which a client tells the
 * pages apart, are those of a public client of CUCM's Personal Directory:
 * RodgersRepo/collaboration-endpoints-javascript, pab.js (`pdCheckLogin.do`,
 * `login.do?name=&service=pab&userid=&pin=`, `pabSearch.do?func=search`,
 * `pabNewMain.do?n=`, `pabNewPhones.do`, `pabEditMain.do?pkid=&func=phones`,
 * `pabEditPhones.do`, `pabDeleteEntry.do?pkid=&func=delete`; prompts
 * "Personal Directory Login", "Search for an entry", "Page 1 of 1",
 * "No entries", "Select an index to dial", "Enter phone numbers",
 * "Edit Phone Numbers", "Successful add/modify/remove", "PD Error Message",
 * "OK to dial..."). The entry page (`pabEntry.do`), the search form's `nn`
 * (nickname) field and the wording inside `<Text>` are the simulator's:
 * that client does not show them.
 */
import { escapeXml } from './uds-bodies.js';
import { softKey } from './phone-xml-bodies.js';
import { secureUrl, type NodeNames } from './node-names.js';
import { textScreen } from './service-bodies.js';
import type { PabEntryInit } from './cucm-node-api.js';

const enc = encodeURIComponent;
export const PHONE_TYPES = ['homeNumber', 'workNumber', 'mobileNumber'] as const;
const LABEL: Record<(typeof PHONE_TYPES)[number], string> = { homeNumber: 'Home', workNumber: 'Work', mobileNumber: 'Mobile' };

function pdUrl(names: NodeNames, action: string, query: string): string {
  return escapeXml(secureUrl(names.ip, `/ccmpd/${action}?${query}`));
}

function item(name: string, url: string): string {
  return `<MenuItem><Name>${escapeXml(name)}</Name><URL>${url}</URL></MenuItem>`;
}

function input(name: string, param: string, flags: string): string {
  return (
    `<InputItem><DisplayName>${name}</DisplayName><QueryStringParam>${param}</QueryStringParam>` +
    `<DefaultValue></DefaultValue><InputFlags>${flags}</InputFlags></InputItem>`
  );
}

export function pdLoginBody(names: NodeNames, device: string): string {
  return (
    '<CiscoIPPhoneInput><Title>Personal Directory</Title><Prompt>Personal Directory Login</Prompt>' +
    `<URL>${pdUrl(names, 'login.do', `name=${enc(device)}&service=pab`)}</URL>` +
    `${input('User ID', 'userid', 'A')}${input('PIN', 'pin', 'NP')}</CiscoIPPhoneInput>`
  );
}

export function pabSearchFormBody(names: NodeNames, device: string): string {
  return (
    '<CiscoIPPhoneInput><Title>Personal Address Book</Title><Prompt>Search for an entry</Prompt>' +
    `<URL>${pdUrl(names, 'pabSearch.do', `func=search&name=${enc(device)}`)}</URL>` +
    `${input('Nickname', 'nn', 'A')}</CiscoIPPhoneInput>`
  );
}

export function pabListBody(names: NodeNames, device: string, entries: ReadonlyMap<string, PabEntryInit>): string {
  const add = softKey('New', pdUrl(names, 'pabNewMain.do', `name=${enc(device)}`), 2);
  if (entries.size === 0) return textScreen('Personal Address Book', 'No entries', 'No entries', add);
  const items = [...entries].map(([pkid, entry]) => item(entry.nickname, pdUrl(names, 'pabEntry.do', `pkid=${enc(pkid)}&func=select&name=${enc(device)}`)));
  return `<CiscoIPPhoneMenu><Title>Personal Address Book</Title><Prompt>Page 1 of 1</Prompt>${items.join('')}${add}</CiscoIPPhoneMenu>`;
}

export function pabEntryBody(names: NodeNames, device: string, pkid: string, entry: PabEntryInit): string {
  const base = `pkid=${enc(pkid)}`;
  const numbers = PHONE_TYPES.filter((type) => entry[type]).map((type) =>
    item(`${LABEL[type]} ${entry[type]!}`, pdUrl(names, 'pabEntry.do', `${base}&func=dial&fdNumber=${enc(entry[type]!)}&name=${enc(device)}`)),
  );
  return (
    `<CiscoIPPhoneMenu><Title>${escapeXml(entry.nickname)}</Title><Prompt>Select an index to dial</Prompt>${numbers.join('')}` +
    softKey('Edit', pdUrl(names, 'pabEditMain.do', `${base}&func=phones&name=${enc(device)}`), 2) +
    softKey('Delete', pdUrl(names, 'pabDeleteEntry.do', `${base}&func=delete&name=${enc(device)}`), 3) +
    '</CiscoIPPhoneMenu>'
  );
}

export function pabDialBody(number: string): string {
  return textScreen('Personal Address Book', 'OK to dial...', number, softKey('Dial', escapeXml(`Dial:${number}`), 1));
}

/** The phone-number form, for a new entry (`pabNewPhones.do`) or an existing one (`pabEditPhones.do`). */
export function pabPhonesFormBody(names: NodeNames, device: string, target: { readonly nickname: string } | { readonly pkid: string }): string {
  const [prompt, url] =
    'pkid' in target
      ? ['Edit Phone Numbers', pdUrl(names, 'pabEditPhones.do', `pkid=${enc(target.pkid)}&name=${enc(device)}`)]
      : ['Enter phone numbers', pdUrl(names, 'pabNewPhones.do', `name=${enc(device)}&n=${enc(target.nickname)}`)];
  return (
    `<CiscoIPPhoneInput><Title>Personal Address Book</Title><Prompt>${prompt}</Prompt><URL>${url}</URL>` +
    PHONE_TYPES.map((type) => input(LABEL[type], type, 'T')).join('') +
    '</CiscoIPPhoneInput>'
  );
}

export function pdResultBody(prompt: 'Successful add' | 'Successful modify' | 'Successful remove' | 'PD Error Message', text: string): string {
  return textScreen('Personal Address Book', prompt, text);
}
