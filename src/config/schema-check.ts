/**
 * Validation against the configuration schema, with ajv's failures worded for
 * people: one `path.to.key: message` per problem, near-miss key suggestions,
 * values quoted and shortened.
 */
import { Ajv, type ErrorObject, type SchemaObject } from 'ajv';
import { configSchema } from './schema.js';
import { configFormats } from './formats.js';

const SIMPLE_KEY = /^[A-Za-z0-9_]+$/;

// strictRequired would reject `then: { required }` naming keys defined beside it.
const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true, strictRequired: false, allowUnionTypes: true });
for (const keyword of ['mustBe', 'requiredWhen']) ajv.addKeyword({ keyword, schemaType: 'string' });
for (const [formatName, check] of Object.entries(configFormats)) ajv.addFormat(formatName, check);
const validate = ajv.compile(configSchema);

/**
 * Validates `data` against {@link configSchema}, filling in its defaults (the
 * object is modified in place). Returns one `[path, message]` per problem,
 * worded for people, or [] when the data is valid.
 */
export function checkSchema(data: Record<string, unknown>): [string, string][] {
  if (validate(data)) return [];
  const out: [string, string][] = [];
  for (const e of validate.errors ?? []) {
    const p = schemaProblem(e, data);
    if (p !== undefined) out.push(p);
  }
  return out;
}

/**
 * Appends a key or array index to a problem path in the file's own terms:
 * `clusters[0].nodes[1].url`. '' is the document itself.
 */
export function keyPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  // Keys outside [A-Za-z0-9_] would make the path ambiguous to read; callers
  // that can (unknown keys) quote the real key in the message instead.
  const k = SIMPLE_KEY.test(key) ? key : key.replace(/[^A-Za-z0-9_]/g, '_') || '_';
  return parent === '' ? k : `${parent}.${k}`;
}

/** A user value inside a one-line message: quoted, escaped, shortened. */
export function quoteValue(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Turns one ajv error into `[path, human message]`, or undefined to drop it. */
function schemaProblem(e: ErrorObject, root: Record<string, unknown>): [string, string] | undefined {
  let at = '';
  let cur: unknown = root;
  const segments = e.instancePath === '' ? [] : e.instancePath.slice(1).split('/');
  for (const raw of segments) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      at = keyPath(at, Number(seg));
      cur = cur[Number(seg)];
    } else {
      at = keyPath(at, seg);
      cur = typeof cur === 'object' && cur !== null ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  const ps = (e.parentSchema ?? {}) as SchemaObject;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'if': // its `then` failure is reported on the real key
      return undefined;
    case 'required': {
      const when = typeof ps.requiredWhen === 'string' ? ` ${ps.requiredWhen}` : '';
      return [keyPath(at, String(params.missingProperty)), `is required${when}`];
    }
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const hint = suggest(key, Object.keys((ps.properties as Record<string, unknown> | undefined) ?? {}));
      return SIMPLE_KEY.test(key) ? [keyPath(at, key), `unknown key${hint}`] : [at, `unknown key ${quoteValue(key)}${hint}`];
    }
    case 'type':
      return [at, typeMessage(String(params.type), ps)];
    case 'minimum':
    case 'maximum':
      return [at, rangeMessage(ps)];
    case 'enum':
      return [at, `must be one of: ${(params.allowedValues as unknown[]).join(', ')}`];
    case 'propertyNames': // its inner failure (a pattern) names the key
      return undefined;
    case 'format':
    case 'pattern':
      if (e.propertyName !== undefined) return [at, `key ${quoteValue(e.propertyName)} must be ${typeof ps.mustBe === 'string' ? ps.mustBe : 'valid'}`];
      return [at, `must be ${typeof ps.mustBe === 'string' ? ps.mustBe : `valid (${e.keyword} ${quoteValue(e.schema)})`}`];
    case 'minItems':
      return [at, params.limit === 1 ? 'must not be empty' : `must have at least ${String(params.limit)} entries`];
    case 'maxItems':
      return [at, `must have at most ${String(params.limit)} entries`];
    case 'uniqueItems':
      return [at, `lists ${quoteValue(Array.isArray(cur) ? cur[Number(params.j)] : undefined)} more than once`];
    case 'minLength':
      return [at, 'must not be empty'];
    default:
      return [at, `is invalid (${e.message ?? e.keyword})`];
  }
}

function typeMessage(type: string, ps: SchemaObject): string {
  if (ps.type === 'integer') return rangeMessage(ps);
  if (typeof ps.mustBe === 'string') return `must be ${ps.mustBe}`;
  const words: Record<string, string> = {
    string: 'must be a string',
    boolean: 'must be true or false',
    array: 'must be a list',
    object: 'must be a mapping (key: value)',
    number: 'must be a number',
  };
  return words[type] ?? `must be of type ${type}`;
}

function rangeMessage(ps: SchemaObject): string {
  const min = ps.minimum as number | undefined;
  const max = ps.maximum as number | undefined;
  if (min !== undefined && max !== undefined) return `must be an integer from ${min} to ${max}`;
  if (min !== undefined) return `must be an integer of at least ${min}`;
  return 'must be an integer';
}

/** ` (did you mean "x"?)` for a near miss of a known key, else ''. */
function suggest(key: string, known: string[]): string {
  let best = '';
  // Short keys are all a couple of edits apart; only near misses are worth a hint.
  let bestDistance = Math.min(2, Math.max(1, Math.floor(key.length / 3))) + 1;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best === '' ? '' : ` (did you mean "${best}"?)`;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || a.length > 64) return 99;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] ?? 99;
}
