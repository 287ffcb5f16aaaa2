/**
 * The configuration loader: YAML text → plain data → lists normalised →
 * schema (fills defaults) → cross-key checks → paths resolved → deep-frozen
 * UcgateConfig. Every problem found on the way is collected and thrown at once
 * as a ConfigError whose lines read `path.to.key: message`, with the path in
 * the file's own terms (`clusters[0].nodes[1].url`), never ajv's JSON pointers.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument, type YAMLError } from 'yaml';
import { ConfigError } from '../errors.js';
import { builtInRoutes } from './builtin-routes.js';
import { checkSchema, keyPath } from './schema-check.js';
import { crossChecks } from './cross-checks.js';
import { locateProblems } from './locate.js';
import { isObj, objects, firstLine, showText, describeIoError, type Add, type Obj } from './plain-data.js';
import type { UcgateConfig } from './types.js';

/** Where relative paths resolve, and what to record as `configFile`. */
export interface ParseOptions {
  /** Folder that relative paths in the config resolve against. */
  readonly baseDir: string;
  /** Absolute path of the config file, or '' for an in-memory config. */
  readonly configFile: string;
}


/** The path shown for problems with the document as a whole. */
const ROOT = 'config';

/**
 * Reads, parses and validates a YAML config file. Relative paths in it resolve
 * against the file's folder.
 * @throws ConfigError for an unreadable file, bad YAML or an invalid config.
 */
export async function loadConfigFile(file: string): Promise<UcgateConfig> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    throw new ConfigError([`${ROOT}: cannot read ${showText(abs)}: ${describeIoError(err)}`]);
  }
  return parseConfigText(text, { baseDir: path.dirname(abs), configFile: abs });
}

/**
 * Parses YAML text and validates it as {@link parseConfig} does. A YAML syntax
 * error becomes a single `config: YAML error at line L, column C: ...` line.
 * @throws ConfigError
 */
export function parseConfigText(text: string, options: ParseOptions): UcgateConfig {
  // logLevel 'error': YAML warnings (e.g. stringified collection keys) would go
  // to process warnings; the schema reports the odd key that results instead.
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, logLevel: 'error', lineCounter });
  const file = displayPath(options.configFile);
  // Later YAML errors are mostly echoes of the first; one clear line helps more.
  const first = doc.errors[0];
  if (first !== undefined) {
    const pos = first.linePos?.[0];
    const problem = yamlProblem(first);
    throw new ConfigError([problem], file === '' ? undefined : [pos === undefined ? `${file} ${problem}` : `${file}:${pos.line}:${pos.col} ${problem}`]);
  }
  let data: unknown;
  try {
    // Bounds alias expansion ("billion laughs").
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError([`${ROOT}: YAML error: ${firstLine(err)}`]);
  }
  try {
    return parseConfig(data, options);
  } catch (err) {
    // `nginx -t`: each problem with the file, line and column of its key.
    if (err instanceof ConfigError && file !== '') throw new ConfigError(err.problems, locateProblems(err.problems, doc, lineCounter, file));
    throw err;
  }
}

/** The config file as problems name it: relative to the working directory when under it, else absolute. */
function displayPath(configFile: string): string {
  if (configFile === '') return '';
  const rel = path.relative(process.cwd(), configFile);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : configFile;
}

/**
 * Validates plain data (as parsed from YAML or JSON), fills the defaults from
 * the schema, checks rules that span keys and files the config refers to,
 * resolves relative paths against `options.baseDir`, and returns the result
 * deep-frozen. The input is never modified.
 * @throws ConfigError listing every problem found, one `path.to.key: message` line each.
 */
export function parseConfig(input: unknown, options: ParseOptions): UcgateConfig {
  if (input === null || input === undefined) {
    throw new ConfigError([`${ROOT}: is empty (gateway and clusters are required)`]);
  }
  const problems: string[] = [];
  const add: Add = (at, message) => problems.push(`${at === '' ? ROOT : at}: ${message}`);
  const reported = new Set<string>();
  const data = toPlain(input, '', new Set(), (at, message) => {
    reported.add(at);
    add(at, message);
  });
  if (!isObj(data)) {
    throw new ConfigError(
      problems.length > 0 ? problems : [`${ROOT}: must be a mapping of keys (gateway, clusters, ...), not ${kind(data)}`],
    );
  }
  normaliseLists(data);
  // Before the schema, so the built-in routes get the same defaults as configured ones.
  const routesBuiltIn = data.routes === undefined;
  const firstCluster = Array.isArray(data.clusters) && isObj(data.clusters[0]) ? data.clusters[0].name : undefined;
  if (routesBuiltIn && typeof firstCluster === 'string') data.routes = builtInRoutes(firstCluster);
  for (const [at, message] of checkSchema(data)) if (!reported.has(at)) add(at, message);
  resolvePaths(data, options.baseDir);
  crossChecks(data, add);
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  return finish(data, options.configFile, routesBuiltIn);
}

/** The problems of a ConfigError, one per line, as `ucgate check` prints them. */
export function formatProblems(err: ConfigError): string {
  return err.problems.join('\n');
}

// ---------------------------------------------------------------- paths and values

function kind(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'boolean') return 'true/false';
  if (typeof v === 'number') return 'a number';
  return typeof v;
}

function yamlProblem(err: YAMLError): string {
  const msg = firstLine(err).replace(/ at line \d+, column \d+:?$/, '');
  const pos = err.linePos?.[0];
  return pos === undefined
    ? `${ROOT}: YAML error: ${msg}`
    : `${ROOT}: YAML error at line ${pos.line}, column ${pos.col}: ${msg}`;
}

/**
 * A private copy made only of plain objects, arrays and primitives, so the
 * caller's input is never touched by ajv's defaults. Null values in mappings
 * are dropped (absent, so defaults apply). `__proto__` keys stay
 * ordinary data. Cycles (recursive YAML aliases) and class instances are
 * reported rather than followed.
 */
function toPlain(v: unknown, at: string, ancestors: Set<object>, add: Add): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (ancestors.has(v)) {
    add(at, 'refers to itself (a recursive YAML alias)');
    return null;
  }
  if (Array.isArray(v)) {
    ancestors.add(v);
    const out = Array.from(v, (x, i) => toPlain(x, keyPath(at, i), ancestors, add));
    ancestors.delete(v);
    return out;
  }
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) {
    const type = (v as { constructor?: { name?: unknown } }).constructor?.name;
    add(at, `must be plain data, not ${typeof type === 'string' && /^\w{1,40}$/.test(type) ? `a ${type}` : 'an object'}`);
    return null;
  }
  ancestors.add(v);
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    // YAML `key:` with nothing after it (say, every entry commented out) means "not set".
    if (x === undefined || x === null) continue;
    Object.defineProperty(out, k, {
      value: toPlain(x, keyPath(at, k), ancestors, add),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  ancestors.delete(v);
  return out;
}

// ---------------------------------------------------------------- before the schema

/** "A single object is accepted wherever a list is" (CONTRACT.md); one scalar too. */
function wrap(o: unknown, key: string, scalars = false): void {
  if (!isObj(o)) return;
  const v = o[key];
  if (isObj(v) || (scalars && typeof v === 'string')) o[key] = [v];
}

function normaliseLists(root: Obj): void {
  wrap(root, 'clusters');
  wrap(root, 'routes');
  wrap(root.listen, 'https');
  wrap(root.listen, 'http');
  wrap(root.gateway, 'altNames', true);
  wrap(root.certificates, 'keyTypes', true);
  if (isObj(root.certificates)) wrap(root.certificates.cucmTrust, 'clusters');
  if (isObj(root.certificates) && isObj(root.certificates.cucmTrust)) {
    wrap(root.certificates.cucmTrust, 'stores', true);
    for (const target of objects(root.certificates.cucmTrust.clusters)) wrap(target, 'nodes');
  }
  if (isObj(root.tftp)) {
    wrap(root.tftp.listen, 'http');
    wrap(root.tftp.listen, 'https');
    wrap(root.tftp, 'allow', true);
  }
  for (const c of objects(root.clusters)) {
    wrap(c, 'nodes');
    wrap(c.srv, 'servers', true);
    wrap(c.tftp, 'nodes');
    for (const n of [...objects(c.nodes), ...(isObj(c.tftp) ? objects(c.tftp.nodes) : [])]) wrap(n, 'aliases', true);
  }
  for (const r of objects(root.routes)) {
    wrap(r, 'methods', true);
    if (Array.isArray(r.methods)) r.methods = r.methods.map((m: unknown) => (typeof m === 'string' ? m.toUpperCase() : m));
  }
}

// ---------------------------------------------------------------- after the schema

function resolvePaths(root: Obj, baseDir: string): void {
  const resolve = (o: unknown, key: string): void => {
    if (isObj(o) && typeof o[key] === 'string' && o[key] !== '') o[key] = path.resolve(baseDir, o[key] as string);
  };
  const certs = isObj(root.certificates) ? root.certificates : {};
  const acme = isObj(certs.issuer) ? certs.issuer.acme : undefined;
  resolve(certs, 'dir');
  resolve(certs.store, 'keyFile');
  resolve(acme, 'caFile');
  resolve(isObj(acme) ? acme.eab : undefined, 'hmacKeyFile');
  resolve(isObj(root.listen) ? root.listen.admin : undefined, 'tokenFile');
  for (const c of objects(root.clusters)) resolve(c.tls, 'caFile');
  resolve(certs.cucmTrust, 'credentialsFile');
}

/** Shapes the validated data into its final form and freezes it. */
function finish(data: Obj, configFile: string, routesBuiltIn: boolean): UcgateConfig {
  const clusters = data.clusters as Obj[];
  for (const c of clusters) if (c.srv !== undefined) c.nodes = [];
  for (const c of clusters) completeServiceChecks(c);
  data.routesBuiltIn = routesBuiltIn;
  data.configFile = configFile;
  return deepFreeze(data) as unknown as UcgateConfig;
}

/**
 * Each service check gets the keys it leaves out from the cluster's healthCheck (defaults filled),
 * except expectBody when it checks another path: text expected of /cucm-uds/version says nothing
 * about /emapp/EMAppServlet, and inheriting it would fail that check on every node.
 */
function completeServiceChecks(cluster: Obj): void {
  const main = cluster.healthCheck;
  if (!isObj(cluster.serviceChecks) || !isObj(main)) return;
  cluster.serviceChecks = Object.fromEntries(
    Object.entries(cluster.serviceChecks).map(([service, check]) => {
      const own = isObj(check) ? check : {};
      const inherited: Obj = { ...main };
      if (own.path !== undefined && own.path !== main.path) delete inherited.expectBody;
      return [service, { ...inherited, ...own }];
    }),
  );
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
