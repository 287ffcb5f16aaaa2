/**
 * Building blocks of the configuration schema (schema.ts, schema-cluster.ts):
 * the object, integer and list constructors and the value shapes several
 * sections share.
 */
import type { SchemaObject } from 'ajv';

/** An object that rejects unknown keys. */
export function obj(properties: Record<string, SchemaObject>, required: string[] = [], extra: SchemaObject = {}): SchemaObject {
  return { type: 'object', additionalProperties: false, properties, required, ...extra };
}

export function int(minimum: number, maximum: number, extra: SchemaObject = {}): SchemaObject {
  return { type: 'integer', minimum, maximum, ...extra };
}

export function list(items: SchemaObject, extra: SchemaObject = {}): SchemaObject {
  return { type: 'array', items, ...extra };
}

export const str: SchemaObject = { type: 'string', minLength: 1 };
export const filePath: SchemaObject = { type: 'string', minLength: 1 };
export const port = int(0, 65535);
export const dnsName: SchemaObject = { type: 'string', format: 'dns-name', mustBe: 'a DNS name such as ucgw.example.test' };
export const host: SchemaObject = { type: 'string', format: 'host', mustBe: 'a DNS name or an IP address' };
// Names end up in metric labels, log fields and route references.
export const name: SchemaObject = {
  type: 'string',
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
  mustBe: 'a name of letters, digits, ".", "_" or "-" (at most 64)',
};
export const profile: SchemaObject = { type: 'string', enum: ['modern', 'compatible', 'legacy'] };
/** DSCP for QoS marking: a PHB name or the 6-bit code point (Cisco marks phone-services HTTP as CS3 or AF21). */
export const dscp: SchemaObject = {
  type: ['integer', 'string'],
  pattern: '^(CS[0-7]|AF[1-4][1-3]|EF|VA|[0-9]|[1-5][0-9]|6[0-3])$',
  minimum: 0,
  maximum: 63,
  mustBe: 'a DSCP name (CS0-CS7, AF11-AF43, EF, VA) or a number from 0 to 63',
};
export const methods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];
export const dnsServer: SchemaObject = { type: 'string', format: 'dns-server', mustBe: 'a DNS server as an IP address, IPv4:port or [IPv6]:port' };
