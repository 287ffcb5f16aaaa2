/**
 * Request plumbing the simulated UDS resources share: who is calling (HTTP
 * Basic, or a bearer token some other part of the simulator vouches for),
 * the answers UDS gives without a body, and reading the small XML request
 * bodies UDS takes ("The Cisco UDS API supports only XML format for all
 * requests and responses", UDS Developer Guide, FAQs).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendBody } from './test-endpoints.js';

export const XML = 'text/xml; charset=UTF-8';
export const TEXT = 'text/plain; charset=utf-8';

export interface Credentials {
  /** User id → password as configured. */
  readonly users: Readonly<Record<string, string>>;
  /** Passwords changed through `PUT .../credentials`. */
  readonly passwords: ReadonlyMap<string, string>;
  /** The user whose bearer token the request carries, if the simulator issued it (OAuth, oauth-endpoints.ts). */
  readonly bearerUser?: ((req: IncomingMessage) => string | undefined) | undefined;
}

/** What the Authorization header says: a verified user, a user whose password was wrong, or nothing usable. */
export type Caller = { readonly user: string } | { readonly failedUser: string } | undefined;

/**
 * "By default, UDS authenticates users via the HTTP Basic Authorization
 * mechanism ... In order to use SSO, the same Authorization header is used.
 * But, the Authorization type becomes Bearer" ("Using Cisco Collaboration
 * Single Sign-On with User Data Services").
 */
export function caller(req: IncomingMessage, credentials: Credentials): Caller {
  const header = req.headers.authorization ?? '';
  if (/^Bearer\s/i.test(header)) {
    const user = credentials.bearerUser?.(req);
    return user === undefined ? undefined : { user };
  }
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const user = decoded.slice(0, colon);
  if (!Object.hasOwn(credentials.users, user)) return undefined;
  const password = credentials.passwords.get(user) ?? credentials.users[user];
  return password === decoded.slice(colon + 1) ? { user } : { failedUser: user };
}

export function unauthorized(res: ServerResponse): void {
  sendBody(res, 401, TEXT, 'Unauthorized\n', { 'www-authenticate': 'Basic realm="Cisco UDS"' });
}

/** 405 "The resource does not support this HTTP method" (UDS Developer Guide, Response and Error Codes). */
export function methodNotAllowed(res: ServerResponse, allow: readonly string[]): void {
  sendBody(res, 405, TEXT, 'Method Not Allowed\n', { allow: allow.join(', ') });
}

/** A status without a body: 201 and 204 ("No body is returned"), and the bare error statuses. */
export function sendStatus(res: ServerResponse, status: number): void {
  if (status === 204) {
    res.writeHead(204);
    res.end();
    return;
  }
  const text = { 201: '', 404: 'Not Found\n', 409: 'Conflict\n', 415: 'Unsupported Media Type\n' }[status] ?? '';
  sendBody(res, status, TEXT, text);
}

const ENTITY: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, ref: string) => {
    if (ref[0] === '#') return String.fromCodePoint(ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10));
    return ENTITY[ref.toLowerCase()] ?? '';
  });
}

/** The raw content of the first `<name>` element in `xml`, `''` for `<name/>`, undefined when absent. */
function rawElement(xml: string, name: string): string | undefined {
  const match = new RegExp(`<${name}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${name}\\s*>)`).exec(xml);
  return match ? (match[1] ?? '') : undefined;
}

/** The text of the first `<name>` element in `xml` (trimmed and decoded), `''` for `<name/>`, undefined when absent. */
export function elementText(xml: string, name: string): string | undefined {
  const raw = rawElement(xml, name);
  return raw === undefined ? undefined : decodeXml(raw.trim());
}

/** Every `<name ...>...</name>` element of `xml`, with its attributes' text and its content. */
export function elements(xml: string, name: string): { attributes: string; content: string }[] {
  const out: { attributes: string; content: string }[] = [];
  for (const m of xml.matchAll(new RegExp(`<${name}(\\s[^>]*)?>([\\s\\S]*?)</${name}\\s*>`, 'g'))) {
    out.push({ attributes: m[1] ?? '', content: m[2]! });
  }
  return out;
}

/** The direct child elements of the first `<root>` element: name → text. Undefined when there is no such root. */
export function childTexts(xml: string, root: string): Record<string, string> | undefined {
  const inner = rawElement(xml, root);
  if (inner === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const m of inner.matchAll(/<([A-Za-z][\w.-]*)(?:\s[^>]*)?(?:\/>|>([\s\S]*?)<\/\1\s*>)/g)) {
    out[m[1]!] = decodeXml((m[2] ?? '').trim());
  }
  return out;
}

/** `true`/`false` in a request body; anything else is `fallback`. */
export function booleanText(text: string | undefined, fallback: boolean): boolean {
  if (text === undefined) return fallback;
  const lower = text.toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : fallback;
}
