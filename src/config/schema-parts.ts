/**
 * Building blocks of the configuration schema (schema.ts, schema-cluster.ts):
 * the object, integer, string and list constructors and the value shapes
 * several sections share.
 *
 * Each constructor returns the plain JSON Schema object ajv compiles, typed
 * with the TypeScript type of the value it accepts (TypeBox's technique), so
 * the config's type is derived from the schema (types.ts) and the two cannot
 * drift. In an object, a property is present in the resolved type when it is
 * required or has a `default` (ajv's `useDefaults` fills it in), optional
 * otherwise.
 */

declare const valueType: unique symbol;

/** A JSON Schema fragment that accepts values of type `T`. The tag exists only in the type system. */
export interface Schema<T> {
  readonly [valueType]?: T;
}

/** The value type a schema accepts, after ajv has filled in the defaults. */
export type Static<S> = S extends Schema<infer T> ? T : never;

/** A schema with a default: its value is always there once validated. */
interface Defaulted {
  readonly default: unknown;
}

type Props = Record<string, Schema<unknown>>;
type IsPresent<P extends Props, K extends keyof P, R extends string> = K extends R ? true : P[K] extends Defaulted ? true : false;
type Flatten<T> = { readonly [K in keyof T]: T[K] };
/**
 * The resolved object: required or defaulted keys present, the rest optional; all readonly.
 * Key remapping (`as`) over `keyof P` keeps each property's TSDoc from the schema.
 */
export type ObjectOf<P extends Props, R extends string> = Flatten<
  { readonly [K in keyof P as IsPresent<P, K, R> extends true ? K : never]: Static<P[K]> } & {
    readonly [K in keyof P as IsPresent<P, K, R> extends true ? never : K]?: Static<P[K]>;
  }
>;

/** Extra keywords; only whether `default` is among them matters to the type. */
type Extra = Record<string, unknown>;

/** An object that rejects unknown keys. */
export function obj<P extends Props, const R extends readonly (keyof P & string)[] = [], E extends Extra = {}>(
  properties: P,
  required: R = [] as unknown as R,
  extra: E = {} as E,
): Schema<ObjectOf<P, R[number]>> & E {
  return { type: 'object', additionalProperties: false, properties, required, ...extra };
}

export function int<E extends Extra = {}>(minimum: number, maximum: number, extra: E = {} as E): Schema<number> & E {
  return { type: 'integer', minimum, maximum, ...extra };
}

export function list<I extends Schema<unknown>, E extends Extra = {}>(items: I, extra: E = {} as E): Schema<readonly Static<I>[]> & E {
  return { type: 'array', items, ...extra };
}

/** A string, constrained by `extra` (pattern, format, minLength...). */
export function text<E extends Extra = {}>(extra: E = {} as E): Schema<string> & E {
  return { type: 'string', ...extra };
}

/** One of a fixed set of strings. */
export function oneOf<const V extends readonly string[], E extends Extra = {}>(values: V, extra: E = {} as E): Schema<V[number]> & E {
  return { type: 'string', enum: values, ...extra };
}

export function bool<E extends Extra = {}>(extra: E = {} as E): Schema<boolean> & E {
  return { type: 'boolean', ...extra };
}

/** A mapping of names (checked by `keys`) to values of one schema. */
export function record<V extends Schema<unknown>>(keys: Schema<string>, values: V): Schema<Readonly<Record<string, Static<V>>>> {
  return { type: 'object', propertyNames: keys, additionalProperties: values } as Schema<Readonly<Record<string, Static<V>>>>;
}

export const str = text({ minLength: 1 });
export const filePath = text({ minLength: 1 });
export const port = int(0, 65535);
export const dnsName = text({ format: 'dns-name', mustBe: 'a DNS name such as ucgw.example.test' });
export const host = text({ format: 'host', mustBe: 'a DNS name or an IP address' });
// Names end up in metric labels, log fields and route references.
export const name = text({
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
  mustBe: 'a name of letters, digits, ".", "_" or "-" (at most 64)',
});
export const profile = oneOf(['modern', 'compatible', 'legacy']);
/** DSCP for QoS marking: a PHB name or the 6-bit code point (Cisco marks phone-services HTTP as CS3 or AF21). */
export const dscp: Schema<string | number> = {
  type: ['integer', 'string'],
  pattern: '^(CS[0-7]|AF[1-4][1-3]|EF|VA|[0-9]|[1-5][0-9]|6[0-3])$',
  minimum: 0,
  maximum: 63,
  mustBe: 'a DSCP name (CS0-CS7, AF11-AF43, EF, VA) or a number from 0 to 63',
} as Schema<string | number>;
export const methods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'] as const;
export const dnsServer = text({ format: 'dns-server', mustBe: 'a DNS server as an IP address, IPv4:port or [IPv6]:port' });
