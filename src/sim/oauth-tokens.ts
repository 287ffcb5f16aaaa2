/**
 * CUCM's OAuth tokens as the simulated AuthZ service makes and checks them,
 * shaped like the samples in TAC document 212794 ("Deploy And Troubleshoot
 * Authorization Code Grant Flow - OAuth Enhancement: Cisco Collaboration
 * Solutions 12.0"):
 *
 * - An access token is a JWT (RFC 7519) signed RS256 with the cluster's
 *   signing key (`kid` = `<cluster id>:<hash>`), whose only claim is
 *   `private`: a JWE (`alg` `dir`, `enc` `A128CBC-HS256`) under the cluster's
 *   encryption key. "All access tokens are encrypted, signed, and
 *   self-contained using the JWT format" (System Configuration Guide for
 *   Cisco Unified Communications Manager 12.5(1), "Configure Cisco Jabber"),
 *   so any node checks one without asking the node that issued it. What is
 *   inside the JWE is not shown anywhere; the claims below are the
 *   simulator's own.
 * - A refresh token is a JWT signed the same way, not encrypted ("Refresh
 *   tokens are signed, but are not encrypted", same guide), with the claims
 *   of the TAC sample: `exp`, `iss`, `typ` `user`, `tid`, `ctyp` `refresh`,
 *   `ccid` (the client id). The user is found through its database row.
 *
 * Regenerating the keys invalidates every token made with them (same guide,
 * "Regenerate Keys for OAuth Refresh Logins"): a token whose `kid` is not
 * the current key's is refused.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomUUID, sign, timingSafeEqual, verify } from 'node:crypto';
import type { AuthzKeys } from './oauth-store.js';

export interface AccessClaims {
  readonly iss: string;
  /** The user id. */
  readonly sub: string;
  readonly ccid: string;
  readonly scope: string;
  readonly tid: string;
  readonly iat: number;
  readonly exp: number;
}

export interface RefreshClaims {
  readonly exp: number;
  readonly iss: string;
  readonly typ: 'user';
  readonly tid: string;
  readonly ctyp: 'refresh';
  readonly ccid: string;
}

const b64 = (data: Buffer | string): string => Buffer.from(data).toString('base64url');
const json = (value: unknown): string => b64(JSON.stringify(value));

function parseJson(part: string | undefined): Record<string, unknown> | undefined {
  if (part === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function signJws(keys: AuthzKeys, payload: unknown): string {
  const input = `${json({ alg: 'RS256', typ: 'JWT', kid: keys.signing.kid })}.${json(payload)}`;
  return `${input}.${b64(sign('sha256', Buffer.from(input), keys.signing.privateKey))}`;
}

/** The payload of a JWS signed with the current signing key, or undefined. */
function verifyJws(keys: AuthzKeys, token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const header = parseJson(parts[0]);
  if (header?.alg !== 'RS256' || header.kid !== keys.signing.kid) return undefined;
  const ok = verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), keys.signing.publicKey, Buffer.from(parts[2]!, 'base64url'));
  return ok ? parseJson(parts[1]) : undefined;
}

/** RFC 7518 §5.2.2.1: the tag is the first half of HMAC-SHA-256(MAC key, AAD || IV || ciphertext || AAD length in bits). */
function cbcHsTag(macKey: Buffer, aad: string, iv: Buffer, ciphertext: Buffer): Buffer {
  const al = Buffer.alloc(8);
  al.writeBigUInt64BE(BigInt(Buffer.byteLength(aad) * 8));
  return createHmac('sha256', macKey).update(aad).update(iv).update(ciphertext).update(al).digest().subarray(0, 16);
}

/** A compact JWE, `alg` `dir`, `enc` `A128CBC-HS256` (RFC 7516, RFC 7518 §5.2.3). */
function encryptJwe(keys: AuthzKeys, claims: unknown): string {
  const header = json({ alg: 'dir', cty: 'JWT', enc: 'A128CBC-HS256', kid: keys.encryption.kid });
  const key = keys.encryption.key;
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-128-cbc', key.subarray(16), iv);
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(claims), 'utf8'), cipher.final()]);
  return `${header}..${b64(iv)}.${b64(ciphertext)}.${b64(cbcHsTag(key.subarray(0, 16), header, iv, ciphertext))}`;
}

function decryptJwe(keys: AuthzKeys, jwe: string): Record<string, unknown> | undefined {
  const parts = jwe.split('.');
  if (parts.length !== 5 || parts[1] !== '') return undefined;
  const header = parseJson(parts[0]);
  if (header?.alg !== 'dir' || header.enc !== 'A128CBC-HS256' || header.kid !== keys.encryption.kid) return undefined;
  const key = keys.encryption.key;
  const iv = Buffer.from(parts[2]!, 'base64url');
  const ciphertext = Buffer.from(parts[3]!, 'base64url');
  const tag = Buffer.from(parts[4]!, 'base64url');
  const expected = cbcHsTag(key.subarray(0, 16), parts[0]!, iv, ciphertext);
  if (iv.length !== 16 || tag.length !== expected.length || !timingSafeEqual(tag, expected)) return undefined;
  try {
    const decipher = createDecipheriv('aes-128-cbc', key.subarray(16), iv);
    return parseJson(b64(Buffer.concat([decipher.update(ciphertext), decipher.final()])));
  } catch {
    return undefined;
  }
}

const seconds = (ms: number): number => Math.floor(ms / 1000);

export function issueAccessToken(keys: AuthzKeys, iss: string, user: string, clientId: string, scope: string, lifetimeMs: number, now = Date.now()): string {
  const claims: AccessClaims = { iss, sub: user, ccid: clientId, scope, tid: randomUUID(), iat: seconds(now), exp: seconds(now + lifetimeMs) };
  return signJws(keys, { private: encryptJwe(keys, claims) });
}

export function issueRefreshToken(keys: AuthzKeys, iss: string, clientId: string, validUntil: number): { readonly token: string; readonly tokenId: string } {
  const tokenId = randomUUID();
  const claims: RefreshClaims = { exp: seconds(validUntil), iss, typ: 'user', tid: tokenId, ctyp: 'refresh', ccid: clientId };
  return { token: signJws(keys, claims), tokenId };
}

/** The claims of a valid, unexpired access token of this cluster, or undefined. */
export function checkAccessToken(keys: AuthzKeys, iss: string, token: string, now = Date.now()): AccessClaims | undefined {
  const outer = verifyJws(keys, token);
  if (typeof outer?.private !== 'string') return undefined;
  const claims = decryptJwe(keys, outer.private);
  if (!claims || claims.iss !== iss || typeof claims.sub !== 'string' || typeof claims.exp !== 'number') return undefined;
  return now < claims.exp * 1000 ? (claims as unknown as AccessClaims) : undefined;
}

/** The claims of a validly signed, unexpired refresh token of this cluster, or undefined (its row decides the rest). */
export function checkRefreshToken(keys: AuthzKeys, iss: string, token: string, now = Date.now()): RefreshClaims | undefined {
  const claims = verifyJws(keys, token);
  if (!claims || claims.iss !== iss || claims.ctyp !== 'refresh' || typeof claims.tid !== 'string' || typeof claims.exp !== 'number') return undefined;
  return now < claims.exp * 1000 ? (claims as unknown as RefreshClaims) : undefined;
}
